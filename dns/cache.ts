/**
 * The local DNS server's memory — seed 000's 「本地DNS」 looks in its cache before it asks anyone.
 * What upstream servers said is kept for as long as their TTLs allow. Pure: no I/O, and the clock
 * is injected (`now`), so tests move time instead of sleeping.
 *
 * Theory of operation
 * - `RecordCache` keeps RRsets (every record of one name and type, with the RRSIGs that sign
 *   them, for DNSSEC validation) and negative answers (RFC 2308): NXDOMAIN for a name, NODATA
 *   for a name and type, each with the zone's SOA. An entry lives until its TTL runs out —
 *   capped by `maxTtl`, a negative one by the SOA's MINIMUM field and `maxNegativeTtl` — and
 *   the TTL a client sees counts down.
 * - Not all data is equally trustworthy (RFC 2181 §5.4.1): an authoritative answer outranks the
 *   parent's copy of a delegation, which outranks glue. A cached RRset is replaced only by data
 *   at least as trustworthy (or once it expired), so glue can never overwrite an answer; and
 *   only data of answer rank answers a client — glue only tells the resolver where to go next.
 * - Bounded: at most `maxEntries` entries; the least recently used one goes first.
 * - `AnswerCache` keeps whole encoded replies keyed by the query's bytes after the ID (the trick
 *   of the authoritative server's `ResponseCache` in dns/authority.ts): a repeated question costs
 *   one hash, one compare and one copy, with the ID and every TTL patched in place.
 */
import { decodeRdata, encodeRdata, RCODE, type ResourceRecord, TYPE } from "./message.ts";

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
/** The largest reply the answer cache keeps (bigger ones are answered anew each time). */
const MAX_ANSWER = 8192;
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
}

/** Bytes as a one-byte-per-character string, flat (no rope of pieces: that costs more memory). */
function bytesToLatin1(bytes: Uint8Array): string {
  if (bytes.length <= 4096) return String.fromCharCode(...bytes);
  const parts: string[] = [];
  for (let i = 0; i < bytes.length; i += 4096) {
    parts.push(String.fromCharCode(...bytes.subarray(i, i + 4096)));
  }
  return parts.join("");
}

/**
 * The records and their signatures as one string of bytes: the two counts (16 bits each), then
 * per record its type and its rdata, length-prefixed (an RRSIG's type is always 46).
 */
function packRecords(records: readonly ResourceRecord[], signatures: readonly ResourceRecord[]) {
  const counts = [records.length >> 8, records.length & 0xff, signatures.length >> 8];
  const parts: string[] = [String.fromCharCode(...counts, signatures.length & 0xff)];
  for (const rr of [...records, ...signatures]) {
    const rdata = encodeRdata(rr);
    parts.push(
      String.fromCharCode(rr.type >> 8, rr.type & 0xff, rdata.length >> 8, rdata.length & 0xff),
      bytesToLatin1(rdata),
    );
  }
  return parts.join("");
}

/** The records and signatures of `packed`, owned by `name`, with `ttl`. */
function unpackRecords(
  packed: string,
  name: string,
  klass: number,
  ttl: number,
): { records: ResourceRecord[]; signatures: ResourceRecord[] } {
  const count = (packed.charCodeAt(0) << 8) | packed.charCodeAt(1);
  const total = count + ((packed.charCodeAt(2) << 8) | packed.charCodeAt(3));
  const records: ResourceRecord[] = [];
  const signatures: ResourceRecord[] = [];
  let at = 4;
  for (let i = 0; i < total; i++) {
    const type = (packed.charCodeAt(at) << 8) | packed.charCodeAt(at + 1);
    const length = (packed.charCodeAt(at + 2) << 8) | packed.charCodeAt(at + 3);
    at += 4;
    const rdata = new Uint8Array(length);
    for (let j = 0; j < length; j++) rdata[j] = packed.charCodeAt(at + j);
    at += length;
    const rr: ResourceRecord = { name, type, class: klass, ttl, data: decodeRdata(type, rdata) };
    (i < count ? records : signatures).push(rr);
  }
  return { records, signatures };
}

/** Entry kinds (bits 16–17 of an entry's meta word). */
const RRSET = 0;
const NODATA = 1;
const NXDOMAIN = 2;
/** The type slot of an NXDOMAIN entry: type 0 is reserved, so it never collides. */
const ANY_TYPE = 0;
const USED = 1 << 21;

function meta(type: number, kind: number, trust: number): number {
  return type | (kind << 16) | (trust << 18);
}
const typeOf = (m: number) => m & 0xffff;
const kindOf = (m: number) => (m >> 16) & 3;
const trustOf = (m: number) => (m >> 18) & 7;

/**
 * RRsets and negative answers by TTL, bounded, trust-ranked (see the module comment).
 *
 * Kept small, because a cache of 100,000 names must fit in tens of megabytes: decoded records
 * (an object per record, one per TXT string…) cost ten times their wire size. So each entry's
 * records are kept as their wire rdata in one string (one byte per character, decoded again when
 * read — a few hundred nanoseconds), and its other fields in typed arrays indexed by a slot
 * number: the only per-entry objects are that string and the name. A map from the lower-cased
 * name (names from the codec are canonical up to ASCII case) leads to the name's first slot;
 * its other entries (one per type) are chained. When full, names not read since the eviction
 * hand last passed go first (CLOCK: least-recently-used, roughly, without any work on a read).
 */
export class RecordCache {
  readonly #index = new Map<string, number>();
  /** Per slot: packed records (see `packRecords`); undefined when the slot is free. */
  readonly #packed: (string | undefined)[] = [];
  /** Per slot: the owner as received; for a negative answer, the SOA's owner. */
  readonly #owners: string[] = [];
  /** Per slot: the zone whose server sent it (usually one shared string per zone). */
  readonly #zoneOf: string[] = [];
  #meta = new Int32Array(64);
  #expires = new Float64Array(64);
  /** Per slot: the next entry of the same name, or the next free slot; -1 ends the chain. */
  #next = new Int32Array(64);
  #free = -1;
  #slots = 0;
  readonly #max: number;
  readonly #maxTtl: number;
  readonly #maxNegativeTtl: number;
  readonly #now: () => number;
  #count = 0;

  constructor(options: CacheOptions = {}) {
    this.#max = Math.max(1, options.maxEntries ?? DEFAULT_CACHE_SIZE);
    this.#maxTtl = options.maxTtl ?? DEFAULT_MAX_TTL;
    this.#maxNegativeTtl = Math.min(
      options.maxNegativeTtl ?? DEFAULT_MAX_NEGATIVE_TTL,
      this.#maxTtl,
    );
    this.#now = options.now ?? Date.now;
  }

  /** How many entries (RRsets and negative answers) are held. */
  get size(): number {
    return this.#count;
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
    this.#index.clear();
    this.#packed.length = this.#owners.length = this.#zoneOf.length = 0;
    this.#free = -1;
    this.#slots = this.#count = 0;
  }

  /**
   * Keeps `rrset` for its TTL (capped at `maxTtl`), unless a more trusted copy is still fresh.
   * A TTL of 0 means "use once, never cache". Returns whether it was stored.
   */
  store(rrset: RRset, { trust, zone }: { trust: number; zone: string }): boolean {
    const ttl = Math.min(rrset.ttl, this.#maxTtl);
    const count = rrset.records.length;
    if (!(ttl > 0) || count === 0 || count > 0xffff || rrset.type === ANY_TYPE) return false;
    const key = rrset.name.toLowerCase();
    if (!this.#replaceable(this.#find(key, rrset.type), trust)) return false;
    this.#remove(key, ANY_TYPE); // the name exists after all: an older "no such name" is wrong now
    const packed = packRecords(rrset.records, rrset.signatures.slice(0, 0xffff));
    this.#put(key, rrset.name, packed, meta(rrset.type, RRSET, trust), zone, ttl);
    return true;
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
    const key = answer.name.toLowerCase();
    if (!this.#replaceable(this.#find(key, type), answer.trust)) return false;
    const packed = packRecords([soa], answer.soa.signatures.slice(0, 0xffff));
    const m = meta(type, nx ? NXDOMAIN : NODATA, answer.trust);
    this.#put(key, answer.soa.name, packed, m, answer.zone, ttl);
    return true;
  }

  /** The fresh RRset for `name`/`type` trusted at least `minTrust`, TTLs counted down. */
  get(name: string, type: number, { minTrust = 0 } = {}): CachedRRset | undefined {
    if (type === ANY_TYPE) return undefined;
    const key = name.toLowerCase();
    const slot = this.#fresh(key, this.#find(key, type));
    if (slot < 0) return undefined;
    const m = this.#meta[slot];
    if (kindOf(m) !== RRSET || trustOf(m) < minTrust) return undefined;
    this.#touch(key);
    const ttl = this.#remaining(slot);
    const owner = this.#owners[slot];
    const { records, signatures } = unpackRecords(this.#packed[slot]!, owner, CLASS_IN, ttl);
    return {
      name: owner,
      type,
      class: CLASS_IN,
      ttl,
      records,
      signatures,
      trust: trustOf(m),
      zone: this.#zoneOf[slot],
    };
  }

  /** A fresh negative answer covering `name`/`type`: NXDOMAIN for the name, or NODATA. */
  getNegative(name: string, type: number): CachedNegative | undefined {
    const key = name.toLowerCase();
    let slot = this.#fresh(key, this.#find(key, ANY_TYPE));
    if (slot < 0 && type !== ANY_TYPE) slot = this.#fresh(key, this.#find(key, type));
    if (slot < 0 || kindOf(this.#meta[slot]) === RRSET) return undefined;
    this.#touch(key);
    const ttl = this.#remaining(slot);
    const soaName = this.#owners[slot];
    const { records, signatures } = unpackRecords(this.#packed[slot]!, soaName, CLASS_IN, ttl);
    return {
      rcode: kindOf(this.#meta[slot]) === NXDOMAIN ? RCODE.NXDOMAIN : RCODE.NOERROR,
      name,
      type,
      soa: { name: soaName, type: TYPE.SOA, class: CLASS_IN, ttl, records, signatures },
      zone: this.#zoneOf[slot],
      ttl,
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
    const key = name.toLowerCase();
    let slot = this.#fresh(key, this.#find(key, ANY_TYPE));
    if (slot < 0 && type !== ANY_TYPE) slot = this.#fresh(key, this.#find(key, type));
    if (slot < 0) return undefined;
    const kind = kindOf(this.#meta[slot]);
    return {
      kind: kind === RRSET ? "rrset" : kind === NODATA ? "nodata" : "nxdomain",
      zone: this.#zoneOf[slot],
    };
  }

  /** Seconds left, as a client sees it: 600 right after caching, 590 ten seconds later. */
  #remaining(slot: number): number {
    return Math.max(0, Math.ceil((this.#expires[slot] - this.#now()) / 1000));
  }

  /** The slot of `key`'s entry for `type` (ANY_TYPE: NXDOMAIN), or -1. */
  #find(key: string, type: number): number {
    let slot = this.#index.get(key) ?? -1;
    while (slot >= 0 && typeOf(this.#meta[slot]) !== type) slot = this.#next[slot];
    return slot;
  }

  #touch(key: string): void {
    const head = this.#index.get(key);
    if (head !== undefined) this.#meta[head] |= USED;
  }

  /** `slot` if its entry is still fresh; an expired one is dropped (-1). */
  #fresh(key: string, slot: number): number {
    if (slot < 0 || this.#expires[slot] > this.#now()) return slot;
    this.#remove(key, typeOf(this.#meta[slot]));
    return -1;
  }

  #replaceable(slot: number, trust: number): boolean {
    return slot < 0 || this.#expires[slot] <= this.#now() || trust >= trustOf(this.#meta[slot]);
  }

  /** Removes `key`'s entry for `type` (ANY_TYPE: NXDOMAIN), if any. */
  #remove(key: string, type: number): void {
    const head = this.#index.get(key);
    if (head === undefined) return;
    let previous = -1;
    for (let slot = head; slot >= 0; previous = slot, slot = this.#next[slot]) {
      if (typeOf(this.#meta[slot]) !== type) continue;
      const rest = this.#next[slot];
      if (previous >= 0) this.#next[previous] = rest;
      else if (rest >= 0) {
        this.#meta[rest] |= this.#meta[slot] & USED;
        this.#index.set(key, rest);
      } else this.#index.delete(key);
      this.#release(slot);
      return;
    }
  }

  #release(slot: number): void {
    this.#packed[slot] = undefined;
    this.#owners[slot] = this.#zoneOf[slot] = "";
    this.#next[slot] = this.#free;
    this.#free = slot;
    this.#count--;
  }

  #claim(): number {
    if (this.#free >= 0) {
      const slot = this.#free;
      this.#free = this.#next[slot];
      return slot;
    }
    const slot = this.#slots++;
    if (slot >= this.#meta.length) {
      const size = this.#meta.length * 2;
      const grow = <T extends Int32Array | Float64Array>(old: T, make: (n: number) => T): T => {
        const bigger = make(size);
        bigger.set(old);
        return bigger;
      };
      this.#meta = grow(this.#meta, (n) => new Int32Array(n));
      this.#next = grow(this.#next, (n) => new Int32Array(n));
      this.#expires = grow(this.#expires, (n) => new Float64Array(n));
    }
    return slot;
  }

  #put(key: string, owner: string, packed: string, m: number, zone: string, ttl: number): void {
    this.#remove(key, typeOf(m));
    // Make room first: whole names go, unread ones first, read ones get a second chance.
    for (let passes = 0; this.#count >= this.#max && this.#index.size > 0; passes++) {
      const [oldest, head] = this.#index.entries().next().value!;
      this.#index.delete(oldest);
      if (this.#meta[head] & USED && passes < 2 * this.#index.size + 2) {
        this.#meta[head] &= ~USED;
        this.#index.set(oldest, head); // to the back: a second chance
      } else {
        for (let slot = head; slot >= 0;) {
          const next = this.#next[slot];
          this.#release(slot);
          slot = next;
        }
      }
    }
    const slot = this.#claim();
    this.#packed[slot] = packed;
    this.#owners[slot] = owner;
    this.#meta[slot] = m;
    this.#expires[slot] = this.#now() + ttl * 1000;
    this.#zoneOf[slot] = zone;
    const head = this.#index.get(key);
    if (head === undefined) {
      this.#next[slot] = -1;
      this.#index.set(key, slot);
    } else {
      this.#next[slot] = this.#next[head];
      this.#next[head] = slot;
    }
    this.#count++;
  }
}

// ---------------------------------------------------------------------------------------------
// Encoded answers.

/** Skips a wire name at `at`; -1 when it runs past `end`. */
function skipName(bytes: Uint8Array, at: number, end: number): number {
  for (let labels = 0; labels < 128 && at < end; labels++) {
    const len = bytes[at];
    if (len === 0) return at + 1;
    if ((len & 0xc0) === 0xc0) return at + 2 <= end ? at + 2 : -1;
    if (len & 0xc0) return -1;
    at += len + 1;
  }
  return -1;
}

/**
 * The offsets of every record's TTL field in an encoded message (the OPT pseudo-record's is
 * flags, not a TTL, and is left out); undefined when the bytes are not a well-formed message.
 */
export function ttlOffsets(message: Uint8Array, end = message.length): number[] | undefined {
  if (end < 12) return undefined;
  const count = (i: number) => (message[i] << 8) | message[i + 1];
  let at = 12;
  for (let q = count(4); q > 0; q--) {
    at = skipName(message, at, end);
    if (at < 0 || at + 4 > end) return undefined;
    at += 4;
  }
  const offsets: number[] = [];
  for (let r = count(6) + count(8) + count(10); r > 0; r--) {
    at = skipName(message, at, end);
    if (at < 0 || at + 10 > end) return undefined;
    if (count(at) !== TYPE.OPT) offsets.push(at + 4);
    at += 10 + count(at + 8);
    if (at > end) return undefined;
  }
  return at === end ? offsets : undefined;
}

/** Default bytes of encoded answers per entry allowed for (the ring's size is entries × this). */
const ANSWER_BYTES_PER_ENTRY = 256;
/** An entry's header in the ring: total length (4), key length (2), unused (2), hash (4), expiry (8). */
const HEADER = 20;
const HASH_AT = 8;
const EXPIRY_AT = 12;

/**
 * Encoded replies by the exact query bytes after the ID (so another spelling, other flags or
 * other EDNS options are simply another key), separately for UDP (maybe truncated) and TCP.
 * Each TTL in a reply counts down from when it was stored; the entry expires when the
 * shortest one reaches 0.
 *
 * Kept as a log in one byte ring — no object per entry, nothing for the garbage collector: each
 * entry is a header (length, key length, hash, expiry), the key (the query's flags and counts and
 * what follows its question; the question itself is not repeated, the reply echoes it) and the
 * reply. New entries go at the head; the oldest fall off the tail when the ring or the entry
 * count is full (first in, first out). An open-addressing hash table of ring offsets finds them.
 */
export class AnswerCache {
  readonly #hashMask: number;
  #ring: Uint8Array;
  #view: DataView;
  /** Ring offset + 1 of each entry by hash (0: empty), linear probing. */
  readonly #table: Int32Array;
  readonly #mask: number;
  readonly #maxBytes: number;
  readonly #max: number;
  readonly #maxTtl: number;
  readonly #now: () => number;
  /** Where the next entry goes, and where the oldest one starts. */
  #head = 0;
  #tail = 0;
  #size = 0;

  /**
   * `hashBits` narrows the hash (default 30 bits); tests use a few bits to make different
   * queries collide, which must still never get each other's reply.
   */
  constructor(options: CacheOptions & { hashBits?: number } = {}) {
    this.#max = Math.max(1, options.maxEntries ?? DEFAULT_CACHE_SIZE);
    this.#maxTtl = options.maxTtl ?? DEFAULT_MAX_TTL;
    this.#now = options.now ?? Date.now;
    this.#hashMask = (1 << Math.min(30, Math.max(1, options.hashBits ?? 30))) - 1;
    this.#maxBytes = Math.max(2 * (HEADER + MAX_ANSWER), this.#max * ANSWER_BYTES_PER_ENTRY);
    this.#ring = new Uint8Array(Math.min(this.#maxBytes, 64 * 1024));
    this.#view = new DataView(this.#ring.buffer);
    let slots = 16;
    while (slots < this.#max * 2) slots *= 2;
    this.#table = new Int32Array(slots);
    this.#mask = slots - 1;
  }

  /** How many replies are held. */
  get size(): number {
    return this.#size;
  }

  /** Forgets everything. */
  clear(): void {
    this.#table.fill(0);
    this.#head = this.#tail = this.#size = 0;
    this.#wrapped = false;
  }

  /**
   * Writes the cached reply to `query` into `out` with the query's ID and the TTLs left, and
   * returns its length; -1 when there is none (or it expired). `out` must hold 65535 bytes and
   * may be the query's own buffer. The server's hot path: no allocation on a hit.
   */
  lookup(query: Uint8Array, udp: boolean, out: Uint8Array): number {
    const questionEnd = endOfQuestion(query);
    if (questionEnd < 0) return -1;
    const at = this.#find(query, questionEnd, hashQuery(query, udp) & this.#hashMask, udp);
    if (at < 0) return -1;
    const now = this.#now();
    const expiresAt = this.#view.getFloat64(at + EXPIRY_AT);
    if (now >= expiresAt) return -1;
    const keyLength = this.#view.getUint16(at + 4);
    const length = this.#view.getUint32(at) - HEADER - keyLength;
    const id0 = query[0];
    const id1 = query[1];
    const start = at + HEADER + keyLength;
    out.set(this.#ring.subarray(start, start + length));
    out[0] = id0;
    out[1] = id1;
    // The reply holds the TTLs as stored; the shortest one says when that was.
    const offsets = ttlOffsets(out, length) ?? [];
    let shortest = Infinity;
    for (const offset of offsets) shortest = Math.min(shortest, readU32(out, offset));
    const elapsed = Math.floor((now - (expiresAt - shortest * 1000)) / 1000);
    if (elapsed > 0) { for (const o of offsets) writeU32(out, o, readU32(out, o) - elapsed); }
    return length;
  }

  /**
   * Remembers `reply` as the answer to `query` for as long as its shortest TTL (TTLs are cut to
   * `maxTtl`). Nothing is kept when a TTL is 0, or the reply is not a well-formed message that
   * echoes the query's question.
   */
  store(query: Uint8Array, udp: boolean, reply: Uint8Array): void {
    const questionEnd = endOfQuestion(query);
    if (questionEnd < 0 || reply.length < questionEnd || reply.length > MAX_ANSWER) return;
    for (let i = 12; i < questionEnd; i++) if (reply[i] !== query[i]) return;
    const offsets = ttlOffsets(reply);
    if (!offsets || offsets.length === 0) return;
    const keyLength = 11 + query.length - questionEnd;
    const total = HEADER + keyLength + reply.length;
    if (keyLength > 0xffff) return;
    const hash = hashQuery(query, udp) & this.#hashMask;
    const old = this.#find(query, questionEnd, hash, udp);
    if (old >= 0) this.#unindex(old);
    const at = this.#allocate(total);
    const ring = this.#ring;
    const view = this.#view;
    view.setUint32(at, total);
    view.setUint16(at + 4, keyLength);
    view.setInt32(at + HASH_AT, hash);
    ring[at + HEADER] = udp ? 1 : 0;
    ring.set(query.subarray(2, 12), at + HEADER + 1);
    ring.set(query.subarray(questionEnd), at + HEADER + 11);
    const start = at + HEADER + keyLength;
    ring.set(reply, start);
    let shortest = Infinity;
    for (const offset of offsets) {
      const ttl = Math.min(readU32(ring, start + offset), this.#maxTtl);
      writeU32(ring, start + offset, ttl);
      shortest = Math.min(shortest, ttl);
    }
    if (!(shortest > 0)) {
      view.setUint32(at, total | 0x80000000); // written, but dead: never indexed
      return;
    }
    view.setFloat64(at + EXPIRY_AT, this.#now() + shortest * 1000);
    this.#index(hash, at);
    this.#size++;
  }

  /** The ring offset of the entry for this query, or -1. */
  #find(query: Uint8Array, questionEnd: number, hash: number, udp: boolean): number {
    const table = this.#table;
    const ring = this.#ring;
    const view = this.#view;
    const keyLength = 11 + query.length - questionEnd;
    for (let i = hash & this.#mask;; i = (i + 1) & this.#mask) {
      const slot = table[i];
      if (slot === 0) return -1;
      const at = slot - 1;
      if (view.getInt32(at + HASH_AT) !== hash || view.getUint16(at + 4) !== keyLength) continue;
      const key = at + HEADER;
      if (ring[key] !== (udp ? 1 : 0)) continue;
      let same = true;
      for (let j = 2; same && j < 12; j++) same = ring[key + j - 1] === query[j];
      for (let j = questionEnd; same && j < query.length; j++) {
        same = ring[key + 11 + j - questionEnd] === query[j];
      }
      // The reply echoes the question right after its header.
      const reply = key + keyLength;
      for (let j = 12; same && j < questionEnd; j++) same = ring[reply + j] === query[j];
      if (same) return at;
    }
  }

  #index(hash: number, at: number): void {
    let i = hash & this.#mask;
    while (this.#table[i] !== 0) i = (i + 1) & this.#mask;
    this.#table[i] = at + 1;
  }

  /** Takes the entry at `at` out of the table (backward-shift deletion keeps probing intact). */
  #unindex(at: number): void {
    const table = this.#table;
    const mask = this.#mask;
    let i = this.#view.getInt32(at + HASH_AT) & mask;
    while (table[i] !== at + 1) {
      if (table[i] === 0) return;
      i = (i + 1) & mask;
    }
    this.#view.setUint32(at, this.#view.getUint32(at) | 0x80000000); // dead from now on
    this.#size--;
    for (let j = (i + 1) & mask; table[j] !== 0; j = (j + 1) & mask) {
      const home = this.#view.getInt32(table[j] - 1 + HASH_AT) & mask;
      // Move entry j into the hole at i unless its home lies cyclically in (i, j].
      const between = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!between) {
        table[i] = table[j];
        i = j;
      }
    }
    table[i] = 0;
  }

  /**
   * Room for `total` bytes at the head. The entries fill [tail, head) — or, once the head has
   * wrapped to the ring's start, [tail, wrapAt) and then [0, head). The ring grows (up to its
   * size) before anything is evicted; then the oldest entries fall off the tail.
   */
  #allocate(total: number): number {
    while (this.#size >= this.#max) this.#evictOldest();
    while (true) {
      if (!this.#wrapped) {
        if (this.#head === this.#tail) this.#head = this.#tail = 0; // empty: start over
        if (this.#head + total <= this.#ring.length) break;
        this.#grow(this.#head + total);
        if (this.#head + total <= this.#ring.length) break;
        this.#wrapAt = this.#head;
        this.#head = 0;
        this.#wrapped = true;
      } else {
        if (this.#head + total <= this.#tail) break;
        this.#evictOldest();
      }
    }
    const at = this.#head;
    this.#head += total;
    return at;
  }

  #wrapped = false;
  /** While wrapped: where the entries before the wrap end. */
  #wrapAt = 0;

  /** Drops the entry at the tail (it may already be dead: replaced, or never indexed). */
  #evictOldest(): void {
    const word = this.#view.getUint32(this.#tail);
    if (!(word & 0x80000000)) this.#unindex(this.#tail);
    this.#tail += word & 0x7fffffff;
    if (this.#wrapped && this.#tail >= this.#wrapAt) {
      this.#tail = 0;
      this.#wrapped = false;
    }
  }

  /** A bigger ring (only before the first wrap, so every offset stays where it is). */
  #grow(needed: number): void {
    if (this.#ring.length >= this.#maxBytes) return;
    let size = this.#ring.length;
    while (size < needed && size < this.#maxBytes) size *= 2;
    const ring = new Uint8Array(Math.min(size, this.#maxBytes));
    ring.set(this.#ring.subarray(0, this.#head));
    this.#ring = ring;
    this.#view = new DataView(ring.buffer);
  }
}

/** Where the (first and only) question of a query ends; -1 when it is not one question. */
function endOfQuestion(query: Uint8Array): number {
  if (query.length < 17 || query[4] !== 0 || query[5] !== 1) return -1;
  const at = skipName(query, 12, query.length);
  return at < 0 || at + 4 > query.length ? -1 : at + 4;
}

function readU32(bytes: Uint8Array, at: number): number {
  return bytes[at] * 0x1000000 + ((bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]);
}

/** FNV-1a over the query after its ID, seeded differently for UDP and TCP, cut to 30 bits. */
function hashQuery(query: Uint8Array, udp: boolean): number {
  let hash = udp ? 0x811c9dc5 : 0x01000193;
  for (let i = 2; i < query.length; i++) hash = Math.imul(hash ^ query[i], 0x01000193);
  return hash & 0x3fffffff;
}

function writeU32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 24;
  bytes[at + 1] = (value >>> 16) & 0xff;
  bytes[at + 2] = (value >>> 8) & 0xff;
  bytes[at + 3] = value & 0xff;
}
