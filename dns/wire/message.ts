/**
 * The DNS message (RFC 1035 §4.1): a 12-byte header — id, flags, four section counts — then the
 * question and the answer, authority and additional sections. Bytes in, plain objects out, and
 * back. Pure: no I/O, no `Deno.*`.
 *
 * Theory of operation
 * - Decoding is strict: section counts the bytes cannot hold are refused before anything is
 *   allocated for them, every name goes through `wire/names.ts` (pointers only to names decoded
 *   earlier), every rdata through its codec in `wire/rdata.ts` (an rdlength running past the end
 *   or not matching the rdata is refused), and trailing bytes after the last record are an error.
 *   Every failure is a `DnsFormatError` naming the offset.
 * - Encoding writes into the one scratch buffer of `wire/writer.ts`, names compressed against
 *   earlier ones. With `maxSize` the encoder drops whole RRsets that do not fit and sets TC,
 *   keeping the OPT and a TSIG last (their space is reserved first).
 */
import { CLASS, className, MAX_MESSAGE_SIZE, OPCODE, TYPE, typeName } from "./constants.ts";
import { formatError, readU16, readU32 } from "./primitives.ts";
import {
  type DecodeContext,
  namesEqual,
  nameWireLength,
  newDecodeContext,
  normalizeName,
  readName,
} from "./names.ts";
import { rdataLength, readRdata, type ResourceRecord, writeRdata } from "./rdata.ts";
import { u16Value, u32Value, Writer } from "./writer.ts";
import { type Edns, makeOpt } from "./edns.ts";

/** The header flags (rcode is the 4-bit header part). */
export interface Flags {
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  ad: boolean;
  cd: boolean;
  rcode: number;
}

/** One question; `name` always ends with a dot (`www.cnblogs.com.`, the root is `.`). */
export interface Question {
  name: string;
  type: number;
  class: number;
}

/** A whole DNS message. */
export interface Message {
  id: number;
  flags: Flags;
  questions: Question[];
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  additionals: ResourceRecord[];
}

function readFlags(hi: number, lo: number): Flags {
  return {
    qr: (hi & 0x80) !== 0,
    opcode: (hi >> 3) & 0x0f,
    aa: (hi & 0x04) !== 0,
    tc: (hi & 0x02) !== 0,
    rd: (hi & 0x01) !== 0,
    ra: (lo & 0x80) !== 0,
    ad: (lo & 0x20) !== 0,
    cd: (lo & 0x10) !== 0,
    rcode: lo & 0x0f,
  };
}

/** The flags word of a header. */
export function encodeFlags(f: Flags): number {
  return (f.qr ? 0x8000 : 0) | ((f.opcode & 0x0f) << 11) | (f.aa ? 0x0400 : 0) |
    (f.tc ? 0x0200 : 0) | (f.rd ? 0x0100 : 0) | (f.ra ? 0x80 : 0) | (f.ad ? 0x20 : 0) |
    (f.cd ? 0x10 : 0) | (f.rcode & 0x0f);
}

/** Header only (no validation of the rest); null when fewer than 12 bytes. */
export function decodeMessageHeader(
  bytes: Uint8Array,
): { id: number; flags: Flags; counts: [number, number, number, number] } | null {
  if (bytes.length < 12) return null;
  return {
    id: (bytes[0] << 8) | bytes[1],
    flags: readFlags(bytes[2], bytes[3]),
    counts: [
      (bytes[4] << 8) | bytes[5],
      (bytes[6] << 8) | bytes[7],
      (bytes[8] << 8) | bytes[9],
      (bytes[10] << 8) | bytes[11],
    ],
  };
}

function readRecord(
  buf: Uint8Array,
  offset: number,
  ctx: DecodeContext,
): [ResourceRecord, number] {
  const end = buf.length;
  const [name, a1] = readName(buf, offset, end, ctx);
  const [type, a2] = readU16(buf, a1, end, "record");
  const [klass, a3] = readU16(buf, a2, end, "record");
  const [ttl, a4] = readU32(buf, a3, end, "record");
  const [rdlength, a5] = readU16(buf, a4, end, "record");
  const rdEnd = a5 + rdlength;
  if (rdEnd > end) {
    throw formatError(
      a4,
      "record",
      `rdlength ${rdlength} runs past the end of the message (${end - a5} bytes left)`,
    );
  }
  const data = readRdata(buf, a5, rdEnd, type, klass, ctx);
  return [{ name, type, class: klass, ttl, data }, rdEnd];
}

/** Decodes a whole message strictly; throws DnsFormatError naming the offset and the reason. */
export function decodeMessage(bytes: Uint8Array): Message {
  if (bytes.length < 12) {
    throw formatError(0, "header", `need 12 bytes, only ${bytes.length} left`);
  }
  const [id] = readU16(bytes, 0, 12, "header");
  const flags = readFlags(bytes[2], bytes[3]);
  const [qd] = readU16(bytes, 4, 12, "header");
  const [an] = readU16(bytes, 6, 12, "header");
  const [ns] = readU16(bytes, 8, 12, "header");
  const [ar] = readU16(bytes, 10, 12, "header");
  // Each question takes at least 5 bytes and each record at least 11: refuse impossible counts
  // before allocating anything for them.
  const minimum = qd * 5 + (an + ns + ar) * 11;
  if (minimum > bytes.length - 12) {
    throw formatError(
      4,
      "message",
      `counts (qd ${qd}, an ${an}, ns ${ns}, ar ${ar}) need at least ${minimum} bytes, only ${
        bytes.length - 12
      } left`,
    );
  }
  const ctx = newDecodeContext();
  let at = 12;
  const questions: Question[] = [];
  for (let i = 0; i < qd; i++) {
    const [name, a1] = readName(bytes, at, bytes.length, ctx);
    const [type, a2] = readU16(bytes, a1, bytes.length, "question");
    const [klass, a3] = readU16(bytes, a2, bytes.length, "question");
    questions.push({ name, type, class: klass });
    at = a3;
  }
  const section = (count: number): ResourceRecord[] => {
    const out: ResourceRecord[] = [];
    for (let i = 0; i < count; i++) {
      const [rr, next] = readRecord(bytes, at, ctx);
      out.push(rr);
      at = next;
    }
    return out;
  };
  const answers = section(an);
  const authorities = section(ns);
  const additionals = section(ar);
  if (at !== bytes.length) {
    throw formatError(
      at,
      "message",
      `${bytes.length - at} trailing bytes after the last record`,
    );
  }
  return { id, flags, questions, answers, authorities, additionals };
}

function writeRecord(w: Writer, rr: ResourceRecord, compress: boolean): void {
  w.name(rr.name, compress);
  w.u16(u16Value(rr.type, "type"));
  w.u16(u16Value(rr.class, "class"));
  w.u32(u32Value(rr.ttl, "TTL"));
  const lengthAt = w.pos;
  w.u16(0);
  // Every codec with names is one whose names the decoder accepts compressed: compress them.
  writeRdata(w, rr, compress);
  const rdlength = w.pos - lengthAt - 2;
  w.buf[lengthAt] = rdlength >> 8;
  w.buf[lengthAt + 1] = rdlength & 0xff;
}

function sameRRset(a: ResourceRecord, b: ResourceRecord): boolean {
  return a.type === b.type && a.class === b.class && namesEqual(a.name, b.name);
}

/** Options for `encodeMessage`. */
export interface EncodeOptions {
  /** Compress names (default true). */
  compress?: boolean;
  /**
   * Fit the message into this many bytes: RRsets that do not fit are dropped whole, and TC is
   * set when an answer or authority RRset had to go (missing additional data needs no TC).
   */
  maxSize?: number;
}

/** Encodes a message to wire bytes (a fresh array). */
export function encodeMessage(msg: Message, options: EncodeOptions = {}): Uint8Array {
  const compress = options.compress ?? true;
  const maxSize = Math.min(options.maxSize ?? MAX_MESSAGE_SIZE, MAX_MESSAGE_SIZE);
  // The pseudo-records end the message whatever else has to go: the OPT, then a TSIG, which
  // must be the very last record (RFC 8945 5.1). Their space is reserved up front.
  const tail: ResourceRecord[] = [];
  let tailSize = 0;
  if (options.maxSize !== undefined) {
    const opt = msg.additionals.find((rr) => rr.type === TYPE.OPT);
    const last = msg.additionals.at(-1);
    if (opt) tail.push(opt);
    if (last?.type === TYPE.TSIG) tail.push(last);
    for (const rr of tail) {
      tailSize += nameWireLength(rr.name) + 10 + rdataLength(rr);
    }
  }
  const w = new Writer(compress); // after rdataLength above: both use the scratch buffer
  w.u16(u16Value(msg.id, "id"));
  w.u16(encodeFlags(msg.flags));
  w.u16(msg.questions.length);
  w.pos += 6; // section counts are patched at the end
  for (const q of msg.questions) {
    w.name(q.name, compress);
    w.u16(u16Value(q.type, "type"));
    w.u16(u16Value(q.class, "class"));
  }
  if (w.pos > maxSize) {
    throw new RangeError(`Cannot encode message: the question alone exceeds ${maxSize} bytes`);
  }
  let truncated = false;
  const counts = [0, 0, 0];
  const sections = [msg.answers, msg.authorities, msg.additionals];
  for (let s = 0; s < 3; s++) {
    const records = sections[s];
    const limit = maxSize - tailSize;
    let rrsetStart = w.pos;
    let rrsetCount = counts[s];
    for (let i = 0; i < records.length && !truncated; i++) {
      const rr = records[i];
      if (s === 2 && tail.includes(rr)) continue; // written last, space reserved
      if (i === 0 || !sameRRset(records[i - 1], rr)) {
        rrsetStart = w.pos;
        rrsetCount = counts[s];
      }
      writeRecord(w, rr, compress);
      counts[s]++;
      if (w.pos > limit) {
        w.rollback(rrsetStart);
        counts[s] = rrsetCount;
        if (s < 2) truncated = true;
        else break;
      }
    }
  }
  for (const rr of tail) {
    writeRecord(w, rr, compress);
    counts[2]++;
  }
  const buf = w.buf;
  buf[6] = counts[0] >> 8;
  buf[7] = counts[0] & 0xff;
  buf[8] = counts[1] >> 8;
  buf[9] = counts[1] & 0xff;
  buf[10] = counts[2] >> 8;
  buf[11] = counts[2] & 0xff;
  if (truncated) buf[2] |= 0x02;
  return buf.slice(0, w.pos);
}

// ---------------------------------------------------------------------------------------------
// Queries, and how dig prints a question.

/** A random 16-bit query id from the system's cryptographic generator. */
export function randomId(): number {
  // One call to the system's generator per 1024 IDs: each call is an op, as much as the rest
  // of building a query.
  if (randomAt >= randomIds.length) {
    crypto.getRandomValues(randomIds);
    randomAt = 0;
  }
  return randomIds[randomAt++];
}

const randomIds = new Uint16Array(1024);
let randomAt = randomIds.length;

/**
 * A query for one question: RD set and an EDNS OPT (UDP size 1232) unless told otherwise; the
 * id is random unless given.
 */
export function makeQuery(
  name: string,
  type: number,
  options: { id?: number; rd?: boolean; edns?: Partial<Edns> | false } = {},
): Message {
  return {
    id: options.id ?? randomId(),
    flags: {
      qr: false,
      opcode: OPCODE.QUERY,
      aa: false,
      tc: false,
      rd: options.rd ?? true,
      ra: false,
      ad: false,
      cd: false,
      rcode: 0,
    },
    questions: [{ name: normalizeName(name), type, class: CLASS.IN }],
    answers: [],
    authorities: [],
    additionals: options.edns === false ? [] : [makeOpt(options.edns ?? {})],
  };
}

/** A question the way dig prints it: `;www.cnblogs.com.\t\tIN\tA`. */
export function formatQuestion(q: Question): string {
  return `;${q.name}\t\t${className(q.class)}\t${typeName(q.type)}`;
}
