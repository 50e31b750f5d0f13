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
  const pool = new ReadBufferPool(16, 2);
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
