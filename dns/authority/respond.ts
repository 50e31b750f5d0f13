/**
 * The wire rules of the authoritative server: one query's bytes in, the reply's bytes out, with
 * the answer itself from `authority/authority.ts`. No answer to responses or header-less junk; a
 * header-only NOTIMP for opcodes other than QUERY; FORMERR for undecodable queries; NOTAUTH
 * (TSIG BADKEY) for signed ones; EDNS (OPT echoed, BADVERS for version > 0); and truncation (TC)
 * at 512 bytes or the EDNS size over UDP. Which header bits a reply copies is decided in one
 * place, `responseFlags`. Never throws: a bug costs one query a SERVFAIL, not the server. Pure.
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
  encodeFlags,
  encodeMessage,
  type Flags,
  type Message,
  type Question,
} from "../wire/message.ts";
import { DnsFormatError, readU16 } from "../wire/primitives.ts";
import { EDNS_UDP_SIZE, getEdns, makeOpt, RCODE_BADVERS } from "../wire/edns.ts";
import { readName } from "../wire/names.ts";
import type { ResourceRecord } from "../wire/rdata.ts";
import type { Answer, Authority } from "./authority.ts";

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
  const flags = encodeFlags(responseFlags(decodeMessageHeader(query)!.flags, rcode));
  out[0] = query[0];
  out[1] = query[1];
  out[2] = flags >> 8;
  out[3] = flags & 0xff;
  return out;
}

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
  const header = decodeMessageHeader(query);
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
        makeOpt({ udpSize: EDNS_UDP_SIZE, dnssecOk: edns.dnssecOk, extendedRcode: rcode >> 4 }),
      );
    }
    if (more.tsig) out.additionals.push(more.tsig); // always the last record (RFC 8945 5.1)
    const maxSize = options.udp
      ? Math.max(MAX_UDP_SIZE, Math.min(edns.udpSize, EDNS_UDP_SIZE))
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
  if (MAIL_QUERY_TYPES.has(q!.type)) return reply(RCODE.NOTIMP);
  if (ZONE_TRANSFER_TYPES.has(q!.type)) return reply(RCODE.REFUSED);
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
