/**
 * The local DNS server's caches (dns/resolver/cache.ts) with an injected clock — TTLs count down and run
 * out without a single sleep — and the smoothed-RTT server choice (dns/resolver/server_selection.ts).
 */
import assert from "node:assert/strict";
import { RecordCache, type RRset, TRUST } from "../../dns/resolver/cache.ts";
import { AnswerCache, ttlOffsets } from "../../dns/resolver/answer_cache.ts";
import { decodeMessage, encodeMessage, makeQuery, type Message } from "../../dns/wire/message.ts";
import { RCODE, TYPE } from "../../dns/wire/constants.ts";
import { type ResourceRecord } from "../../dns/wire/rdata.ts";
import { ServerSelection } from "../../dns/resolver/server_selection.ts";
import { a, cname, response, rr, soa, txt } from "../_fake_dns.ts";
import { prng } from "../_prng.ts";

/** A clock the test moves by hand. */
function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

function rrset(records: ResourceRecord[], signatures: ResourceRecord[] = []): RRset {
  return {
    name: records[0].name,
    type: records[0].type,
    class: records[0].class,
    ttl: Math.min(...records.map((r) => r.ttl)),
    records,
    signatures,
  };
}

const ZONE = "cnblogs.com.";

// ---------------------------------------------------------------------------------------------
// RecordCache

Deno.test("RecordCache counts a TTL down with the clock and forgets the RRset when it runs out", () => {
  const clock = fakeClock();
  const cache = new RecordCache({ now: clock.now });
  assert.ok(
    cache.store(rrset([a("www.cnblogs.com.", "127.0.0.5", 600)]), { trust: 5, zone: ZONE }),
  );
  assert.equal(cache.get("www.cnblogs.com.", TYPE.A)?.ttl, 600);
  clock.advance(10_500);
  const later = cache.get("WWW.CnBlogs.com.", TYPE.A); // names are case-insensitive
  assert.equal(later?.ttl, 590);
  assert.deepEqual(later?.records.map((r) => [r.ttl, r.data]), [[590, {
    kind: "A",
    address: "127.0.0.5",
  }]]);
  assert.equal(later?.zone, ZONE);
  clock.advance(589_500);
  assert.equal(cache.get("www.cnblogs.com.", TYPE.A), undefined);
  assert.equal(cache.size, 0);
});

Deno.test("RecordCache caps TTLs at maxTtl and never caches a TTL of 0", () => {
  const cache = new RecordCache({ maxTtl: 60, now: fakeClock().now });
  cache.store(rrset([a("x.test.", "192.0.2.1", 86_400)]), { trust: 5, zone: "test." });
  assert.equal(cache.get("x.test.", TYPE.A)?.ttl, 60);
  assert.equal(
    cache.store(rrset([a("zero.test.", "192.0.2.2", 0)]), { trust: 5, zone: "test." }),
    false,
  );
  assert.equal(cache.get("zero.test.", TYPE.A), undefined);
});

Deno.test("RecordCache: glue never overwrites an answer; an answer replaces glue; stale data is replaced", () => {
  const clock = fakeClock();
  const cache = new RecordCache({ now: clock.now });
  const answer = rrset([a("ns1.cnblogs.com.", "127.0.0.4", 600)]);
  const glue = rrset([a("ns1.cnblogs.com.", "6.6.6.6", 172_800)]);
  assert.ok(cache.store(answer, { trust: TRUST.AUTHORITATIVE_ANSWER, zone: ZONE }));
  assert.equal(cache.store(glue, { trust: TRUST.ADDITIONAL, zone: "com." }), false);
  assert.equal(cache.get("ns1.cnblogs.com.", TYPE.A)?.records[0].data.kind, "A");
  assert.deepEqual(cache.get("ns1.cnblogs.com.", TYPE.A)?.records[0].data, {
    kind: "A",
    address: "127.0.0.4",
  });
  // Only answer-rank data answers a client; glue only shows the way.
  const other = new RecordCache({ now: clock.now });
  other.store(glue, { trust: TRUST.ADDITIONAL, zone: "com." });
  assert.equal(other.get("ns1.cnblogs.com.", TYPE.A, { minTrust: TRUST.ANSWER }), undefined);
  assert.ok(other.get("ns1.cnblogs.com.", TYPE.A));
  assert.ok(other.store(answer, { trust: TRUST.AUTHORITATIVE_ANSWER, zone: ZONE }));
  assert.ok(other.get("ns1.cnblogs.com.", TYPE.A, { minTrust: TRUST.ANSWER }));
  // Once the trusted copy expired, anything may take its place.
  clock.advance(601_000);
  assert.ok(cache.store(glue, { trust: TRUST.ADDITIONAL, zone: "com." }));
});

Deno.test("RecordCache keeps the RRSIGs with the RRset they sign", () => {
  const cache = new RecordCache({ now: fakeClock().now });
  const sig = rr("www.test.", 300, {
    kind: "RRSIG",
    typeCovered: TYPE.A,
    algorithm: 13,
    labels: 2,
    originalTtl: 300,
    expiration: 1_900_000_000,
    inception: 1_700_000_000,
    keyTag: 12345,
    signerName: "test.",
    signature: new Uint8Array(64).fill(7),
  }, 46);
  cache.store(rrset([a("www.test.", "192.0.2.1")], [sig]), { trust: 5, zone: "test." });
  const got = cache.get("www.test.", TYPE.A)!;
  assert.equal(got.signatures.length, 1);
  assert.equal(got.signatures[0].type, 46);
  assert.deepEqual(got.signatures[0].data, sig.data);
});

Deno.test("RecordCache keeps every record type's data intact (round trip through its packed form)", () => {
  const cache = new RecordCache({ now: fakeClock().now });
  const records: ResourceRecord[] = [
    txt("t.test.", 'v=spf1 "quoted"; two'),
    cname("c.test.", "target.test."),
    rr("m.test.", 300, { kind: "MX", preference: 10, exchange: "mail.test." }, TYPE.MX),
    rr("s.test.", 300, { kind: "SRV", priority: 1, weight: 2, port: 80, target: "w.test." }, 33),
    rr("q.test.", 300, { kind: "AAAA", address: "2001:db8::1" }, TYPE.AAAA),
    rr("u.test.", 300, { kind: "UNKNOWN", bytes: new Uint8Array([1, 2, 3]) }, 65280),
    soa("test."),
  ];
  for (const record of records) {
    cache.store(rrset([record]), { trust: 5, zone: "test." });
    assert.deepEqual(cache.get(record.name, record.type)?.records, [record]);
  }
});

Deno.test("RecordCache caches NXDOMAIN for every type and NODATA per type, for the SOA's MINIMUM", () => {
  const clock = fakeClock();
  const cache = new RecordCache({ now: clock.now });
  // SOA TTL 600, MINIMUM 300: the "no" lasts min(600, 300) = 300 s (RFC 2308 §5).
  const zoneSoa = rrset([soa(ZONE, 300, 600)]);
  cache.storeNegative({
    rcode: RCODE.NXDOMAIN,
    name: "nope.cnblogs.com.",
    type: TYPE.A,
    soa: zoneSoa,
    zone: ZONE,
    trust: TRUST.AUTHORITATIVE_AUTHORITY,
  });
  cache.storeNegative({
    rcode: RCODE.NOERROR,
    name: "ent.cnblogs.com.",
    type: TYPE.A,
    soa: zoneSoa,
    zone: ZONE,
    trust: TRUST.AUTHORITATIVE_AUTHORITY,
  });
  const nx = cache.getNegative("nope.cnblogs.com.", TYPE.MX); // another type: still NXDOMAIN
  assert.equal(nx?.rcode, RCODE.NXDOMAIN);
  assert.equal(nx?.ttl, 300);
  assert.equal(nx?.soa.name, ZONE);
  assert.equal(nx?.soa.records[0].ttl, 300);
  assert.equal(cache.getNegative("ent.cnblogs.com.", TYPE.A)?.rcode, RCODE.NOERROR);
  assert.equal(cache.getNegative("ent.cnblogs.com.", TYPE.AAAA), undefined); // NODATA is per type
  clock.advance(100_000);
  assert.equal(cache.getNegative("nope.cnblogs.com.", TYPE.A)?.ttl, 200);
  clock.advance(200_000);
  assert.equal(cache.getNegative("nope.cnblogs.com.", TYPE.A), undefined);
});

Deno.test("RecordCache caps negative answers at maxNegativeTtl and needs a SOA to cache one", () => {
  const cache = new RecordCache({ maxNegativeTtl: 30, now: fakeClock().now });
  cache.storeNegative({
    rcode: RCODE.NXDOMAIN,
    name: "x.test.",
    type: TYPE.A,
    soa: rrset([soa("test.", 86_400, 86_400)]),
    zone: "test.",
    trust: 4,
  });
  assert.equal(cache.getNegative("x.test.", TYPE.A)?.ttl, 30);
  const notSoa = rrset([a("test.", "192.0.2.1")]);
  assert.equal(
    cache.storeNegative({
      rcode: RCODE.NXDOMAIN,
      name: "y.test.",
      type: TYPE.A,
      soa: notSoa,
      zone: "test.",
      trust: 4,
    }),
    false,
  );
});

Deno.test("RecordCache: a positive answer for a name clears its cached NXDOMAIN", () => {
  const cache = new RecordCache({ now: fakeClock().now });
  cache.storeNegative({
    rcode: RCODE.NXDOMAIN,
    name: "new.test.",
    type: TYPE.A,
    soa: rrset([soa("test.")]),
    zone: "test.",
    trust: 4,
  });
  cache.store(rrset([a("new.test.", "192.0.2.9")]), { trust: 5, zone: "test." });
  assert.equal(cache.getNegative("new.test.", TYPE.A), undefined);
  assert.ok(cache.get("new.test.", TYPE.A));
});

Deno.test("RecordCache stays within maxEntries, the oldest entry going first", () => {
  const cache = new RecordCache({ maxEntries: 3, now: fakeClock().now });
  for (const n of ["a", "b", "c"]) {
    cache.store(rrset([a(`${n}.test.`, "192.0.2.1")]), { trust: 5, zone: "test." });
  }
  cache.store(rrset([a("d.test.", "192.0.2.1")]), { trust: 5, zone: "test." });
  assert.equal(cache.size, 3);
  assert.equal(cache.get("a.test.", TYPE.A), undefined, "the first in goes first");
  for (const n of ["b", "c", "d"]) assert.ok(cache.get(`${n}.test.`, TYPE.A), n);
  // Replacing an entry frees its old place: still three.
  cache.store(rrset([a("b.test.", "192.0.2.2")]), { trust: 5, zone: "test." });
  assert.equal(cache.size, 3);
  assert.deepEqual(cache.get("b.test.", TYPE.A)?.records[0].data, {
    kind: "A",
    address: "192.0.2.2",
  });
  for (let i = 0; i < 100; i++) {
    cache.store(rrset([a(`n${i}.test.`, "192.0.2.1")]), { trust: 5, zone: "test." });
    assert.ok(cache.size <= 3);
  }
  assert.ok(cache.get("n99.test.", TYPE.A));
});

Deno.test("RecordCache: seeded random stores, reads and evictions agree with a plain model", () => {
  const random = prng(23);
  const clock = fakeClock();
  const cache = new RecordCache({ maxEntries: 500, now: clock.now });
  const model = new Map<string, string>(); // name/type → address, the last stored
  for (let step = 0; step < 20_000; step++) {
    const name = `h${Math.floor(random() * 300)}.Test.`;
    const type = random() < 0.5 ? TYPE.A : TYPE.AAAA;
    const key = `${name.toLowerCase()}/${type}`;
    if (random() < 0.5) {
      const address = type === TYPE.A
        ? `192.0.2.${step % 250}`
        : `2001:db8::${((step % 999) + 1).toString(16)}`;
      const record = type === TYPE.A
        ? a(name, address)
        : rr(name, 300, { kind: "AAAA", address }, TYPE.AAAA);
      // Big RRsets now and then, so the ring wraps at all sorts of places.
      const records = random() < 0.05 ? Array.from({ length: 40 }, () => record) : [record];
      cache.store(rrset(records), { trust: 5, zone: "test." });
      model.set(key, address);
      assert.ok(cache.get(name.toUpperCase(), type), "just stored, so found in any case");
    } else {
      const got = cache.get(name.toUpperCase(), type);
      if (got) {
        const data = got.records[0].data;
        assert.ok(data.kind === "A" || data.kind === "AAAA");
        assert.equal(data.address, model.get(key), `${key}: a stale or foreign RRset`);
        assert.equal(got.name, name, "the owner as it was stored");
      }
    }
    assert.ok(cache.size <= 500);
  }
});

// ---------------------------------------------------------------------------------------------
// AnswerCache

function encodedReply(
  query: Message,
  answers: ResourceRecord[],
  authorities: ResourceRecord[] = [],
) {
  return encodeMessage(response(query, { answers, authorities }));
}

Deno.test("AnswerCache answers the same query bytes with the new ID and TTLs counted down", () => {
  const clock = fakeClock();
  const cache = new AnswerCache({ now: clock.now });
  const query = makeQuery("www.cnblogs.com", TYPE.A, { id: 1 });
  const queryBytes = encodeMessage(query);
  const reply = encodedReply(query, [a("www.cnblogs.com.", "127.0.0.5", 600)], [soa(ZONE)]);
  cache.store(queryBytes, true, reply);
  const out = new Uint8Array(65535);
  const again = encodeMessage({ ...query, id: 0xbeef });
  let length = cache.lookup(again, true, out);
  assert.equal(length, reply.length);
  let got = decodeMessage(out.subarray(0, length));
  assert.equal(got.id, 0xbeef);
  assert.equal(got.answers[0].ttl, 600);
  clock.advance(10_999);
  length = cache.lookup(again, true, out);
  got = decodeMessage(out.subarray(0, length));
  assert.deepEqual([got.answers[0].ttl, got.authorities[0].ttl], [590, 290]);
  // The shortest TTL (the SOA's 300) ends the entry.
  clock.advance(289_001);
  assert.equal(cache.lookup(again, true, out), -1);
});

Deno.test("AnswerCache keys on the exact bytes and the transport, and answers in place", () => {
  const cache = new AnswerCache({ now: fakeClock().now });
  const query = makeQuery("www.cnblogs.com", TYPE.A, { id: 7 });
  const bytes = encodeMessage(query);
  cache.store(bytes, true, encodedReply(query, [a("www.cnblogs.com.", "127.0.0.5")]));
  const out = new Uint8Array(65535);
  assert.equal(cache.lookup(bytes, false, out), -1, "TCP is another key");
  assert.equal(cache.lookup(encodeMessage(makeQuery("WWW.cnblogs.com", TYPE.A)), true, out), -1);
  assert.equal(
    cache.lookup(encodeMessage({ ...query, flags: { ...query.flags, rd: false } }), true, out),
    -1,
  );
  // The batched UDP loop answers into the very buffer that holds the query.
  const buffer = new Uint8Array(65535);
  buffer.set(encodeMessage({ ...query, id: 0x1234 }));
  const length = cache.lookup(buffer.subarray(0, bytes.length), true, buffer);
  assert.equal(decodeMessage(buffer.subarray(0, length)).id, 0x1234);
});

Deno.test("AnswerCache stores nothing with a TTL of 0 or a malformed reply, and stays bounded", () => {
  const cache = new AnswerCache({ maxEntries: 2, now: fakeClock().now });
  const out = new Uint8Array(65535);
  const q = (name: string) => makeQuery(name, TYPE.A, { id: 1 });
  cache.store(
    encodeMessage(q("zero.test")),
    true,
    encodedReply(q("zero.test"), [a("zero.test.", "192.0.2.1", 0)]),
  );
  assert.equal(cache.size, 0);
  cache.store(
    encodeMessage(q("bad.test")),
    true,
    new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]),
  );
  assert.equal(cache.size, 0);
  for (const name of ["a.test", "b.test", "c.test"]) {
    cache.store(encodeMessage(q(name)), true, encodedReply(q(name), [a(`${name}.`, "192.0.2.1")]));
  }
  assert.equal(cache.size, 2);
  assert.equal(cache.lookup(encodeMessage(q("a.test")), true, out), -1, "the first in goes first");
  assert.ok(cache.lookup(encodeMessage(q("c.test")), true, out) > 0);
});

Deno.test("ttlOffsets finds every TTL but the OPT record's, and rejects malformed messages", () => {
  const query = makeQuery("www.cnblogs.com", TYPE.A);
  const bytes = encodeMessage({
    ...response(query, { answers: [a("www.cnblogs.com.", "127.0.0.5", 0x01020304)] }),
  });
  const offsets = ttlOffsets(bytes)!;
  assert.equal(offsets.length, 1); // the OPT record carried over from the query is skipped
  assert.deepEqual([...bytes.subarray(offsets[0], offsets[0] + 4)], [1, 2, 3, 4]);
  assert.equal(ttlOffsets(bytes.subarray(0, bytes.length - 1)), undefined);
  assert.equal(ttlOffsets(new Uint8Array(11)), undefined);
});

// ---------------------------------------------------------------------------------------------
// ServerSelection

Deno.test("ServerSelection asks the fastest server first and adapts its timeout to the RTT", () => {
  const clock = fakeClock();
  const selection = new ServerSelection({ now: clock.now, random: () => 0.5 });
  const servers = [{ address: "192.0.2.1" }, { address: "192.0.2.2" }, { address: "192.0.2.3" }];
  selection.replied("192.0.2.1", 80);
  selection.replied("192.0.2.2", 5);
  assert.deepEqual(
    selection.order(servers, "test.").map((s) => s.address),
    ["192.0.2.3", "192.0.2.2", "192.0.2.1"], // never measured (a small random guess) comes first
  );
  selection.replied("192.0.2.3", 40);
  assert.deepEqual(selection.order(servers, "test.").map((s) => s.address), [
    "192.0.2.2",
    "192.0.2.3",
    "192.0.2.1",
  ]);
  // The SRTT moves an eighth of the way: 5 → 5 + (13 - 5) / 8 = 6.
  selection.replied("192.0.2.2", 13);
  assert.equal(selection.srtt("192.0.2.2"), 6);
  assert.equal(selection.timeoutMs("unknown"), 1000);
  assert.equal(selection.timeoutMs("192.0.2.2"), 300, "at least the minimum");
});

Deno.test("ServerSelection sinks a server that timed out or was lame, and forgets after a while", () => {
  const clock = fakeClock();
  const selection = new ServerSelection({ now: clock.now, memoryMs: 60_000 });
  const servers = [{ address: "192.0.2.1" }, { address: "192.0.2.2" }];
  selection.replied("192.0.2.1", 1);
  selection.replied("192.0.2.2", 50);
  selection.timedOut("192.0.2.1");
  assert.deepEqual(selection.order(servers, "test.").map((s) => s.address), [
    "192.0.2.2",
    "192.0.2.1",
  ]);
  assert.equal(selection.timeoutMs("192.0.2.1"), 600, "the back-off doubles the wait");
  selection.replied("192.0.2.1", 1); // it answered again: back to the front
  assert.equal(selection.order(servers, "test.")[0].address, "192.0.2.1");
  selection.markLame("test.", "192.0.2.1");
  assert.equal(selection.order(servers, "test.")[0].address, "192.0.2.2");
  assert.equal(selection.order(servers, "other.")[0].address, "192.0.2.1", "lame per zone");
  clock.advance(60_001);
  assert.equal(selection.isLame("test.", "192.0.2.1"), false);
  assert.equal(selection.srtt("192.0.2.1"), undefined);
});

for (const hashBits of [30, 2]) {
  Deno.test(`AnswerCache's ring: seeded random stores and lookups never return another query's reply (${hashBits}-bit hash)`, () => {
    const random = prng(17);
    // With a 2-bit hash nearly every pair of queries collides: only the bytes tell them apart.
    const cache = new AnswerCache({ maxEntries: 40, now: fakeClock().now, hashBits });
    const out = new Uint8Array(65535);
    const stored = new Map<string, Uint8Array>();
    let hits = 0;
    for (let step = 0; step < 5000; step++) {
      const name = `n${Math.floor(random() * 120)}.test`;
      const udp = random() < 0.7;
      const query = makeQuery(name, TYPE.TXT, { id: 1, edns: random() < 0.5 ? {} : false });
      const bytes = encodeMessage(query);
      const key = `${udp}/${[...bytes.subarray(2)].join(",")}`;
      if (random() < 0.4) {
        // Replies of very different sizes, so the ring wraps at all sorts of places.
        const count = random() < 0.1 ? 1 + Math.floor(random() * 8) : 1;
        const answers = Array.from(
          { length: count },
          (_, i) => txt(`${name}.`, `${i}`.padEnd(Math.floor(random() * 200), "x"), 3600),
        );
        const reply = encodeMessage(response(query, { answers }));
        cache.store(bytes, udp, reply);
        stored.set(key, reply);
        const length = cache.lookup(bytes, udp, out);
        assert.deepEqual(out.subarray(0, length), reply, "just stored, so found");
      } else {
        const length = cache.lookup(bytes, udp, out);
        if (length >= 0) {
          hits++;
          assert.deepEqual(out.subarray(0, length), stored.get(key), `wrong reply for ${key}`);
        }
      }
      assert.ok(cache.size <= 40);
    }
    assert.ok(hits > 100, `only ${hits} hits`);
  });
}

Deno.test("RecordCache keeps the NSEC proofs with a negative answer and a wildcard RRset; shorten cuts what is left", () => {
  const clock = fakeClock();
  const cache = new RecordCache({ now: clock.now });
  const proof = rr(
    "mail.test.",
    300,
    { kind: "NSEC", nextName: "ns1.test.", types: [1, 46, 47] },
    47,
  );
  const stored = cache.storeNegative({
    rcode: RCODE.NXDOMAIN,
    name: "nope.test.",
    type: TYPE.A,
    soa: rrset([soa("test.")]),
    zone: "test.",
    trust: TRUST.AUTHORITATIVE_AUTHORITY,
    proofs: [proof],
  });
  assert.ok(stored);
  const nx = cache.getNegative("nope.test.", TYPE.AAAA)!;
  assert.deepEqual(nx.proofs, [{ ...proof, ttl: 60 }]);
  const wild = { ...rrset([txt("any.wild.test.", "w")]), proofs: [proof] };
  cache.store(wild, { trust: TRUST.AUTHORITATIVE_ANSWER, zone: "test." });
  assert.deepEqual(cache.get("any.wild.test.", TYPE.TXT)?.proofs, [proof]);
  // A name no proof was stored with has none.
  cache.store(rrset([a("www.test.", "192.0.2.1")]), { trust: 5, zone: "test." });
  assert.equal(cache.get("www.test.", TYPE.A)?.proofs, undefined);
  // shorten: at most this long any more (never longer than it had).
  cache.shorten("any.wild.test.", TYPE.TXT, 60);
  cache.shorten("www.test.", TYPE.A, 900);
  cache.shorten("nope.test.", TYPE.A, 10);
  assert.equal(cache.get("any.wild.test.", TYPE.TXT)?.ttl, 60);
  assert.equal(cache.get("www.test.", TYPE.A)?.ttl, 300);
  assert.equal(cache.getNegative("nope.test.", TYPE.A)?.ttl, 10);
  clock.advance(61_000);
  assert.equal(cache.get("any.wild.test.", TYPE.TXT), undefined);
  assert.equal(cache.getNegative("nope.test.", TYPE.A), undefined);
  assert.ok(cache.get("www.test.", TYPE.A));
});

Deno.test("AnswerCache keeps a reply without records (a Bogus SERVFAIL) for the TTL it is given", () => {
  const clock = fakeClock();
  const cache = new AnswerCache({ now: clock.now });
  const query = encodeMessage(makeQuery("bogus.test.", TYPE.A, { id: 7 }));
  const servfail = encodeMessage(response(decodeMessage(query), { rcode: RCODE.SERVFAIL }));
  cache.store(query, true, servfail);
  const out = new Uint8Array(65535);
  assert.equal(cache.lookup(query, true, out), -1, "no records, no TTL: not kept");
  cache.store(query, true, servfail, { ttl: 60 });
  const again = encodeMessage(makeQuery("bogus.test.", TYPE.A, { id: 8 }));
  const length = cache.lookup(again, true, out);
  assert.ok(length > 0);
  assert.equal(decodeMessage(out.subarray(0, length)).flags.rcode, RCODE.SERVFAIL);
  assert.equal(decodeMessage(out.subarray(0, length)).id, 8);
  clock.advance(60_000);
  assert.equal(cache.lookup(again, true, out), -1);
});

Deno.test("The caches' cost per name: a signed wildcard answer takes about its wire size in the RecordCache, its reply about its size in the AnswerCache", () => {
  // What a cold name under a signed wildcard leaves behind: the TXT RRset, its RRSIG (ECDSA
  // P-256: a 64-byte signature), and the NSEC that proves no closer name, with its RRSIG.
  const rrsig = (name: string, covered: number, labels: number) =>
    rr(name, 300, {
      kind: "RRSIG",
      typeCovered: covered,
      algorithm: 13,
      labels,
      originalTtl: 300,
      expiration: 2_000_000_000,
      inception: 1_700_000_000,
      keyTag: 12345,
      signerName: "cnblogs.com.",
      signature: new Uint8Array(64).fill(7),
    }, TYPE.RRSIG);
  const nsec = rr("*.wild.cnblogs.com.", 300, {
    kind: "NSEC",
    nextName: "x.ent.cnblogs.com.",
    types: [TYPE.TXT, TYPE.RRSIG, TYPE.NSEC],
  }, TYPE.NSEC);
  const names = 1000;
  const records = new RecordCache();
  const answers = new AnswerCache();
  let replyBytes = 0;
  for (let i = 0; i < names; i++) {
    const name = `memory-${10_000 + i}.wild.cnblogs.com.`;
    const stored = records.store(
      {
        ...rrset([txt(name, "wildcard answer")], [rrsig(name, TYPE.TXT, 3)]),
        proofs: [nsec, rrsig("*.wild.cnblogs.com.", TYPE.NSEC, 3)],
      },
      { trust: TRUST.AUTHORITATIVE_ANSWER, zone: "cnblogs.com." },
    );
    assert.ok(stored);
    const query = encodeMessage(makeQuery(name, TYPE.TXT, { id: i }));
    const reply = encodeMessage(
      response(decodeMessage(query), { answers: [txt(name, "wildcard answer")] }),
    );
    answers.store(query, true, reply);
    replyBytes += reply.length;
  }
  assert.equal(records.size, names);
  assert.equal(answers.size, names);
  // On the wire (uncompressed) that is ~60 + ~140 (RRSIG) + ~50 (NSEC) + ~120 (RRSIG) bytes.
  const perName = records.bytesHeld / names;
  assert.ok(perName > 250 && perName <= 400, `RecordCache: ${perName} bytes per name`);
  const overhead = (answers.bytesHeld - replyBytes) / names;
  assert.ok(
    overhead >= 0 && overhead <= 48,
    `AnswerCache: ${overhead} bytes per name over the reply`,
  );
  // Replaced and evicted entries give their bytes back.
  const small = new RecordCache({ maxEntries: 100 });
  for (let i = 0; i < names; i++) {
    small.store(rrset([txt(`n${i % 300}.wild.cnblogs.com.`, "wildcard answer")]), {
      trust: TRUST.AUTHORITATIVE_ANSWER,
      zone: "cnblogs.com.",
    });
  }
  assert.equal(small.size, 100);
  assert.ok(small.bytesHeld <= 100 * 100, `${small.bytesHeld} bytes for 100 small entries`);
  records.clear();
  answers.clear();
  assert.equal(records.bytesHeld + answers.bytesHeld, 0);
});
