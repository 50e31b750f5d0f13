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
 * `respond` wraps this in the wire rules: no answer to responses or header-less junk, a
 * header-only NOTIMP for opcodes other than QUERY, FORMERR for undecodable queries, NOTAUTH
 * (TSIG BADKEY) for signed ones, EDNS (OPT echoed, BADVERS for version > 0), and truncation (TC)
 * at 512 bytes or the EDNS size over UDP. Which header bits a reply copies is decided in one
 * place, `responseFlags`. `dns/response_cache.ts` keeps the encoded answers to well-formed
 * questions, so a repeated question costs one scan and one copy.
 */
import { CLASS, MAX_MESSAGE_SIZE, MAX_UDP_SIZE, OPCODE, RCODE, TYPE } from "../wire/constants.ts";
import {
  decodeHeader,
  decodeMessage,
  encodeFlags,
  encodeMessage,
  type Flags,
  type Message,
  type Question,
} from "../wire/message.ts";
import { DnsFormatError, readU16 } from "../wire/primitives.ts";
import { getEdns, makeOpt } from "../wire/edns.ts";
import { nameKey, parentName, readName } from "../wire/names.ts";
import { type ResourceRecord } from "../wire/rdata.ts";
import type { Zone } from "../zone/parse.ts";
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
        for (let k = key; k !== apex && k !== "."; k = parentName(k)) data.existing.add(k);
      }
      this.#zones.set(apex, data);
    }
  }

  /** The apexes served, as loaded. */
  get origins(): string[] {
    return [...this.#zones.values()].map((z) => z.soa.name);
  }

  #zoneFor(key: string): ZoneData | undefined {
    for (let k = key;; k = parentName(k)) {
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
      for (let k = key; k !== zone.apex && k !== "."; k = parentName(k)) {
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
      let encloser = parentName(key);
      while (!zone.existing.has(encloser)) encloser = parentName(encloser);
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
      for (let k = key; k !== zone.apex && k !== "."; k = parentName(k)) {
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

/**
 * The flags of every reply, answers and errors alike. QR is set and the opcode echoed; RD and CD
 * are copied only for QUERY, the opcode that defines them (RFC 1035 4.1.1, RFC 4035 3.2.2). A
 * reply to any other opcode says nothing but "not that": QR, the opcode and the rcode, every
 * other bit clear (BIND's behaviour, and what ISC's genreport `opcodeflg` test expects). AA is
 * the answer's; TC is set later by the encoder; RA, AD and Z are never set by this server.
 */
function responseFlags(query: Flags, rcode: number, aa = false): Flags {
  const isQuery = query.opcode === OPCODE.QUERY;
  return {
    qr: true,
    opcode: query.opcode,
    aa: isQuery && aa,
    tc: false,
    rd: isQuery && query.rd,
    ra: false,
    ad: false,
    cd: isQuery && query.cd,
    rcode: rcode & 0x0f,
  };
}

/**
 * A header-only error response: the query's id, `responseFlags`, all counts zero. For queries
 * that cannot be decoded (FORMERR), opcodes other than QUERY (NOTIMP) and internal errors
 * (SERVFAIL); `query` has at least the 12 header bytes.
 */
function headerOnly(query: Uint8Array, rcode: number): Uint8Array {
  const out = new Uint8Array(12);
  const flags = encodeFlags(responseFlags(decodeHeader(query)!.flags, rcode));
  out[0] = query[0];
  out[1] = query[1];
  out[2] = flags >> 8;
  out[3] = flags & 0xff;
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
      ...headerOnlyResponse(query, RCODE.SERVFAIL),
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
  // Only QUERY is implemented: anything else is refused before its body is even read.
  if (header.flags.opcode !== OPCODE.QUERY) return headerOnlyResponse(query, RCODE.NOTIMP);
  let msg: Message;
  try {
    msg = decodeMessage(query);
  } catch (error) {
    if (!(error instanceof DnsFormatError)) throw error;
    return headerOnlyResponse(query, RCODE.FORMERR);
  }
  const q = msg.questions[0] as Question | undefined;
  const reply = (rcode: number, answer?: Answer, more: Partial<ReplyParts> = {}): Response => {
    const edns = ednsOf(msg);
    const out: Message = {
      id: msg.id,
      flags: responseFlags(msg.flags, rcode, answer?.aa ?? false),
      questions: (more.withQuestion ?? true) && q ? [q] : [],
      answers: answer?.answers ?? [],
      authorities: answer?.authorities ?? [],
      additionals: answer?.additionals.slice() ?? [],
    };
    if (edns.present) {
      out.additionals.push(
        makeOpt({ udpSize: SERVER_UDP_SIZE, dnssecOk: edns.dnssecOk, extendedRcode: rcode >> 4 }),
      );
    }
    if (more.tsig) out.additionals.push(more.tsig); // always the last record (RFC 8945 5.1)
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

  const opts = msg.additionals.filter((rr) => rr.type === TYPE.OPT);
  const badOpt = opts.length > 1 || opts.some((rr) => rr.name !== ".") ||
    msg.answers.some((rr) => rr.type === TYPE.OPT) ||
    msg.authorities.some((rr) => rr.type === TYPE.OPT);
  const tsig = findTsig(msg);
  if (msg.questions.length !== 1 || badOpt || tsig === "malformed") {
    if (badOpt) msg.additionals = []; // do not echo an OPT we could not parse
    return reply(RCODE.FORMERR);
  }
  // We hold no keys, so every signature names a key we do not know: NOTAUTH with TSIG error
  // BADKEY, the TSIG record unsigned (no MAC) and no question, as NSD answers (RFC 8945 5.2.2).
  if (tsig) return reply(RCODE.NOTAUTH, undefined, { withQuestion: false, tsig: tsig.badKey });
  if ((getEdns(msg)?.version ?? 0) > 0) {
    return reply(RCODE_BADVERS, undefined, { withQuestion: false });
  }
  if (q!.class !== CLASS.IN && q!.class !== CLASS.ANY) return reply(RCODE.REFUSED);
  if (q!.type === TYPE.OPT || q!.type === TYPE.TSIG) return reply(RCODE.FORMERR);
  if (META_NOTIMP.has(q!.type)) return reply(RCODE.NOTIMP);
  if (ZONE_TRANSFER.has(q!.type)) return reply(RCODE.REFUSED);
  const answer = authority.answer(q!, { dnssec: getEdns(msg)?.dnssecOk ?? false });
  return reply(answer.rcode, answer);
}

interface ReplyParts {
  /** Echo the question (default true). */
  withQuestion: boolean;
  /** A TSIG record to end the additional section with. */
  tsig: ResourceRecord;
}

function headerOnlyResponse(query: Uint8Array, rcode: number): Response {
  return { bytes: headerOnly(query, rcode), name: "-", type: 0, rcode };
}

/** TSIG error code: the key is not known here (RFC 8945 4.3). */
const TSIG_BADKEY = 17;

/**
 * The query's TSIG record turned into the unsigned BADKEY record of our reply, or "malformed"
 * when a TSIG is misplaced (anywhere but last in the additional section, or twice: RFC 8945
 * 5.1), not of class ANY, or its rdata does not parse. The reply's record keeps the key name,
 * algorithm, time signed, fudge and original id, with an empty MAC and no other data.
 */
function findTsig(msg: Message): { badKey: ResourceRecord } | "malformed" | undefined {
  const isTsig = (rr: ResourceRecord) => rr.type === TYPE.TSIG;
  const at = msg.additionals.findIndex(isTsig);
  if (msg.answers.some(isTsig) || msg.authorities.some(isTsig)) return "malformed";
  if (at < 0) return undefined;
  const rr = msg.additionals[at];
  if (at !== msg.additionals.length - 1 || rr.class !== CLASS.ANY) return "malformed";
  if (rr.data.kind !== "UNKNOWN") return "malformed";
  const rdata = rr.data.bytes;
  const end = rdata.length;
  try {
    // Algorithm name (never compressed), time signed (48 bits), fudge, MAC size, MAC,
    // original id, error, other length, other data.
    const [, afterAlgorithm] = readName(rdata, 0, end);
    const [macSize, afterMacSize] = readU16(rdata, afterAlgorithm + 8, end, "TSIG rdata");
    const afterMac = afterMacSize + macSize;
    const [otherLength] = readU16(rdata, afterMac + 4, end, "TSIG rdata");
    if (afterMac + 6 + otherLength !== end) return "malformed";
    const out = new Uint8Array(afterAlgorithm + 16); // zeros: MAC size, other length
    out.set(rdata.subarray(0, afterAlgorithm + 8)); // algorithm, time signed, fudge
    out.set(rdata.subarray(afterMac, afterMac + 2), afterAlgorithm + 10); // original id
    out[afterAlgorithm + 13] = TSIG_BADKEY; // the error (16 bits)
    return { badKey: { ...rr, ttl: 0, data: { kind: "UNKNOWN", bytes: out } } };
  } catch (error) {
    if (error instanceof DnsFormatError) return "malformed";
    throw error;
  }
}

function ednsOf(msg: Message): { present: boolean; udpSize: number; dnssecOk: boolean } {
  const edns = getEdns(msg);
  return edns
    ? { present: true, udpSize: edns.udpSize, dnssecOk: edns.dnssecOk }
    : { present: false, udpSize: MAX_UDP_SIZE, dnssecOk: false };
}
