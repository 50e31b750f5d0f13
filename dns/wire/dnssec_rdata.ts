/**
 * The DNSSEC record types on the wire and in master files (RFC 4034, RFC 5155, RFC 7344):
 * DNSKEY, CDNSKEY, RRSIG, NSEC, NSEC3, NSEC3PARAM, DS and CDS, plus the encodings they use
 * (base64, base32hex, hex, type bitmaps, RRSIG time stamps) and key tags. Pure: no I/O.
 *
 * `dns/wire/message.ts` dispatches these types here from its rdata table, so a decoded message holds
 * them as typed objects (`{ kind: "RRSIG", … }`) and prints them the way dig does; the zone
 * parser calls `parseDnssecRdata` for their presentation form. Names inside RRSIG and NSEC are
 * never compressed on output (RFC 4034 §3.1.7, §4.1.1); a compressed one is still read.
 *
 * Every decoder is strict, as the rest of the codec: a type bitmap whose windows are out of
 * order, empty, longer than 32 bytes or ending in a zero byte, an NSEC3 hash of zero length, or
 * rdata shorter or longer than its fields is a `DnsFormatError` naming the offset.
 *
 * Size: one codec table for eight record types that share the same encodings (bitmaps, base64,
 * base32hex, times); splitting it by type would scatter those helpers across files.
 */
import { DnsFormatError, readBytes, readU16, readU32, readU8 } from "./primitives.ts";
import { nameLabels, readName } from "./names.ts";
import { parseType, typeName } from "./constants.ts";
import {
  fromBase32Hex,
  fromBase64,
  fromHex,
  toBase32Hex,
  toBase64,
  toHex,
} from "./text_encodings.ts";

export { fromBase32Hex, fromBase64, fromHex, toBase32Hex, toBase64, toHex };

/** The DNSSEC rdata shapes (part of `RData` in `dns/wire/message.ts`). */
export type DnssecRData =
  | {
    kind: "DNSKEY" | "CDNSKEY";
    flags: number;
    protocol: number;
    algorithm: number;
    publicKey: Uint8Array;
  }
  | {
    kind: "DS" | "CDS";
    keyTag: number;
    algorithm: number;
    digestType: number;
    digest: Uint8Array;
  }
  | {
    kind: "RRSIG";
    typeCovered: number;
    algorithm: number;
    labels: number;
    originalTtl: number;
    /** Seconds since 1970 modulo 2^32 (RFC 4034 §3.1.5: compare with serial arithmetic). */
    expiration: number;
    inception: number;
    keyTag: number;
    signerName: string;
    signature: Uint8Array;
  }
  | { kind: "NSEC"; nextName: string; types: number[] }
  | {
    kind: "NSEC3";
    hashAlgorithm: number;
    flags: number;
    iterations: number;
    salt: Uint8Array;
    nextHashed: Uint8Array;
    types: number[];
  }
  | {
    kind: "NSEC3PARAM";
    hashAlgorithm: number;
    flags: number;
    iterations: number;
    salt: Uint8Array;
  };

/** DNSKEY or CDNSKEY rdata. */
export type DnskeyData = Extract<DnssecRData, { kind: "DNSKEY" | "CDNSKEY" }>;
/** DS or CDS rdata. */
export type DsData = Extract<DnssecRData, { kind: "DS" | "CDS" }>;
/** RRSIG rdata. */
export type RrsigData = Extract<DnssecRData, { kind: "RRSIG" }>;
/** NSEC rdata. */
export type NsecData = Extract<DnssecRData, { kind: "NSEC" }>;
/** NSEC3 rdata. */
export type Nsec3Data = Extract<DnssecRData, { kind: "NSEC3" }>;
/** NSEC3PARAM rdata. */
export type Nsec3ParamData = Extract<DnssecRData, { kind: "NSEC3PARAM" }>;

/** The DNSSEC type numbers. */
export const DNSSEC_TYPE = {
  DS: 43,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  NSEC3: 50,
  NSEC3PARAM: 51,
  CDS: 59,
  CDNSKEY: 60,
} as const;

const KIND_BY_TYPE: Record<number, DnssecRData["kind"]> = {
  43: "DS",
  46: "RRSIG",
  47: "NSEC",
  48: "DNSKEY",
  50: "NSEC3",
  51: "NSEC3PARAM",
  59: "CDS",
  60: "CDNSKEY",
};

/** True for the types this module encodes. */
export function isDnssecType(type: number): boolean {
  return KIND_BY_TYPE[type] !== undefined;
}

/** DNSSEC algorithm numbers (IANA "DNS Security Algorithm Numbers"). */
export const ALGORITHM = {
  RSASHA1: 5,
  RSASHA1_NSEC3_SHA1: 7,
  RSASHA256: 8,
  RSASHA512: 10,
  ECDSAP256SHA256: 13,
  ECDSAP384SHA384: 14,
  ED25519: 15,
  ED448: 16,
} as const;

const ALGORITHM_NAMES: Record<number, string> = {
  1: "RSAMD5",
  3: "DSA",
  5: "RSASHA1",
  6: "DSA-NSEC3-SHA1",
  7: "RSASHA1-NSEC3-SHA1",
  8: "RSASHA256",
  10: "RSASHA512",
  12: "ECC-GOST",
  13: "ECDSAP256SHA256",
  14: "ECDSAP384SHA384",
  15: "ED25519",
  16: "ED448",
};

/** `ECDSAP256SHA256` for 13, `ALG99` for an unknown number. */
export function algorithmName(algorithm: number): string {
  return ALGORITHM_NAMES[algorithm] ?? `ALG${algorithm}`;
}

/** The longest type bitmap window (RFC 4034 §4.1.2). */
const MAX_WINDOW_LENGTH = 32;
/** NSEC3 hashes are at most 255 bytes (one length octet). */
const MAX_HASH_LENGTH = 255;

function fail(offset: number, what: string, detail: string): DnsFormatError {
  return new DnsFormatError(`Cannot decode ${what} at offset ${offset}: ${detail}`, offset);
}

function checkEnd(at: number, end: number, what: string, start: number): void {
  if (at !== end) {
    throw fail(
      start,
      what,
      `rdlength ${end - start} does not match the rdata (${at - start} bytes)`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// RRSIG times (RFC 4034 §3.2): YYYYMMDDHHmmSS in UTC, or plain seconds.

let lastTime = -1;
let lastTimeText = "";

/** Seconds (mod 2^32) → `YYYYMMDDHHmmSS`. */
export function formatSigTime(seconds: number): string {
  // A signed zone repeats the same two times in every RRSIG: remember the last one.
  if (seconds === lastTime) return lastTimeText;
  const d = new Date(seconds * 1000);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const text = `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}` +
    `${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
  lastTime = seconds;
  lastTimeText = text;
  return text;
}

/** `YYYYMMDDHHmmSS` or decimal seconds → seconds mod 2^32; RangeError if neither. */
export function parseSigTime(text: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(text);
  if (m) {
    const [y, mo, d, h, mi, s] = m.slice(1).map(Number);
    const ms = Date.UTC(y, mo - 1, d, h, mi, s);
    const back = new Date(ms);
    if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) {
      throw new RangeError(`Invalid signature time "${text}"`);
    }
    return ((ms / 1000) % 2 ** 32 + 2 ** 32) % 2 ** 32;
  }
  if (/^\d{1,10}$/.test(text) && Number(text) <= 0xffffffff) return Number(text);
  throw new RangeError(`Invalid signature time "${text}": expected YYYYMMDDHHmmSS or seconds`);
}

/** RFC 1982 serial-number comparison of two 32-bit times: negative when `a` is before `b`. */
export function compareSerial(a: number, b: number): number {
  const diff = (a - b) >>> 0;
  if (diff === 0) return 0;
  return diff < 0x80000000 ? 1 : -1;
}

// ---------------------------------------------------------------------------------------------
// Type bitmaps (RFC 4034 §4.1.2).

/** Encodes a set of types as windowed bitmaps (sorted, duplicates ignored). */
export function encodeTypeBitmap(types: readonly number[]): Uint8Array {
  const sorted = [...new Set(types)].sort((a, b) => a - b);
  const out: number[] = [];
  let i = 0;
  while (i < sorted.length) {
    const window = sorted[i] >> 8;
    const bits = new Uint8Array(MAX_WINDOW_LENGTH);
    let length = 0;
    for (; i < sorted.length && sorted[i] >> 8 === window; i++) {
      const low = sorted[i] & 0xff;
      bits[low >> 3] |= 0x80 >> (low & 7);
      length = (low >> 3) + 1;
    }
    out.push(window, length, ...bits.subarray(0, length));
  }
  return new Uint8Array(out);
}

/** Decodes windowed bitmaps from `offset` to `end` into a sorted list of types. */
export function decodeTypeBitmap(buf: Uint8Array, offset: number, end: number): number[] {
  const types: number[] = [];
  let at = offset;
  let lastWindow = -1;
  while (at < end) {
    const [window, a1] = readU8(buf, at, end, "type bitmap");
    const [length, a2] = readU8(buf, a1, end, "type bitmap");
    if (window <= lastWindow) {
      throw fail(at, "type bitmap", `window ${window} follows window ${lastWindow}`);
    }
    if (length === 0 || length > MAX_WINDOW_LENGTH) {
      throw fail(a1, "type bitmap", `window length ${length} is not 1 to ${MAX_WINDOW_LENGTH}`);
    }
    const [bits, a3] = readBytes(buf, a2, length, end, "type bitmap");
    if (bits[length - 1] === 0) throw fail(a2, "type bitmap", "window ends in a zero byte");
    for (let i = 0; i < length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        if (bits[i] & (0x80 >> bit)) types.push((window << 8) | (i << 3) | bit);
      }
    }
    lastWindow = window;
    at = a3;
  }
  return types;
}

// ---------------------------------------------------------------------------------------------
// Names and bytes.

/** A name in uncompressed wire form (labels as written; see `canonicalNameWire` for signing). */
export function nameWire(name: string, lowercase = false): Uint8Array {
  const labels = nameLabels(name);
  let length = 1;
  for (const l of labels) length += l.length + 1;
  const out = new Uint8Array(length);
  let at = 0;
  for (const l of labels) {
    out[at++] = l.length;
    for (const b of l) out[at++] = lowercase && b >= 65 && b <= 90 ? b + 32 : b;
  }
  out[at] = 0;
  return out;
}

/** A small growable byte builder for rdata. */
class Bytes {
  parts: number[] = [];
  u8(v: number): this {
    this.parts.push(v & 0xff);
    return this;
  }
  u16(v: number, what: string): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) {
      throw new RangeError(`Cannot encode ${what} "${v}": expected an integer from 0 to 65535`);
    }
    this.parts.push(v >> 8, v & 0xff);
    return this;
  }
  u32(v: number, what: string): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
      throw new RangeError(
        `Cannot encode ${what} "${v}": expected an integer from 0 to 4294967295`,
      );
    }
    this.parts.push(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
    return this;
  }
  byte(v: number, what: string): this {
    if (!Number.isInteger(v) || v < 0 || v > 255) {
      throw new RangeError(`Cannot encode ${what} "${v}": expected an integer from 0 to 255`);
    }
    this.parts.push(v);
    return this;
  }
  bytes(b: Uint8Array): this {
    for (const x of b) this.parts.push(x);
    return this;
  }
  done(): Uint8Array {
    return new Uint8Array(this.parts);
  }
}

// ---------------------------------------------------------------------------------------------
// The codecs: decode (wire → object), encode (object → wire), format (object → text).

/** Decodes the rdata of a DNSSEC `type` between `offset` and `end`. */
export function decodeDnssecRdata(
  type: number,
  buf: Uint8Array,
  offset: number,
  end: number,
  readNameAt: (buf: Uint8Array, offset: number, end: number) => [string, number] = readName,
): DnssecRData {
  const kind = KIND_BY_TYPE[type];
  const what = `${kind} rdata`;
  switch (kind) {
    case "DNSKEY":
    case "CDNSKEY": {
      const [flags, a1] = readU16(buf, offset, end, what);
      const [protocol, a2] = readU8(buf, a1, end, what);
      const [algorithm, a3] = readU8(buf, a2, end, what);
      return { kind, flags, protocol, algorithm, publicKey: buf.slice(a3, end) };
    }
    case "DS":
    case "CDS": {
      const [keyTag, a1] = readU16(buf, offset, end, what);
      const [algorithm, a2] = readU8(buf, a1, end, what);
      const [digestType, a3] = readU8(buf, a2, end, what);
      return { kind, keyTag, algorithm, digestType, digest: buf.slice(a3, end) };
    }
    case "RRSIG": {
      const [typeCovered, a1] = readU16(buf, offset, end, what);
      const [algorithm, a2] = readU8(buf, a1, end, what);
      const [labels, a3] = readU8(buf, a2, end, what);
      const [originalTtl, a4] = readU32(buf, a3, end, what);
      const [expiration, a5] = readU32(buf, a4, end, what);
      const [inception, a6] = readU32(buf, a5, end, what);
      const [keyTag, a7] = readU16(buf, a6, end, what);
      const [signerName, a8] = readNameAt(buf, a7, end);
      return {
        kind,
        typeCovered,
        algorithm,
        labels,
        originalTtl,
        expiration,
        inception,
        keyTag,
        signerName,
        signature: buf.slice(a8, end),
      };
    }
    case "NSEC": {
      const [nextName, a1] = readNameAt(buf, offset, end);
      return { kind, nextName, types: decodeTypeBitmap(buf, a1, end) };
    }
    case "NSEC3": {
      const [hashAlgorithm, a1] = readU8(buf, offset, end, what);
      const [flags, a2] = readU8(buf, a1, end, what);
      const [iterations, a3] = readU16(buf, a2, end, what);
      const [saltLength, a4] = readU8(buf, a3, end, what);
      const [salt, a5] = readBytes(buf, a4, saltLength, end, what);
      const [hashLength, a6] = readU8(buf, a5, end, what);
      if (hashLength === 0) throw fail(a5, what, "next hashed owner name is empty");
      const [nextHashed, a7] = readBytes(buf, a6, hashLength, end, what);
      return {
        kind,
        hashAlgorithm,
        flags,
        iterations,
        salt,
        nextHashed,
        types: decodeTypeBitmap(buf, a7, end),
      };
    }
    case "NSEC3PARAM": {
      const [hashAlgorithm, a1] = readU8(buf, offset, end, what);
      const [flags, a2] = readU8(buf, a1, end, what);
      const [iterations, a3] = readU16(buf, a2, end, what);
      const [saltLength, a4] = readU8(buf, a3, end, what);
      const [salt, a5] = readBytes(buf, a4, saltLength, end, what);
      checkEnd(a5, end, what, offset);
      return { kind, hashAlgorithm, flags, iterations, salt };
    }
    default:
      throw new TypeError(`Type ${typeName(type)} is not a DNSSEC type`);
  }
}

/** The uncompressed wire form of DNSSEC rdata; `lowercase` writes names in canonical form. */
export function encodeDnssecRdata(data: DnssecRData, lowercase = false): Uint8Array {
  const w = new Bytes();
  switch (data.kind) {
    case "DNSKEY":
    case "CDNSKEY":
      return w.u16(data.flags, "DNSKEY flags").byte(data.protocol, "DNSKEY protocol")
        .byte(data.algorithm, "DNSKEY algorithm").bytes(data.publicKey).done();
    case "DS":
    case "CDS":
      return w.u16(data.keyTag, "DS key tag").byte(data.algorithm, "DS algorithm")
        .byte(data.digestType, "DS digest type").bytes(data.digest).done();
    case "RRSIG":
      return w.u16(data.typeCovered, "RRSIG type covered").byte(data.algorithm, "RRSIG algorithm")
        .byte(data.labels, "RRSIG labels").u32(data.originalTtl, "RRSIG original TTL")
        .u32(data.expiration, "RRSIG expiration").u32(data.inception, "RRSIG inception")
        .u16(data.keyTag, "RRSIG key tag").bytes(nameWire(data.signerName, lowercase))
        .bytes(data.signature).done();
    case "NSEC":
      // RFC 6840 §5.1: the next name keeps its case even in canonical form.
      return w.bytes(nameWire(data.nextName)).bytes(encodeTypeBitmap(data.types)).done();
    case "NSEC3":
      if (data.salt.length > 255) throw new RangeError("Cannot encode NSEC3 salt: over 255 bytes");
      if (data.nextHashed.length === 0 || data.nextHashed.length > MAX_HASH_LENGTH) {
        throw new RangeError("Cannot encode NSEC3 next hashed owner: 1 to 255 bytes");
      }
      return w.byte(data.hashAlgorithm, "NSEC3 hash algorithm").byte(data.flags, "NSEC3 flags")
        .u16(data.iterations, "NSEC3 iterations").u8(data.salt.length).bytes(data.salt)
        .u8(data.nextHashed.length).bytes(data.nextHashed).bytes(encodeTypeBitmap(data.types))
        .done();
    case "NSEC3PARAM":
      if (data.salt.length > 255) throw new RangeError("Cannot encode NSEC3 salt: over 255 bytes");
      return w.byte(data.hashAlgorithm, "NSEC3PARAM hash algorithm")
        .byte(data.flags, "NSEC3PARAM flags").u16(data.iterations, "NSEC3PARAM iterations")
        .u8(data.salt.length).bytes(data.salt).done();
  }
}

function typeList(types: readonly number[]): string {
  return types.map(typeName).join(" ");
}

function saltText(salt: Uint8Array): string {
  return salt.length ? toHex(salt) : "-";
}

/** DNSSEC rdata in master-file form, as dig prints it. */
export function formatDnssecRdata(data: DnssecRData): string {
  switch (data.kind) {
    case "DNSKEY":
    case "CDNSKEY":
      return `${data.flags} ${data.protocol} ${data.algorithm} ${toBase64(data.publicKey)}`;
    case "DS":
    case "CDS":
      return `${data.keyTag} ${data.algorithm} ${data.digestType} ${toHex(data.digest)}`;
    case "RRSIG":
      return `${typeName(data.typeCovered)} ${data.algorithm} ${data.labels} ${data.originalTtl} ` +
        `${formatSigTime(data.expiration)} ${formatSigTime(data.inception)} ${data.keyTag} ` +
        `${data.signerName} ${toBase64(data.signature)}`;
    case "NSEC":
      return `${data.nextName}${data.types.length ? " " + typeList(data.types) : ""}`;
    case "NSEC3":
      return `${data.hashAlgorithm} ${data.flags} ${data.iterations} ${saltText(data.salt)} ` +
        `${toBase32Hex(data.nextHashed)}${data.types.length ? " " + typeList(data.types) : ""}`;
    case "NSEC3PARAM":
      return `${data.hashAlgorithm} ${data.flags} ${data.iterations} ${saltText(data.salt)}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Presentation form (zone files).

function integer(text: string | undefined, max: number, what: string): number {
  if (text === undefined || !/^\d+$/.test(text) || Number(text) > max) {
    throw new RangeError(`invalid ${what} "${text ?? ""}": expected an integer from 0 to ${max}`);
  }
  return Number(text);
}

function algorithmField(text: string | undefined, what: string): number {
  if (text !== undefined && !/^\d+$/.test(text)) {
    const upper = text.toUpperCase();
    for (const [n, name] of Object.entries(ALGORITHM_NAMES)) if (name === upper) return Number(n);
  }
  return integer(text, 255, what);
}

function needFields(kind: string, fields: readonly string[], min: number): void {
  if (fields.length < min) {
    throw new RangeError(`${kind} needs at least ${min} rdata fields, got ${fields.length}`);
  }
}

function typesField(fields: readonly string[]): number[] {
  return fields.map((t) => {
    try {
      return parseType(t);
    } catch {
      throw new RangeError(`unknown type "${t}" in type bitmap`);
    }
  });
}

function saltField(text: string | undefined): Uint8Array {
  if (text === "-") return new Uint8Array(0);
  const salt = fromHex(text ?? "");
  if (salt.length > 255) throw new RangeError("NSEC3 salt longer than 255 bytes");
  return salt;
}

/**
 * Parses the presentation rdata of a DNSSEC `type` from its whitespace-separated fields;
 * `absolute` turns a (possibly relative) name into an absolute one. Throws RangeError.
 */
export function parseDnssecRdata(
  type: number,
  fields: readonly string[],
  absolute: (name: string) => string,
): DnssecRData {
  const kind = KIND_BY_TYPE[type];
  switch (kind) {
    case "DNSKEY":
    case "CDNSKEY":
      needFields(kind, fields, 4);
      return {
        kind,
        flags: integer(fields[0], 0xffff, `${kind} flags`),
        protocol: integer(fields[1], 255, `${kind} protocol`),
        algorithm: algorithmField(fields[2], `${kind} algorithm`),
        publicKey: fromBase64(fields.slice(3).join("")),
      };
    case "DS":
    case "CDS":
      needFields(kind, fields, 4);
      return {
        kind,
        keyTag: integer(fields[0], 0xffff, `${kind} key tag`),
        algorithm: algorithmField(fields[1], `${kind} algorithm`),
        digestType: integer(fields[2], 255, `${kind} digest type`),
        digest: fromHex(fields.slice(3).join("")),
      };
    case "RRSIG": {
      needFields(kind, fields, 9);
      let typeCovered: number;
      try {
        typeCovered = parseType(fields[0]);
      } catch {
        throw new RangeError(`unknown type covered "${fields[0]}"`);
      }
      return {
        kind,
        typeCovered,
        algorithm: algorithmField(fields[1], "RRSIG algorithm"),
        labels: integer(fields[2], 255, "RRSIG labels"),
        originalTtl: integer(fields[3], 0xffffffff, "RRSIG original TTL"),
        expiration: parseSigTime(fields[4]),
        inception: parseSigTime(fields[5]),
        keyTag: integer(fields[6], 0xffff, "RRSIG key tag"),
        signerName: absolute(fields[7]),
        signature: fromBase64(fields.slice(8).join("")),
      };
    }
    case "NSEC":
      needFields(kind, fields, 1);
      return { kind, nextName: absolute(fields[0]), types: typesField(fields.slice(1)) };
    case "NSEC3": {
      needFields(kind, fields, 5);
      const nextHashed = fromBase32Hex(fields[4]);
      if (nextHashed.length === 0) throw new RangeError("NSEC3 next hashed owner name is empty");
      return {
        kind,
        hashAlgorithm: integer(fields[0], 255, "NSEC3 hash algorithm"),
        flags: integer(fields[1], 255, "NSEC3 flags"),
        iterations: integer(fields[2], 0xffff, "NSEC3 iterations"),
        salt: saltField(fields[3]),
        nextHashed,
        types: [...new Set(typesField(fields.slice(5)))].sort((a, b) => a - b),
      };
    }
    case "NSEC3PARAM":
      if (fields.length !== 4) {
        throw new RangeError(`NSEC3PARAM needs 4 rdata fields, got ${fields.length}`);
      }
      return {
        kind,
        hashAlgorithm: integer(fields[0], 255, "NSEC3PARAM hash algorithm"),
        flags: integer(fields[1], 255, "NSEC3PARAM flags"),
        iterations: integer(fields[2], 0xffff, "NSEC3PARAM iterations"),
        salt: saltField(fields[3]),
      };
    default:
      throw new TypeError(`Type ${typeName(type)} is not a DNSSEC type`);
  }
}

// ---------------------------------------------------------------------------------------------
// Key tags (RFC 4034 Appendix B).

/** The key tag of a DNSKEY (its flags, protocol, algorithm and key as on the wire). */
export function keyTag(key: DnskeyData): number {
  const rdata = encodeDnssecRdata(key);
  if (key.algorithm === 1) {
    // RSA/MD5 (B.1): the middle of the modulus' last three bytes.
    const n = rdata.length;
    return n >= 4 ? (rdata[n - 3] << 8) | rdata[n - 2] : 0;
  }
  let ac = 0;
  for (let i = 0; i < rdata.length; i++) ac += i & 1 ? rdata[i] : rdata[i] << 8;
  ac += (ac >> 16) & 0xffff;
  return ac & 0xffff;
}
