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

/** Entry kinds. */
const RRSET = 0;
const NODATA = 1;
const NXDOMAIN = 2;

/**
 * One cached RRset or negative answer, kept small: a cache of 100,000 names must fit in tens of
 * megabytes, and decoded records (an object per record, one per TXT string…) cost ten times
 * their wire size. So the records are kept as their wire rdata in one string (one byte per
 * character) and decoded again when read — a few hundred nanoseconds per read.
 */
interface Entry {
  /** RRSET, NODATA or NXDOMAIN. */
  kind: number;
  /** The RRset's type; for NODATA the type asked; for NXDOMAIN -1 (it covers every type). */
  type: number;
  /** The owner name as received (for negative answers: the name asked). */
  name: string;
  /** The RRset's (or for a negative answer, the SOA's) records: see `packRecords`. */
  packed: string;
  /** For negative answers: the SOA's owner (the zone that said "no"). */
  soaName: string;
  trust: number;
  /** The zone whose server sent it (interned: zones are few). */
  zone: string;
  expiresAt: number;
  /** The next entry of the same name. */
  next: Entry | undefined;
  /** Read since the eviction hand last passed (CLOCK's second chance); kept on the first entry. */
  used: boolean;
}

function bytesToLatin1(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    text += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return text;
}

/**
 * The records and their signatures as one string: a count, then per record its type and its
 * rdata, each length-prefixed (the RRSIGs' type is always 46).
 */
function packRecords(records: readonly ResourceRecord[], signatures: readonly ResourceRecord[]) {
  const parts: string[] = [String.fromCharCode(records.length, signatures.length)];
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
  const count = packed.charCodeAt(0);
  const total = count + packed.charCodeAt(1);
  const records: ResourceRecord[] = [];
  const signatures: ResourceRecord[] = [];
  let at = 2;
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

/**
 * RRsets and negative answers by TTL, bounded, trust-ranked (see the module comment). Entries
 * are grouped per name (names from the codec are canonical up to ASCII case, so the key is the
 * lower-cased name); when full, names not read since the last pass are evicted first (CLOCK, an
 * approximation of least-recently-used that costs nothing on a read).
 */
export class RecordCache {
  readonly #names = new Map<string, Entry>();
  readonly #zones = new Map<string, string>();
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
    this.#names.clear();
    this.#zones.clear();
    this.#count = 0;
  }

  /**
   * Keeps `rrset` for its TTL (capped at `maxTtl`), unless a more trusted copy is still fresh.
   * A TTL of 0 means "use once, never cache". Returns whether it was stored.
   */
  store(rrset: RRset, { trust, zone }: { trust: number; zone: string }): boolean {
    const ttl = Math.min(rrset.ttl, this.#maxTtl);
    if (!(ttl > 0) || rrset.records.length === 0 || rrset.records.length > 0xffff) return false;
    const key = rrset.name.toLowerCase();
    if (!this.#replaceable(this.#find(key, rrset.type), trust)) return false;
    this.#remove(key, -1); // the name exists after all: an older "no such name" is wrong now
    this.#put(key, {
      kind: RRSET,
      type: rrset.type,
      name: rrset.name,
      packed: packRecords(rrset.records, rrset.signatures.slice(0, 0xffff)),
      soaName: "",
      trust,
      zone: this.#intern(zone),
      expiresAt: this.#now() + ttl * 1000,
      next: undefined,
      used: false,
    });
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
    if (!(ttl > 0)) return false;
    const nx = answer.rcode === RCODE.NXDOMAIN;
    const type = nx ? -1 : answer.type;
    const key = answer.name.toLowerCase();
    if (!this.#replaceable(this.#find(key, type), answer.trust)) return false;
    this.#put(key, {
      kind: nx ? NXDOMAIN : NODATA,
      type,
      name: answer.name,
      packed: packRecords([soa], answer.soa.signatures.slice(0, 0xffff)),
      soaName: answer.soa.name,
      trust: answer.trust,
      zone: this.#intern(answer.zone),
      expiresAt: this.#now() + ttl * 1000,
      next: undefined,
      used: false,
    });
    return true;
  }

  /** The fresh RRset for `name`/`type` trusted at least `minTrust`, TTLs counted down. */
  get(name: string, type: number, { minTrust = 0 } = {}): CachedRRset | undefined {
    const key = name.toLowerCase();
    const entry = this.#fresh(key, this.#find(key, type));
    if (!entry || entry.kind !== RRSET || entry.trust < minTrust) return undefined;
    this.#touch(key);
    const ttl = this.#remaining(entry);
    const { records, signatures } = unpackRecords(entry.packed, entry.name, CLASS_IN, ttl);
    return {
      name: entry.name,
      type,
      class: CLASS_IN,
      ttl,
      records,
      signatures,
      trust: entry.trust,
      zone: entry.zone,
    };
  }

  /** A fresh negative answer covering `name`/`type`: NXDOMAIN for the name, or NODATA. */
  getNegative(name: string, type: number): CachedNegative | undefined {
    const key = name.toLowerCase();
    const entry = this.#fresh(key, this.#find(key, -1)) ??
      this.#fresh(key, this.#find(key, type));
    if (!entry || entry.kind === RRSET) return undefined;
    this.#touch(key);
    const ttl = this.#remaining(entry);
    const { records, signatures } = unpackRecords(entry.packed, entry.soaName, CLASS_IN, ttl);
    return {
      rcode: entry.kind === NXDOMAIN ? RCODE.NXDOMAIN : RCODE.NOERROR,
      name: entry.name,
      type: entry.kind === NXDOMAIN ? type : entry.type,
      soa: { name: entry.soaName, type: TYPE.SOA, class: CLASS_IN, ttl, records, signatures },
      zone: entry.zone,
      ttl,
    };
  }

  /** Seconds left, as a client sees it: 600 right after caching, 590 ten seconds later. */
  #remaining(entry: Entry): number {
    return Math.max(0, Math.ceil((entry.expiresAt - this.#now()) / 1000));
  }

  #intern(zone: string): string {
    let known = this.#zones.get(zone);
    if (known === undefined) {
      if (this.#zones.size >= 10_000) this.#zones.clear();
      this.#zones.set(zone, known = zone);
    }
    return known;
  }

  #find(key: string, type: number): Entry | undefined {
    let entry = this.#names.get(key);
    while (entry && entry.type !== type) entry = entry.next;
    return entry;
  }

  #touch(key: string): void {
    const head = this.#names.get(key);
    if (head) head.used = true;
  }

  /** `entry` if it is still fresh; an expired one is dropped. */
  #fresh(key: string, entry: Entry | undefined): Entry | undefined {
    if (!entry || entry.expiresAt > this.#now()) return entry;
    this.#remove(key, entry.type);
    return undefined;
  }

  #replaceable(old: Entry | undefined, trust: number): boolean {
    return !old || old.expiresAt <= this.#now() || trust >= old.trust;
  }

  /** Removes the entry of `type` (-1: NXDOMAIN) for `key`, if any. */
  #remove(key: string, type: number): void {
    const head = this.#names.get(key);
    if (!head) return;
    if (head.type === type) {
      if (head.next) {
        head.next.used = head.used;
        this.#names.set(key, head.next);
      } else {
        this.#names.delete(key);
      }
      this.#count--;
      return;
    }
    for (let e = head; e.next; e = e.next) {
      if (e.next.type === type) {
        e.next = e.next.next;
        this.#count--;
        return;
      }
    }
  }

  #put(key: string, entry: Entry): void {
    this.#remove(key, entry.type);
    const head = this.#names.get(key);
    if (head) {
      entry.next = head.next;
      head.next = entry;
    } else {
      this.#names.set(key, entry);
    }
    this.#count++;
    // Evict whole names until the count fits: unread ones first, read ones get a second chance.
    for (let passes = 0; this.#count > this.#max && this.#names.size > 1; passes++) {
      const [oldest, first] = this.#names.entries().next().value!;
      this.#names.delete(oldest);
      if (first.used && oldest !== key && passes < 2 * this.#names.size + 2) {
        first.used = false;
        this.#names.set(oldest, first); // to the back: a second chance
      } else if (oldest === key) {
        this.#names.set(oldest, first); // never the name just stored
      } else {
        for (let e: Entry | undefined = first; e; e = e.next) this.#count--;
      }
    }
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

/**
 * Encoded replies by the exact query bytes after the ID (so another spelling, other flags or
 * other EDNS options are simply another key), separately for UDP (maybe truncated) and TCP.
 * Each TTL in a reply counts down from when it was stored; the entry expires when the
 * shortest one reaches 0.
 *
 * Kept small in slots: each entry is one string (the key bytes, then the reply, one byte per
 * character) plus two numbers; replaced first in, first out when all slots are taken.
 */
export class AnswerCache {
  /** Slot of each hash (collisions: the slot's `chain` goes on). */
  readonly #slots = new Map<number, number>();
  readonly #bytes: (string | undefined)[] = [];
  readonly #keyLengths: number[] = [];
  readonly #hashes: number[] = [];
  readonly #chain: number[] = [];
  #storedAt: Float64Array;
  #expiresAt: Float64Array;
  readonly #max: number;
  readonly #now: () => number;
  #next = 0;
  #size = 0;

  constructor(options: CacheOptions = {}) {
    this.#max = Math.max(1, options.maxEntries ?? DEFAULT_CACHE_SIZE);
    this.#now = options.now ?? Date.now;
    this.#storedAt = new Float64Array(Math.min(this.#max, 1024));
    this.#expiresAt = new Float64Array(this.#storedAt.length);
  }

  /** How many replies are held. */
  get size(): number {
    return this.#size;
  }

  /** Forgets everything. */
  clear(): void {
    this.#slots.clear();
    this.#bytes.length =
      this.#keyLengths.length =
      this.#hashes.length =
      this.#chain.length =
        0;
    this.#next = this.#size = 0;
  }

  /**
   * Writes the cached reply to `query` into `out` with the query's ID and the TTLs left, and
   * returns its length; -1 when there is none (or it expired). `out` must hold 65535 bytes and
   * may be the query's own buffer. The server's hot path: no allocation on a hit.
   */
  lookup(query: Uint8Array, udp: boolean, out: Uint8Array): number {
    if (query.length < 12) return -1;
    const hash = hashQuery(query, udp);
    let slot = this.#slots.get(hash) ?? -1;
    while (slot >= 0 && !this.#matches(slot, query, hash, udp)) slot = this.#chain[slot];
    if (slot < 0) return -1;
    const now = this.#now();
    if (now >= this.#expiresAt[slot]) return -1;
    const text = this.#bytes[slot]!;
    const keyLength = this.#keyLengths[slot];
    const length = text.length - keyLength;
    const id0 = query[0];
    const id1 = query[1];
    for (let i = 0; i < length; i++) out[i] = text.charCodeAt(keyLength + i);
    out[0] = id0;
    out[1] = id1;
    const elapsed = Math.floor((now - this.#storedAt[slot]) / 1000);
    if (elapsed > 0) {
      for (const at of ttlOffsets(out, length) ?? []) {
        const ttl = out[at] * 0x1000000 + ((out[at + 1] << 16) | (out[at + 2] << 8) | out[at + 3]);
        writeU32(out, at, ttl - elapsed);
      }
    }
    return length;
  }

  /**
   * Remembers `reply` as the answer to `query` for as long as its shortest TTL (at most
   * `maxTtl` seconds). Nothing is kept when a TTL is 0 or the reply is not a well-formed message.
   */
  store(query: Uint8Array, udp: boolean, reply: Uint8Array, { maxTtl = DEFAULT_MAX_TTL } = {}) {
    if (query.length < 12 || query.length > 0xffff) return;
    const offsets = ttlOffsets(reply);
    if (!offsets) return;
    let shortest = maxTtl;
    for (const at of offsets) {
      shortest = Math.min(
        shortest,
        reply[at] * 0x1000000 + ((reply[at + 1] << 16) | (reply[at + 2] << 8) | reply[at + 3]),
      );
    }
    if (!(shortest > 0)) return;
    const hash = hashQuery(query, udp);
    let slot = this.#slots.get(hash) ?? -1;
    while (slot >= 0 && !this.#matches(slot, query, hash, udp)) slot = this.#chain[slot];
    if (slot < 0) slot = this.#claim(hash);
    const now = this.#now();
    this.#bytes[slot] = String.fromCharCode(udp ? 1 : 0) + bytesToLatin1(query.subarray(2)) +
      bytesToLatin1(reply);
    this.#keyLengths[slot] = query.length - 1;
    this.#storedAt[slot] = now;
    this.#expiresAt[slot] = now + shortest * 1000;
  }

  /** A slot for a new entry of `hash`: the next one round the ring, its old entry unlinked. */
  #claim(hash: number): number {
    if (this.#next >= this.#max) this.#next = 0;
    const slot = this.#next++;
    if (slot >= this.#storedAt.length) {
      const grown = Math.min(this.#max, this.#storedAt.length * 2);
      const storedAt = new Float64Array(grown);
      const expiresAt = new Float64Array(grown);
      storedAt.set(this.#storedAt);
      expiresAt.set(this.#expiresAt);
      this.#storedAt = storedAt;
      this.#expiresAt = expiresAt;
    }
    if (this.#bytes[slot] !== undefined) this.#unlink(slot);
    else this.#size++;
    this.#hashes[slot] = hash;
    this.#chain[slot] = this.#slots.get(hash) ?? -1;
    this.#slots.set(hash, slot);
    return slot;
  }

  #unlink(slot: number): void {
    const hash = this.#hashes[slot];
    const first = this.#slots.get(hash);
    if (first === slot) {
      const rest = this.#chain[slot];
      if (rest >= 0) this.#slots.set(hash, rest);
      else this.#slots.delete(hash);
      return;
    }
    for (let s = first ?? -1; s >= 0; s = this.#chain[s]) {
      if (this.#chain[s] === slot) {
        this.#chain[s] = this.#chain[slot];
        return;
      }
    }
  }

  /** True when `slot` holds the entry for exactly this query (and transport). */
  #matches(slot: number, query: Uint8Array, hash: number, udp: boolean): boolean {
    const text = this.#bytes[slot];
    if (text === undefined || this.#hashes[slot] !== hash) return false;
    if (this.#keyLengths[slot] !== query.length - 1) return false;
    if (text.charCodeAt(0) !== (udp ? 1 : 0)) return false;
    for (let i = 2; i < query.length; i++) if (text.charCodeAt(i - 1) !== query[i]) return false;
    return true;
  }
}

/** FNV-1a over the query after its ID, seeded differently for UDP and TCP, cut to 30 bits. */
function hashQuery(query: Uint8Array, udp: boolean): number {
  let hash = udp ? 0x811c9dc5 : 0x01000193;
  for (let i = 2; i < query.length; i++) hash = Math.imul(hash ^ query[i], 0x01000193);
  return hash & 0x3fffffff; // a small integer: no heap number per map key
}

function writeU32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 24;
  bytes[at + 1] = (value >>> 16) & 0xff;
  bytes[at + 2] = (value >>> 8) & 0xff;
  bytes[at + 3] = value & 0xff;
}
