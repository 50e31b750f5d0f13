/**
 * dns/resolver/iterative.ts (with ask.ts, cached_answers.ts, delegations.ts) against fake servers
 * that live inside the test (tests/_fake_dns.ts: a tiny authoritative function per loopback
 * address, 127.0.0.11–14, one shared port), so every referral, missing glue, CNAME and loop is
 * exactly what the test says.
 */
import assert from "node:assert/strict";
import { RCODE, TYPE } from "../../dns/wire/constants.ts";
import { type IterativeOptions, IterativeResolver } from "../../dns/resolver/iterative.ts";
import { ResolveError } from "../../dns/resolver/stub.ts";
import { type ResolverEvent, serverReason, traceStep } from "../../dns/resolver/trace.ts";
import { ROOT_SERVERS } from "../../dns/resolver/root_hints.ts";
import {
  a,
  authority,
  fakeHierarchy,
  type FakeNet,
  HIERARCHY,
  ns,
  startFakeNet,
} from "../_fake_dns.ts";
import { ServerSelection } from "../../dns/resolver/server_selection.ts";

const { root: ROOT, tld: TLD, example: EXAMPLE, other: OTHER } = HIERARCHY;

/** An iterative resolver over `net` from ROOT (with `options`), and the events it reports. */
function tracedResolver(
  net: FakeNet,
  options: IterativeOptions = {},
): { resolver: IterativeResolver; events: ResolverEvent[] } {
  const events: ResolverEvent[] = [];
  const resolver = new IterativeResolver({
    roots: [ROOT],
    port: net.port,
    onEvent: (e) => events.push(e),
    ...options,
  });
  return { resolver, events };
}

// ---------------------------------------------------------------------------------------------
// Iterative resolver

Deno.test("iterative resolver follows referrals with glue from the root down", async () => {
  await using net = fakeHierarchy();
  const { resolver, events } = tracedResolver(net, { timeoutMs: 2000 });
  const result = await resolver.resolve("www.example.test", TYPE.A);
  assert.equal(result.rcode, RCODE.NOERROR);
  assert.deepEqual(result.answers.map((r) => r.data), [{ kind: "A", address: "192.0.2.1" }]);
  assert.equal(result.queries, 3);
  const steps = events.flatMap((e) =>
    e.kind === "response" ? [`${e.zone} ${e.server.address} ${e.outcome} ${e.referral ?? ""}`] : []
  );
  assert.deepEqual(steps, [
    `. ${ROOT} referral test.`,
    `test. ${TLD} referral example.test.`,
    `example.test. ${EXAMPLE} answer `,
  ]);
});

Deno.test("iterative resolver resolves a name server that came without glue", async () => {
  await using net = fakeHierarchy();
  const { resolver, events } = tracedResolver(net);
  const result = await resolver.resolve("www.noglue.test.", TYPE.A);
  assert.deepEqual(result.answers.map((r) => r.data), [{ kind: "A", address: "192.0.2.2" }]);
  assert.ok(
    events.some((e) => e.kind === "ns-lookup" && e.nameserver === "ns.example.test."),
    "expected a lookup of the unglued name server",
  );
  assert.ok(net.log.includes(`${EXAMPLE} ns.example.test. ${TYPE.A}`));
  assert.equal(net.log.at(-1), `${OTHER} www.noglue.test. ${TYPE.A}`);
  // Each query says why that server was chosen (what `+trace --explain` prints).
  const reasons = events.flatMap((e) =>
    e.kind === "query" ? [`${e.server.address} ${e.server.source} ${e.reason}`] : []
  );
  assert.deepEqual(reasons, [
    `${ROOT} root-option "." (the root) is where every lookup starts: ${ROOT} is the root server given (--root)`,
    `${TLD} glue the referral from "." (the root) named ns.test. as a name server of "test." and carried its address ${TLD} (glue)`,
    // The nested lookup of ns.example.test. starts again from the closest zone in the cache.
    `${TLD} cache ns.test. serves "test."; its address ${TLD} is cached from an earlier reply of a server for "." (the root)`,
    `${EXAMPLE} glue the referral from "test." named ns1.example.test. as a name server of "example.test." and carried its address ${EXAMPLE} (glue)`,
    `${OTHER} resolved the referral from "test." named ns.example.test. as a name server of "noglue.test." without glue; its address ${OTHER} was resolved separately`,
  ]);
  const referral = events.find((e) => e.kind === "response" && e.referral === "noglue.test.");
  assert.ok(referral?.kind === "response");
  assert.deepEqual(referral.nameservers, ["ns.example.test."]);
  assert.deepEqual(referral.glue, []);
});

Deno.test("serverReason says which servers before gave no usable reply", () => {
  const server = { name: "ns1.example.", address: "192.0.2.1", port: 53, source: "glue" as const };
  assert.equal(
    serverReason("example.", { ...server, via: "." }, 2),
    `the referral from "." (the root) named ns1.example. as a name server of "example." and carried its address 192.0.2.1 (glue); the servers before gave no usable reply`,
  );
  assert.match(
    serverReason(".", {
      name: "a.root-servers.net.",
      address: "198.41.0.4",
      port: 53,
      source: "root-hint",
    }),
    /one of the 13 built-in root hints/,
  );
});

Deno.test("iterative resolver chases a CNAME into another zone", async () => {
  await using net = fakeHierarchy();
  const { resolver, events } = tracedResolver(net);
  const result = await resolver.resolve("alias.example.test.", TYPE.A);
  assert.deepEqual(
    result.answers.map((r) => `${r.name} ${r.type}`),
    [`alias.example.test. ${TYPE.CNAME}`, `www.noglue.test. ${TYPE.A}`],
  );
  assert.equal(result.rcode, RCODE.NOERROR);
  // The target lives elsewhere: the trace says it follows it, and the steps after show how.
  const alias = events.find((e) => e.kind === "cname");
  assert.ok(alias?.kind === "cname" && alias.answered === undefined);
  assert.equal(
    traceStep(alias).text,
    ";; alias.example.test. is an alias (CNAME) for www.noglue.test.: following it",
  );
  assert.ok(events.indexOf(alias) < events.length - 1);
});

Deno.test("iterative resolver ends a delegation loop with a clear error", async () => {
  await using net = fakeHierarchy();
  const resolver = new IterativeResolver({ roots: [ROOT], port: net.port });
  await assert.rejects(
    resolver.resolve("www.loop1.test.", TYPE.A),
    (error: unknown) => {
      assert.ok(error instanceof ResolveError);
      assert.equal(error.rcode, RCODE.SERVFAIL);
      assert.match(error.message, /Delegation loop: the address of "ns\.loop2\.test\."/);
      return true;
    },
  );
  assert.ok(net.log.length < 20, `bounded: ${net.log.length} queries`);
});

Deno.test("iterative resolver reports NXDOMAIN with the SOA", async () => {
  await using net = fakeHierarchy();
  const resolver = new IterativeResolver({ roots: [ROOT], port: net.port });
  const result = await resolver.resolve("nope.example.test.", TYPE.A);
  assert.equal(result.rcode, RCODE.NXDOMAIN);
  assert.deepEqual(result.answers, []);
  assert.equal(result.authorities[0].type, TYPE.SOA);
});

Deno.test("iterative resolver answers from its TTL cache until the TTL runs out", async () => {
  await using net = fakeHierarchy();
  let now = 1_000_000;
  const { resolver, events } = tracedResolver(net, { now: () => now });
  assert.equal((await resolver.resolve("www.example.test.", TYPE.A)).queries, 3);
  const cached = await resolver.resolve("www.example.test.", TYPE.A);
  assert.equal(cached.queries, 0);
  assert.deepEqual(cached.answers.map((r) => r.data), [{ kind: "A", address: "192.0.2.1" }]);
  assert.ok(events.some((e) => e.kind === "cache"));
  // The A record's TTL is 120 s; the delegations (3600 s) are still cached, so only the
  // example.test. server is asked again.
  now += 121_000;
  const again = await resolver.resolve("www.example.test.", TYPE.A);
  assert.equal(again.queries, 1);
  assert.equal(net.log.at(-1), `${EXAMPLE} www.example.test. ${TYPE.A}`);
});

Deno.test("iterative resolver stops at the query limit", async () => {
  await using net = fakeHierarchy();
  const resolver = new IterativeResolver({ roots: [ROOT], port: net.port, maxQueries: 2 });
  await assert.rejects(resolver.resolve("www.example.test.", TYPE.A), /Too many queries/);
});

Deno.test("iterative resolver says so when no root answers", async () => {
  await using net = startFakeNet({ [ROOT]: () => undefined });
  const resolver = new IterativeResolver({
    roots: [ROOT],
    port: net.port,
    timeoutMs: 200,
    tries: 1,
  });
  await assert.rejects(resolver.resolve("www.example.test.", TYPE.A), (error: unknown) => {
    assert.ok(error instanceof ResolveError);
    assert.ok(error.noReply);
    assert.match(error.message, /No usable answer from the servers of "\."/);
    return true;
  });
});

// ---------------------------------------------------------------------------------------------
// Stub resolver and transport

Deno.test("the 13 root servers a–m are built in", () => {
  assert.equal(ROOT_SERVERS.length, 13);
  assert.deepEqual(
    ROOT_SERVERS.map((r) => r.name[0]).join(""),
    "abcdefghijklm",
  );
  assert.equal(ROOT_SERVERS[0].ipv4, "198.41.0.4");
  assert.ok(ROOT_SERVERS.every((r) => /^\d+\.\d+\.\d+\.\d+$/.test(r.ipv4)));
});

Deno.test("iterative resolver moves on to the next name server after a timeout, and asks the live one first next time", async () => {
  // example.test. has two servers: the first (in the NS order) never answers.
  const dead = "127.0.0.15";
  await using net = startFakeNet({
    [ROOT]: authority(".", [ns("test.", "ns.test."), a("ns.test.", TLD)]),
    [TLD]: authority("test.", [
      ns("example.test.", "a.example.test."),
      ns("example.test.", "b.example.test."),
      a("a.example.test.", dead),
      a("b.example.test.", EXAMPLE),
    ]),
    [dead]: () => undefined,
    [EXAMPLE]: authority("example.test.", [
      a("www.example.test.", "192.0.2.1"),
      a("x.example.test.", "192.0.2.2"),
    ]),
  });
  // No randomness: servers never measured keep the referral's order, so the dead one goes first.
  const { resolver, events } = tracedResolver(net, {
    timeoutMs: 200,
    servers: new ServerSelection({ random: () => 0 }),
  });
  const first = await resolver.resolve("www.example.test", TYPE.A);
  assert.deepEqual(first.answers.map((r) => r.data), [{ kind: "A", address: "192.0.2.1" }]);
  const steps = events.filter((e) => e.kind !== "cname").map((e) =>
    e.kind === "query" || e.kind === "no-reply"
      ? `${e.kind} ${e.server.address}`
      : e.kind === "response"
      ? `${e.outcome} ${e.server.address}`
      : e.kind
  );
  assert.deepEqual(steps.slice(-3), [`no-reply ${dead}`, `query ${EXAMPLE}`, `answer ${EXAMPLE}`]);
  assert.match(
    (events.findLast((e) => e.kind === "query") as { reason: string }).reason,
    /the server before gave no usable reply$/,
  );
  await resolver.resolve("x.example.test", TYPE.A);
  assert.equal(
    net.seen.filter((s) => s.host === dead).length,
    1,
    "the dead server is not asked first again",
  );
});

Deno.test("every RRset learnt passes the checkRRset hook first (the DNSSEC seam), which may refuse it", async () => {
  await using net = fakeHierarchy();
  const seen: string[] = [];
  const resolver = new IterativeResolver({
    roots: [ROOT],
    port: net.port,
    checkRRset(rrset, from) {
      seen.push(`${from.zone} ${from.server.address} ${from.section} ${rrset.name} ${rrset.type}`);
      // Refuse the answer for www.example.test. (as a failed signature check would).
      return !(rrset.name === "www.example.test." && rrset.type === TYPE.A);
    },
  });
  assert.deepEqual(
    (await resolver.resolve("ns.example.test.", TYPE.A)).answers.map((r) => r.data),
    [
      { kind: "A", address: OTHER },
    ],
  );
  assert.deepEqual(seen, [
    `. ${ROOT} authority test. ${TYPE.NS}`,
    `. ${ROOT} additional ns.test. ${TYPE.A}`,
    `test. ${TLD} authority example.test. ${TYPE.NS}`,
    `test. ${TLD} additional ns1.example.test. ${TYPE.A}`,
    `example.test. ${EXAMPLE} answer ns.example.test. ${TYPE.A}`,
  ]);
  await assert.rejects(resolver.resolve("www.example.test.", TYPE.A), (error: unknown) => {
    assert.ok(error instanceof ResolveError);
    assert.match(error.message, /www\.example\.test\. A, which the RRset check refused/);
    return true;
  });
  // Nothing refused was cached: asked again, it is asked again (and refused again).
  const before = net.log.length;
  await assert.rejects(resolver.resolve("www.example.test.", TYPE.A));
  assert.ok(net.log.length > before);
});
