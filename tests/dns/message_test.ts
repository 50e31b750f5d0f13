/**
 * dns/message.ts: hand-made wire vectors for every type, name compression, every malformed case
 * with its message, encode → decode round trips, and the dig presentation format.
 */
import assert from "node:assert/strict";
import {
  CLASS,
  opcodeName,
  parseType,
  rcodeName,
  TYPE,
  typeName,
} from "../../dns/wire/constants.ts";
import {
  decodeHeader,
  decodeMessage,
  encodeMessage,
  formatQuestion,
  makeQuery,
  type Message,
} from "../../dns/wire/message.ts";
import {
  decodeRdata,
  formatRdata,
  formatRecord,
  type RData,
  type ResourceRecord,
} from "../../dns/wire/rdata.ts";
import { DnsFormatError } from "../../dns/wire/primitives.ts";
import { formatIPv6Bytes, ipv6Bytes, reverseName } from "../../dns/wire/addresses.ts";
import { getEdns, makeOpt } from "../../dns/wire/edns.ts";
import { namesEqual, normalizeName } from "../../dns/wire/names.ts";

const te = new TextEncoder();

/** Bytes from a mix of hex strings ("c0 0c"), numbers, and `n("www.cnblogs.com")` arrays. */
function b(...parts: (string | number | number[])[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === "number") out.push(p);
    else if (Array.isArray(p)) out.push(...p);
    else for (const h of p.split(/\s+/).filter(Boolean)) out.push(parseInt(h, 16));
  }
  return new Uint8Array(out);
}

/** A name in uncompressed wire form. */
function n(name: string): number[] {
  const out: number[] = [];
  for (const label of name.split(".").filter(Boolean)) {
    out.push(label.length, ...te.encode(label));
  }
  out.push(0);
  return out;
}

function u16(v: number): number[] {
  return [v >> 8, v & 0xff];
}

/** Header: id 0x1234, the given flags word and counts. */
function header(flags: number, qd: number, an: number, ns = 0, ar = 0): number[] {
  return [0x12, 0x34, ...u16(flags), ...u16(qd), ...u16(an), ...u16(ns), ...u16(ar)];
}

/** A response with one question and one answer of `type` carrying `rdata` (no compression). */
function oneAnswer(type: number, rdata: number[] | Uint8Array, owner = "x.example"): Uint8Array {
  return b(
    header(0x8400, 1, 1),
    n(owner),
    u16(type),
    u16(1),
    n(owner),
    u16(type),
    u16(1),
    "00 00 0e 10",
    u16(rdata.length),
    [...rdata],
  );
}

const vectors: { type: number; rdata: Uint8Array; data: RData; text: string }[] = [
  {
    type: TYPE.A,
    rdata: b("7f 00 00 05"),
    data: { kind: "A", address: "127.0.0.5" },
    text: "127.0.0.5",
  },
  {
    type: TYPE.AAAA,
    rdata: b("20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01"),
    data: { kind: "AAAA", address: "2001:db8::1" },
    text: "2001:db8::1",
  },
  {
    type: TYPE.NS,
    rdata: b(n("ns1.cnblogs.com")),
    data: { kind: "NS", target: "ns1.cnblogs.com." },
    text: "ns1.cnblogs.com.",
  },
  {
    type: TYPE.CNAME,
    rdata: b(n("www.cnblogs.com")),
    data: { kind: "CNAME", target: "www.cnblogs.com." },
    text: "www.cnblogs.com.",
  },
  {
    type: TYPE.PTR,
    rdata: b(n("localhost")),
    data: { kind: "PTR", target: "localhost." },
    text: "localhost.",
  },
  {
    type: TYPE.MX,
    rdata: b("00 0a", n("mail.example.com")),
    data: { kind: "MX", preference: 10, exchange: "mail.example.com." },
    text: "10 mail.example.com.",
  },
  {
    type: TYPE.SOA,
    rdata: b(
      n("ns1.cnblogs.com"),
      n("hostmaster.cnblogs.com"),
      "78 0c 8c 35", // 2014087221... no: 0x780c8c35 = 2014088245
      "00 00 0e 10",
      "00 00 03 84",
      "00 09 3a 80",
      "00 00 01 2c",
    ),
    data: {
      kind: "SOA",
      mname: "ns1.cnblogs.com.",
      rname: "hostmaster.cnblogs.com.",
      serial: 0x780c8c35,
      refresh: 3600,
      retry: 900,
      expire: 604800,
      minimum: 300,
    },
    text: `ns1.cnblogs.com. hostmaster.cnblogs.com. ${0x780c8c35} 3600 900 604800 300`,
  },
  {
    type: TYPE.TXT,
    rdata: b(5, [...te.encode('a "b"')], 3, "5c 01 c8"),
    data: { kind: "TXT", strings: [te.encode('a "b"'), b("5c 01 c8")] },
    text: '"a \\"b\\"" "\\\\\\001\\200"',
  },
  {
    type: TYPE.SRV,
    rdata: b("00 01 00 02 13 c4", n("sip.example.com")),
    data: { kind: "SRV", priority: 1, weight: 2, port: 5060, target: "sip.example.com." },
    text: "1 2 5060 sip.example.com.",
  },
  {
    type: TYPE.CAA,
    rdata: b("00 05", [...te.encode("issue")], [...te.encode("letsencrypt.org")]),
    data: { kind: "CAA", flags: 0, tag: "issue", value: te.encode("letsencrypt.org") },
    text: '0 issue "letsencrypt.org"',
  },
  {
    type: 65280,
    rdata: b("0a 00 00 01"),
    data: { kind: "UNKNOWN", bytes: b("0a 00 00 01") },
    text: "\\# 4 0a000001",
  },
  {
    type: 13, // HINFO has no codec here: kept raw (RFC 3597)
    rdata: b(3, [...te.encode("CPU")], 2, [...te.encode("OS")]),
    data: { kind: "UNKNOWN", bytes: b(3, [...te.encode("CPU")], 2, [...te.encode("OS")]) },
    text: "\\# 7 03435055024f53",
  },
];

for (const v of vectors) {
  Deno.test(`decode and encode ${typeName(v.type)} rdata from hand-made bytes`, () => {
    const wire = oneAnswer(v.type, v.rdata);
    const msg = decodeMessage(wire);
    assert.equal(msg.answers.length, 1);
    assert.deepEqual(msg.answers[0].data, v.data);
    assert.equal(formatRdata(msg.answers[0]), v.text);
    assert.deepEqual(encodeMessage(msg, { compress: false }), wire);
    assert.deepEqual(decodeRdata(v.type, v.rdata), v.data);
  });
}

Deno.test("OPT record carries UDP size, extended rcode, version, DO bit and options", () => {
  const cookie = b("01 02 03 04 05 06 07 08");
  const wire = b(
    header(0x0100, 1, 0, 0, 1),
    n("example.com"),
    u16(1),
    u16(1),
    0, // root owner
    u16(41),
    u16(1232),
    "01 00 80 00", // extended rcode 1, version 0, DO
    u16(12),
    u16(10),
    u16(8),
    [...cookie],
  );
  const msg = decodeMessage(wire);
  assert.deepEqual(getEdns(msg), {
    udpSize: 1232,
    extendedRcode: 1,
    version: 0,
    dnssecOk: true,
    options: [{ code: 10, data: cookie }],
  });
  assert.deepEqual(encodeMessage(msg), wire);
  const opt = makeOpt({ udpSize: 4096, dnssecOk: true, extendedRcode: 1 });
  assert.equal(opt.class, 4096);
  assert.equal(opt.ttl, 0x01008000);
});

Deno.test("header flags decode bit by bit", () => {
  const h = decodeHeader(b("ab cd", "ad b3", "00 01 00 02 00 03 00 04"))!;
  assert.equal(h.id, 0xabcd);
  assert.deepEqual(h.flags, {
    qr: true,
    opcode: 5,
    aa: true,
    tc: false,
    rd: true,
    ra: true,
    ad: true,
    cd: true,
    rcode: 3,
  });
  assert.deepEqual(h.counts, [1, 2, 3, 4]);
  assert.equal(decodeHeader(b("00 01 02")), null);
});

Deno.test("compression: decode pointers and encode the same bytes", () => {
  // Question www.cnblogs.com at 12 (cnblogs at 16); answer owner → 12, CNAME web + → 16.
  const wire = b(
    header(0x8400, 1, 1),
    n("www.cnblogs.com"),
    "00 01 00 01",
    "c0 0c",
    "00 05 00 01 00 00 02 58 00 06",
    3,
    [...te.encode("web")],
    "c0 10",
  );
  const msg = decodeMessage(wire);
  assert.equal(msg.answers[0].name, "www.cnblogs.com.");
  assert.deepEqual(msg.answers[0].data, { kind: "CNAME", target: "web.cnblogs.com." });
  assert.deepEqual(encodeMessage(msg), wire);
  const uncompressed = encodeMessage(msg, { compress: false });
  assert.ok(uncompressed.length > wire.length);
  assert.deepEqual(decodeMessage(uncompressed), msg);
});

Deno.test("case is preserved: names differing in case are not merged by compression", () => {
  const msg = decodeMessage(oneAnswer(TYPE.A, b("01 02 03 04"), "WwW.Example.COM"));
  assert.equal(msg.questions[0].name, "WwW.Example.COM.");
  const mixed: Message = {
    ...msg,
    answers: [{ ...msg.answers[0], name: "www.example.com." }],
  };
  const decoded = decodeMessage(encodeMessage(mixed));
  assert.equal(decoded.questions[0].name, "WwW.Example.COM.");
  assert.equal(decoded.answers[0].name, "www.example.com.");
  assert.ok(namesEqual(decoded.questions[0].name, decoded.answers[0].name));
});

Deno.test("SRV and MINFO names are compressed, as the decoder reads them compressed", () => {
  const srv = decodeMessage(oneAnswer(TYPE.SRV, b("00 01 00 02 13 c4", n("x.example"))));
  const wire = encodeMessage(srv);
  // The target is the question's name: a pointer to offset 12 ends the message.
  assert.deepEqual([...wire.subarray(wire.length - 2)], [0xc0, 0x0c]);
  assert.deepEqual(decodeMessage(wire), srv);
  const minfo = decodeMessage(oneAnswer(TYPE.MINFO, b(n("a.x.example"), n("x.example"))));
  assert.deepEqual(minfo.answers[0].data, {
    kind: "MINFO",
    rmailbx: "a.x.example.",
    emailbx: "x.example.",
  });
  const minfoWire = encodeMessage(minfo);
  assert.deepEqual([...minfoWire.subarray(minfoWire.length - 6)], [
    1,
    0x61,
    0xc0,
    0x0c,
    0xc0,
    0x0c,
  ]);
  assert.deepEqual(decodeMessage(minfoWire), minfo);
});

Deno.test("labels with dots, spaces and binary bytes print escaped and round-trip", () => {
  const owner = b(5, "61 2e 62 20 ff", 7, [...te.encode("example")], 0);
  const wire = b(header(0x0000, 1, 0), [...owner], "00 01 00 01");
  const msg = decodeMessage(wire);
  assert.equal(msg.questions[0].name, "a\\.b\\032\\255.example.");
  assert.deepEqual(encodeMessage(msg), wire);
  assert.equal(normalizeName("a\\.b\\032\\255.example"), "a\\.b\\032\\255.example.");
});

// -------------------------------------------------------------------------------------------
// Malformed messages: each rejection and its message.

function rejects(wire: Uint8Array, pattern: RegExp): void {
  assert.throws(() => decodeMessage(wire), (error: unknown) => {
    assert.ok(error instanceof DnsFormatError, `expected DnsFormatError, got ${error}`);
    assert.ok(error instanceof SyntaxError);
    assert.match(error.message, pattern);
    assert.equal(typeof error.offset, "number");
    return true;
  });
}

Deno.test("decodeMessage rejects a message shorter than the header", () => {
  rejects(b("12 34 01 00 00"), /^Cannot decode header at offset 0: need 12 bytes, only 5 left$/);
});

Deno.test("decodeMessage rejects a label longer than 63 bytes", () => {
  rejects(
    b(header(0, 1, 0), 0x40, new Array(64).fill(0x61), 0, "00 01 00 01"),
    /^Cannot decode name at offset 12: label length 64 exceeds 63/,
  );
  rejects(b(header(0, 1, 0), 0x80, 0, "00 01 00 01"), /label length 128 exceeds 63/);
});

Deno.test("decodeMessage rejects a name longer than 255 bytes", () => {
  const label = [63, ...new Array(63).fill(0x61)];
  rejects(
    b(header(0, 1, 0), label, label, label, label, 0, "00 01 00 01"),
    /^Cannot decode name at offset 12: name exceeds 255 bytes$/,
  );
});

Deno.test("decodeMessage rejects a compression pointer that points forward", () => {
  rejects(
    b(header(0, 1, 0), "c0 20", "00 01 00 01", new Array(20).fill(0)),
    /^Cannot decode name at offset 12: pointer 32 does not point backwards$/,
  );
});

Deno.test("decodeMessage rejects a pointer to itself and a pointer loop", () => {
  rejects(b(header(0, 1, 0), "c0 0c", "00 01 00 01"), /pointer 12 does not point backwards/);
  // "a" at 12, then a pointer back to 12: a loop that revisits the same label forever.
  rejects(
    b(header(0, 1, 0), 1, 0x61, "c0 0c", "00 01 00 01"),
    /pointer 12 does not point backwards/,
  );
});

Deno.test("decodeMessage rejects a pointer that does not point at an earlier name", () => {
  const earlier =
    /^Cannot decode name at offset \d+: pointer \d+ does not point at an earlier name$/;
  // Into the header (the counts read as a label).
  rejects(
    b(header(0x8000, 1, 1), n("a"), "00 01 00 01", "c0 04 00 01 00 01 00 00 00 00 00 00"),
    earlier,
  );
  // Into the middle of a label: "xa" at 12, "a" alone at 14 would be a different name.
  rejects(
    b(header(0x8000, 1, 1), 2, 0x78, 0x61, 0, "00 01 00 01", "c0 0d 00 01 00 01 00 00 00 00 00 00"),
    earlier,
  );
  // Into TXT rdata and into the raw rdata of a type without a codec, which hold no names.
  for (const type of [TYPE.TXT, 65280]) {
    rejects(
      b(
        header(0x8000, 1, 2),
        0,
        "00 01 00 01", // question: root A
        0,
        u16(type),
        "00 01 00 00 00 00 00 04",
        3,
        [...te.encode("abc")], // at 28: reads as the label "abc"… then the next record
        "c0 1c 00 01 00 01 00 00 00 00 00 00",
      ),
      earlier,
    );
  }
  // A chain of names, each one label plus a pointer to the previous: fine, until 255 bytes.
  const chain = (count: number): number[] => {
    const out: number[] = [];
    let previous = -1;
    for (let i = 0; i < count; i++) {
      const start = 12 + 5 + out.length;
      out.push(1, 0x61, ...(previous < 0 ? [0] : u16(0xc000 | previous)));
      out.push(...u16(TYPE.A), 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4);
      previous = start;
    }
    return out;
  };
  const ok = decodeMessage(b(header(0x8000, 1, 127), 0, "00 01 00 01", chain(127)));
  assert.equal(ok.answers[126].name, "a.".repeat(127));
  rejects(b(header(0x8000, 1, 128), 0, "00 01 00 01", chain(128)), /name exceeds 255 bytes/);
});

Deno.test("decodeMessage rejects counts larger than the content", () => {
  rejects(
    b(header(0, 100, 0), n("a"), "00 01 00 01"),
    /^Cannot decode message at offset 4: counts \(qd 100, an 0, ns 0, ar 0\) need at least 500 bytes, only 7 left$/,
  );
  rejects(b(header(0x8000, 1, 1), n("a"), "00 01 00 01", "c0 0c 00 01"), /need at least 16 bytes/);
});

Deno.test("decodeMessage rejects an rdlength that runs past the end", () => {
  const wire = oneAnswer(TYPE.A, b("01 02 03 04"));
  wire[wire.length - 5] = 10; // rdlength 4 → 10
  rejects(wire, /rdlength 10 runs past the end of the message \(4 bytes left\)$/);
});

Deno.test("decodeMessage rejects an rdlength that does not match the rdata", () => {
  rejects(
    oneAnswer(TYPE.A, b("01 02 03 04 05")),
    /^Cannot decode A rdata at offset \d+: rdlength 5 does not match the rdata \(4 bytes\)$/,
  );
  rejects(
    oneAnswer(TYPE.AAAA, b("01 02 03 04")),
    /rdlength 4 does not match the rdata \(16 bytes\)/,
  );
  rejects(
    oneAnswer(TYPE.MX, b("00 0a", n("mx.example"), "00")),
    /^Cannot decode MX rdata at offset \d+: rdlength 15 does not match the rdata \(14 bytes\)$/,
  );
  // A name that would run past the rdata into the next bytes.
  rejects(
    oneAnswer(TYPE.CNAME, b(3, 0x61, 0x62)),
    /label of 3 bytes at offset \d+ runs past the end/,
  );
  rejects(oneAnswer(TYPE.TXT, b(10, 0x61)), /string of 10 bytes runs past the end \(1 left\)/);
  rejects(oneAnswer(TYPE.TXT, b()), /rdlength 0 does not match the rdata/);
  rejects(oneAnswer(TYPE.SOA, b(n("a"), n("b"), "00 00 00 01")), /need 4 bytes, only 0 left/);
});

Deno.test("decodeMessage rejects trailing garbage", () => {
  const wire = b([...oneAnswer(TYPE.A, b("01 02 03 04"))], "de ad");
  rejects(wire, /^Cannot decode message at offset \d+: 2 trailing bytes after the last record$/);
});

Deno.test("decodeMessage rejects a question cut short", () => {
  rejects(
    b(header(0, 1, 0), n("ab"), "00 01 00"),
    /^Cannot decode question at offset 18: need 2 bytes, only 1 left$/,
  );
  rejects(
    b(header(0, 1, 0), 9, 0x61, "00 01 00 01"),
    /label of 9 bytes at offset 12 runs past the end \(5 left\)/,
  );
  rejects(
    b(header(0, 1, 0), 2, 0x61, 0x62, 1, 0x63),
    /^Cannot decode name at offset 12: runs past the end at offset 17$/,
  );
});

// -------------------------------------------------------------------------------------------
// Encoding, truncation, round trips.

function rr(name: string, type: number, data: RData, ttl = 600): ResourceRecord {
  return { name, type, class: CLASS.IN, ttl, data };
}

const sample: Message = {
  id: 7,
  flags: {
    qr: true,
    opcode: 0,
    aa: true,
    tc: false,
    rd: true,
    ra: false,
    ad: false,
    cd: false,
    rcode: 0,
  },
  questions: [{ name: "cnblogs.com.", type: TYPE.ANY, class: CLASS.IN }],
  answers: [
    rr("cnblogs.com.", TYPE.SOA, {
      kind: "SOA",
      mname: "ns1.cnblogs.com.",
      rname: "hostmaster.cnblogs.com.",
      serial: 1,
      refresh: 2,
      retry: 3,
      expire: 4,
      minimum: 5,
    }),
    rr("cnblogs.com.", TYPE.MX, { kind: "MX", preference: 10, exchange: "mail.cnblogs.com." }),
    rr("cnblogs.com.", TYPE.TXT, {
      kind: "TXT",
      strings: [te.encode("v=spf1"), new Uint8Array(0)],
    }),
    rr("cnblogs.com.", TYPE.CAA, {
      kind: "CAA",
      flags: 128,
      tag: "iodef",
      value: te.encode("mailto:a@b"),
    }),
    rr("_x._tcp.cnblogs.com.", TYPE.SRV, {
      kind: "SRV",
      priority: 0,
      weight: 5,
      port: 80,
      target: "www.cnblogs.com.",
    }),
    rr("4.0.0.127.in-addr.arpa.", TYPE.PTR, { kind: "PTR", target: "ns1.cnblogs.com." }),
    rr("www.cnblogs.com.", TYPE.AAAA, { kind: "AAAA", address: "::1" }),
  ],
  authorities: [rr("cnblogs.com.", TYPE.NS, { kind: "NS", target: "ns1.cnblogs.com." })],
  additionals: [
    rr("ns1.cnblogs.com.", TYPE.A, { kind: "A", address: "127.0.0.4" }),
    rr("odd.cnblogs.com.", 99, { kind: "UNKNOWN", bytes: b("00 ff") }),
    makeOpt({ udpSize: 1232, options: [{ code: 10, data: b("01 02") }] }),
  ],
};

Deno.test("encode → decode round trip with and without compression", () => {
  for (const compress of [true, false]) {
    const wire = encodeMessage(sample, { compress });
    assert.deepEqual(decodeMessage(wire), sample);
  }
  assert.ok(encodeMessage(sample).length < encodeMessage(sample, { compress: false }).length);
});

Deno.test("maxSize drops whole RRsets that do not fit, sets TC and keeps the OPT", () => {
  const big: Message = {
    ...sample,
    questions: [{ name: "big.example.", type: TYPE.A, class: CLASS.IN }],
    answers: Array.from(
      { length: 40 },
      (_, i) => rr("big.example.", TYPE.A, { kind: "A", address: `127.0.1.${i}` }),
    ),
    authorities: [],
    additionals: [makeOpt({})],
  };
  assert.ok(encodeMessage(big).length > 512);
  const wire = encodeMessage(big, { maxSize: 512 });
  assert.ok(wire.length <= 512);
  const msg = decodeMessage(wire);
  assert.equal(msg.flags.tc, true);
  assert.equal(msg.answers.length, 0);
  assert.equal(getEdns(msg)?.udpSize, 1232);
  // Additional data that does not fit is dropped without TC.
  const glue: Message = {
    ...big,
    answers: big.answers.slice(0, 1),
    additionals: big.answers.slice(1).map((r) => ({ ...r, name: "glue.example." })),
  };
  const trimmed = decodeMessage(encodeMessage(glue, { maxSize: 200 }));
  assert.equal(trimmed.flags.tc, false);
  assert.equal(trimmed.answers.length, 1);
  assert.equal(trimmed.additionals.length, 0);
});

Deno.test("encodeMessage refuses invalid values with clear errors", () => {
  const q = makeQuery("example.com", TYPE.A, { id: 1 });
  const bad = (data: RData, type: number, pattern: RegExp) =>
    assert.throws(
      () => encodeMessage({ ...q, answers: [rr("example.com.", type, data)] }),
      pattern,
    );
  bad({ kind: "A", address: "1.2.3" }, TYPE.A, /Invalid IPv4 address "1.2.3"/);
  bad({ kind: "AAAA", address: "1::2::3" }, TYPE.AAAA, /Invalid IPv6 address/);
  bad({ kind: "A", address: "1.2.3.4" }, TYPE.MX, /Cannot encode MX rdata from a "A" value/);
  bad({ kind: "TXT", strings: [new Uint8Array(256)] }, TYPE.TXT, /string of 256 bytes exceeds 255/);
  bad({ kind: "MX", preference: 70000, exchange: "a." }, TYPE.MX, /MX preference "70000"/);
  bad(
    { kind: "CNAME", target: `${"a".repeat(64)}.com.` },
    TYPE.CNAME,
    /label longer than 63 bytes/,
  );
  bad({ kind: "CNAME", target: "a..com." }, TYPE.CNAME, /empty label/);
});

Deno.test("makeQuery builds an RD query with EDNS and a random id", () => {
  const q = makeQuery("www.cnblogs.com", TYPE.A);
  assert.equal(q.questions[0].name, "www.cnblogs.com.");
  assert.equal(q.flags.rd, true);
  assert.equal(getEdns(q)?.udpSize, 1232);
  assert.ok(q.id >= 0 && q.id <= 0xffff);
  const plain = makeQuery("x", TYPE.MX, { id: 9, rd: false, edns: false });
  assert.deepEqual(
    encodeMessage(plain),
    b("00 09 00 00 00 01 00 00 00 00 00 00", n("x"), "00 0f 00 01"),
  );
});

// -------------------------------------------------------------------------------------------
// Names, types, presentation.

Deno.test("presentation: records and questions print the way dig prints them", () => {
  assert.equal(
    formatRecord(rr("www.cnblogs.com.", TYPE.A, { kind: "A", address: "1.2.3.4" })),
    "www.cnblogs.com.\t600\tIN\tA\t1.2.3.4",
  );
  assert.equal(
    formatRecord(sample.answers[0]),
    "cnblogs.com.\t600\tIN\tSOA\tns1.cnblogs.com. hostmaster.cnblogs.com. 1 2 3 4 5",
  );
  assert.equal(formatRecord(sample.answers[2]), 'cnblogs.com.\t600\tIN\tTXT\t"v=spf1" ""');
  assert.equal(formatRdata(sample.answers[3]), '128 iodef "mailto:a@b"');
  assert.equal(formatRecord(sample.additionals[1]), "odd.cnblogs.com.\t600\tIN\tSPF\t\\# 2 00ff");
  assert.equal(
    formatQuestion({ name: "www.cnblogs.com.", type: TYPE.A, class: 1 }),
    ";www.cnblogs.com.\t\tIN\tA",
  );
  assert.equal(formatQuestion({ name: ".", type: TYPE.NS, class: 3 }), ";.\t\tCH\tNS");
});

Deno.test("type, rcode and opcode names", () => {
  assert.equal(typeName(TYPE.AAAA), "AAAA");
  assert.equal(typeName(65280), "TYPE65280");
  assert.equal(parseType("mx"), TYPE.MX);
  assert.equal(parseType("TYPE99"), 99);
  assert.equal(parseType("caa"), 257);
  assert.throws(() => parseType("BOGUS"), /Unknown record type "BOGUS"/);
  assert.throws(() => parseType("TYPE70000"), RangeError);
  assert.equal(rcodeName(3), "NXDOMAIN");
  assert.equal(rcodeName(16), "BADVERS");
  assert.equal(rcodeName(12), "RCODE12");
  assert.equal(opcodeName(0), "QUERY");
  assert.equal(opcodeName(3), "RESERVED3");
});

Deno.test("normalizeName adds the dot and rejects bad names", () => {
  assert.equal(normalizeName("www.cnblogs.com"), "www.cnblogs.com.");
  assert.equal(normalizeName("."), ".");
  assert.equal(normalizeName("A.b."), "A.b.");
  assert.throws(() => normalizeName(""), /Invalid name "": empty/);
  assert.throws(() => normalizeName("a..b"), /Invalid name "a..b": empty label/);
  assert.throws(() => normalizeName(`${"x".repeat(64)}.com`), /label longer than 63 bytes/);
  assert.throws(() => normalizeName(`${"abcdefg.".repeat(32)}`), /longer than 255 bytes/);
  assert.throws(() => normalizeName("bücher.de"), /non-ASCII character \(use punycode\)/);
  assert.ok(namesEqual("WWW.CnBlogs.com", "www.cnblogs.com."));
  assert.ok(!namesEqual("www.cnblogs.com", "ww.cnblogs.com"));
});

Deno.test("reverseName for IPv4 and IPv6, and RFC 5952 IPv6 text", () => {
  assert.equal(reverseName("1.2.3.4"), "4.3.2.1.in-addr.arpa.");
  assert.equal(
    reverseName("2001:db8::567:89ab"),
    "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
  );
  assert.throws(() => reverseName("1.2.3"), /Invalid IPv4 address "1.2.3"/);
  assert.throws(() => reverseName("1.2.3.256"), RangeError);
  assert.throws(() => reverseName("::g"), /Invalid IPv6 address "::g"/);
  const cases: [string, string][] = [
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // the first of equal runs
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // one zero group stays
    ["0:0:0:0:0:0:0:0", "::"],
    ["::ffff:192.0.2.1", "::ffff:192.0.2.1"],
    ["FE80::1", "fe80::1"],
  ];
  for (const [input, expected] of cases) assert.equal(formatIPv6Bytes(ipv6Bytes(input)), expected);
});
