/**
 * The DNS server's hot path: the encoded answers to questions asked before, kept by exactly
 * what decides them, so a repeated question costs one scan, one lookup and one copy.
 *
 * Theory of operation
 * - Only the plain shape that stubs and resolvers send is cacheable: QR clear, opcode QUERY,
 *   one question with an uncompressed name, no answer or authority records, and at most one
 *   additional record, an OPT owned by the root whose options are well formed. One strict scan
 *   (`#scan`) checks that shape and computes the key. Anything else — junk, compression
 *   pointers, TSIG, a second OPT — goes through the full `respond` every time and is never
 *   stored, so the cache holds nothing but answers to questions.
 * - The key is what the answer depends on and nothing else: the question as sent (the name's
 *   bytes with their case, which the answer echoes, the type and the class) plus a small
 *   number, the variant, that packs the transport, RD, CD, whether EDNS was present, its DO
 *   bit, whether its version is above 0 (BADVERS), and the UDP size the answer must fit
 *   (512–1232, 0 over TCP). Queries with the same key get the same answer but for the id; EDNS
 *   options and the AA, TC, RA, AD and Z bits of a query do not change it.
 * - A key is at most 259 bytes. The cache is bounded in entries and in bytes (keys, answers and
 *   a fixed charge per entry), and drops its oldest entries first. An answer that an internal
 *   error turned into SERVFAIL is never stored.
 * - A hit allocates nothing: the caller copies the stored answer into its own buffer with the
 *   query's id (`writeReply`).
 */
import type { Authority } from "./authority.ts";
import { respond, type Response } from "./respond.ts";
import { EDNS_UDP_SIZE } from "../wire/edns.ts";
import { MAX_LABEL_LENGTH, MAX_NAME_LENGTH, MAX_UDP_SIZE, TYPE } from "../wire/constants.ts";

/** Default number of distinct questions remembered. */
export const RESPONSE_CACHE_ENTRIES = 10_000;
/** Default bound on the bytes the cache holds (keys, answers and `ENTRY_OVERHEAD` each). */
export const RESPONSE_CACHE_BYTES = 8 * 1024 * 1024;
/** What each entry is charged on top of its key and answer (its objects and map slot). */
export const ENTRY_OVERHEAD = 128;

/** Options for `ResponseCache`. */
export interface ResponseCacheOptions {
  /** Most entries (default `RESPONSE_CACHE_ENTRIES`). */
  maxEntries?: number;
  /** Most bytes held (default `RESPONSE_CACHE_BYTES`). */
  maxBytes?: number;
}

interface CacheEntry {
  /** The question as sent: name, type and class. */
  question: Uint8Array;
  variant: number;
  response: Response;
  cost: number;
}

// Bits of the variant.
const VARIANT_UDP = 1;
const VARIANT_RD = 2;
const VARIANT_CD = 4;
const VARIANT_EDNS = 8;
const VARIANT_DO = 16;
const VARIANT_BADVERS = 32;
const VARIANT_SIZE_SHIFT = 6;

/** Encoded answers to well-formed questions, bounded in entries and bytes. */
export class ResponseCache {
  readonly #entries = new Map<number, CacheEntry>();
  readonly maxEntries: number;
  readonly maxBytes: number;
  #bytes = 0;
  // What the last `#scan` found (fields, not a returned object: no allocation per query).
  #questionEnd = 0;
  #variant = 0;
  #hash = 0;

  constructor(readonly authority: Authority, options: ResponseCacheOptions = {}) {
    this.maxEntries = Math.max(1, options.maxEntries ?? RESPONSE_CACHE_ENTRIES);
    this.maxBytes = Math.max(0, options.maxBytes ?? RESPONSE_CACHE_BYTES);
  }

  /**
   * Like `respond`, but `bytes` of the result may be the cache's own array, which carries the
   * id of the query that filled it: the caller writes `query[0..1]` into its copy (see
   * `writeReply`). This is the server's hot path: no allocation on a hit.
   */
  lookup(query: Uint8Array, udp: boolean): Response | null {
    if (!this.#scan(query, udp)) return respond(this.authority, query, { udp });
    const hash = this.#hash;
    const variant = this.#variant;
    const questionEnd = this.#questionEnd;
    const hit = this.#entries.get(hash);
    if (hit && hit.variant === variant && hit.question.length === questionEnd - 12) {
      const question = hit.question;
      let i = 0;
      while (i < question.length && question[i] === query[i + 12]) i++;
      if (i === question.length) return hit.response;
    }
    const response = respond(this.authority, query, { udp });
    if (response && response.error === undefined) {
      this.#store(hash, query.slice(12, questionEnd), variant, response);
    }
    return response;
  }

  /** Like `respond`, through the cache; the bytes are a fresh array with the query's id. */
  respond(query: Uint8Array, udp: boolean): Response | null {
    const response = this.lookup(query, udp);
    if (!response) return null;
    const bytes = new Uint8Array(response.bytes.length);
    writeReply(bytes, response.bytes, query);
    return { ...response, bytes };
  }

  /** How many answers are remembered. */
  get size(): number {
    return this.#entries.size;
  }

  /** The bytes charged for what is remembered (at most `maxBytes`). */
  get bytes(): number {
    return this.#bytes;
  }

  #store(hash: number, question: Uint8Array, variant: number, response: Response): void {
    const cost = question.length + response.bytes.length + ENTRY_OVERHEAD;
    if (cost > this.maxBytes) return;
    const replaced = this.#entries.get(hash); // another key with the same hash
    if (replaced) {
      this.#entries.delete(hash);
      this.#bytes -= replaced.cost;
    }
    while (this.#entries.size >= this.maxEntries || this.#bytes + cost > this.maxBytes) {
      const [oldestHash, oldest] = this.#entries.entries().next().value!;
      this.#entries.delete(oldestHash);
      this.#bytes -= oldest.cost;
    }
    this.#entries.set(hash, { question, variant, response, cost });
    this.#bytes += cost;
  }

  /**
   * True when `query` has the cacheable shape (see the module comment); then `#questionEnd`,
   * `#variant` and `#hash` (FNV-1a over the question and the variant) describe its key.
   */
  #scan(query: Uint8Array, udp: boolean): boolean {
    const length = query.length;
    // Header: QR clear, opcode QUERY; counts 1, 0, 0 and 0 or 1.
    if (length < 17 || (query[2] & 0xf8) !== 0) return false;
    if (query[4] !== 0 || query[5] !== 1 || query[10] !== 0 || query[11] > 1) return false;
    if ((query[6] | query[7] | query[8] | query[9]) !== 0) return false;
    // The name: labels of 1-63 bytes, no pointers, at most 255 bytes with the root label.
    let hash = 0x811c9dc5;
    let pos = 12;
    while (true) {
      if (pos >= length) return false;
      const len = query[pos];
      if (len === 0) break;
      if (len > MAX_LABEL_LENGTH || pos + 1 + len > length) return false;
      const end = pos + 1 + len;
      for (; pos < end; pos++) hash = Math.imul(hash ^ query[pos], 0x01000193);
      if (pos - 12 >= MAX_NAME_LENGTH) return false;
    }
    const questionEnd = pos + 5; // the root label, type and class
    if (questionEnd > length) return false;
    for (; pos < questionEnd; pos++) hash = Math.imul(hash ^ query[pos], 0x01000193);
    let variant = (udp ? VARIANT_UDP : 0) | (query[2] & 0x01 ? VARIANT_RD : 0) |
      (query[3] & 0x10 ? VARIANT_CD : 0);
    if (query[11] === 0) {
      if (questionEnd !== length) return false;
    } else {
      // The OPT: root name, type 41, class = UDP size, TTL = extended rcode, version, flags.
      const o = questionEnd;
      if (o + 11 > length || query[o] !== 0 || ((query[o + 1] << 8) | query[o + 2]) !== TYPE.OPT) {
        return false;
      }
      const rdEnd = o + 11 + ((query[o + 9] << 8) | query[o + 10]);
      if (rdEnd !== length) return false;
      for (let at = o + 11; at < rdEnd;) { // options: code, length, data
        if (at + 4 > rdEnd) return false;
        at += 4 + ((query[at + 2] << 8) | query[at + 3]);
        if (at > rdEnd) return false;
      }
      const udpSize = (query[o + 3] << 8) | query[o + 4];
      const size = udp ? Math.max(MAX_UDP_SIZE, Math.min(udpSize, EDNS_UDP_SIZE)) : 0;
      variant |= VARIANT_EDNS | (query[o + 7] & 0x80 ? VARIANT_DO : 0) |
        (query[o + 6] > 0 ? VARIANT_BADVERS : 0) | (size << VARIANT_SIZE_SHIFT);
    }
    this.#questionEnd = questionEnd;
    this.#variant = variant;
    this.#hash = Math.imul(hash ^ variant, 0x01000193);
    return true;
  }
}

/**
 * Copies a cached `reply` into `out` with the id of `query` and returns its length; `out` must
 * hold at least `reply.length` bytes.
 */
export function writeReply(out: Uint8Array, reply: Uint8Array, query: Uint8Array): number {
  // Read the ID first: `out` may be the query's own buffer (the batched UDP loop).
  const id0 = query[0];
  const id1 = query[1];
  out.set(reply);
  out[0] = id0;
  out[1] = id1;
  return reply.length;
}
