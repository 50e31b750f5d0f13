/**
 * tcp/demo.ts: the round trip in one process, both sides' view.
 */
import assert from "node:assert/strict";
import { runScript } from "../_helpers.ts";

Deno.test("demo: one process, both sides' view, exits 0", async () => {
  const result = await runScript("tcp/demo.ts", [], { timeoutMs: 15_000 });
  assert.equal(result.code, 0, result.stderr);
  assert.match(
    result.stdout,
    /^\[server\] 1-3\. create \+ bind \+ listen: listening on 127\.0\.0\.1:/,
  );
  assert.match(result.stdout, /\[server\] 4\. accept: connected/);
  assert.match(result.stdout, /\[client\] got {2}"HELLO NETLAB"/);
  assert.match(result.stdout, /\[client\] got {2}"你好"/);
  assert.match(result.stdout, /\[server\] 6\. close: disconnected .*: q,/);
  assert.match(result.stdout, /\[client\] server closed the connection \(EOF\)/);
});
