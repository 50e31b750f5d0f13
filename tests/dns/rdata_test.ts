/**
 * dns/wire/rdata.ts: hand-made wire vectors for every type with a codec (decoded, re-encoded to
 * the same bytes), and records printed the way dig prints them.
 */
import assert from "node:assert/strict";
import { TYPE, typeName } from "../../dns/wire/constants.ts";
import { decodeMessage, encodeMessage, formatQuestion } from "../../dns/wire/message.ts";
import { decodeRdata, formatRdata, formatRecord, type RData } from "../../dns/wire/rdata.ts";
import { b, n, oneAnswer, record, sampleResponse, te } from "./_wire.ts";

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

// -------------------------------------------------------------------------------------------
// Names, types, presentation.

Deno.test("presentation: records and questions print the way dig prints them", () => {
  assert.equal(
    formatRecord(record("www.cnblogs.com.", TYPE.A, { kind: "A", address: "1.2.3.4" })),
    "www.cnblogs.com.\t600\tIN\tA\t1.2.3.4",
  );
  assert.equal(
    formatRecord(sampleResponse.answers[0]),
    "cnblogs.com.\t600\tIN\tSOA\tns1.cnblogs.com. hostmaster.cnblogs.com. 1 2 3 4 5",
  );
  assert.equal(formatRecord(sampleResponse.answers[2]), 'cnblogs.com.\t600\tIN\tTXT\t"v=spf1" ""');
  assert.equal(formatRdata(sampleResponse.answers[3]), '128 iodef "mailto:a@b"');
  assert.equal(
    formatRecord(sampleResponse.additionals[1]),
    "odd.cnblogs.com.\t600\tIN\tSPF\t\\# 2 00ff",
  );
  assert.equal(
    formatQuestion({ name: "www.cnblogs.com.", type: TYPE.A, class: 1 }),
    ";www.cnblogs.com.\t\tIN\tA",
  );
  assert.equal(formatQuestion({ name: ".", type: TYPE.NS, class: 3 }), ";.\t\tCH\tNS");
});
