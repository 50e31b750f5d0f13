/**
 * The numbers of the DNS protocol and their names: record types, classes, response codes,
 * opcodes and the size limits (RFC 1035, RFC 3597 for the `TYPE<n>`/`CLASS<n>` fallbacks). Pure.
 */
import { printableText } from "./primitives.ts";

/** Resource record types with a name (others print as `TYPE<n>`, RFC 3597). */
export const TYPE = {
  A: 1,
  NS: 2,
  MD: 3,
  MF: 4,
  CNAME: 5,
  SOA: 6,
  MB: 7,
  MG: 8,
  MR: 9,
  PTR: 12,
  MINFO: 14,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  DS: 43,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  NSEC3: 50,
  NSEC3PARAM: 51,
  CDS: 59,
  CDNSKEY: 60,
  TSIG: 250,
  CAA: 257,
  ANY: 255,
} as const;

/** Classes (`CLASS<n>` for the rest). */
export const CLASS = { IN: 1, CH: 3, ANY: 255 } as const;

/** Response codes (the 4-bit header part; EDNS extends them to 12 bits). */
export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  NOTAUTH: 9,
} as const;

/** Header opcodes. */
export const OPCODE = { QUERY: 0, IQUERY: 1, STATUS: 2, NOTIFY: 4, UPDATE: 5 } as const;

/** The longest label (RFC 1035 2.3.4). */
export const MAX_LABEL_LENGTH = 63;
/** The longest name on the wire, length octets and the root label included. */
export const MAX_NAME_LENGTH = 255;
/** The longest DNS message (the TCP length prefix is 16 bits). */
export const MAX_MESSAGE_SIZE = 65535;
/** The classic UDP payload limit without EDNS (RFC 1035 4.2.1). */
export const MAX_UDP_SIZE = 512;

/** Question types no zone data answers: zone transfers (IXFR, AXFR), handled apart or refused. */
export const ZONE_TRANSFER_TYPES: ReadonlySet<number> = new Set([251, 252]);
/** The obsolete mailbox query types (MAILB, MAILA, RFC 1035 §3.2.3): not implemented anywhere. */
export const MAIL_QUERY_TYPES: ReadonlySet<number> = new Set([253, 254]);

/** Mnemonics for types netlab knows by name; only some of them have an rdata codec. */
const TYPE_NAMES: Record<number, string> = {
  1: "A",
  2: "NS",
  3: "MD",
  4: "MF",
  5: "CNAME",
  6: "SOA",
  7: "MB",
  8: "MG",
  9: "MR",
  10: "NULL",
  11: "WKS",
  12: "PTR",
  13: "HINFO",
  14: "MINFO",
  15: "MX",
  16: "TXT",
  17: "RP",
  18: "AFSDB",
  28: "AAAA",
  29: "LOC",
  33: "SRV",
  35: "NAPTR",
  39: "DNAME",
  41: "OPT",
  43: "DS",
  44: "SSHFP",
  46: "RRSIG",
  47: "NSEC",
  48: "DNSKEY",
  50: "NSEC3",
  51: "NSEC3PARAM",
  52: "TLSA",
  59: "CDS",
  60: "CDNSKEY",
  61: "OPENPGPKEY",
  62: "CSYNC",
  63: "ZONEMD",
  64: "SVCB",
  65: "HTTPS",
  99: "SPF",
  249: "TKEY",
  250: "TSIG",
  251: "IXFR",
  252: "AXFR",
  255: "ANY",
  256: "URI",
  257: "CAA",
};
const TYPE_NUMBERS = new Map<string, number>(
  Object.entries(TYPE_NAMES).map(([n, name]) => [name, Number(n)]),
);

const CLASS_NAMES: Record<number, string> = { 1: "IN", 3: "CH", 4: "HS", 254: "NONE", 255: "ANY" };
const CLASS_NUMBERS = new Map<string, number>(
  Object.entries(CLASS_NAMES).map(([n, name]) => [name, Number(n)]),
);

const RCODE_NAMES: Record<number, string> = {
  0: "NOERROR",
  1: "FORMERR",
  2: "SERVFAIL",
  3: "NXDOMAIN",
  4: "NOTIMP",
  5: "REFUSED",
  6: "YXDOMAIN",
  7: "YXRRSET",
  8: "NXRRSET",
  9: "NOTAUTH",
  10: "NOTZONE",
  16: "BADVERS",
};

const OPCODE_NAMES: Record<number, string> = {
  0: "QUERY",
  1: "IQUERY",
  2: "STATUS",
  4: "NOTIFY",
  5: "UPDATE",
};

/** `A`, `MX`, or `TYPE65280` for a type without a mnemonic (RFC 3597). */
export function typeName(type: number): string {
  return TYPE_NAMES[type] ?? `TYPE${type}`;
}

/** `A`/`mx`/`TYPE99` → the type number; throws RangeError for an unknown name. */
export function parseType(text: string): number {
  const upper = text.toUpperCase();
  const known = TYPE_NUMBERS.get(upper);
  if (known !== undefined) return known;
  const m = /^TYPE(\d{1,5})$/.exec(upper);
  if (m && Number(m[1]) <= 0xffff) return Number(m[1]);
  throw new RangeError(`Unknown record type "${printableText(text)}"`);
}

/** `IN`, `CH`, or `CLASS<n>`. */
export function className(klass: number): string {
  return CLASS_NAMES[klass] ?? `CLASS${klass}`;
}

/** `IN`/`ch`/`CLASS3` → the class number; throws RangeError for an unknown name. */
export function parseClass(text: string): number {
  const upper = text.toUpperCase();
  const known = CLASS_NUMBERS.get(upper);
  if (known !== undefined) return known;
  const m = /^CLASS(\d{1,5})$/.exec(upper);
  if (m && Number(m[1]) <= 0xffff) return Number(m[1]);
  throw new RangeError(`Unknown class "${printableText(text)}"`);
}

/** `NOERROR`, `NXDOMAIN`, …, or `RCODE<n>`. */
export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `RCODE${rcode}`;
}

/** `QUERY`, `NOTIFY`, …, or `RESERVED<n>` as dig prints it. */
export function opcodeName(op: number): string {
  return OPCODE_NAMES[op] ?? `RESERVED${op}`;
}
