/**
 * tcp/sticky.ts: 粘包 and seed 003's three fixes, asserted in-process, then the script once as a
 * subprocess; and seed 003's 「当缓冲区为空则阻塞」 (a read waits while nothing has arrived).
 */
import assert from "node:assert/strict";
import { runScript } from "../_helpers.ts";
import {
  describeBytes,
  FIX_MESSAGES,
  observeBigWrite,
  observeSmallWrites,
  refusedByEndMarker,
  sendWithEndMarker,
  sendWithGaps,
  sendWithLengthPrefix,
  SMALL_MESSAGES,
} from "../../tcp/sticky.ts";
import { concatBytes } from "../../tcp/core/io.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Runs `fn` with a fresh loopback listener that is closed afterwards. */
async function withListener<T>(fn: (listener: Deno.TcpListener) => Promise<T>): Promise<T> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    return await fn(listener);
  } finally {
    listener.close();
  }
}

/** Settles with "pending" when `promise` has not settled by the time already-queued work ran. */
async function stateOf<T>(promise: Promise<T>): Promise<T | "pending"> {
  const marker = Promise.resolve("pending" as const);
  return await Promise.race([promise, marker]);
}

Deno.test("sticky: small writes read by a slow reader come out glued", async () => {
  const { writes, reads } = await withListener((l) => observeSmallWrites(l));
  assert.equal(writes.length, SMALL_MESSAGES.length);
  // Everything was waiting in the receive buffer: one read returns all four messages.
  assert.equal(reads.length, 1);
  assert.equal(decoder.decode(reads[0]), SMALL_MESSAGES.join(""));
});

Deno.test("sticky: one big write is read in several pieces", async () => {
  const size = 4 * 1024 * 1024;
  const { reads } = await withListener((l) => observeBigWrite(l, size));
  assert.equal(reads.reduce((a, b) => a + b, 0), size);
  assert.ok(reads.length > 1, `expected several reads, got ${reads.length}`);
  assert.ok(reads.every((n) => n < size));
});

Deno.test("sticky: a naive end marker breaks a payload that contains it", async () => {
  const { sent, received } = await withListener((l) => sendWithEndMarker(l));
  assert.equal(sent.length, 5);
  assert.deepEqual(received.map(describeBytes), [
    `"hello"`,
    `"你好,服务器!"`,
    `"3"`,
    `"5"`,
    `"\\x00\\x01\\xfe\\xff"`,
    `"q"`,
  ]);
  assert.deepEqual(refusedByEndMarker().map((r) => r.reason), [
    "Cannot frame payload: it contains the delimiter at offset 1",
  ]);
});

Deno.test("sticky: the length header recovers every message, binary and Chinese", async () => {
  const { sent, received } = await withListener((l) => sendWithLengthPrefix(l));
  assert.deepEqual(received, sent);
  assert.deepEqual(received, [...FIX_MESSAGES]);
});

Deno.test("sticky: sleeping between sends does not stop a slow reader from gluing", async () => {
  const { writes, reads } = await withListener((l) =>
    sendWithGaps(l, FIX_MESSAGES, { gapMs: 5, slowReader: true })
  );
  assert.equal(reads.length, 1);
  assert.deepEqual(reads[0], concatBytes(writes));
});

Deno.test("sticky: a reader that keeps up still receives every byte in order", async () => {
  // How many reads this takes depends on timing; only the bytes are asserted.
  const { writes, reads } = await withListener((l) => sendWithGaps(l, FIX_MESSAGES, { gapMs: 5 }));
  assert.deepEqual(concatBytes(reads), concatBytes(writes));
});

Deno.test("sticky: describeBytes keeps UTF-8 and escapes the rest", () => {
  assert.equal(describeBytes(encoder.encode(`a"你\\`)), `"a\\"你\\\\"`);
  assert.equal(describeBytes(Uint8Array.of(0x68, 0x00, 0xe4, 0xbd)), `"h\\x00\\xe4\\xbd"`);
  assert.equal(describeBytes(new Uint8Array(0)), `""`);
});

Deno.test("recv: a read waits while the receive buffer is empty and returns once a byte arrives", async () => {
  await withListener(async (listener) => {
    using client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    using server = await listener.accept();
    const buffer = new Uint8Array(16);
    let settled = false;
    const read = client.read(buffer);
    read.then(() => settled = true, () => settled = true);

    // Proof that the network and the event loop moved on while the read waited: a byte the
    // client sends on the same connection reaches the server, and a full round trip on a second
    // connection completes. Neither puts a byte into the client's receive buffer.
    await client.write(encoder.encode("?"));
    assert.equal(await server.read(new Uint8Array(1)), 1);
    {
      using other = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
      using otherServer = await listener.accept();
      await otherServer.write(encoder.encode("!"));
      assert.equal(await other.read(new Uint8Array(1)), 1);
    }
    assert.equal(await stateOf(read), "pending");
    assert.equal(settled, false);

    // One byte arrives: the same read completes with exactly that byte.
    await server.write(encoder.encode("x"));
    assert.equal(await read, 1);
    assert.equal(decoder.decode(buffer.subarray(0, 1)), "x");
    // Drained again: the next read waits again until more arrives.
    const next = client.read(buffer);
    assert.equal(await stateOf(next), "pending");
    await server.closeWrite();
    assert.equal(await next, null);
  });
});

Deno.test("tcp/sticky.ts prints the gluing, the split and the three fixes", async () => {
  const r = await runScript("tcp/sticky.ts", ["--big-write", "1048576", "--gap-ms", "5"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split("\n");
  assert.match(lines[0], /^listening on 127\.0\.0\.1:\d+$/);
  assert.match(r.stdout, /read 1 time\(s\): "helloworld你好q"/);
  assert.match(r.stdout, /wrote 1048576 bytes in one writeAll; read them in \d+ pieces/);
  assert.match(r.stdout, /end marker "##": wrote 5 times: .*\n.*\n +received 6: .* -> BROKEN/);
  assert.match(r.stdout, /length header: wrote 5 times: .*\n.*\n +received 5: .* -> intact/);
  assert.match(r.stdout, /a slow reader made 1 read\(s\)/);
});

Deno.test("tcp/sticky.ts rejects a bad --gap-ms value", async () => {
  const r = await runScript("tcp/sticky.ts", ["--gap-ms", "fast"]);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    "error: --gap-ms must be an integer from 0 to 1,000, got fast (see --help)\n",
  );
});
