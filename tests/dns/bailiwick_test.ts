/**
 * dns/resolver/bailiwick.ts: what a reply from a server for zone Z may teach a resolver. Every rejection
 * path says why; forged and malicious replies teach nothing outside Z.
 */
import assert from "node:assert/strict";
import {
  ancestors,
  inBailiwick,
  labelCount,
  lastLabels,
  parentName,
} from "../../dns/wire/names.ts";
import { checkReply } from "../../dns/resolver/bailiwick.ts";
import { makeQuery, type Message } from "../../dns/wire/message.ts";
import { RCODE, TYPE } from "../../dns/wire/constants.ts";
import { TRUST } from "../../dns/resolver/cache.ts";
import { a, cname, ns, response, rr, soa, txt } from "../_fake_dns.ts";

const ZONE = "cnblogs.com.";

function reply(name: string, type: number, parts: Parameters<typeof response>[1]): Message {
  return response(makeQuery(name, type), parts);
}

Deno.test("inBailiwick compares label by label: an escaped dot is not a label boundary", () => {
  const table: [string, string, boolean][] = [
    ["www.cnblogs.com.", "cnblogs.com.", true],
    ["WWW.CNBLOGS.COM.", "cnblogs.com.", true],
    ["cnblogs.com.", "cnblogs.com.", true],
    ["anything.", ".", true],
    ["com.", "cnblogs.com.", false],
    ["bank.com.", "cnblogs.com.", false],
    ["evilcnblogs.com.", "cnblogs.com.", false],
    ["evil\\.cnblogs.com.", "cnblogs.com.", false], // one label "evil.cnblogs" under com.
    ["x\\\\.cnblogs.com.", "cnblogs.com.", true], // "x\" then a real dot
  ];
  for (const [name, zone, expected] of table) {
    assert.equal(inBailiwick(name, zone), expected, `${name} in ${zone}`);
  }
  assert.equal(parentName("evil\\.cnblogs.com."), "com.");
  assert.deepEqual(ancestors("www.cnblogs.com."), [
    "www.cnblogs.com.",
    "cnblogs.com.",
    "com.",
    ".",
  ]);
  assert.equal(labelCount("a.b\\.c.d."), 3);
  assert.equal(lastLabels("n1.wild.cnblogs.com.", 3), "wild.cnblogs.com.");
});

Deno.test("checkReply takes an authoritative answer and trusts it most", () => {
  const checked = checkReply(
    reply("www.cnblogs.com.", TYPE.A, { aa: true, answers: [a("www.cnblogs.com.", "127.0.0.5")] }),
    { name: "www.cnblogs.com.", type: TYPE.A },
    ZONE,
  );
  assert.equal(checked.kind, "answer");
  assert.deepEqual(checked.answer.map((set) => set.records[0].data), [{
    kind: "A",
    address: "127.0.0.5",
  }]);
  assert.equal(checked.rrsets[0].trust, TRUST.AUTHORITATIVE_ANSWER);
  assert.deepEqual(checked.dropped, []);
});

Deno.test("checkReply drops poison: out-of-bailiwick answers, authority and glue", () => {
  const poisoned = reply("www.cnblogs.com.", TYPE.A, {
    aa: true,
    answers: [a("www.cnblogs.com.", "127.0.0.5"), a("bank.com.", "6.6.6.6")],
    authorities: [ns("com.", "ns.evil.test."), ns(ZONE, "ns1.cnblogs.com.")],
    additionals: [a("ns.evil.test.", "6.6.6.6"), a("ns1.cnblogs.com.", "127.0.0.4")],
  });
  const checked = checkReply(poisoned, { name: "www.cnblogs.com.", type: TYPE.A }, ZONE);
  assert.equal(checked.kind, "answer");
  const kept = checked.rrsets.map((item) => `${item.rrset.name} ${item.rrset.type}`);
  assert.deepEqual(kept, ["www.cnblogs.com. 1", "cnblogs.com. 2", "ns1.cnblogs.com. 1"]);
  const reasons = checked.dropped.map((d) => `${d.record.name} ${d.reason}`);
  assert.deepEqual(reasons, [
    `bank.com. bank.com. is outside "cnblogs.com." (out of bailiwick)`,
    `com. com. is outside "cnblogs.com." (out of bailiwick)`,
    "ns.evil.test. not an address of a name server named here",
  ]);
});

Deno.test("checkReply follows a referral downwards only, with glue inside the referring zone", () => {
  const referral = reply("www.cnblogs.com.", TYPE.A, {
    authorities: [ns(ZONE, "ns1.cnblogs.com."), ns(ZONE, "ns.other.net.")],
    additionals: [a("ns1.cnblogs.com.", "127.0.0.4"), a("ns.other.net.", "6.6.6.6")],
  });
  const checked = checkReply(referral, { name: "www.cnblogs.com.", type: TYPE.A }, "com.");
  assert.equal(checked.kind, "referral");
  assert.equal(checked.referral?.zone, ZONE);
  assert.deepEqual(checked.referral?.glue.map((set) => set.name), ["ns1.cnblogs.com."]);
  assert.equal(checked.rrsets.find((i) => i.rrset.type === TYPE.NS)?.trust, TRUST.AUTHORITY);
  assert.match(checked.dropped[0].reason, /glue for ns\.other\.net\., which is outside "com\."/);

  for (
    const [zone, referredTo, why] of [
      [
        ZONE,
        "com.",
        /a referral to "com\.", which is not below "cnblogs\.com\." \(lame delegation\)/,
      ],
      [ZONE, ZONE, /a referral to "cnblogs\.com\.", which is not below "cnblogs\.com\."/],
      [
        "com.",
        "other.com.",
        /a referral to "other\.com\.", which is not on the way to www\.cnblogs/,
      ],
    ] as const
  ) {
    const lame = checkReply(
      reply("www.cnblogs.com.", TYPE.A, { authorities: [ns(referredTo, "ns.x.")] }),
      { name: "www.cnblogs.com.", type: TYPE.A },
      zone,
    );
    assert.equal(lame.kind, "lame", `${zone} → ${referredTo}`);
    assert.match(lame.problem!, why);
    assert.deepEqual(lame.rrsets, [], "a lame reply teaches nothing");
  }
});

Deno.test("checkReply: NXDOMAIN and NODATA with the zone's SOA; error rcodes are lame", () => {
  const nx = checkReply(
    reply("nope.cnblogs.com.", TYPE.A, {
      aa: true,
      rcode: RCODE.NXDOMAIN,
      authorities: [soa(ZONE)],
    }),
    { name: "nope.cnblogs.com.", type: TYPE.A },
    ZONE,
  );
  assert.equal(nx.kind, "nxdomain");
  assert.equal(nx.soa?.name, ZONE);
  const nodata = checkReply(
    reply("ent.cnblogs.com.", TYPE.A, { aa: true, authorities: [soa(ZONE)] }),
    { name: "ent.cnblogs.com.", type: TYPE.A },
    ZONE,
  );
  assert.equal(nodata.kind, "nodata");
  // A SOA for another zone says nothing about this name.
  const foreign = checkReply(
    reply("x.cnblogs.com.", TYPE.A, { rcode: RCODE.NXDOMAIN, authorities: [soa("bank.com.")] }),
    { name: "x.cnblogs.com.", type: TYPE.A },
    ZONE,
  );
  assert.equal(foreign.soa, undefined);
  for (const rcode of [RCODE.SERVFAIL, RCODE.REFUSED, RCODE.FORMERR, RCODE.NOTIMP]) {
    const lame = checkReply(reply("x.cnblogs.com.", TYPE.A, { rcode }), {
      name: "x.cnblogs.com.",
      type: TYPE.A,
    }, ZONE);
    assert.equal(lame.kind, "lame");
    assert.match(lame.problem!, /^the server answered (SERVFAIL|REFUSED|FORMERR|NOTIMP)$/);
  }
  const empty = checkReply(reply("x.cnblogs.com.", TYPE.A, {}), {
    name: "x.cnblogs.com.",
    type: TYPE.A,
  }, ZONE);
  assert.equal(empty.kind, "lame");
  assert.equal(empty.problem, "an empty non-authoritative reply");
});

Deno.test("checkReply follows CNAMEs inside the zone and stops where the chain leaves it", () => {
  const inZone = checkReply(
    reply("web.cnblogs.com.", TYPE.A, {
      aa: true,
      answers: [cname("web.cnblogs.com.", "www.cnblogs.com."), a("www.cnblogs.com.", "127.0.0.5")],
    }),
    { name: "web.cnblogs.com.", type: TYPE.A },
    ZONE,
  );
  assert.equal(inZone.kind, "answer");
  assert.equal(inZone.answer.length, 2);
  // Out of the zone: the server may not say what bank.com. is, so the target is asked again.
  const leaving = checkReply(
    reply("web.cnblogs.com.", TYPE.A, {
      aa: true,
      answers: [cname("web.cnblogs.com.", "www.bank.com."), a("www.bank.com.", "6.6.6.6")],
    }),
    { name: "web.cnblogs.com.", type: TYPE.A },
    ZONE,
  );
  assert.equal(leaving.kind, "cname");
  assert.equal(leaving.target, "www.bank.com.");
  assert.deepEqual(leaving.answer.map((set) => set.type), [TYPE.CNAME]);
  assert.match(leaving.dropped[0].reason, /out of bailiwick/);
  // A CNAME loop inside one reply ends the chain.
  const loop = checkReply(
    reply("l1.cnblogs.com.", TYPE.A, {
      aa: true,
      answers: [
        cname("l1.cnblogs.com.", "l2.cnblogs.com."),
        cname("l2.cnblogs.com.", "l1.cnblogs.com."),
      ],
    }),
    { name: "l1.cnblogs.com.", type: TYPE.A },
    ZONE,
  );
  assert.equal(loop.kind, "cname");
  assert.equal(loop.answer.length, 2);
});

Deno.test("checkReply groups RRSIGs with the RRset they cover and drops other classes", () => {
  const sig = rr("www.cnblogs.com.", 300, {
    kind: "UNKNOWN",
    bytes: new Uint8Array([0, 1, 8, 3, 0, 0, 1, 44]),
  }, 46);
  const chaos = { ...a("www.cnblogs.com.", "127.0.0.9"), class: 3 };
  const checked = checkReply(
    reply("www.cnblogs.com.", TYPE.A, {
      aa: true,
      answers: [a("www.cnblogs.com.", "127.0.0.5"), sig, chaos],
    }),
    { name: "www.cnblogs.com.", type: TYPE.A },
    ZONE,
  );
  assert.equal(checked.answer[0].signatures.length, 1);
  assert.deepEqual(checked.dropped.map((d) => d.reason), ["class 3 is not IN"]);
});

/** An RRSIG over `type` at `owner`, signed by `signer` (the signature bytes are not checked here). */
function rrsig(owner: string, type: number, signer: string, labels = 3): ReturnType<typeof rr> {
  return rr(owner, 300, {
    kind: "RRSIG",
    typeCovered: type,
    algorithm: 13,
    labels,
    originalTtl: 300,
    expiration: 1_900_000_000,
    inception: 1_700_000_000,
    keyTag: 1,
    signerName: signer,
    signature: new Uint8Array(64),
  }, TYPE.RRSIG);
}

const nsec = (owner: string, next: string, types: number[]) =>
  rr(owner, 300, { kind: "NSEC", nextName: next, types }, TYPE.NSEC);

Deno.test("checkReply keeps the zone's NSEC proofs of a no, a wildcard and a referral's DS — nothing outside the zone", () => {
  const nx = checkReply(
    reply("nope.cnblogs.com.", TYPE.A, {
      aa: true,
      rcode: RCODE.NXDOMAIN,
      authorities: [
        soa(ZONE),
        rrsig(ZONE, TYPE.SOA, ZONE, 2),
        nsec("mail.cnblogs.com.", "ns1.cnblogs.com.", [TYPE.A]),
        rrsig("mail.cnblogs.com.", TYPE.NSEC, ZONE),
        nsec("bank.com.", "zzz.com.", [TYPE.NS]), // another zone's: no proof of ours
        rr("q9bd3k6pqsbhm1ogi1nh8bqd6n5k3m1r.cnblogs.com.", 300, {
          kind: "NSEC3",
          hashAlgorithm: 1,
          flags: 0,
          iterations: 0,
          salt: new Uint8Array(),
          nextHashed: new Uint8Array(20),
          types: [TYPE.A],
        }, TYPE.NSEC3),
      ],
    }),
    { name: "nope.cnblogs.com.", type: TYPE.A },
    ZONE,
  );
  assert.equal(nx.kind, "nxdomain");
  assert.equal(nx.soa?.signatures.length, 1);
  assert.deepEqual(nx.proofs.map((set) => [set.name, set.signatures.length]), [
    ["mail.cnblogs.com.", 1],
    ["q9bd3k6pqsbhm1ogi1nh8bqd6n5k3m1r.cnblogs.com.", 0],
  ]);
  assert.deepEqual(nx.dropped.map((d) => d.record.name), ["bank.com."]);
  // A wildcard answer: the NSEC that no closer name exists travels with it.
  const wild = checkReply(
    reply("any.wild.cnblogs.com.", TYPE.TXT, {
      aa: true,
      answers: [txt("any.wild.cnblogs.com.", "w"), rrsig("any.wild.cnblogs.com.", TYPE.TXT, ZONE)],
      authorities: [nsec("_http._tcp.cnblogs.com.", "x.ent.cnblogs.com.", [TYPE.SRV])],
    }),
    { name: "any.wild.cnblogs.com.", type: TYPE.TXT },
    ZONE,
  );
  assert.equal(wild.kind, "answer");
  assert.equal(wild.proofs.length, 1);
  assert.deepEqual(wild.dropped, []);
  // A referral: the child's DS is the parent's own signed data, kept as answer-grade.
  const ds = rr("cnblogs.com.", 86400, {
    kind: "DS",
    keyTag: 1,
    algorithm: 13,
    digestType: 2,
    digest: new Uint8Array(32),
  }, TYPE.DS);
  const referral = checkReply(
    reply("www.cnblogs.com.", TYPE.A, {
      authorities: [ns(ZONE, "ns1.cnblogs.com."), ds, rrsig(ZONE, TYPE.DS, "com.", 2)],
      additionals: [a("ns1.cnblogs.com.", "127.0.0.4")],
    }),
    { name: "www.cnblogs.com.", type: TYPE.A },
    "com.",
  );
  assert.equal(referral.kind, "referral");
  const learnt = referral.rrsets.find((item) => item.rrset.type === TYPE.DS);
  assert.equal(learnt?.trust, TRUST.ANSWER);
  assert.equal(learnt?.rrset.signatures.length, 1);
  assert.deepEqual(referral.dropped, []);
});
