/**
 * dns/authority/response_cache.ts: junk and unusual queries are answered but never stored; the key holds
 * exactly what decides an answer; the cache stays within its entry and byte bounds; and, over a
 * seeded stream of queries, a cached answer is always byte for byte what `respond` would send.
 */
import assert from "node:assert/strict";
import { Authority } from "../../dns/authority/authority.ts";
import { respond } from "../../dns/authority/respond.ts";
import { ENTRY_OVERHEAD, ResponseCache } from "../../dns/authority/response_cache.ts";
import {
  decodeMessage,
  encodeMessage,
  makeQuery,
  type Message,
  type Question,
} from "../../dns/wire/message.ts";
import { TYPE } from "../../dns/wire/constants.ts";
import { prng } from "../_prng.ts";
import { cnblogs, com, hex, root } from "./_authority.ts";

const authority = new Authority([root, com, cnblogs]);

/** What the full path sends for `query`, with the query's id (as the cache returns it). */
function expected(query: Uint8Array, udp: boolean): Uint8Array | null {
  return respond(authority, query, { udp })?.bytes ?? null;
}

/** www.cnblogs.com A IN. */
const QUESTION = "03 777777 07 636e626c6f6773 03 636f6d 00 0001 0001";

Deno.test("junk is answered FORMERR and never stored, however much of it comes", () => {
  const cache = new ResponseCache(authority);
  const random = prng(13);
  for (let i = 0; i < 3000; i++) {
    const junk = new Uint8Array(i % 500 === 0 ? 60_000 : 600);
    for (let j = 0; j < junk.length; j++) junk[j] = random() * 256;
    junk[2] &= 0x07; // a QUERY, so it is answered
    junk[4] = 0; // one question: the junk is in the name
    junk[5] = 1;
    junk[12] = 0xc0; // a pointer forward: never decodable
    const reply = cache.respond(junk, true)!;
    assert.deepEqual([...reply.bytes.subarray(2, 4)], [0x80 | (junk[2] & 1), (junk[3] & 0x10) | 1]);
    assert.equal(reply.bytes.length, 12);
  }
  assert.equal(cache.size, 0);
  assert.equal(cache.bytes, 0);
});

Deno.test("queries outside the plain shape are answered by the full path and not stored", () => {
  const cache = new ResponseCache(authority);
  const unusual: [string, string][] = [
    ["a compressed name", "1234 0100 0001 0000 0000 0000 c00c 0001 0001"],
    [
      "an answer record",
      "1234 0100 0001 0001 0000 0000" + QUESTION + "c00c 0001 0001 00000000 0004 7f000001",
    ],
    [
      "two OPTs",
      "1234 0100 0001 0000 0000 0002" + QUESTION + "00 0029 1000 00000000 0000".repeat(2),
    ],
    [
      "an OPT not owned by the root",
      "1234 0100 0001 0000 0000 0001" + QUESTION + "01 61 00 0029 1000 00000000 0000",
    ],
    [
      "an OPT option running past its rdata",
      "1234 0100 0001 0000 0000 0001" + QUESTION + "00 0029 1000 00000000 0004 000a 0009",
    ],
    [
      "an A record as the additional",
      "1234 0100 0001 0000 0000 0001" + QUESTION + "00 0001 0001 00000000 0004 7f000001",
    ],
    ["trailing bytes", "1234 0100 0001 0000 0000 0000" + QUESTION + "00"],
    [
      "bytes after the OPT",
      "1234 0100 0001 0000 0000 0001" + QUESTION + "00 0029 1000 00000000 0000 00",
    ],
    ["a 65-byte label", "1234 0100 0001 0000 0000 0000 41" + "61".repeat(65) + "00 0001 0001"],
    [
      "a 256-byte name",
      "1234 0100 0001 0000 0000 0000" + ("3f" + "61".repeat(63)).repeat(4) + "00 0001 0001",
    ],
    ["opcode NOTIFY", "1234 2100 0001 0000 0000 0000" + QUESTION],
    ["a response", "1234 8100 0001 0000 0000 0000" + QUESTION],
  ];
  for (const [name, text] of unusual) {
    const query = hex(text);
    for (const udp of [true, false]) {
      assert.deepEqual(cache.respond(query, udp)?.bytes ?? null, expected(query, udp), name);
    }
    assert.equal(cache.size, 0, name);
  }
});

Deno.test("the key is what decides the answer: the question as sent, RD, CD and the EDNS bits", () => {
  const cache = new ResponseCache(authority);
  const variants = [
    "1234 0000 0001 0000 0000 0000" + QUESTION,
    "1234 0100 0001 0000 0000 0000" + QUESTION, // RD
    "1234 0010 0001 0000 0000 0000" + QUESTION, // CD
    "1234 0000 0001 0000 0000 0000" + QUESTION.replace("777777", "575757"), // WWW: echoed as sent
    "1234 0000 0001 0000 0000 0000" + QUESTION.replace("0001 0001", "001c 0001"), // AAAA
    "1234 0000 0001 0000 0000 0001" + QUESTION + "00 0029 1000 00000000 0000", // EDNS
    "1234 0000 0001 0000 0000 0001" + QUESTION + "00 0029 1000 00008000 0000", // DO
    "1234 0000 0001 0000 0000 0001" + QUESTION + "00 0029 1000 00010000 0000", // version 1
  ];
  let entries = 0;
  for (const text of variants) {
    for (const udp of [true, false]) {
      const query = hex(text);
      assert.deepEqual(cache.respond(query, udp)!.bytes, expected(query, udp), text);
      assert.equal(cache.size, ++entries, `a new entry for ${text}, udp ${udp}`);
    }
  }
  // The UDP size bounds a UDP answer only.
  const small = hex("1234 0000 0001 0000 0000 0001" + QUESTION + "00 0029 0200 00000000 0000");
  assert.deepEqual(cache.respond(small, true)!.bytes, expected(small, true));
  assert.equal(cache.size, ++entries);
  assert.deepEqual(cache.respond(small, false)!.bytes, expected(small, false));
  assert.equal(cache.size, entries);
  // What does not change the answer shares an entry: another id, AA/TC/RA/Z/AD bits, EDNS
  // options, the extended-rcode byte, any UDP size at or above the server's 1232.
  const same = [
    "abcd 0000 0001 0000 0000 0000" + QUESTION,
    "1234 0660 0001 0000 0000 0000" + QUESTION,
    "1234 00c0 0001 0000 0000 0000" + QUESTION,
  ];
  for (const text of same) {
    const query = hex(text);
    assert.deepEqual(cache.respond(query, true)!.bytes, expected(query, true), text);
  }
  const withEdns = [
    "1234 0000 0001 0000 0000 0001" + QUESTION + "00 0029 04d0 00000000 0000",
    "1234 0000 0001 0000 0000 0001" + QUESTION + "00 0029 ffff 0f000000 0000",
    "1234 0000 0001 0000 0000 0001" + QUESTION +
    "00 0029 1000 00000000 000c 000a 0008 0102030405060708",
  ];
  for (const text of withEdns) {
    const query = hex(text);
    assert.deepEqual(cache.respond(query, true)!.bytes, expected(query, true), text);
  }
  assert.equal(cache.size, entries);
});

Deno.test("the cache stays within its bytes and entries, dropping the oldest first", () => {
  // Over TCP big.cnblogs.com TXT is answered whole (~2 KB); every spelling is its own key.
  const spellings = (n: number) =>
    Array.from({ length: n }, (_, i) => {
      const name = [..."big"].map((c, j) => (i >> j) & 1 ? c.toUpperCase() : c).join("") +
        `.cnblogs.com`;
      return encodeMessage(makeQuery(name, TYPE.TXT, { id: i, edns: false }));
    });
  const answerSize = respond(authority, spellings(1)[0], { udp: false })!.bytes.length;
  assert.ok(answerSize > 1500);
  const maxBytes = 3 * (answerSize + 64 + ENTRY_OVERHEAD);
  const cache = new ResponseCache(authority, { maxBytes, maxEntries: 100 });
  for (const query of spellings(8)) {
    cache.respond(query, false);
    assert.ok(cache.bytes <= maxBytes, `${cache.bytes} > ${maxBytes}`);
  }
  assert.equal(cache.size, 3);
  // The newest three are kept: asking the eighth again adds nothing.
  cache.respond(spellings(8)[7], false);
  assert.equal(cache.size, 3);
  // An answer bigger than the whole budget is sent but not kept.
  const tiny = new ResponseCache(authority, { maxBytes: 1000 });
  assert.equal(tiny.respond(spellings(1)[0], false)!.bytes.length, answerSize);
  assert.equal(tiny.size, 0);
  // And the entry bound.
  const few = new ResponseCache(authority, { maxEntries: 2 });
  for (const query of spellings(5)) few.respond(query, true);
  assert.equal(few.size, 2);
});

Deno.test("property: through the cache every reply is byte for byte what respond sends", () => {
  const random = prng(20240607);
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)];
  const names = ["www.cnblogs.com", "WWW.cnblogs.com", "big.cnblogs.com", "x.sub.cnblogs.com"];
  const cache = new ResponseCache(authority, { maxEntries: 40, maxBytes: 40_000 });
  let hits = 0;
  for (let i = 0; i < 4000; i++) {
    const query: Message = makeQuery(
      pick([...names, "nope.cnblogs.com", "com", "example.org"]),
      pick([1, 2, 15, 16, 28, 255, 41, 252]),
      {
        id: Math.floor(random() * 65536),
        rd: random() < 0.5,
        edns: random() < 0.3 ? false : {
          udpSize: pick([0, 512, 1200, 1232, 4096]),
          dnssecOk: random() < 0.5,
          version: random() < 0.1 ? 1 : 0,
          options: random() < 0.2 ? [{ code: 10, data: new Uint8Array(8) }] : [],
        },
      },
    );
    query.flags.cd = random() < 0.3;
    query.flags.ad = random() < 0.3;
    const bytes = encodeMessage(query);
    if (random() < 0.2) bytes[Math.floor(random() * bytes.length)] = random() * 256;
    const udp = random() < 0.7;
    const before = cache.size;
    const got = cache.respond(bytes, udp);
    if (cache.size === before) hits++;
    assert.deepEqual(got?.bytes ?? null, expected(bytes, udp), `query ${i}`);
    if (got) assert.equal(decodeMessage(got.bytes).id, (bytes[0] << 8) | bytes[1]);
    assert.ok(cache.size <= 40 && cache.bytes <= 40_000);
  }
  assert.ok(hits > 1000, `only ${hits} hits`);
});

Deno.test("an answer an internal error turned into SERVFAIL is not stored", () => {
  let broken = true;
  class Flaky extends Authority {
    override answer(question: Question) {
      if (broken) throw new Error("broken on purpose");
      return super.answer(question);
    }
  }
  const cache = new ResponseCache(new Flaky([cnblogs]));
  const query = hex("1234 0100 0001 0000 0000 0000" + QUESTION);
  assert.equal(cache.respond(query, true)!.rcode, 2);
  assert.equal(cache.size, 0);
  broken = false;
  assert.equal(cache.respond(query, true)!.rcode, 0);
  assert.equal(cache.size, 1);
});

Deno.test("ResponseCache answers repeats with the new id and the same bytes", () => {
  const cache = new ResponseCache(authority, { maxEntries: 2 });
  const query = (id: number, name = "www.cnblogs.com") =>
    encodeMessage(makeQuery(name, TYPE.A, { id, edns: false }));
  const first = cache.respond(query(1), true)!;
  const second = cache.respond(query(2), true)!;
  assert.equal(cache.size, 1);
  assert.deepEqual(second.bytes.subarray(2), first.bytes.subarray(2));
  assert.equal(decodeMessage(second.bytes).id, 2);
  assert.deepEqual(second.bytes, respond(authority, query(2), { udp: true })!.bytes);
  // TCP is cached apart (no truncation), and the cache stays bounded.
  const big = encodeMessage(makeQuery("big.cnblogs.com", TYPE.A, { id: 3, edns: false }));
  assert.equal(decodeMessage(cache.respond(big, true)!.bytes).flags.tc, true);
  assert.equal(decodeMessage(cache.respond(big, false)!.bytes).flags.tc, false);
  assert.equal(cache.size, 2);
  cache.respond(query(4, "web.cnblogs.com"), true);
  assert.equal(cache.size, 2);
});
