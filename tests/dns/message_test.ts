/**
 * dns/wire/message.ts: header flags, name compression (decoded and re-encoded byte for byte),
 * every malformed message refused with its message, encode → decode round trips, truncation to a
 * size, and makeQuery.
 */
import assert from "node:assert/strict";
import { CLASS, TYPE } from "../../dns/wire/constants.ts";
import {
  decodeMessage,
  decodeMessageHeader,
  encodeMessage,
  makeQuery,
  type Message,
} from "../../dns/wire/message.ts";
import { type RData } from "../../dns/wire/rdata.ts";
import { DnsFormatError } from "../../dns/wire/primitives.ts";
import { getEdns, makeOpt } from "../../dns/wire/edns.ts";
import { namesEqual } from "../../dns/wire/names.ts";
import { b, header, n, oneAnswer, record, sampleResponse, te, u16 } from "./_wire.ts";

Deno.test("header flags decode bit by bit", () => {
  const h = decodeMessageHeader(b("ab cd", "ad b3", "00 01 00 02 00 03 00 04"))!;
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
  assert.equal(decodeMessageHeader(b("00 01 02")), null);
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

Deno.test("encode → decode round trip with and without compression", () => {
  for (const compress of [true, false]) {
    const wire = encodeMessage(sampleResponse, { compress });
    assert.deepEqual(decodeMessage(wire), sampleResponse);
  }
  assert.ok(
    encodeMessage(sampleResponse).length <
      encodeMessage(sampleResponse, { compress: false }).length,
  );
});

Deno.test("maxSize drops whole RRsets that do not fit, sets TC and keeps the OPT", () => {
  const big: Message = {
    ...sampleResponse,
    questions: [{ name: "big.example.", type: TYPE.A, class: CLASS.IN }],
    answers: Array.from(
      { length: 40 },
      (_, i) => record("big.example.", TYPE.A, { kind: "A", address: `127.0.1.${i}` }),
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
      () => encodeMessage({ ...q, answers: [record("example.com.", type, data)] }),
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
