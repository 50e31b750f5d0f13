/**
 * dns/dnssec/validate.ts, dns/dnssec/denial_check.ts, dns/dnssec/validator.ts, dns/dnssec/validating_resolver.ts and
 * `query.ts +validate`: the signed mini-Internet validates Secure (answers, NXDOMAIN, NODATA,
 * wildcards, CNAMEs, empty non-terminals; NSEC and NSEC3), an unsigned child is Insecure, and
 * each broken link is Bogus with its reason and Extended DNS Error. Where unbound and delv are
 * installed they reach the same verdicts on the same servers.
 */
import assert from "node:assert/strict";
import { decodeMessage, encodeMessage, makeQuery } from "../../dns/wire/message.ts";
import { getEdns } from "../../dns/wire/edns.ts";
import { isSubdomain, nameKey, normalizeName } from "../../dns/wire/names.ts";
import { TYPE } from "../../dns/wire/constants.ts";
import { Authority } from "../../dns/authority/authority.ts";
import { parseZone, type Zone } from "../../dns/zone/parse.ts";
import { type Breakage, signMiniInternet } from "../../dns/internet/signing.ts";
import { MINI_ZONES, startMiniInternet } from "../../dns/internet/servers.ts";
import {
  type Fetch,
  parseTrustAnchor,
  servfailFor,
  type Validation,
  Validator,
} from "../../dns/dnssec/validator.ts";
import { ValidatingResolver } from "../../dns/dnssec/validating_resolver.ts";
import { verifyRRset } from "../../dns/dnssec/validate.ts";
import { EDE, edeOption, formatEde, readEde } from "../../dns/wire/ede.ts";
import { generateSigningKey } from "../../dns/dnssec/crypto.ts";
import { toBase64 } from "../../dns/wire/dnssec_rdata.ts";
import { signZone } from "../../dns/dnssec/signer.ts";
import { hasCommand, runCommand, runScript } from "../_helpers.ts";
import { startValidatingUnbound as startUnbound } from "../_unbound_validator.ts";
import type { Nsec3Options } from "../../dns/dnssec/signer.ts";

const ZONES = new URL("../../dns/zones/", import.meta.url).pathname;

/** An unsigned child of cnblogs.com.: the mini-Internet delegates sub. without a DS. */
const SUB_ZONE = `$ORIGIN sub.cnblogs.com.
@   600 IN SOA ns hostmaster 1 3600 900 604800 300
@   600 IN NS  ns
ns  600 IN A   127.0.0.8
www 600 IN A   127.0.0.9
`;

interface World {
  zones: Zone[];
  anchorText: string;
}

/** The mini-Internet signed in memory (plus the unsigned sub. zone), optionally broken. */
async function signedWorld(
  options: { breakWith?: Breakage; nsec3?: Nsec3Options } = {},
): Promise<World> {
  const dir = await Deno.makeTempDir({ prefix: "netlab-world-" });
  try {
    const signed = await signMiniInternet(
      MINI_ZONES.map((z) => ({ zone: z.zone, path: `${ZONES}${z.file}` })),
      dir,
      options,
    );
    const zones = await Promise.all(
      Object.values(signed.files).map(async (f) => parseZone(await Deno.readTextFile(f))),
    );
    zones.push(parseZone(SUB_ZONE));
    return { zones, anchorText: await Deno.readTextFile(signed.anchorFile) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A fetch that answers like a recursive resolver with CD=1 over `zones` (DS from the parent). */
function worldFetch(zones: Zone[]): Fetch {
  const servers = zones.map((z) => ({ origin: z.origin, authority: new Authority([z]) }));
  return (name, type) => {
    const candidates = servers.filter((s) =>
      isSubdomain(name, s.origin) &&
      !(type === TYPE.DS && name !== "." && nameKey(name) === nameKey(s.origin))
    );
    candidates.sort((a, b) => b.origin.length - a.origin.length);
    const best = candidates[0];
    const answer = best.authority.answer({ name: normalizeName(name), type, class: 1 }, {
      dnssec: true,
    });
    return Promise.resolve({
      rcode: answer.rcode,
      answers: answer.answers,
      authorities: answer.authorities,
      zone: best.origin,
    });
  };
}

async function judge(world: World, name: string, type: number): Promise<Validation> {
  const fetch = worldFetch(world.zones);
  const validator = new Validator(fetch, { anchors: [parseTrustAnchor(world.anchorText)] });
  return await validator.validate(normalizeName(name), type, await fetch(name, type));
}

const SECURE_QUESTIONS: [string, number][] = [
  ["www.cnblogs.com", TYPE.A],
  ["www.cnblogs.com", TYPE.AAAA],
  ["web.cnblogs.com", TYPE.A], // CNAME
  ["cnblogs.com", TYPE.MX],
  ["nope.cnblogs.com", TYPE.A], // NXDOMAIN
  ["a.b.nope.cnblogs.com", TYPE.A],
  ["www.cnblogs.com", TYPE.TXT], // NODATA
  ["ent.cnblogs.com", TYPE.A], // empty non-terminal
  ["any.wild.cnblogs.com", TYPE.TXT], // wildcard
  ["any.wild.cnblogs.com", TYPE.A], // wildcard NODATA
  ["nope.com", TYPE.A], // NXDOMAIN in com.
  ["com", TYPE.DNSKEY],
];

for (const [label, nsec3] of [["NSEC", undefined], ["NSEC3", { iterations: 1 }]] as const) {
  Deno.test(`validator (${label}): the signed mini-Internet is Secure, sub. is Insecure`, async () => {
    const world = await signedWorld({ nsec3 });
    for (const [name, type] of SECURE_QUESTIONS) {
      const v = await judge(world, name, type);
      assert.equal(v.verdict, "secure", `${name} ${type}: ${v.reason}`);
      assert.ok(v.steps.length >= 3, `${name}: ${v.steps.join("\n")}`);
    }
    const www = await judge(world, "www.cnblogs.com", TYPE.A);
    assert.match(
      www.steps[0],
      /^\. DNSKEY: key \d+ \(ECDSAP256SHA256\) matches DS \d+ 13 2 of the trust anchor/,
    );
    assert.match(www.steps[1], /^com\. DS \(DS \d+ 13 2\): signed by \. key \d+; com\. DNSKEY/);
    assert.match(
      www.steps[3],
      /^www\.cnblogs\.com\. A \(1 record\): signed by cnblogs\.com\. key \d+/,
    );
    const wild = await judge(world, "any.wild.cnblogs.com", TYPE.TXT);
    assert.match(wild.steps.at(-1)!, /expanded from \*\.wild\.cnblogs\.com\./);
    for (const name of ["www.sub.cnblogs.com", "nope.sub.cnblogs.com"]) {
      const v = await judge(world, name, TYPE.A);
      assert.equal(v.verdict, "insecure", `${name}: ${v.reason}`);
      assert.match(v.reason!, /cnblogs\.com\. proves sub\.cnblogs\.com\. has no DS/);
    }
  });
}

Deno.test("validator: an opt-out NSEC3 proves an insecure delegation", async () => {
  const world = await signedWorld({ nsec3: { optOut: true } });
  const v = await judge(world, "www.sub.cnblogs.com", TYPE.A);
  assert.equal(v.verdict, "insecure", v.reason);
  assert.match(v.reason!, /NSEC3 opt-out/);
  assert.equal((await judge(world, "www.cnblogs.com", TYPE.A)).verdict, "secure");
});

const BROKEN: [Breakage, number, RegExp][] = [
  [
    "flip",
    EDE.DNSSEC_BOGUS,
    /^www\.cnblogs\.com\. A: RRSIG A by cnblogs\.com\. key \d+ does not verify/,
  ],
  ["expired", EDE.SIGNATURE_EXPIRED, /^cnblogs\.com\. DNSKEY: RRSIG DNSKEY by .* expired at/],
  ["no-ds", EDE.DNSSEC_BOGUS, /^the NSEC at cnblogs\.com\. says it has a DS, but no DS was given/],
];

for (const [breakage, ede, reason] of BROKEN) {
  Deno.test(`validator: --break ${breakage} is Bogus with EDE ${ede} and its reason`, async () => {
    const world = await signedWorld({ breakWith: breakage });
    const v = await judge(world, "www.cnblogs.com", TYPE.A);
    assert.equal(v.verdict, "bogus");
    assert.equal(v.ede, ede);
    assert.match(v.reason!, reason);
    // Names outside the broken zone still validate.
    assert.equal((await judge(world, "nope.com", TYPE.A)).verdict, "secure");
  });
}

Deno.test("validator: stripped signatures, a wrong anchor, a forged NXDOMAIN are Bogus", async () => {
  const world = await signedWorld();
  const cnblogs = world.zones.find((z) => z.origin === "cnblogs.com.")!;
  // The RRSIG over www A removed.
  const stripped = {
    ...world,
    zones: world.zones.map((z) =>
      z !== cnblogs ? z : {
        ...z,
        records: z.records.filter((rr) =>
          !(rr.name === "www.cnblogs.com." && rr.data.kind === "RRSIG" &&
            rr.data.typeCovered === TYPE.A)
        ),
      }
    ),
  };
  const noSig = await judge(stripped, "www.cnblogs.com", TYPE.A);
  assert.equal(noSig.ede, EDE.RRSIGS_MISSING);
  assert.match(
    noSig.reason!,
    /^www\.cnblogs\.com\. A has no RRSIG \(zone cnblogs\.com\. is signed\)/,
  );
  // Someone else's root key.
  const other = await generateSigningKey(".", 13, { ksk: true });
  const wrongAnchor = `. 3600 IN DNSKEY 257 3 13 ${toBase64(other.dnskey.publicKey)}`;
  const wrong = await judge({ ...world, anchorText: wrongAnchor }, "www.cnblogs.com", TYPE.A);
  assert.equal(wrong.ede, EDE.DNSKEY_MISSING);
  assert.match(wrong.reason!, /^no DNSKEY of \. matches its trust anchor/);
  // An NXDOMAIN whose NSEC proof was left out.
  const fetch = worldFetch(world.zones);
  const nx = await fetch("nope.cnblogs.com", TYPE.A);
  const validator = new Validator(fetch, { anchors: [parseTrustAnchor(world.anchorText)] });
  const forged = await validator.validate("nope.cnblogs.com.", TYPE.A, {
    ...nx,
    authorities: nx.authorities.filter((rr) => rr.type !== TYPE.NSEC),
  });
  assert.equal(forged.ede, EDE.NSEC_MISSING);
  assert.match(forged.reason!, /^no NSEC proves that nope\.cnblogs\.com\. does not exist/);
  // The NSEC that covers the name is there, the one denying the wildcard is not.
  const noWildcardProof = await validator.validate("nope.cnblogs.com.", TYPE.A, {
    ...nx,
    authorities: nx.authorities.filter((rr) =>
      !(rr.name === "cnblogs.com." && (rr.type === TYPE.NSEC ||
        rr.data.kind === "RRSIG" && rr.data.typeCovered === TYPE.NSEC))
    ),
  });
  assert.equal(noWildcardProof.ede, EDE.NSEC_MISSING);
  assert.match(noWildcardProof.reason!, /^no NSEC proves that \*\.cnblogs\.com\. does not exist/);
  // A real name claimed not to exist: the NSEC chain contradicts it.
  const www = await fetch("www.cnblogs.com", TYPE.TXT);
  const lie = await validator.validate("www.cnblogs.com.", TYPE.TXT, { ...www, rcode: 3 });
  assert.equal(lie.verdict, "bogus");
});

Deno.test("verifyRRset: the validity window is checked in serial arithmetic", async () => {
  const zone = parseZone(await Deno.readTextFile(`${ZONES}cnblogs.com.zone`));
  const key = await generateSigningKey("cnblogs.com.", 13);
  const inception = 2_000_000_000;
  const expiration = inception + 86400;
  const { zone: signed } = await signZone(zone, [key], { inception, expiration });
  const a = signed.records.filter((rr) => rr.name === "www.cnblogs.com." && rr.type === TYPE.A);
  const keys = { zone: "cnblogs.com.", keys: [key.dnskey] };
  await verifyRRset(a, signed.records, keys, inception + 10);
  await assert.rejects(
    () => verifyRRset(a, signed.records, keys, expiration + 1),
    (e: Error & { ede?: number }) =>
      e.ede === EDE.SIGNATURE_EXPIRED && /expired at 2033-05-19 03:33:20 UTC/.test(e.message),
  );
  await assert.rejects(
    () => verifyRRset(a, signed.records, keys, inception - 1),
    (e: Error & { ede?: number }) =>
      e.ede === EDE.SIGNATURE_NOT_YET_VALID && /is not valid before 2033-05-18/.test(e.message),
  );
  const otherKey = await generateSigningKey("cnblogs.com.", 13);
  await assert.rejects(
    () =>
      verifyRRset(a, signed.records, { zone: "cnblogs.com.", keys: [otherKey.dnskey] }, inception),
    (e: Error & { ede?: number }) => e.ede === EDE.DNSKEY_MISSING,
  );
});

Deno.test("EDE: encoded in OPT, read back, printed like dig; servfailFor carries it", () => {
  const option = edeOption(EDE.SIGNATURE_EXPIRED, "RRSIG A expired");
  assert.deepEqual(readEde([option]), [{ code: 7, text: "RRSIG A expired" }]);
  assert.equal(formatEde(readEde([option])[0]), "7 (Signature Expired): (RRSIG A expired)");
  assert.deepEqual(readEde([{ code: 15, data: new Uint8Array([0]) }]), []);
  assert.throws(() => edeOption(70000), /Invalid EDE info code "70000"/);
  const query = makeQuery("www.cnblogs.com", TYPE.A, { id: 99, edns: { dnssecOk: true } });
  const reply = decodeMessage(
    encodeMessage(servfailFor(query, {
      verdict: "bogus",
      reason: "www.cnblogs.com. A: RRSIG A does not verify",
      ede: EDE.DNSSEC_BOGUS,
      steps: [],
    })),
  );
  assert.equal(reply.flags.rcode, 2);
  assert.equal(reply.id, 99);
  const ede = readEde(getEdns(reply)!.options);
  assert.deepEqual(ede, [{ code: 6, text: "www.cnblogs.com. A: RRSIG A does not verify" }]);
});

// ---------------------------------------------------------------------------------------------
// End to end: the mini-Internet's real servers, our resolver, query.ts, and unbound/delv.

Deno.test("ValidatingResolver on the signed mini-Internet; query.ts +trace +validate", async () => {
  await using net = await startMiniInternet({ port: 0, dnssec: true });
  const anchor = parseTrustAnchor(await Deno.readTextFile(net.dnssec!.anchorFile));
  const resolver = new ValidatingResolver({
    roots: net.roots,
    port: net.port,
    anchors: [anchor],
    timeoutMs: 2000,
    tries: 2,
  });
  // The second www A comes from the resolver's cache, its RRSIG with it (cached per type, so
  // the AAAA in between does not push it out).
  const questions = [
    ["www.cnblogs.com", TYPE.A],
    ["www.cnblogs.com", TYPE.AAAA],
    ["www.cnblogs.com", TYPE.A],
    ["nope.cnblogs.com", TYPE.A],
  ] as const;
  for (const [name, type] of questions) {
    const { validation } = await resolver.resolve(name, type);
    assert.equal(validation.verdict, "secure", `${name} ${type}: ${validation.reason}`);
  }
  const args = ["+validate", "--trust-anchor", net.dnssec!.anchorFile, "--root", net.roots[0]];
  const trace = await runScript("dns/query.ts", [
    "+trace",
    ...args,
    "-p",
    String(net.port),
    "www.cnblogs.com",
  ]);
  assert.equal(trace.code, 0, trace.stderr);
  assert.match(trace.stdout, /;; Chain of trust:\n;; {3}\. DNSKEY: key \d+/);
  assert.match(trace.stdout, /;; {3}cnblogs\.com\. DS \(DS \d+ 13 2\): signed by com\. key \d+/);
  assert.match(trace.stdout, /\n; fully validated\n/);
  const plain = await runScript("dns/query.ts", [
    ...args,
    "-p",
    String(net.port),
    "web.cnblogs.com",
  ]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /; fully validated/);
  const json = await runScript("dns/query.ts", [
    ...args,
    "-p",
    String(net.port),
    "--json",
    "nope.cnblogs.com",
  ]);
  assert.equal(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout);
  assert.equal(parsed.validation.verdict, "secure");
  assert.match(parsed.validation.steps.at(-1), /^NXDOMAIN for nope\.cnblogs\.com\. A: /);
  const badAnchor = await runScript("dns/query.ts", [
    "+validate",
    "--trust-anchor",
    "/nonexistent",
    "--root",
    net.roots[0],
    "www.cnblogs.com",
  ]);
  assert.equal(badAnchor.code, 1);
  assert.match(badAnchor.stderr, /^error: Cannot use trust anchor "\/nonexistent": /);
});

Deno.test("query.ts +validate exits 12 with the reason when the chain is broken", async () => {
  await using net = await startMiniInternet({ port: 0, dnssec: true, breakWith: "flip" });
  const r = await runScript("dns/query.ts", [
    "+validate",
    "--trust-anchor",
    net.dnssec!.anchorFile,
    "--root",
    net.roots[0],
    "-p",
    String(net.port),
    "www.cnblogs.com",
  ]);
  assert.equal(r.code, 12, r.stderr);
  assert.match(
    r.stdout,
    /;; validation failed: bogus: www\.cnblogs\.com\. A: RRSIG A by cnblogs\.com\. key \d+ does not verify/,
  );
});

Deno.test({
  name: "interop: unbound and delv reach the same verdicts as our validator",
  ignore: !hasCommand("unbound") || !hasCommand("dig") || !hasCommand("delv"),
  async fn() {
    for (const breakage of [undefined, "flip", "expired", "no-ds"] as const) {
      await using net = await startMiniInternet({ port: 0, dnssec: true, breakWith: breakage });
      const d = net.dnssec!;
      await using unbound = await startUnbound(net.port, d.anchorFile);
      const dig = await runCommand("dig", [
        "@127.0.0.1",
        "-p",
        String(unbound.port),
        "+dnssec",
        "www.cnblogs.com",
      ]);
      const status = /status: (\w+)/.exec(dig.stdout)?.[1];
      const ad = /;; flags:[^;]* ad[ ;]/.test(dig.stdout);
      const ours = await new ValidatingResolver({
        roots: net.roots,
        port: net.port,
        anchors: [parseTrustAnchor(await Deno.readTextFile(d.anchorFile))],
      }).resolve("www.cnblogs.com", TYPE.A);
      if (breakage === undefined) {
        assert.equal(status, "NOERROR", dig.stdout + unbound.log());
        assert.ok(ad, "unbound sets AD");
        assert.equal(ours.validation.verdict, "secure");
        const delv = await runCommand("delv", [
          "-a",
          d.bindAnchorFile,
          "@127.0.0.1",
          "-p",
          String(unbound.port),
          "www.cnblogs.com",
        ]);
        assert.match(delv.stdout + delv.stderr, /; fully validated/);
      } else {
        assert.equal(status, "SERVFAIL", `${breakage}: ${dig.stdout}`);
        assert.equal(ours.validation.verdict, "bogus", breakage);
      }
    }
  },
});

Deno.test("validator: a DS vouched for by a zone below it is Bogus, not a loop; concurrent validations share the work", async () => {
  const world = await signedWorld();
  const fetch = worldFetch(world.zones);
  const anchors = [parseTrustAnchor(world.anchorText)];
  // cnblogs.com.'s DS "signed" by x.cnblogs.com., whose DS is "signed" by cnblogs.com.: a
  // validator following signers would wait on itself for ever.
  const crossed: Fetch = async (name, type) => {
    const got = await fetch(name, type);
    if (type !== TYPE.DS || !/cnblogs\.com\.?$/.test(name)) return got;
    const signer = nameKey(name) === "cnblogs.com." ? "x.cnblogs.com." : "cnblogs.com.";
    const answers = got.answers.map((rr) =>
      rr.data.kind === "RRSIG" ? { ...rr, data: { ...rr.data, signerName: signer } } : rr
    );
    return { ...got, answers };
  };
  const validator = new Validator(crossed, { anchors });
  const www = await fetch("www.cnblogs.com", TYPE.A);
  const v = await validator.validate("www.cnblogs.com.", TYPE.A, www);
  assert.equal(v.verdict, "bogus");
  assert.match(
    v.reason!,
    /^the DS of cnblogs\.com\. came signed by x\.cnblogs\.com\., which is not above it/,
  );
  // Ten validations at once: each zone's keys are fetched once.
  const asked: string[] = [];
  const counting = new Validator((name, type) => {
    asked.push(`${name} ${type}`);
    return fetch(name, type);
  }, { anchors });
  const verdicts = await Promise.all(
    Array.from({ length: 10 }, () => counting.validate("www.cnblogs.com.", TYPE.A, www)),
  );
  assert.ok(verdicts.every((x) => x.verdict === "secure"));
  assert.equal(asked.filter((q) => q.endsWith(` ${TYPE.DNSKEY}`)).length, 3, asked.join("\n"));
  // The chain is told by the validation that built it, not by the nine that shared it.
  assert.equal(verdicts.filter((x) => x.steps.length > 1).length, 1);
});
