/**
 * The small TCP teaching scripts: tcp/sticky.ts (粘包 and its fixes), tcp/halfclose.ts (FIN,
 * BrokenPipe, ConnectionReset) and tcp/info.ts (socket attributes). Their exported experiments are
 * asserted in-process; each script is also run once as a subprocess (--help, a bad flag, a run).
 */
import assert from "node:assert/strict";
import { runScript, startScript } from "../_helpers.ts";
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
import { halfCloseExchange, readAfterReset, writeAfterPeerClosed } from "../../tcp/halfclose.ts";
import { upperAscii } from "../../tcp/core/upper.ts";
import { inspectTcp, inspectUnix, readKeepaliveSettings, SEED_KEEPALIVE } from "../../tcp/info.ts";
import { readSocketOptions } from "../../tcp/core/socket_options.ts";
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

function ipv6Available(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

// --- tcp/sticky.ts ---------------------------------------------------------------------------

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

// --- tcp/halfclose.ts --------------------------------------------------------------------------

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

// --- recv while the receive buffer is empty (seed 003: 当缓冲区为空则阻塞) ------------------------

/** Settles with "pending" when `promise` has not settled by the time already-queued work ran. */
async function stateOf<T>(promise: Promise<T>): Promise<T | "pending"> {
  const marker = Promise.resolve("pending" as const);
  return await Promise.race([promise, marker]);
}

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

// --- tcp/info.ts -------------------------------------------------------------------------------

Deno.test("info: TCP/IPv4 shows getsockname, getpeername and options read back", async () => {
  const report = await inspectTcp("127.0.0.1");
  assert.ok(report);
  assert.equal(report.family, "AF_INET");
  const [listener, client, accepted] = report.rows;
  assert.match(listener.local, /^127\.0\.0\.1:[1-9]\d*$/);
  assert.equal(listener.peer, null);
  assert.equal(client.peer, listener.local);
  assert.equal(accepted.local, listener.local);
  assert.equal(accepted.peer, client.local);
  for (const r of report.rows) assert.ok(r.fd === null || r.fd > 2, `fd ${r.fd}`);
  if (Deno.build.os === "linux") {
    assert.equal(listener.options?.SO_REUSEADDR, 1, "Deno.listen sets SO_REUSEADDR");
    assert.equal(listener.options?.SO_ACCEPTCONN, 1);
    assert.equal(client.options?.SO_DOMAIN, 2);
    assert.equal(client.options?.SO_TYPE, 1);
    assert.equal(client.optionsBefore?.SO_KEEPALIVE, 0);
    assert.equal(client.options?.SO_KEEPALIVE, 1);
    assert.equal(client.options?.TCP_NODELAY, 1);
  }
});

Deno.test({
  name: "info: TCP/IPv6 on ::1",
  ignore: !ipv6Available(),
  async fn() {
    const report = await inspectTcp("::1");
    assert.ok(report);
    assert.equal(report.family, "AF_INET6");
    assert.match(report.rows[0].local, /^\[::1\]:\d+$/);
    if (Deno.build.os === "linux") assert.equal(report.rows[1].options?.SO_DOMAIN, 10);
  },
});

Deno.test("info: Unix socket has a path on the server side and none on the client", async () => {
  const report = await inspectUnix();
  const [listener, client, accepted] = report.rows;
  assert.equal(report.family, "AF_UNIX");
  assert.match(listener.local, /^unix:.*info\.sock$/);
  assert.equal(client.local, "(unnamed)");
  assert.equal(client.peer, listener.local);
  assert.equal(accepted.peer, "(unnamed)");
  if (Deno.build.os === "linux") assert.equal(accepted.options?.SO_DOMAIN, 1);
});

Deno.test({
  name: "info: keepalive timings are read from /proc",
  ignore: Deno.build.os !== "linux",
  fn() {
    const k = readKeepaliveSettings();
    assert.ok(k.timeSeconds !== null && k.timeSeconds > 0);
    assert.ok(k.intervalSeconds !== null && k.intervalSeconds > 0);
    assert.ok(k.probes !== null && k.probes > 0);
    assert.equal(SEED_KEEPALIVE.probes, 10);
    // A descriptor that is not open: every getsockopt fails, so nothing is reported.
    assert.deepEqual(readSocketOptions(-1), {});
  },
});

// --- the scripts as subprocesses -----------------------------------------------------------------

for (const script of ["tcp/sticky.ts", "tcp/halfclose.ts", "tcp/info.ts"]) {
  Deno.test(`${script} --help prints usage and exits 0`, async () => {
    const r = await runScript(script, ["--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: deno task tcp:/);
  });

  Deno.test(`${script} rejects an unknown flag with one line`, async () => {
    const r = await runScript(script, ["--bogus"]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, "error: unknown option --bogus (see --help)\n");
    assert.equal(r.stdout, "");
  });
}

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

Deno.test("tcp/info.ts prints all three families and the keepalive timings", async () => {
  const r = await runScript("tcp/info.ts");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /TCP over IPv4 \(127\.0\.0\.1\): family AF_INET \(2\)/);
  assert.match(r.stdout, /TCP over IPv6 \(::1\): (family AF_INET6 \(10\)|skipped)/);
  assert.match(r.stdout, /Unix-domain socket .*: family AF_UNIX \(1\)/);
  assert.match(r.stdout, /0 = stdin/);
  assert.match(r.stdout, /Keepalive \(seed 004: idle 2 h = 7200 s, every 75 s, 10 probes\)/);
});
