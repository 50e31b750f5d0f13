/**
 * udp/core/datagram.ts: the byte-wise upper-casing a datagram is answered with, and how a datagram
 * is shown in a log line.
 */
import assert from "node:assert/strict";
import { describeDatagram, upperAscii, upperAsciiInPlace } from "../../udp/core/datagram.ts";
import { prng } from "../_prng.ts";
import { DatagramLog } from "../../udp/core/datagram_log.ts";
import { LogWriter } from "../../tcp/kit/log.ts";
import { createReporter } from "../../tcp/kit/report.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const text = (bytes: Uint8Array) => decoder.decode(bytes);

Deno.test("upperAscii changes only a-z, so Chinese, é and binary pass through", () => {
  assert.equal(text(upperAscii(encoder.encode("hello, World 123"))), "HELLO, WORLD 123");
  assert.equal(text(upperAscii(encoder.encode("你好 abc"))), "你好 ABC");
  assert.equal(text(upperAscii(encoder.encode("café"))), "CAFé");
  const binary = new Uint8Array([0xff, 0x00, 0x61, 0xe4, 0xbd, 0x7a, 0x80]);
  assert.deepEqual(upperAscii(binary), new Uint8Array([0xff, 0x00, 0x41, 0xe4, 0xbd, 0x5a, 0x80]));
  assert.deepEqual(binary, new Uint8Array([0xff, 0x00, 0x61, 0xe4, 0xbd, 0x7a, 0x80]));
  const inPlace = encoder.encode("abc");
  assert.equal(upperAsciiInPlace(inPlace), inPlace);
  assert.equal(text(inPlace), "ABC");
});

Deno.test("upperAscii of a CJK datagram cut mid-character keeps the partial bytes (seed 001 bug)", () => {
  // 1200 bytes of 你 (3 bytes each) cut at 1024 ends inside a character: seed 001's decode dies.
  const cut = encoder.encode("你".repeat(400)).subarray(0, 1024);
  assert.throws(() => new TextDecoder("utf-8", { fatal: true }).decode(cut), TypeError);
  assert.deepEqual(upperAscii(cut), cut);
});

Deno.test("describeDatagram shows text, escapes control characters and hex-dumps binary", () => {
  assert.equal(describeDatagram(encoder.encode("hello")), "hello");
  assert.equal(describeDatagram(encoder.encode("你好")), "你好");
  assert.equal(describeDatagram(new Uint8Array(0)), "(empty)");
  assert.equal(describeDatagram(encoder.encode("a\nb")), '"a\\nb"');
  assert.equal(
    describeDatagram(new Uint8Array([0xff, 0x61])),
    "(2 bytes, not UTF-8: ff 61)",
  );
  assert.match(
    describeDatagram(new Uint8Array(40).fill(0xff)),
    /^\(40 bytes, not UTF-8: ff .* …\)$/,
  );
});

Deno.test("describeDatagram: the same text as its definition for seeded random datagrams", () => {
  // The definition (the module's doc): valid UTF-8 without control characters as is, with some
  // as a JSON string, anything else as a hex preview of at most 32 bytes.
  const strict = new TextDecoder("utf-8", { fatal: true });
  const defined = (bytes: Uint8Array): string => {
    if (bytes.length === 0) return "(empty)";
    let shown: string;
    try {
      shown = strict.decode(bytes);
    } catch {
      const hex = [...bytes.subarray(0, 32)].map((b) => b.toString(16).padStart(2, "0"));
      return `(${bytes.length} bytes, not UTF-8: ${hex.join(" ")}${bytes.length > 32 ? " …" : ""})`;
    }
    // deno-lint-ignore no-control-regex
    return /[\u0000-\u001f\u007f]/.test(shown) ? JSON.stringify(shown) : shown;
  };
  // Mostly printable ASCII (the common case), with control bytes, DEL, UTF-8 and stray bytes.
  const pieces = [[0x61], [0x20], [0x7e], [0x7f], [0x00], [0x0a], [0x1f], [0xe4, 0xbd, 0xa0], [
    0xff,
  ]];
  const random = prng(0x5eed);
  for (let trial = 0; trial < 2000; trial++) {
    const bytes: number[] = [];
    const length = Math.floor(random() * 40);
    const mixed = random() < 0.5;
    for (let i = 0; i < length; i++) {
      if (!mixed || random() < 0.9) bytes.push(0x20 + Math.floor(random() * 95));
      else bytes.push(...pieces[Math.floor(random() * pieces.length)]);
    }
    const datagram = new Uint8Array(bytes);
    assert.equal(describeDatagram(datagram), defined(datagram), `bytes ${bytes.join(",")}`);
  }
});

Deno.test("DatagramLog: bytes written straight to the log make the same lines as the reporter's", () => {
  const written: Uint8Array[] = [];
  const writer = new LogWriter({ writeSync: (b) => (written.push(b.slice()), b.length) }, 512);
  const lines: string[] = [];
  const reporter = createReporter("udp/server", {
    sink: { out: (line) => writer.line(line), err: () => {} },
  });
  const log = new DatagramLog(reporter, writer);
  const random = prng(0xd06);
  const peers: Deno.NetAddr[] = [40000, 40001, 40002].map((port) => ({
    transport: "udp",
    hostname: "127.0.0.1",
    port,
  }));
  for (let i = 0; i < 500; i++) {
    const length = Math.floor(random() * 30);
    const bytes = Uint8Array.from(
      { length },
      () => random() < 0.95 ? 0x20 + Math.floor(random() * 95) : Math.floor(random() * 256),
    );
    const peer = peers[Math.floor(random() * peers.length)];
    lines.push(`127.0.0.1:${peer.port} -> ${describeDatagram(bytes)}`);
    log.received(bytes, peer);
    bytes.fill(0x41); // the server upper-cases in place right after: the line must not change
  }
  writer.flush();
  const text = new TextDecoder().decode(new Uint8Array(written.flatMap((w) => [...w])));
  assert.equal(text, lines.map((l) => l + "\n").join(""));
});
