/**
 * tcp/halfclose.ts: FIN, BrokenPipe and ConnectionReset asserted in-process, then the script and
 * its `--serve` server as subprocesses.
 */
import assert from "node:assert/strict";
import { runScript, startScript } from "../_helpers.ts";
import { halfCloseExchange, readAfterReset, writeAfterPeerClosed } from "../../tcp/halfclose.ts";
import { upperAscii } from "../../tcp/core/upper.ts";

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

Deno.test("halfclose: the client still reads the reply after closeWrite()", async () => {
  const message = encoder.encode("hello world 你好");
  const result = await withListener((l) => halfCloseExchange(l, message));
  assert.equal(result.serverReadBeforeEof, message.length);
  assert.equal(decoder.decode(result.reply), "HELLO WORLD 你好");
  assert.ok(result.clientSawEof);
  // The server answered only after the client's FIN.
  const closeWriteAt = result.events.findIndex((e) => e.startsWith("client: closeWrite()"));
  const eofAt = result.events.findIndex((e) => e.startsWith("server: read() returned null"));
  assert.ok(closeWriteAt >= 0 && eofAt > closeWriteAt, result.events.join("\n"));
});

Deno.test("halfclose: after the peer closed, a later write throws BrokenPipe", async () => {
  const { sawEof, writes } = await withListener((l) => writeAfterPeerClosed(l));
  assert.ok(sawEof);
  assert.deepEqual(writes[0], { ok: true, bytes: 4 });
  const failed = writes.at(-1);
  assert.ok(failed && !failed.ok, JSON.stringify(writes));
  assert.match(failed.error, /^(BrokenPipe|ConnectionReset): /);
});

Deno.test("halfclose: a read after a bare RST throws ConnectionReset", async () => {
  const result = await withListener((l) => readAfterReset(l));
  assert.equal(result.serverRead, 1);
  // Deno's close() sends FIN before the RST that unread data causes: the peer reads EOF.
  assert.equal(result.afterUnreadClose, "null");
  assert.match(result.afterBacklogReset, /^ConnectionReset: /);
});

Deno.test("halfclose: upperAscii changes a–z only", () => {
  assert.deepEqual(upperAscii(encoder.encode("az AZ é 你 {")), encoder.encode("AZ AZ é 你 {"));
});

Deno.test("tcp/halfclose.ts runs the three experiments", async () => {
  const r = await runScript("tcp/halfclose.ts", ["--message", "abc 你好"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^listening on 127\.0\.0\.1:\d+\n/);
  assert.match(r.stdout, /sent "abc 你好", got back "ABC 你好"/);
  assert.match(r.stdout, /write \d failed: (BrokenPipe|ConnectionReset)/);
  assert.match(r.stdout, /client read\(\) -> ConnectionReset/);
});

Deno.test("tcp/halfclose.ts --serve answers a client after its FIN", async () => {
  await using server = await startScript("tcp/halfclose.ts", ["--serve"]);
  const conn = await Deno.connect({ hostname: server.host, port: server.port });
  try {
    await conn.write(encoder.encode("hi 你好"));
    await conn.closeWrite();
    const reply = new Uint8Array(64);
    let got = 0;
    for (let n; (n = await conn.read(reply.subarray(got))) !== null;) got += n;
    assert.equal(decoder.decode(reply.subarray(0, got)), "HI 你好");
  } finally {
    conn.close();
  }
  await server.waitForLine(/read 9 bytes until EOF, replied, closed/);
  const result = await server.stop();
  assert.equal(result.code, 130, result.stderr);
});
