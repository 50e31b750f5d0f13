/**
 * EDNS(0) (RFC 6891): the OPT pseudo-record a query or reply carries in its additional section.
 * Its fixed fields mean something else than a record's: the class is the sender's UDP payload
 * size, the TTL holds the upper 8 bits of the rcode, the EDNS version and the DO bit (DNSSEC
 * OK); its rdata is a list of options (Extended DNS Errors, `wire/ede.ts`, among them). Pure.
 */
import { TYPE } from "./constants.ts";
import type { EdnsOption, ResourceRecord } from "./rdata.ts";
import type { Message } from "./message.ts";
import { u16Value } from "./writer.ts";

/** The UDP payload size netlab's servers offer and its clients ask for (DNS flag day 2020). */
export const EDNS_UDP_SIZE = 1232;

/** The extended rcode for an EDNS version the server does not speak (RFC 6891 §6.1.3). */
export const RCODE_BADVERS = 16;

/** The EDNS0 fields of a message's OPT record. */
export interface Edns {
  udpSize: number;
  extendedRcode: number;
  version: number;
  dnssecOk: boolean;
  options: EdnsOption[];
}
/** The EDNS0 fields from the message's OPT record, if it has one. */
export function getEdns(msg: Message): Edns | undefined {
  const opt = msg.additionals.find((rr) => rr.type === TYPE.OPT);
  if (!opt) return undefined;
  return {
    udpSize: opt.class,
    extendedRcode: opt.ttl >>> 24,
    version: (opt.ttl >>> 16) & 0xff,
    dnssecOk: (opt.ttl & 0x8000) !== 0,
    options: opt.data.kind === "OPT" ? opt.data.options : [],
  };
}

/** An OPT record (EDNS0) to put in the additional section; udpSize defaults to `EDNS_UDP_SIZE`. */
export function makeOpt(edns: Partial<Edns> = {}): ResourceRecord {
  const udpSize = u16Value(edns.udpSize ?? EDNS_UDP_SIZE, "EDNS UDP size");
  const ttl = (((edns.extendedRcode ?? 0) & 0xff) << 24 | ((edns.version ?? 0) & 0xff) << 16 |
    (edns.dnssecOk ? 0x8000 : 0)) >>> 0;
  return {
    name: ".",
    type: TYPE.OPT,
    class: udpSize,
    ttl,
    data: { kind: "OPT", options: edns.options ?? [] },
  };
}

/** The full 12-bit rcode of a message (header rcode plus the EDNS extension). */
export function fullRcode(msg: Message): number {
  const edns = getEdns(msg);
  return ((edns?.extendedRcode ?? 0) << 4) | msg.flags.rcode;
}
