/**
 * tcp/core/framing.ts: every decoder fed whole, split at every point, byte by byte, with several frames
 * merged in one chunk and with trailing bytes that must stay pending; limits, streams, round trips.
 */
import assert from "node:assert/strict";
import {
  decodeLengthPrefixed,
  delimitedFrames,
  DelimiterDecoder,
  encodeDelimited,
  encodeLengthPrefixed,
  FrameTooLargeError,
  indexOfDelimiter,
  LengthPrefixDecoder,
  lengthPrefixedFrames,
  lengthPrefixEncoder,
  type LengthPrefixOptions,
  TruncatedFrameError,
} from "../../tcp/core/framing.ts";
import { concatBytes } from "../../tcp/core/io.ts";

const encoder = new TextEncoder();
const text = (s: string) => encoder.encode(s);

/** Payloads every framing must carry: empty, ASCII, Chinese, binary with every byte value. */
const PAYLOADS: Uint8Array[] = [
  new Uint8Array(0),
  text("hello"),
  text("你好,服务器!"),
  Uint8Array.from({ length: 256 }, (_, i) => i),
  text("q"),
];

/** Feeds `chunks` to a fresh decoder, collecting frames. */
function feed(
  decoder: { push(chunk: Uint8Array): Uint8Array[] },
  chunks: Uint8Array[],
): Uint8Array[] {
  return chunks.flatMap((chunk) => decoder.push(chunk));
}

/** The ways the network may cut `bytes`: whole, every two-way split, byte by byte. */
function* splits(bytes: Uint8Array): Generator<[string, Uint8Array[]]> {
  yield ["whole", [bytes]];
  for (let at = 0; at <= bytes.length; at++) {
    yield [`split at ${at}`, [bytes.subarray(0, at), bytes.subarray(at)]];
  }
  yield ["byte by byte", Array.from(bytes, (b) => Uint8Array.of(b))];
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const chunk of stream) out.push(chunk);
  return out;
}

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(chunks);
}

for (const prefixBytes of [2, 4] as const) {
  const options: LengthPrefixOptions = { prefixBytes };

  Deno.test(`encodeLengthPrefixed writes a ${prefixBytes}-byte big-endian prefix`, () => {
    const frame = encodeLengthPrefixed(text("abc"), options);
    const prefix = prefixBytes === 2 ? [0, 3] : [0, 0, 0, 3];
    assert.deepEqual([...frame], [...prefix, 97, 98, 99]);
    assert.deepEqual([...encodeLengthPrefixed(new Uint8Array(300), options).subarray(0, 2)], [
      ...(prefixBytes === 2 ? [1, 44] : [0, 0]),
    ]);
  });

  Deno.test(`LengthPrefixDecoder (${prefixBytes}-byte) recovers frames at every split point`, () => {
    const wire = concatBytes(PAYLOADS.map((p) => encodeLengthPrefixed(p, options)));
    for (const [how, chunks] of splits(wire)) {
      const decoder = new LengthPrefixDecoder(options);
      assert.deepEqual(feed(decoder, chunks), PAYLOADS, how);
      assert.equal(decoder.pending, 0, how);
      decoder.finish();
    }
  });

  Deno.test(`LengthPrefixDecoder (${prefixBytes}-byte) leaves trailing bytes pending`, () => {
    const next = encodeLengthPrefixed(text("next frame"), options);
    for (let cut = 1; cut < next.length; cut++) {
      const wire = concatBytes([encodeLengthPrefixed(text("one"), options), next.subarray(0, cut)]);
      const decoder = new LengthPrefixDecoder(options);
      assert.deepEqual(decoder.push(wire), [text("one")]);
      assert.equal(decoder.pending, cut);
      assert.deepEqual(decoder.take(), next.subarray(0, cut));
      assert.equal(decoder.pending, 0);
    }
  });

  Deno.test(`decodeLengthPrefixed (${prefixBytes}-byte) walks frames by offset`, () => {
    const wire = concatBytes([
      encodeLengthPrefixed(text("ab"), options),
      encodeLengthPrefixed(text(""), options),
      encodeLengthPrefixed(text("c"), options).subarray(0, prefixBytes),
    ]);
    const first = decodeLengthPrefixed(wire, 0, options);
    assert.ok(first);
    assert.deepEqual(first.frame, text("ab"));
    const second = decodeLengthPrefixed(wire, first.next, options);
    assert.ok(second);
    assert.deepEqual(second.frame, new Uint8Array(0));
    assert.equal(decodeLengthPrefixed(wire, second.next, options), null);
    assert.equal(decodeLengthPrefixed(wire, wire.length, options), null);
    assert.equal(decodeLengthPrefixed(wire.subarray(0, 1), 0, options), null);
  });
}

Deno.test("decodeLengthPrefixed returns a view and rejects a bad offset", () => {
  const wire = encodeLengthPrefixed(text("xyz"));
  const result = decodeLengthPrefixed(wire);
  assert.ok(result);
  assert.equal(result.frame.buffer, wire.buffer);
  assert.equal(result.next, wire.length);
  assert.throws(
    () => decodeLengthPrefixed(wire, wire.length + 1),
    { name: "RangeError", message: `Invalid offset "8": expected 0 to 7` },
  );
});

Deno.test("decodeLengthPrefixed throws FrameTooLargeError as soon as the prefix is readable", () => {
  // Only the prefix has arrived; the announced 1 MiB is already over the 1 KiB limit.
  const prefix = Uint8Array.of(0, 0x10, 0, 0);
  assert.throws(
    () => decodeLengthPrefixed(prefix, 0, { maxFrameSize: 1024 }),
    {
      name: "FrameTooLargeError",
      message: "Frame too large: 1048576 bytes exceeds the maximum of 1024 bytes",
    },
  );
  let caught: unknown;
  try {
    decodeLengthPrefixed(prefix, 0, { maxFrameSize: 1024 });
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof FrameTooLargeError && caught instanceof RangeError);
  assert.equal(caught.size, 1048576);
  assert.equal(caught.max, 1024);
});

Deno.test("LengthPrefixDecoder rejects an oversized frame without buffering it", () => {
  const decoder = new LengthPrefixDecoder({ maxFrameSize: 10 });
  assert.deepEqual(decoder.push(encodeLengthPrefixed(text("0123456789"))), [text("0123456789")]);
  // The prefix arrives in two pieces; the error comes when it is complete, not later.
  assert.deepEqual(decoder.push(Uint8Array.of(0, 0)), []);
  assert.throws(() => decoder.push(Uint8Array.of(0, 11)), {
    name: "FrameTooLargeError",
    message: "Frame too large: 11 bytes exceeds the maximum of 10 bytes",
  });
  // The stream is out of step: further input is refused with the same error.
  assert.throws(() => decoder.push(text("x")), { name: "FrameTooLargeError" });
});

Deno.test("LengthPrefixDecoder rejects a huge announced length at once (4 GiB − 1)", () => {
  const decoder = new LengthPrefixDecoder();
  assert.throws(() => decoder.push(Uint8Array.of(0xff, 0xff, 0xff, 0xff)), {
    name: "FrameTooLargeError",
    message: "Frame too large: 4294967295 bytes exceeds the maximum of 16777216 bytes",
  });
});

Deno.test("a 2-byte prefix caps frames at 65,535 bytes whatever maxFrameSize says", () => {
  const options: LengthPrefixOptions = { prefixBytes: 2, maxFrameSize: 1 << 20 };
  assert.equal(encodeLengthPrefixed(new Uint8Array(65535), options).length, 65537);
  assert.throws(() => encodeLengthPrefixed(new Uint8Array(65536), options), {
    name: "FrameTooLargeError",
    message: "Frame too large: 65536 bytes exceeds the maximum of 65535 bytes",
  });
});

Deno.test("encodeLengthPrefixed refuses payloads over maxFrameSize", () => {
  assert.throws(() => encodeLengthPrefixed(new Uint8Array(5), { maxFrameSize: 4 }), {
    name: "FrameTooLargeError",
    message: "Frame too large: 5 bytes exceeds the maximum of 4 bytes",
  });
});

Deno.test("length-prefix options are validated", () => {
  assert.throws(
    () => new LengthPrefixDecoder({ prefixBytes: 3 as 2 }),
    { name: "RangeError", message: `Invalid prefixBytes "3": expected 2 or 4` },
  );
  assert.throws(
    () => new LengthPrefixDecoder({ maxFrameSize: -1 }),
    { name: "RangeError", message: `Invalid maxFrameSize "-1": expected a non-negative integer` },
  );
});

Deno.test("LengthPrefixDecoder.finish reports a stream that ends inside a frame", () => {
  const decoder = new LengthPrefixDecoder();
  decoder.push(Uint8Array.of(0, 0));
  assert.throws(() => decoder.finish(), {
    name: "TruncatedFrameError",
    message: "Stream ended inside a frame: got 2 bytes of a 4-byte length prefix",
  });
  decoder.push(encodeLengthPrefixed(text("hello")).subarray(0, 7));
  assert.throws(() => decoder.finish(), {
    name: "TruncatedFrameError",
    message: "Stream ended inside a frame: got 7 bytes of a 9-byte frame",
  });
  assert.equal(decoder.pending, 0);
  decoder.finish();
});

Deno.test("LengthPrefixDecoder assembles a large frame from many chunks and does not alias", () => {
  const payload = Uint8Array.from({ length: 1_000_000 }, (_, i) => (i * 7) & 0xff);
  const wire = encodeLengthPrefixed(payload);
  const decoder = new LengthPrefixDecoder();
  // Reuse one read buffer, as a raw read() loop does: frames must not change afterwards.
  const readBuffer = new Uint8Array(4096);
  const frames: Uint8Array[] = [];
  for (let at = 0; at < wire.length; at += readBuffer.length) {
    const n = Math.min(readBuffer.length, wire.length - at);
    readBuffer.set(wire.subarray(at, at + n));
    frames.push(...decoder.push(readBuffer.subarray(0, n)));
    assert.ok(decoder.pending <= wire.length);
  }
  readBuffer.fill(0);
  assert.equal(frames.length, 1);
  assert.deepEqual(frames[0], payload);
});

Deno.test("LengthPrefixDecoder copies frames cut from inside one chunk", () => {
  const chunk = concatBytes([encodeLengthPrefixed(text("a")), encodeLengthPrefixed(text("b"))]);
  const frames = new LengthPrefixDecoder().push(chunk);
  chunk.fill(0);
  assert.deepEqual(frames, [text("a"), text("b")]);
});

Deno.test("indexOfDelimiter finds multi-byte markers and honours from", () => {
  const bytes = text("a#b##c##");
  assert.equal(indexOfDelimiter(bytes, text("##")), 3);
  assert.equal(indexOfDelimiter(bytes, text("##"), 4), 6);
  assert.equal(indexOfDelimiter(bytes, text("##"), 7), -1);
  assert.equal(indexOfDelimiter(text("#"), text("##")), -1);
});

const DELIMITERS: [string, Uint8Array | string][] = [
  ["newline", "\n"],
  ["two-byte ##", "##"],
  ["CRLF CRLF", "\r\n\r\n"],
  ["binary 0xff 0x00", Uint8Array.of(0xff, 0x00)],
];

for (const [name, delimiter] of DELIMITERS) {
  const marker = typeof delimiter === "string" ? text(delimiter) : delimiter;
  // Payloads that do not contain the marker (the binary one: every byte but 0xff).
  const payloads = [
    new Uint8Array(0),
    text("hello"),
    text("你好,服务器!"),
    Uint8Array.from({ length: 255 }, (_, i) => i),
    new Uint8Array(0),
    text("#"),
    text("#x"),
  ].filter((p) => {
    try {
      encodeDelimited(p, marker);
      return true;
    } catch {
      return false;
    }
  });

  Deno.test(`DelimiterDecoder (${name}) recovers frames at every split point`, () => {
    const wire = concatBytes(payloads.map((p) => encodeDelimited(p, delimiter)));
    for (const [how, chunks] of splits(wire)) {
      const decoder = new DelimiterDecoder(delimiter);
      assert.deepEqual(feed(decoder, chunks), payloads, how);
      assert.equal(decoder.pending, 0, how);
      assert.equal(decoder.finish(), null, how);
    }
  });

  Deno.test(`DelimiterDecoder (${name}) keeps an unterminated tail pending`, () => {
    const wire = concatBytes([encodeDelimited(text("one"), delimiter), text("tail")]);
    for (const [how, chunks] of splits(wire)) {
      const decoder = new DelimiterDecoder(delimiter);
      assert.deepEqual(feed(decoder, chunks), [text("one")], how);
      assert.equal(decoder.pending, 4, how);
      assert.deepEqual(decoder.finish(), text("tail"), how);
      assert.equal(decoder.pending, 0, how);
    }
  });
}

Deno.test("DelimiterDecoder handles a delimiter split across three chunks", () => {
  const decoder = new DelimiterDecoder("\r\n\r\n");
  assert.deepEqual(decoder.push(text("GET / HTTP/1.1\r")), []);
  assert.deepEqual(decoder.push(text("\n")), []);
  assert.deepEqual(decoder.push(text("\r")), []);
  assert.deepEqual(decoder.push(text("\nbody")), [text("GET / HTTP/1.1")]);
  assert.equal(decoder.pending, 4);
});

Deno.test("DelimiterDecoder does not take a false start for the delimiter (##, #a##)", () => {
  const decoder = new DelimiterDecoder("##");
  assert.deepEqual(decoder.push(text("x#")), []);
  assert.deepEqual(decoder.push(text("a#")), []);
  assert.deepEqual(decoder.push(text("#y")), [text("x#a")]);
  assert.deepEqual(decoder.finish(), text("y"));
});

Deno.test("DelimiterDecoder rejects a frame over maxFrameSize", () => {
  const decoder = new DelimiterDecoder("\n", { maxFrameSize: 5 });
  assert.deepEqual(decoder.push(text("12345\n")), [text("12345")]);
  assert.throws(() => decoder.push(text("123456\n")), {
    name: "FrameTooLargeError",
    message: "Frame too large: more than 5 bytes without a delimiter",
  });
  assert.throws(() => decoder.push(text("1\n")), { name: "FrameTooLargeError" });
});

Deno.test("DelimiterDecoder stops buffering once no delimiter can end the frame in time", () => {
  const decoder = new DelimiterDecoder("##", { maxFrameSize: 4 });
  // 4 bytes plus a possible first half of the delimiter: still legal.
  assert.deepEqual(decoder.push(text("abcd#")), []);
  assert.equal(decoder.pending, 5);
  let error: unknown;
  try {
    decoder.push(text("x"));
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof FrameTooLargeError);
  assert.equal(error.message, "Frame too large: more than 4 bytes without a delimiter");
  assert.equal(error.size, 5);
  assert.equal(error.max, 4);
});

Deno.test("DelimiterDecoder never holds more than the limit, even fed a byte at a time", () => {
  const decoder = new DelimiterDecoder("\n", { maxFrameSize: 1000 });
  let pushed = 0;
  assert.throws(() => {
    for (; pushed < 1_000_000; pushed++) decoder.push(Uint8Array.of(65));
  }, { name: "FrameTooLargeError" });
  assert.equal(pushed, 1000);
  assert.equal(decoder.pending, 1000);
});

Deno.test("DelimiterDecoder finds a straddling delimiter with a frame over the limit", () => {
  const decoder = new DelimiterDecoder("##", { maxFrameSize: 3 });
  assert.deepEqual(decoder.push(text("abcd")), []);
  assert.throws(() => decoder.push(text("##")), {
    name: "FrameTooLargeError",
    message: "Frame too large: more than 3 bytes without a delimiter",
  });
});

Deno.test("DelimiterDecoder copies frames and validates its delimiter", () => {
  const chunk = text("a\nb\n");
  const frames = new DelimiterDecoder("\n").push(chunk);
  chunk.fill(0);
  assert.deepEqual(frames, [text("a"), text("b")]);
  assert.throws(() => new DelimiterDecoder(""), {
    name: "RangeError",
    message: "Invalid delimiter: it must not be empty",
  });
});

Deno.test("encodeDelimited refuses a payload that contains the delimiter", () => {
  assert.deepEqual(encodeDelimited(text("ok"), "##"), text("ok##"));
  assert.throws(() => encodeDelimited(text("a##b"), "##"), {
    name: "RangeError",
    message: "Cannot frame payload: it contains the delimiter at offset 1",
  });
  assert.throws(() => encodeDelimited(text("a#"), "##"), {
    name: "RangeError",
    message: "Cannot frame payload: its end and the delimiter form a delimiter at offset 1",
  });
});

// -------------------------------------------------------------------------------------------
// Frames before an oversized one: delivered first, however the bytes are split.

/** What a decoder makes of `chunks`: the frames it returned, then how the stream ended. */
function outcome(
  decoder: { push(chunk: Uint8Array): Uint8Array[]; finish(): unknown },
  chunks: Uint8Array[],
): { frames: string[]; end: string } {
  const frames: string[] = [];
  try {
    for (const chunk of chunks) {
      for (const frame of decoder.push(chunk)) frames.push(new TextDecoder().decode(frame));
    }
    const rest = decoder.finish();
    return { frames, end: rest instanceof Uint8Array ? `rest ${rest.length}` : "ok" };
  } catch (error) {
    assert.ok(error instanceof Error);
    return { frames, end: `${error.name}: ${error.message}` };
  }
}

/** Every way to cut `bytes` in up to three pieces, and byte by byte. */
function* allSplits(bytes: Uint8Array): Generator<Uint8Array[]> {
  yield [bytes];
  yield Array.from(bytes, (b) => Uint8Array.of(b));
  for (let i = 0; i <= bytes.length; i++) {
    yield [bytes.subarray(0, i), bytes.subarray(i)];
    for (let j = i; j <= bytes.length; j++) {
      yield [bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)];
    }
  }
}

const lengthPrefixed = (...frames: (string | number)[]) =>
  concatBytes(
    frames.map((f) =>
      typeof f === "string"
        ? encodeLengthPrefixed(text(f), { prefixBytes: 2 })
        : Uint8Array.of(f >> 8, f & 0xff)
    ),
  );

Deno.test("LengthPrefixDecoder: frames before an oversized one come out first, for every split", () => {
  const inputs: [Uint8Array, string[], number][] = [
    [lengthPrefixed("ab", "", "cde", 9, "xyz"), ["ab", "", "cde"], 9],
    [lengthPrefixed(9), [], 9],
    [lengthPrefixed("abcd", 5), ["abcd"], 5],
  ];
  for (const [bytes, frames, size] of inputs) {
    for (const chunks of allSplits(bytes)) {
      const got = outcome(new LengthPrefixDecoder({ prefixBytes: 2, maxFrameSize: 4 }), chunks);
      assert.deepEqual(got, {
        frames,
        end: `FrameTooLargeError: Frame too large: ${size} bytes exceeds the maximum of 4 bytes`,
      }, chunks.map((c) => c.length).join("+"));
    }
  }
});

Deno.test("DelimiterDecoder: frames before an oversized one come out first, for every split", () => {
  const inputs: [string, string[]][] = [
    ["ab\n\ncde\n123456\nxy\n", ["ab", "", "cde"]],
    ["ab\n123456", ["ab"]],
    ["ab\n12345", ["ab"]], // 5 bytes and maybe a delimiter to come: only then too large
    ["123456\nab\n", []],
  ];
  for (const [input, frames] of inputs) {
    for (const chunks of allSplits(text(input))) {
      const got = outcome(new DelimiterDecoder("\n", { maxFrameSize: 4 }), chunks);
      assert.deepEqual(got, {
        frames,
        end: "FrameTooLargeError: Frame too large: more than 4 bytes without a delimiter",
      }, `${JSON.stringify(input)} as ${chunks.map((c) => c.length).join("+")}`);
    }
  }
  // With a two-byte delimiter, half of it at the end of the limit is still legal.
  for (const chunks of allSplits(text("ab##abcd#"))) {
    assert.deepEqual(outcome(new DelimiterDecoder("##", { maxFrameSize: 4 }), chunks), {
      frames: ["ab"],
      end: "rest 5",
    });
  }
});

Deno.test("a push that completes frames before an oversized one returns them; the next call throws", () => {
  const decoder = new LengthPrefixDecoder({ prefixBytes: 2, maxFrameSize: 4 });
  assert.deepEqual(decoder.push(lengthPrefixed("ab", 9)), [text("ab")]);
  assert.throws(() => decoder.finish(), { name: "FrameTooLargeError" });
  assert.throws(() => decoder.push(text("x")), { name: "FrameTooLargeError" });
  const lines = new DelimiterDecoder("\n", { maxFrameSize: 4 });
  assert.deepEqual(lines.push(text("ab\n123456\n")), [text("ab")]);
  assert.throws(() => lines.push(text("x\n")), { name: "FrameTooLargeError" });
  assert.throws(() => lines.finish(), { name: "FrameTooLargeError" });
});

/** Reads a stream to its end or its error, keeping what came before the error. */
async function readAllOf(
  stream: ReadableStream<Uint8Array>,
): Promise<{ frames: string[]; end: string }> {
  const frames: string[] = [];
  try {
    for await (const frame of stream) frames.push(new TextDecoder().decode(frame));
    return { frames, end: "ok" };
  } catch (error) {
    assert.ok(error instanceof Error);
    return { frames, end: `${error.name}: ${error.message}` };
  }
}

Deno.test("the frame streams deliver every frame before an error, however the bytes arrive", async () => {
  const cases: [
    Uint8Array,
    () => ReadableWritablePair<Uint8Array, Uint8Array>,
    string[],
    string,
  ][] = [
    [
      lengthPrefixed("ab", "", "cde", 9, "xyz"),
      () => lengthPrefixedFrames({ prefixBytes: 2, maxFrameSize: 4 }),
      ["ab", "", "cde"],
      "FrameTooLargeError: Frame too large: 9 bytes exceeds the maximum of 4 bytes",
    ],
    [
      lengthPrefixed("ab", "cd").subarray(0, 7),
      () => lengthPrefixedFrames({ prefixBytes: 2 }),
      ["ab"],
      "TruncatedFrameError: Stream ended inside a frame: got 3 bytes of a 4-byte frame",
    ],
    [
      text("ab\n\ncde\n123456\nxy\n"),
      () => delimitedFrames("\n", { maxFrameSize: 4 }),
      ["ab", "", "cde"],
      "FrameTooLargeError: Frame too large: more than 4 bytes without a delimiter",
    ],
  ];
  for (const [bytes, make, frames, end] of cases) {
    for (const [, chunks] of splits(bytes)) {
      const got = await readAllOf(streamOf(chunks).pipeThrough(make()));
      assert.deepEqual(got, { frames, end }, chunks.map((c) => c.length).join("+"));
    }
  }
});

Deno.test("the frame streams keep queued frames when the error comes at the end of the input", async () => {
  const cases: [Uint8Array, ReadableWritablePair<Uint8Array, Uint8Array>, string][] = [
    [
      lengthPrefixed("ab", "", "cde", 9),
      lengthPrefixedFrames({ prefixBytes: 2, maxFrameSize: 4 }),
      "FrameTooLargeError",
    ],
    [
      lengthPrefixed("ab", "", "cde", 9),
      lengthPrefixedFrames({ prefixBytes: 2 }),
      "TruncatedFrameError",
    ],
    [text("ab\n\ncde\n123456"), delimitedFrames("\n", { maxFrameSize: 4 }), "FrameTooLargeError"],
  ];
  for (const [bytes, pair, name] of cases) {
    const writer = pair.writable.getWriter();
    const reader = pair.readable.getReader();
    // One chunk holds every frame and the problem. The first read lets it be decoded; the
    // rest is read only after the writer has closed, when the problem is already known.
    const writing = writer.write(bytes).then(() => writer.close()).catch(() => {});
    const frames = [(await reader.read()).value];
    await writing;
    let error: unknown;
    try {
      for (let r = await reader.read(); !r.done; r = await reader.read()) frames.push(r.value);
    } catch (e) {
      error = e;
    }
    assert.deepEqual(frames.map((f) => new TextDecoder().decode(f)), ["ab", "", "cde"], name);
    assert.equal((error as Error | undefined)?.name, name);
  }
});

Deno.test("lengthPrefixedFrames splits a stream of arbitrary chunks into frames", async () => {
  const wire = concatBytes(PAYLOADS.map((p) => encodeLengthPrefixed(p)));
  const chunks = Array.from(wire, (b) => Uint8Array.of(b));
  assert.deepEqual(await collect(streamOf(chunks).pipeThrough(lengthPrefixedFrames())), PAYLOADS);
  assert.deepEqual(await collect(streamOf([wire]).pipeThrough(lengthPrefixedFrames())), PAYLOADS);
});

Deno.test("lengthPrefixedFrames errors on a truncated or oversized stream", async () => {
  const truncated = encodeLengthPrefixed(text("hello")).subarray(0, 6);
  await assert.rejects(
    collect(streamOf([truncated]).pipeThrough(lengthPrefixedFrames())),
    (e) => e instanceof TruncatedFrameError,
  );
  await assert.rejects(
    collect(
      streamOf([encodeLengthPrefixed(text("hello"))]).pipeThrough(
        lengthPrefixedFrames({ maxFrameSize: 4 }),
      ),
    ),
    {
      name: "FrameTooLargeError",
      message: "Frame too large: 5 bytes exceeds the maximum of 4 bytes",
    },
  );
});

Deno.test("delimitedFrames passes an unterminated last frame on", async () => {
  const frames = await collect(
    streamOf([text("你"), text("好\n\nbye\nla"), text("st")]).pipeThrough(delimitedFrames("\n")),
  );
  assert.deepEqual(frames, [text("你好"), text(""), text("bye"), text("last")]);
  assert.deepEqual(
    await collect(streamOf([text("a\n")]).pipeThrough(delimitedFrames("\n"))),
    [text("a")],
  );
});

Deno.test("lengthPrefixEncoder → lengthPrefixedFrames round-trips every payload", async () => {
  for (const prefixBytes of [2, 4] as const) {
    const frames = await collect(
      streamOf(PAYLOADS)
        .pipeThrough(lengthPrefixEncoder({ prefixBytes }))
        .pipeThrough(lengthPrefixedFrames({ prefixBytes })),
    );
    assert.deepEqual(frames, PAYLOADS);
  }
});

Deno.test("lengthPrefixEncoder errors on an oversized payload", async () => {
  await assert.rejects(
    collect(streamOf([new Uint8Array(9)]).pipeThrough(lengthPrefixEncoder({ maxFrameSize: 8 }))),
    {
      name: "FrameTooLargeError",
      message: "Frame too large: 9 bytes exceeds the maximum of 8 bytes",
    },
  );
});

Deno.test("length-prefix round trip of many random frames in random chunks", () => {
  // A deterministic generator keeps the test reproducible.
  let seed = 12345;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const payloads = Array.from(
    { length: 300 },
    () => Uint8Array.from({ length: random(600) }, () => random(256)),
  );
  const wire = concatBytes(payloads.map((p) => encodeLengthPrefixed(p, { prefixBytes: 2 })));
  const decoder = new LengthPrefixDecoder({ prefixBytes: 2 });
  const frames: Uint8Array[] = [];
  for (let at = 0; at < wire.length;) {
    const n = 1 + random(2000);
    frames.push(...decoder.push(wire.subarray(at, at + n)));
    at += n;
  }
  assert.deepEqual(frames, payloads);
  decoder.finish();
});
