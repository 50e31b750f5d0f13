/**
 * The local DNS server's memory — seed 000's 「本地DNS」 looks in its cache before it asks anyone.
 * What upstream servers said is kept for as long as their TTLs allow. Pure: no I/O, and the clock
 * is injected (`now`), so tests move time instead of sleeping.
 *
 * Theory of operation
 * - `RecordCache` keeps RRsets (every record of one name and type, with the RRSIGs that sign
 *   them, for DNSSEC validation) and negative answers (RFC 2308): NXDOMAIN for a name, NODATA
 *   for a name and type, each with the zone's SOA. The NSEC/NSEC3 records that prove a negative
 *   (or a wildcard) answer are kept in the same entry: they are what a validator, or a client
 *   asking with DO set, needs beside it. An entry lives until its TTL runs out —
 *   capped by `maxTtl`, a negative one by the SOA's MINIMUM field and `maxNegativeTtl` — and
 *   the TTL a client sees counts down.
 * - Not all data is equally trustworthy (RFC 2181 §5.4.1): an authoritative answer outranks the
 *   parent's copy of a delegation, which outranks glue. A cached RRset is replaced only by data
 *   at least as trustworthy (or once it expired), so glue can never overwrite an answer; and
 *   only data of answer rank answers a client — glue only tells the resolver where to go next.
 * - `AnswerCache` (dns/resolver/answer_cache.ts) keeps whole encoded replies keyed by the query's bytes:
 *   a repeated question costs one hash, one compare and one copy.
 * - Both are bounded (`maxEntries`; the oldest entry goes first) and kept as bytes in a ring
 *   with a hash index (dns/resolver/_ring.ts), not as objects: 100,000 names fit in tens of megabytes,
 *   and the garbage collector has nothing of them to walk.
 */
import { decodeRdata, encodeRdata, type ResourceRecord } from "../wire/rdata.ts";
import { RCODE, TYPE } from "../wire/constants.ts";
import { RECORD_HEADER, RingStore } from "./_ring.ts";

const CLASS_IN = 1;

/** All records of one name, type and class, with the RRSIGs covering them (if any). */
export interface RRset {
  name: string;
  type: number;
  class: number;
  /** Seconds: the smallest TTL of the records (RFC 2181 §5.2). */
  ttl: number;
  records: ResourceRecord[];
  signatures: ResourceRecord[];
  /** DNSSEC proofs that travel with it: NSEC/NSEC3 records and their RRSIGs (other owners). */
  proofs?: ResourceRecord[];
}

/** How far cached data is trusted (RFC 2181 §5.4.1), lowest first. */
export const TRUST = {
  /** The additional section: glue, addresses of name servers. */
  ADDITIONAL: 1,
  /** The authority section of a referral or other non-authoritative reply (the parent's NS). */
  AUTHORITY: 2,
  /** The answer section of a non-authoritative reply (what a forwarder says). */
  ANSWER: 3,
  /** The authority section of an authoritative reply (the zone's own NS and SOA). */
  AUTHORITATIVE_AUTHORITY: 4,
  /** The answer section of an authoritative reply. */
  AUTHORITATIVE_ANSWER: 5,
} as const;

/** Default most entries of each cache (one name usually takes one of each). */
export const DEFAULT_CACHE_SIZE = 200_000;
/** Bytes each entry is allowed on average (a cache's buffer is entries × this, at most). */
export const BYTES_PER_ENTRY = 256;
/** Default cap on any TTL, one day (unbound's cache-max-ttl). */
export const DEFAULT_MAX_TTL = 86_400;
/** Default cap on negative answers, one hour (unbound's cache-max-negative-ttl; RFC 2308 §5). */
export const DEFAULT_MAX_NEGATIVE_TTL = 3_600;

/** Options for `RecordCache` and `AnswerCache`. */
export interface CacheOptions {
  maxEntries?: number;
  /** Seconds; longer TTLs are cut to this. */
  maxTtl?: number;
  /** Seconds; negative answers are cut to this (and to `maxTtl`). */
  maxNegativeTtl?: number;
  /** The clock, in milliseconds. */
  now?: () => number;
}

/** A cached RRset as read back: `ttl` and every record's TTL are what is left of it. */
export interface CachedRRset extends RRset {
  trust: number;
  /** The zone whose server sent it. */
  zone: string;
}

/** A cached negative answer as read back; `soa` carries the remaining TTL. */
export interface CachedNegative {
  rcode: typeof RCODE.NXDOMAIN | typeof RCODE.NOERROR;
  name: string;
  /** The type for NODATA; for NXDOMAIN, the type that was asked when it was learnt. */
  type: number;
  soa: RRset;
  zone: string;
  ttl: number;
  /** The NSEC/NSEC3 records (and their RRSIGs) that prove it, when the zone is signed. */
  proofs: ResourceRecord[];
}

/** What a negative reply taught (see `RecordCache.storeNegative`). */
export interface NegativeAnswer {
  rcode: typeof RCODE.NXDOMAIN | typeof RCODE.NOERROR;
  name: string;
  type: number;
  /** The zone's SOA from the authority section; without it nothing is cached. */
  soa: RRset;
  zone: string;
  trust: number;
  /** The NSEC/NSEC3 records and their RRSIGs that prove it (signed zones). */
  proofs?: ResourceRecord[];
}

// ---------------------------------------------------------------------------------------------
// RRsets and negative answers.

/** Entry kinds. */
const RRSET = 0;
const NODATA = 1;
const NXDOMAIN = 2;
/** The type field of an NXDOMAIN entry: type 0 is reserved, so it never collides. */
const ANY_TYPE = 0;

/** A record-cache entry after the ring's header: where each field is. */
const R_TYPE = 8; // u16
const R_META = 10; // u8: kind (bits 0–1), trust (bits 2–4)
const R_ZONE = 11; // u8: the zone, as a suffix length of the name (0: unknown)
const R_EXPIRES = 12; // f64
const R_NAME_LENGTH = 20; // u16
const R_SOA = 22; // u16: for a negative answer, the SOA's owner as a suffix length of the name
const R_NAME = 24; // the name as received, one byte per character; then the packed records

/** How many characters at the end of `name` are `suffix` (a zone above it); 0 if it is not one. */
function suffixLength(name: string, suffix: string): number {
  if (suffix === ".") return 1;
  const n = name.toLowerCase();
  const z = suffix.toLowerCase();
  return z.length <= 255 && n.endsWith(z) ? z.length : 0;
}

/** FNV-1a over a name's lower-cased characters. */
function hashName(name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    let c = name.charCodeAt(i);
    if (c >= 65 && c <= 90) c += 32;
    hash = Math.imul(hash ^ c, 0x01000193);
  }
  return hash;
}

/** A name's hash and a type, mixed and cut to 30 bits: the index key of an entry. */
function withType(nameHash: number, type: number): number {
  return Math.imul(nameHash ^ type, 0x01000193) & 0x3fffffff;
}

/** The rdata of each record and signature, for `packRecords`. */
function rdataOf(records: readonly ResourceRecord[]): Uint8Array[] {
  return records.map((rr) => encodeRdata(rr));
}

/**
 * Writes the records' and signatures' packed form at `at`: the two counts (16 bits each), then
 * per record its type and its rdata, length-prefixed (an RRSIG's type is always 46). Returns the
 * offset after it.
 */
function packRecords(
  bytes: Uint8Array,
  at: number,
  records: readonly ResourceRecord[],
  rdata: Uint8Array[],
  signatures: number,
): number {
  const count = records.length - signatures;
  bytes[at] = count >> 8;
  bytes[at + 1] = count & 0xff;
  bytes[at + 2] = signatures >> 8;
  bytes[at + 3] = signatures & 0xff;
  at += 4;
  for (let i = 0; i < records.length; i++) {
    const data = rdata[i];
    bytes[at] = records[i].type >> 8;
    bytes[at + 1] = records[i].type & 0xff;
    bytes[at + 2] = data.length >> 8;
    bytes[at + 3] = data.length & 0xff;
    bytes.set(data, at + 4);
    at += 4 + data.length;
  }
  return at;
}

/** The records and signatures packed at `at`, owned by `name`, with `ttl`. */
function unpackRecords(
  bytes: Uint8Array,
  at: number,
  name: string,
  ttl: number,
): { records: ResourceRecord[]; signatures: ResourceRecord[]; end: number } {
  const count = (bytes[at] << 8) | bytes[at + 1];
  const total = count + ((bytes[at + 2] << 8) | bytes[at + 3]);
  const records: ResourceRecord[] = [];
  const signatures: ResourceRecord[] = [];
  at += 4;
  for (let i = 0; i < total; i++) {
    const type = (bytes[at] << 8) | bytes[at + 1];
    const length = (bytes[at + 2] << 8) | bytes[at + 3];
    const data = decodeRdata(type, bytes.subarray(at + 4, at + 4 + length));
    at += 4 + length;
    (i < count ? records : signatures).push({ name, type, class: CLASS_IN, ttl, data });
  }
  return { records, signatures, end: at };
}

/** The packed size of `proofs` (see `packProofs`); -1 when one of them cannot be packed. */
function proofsSize(proofs: readonly ResourceRecord[], rdata: Uint8Array[]): number {
  let size = 2;
  for (let i = 0; i < proofs.length; i++) {
    if (proofs[i].name.length > 0xff) return -1;
    size += 1 + proofs[i].name.length + 4 + rdata[i].length;
  }
  return size;
}

/**
 * Writes `proofs` — records of other owners, so each carries its name — at `at`: a 16-bit
 * count, then per record its owner (length byte, one byte per character), type and rdata.
 */
function packProofs(
  bytes: Uint8Array,
  at: number,
  proofs: readonly ResourceRecord[],
  rdata: Uint8Array[],
): void {
  bytes[at] = proofs.length >> 8;
  bytes[at + 1] = proofs.length & 0xff;
  at += 2;
  for (let i = 0; i < proofs.length; i++) {
    const { name, type } = proofs[i];
    bytes[at] = name.length;
    for (let c = 0; c < name.length; c++) bytes[at + 1 + c] = name.charCodeAt(c);
    at += 1 + name.length;
    bytes[at] = type >> 8;
    bytes[at + 1] = type & 0xff;
    bytes[at + 2] = rdata[i].length >> 8;
    bytes[at + 3] = rdata[i].length & 0xff;
    bytes.set(rdata[i], at + 4);
    at += 4 + rdata[i].length;
  }
}

/** The proofs packed at `at`, with `ttl`. */
function unpackProofs(bytes: Uint8Array, at: number, ttl: number): ResourceRecord[] {
  const count = (bytes[at] << 8) | bytes[at + 1];
  const proofs: ResourceRecord[] = [];
  at += 2;
  for (let i = 0; i < count; i++) {
    const name = latin1(bytes, at + 1, bytes[at]);
    at += 1 + bytes[at];
    const type = (bytes[at] << 8) | bytes[at + 1];
    const length = (bytes[at + 2] << 8) | bytes[at + 3];
    const data = decodeRdata(type, bytes.subarray(at + 4, at + 4 + length));
    at += 4 + length;
    proofs.push({ name, type, class: CLASS_IN, ttl, data });
  }
  return proofs;
}

function latin1(bytes: Uint8Array, at: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(at, at + length));
}

/**
 * RRsets and negative answers by TTL, bounded, trust-ranked (see the module comment). One entry
 * per name and type (NXDOMAIN: per name), found by the name (case-insensitively) and the type.
 */
export class RecordCache {
  readonly #store: RingStore;
  readonly #maxTtl: number;
  readonly #maxNegativeTtl: number;
  readonly #now: () => number;
  #generation = 0;
  /**
   * The last name hashed and its hash: one question looks its name up several times (negative
   * entry, the type, a CNAME; storing checks trust and replaces), so it is hashed once.
   */
  #hashedName = "";
  #nameHash = hashName("");

  constructor(options: CacheOptions = {}) {
    const max = Math.max(1, options.maxEntries ?? DEFAULT_CACHE_SIZE);
    this.#store = new RingStore(max, Math.max(256 * 1024, max * BYTES_PER_ENTRY));
    this.#maxTtl = options.maxTtl ?? DEFAULT_MAX_TTL;
    this.#maxNegativeTtl = Math.min(
      options.maxNegativeTtl ?? DEFAULT_MAX_NEGATIVE_TTL,
      this.#maxTtl,
    );
    this.#now = options.now ?? Date.now;
  }

  /** How many entries (RRsets and negative answers) are held. */
  get size(): number {
    return this.#store.size;
  }

  /** The bytes the held entries take (at most `maxEntries` × 256 in all). */
  get bytesHeld(): number {
    return this.#store.liveBytes;
  }

  /**
   * Changes whenever an NS or address RRset is stored (or everything is forgotten): whoever
   * keeps decoded delegations aside knows they may be stale.
   */
  get generation(): number {
    return this.#generation;
  }

  /** The longest TTL kept (seconds); answers passed on straight away are cut to it too. */
  get maxTtl(): number {
    return this.#maxTtl;
  }

  /** The longest TTL of a negative answer (seconds). */
  get maxNegativeTtl(): number {
    return this.#maxNegativeTtl;
  }

  /** Forgets everything. */
  clear(): void {
    this.#store.clear();
    this.#generation++;
  }

  /**
   * Keeps `rrset` for its TTL (capped at `maxTtl`), unless a more trusted copy is still fresh.
   * A TTL of 0 means "use once, never cache". Returns whether it was stored.
   */
  store(rrset: RRset, { trust, zone }: { trust: number; zone: string }): boolean {
    const ttl = Math.min(rrset.ttl, this.#maxTtl);
    const count = rrset.records.length;
    if (!(ttl > 0) || count === 0 || count > 0xffff || rrset.type === ANY_TYPE) return false;
    if (!this.#replaceable(rrset.name, rrset.type, trust)) return false;
    const nx = this.#find(rrset.name, ANY_TYPE); // the name exists after all: "no such name" goes
    if (nx >= 0) this.#store.remove(nx);
    const signatures = rrset.signatures.slice(0, 0xffff);
    if (rrset.type === TYPE.NS || rrset.type === TYPE.A || rrset.type === TYPE.AAAA) {
      this.#generation++;
    }
    return this.#put(
      rrset.name,
      rrset.type,
      RRSET,
      trust,
      zone,
      ttl,
      [
        ...rrset.records,
        ...signatures,
      ],
      signatures.length,
      "",
      rrset.proofs,
    );
  }

  /**
   * Keeps a negative answer for min(SOA TTL, SOA MINIMUM), capped (RFC 2308 §5): NXDOMAIN for
   * the name (every type), NODATA for the name and type. Returns whether it was stored.
   */
  storeNegative(answer: NegativeAnswer): boolean {
    const soa = answer.soa.records[0];
    if (!soa || soa.data.kind !== "SOA") return false;
    const ttl = Math.min(answer.soa.ttl, soa.data.minimum, this.#maxNegativeTtl);
    if (!(ttl > 0) || (answer.rcode !== RCODE.NXDOMAIN && answer.type === ANY_TYPE)) return false;
    const nx = answer.rcode === RCODE.NXDOMAIN;
    const type = nx ? ANY_TYPE : answer.type;
    if (!this.#replaceable(answer.name, type, answer.trust)) return false;
    const signatures = answer.soa.signatures.slice(0, 0xffff);
    return this.#put(
      answer.name,
      type,
      nx ? NXDOMAIN : NODATA,
      answer.trust,
      answer.zone,
      ttl,
      [soa, ...signatures],
      signatures.length,
      answer.soa.name,
      answer.proofs,
    );
  }

  /** The fresh RRset for `name`/`type` trusted at least `minTrust`, TTLs counted down. */
  get(name: string, type: number, { minTrust = 0 } = {}): CachedRRset | undefined {
    if (type === ANY_TYPE) return undefined;
    const at = this.#find(name, type);
    if (at < 0) return undefined;
    const bytes = this.#store.bytes;
    const meta = bytes[at + R_META];
    const trust = (meta >> 2) & 7;
    if ((meta & 3) !== RRSET || trust < minTrust) return undefined;
    const ttl = this.#remaining(at);
    const nameLength = this.#store.view.getUint16(at + R_NAME_LENGTH);
    const owner = latin1(bytes, at + R_NAME, nameLength);
    const { records, signatures, end } = unpackRecords(
      bytes,
      at + R_NAME + nameLength,
      owner,
      ttl,
    );
    const proofs = unpackProofs(bytes, end, ttl);
    return {
      name: owner,
      type,
      class: CLASS_IN,
      ttl,
      records,
      signatures,
      ...(proofs.length ? { proofs } : {}),
      trust,
      zone: this.#zone(at, owner),
    };
  }

  /** A fresh negative answer covering `name`/`type`: NXDOMAIN for the name, or NODATA. */
  getNegative(name: string, type: number): CachedNegative | undefined {
    let at = this.#find(name, ANY_TYPE);
    if (at < 0 && type !== ANY_TYPE) at = this.#find(name, type);
    if (at < 0) return undefined;
    const bytes = this.#store.bytes;
    const kind = bytes[at + R_META] & 3;
    if (kind === RRSET) return undefined;
    const ttl = this.#remaining(at);
    const view = this.#store.view;
    const nameLength = view.getUint16(at + R_NAME_LENGTH);
    const asked = latin1(bytes, at + R_NAME, nameLength);
    const soaLength = view.getUint16(at + R_SOA);
    const soaName = soaLength === 1 ? "." : asked.slice(asked.length - soaLength);
    const { records, signatures, end } = unpackRecords(
      bytes,
      at + R_NAME + nameLength,
      soaName,
      ttl,
    );
    return {
      rcode: kind === NXDOMAIN ? RCODE.NXDOMAIN : RCODE.NOERROR,
      name,
      type,
      soa: { name: soaName, type: TYPE.SOA, class: CLASS_IN, ttl, records, signatures },
      zone: this.#zone(at, asked),
      ttl,
      proofs: unpackProofs(bytes, end, ttl),
    };
  }

  /**
   * What is cached for `name`/`type` without decoding anything: an RRset, NODATA or NXDOMAIN,
   * and from which zone — for questions like "did this zone's server answer for that name?".
   */
  peek(
    name: string,
    type: number,
  ): { kind: "rrset" | "nodata" | "nxdomain"; zone: string } | undefined {
    let at = this.#find(name, ANY_TYPE);
    if (at < 0 && type !== ANY_TYPE) at = this.#find(name, type);
    if (at < 0) return undefined;
    const kind = this.#store.bytes[at + R_META] & 3;
    return {
      kind: kind === RRSET ? "rrset" : kind === NODATA ? "nodata" : "nxdomain",
      zone: this.#zone(at, name),
    };
  }

  /**
   * Keeps what is cached for `name`/`type` (an RRset or NODATA; NXDOMAIN for the name) at most
   * `seconds` longer — how a validator's Bogus verdict makes data be fetched afresh soon, not
   * when its (untrustworthy) TTL runs out.
   */
  shorten(name: string, type: number, seconds: number): void {
    const limit = this.#now() + seconds * 1000;
    for (const key of [type, ANY_TYPE]) {
      const at = this.#find(name, key);
      if (at < 0) continue;
      const view = this.#store.view;
      if (view.getFloat64(at + R_EXPIRES) > limit) view.setFloat64(at + R_EXPIRES, limit);
    }
  }

  /** Seconds left, as a client sees it: 600 right after caching, 590 ten seconds later. */
  #remaining(at: number): number {
    const expires = this.#store.view.getFloat64(at + R_EXPIRES);
    return Math.max(0, Math.ceil((expires - this.#now()) / 1000));
  }

  /** The zone an entry came from: a suffix of its name (`name` is that name, any case). */
  #zone(at: number, name: string): string {
    const length = this.#store.bytes[at + R_ZONE];
    return length === 0 ? "" : length === 1 ? "." : name.slice(name.length - length);
  }

  /** The offset of the fresh entry for `name`/`type` (ANY_TYPE: NXDOMAIN), or -1. */
  #find(name: string, type: number): number {
    const store = this.#store;
    const hash = this.#hash(name, type);
    for (let i = hash & store.mask;; i = (i + 1) & store.mask) {
      const slot = store.table[i];
      if (slot === 0) return -1;
      const at = slot - 1;
      if (store.hashAt(at) !== hash || !this.#is(at, name, type)) continue;
      if (store.view.getFloat64(at + R_EXPIRES) > this.#now()) return at;
      store.remove(at); // expired: gone
      return -1;
    }
  }

  #hash(name: string, type: number): number {
    if (name !== this.#hashedName) {
      this.#nameHash = hashName(name);
      this.#hashedName = name;
    }
    return withType(this.#nameHash, type);
  }

  /** True when the entry at `at` is for `name` (ASCII case-insensitively) and `type`. */
  #is(at: number, name: string, type: number): boolean {
    const view = this.#store.view;
    if (view.getUint16(at + R_TYPE) !== type) return false;
    if (view.getUint16(at + R_NAME_LENGTH) !== name.length) return false;
    const bytes = this.#store.bytes;
    for (let i = 0; i < name.length; i++) {
      let a = bytes[at + R_NAME + i];
      let b = name.charCodeAt(i);
      if (a >= 65 && a <= 90) a += 32;
      if (b >= 65 && b <= 90) b += 32;
      if (a !== b) return false;
    }
    return true;
  }

  #replaceable(name: string, type: number, trust: number): boolean {
    const at = this.#find(name, type);
    return at < 0 || trust >= ((this.#store.bytes[at + R_META] >> 2) & 7);
  }

  /** Writes one entry (replacing the old one for the same name and type). */
  #put(
    name: string,
    type: number,
    kind: number,
    trust: number,
    zone: string,
    ttl: number,
    records: readonly ResourceRecord[],
    signatures: number,
    soaName: string,
    proofs: readonly ResourceRecord[] = [],
  ): boolean {
    if (name.length > 0xffff || proofs.length > 0xffff) return false;
    const rdata = rdataOf(records);
    const proofData = rdataOf(proofs);
    const proofBytes = proofsSize(proofs, proofData);
    if (proofBytes < 0) return false;
    let size = RECORD_HEADER + (R_NAME - RECORD_HEADER) + name.length + 4 + proofBytes;
    for (const data of rdata) size += 4 + data.length;
    const old = this.#find(name, type);
    if (old >= 0) this.#store.remove(old);
    let at: number;
    try {
      at = this.#store.allocate(size, this.#hash(name, type));
    } catch (error) {
      if (error instanceof RangeError) return false; // an RRset too big to keep
      throw error;
    }
    const bytes = this.#store.bytes;
    const view = this.#store.view;
    view.setUint16(at + R_TYPE, type);
    bytes[at + R_META] = kind | (trust << 2);
    bytes[at + R_ZONE] = suffixLength(name, zone);
    view.setFloat64(at + R_EXPIRES, this.#now() + ttl * 1000);
    view.setUint16(at + R_NAME_LENGTH, name.length);
    view.setUint16(at + R_SOA, soaName ? suffixLength(name, soaName) : 0);
    for (let i = 0; i < name.length; i++) bytes[at + R_NAME + i] = name.charCodeAt(i);
    const end = packRecords(bytes, at + R_NAME + name.length, records, rdata, signatures);
    packProofs(bytes, end, proofs, proofData);
    this.#store.index(at);
    return true;
  }
}
