/**
 * dns/wire/message.ts, seeded and bounded: random valid messages, compressed in every way RFC 1035
 * allows (any name may point at any earlier occurrence of one of its suffixes, in any section
 * and any rdata the decoder reads names from), decode → encode → decode to the same message and
 * re-encode no longer than they came; mutations of real messages only ever throw the codec's
 * `DnsFormatError` (and what decodes re-encodes the same way); decoding cost grows linearly.
 */
import assert from "node:assert/strict";
import { CLASS, TYPE, typeName } from "../../dns/wire/constants.ts";
import { decodeMessage, encodeMessage, makeQuery, type Message } from "../../dns/wire/message.ts";
import { DnsFormatError } from "../../dns/wire/primitives.ts";
import {
  encodeRdata,
  type RData,
  type ResourceRecord,
  type TargetKind,
} from "../../dns/wire/rdata.ts";
import { makeOpt } from "../../dns/wire/edns.ts";
import { nameLabels } from "../../dns/wire/names.ts";
import { describeMessage } from "../../dns/wire/describe.ts";
import { Authority } from "../../dns/authority/authority.ts";
import { respond } from "../../dns/authority/respond.ts";
import { prng } from "../_prng.ts";
import { cnblogs, com, root } from "./_authority.ts";

type Random = () => number;
const int = (random: Random, n: number) => Math.floor(random() * n);
const pick = <T>(random: Random, items: readonly T[]): T => items[int(random, items.length)];

// -------------------------------------------------------------------------------------------
// Random messages.

/** Label bytes: mostly letters (both cases), sometimes bytes that print escaped. */
function randomLabel(random: Random): number[] {
  const special = [0x2e, 0x5c, 0x20, 0x00, 0xff, 0x22, 0x3b, 0x40];
  const length = random() < 0.05 ? 63 : 1 + int(random, 8);
  return Array.from(
    { length },
    () =>
      random() < 0.05
        ? pick(random, special)
        : pick(random, [0x61, 0x62, 0x63, 0x41, 0x42, 0x2d, 0x31]),
  );
}

/** A pool of names that share suffixes, so that compression has something to find. */
function namePool(random: Random): string[] {
  const text = (labels: number[][]) =>
    labels.length === 0 ? "." : labels.map((l) => {
      return l.map((b) =>
        b === 0x2e || b === 0x5c || b === 0x22 || b === 0x3b || b === 0x40
          ? "\\" + String.fromCharCode(b)
          : b <= 0x20 || b >= 0x7f
          ? "\\" + String(b).padStart(3, "0")
          : String.fromCharCode(b)
      ).join("");
    }).join(".") + ".";
  const zones = [[], [randomLabel(random)], [randomLabel(random), randomLabel(random)]];
  const pool: string[] = [];
  for (let i = 0; i < 12; i++) {
    const base = pick(random, zones);
    const labels = [...Array.from({ length: int(random, 3) }, () => randomLabel(random)), ...base];
    let wire = 1;
    const kept: number[][] = [];
    for (const l of labels) {
      if (wire + l.length + 1 > 255) break;
      wire += l.length + 1;
      kept.push(l);
    }
    pool.push(text(kept));
  }
  return pool;
}

function randomRdata(random: Random, type: number, names: string[]): RData {
  const name = () => pick(random, names);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(random, 256));
  switch (type) {
    case TYPE.A:
      return { kind: "A", address: Array.from({ length: 4 }, () => int(random, 256)).join(".") };
    case TYPE.AAAA:
      return { kind: "AAAA", address: pick(random, ["::1", "2001:db8::5", "::ffff:1.2.3.4"]) };
    case TYPE.NS:
    case TYPE.CNAME:
    case TYPE.PTR:
    case TYPE.MD:
    case TYPE.MF:
    case TYPE.MB:
    case TYPE.MG:
    case TYPE.MR:
      return { kind: typeName(type) as TargetKind, target: name() };
    case TYPE.MX:
      return { kind: "MX", preference: int(random, 65536), exchange: name() };
    case TYPE.SOA:
      return {
        kind: "SOA",
        mname: name(),
        rname: name(),
        serial: int(random, 2 ** 32),
        refresh: int(random, 2 ** 32),
        retry: 900,
        expire: 604800,
        minimum: 300,
      };
    case TYPE.MINFO:
      return { kind: "MINFO", rmailbx: name(), emailbx: name() };
    case TYPE.TXT:
      return {
        kind: "TXT",
        strings: Array.from({ length: 1 + int(random, 3) }, () => bytes(int(random, 20))),
      };
    case TYPE.SRV:
      return { kind: "SRV", priority: int(random, 65536), weight: 5, port: 443, target: name() };
    case TYPE.CAA:
      return {
        kind: "CAA",
        flags: 128,
        tag: pick(random, ["issue", "iodef"]),
        value: bytes(int(random, 12)),
      };
    default:
      return { kind: "UNKNOWN", bytes: bytes(int(random, 12)) };
  }
}

const TYPES = [
  TYPE.A,
  TYPE.AAAA,
  TYPE.NS,
  TYPE.CNAME,
  TYPE.PTR,
  TYPE.MD,
  TYPE.MF,
  TYPE.MB,
  TYPE.MG,
  TYPE.MR,
  TYPE.MX,
  TYPE.SOA,
  TYPE.MINFO,
  TYPE.TXT,
  TYPE.SRV,
  TYPE.CAA,
  13,
  99,
  65280,
];

function randomMessage(random: Random, big: boolean): Message {
  const names = namePool(random);
  const record = (): ResourceRecord => {
    const type = big ? TYPE.SRV : pick(random, TYPES);
    return {
      name: pick(random, names),
      type,
      class: CLASS.IN,
      ttl: int(random, 2 ** 31),
      data: randomRdata(random, type, names),
    };
  };
  const section = (max: number) => Array.from({ length: int(random, max + 1) }, record);
  const additionals = section(big ? 0 : 4);
  if (random() < 0.5) additionals.push(makeOpt({ udpSize: 1232, dnssecOk: random() < 0.5 }));
  return {
    id: int(random, 65536),
    flags: {
      qr: random() < 0.5,
      opcode: int(random, 16),
      aa: random() < 0.5,
      tc: random() < 0.5,
      rd: random() < 0.5,
      ra: random() < 0.5,
      ad: random() < 0.5,
      cd: random() < 0.5,
      rcode: int(random, 16),
    },
    questions: Array.from(
      { length: int(random, 3) },
      () => ({ name: pick(random, names), type: pick(random, TYPES), class: 1 }),
    ),
    answers: big ? Array.from({ length: 2500 }, record) : section(8),
    authorities: section(big ? 0 : 4),
    additionals,
  };
}

// -------------------------------------------------------------------------------------------
// A wire writer of its own, compressing at random: every name may point at any earlier
// occurrence of any of its suffixes, as RFC 1035 4.1.4 allows, or be written in full.

class RandomWriter {
  readonly out: number[] = [];
  /** Every suffix written so far (lowercased text is not used: compression is exact bytes). */
  readonly suffixes = new Map<string, number[]>();
  /** `compressChance`: how often a name points at an earlier suffix when one exists. */
  constructor(readonly random: Random, readonly compressChance = 0.8) {}

  u16(v: number): void {
    this.out.push(v >> 8, v & 0xff);
  }
  u32(v: number): void {
    this.out.push(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  }
  name(text: string): void {
    const labels = nameLabels(text);
    for (let i = 0; i < labels.length; i++) {
      const key = labels.slice(i).map((l) => l.join(",")).join("|");
      const earlier = this.suffixes.get(key);
      if (earlier && this.random() < this.compressChance) {
        this.u16(0xc000 | pick(this.random, earlier));
        return;
      }
      if (this.out.length < 0x4000) {
        if (!this.suffixes.has(key)) this.suffixes.set(key, []);
        this.suffixes.get(key)!.push(this.out.length);
      }
      this.out.push(labels[i].length, ...labels[i]);
    }
    this.out.push(0);
  }
  rdata(rr: ResourceRecord): void {
    const d = rr.data;
    switch (d.kind) {
      case "NS":
      case "CNAME":
      case "PTR":
      case "MD":
      case "MF":
      case "MB":
      case "MG":
      case "MR":
        return this.name(d.target);
      case "MX":
        this.u16(d.preference);
        return this.name(d.exchange);
      case "SOA":
        this.name(d.mname);
        this.name(d.rname);
        for (const v of [d.serial, d.refresh, d.retry, d.expire, d.minimum]) this.u32(v);
        return;
      case "MINFO":
        this.name(d.rmailbx);
        return this.name(d.emailbx);
      case "SRV":
        this.u16(d.priority);
        this.u16(d.weight);
        this.u16(d.port);
        return this.name(d.target);
      default:
        this.out.push(...encodeRdata(rr));
    }
  }
  message(msg: Message): Uint8Array {
    const f = msg.flags;
    this.u16(msg.id);
    this.u16(
      (f.qr ? 0x8000 : 0) | (f.opcode << 11) | (f.aa ? 0x400 : 0) | (f.tc ? 0x200 : 0) |
        (f.rd ? 0x100 : 0) | (f.ra ? 0x80 : 0) | (f.ad ? 0x20 : 0) | (f.cd ? 0x10 : 0) | f.rcode,
    );
    for (const n of [msg.questions, msg.answers, msg.authorities, msg.additionals]) {
      this.u16(n.length);
    }
    for (const q of msg.questions) {
      this.name(q.name);
      this.u16(q.type);
      this.u16(q.class);
    }
    for (const rr of [...msg.answers, ...msg.authorities, ...msg.additionals]) {
      this.name(rr.name);
      this.u16(rr.type);
      this.u16(rr.class);
      this.u32(rr.ttl);
      const at = this.out.length;
      this.u16(0);
      this.rdata(rr);
      const length = this.out.length - at - 2;
      this.out[at] = length >> 8;
      this.out[at + 1] = length & 0xff;
    }
    return Uint8Array.from(this.out);
  }
}

/** Decodes `wire`, re-encodes it and checks the two rules every decodable message obeys. */
function assertReencodes(wire: Uint8Array, label: string): void {
  const decoded = decodeMessage(wire);
  const again = encodeMessage(decoded);
  assert.deepEqual(decodeMessage(again), decoded, label);
  assert.ok(
    again.length <= wire.length,
    `${label}: re-encoded to ${again.length} > ${wire.length} bytes`,
  );
}

Deno.test("property: random valid messages, compressed at random, re-encode to the same message", () => {
  const random = prng(0x5eed);
  let big = 0;
  for (let i = 0; i < 600; i++) {
    const isBig = i % 100 === 99; // near 64 KiB, thousands of compressed SRV targets
    const msg = randomMessage(random, isBig);
    const wire = new RandomWriter(random, isBig ? 1 : 0.8).message(msg);
    if (wire.length > 65535) continue;
    if (isBig) big++;
    assertReencodes(wire, `message ${i}`);
    // The decoder gives back what was written (names as presentation text, case kept).
    assert.deepEqual(decodeMessage(wire), msg);
  }
  assert.ok(big >= 5, `only ${big} big messages`);
});

// -------------------------------------------------------------------------------------------
// Fuzzing: mutations of real messages.

function realMessages(): Uint8Array[] {
  const zones = [root, com, cnblogs];
  const authority = new Authority(zones);
  const out: Uint8Array[] = [];
  const seen = new Set<string>();
  for (const zone of zones) {
    for (const rr of zone.records) {
      for (const type of [rr.type, TYPE.A, TYPE.ANY]) {
        const key = `${rr.name} ${type}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const query = encodeMessage(makeQuery(rr.name, type, { id: out.length }));
        out.push(query, respond(authority, query, { udp: false })!.bytes);
      }
    }
  }
  const random = prng(77);
  for (let i = 0; i < 40; i++) {
    out.push(new RandomWriter(random).message(randomMessage(random, false)));
  }
  return out;
}

function mutate(random: Random, seeds: Uint8Array[]): Uint8Array {
  const bytes = [...pick(random, seeds)];
  for (let k = 1 + int(random, 4); k > 0; k--) {
    const at = int(random, bytes.length + 1);
    switch (int(random, 7)) {
      case 0: // flip a byte
        bytes[at] = int(random, 256);
        break;
      case 1: // a pointer to somewhere
        bytes.splice(at, 2, 0xc0 | int(random, 4), int(random, 256));
        break;
      case 2: // insert bytes
        bytes.splice(at, 0, ...Array.from({ length: 1 + int(random, 4) }, () => int(random, 256)));
        break;
      case 3: // delete bytes
        bytes.splice(at, 1 + int(random, 8));
        break;
      case 4: // cut off the end
        bytes.length = at;
        break;
      case 5: { // repeat a slice
        const from = int(random, bytes.length);
        bytes.splice(at, 0, ...bytes.slice(from, from + int(random, 40)));
        break;
      }
      default: // change a count
        bytes[4 + int(random, 8)] = int(random, 4);
    }
  }
  return Uint8Array.from(bytes.slice(0, 65535));
}

Deno.test("fuzz: mutated real messages decode or throw DnsFormatError, and what decodes re-encodes", () => {
  const random = prng(20260607);
  const seeds = realMessages();
  let decoded = 0;
  for (let i = 0; i < 30_000; i++) {
    const input = mutate(random, seeds);
    let ok = false;
    try {
      decodeMessage(input);
      ok = true;
    } catch (error) {
      assert.ok(error instanceof DnsFormatError, `input ${i}: ${error}`);
    }
    if (ok) {
      decoded++;
      assertReencodes(input, `input ${i}`);
    }
    // The annotated view never throws either.
    describeMessage(input);
  }
  assert.ok(decoded > 2000, `only ${decoded} of the mutations decoded`);
});

// -------------------------------------------------------------------------------------------
// Linear time: the same number of bytes, in one big message or in many small ones, cost the
// same. A quadratic path would make the big message cost ~64 times more.

/** Messages of about `size` bytes built to make the decoder work hard per byte. */
const HARD_SHAPES: Record<string, (size: number) => Uint8Array> = {
  // Every owner points at a 255-byte name: each record builds a 255-character string.
  "pointers to a long name": (size) => {
    const longName = "a.".repeat(127);
    const count = Math.floor((size - 300) / 16);
    const w = new RandomWriter(() => 0, 1); // always compress when it can
    return w.message({
      ...makeQuery(longName, TYPE.A, { id: 1, edns: false }),
      answers: Array.from({ length: count }, () => ({
        name: longName,
        type: TYPE.A,
        class: 1,
        ttl: 1,
        data: { kind: "A", address: "1.2.3.4" },
      })),
    });
  },
  // Distinct names of 127 one-byte labels: every label start is remembered.
  "names of 127 labels": (size) => {
    const count = Math.floor(size / 270);
    const names = Array.from(
      { length: count },
      (_, i) => `${"b.".repeat(124)}${i % 10}.${Math.floor(i / 10)}.`,
    );
    const w = new RandomWriter(() => 0, 0); // never compress
    return w.message({
      ...makeQuery(".", TYPE.A, { id: 1, edns: false }),
      answers: names.map((name) => ({
        name,
        type: TYPE.A,
        class: 1,
        ttl: 1,
        data: { kind: "A", address: "1.2.3.4" },
      })),
    });
  },
  // Thousands of short distinct names: a cost per name that grew with the names before it
  // would show here first.
  "many short names": (size) => {
    const count = Math.floor((size - 20) / 22);
    const w = new RandomWriter(() => 0, 0); // never compress
    return w.message({
      ...makeQuery(".", TYPE.A, { id: 1, edns: false }),
      answers: Array.from({ length: count }, (_, i) => ({
        name: `n${i.toString(36)}.z.`,
        type: TYPE.A,
        class: 1,
        ttl: 1,
        data: { kind: "A", address: "1.2.3.4" },
      })),
    });
  },
  // Many short TXT strings, then one bad byte at the very end: all the work, then the error.
  "strings then trailing junk": (size) => {
    const strings = Array.from({ length: Math.floor((size - 40) / 2) }, () => new Uint8Array(1));
    const msg = makeQuery("x.", TYPE.TXT, { id: 1, edns: false });
    msg.answers.push({
      name: "x.",
      type: TYPE.TXT,
      class: 1,
      ttl: 1,
      data: { kind: "TXT", strings: strings.slice(0, 30000) },
    });
    return Uint8Array.from([...encodeMessage(msg), 0]);
  },
};

function decodeTime(inputs: Uint8Array[]): number {
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const start = performance.now();
    for (const input of inputs) {
      try {
        decodeMessage(input);
      } catch (error) {
        if (!(error instanceof DnsFormatError)) throw error;
      }
    }
    best = Math.min(best, performance.now() - start);
  }
  return best;
}

Deno.test("decoding cost grows linearly: one 64 KiB message costs about 64 of 1 KiB", () => {
  for (const [shape, build] of Object.entries(HARD_SHAPES)) {
    const big = build(64 * 1024);
    const small = build(1024);
    const copies = Math.round(big.length / small.length);
    decodeTime([big, small]); // warm up the JIT on both
    const ratio = decodeTime([big]) / decodeTime(Array(copies).fill(small));
    // Linear: about 1. Quadratic: about `copies` (~60). Generous for a loaded machine.
    assert.ok(
      ratio < 8,
      `${shape}: one ${big.length}-byte message costs ${
        ratio.toFixed(1)
      }× ${copies} of ${small.length} bytes`,
    );
  }
});
