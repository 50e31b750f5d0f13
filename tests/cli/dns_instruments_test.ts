/**
 * The DNS instruments: the annotated wire view (`dns/wire/describe.ts`, golden outputs of fixed
 * messages), `query.ts --explain` and `+trace --explain` (the reason each server is asked) over
 * the mini-Internet, and the `--json` event streams of `query.ts +trace` and `dns/internet.ts`
 * checked against the shared NDJSON schema.
 */
import assert from "node:assert/strict";
import { describeMessage, explainMessage } from "../../dns/wire/describe.ts";
import { decodeMessage, encodeMessage, makeQuery, type Message } from "../../dns/wire/message.ts";
import { DnsFormatError } from "../../dns/wire/primitives.ts";
import { makeOpt } from "../../dns/wire/edns.ts";
import { type ResourceRecord } from "../../dns/wire/rdata.ts";
import { TYPE } from "../../dns/wire/constants.ts";
import { startMiniInternet } from "../../dns/internet/servers.ts";
import { explainBytes } from "../../tcp/kit/explain.ts";
import { EVENT_NAMES } from "../../tcp/kit/report.ts";
import { assertNdjson, type JsonEvent, ROOT, runScript, startScript } from "../_helpers.ts";

const QUERY = "dns/query.ts";
const ZONE = "dns/zones/cnblogs.com.zone";

/** A fixed query: id 0xa1b2, RD, no EDNS. */
const QUERY_MESSAGE = makeQuery("www.cnblogs.com", TYPE.A, { id: 0xa1b2, edns: false });

/** Its answer: a CNAME and an A, every name after the question compressed. */
const RESPONSE_MESSAGE: Message = {
  ...QUERY_MESSAGE,
  flags: { ...QUERY_MESSAGE.flags, qr: true, aa: true },
  questions: [{ name: "web.cnblogs.com.", type: TYPE.A, class: 1 }],
  answers: [
    {
      name: "web.cnblogs.com.",
      type: TYPE.CNAME,
      class: 1,
      ttl: 600,
      data: { kind: "CNAME", target: "www.cnblogs.com." },
    },
    {
      name: "www.cnblogs.com.",
      type: TYPE.A,
      class: 1,
      ttl: 600,
      data: { kind: "A", address: "127.0.0.5" },
    },
  ],
};

const GOLDEN_QUERY = `query
  0000                           header               query, id 41394, rd
  0000  a1 b2                      id                 41394 (0xa1b2)
  0002                             flags              0x0100
  0002  01 00                        QR               0... .... .... .... = query
  0002  01 00                        opcode           .000 0... .... .... = 0 (QUERY)
  0002  01 00                        AA               .... .0.. .... .... = not authoritative
  0002  01 00                        TC               .... ..0. .... .... = not truncated
  0002  01 00                        RD               .... ...1 .... .... = recursion desired
  0002  01 00                        RA               .... .... 0... .... = recursion not available
  0002  01 00                        AD               .... .... ..0. .... = data not authenticated
  0002  01 00                        CD               .... .... ...0 .... = checking enabled
  0002  01 00                        rcode            .... .... .... 0000 = 0 (NOERROR)
  0004  00 01                      QDCOUNT            1 question
  0006  00 00                      ANCOUNT            0 answers
  0008  00 00                      NSCOUNT            0 authority records
  000a  00 00                      ARCOUNT            0 additional records
  000c                           question             www.cnblogs.com. IN A
  000c                             name               www.cnblogs.com.
  000c  03 77 77 77                  label            3 "www"
  0010  07 63 6e 62 6c 6f 67 73      label            7 "cnblogs"
  0018  03 63 6f 6d                  label            3 "com"
  001c  00                           root             0 (end of name)
  001d  00 01                      type               1 (A)
  001f  00 01                      class              1 (IN)`;

const GOLDEN_RESPONSE = `response
  0000                           header               response, id 41394, aa rd
  0000  a1 b2                      id                 41394 (0xa1b2)
  0002                             flags              0x8500
  0002  85 00                        QR               1... .... .... .... = response
  0002  85 00                        opcode           .000 0... .... .... = 0 (QUERY)
  0002  85 00                        AA               .... .1.. .... .... = authoritative answer
  0002  85 00                        TC               .... ..0. .... .... = not truncated
  0002  85 00                        RD               .... ...1 .... .... = recursion desired
  0002  85 00                        RA               .... .... 0... .... = recursion not available
  0002  85 00                        AD               .... .... ..0. .... = data not authenticated
  0002  85 00                        CD               .... .... ...0 .... = checking enabled
  0002  85 00                        rcode            .... .... .... 0000 = 0 (NOERROR)
  0004  00 01                      QDCOUNT            1 question
  0006  00 02                      ANCOUNT            2 answers
  0008  00 00                      NSCOUNT            0 authority records
  000a  00 00                      ARCOUNT            0 additional records
  000c                           question             web.cnblogs.com. IN A
  000c                             name               web.cnblogs.com.
  000c  03 77 65 62                  label            3 "web"
  0010  07 63 6e 62 6c 6f 67 73      label            7 "cnblogs"
  0018  03 63 6f 6d                  label            3 "com"
  001c  00                           root             0 (end of name)
  001d  00 01                      type               1 (A)
  001f  00 01                      class              1 (IN)
  0021                           answer 1             web.cnblogs.com. 600 IN CNAME www.cnblogs.com.
  0021                             name               web.cnblogs.com.
  0021  c0 0c                        pointer          to offset 12 (0x000c) → web.cnblogs.com.
  0023  00 05                      type               5 (CNAME)
  0025  00 01                      class              1 (IN)
  0027  00 00 02 58                TTL                600 (10m)
  002b  00 06                      rdlength           6
  002d                             rdata              www.cnblogs.com.
  002d                               target           www.cnblogs.com.
  002d  03 77 77 77                    label          3 "www"
  0031  c0 10                          pointer        to offset 16 (0x0010) → cnblogs.com.
  0033                           answer 2             www.cnblogs.com. 600 IN A 127.0.0.5
  0033                             name               www.cnblogs.com.
  0033  c0 2d                        pointer          to offset 45 (0x002d) → www.cnblogs.com.
  0035  00 01                      type               1 (A)
  0037  00 01                      class              1 (IN)
  0039  00 00 02 58                TTL                600 (10m)
  003d  00 04                      rdlength           4
  003f                             rdata              127.0.0.5
  003f  7f 00 00 05                  address          127.0.0.5`;

const GOLDEN_OPT = `  0021                           additional 1         OPT pseudo-record (EDNS0)
  0021                             name               .
  0021  00                           root             0 (end of name)
  0022  00 29                      type               41 (OPT)
  0024  10 00                      UDP size           4096 (largest UDP reply the sender accepts)
  0026  00                         extended rcode     0 (upper 8 bits of the rcode)
  0027  00                         EDNS version       0
  0028  80 00                      EDNS flags         1... .... .... .... = DO 1 (DNSSEC OK)
  002a  00 0c                      rdlength           12
  002c                             rdata              EDNS options
  002c                               option           COOKIE
  002c  00 0a                          code           10 (COOKIE)
  002e  00 08                          length         8
  0030  01 02 03 04 05 06 07 08        data           8 bytes`;

Deno.test("describeMessage: golden view of a query (header bits, labels with length bytes)", () => {
  assert.equal(explainMessage(encodeMessage(QUERY_MESSAGE), "query"), GOLDEN_QUERY);
});

Deno.test("describeMessage: golden view of a response with compression pointers", () => {
  const bytes = encodeMessage(RESPONSE_MESSAGE);
  assert.equal(explainMessage(bytes, "response"), GOLDEN_RESPONSE);
});

Deno.test("describeMessage: golden view of an OPT record (UDP size, version, DO, an option)", () => {
  const message: Message = {
    ...QUERY_MESSAGE,
    additionals: [
      makeOpt({
        udpSize: 4096,
        dnssecOk: true,
        options: [{ code: 10, data: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) }],
      }),
    ],
  };
  const view = explainMessage(encodeMessage(message));
  const lines = view.split("\n");
  const from = lines.findIndex((line) => line.includes("additional 1"));
  assert.equal(lines.slice(from).join("\n"), GOLDEN_OPT);
});

/** A response with one record of every type that has rdata parts. */
function everyTypeMessage(): Message {
  const rr = (
    type: number,
    data: ResourceRecord["data"],
    name = "cnblogs.com.",
  ): ResourceRecord => ({
    name,
    type,
    class: 1,
    ttl: 3600,
    data,
  });
  const text = (s: string) => new TextEncoder().encode(s);
  return {
    ...QUERY_MESSAGE,
    flags: { ...QUERY_MESSAGE.flags, qr: true },
    questions: [{ name: "cnblogs.com.", type: TYPE.ANY, class: 1 }],
    answers: [
      rr(TYPE.A, { kind: "A", address: "127.0.0.5" }),
      rr(TYPE.AAAA, { kind: "AAAA", address: "2001:db8::5" }),
      rr(TYPE.NS, { kind: "NS", target: "ns1.cnblogs.com." }),
      rr(TYPE.CNAME, { kind: "CNAME", target: "cnblogs.com." }, "web.cnblogs.com."),
      rr(TYPE.PTR, { kind: "PTR", target: "www.cnblogs.com." }, "5.0.0.127.in-addr.arpa."),
      rr(TYPE.MX, { kind: "MX", preference: 10, exchange: "mail.cnblogs.com." }),
      rr(TYPE.SOA, {
        kind: "SOA",
        mname: "ns1.cnblogs.com.",
        rname: "hostmaster.cnblogs.com.",
        serial: 2024010101,
        refresh: 7200,
        retry: 3600,
        expire: 1209600,
        minimum: 300,
      }),
      rr(TYPE.TXT, { kind: "TXT", strings: [text("v=spf1 -all"), text('say "hi"')] }),
      rr(TYPE.SRV, {
        kind: "SRV",
        priority: 10,
        weight: 5,
        port: 80,
        target: "www.cnblogs.com.",
      }, "_http._tcp.cnblogs.com."),
      rr(TYPE.CAA, { kind: "CAA", flags: 128, tag: "issue", value: text("letsencrypt.org") }),
      rr(65280, { kind: "UNKNOWN", bytes: new Uint8Array([0xde, 0xad]) }),
    ],
    additionals: [makeOpt()],
  };
}

Deno.test("describeMessage names the rdata parts of every type and leaves no byte unexplained", () => {
  const bytes = encodeMessage(everyTypeMessage());
  const fields = describeMessage(bytes);
  const view = explainBytes(bytes, fields);
  assert.doesNotMatch(view, /unexplained|error/);
  const names = (depth: number) => fields.filter((f) => f.depth === depth).map((f) => f.name);
  for (
    const part of [
      "address",
      "target",
      "preference",
      "exchange",
      "mname (primary)",
      "rname (mailbox)",
      "serial",
      "refresh",
      "retry",
      "expire",
      "minimum (neg. TTL)",
      "string",
      "priority",
      "weight",
      "port",
      "flags",
      "tag length",
      "tag",
      "value",
      "data",
    ]
  ) {
    assert.ok(names(2).includes(part), `no rdata part "${part}" in\n${view}`);
  }
  assert.match(view, /string +11 "v=spf1 -all"/);
  assert.match(view, /string +8 "say \\"hi\\""/);
  assert.match(view, /address +2001:db8::5/);
  assert.match(view, /flags +128 \(critical\)/);
  assert.match(view, /expire +1209600 \(14d\)/);
  assert.match(view, /data +2 bytes \(no codec for TYPE65280: RFC 3597\)/);
  // Every record container carries its presentation form.
  assert.match(view, /answer 6 +cnblogs\.com\. 3600 IN MX 10 mail\.cnblogs\.com\./);
});

Deno.test("describeMessage never throws: every cut and corruption ends with the codec's error", () => {
  const whole = encodeMessage(everyTypeMessage());
  const check = (bytes: Uint8Array) => {
    const fields = describeMessage(bytes);
    let expected: string | undefined;
    try {
      decodeMessage(bytes);
    } catch (error) {
      assert.ok(error instanceof DnsFormatError);
      expected = error.message;
    }
    const last = fields.at(-1);
    if (expected === undefined) assert.notEqual(last?.name, "error");
    else {
      assert.equal(last?.name, "error");
      assert.equal(last?.value, expected);
      assert.equal(last!.offset + last!.length, bytes.length);
    }
    // The view of a broken message lays out too.
    explainBytes(bytes, fields);
  };
  for (let cut = 0; cut <= whole.length; cut++) check(whole.subarray(0, cut));
  // Deterministic corruption: flip one byte at a time to values that break things.
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 2000; i++) {
    const bytes = whole.slice();
    bytes[Math.floor(random() * bytes.length)] = [0x00, 0xc0, 0xff, 0x3f, 0x40][i % 5];
    check(bytes);
  }
});

Deno.test("describeMessage shows a forward pointer, then says what is wrong", () => {
  const bytes = encodeMessage(QUERY_MESSAGE);
  // The question's name becomes a pointer to itself: not strictly backwards.
  const bad = new Uint8Array([...bytes.subarray(0, 12), 0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01]);
  const view = explainMessage(bad);
  assert.match(view, /pointer +to offset 12 \(0x000c\)/);
  assert.match(view, /error +Cannot decode name at offset 12: pointer 12 does not point backwards/);
});

// ---------------------------------------------------------------------------------------------
// The scripts

Deno.test("query.ts --explain shows the query sent and the reply received, field by field", async () => {
  await using server = await startScript("dns/server.ts", ["--zone", ZONE, "--port", "0"]);
  const at = [`@${server.host}`, "-p", String(server.port)];
  const result = await runScript(QUERY, [...at, "web.cnblogs.com", "--explain"]);
  assert.equal(result.code, 0, result.stderr);
  const out = result.stdout;
  const sent = out.indexOf(`;; query sent to 127.0.0.1#${server.port} over UDP, `);
  const received = out.indexOf(`;; reply from 127.0.0.1#${server.port} over UDP, `);
  const answer = out.indexOf(";; Got answer:");
  assert.ok(sent >= 0 && received > sent && answer > received, out);
  const reply = out.slice(received, answer);
  assert.match(reply, /QR +1\.\.\. \.\.\.\. \.\.\.\. \.\.\.\. = response/);
  assert.match(reply, /AA +\.\.\.\. \.1\.\. \.\.\.\. \.\.\.\. = authoritative answer/);
  assert.match(reply, /label +3 "web"/);
  assert.match(reply, /pointer +to offset 12 \(0x000c\) → web\.cnblogs\.com\./);
  assert.match(reply, /answer 1 +web\.cnblogs\.com\. 600 IN CNAME www\.cnblogs\.com\./);
  assert.doesNotMatch(out, /unexplained|error/);

  // TC → TCP: the truncated UDP exchange is shown too, then the TCP one.
  const big = await runScript(QUERY, [...at, "big.cnblogs.com", "+bufsize=512", "--explain"]);
  assert.equal(big.code, 0, big.stderr);
  assert.match(big.stdout, /TC +\.\.\.\. \.\.1\. \.\.\.\. \.\.\.\. = truncated/);
  assert.match(big.stdout, /;; query sent to [^\n]* over TCP/);

  // --json stays the single issue-5 object on stdout; the views go to stderr.
  const json = await runScript(QUERY, [...at, "www.cnblogs.com", "--json", "--explain"]);
  assert.equal(json.code, 0, json.stderr);
  const object = JSON.parse(json.stdout);
  assert.deepEqual(Object.keys(object), [
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
  assert.match(json.stderr, /;; reply from [^\n]*\n {2}0000 {27}header +response/);
});

/** The events named `name`, after checking every event uses a name of the shared schema. */
function eventsOf(events: JsonEvent[], name: string): JsonEvent[] {
  for (const e of events) {
    assert.ok(EVENT_NAMES.includes(e.event), `event "${e.event}" is not in the schema`);
  }
  return events.filter((e) => e.event === name);
}

Deno.test("query.ts +trace over the mini-Internet: --explain says why, --json streams events", async (t) => {
  await using net = await startMiniInternet({ port: 0 });
  const port = String(net.port);
  const trace = (...args: string[]) =>
    runScript(QUERY, ["+trace", "--root", net.roots[0], "-p", port, ...args]);

  await t.step("--explain: the annotated hops and the reason for each server", async () => {
    const result = await trace("www.cnblogs.com", "--explain");
    assert.equal(result.code, 0, result.stderr);
    const why = result.stdout.split("\n").filter((l) => l.startsWith(";; why this server: "));
    assert.deepEqual(why.map((l) => l.slice(";; why this server: ".length)), [
      `"." (the root) is where every lookup starts: 127.0.0.2 is the root server given (--root)`,
      `a.root-servers.net. serves "." (the root); its address 127.0.0.2 is cached from an earlier reply of a server for "." (the root)`,
      `the referral from "." (the root) named a.gtld-servers.net. as a name server of "com." and carried its address 127.0.0.3 (glue)`,
      `the referral from "com." named ns1.cnblogs.com. as a name server of "cnblogs.com." and carried its address 127.0.0.4 (glue)`,
    ]);
    // Every hop: the query sent and the reply received, annotated.
    assert.equal(result.stdout.match(/^;; query sent to /gm)?.length, 4);
    assert.equal(result.stdout.match(/^;; reply from /gm)?.length, 4);
    assert.match(result.stdout, /additional 1 +a\.gtld-servers\.net\. 172800 IN A 127\.0\.0\.3/);
    assert.doesNotMatch(result.stdout, /unexplained/);
    // Without --explain the default output has neither.
    const plain = await trace("www.cnblogs.com");
    assert.doesNotMatch(plain.stdout, /why this server|query sent to/);
  });

  await t.step("--json: NDJSON query/referral/answer events in the shared schema", async () => {
    const result = await trace("web.cnblogs.com", "--json");
    assert.equal(result.code, 0, result.stderr);
    const events = assertNdjson(result.stdout, "dns/query");
    for (const e of events) assert.equal(typeof e.text, "string");
    assert.deepEqual(
      events.filter((e) => e.event !== "log").map((e) => `${e.event} ${e.zone}`),
      [
        "query .",
        "answer .",
        "query .",
        "referral .",
        "query com.",
        "referral com.",
        "query cnblogs.com.",
        "answer cnblogs.com.",
      ],
    );
    for (const q of eventsOf(events, "query")) {
      assert.match(String(q.server), /^127\.0\.0\.[234]#\d+$/);
      assert.equal(typeof q.reason, "string");
      assert.equal(typeof q.at_ms, "number");
    }
    const [, com] = eventsOf(events, "referral");
    assert.equal(com.referral, "cnblogs.com.");
    assert.deepEqual(com.nameservers, ["ns1.cnblogs.com."]);
    assert.deepEqual(com.glue, [{ name: "ns1.cnblogs.com.", address: "127.0.0.4" }]);
    assert.equal(com.server, `127.0.0.3#${port}`);
    assert.equal(typeof com.elapsed_ms, "number");
    assert.deepEqual(com.records, [{
      name: "cnblogs.com.",
      type: "NS",
      class: "IN",
      ttl: 172800,
      data: "ns1.cnblogs.com.",
    }]);
    const answer = eventsOf(events, "answer").at(-1)!;
    assert.equal(answer.outcome, "answer");
    assert.equal(answer.rcode, "NOERROR");
    assert.deepEqual(
      (answer.records as { data: string }[]).map((r) => r.data),
      ["www.cnblogs.com.", "127.0.0.5"],
    );
    assert.ok(events.some((e) => e.event === "log" && e.to === "www.cnblogs.com."));

    // --explain adds `explain` events, still one JSON object per line.
    const explained = await trace("www.cnblogs.com", "--json", "--explain");
    const views = eventsOf(assertNdjson(explained.stdout, "dns/query"), "explain");
    assert.equal(views.length, 8);
    assert.deepEqual(views.slice(0, 2).map((v) => v.direction), ["sent", "received"]);
  });

  await t.step("--json: an NXDOMAIN from the root is the last answer event", async () => {
    const result = await trace("www.nowhere-tld", "--json", "+tries=1", "+timeout=2");
    // The root answers NXDOMAIN for an unknown TLD: an answer, exit 0.
    assert.equal(result.code, 0, result.stderr);
    const events = assertNdjson(result.stdout, "dns/query");
    assert.equal(events.at(-1)?.event, "answer");
    assert.equal(events.at(-1)?.rcode, "NXDOMAIN");
  });
});

Deno.test("query.ts +trace --json reports an unreachable root as error events (exit 9)", async () => {
  // A bound socket that never answers: the query times out.
  const silent = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = String((silent.addr as Deno.NetAddr).port);
  const result = await runScript(QUERY, [
    "+trace",
    "--json",
    "--root",
    "127.0.0.1",
    "-p",
    port,
    "+timeout=1",
    "www.cnblogs.com",
  ]).finally(() => silent.close());
  assert.equal(result.code, 9, result.stderr);
  const events = assertNdjson(result.stdout, "dns/query");
  const errors = eventsOf(events, "error");
  assert.ok(errors.length >= 2, result.stdout);
  assert.equal(errors.at(-1)?.rcode, "SERVFAIL");
});

/** A long-running script whose `--json` stdout (no `listening on` text line) is collected. */
interface JsonScript {
  lines: string[];
  /** Resolves with the first line containing `text` (rejects if the script exits first). */
  waitFor(text: string): Promise<string>;
  /** SIGINT, then the exit code and stderr once all output is read. */
  stop(): Promise<{ code: number; stderr: string }>;
}

function startJsonScript(script: string, args: string[]): JsonScript {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", script, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let ended = false;
  const stderr = child.stderr.text();
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const pump = (async () => {
    let pending = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      pending += chunk;
      let nl;
      while ((nl = pending.indexOf("\n")) >= 0) {
        lines.push(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
      for (const wake of [...waiters]) wake();
    }
    ended = true;
    for (const wake of [...waiters]) wake();
  })();
  return {
    lines,
    waitFor: (text) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const line = lines.find((l) => l.includes(text));
          if (line !== undefined || ended) waiters.delete(check);
          if (line !== undefined) resolve(line);
          else if (ended) reject(new Error(`exited before printing ${text}:\n${lines.join("\n")}`));
        };
        waiters.add(check);
        check();
      }),
    async stop() {
      try {
        child.kill("SIGINT");
      } catch { /* already gone */ }
      await pump;
      const status = await child.status;
      clearTimeout(timer);
      return { code: status.code, stderr: await stderr };
    },
  };
}

Deno.test("dns/server.ts --json: listening, then a query and an answer event per query", async () => {
  const server = startJsonScript("dns/server.ts", ["--zone", ZONE, "--port", "0", "--json"]);
  let stopped = false;
  try {
    const listening = JSON.parse(await server.waitFor(`"event":"listening"`));
    const port = String(listening.address).split(":")[1];
    for (const args of [["www.cnblogs.com"], ["+tcp", "nope.cnblogs.com", "MX"]]) {
      const result = await runScript(QUERY, ["@127.0.0.1", "-p", port, ...args]);
      assert.equal(result.code, 0, result.stderr);
    }
    await server.waitFor("nope.cnblogs.com. MX NXDOMAIN");
    const { code, stderr } = await server.stop();
    stopped = true;
    assert.equal(code, 130, stderr);
    const events = assertNdjson(server.lines.join("\n"), "dns/server");
    assert.deepEqual(
      events.map((e) => `${e.event} ${e.transport ?? ""} ${e.name ?? ""} ${e.rcode ?? ""}`),
      [
        "listening   ",
        "query udp www.cnblogs.com. ",
        "answer udp www.cnblogs.com. NOERROR",
        "query tcp nope.cnblogs.com. ",
        "answer tcp nope.cnblogs.com. NXDOMAIN",
        "log   ",
      ],
    );
    assert.equal(events.at(-1)?.text, "stopped");
    for (const e of events.slice(1, -1)) {
      eventsOf([e], e.event);
      assert.match(String(e.client), /^127\.0\.0\.1:\d+$/);
      assert.equal(typeof e.size, "number");
      assert.equal(typeof e.type, "string");
    }
    assert.equal(events[1].size, 44); // www.cnblogs.com. A with an OPT record
  } finally {
    if (!stopped) await server.stop();
  }
});

Deno.test("dns/server.ts --explain: each query received and each reply sent, annotated", async () => {
  await using server = await startScript("dns/server.ts", [
    "--zone",
    ZONE,
    "--port",
    "0",
    "--explain",
  ]);
  const result = await runScript(QUERY, [
    "@127.0.0.1",
    "-p",
    String(server.port),
    "web.cnblogs.com",
  ]);
  assert.equal(result.code, 0, result.stderr);
  await server.waitForLine(/^;; reply to 127\.0\.0\.1:\d+ over udp, 78 bytes:$/);
  await server.waitForLine(/answer 2 +www\.cnblogs\.com\. 600 IN A 127\.0\.0\.5/);
  const text = server.lines.join("\n");
  assert.match(text, /;; query from 127\.0\.0\.1:\d+ over udp, 44 bytes:/);
  assert.match(text, /-> web\.cnblogs\.com\. A NOERROR/);
  // The id in the dump is the one the client chose (the reply is shown as sent).
  const id = /^;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: (\d+)$/m.exec(result.stdout)![1];
  assert.equal(text.match(new RegExp(`id +${id} \\(0x`, "g"))?.length, 2);
});

Deno.test("dns/internet.ts --json prints listening events and stops on SIGINT", async () => {
  const internet = startJsonScript("dns/internet.ts", ["--port", "0", "--json"]);
  await internet.waitFor("Ctrl-C stops the servers");
  const { code, stderr } = await internet.stop();
  assert.equal(code, 130, stderr);
  const events = assertNdjson(internet.lines.join("\n"), "dns/internet");
  const listening = eventsOf(events, "listening");
  assert.equal(listening.length, 4);
  assert.match(String(listening[0].address), /^127\.0\.0\.2:\d+$/);
  assert.deepEqual(listening.slice(1).map((e) => e.zone), [".", "com.", "cnblogs.com."]);
  assert.ok(events.some((e) => typeof e.command === "string" && /\+trace/.test(e.command)));
  assert.equal(events.at(-1)?.text, "mini-Internet stopped");
});
