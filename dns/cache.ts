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
import { RCODE, type ResourceRecord, TYPE } from "./message.ts";

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

interface Entry {
  /** An RRset, or NODATA (no records of this type) / NXDOMAIN (no such name). */
  kind: "rrset" | "nodata" | "nxdomain";
  rrset: RRset;
  /** For negative entries: the name and type asked. */
  name: string;
  type: number;
  trust: number;
  zone: string;
  expiresAt: number;
}

/** The cache key of a name and type: names from the codec are canonical up to ASCII case. */
function keyOf(name: string, type: number): string {
  return `${name.toLowerCase()}/${type}`;
}

function nxKey(name: string): string {
  return `${name.toLowerCase()}/*`;
}

/** The records with what is left of their TTL. */
function withTtl(records: ResourceRecord[], ttl: number): ResourceRecord[] {
  return records.map((rr) => rr.ttl === ttl ? rr : { ...rr, ttl });
}

/** RRsets and negative answers by TTL, bounded, trust-ranked (see the module comment). */
export class RecordCache {
  readonly #entries = new Map<string, Entry>();
  readonly #max: number;
  readonly #maxTtl: number;
  readonly #maxNegativeTtl: number;
  readonly #now: () => number;

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
    return this.#entries.size;
  }

  /** Forgets everything. */
  clear(): void {
    this.#entries.clear();
  }

  /**
   * Keeps `rrset` for its TTL (capped at `maxTtl`), unless a more trusted copy is still fresh.
   * A TTL of 0 means "use once, never cache". Returns whether it was stored.
   */
  store(rrset: RRset, { trust, zone }: { trust: number; zone: string }): boolean {
    const ttl = Math.min(rrset.ttl, this.#maxTtl);
    if (!(ttl > 0) || rrset.records.length === 0) return false;
    const key = keyOf(rrset.name, rrset.type);
    if (!this.#replaceable(key, trust)) return false;
    const kept: RRset = { ...rrset, ttl };
    this.#set(key, {
      kind: "rrset",
      rrset: kept,
      name: rrset.name,
      type: rrset.type,
      trust,
      zone,
      expiresAt: this.#now() + ttl * 1000,
    });
    // The name exists after all: an older "no such name" is wrong now.
    this.#entries.delete(nxKey(rrset.name));
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
    const key = nx ? nxKey(answer.name) : keyOf(answer.name, answer.type);
    if (!this.#replaceable(key, answer.trust)) return false;
    this.#set(key, {
      kind: nx ? "nxdomain" : "nodata",
      rrset: { ...answer.soa, ttl },
      name: answer.name,
      type: answer.type,
      trust: answer.trust,
      zone: answer.zone,
      expiresAt: this.#now() + ttl * 1000,
    });
    return true;
  }

  /** The fresh RRset for `name`/`type` trusted at least `minTrust`, TTLs counted down. */
  get(name: string, type: number, { minTrust = 0 } = {}): CachedRRset | undefined {
    const entry = this.#fresh(keyOf(name, type));
    if (!entry || entry.kind !== "rrset" || entry.trust < minTrust) return undefined;
    const ttl = this.#remaining(entry);
    const { rrset } = entry;
    return {
      ...rrset,
      ttl,
      records: withTtl(rrset.records, ttl),
      signatures: withTtl(rrset.signatures, ttl),
      trust: entry.trust,
      zone: entry.zone,
    };
  }

  /** A fresh negative answer covering `name`/`type`: NXDOMAIN for the name, or NODATA. */
  getNegative(name: string, type: number): CachedNegative | undefined {
    const entry = this.#fresh(nxKey(name)) ?? this.#fresh(keyOf(name, type));
    if (!entry || entry.kind === "rrset") return undefined;
    const ttl = this.#remaining(entry);
    return {
      rcode: entry.kind === "nxdomain" ? RCODE.NXDOMAIN : RCODE.NOERROR,
      name: entry.name,
      type: entry.type,
      soa: { ...entry.rrset, ttl, records: withTtl(entry.rrset.records, ttl) },
      zone: entry.zone,
      ttl,
    };
  }

  /** Seconds left, as a client sees it: 600 right after caching, 590 ten seconds later. */
  #remaining(entry: Entry): number {
    return Math.max(0, Math.ceil((entry.expiresAt - this.#now()) / 1000));
  }

  #fresh(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    // Most recently used goes to the end; eviction takes from the front.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry;
  }

  #replaceable(key: string, trust: number): boolean {
    const old = this.#entries.get(key);
    return !old || old.expiresAt <= this.#now() || trust >= old.trust;
  }

  #set(key: string, entry: Entry): void {
    this.#entries.delete(key);
    while (this.#entries.size >= this.#max) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    this.#entries.set(key, entry);
  }
}

// ---------------------------------------------------------------------------------------------
// Encoded answers.

interface AnswerEntry {
  /** The query after its ID, then the reply: one allocation per entry. */
  bytes: Uint8Array;
  keyLength: number;
  udp: boolean;
  /** Where each TTL field of the reply is, and its value when stored. */
  ttlOffsets: number[];
  ttls: number[];
  storedAt: number;
  expiresAt: number;
  /** Another entry whose key hashes the same. */
  next: AnswerEntry | undefined;
}

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
export function ttlOffsets(message: Uint8Array): number[] | undefined {
  const end = message.length;
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

function readU32(bytes: Uint8Array, at: number): number {
  return bytes[at] * 0x1000000 + ((bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]);
}

function writeU32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 24;
  bytes[at + 1] = (value >>> 16) & 0xff;
  bytes[at + 2] = (value >>> 8) & 0xff;
  bytes[at + 3] = value & 0xff;
}

/**
 * Encoded replies by the exact query bytes after the ID (so another spelling, other flags or
 * other EDNS options are simply another key), separately for UDP (maybe truncated) and TCP.
 * Each TTL in a reply counts down from when it was stored; the entry expires when the
 * shortest one reaches 0.
 */
export class AnswerCache {
  readonly #buckets = new Map<number, AnswerEntry>();
  readonly #max: number;
  readonly #now: () => number;
  #size = 0;

  constructor(options: CacheOptions = {}) {
    this.#max = Math.max(1, options.maxEntries ?? DEFAULT_CACHE_SIZE);
    this.#now = options.now ?? Date.now;
  }

  /** How many replies are held. */
  get size(): number {
    return this.#size;
  }

  /** Forgets everything. */
  clear(): void {
    this.#buckets.clear();
    this.#size = 0;
  }

  /**
   * Writes the cached reply to `query` into `out` with the query's ID and the TTLs left, and
   * returns its length; -1 when there is none (or it expired). `out` must hold 65535 bytes.
   * The server's hot path: no allocation on a hit.
   */
  lookup(query: Uint8Array, udp: boolean, out: Uint8Array): number {
    if (query.length < 12) return -1;
    const hash = hashQuery(query, udp);
    let entry = this.#buckets.get(hash);
    while (entry && !sameKey(entry, query, udp)) entry = entry.next;
    if (!entry) return -1;
    const now = this.#now();
    if (now >= entry.expiresAt) {
      this.#remove(hash, entry);
      return -1;
    }
    const id0 = query[0];
    const id1 = query[1];
    const reply = entry.bytes.subarray(entry.keyLength);
    out.set(reply);
    out[0] = id0;
    out[1] = id1;
    const elapsed = Math.floor((now - entry.storedAt) / 1000);
    if (elapsed > 0) {
      const { ttlOffsets, ttls } = entry;
      for (let i = 0; i < ttlOffsets.length; i++) writeU32(out, ttlOffsets[i], ttls[i] - elapsed);
    }
    return reply.length;
  }

  /**
   * Remembers `reply` as the answer to `query` for as long as its shortest TTL (at most
   * `maxTtl` seconds); a reply without records is kept for `maxTtl` (e.g. a brief SERVFAIL).
   * Nothing is kept when a TTL is 0 or the reply is not a well-formed message.
   */
  store(query: Uint8Array, udp: boolean, reply: Uint8Array, { maxTtl = DEFAULT_MAX_TTL } = {}) {
    if (query.length < 12) return;
    const offsets = ttlOffsets(reply);
    if (!offsets) return;
    const ttls = offsets.map((at) => readU32(reply, at));
    const shortest = Math.min(maxTtl, ...ttls);
    if (!(shortest > 0)) return;
    const keyLength = query.length - 2;
    const bytes = new Uint8Array(keyLength + reply.length);
    bytes.set(query.subarray(2));
    bytes.set(reply, keyLength);
    const now = this.#now();
    const entry: AnswerEntry = {
      bytes,
      keyLength,
      udp,
      ttlOffsets: offsets,
      ttls,
      storedAt: now,
      expiresAt: now + shortest * 1000,
      next: undefined,
    };
    const hash = hashQuery(query, udp);
    for (let old = this.#buckets.get(hash); old; old = old.next) {
      if (sameKey(old, query, udp)) {
        this.#remove(hash, old);
        break;
      }
    }
    // Full: the oldest bucket goes (buckets keep their insertion order).
    while (this.#size >= this.#max && this.#buckets.size > 0) {
      const [oldest, chain] = this.#buckets.entries().next().value!;
      this.#buckets.delete(oldest);
      for (let e: AnswerEntry | undefined = chain; e; e = e.next) this.#size--;
    }
    entry.next = this.#buckets.get(hash);
    this.#buckets.set(hash, entry);
    this.#size++;
  }

  #remove(hash: number, entry: AnswerEntry): void {
    let head = this.#buckets.get(hash);
    if (head === entry) head = entry.next;
    else {
      for (let e = head; e; e = e.next) {
        if (e.next === entry) {
          e.next = entry.next;
          break;
        }
      }
    }
    if (head) this.#buckets.set(hash, head);
    else this.#buckets.delete(hash);
    this.#size--;
  }
}

/** FNV-1a over the query after its ID, seeded differently for UDP and TCP. */
function hashQuery(query: Uint8Array, udp: boolean): number {
  let hash = udp ? 0x811c9dc5 : 0x01000193;
  for (let i = 2; i < query.length; i++) hash = Math.imul(hash ^ query[i], 0x01000193);
  return hash;
}

function sameKey(entry: AnswerEntry, query: Uint8Array, udp: boolean): boolean {
  if (entry.udp !== udp || entry.keyLength !== query.length - 2) return false;
  const bytes = entry.bytes;
  for (let i = 0; i < entry.keyLength; i++) if (bytes[i] !== query[i + 2]) return false;
  return true;
}
