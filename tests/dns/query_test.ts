/**
 * dns/query.ts end to end: the real script against the real dns/server.ts (UDP, TC → TCP,
 * +tcp, +short, --json, -x), against in-test fake servers (a forged id, silence → exit 9),
 * `+trace` over the offline mini-Internet (dns/internet.ts), and interop with NSD: query.ts
 * prints the same records dig prints. Never the machine's configured resolver.
 */
import assert from "node:assert/strict";
import { startNsd } from "../_nsd.ts";
import { decodeMessage, encodeMessage, type Message } from "../../dns/wire/message.ts";
import { getEdns } from "../../dns/wire/edns.ts";
import { startMiniInternet } from "../../dns/internet/servers.ts";
import {
  assertNdjson,
  hasCommand,
  ROOT,
  runCommand,
  runScript,
  type ScriptResult,
  startScript,
} from "../_helpers.ts";

const QUERY = "dns/query.ts";
const ZONE = "dns/zones/cnblogs.com.zone";

/** The record lines of a dig-style output (no comments, blank lines or whitespace runs). */
function recordLines(stdout: string): string[] {
  return stdout.split("\n").filter((line) => line && !line.startsWith(";"))
    .map((line) => line.trim().split(/\s+/).join(" "));
}

function assertExit(result: ScriptResult, code: number): void {
  assert.equal(
    result.code,
    code,
    `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`,
  );
}

Deno.test("query.ts against dns/server.ts", async (t) => {
  await using server = await startScript("dns/server.ts", ["--zone", ZONE, "--port", "0"]);
  const at = [`@${server.host}`, "-p", String(server.port)];
  const query = (...args: string[]) => runScript(QUERY, [...at, ...args]);

  await t.step("prints an A answer the way dig does (UDP)", async () => {
    const result = await query("www.cnblogs.com");
    assertExit(result, 0);
    const out = result.stdout;
    assert.match(out, /^; <<>> netlab query <<>> @127\.0\.0\.1 -p \d+ www\.cnblogs\.com$/m);
    assert.match(out, /^;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: \d+$/m);
    assert.match(out, /^;; flags: qr aa rd; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1$/m);
    assert.match(out, /^;; OPT PSEUDOSECTION:\n; EDNS: version: 0, flags:; udp: \d+$/m);
    assert.match(out, /^;; QUESTION SECTION:\n;www\.cnblogs\.com\.\s+IN\s+A$/m);
    assert.match(out, /^;; ANSWER SECTION:\nwww\.cnblogs\.com\.\s+600\s+IN\s+A\s+127\.0\.0\.5$/m);
    assert.match(out, /^;; Query time: \d+ msec$/m);
    assert.match(
      out,
      new RegExp(`^;; SERVER: 127\\.0\\.0\\.1#${server.port}\\(127\\.0\\.0\\.1\\) \\(UDP\\)$`, "m"),
    );
    assert.match(out, /^;; WHEN: \w{3} \w{3} \d\d \d\d:\d\d:\d\d UTC \d{4}$/m);
    assert.match(out, /^;; MSG SIZE {2}rcvd: \d+$/m);
  });

  await t.step("retries over TCP when the UDP reply is truncated", async () => {
    const result = await query("big.cnblogs.com", "+bufsize=512");
    assertExit(result, 0);
    assert.match(result.stdout, /^;; Truncated, retrying in TCP mode\.$/m);
    assert.match(result.stdout, /\(TCP\)$/m);
    assert.equal(
      recordLines(result.stdout).filter((l) => l.startsWith("big.cnblogs.com.")).length,
      40,
    );
  });

  await t.step("+tcp asks over TCP from the start", async () => {
    const result = await query("+tcp", "cnblogs.com", "MX");
    assertExit(result, 0);
    assert.doesNotMatch(result.stdout, /Truncated/);
    assert.match(result.stdout, /\(TCP\)$/m);
    assert.ok(recordLines(result.stdout).includes("cnblogs.com. 600 IN MX 10 mail.cnblogs.com."));
  });

  await t.step("+short prints only the data", async () => {
    const result = await query("web.cnblogs.com", "+short");
    assertExit(result, 0);
    assert.equal(result.stdout, "www.cnblogs.com.\n127.0.0.5\n");
  });

  await t.step("--json prints one object with the documented schema", async () => {
    const result = await query("-t", "TXT", "cnblogs.com", "--json");
    assertExit(result, 0);
    const reply = JSON.parse(result.stdout);
    assert.deepEqual(Object.keys(reply), [
      "id",
      "opcode",
      "rcode",
      "flags",
      "question",
      "answer",
      "authority",
      "additional",
      "server",
      "elapsed_ms",
      "size",
    ]);
    assert.equal(reply.opcode, "QUERY");
    assert.equal(reply.rcode, "NOERROR");
    assert.deepEqual(reply.flags, ["qr", "aa", "rd"]);
    assert.deepEqual(reply.question, [{ name: "cnblogs.com.", type: "TXT", class: "IN" }]);
    assert.deepEqual(
      reply.answer.map((r: { data: string }) => r.data).sort(),
      ['"netlab mini-Internet" "say \\"hi\\"; two strings"', '"v=spf1 mx -all"'],
    );
    assert.deepEqual(Object.keys(reply.answer[0]), ["name", "type", "class", "ttl", "data"]);
    assert.equal(reply.server, `127.0.0.1#${server.port}`);
    assert.equal(typeof reply.elapsed_ms, "number");
    assert.equal(typeof reply.size, "number");
  });

  await t.step("NXDOMAIN is an answer: status printed, exit 0", async () => {
    const result = await query("nope.cnblogs.com");
    assertExit(result, 0);
    assert.match(result.stdout, /status: NXDOMAIN/);
    assert.match(result.stdout, /^;; AUTHORITY SECTION:\ncnblogs\.com\.\s+\d+\s+IN\s+SOA\s/m);
  });

  await t.step("-x builds the reverse names for IPv4 and IPv6", async () => {
    const v4 = JSON.parse((await query("-x", "127.0.0.5", "--json")).stdout);
    assert.deepEqual(v4.question, [{ name: "5.0.0.127.in-addr.arpa.", type: "PTR", class: "IN" }]);
    assert.equal(v4.rcode, "REFUSED"); // not a zone this server serves, but still an answer
    const v6 = JSON.parse((await query("-x", "2001:db8::1", "--json")).stdout);
    assert.equal(
      v6.question[0].name,
      "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
    );
  });
});

Deno.test("query.ts rejects bad input with one line and exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["", "@127.0.0.1"], /^error: Invalid name "": empty \(see --help\)$/],
    [[`${"a".repeat(64)}.com`, "@127.0.0.1"], /label longer than 63 bytes/],
    [["-t", "FOO", "x.com", "@127.0.0.1"], /^error: Unknown record type "FOO" \(see --help\)$/],
    [["x.com", "FOO", "@127.0.0.1"], /^error: Unknown record type "FOO" \(see --help\)$/],
    [["-x", "1.2.3", "@127.0.0.1"], /^error: Invalid -x "1\.2\.3"/],
    [["+bogus", "x.com", "@127.0.0.1"], /^error: Invalid option "\+bogus" \(see --help\)$/],
    [["+timeout=-1", "x.com", "@127.0.0.1"], /^error: Invalid option "\+timeout=-1"/],
    [["+tries=101", "x.com", "@127.0.0.1"], /^error: Invalid option "\+tries=101"/],
    [
      ["-p", "70000", "x.com", "@127.0.0.1"],
      /^error: --port must be 0–65535, got 70000 \(see --help\)$/,
    ],
    // Control characters in what is echoed are escaped: the message stays one line.
    [
      ["x\ny\u00e9.com", "@127.0.0.1"],
      /^error: Invalid name "x\\010y\u00e9\.com": non-ASCII character/,
    ],
    [
      ["+bo\r\ngus", "x.com", "@127.0.0.1"],
      /^error: Invalid option "\+bo\\013\\010gus" \(see --help\)$/,
    ],
    [["-x", "1.2\n.3", "@127.0.0.1"], /^error: Invalid -x "1\.2\\010\.3": not an IPv4/],
    [
      ["-t", "A\u2028", "x.com", "@127.0.0.1"],
      /^error: Unknown record type "A\\u2028" \(see --help\)$/,
    ],
    [
      ["a.com", "b\n.com", "@127.0.0.1"],
      /^error: Unexpected argument "b\\010\.com": only one name/,
    ],
  ];
  for (const [args, message] of cases) {
    const result = await runScript(QUERY, args);
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr.split("\n")[0], message);
    assert.equal(result.stdout, "");
  }
  const help = await runScript(QUERY, ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: /);
});

/** A UDP "server" the test scripts datagram by datagram. */
async function withFakeServer(
  play: (socket: Deno.DatagramConn, query: Message, from: Deno.Addr) => Promise<void>,
  run: (port: number) => Promise<void>,
): Promise<void> {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    try {
      for await (const [data, from] of socket) await play(socket, decodeMessage(data), from);
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted)) {
        throw error;
      }
    }
  })();
  try {
    await run((socket.addr as Deno.NetAddr).port);
  } finally {
    socket.close();
    await served;
  }
}

function answerTo(query: Message, id = query.id): Message {
  return {
    id,
    flags: { ...query.flags, qr: true, aa: true },
    questions: query.questions,
    answers: [{
      name: query.questions[0].name,
      type: 1,
      class: 1,
      ttl: 60,
      data: { kind: "A", address: "192.0.2.80" },
    }],
    authorities: [],
    additionals: [],
  };
}

Deno.test("query.ts ignores a reply with the wrong id and takes the right one", async () => {
  await withFakeServer(async (socket, query, from) => {
    await socket.send(encodeMessage(answerTo(query, query.id ^ 0x5a5a)), from);
    await socket.send(encodeMessage(answerTo(query)), from);
  }, async (port) => {
    const result = await runScript(QUERY, [
      "@127.0.0.1",
      "-p",
      String(port),
      "spoof.test",
      "+short",
    ]);
    assertExit(result, 0);
    assert.equal(result.stdout, "192.0.2.80\n");
    assert.match(result.stderr, /^;; Warning: ID mismatch: expected ID (\d+), got \d+$/m);
  });
});

Deno.test("query.ts sends what +norecurse, +dnssec and +bufsize ask for", async () => {
  const seen: Message[] = [];
  await withFakeServer(async (socket, query, from) => {
    seen.push(query);
    await socket.send(encodeMessage(answerTo(query)), from);
  }, async (port) => {
    const at = ["@127.0.0.1", "-p", String(port), "flags.test"];
    assertExit(await runScript(QUERY, [...at, "+norecurse", "+dnssec", "+bufsize=4096"]), 0);
    assertExit(await runScript(QUERY, [...at, "+bufsize=0"]), 0);
  });
  assert.equal(seen.length, 2);
  assert.equal(seen[0].flags.rd, false);
  assert.deepEqual(
    [getEdns(seen[0])?.dnssecOk, getEdns(seen[0])?.udpSize],
    [true, 4096],
  );
  assert.equal(seen[1].flags.rd, true);
  assert.equal(getEdns(seen[1]), undefined);
});

Deno.test("query.ts exits 9 quickly when nobody replies", async () => {
  let queries = 0;
  await withFakeServer(() => {
    queries++;
    return Promise.resolve();
  }, async (port) => {
    const started = performance.now();
    const result = await runScript(QUERY, [
      "@127.0.0.1",
      "-p",
      String(port),
      "x.test",
      "+timeout=1",
      "+tries=1",
    ]);
    assertExit(result, 9);
    // dig's lines: each try's failure, then the verdict.
    assert.match(
      result.stderr,
      /^;; communications error to 127\.0\.0\.1#\d+: timed out\n;; no servers could be reached\n$/,
    );
    assert.ok(performance.now() - started < 15_000);
  });
  assert.equal(queries, 1);
});

/** A server on one UDP and TCP port that answers every query with `reply(query)`. */
async function withJunkServer(
  reply: (query: Uint8Array, tcp: boolean) => Uint8Array,
  run: (port: number) => Promise<void>,
): Promise<void> {
  let udp: Deno.DatagramConn | undefined;
  let tcp: Deno.TcpListener | undefined;
  for (let attempt = 0; !tcp; attempt++) {
    udp = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    try {
      tcp = Deno.listen({ hostname: "127.0.0.1", port: (udp.addr as Deno.NetAddr).port });
    } catch (error) {
      udp.close();
      if (!(error instanceof Deno.errors.AddrInUse) || attempt > 20) throw error;
    }
  }
  const closed = (error: unknown) =>
    error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted;
  const served = Promise.all([
    (async () => {
      try {
        for await (const [data, from] of udp!) await udp!.send(reply(data, false), from);
      } catch (error) {
        if (!closed(error)) throw error;
      }
    })(),
    (async () => {
      try {
        for await (const conn of tcp!) {
          const buf = new Uint8Array(2048);
          let got = 0;
          while (got < 2 || got < 2 + ((buf[0] << 8) | buf[1])) {
            const n = await conn.read(buf.subarray(got));
            if (n === null) break;
            got += n;
          }
          const answer = reply(buf.slice(2, got), true);
          await conn.write(Uint8Array.of(answer.length >> 8, answer.length & 0xff, ...answer));
          conn.close();
        }
      } catch (error) {
        if (!closed(error)) throw error;
      }
    })(),
  ]);
  try {
    await run((udp!.addr as Deno.NetAddr).port);
  } finally {
    udp!.close();
    tcp!.close();
    await served;
  }
}

/** A reply that carries the query's id and QR but cannot be decoded (a pointer forwards). */
function undecodable(query: Uint8Array, tc = false): Uint8Array {
  return Uint8Array.of(
    query[0],
    query[1],
    tc ? 0x82 : 0x80,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    0xc0,
    0x20,
    0,
    1,
    0,
    1,
  );
}

Deno.test("query.ts exits 9 for an undecodable reply over UDP and over TCP alike", async () => {
  const cases: [string, string[], (q: Uint8Array, tcp: boolean) => Uint8Array, RegExp][] = [
    [
      "UDP",
      [],
      (q) => undecodable(q),
      /^;; communications error to 127\.0\.0\.1#\d+: timed out \(ignored 1 unusable reply, the last: malformed reply: Cannot decode name at offset 12: pointer 32 does not point backwards\)\n;; no servers could be reached$/m,
    ],
    [
      "TCP",
      ["+tcp"],
      (q) => undecodable(q),
      /^;; communications error to 127\.0\.0\.1#\d+: malformed reply over TCP: Cannot decode name at offset 12: pointer 32 does not point backwards\n;; no servers could be reached$/m,
    ],
    [
      "UDP with TC, then TCP",
      [],
      (q, tcp) => undecodable(q, !tcp),
      /^;; communications error to 127\.0\.0\.1#\d+: malformed reply over TCP: /m,
    ],
  ];
  for (const [name, extra, reply, message] of cases) {
    await withJunkServer(reply, async (port) => {
      const result = await runScript(QUERY, [
        "@127.0.0.1",
        "-p",
        String(port),
        "junk.test",
        "+timeout=1",
        "+tries=1",
        ...extra,
      ]);
      assertExit(result, 9);
      assert.match(result.stderr, message, name);
      assert.equal(
        result.stderr.split("\n").filter(Boolean).every((line) => line.startsWith(";;")),
        true,
      );
    });
  }
});

Deno.test("query.ts --help says what each exit status means", async () => {
  const help = await runScript(QUERY, ["--help"]);
  assertExit(help, 0);
  assert.match(help.stdout, /^Exit codes:$/m);
  assert.match(help.stdout, /^ {2}0 {4}a reply arrived, whatever its rcode/m);
  assert.match(help.stdout, /^ {2}2 {4}usage error/m);
  assert.match(help.stdout, /^ {2}9 {4}no usable reply: .*\n.*\n.*over UDP and TCP alike/m);
  assert.match(help.stdout, /^ {2}130 {2}interrupted/m);
});

Deno.test("query.ts +trace walks . → com. → cnblogs.com. over the mini-Internet", async () => {
  // Twice in a row: the launcher must release its port and start again.
  for (let round = 0; round < 2; round++) {
    await using net = await startMiniInternet({ port: 0 });
    const result = await runScript(QUERY, [
      "+trace",
      "--root",
      net.roots[0],
      "-p",
      String(net.port),
      "www.cnblogs.com",
    ]);
    assertExit(result, 0);
    const lines = result.stdout.split("\n").map((l) => l.split(/\s+/).join(" "));
    // dig +trace's shape: each step's records, then where they came from.
    const port = net.port;
    const order: RegExp[] = [
      /^\. 518400 IN NS a\.root-servers\.net\.$/,
      new RegExp(
        `^;; Received \\d+ bytes from 127\\.0\\.0\\.2#${port}\\(127\\.0\\.0\\.2\\) in \\d+ ms$`,
      ),
      /^com\. 172800 IN NS a\.gtld-servers\.net\.$/,
      new RegExp(
        `^;; Received \\d+ bytes from 127\\.0\\.0\\.2#${port}\\(a\\.root-servers\\.net\\) in`,
      ),
      /^cnblogs\.com\. 172800 IN NS ns1\.cnblogs\.com\.$/,
      new RegExp(
        `^;; Received \\d+ bytes from 127\\.0\\.0\\.3#${port}\\(a\\.gtld-servers\\.net\\) in`,
      ),
      /^www\.cnblogs\.com\. 600 IN A 127\.0\.0\.5$/,
      new RegExp(
        `^;; Received \\d+ bytes from 127\\.0\\.0\\.4#${port}\\(ns1\\.cnblogs\\.com\\) in`,
      ),
    ];
    let at = 0;
    for (const expected of order) {
      const found = lines.findIndex((line, i) => i >= at && expected.test(line));
      assert.ok(found >= 0, `missing ${expected} after line ${at} in:\n${result.stdout}`);
      at = found + 1;
    }
    assert.match(
      result.stdout,
      /^;; levels: '\.' \(root\) → com\. \(top-level\) → cnblogs\.com\. \(second-level\) → www\.cnblogs\.com\. \(host\)$/m,
    );
    assert.match(result.stdout, /referral from "\." to "com\."/);
    assert.match(result.stdout, /referral from "com\." to "cnblogs\.com\."/);

    // --json: one event per line; each reply (referral or answer) says which zone answered how.
    const json = await runScript(QUERY, [
      "+trace",
      "--json",
      "--root",
      net.roots[0],
      "-p",
      String(net.port),
      "www.cnblogs.com",
    ]);
    assertExit(json, 0);
    const steps = assertNdjson(json.stdout, "dns/query").filter((e) =>
      e.event === "referral" || e.event === "answer"
    );
    assert.deepEqual(
      steps.map((step) => `${step.zone} ${step.outcome} ${step.server}`),
      [
        `. priming 127.0.0.2#${port}`,
        `. referral 127.0.0.2#${port}`,
        `com. referral 127.0.0.3#${port}`,
        `cnblogs.com. answer 127.0.0.4#${port}`,
      ],
    );

    // Without +trace, --root resolves iteratively and prints the final reply.
    const plain = await runScript(QUERY, [
      "--root",
      "127.0.0.2",
      "-p",
      String(net.port),
      "web.cnblogs.com",
      "+short",
    ]);
    assertExit(plain, 0);
    assert.equal(plain.stdout, "www.cnblogs.com.\n127.0.0.5\n");
    if (round === 0) await traceEndsWithAliasTarget(net.roots[0], net.port);
  }
});

/** `+trace` of an alias whose target came in the same reply ends on the target's records. */
async function traceEndsWithAliasTarget(root: string, port: number): Promise<void> {
  const args = ["+trace", "--root", root, "-p", String(port), "web.cnblogs.com"];
  const result = await runScript(QUERY, args);
  assertExit(result, 0);
  assert.doesNotMatch(result.stdout, /following it/);
  const tail = result.stdout.trimEnd().split("\n").slice(-2).map((l) => l.split(/\s+/).join(" "));
  assert.deepEqual(tail, [
    ";; web.cnblogs.com. is an alias (CNAME) for www.cnblogs.com., whose records came with it:",
    "www.cnblogs.com. 600 IN A 127.0.0.5",
  ]);
  const json = await runScript(QUERY, [...args, "--json"]);
  assertExit(json, 0);
  const last = assertNdjson(json.stdout, "dns/query").at(-1)!;
  assert.deepEqual([last.from, last.to, last.records], [
    "web.cnblogs.com.",
    "www.cnblogs.com.",
    [{ name: "www.cnblogs.com.", type: "A", class: "IN", ttl: 600, data: "127.0.0.5" }],
  ]);
}

// ---------------------------------------------------------------------------------------------
// Interop: query.ts against NSD prints the records dig prints.

Deno.test({
  name: "query.ts against NSD prints the same records as dig",
  ignore: !hasCommand("nsd") || !hasCommand("dig"),
  async fn() {
    await using nsd = await startNsd({
      "cnblogs.com": Deno.readTextFileSync(`${ROOT}${ZONE}`),
    });
    const questions = [
      ["www.cnblogs.com"],
      ["www.cnblogs.com", "AAAA"],
      ["web.cnblogs.com"],
      ["cnblogs.com", "MX"],
      ["cnblogs.com", "TXT"],
      ["cnblogs.com", "CAA"],
      ["_http._tcp.cnblogs.com", "SRV"],
      ["any.wild.cnblogs.com", "TXT"],
      ["ent.cnblogs.com"],
      ["www.sub.cnblogs.com"],
      ["nope.cnblogs.com"],
      ["big.cnblogs.com", "+bufsize=512"],
    ];
    for (const question of questions) {
      const args = ["@127.0.0.1", "-p", String(nsd.port), "+norecurse", ...question];
      const [dig, ours] = await Promise.all([runCommand("dig", args), runScript(QUERY, args)]);
      assertExit(ours, 0);
      assert.equal(dig.code, 0, dig.stderr);
      assert.deepEqual(recordLines(ours.stdout), recordLines(dig.stdout), question.join(" "));
      const status = (out: string) => /status: (\w+)/.exec(out)?.[1];
      const flags = (out: string) => /;; flags: ([^;]*);/.exec(out)?.[1];
      assert.equal(status(ours.stdout), status(dig.stdout), question.join(" "));
      assert.equal(flags(ours.stdout), flags(dig.stdout), question.join(" "));
      assert.ok(recordLines(dig.stdout).length > 0, "dig printed records");
    }
  },
});
