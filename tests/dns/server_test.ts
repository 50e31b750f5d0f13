/**
 * dns/server.ts: the real server over UDP and TCP (in process and spawned with `startScript`),
 * fuzzing that must never crash or stall it, the CLI contract, and interop with dig.
 */
import assert from "node:assert/strict";
import { Authority } from "../../dns/authority/authority.ts";
import { startDnsServer } from "../../dns/server.ts";
import { decodeMessage, encodeMessage, makeQuery, type Message } from "../../dns/wire/message.ts";
import { RCODE, TYPE } from "../../dns/wire/constants.ts";
import { encodeLengthPrefixed, LengthPrefixDecoder } from "../../tcp/core/framing.ts";
import { hasCommand, runCommand, runScript, startScript, writeAll } from "../_helpers.ts";
import { ask, cnblogs, com, fuzzInputs, records, root } from "./_authority.ts";

// -------------------------------------------------------------------------------------------
// The real server.

const ZONE_ARGS = [
  "--zone",
  "dns/zones/root.zone",
  "--zone",
  "dns/zones/com.zone",
  "--zone",
  "dns/zones/cnblogs.com.zone",
];

async function udpAsk(port: number, query: Uint8Array, timeoutMs = 5000): Promise<Message> {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await socket.send(query, { transport: "udp", hostname: "127.0.0.1", port });
    const receiving = socket.receive();
    receiving.catch(() => {}); // closing the socket after a timeout rejects it
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("no UDP reply")), timeoutMs);
    });
    const [bytes] = await Promise.race([receiving, timeout]);
    return decodeMessage(bytes);
  } finally {
    clearTimeout(timer);
    socket.close();
  }
}

async function tcpAskMany(port: number, queries: Uint8Array[]): Promise<Message[]> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  // All queries in one write: the server must split them by their length prefixes.
  const joined = queries.map((q) => encodeLengthPrefixed(q, { prefixBytes: 2 }));
  await writeAll(conn, Uint8Array.from(joined.flatMap((f) => [...f])));
  const decoder = new LengthPrefixDecoder({ prefixBytes: 2 });
  const replies: Message[] = [];
  const buf = new Uint8Array(4096);
  while (replies.length < queries.length) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("server closed the connection early");
    for (const frame of decoder.push(buf.subarray(0, n))) replies.push(decodeMessage(frame));
  }
  return replies;
}

const q = (name: string, type: number, id: number, edns: false | { udpSize: number } = false) =>
  encodeMessage(makeQuery(name, type, { id, rd: false, edns }));

Deno.test("server: UDP and TCP on one port, logging, fuzz, and still serving", async (t) => {
  await using server = await startScript("dns/server.ts", [...ZONE_ARGS, "--port", "0"]);
  assert.match(server.firstLine, /^listening on 127\.0\.0\.1:\d+ \(udp\+tcp\)$/);
  const port = server.port;

  await t.step("UDP answer and its log line", async () => {
    const r = await udpAsk(port, q("www.cnblogs.com", TYPE.A, 101));
    assert.equal(r.id, 101);
    assert.equal(r.flags.aa, true);
    assert.deepEqual(records(r.answers), ["www.cnblogs.com.\t600\tIN\tA\t127.0.0.5"]);
    await server.waitForLine(/^127\.0\.0\.1:\d+ -> www\.cnblogs\.com\. A NOERROR$/);
  });

  await t.step("UDP truncates big answers; TCP carries them", async () => {
    const udp = await udpAsk(port, q("big.cnblogs.com", TYPE.TXT, 102, { udpSize: 1232 }));
    assert.equal(udp.flags.tc, true);
    const [a, big, nx] = await tcpAskMany(port, [
      q("www.cnblogs.com", TYPE.AAAA, 201),
      q("big.cnblogs.com", TYPE.TXT, 202),
      q("nope.cnblogs.com", TYPE.A, 203),
    ]);
    assert.deepEqual([a.id, big.id, nx.id], [201, 202, 203]);
    assert.equal(a.answers[0].data.kind, "AAAA");
    assert.equal(big.answers.length, 40);
    assert.equal(big.flags.tc, false);
    assert.equal(nx.flags.rcode, RCODE.NXDOMAIN);
  });

  await t.step("a name under no TLD we hold is NXDOMAIN from the root zone", async () => {
    const r = await udpAsk(port, q("example.org", TYPE.A, 103));
    assert.equal(r.flags.rcode, RCODE.NXDOMAIN); // the root is authoritative for "."
  });

  await t.step("random datagrams and broken TCP streams do not stop it", async () => {
    const junk = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    try {
      for (const input of fuzzInputs(300, 7)) {
        await junk.send(input, { transport: "udp", hostname: "127.0.0.1", port });
      }
    } finally {
      junk.close();
    }
    // A frame announcing 65535 bytes that never come, then EOF; and a stream of garbage.
    for (const bytes of [Uint8Array.of(0xff, 0xff, 1, 2, 3), Uint8Array.of(0, 3, 1, 2, 3, 0, 1)]) {
      using conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await writeAll(conn, bytes);
      await conn.closeWrite();
      const buf = new Uint8Array(64);
      while ((await conn.read(buf)) !== null) { /* drain until the server closes */ }
    }
    const r = await udpAsk(port, q("web.cnblogs.com", TYPE.A, 104));
    assert.equal(r.answers.length, 2);
    const [t1] = await tcpAskMany(port, [q("www.cnblogs.com", TYPE.A, 105)]);
    assert.equal(t1.answers.length, 1);
    assert.equal(server.stderr(), "");
  });

  await t.step("a client stalled mid-frame does not hold up anyone else", async () => {
    using stalled = await Deno.connect({ hostname: "127.0.0.1", port });
    await writeAll(stalled, Uint8Array.of(0, 40, 0x12)); // 1 of 40 announced bytes
    const [r] = await tcpAskMany(port, [q("www.cnblogs.com", TYPE.A, 106)]);
    assert.equal(r.answers.length, 1);
    assert.equal((await udpAsk(port, q("www.cnblogs.com", TYPE.A, 107))).answers.length, 1);
  });

  const result = await server.stop();
  assert.equal(result.code, 130);
});

Deno.test("server: an idle TCP connection is closed after --idle seconds", async () => {
  await using server = await startScript("dns/server.ts", [
    ...ZONE_ARGS,
    "--port",
    "0",
    "--idle",
    "1",
  ]);
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const started = performance.now();
  // The server closes the connection: read sees EOF (or a reset), never a hang.
  const got = await conn.read(new Uint8Array(16)).catch(() => null);
  assert.equal(got, null);
  assert.ok(performance.now() - started < 10_000);
});

Deno.test("server: --quiet logs nothing but the listening line", async () => {
  await using server = await startScript("dns/server.ts", [...ZONE_ARGS, "--port", "0", "--quiet"]);
  const r = await udpAsk(server.port, q("www.cnblogs.com", TYPE.A, 1));
  assert.equal(r.answers.length, 1);
  const result = await server.stop();
  assert.equal(result.stdout.trim().split("\n").length, 1);
});

Deno.test("server, quiet (batched on Linux): a burst is answered in order, each with its own id", async () => {
  await using server = startDnsServer(new Authority([cnblogs]), { port: 0, quiet: true });
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    const junk = new Uint8Array([1, 2, 3]); // shorter than a header: no reply at all
    const response = q("x.", TYPE.A, 9);
    response[2] |= 0x80; // QR set: a response, not a query, gets silence
    const burst: [Uint8Array, number | null][] = [];
    for (let id = 1; id <= 12; id++) {
      burst.push([q(id % 2 ? "www.cnblogs.com" : "nope.cnblogs.com", TYPE.A, id), id]);
      if (id % 4 === 0) burst.push([id % 8 ? junk : response, null]);
    }
    // All sent before anything is read, so the server finds them queued together.
    for (const [bytes] of burst) await socket.send(bytes, server.addr);
    const replies: Message[] = [];
    const timeout = setTimeout(() => socket.close(), 5000); // a lost reply fails, not hangs
    try {
      for (let i = 0; i < 12; i++) replies.push(decodeMessage((await socket.receive())[0]));
    } finally {
      clearTimeout(timeout);
    }
    assert.deepEqual(replies.map((r) => r.id), burst.flatMap(([, id]) => id === null ? [] : [id]));
    for (const r of replies) {
      assert.equal(r.flags.rcode, r.id % 2 ? RCODE.NOERROR : RCODE.NXDOMAIN);
      assert.equal(r.answers.length, r.id % 2);
    }
  } finally {
    try {
      socket.close();
    } catch { /* closed by the timeout */ }
  }
});

Deno.test("server CLI: --help, bad flags, missing zone, a zone error names file and line", async () => {
  const help = await runScript("dns/server.ts", ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: deno task dns:server --zone FILE/);
  const bad = await runScript("dns/server.ts", ["--bogus"]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, "error: unknown option --bogus (see --help)\n");
  const none = await runScript("dns/server.ts", []);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^error: At least one --zone FILE is required/);
  const port = await runScript("dns/server.ts", ["--zone", "x", "--port", "99999"]);
  assert.equal(port.code, 2);
  assert.match(port.stderr, /--port must be 0–65535, got 99999/);
  const keepalive = await runScript("dns/server.ts", ["--zone", "x", "--keepalive", "-5"]);
  assert.equal(keepalive.code, 2);
  assert.equal(
    keepalive.stderr,
    "error: --keepalive must be an integer from 0 to 32,767, got -5 (see --help)\n",
  );
  // A zone file given without --zone is an error, not silently ignored.
  const stray = await runScript("dns/server.ts", ["dns/zones/cnblogs.com.zone", "--zone", "x"]);
  assert.equal(stray.code, 2);
  assert.match(stray.stderr, /^error: Unexpected argument "dns\/zones\/cnblogs\.com\.zone"/);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/bad.zone`,
      "$ORIGIN x.test.\n@ SOA a b 1 2 3 4 5\nwww A 1.2.3\n",
    );
    const broken = await runScript("dns/server.ts", ["--zone", `${dir}/bad.zone`, "--port", "0"]);
    assert.equal(broken.code, 1);
    assert.equal(broken.stderr.trim(), `error: ${dir}/bad.zone:3: Invalid IPv4 address "1.2.3"`);
    const missing = await runScript("dns/server.ts", ["--zone", `${dir}/none.zone`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error: Cannot read zone file ".*none\.zone"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "interop: dig against dns/server.ts gives the same records",
  ignore: !hasCommand("dig"),
  async fn() {
    await using server = await startScript("dns/server.ts", [
      ...ZONE_ARGS,
      "--port",
      "0",
      "--quiet",
    ]);
    const all = new Authority([root, com, cnblogs]);
    const normalise = (lines: string[]) => lines.map((l) => l.split(/\s+/).join(" ")).sort();
    const cases: [string, string, string[]][] = [
      ["www.cnblogs.com", "A", []],
      ["www.cnblogs.com", "AAAA", []],
      ["web.cnblogs.com", "A", []],
      ["cnblogs.com", "MX", []],
      ["cnblogs.com", "TXT", []],
      ["cnblogs.com", "CAA", []],
      ["cnblogs.com", "SOA", []],
      ["_http._tcp.cnblogs.com", "SRV", []],
      ["x.wild.cnblogs.com", "TXT", []],
      ["big.cnblogs.com", "TXT", []], // TC → dig retries over TCP
      ["big.cnblogs.com", "A", ["+tcp"]],
    ];
    for (const [name, type, extra] of cases) {
      const dig = await runCommand("dig", [
        `@127.0.0.1`,
        "-p",
        String(server.port),
        "+norec",
        "+noall",
        "+answer",
        ...extra,
        name,
        type,
      ]);
      assert.equal(dig.code, 0, dig.stderr);
      const theirs = dig.stdout.split("\n").filter((l) => l && !l.startsWith(";"));
      const ours = ask(name, TYPE[type as keyof typeof TYPE], { auth: all, udp: false }).answers;
      assert.ok(ours.length > 0, `${name} ${type}`);
      assert.deepEqual(normalise(theirs), normalise(records(ours)), `${name} ${type}`);
    }
    const status = await runCommand("dig", [
      `@127.0.0.1`,
      "-p",
      String(server.port),
      "nope.cnblogs.com",
    ]);
    assert.match(status.stdout, /status: NXDOMAIN/);
    assert.match(status.stdout, /flags: qr aa rd;/); // RD echoed, RA never set
  },
});
