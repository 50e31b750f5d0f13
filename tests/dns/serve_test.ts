/**
 * dns/serve/: what both DNS servers share — the TCP side (serve/tcp.ts: the one accept loop with
 * its back-off when descriptors run out, keepalive on every accepted connection, replies framed
 * whole and possibly out of order) and the query logs (serve/query_log.ts, serve/resolver_log.ts:
 * the same bytes whether datagrams are moved in batches or one by one, written in batches, and
 * every line still there after Ctrl-C).
 */
import assert from "node:assert/strict";
import { Authority } from "../../dns/authority/authority.ts";
import { startDnsServer } from "../../dns/server.ts";
import { startResolverServer } from "../../dns/resolver_server.ts";
import { AccessList } from "../../dns/resolver/responder.ts";
import { serveDnsTcp } from "../../dns/serve/tcp.ts";
import { ClientNames } from "../../tcp/kit/client_names.ts";
import { decodeMessage, encodeMessage, makeQuery } from "../../dns/wire/message.ts";
import { TYPE } from "../../dns/wire/constants.ts";
import { parseZone } from "../../dns/zone/parse.ts";
import { encodeLengthPrefixed, LengthPrefixDecoder } from "../../tcp/core/framing.ts";
import { readSocketOptions } from "../../tcp/core/socket_options.ts";
import { listenerDescriptor } from "../../tcp/linux/descriptor.ts";
import { LogWriter } from "../../tcp/kit/log.ts";
import { createReporter, type Reporter } from "../../tcp/kit/report.ts";
import { hasCommand, ROOT, startCommand, startScript, writeAll } from "../_helpers.ts";

const linux = Deno.build.os === "linux";
const ZONE = "dns/zones/cnblogs.com.zone";
const cnblogs = parseZone(Deno.readTextFileSync(`${ROOT}${ZONE}`), { file: ZONE });

/** A query's bytes. */
function q(name: string, type: number, id: number): Uint8Array {
  return encodeMessage(makeQuery(name, type, { id, rd: false, edns: false }));
}

/** The questions every log test asks: answers, NXDOMAIN, NODATA, a referral, junk. */
const QUESTIONS: [string, number][] = [
  ["www.cnblogs.com", TYPE.A],
  ["nope.cnblogs.com", TYPE.A],
  ["www.cnblogs.com", TYPE.MX],
  ["x.sub.cnblogs.com", TYPE.A],
  ["web.cnblogs.com", TYPE.A],
  ["WWW.CnBlogs.COM", TYPE.AAAA],
];

/** The lines a reporter printed, one by one, and the bytes a batched writer wrote meanwhile. */
function capture(options: { json?: boolean } = {}) {
  const lines: string[] = [];
  const writes: Uint8Array[] = [];
  const batched = new LogWriter({
    writeSync(bytes) {
      writes.push(bytes.slice());
      return bytes.length;
    },
  });
  const reporter = createReporter("dns/test", {
    json: options.json,
    sink: {
      out(line) {
        lines.push(line + "\n");
        batched.line(line);
      },
      err(line) {
        throw new Error(`unexpected warning: ${line}`);
      },
    },
  });
  return {
    reporter,
    lines,
    /** Everything the batched writer wrote, as text, and in how many writes. */
    written(): { text: string; writes: number } {
      batched.flush();
      const text = writes.map((b) => new TextDecoder().decode(b)).join("");
      return { text, writes: writes.length };
    },
  };
}

/**
 * Asks every question of `QUESTIONS` from `client`, first one at a time, then all at once (a
 * burst the server finds queued together), and waits for every reply.
 */
async function askAll(client: Deno.DatagramConn, to: Deno.NetAddr): Promise<void> {
  let id = 1;
  for (const [name, type] of QUESTIONS) {
    await client.send(q(name, type, id++), to);
    await receiveWithin(client);
  }
  for (const [name, type] of QUESTIONS) await client.send(q(name, type, id++), to);
  for (let i = 0; i < QUESTIONS.length; i++) await receiveWithin(client);
}

/** The next datagram, or a failed test after 5 s (a lost datagram must not hang). */
async function receiveWithin(conn: Deno.DatagramConn): Promise<Uint8Array> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("no reply within 5 s")), 5000);
  });
  try {
    return (await Promise.race([conn.receive(), timeout]))[0];
  } finally {
    clearTimeout(timer);
  }
}

for (const json of [false, true]) {
  Deno.test(`query log${json ? " (--json)" : ""}: the same lines with UDP batched or one by one, the same bytes written in batches`, async () => {
    const client = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const logs: string[][] = [];
    try {
      for (const batch of [false, true]) {
        const log = capture({ json });
        {
          await using server = startDnsServer(new Authority([cnblogs]), {
            port: 0,
            batch,
            json,
            reporter: log.reporter,
          });
          await askAll(client, server.addr);
        }
        const { text, writes } = log.written();
        assert.equal(text, log.lines.join(""));
        assert.ok(writes < log.lines.length, `${writes} writes for ${log.lines.length} lines`);
        // JSON lines carry a time stamp: compare them without it.
        logs.push(log.lines.map((line) => json ? line.replace(/"ts":"[^"]*",/, "") : line));
      }
    } finally {
      client.close();
    }
    const [plain, batched] = logs;
    assert.deepEqual(batched, plain);
    const from = `127.0.0.1:${(client.addr as Deno.NetAddr).port}`;
    const expected = json ? QUESTIONS.length * 2 * 2 : QUESTIONS.length * 2;
    assert.equal(plain.length, expected);
    if (!json) {
      assert.deepEqual(plain.slice(0, QUESTIONS.length), [
        `${from} -> www.cnblogs.com. A NOERROR\n`,
        `${from} -> nope.cnblogs.com. A NXDOMAIN\n`,
        `${from} -> www.cnblogs.com. MX NOERROR\n`,
        `${from} -> x.sub.cnblogs.com. A NOERROR\n`,
        `${from} -> web.cnblogs.com. A NOERROR\n`,
        `${from} -> WWW.CnBlogs.COM. AAAA NOERROR\n`,
      ]);
    } else {
      const events = plain.map((line) => JSON.parse(line));
      assert.deepEqual(events.slice(0, 2).map((e) => e.event), ["query", "answer"]);
      assert.equal(events[1].text, `${from} -> www.cnblogs.com. A NOERROR`);
      assert.equal(events[1].client, from);
    }
  });
}

Deno.test("local DNS server log: the same lines with UDP batched or one by one", async () => {
  const client = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const logs: string[][] = [];
  try {
    for (const batch of [false, true]) {
      const log = capture();
      {
        // Nobody is allowed: every question is refused at once, without asking upstream.
        await using server = startResolverServer({
          port: 0,
          batch,
          roots: ["127.0.0.1"],
          allow: new AccessList("10.0.0.0/8"),
          reporter: log.reporter,
        });
        await askAll(client, server.addr);
      }
      assert.equal(log.written().text, log.lines.join(""));
      logs.push(log.lines);
    }
  } finally {
    client.close();
  }
  assert.deepEqual(logs[1], logs[0]);
  const from = `127.0.0.1:${(client.addr as Deno.NetAddr).port}`;
  assert.equal(logs[0].length, QUESTIONS.length * 2);
  assert.equal(
    logs[0][0],
    `${from} -> www.cnblogs.com. A REFUSED (refused: not in --allow)\n`,
  );
});

Deno.test("dns/server.ts: every query's log line is there after Ctrl-C", async () => {
  await using server = await startScript("dns/server.ts", ["--zone", ZONE, "--port", "0"]);
  const client = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const to = { transport: "udp" as const, hostname: "127.0.0.1", port: server.port };
  const count = 500;
  try {
    // Bursts of 50, so the server finds many queued at once and logs them in one turn.
    for (let id = 1; id <= count; id += 50) {
      for (let i = id; i < id + 50; i++) await client.send(q("www.cnblogs.com", TYPE.A, i), to);
      for (let i = id; i < id + 50; i++) await receiveWithin(client);
    }
  } finally {
    client.close();
  }
  // Stopped right after the last reply: whatever is still pending is flushed on the way out.
  const { code, stdout } = await server.stop();
  assert.equal(code, 130);
  const lines = stdout.trimEnd().split("\n");
  // The listening line, one line per query, then "stopped".
  assert.equal(lines.length, count + 2, stdout.slice(-500));
  assert.equal(lines.at(-1), "stopped");
  const from = `127.0.0.1:${(client.addr as Deno.NetAddr).port}`;
  for (const line of lines.slice(1, -1)) {
    assert.equal(line, `${from} -> www.cnblogs.com. A NOERROR`);
  }
});

Deno.test("ClientNames: a client's text is made once and found again", () => {
  const names = new ClientNames();
  const a = names.text({ transport: "udp", hostname: "127.0.0.1", port: 5000 });
  assert.equal(a, "127.0.0.1:5000");
  assert.equal(names.text({ transport: "udp", hostname: "::1", port: 5000 }), "[::1]:5000");
  // Same host, another port; more clients than are remembered: every text is still right.
  for (let port = 1; port <= 20; port++) {
    assert.equal(
      names.text({ transport: "udp", hostname: "127.0.0.1", port }),
      `127.0.0.1:${port}`,
    );
  }
  assert.equal(names.text({ transport: "udp", hostname: "127.0.0.1", port: 5000 }), a);
});

// ---------------------------------------------------------------------------------------------
// TCP

/** Frames `queries`, sends them on one connection, and returns the replies in arrival order. */
async function tcpExchange(port: number, queries: Uint8Array[]): Promise<Uint8Array[]> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(conn, concat(queries.map((b) => encodeLengthPrefixed(b, { prefixBytes: 2 }))));
  const decoder = new LengthPrefixDecoder({ prefixBytes: 2, maxFrameSize: 65535 });
  const replies: Uint8Array[] = [];
  const buf = new Uint8Array(4096);
  while (replies.length < queries.length) {
    const n = await conn.read(buf);
    if (n === null) break;
    replies.push(...decoder.push(buf.subarray(0, n)).map((f) => f.slice()));
  }
  return replies;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function quietReporter(warnings: string[] = []): Reporter {
  return createReporter("dns/test", {
    sink: { out() {}, err: (line) => warnings.push(line) },
  });
}

Deno.test("serveDnsTcp: answers ready later go out as they are ready, each frame whole", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const warnings: string[] = [];
  // The first query's answer is the slowest: with room for three in flight, it comes last.
  const delays = [60, 0, 20];
  let seen = 0;
  const tcp = serveDnsTcp(listener, (query) => {
    const delay = delays[seen++];
    return new Promise((resolve) => setTimeout(() => resolve(query.slice()), delay));
  }, {
    idleTimeoutMs: 5000,
    maxConnections: 4,
    maxPipeline: 3,
    reporter: quietReporter(warnings),
  });
  try {
    const replies = await tcpExchange(listener.addr.port, [1, 2, 3].map((id) => q("a.", 1, id)));
    assert.deepEqual(replies.map((r) => decodeMessage(r).id), [2, 3, 1]);
  } finally {
    tcp.close();
    await tcp.finished;
  }
  assert.deepEqual(warnings, []);
});

Deno.test("serveDnsTcp: one at a time by default, in order; beyond maxConnections a client is closed", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const tcp = serveDnsTcp(listener, (query) => query.slice(), {
    idleTimeoutMs: 5000,
    maxConnections: 1,
    reporter: quietReporter(),
  });
  try {
    using first = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    await writeAll(first, encodeLengthPrefixed(q("a.", 1, 7), { prefixBytes: 2 }));
    await first.read(new Uint8Array(64)); // the first connection is being served
    using second = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    const got = await second.read(new Uint8Array(16)).catch(() => null);
    assert.equal(got, null, "the connection over the limit is closed");
    const replies = await tcpExchange(listener.addr.port, []).catch(() => []);
    assert.deepEqual(replies, []);
  } finally {
    tcp.close();
    await tcp.finished;
  }
});

Deno.test({
  name: "serveDnsTcp: keepalive on the listener, so every accepted connection has it",
  ignore: !linux,
  async fn() {
    for (const keepalive of [{ idleSeconds: 7, intervalSeconds: 3, probes: 4 }, undefined]) {
      using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const tcp = serveDnsTcp(listener, () => null, {
        idleTimeoutMs: 5000,
        maxConnections: 4,
        keepalive,
        reporter: quietReporter(),
      });
      try {
        const options = readSocketOptions(listenerDescriptor(listener)!);
        assert.equal(options?.SO_KEEPALIVE, keepalive ? 1 : 0);
        if (keepalive) {
          assert.equal(options?.TCP_KEEPIDLE, 7);
          assert.equal(options?.TCP_KEEPINTVL, 3);
          assert.equal(options?.TCP_KEEPCNT, 4);
        }
      } finally {
        tcp.close();
        await tcp.finished;
      }
    }
  },
});

/** CPU seconds (user + system) used by `pid` so far. */
function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

Deno.test({
  name: "dns/server.ts out of descriptors (ulimit -n 64): TCP pauses, says so once, serves again",
  ignore: !linux || !hasCommand("bash"),
  async fn() {
    await using server = await startCommand("bash", [
      "-c",
      'ulimit -n 64; exec "$@"',
      "bash",
      Deno.execPath(),
      "run",
      "-A",
      "--quiet",
      "dns/server.ts",
      "--zone",
      ZONE,
      "--port",
      "0",
      "--quiet",
    ], { cwd: ROOT });
    const port = server.port;
    // More connections than the server has descriptors: the kernel queues the rest.
    const conns: Deno.Conn[] = [];
    try {
      for (let i = 0; i < 100; i++) {
        conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
      }
      while (!server.stderr().includes("accept paused")) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const before = cpuSeconds(server.child.pid);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const cpu = cpuSeconds(server.child.pid) - before;
      assert.ok(cpu < 0.5, `server CPU while out of descriptors: ${cpu} s in 1 s`);
    } finally {
      for (const conn of conns) {
        try {
          conn.close();
        } catch { /* closed by the server */ }
      }
    }
    // Descriptors free up: a TCP query is answered again.
    const [reply] = await tcpExchange(port, [q("www.cnblogs.com", TYPE.A, 77)]);
    assert.equal(decodeMessage(reply).id, 77);
    const { stderr } = await server.stop();
    const lines = stderr.split("\n").filter(Boolean);
    const paused = lines.filter((l) => l.startsWith("accept paused")).length;
    const resumed = lines.filter((l) => l.startsWith("accept resumed")).length;
    assert.ok(paused >= 1 && paused <= resumed + 1 && paused < 10, stderr);
    assert.ok(lines.length <= 2 * paused + 1, stderr);
  },
});
