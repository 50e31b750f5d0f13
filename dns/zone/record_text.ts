/**
 * A record's fields in master-file text: TTLs (seconds, or BIND's `1h30m`) and the rdata of each
 * type the codec knows (`wire/rdata.ts`), plus HINFO and SPF, the DNSSEC types through
 * `wire/dnssec_rdata.ts`, and RFC 3597's generic `\# length hex` for any type. Pure; a bad
 * field is a `RangeError` saying which and why (the parser adds the file and line).
 */
import { TYPE, typeName } from "../wire/constants.ts";
import { decodeRdata, type RData, type TargetKind } from "../wire/rdata.ts";
import { DnsFormatError } from "../wire/primitives.ts";
import { ipv4Bytes, ipv6Bytes } from "../wire/addresses.ts";
import { isDnssecType, parseDnssecRdata } from "../wire/dnssec_rdata.ts";
import { type Token, unescapeString } from "./tokenize.ts";

/** The largest TTL (RFC 2181 section 8). */
export const MAX_TTL = 0x7fffffff;

const TYPE_HINFO = 13;
const TYPE_SPF = 99;

/** A TTL: seconds, or BIND units (`1h30m`, `2d`, `1w`). */
export function parseTtl(text: string): number {
  let total: number;
  if (/^\d+$/.test(text)) {
    total = Number(text);
  } else if (/^(\d+[smhdw])+$/i.test(text)) {
    const units: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
    total = 0;
    for (const [, n, u] of text.matchAll(/(\d+)([smhdw])/gi)) {
      total += Number(n) * units[u.toLowerCase()];
    }
  } else {
    throw new RangeError(`invalid TTL "${text}"`);
  }
  if (total > MAX_TTL) throw new RangeError(`TTL "${text}" exceeds ${MAX_TTL}`);
  return total;
}

function fieldCount(type: number, fields: Token[], expected: number): void {
  if (fields.length !== expected) {
    throw new RangeError(
      `${typeName(type)} needs ${expected} rdata field${
        expected === 1 ? "" : "s"
      }, got ${fields.length}`,
    );
  }
}

function integerField(text: string, max: number, what: string): number {
  if (!/^\d+$/.test(text) || Number(text) > max) {
    throw new RangeError(`invalid ${what} "${text}": expected an integer from 0 to ${max}`);
  }
  return Number(text);
}

function characterStrings(type: number, fields: Token[]): Uint8Array[] {
  if (fields.length === 0) throw new RangeError(`${typeName(type)} needs at least one string`);
  return fields.map((f) => {
    const bytes = unescapeString(f.text);
    if (bytes.length > 255) {
      throw new RangeError(`string of ${bytes.length} bytes exceeds 255 (split it into "…" "…")`);
    }
    return bytes;
  });
}

function characterStringBytes(strings: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(strings.reduce((n, s) => n + 1 + s.length, 0));
  let at = 0;
  for (const s of strings) {
    out[at++] = s.length;
    out.set(s, at);
    at += s.length;
  }
  return out;
}

function genericRdata(type: number, fields: Token[]): RData {
  if (fields.length < 2) throw new RangeError(`generic rdata needs "\\# length hex"`);
  const length = integerField(fields[1].text, 65535, "generic rdata length");
  const hexText = fields.slice(2).map((f) => f.text).join("");
  if (!/^([0-9a-fA-F]{2})*$/.test(hexText)) {
    throw new RangeError(`invalid generic rdata hex "${hexText}"`);
  }
  if (hexText.length !== length * 2) {
    throw new RangeError(
      `generic rdata length ${length} does not match ${hexText.length / 2} bytes of hex`,
    );
  }
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = parseInt(hexText.slice(2 * i, 2 * i + 2), 16);
  try {
    return decodeRdata(type, bytes);
  } catch (error) {
    if (error instanceof DnsFormatError) {
      throw new RangeError(`generic rdata is not valid ${typeName(type)}: ${error.message}`);
    }
    throw error;
  }
}

/** The rdata of `type` from its fields; names made absolute by `absolute`. */
export function parseRdata(
  type: number,
  fields: Token[],
  absolute: (name: string) => string,
): RData {
  if (fields.length && !fields[0].quoted && fields[0].text === "\\#") {
    return genericRdata(type, fields);
  }
  const plain = (i: number) => {
    if (fields[i].quoted) throw new RangeError(`unexpected quoted string "${fields[i].text}"`);
    return fields[i].text;
  };
  switch (type) {
    case TYPE.A:
      fieldCount(type, fields, 1);
      ipv4Bytes(plain(0));
      return { kind: "A", address: plain(0) };
    case TYPE.AAAA: {
      fieldCount(type, fields, 1);
      // Normalised through the codec so the zone prints as dig would.
      return decodeRdata(TYPE.AAAA, ipv6Bytes(plain(0)));
    }
    case TYPE.NS:
    case TYPE.CNAME:
    case TYPE.PTR:
    case TYPE.MD:
    case TYPE.MF:
    case TYPE.MB:
    case TYPE.MG:
    case TYPE.MR:
      fieldCount(type, fields, 1);
      return { kind: typeName(type) as TargetKind, target: absolute(plain(0)) };
    case TYPE.MINFO:
      fieldCount(type, fields, 2);
      return { kind: "MINFO", rmailbx: absolute(plain(0)), emailbx: absolute(plain(1)) };
    case TYPE.MX:
      fieldCount(type, fields, 2);
      return {
        kind: "MX",
        preference: integerField(plain(0), 65535, "MX preference"),
        exchange: absolute(plain(1)),
      };
    case TYPE.SOA:
      fieldCount(type, fields, 7);
      return {
        kind: "SOA",
        mname: absolute(plain(0)),
        rname: absolute(plain(1)),
        serial: integerField(plain(2), 0xffffffff, "SOA serial"),
        refresh: parseTtl(plain(3)),
        retry: parseTtl(plain(4)),
        expire: parseTtl(plain(5)),
        minimum: parseTtl(plain(6)),
      };
    case TYPE.TXT:
      return { kind: "TXT", strings: characterStrings(type, fields) };
    case TYPE.SRV:
      fieldCount(type, fields, 4);
      return {
        kind: "SRV",
        priority: integerField(plain(0), 65535, "SRV priority"),
        weight: integerField(plain(1), 65535, "SRV weight"),
        port: integerField(plain(2), 65535, "SRV port"),
        target: absolute(plain(3)),
      };
    case TYPE.CAA: {
      fieldCount(type, fields, 3);
      const tag = plain(1);
      if (!/^[A-Za-z0-9]{1,255}$/.test(tag)) throw new RangeError(`invalid CAA tag "${tag}"`);
      return {
        kind: "CAA",
        flags: integerField(plain(0), 255, "CAA flags"),
        tag,
        value: unescapeString(fields[2].text),
      };
    }
    case TYPE_HINFO:
      fieldCount(type, fields, 2);
      return { kind: "UNKNOWN", bytes: characterStringBytes(characterStrings(type, fields)) };
    case TYPE_SPF:
      return { kind: "UNKNOWN", bytes: characterStringBytes(characterStrings(type, fields)) };
    default:
      if (isDnssecType(type)) {
        return parseDnssecRdata(type, fields.map((_, i) => plain(i)), absolute);
      }
      throw new RangeError(
        `type ${typeName(type)} has no presentation parser here: write it as "\\# length hex"`,
      );
  }
}
