/**
 * RFC 1035 master-file ("zone file") parser: text in, resource records out. Pure: no I/O (an
 * `$INCLUDE` is read through a callback the caller passes, and is refused without one).
 *
 * Theory of operation
 * - A tokenizer turns the text into entries: one per logical line, where parentheses join
 *   physical lines, `;` starts a comment, `"…"` is one token (escapes kept), and a line that
 *   starts with a blank inherits the previous owner.
 * - Each entry is a directive (`$ORIGIN`, `$TTL`, `$INCLUDE`) or a record
 *   `[owner] [ttl] [class] type rdata…` where TTL and class may come in either order and
 *   default to `$TTL` (else the last TTL given) and the previous class. `@` is the origin and a
 *   name without a trailing dot is relative to it.
 * - Rdata is parsed per type (the types `dns/message.ts` has codecs for, plus HINFO and SPF;
 *   the DNSSEC types through `dns/wire/dnssec.ts`),
 *   or given in RFC 3597 generic form `\# len hex` for any type.
 * - The zone is then checked the way NSD and BIND check it: exactly one SOA, at the apex; no
 *   data outside the apex; no CNAME beside other data (but RRSIG and NSEC, RFC 4035 §2.5).
 *   Exact duplicates are dropped.
 * Every error is a `ZoneSyntaxError` whose message starts with `file:line: `.
 */
import { CLASS, parseClass, parseType, TYPE, typeName } from "../wire/constants.ts";
import {
  decodeRdata,
  encodeRdata,
  type RData,
  type ResourceRecord,
  type TargetKind,
} from "../wire/rdata.ts";
import { DnsFormatError, printableText } from "../wire/primitives.ts";
import { isSubdomain, nameKey, namesEqual, normalizeName } from "../wire/names.ts";
import { ipv4Bytes, ipv6Bytes } from "../wire/addresses.ts";
import { isDnssecType, parseDnssecRdata } from "../wire/dnssec_rdata.ts";

/** Default cap on one physical line (long DKIM/TXT lines still fit). */
export const MAX_ZONE_LINE_LENGTH = 16 * 1024;
/** Default cap on the number of records in one zone. */
export const MAX_ZONE_RECORDS = 100_000;
/** How deep `$INCLUDE`s may nest. */
export const MAX_INCLUDE_DEPTH = 4;
/** The largest TTL (RFC 2181 section 8). */
export const MAX_TTL = 0x7fffffff;

/**
 * Classes that only exist in queries and updates: NONE (254) and ANY (255), plus the reserved 0
 * (RFC 6895 3.2). A record in a zone has a real class.
 */
const QUERY_ONLY_CLASSES = new Set([0, 254, 255]);
/**
 * Types that are not data (RFC 6895 3.1): the reserved 0, OPT (a message's EDNS), TKEY and TSIG
 * (transaction security), IXFR, AXFR, MAILB, MAILA and ANY (question types only).
 */
const QUERY_ONLY_TYPES = new Set([0, TYPE.OPT, 249, TYPE.TSIG, 251, 252, 253, 254, TYPE.ANY]);

const TYPE_HINFO = 13;
const TYPE_SPF = 99;

/** A zone file that cannot be loaded; the message starts with `file:line: `. */
export class ZoneSyntaxError extends SyntaxError {
  override name = "ZoneSyntaxError";
  constructor(readonly file: string, readonly line: number, readonly detail: string) {
    // Details echo the file's text: control characters in it must not break the line.
    super(`${printableText(file)}:${line}: ${printableText(detail)}`);
  }
}

/** Options for `parseZone`. */
export interface ZoneOptions {
  /** The file name used in error messages (default `zone`). */
  file?: string;
  /** The initial `$ORIGIN` and, when given, the zone's apex (NSD/BIND take it from config). */
  origin?: string;
  /** The TTL before any `$TTL` or explicit TTL (default 3600, as NSD). */
  defaultTtl?: number;
  /** Longest physical line (default `MAX_ZONE_LINE_LENGTH`). */
  maxLineLength?: number;
  /** Most records (default `MAX_ZONE_RECORDS`). */
  maxRecords?: number;
  /** Reads an `$INCLUDE` file; without it `$INCLUDE` is an error. */
  include?: (path: string) => string;
  /** Skip the zone checks (SOA, apex, CNAME): parse records only. */
  recordsOnly?: boolean;
}

/** A parsed zone: its apex and records (in file order, duplicates dropped). */
export interface Zone {
  origin: string;
  records: ResourceRecord[];
  /** The source line of each record, for later error messages. */
  lines: number[];
}

interface Token {
  text: string;
  quoted: boolean;
}

interface Entry {
  line: number;
  /** The line began with a blank: the owner is the previous one. */
  blankOwner: boolean;
  tokens: Token[];
}

/** Splits master-file text into entries (logical lines). */
function tokenize(text: string, file: string, maxLineLength: number): Entry[] {
  const entries: Entry[] = [];
  let line = 1;
  let lineStart = 0;
  let depth = 0;
  let parenLine = 0;
  let current: Entry | null = null;
  let token = "";
  let inToken = false;
  const fail = (detail: string, at = line) => new ZoneSyntaxError(file, at, detail);
  const endToken = () => {
    if (inToken) {
      current!.tokens.push({ text: token, quoted: false });
      token = "";
      inToken = false;
    }
  };
  const startEntry = (blank: boolean) => {
    current = { line, blankOwner: blank, tokens: [] };
  };
  const endEntry = () => {
    endToken();
    if (current && current.tokens.length) entries.push(current);
    current = null;
  };
  startEntry(text[0] === " " || text[0] === "\t");
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text[i];
    if (c === "\n") {
      if (i - lineStart > maxLineLength) {
        throw fail(`line longer than ${maxLineLength} characters`);
      }
      endToken();
      line++;
      lineStart = i + 1;
      if (depth === 0) {
        endEntry();
        const next = text[i + 1];
        startEntry(next === " " || next === "\t");
      }
      continue;
    }
    if (c === " " || c === "\t" || c === "\r") {
      endToken();
      continue;
    }
    if (c === ";") {
      endToken();
      while (i + 1 < n && text[i + 1] !== "\n") i++;
      continue;
    }
    if (c === "(") {
      endToken();
      if (depth === 0) parenLine = line;
      depth++;
      continue;
    }
    if (c === ")") {
      endToken();
      if (depth === 0) throw fail(`unbalanced ")"`);
      depth--;
      continue;
    }
    if (c === '"') {
      endToken();
      let value = "";
      let j = i + 1;
      for (; j < n && text[j] !== '"'; j++) {
        if (text[j] === "\n") throw fail("unterminated quoted string");
        if (text[j] === "\\" && j + 1 < n && text[j + 1] !== "\n") {
          value += text[j] + text[j + 1];
          j++;
        } else {
          value += text[j];
        }
      }
      if (j >= n) throw fail("unterminated quoted string");
      current!.tokens.push({ text: value, quoted: true });
      i = j;
      continue;
    }
    if (c === "\\") {
      // A backslash escapes the next character; at the end of a line it escapes nothing (it
      // would otherwise swallow the dot joining a relative name to its origin).
      const next = text[i + 1];
      if (next === undefined || next === "\n" || next === "\r") {
        throw fail("a backslash ends the line: nothing follows it to escape");
      }
      token += c + next;
      inToken = true;
      i++;
      continue;
    }
    token += c;
    inToken = true;
  }
  if (n - lineStart > maxLineLength) throw fail(`line longer than ${maxLineLength} characters`);
  if (depth > 0) throw fail(`unbalanced "(" opened on line ${parenLine}`, parenLine);
  endEntry();
  return entries;
}

const encoder = new TextEncoder();

/** A master-file string (escapes `\X` and `\DDD`, UTF-8 for the rest) as bytes. */
export function unescapeString(text: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 92 && i + 1 < text.length) {
      const digits = /^\d{3}/.exec(text.slice(i + 1, i + 4));
      if (digits) {
        const v = Number(digits[0]);
        if (v > 255) throw new RangeError(`escape \\${digits[0]} exceeds 255`);
        out.push(v);
        i += 3;
      } else {
        const cp = text.codePointAt(i + 1)!;
        if (cp < 0x80) out.push(cp);
        else out.push(...encoder.encode(String.fromCodePoint(cp)));
        i += cp > 0xffff ? 2 : 1;
      }
    } else if (code < 0x80) {
      out.push(code);
    } else {
      const cp = text.codePointAt(i)!;
      out.push(...encoder.encode(String.fromCodePoint(cp)));
      if (cp > 0xffff) i++;
    }
  }
  return new Uint8Array(out);
}

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

function endsWithUnescapedDot(text: string): boolean {
  if (!text.endsWith(".")) return false;
  let backslashes = 0;
  for (let i = text.length - 2; i >= 0 && text[i] === "\\"; i--) backslashes++;
  return backslashes % 2 === 0;
}

/** Parses and checks a master file. Throws ZoneSyntaxError (`file:line: reason`). */
export function parseZone(text: string, options: ZoneOptions = {}): Zone {
  const file = options.file ?? "zone";
  const maxRecords = options.maxRecords ?? MAX_ZONE_RECORDS;
  const records: ResourceRecord[] = [];
  const lines: number[] = [];
  const seen = new Set<string>();

  interface State {
    origin: string | undefined;
    ttl: number | undefined; // $TTL
    lastTtl: number | undefined;
    lastClass: number;
    lastOwner: string | undefined;
  }
  const state: State = {
    origin: options.origin === undefined ? undefined : normalizeName(options.origin),
    ttl: undefined,
    lastTtl: undefined,
    lastClass: CLASS.IN,
    lastOwner: undefined,
  };

  const parseFile = (source: string, fileName: string, depth: number) => {
    const entries = tokenize(source, fileName, options.maxLineLength ?? MAX_ZONE_LINE_LENGTH);
    for (const entry of entries) {
      const fail = (detail: string) => new ZoneSyntaxError(fileName, entry.line, detail);
      try {
        handleEntry(entry, depth);
      } catch (error) {
        if (error instanceof ZoneSyntaxError) throw error;
        if (error instanceof RangeError || error instanceof DnsFormatError) {
          throw fail(error.message.replace(/^Invalid name/, "invalid name"));
        }
        throw error;
      }
    }
  };

  const absolute = (text: string): string => {
    if (text === "@") {
      if (state.origin === undefined) throw new RangeError(`"@" used with no $ORIGIN`);
      return state.origin;
    }
    if (endsWithUnescapedDot(text)) return normalizeName(text);
    if (state.origin === undefined) {
      throw new RangeError(`relative name "${text}" with no $ORIGIN`);
    }
    return normalizeName(state.origin === "." ? `${text}.` : `${text}.${state.origin}`);
  };

  const handleEntry = (entry: Entry, depth: number) => {
    const tokens = entry.tokens;
    const first = tokens[0];
    if (!entry.blankOwner && !first.quoted && first.text.startsWith("$")) {
      const directive = first.text.toUpperCase();
      const args = tokens.slice(1);
      if (directive === "$ORIGIN") {
        if (args.length !== 1) throw new RangeError("$ORIGIN takes one name");
        state.origin = absolute(args[0].text);
      } else if (directive === "$TTL") {
        if (args.length !== 1) throw new RangeError("$TTL takes one TTL");
        state.ttl = parseTtl(args[0].text);
      } else if (directive === "$INCLUDE") {
        if (!options.include) throw new RangeError("$INCLUDE is not allowed here");
        if (args.length < 1 || args.length > 2) {
          throw new RangeError("$INCLUDE takes a file name and an optional origin");
        }
        if (depth >= MAX_INCLUDE_DEPTH) {
          throw new RangeError(`$INCLUDE nested deeper than ${MAX_INCLUDE_DEPTH}`);
        }
        const saved = state.origin;
        if (args[1]) state.origin = absolute(args[1].text);
        parseFile(options.include(args[0].text), args[0].text, depth + 1);
        state.origin = saved; // RFC 1035: the origin reverts after the included file
      } else {
        throw new RangeError(`unsupported directive "${first.text}"`);
      }
      return;
    }

    let at = 0;
    let owner: string;
    if (entry.blankOwner) {
      if (state.lastOwner === undefined) throw new RangeError("no owner name before this record");
      owner = state.lastOwner;
    } else {
      owner = absolute(tokens[at++].text);
    }
    let ttl: number | undefined;
    let klass: number | undefined;
    let type: number | undefined;
    while (at < tokens.length && type === undefined) {
      const t = tokens[at++];
      if (t.quoted) throw new RangeError(`expected a type, got "${t.text}"`);
      if (ttl === undefined && /^\d/.test(t.text)) {
        ttl = parseTtl(t.text);
      } else if (klass === undefined && /^(IN|CH|HS|NONE|ANY|CLASS\d+)$/i.test(t.text)) {
        klass = parseClass(t.text);
        if (QUERY_ONLY_CLASSES.has(klass)) {
          throw new RangeError(`class ${t.text} cannot appear in a zone file (a query class)`);
        }
      } else {
        try {
          type = parseType(t.text);
        } catch {
          throw new RangeError(`unknown type "${t.text}"`);
        }
      }
    }
    if (type === undefined) throw new RangeError("record without a type");
    if (QUERY_ONLY_TYPES.has(type)) {
      throw new RangeError(`type ${typeName(type)} cannot appear in a zone file`);
    }
    klass ??= state.lastClass;
    const explicitTtl = ttl !== undefined;
    if (ttl === undefined) {
      ttl = state.ttl ?? state.lastTtl ?? options.defaultTtl ?? 3600;
    } else {
      state.lastTtl = ttl;
    }
    const data = parseRdata(type, tokens.slice(at), absolute);
    // Without $TTL or any TTL so far, the SOA minimum is the default (BIND's behaviour).
    if (
      data.kind === "SOA" && !explicitTtl && state.ttl === undefined && state.lastTtl === undefined
    ) {
      ttl = data.minimum;
      state.lastTtl = ttl;
    }
    state.lastOwner = owner;
    state.lastClass = klass;
    const rr: ResourceRecord = { name: owner, type, class: klass, ttl, data };
    const key = `${nameKey(owner)} ${type} ${klass} ${encodeRdata(rr).join(",")}`;
    if (seen.has(key)) return; // exact duplicates are dropped, as NSD and BIND do
    seen.add(key);
    if (records.length >= maxRecords) {
      throw new RangeError(`more than ${maxRecords} records`);
    }
    records.push(rr);
    lines.push(entry.line);
  };

  parseFile(text, file, 0);
  if (options.recordsOnly) {
    return { origin: state.origin ?? ".", records, lines };
  }
  return { ...checkZone(records, lines, file, options.origin), lines };
}

function checkZone(
  records: ResourceRecord[],
  lines: number[],
  file: string,
  origin: string | undefined,
): { origin: string; records: ResourceRecord[] } {
  const soas = records.map((rr, i) => [rr, i] as const).filter(([rr]) => rr.type === TYPE.SOA);
  if (soas.length === 0) {
    throw new ZoneSyntaxError(file, lines.at(-1) ?? 1, "zone has no SOA record");
  }
  if (soas.length > 1) {
    throw new ZoneSyntaxError(file, lines[soas[1][1]], "zone has more than one SOA record");
  }
  const apex = origin === undefined ? soas[0][0].name : normalizeName(origin);
  if (!namesEqual(soas[0][0].name, apex)) {
    throw new ZoneSyntaxError(
      file,
      lines[soas[0][1]],
      `SOA owner "${soas[0][0].name}" is not the zone apex "${apex}"`,
    );
  }
  const byName = new Map<string, { cname: boolean; other: boolean }>();
  records.forEach((rr, i) => {
    if (!isSubdomain(rr.name, apex)) {
      throw new ZoneSyntaxError(file, lines[i], `"${rr.name}" is outside the zone "${apex}"`);
    }
    // RFC 4035 §2.5: a signed CNAME has its RRSIG and NSEC beside it.
    if (rr.type === TYPE.RRSIG || rr.type === TYPE.NSEC) return;
    const key = nameKey(rr.name);
    const seen = byName.get(key) ?? { cname: false, other: false };
    const isCname = rr.type === TYPE.CNAME;
    if ((isCname && (seen.cname || seen.other)) || (!isCname && seen.cname)) {
      throw new ZoneSyntaxError(
        file,
        lines[i],
        isCname && seen.cname
          ? `more than one CNAME at "${rr.name}"`
          : `CNAME and other data at "${rr.name}"`,
      );
    }
    if (isCname) seen.cname = true;
    else seen.other = true;
    byName.set(key, seen);
  });
  return { origin: apex, records };
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

function parseRdata(type: number, fields: Token[], absolute: (name: string) => string): RData {
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
