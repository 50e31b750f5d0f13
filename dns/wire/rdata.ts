/**
 * Rdata, the typed part of a resource record (RFC 1035 §3.3, RFC 3596, RFC 2782, RFC 8659,
 * RFC 6891's OPT, RFC 3597 for the rest): one codec per type — decode, encode, and the
 * master-file text dig prints — dispatched through `RDATA_CODECS` (the dns-packet shape). A type
 * without a codec keeps its raw bytes as `{ kind: "UNKNOWN" }` and prints as `\# len hex`, so it
 * round-trips unchanged. The DNSSEC types' codecs live in `wire/dnssec.ts` and plug into the same
 * table.
 *
 * The names inside rdata are read compressed for every type whose names the decoder accepts
 * compressed — the RFC 1035 types, and SRV (RFC 2782 asks senders not to compress its target,
 * but RFC 3597 asks receivers to accept it) — and written compressed for the same types, so
 * every message the decoder accepts re-encodes, never longer than it came. Pure.
 */
import { className, TYPE, typeName } from "./constants.ts";
import {
  formatError,
  printableText,
  quoteString,
  readBytes,
  readCharacterString,
  readU16,
  readU32,
  readU8,
} from "./primitives.ts";
import { type DecodeContext, newDecodeContext, readName } from "./names.ts";
import { formatIPv6Bytes, ipv4Bytes, ipv6Bytes } from "./addresses.ts";
import { u16Value, u32Value, Writer } from "./writer.ts";
import {
  decodeDnssecRdata,
  type DnssecRData,
  encodeDnssecRdata,
  formatDnssecRdata,
} from "./dnssec_rdata.ts";
import { toHex } from "./text_encodings.ts";

/** One EDNS option (RFC 6891 6.1.2). */
export interface EdnsOption {
  code: number;
  data: Uint8Array;
}

/** Types whose rdata is one name (MD, MF, MB, MG and MR: RFC 1035's obsolete and experimental). */
export type TargetKind = "NS" | "CNAME" | "PTR" | "MD" | "MF" | "MB" | "MG" | "MR";

/** Decoded rdata; `kind` says which shape it has. */
export type RData =
  | { kind: "A"; address: string }
  | { kind: "AAAA"; address: string }
  | { kind: TargetKind; target: string }
  | { kind: "MINFO"; rmailbx: string; emailbx: string }
  | { kind: "MX"; preference: number; exchange: string }
  | {
    kind: "SOA";
    mname: string;
    rname: string;
    serial: number;
    refresh: number;
    retry: number;
    expire: number;
    minimum: number;
  }
  | { kind: "TXT"; strings: Uint8Array[] }
  | { kind: "SRV"; priority: number; weight: number; port: number; target: string }
  | { kind: "CAA"; flags: number; tag: string; value: Uint8Array }
  | { kind: "OPT"; options: EdnsOption[] }
  | DnssecRData
  | { kind: "UNKNOWN"; bytes: Uint8Array };

/**
 * A resource record. For OPT (EDNS0) the fixed fields are carried raw: `class` is the UDP
 * payload size and `ttl` holds the extended rcode, version and DO bit (see `getEdns`).
 */
export interface ResourceRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  data: RData;
}

/** Lowercase hex, as RFC 3597's generic form is printed. */
function hex(bytes: Uint8Array): string {
  return toHex(bytes).toLowerCase();
}

function latin1(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

interface RdataCodec {
  decode(buf: Uint8Array, offset: number, end: number, ctx: DecodeContext): RData;
  encode(w: Writer, data: RData, compress: boolean): void;
  format(data: RData): string;
}

function expectKind<K extends RData["kind"]>(
  data: RData,
  kinds: readonly K[],
): Extract<RData, { kind: K }> {
  if (!(kinds as readonly string[]).includes(data.kind)) {
    throw new TypeError(`Cannot encode ${kinds.join("/")} rdata from a "${data.kind}" value`);
  }
  return data as Extract<RData, { kind: K }>;
}

function checkEnd(at: number, end: number, what: string, start: number): void {
  if (at !== end) {
    throw formatError(
      start,
      what,
      `rdlength ${end - start} does not match the rdata (${at - start} bytes)`,
    );
  }
}

const aCodec: RdataCodec = {
  decode(buf, offset, end) {
    if (end - offset !== 4) {
      throw formatError(
        offset,
        "A rdata",
        `rdlength ${end - offset} does not match the rdata (4 bytes)`,
      );
    }
    return {
      kind: "A",
      address: `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`,
    };
  },
  encode(w, data) {
    w.bytes(ipv4Bytes(expectKind(data, ["A"]).address));
  },
  format: (data) => expectKind(data, ["A"]).address,
};

const aaaaCodec: RdataCodec = {
  decode(buf, offset, end) {
    if (end - offset !== 16) {
      throw formatError(
        offset,
        "AAAA rdata",
        `rdlength ${end - offset} does not match the rdata (16 bytes)`,
      );
    }
    return { kind: "AAAA", address: formatIPv6Bytes(buf.subarray(offset, end)) };
  },
  encode(w, data) {
    w.bytes(ipv6Bytes(expectKind(data, ["AAAA"]).address));
  },
  format: (data) => expectKind(data, ["AAAA"]).address,
};

const TARGET_KINDS: TargetKind[] = ["NS", "CNAME", "PTR", "MD", "MF", "MB", "MG", "MR"];

function targetCodec(kind: TargetKind): RdataCodec {
  return {
    decode(buf, offset, end, ctx) {
      const [target, at] = readName(buf, offset, end, ctx);
      checkEnd(at, end, `${kind} rdata`, offset);
      return { kind, target };
    },
    encode(w, data, compress) {
      w.name(expectKind(data, TARGET_KINDS).target, compress);
    },
    format: (data) => expectKind(data, TARGET_KINDS).target,
  };
}

const minfoCodec: RdataCodec = {
  decode(buf, offset, end, ctx) {
    const [rmailbx, a1] = readName(buf, offset, end, ctx);
    const [emailbx, a2] = readName(buf, a1, end, ctx);
    checkEnd(a2, end, "MINFO rdata", offset);
    return { kind: "MINFO", rmailbx, emailbx };
  },
  encode(w, data, compress) {
    const minfo = expectKind(data, ["MINFO"]);
    w.name(minfo.rmailbx, compress);
    w.name(minfo.emailbx, compress);
  },
  format(data) {
    const m = expectKind(data, ["MINFO"]);
    return `${m.rmailbx} ${m.emailbx}`;
  },
};

const mxCodec: RdataCodec = {
  decode(buf, offset, end, ctx) {
    const [preference, at] = readU16(buf, offset, end, "MX rdata");
    const [exchange, at2] = readName(buf, at, end, ctx);
    checkEnd(at2, end, "MX rdata", offset);
    return { kind: "MX", preference, exchange };
  },
  encode(w, data, compress) {
    const mx = expectKind(data, ["MX"]);
    w.u16(u16Value(mx.preference, "MX preference"));
    w.name(mx.exchange, compress);
  },
  format(data) {
    const mx = expectKind(data, ["MX"]);
    return `${mx.preference} ${mx.exchange}`;
  },
};

const soaCodec: RdataCodec = {
  decode(buf, offset, end, ctx) {
    const [mname, a1] = readName(buf, offset, end, ctx);
    const [rname, a2] = readName(buf, a1, end, ctx);
    const [serial, a3] = readU32(buf, a2, end, "SOA rdata");
    const [refresh, a4] = readU32(buf, a3, end, "SOA rdata");
    const [retry, a5] = readU32(buf, a4, end, "SOA rdata");
    const [expire, a6] = readU32(buf, a5, end, "SOA rdata");
    const [minimum, a7] = readU32(buf, a6, end, "SOA rdata");
    checkEnd(a7, end, "SOA rdata", offset);
    return { kind: "SOA", mname, rname, serial, refresh, retry, expire, minimum };
  },
  encode(w, data, compress) {
    const soa = expectKind(data, ["SOA"]);
    w.name(soa.mname, compress);
    w.name(soa.rname, compress);
    w.u32(u32Value(soa.serial, "SOA serial"));
    w.u32(u32Value(soa.refresh, "SOA refresh"));
    w.u32(u32Value(soa.retry, "SOA retry"));
    w.u32(u32Value(soa.expire, "SOA expire"));
    w.u32(u32Value(soa.minimum, "SOA minimum"));
  },
  format(data) {
    const s = expectKind(data, ["SOA"]);
    return `${s.mname} ${s.rname} ${s.serial} ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`;
  },
};

const txtCodec: RdataCodec = {
  decode(buf, offset, end) {
    if (offset === end) {
      throw formatError(
        offset,
        "TXT rdata",
        "rdlength 0 does not match the rdata (at least 1 byte)",
      );
    }
    const strings: Uint8Array[] = [];
    let at = offset;
    while (at < end) {
      const [s, next] = readCharacterString(buf, at, end, "TXT rdata");
      strings.push(s);
      at = next;
    }
    return { kind: "TXT", strings };
  },
  encode(w, data) {
    const txt = expectKind(data, ["TXT"]);
    if (txt.strings.length === 0) throw new RangeError("Cannot encode TXT rdata: no strings");
    for (const s of txt.strings) w.characterString(s, "TXT rdata");
  },
  format: (data) => expectKind(data, ["TXT"]).strings.map(quoteString).join(" "),
};

const srvCodec: RdataCodec = {
  decode(buf, offset, end, ctx) {
    const [priority, a1] = readU16(buf, offset, end, "SRV rdata");
    const [weight, a2] = readU16(buf, a1, end, "SRV rdata");
    const [port, a3] = readU16(buf, a2, end, "SRV rdata");
    const [target, a4] = readName(buf, a3, end, ctx);
    checkEnd(a4, end, "SRV rdata", offset);
    return { kind: "SRV", priority, weight, port, target };
  },
  encode(w, data, compress) {
    const srv = expectKind(data, ["SRV"]);
    w.u16(u16Value(srv.priority, "SRV priority"));
    w.u16(u16Value(srv.weight, "SRV weight"));
    w.u16(u16Value(srv.port, "SRV port"));
    w.name(srv.target, compress); // decoded compressed (RFC 3597 4), so encoded so too
  },
  format(data) {
    const s = expectKind(data, ["SRV"]);
    return `${s.priority} ${s.weight} ${s.port} ${s.target}`;
  },
};

const caaCodec: RdataCodec = {
  decode(buf, offset, end) {
    const [flags, a1] = readU8(buf, offset, end, "CAA rdata");
    const [tagLength, a2] = readU8(buf, a1, end, "CAA rdata");
    if (tagLength === 0) throw formatError(a1, "CAA rdata", "empty tag");
    const [tag, a3] = readBytes(buf, a2, tagLength, end, "CAA rdata");
    for (const b of tag) {
      if (!((b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122))) {
        throw formatError(a2, "CAA rdata", "tag is not alphanumeric");
      }
    }
    return { kind: "CAA", flags, tag: latin1(tag), value: buf.slice(a3, end) };
  },
  encode(w, data) {
    const caa = expectKind(data, ["CAA"]);
    if (!/^[A-Za-z0-9]{1,255}$/.test(caa.tag)) {
      throw new RangeError(
        `Cannot encode CAA tag "${printableText(caa.tag)}": expected 1-255 letters or digits`,
      );
    }
    w.u8(caa.flags & 0xff);
    w.u8(caa.tag.length);
    for (let i = 0; i < caa.tag.length; i++) w.u8(caa.tag.charCodeAt(i));
    w.bytes(caa.value);
  },
  format(data) {
    const c = expectKind(data, ["CAA"]);
    return `${c.flags} ${c.tag} ${quoteString(c.value)}`;
  },
};

function optionsBytes(options: EdnsOption[]): Uint8Array {
  let total = 0;
  for (const o of options) total += 4 + o.data.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const o of options) {
    u16Value(o.code, "EDNS option code");
    u16Value(o.data.length, "EDNS option length");
    out[at] = o.code >> 8;
    out[at + 1] = o.code & 0xff;
    out[at + 2] = o.data.length >> 8;
    out[at + 3] = o.data.length & 0xff;
    out.set(o.data, at + 4);
    at += 4 + o.data.length;
  }
  return out;
}

const optCodec: RdataCodec = {
  decode(buf, offset, end) {
    const options: EdnsOption[] = [];
    let at = offset;
    while (at < end) {
      const [code, a1] = readU16(buf, at, end, "OPT option");
      const [len, a2] = readU16(buf, a1, end, "OPT option");
      const [data, a3] = readBytes(buf, a2, len, end, "OPT option");
      options.push({ code, data });
      at = a3;
    }
    return { kind: "OPT", options };
  },
  encode(w, data) {
    for (const o of expectKind(data, ["OPT"]).options) {
      w.u16(u16Value(o.code, "EDNS option code"));
      w.u16(u16Value(o.data.length, "EDNS option length"));
      w.bytes(o.data);
    }
  },
  format: (data) => {
    const raw = optionsBytes(expectKind(data, ["OPT"]).options);
    return raw.length ? `\\# ${raw.length} ${hex(raw)}` : "\\# 0";
  },
};

/** DNSSEC types: the codecs live in `wire/dnssec.ts` (their names are never compressed). */
function dnssecCodec(type: number): RdataCodec {
  const kind = typeName(type) as DnssecRData["kind"];
  return {
    decode: (buf, offset, end, ctx) =>
      decodeDnssecRdata(type, buf, offset, end, (b, o, e) => readName(b, o, e, ctx)),
    encode(w, data) {
      w.bytes(encodeDnssecRdata(expectKind(data, [kind])));
    },
    format: (data) => formatDnssecRdata(expectKind(data, [kind])),
  };
}

const unknownCodec: RdataCodec = {
  decode: (buf, offset, end) => ({ kind: "UNKNOWN", bytes: buf.slice(offset, end) }),
  encode(w, data) {
    w.bytes(expectKind(data, ["UNKNOWN"]).bytes);
  },
  format(data) {
    const b = expectKind(data, ["UNKNOWN"]).bytes;
    return b.length ? `\\# ${b.length} ${hex(b)}` : "\\# 0";
  },
};

/** The rdata codec for each type that has one; everything else uses `unknownCodec`. */
const RDATA_CODECS = new Map<number, RdataCodec>([
  [TYPE.A, aCodec],
  [TYPE.NS, targetCodec("NS")],
  [TYPE.MD, targetCodec("MD")],
  [TYPE.MF, targetCodec("MF")],
  [TYPE.CNAME, targetCodec("CNAME")],
  [TYPE.SOA, soaCodec],
  [TYPE.MB, targetCodec("MB")],
  [TYPE.MG, targetCodec("MG")],
  [TYPE.MR, targetCodec("MR")],
  [TYPE.PTR, targetCodec("PTR")],
  [TYPE.MINFO, minfoCodec],
  [TYPE.MX, mxCodec],
  [TYPE.TXT, txtCodec],
  [TYPE.AAAA, aaaaCodec],
  [TYPE.SRV, srvCodec],
  [TYPE.OPT, optCodec],
  [TYPE.CAA, caaCodec],
  ...[43, 46, 47, 48, 50, 51, 59, 60].map((t) => [t, dnssecCodec(t)] as [number, RdataCodec]),
]);

function codecFor(rr: ResourceRecord): RdataCodec {
  if (rr.data.kind === "UNKNOWN") return unknownCodec;
  const codec = RDATA_CODECS.get(rr.type);
  if (!codec) {
    throw new TypeError(
      `Cannot encode ${
        typeName(rr.type)
      } record "${rr.name}": rdata kind "${rr.data.kind}" needs type ${rr.data.kind}`,
    );
  }
  return codec;
}

/** True when `type` has a typed rdata codec (the rest are kept as RFC 3597 raw bytes). */
export function hasRdataCodec(type: number): boolean {
  return RDATA_CODECS.has(type);
}

/**
 * Decodes the rdata of a record of `type` and `klass` between `offset` and `end`. Empty rdata of
 * class ANY or NONE is how dynamic updates delete: it stays raw.
 */
export function readRdata(
  buf: Uint8Array,
  offset: number,
  end: number,
  type: number,
  klass: number,
  ctx: DecodeContext,
): RData {
  const codec = end === offset && (klass === 255 || klass === 254)
    ? unknownCodec
    : RDATA_CODECS.get(type) ?? unknownCodec;
  return codec.decode(buf, offset, end, ctx);
}

/** Writes `rr`'s rdata (names compressed when `compress`); throws TypeError for a wrong kind. */
export function writeRdata(w: Writer, rr: ResourceRecord, compress: boolean): void {
  codecFor(rr).encode(w, rr.data, compress);
}

/** Just the rdata in master-file form: `10 mail.example.com.`, TXT quoted, unknown `\# 4 0a000001`. */
export function formatRdata(rr: ResourceRecord): string {
  if (rr.data.kind === "UNKNOWN") return unknownCodec.format(rr.data);
  const codec = RDATA_CODECS.get(rr.type);
  return codec ? codec.format(rr.data) : unknownCodec.format(rr.data);
}

/** A record the way dig prints it: `www.cnblogs.com.\t600\tIN\tA\t1.2.3.4`. */
export function formatRecord(rr: ResourceRecord): string {
  return `${rr.name}\t${rr.ttl}\t${className(rr.class)}\t${typeName(rr.type)}\t${formatRdata(rr)}`;
}

/** Decodes standalone rdata of `type` (no compression possible); throws DnsFormatError. */
export function decodeRdata(type: number, bytes: Uint8Array): RData {
  const codec = RDATA_CODECS.get(type) ?? unknownCodec;
  return codec.decode(bytes, 0, bytes.length, newDecodeContext());
}

/** The uncompressed wire form of a record's rdata (for comparing records and RFC 3597 text). */
export function encodeRdata(rr: ResourceRecord): Uint8Array {
  const w = new Writer(false);
  codecFor(rr).encode(w, rr.data, false);
  return w.buf.slice(0, w.pos);
}

/** The length of `encodeRdata(rr)`, without making a copy of it. */
export function rdataLength(rr: ResourceRecord): number {
  const w = new Writer(false);
  codecFor(rr).encode(w, rr.data, false);
  return w.pos;
}
