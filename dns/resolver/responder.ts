/**
 * The wire rules of a recursive DNS server — seed 000's local DNS server (「本地DNS」), which
 * answers a browser's question from its cache or walks from the root on its behalf. Query bytes
 * in, reply bytes out; the sockets live in `dns/resolver_server.ts`.
 *
 * Theory of operation
 * 1. Who may ask: only clients in the `--allow` list (default: loopback). Everyone else gets
 *    REFUSED — a resolver that answers the whole Internet is an amplifier for attacks.
 * 2. The hot path, `cached`: the encoded reply to these exact query bytes (`AnswerCache`), ID
 *    and TTLs patched — no decoding at all.
 * 3. Everything else, `respond`: undecodable queries get FORMERR, opcodes other than QUERY get
 *    NOTIMP (the server keeps serving); then the question is answered
 *    - with RD clear, from the cache only (as unbound does for clients allowed to snoop): the
 *      cached answer, or else a referral to the closest cached delegation;
 *    - with RD set, by the resolver (`dns/resolver/iterative.ts`): from its record cache, or by walking
 *      from the root — identical questions in flight share one walk.
 * 4. With a DNSSEC judge (`dns/dnssec/validating_resolver.ts`, given a trust anchor) every RD
 *    answer is validated before it goes out, as unbound does: Bogus → SERVFAIL with an Extended
 *    DNS Error saying why (RFC 8914), kept in the answer cache for the Bogus TTL; Secure → AD set
 *    when the client set DO or AD (RFC 6840 §5.7); Insecure → the answer, AD clear. CD set by the
 *    client (RFC 4035 §3.2.2: "I check myself") skips the verdict: the answer, unchecked, AD clear.
 * 5. A client that sets DO gets the RRSIGs beside the records, and with a negative or wildcard
 *    answer the NSEC/NSEC3 records that prove it (the resolver always asks upstream with DO set);
 *    a client without DO never sees them.
 * 6. Every reply has RA set (recursion available), echoes RD, CD and the question, carries an
 *    OPT record when the query did (our UDP size, `EDNS_UDP_SIZE`) and is cut to the client's UDP size
 *    with TC set when it does not fit. A resolved RD reply goes into the answer cache.
 */
import {
  CLASS,
  MAIL_QUERY_TYPES,
  MAX_MESSAGE_SIZE,
  MAX_UDP_SIZE,
  OPCODE,
  RCODE,
  TYPE,
  ZONE_TRANSFER_TYPES,
} from "../wire/constants.ts";
import {
  decodeMessage,
  decodeMessageHeader,
  encodeMessage,
  type Flags,
  type Message,
  type Question,
} from "../wire/message.ts";
import { DnsFormatError } from "../wire/primitives.ts";
import { EDNS_UDP_SIZE, getEdns, makeOpt, RCODE_BADVERS } from "../wire/edns.ts";
import { nameKey, readName } from "../wire/names.ts";
import { type EdnsOption, type ResourceRecord } from "../wire/rdata.ts";
import { EDE, edeOption } from "../wire/ede.ts";
import { type IterativeResolver } from "./iterative.ts";
import { type Resolution, ResolveError } from "./stub.ts";
import { type ResolverEvent } from "./trace.ts";
import { AnswerCache } from "./answer_cache.ts";
import { type IpFamily, parseAddress, parseNetwork } from "../../udp/core/subnet_plan.ts";

/** Who may ask by default: loopback only. */
export const DEFAULT_ALLOW = "127.0.0.0/8,::1";
/** Distinct questions resolved at once; more get SERVFAIL (nothing unbounded per client). */
export const MAX_IN_FLIGHT = 1024;

// ---------------------------------------------------------------------------------------------
// Who may ask.

interface Block {
  family: IpFamily;
  network: bigint;
  mask: bigint;
}

/** A list of networks (`--allow 127.0.0.0/8,192.168.1.0/24,::1`); a bare address is one host. */
export class AccessList {
  readonly #blocks: Block[];
  readonly #memo = new Map<string, boolean>();
  readonly text: string;

  /** Parses `CIDR[,CIDR…]`; throws SyntaxError or RangeError naming the bad entry. */
  constructor(text: string) {
    const entries = text.split(",").map((e) => e.trim()).filter(Boolean);
    if (entries.length === 0) throw new SyntaxError(`Invalid access list "${text}": empty`);
    if (entries.length > 1024) throw new RangeError(`Invalid access list: over 1024 entries`);
    this.#blocks = entries.map((entry) => {
      const cidr = entry.includes("/") ? entry : `${entry}/${entry.includes(":") ? 128 : 32}`;
      const { family, network, prefix } = parseNetwork(cidr);
      const bits = family === 4 ? 32n : 128n;
      const mask = ((1n << bits) - 1n) ^ ((1n << (bits - BigInt(prefix))) - 1n);
      return { family, network, mask };
    });
    this.text = entries.join(",");
  }

  /** True when `address` (as Deno prints it) is inside one of the networks. */
  allows(address: string): boolean {
    const known = this.#memo.get(address);
    if (known !== undefined) return known;
    let allowed = false;
    try {
      let { family, value } = parseAddress(address);
      // An IPv4 client on a dual-stack socket shows up as ::ffff:a.b.c.d.
      if (family === 6 && value >> 32n === 0xffffn) [family, value] = [4, value & 0xffffffffn];
      allowed = this.#blocks.some((b) => b.family === family && (value & b.mask) === b.network);
    } catch {
      allowed = false; // not an IP address (e.g. a unix socket): never allowed
    }
    if (this.#memo.size >= 4096) this.#memo.clear();
    this.#memo.set(address, allowed);
    return allowed;
  }
}

// ---------------------------------------------------------------------------------------------
// DNSSEC: the verdict on an answer, and the records a DO client gets.

/** A DNSSEC verdict on an answer (see `AnswerJudge`). */
export interface AnswerVerdict {
  verdict: "secure" | "insecure" | "bogus" | "indeterminate";
  /** Why it is not Secure, in one sentence. */
  reason?: string;
  /** The Extended DNS Error code for a Bogus verdict (RFC 8914). */
  ede?: number;
  /** The chain of trust as built for this answer (empty when nothing new had to be checked). */
  steps: string[];
  /** A Bogus verdict given again from memory: nothing was checked or asked. */
  remembered: boolean;
  /** Upstream queries the verdict cost (keys and DSes not cached yet). */
  queries: number;
}

/**
 * Judges resolutions with DNSSEC: `ValidatingResolver.judge` (dns/dnssec/), given to the
 * responder by the server that has a trust anchor. Throws `ResolveError` when what it needs
 * cannot be fetched.
 */
export interface AnswerJudge {
  judge(
    name: string,
    type: number,
    resolution: Resolution,
    options: { signal?: AbortSignal; onEvent?: (event: ResolverEvent) => void },
  ): Promise<AnswerVerdict>;
}

/** Seconds a Bogus answer's SERVFAIL stays in the answer cache (unbound's val-bogus-ttl). */
export const BOGUS_REPLY_TTL = 60;

/** Places each RRSIG right after the RRset it covers (as servers order them). */
function withSignatures(
  records: readonly ResourceRecord[],
  signatures: readonly ResourceRecord[],
): ResourceRecord[] {
  if (signatures.length === 0) return [...records];
  const out: ResourceRecord[] = [];
  const placed = new Set<ResourceRecord>();
  for (let i = 0; i < records.length; i++) {
    const rr = records[i];
    out.push(rr);
    const next = records[i + 1];
    if (next && next.type === rr.type && nameKey(next.name) === nameKey(rr.name)) continue;
    for (const sig of signatures) {
      if (
        !placed.has(sig) && sig.data.kind === "RRSIG" && sig.data.typeCovered === rr.type &&
        nameKey(sig.name) === nameKey(rr.name)
      ) {
        out.push(sig);
        placed.add(sig);
      }
    }
  }
  for (const sig of signatures) if (!placed.has(sig)) out.push(sig);
  return out;
}

/**
 * The answer and authority sections for `resolution`: with the RRSIGs and NSEC/NSEC3 proofs
 * for a client that set DO, without them for any other.
 */
function answerSections(
  resolution: Resolution,
  dnssecOk: boolean,
): { answers: ResourceRecord[]; authorities: ResourceRecord[] } {
  if (!dnssecOk) return { answers: resolution.answers, authorities: resolution.authorities };
  return {
    answers: withSignatures(resolution.answers, resolution.signatures ?? []),
    authorities: [...resolution.authorities, ...resolution.proofs ?? []],
  };
}

// ---------------------------------------------------------------------------------------------
// Replies.

/** A reply to send, with what the server logs about it. */
export interface ClientReply {
  bytes: Uint8Array;
  /** The question (`-` and 0 when there was none to read). */
  name: string;
  type: number;
  rcode: number;
  /**
   * How it was answered: from the record cache, by a walk of its own (`resolved`), by joining
   * one already in flight (`coalesced`), from the cache only because RD was clear (`norecurse`),
   * or turned away (`refused`: not in --allow; `rejected`: a bad query; `failed`: SERVFAIL).
   */
  source: "cache" | "resolved" | "coalesced" | "norecurse" | "refused" | "rejected" | "failed";
  /** Upstream queries this answer cost. */
  queries: number;
  /** Why it failed (SERVFAIL) or was rejected, for the log. */
  reason?: string;
  /** The DNSSEC verdict, when the server validates and the client did not set CD. */
  validation?: AnswerVerdict;
}

function replyFlags(query: Flags, rcode: number, ad = false): Flags {
  return {
    qr: true,
    opcode: query.opcode,
    aa: false,
    tc: false,
    rd: query.rd,
    ra: true,
    ad,
    cd: query.cd,
    rcode: rcode & 0x0f,
  };
}

/** A header-only reply (FORMERR for a query that cannot be decoded): ID, opcode, RD and CD echoed. */
function headerOnly(query: Uint8Array, rcode: number): Uint8Array {
  const out = new Uint8Array(12);
  out[0] = query[0];
  out[1] = query[1];
  out[2] = 0x80 | (query[2] & 0x79);
  out[3] = 0x80 | (query[3] & 0x10) | rcode;
  return out;
}

/** The question of a query, read without decoding the rest (for logs); undefined if unreadable. */
export function peekQuestion(query: Uint8Array): { name: string; type: number } | undefined {
  if (query.length < 17 || ((query[4] << 8) | query[5]) === 0) return undefined;
  try {
    const [name, at] = readName(query, 12, query.length);
    if (at + 2 > query.length) return undefined;
    return { name, type: (query[at] << 8) | query[at + 1] };
  } catch {
    return undefined;
  }
}

/** Options for `RecursiveResponder`. */
export interface RecursiveOptions {
  resolver: IterativeResolver;
  /** Encoded replies (default: a new `AnswerCache` on the same clock). */
  answers?: AnswerCache;
  /** Who may ask (default: loopback only). */
  allow?: AccessList;
  /** Distinct questions resolved at once (default 1024). */
  maxInFlight?: number;
  /** The clock (ms), shared with the caches. */
  now?: () => number;
  /** DNSSEC validation of every RD answer (see the module comment); none without it. */
  judge?: AnswerJudge;
}

/** What goes into a reply's sections, and how its header and OPT record differ from plain. */
interface ReplyParts {
  answers?: ResourceRecord[];
  authorities?: ResourceRecord[];
  additionals?: ResourceRecord[];
  /** AD: the answer is Secure (RFC 4035 §3.2.3). */
  ad?: boolean;
  /** EDNS options of the reply's OPT record (an Extended DNS Error). */
  options?: EdnsOption[];
}

/** Query bytes in, reply bytes out, for a recursive server (see the module comment). */
export class RecursiveResponder {
  readonly resolver: IterativeResolver;
  readonly answers: AnswerCache;
  readonly allow: AccessList;
  /** The DNSSEC judge, when the server validates. */
  readonly judge?: AnswerJudge;
  readonly #maxInFlight: number;

  constructor(options: RecursiveOptions) {
    this.resolver = options.resolver;
    this.answers = options.answers ?? new AnswerCache({ now: options.now });
    this.allow = options.allow ?? new AccessList(DEFAULT_ALLOW);
    this.judge = options.judge;
    this.#maxInFlight = options.maxInFlight ?? MAX_IN_FLIGHT;
  }

  /**
   * The hot path: writes the cached reply to `query` into `out` (65535 bytes) and returns its
   * length, or -1 when `respond` must handle the query (a miss, or a client not allowed).
   */
  cached(query: Uint8Array, client: string, udp: boolean, out: Uint8Array): number {
    if (!this.allow.allows(client)) return -1;
    return this.answers.lookup(query, udp, out);
  }

  /**
   * Answers one query from `client` (an IP address); null when nothing must be sent (fewer than
   * 12 bytes, or a response rather than a query). `onEvent` sees every step of a walk.
   */
  async respond(
    query: Uint8Array,
    client: string,
    { udp, onEvent, signal }: {
      udp: boolean;
      onEvent?: (event: ResolverEvent) => void;
      /** Stops waiting (the server is closing). */
      signal?: AbortSignal;
    },
  ): Promise<ClientReply | null> {
    const header = decodeMessageHeader(query);
    if (!header || header.flags.qr) return null;
    const peek = () => peekQuestion(query);
    const base = { name: "-", type: 0, queries: 0 };
    if (!this.allow.allows(client)) {
      Object.assign(base, { name: peek()?.name ?? "-", type: peek()?.type ?? 0 });
      const bytes = this.#refusal(query);
      return { ...base, bytes, rcode: RCODE.REFUSED, source: "refused", reason: "not in --allow" };
    }
    let msg: Message;
    try {
      msg = decodeMessage(query);
    } catch (error) {
      if (!(error instanceof DnsFormatError)) throw error;
      const bytes = headerOnly(query, RCODE.FORMERR);
      Object.assign(base, { name: peek()?.name ?? "-", type: peek()?.type ?? 0 });
      return { ...base, bytes, rcode: RCODE.FORMERR, source: "rejected", reason: error.message };
    }
    if (msg.questions.length > 0) {
      base.name = msg.questions[0].name;
      base.type = msg.questions[0].type;
    }
    const problem = checkQuery(msg);
    if (problem) {
      const bytes = this.#encode(msg, problem.rcode, {}, udp, problem.rcode !== RCODE_BADVERS);
      return { ...base, bytes, rcode: problem.rcode, source: "rejected", reason: problem.reason };
    }
    const q = msg.questions[0];
    if (!msg.flags.rd) return this.#fromCacheOnly(msg, q, udp);

    // The resolver looks in its record cache first; only a miss costs a walk (and when too many
    // walks are going on already, a miss gets SERVFAIL).
    if (
      this.resolver.inFlight >= this.#maxInFlight && !this.resolver.lookupCached(q.name, q.type)
    ) {
      const bytes = this.#encode(msg, RCODE.SERVFAIL, {}, udp);
      const reason = `over ${this.#maxInFlight} questions in flight`;
      return { ...base, bytes, rcode: RCODE.SERVFAIL, source: "failed", reason };
    }
    let result: Resolution;
    try {
      result = await this.resolver.resolve(q.name, q.type, { onEvent, signal });
    } catch (error) {
      if (!(error instanceof ResolveError)) throw error;
      const bytes = this.#encode(msg, RCODE.SERVFAIL, {}, udp);
      return { ...base, bytes, rcode: RCODE.SERVFAIL, source: "failed", reason: error.message };
    }
    const source: ClientReply["source"] = result.coalesced
      ? "coalesced"
      : result.fromCache
      ? "cache"
      : "resolved";
    const answered = result.rcode === RCODE.NOERROR || result.rcode === RCODE.NXDOMAIN;
    let validation: AnswerVerdict | undefined;
    if (this.judge && answered && !msg.flags.cd) {
      try {
        validation = await this.judge.judge(q.name, q.type, result, { onEvent, signal });
      } catch (error) {
        if (!(error instanceof ResolveError)) throw error;
        const bytes = this.#encode(msg, RCODE.SERVFAIL, {}, udp);
        const reason = `cannot validate: ${error.message}`;
        return { ...base, bytes, rcode: RCODE.SERVFAIL, source: "failed", reason };
      }
    }
    const queries = result.queries + (validation?.queries ?? 0);
    if (validation?.verdict === "bogus") {
      // SERVFAIL saying why, as unbound does; the same reply for a while (the Bogus TTL).
      const options = [edeOption(validation.ede ?? EDE.DNSSEC_BOGUS, validation.reason ?? "")];
      const bytes = this.#encode(msg, RCODE.SERVFAIL, { options }, udp);
      this.answers.store(query, udp, bytes, { ttl: BOGUS_REPLY_TTL });
      return { ...base, bytes, rcode: RCODE.SERVFAIL, source, queries, validation };
    }
    // RRSIGs and proofs only for a client that set DO; AD only for a Secure answer it can use.
    const dnssecOk = getEdns(msg)?.dnssecOk ?? false;
    const bytes = this.#encode(msg, result.rcode, {
      ...answerSections(result, dnssecOk),
      ad: validation?.verdict === "secure" && (dnssecOk || msg.flags.ad),
    }, udp);
    // The encoded reply is kept from the second asking on (answered from the record cache): a
    // name asked once, as most of a cold load is, costs the answer cache nothing.
    if (answered && source !== "resolved") this.answers.store(query, udp, bytes);
    return { ...base, bytes, rcode: result.rcode, source, queries, validation };
  }

  /** RD clear: the cached answer, else a referral to the closest cached delegation. */
  #fromCacheOnly(msg: Message, q: Question, udp: boolean): ClientReply {
    const base = { name: q.name, type: q.type, queries: 0, source: "norecurse" as const };
    const cached = this.resolver.lookupCached(q.name, q.type);
    if (cached) {
      const sections = answerSections(cached, getEdns(msg)?.dnssecOk ?? false);
      const bytes = this.#encode(msg, cached.rcode, sections, udp);
      return { ...base, bytes, rcode: cached.rcode };
    }
    const referral = this.resolver.cachedReferral(q.name);
    const sections = { authorities: referral.ns, additionals: referral.addresses };
    return { ...base, bytes: this.#encode(msg, RCODE.NOERROR, sections, udp), rcode: 0 };
  }

  /** REFUSED with the question echoed when it can be read (else header only). */
  #refusal(query: Uint8Array): Uint8Array {
    try {
      const msg = decodeMessage(query);
      if (msg.questions.length === 1) {
        return this.#encode({ ...msg, additionals: [] }, RCODE.REFUSED, {}, true);
      }
    } catch (error) {
      if (!(error instanceof DnsFormatError)) throw error;
    }
    return headerOnly(query, RCODE.REFUSED);
  }

  #encode(
    msg: Message,
    rcode: number,
    sections: ReplyParts,
    udp: boolean,
    withQuestion = true,
  ): Uint8Array {
    const edns = getEdns(msg);
    const additionals = [...sections.additionals ?? []];
    if (edns) {
      additionals.push(
        makeOpt({
          udpSize: EDNS_UDP_SIZE,
          dnssecOk: edns.dnssecOk,
          extendedRcode: rcode >> 4,
          options: sections.options,
        }),
      );
    }
    const reply: Message = {
      id: msg.id,
      flags: replyFlags(msg.flags, rcode, sections.ad),
      questions: withQuestion ? msg.questions.slice(0, 1) : [],
      answers: sections.answers ?? [],
      authorities: sections.authorities ?? [],
      additionals,
    };
    const maxSize = udp
      ? Math.max(MAX_UDP_SIZE, Math.min(edns?.udpSize ?? MAX_UDP_SIZE, EDNS_UDP_SIZE))
      : MAX_MESSAGE_SIZE;
    return encodeMessage(reply, { maxSize });
  }
}

/** Why a decoded query cannot be answered (its rcode and a reason), or undefined. */
export function checkQuery(msg: Message): { rcode: number; reason: string } | undefined {
  if (msg.flags.opcode !== OPCODE.QUERY) {
    return { rcode: RCODE.NOTIMP, reason: `opcode ${msg.flags.opcode} is not QUERY` };
  }
  const opts = msg.additionals.filter((rr) => rr.type === TYPE.OPT);
  const badOpt = opts.length > 1 || opts.some((rr) => rr.name !== ".") ||
    msg.answers.some((rr) => rr.type === TYPE.OPT) ||
    msg.authorities.some((rr) => rr.type === TYPE.OPT);
  if (badOpt) {
    msg.additionals = []; // do not echo an OPT we could not parse
    return { rcode: RCODE.FORMERR, reason: "a malformed or misplaced OPT record" };
  }
  if (msg.questions.length !== 1) {
    return { rcode: RCODE.FORMERR, reason: `${msg.questions.length} questions (expected 1)` };
  }
  if ((getEdns(msg)?.version ?? 0) > 0) {
    return { rcode: RCODE_BADVERS, reason: "EDNS version above 0" };
  }
  const q = msg.questions[0];
  if (q.class !== CLASS.IN) return { rcode: RCODE.REFUSED, reason: `class ${q.class} is not IN` };
  if (q.type === TYPE.OPT) return { rcode: RCODE.FORMERR, reason: "a question for type OPT" };
  if (MAIL_QUERY_TYPES.has(q.type)) return { rcode: RCODE.NOTIMP, reason: "MAILA/MAILB" };
  if (ZONE_TRANSFER_TYPES.has(q.type)) {
    return { rcode: RCODE.REFUSED, reason: "zone transfers are for authoritative servers" };
  }
  return undefined;
}
