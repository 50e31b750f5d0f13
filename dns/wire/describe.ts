/**
 * What every byte of a DNS message means: `describeMessage` walks the wire bytes and names each
 * field with its offset — the header's id, every flag bit and the four counts; each question and
 * record with its owner name (every label with its length byte, every compression pointer with
 * the offset it points to and the name found there), type, class, TTL, rdlength and the parts of
 * the rdata. `tcp/kit/explain.ts` lays the fields out as the annotated view `--explain` prints.
 *
 * Values come from `dns/wire/message.ts`'s bounds-checked readers and `decodeMessage`, so the view
 * says exactly what the codec understood. It never throws: a malformed message is described as
 * far as it goes, then a final `error` field carries the codec's `DnsFormatError` (which names
 * the offset and the reason) over the bytes that could not be explained.
 *
 * Pure: no I/O.
 */
import { explainBytes, type ExplainField } from "../../tcp/kit/explain.ts";
import { className, opcodeName, rcodeName, TYPE, typeName } from "./constants.ts";
import { decodeMessage, type Message } from "./message.ts";
import { DnsFormatError, quoteString, readU16, readU32, readU8 } from "./primitives.ts";
import { formatIPv6Bytes } from "./addresses.ts";
import { formatRdata, formatRecord, type ResourceRecord } from "./rdata.ts";
import { labelText, newDecodeContext, readName } from "./names.ts";

/** EDNS option codes worth naming (IANA "DNS EDNS0 Option Codes"). */
const EDNS_OPTION_NAMES: Record<number, string> = {
  3: "NSID",
  8: "client subnet",
  10: "COOKIE",
  11: "TCP keepalive",
  12: "padding",
  15: "extended DNS error",
};

/** The fields found so far and the containers (header, a record, a name) still open. */
class Walk {
  readonly fields: ExplainField[] = [];
  readonly open: ExplainField[] = [];
  /** The end of the last byte described. */
  reached = 0;
  /** The names read so far, as the decoder keeps them: pointers may only point at these. */
  readonly names = newDecodeContext();
  constructor(readonly bytes: Uint8Array) {}

  field(offset: number, length: number, name: string, value: string, depth: number): void {
    this.fields.push({ offset, length, name, value, depth });
    this.reached = Math.max(this.reached, offset + length);
  }

  /** Opens a container; its parts follow it, so it is pushed first and sized at `end`. */
  begin(offset: number, name: string, depth: number, value?: string): ExplainField {
    const container: ExplainField = { offset, length: 0, name, value, depth };
    this.fields.push(container);
    this.open.push(container);
    return container;
  }

  end(container: ExplainField, end: number): void {
    container.length = end - container.offset;
    this.open.splice(this.open.indexOf(container), 1);
    this.reached = Math.max(this.reached, end);
  }

  /** After a failure: every open container ends where the description stopped. */
  closeAll(): void {
    for (const container of this.open) {
      container.length = Math.max(0, this.reached - container.offset);
      // A part that had not started (a name cut off before its first label) says nothing.
      if (container.length === 0 && (container.depth ?? 0) > 0) {
        this.fields.splice(this.fields.indexOf(container), 1);
      }
    }
    this.open.length = 0;
  }
}

/**
 * The fields of a DNS message, in wire order, for `explainBytes`. Never throws: on malformed
 * input the last field is `error` with the decoder's message.
 */
export function describeMessage(bytes: Uint8Array): ExplainField[] {
  let decoded: Message | undefined;
  let problem: unknown;
  try {
    decoded = decodeMessage(bytes);
  } catch (error) {
    problem = error;
  }
  const walk = new Walk(bytes);
  try {
    walkMessage(walk, decoded);
  } catch (error) {
    walk.closeAll();
    problem ??= error;
  }
  if (problem !== undefined) {
    const at = Math.min(walk.reached, bytes.length);
    walk.fields.push({
      offset: at,
      length: bytes.length - at,
      name: "error",
      value: problem instanceof Error ? problem.message : String(problem),
      depth: 0,
    });
  }
  return walk.fields;
}

/** The annotated view of one message (`--explain`), e.g. titled `DNS query, 44 bytes, to …`. */
export function explainMessage(bytes: Uint8Array, title?: string): string {
  return explainBytes(bytes, describeMessage(bytes), { title });
}

function walkMessage(walk: Walk, decoded: Message | undefined): void {
  const counts = describeHeader(walk);
  const bytes = walk.bytes;
  let at = 12;
  const [qd] = counts;
  for (let i = 0; i < qd; i++) {
    const label = qd > 1 ? `question ${i + 1}` : "question";
    const q = decoded?.questions[i];
    const container = walk.begin(
      at,
      label,
      0,
      q ? `${q.name} ${className(q.class)} ${typeName(q.type)}` : undefined,
    );
    const [, afterName] = describeName(walk, at, bytes.length, 1, "name");
    const [type, a1] = readU16(bytes, afterName, bytes.length, "question");
    walk.field(afterName, 2, "type", `${type} (${typeName(type)})`, 1);
    const [klass, a2] = readU16(bytes, a1, bytes.length, "question");
    walk.field(a1, 2, "class", `${klass} (${className(klass)})`, 1);
    walk.end(container, a2);
    at = a2;
  }
  const sections: [string, number, ResourceRecord[] | undefined][] = [
    ["answer", counts[1], decoded?.answers],
    ["authority", counts[2], decoded?.authorities],
    ["additional", counts[3], decoded?.additionals],
  ];
  for (const [section, count, records] of sections) {
    for (let i = 0; i < count; i++) {
      at = describeRecord(walk, at, `${section} ${i + 1}`, records?.[i]);
    }
  }
}

/** `1... .... .... ....`: where `mask`'s bits sit in the 16-bit flags word, and their value. */
function bitPicture(word: number, mask: number): string {
  let out = "";
  for (let bit = 15; bit >= 0; bit--) {
    out += (mask >> bit) & 1 ? String((word >> bit) & 1) : ".";
    if (bit % 4 === 0 && bit > 0) out += " ";
  }
  return out;
}

function describeHeader(walk: Walk): [number, number, number, number] {
  const bytes = walk.bytes;
  const end = bytes.length;
  const header = walk.begin(0, "header", 0);
  const [id] = readU16(bytes, 0, end, "header");
  walk.field(0, 2, "id", `${id} (0x${id.toString(16).padStart(4, "0")})`, 1);
  const [word] = readU16(bytes, 2, end, "header");
  const qr = (word & 0x8000) !== 0;
  const opcode = (word >> 11) & 0x0f;
  const rcode = word & 0x0f;
  const set = ["aa", "tc", "rd", "ra", "ad", "cd"].filter((_, i) =>
    word & [0x0400, 0x0200, 0x0100, 0x80, 0x20, 0x10][i]
  );
  header.value = `${qr ? "response" : "query"}, id ${id}`;
  const flagsField = walk.begin(2, "flags", 1, `0x${word.toString(16).padStart(4, "0")}`);
  const bit = (name: string, mask: number, on: string, off: string) =>
    walk.field(2, 2, name, `${bitPicture(word, mask)} = ${word & mask ? on : off}`, 2);
  bit("QR", 0x8000, "response", "query");
  walk.field(2, 2, "opcode", `${bitPicture(word, 0x7800)} = ${opcode} (${opcodeName(opcode)})`, 2);
  bit("AA", 0x0400, "authoritative answer", "not authoritative");
  bit("TC", 0x0200, "truncated", "not truncated");
  bit("RD", 0x0100, "recursion desired", "no recursion desired");
  bit("RA", 0x0080, "recursion available", "recursion not available");
  if (word & 0x0040) bit("Z", 0x0040, "reserved bit set (must be 0)", "");
  bit("AD", 0x0020, "authenticated data", "data not authenticated");
  bit("CD", 0x0010, "checking disabled", "checking enabled");
  walk.field(2, 2, "rcode", `${bitPicture(word, 0x000f)} = ${rcode} (${rcodeName(rcode)})`, 2);
  walk.end(flagsField, 4);
  if (set.length) header.value += `, ${set.join(" ")}`;
  const counts: number[] = [];
  const names = [
    ["QDCOUNT", "question", "questions"],
    ["ANCOUNT", "answer", "answers"],
    ["NSCOUNT", "authority record", "authority records"],
    ["ARCOUNT", "additional record", "additional records"],
  ];
  for (let i = 0; i < 4; i++) {
    const [count] = readU16(bytes, 4 + 2 * i, end, "header");
    const [name, one, many] = names[i];
    walk.field(4 + 2 * i, 2, name, `${count} ${count === 1 ? one : many}`, 1);
    counts.push(count);
  }
  walk.end(header, 12);
  return counts as [number, number, number, number];
}

/**
 * Describes the name at `offset` (its uncompressed part must end by `end`): one field per label,
 * the root label or the pointer that ends it. Returns the name and the offset after it; throws
 * the codec's error for a bad name once its readable labels are described.
 */
function describeName(
  walk: Walk,
  offset: number,
  end: number,
  depth: number,
  label: string,
): [string, number] {
  const bytes = walk.bytes;
  let result: [string, number] | undefined;
  let problem: unknown;
  try {
    result = readName(bytes, offset, end, walk.names);
  } catch (error) {
    problem = error;
  }
  const container = walk.begin(offset, label, depth, result?.[0]);
  let pos = offset;
  while (pos < end) {
    const length = bytes[pos];
    if (length === 0) {
      walk.field(pos, 1, "root", "0 (end of name)", depth + 1);
      pos++;
      break;
    }
    if ((length & 0xc0) === 0xc0) {
      if (pos + 2 > end) break;
      const target = ((length & 0x3f) << 8) | bytes[pos + 1];
      const expands = walk.names.names.get(target)?.name ?? "(not an earlier name)";
      walk.field(
        pos,
        2,
        "pointer",
        `to offset ${target} (0x${hex4(target)}) → ${expands}`,
        depth + 1,
      );
      pos += 2;
      break;
    }
    if ((length & 0xc0) !== 0 || pos + 1 + length > end) break;
    walk.field(
      pos,
      1 + length,
      "label",
      `${length} "${labelText(bytes, pos + 1, length)}"`,
      depth + 1,
    );
    pos += 1 + length;
  }
  if (!result) throw problem;
  walk.end(container, result[1]);
  return result;
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, "0");
}

/** `600 (10m)`, `172800 (2d)`: a TTL or an SOA timer with its human length. */
export function formatSeconds(seconds: number): string {
  if (seconds === 0) return "0";
  const units: [number, string][] = [[86400, "d"], [3600, "h"], [60, "m"], [1, "s"]];
  let left = seconds;
  let human = "";
  for (const [size, unit] of units) {
    if (left >= size) {
      human += `${Math.floor(left / size)}${unit}`;
      left %= size;
    }
  }
  return `${seconds} (${human})`;
}

function describeRecord(
  walk: Walk,
  offset: number,
  label: string,
  decoded: ResourceRecord | undefined,
): number {
  const bytes = walk.bytes;
  const end = bytes.length;
  const summary = decoded === undefined
    ? undefined
    : decoded.type === TYPE.OPT
    ? "OPT pseudo-record (EDNS0)"
    : formatRecord(decoded).replaceAll("\t", " ");
  const record = walk.begin(offset, label, 0, summary);
  const [, a1] = describeName(walk, offset, end, 1, "name");
  const [type, a2] = readU16(bytes, a1, end, "record");
  walk.field(a1, 2, "type", `${type} (${typeName(type)})`, 1);
  const [klass, a3] = readU16(bytes, a2, end, "record");
  const [ttl, a4] = readU32(bytes, a3, end, "record");
  if (type === TYPE.OPT) {
    // EDNS0 (RFC 6891) reuses CLASS and TTL for its own fields.
    walk.field(a2, 2, "UDP size", `${klass} (largest UDP reply the sender accepts)`, 1);
    walk.field(a3, 1, "extended rcode", `${ttl >>> 24} (upper 8 bits of the rcode)`, 1);
    walk.field(a3 + 1, 1, "EDNS version", String((ttl >>> 16) & 0xff), 1);
    const flags = ttl & 0xffff;
    walk.field(
      a3 + 2,
      2,
      "EDNS flags",
      `${bitPicture(flags, 0x8000)} = DO ${flags & 0x8000 ? "1 (DNSSEC OK)" : "0"}`,
      1,
    );
  } else {
    walk.field(a2, 2, "class", `${klass} (${className(klass)})`, 1);
    walk.field(a3, 4, "TTL", formatSeconds(ttl), 1);
  }
  const [rdlength, a5] = readU16(bytes, a4, end, "record");
  walk.field(a4, 2, "rdlength", `${rdlength}`, 1);
  const rdEnd = a5 + rdlength;
  if (rdEnd > end) {
    throw new DnsFormatError(
      `Cannot decode record at offset ${a4}: rdlength ${rdlength} runs past the end of the message (${
        end - a5
      } bytes left)`,
      a4,
    );
  }
  const rdata = walk.begin(
    a5,
    "rdata",
    1,
    decoded && decoded.type !== TYPE.OPT ? formatRdata(decoded) : undefined,
  );
  describeRdata(walk, type, a5, rdEnd, rdata);
  walk.end(rdata, rdEnd);
  walk.end(record, rdEnd);
  return rdEnd;
}

function describeRdata(
  walk: Walk,
  type: number,
  start: number,
  end: number,
  container: ExplainField,
): void {
  const bytes = walk.bytes;
  const depth = 2;
  const u16 = (at: number, name: string, what: string): number => {
    const [value, next] = readU16(bytes, at, end, what);
    walk.field(at, 2, name, String(value), depth);
    return next;
  };
  const u32 = (at: number, name: string, what: string, asTime = true): number => {
    const [value, next] = readU32(bytes, at, end, what);
    walk.field(at, 4, name, asTime ? formatSeconds(value) : String(value), depth);
    return next;
  };
  const length = end - start;
  if (length === 0) {
    container.value = "(empty)";
    return;
  }
  switch (type) {
    case TYPE.A:
      if (length === 4) {
        walk.field(start, 4, "address", bytes.subarray(start, end).join("."), depth);
      }
      return;
    case TYPE.AAAA:
      if (length === 16) {
        walk.field(start, 16, "address", formatIPv6Bytes(bytes.subarray(start, end)), depth);
      }
      return;
    case TYPE.NS:
    case TYPE.CNAME:
    case TYPE.PTR:
    case TYPE.MD:
    case TYPE.MF:
    case TYPE.MB:
    case TYPE.MG:
    case TYPE.MR:
      describeName(walk, start, end, depth, "target");
      return;
    case TYPE.MINFO: {
      const [, a1] = describeName(walk, start, end, depth, "rmailbx (responsible)");
      describeName(walk, a1, end, depth, "emailbx (errors)");
      return;
    }
    case TYPE.MX:
      describeName(walk, u16(start, "preference", "MX rdata"), end, depth, "exchange");
      return;
    case TYPE.SOA: {
      const [, a1] = describeName(walk, start, end, depth, "mname (primary)");
      let at = describeName(walk, a1, end, depth, "rname (mailbox)")[1];
      at = u32(at, "serial", "SOA rdata", false);
      at = u32(at, "refresh", "SOA rdata");
      at = u32(at, "retry", "SOA rdata");
      at = u32(at, "expire", "SOA rdata");
      u32(at, "minimum (neg. TTL)", "SOA rdata");
      return;
    }
    case TYPE.TXT: {
      let at = start;
      while (at < end) {
        const [n] = readU8(bytes, at, end, "TXT rdata");
        if (at + 1 + n > end) return;
        walk.field(
          at,
          1 + n,
          "string",
          `${n} ${quoteString(bytes.subarray(at + 1, at + 1 + n))}`,
          depth,
        );
        at += 1 + n;
      }
      return;
    }
    case TYPE.SRV: {
      const at = u16(
        u16(u16(start, "priority", "SRV rdata"), "weight", "SRV rdata"),
        "port",
        "SRV rdata",
      );
      describeName(walk, at, end, depth, "target");
      return;
    }
    case TYPE.CAA: {
      const [flags, a1] = readU8(bytes, start, end, "CAA rdata");
      walk.field(start, 1, "flags", `${flags}${flags & 0x80 ? " (critical)" : ""}`, depth);
      const [tagLength, a2] = readU8(bytes, a1, end, "CAA rdata");
      walk.field(a1, 1, "tag length", String(tagLength), depth);
      if (a2 + tagLength > end) return;
      walk.field(a2, tagLength, "tag", labelText(bytes, a2, tagLength), depth);
      const valueAt = a2 + tagLength;
      if (valueAt < end) {
        walk.field(
          valueAt,
          end - valueAt,
          "value",
          quoteString(bytes.subarray(valueAt, end)),
          depth,
        );
      }
      return;
    }
    case TYPE.OPT: {
      let at = start;
      while (at < end) {
        const [code, a1] = readU16(bytes, at, end, "OPT option");
        const [n, a2] = readU16(bytes, a1, end, "OPT option");
        const option = walk.begin(at, "option", depth, EDNS_OPTION_NAMES[code] ?? `option ${code}`);
        walk.field(
          at,
          2,
          "code",
          `${code}${EDNS_OPTION_NAMES[code] ? ` (${EDNS_OPTION_NAMES[code]})` : ""}`,
          depth + 1,
        );
        walk.field(a1, 2, "length", String(n), depth + 1);
        if (a2 + n > end) {
          walk.end(option, a2);
          return;
        }
        if (n > 0) walk.field(a2, n, "data", `${n} bytes`, depth + 1);
        walk.end(option, a2 + n);
        at = a2 + n;
      }
      container.value = "EDNS options";
      return;
    }
    default:
      walk.field(
        start,
        length,
        "data",
        `${length} bytes (no codec for ${typeName(type)}: RFC 3597)`,
        depth,
      );
  }
}
