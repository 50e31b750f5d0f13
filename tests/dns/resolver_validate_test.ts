/**
 * The local DNS server validating with DNSSEC (`dns/resolver_server.ts --trust-anchor`), end to
 * end with the real scripts: `dns/internet.ts --dnssec` (root → com. → cnblogs.com., signed, or
 * broken on purpose with `--break`), an unsigned child zone `sub.cnblogs.com.` served by
 * `dns/server.ts`, and the resolver asked over UDP — then dig, delv and unbound beside it where
 * they are installed. The Bogus TTL is checked in process, with a clock the test moves.
 */
import assert from "node:assert/strict";
import { makeQuery, type Message } from "../../dns/wire/message.ts";
import { RCODE, TYPE } from "../../dns/wire/constants.ts";
import { getEdns } from "../../dns/wire/edns.ts";
import { EDE, readEde } from "../../dns/wire/ede.ts";
import { exchange } from "../../dns/resolver/transport.ts";
import { startMiniInternet } from "../../dns/internet/servers.ts";
import { startResolverServer } from "../../dns/resolver_server.ts";
import { parseTrustAnchor } from "../../dns/dnssec/validator.ts";
import type { ValidatingResolver } from "../../dns/dnssec/validating_resolver.ts";
import { toBase64 } from "../../dns/wire/dnssec_rdata.ts";
import {
  hasCommand,
  type JsonEvent,
  runCommand,
  type RunningScript,
  runScript,
  startScript,
} from "../_helpers.ts";
import { startValidatingUnbound } from "../_unbound_validator.ts";

const SCRIPT = "dns/resolver_server.ts";
/** Signing the mini-Internet and starting four servers takes a few seconds on a busy machine. */
const SLOW = { timeoutMs: 300_000 };

/** The unsigned child of cnblogs.com. (delegated to ns.sub, 127.0.0.8, with no DS). */
const SUB_ZONE = `$ORIGIN sub.cnblogs.com.
$TTL 600
@    IN SOA ns hostmaster 1 3600 900 604800 300
     IN NS  ns
ns   IN A   127.0.0.8
www  IN A   127.0.0.9
`;

/** A signed mini-Internet run by the real script, its trust anchor in a file. */
interface SignedNet extends AsyncDisposable {
  port: number;
  anchor: string;
  dir: string;
}

async function startSignedInternet(
  breakWith?: string,
  { sub = false }: { sub?: boolean } = {},
): Promise<SignedNet> {
  const dir = await Deno.makeTempDir({ prefix: "netlab-validate-" });
  const anchor = `${dir}/root.anchor`;
  const scripts: RunningScript[] = [];
  const stop = async () => {
    await Promise.all(scripts.map((s) => s.stop()));
    await Deno.remove(dir, { recursive: true });
  };
  try {
    const internet = await startScript("dns/internet.ts", [
      "--port",
      "0",
      "--dnssec",
      "--anchor",
      anchor,
      ...(breakWith ? ["--break", breakWith] : []),
    ], SLOW);
    scripts.push(internet);
    await internet.waitForLine("Ctrl-C", 120_000);
    if (sub) {
      await Deno.writeTextFile(`${dir}/sub.zone`, SUB_ZONE);
      const args = ["--zone", `${dir}/sub.zone`, "--host", "127.0.0.8", "--quiet"];
      scripts.push(
        await startScript("dns/server.ts", [...args, "--port", String(internet.port)], SLOW),
      );
    }
    return { port: internet.port, anchor, dir, [Symbol.asyncDispose]: stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** `dns:resolver` on an ephemeral port, iterating over the signed mini-Internet, with `flags`. */
async function startResolver(net: SignedNet, flags: string[]): Promise<RunningScript> {
  return await startScript(SCRIPT, [
    "--port",
    "0",
    "--root",
    "127.0.0.2",
    "--upstream-port",
    String(net.port),
    ...flags,
  ], SLOW);
}

/** `dns:resolver` over the signed mini-Internet, validating from its anchor, logging JSON. */
async function startValidating(net: SignedNet, extra: string[] = []): Promise<RunningScript> {
  return await startResolver(net, ["--trust-anchor", net.anchor, "--json", ...extra]);
}

interface Ask {
  /** DO: the client wants DNSSEC records (default set). */
  dnssec?: boolean;
  cd?: boolean;
  ad?: boolean;
  edns?: boolean;
}

/** One question to the resolver on `port` over UDP (TCP after TC), the reply decoded. */
async function ask(
  port: number,
  name: string,
  type: number = TYPE.A,
  { dnssec = true, cd = false, ad = false, edns = true }: Ask = {},
): Promise<Message> {
  const query = makeQuery(name, type, { edns: edns ? { dnssecOk: dnssec } : false });
  query.flags.cd = cd;
  query.flags.ad = ad;
  const { reply } = await exchange(query, "127.0.0.1", { port, tries: 1, timeoutMs: 20_000 });
  return reply;
}

/** The answer to the `seq`-th client question (1-based) as the resolver logged it, waited for. */
async function answerEvent(server: RunningScript, seq: number): Promise<JsonEvent> {
  const line = await server.waitForLine(new RegExp(`"event":"answer".*"seq":${seq}[,}]`));
  return JSON.parse(line) as JsonEvent;
}

/** `TYPE RRSIG-covered` for each record: what a reply's section holds, in order. */
function kinds(records: Message["answers"]): string[] {
  return records.map((rr) =>
    rr.data.kind === "RRSIG" ? `RRSIG ${rr.data.typeCovered}` : String(rr.type)
  );
}

function ede(reply: Message) {
  return readEde(getEdns(reply)?.options ?? []);
}

Deno.test("dns:resolver --trust-anchor: Secure answers get AD and, with DO, their RRSIGs and proofs; an unsigned child is Insecure", async () => {
  await using net = await startSignedInternet(undefined, { sub: true });
  const resolver = await startValidating(net);
  try {
    await resolver.waitForLine(/validating with DNSSEC from the trust anchor in .*root\.anchor/);
    // DO set: AD, and the RRSIG right after the A record.
    const secure = await ask(resolver.port, "www.cnblogs.com");
    assert.equal(secure.flags.rcode, RCODE.NOERROR);
    assert.ok(secure.flags.ad, "AD on a Secure answer to a DO client");
    assert.deepEqual(kinds(secure.answers), [String(TYPE.A), `RRSIG ${TYPE.A}`]);
    const first = await answerEvent(resolver, 1);
    assert.equal(first.verdict, "secure");
    assert.ok(Number(first.queries) > 1, "the walk and the chain of trust cost queries");

    // DO clear: no RRSIG, no AD — and no upstream traffic (the records and keys are cached).
    const plain = await ask(resolver.port, "www.cnblogs.com", TYPE.A, { dnssec: false });
    assert.deepEqual(kinds(plain.answers), [String(TYPE.A)]);
    assert.equal(plain.flags.ad, false);
    const second = await answerEvent(resolver, 2);
    assert.equal(second.verdict, "secure");
    assert.equal(second.queries, 0, "validated from what is cached");
    // AD set by a client without DO asks for AD (RFC 6840 §5.7); no EDNS: nothing of DNSSEC.
    const adOnly = await ask(resolver.port, "www.cnblogs.com", TYPE.A, { dnssec: false, ad: true });
    assert.ok(adOnly.flags.ad);
    assert.deepEqual(kinds(adOnly.answers), [String(TYPE.A)]);
    const old = await ask(resolver.port, "www.cnblogs.com", TYPE.A, { edns: false });
    assert.equal(old.flags.ad, false);
    assert.equal(old.additionals.length, 0);

    // A "no" comes with its proof for a DO client, alone for the others.
    const nx = await ask(resolver.port, "nope.cnblogs.com");
    assert.equal(nx.flags.rcode, RCODE.NXDOMAIN);
    assert.ok(nx.flags.ad);
    const proof = kinds(nx.authorities);
    assert.deepEqual(proof.slice(0, 2), [String(TYPE.SOA), `RRSIG ${TYPE.SOA}`]);
    assert.ok(
      proof.includes(String(TYPE.NSEC)) && proof.includes(`RRSIG ${TYPE.NSEC}`),
      proof.join(),
    );
    const nxPlain = await ask(resolver.port, "nope.cnblogs.com", TYPE.A, { dnssec: false });
    assert.deepEqual(kinds(nxPlain.authorities), [String(TYPE.SOA)]);
    // A wildcard answer: the proof that no closer name exists is in AUTHORITY.
    const wild = await ask(resolver.port, "any.wild.cnblogs.com", TYPE.TXT);
    assert.ok(wild.flags.ad);
    assert.deepEqual(kinds(wild.answers), [String(TYPE.TXT), `RRSIG ${TYPE.TXT}`]);
    assert.ok(kinds(wild.authorities).includes(String(TYPE.NSEC)));
    // The keys themselves, for a client that validates on its own (delv).
    const keys = await ask(resolver.port, "cnblogs.com", TYPE.DNSKEY);
    assert.ok(keys.flags.ad);
    assert.ok(kinds(keys.answers).includes(`RRSIG ${TYPE.DNSKEY}`));

    // The unsigned child: cnblogs.com. proves it has no DS, so its answers are Insecure.
    const insecure = await ask(resolver.port, "www.sub.cnblogs.com");
    assert.equal(insecure.flags.rcode, RCODE.NOERROR);
    assert.equal(insecure.flags.ad, false);
    assert.deepEqual(insecure.answers.map((rr) => rr.data), [{ kind: "A", address: "127.0.0.9" }]);
    const line = await resolver.waitForLine(/"event":"answer".*"name":"www\.sub\.cnblogs\.com\."/);
    assert.equal(JSON.parse(line).verdict, "insecure");
  } finally {
    await resolver.stop();
  }
});

const BREAKS: [string, number, RegExp][] = [
  [
    "flip",
    EDE.DNSSEC_BOGUS,
    /^www\.cnblogs\.com\. A: RRSIG A by cnblogs\.com\. key \d+ does not verify/,
  ],
  ["expired", EDE.SIGNATURE_EXPIRED, /^cnblogs\.com\. DNSKEY: RRSIG DNSKEY by .* expired at /],
  ["no-ds", EDE.DNSSEC_BOGUS, /^the NSEC at cnblogs\.com\. says it has a DS, but no DS was given/],
];

for (const [breakWith, code, reason] of BREAKS) {
  Deno.test(`dns:resolver --trust-anchor: --break ${breakWith} is SERVFAIL with EDE ${code}, remembered; CD gets the answer`, async () => {
    await using net = await startSignedInternet(breakWith);
    const resolver = await startValidating(net);
    try {
      const bogus = await ask(resolver.port, "www.cnblogs.com");
      assert.equal(bogus.flags.rcode, RCODE.SERVFAIL);
      assert.equal(bogus.answers.length, 0);
      const [error] = ede(bogus);
      assert.equal(error?.code, code, JSON.stringify(ede(bogus)));
      assert.match(error.text, reason);
      const first = await answerEvent(resolver, 1);
      assert.equal(first.verdict, "bogus");
      assert.equal(first.remembered, undefined);

      // Asked again in another form (DO clear): the verdict is remembered, nothing is asked.
      const again = await ask(resolver.port, "www.cnblogs.com", TYPE.A, { dnssec: false });
      assert.equal(again.flags.rcode, RCODE.SERVFAIL);
      assert.equal(ede(again)[0]?.code, code);
      const second = await answerEvent(resolver, 2);
      assert.equal(second.remembered, true, JSON.stringify(second));
      assert.equal(second.queries, 0);

      // CD: the client checks for itself — the answer, unchecked, AD clear.
      const unchecked = await ask(resolver.port, "www.cnblogs.com", TYPE.A, { cd: true });
      assert.equal(unchecked.flags.rcode, RCODE.NOERROR);
      assert.equal(unchecked.flags.ad, false);
      assert.ok(unchecked.flags.cd);
      assert.deepEqual(kinds(unchecked.answers), [String(TYPE.A), `RRSIG ${TYPE.A}`]);
      assert.equal((await answerEvent(resolver, 3)).verdict, undefined);
      // Names outside the broken zone are still Secure.
      const elsewhere = await ask(resolver.port, "nope.com");
      assert.equal(elsewhere.flags.rcode, RCODE.NXDOMAIN);
      assert.ok(elsewhere.flags.ad);
    } finally {
      await resolver.stop();
    }
  });
}

Deno.test("dns:resolver --explain tells the verdict in +validate's words", async () => {
  await using net = await startSignedInternet("flip");
  const resolver = await startResolver(net, ["--trust-anchor", net.anchor, "--explain"]);
  try {
    await ask(resolver.port, "nope.cnblogs.com");
    await ask(resolver.port, "www.cnblogs.com");
    await ask(resolver.port, "www.cnblogs.com", TYPE.A, { dnssec: false });
    await resolver.waitForLine(/SERVFAIL \(from the cache; bogus \(remembered\): /);
    const text = resolver.lines.join("\n");
    assert.match(text, /;; Chain of trust:\n;; {3}\. DNSKEY: key \d+ .* matches DS/);
    assert.match(text, /\n; fully validated\n/);
    assert.match(
      text,
      /\n;; validation failed: bogus: www\.cnblogs\.com\. A: RRSIG A by cnblogs\.com\. key \d+ does not verify/,
    );
    assert.match(
      text,
      /-> nope\.cnblogs\.com\. A NXDOMAIN \(resolved: \d+ queries, [\d.]+ ms; secure\)/,
    );
    assert.match(
      text,
      /-> www\.cnblogs\.com\. A SERVFAIL \(resolved: \d+ quer(y|ies), [\d.]+ ms; bogus: /,
    );
    assert.match(text, /\(remembered: Bogus answers are not checked again for 60 s\)/);
  } finally {
    await resolver.stop();
  }
});

Deno.test("dns:resolver --no-validate passes signatures to DO clients and never judges; flags are checked", async () => {
  await using net = await startSignedInternet("flip");
  const resolver = await startResolver(net, ["--no-validate"]);
  try {
    await resolver.waitForLine(/^not validating \(--no-validate\)$/);
    const reply = await ask(resolver.port, "www.cnblogs.com");
    assert.equal(reply.flags.rcode, RCODE.NOERROR);
    assert.equal(reply.flags.ad, false);
    assert.deepEqual(kinds(reply.answers), [String(TYPE.A), `RRSIG ${TYPE.A}`]);
  } finally {
    await resolver.stop();
  }
  const both = await runScript(SCRIPT, ["--trust-anchor", net.anchor, "--no-validate"]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /^error: Give either --trust-anchor or --no-validate, not both/);
  const missing = await runScript(SCRIPT, ["--port", "0", "--trust-anchor", "/nonexistent"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^error: Cannot use trust anchor "\/nonexistent": /);
  const help = await runScript(SCRIPT, ["--help"]);
  assert.match(help.stdout, /--trust-anchor FILE/);
  assert.match(help.stdout, /auto-trust-anchor-file/);
});

Deno.test("Bogus verdicts are remembered for 60 s, then checked afresh from fresh data", async () => {
  await using net = await startMiniInternet({ port: 0, dnssec: true, breakWith: "flip" });
  const anchor = parseTrustAnchor(await Deno.readTextFile(net.dnssec!.anchorFile));
  let now = Date.now();
  await using server = startResolverServer({
    port: 0,
    roots: net.roots,
    upstreamPort: net.port,
    anchors: [anchor],
    now: () => now,
  });
  const judge = server.responder.judge as ValidatingResolver;
  const asks = (dnssec: boolean) => ask(server.addr.port, "www.cnblogs.com", TYPE.A, { dnssec });
  assert.equal((await asks(true)).flags.rcode, RCODE.SERVFAIL);
  assert.deepEqual(judge.counts, { validations: 1, remembered: 0 });
  // Same bytes: the cached SERVFAIL; other bytes: the remembered verdict, nothing checked.
  assert.equal((await asks(true)).flags.rcode, RCODE.SERVFAIL);
  assert.equal((await asks(false)).flags.rcode, RCODE.SERVFAIL);
  assert.deepEqual(judge.counts, { validations: 1, remembered: 1 });
  now += 59_000;
  assert.equal((await ask(server.addr.port, "WWW.cnblogs.com")).flags.rcode, RCODE.SERVFAIL);
  assert.deepEqual(judge.counts, { validations: 1, remembered: 2 });
  // After the Bogus TTL the records behind it have gone from the cache too: asked and checked again.
  now += 2_000;
  const reply = await asks(false);
  assert.equal(reply.flags.rcode, RCODE.SERVFAIL);
  assert.deepEqual(judge.counts, { validations: 2, remembered: 2 });
  assert.equal(server.responder.resolver.cache.get("www.cnblogs.com.", TYPE.A)?.ttl, 60);
});

Deno.test("behind a forwarder the verdicts are the same: Secure, Insecure, a Secure no", async () => {
  await using net = await startSignedInternet(undefined, { sub: true });
  const anchor = parseTrustAnchor(await Deno.readTextFile(net.anchor));
  // The forwarder does not validate; ours asks it with DO and judges what comes back.
  await using forwarder = startResolverServer({
    port: 0,
    roots: ["127.0.0.2"],
    upstreamPort: net.port,
  });
  await using server = startResolverServer({
    port: 0,
    forward: ["127.0.0.1"],
    upstreamPort: forwarder.addr.port,
    anchors: [anchor],
  });
  const port = server.addr.port;
  const www = await ask(port, "www.cnblogs.com");
  assert.ok(www.flags.ad);
  assert.deepEqual(kinds(www.answers), [String(TYPE.A), `RRSIG ${TYPE.A}`]);
  const sub = await ask(port, "www.sub.cnblogs.com");
  assert.equal(sub.flags.rcode, RCODE.NOERROR);
  assert.equal(sub.flags.ad, false);
  const nx = await ask(port, "nope.cnblogs.com");
  assert.equal(nx.flags.rcode, RCODE.NXDOMAIN);
  assert.ok(nx.flags.ad);
});

Deno.test("twenty identical questions at once: one walk, one validation", async () => {
  await using net = await startMiniInternet({ port: 0, dnssec: true });
  const anchor = parseTrustAnchor(await Deno.readTextFile(net.dnssec!.anchorFile));
  await using server = startResolverServer({
    port: 0,
    roots: net.roots,
    upstreamPort: net.port,
    anchors: [anchor],
  });
  const judge = server.responder.judge as ValidatingResolver;
  const replies = await Promise.all(
    Array.from({ length: 20 }, () => ask(server.addr.port, "www.cnblogs.com")),
  );
  assert.ok(replies.every((r) => r.flags.rcode === RCODE.NOERROR && r.flags.ad));
  assert.deepEqual(judge.counts, { validations: 1, remembered: 0 });
});

// ---------------------------------------------------------------------------------------------
// Interop: dig, delv and unbound.

Deno.test({
  name: "interop: dig shows AD from the validating resolver, and SERVFAIL with the EDE text",
  ignore: !hasCommand("dig"),
  async fn() {
    await using net = await startSignedInternet("expired");
    const resolver = await startValidating(net);
    try {
      const dig = (...args: string[]) =>
        runCommand("dig", ["+dnssec", "@127.0.0.1", "-p", String(resolver.port), ...args]);
      const good = await dig("nope.com");
      assert.match(good.stdout, /status: NXDOMAIN/);
      assert.match(good.stdout, /;; flags: qr rd ra ad;/);
      const bad = await dig("www.cnblogs.com");
      assert.match(bad.stdout, /status: SERVFAIL/);
      assert.match(
        bad.stdout,
        /; EDE: 7 \(Signature Expired\): \(cnblogs\.com\. DNSKEY: RRSIG DNSKEY by cnblogs\.com\. key \d+ expired at /,
      );
      const cd = await dig("+cd", "+short", "www.cnblogs.com");
      assert.match(cd.stdout, /^127\.0\.0\.5\n/);
    } finally {
      await resolver.stop();
    }
  },
});

Deno.test({
  name: "interop: delv through the validating resolver says fully validated",
  ignore: !hasCommand("delv"),
  async fn() {
    await using net = await startSignedInternet();
    const resolver = await startValidating(net);
    try {
      // delv wants the anchor in BIND's syntax: the root KSK from the anchor file.
      const key = parseTrustAnchor(await Deno.readTextFile(net.anchor)).keys[0];
      const bindAnchor = `${net.dir}/root.anchor.conf`;
      await Deno.writeTextFile(
        bindAnchor,
        `trust-anchors {\n  . static-key ${key.flags} ${key.protocol} ${key.algorithm} "${
          toBase64(key.publicKey)
        }";\n};\n`,
      );
      for (const name of ["www.cnblogs.com", "nope.cnblogs.com", "web.cnblogs.com"]) {
        const delv = await runCommand("delv", [
          "-a",
          bindAnchor,
          "@127.0.0.1",
          "-p",
          String(resolver.port),
          name,
        ]);
        // `; fully validated`, or for the NXDOMAIN `; negative response, fully validated`.
        assert.match(
          delv.stdout,
          /^; (negative response, )?fully validated$/m,
          `${name}: ${delv.stderr}`,
        );
      }
    } finally {
      await resolver.stop();
    }
  },
});

/** The verdict a resolver's reply shows: status, AD, and the EDE code. */
function verdictOf(reply: Message): string {
  const code = ede(reply)[0]?.code;
  return `rcode ${reply.flags.rcode}${reply.flags.ad ? " ad" : ""}${
    code === undefined ? "" : ` ede ${code}`
  }`;
}

Deno.test({
  name: "interop: unbound validating the same signed mini-Internet reaches the same verdicts",
  ignore: !hasCommand("unbound"),
  async fn() {
    for (const breakWith of [undefined, "flip", "expired", "no-ds"]) {
      await using net = await startSignedInternet(breakWith);
      const ours = await startValidating(net);
      try {
        await using unbound = await startValidatingUnbound(net.port, net.anchor);
        for (const [name, type] of [["www.cnblogs.com", TYPE.A], ["nope.com", TYPE.A]] as const) {
          const mine = verdictOf(await ask(ours.port, name, type));
          const theirs = verdictOf(await ask(unbound.port, name, type));
          // unbound names a failed proof of "no DS" EDE 9 (DNSKEY Missing); we say 6 (Bogus).
          const same = breakWith === "no-ds" ? (v: string) => v.replace(/ ede \d+$/, "") : String;
          assert.equal(same(mine), same(theirs), `${breakWith ?? "signed"}: ${name}`);
        }
      } finally {
        await ours.stop();
      }
    }
  },
});
