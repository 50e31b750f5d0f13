/**
 * udp/truncate.ts: a datagram larger than the buffer is cut and the rest dropped, the same bytes
 * over TCP arrive whole, and the largest datagram loopback accepts; then the script itself.
 */
import assert from "node:assert/strict";
import { runScript } from "../_helpers.ts";
import { MAX_UDP_PAYLOAD_IPV4 } from "../../udp/core/datagram.ts";
import {
  observeMaxDatagram,
  observeOneByteBuffer,
  observeTcp,
  observeTruncation,
} from "../../udp/truncate.ts";

Deno.test("a 5000-byte datagram into a 1024-byte buffer: the first 1024 bytes, then the NEXT datagram", async () => {
  const { from, to, ...seen } = await observeTruncation(5000, { bufferSize: 1024 });
  assert.match(`${from} ${to}`, /^127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+$/);
  assert.notEqual(from, to);
  assert.deepEqual(seen, {
    sent: 5000,
    bufferSize: 1024,
    received: 1024,
    receivedIsPrefix: true,
    dropped: 3976,
    next: "the next datagram",
  });
});

Deno.test('"hello" into a 1-byte buffer gives "h" on Linux (seed 000)', async () => {
  assert.equal(await observeOneByteBuffer("hello"), "h");
});

Deno.test("the same 5000 bytes over TCP arrive whole with the same 1024-byte buffer", async () => {
  const seen = await observeTcp(5000, { bufferSize: 1024 });
  assert.equal(seen.received, 5000);
  assert.equal(seen.intact, true);
  assert.ok(seen.reads.length >= 5, `reads: ${seen.reads}`);
  assert.ok(seen.reads.every((n) => n <= 1024));
});

Deno.test("the largest datagram loopback accepts is 65507 bytes; 65508 is EMSGSIZE", async () => {
  const seen = await observeMaxDatagram();
  assert.equal(seen.max, MAX_UDP_PAYLOAD_IPV4);
  assert.equal(seen.max, 65535 - 20 - 8);
  assert.equal(seen.receivedWhole, true);
  assert.equal(seen.errorCode, "EMSGSIZE");
  assert.match(seen.errorForOneMore, /Message too long/);
});

Deno.test("udp/truncate.ts prints the truncation, the TCP contrast and the size limit", async () => {
  const result = await runScript("udp/truncate.ts");
  assert.equal(result.code, 0, result.stderr);
  const out = result.stdout;
  assert.match(out, /received 1024 bytes \(exactly the first 1024\), 3976 bytes dropped/);
  assert.match(out, /the NEXT datagram: "the next datagram"/);
  assert.match(out, /"hello" into a 1-byte buffer → "h"/);
  assert.match(out, /= 5000 bytes, all intact and in order/);
  assert.match(out, /accepts: 65507 bytes .*received whole/);
  assert.match(out, /65508 bytes → EMSGSIZE: Message too long/);
});
