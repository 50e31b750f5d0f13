/**
 * The local DNS server's hot path: whole encoded replies kept by the exact query bytes after the
 * ID (the trick of the authoritative server's `ResponseCache` in dns/authority/authority.ts). A repeated
 * question costs one hash, one compare and one copy, with the ID and every TTL patched in place;
 * the TTLs count down from when the reply was stored. Pure: the clock is injected.
 */
import { TYPE } from "../wire/constants.ts";
import { RingStore } from "./_ring.ts";
import {
  BYTES_PER_ENTRY,
  type CacheOptions,
  DEFAULT_CACHE_SIZE,
  DEFAULT_MAX_TTL,
} from "./cache.ts";

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

/** An answer-cache entry after the ring's header: where each field is. */
const A_EXPIRES = 8; // f64
const A_KEY_LENGTH = 16; // u16
const A_KEY = 18; // the key (transport, flags and counts, what follows the question); the reply

/**
 * Encoded replies by the exact query bytes after the ID (so another spelling, other flags or
 * other EDNS options are simply another key), separately for UDP (maybe truncated) and TCP.
 * Each TTL in a reply counts down from when it was stored; the entry expires when the
 * shortest one reaches 0. An entry's key is the query's flags and counts and what follows its
 * question — the question itself is not repeated: the reply echoes it.
 */
export class AnswerCache {
  readonly #store: RingStore;
  readonly #hashMask: number;
  readonly #maxTtl: number;
  readonly #now: () => number;

  /**
   * `hashBits` narrows the hash (default 30 bits); tests use a few bits to make different
   * queries collide, which must still never get each other's reply.
   */
  constructor(options: CacheOptions & { hashBits?: number } = {}) {
    const max = Math.max(1, options.maxEntries ?? DEFAULT_CACHE_SIZE);
    this.#store = new RingStore(max, Math.max(256 * 1024, max * BYTES_PER_ENTRY));
    this.#maxTtl = options.maxTtl ?? DEFAULT_MAX_TTL;
    this.#now = options.now ?? Date.now;
    this.#hashMask = (1 << Math.min(30, Math.max(1, options.hashBits ?? 30))) - 1;
  }

  /** How many replies are held. */
  get size(): number {
    return this.#store.size;
  }

  /** The bytes the held entries take (at most `maxEntries` × 256 in all). */
  get bytesHeld(): number {
    return this.#store.liveBytes;
  }

  /** Forgets everything. */
  clear(): void {
    this.#store.clear();
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
    const view = this.#store.view;
    const expiresAt = view.getFloat64(at + A_EXPIRES);
    if (now >= expiresAt) return -1;
    const keyLength = view.getUint16(at + A_KEY_LENGTH);
    const start = at + A_KEY + keyLength;
    const length = at + this.#store.lengthAt(at) - start;
    const id0 = query[0];
    const id1 = query[1];
    out.set(this.#store.bytes.subarray(start, start + length));
    out[0] = id0;
    out[1] = id1;
    // The reply holds the TTLs as stored; the shortest one says when that was.
    const offsets = ttlOffsets(out, length) ?? [];
    if (offsets.length === 0) return length;
    let shortest = Infinity;
    for (const offset of offsets) shortest = Math.min(shortest, readU32(out, offset));
    const elapsed = Math.floor((now - (expiresAt - shortest * 1000)) / 1000);
    if (elapsed > 0) { for (const o of offsets) writeU32(out, o, readU32(out, o) - elapsed); }
    return length;
  }

  /**
   * Remembers `reply` as the answer to `query` for as long as its shortest TTL (TTLs are cut to
   * `maxTtl`), or — a reply without records, such as a Bogus answer's SERVFAIL — for `ttl`
   * seconds. Nothing is kept when a TTL is 0, or the reply is not a well-formed message that
   * echoes the query's question, or it is too big to keep.
   */
  store(query: Uint8Array, udp: boolean, reply: Uint8Array, { ttl }: { ttl?: number } = {}): void {
    const questionEnd = endOfQuestion(query);
    if (questionEnd < 0 || reply.length < questionEnd) return;
    for (let i = 12; i < questionEnd; i++) if (reply[i] !== query[i]) return;
    const offsets = ttlOffsets(reply);
    if (!offsets || (offsets.length === 0 && ttl === undefined)) return;
    let shortest = offsets.length === 0 ? Math.min(ttl!, this.#maxTtl) : Infinity;
    for (const offset of offsets) {
      shortest = Math.min(shortest, Math.min(readU32(reply, offset), this.#maxTtl));
    }
    if (!(shortest > 0)) return;
    const keyLength = 11 + query.length - questionEnd;
    const hash = hashQuery(query, udp) & this.#hashMask;
    const old = this.#find(query, questionEnd, hash, udp);
    if (old >= 0) this.#store.remove(old);
    let at: number;
    try {
      at = this.#store.allocate(A_KEY + keyLength + reply.length, hash);
    } catch (error) {
      if (error instanceof RangeError) return; // too big to keep
      throw error;
    }
    const bytes = this.#store.bytes;
    const view = this.#store.view;
    view.setFloat64(at + A_EXPIRES, this.#now() + shortest * 1000);
    view.setUint16(at + A_KEY_LENGTH, keyLength);
    bytes[at + A_KEY] = udp ? 1 : 0;
    bytes.set(query.subarray(2, 12), at + A_KEY + 1);
    bytes.set(query.subarray(questionEnd), at + A_KEY + 11);
    const start = at + A_KEY + keyLength;
    bytes.set(reply, start);
    for (const offset of offsets) {
      writeU32(bytes, start + offset, Math.min(readU32(bytes, start + offset), this.#maxTtl));
    }
    this.#store.index(at);
  }

  /** The offset of the entry for exactly this query (and transport), or -1. */
  #find(query: Uint8Array, questionEnd: number, hash: number, udp: boolean): number {
    const store = this.#store;
    const keyLength = 11 + query.length - questionEnd;
    for (let i = hash & store.mask;; i = (i + 1) & store.mask) {
      const slot = store.table[i];
      if (slot === 0) return -1;
      const at = slot - 1;
      if (store.hashAt(at) !== hash) continue;
      if (store.view.getUint16(at + A_KEY_LENGTH) !== keyLength) continue;
      const bytes = store.bytes;
      const key = at + A_KEY;
      if (bytes[key] !== (udp ? 1 : 0)) continue;
      let same = true;
      for (let j = 2; same && j < 12; j++) same = bytes[key + j - 1] === query[j];
      for (let j = questionEnd; same && j < query.length; j++) {
        same = bytes[key + 11 + j - questionEnd] === query[j];
      }
      // The reply echoes the question right after its header.
      const reply = key + keyLength;
      for (let j = 12; same && j < questionEnd; j++) same = bytes[reply + j] === query[j];
      if (same) return at;
    }
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

function writeU32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 24;
  bytes[at + 1] = (value >>> 16) & 0xff;
  bytes[at + 2] = (value >>> 8) & 0xff;
  bytes[at + 3] = value & 0xff;
}

/** FNV-1a over the query after its ID, seeded differently for UDP and TCP, cut to 30 bits. */
function hashQuery(query: Uint8Array, udp: boolean): number {
  let hash = udp ? 0x811c9dc5 : 0x01000193;
  for (let i = 2; i < query.length; i++) hash = Math.imul(hash ^ query[i], 0x01000193);
  return hash & 0x3fffffff;
}
