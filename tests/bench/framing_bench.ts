/**
 * Micro-benchmarks for tcp/core/framing.ts decoders: many small frames and one large frame, both fed
 * in 64 KiB chunks as a socket would deliver them.
 *
 * Run: deno bench tests/bench/framing_bench.ts
 * Throughput = bytes per iteration (printed in each name) / time per iteration.
 */
import {
  DelimiterDecoder,
  encodeDelimited,
  encodeLengthPrefixed,
  LengthPrefixDecoder,
} from "../../tcp/core/framing.ts";
import { concatBytes } from "../../tcp/core/io.ts";

const CHUNK = 64 * 1024;

function chunks(wire: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < wire.length; at += CHUNK) out.push(wire.subarray(at, at + CHUNK));
  return out;
}

const smallPayload = new TextEncoder().encode("hello, 粘包 frame!".padEnd(32, "."));
const SMALL_FRAMES = 100_000;
const smallLengthPrefixed = chunks(
  concatBytes(Array.from({ length: SMALL_FRAMES }, () => encodeLengthPrefixed(smallPayload))),
);
const smallDelimited = chunks(
  concatBytes(Array.from({ length: SMALL_FRAMES }, () => encodeDelimited(smallPayload, "\n"))),
);
const LARGE = 16 * 1024 * 1024 - 4;
const largeLengthPrefixed = chunks(encodeLengthPrefixed(new Uint8Array(LARGE).fill(7)));
const largeDelimited = chunks(encodeDelimited(new Uint8Array(LARGE).fill(7), "\n"));

function drain(decoder: { push(chunk: Uint8Array): Uint8Array[] }, input: Uint8Array[]): number {
  let frames = 0;
  for (const chunk of input) frames += decoder.push(chunk).length;
  return frames;
}

const smallBytes = smallLengthPrefixed.reduce((n, c) => n + c.length, 0);

Deno.bench({
  name: `length prefix: ${SMALL_FRAMES} frames of 32 B (${smallBytes} B)`,
  group: "small frames",
  baseline: true,
  fn() {
    if (drain(new LengthPrefixDecoder(), smallLengthPrefixed) !== SMALL_FRAMES) throw new Error();
  },
});

Deno.bench({
  name: `delimiter "\\n": ${SMALL_FRAMES} frames of 32 B`,
  group: "small frames",
  fn() {
    if (drain(new DelimiterDecoder("\n"), smallDelimited) !== SMALL_FRAMES) throw new Error();
  },
});

Deno.bench({
  name: "length prefix: one 16 MiB frame in 64 KiB chunks",
  group: "large frame",
  baseline: true,
  fn() {
    if (drain(new LengthPrefixDecoder(), largeLengthPrefixed) !== 1) throw new Error();
  },
});

Deno.bench({
  name: `delimiter "\\n": one 16 MiB frame in 64 KiB chunks`,
  group: "large frame",
  fn() {
    if (drain(new DelimiterDecoder("\n"), largeDelimited) !== 1) throw new Error();
  },
});
