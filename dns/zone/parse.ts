/**
 * RFC 1035 master-file ("zone file") parser: text in, resource records out. Pure: no I/O (an
 * `$INCLUDE` is read through a callback the caller passes, and is refused without one).
 *
 * Theory of operation
 * - `zone/tokenize.ts` turns the text into entries, one per logical line.
 * - Each entry is a directive (`$ORIGIN`, `$TTL`, `$INCLUDE`) or a record
 *   `[owner] [ttl] [class] type rdata…` where TTL and class may come in either order and
 *   default to `$TTL` (else the last TTL given) and the previous class. `@` is the origin and a
 *   name without a trailing dot is relative to it. The rdata is read by `zone/record_text.ts`.
 * - The zone is then checked the way NSD and BIND check it: exactly one SOA, at the apex; no
 *   data outside the apex; no CNAME beside other data (but RRSIG and NSEC, RFC 4035 §2.5).
 *   Exact duplicates are dropped.
 * Every error is a `ZoneSyntaxError` whose message starts with `file:line: `.
 */
import { CLASS, parseClass, parseType, TYPE, typeName } from "../wire/constants.ts";
import { encodeRdata, type ResourceRecord } from "../wire/rdata.ts";
import { DnsFormatError, printableText } from "../wire/primitives.ts";
import { isSubdomain, nameKey, namesEqual, normalizeName } from "../wire/names.ts";
import { type Entry, tokenize } from "./tokenize.ts";
import { parseRdata, parseTtl } from "./record_text.ts";

/** Default cap on one physical line (long DKIM/TXT lines still fit). */
export const MAX_ZONE_LINE_LENGTH = 16 * 1024;
/** Default cap on the number of records in one zone. */
export const MAX_ZONE_RECORDS = 100_000;
/** How deep `$INCLUDE`s may nest. */
export const MAX_INCLUDE_DEPTH = 4;

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
    const entries = tokenize(
      source,
      options.maxLineLength ?? MAX_ZONE_LINE_LENGTH,
      (detail, line) => new ZoneSyntaxError(fileName, line, detail),
    );
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
