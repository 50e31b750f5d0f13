/**
 * tcp/core/echo.ts: the echo engine's pure parts — seed 004's `q` and the shared read buffers.
 * The engine itself runs in the server's tests (tests/tcp/server_test.ts).
 */
import assert from "node:assert/strict";
import { isQuitMessage, ReadBufferPool } from "../../tcp/core/echo.ts";

const encoder = new TextEncoder();

Deno.test("isQuitMessage accepts exactly q, q\\n and q\\r\\n", () => {
  const cases: [string, boolean][] = [
    ["q", true],
    ["q\n", true],
    ["q\r\n", true],
    ["Q", false],
    ["qq", false],
    ["q\n\n", false],
    ["xq", false],
    ["quit", false],
    ["", false],
  ];
  for (const [text, expected] of cases) {
    assert.equal(isQuitMessage(encoder.encode(text)), expected, JSON.stringify(text));
  }
});

Deno.test("ReadBufferPool reuses buffers and keeps at most `keep` of them", () => {
  const pool = new ReadBufferPool(16, { keep: 2 });
  const a = pool.take();
  const b = pool.take();
  const c = pool.take();
  assert.equal(a.length, 16);
  pool.give(a);
  pool.give(b);
  pool.give(c);
  assert.equal(pool.idle, 2);
  assert.equal(pool.take(), b);
});

Deno.test("ReadBufferPool lends at most `most` buffers through tryTake", () => {
  const pool = new ReadBufferPool(16, { most: 2 });
  const a = pool.tryTake()!;
  const b = pool.tryTake()!;
  assert.equal(pool.tryTake(), undefined);
  assert.equal(pool.lent, 2);
  pool.give(a);
  assert.equal(pool.tryTake(), a);
  pool.give(a);
  pool.give(b);
  assert.equal(pool.lent, 0);
});

Deno.test("ReadBufferPool with slabBytes carves disjoint views of shared blocks", () => {
  const pool = new ReadBufferPool(16, { slabBytes: 40 });
  const [a, b, c] = [pool.take(), pool.take(), pool.take()];
  assert.deepEqual([a.length, b.length, c.length], [16, 16, 16]);
  // Two fit in a 40-byte block; the third starts a new block.
  assert.equal(a.buffer, b.buffer);
  assert.notEqual(b.buffer, c.buffer);
  assert.deepEqual([a.byteOffset, b.byteOffset, c.byteOffset], [0, 16, 0]);
  a.fill(1);
  b.fill(2);
  assert.ok(a.every((byte) => byte === 1));
});
