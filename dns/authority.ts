/**
 * The authoritative-server logic of `dns/server.ts`, pure (no sockets): zones plus a query in,
 * a response out. Tests drive it directly; the server is a thin UDP/TCP shell around `respond`.
 *
 * Theory of operation (RFC 1034 4.3.2, simplified for an authoritative-only server)
 * 1. Pick the loaded zone with the longest apex that encloses the question name; none →
 *    REFUSED (we are not a resolver and answer for nobody else).
 * 2. Walk from the apex down towards the name: the first delegation (NS below the apex) makes
 *    the answer a referral — NS in AUTHORITY, glue A/AAAA in ADDITIONAL, AA clear.
 * 3. The name exists: the asked RRset (AA set), or its CNAME followed inside the zone (at most
 *    `MAX_CNAME_CHAIN` links, loops stop), or NODATA (NOERROR, SOA in AUTHORITY). ANY is
 *    answered minimally with one RRset (RFC 8482).
 * 4. The name does not exist: an empty non-terminal (a name with data only below it) is NODATA;
 *    else a wildcard `*.<closest encloser>` synthesises the answer (RFC 4592); else NXDOMAIN
 *    with the SOA.
 * 5. A/AAAA for NS, MX and SRV targets we hold go into ADDITIONAL.
 * Owner names echo the question's spelling (case); everything else keeps the zone's.
 *
 * `respond` wraps this in the wire rules: no answer to responses or header-less junk, FORMERR
 * for undecodable queries, NOTIMP for opcodes other than QUERY, EDNS (OPT echoed, BADVERS for
 * version > 0), and truncation (TC) at 512 bytes or the EDNS size over UDP. `ResponseCache`
 * keeps encoded responses by query bytes (minus the id), so a repeated question costs one hash
 * and one copy.
 */
import {
  CLASS,
  decodeHeader,
  decodeMessage,
  DnsFormatError,
  encodeMessage,
  type Flags,
  getEdns,
  makeOpt,
  MAX_MESSAGE_SIZE,
  MAX_UDP_SIZE,
  type Message,
  nameKey,
  OPCODE,
  type Question,
  RCODE,
  type ResourceRecord,
  TYPE,
} from "./message.ts";
import type { Zone } from "./zone.ts";
import { addSignatures, SignedZone } from "./signed_answer.ts";

/** Longest CNAME chain followed inside our zones. */
export const MAX_CNAME_CHAIN = 8;
/** The UDP payload size this server offers and accepts at most (DNS flag day 2020). */
export const SERVER_UDP_SIZE = 1232;
/** The extended rcode for an EDNS version we do not speak (RFC 6891). */
export const RCODE_BADVERS = 16;

/** What the lookup decided, before the wire rules. */
export interface Answer {
  rcode: number;
  aa: boolean;
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  additionals: ResourceRecord[];
}

type Node = Map<number, ResourceRecord[]>;

interface ZoneData {
  apex: string; // lowercase key
  soa: ResourceRecord;
  nodes: Map<string, Node>;
  /** Every name with data, and every name between such a name and the apex (ENTs). */
  existing: Set<string>;
  /** Delegation points (names below the apex with NS). */
  cuts: Set<string>;
  /** The zone's signatures and NSEC/NSEC3 chain, when it is signed (DO=1 answers). */
  signed?: SignedZone;
}

/** The parent of a lowercase name key (`a.b.` → `b.`; `a.` → `.`), honouring `\.`. */
function parentKey(key: string): string {
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c === 92) i++;
    else if (c === 46) return i + 1 === key.length ? "." : key.slice(i + 1);
  }
  return ".";
}

function withName(rr: ResourceRecord, name: string): ResourceRecord {
  return rr.name === name
    ? rr
    : { name, type: rr.type, class: rr.class, ttl: rr.ttl, data: rr.data };
}

/** The zones one server answers for, indexed for lookups. */
export class Authority {
  readonly #zones = new Map<string, ZoneData>();

  /** Indexes `zones`; throws RangeError when two zones have the same apex. */
  constructor(zones: Zone[]) {
    for (const zone of zones) {
      const apex = nameKey(zone.origin);
      if (this.#zones.has(apex)) throw new RangeError(`Zone "${zone.origin}" is loaded twice`);
      const data: ZoneData = {
        apex,
        soa: zone.records.find((rr) => rr.type === TYPE.SOA)!,
        nodes: new Map(),
        existing: new Set([apex]),
        cuts: new Set(),
        signed: SignedZone.from(zone.origin, zone.records),
      };
      if (!data.soa) throw new RangeError(`Zone "${zone.origin}" has no SOA record`);
      for (const rr of zone.records) {
        const key = nameKey(rr.name);
        let node = data.nodes.get(key);
        if (!node) data.nodes.set(key, node = new Map());
        const rrset = node.get(rr.type);
        if (rrset) rrset.push(rr);
        else node.set(rr.type, [rr]);
        if (rr.type === TYPE.NS && key !== apex) data.cuts.add(key);
        for (let k = key; k !== apex && k !== "."; k = parentKey(k)) data.existing.add(k);
      }
      this.#zones.set(apex, data);
    }
  }

  /** The apexes served, as loaded. */
  get origins(): string[] {
    return [...this.#zones.values()].map((z) => z.soa.name);
  }

  #zoneFor(key: string): ZoneData | undefined {
    for (let k = key;; k = parentKey(k)) {
      const zone = this.#zones.get(k);
      if (zone) return zone;
      if (k === ".") return undefined;
    }
  }

  /**
   * Answers one question (class IN assumed) from the zone data; REFUSED outside our zones. With
   * `dnssec` (the query's DO bit) a signed zone adds its RRSIGs and denial proofs.
   */
  answer(question: Question, { dnssec = false }: { dnssec?: boolean } = {}): Answer {
    const result: Answer = {
      rcode: RCODE.NOERROR,
      aa: true,
      answers: [],
      authorities: [],
      additionals: [],
    };
    const key = nameKey(question.name);
    const zone = this.#zoneFor(key);
    if (!zone) {
      result.rcode = RCODE.REFUSED;
      result.aa = false;
      return result;
    }
    this.#resolve(zone, question.name, key, question.type, result, new Set());
    this.#addAdditional(result);
    if (dnssec && zone.signed) addSignatures(zone.signed, question.name, question.type, result);
    return result;
  }

  #negative(zone: ZoneData, result: Answer, rcode: number): void {
    const soa = zone.soa;
    const minimum = soa.data.kind === "SOA" ? soa.data.minimum : soa.ttl;
    result.rcode = rcode;
    result.authorities.push({ ...soa, ttl: Math.min(soa.ttl, minimum) });
  }

  #resolve(
    zone: ZoneData,
    owner: string,
    key: string,
    qtype: number,
    result: Answer,
    visited: Set<string>,
  ): void {
    visited.add(key);
    // 2. A delegation on the way down: the topmost cut at or above the name wins.
    if (zone.cuts.size) {
      let cut: string | undefined;
      for (let k = key; k !== zone.apex && k !== "."; k = parentKey(k)) {
        // DS belongs to the parent side of a cut (RFC 4035 §3.1.4.1).
        if (zone.cuts.has(k) && !(k === key && qtype === TYPE.DS)) cut = k;
      }
      if (cut !== undefined) {
        if (result.answers.length === 0) result.aa = false;
        const ns = zone.nodes.get(cut)!.get(TYPE.NS)!;
        result.authorities.push(...ns);
        for (const rr of ns) {
          if (rr.data.kind === "NS") this.#addAddresses(zone, rr.data.target, result, true);
        }
        return;
      }
    }
    let node = zone.nodes.get(key);
    if (!node) {
      if (zone.existing.has(key)) {
        this.#negative(zone, result, RCODE.NOERROR); // 4. empty non-terminal: NODATA
        return;
      }
      let encloser = parentKey(key);
      while (!zone.existing.has(encloser)) encloser = parentKey(encloser);
      node = zone.nodes.get(encloser === "." ? "*." : `*.${encloser}`);
      if (!node) {
        this.#negative(zone, result, RCODE.NXDOMAIN);
        return;
      }
    }
    // 3. The name (or its wildcard) exists.
    if (qtype === TYPE.ANY) {
      const first = node.values().next().value!;
      for (const rr of first) result.answers.push(withName(rr, owner));
      return;
    }
    const rrset = node.get(qtype);
    if (rrset) {
      for (const rr of rrset) result.answers.push(withName(rr, owner));
      return;
    }
    const cname = node.get(TYPE.CNAME);
    if (cname && cname[0].data.kind === "CNAME") {
      result.answers.push(withName(cname[0], owner));
      const target = cname[0].data.target;
      const targetKey = nameKey(target);
      const inZone = this.#zoneFor(targetKey) === zone;
      if (inZone && !visited.has(targetKey) && visited.size < MAX_CNAME_CHAIN) {
        this.#resolve(zone, target, targetKey, qtype, result, visited);
      }
      return;
    }
    this.#negative(zone, result, RCODE.NOERROR);
  }

  /** A/AAAA of `target` if we hold it (glue included when `glue`), once. */
  #addAddresses(zone: ZoneData | undefined, target: string, result: Answer, glue: boolean): void {
    const key = nameKey(target);
    zone ??= this.#zoneFor(key);
    if (!zone) return;
    if (!glue) {
      for (let k = key; k !== zone.apex && k !== "."; k = parentKey(k)) {
        if (zone.cuts.has(k)) return; // below a cut: not ours to answer with
      }
    }
    const node = zone.nodes.get(key);
    if (!node) return;
    for (const type of [TYPE.A, TYPE.AAAA]) {
      const rrset = node.get(type);
      if (!rrset) continue;
      const present = [...result.answers, ...result.additionals].some((rr) =>
        rr.type === type && nameKey(rr.name) === key
      );
      if (!present) result.additionals.push(...rrset);
    }
  }

  #addAdditional(result: Answer): void {
    for (const rr of result.answers) {
      const d = rr.data;
      const target = d.kind === "NS" || d.kind === "SRV"
        ? d.target
        : d.kind === "MX"
        ? d.exchange
        : undefined;
      if (target !== undefined) this.#addAddresses(undefined, target, result, false);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The wire rules.

/** A response to send, with what the server logs about it. */
export interface Response {
  bytes: Uint8Array;
  /** The question name and type for the log (`-` when the query had none). */
  name: string;
  type: number;
  rcode: number;
  /** Set when an internal error turned the answer into SERVFAIL. */
  error?: string;
}

function responseFlags(query: Flags, rcode: number, aa = false): Flags {
  return {
    qr: true,
    opcode: query.opcode,
    aa,
    tc: false,
    rd: query.rd,
    ra: false,
    ad: false,
    cd: query.cd,
    rcode: rcode & 0x0f,
  };
}

/** A header-only error response (FORMERR for undecodable queries). */
function headerOnly(query: Uint8Array, rcode: number): Uint8Array {
  const out = new Uint8Array(12);
  out[0] = query[0];
  out[1] = query[1];
  out[2] = 0x80 | (query[2] & 0x79); // QR, the opcode and RD echoed
  out[3] = (query[3] & 0x10) | rcode; // CD echoed
  return out;
}

const META_NOTIMP = new Set([253, 254]); // MAILB, MAILA
const ZONE_TRANSFER = new Set([251, 252]); // IXFR, AXFR

/**
 * The response to one query datagram or TCP frame, or null when nothing must be sent (fewer
 * than 12 bytes, or a response rather than a query). Never throws on any input.
 */
export function respond(
  authority: Authority,
  query: Uint8Array,
  options: { udp: boolean },
): Response | null {
  try {
    return respondOrThrow(authority, query, options);
  } catch (error) {
    // A bug must cost one query, not the server: answer SERVFAIL and say why.
    return {
      bytes: headerOnly(query, RCODE.SERVFAIL),
      name: "-",
      type: 0,
      rcode: RCODE.SERVFAIL,
      error: error instanceof Error ? error.message : String(error),
    };
  }
}

function respondOrThrow(
  authority: Authority,
  query: Uint8Array,
  options: { udp: boolean },
): Response | null {
  const header = decodeHeader(query);
  if (!header || header.flags.qr) return null;
  let msg: Message;
  try {
    msg = decodeMessage(query);
  } catch (error) {
    if (!(error instanceof DnsFormatError)) throw error;
    return { bytes: headerOnly(query, RCODE.FORMERR), name: "-", type: 0, rcode: RCODE.FORMERR };
  }
  const q = msg.questions[0] as Question | undefined;
  const reply = (rcode: number, answer?: Answer, withQuestion = true): Response => {
    const edns = ednsOf(msg);
    const out: Message = {
      id: msg.id,
      flags: responseFlags(msg.flags, rcode, answer?.aa ?? false),
      questions: withQuestion && q ? [q] : [],
      answers: answer?.answers ?? [],
      authorities: answer?.authorities ?? [],
      additionals: answer?.additionals.slice() ?? [],
    };
    if (edns.present) {
      out.additionals.push(
        makeOpt({ udpSize: SERVER_UDP_SIZE, dnssecOk: edns.dnssecOk, extendedRcode: rcode >> 4 }),
      );
    }
    const maxSize = options.udp
      ? Math.max(MAX_UDP_SIZE, Math.min(edns.udpSize, SERVER_UDP_SIZE))
      : MAX_MESSAGE_SIZE;
    return {
      bytes: encodeMessage(out, { maxSize }),
      name: q?.name ?? "-",
      type: q?.type ?? 0,
      rcode,
    };
  };

  if (msg.flags.opcode !== OPCODE.QUERY) return reply(RCODE.NOTIMP);
  const opts = msg.additionals.filter((rr) => rr.type === TYPE.OPT);
  const badOpt = opts.length > 1 || opts.some((rr) => rr.name !== ".") ||
    msg.answers.some((rr) => rr.type === TYPE.OPT) ||
    msg.authorities.some((rr) => rr.type === TYPE.OPT);
  if (msg.questions.length !== 1 || badOpt) {
    if (badOpt) msg.additionals = []; // do not echo an OPT we could not parse
    return reply(RCODE.FORMERR);
  }
  if ((getEdns(msg)?.version ?? 0) > 0) return reply(RCODE_BADVERS, undefined, false);
  if (q!.class !== CLASS.IN && q!.class !== CLASS.ANY) return reply(RCODE.REFUSED);
  if (q!.type === TYPE.OPT) return reply(RCODE.FORMERR);
  if (META_NOTIMP.has(q!.type)) return reply(RCODE.NOTIMP);
  if (ZONE_TRANSFER.has(q!.type)) return reply(RCODE.REFUSED);
  const answer = authority.answer(q!, { dnssec: getEdns(msg)?.dnssecOk ?? false });
  return reply(answer.rcode, answer);
}

function ednsOf(msg: Message): { present: boolean; udpSize: number; dnssecOk: boolean } {
  const edns = getEdns(msg);
  return edns
    ? { present: true, udpSize: edns.udpSize, dnssecOk: edns.dnssecOk }
    : { present: false, udpSize: MAX_UDP_SIZE, dnssecOk: false };
}

// ---------------------------------------------------------------------------------------------
// The response cache: the hot path of the server.

interface CacheEntry {
  key: Uint8Array; // the query without its id
  udp: boolean;
  response: Response;
}

/** Default number of distinct queries remembered. */
export const RESPONSE_CACHE_SIZE = 10_000;

/**
 * Remembers encoded responses by the exact query bytes after the id (the response depends on
 * nothing else), so a repeated query is answered with one hash and one compare; only the id
 * differs. Bounded: the oldest entry goes when it is full.
 *
 * The exact bytes (not a decoded, lowercased question) are the key on purpose: anything unusual
 * (other flags, EDNS options, another spelling) is simply a different key that goes through the
 * full, strict `respond` once, so the cache can never answer a query the full path would not.
 */
export class ResponseCache {
  readonly #entries = new Map<number, CacheEntry>();
  constructor(readonly authority: Authority, readonly maxEntries = RESPONSE_CACHE_SIZE) {}

  /**
   * Like `respond`, but `bytes` of the result may be the cache's own array, which carries the
   * id of the query that filled it: the caller writes `query[0..1]` into its copy (see
   * `writeReply`). This is the server's hot path: no allocation on a hit.
   */
  lookup(query: Uint8Array, udp: boolean): Response | null {
    if (query.length < 12) return null;
    let hash = udp ? 0x811c9dc5 : 0x01000193;
    for (let i = 2; i < query.length; i++) {
      hash = Math.imul(hash ^ query[i], 0x01000193);
    }
    const hit = this.#entries.get(hash);
    if (hit && hit.udp === udp && hit.key.length === query.length - 2) {
      const key = hit.key;
      let i = 0;
      while (i < key.length && key[i] === query[i + 2]) i++;
      if (i === key.length) return hit.response;
    }
    const response = respond(this.authority, query, { udp });
    if (response) {
      if (this.#entries.size >= this.maxEntries && !this.#entries.has(hash)) {
        this.#entries.delete(this.#entries.keys().next().value!);
      }
      this.#entries.set(hash, { key: query.slice(2), udp, response });
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

  /** How many responses are remembered. */
  get size(): number {
    return this.#entries.size;
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
