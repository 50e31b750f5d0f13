/**
 * The DNS message codec (RFC 1035, RFC 3596, RFC 2782, RFC 8659, RFC 6891, RFC 3597): bytes in,
 * plain objects out, and back. Pure: no I/O, no `Deno.*`.
 *
 * Theory of operation
 * - Decoding reads every primitive through a bounds-checked helper that returns
 *   `[value, nextOffset]` (the miekg/dns shape), so a short or lying message becomes a
 *   `DnsFormatError` naming the offset, never a wrong value. Each record's rdata is decoded by
 *   a codec looked up by type in `RDATA_CODECS` (the dns-packet shape); a type without a codec
 *   keeps its raw bytes as `{ kind: "UNKNOWN" }` and prints as RFC 3597 `\# len hex`.
 * - Decoding is strict: a label over 63 bytes, a name over 255, a compression pointer that
 *   does not point at a label of a name decoded earlier (forwards, into the header, into the
 *   middle of a label or into raw rdata: RFC 1035 allows pointers to "a prior occurrence" of
 *   a name only), section counts the bytes cannot hold, an rdlength running past the end or not
 *   matching the rdata, and trailing bytes after the last record are all rejected.
 * - Names are presentation text with the trailing dot (`www.cnblogs.com.`, the root is `.`);
 *   bytes that are special in master files (`.` `\` `"` `;` `(` `)` `@` `$`) or not printable
 *   are escaped the way dig prints them (`\.`, `\032`). Case is preserved both ways.
 * - Encoding writes into one reusable 64 KiB scratch buffer and copies the result out. Names
 *   are compressed against earlier names (case-sensitively, so every name keeps its case): in
 *   the question, owners, and the rdata of every type whose names the decoder reads compressed
 *   (the RFC 1035 types, and SRV: RFC 2782 asks senders not to compress its target, but RFC
 *   3597 asks receivers to accept it compressed, and what the decoder accepts the encoder must
 *   reproduce). So every message the decoder accepts re-encodes, never longer than it came. With `maxSize` the
 *   encoder drops whole RRsets that do not fit and sets TC, keeping the OPT and a TSIG last.
 */
import {
  decodeDnssecRdata,
  type DnssecRData,
  encodeDnssecRdata,
  formatDnssecRdata,
} from "./dnssec.ts";

/** Resource record types with a name (others print as `TYPE<n>`, RFC 3597). */
export const TYPE = {
  A: 1,
  NS: 2,
  MD: 3,
  MF: 4,
  CNAME: 5,
  SOA: 6,
  MB: 7,
  MG: 8,
  MR: 9,
  PTR: 12,
  MINFO: 14,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  DS: 43,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  NSEC3: 50,
  NSEC3PARAM: 51,
  CDS: 59,
  CDNSKEY: 60,
  TSIG: 250,
  CAA: 257,
  ANY: 255,
} as const;

/** Classes (`CLASS<n>` for the rest). */
export const CLASS = { IN: 1, CH: 3, ANY: 255 } as const;

/** Response codes (the 4-bit header part; EDNS extends them to 12 bits). */
export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  NOTAUTH: 9,
} as const;

/** Header opcodes. */
export const OPCODE = { QUERY: 0, IQUERY: 1, STATUS: 2, NOTIFY: 4, UPDATE: 5 } as const;

/** The longest label (RFC 1035 2.3.4). */
export const MAX_LABEL_LENGTH = 63;
/** The longest name on the wire, length octets and the root label included. */
export const MAX_NAME_LENGTH = 255;
/** The longest DNS message (the TCP length prefix is 16 bits). */
export const MAX_MESSAGE_SIZE = 65535;
/** The classic UDP payload limit without EDNS (RFC 1035 4.2.1). */
export const MAX_UDP_SIZE = 512;

/** Mnemonics for types netlab knows by name; only some of them have an rdata codec. */
const TYPE_NAMES: Record<number, string> = {
  1: "A",
  2: "NS",
  3: "MD",
  4: "MF",
  5: "CNAME",
  6: "SOA",
  7: "MB",
  8: "MG",
  9: "MR",
  10: "NULL",
  11: "WKS",
  12: "PTR",
  13: "HINFO",
  14: "MINFO",
  15: "MX",
  16: "TXT",
  17: "RP",
  18: "AFSDB",
  28: "AAAA",
  29: "LOC",
  33: "SRV",
  35: "NAPTR",
  39: "DNAME",
  41: "OPT",
  43: "DS",
  44: "SSHFP",
  46: "RRSIG",
  47: "NSEC",
  48: "DNSKEY",
  50: "NSEC3",
  51: "NSEC3PARAM",
  52: "TLSA",
  59: "CDS",
  60: "CDNSKEY",
  61: "OPENPGPKEY",
  62: "CSYNC",
  63: "ZONEMD",
  64: "SVCB",
  65: "HTTPS",
  99: "SPF",
  249: "TKEY",
  250: "TSIG",
  251: "IXFR",
  252: "AXFR",
  255: "ANY",
  256: "URI",
  257: "CAA",
};
const TYPE_NUMBERS = new Map<string, number>(
  Object.entries(TYPE_NAMES).map(([n, name]) => [name, Number(n)]),
);

const CLASS_NAMES: Record<number, string> = { 1: "IN", 3: "CH", 4: "HS", 254: "NONE", 255: "ANY" };
const CLASS_NUMBERS = new Map<string, number>(
  Object.entries(CLASS_NAMES).map(([n, name]) => [name, Number(n)]),
);

const RCODE_NAMES: Record<number, string> = {
  0: "NOERROR",
  1: "FORMERR",
  2: "SERVFAIL",
  3: "NXDOMAIN",
  4: "NOTIMP",
  5: "REFUSED",
  6: "YXDOMAIN",
  7: "YXRRSET",
  8: "NXRRSET",
  9: "NOTAUTH",
  10: "NOTZONE",
  16: "BADVERS",
};

const OPCODE_NAMES: Record<number, string> = {
  0: "QUERY",
  1: "IQUERY",
  2: "STATUS",
  4: "NOTIFY",
  5: "UPDATE",
};

/** `A`, `MX`, or `TYPE65280` for a type without a mnemonic (RFC 3597). */
export function typeName(type: number): string {
  return TYPE_NAMES[type] ?? `TYPE${type}`;
}

/** `A`/`mx`/`TYPE99` → the type number; throws RangeError for an unknown name. */
export function parseType(text: string): number {
  const upper = text.toUpperCase();
  const known = TYPE_NUMBERS.get(upper);
  if (known !== undefined) return known;
  const m = /^TYPE(\d{1,5})$/.exec(upper);
  if (m && Number(m[1]) <= 0xffff) return Number(m[1]);
  throw new RangeError(`Unknown record type "${printableText(text)}"`);
}

/** `IN`, `CH`, or `CLASS<n>`. */
export function className(klass: number): string {
  return CLASS_NAMES[klass] ?? `CLASS${klass}`;
}

/** `IN`/`ch`/`CLASS3` → the class number; throws RangeError for an unknown name. */
export function parseClass(text: string): number {
  const upper = text.toUpperCase();
  const known = CLASS_NUMBERS.get(upper);
  if (known !== undefined) return known;
  const m = /^CLASS(\d{1,5})$/.exec(upper);
  if (m && Number(m[1]) <= 0xffff) return Number(m[1]);
  throw new RangeError(`Unknown class "${printableText(text)}"`);
}

/** `NOERROR`, `NXDOMAIN`, …, or `RCODE<n>`. */
export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `RCODE${rcode}`;
}

/** `QUERY`, `NOTIFY`, …, or `RESERVED<n>` as dig prints it. */
export function opcodeName(op: number): string {
  return OPCODE_NAMES[op] ?? `RESERVED${op}`;
}

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

/** One EDNS option (RFC 6891 6.1.2). */
export interface EdnsOption {
  code: number;
  data: Uint8Array;
}

/** Types whose rdata is one name (MD, MF, MB, MG and MR: RFC 1035's obsolete and experimental). */
export type TargetKind = "NS" | "CNAME" | "PTR" | "MD" | "MF" | "MB" | "MG" | "MR";

/** Decoded rdata; `kind` says which shape it has. */
export type RData =
  | { kind: "A"; address: string }
  | { kind: "AAAA"; address: string }
  | { kind: TargetKind; target: string }
  | { kind: "MINFO"; rmailbx: string; emailbx: string }
  | { kind: "MX"; preference: number; exchange: string }
  | {
    kind: "SOA";
    mname: string;
    rname: string;
    serial: number;
    refresh: number;
    retry: number;
    expire: number;
    minimum: number;
  }
  | { kind: "TXT"; strings: Uint8Array[] }
  | { kind: "SRV"; priority: number; weight: number; port: number; target: string }
  | { kind: "CAA"; flags: number; tag: string; value: Uint8Array }
  | { kind: "OPT"; options: EdnsOption[] }
  | DnssecRData
  | { kind: "UNKNOWN"; bytes: Uint8Array };

/**
 * A resource record. For OPT (EDNS0) the fixed fields are carried raw: `class` is the UDP
 * payload size and `ttl` holds the extended rcode, version and DO bit (see `getEdns`).
 */
export interface ResourceRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  data: RData;
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

/** The EDNS0 fields of a message's OPT record. */
export interface Edns {
  udpSize: number;
  extendedRcode: number;
  version: number;
  dnssecOk: boolean;
  options: EdnsOption[];
}

/** A message that breaks the wire format; `offset` is where decoding gave up. */
export class DnsFormatError extends SyntaxError {
  override name = "DnsFormatError";
  constructor(message: string, readonly offset: number) {
    super(message);
  }
}

function formatError(offset: number, what: string, detail: string): DnsFormatError {
  return new DnsFormatError(`Cannot decode ${what} at offset ${offset}: ${detail}`, offset);
}

// ---------------------------------------------------------------------------------------------
// Bounds-checked primitive readers: each returns [value, nextOffset] or throws DnsFormatError.

function need(offset: number, n: number, end: number, what: string): void {
  if (offset + n > end) {
    const left = Math.max(0, end - offset);
    throw formatError(offset, what, `need ${n} bytes, only ${left} left`);
  }
}

/** Reads one byte. */
export function readU8(
  buf: Uint8Array,
  offset: number,
  end: number,
  what: string,
): [number, number] {
  need(offset, 1, end, what);
  return [buf[offset], offset + 1];
}

/** Reads a big-endian 16-bit integer. */
export function readU16(
  buf: Uint8Array,
  offset: number,
  end: number,
  what: string,
): [number, number] {
  need(offset, 2, end, what);
  return [(buf[offset] << 8) | buf[offset + 1], offset + 2];
}

/** Reads a big-endian unsigned 32-bit integer. */
export function readU32(
  buf: Uint8Array,
  offset: number,
  end: number,
  what: string,
): [number, number] {
  need(offset, 4, end, what);
  const v = buf[offset] * 0x1000000 + ((buf[offset + 1] << 16) | (buf[offset + 2] << 8) |
    buf[offset + 3]);
  return [v, offset + 4];
}

/** Reads `n` bytes (a copy, so the result outlives the input buffer). */
export function readBytes(
  buf: Uint8Array,
  offset: number,
  n: number,
  end: number,
  what: string,
): [Uint8Array, number] {
  need(offset, n, end, what);
  return [buf.slice(offset, offset + n), offset + n];
}

/** Reads a <character-string>: one length byte, then that many bytes. */
export function readCharacterString(
  buf: Uint8Array,
  offset: number,
  end: number,
  what: string,
): [Uint8Array, number] {
  const [len, at] = readU8(buf, offset, end, what);
  if (at + len > end) {
    throw formatError(offset, what, `string of ${len} bytes runs past the end (${end - at} left)`);
  }
  return [buf.slice(at, at + len), at + len];
}

// ---------------------------------------------------------------------------------------------
// Names.

/** How each byte prints inside a name label: 0 as is, 1 with a backslash, 2 as `\DDD`. */
const LABEL_ESCAPE = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  if (b <= 0x20 || b >= 0x7f) LABEL_ESCAPE[b] = 2;
}
for (const c of '.\\"();@$') LABEL_ESCAPE[c.charCodeAt(0)] = 1;

function decimalEscape(b: number): string {
  return "\\" + (b < 10 ? "00" : b < 100 ? "0" : "") + b;
}

/**
 * `text` for an error message: control characters (C0, DEL, C1, and the Unicode line and
 * paragraph separators) written as master-file escapes (`\010`, `\u2028` above 255), so a
 * message that echoes input stays one line whatever was typed. Everything else is kept.
 */
export function printableText(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 255 ? decimalEscape(code) : `\\u${code.toString(16)}`;
  });
}

function labelText(buf: Uint8Array, start: number, len: number): string {
  let s = "";
  for (let i = start; i < start + len; i++) {
    const b = buf[i];
    const e = LABEL_ESCAPE[b];
    s += e === 0
      ? String.fromCharCode(b)
      : e === 1
      ? "\\" + String.fromCharCode(b)
      : decimalEscape(b);
  }
  return s;
}

interface CachedName {
  name: string;
  wireLength: number;
}

/**
 * Per-message decode state: every name decoded so far, by the offset of each of its labels (a
 * suffix of the name starts there). Compression pointers may only point at these offsets.
 */
export interface DecodeContext {
  names: Map<number, CachedName>;
}

/** A fresh decode context, for decoding one message's names with `readName`. */
export function newDecodeContext(): DecodeContext {
  return { names: new Map() };
}

/**
 * Reads a (possibly compressed) name starting at `offset`; its uncompressed part must end by
 * `end`. Returns the presentation text with a trailing dot and the offset after the name.
 *
 * A compression pointer must point at the first byte of a label of a name decoded earlier in
 * `ctx` (RFC 1035 4.1.4: "a prior occurrence of the same name"), never into the header, the
 * middle of a label, raw rdata or forwards. So a name is its own labels plus at most one
 * suffix already known: no loops, no re-reading, and the encoder can always compress a decoded
 * message at least as well as its sender did.
 */
export function readName(
  buf: Uint8Array,
  offset: number,
  end: number,
  ctx: DecodeContext = newDecodeContext(),
): [string, number] {
  let pos = offset;
  let wireLength = 1; // the root label
  let name = "";
  const labelStarts: number[] = [];
  const textStarts: number[] = [];
  const wireBefore: number[] = [];
  let tail: CachedName | undefined;
  while (true) {
    if (pos >= end) {
      throw formatError(offset, "name", `runs past the end at offset ${pos}`);
    }
    const len = buf[pos];
    if (len === 0) {
      pos++;
      break;
    }
    const top = len & 0xc0;
    if (top === 0xc0) {
      if (pos + 2 > end) throw formatError(offset, "name", `pointer at offset ${pos} is cut off`);
      const target = ((len & 0x3f) << 8) | buf[pos + 1];
      tail = ctx.names.get(target);
      if (!tail) {
        throw formatError(
          offset,
          "name",
          target >= offset
            ? `pointer ${target} does not point backwards`
            : `pointer ${target} does not point at an earlier name`,
        );
      }
      if (wireLength - 1 + tail.wireLength > MAX_NAME_LENGTH) {
        throw formatError(offset, "name", `name exceeds ${MAX_NAME_LENGTH} bytes`);
      }
      pos += 2;
      break;
    }
    if (top !== 0) {
      throw formatError(
        offset,
        "name",
        `label length ${len} exceeds ${MAX_LABEL_LENGTH} (label type 0x${
          top.toString(16)
        } is not supported)`,
      );
    }
    if (pos + 1 + len > end) {
      throw formatError(
        offset,
        "name",
        `label of ${len} bytes at offset ${pos} runs past the end (${end - pos - 1} left)`,
      );
    }
    labelStarts.push(pos);
    textStarts.push(name.length);
    wireBefore.push(wireLength - 1);
    wireLength += len + 1;
    if (wireLength > MAX_NAME_LENGTH) {
      throw formatError(offset, "name", `name exceeds ${MAX_NAME_LENGTH} bytes`);
    }
    name += labelText(buf, pos + 1, len) + ".";
    pos += len + 1;
  }
  const full = tail ? name + tail.name : name === "" ? "." : name;
  const totalWire = tail ? wireLength - 1 + tail.wireLength : wireLength;
  // Remember every suffix by the offset of its first label, for later pointers to reuse.
  for (let i = 0; i < labelStarts.length; i++) {
    ctx.names.set(labelStarts[i], {
      name: full.slice(textStarts[i]),
      wireLength: totalWire - wireBefore[i],
    });
  }
  return [full, pos];
}

/** A name parsed from presentation text: its labels as bytes and where each starts in the text. */
interface ParsedName {
  labels: Uint8Array[];
  textStarts: number[];
  wireLength: number;
}

function parseNameText(name: string): ParsedName {
  const invalid = (why: string) => new RangeError(`Invalid name "${printableText(name)}": ${why}`);
  if (name === "" || name === ".") {
    if (name === "") throw new RangeError(`Invalid name "": empty`);
    return { labels: [], textStarts: [], wireLength: 1 };
  }
  const labels: Uint8Array[] = [];
  const textStarts: number[] = [];
  let wireLength = 1;
  let i = 0;
  const n = name.length;
  const scratch = new Uint8Array(256);
  while (i < n) {
    const start = i;
    let len = 0;
    while (i < n) {
      let c = name.charCodeAt(i);
      if (c === 46) break;
      if (c === 92) {
        const d = /^\d{3}/.exec(name.slice(i + 1, i + 4));
        if (d) {
          c = Number(d[0]);
          if (c > 255) throw invalid(`escape \\${d[0]} exceeds 255`);
          i += 4;
        } else if (i + 1 < n) {
          c = name.charCodeAt(i + 1);
          i += 2;
        } else {
          throw invalid(`dangling backslash`);
        }
      } else {
        if (c > 0x7e) {
          throw invalid(`non-ASCII character (use punycode)`);
        }
        i++;
      }
      if (c > 255) throw invalid(`escape exceeds 255`);
      if (len >= MAX_LABEL_LENGTH) {
        throw invalid(`label longer than ${MAX_LABEL_LENGTH} bytes`);
      }
      scratch[len++] = c;
    }
    if (len === 0) throw invalid(`empty label`);
    labels.push(scratch.slice(0, len));
    textStarts.push(start);
    wireLength += len + 1;
    if (wireLength > MAX_NAME_LENGTH) {
      throw invalid(`longer than ${MAX_NAME_LENGTH} bytes`);
    }
    i++; // the dot
  }
  return { labels, textStarts, wireLength };
}

function formatLabels(labels: Uint8Array[]): string {
  if (labels.length === 0) return ".";
  let s = "";
  for (const l of labels) s += labelText(l, 0, l.length) + ".";
  return s;
}

const PLAIN_NAME = /^(?:[A-Za-z0-9_*\-/+=]+\.)*[A-Za-z0-9_*\-/+=]+\.?$/;

/**
 * Adds the trailing dot and validates (labels non-empty and ≤ 63 bytes, name ≤ 255 bytes);
 * escapes come back in dig's canonical form. Throws RangeError with the reason.
 */
export function normalizeName(name: string): string {
  if (name === ".") return name;
  if (PLAIN_NAME.test(name) && name.length < 250) {
    let labelLength = 0;
    for (let i = 0; i < name.length; i++) {
      if (name.charCodeAt(i) === 46) labelLength = 0;
      else if (++labelLength > MAX_LABEL_LENGTH) {
        throw new RangeError(
          `Invalid name "${printableText(name)}": label longer than ${MAX_LABEL_LENGTH} bytes`,
        );
      }
    }
    return name.endsWith(".") ? name : name + ".";
  }
  return formatLabels(parseNameText(name).labels);
}

/** The labels of a name as bytes (the root has none). Throws RangeError on an invalid name. */
export function nameLabels(name: string): Uint8Array[] {
  return parseNameText(name).labels;
}

/** A lowercase canonical key for a name: equal keys ⇔ the names are equal in DNS. */
export function nameKey(name: string): string {
  const normal = normalizeName(name);
  if (!normal.includes("\\")) return normal.toLowerCase();
  const labels = parseNameText(normal).labels.map((l) =>
    l.map((b) => (b >= 65 && b <= 90 ? b + 32 : b))
  );
  return formatLabels(labels);
}

/** Case-insensitive (ASCII) comparison of two names; the trailing dot is optional. */
export function namesEqual(a: string, b: string): boolean {
  if (a === b) return true;
  if (!a.includes("\\") && !b.includes("\\")) {
    const x = a.endsWith(".") ? a : a + ".";
    const y = b.endsWith(".") ? b : b + ".";
    return x.length === y.length && x.toLowerCase() === y.toLowerCase();
  }
  return nameKey(a) === nameKey(b);
}

/** True when `name` is `zone` or below it (case-insensitive). */
export function isSubdomain(name: string, zone: string): boolean {
  const n = nameKey(name);
  const z = nameKey(zone);
  return z === "." || n === z || n.endsWith("." + z);
}

// ---------------------------------------------------------------------------------------------
// Addresses.

/** Parses dotted-quad IPv4 text to 4 bytes; throws RangeError when it is not one. */
export function parseIPv4(text: string): Uint8Array {
  const parts = text.split(".");
  if (parts.length !== 4) throw new RangeError(`Invalid IPv4 address "${printableText(text)}"`);
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) {
      throw new RangeError(`Invalid IPv4 address "${printableText(text)}"`);
    }
    out[i] = Number(p);
  }
  return out;
}

/** Parses IPv6 text (with `::` and an optional trailing dotted quad) to 16 bytes. */
export function parseIPv6(text: string): Uint8Array {
  const bad = () => new RangeError(`Invalid IPv6 address "${printableText(text)}"`);
  if (!/^[0-9A-Fa-f:.]+$/.test(text)) throw bad();
  const halves = text.split("::");
  if (halves.length > 2) throw bad();
  const groups = (part: string): number[] => {
    if (part === "") return [];
    const out: number[] = [];
    const items = part.split(":");
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (item.includes(".")) {
        if (i !== items.length - 1) throw bad();
        const v4 = parseIPv4(item);
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!/^[0-9A-Fa-f]{1,4}$/.test(item)) throw bad();
        out.push(parseInt(item, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  let all: number[];
  if (halves.length === 2) {
    if (head.length + tail.length > 7) throw bad();
    all = [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    if (head.length !== 8) throw bad();
    all = head;
  }
  // A dotted quad may only end the address.
  if (halves.length === 2 && halves[0].includes(".")) throw bad();
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i] >> 8;
    out[2 * i + 1] = all[i] & 0xff;
  }
  return out;
}

/** Formats 16 bytes as IPv6 text in RFC 5952 form (`2001:db8::1`, `::ffff:1.2.3.4`). */
export function formatIPv6(bytes: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((bytes[2 * i] << 8) | bytes[2 * i + 1]);
  // IPv4-mapped addresses keep the dotted quad (RFC 5952 section 5).
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }
  let bestStart = -1;
  let bestLen = 1; // a single zero group is not compressed
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) => g.slice(from, to).map((x) => x.toString(16)).join(":");
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

/** `1.2.3.4` → `4.3.2.1.in-addr.arpa.`; IPv6 → 32 nibbles under `ip6.arpa.`. */
export function reverseName(address: string): string {
  if (address.includes(":")) {
    const bytes = parseIPv6(address.replace(/^\[|\]$/g, ""));
    const nibbles: string[] = [];
    for (let i = 15; i >= 0; i--) {
      nibbles.push((bytes[i] & 0xf).toString(16), (bytes[i] >> 4).toString(16));
    }
    return nibbles.join(".") + ".ip6.arpa.";
  }
  const v4 = parseIPv4(address);
  return `${v4[3]}.${v4[2]}.${v4[1]}.${v4[0]}.in-addr.arpa.`;
}

// ---------------------------------------------------------------------------------------------
// Presentation helpers.

/** A <character-string> in master-file form: quoted, `"` and `\` escaped, non-printables `\DDD`. */
export function quoteString(bytes: Uint8Array): string {
  let s = '"';
  for (const b of bytes) {
    if (b === 0x22 || b === 0x5c) s += "\\" + String.fromCharCode(b);
    else if (b < 0x20 || b >= 0x7f) s += decimalEscape(b);
    else s += String.fromCharCode(b);
  }
  return s + '"';
}

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += (b < 16 ? "0" : "") + b.toString(16);
  return s;
}

const latin1 = (bytes: Uint8Array): string => {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
};

// ---------------------------------------------------------------------------------------------
// The encoder's buffer.

const SCRATCH = new Uint8Array(MAX_MESSAGE_SIZE + 512);

class Writer {
  buf = SCRATCH;
  pos = 0;
  /** Compression targets: suffix text → offset; `log` lists them in order for rollback. */
  names: Map<string, number> | null;
  log: [string, number][] = [];
  constructor(compress: boolean) {
    this.names = compress ? new Map() : null;
  }
  ensure(n: number): void {
    if (this.pos + n > MAX_MESSAGE_SIZE) {
      throw new RangeError(`Cannot encode message: it exceeds ${MAX_MESSAGE_SIZE} bytes`);
    }
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }
  u16(v: number): void {
    this.ensure(2);
    this.buf[this.pos++] = v >> 8;
    this.buf[this.pos++] = v & 0xff;
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf[this.pos++] = v >>> 24;
    this.buf[this.pos++] = (v >>> 16) & 0xff;
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  characterString(b: Uint8Array, what: string): void {
    if (b.length > 255) {
      throw new RangeError(`Cannot encode ${what}: string of ${b.length} bytes exceeds 255`);
    }
    this.u8(b.length);
    this.bytes(b);
  }
  /** Forgets compression targets written at or after `pos` (after a rollback). */
  rollback(pos: number): void {
    this.pos = pos;
    while (this.log.length && this.log[this.log.length - 1][1] >= pos) {
      this.names?.delete(this.log.pop()![0]);
    }
  }
  /** Writes a name, pointing at an earlier copy of a suffix when `compress` allows. */
  name(name: string, compress: boolean): void {
    // The scratch buffer has 512 bytes of slack past the limit, so one name always fits
    // before the size check at the end.
    if (this.pos > MAX_MESSAGE_SIZE) this.ensure(1);
    if (name === "") throw new RangeError(`Cannot encode name "": empty`);
    if (name === ".") {
      this.buf[this.pos++] = 0;
      return;
    }
    const buf = this.buf;
    const names = this.names;
    const n = name.length;
    const start = this.pos;
    let i = 0;
    while (i < n) {
      if (names !== null) {
        const key = i === 0 ? name : name.slice(i);
        const ptr = names.get(key);
        if (ptr !== undefined && compress) {
          buf[this.pos++] = 0xc0 | (ptr >> 8);
          buf[this.pos++] = ptr & 0xff;
          this.ensure(0);
          return;
        }
        if (ptr === undefined && this.pos < 0x4000) {
          names.set(key, this.pos);
          this.log.push([key, this.pos]);
        }
      }
      const lengthAt = this.pos++;
      let len = 0;
      while (i < n) {
        let c = name.charCodeAt(i);
        if (c === 46) break;
        if (c === 92) {
          const d0 = name.charCodeAt(i + 1) - 48;
          const d1 = name.charCodeAt(i + 2) - 48;
          const d2 = name.charCodeAt(i + 3) - 48;
          if (d0 >= 0 && d0 <= 9 && d1 >= 0 && d1 <= 9 && d2 >= 0 && d2 <= 9) {
            c = d0 * 100 + d1 * 10 + d2;
            i += 4;
          } else if (i + 1 < n) {
            c = name.charCodeAt(i + 1);
            i += 2;
          } else {
            this.rollback(start);
            throw new RangeError(`Cannot encode name "${printableText(name)}": dangling backslash`);
          }
        } else {
          if (c > 0x7e) {
            this.rollback(start);
            throw new RangeError(
              `Cannot encode name "${printableText(name)}": non-ASCII character (use punycode)`,
            );
          }
          i++;
        }
        if (c > 255) {
          this.rollback(start);
          throw new RangeError(`Cannot encode name "${printableText(name)}": escape exceeds 255`);
        }
        if (++len > MAX_LABEL_LENGTH) {
          this.rollback(start);
          throw new RangeError(
            `Cannot encode name "${
              printableText(name)
            }": label longer than ${MAX_LABEL_LENGTH} bytes`,
          );
        }
        buf[this.pos++] = c;
      }
      if (len === 0) {
        this.rollback(start);
        throw new RangeError(`Cannot encode name "${printableText(name)}": empty label`);
      }
      buf[lengthAt] = len;
      i++; // the dot
      if (this.pos - start + 1 > MAX_NAME_LENGTH) {
        this.rollback(start);
        throw new RangeError(
          `Cannot encode name "${printableText(name)}": longer than ${MAX_NAME_LENGTH} bytes`,
        );
      }
    }
    buf[this.pos++] = 0;
    this.ensure(0);
  }
}

// ---------------------------------------------------------------------------------------------
// Rdata codecs, one per type, dispatched through RDATA_CODECS (unknown types keep raw bytes).

interface RdataCodec {
  decode(buf: Uint8Array, offset: number, end: number, ctx: DecodeContext): RData;
  encode(w: Writer, data: RData, compress: boolean): void;
  format(data: RData): string;
}

function expectKind<K extends RData["kind"]>(
  data: RData,
  kinds: readonly K[],
): Extract<RData, { kind: K }> {
  if (!(kinds as readonly string[]).includes(data.kind)) {
    throw new TypeError(`Cannot encode ${kinds.join("/")} rdata from a "${data.kind}" value`);
  }
  return data as Extract<RData, { kind: K }>;
}

function checkEnd(at: number, end: number, what: string, start: number): void {
  if (at !== end) {
    throw formatError(
      start,
      what,
      `rdlength ${end - start} does not match the rdata (${at - start} bytes)`,
    );
  }
}

function u16Value(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) {
    throw new RangeError(`Cannot encode ${what} "${v}": expected an integer from 0 to 65535`);
  }
  return v;
}

function u32Value(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new RangeError(`Cannot encode ${what} "${v}": expected an integer from 0 to 4294967295`);
  }
  return v;
}

const aCodec: RdataCodec = {
  decode(buf, offset, end) {
    if (end - offset !== 4) {
      throw formatError(
        offset,
        "A rdata",
        `rdlength ${end - offset} does not match the rdata (4 bytes)`,
      );
    }
    return {
      kind: "A",
      address: `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`,
    };
  },
  encode(w, data) {
    w.bytes(parseIPv4(expectKind(data, ["A"]).address));
  },
  format: (data) => expectKind(data, ["A"]).address,
};

const aaaaCodec: RdataCodec = {
  decode(buf, offset, end) {
    if (end - offset !== 16) {
      throw formatError(
        offset,
        "AAAA rdata",
        `rdlength ${end - offset} does not match the rdata (16 bytes)`,
      );
    }
    return { kind: "AAAA", address: formatIPv6(buf.subarray(offset, end)) };
  },
  encode(w, data) {
    w.bytes(parseIPv6(expectKind(data, ["AAAA"]).address));
  },
  format: (data) => expectKind(data, ["AAAA"]).address,
};

const TARGET_KINDS: TargetKind[] = ["NS", "CNAME", "PTR", "MD", "MF", "MB", "MG", "MR"];

function targetCodec(kind: TargetKind): RdataCodec {
  return {
    decode(buf, offset, end, ctx) {
      const [target, at] = readName(buf, offset, end, ctx);
      checkEnd(at, end, `${kind} rdata`, offset);
      return { kind, target };
    },
    encode(w, data, compress) {
      w.name(expectKind(data, TARGET_KINDS).target, compress);
    },
    format: (data) => expectKind(data, TARGET_KINDS).target,
  };
}

const minfoCodec: RdataCodec = {
  decode(buf, offset, end, ctx) {
    const [rmailbx, a1] = readName(buf, offset, end, ctx);
    const [emailbx, a2] = readName(buf, a1, end, ctx);
    checkEnd(a2, end, "MINFO rdata", offset);
    return { kind: "MINFO", rmailbx, emailbx };
  },
  encode(w, data, compress) {
    const minfo = expectKind(data, ["MINFO"]);
    w.name(minfo.rmailbx, compress);
    w.name(minfo.emailbx, compress);
  },
  format(data) {
    const m = expectKind(data, ["MINFO"]);
    return `${m.rmailbx} ${m.emailbx}`;
  },
};

const mxCodec: RdataCodec = {
  decode(buf, offset, end, ctx) {
    const [preference, at] = readU16(buf, offset, end, "MX rdata");
    const [exchange, at2] = readName(buf, at, end, ctx);
    checkEnd(at2, end, "MX rdata", offset);
    return { kind: "MX", preference, exchange };
  },
  encode(w, data, compress) {
    const mx = expectKind(data, ["MX"]);
    w.u16(u16Value(mx.preference, "MX preference"));
    w.name(mx.exchange, compress);
  },
  format(data) {
    const mx = expectKind(data, ["MX"]);
    return `${mx.preference} ${mx.exchange}`;
  },
};

const soaCodec: RdataCodec = {
  decode(buf, offset, end, ctx) {
    const [mname, a1] = readName(buf, offset, end, ctx);
    const [rname, a2] = readName(buf, a1, end, ctx);
    const [serial, a3] = readU32(buf, a2, end, "SOA rdata");
    const [refresh, a4] = readU32(buf, a3, end, "SOA rdata");
    const [retry, a5] = readU32(buf, a4, end, "SOA rdata");
    const [expire, a6] = readU32(buf, a5, end, "SOA rdata");
    const [minimum, a7] = readU32(buf, a6, end, "SOA rdata");
    checkEnd(a7, end, "SOA rdata", offset);
    return { kind: "SOA", mname, rname, serial, refresh, retry, expire, minimum };
  },
  encode(w, data, compress) {
    const soa = expectKind(data, ["SOA"]);
    w.name(soa.mname, compress);
    w.name(soa.rname, compress);
    w.u32(u32Value(soa.serial, "SOA serial"));
    w.u32(u32Value(soa.refresh, "SOA refresh"));
    w.u32(u32Value(soa.retry, "SOA retry"));
    w.u32(u32Value(soa.expire, "SOA expire"));
    w.u32(u32Value(soa.minimum, "SOA minimum"));
  },
  format(data) {
    const s = expectKind(data, ["SOA"]);
    return `${s.mname} ${s.rname} ${s.serial} ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`;
  },
};

const txtCodec: RdataCodec = {
  decode(buf, offset, end) {
    if (offset === end) {
      throw formatError(
        offset,
        "TXT rdata",
        "rdlength 0 does not match the rdata (at least 1 byte)",
      );
    }
    const strings: Uint8Array[] = [];
    let at = offset;
    while (at < end) {
      const [s, next] = readCharacterString(buf, at, end, "TXT rdata");
      strings.push(s);
      at = next;
    }
    return { kind: "TXT", strings };
  },
  encode(w, data) {
    const txt = expectKind(data, ["TXT"]);
    if (txt.strings.length === 0) throw new RangeError("Cannot encode TXT rdata: no strings");
    for (const s of txt.strings) w.characterString(s, "TXT rdata");
  },
  format: (data) => expectKind(data, ["TXT"]).strings.map(quoteString).join(" "),
};

const srvCodec: RdataCodec = {
  decode(buf, offset, end, ctx) {
    const [priority, a1] = readU16(buf, offset, end, "SRV rdata");
    const [weight, a2] = readU16(buf, a1, end, "SRV rdata");
    const [port, a3] = readU16(buf, a2, end, "SRV rdata");
    const [target, a4] = readName(buf, a3, end, ctx);
    checkEnd(a4, end, "SRV rdata", offset);
    return { kind: "SRV", priority, weight, port, target };
  },
  encode(w, data, compress) {
    const srv = expectKind(data, ["SRV"]);
    w.u16(u16Value(srv.priority, "SRV priority"));
    w.u16(u16Value(srv.weight, "SRV weight"));
    w.u16(u16Value(srv.port, "SRV port"));
    w.name(srv.target, compress); // decoded compressed (RFC 3597 4), so encoded so too
  },
  format(data) {
    const s = expectKind(data, ["SRV"]);
    return `${s.priority} ${s.weight} ${s.port} ${s.target}`;
  },
};

const caaCodec: RdataCodec = {
  decode(buf, offset, end) {
    const [flags, a1] = readU8(buf, offset, end, "CAA rdata");
    const [tagLength, a2] = readU8(buf, a1, end, "CAA rdata");
    if (tagLength === 0) throw formatError(a1, "CAA rdata", "empty tag");
    const [tag, a3] = readBytes(buf, a2, tagLength, end, "CAA rdata");
    for (const b of tag) {
      if (!((b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122))) {
        throw formatError(a2, "CAA rdata", "tag is not alphanumeric");
      }
    }
    return { kind: "CAA", flags, tag: latin1(tag), value: buf.slice(a3, end) };
  },
  encode(w, data) {
    const caa = expectKind(data, ["CAA"]);
    if (!/^[A-Za-z0-9]{1,255}$/.test(caa.tag)) {
      throw new RangeError(
        `Cannot encode CAA tag "${printableText(caa.tag)}": expected 1-255 letters or digits`,
      );
    }
    w.u8(caa.flags & 0xff);
    w.u8(caa.tag.length);
    for (let i = 0; i < caa.tag.length; i++) w.u8(caa.tag.charCodeAt(i));
    w.bytes(caa.value);
  },
  format(data) {
    const c = expectKind(data, ["CAA"]);
    return `${c.flags} ${c.tag} ${quoteString(c.value)}`;
  },
};

function optionsBytes(options: EdnsOption[]): Uint8Array {
  let total = 0;
  for (const o of options) total += 4 + o.data.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const o of options) {
    u16Value(o.code, "EDNS option code");
    u16Value(o.data.length, "EDNS option length");
    out[at] = o.code >> 8;
    out[at + 1] = o.code & 0xff;
    out[at + 2] = o.data.length >> 8;
    out[at + 3] = o.data.length & 0xff;
    out.set(o.data, at + 4);
    at += 4 + o.data.length;
  }
  return out;
}

const optCodec: RdataCodec = {
  decode(buf, offset, end) {
    const options: EdnsOption[] = [];
    let at = offset;
    while (at < end) {
      const [code, a1] = readU16(buf, at, end, "OPT option");
      const [len, a2] = readU16(buf, a1, end, "OPT option");
      const [data, a3] = readBytes(buf, a2, len, end, "OPT option");
      options.push({ code, data });
      at = a3;
    }
    return { kind: "OPT", options };
  },
  encode(w, data) {
    w.bytes(optionsBytes(expectKind(data, ["OPT"]).options));
  },
  format: (data) => {
    const raw = optionsBytes(expectKind(data, ["OPT"]).options);
    return raw.length ? `\\# ${raw.length} ${hex(raw)}` : "\\# 0";
  },
};

/** DNSSEC types: the codecs live in `wire/dnssec.ts` (their names are never compressed). */
function dnssecCodec(type: number): RdataCodec {
  const kind = typeName(type) as DnssecRData["kind"];
  return {
    decode: (buf, offset, end, ctx) =>
      decodeDnssecRdata(type, buf, offset, end, (b, o, e) => readName(b, o, e, ctx)),
    encode(w, data) {
      w.bytes(encodeDnssecRdata(expectKind(data, [kind])));
    },
    format: (data) => formatDnssecRdata(expectKind(data, [kind])),
  };
}

const unknownCodec: RdataCodec = {
  decode: (buf, offset, end) => ({ kind: "UNKNOWN", bytes: buf.slice(offset, end) }),
  encode(w, data) {
    w.bytes(expectKind(data, ["UNKNOWN"]).bytes);
  },
  format(data) {
    const b = expectKind(data, ["UNKNOWN"]).bytes;
    return b.length ? `\\# ${b.length} ${hex(b)}` : "\\# 0";
  },
};

/** The rdata codec for each type that has one; everything else uses `unknownCodec`. */
const RDATA_CODECS = new Map<number, RdataCodec>([
  [TYPE.A, aCodec],
  [TYPE.NS, targetCodec("NS")],
  [TYPE.MD, targetCodec("MD")],
  [TYPE.MF, targetCodec("MF")],
  [TYPE.CNAME, targetCodec("CNAME")],
  [TYPE.SOA, soaCodec],
  [TYPE.MB, targetCodec("MB")],
  [TYPE.MG, targetCodec("MG")],
  [TYPE.MR, targetCodec("MR")],
  [TYPE.PTR, targetCodec("PTR")],
  [TYPE.MINFO, minfoCodec],
  [TYPE.MX, mxCodec],
  [TYPE.TXT, txtCodec],
  [TYPE.AAAA, aaaaCodec],
  [TYPE.SRV, srvCodec],
  [TYPE.OPT, optCodec],
  [TYPE.CAA, caaCodec],
  ...[43, 46, 47, 48, 50, 51, 59, 60].map((t) => [t, dnssecCodec(t)] as [number, RdataCodec]),
]);

function codecFor(rr: ResourceRecord): RdataCodec {
  if (rr.data.kind === "UNKNOWN") return unknownCodec;
  const codec = RDATA_CODECS.get(rr.type);
  if (!codec) {
    throw new TypeError(
      `Cannot encode ${
        typeName(rr.type)
      } record "${rr.name}": rdata kind "${rr.data.kind}" needs type ${rr.data.kind}`,
    );
  }
  return codec;
}

/** True when `type` has a typed rdata codec (the rest are kept as RFC 3597 raw bytes). */
export function hasRdataCodec(type: number): boolean {
  return RDATA_CODECS.has(type);
}

// ---------------------------------------------------------------------------------------------
// Messages.

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
export function decodeHeader(
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
  // Empty rdata is how dynamic updates delete (class ANY/NONE); keep it raw.
  const codec = rdlength === 0 && (klass === 255 || klass === 254)
    ? unknownCodec
    : RDATA_CODECS.get(type) ?? unknownCodec;
  const data = codec.decode(buf, a5, rdEnd, ctx);
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
  const ctx: DecodeContext = { names: new Map() };
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
  const codec = codecFor(rr);
  w.name(rr.name, compress);
  w.u16(u16Value(rr.type, "type"));
  w.u16(u16Value(rr.class, "class"));
  w.u32(u32Value(rr.ttl, "TTL"));
  const lengthAt = w.pos;
  w.u16(0);
  // Every codec with names is one whose names the decoder accepts compressed: compress them.
  codec.encode(w, rr.data, compress);
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
      tailSize += parseNameText(rr.name).wireLength + 10 + encodeRdata(rr).length;
    }
  }
  const w = new Writer(compress); // after encodeRdata above: both use the scratch buffer
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
// EDNS, queries, presentation.

/** The EDNS0 fields from the message's OPT record, if it has one. */
export function getEdns(msg: Message): Edns | undefined {
  const opt = msg.additionals.find((rr) => rr.type === TYPE.OPT);
  if (!opt) return undefined;
  return {
    udpSize: opt.class,
    extendedRcode: opt.ttl >>> 24,
    version: (opt.ttl >>> 16) & 0xff,
    dnssecOk: (opt.ttl & 0x8000) !== 0,
    options: opt.data.kind === "OPT" ? opt.data.options : [],
  };
}

/** An OPT record (EDNS0) to put in the additional section; udpSize defaults to 1232. */
export function makeOpt(edns: Partial<Edns> = {}): ResourceRecord {
  const udpSize = u16Value(edns.udpSize ?? 1232, "EDNS UDP size");
  const ttl = (((edns.extendedRcode ?? 0) & 0xff) << 24 | ((edns.version ?? 0) & 0xff) << 16 |
    (edns.dnssecOk ? 0x8000 : 0)) >>> 0;
  return {
    name: ".",
    type: TYPE.OPT,
    class: udpSize,
    ttl,
    data: { kind: "OPT", options: edns.options ?? [] },
  };
}

/** The full 12-bit rcode of a message (header rcode plus the EDNS extension). */
export function fullRcode(msg: Message): number {
  const edns = getEdns(msg);
  return ((edns?.extendedRcode ?? 0) << 4) | msg.flags.rcode;
}

function randomId(): number {
  const b = new Uint16Array(1);
  crypto.getRandomValues(b);
  return b[0];
}

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

/** Just the rdata in master-file form: `10 mail.example.com.`, TXT quoted, unknown `\# 4 0a000001`. */
export function formatRdata(rr: ResourceRecord): string {
  if (rr.data.kind === "UNKNOWN") return unknownCodec.format(rr.data);
  const codec = RDATA_CODECS.get(rr.type);
  return codec ? codec.format(rr.data) : unknownCodec.format(rr.data);
}

/** A record the way dig prints it: `www.cnblogs.com.\t600\tIN\tA\t1.2.3.4`. */
export function formatRecord(rr: ResourceRecord): string {
  return `${rr.name}\t${rr.ttl}\t${className(rr.class)}\t${typeName(rr.type)}\t${formatRdata(rr)}`;
}

/** A question the way dig prints it: `;www.cnblogs.com.\t\tIN\tA`. */
export function formatQuestion(q: Question): string {
  return `;${q.name}\t\t${className(q.class)}\t${typeName(q.type)}`;
}

/** Decodes standalone rdata of `type` (no compression possible); throws DnsFormatError. */
export function decodeRdata(type: number, bytes: Uint8Array): RData {
  const codec = RDATA_CODECS.get(type) ?? unknownCodec;
  return codec.decode(bytes, 0, bytes.length, { names: new Map() });
}

/** The uncompressed wire form of a record's rdata (for comparing records and RFC 3597 text). */
export function encodeRdata(rr: ResourceRecord): Uint8Array {
  const w = new Writer(false);
  codecFor(rr).encode(w, rr.data, false);
  return w.buf.slice(0, w.pos);
}
