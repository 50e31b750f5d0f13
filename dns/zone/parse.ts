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
import { type Entry, type Token, tokenize } from "./tokenize.ts";
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
  const reader = new ZoneReader(options);
  reader.readFile(text, file, 0);
  const { records, lines } = reader;
  if (options.recordsOnly) return { origin: reader.origin ?? ".", records, lines };
  return { ...checkZone(records, lines, file, options.origin), lines };
}

/** The state of reading one zone: `$ORIGIN`, `$TTL`, what the last record set, what was read. */
class ZoneReader {
  readonly records: ResourceRecord[] = [];
  readonly lines: number[] = [];
  origin: string | undefined;
  readonly #seen = new Set<string>();
  #ttl: number | undefined; // $TTL
  #lastTtl: number | undefined;
  #lastClass: number = CLASS.IN;
  #lastOwner: string | undefined;

  constructor(readonly options: ZoneOptions) {
    this.origin = options.origin === undefined ? undefined : normalizeName(options.origin);
  }

  /** Reads the entries of one file (`depth` > 0 inside an `$INCLUDE`). */
  readFile(source: string, fileName: string, depth: number): void {
    const entries = tokenize(
      source,
      this.options.maxLineLength ?? MAX_ZONE_LINE_LENGTH,
      (detail, line) => new ZoneSyntaxError(fileName, line, detail),
    );
    for (const entry of entries) {
      try {
        this.#entry(entry, depth);
      } catch (error) {
        if (error instanceof ZoneSyntaxError) throw error;
        if (error instanceof RangeError || error instanceof DnsFormatError) {
          const detail = error.message.replace(/^Invalid name/, "invalid name");
          throw new ZoneSyntaxError(fileName, entry.line, detail);
        }
        throw error;
      }
    }
  }

  /** `text` as an absolute name: `@` is the origin, a name without a final dot is below it. */
  absolute = (text: string): string => {
    if (text === "@") {
      if (this.origin === undefined) throw new RangeError(`"@" used with no $ORIGIN`);
      return this.origin;
    }
    if (endsWithUnescapedDot(text)) return normalizeName(text);
    if (this.origin === undefined) {
      throw new RangeError(`relative name "${text}" with no $ORIGIN`);
    }
    return normalizeName(this.origin === "." ? `${text}.` : `${text}.${this.origin}`);
  };

  #entry(entry: Entry, depth: number): void {
    const first = entry.tokens[0];
    if (!entry.blankOwner && !first.quoted && first.text.startsWith("$")) {
      this.#directive(first.text, entry.tokens.slice(1), depth);
    } else {
      this.#record(entry);
    }
  }

  /** `$ORIGIN name`, `$TTL ttl` or `$INCLUDE file [origin]`. */
  #directive(name: string, args: Token[], depth: number): void {
    const directive = name.toUpperCase();
    if (directive === "$ORIGIN") {
      if (args.length !== 1) throw new RangeError("$ORIGIN takes one name");
      this.origin = this.absolute(args[0].text);
    } else if (directive === "$TTL") {
      if (args.length !== 1) throw new RangeError("$TTL takes one TTL");
      this.#ttl = parseTtl(args[0].text);
    } else if (directive === "$INCLUDE") {
      const include = this.options.include;
      if (!include) throw new RangeError("$INCLUDE is not allowed here");
      if (args.length < 1 || args.length > 2) {
        throw new RangeError("$INCLUDE takes a file name and an optional origin");
      }
      if (depth >= MAX_INCLUDE_DEPTH) {
        throw new RangeError(`$INCLUDE nested deeper than ${MAX_INCLUDE_DEPTH}`);
      }
      const saved = this.origin;
      if (args[1]) this.origin = this.absolute(args[1].text);
      this.readFile(include(args[0].text), args[0].text, depth + 1);
      this.origin = saved; // RFC 1035: the origin reverts after the included file
    } else {
      throw new RangeError(`unsupported directive "${name}"`);
    }
  }

  /** `[owner] [ttl] [class] type rdata…`: the record, unless it is an exact duplicate. */
  #record(entry: Entry): void {
    const tokens = entry.tokens;
    let at = 0;
    let owner: string;
    if (entry.blankOwner) {
      if (this.#lastOwner === undefined) throw new RangeError("no owner name before this record");
      owner = this.#lastOwner;
    } else {
      owner = this.absolute(tokens[at++].text);
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
    klass ??= this.#lastClass;
    const explicitTtl = ttl !== undefined;
    if (ttl === undefined) {
      ttl = this.#ttl ?? this.#lastTtl ?? this.options.defaultTtl ?? 3600;
    } else {
      this.#lastTtl = ttl;
    }
    const data = parseRdata(type, tokens.slice(at), this.absolute);
    // Without $TTL or any TTL so far, the SOA minimum is the default (BIND's behaviour).
    if (
      data.kind === "SOA" && !explicitTtl && this.#ttl === undefined &&
      this.#lastTtl === undefined
    ) {
      ttl = data.minimum;
      this.#lastTtl = ttl;
    }
    this.#lastOwner = owner;
    this.#lastClass = klass;
    this.#add({ name: owner, type, class: klass, ttl, data }, entry.line);
  }

  #add(rr: ResourceRecord, line: number): void {
    const key = `${nameKey(rr.name)} ${rr.type} ${rr.class} ${encodeRdata(rr).join(",")}`;
    if (this.#seen.has(key)) return; // exact duplicates are dropped, as NSD and BIND do
    this.#seen.add(key);
    const maxRecords = this.options.maxRecords ?? MAX_ZONE_RECORDS;
    if (this.records.length >= maxRecords) {
      throw new RangeError(`more than ${maxRecords} records`);
    }
    this.records.push(rr);
    this.lines.push(line);
  }
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
