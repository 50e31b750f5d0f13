/**
 * dns/authority/respond.ts, the authoritative server's wire rules: with literal bytes in and
 * exact bytes out — which header bits every reply copies (answers, and the header-only NOTIMP,
 * FORMERR and SERVFAIL), and the unsigned NOTAUTH/BADKEY answer to TSIG-signed queries, each
 * through `respond` and through the real server over UDP and TCP (whole and one byte per write);
 * then TC, OPT and BADVERS, FORMERR and NOTIMP on decoded messages, and fuzzing that never throws.
 */
import assert from "node:assert/strict";
import { Authority } from "../../dns/authority/authority.ts";
import { respond } from "../../dns/authority/respond.ts";
import { startDnsServer } from "../../dns/server.ts";
import {
  decodeMessage,
  encodeMessage,
  makeQuery,
  type Message,
  type Question,
} from "../../dns/wire/message.ts";
import { OPCODE, RCODE, TYPE } from "../../dns/wire/constants.ts";
import { encodeLengthPrefixed, LengthPrefixDecoder } from "../../tcp/core/framing.ts";
import { hasCommand, runCommand, writeAll } from "../_helpers.ts";
import { ResponseCache } from "../../dns/authority/response_cache.ts";
import { getEdns, makeOpt } from "../../dns/wire/edns.ts";
import { ask, authority, cnblogs, com, fuzzInputs, hex, root } from "./_authority.ts";

function toHex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ");
}

/** www.cnblogs.com A IN. */
const QUESTION = "03 777777 07 636e626c6f6773 03 636f6d 00 0001 0001";
/** An OPT: UDP size 4096, DO set, no options. */
const OPT_DO = "00 0029 1000 00008000 0000";
/** A TSIG signed with key "unknown." (hmac-sha256, a 32-byte MAC of zeros, original id 1234). */
const TSIG = "07 756e6b6e6f776e 00 00fa 00ff 00000000 003d" +
  "0b 686d61632d736861323536 00 00006a000000 012c 0020" + "00".repeat(32) + "1234 0000 0000";

/** A header: id 1234, the two flag bytes, then the four counts. */
function header(flags: number, qd: number, an: number, ns: number, ar: number): string {
  const u16 = (v: number) => v.toString(16).padStart(4, "0");
  return `1234 ${u16(flags)} ${u16(qd)} ${u16(an)} ${u16(ns)} ${u16(ar)}`;
}

interface Case {
  name: string;
  query: Uint8Array;
  reply: Uint8Array;
}

function viaRespond(query: Uint8Array, udp = true, auth = authority): Uint8Array {
  const r = respond(auth, query, { udp });
  assert.ok(r, "expected a reply");
  return r.bytes;
}

// -------------------------------------------------------------------------------------------
// Header bits.

/** Query flag bytes: none set, and every bit a query can carry (AA TC RD, RA Z AD CD, rcode). */
const FLAG_BYTES: [number, number][] = [[0x00, 0x00], [0x07, 0xff], [0x01, 0x10], [0x06, 0xe0]];

function opcodeCases(): Case[] {
  const cases: Case[] = [];
  for (let opcode = 1; opcode < 16; opcode++) {
    for (const [hi, lo] of FLAG_BYTES) {
      const flags = ((opcode << 11) | (hi << 8) | lo) & 0x7fff;
      const bodies: [string, string][] = [
        ["header only", header(flags, 0, 0, 0, 0)],
        ["a question", header(flags, 1, 0, 0, 0) + QUESTION],
        ["a question and an OPT", header(flags, 1, 0, 0, 1) + QUESTION + OPT_DO],
        ["a question and a TSIG", header(flags, 1, 0, 0, 1) + QUESTION + TSIG],
        ["junk", header(flags, 5, 0, 0, 0) + "ffff"],
      ];
      // Only QR, the opcode and NOTIMP; no section echoed.
      const reply = hex(header(0x8000 | (opcode << 11) | RCODE.NOTIMP, 0, 0, 0, 0));
      for (const [what, query] of bodies) {
        cases.push({
          name: `opcode ${opcode}, flags ${hi}/${lo}, ${what}`,
          query: hex(query),
          reply,
        });
      }
    }
  }
  return cases;
}

/** FORMERR for undecodable QUERYs: QR, and RD and CD copied when set, nothing else. */
function formerrCases(): Case[] {
  return FLAG_BYTES.map(([hi, lo]) => {
    const flags = (hi << 8) | lo;
    const copied = 0x8000 | (flags & 0x0110) | RCODE.FORMERR;
    return {
      name: `undecodable QUERY, flags ${hi}/${lo}`,
      query: hex(header(flags, 1, 0, 0, 0) + "03 777777 c0"), // the name is cut off
      reply: hex(header(copied, 0, 0, 0, 0)),
    };
  });
}

Deno.test("every non-QUERY opcode gets NOTIMP with only QR and the opcode (genreport opcodeflg)", () => {
  for (const c of opcodeCases()) assert.equal(toHex(viaRespond(c.query)), toHex(c.reply), c.name);
});

Deno.test("an undecodable QUERY gets a header-only FORMERR copying only RD and CD", () => {
  for (const c of formerrCases()) assert.equal(toHex(viaRespond(c.query)), toHex(c.reply), c.name);
});

Deno.test("an internal error gets a header-only SERVFAIL copying only RD and CD", () => {
  class Broken extends Authority {
    override answer(_question: Question): never {
      throw new Error("broken on purpose");
    }
  }
  const broken = new Broken([cnblogs]);
  for (const [hi, lo] of FLAG_BYTES) {
    const flags = (hi << 8) | lo;
    const r = respond(broken, hex(header(flags, 1, 0, 0, 0) + QUESTION), { udp: true })!;
    const expected = header(0x8000 | (flags & 0x0110) | RCODE.SERVFAIL, 0, 0, 0, 0);
    assert.equal(toHex(r.bytes), toHex(hex(expected)));
    assert.equal(r.error, "broken on purpose");
  }
});

Deno.test("answers to QUERY copy RD and CD only; TC, RA, AD and Z are never echoed", () => {
  for (const [hi, lo] of FLAG_BYTES) {
    const flags = (hi << 8) | lo;
    const reply = viaRespond(hex(header(flags, 1, 0, 0, 0) + QUESTION));
    // AA: our own answer; the rest are the query's RD and CD.
    assert.equal(reply[2], 0x84 | (hi & 0x01), `flags ${hi}/${lo}`);
    assert.equal(reply[3], lo & 0x10, `flags ${hi}/${lo}`);
    // A question-less QUERY is FORMERR by the same rule.
    const empty = viaRespond(hex(header(flags, 0, 0, 0, 0)));
    assert.equal(toHex(empty), toHex(hex(header(0x8000 | (flags & 0x0110) | 1, 0, 0, 0, 0))));
  }
});

// -------------------------------------------------------------------------------------------
// TSIG.

/**
 * The unsigned BADKEY answers, byte for byte as NSD 4.6.1 sends them for these queries: NOTAUTH,
 * no question, the OPT if the query had one, then the query's TSIG with an empty MAC and error
 * 17 (BADKEY): key name, algorithm, time signed and fudge kept, original id 1234.
 */
const BADKEY_TSIG = "07 756e6b6e6f776e 00 00fa 00ff 00000000 001d" +
  "0b 686d61632d736861323536 00 00006a000000 012c 0000 1234 0011 0000";

function tsigCases(): Case[] {
  return [
    {
      name: "TSIG with an unknown key",
      query: hex(header(0x0130, 1, 0, 0, 1) + QUESTION + TSIG),
      reply: hex(header(0x8119, 0, 0, 0, 1) + BADKEY_TSIG),
    },
    {
      name: "TSIG with an unknown key after an OPT",
      query: hex(header(0x0130, 1, 0, 0, 2) + QUESTION + OPT_DO + TSIG),
      reply: hex(header(0x8119, 0, 0, 0, 2) + "00 0029 04d0 00008000 0000" + BADKEY_TSIG),
    },
  ];
}

/** TSIGs that break RFC 8945 5.1 or do not parse: FORMERR, RD and CD copied. */
const MISPLACED_TSIGS: [string, string][] = [
  ["TSIG before the OPT", header(0x0130, 1, 0, 0, 2) + QUESTION + TSIG + OPT_DO],
  ["TSIG in the answer section", header(0x0130, 1, 1, 0, 0) + QUESTION + TSIG],
  ["two TSIGs", header(0x0130, 1, 0, 0, 2) + QUESTION + TSIG + TSIG],
  [
    "TSIG of class IN",
    header(0x0130, 1, 0, 0, 1) + QUESTION + TSIG.replace("00fa 00ff", "00fa 0001"),
  ],
  [
    "TSIG rdata cut short inside the MAC",
    header(0x0130, 1, 0, 0, 1) + QUESTION + "07 756e6b6e6f776e 00 00fa 00ff 00000000 002b" +
    "0b 686d61632d736861323536 00 00006a000000 012c 0020" + "00".repeat(20),
  ],
  [
    "TSIG with a compressed algorithm name",
    header(0x0130, 1, 0, 0, 1) + QUESTION + "07 756e6b6e6f776e 00 00fa 00ff 00000000 0012" +
    "c00c 00006a000000 012c 0000 1234 0000 0000",
  ],
  [
    "TSIG whose MAC runs past its rdata",
    header(0x0130, 1, 0, 0, 1) + QUESTION + "07 756e6b6e6f776e 00 00fa 00ff 00000000 001d" +
    "0b 686d61632d736861323536 00 00006a000000 012c 00ff 1234 0000 0000",
  ],
];

Deno.test("a TSIG-signed query with an unknown key gets NOTAUTH/BADKEY, unsigned, as NSD sends", () => {
  for (const c of tsigCases()) {
    for (const udp of [true, false]) {
      assert.equal(toHex(viaRespond(c.query, udp)), toHex(c.reply), c.name);
    }
  }
});

Deno.test("a misplaced or malformed TSIG gets FORMERR", () => {
  for (const [name, query] of MISPLACED_TSIGS) {
    const reply = viaRespond(hex(query));
    assert.equal(reply[2], 0x81, name);
    assert.equal(reply[3], 0x11, name);
    assert.equal(decodeMessage(reply).additionals.some((rr) => rr.type === 250), false, name);
  }
});

// -------------------------------------------------------------------------------------------
// The same bytes through the real server: UDP, TCP whole, TCP one byte per write.

async function udpExchange(port: number, query: Uint8Array): Promise<Uint8Array> {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  // No reply within 5 s: closing the socket ends the receive and fails the test.
  const timer = setTimeout(() => socket.close(), 5000);
  try {
    await socket.send(query, { transport: "udp", hostname: "127.0.0.1", port });
    const [reply] = await socket.receive();
    return reply;
  } finally {
    clearTimeout(timer);
    try {
      socket.close();
    } catch { /* closed by the timer */ }
  }
}

async function tcpExchange(
  port: number,
  query: Uint8Array,
  byteByByte: boolean,
): Promise<Uint8Array> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const framed = encodeLengthPrefixed(query, { prefixBytes: 2 });
  if (byteByByte) {
    for (let i = 0; i < framed.length; i++) await writeAll(conn, framed.subarray(i, i + 1));
  } else await writeAll(conn, framed);
  const decoder = new LengthPrefixDecoder({ prefixBytes: 2 });
  const buf = new Uint8Array(4096);
  while (true) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("the server closed the connection without a reply");
    const [frame] = decoder.push(buf.subarray(0, n));
    if (frame) return frame;
  }
}

Deno.test("the server sends the same bytes over UDP, TCP whole and TCP byte by byte", async () => {
  await using server = startDnsServer(authority, { port: 0 });
  const port = server.addr.port;
  const cases = [
    ...opcodeCases().filter((_, i) => i % 7 === 0),
    ...formerrCases(),
    ...tsigCases(),
  ];
  for (const c of cases) {
    assert.equal(toHex(await udpExchange(port, c.query)), toHex(c.reply), `UDP: ${c.name}`);
    for (const byteByByte of [false, true]) {
      const got = await tcpExchange(port, c.query, byteByByte);
      assert.equal(
        toHex(got),
        toHex(c.reply),
        `TCP ${byteByByte ? "bytewise" : "whole"}: ${c.name}`,
      );
    }
  }
});

Deno.test({
  name: "interop: dig -y with a key the server does not know reports NOTAUTH and BADKEY",
  ignore: !hasCommand("dig"),
  async fn() {
    await using server = startDnsServer(authority, { port: 0 });
    for (const transport of ["+notcp", "+tcp"]) {
      const dig = await runCommand("dig", [
        "-y",
        "hmac-sha256:netlab-test.:K2tf3TRjvQkVCmJF3/Z9vA==",
        "@127.0.0.1",
        "-p",
        String(server.addr.port),
        "+tries=1",
        "+time=5",
        transport,
        "www.cnblogs.com",
      ]);
      assert.match(dig.stdout, /status: NOTAUTH/, dig.stdout);
      assert.match(dig.stdout, /flags: qr rd; QUERY: 0, ANSWER: 0, AUTHORITY: 0, ADDITIONAL: 2/);
      assert.match(
        dig.stdout,
        /^netlab-test\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\. \d+ 300 0 \d+ BADKEY 0\s*$/m,
      );
    }
  },
});

Deno.test("wire: TC at 512 bytes without EDNS, at the EDNS size with it, never over TCP", () => {
  const plain = ask("big.cnblogs.com", TYPE.A);
  assert.equal(plain.flags.tc, true);
  assert.ok(plain.size <= 512);
  assert.equal(plain.answers.length, 0);
  const edns = ask("big.cnblogs.com", TYPE.A, { edns: { udpSize: 1232 } });
  assert.equal(edns.flags.tc, false);
  assert.equal(edns.answers.length, 40);
  const small = ask("big.cnblogs.com", TYPE.A, { edns: { udpSize: 100 } }); // below 512: 512
  assert.equal(small.flags.tc, true);
  const txt = ask("big.cnblogs.com", TYPE.TXT, { edns: { udpSize: 4096 } }); // capped at 1232
  assert.equal(txt.flags.tc, true);
  assert.ok(txt.size <= 1232);
  assert.equal(getEdns(txt)?.udpSize, 1232);
  const tcp = ask("big.cnblogs.com", TYPE.TXT, { udp: false });
  assert.equal(tcp.flags.tc, false);
  assert.equal(tcp.answers.length, 40);
  assert.ok(tcp.size > 1232);
});

Deno.test("wire: OPT echoed only when the query had one; DO echoed; BADVERS for version 1", () => {
  assert.equal(getEdns(ask("www.cnblogs.com", TYPE.A)), undefined);
  const e = getEdns(ask("www.cnblogs.com", TYPE.A, { edns: { udpSize: 4096, dnssecOk: true } }));
  assert.deepEqual(e && { ...e, options: e.options.length }, {
    udpSize: 1232,
    extendedRcode: 0,
    version: 0,
    dnssecOk: true,
    options: 0,
  });
  const bad = ask("www.cnblogs.com", TYPE.A, { edns: { version: 1 } });
  assert.equal(bad.answers.length, 0);
  assert.equal(((getEdns(bad)?.extendedRcode ?? 0) << 4) | bad.flags.rcode, 16);
});

function rawReply(bytes: Uint8Array): Message | null {
  const r = respond(authority, bytes, { udp: true });
  return r && decodeMessage(r.bytes);
}

Deno.test("wire: FORMERR for malformed queries that still carry a header", () => {
  const good = encodeMessage(makeQuery("www.cnblogs.com", TYPE.A, { id: 0x7777, edns: false }));
  const cases: Uint8Array[] = [
    good.subarray(0, good.length - 1), // question cut short
    Uint8Array.of(...good, 1, 2, 3), // trailing garbage
    Uint8Array.of(0x77, 0x77, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1), // self pointer
    Uint8Array.of(0x77, 0x77, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0), // no question
  ];
  const two = makeQuery("a.cnblogs.com", TYPE.A, { id: 0x7777, edns: false });
  two.questions.push({ name: "b.cnblogs.com.", type: TYPE.A, class: 1 });
  cases.push(encodeMessage(two));
  const twoOpts = makeQuery("a.cnblogs.com", TYPE.A, { id: 0x7777 });
  twoOpts.additionals.push(makeOpt({}));
  cases.push(encodeMessage(twoOpts));
  for (const bytes of cases) {
    const r = rawReply(bytes)!;
    assert.equal(r.id, 0x7777);
    assert.equal(r.flags.qr, true);
    assert.equal(r.flags.rcode, RCODE.FORMERR);
    assert.equal(r.answers.length, 0);
  }
});

Deno.test("wire: NOTIMP for opcodes other than QUERY; silence for responses and stubs", () => {
  for (const opcode of [OPCODE.IQUERY, OPCODE.STATUS, OPCODE.NOTIFY, OPCODE.UPDATE, 3, 15]) {
    const q = makeQuery("www.cnblogs.com", TYPE.A, { id: 9, edns: false });
    q.flags.opcode = opcode;
    const r = rawReply(encodeMessage(q))!;
    assert.equal(r.flags.rcode, RCODE.NOTIMP, `opcode ${opcode}`);
    assert.equal(r.flags.opcode, opcode);
  }
  const response = makeQuery("www.cnblogs.com", TYPE.A, { id: 9 });
  response.flags.qr = true;
  assert.equal(rawReply(encodeMessage(response)), null);
  assert.equal(rawReply(new Uint8Array(11)), null);
});

Deno.test("fuzz: random bytes and mutated queries never throw; replies are well-formed", () => {
  const cache = new ResponseCache(new Authority([root, com, cnblogs]), { maxEntries: 500 });
  let answered = 0;
  for (const input of fuzzInputs(6000, 20240501)) {
    for (const udp of [true, false]) {
      const r = cache.respond(input, udp);
      if (!r) continue;
      answered++;
      assert.equal(r.error, undefined, `internal error for ${input}`);
      const msg = decodeMessage(r.bytes);
      assert.equal(msg.id, (input[0] << 8) | input[1]);
      assert.equal(msg.flags.qr, true);
      if (udp) assert.ok(r.bytes.length <= 1232);
    }
  }
  assert.ok(answered > 3000, `only ${answered} replies`);
});

// -------------------------------------------------------------------------------------------
// The rules on decoded messages.
