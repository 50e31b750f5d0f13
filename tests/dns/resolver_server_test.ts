/**
 * The local DNS server (dns/resolver_server.ts, seed 000's 本地DNS) end to end: in-process
 * against netlab's own mini-Internet (root → com. → cnblogs.com. on loopback) with an injected
 * clock, against hostile fake upstreams (forged, mismatched, out-of-bailiwick and junk replies;
 * tests/_fake_dns.ts), as a real subprocess, and side by side with dig and unbound.
 */
import assert from "node:assert/strict";
import { decodeMessage, encodeMessage, makeQuery, type Message } from "../../dns/wire/message.ts";
import { OPCODE, RCODE, TYPE } from "../../dns/wire/constants.ts";
import { type ResourceRecord } from "../../dns/wire/rdata.ts";
import { exchange } from "../../dns/resolver/transport.ts";
import { startMiniInternet } from "../../dns/internet/servers.ts";
import { AccessList } from "../../dns/resolver/responder.ts";
import { type ResolverServer, startResolverServer } from "../../dns/resolver_server.ts";
import { createReporter, EVENT_NAMES } from "../../tcp/kit/report.ts";
import { encodeLengthPrefixed, LengthPrefixDecoder } from "../../tcp/core/framing.ts";
import { writeAll } from "../../tcp/core/io.ts";
import {
  assertNdjson,
  hasCommand,
  type JsonEvent,
  runCommand,
  runScript,
  startScript,
} from "../_helpers.ts";
import {
  a,
  authority,
  cname,
  type FakeNet,
  type Handler,
  ns,
  response,
  startFakeNet,
} from "../_fake_dns.ts";
import { startInternet53, startUnbound, unboundAvailable } from "../_unbound.ts";
import { prng } from "../_prng.ts";

const SCRIPT = "dns/resolver_server.ts";

/** A clock the test moves by hand. */
function fakeClock(start = 1_700_000_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

/** A reporter that keeps every `--json --explain` event of an in-process server. */
function captured() {
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const keep = (line: string) => {
    lines.push(line);
    for (const wake of [...waiters]) wake();
  };
  const reporter = createReporter("dns/resolver", {
    json: true,
    explain: true,
    sink: { out: keep, err: keep },
  });
  const events = () => lines.map((line) => JSON.parse(line) as JsonEvent);
  /** Resolves once `count` events satisfy `test` (checked as each one is reported). */
  const whenEvents = (test: (e: JsonEvent) => boolean, count: number) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (events().filter(test).length < count) return;
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
      check();
    });
  return { reporter, events, lines, whenEvents };
}

type Captured = ReturnType<typeof captured>;

/** Starts an in-process local DNS server on an ephemeral port with captured events. */
function serve(
  upstream: { roots?: string[]; forward?: string[]; port: number },
  options: Partial<Parameters<typeof startResolverServer>[0]> = {},
): ResolverServer & Captured {
  const capture = captured();
  const server = startResolverServer({
    port: 0,
    roots: upstream.roots,
    forward: upstream.forward,
    upstreamPort: upstream.port,
    reporter: capture.reporter,
    json: true,
    ...options,
  });
  return Object.assign(server, capture);
}

/** Asks the server one question over UDP (or TCP) and returns the decoded reply. */
async function ask(
  server: { addr: Deno.NetAddr },
  name: string,
  type: number = TYPE.A,
  { rd = true, tcp = false, edns = true }: { rd?: boolean; tcp?: boolean; edns?: boolean } = {},
): Promise<Message> {
  const query = makeQuery(name, type, { rd, edns: edns ? {} : false });
  const result = await exchange(query, "127.0.0.1", {
    port: server.addr.port,
    tcp,
    tries: 1,
    timeoutMs: 10_000,
    ignoreTruncation: true,
  });
  return result.reply;
}

/** The answers to clients the server logged, in order (not the walk's answer steps). */
function answers(server: Captured): JsonEvent[] {
  return server.events().filter((e) => e.event === "answer" && e.source !== undefined);
}

/** The upstream queries the server sent (the walk's `query` steps), as `address name type`. */
function upstream(server: Captured, seq?: number): string[] {
  return server.events().filter((e) =>
    e.event === "query" && e.zone !== undefined && (seq === undefined || e.seq === seq)
  ).map((e) => `${String(e.server).replace(/#\d+$/, "")} ${e.name} ${e.type}`);
}

function data(records: ResourceRecord[]): string[] {
  return records.map((rr) =>
    `${rr.name} ${rr.type} ${
      rr.data.kind === "A" || rr.data.kind === "AAAA"
        ? rr.data.address
        : rr.data.kind === "CNAME"
        ? rr.data.target
        : rr.data.kind
    }`
  );
}

// ---------------------------------------------------------------------------------------------
// Against the mini-Internet (root 127.0.0.2 → com. 127.0.0.3 → cnblogs.com. 127.0.0.4).

Deno.test("the local DNS server over the mini-Internet", async (t) => {
  await using net = await startMiniInternet({ port: 0 });
  const roots = { roots: net.roots, port: net.port };

  await t.step(
    "walks root → com. → cnblogs.com. with QNAME minimisation and answers with RA",
    async () => {
      await using server = serve(roots);
      const reply = await ask(server, "www.cnblogs.com");
      assert.equal(reply.flags.rcode, RCODE.NOERROR);
      assert.ok(reply.flags.ra, "RA: recursion available");
      assert.ok(reply.flags.rd, "RD echoed");
      assert.ok(!reply.flags.aa, "a resolver is not authoritative");
      assert.deepEqual(data(reply.answers), ["www.cnblogs.com. 1 127.0.0.5"]);
      // Each server is asked only what it needs: the root "com.", com. "cnblogs.com.".
      assert.deepEqual(upstream(server), [
        "127.0.0.2 com. A",
        "127.0.0.3 cnblogs.com. A",
        "127.0.0.4 www.cnblogs.com. A",
      ]);
      const minimised = server.events().find((e) => e.event === "query" && e.name === "com.");
      assert.equal(minimised?.question, "www.cnblogs.com. A");
      assert.deepEqual(
        answers(server).map((e) => [e.cache, e.queries, e.rcode]),
        [["miss", 3, "NOERROR"]],
      );
    },
  );

  await t.step(
    "answers again from the cache: the record cache, then the same bytes from the answer cache",
    async () => {
      await using server = serve(roots);
      await ask(server, "www.cnblogs.com");
      assert.equal(server.responder.answers.size, 0, "a name asked once keeps no encoded reply");
      const again = await ask(server, "www.cnblogs.com");
      assert.equal(server.responder.answers.size, 1, "asked twice: the reply is kept");
      const spelled = await ask(server, "WWW.CNBLOGS.com");
      assert.deepEqual(data(again.answers), ["www.cnblogs.com. 1 127.0.0.5"]);
      assert.deepEqual(data(spelled.answers), ["www.cnblogs.com. 1 127.0.0.5"]);
      assert.deepEqual(
        spelled.questions[0].name,
        "WWW.CNBLOGS.com.",
        "the question is echoed as asked",
      );
      assert.deepEqual(answers(server).map((e) => [e.cache, e.queries]), [
        ["miss", 3],
        ["hit", 0],
        ["hit", 0],
      ]);
      assert.equal(upstream(server).length, 3);
    },
  );

  await t.step(
    "the TTL a client sees counts down, and the record goes when it runs out",
    async () => {
      const clock = fakeClock();
      await using server = serve(roots, { now: clock.now });
      assert.equal((await ask(server, "www.cnblogs.com")).answers[0].ttl, 600);
      clock.advance(10_500);
      assert.equal((await ask(server, "www.cnblogs.com")).answers[0].ttl, 590, "record cache");
      clock.advance(1_000);
      assert.equal((await ask(server, "www.cnblogs.com")).answers[0].ttl, 589, "answer cache");
      assert.equal((await ask(server, "Www.cnblogs.com")).answers[0].ttl, 589, "other spelling");
      clock.advance(589_000);
      const fresh = await ask(server, "www.cnblogs.com");
      assert.equal(fresh.answers[0].ttl, 600);
      // The delegations (one day) are still cached: only cnblogs.com.'s server is asked again.
      assert.deepEqual(upstream(server).slice(3), ["127.0.0.4 www.cnblogs.com. A"]);
    },
  );

  await t.step(
    "referrals and glue are cached: the next name under com. skips the root",
    async () => {
      await using server = serve(roots);
      await ask(server, "www.cnblogs.com");
      await ask(server, "mail.cnblogs.com");
      const other = await ask(server, "nothere.com");
      assert.equal(other.flags.rcode, RCODE.NXDOMAIN);
      assert.deepEqual(upstream(server).slice(3), [
        "127.0.0.4 mail.cnblogs.com. A",
        "127.0.0.3 nothere.com. A",
      ]);
    },
  );

  await t.step(
    "caches NXDOMAIN (every type) and NODATA (that type) for the SOA's MINIMUM, RFC 2308",
    async () => {
      const clock = fakeClock();
      await using server = serve(roots, { now: clock.now });
      const nx = await ask(server, "nope.cnblogs.com");
      assert.equal(nx.flags.rcode, RCODE.NXDOMAIN);
      assert.equal(nx.authorities[0].type, TYPE.SOA);
      assert.equal(nx.authorities[0].ttl, 300);
      const otherType = await ask(server, "nope.cnblogs.com", TYPE.MX);
      assert.equal(otherType.flags.rcode, RCODE.NXDOMAIN);
      const nodata = await ask(server, "ent.cnblogs.com");
      assert.equal(nodata.flags.rcode, RCODE.NOERROR);
      assert.deepEqual(nodata.answers, []);
      assert.equal(nodata.authorities[0].type, TYPE.SOA);
      await ask(server, "ent.cnblogs.com");
      clock.advance(100_000);
      assert.equal((await ask(server, "nope.cnblogs.com", TYPE.TXT)).authorities[0].ttl, 200);
      assert.deepEqual(answers(server).map((e) => [e.rcode, e.queries]), [
        ["NXDOMAIN", 3],
        ["NXDOMAIN", 0],
        ["NOERROR", 1],
        ["NOERROR", 0],
        ["NXDOMAIN", 0],
      ]);
      clock.advance(201_000);
      await ask(server, "nope.cnblogs.com");
      assert.equal(answers(server).at(-1)?.queries, 1, "the negative answer expired");
    },
  );

  await t.step(
    "RD clear answers from the cache only: the answer, or a referral to the closest zone known",
    async () => {
      await using server = serve(roots);
      const cold = await ask(server, "www.cnblogs.com", TYPE.A, { rd: false });
      assert.equal(cold.flags.rcode, RCODE.NOERROR);
      assert.deepEqual(cold.answers, []);
      assert.ok(!cold.flags.rd && cold.flags.ra);
      assert.deepEqual(upstream(server), [], "nothing is resolved for RD=0");
      await ask(server, "www.cnblogs.com");
      const warm = await ask(server, "www.cnblogs.com", TYPE.A, { rd: false });
      assert.deepEqual(data(warm.answers), ["www.cnblogs.com. 1 127.0.0.5"]);
      const referral = await ask(server, "mail.cnblogs.com", TYPE.A, { rd: false });
      assert.deepEqual(referral.answers, []);
      assert.deepEqual(referral.authorities.map((rr) => `${rr.name} ${rr.type}`), [
        "cnblogs.com. 2",
      ]);
      assert.deepEqual(data(referral.additionals.filter((rr) => rr.type === TYPE.A)), [
        "ns1.cnblogs.com. 1 127.0.0.4",
      ]);
      assert.equal(upstream(server).length, 3);
    },
  );

  await t.step("follows CNAMEs, and goes to TCP upstream when a reply is truncated", async () => {
    await using server = serve(roots);
    const web = await ask(server, "web.cnblogs.com");
    assert.deepEqual(data(web.answers), [
      "web.cnblogs.com. 5 www.cnblogs.com.",
      "www.cnblogs.com. 1 127.0.0.5",
    ]);
    // 40 TXT records (~1.8 KB) do not fit the 1232 bytes the resolver offers upstream: TC, so
    // the question goes again over TCP; the client, over TCP too, gets all 40.
    const big = await ask(server, "big.cnblogs.com", TYPE.TXT, { tcp: true });
    assert.equal(big.answers.length, 40);
    const steps = server.events().filter((e) => e.zone === "cnblogs.com." && e.outcome);
    assert.equal(steps.at(-1)?.protocol, "TCP");
    // Over UDP with EDNS (1232 bytes) the same answer does not fit: TC set, the client retries.
    const udp = await ask(server, "big.cnblogs.com", TYPE.TXT);
    assert.ok(udp.flags.tc);
  });

  await t.step(
    "EDNS: the resolver offers 1232 bytes; a client without EDNS gets 512 and no OPT",
    async () => {
      await using server = serve(roots);
      const withEdns = await ask(server, "big.cnblogs.com");
      assert.equal(withEdns.answers.length, 40);
      const opt = withEdns.additionals.find((rr) => rr.type === TYPE.OPT);
      assert.equal(opt?.class, 1232);
      const plain = await ask(server, "big.cnblogs.com", TYPE.A, { edns: false });
      assert.ok(plain.flags.tc, "40 A records (~700 bytes) do not fit 512");
      assert.equal(plain.additionals.length, 0);
    },
  );

  await t.step(
    "--max-ttl caps what is cached and served; --cache-size bounds both caches",
    async () => {
      await using capped = serve(roots, { maxTtl: 60 });
      assert.equal((await ask(capped, "www.cnblogs.com")).answers[0].ttl, 60);
      await using small = serve(roots, { cacheSize: 5 });
      for (const name of ["www", "mail", "web", "ent", "nope", "x.ent", "a.wild", "b.wild"]) {
        await ask(small, `${name}.cnblogs.com`);
      }
      assert.ok(small.responder.answers.size <= 5, `answers: ${small.responder.answers.size}`);
      assert.ok(
        small.responder.resolver.cache.size <= 5,
        `records: ${small.responder.resolver.cache.size}`,
      );
      // Evicted delegations are learnt again: the answers stay right.
      assert.deepEqual(data((await ask(small, "www.cnblogs.com")).answers), [
        "www.cnblogs.com. 1 127.0.0.5",
      ]);
    },
  );

  await t.step("refuses clients outside --allow (default: loopback only)", async () => {
    await using closed = serve(roots, { allow: new AccessList("10.0.0.0/8,::1") });
    const refused = await ask(closed, "www.cnblogs.com");
    assert.equal(refused.flags.rcode, RCODE.REFUSED);
    assert.equal(refused.questions[0].name, "www.cnblogs.com.");
    assert.deepEqual(upstream(closed), [], "nothing is resolved for a refused client");
    assert.equal(answers(closed)[0].source, "refused");
    await using open = serve(roots, { allow: new AccessList("127.0.0.1") });
    assert.equal((await ask(open, "www.cnblogs.com")).flags.rcode, RCODE.NOERROR);
    assert.equal(new AccessList("127.0.0.0/8").allows("::ffff:127.0.0.9"), true);
    assert.equal(new AccessList("127.0.0.0/8").allows("192.168.1.1"), false);
    assert.throws(() => new AccessList("10.0.0.0/40"), /prefix/i);
  });

  await t.step(
    "malformed queries get FORMERR, unknown opcodes NOTIMP, and the server keeps serving",
    async () => {
      await using server = serve(roots);
      const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
      using _closeSocket = { [Symbol.dispose]: () => socket.close() };
      const to = { transport: "udp" as const, hostname: "127.0.0.1", port: server.addr.port };
      const roundTrip = async (bytes: Uint8Array) => {
        await socket.send(bytes, to);
        const [reply] = await socket.receive();
        return decodeMessage(reply);
      };
      const query = makeQuery("www.cnblogs.com", TYPE.A, { id: 0x4242 });
      const wire = encodeMessage(query);
      const junk = await roundTrip(
        new Uint8Array([0x42, 0x42, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 99, 1]),
      );
      assert.deepEqual([junk.id, junk.flags.rcode, junk.flags.qr], [0x4242, RCODE.FORMERR, true]);
      const status = await roundTrip(encodeMessage({
        ...query,
        flags: { ...query.flags, opcode: OPCODE.STATUS },
      }));
      assert.equal(status.flags.rcode, RCODE.NOTIMP);
      const two = await roundTrip(encodeMessage({
        ...query,
        questions: [query.questions[0], query.questions[0]],
      }));
      assert.equal(two.flags.rcode, RCODE.FORMERR);
      const badVersion = await roundTrip(encodeMessage({
        ...query,
        additionals: [{ ...query.additionals[0], ttl: 1 << 16 }],
      }));
      assert.equal(badVersion.additionals[0].ttl >>> 24, 1, "BADVERS (16) in the extended rcode");
      await socket.send(new Uint8Array([1, 2, 3]), to); // too short to answer at all
      await socket.send(encodeMessage({ ...query, flags: { ...query.flags, qr: true } }), to);
      const good = await roundTrip(wire);
      assert.equal(good.id, 0x4242, "the next reply is the good query's: nothing came for the two");
      assert.deepEqual(data(good.answers), ["www.cnblogs.com. 1 127.0.0.5"]);
    },
  );

  await t.step("TCP clients may send several queries on one connection", async () => {
    await using server = serve(roots);
    using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    const ids = [101, 102, 103];
    const names = ["www.cnblogs.com", "mail.cnblogs.com", "nope.cnblogs.com"];
    const frames = ids.map((id, i) =>
      encodeLengthPrefixed(encodeMessage(makeQuery(names[i], TYPE.A, { id })), { prefixBytes: 2 })
    );
    for (const frame of frames) await writeAll(conn, frame);
    const decoder = new LengthPrefixDecoder({ prefixBytes: 2 });
    const got = new Map<number, Message>();
    const buf = new Uint8Array(4096);
    while (got.size < 3) {
      const n = await conn.read(buf);
      assert.ok(n !== null, "the server closed early");
      for (const frame of decoder.push(buf.subarray(0, n))) {
        const reply = decodeMessage(frame);
        got.set(reply.id, reply);
      }
    }
    assert.deepEqual(data(got.get(101)!.answers), ["www.cnblogs.com. 1 127.0.0.5"]);
    assert.deepEqual(data(got.get(102)!.answers), ["mail.cnblogs.com. 1 127.0.0.6"]);
    assert.equal(got.get(103)!.flags.rcode, RCODE.NXDOMAIN);
  });

  await t.step("--forward asks another resolver (RD set) instead of walking", async () => {
    await using inner = serve(roots);
    await using outer = serve({ forward: ["127.0.0.1"], port: inner.addr.port });
    const reply = await ask(outer, "web.cnblogs.com");
    assert.deepEqual(data(reply.answers), [
      "web.cnblogs.com. 5 www.cnblogs.com.",
      "www.cnblogs.com. 1 127.0.0.5",
    ]);
    assert.deepEqual(upstream(outer), ["127.0.0.1 web.cnblogs.com. A"]);
    assert.equal(answers(inner)[0].cache, "miss", "the inner resolver walked for it");
    assert.equal(upstream(inner).length, 3);
  });

  await t.step(
    "--explain tells each question's story with the hop lines of query.ts +trace",
    async () => {
      const lines: string[] = [];
      const reporter = createReporter("dns/resolver", {
        explain: true,
        sink: { out: (line) => lines.push(line), err: (line) => lines.push(line) },
      });
      await using server = startResolverServer({
        port: 0,
        roots: net.roots,
        upstreamPort: net.port,
        reporter,
      });
      await ask(server, "www.cnblogs.com");
      await ask(server, "www.cnblogs.com");
      const text = lines.join("\n");
      const p = net.port;
      for (
        const expected of [
          /^;; 127\.0\.0\.1:\d+ asks www\.cnblogs\.com\. A over UDP: resolved: 3 queries, [\d.]+ ms$/m,
          new RegExp(
            `^;; zone "\\.": asking 127\\.0\\.0\\.2 \\(127\\.0\\.0\\.2#${p}\\) for com\\. A \\(QNAME minimisation: only what this server needs, not www\\.cnblogs\\.com\\. A\\)$`,
            "m",
          ),
          /^;; why this server: "\." \(the root\) is where every lookup starts/m,
          /^com\.\t172800\tIN\tNS\ta\.gtld-servers\.net\.$/m,
          new RegExp(
            `^;; Received \\d+ bytes from 127\\.0\\.0\\.2#${p}\\(127\\.0\\.0\\.2\\) in \\d+ ms$`,
            "m",
          ),
          /^;; referral from "\." to "com\." with glue a\.gtld-servers\.net\. 127\.0\.0\.3$/m,
          /^;; zone "cnblogs\.com\.": asking ns1\.cnblogs\.com\. \(127\.0\.0\.4#\d+\) for www\.cnblogs\.com\. A$/m,
          /^;; answer from "cnblogs\.com\." \(authoritative\)$/m,
          /^127\.0\.0\.1:\d+ -> www\.cnblogs\.com\. A NOERROR \(resolved: 3 queries/m,
          /^;; 127\.0\.0\.1:\d+ asks www\.cnblogs\.com\. A over UDP: from the cache$/m,
          /^127\.0\.0\.1:\d+ -> www\.cnblogs\.com\. A NOERROR \(from the cache\)$/m,
        ]
      ) {
        assert.match(text, expected);
      }
    },
  );
});

// ---------------------------------------------------------------------------------------------
// Against fake upstreams: every reply is exactly what the test says.

const ROOT = "127.0.0.31";
const TLD = "127.0.0.32";
const EXAMPLE = "127.0.0.33";
const OTHER = "127.0.0.34";
const DEAD = "127.0.0.35";
const BANK = "127.0.0.36";

/**
 * `.` → `test.` → `example.test.` (glue), `noglue.test.` (its server named in example.test.,
 * no glue), `multi.test.` (two servers, one dead), `loop1/2.test.` (each server named in the
 * other zone), `up.test.` (refers back up), `bank.test.` (the victim); `example` may be replaced.
 */
function hierarchy(example?: Handler): FakeNet {
  const tld = authority("test.", [
    ns("test.", "ns.test."),
    a("ns.test.", TLD),
    ns("example.test.", "ns1.example.test."),
    a("ns1.example.test.", EXAMPLE),
    ns("noglue.test.", "ns.example.test."),
    ns("multi.test.", "a.multi.test."),
    ns("multi.test.", "b.multi.test."),
    a("a.multi.test.", DEAD),
    a("b.multi.test.", OTHER),
    ns("loop1.test.", "ns.loop2.test."),
    ns("loop2.test.", "ns.loop1.test."),
    ns("up.test.", "ns.up.test."),
    a("ns.up.test.", OTHER),
    ns("bank.test.", "ns.bank.test."),
    a("ns.bank.test.", BANK),
  ]);
  const other: Handler = (query, seen) => {
    const q = query.questions[0];
    if (q.name.endsWith("noglue.test.")) {
      return authority("noglue.test.", [a("www.noglue.test.", "192.0.2.2")])(query, seen);
    }
    if (q.name.endsWith("multi.test.")) {
      return authority("multi.test.", [a(q.name, "192.0.2.3")])(query, seen);
    }
    // up.test.'s server sends everyone back to the root: a referral upwards (lame).
    return response(query, {
      authorities: [ns("test.", "ns.test.")],
      additionals: [a("ns.test.", TLD)],
    });
  };
  return startFakeNet({
    [ROOT]: authority(".", [ns(".", "ns.root."), ns("test.", "ns.test."), a("ns.test.", TLD)]),
    [TLD]: tld,
    [EXAMPLE]: example ?? authority("example.test.", [
      a("www.example.test.", "192.0.2.1"),
      a("ns.example.test.", OTHER),
      cname("alias.example.test.", "www.noglue.test."),
    ]),
    [OTHER]: other,
    [DEAD]: () => undefined,
    [BANK]: authority("bank.test.", [a("www.bank.test.", "192.0.2.77")]),
  });
}

function fakeRoots(net: FakeNet) {
  return { roots: [ROOT], port: net.port };
}

Deno.test("resolves through a glueless delegation and a CNAME into another zone", async () => {
  await using net = hierarchy();
  await using server = serve(fakeRoots(net));
  assert.deepEqual(data((await ask(server, "www.noglue.test")).answers), [
    "www.noglue.test. 1 192.0.2.2",
  ]);
  assert.deepEqual(data((await ask(server, "alias.example.test")).answers), [
    "alias.example.test. 5 www.noglue.test.",
    "www.noglue.test. 1 192.0.2.2",
  ]);
});

Deno.test("several name servers: a dead one costs one timeout, then the fast one is asked first", async () => {
  await using net = hierarchy();
  await using server = serve(fakeRoots(net), { upstreamTimeoutMs: 300 });
  for (let i = 0; i < 10; i++) {
    assert.deepEqual(data((await ask(server, `h${i}.multi.test`)).answers), [
      `h${i}.multi.test. 1 192.0.2.3`,
    ]);
  }
  const dead = net.seen.filter((s) => s.host === DEAD).length;
  assert.ok(dead <= 1, `the dead server was asked ${dead} times`);
  assert.equal(net.seen.filter((s) => s.host === OTHER).length, 10);
});

Deno.test("lame and looping delegations end in SERVFAIL after bounded work", async () => {
  await using net = hierarchy();
  await using server = serve(fakeRoots(net), { upstreamTimeoutMs: 300 });
  const started = performance.now();
  for (const name of ["www.loop1.test", "www.up.test"]) {
    const reply = await ask(server, name);
    assert.equal(reply.flags.rcode, RCODE.SERVFAIL, name);
    assert.ok(reply.flags.ra);
  }
  assert.ok(net.seen.length < 30, `bounded: ${net.seen.length} queries upstream`);
  assert.ok(performance.now() - started < 5000);
  const reasons = answers(server).map((e) => String(e.reason));
  assert.match(reasons[0], /Delegation loop/);
  assert.match(reasons[1], /not below "up\.test\."|lame/);
});

Deno.test("a CNAME loop and an over-long CNAME chain end in SERVFAIL", async () => {
  // This server gives one CNAME per reply, so every link is a query of its own.
  const chain = Array.from(
    { length: 12 },
    (_, i) => cname(`c${i}.example.test.`, `c${i + 1}.example.test.`),
  );
  await using net = hierarchy(authority("example.test.", [
    cname("la.example.test.", "lb.example.test."),
    cname("lb.example.test.", "la.example.test."),
    ...chain,
  ]));
  await using server = serve(fakeRoots(net));
  assert.equal((await ask(server, "c0.example.test")).flags.rcode, RCODE.SERVFAIL);
  assert.equal((await ask(server, "la.example.test")).flags.rcode, RCODE.SERVFAIL);
  const reasons = answers(server).map((e) => String(e.reason));
  assert.match(reasons[0], /more than 8 CNAMEs/);
  assert.match(reasons[1], /CNAME loop at "la\.example\.test\."/);
  assert.ok(net.seen.length < 30, `bounded: ${net.seen.length} queries upstream`);
});

Deno.test("poisoning: out-of-bailiwick records in a reply are never cached or served", async () => {
  await using net = hierarchy((query, seen) => {
    const real = authority("example.test.", [a("www.example.test.", "192.0.2.1")])(
      query,
      seen,
    ) as Message;
    return {
      ...real,
      answers: [...real.answers, a("www.bank.test.", "6.6.6.6", 86400)],
      authorities: [
        ns("bank.test.", "ns.evil.example.test."),
        ns("test.", "ns.evil.example.test."),
      ],
      additionals: [a("ns.evil.example.test.", "6.6.6.6"), a("ns.bank.test.", "6.6.6.6")],
    };
  });
  await using server = serve(fakeRoots(net));
  const www = await ask(server, "www.example.test");
  assert.deepEqual(
    data(www.answers),
    ["www.example.test. 1 192.0.2.1"],
    "only the answer is passed on",
  );
  const bank = await ask(server, "www.bank.test");
  assert.deepEqual(data(bank.answers), ["www.bank.test. 1 192.0.2.77"]);
  assert.ok(net.seen.some((s) => s.host === BANK), "bank.test. was asked of its own server");
  const dropped = server.events().flatMap((e) =>
    (e.dropped ?? []) as { name: string; reason: string }[]
  );
  assert.ok(dropped.some((d) => d.name === "www.bank.test." && /out of bailiwick/.test(d.reason)));
});

Deno.test("poisoning: forged replies (another source, a wrong ID, another question) are ignored", async () => {
  // The attacker's own socket, on another loopback address.
  const forger = Deno.listenDatagram({ transport: "udp", hostname: OTHER, port: 0 });
  const forge = (query: Message, port: number, twist: (m: Message) => Message) =>
    forger.send(
      encodeMessage(
        twist(response(query, { aa: true, answers: [a(query.questions[0].name, "6.6.6.6")] })),
      ),
      { transport: "udp", hostname: "127.0.0.1", port },
    );
  const real = authority("example.test.", [
    a("src.example.test.", "192.0.2.1"),
    a("id.example.test.", "192.0.2.1"),
    a("q.example.test.", "192.0.2.1"),
  ]);
  await using net = hierarchy(async (query, seen) => {
    if (seen.transport === "udp" && query.questions[0].name.startsWith("src.")) {
      // Right ID and question, but from another address (the attacker's own socket).
      await forge(query, seen.port, (m) => m);
    } else if (query.questions[0].name.startsWith("id.")) {
      const socket = net.sockets.get(EXAMPLE)!;
      const forged = response(query, { aa: true, answers: [a("id.example.test.", "6.6.6.6")] });
      await socket.send(encodeMessage({ ...forged, id: (query.id + 1) & 0xffff }), {
        transport: "udp",
        hostname: "127.0.0.1",
        port: seen.port,
      });
    } else if (query.questions[0].name.startsWith("q.")) {
      const socket = net.sockets.get(EXAMPLE)!;
      const forged = response(query, { aa: true, answers: [a("q.example.test.", "6.6.6.6")] });
      await socket.send(
        encodeMessage({
          ...forged,
          questions: [{ ...query.questions[0], name: "q2.example.test." }],
        }),
        { transport: "udp", hostname: "127.0.0.1", port: seen.port },
      );
    }
    return real(query, seen);
  });
  try {
    await using server = serve(fakeRoots(net));
    for (const name of ["src.example.test", "id.example.test", "q.example.test"]) {
      assert.deepEqual(data((await ask(server, name)).answers), [`${name}. 1 192.0.2.1`]);
      assert.deepEqual(data((await ask(server, name)).answers), [`${name}. 1 192.0.2.1`], "cached");
    }
  } finally {
    forger.close();
  }
});

Deno.test("coalescing: 20 identical questions in flight cost one upstream query", async () => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const real = authority("example.test.", [a("slow.example.test.", "192.0.2.9")]);
  await using net = hierarchy(async (query, seen) => {
    if (query.questions[0].name === "slow.example.test.") await released;
    return real(query, seen);
  });
  await using server = serve(fakeRoots(net));
  await ask(server, "warm.example.test"); // the delegation, cached
  const slow = (e: JsonEvent) =>
    e.event === "query" && e.client !== undefined && e.name === "slow.example.test.";
  const pending = Array.from({ length: 20 }, () => ask(server, "slow.example.test"));
  // The upstream reply is held back until the server has received all 20 questions.
  await server.whenEvents(slow, 20);
  release();
  const replies = await Promise.all(pending);
  for (const reply of replies) {
    assert.deepEqual(data(reply.answers), ["slow.example.test. 1 192.0.2.9"]);
  }
  assert.equal(net.seen.filter((s) => s.name === "slow.example.test.").length, 1);
  const sources = answers(server).slice(1).map((e) => e.source);
  assert.equal(sources.filter((s) => s === "resolved").length, 1);
  assert.equal(sources.filter((s) => s === "coalesced").length, 19);
});

Deno.test("each upstream query has a random ID and comes from a random source port", async () => {
  await using net = hierarchy();
  await using server = serve(fakeRoots(net));
  for (let i = 0; i < 30; i++) await ask(server, `r${i}.example.test`);
  const seen = net.seen.filter((s) => s.host === EXAMPLE && s.name.startsWith("r"));
  assert.equal(seen.length, 30);
  const ports = new Set(seen.map((s) => s.port));
  const ids = seen.map((s) => s.id);
  assert.ok(ports.size >= 28, `only ${ports.size} distinct source ports in 30 queries`);
  assert.ok(new Set(ids).size >= 29, "IDs repeat");
  const ascending = ids.every((id, i) => i === 0 || id > ids[i - 1]);
  assert.ok(!ascending, "IDs must not be sequential");
  // Every upstream query offers EDNS with 1232 bytes.
  assert.ok(
    seen.every((s) => s.query.additionals.find((rr) => rr.type === TYPE.OPT)?.class === 1232),
  );
});

Deno.test("a server that rejects EDNS (FORMERR) is asked again without it", async () => {
  const real = authority("example.test.", [a("old.example.test.", "192.0.2.5")]);
  await using net = hierarchy((query, seen) =>
    query.additionals.some((rr) => rr.type === TYPE.OPT)
      ? response(query, { rcode: RCODE.FORMERR })
      : real(query, seen)
  );
  await using server = serve(fakeRoots(net));
  assert.deepEqual(data((await ask(server, "old.example.test")).answers), [
    "old.example.test. 1 192.0.2.5",
  ]);
});

Deno.test("fuzz: junk replies from upstream are dropped, never cached, never crash the server", async () => {
  const random = prng(0x5eed);
  const mutate = (bytes: Uint8Array): Uint8Array => {
    const kind = Math.floor(random() * 5);
    const out = bytes.slice();
    if (kind === 0) { // flip a few bits anywhere
      for (let i = 0; i < 1 + random() * 4; i++) {
        out[Math.floor(random() * out.length)] ^= 1 << (random() * 8);
      }
      return out;
    }
    if (kind === 1) return out.subarray(0, Math.floor(random() * out.length)); // cut short
    if (kind === 2) {
      return new Uint8Array([
        ...out,
        ...Array.from({ length: 1 + random() * 20 }, () => random() * 256),
      ]);
    }
    if (kind === 3) { // keep the ID, the rest garbage
      const junk = Uint8Array.from({ length: 12 + random() * 80 }, () => random() * 256);
      junk.set(out.subarray(0, 2));
      return junk;
    }
    out[6 + Math.floor(random() * 6)] = Math.floor(random() * 256); // lying section counts
    return out;
  };
  const real = (name: string) => authority("example.test.", [a(name, "192.0.2.1")]);
  await using net = hierarchy((query, seen) => {
    const good = encodeMessage(real(query.questions[0].name)(query, seen) as Message);
    return [mutate(good), good]; // the junk first, then the truth
  });
  await using server = serve(fakeRoots(net), { upstreamTimeoutMs: 500 });
  for (let i = 0; i < 150; i++) {
    const name = `f${i}.example.test.`;
    const reply = await ask(server, name);
    assert.ok(reply.flags.qr && reply.flags.ra);
    assert.ok(
      reply.flags.rcode === RCODE.NOERROR || reply.flags.rcode === RCODE.SERVFAIL ||
        reply.flags.rcode === RCODE.NXDOMAIN,
      `rcode ${reply.flags.rcode}`,
    );
    // Whatever was accepted is about this name and from this zone, nothing else.
    for (const rr of [...reply.answers, ...reply.authorities]) {
      assert.ok(rr.name.endsWith("example.test."), `${rr.name} leaked in`);
    }
  }
  // Still serving, and what it caches are real answers.
  assert.deepEqual(data((await ask(server, "f0.example.test")).answers).length <= 1, true);
  const after = await ask(server, "www.bank.test");
  assert.deepEqual(data(after.answers), ["www.bank.test. 1 192.0.2.77"]);
});

// ---------------------------------------------------------------------------------------------
// The script, and interop with dig and unbound.

Deno.test("dns/resolver_server.ts: --help, bad flags, the first line, one exchange, Ctrl-C", async () => {
  const help = await runScript(SCRIPT, ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: deno task dns:resolver/);
  for (
    const [args, message] of [
      [["--bogus"], /^error: unknown option --bogus \(see --help\)$/],
      [["--port", "70000"], /^error: --port must be 0–65535, got 70000/],
      [["--allow", "10.0.0.0/99"], /Invalid --allow "10\.0\.0\.0\/99"/],
      [
        ["--root", "a.root-servers.net"],
        /Invalid --root "a\.root-servers\.net": expected an IP address/,
      ],
      [["--root", "127.0.0.2", "--forward", "127.0.0.1"], /either --root or --forward/],
      [["--cache-size", "0"], /--cache-size must be an integer from 1 to/],
      [["--keepalive", "40000"], /--keepalive must be an integer from 0 to 32,767, got 40000/],
    ] as const
  ) {
    const bad = await runScript(SCRIPT, [...args]);
    assert.equal(bad.code, 2, args.join(" "));
    assert.match(bad.stderr.split("\n")[0], message);
  }
  await using net = await startMiniInternet({ port: 0 });
  const server = await startScript(SCRIPT, [
    "--port",
    "0",
    "--root",
    net.roots[0],
    "--upstream-port",
    String(net.port),
  ]);
  try {
    assert.match(server.firstLine, /^resolver listening on 127\.0\.0\.1:\d+ \(udp\+tcp\)$/);
    const query = await runScript("dns/query.ts", [
      "@127.0.0.1",
      "-p",
      String(server.port),
      "web.cnblogs.com",
      "+short",
    ]);
    assert.equal(query.stdout, "www.cnblogs.com.\n127.0.0.5\n");
    await server.waitForLine(/-> web\.cnblogs\.com\. A NOERROR \(resolved: 3 queries/);
  } finally {
    const stopped = await server.stop();
    assert.equal(stopped.code, 130, stopped.stderr);
  }
});

Deno.test("--json prints schema events: listening, the question, each step, the answer", async () => {
  await using net = await startMiniInternet({ port: 0 });
  const server = await startScript(SCRIPT, [
    "--port",
    "0",
    "--root",
    net.roots[0],
    "--upstream-port",
    String(net.port),
    "--json",
    "--explain",
  ]);
  await ask(
    { addr: { transport: "udp", hostname: "127.0.0.1", port: server.port } },
    "www.cnblogs.com",
  );
  await server.waitForLine(/"event":"answer".*"client"/);
  const stopped = await server.stop();
  const events = assertNdjson(stopped.stdout, "dns/resolver");
  for (const e of events) assert.ok(EVENT_NAMES.includes(e.event), e.event);
  assert.equal(events[0].event, "listening");
  assert.match(String(events[0].text), /^resolver listening on 127\.0\.0\.1:\d+ \(udp\+tcp\)$/);
  const story = events.filter((e) => e.seq !== undefined || e.client !== undefined).map((e) =>
    e.event
  );
  // With --explain, each upstream exchange's bytes follow it: the query, then the reply.
  assert.deepEqual(story, [
    "query",
    "query",
    "referral",
    "explain",
    "explain",
    "query",
    "referral",
    "explain",
    "explain",
    "query",
    "answer",
    "explain",
    "explain",
    "answer",
  ]);
});

Deno.test({
  name: "interop: dig asks the local DNS server over UDP and TCP",
  ignore: !hasCommand("dig"),
  async fn() {
    await using net = await startMiniInternet({ port: 0 });
    await using server = serve({ roots: net.roots, port: net.port });
    const dig = (...args: string[]) =>
      runCommand("dig", [
        "@127.0.0.1",
        "-p",
        String(server.addr.port),
        "+tries=1",
        "+time=10",
        ...args,
      ]);
    const plain = await dig("www.cnblogs.com");
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /status: NOERROR/);
    assert.match(plain.stdout, /flags: qr rd ra;/);
    assert.match(plain.stdout, /^www\.cnblogs\.com\.\s+600\s+IN\s+A\s+127\.0\.0\.5$/m);
    const tcp = await dig("+tcp", "+short", "web.cnblogs.com");
    assert.equal(tcp.stdout, "www.cnblogs.com.\n127.0.0.5\n");
    const big = await dig("+short", "big.cnblogs.com", "TXT"); // TC, dig retries over TCP
    assert.equal(big.stdout.trim().split("\n").length, 40);
    const nx = await dig("nope.cnblogs.com");
    assert.match(nx.stdout, /status: NXDOMAIN/);
    const norecurse = await dig("+norecurse", "www.cnblogs.com");
    assert.match(norecurse.stdout, /flags: qr ra;/);
  },
});

/** A reply reduced to what two resolvers must agree on (TTLs and record order aside). */
function comparable(reply: Message): string {
  const sorted = (records: ResourceRecord[]) =>
    records.filter((rr) => rr.type !== TYPE.OPT).map((rr) =>
      `${rr.name.toLowerCase()} ${rr.type} ${
        JSON.stringify(rr.data, (_, v) => v instanceof Uint8Array ? [...v] : v)
      }`
    ).sort();
  return JSON.stringify({
    rcode: reply.flags.rcode,
    ra: reply.flags.ra,
    answer: sorted(reply.answers),
    soa: sorted(reply.authorities.filter((rr) => rr.type === TYPE.SOA)),
  });
}

Deno.test({
  name: "interop: unbound and the local DNS server answer the same questions the same way",
  ignore: !unboundAvailable(),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "netlab-unbound-" });
    try {
      await Deno.mkdir(`${dir}/unbound`);
      await using net = await startInternet53(dir);
      await using unbound = await startUnbound(`${dir}/unbound`, net.root);
      await using ours = serve({ roots: [net.root], port: 53 });
      const theirs = {
        addr: { transport: "udp" as const, hostname: "127.0.0.1", port: unbound.port },
      };
      const questions: [string, number][] = [
        ["www.cnblogs.com", TYPE.A],
        ["www.cnblogs.com", TYPE.AAAA],
        ["web.cnblogs.com", TYPE.A],
        ["cnblogs.com", TYPE.MX],
        ["cnblogs.com", TYPE.TXT],
        ["cnblogs.com", TYPE.CAA],
        ["_http._tcp.cnblogs.com", TYPE.SRV],
        ["mail.cnblogs.com", TYPE.A],
        ["nope.cnblogs.com", TYPE.A],
        ["ent.cnblogs.com", TYPE.A],
        ["x.ent.cnblogs.com", TYPE.A],
        ["any.wild.cnblogs.com", TYPE.TXT],
        ["nothere.com", TYPE.A],
        ["big.cnblogs.com", TYPE.A],
      ];
      for (const [name, type] of questions) {
        for (let round = 0; round < 2; round++) { // resolved, then from each one's cache
          const mine = comparable(await ask(ours, name, type, { tcp: true }));
          const unbounds = comparable(await ask(theirs, name, type, { tcp: true }));
          assert.equal(mine, unbounds, `${name} ${type} (round ${round})`);
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
