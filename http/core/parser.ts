/**
 * HTTP/1.1 messages (RFC 9112) without I/O: the incremental parser both directions share — seed
 * 003's 请求行 / 请求头 / 空行 / 请求体 and 响应行 / 响应头 / 空行 / 响应体, done strictly. The
 * start lines live in request_parser.ts and response_parser.ts, the framing rules in framing.ts,
 * the serializer in serialize.ts.
 *
 * Size: ~660 lines, over the ~600 of a module, because `MessageParser` is one state machine over
 * one buffer — buffering, the section scanner with its limits and the body readers share its
 * offsets and must move together; the pure rules around it are already in framing.ts.
 *
 * Theory of operation. A parser is fed bytes in whatever pieces the network produced
 * (`feed(chunk)`, then `feedEof()` when the peer closed) and hands out events one at a time from
 * `next()`: a head (`request` / `response`), zero or more `data` events with body bytes, an `end`
 * (with any chunked trailers), and `closed` once the peer has closed cleanly between messages.
 * `null` from `next()` means "need more data" — a normal result, never an error. One parser
 * follows one connection: after a persistent message it starts on the next (pipelining), after
 * a non-persistent one it stops and leaves the following bytes untouched (`remaining()`).
 *
 *   head ──(no body)──────────────────────────────────────────────► end ─► head | done
 *     ├─(Content-Length)──► data… ───────────────────────────────► end
 *     ├─(chunked)──► size line ─► data… ─► CRLF ─► … ─► 0 ─► trailers ─► end
 *     └─(response without length)──► data… until EOF ────────────► end ─► done
 *
 * Bytes are scanned as bytes: only the pieces that become strings (method, target, header names
 * and values) are decoded, as latin1, so a value round-trips byte for byte. The parser keeps a
 * reference to a fed chunk only until `next()` returns `null`; then it copies what it still needs,
 * so the caller may reuse its read buffer. `data` events are views, valid until the next `feed()`.
 *
 * Limits (each a parameter with a documented default): request/status line 8 KiB (→ 414, or 501
 * when it is the method that never ends), one field line 8 KiB in a request, the header section
 * 64 KiB and 256 fields (→ 431), chunk-size line 1 KiB, body `maxBodyBytes` (→ 413). Anything
 * malformed — a bad start line, a target with a fragment, a header without a colon, whitespace
 * before the colon, obs-fold, control characters (NUL, CR, LF…) in a value, bare LF line ends,
 * a Host that is not `host[:port]`, a second Host or Content-Type, a Content-Length that is not
 * plain digits (no sign, no leading zero, only OWS around list commas), conflicting
 * Content-Length values, Transfer-Encoding together with Content-Length, a chunk line outside
 * the chunk-size / chunk-ext grammar, an invalid Upgrade — throws an `HttpError` with a
 * suggested status (400; 417 for an expectation other than 100-continue) and the connection
 * must be closed: guessing where a broken message ends is how request smuggling works.
 *
 * The verdict depends on the bytes, never on how they were split: limits are checked on what
 * has arrived, in the same order as on a complete line (see `scanSection`), and everything else
 * once a line or a section is complete. Every scan is one linear pass — no regular expression
 * sees a byte of the input.
 */

import {
  type BodyData,
  type HeaderList,
  HttpError,
  type HttpEvent,
  type InformationalHead,
  type MessageEnd,
  type RequestHead,
  type ResponseHead,
} from "./events.ts";
import { parseChunkSize } from "./framing.ts";
import {
  COLON,
  COMMON_FIELDS,
  CR,
  EMPTY,
  HTAB,
  latin1,
  LF,
  SP,
  TOKEN_CHAR,
  VALUE_CHAR,
} from "./syntax.ts";

/** Longest request line (or status line) accepted, in bytes without CRLF: 8 KiB (→ 414). */
export const MAX_START_LINE_BYTES = 8 * 1024;
/**
 * Longest header section (or trailer section) accepted: 64 KiB of field lines and the line ends
 * between them (→ 431).
 */
export const MAX_HEADER_SECTION_BYTES = 64 * 1024;
/**
 * Longest single field line (name, colon and value) in a request, in bytes: 8 KiB (→ 431), as
 * nginx's default. Responses may use the whole section for one line.
 */
export const MAX_FIELD_LINE_BYTES = 8 * 1024;
/** Most header fields (or trailer fields) accepted in one message (→ 431). */
export const MAX_HEADER_FIELDS = 256;
/** Longest chunk-size line (size and extensions) accepted, in bytes (→ 400). */
export const MAX_CHUNK_LINE_BYTES = 1024;
/** Default largest request body: 16 MiB (→ 413). Responses default to no limit. */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

/** The methods RFC 9110 defines (plus PATCH); anything else is answered 501. */
export const KNOWN_METHODS: ReadonlySet<string> = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
  "PATCH",
]);
/** The longest of them: a request line with no SP this far in has a method we do not know. */
export const LONGEST_METHOD = Math.max(...[...KNOWN_METHODS].map((method) => method.length));

/** Options shared by both parsers. */
export interface ParserOptions {
  /** Largest body accepted (→ 413). Requests default to 16 MiB, responses to no limit. */
  maxBodyBytes?: number;
  maxStartLineBytes?: number;
  maxHeaderSectionBytes?: number;
  /** Longest field line; requests default to `MAX_FIELD_LINE_BYTES`, responses to the section. */
  maxFieldLineBytes?: number;
  maxHeaderFields?: number;
}
/**
 * The smallest buffer of its own a parser copies unfinished input into (it doubles as it grows):
 * small, because a server keeps one for every client whose request is still arriving.
 */
const MIN_OWN_BUFFER = 1024;
/** Strings remembered per head position (see `recentLatin1`), and the longest remembered. */
const RECENT_SLOTS = 32;
const RECENT_MAX_LENGTH = 1024;
const NO_HEADERS: HeaderList = [];
/** The end of a message without trailers: one shared event (consumers only read it). */
const END_WITHOUT_TRAILERS: MessageEnd = { kind: "end", trailers: NO_HEADERS };
export type State =
  | "head"
  | "body-length"
  | "chunk-size"
  | "chunk-data"
  | "chunk-crlf"
  | "trailers"
  | "body-close"
  | "done"
  | "error";

/** Where a complete head or trailer section sits in the buffer. */
export interface Section {
  /** Offsets of each line's first byte and of its CR, in order; the blank line excluded. */
  lineStarts: number[];
  lineEnds: number[];
  /** Offset just past the blank line. */
  end: number;
}

/**
 * The machinery both parsers share: buffering, the line scanner with its limits, and the body
 * readers. Subclasses parse start lines and decide framing.
 */
export abstract class MessageParser<Head extends RequestHead | ResponseHead> {
  protected buf: Uint8Array = EMPTY;
  protected pos = 0;
  protected end = 0;
  /** Whether `buf` is ours (true) or the caller's chunk (false). */
  private owned = false;
  private eof = false;
  protected state: State = "head";
  private failure?: HttpError;
  /** How far the head/trailer scan got (absolute offset) and the lines found so far. */
  private scanAt = 0;
  // Reused for every section (a returned section is parsed before the next scan clears them).
  private readonly lineStarts: number[] = [];
  private readonly lineEnds: number[] = [];
  /** The previous head's strings by position: the target (0), then each field value (line i). */
  private readonly recent: string[] = [];
  private clearLines = false;
  private remainingInBody = 0;
  private bodyBytes = 0;
  protected keepAlive = true;
  protected readonly maxBodyBytes: number;
  protected readonly maxStartLineBytes: number;
  protected readonly maxHeaderSectionBytes: number;
  protected readonly maxFieldLineBytes: number;
  protected readonly maxHeaderFields: number;
  /** Status suggested for errors in this direction (400 for requests, 502 for responses). */
  protected abstract readonly errorStatus: number;

  constructor(options: ParserOptions, defaultMaxBody: number, defaultMaxFieldLine: number) {
    this.maxBodyBytes = options.maxBodyBytes ?? defaultMaxBody;
    this.maxStartLineBytes = options.maxStartLineBytes ?? MAX_START_LINE_BYTES;
    this.maxHeaderSectionBytes = options.maxHeaderSectionBytes ?? MAX_HEADER_SECTION_BYTES;
    this.maxFieldLineBytes = options.maxFieldLineBytes ?? defaultMaxFieldLine;
    this.maxHeaderFields = options.maxHeaderFields ?? MAX_HEADER_FIELDS;
  }

  /** Adds bytes from the network. The parser may keep a view of `chunk` until `next()` is null. */
  feed(chunk: Uint8Array): void {
    if (this.eof) throw new TypeError("Cannot feed bytes after feedEof()");
    if (chunk.length === 0) return;
    if (this.pos === this.end) {
      // The usual case: parse straight from the caller's bytes. (`buf` must end where the data
      // does: indexOf has no end bound, and a read buffer's stale tail would be scanned.)
      this.shift(this.pos);
      this.buf = chunk;
      this.end = chunk.length;
      this.owned = false;
      return;
    }
    const needed = this.end - this.pos + chunk.length;
    if (!this.owned || this.buf.length < needed) {
      const grown = new Uint8Array(
        Math.max(MIN_OWN_BUFFER, needed, this.owned ? this.buf.length * 2 : 0),
      );
      grown.set(this.buf.subarray(this.pos, this.end));
      this.shift(this.pos);
      this.buf = grown;
      this.owned = true;
    } else if (this.buf.length - this.end < chunk.length) {
      this.buf.copyWithin(0, this.pos, this.end);
      this.shift(this.pos);
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
  }

  /** The peer closed its side: no more bytes will come. */
  feedEof(): void {
    this.eof = true;
  }

  /** Bytes received but not consumed (e.g. what follows a non-persistent message). */
  remaining(): Uint8Array {
    return this.buf.slice(this.pos, this.end);
  }

  /** Whether bytes of an unfinished message are buffered or a body is being read. */
  get inMessage(): boolean {
    return this.state !== "head" || this.pos < this.end;
  }

  /** Whether the last message ended the connection (no further messages are parsed). */
  get done(): boolean {
    return this.state === "done";
  }

  /** The next event, or `null` when more bytes are needed. Throws `HttpError` on bad input. */
  next(): HttpEvent<Head> | InformationalHead | null {
    if (this.failure) throw this.failure;
    try {
      const event = this.step();
      if (event === null) this.adopt();
      return event;
    } catch (error) {
      if (error instanceof HttpError) {
        this.failure = error;
        this.state = "error";
      }
      throw error;
    }
  }

  /** Parses a complete head; an `informational` (1xx) head leaves the parser reading heads. */
  protected abstract parseHead(section: Section): Head | InformationalHead;

  /** Called after each complete message; subclasses may end the connection's parsing. */
  protected afterMessage(): void {
    this.state = this.keepAlive ? "head" : "done";
  }

  private step(): HttpEvent<Head> | InformationalHead | null {
    switch (this.state) {
      case "head": {
        if (this.pos === this.end && this.eof) return { kind: "closed" };
        const section = this.scanSection(true);
        if (section === null) {
          // Only empty lines (skipped) before the close: a clean close all the same.
          if (this.eof && this.pos === this.end) return { kind: "closed" };
          if (this.eof) {
            throw new HttpError(
              "Connection closed in the middle of a message head",
              this.errorStatus,
            );
          }
          return null;
        }
        const head = this.parseHead(section);
        this.pos = section.end;
        if (head.kind === "informational") return head;
        this.bodyBytes = 0;
        this.keepAlive = head.keepAlive;
        if (head.bodyKind === "length") {
          this.remainingInBody = head.contentLength;
          this.state = "body-length";
        } else if (head.bodyKind === "chunked") {
          this.state = "chunk-size";
        } else if (head.bodyKind === "close") {
          this.state = "body-close";
        } else {
          this.state = "trailers";
          this.afterMessageEnd = true;
        }
        return head;
      }
      case "body-length": {
        if (this.remainingInBody === 0) return this.finish(NO_HEADERS);
        if (this.pos === this.end) {
          if (this.eof) throw this.truncated();
          return null;
        }
        const take = Math.min(this.remainingInBody, this.end - this.pos);
        this.remainingInBody -= take;
        return this.data(take);
      }
      case "chunk-size":
        return this.readChunkSize();
      case "chunk-data": {
        if (this.pos === this.end) {
          if (this.eof) throw this.truncated();
          return null;
        }
        const take = Math.min(this.remainingInBody, this.end - this.pos);
        this.remainingInBody -= take;
        if (this.remainingInBody === 0) this.state = "chunk-crlf";
        return this.data(take);
      }
      case "chunk-crlf": {
        if (this.end - this.pos < 2) {
          // A wrong byte is wrong whether or not the connection closes after it.
          if (this.pos < this.end && this.buf[this.pos] !== CR) throw this.badChunkEnd();
          if (this.eof) throw this.truncated();
          return null;
        }
        if (this.buf[this.pos] !== CR || this.buf[this.pos + 1] !== LF) throw this.badChunkEnd();
        this.pos += 2;
        this.state = "chunk-size";
        return this.readChunkSize();
      }
      case "trailers": {
        if (this.afterMessageEnd) {
          this.afterMessageEnd = false;
          return this.finish(NO_HEADERS);
        }
        const section = this.scanSection(false);
        if (section === null) {
          if (this.eof) throw this.truncated();
          return null;
        }
        const trailers = this.parseFields(section, 0);
        this.pos = section.end;
        return this.finish(trailers);
      }
      case "body-close": {
        if (this.pos === this.end) {
          if (this.eof) {
            this.keepAlive = false;
            return this.finish(NO_HEADERS);
          }
          return null;
        }
        return this.data(this.end - this.pos);
      }
      case "done":
        return this.eof && this.pos === this.end ? { kind: "closed" } : null;
      case "error":
        throw this.failure;
    }
  }

  /** Set when a bodiless head was returned: the next step is its `end`. */
  private afterMessageEnd = false;

  private finish(trailers: HeaderList): MessageEnd {
    this.afterMessage();
    return trailers === NO_HEADERS ? END_WITHOUT_TRAILERS : { kind: "end", trailers };
  }

  private data(take: number): BodyData {
    this.bodyBytes += take;
    const data = this.buf.subarray(this.pos, this.pos + take);
    this.pos += take;
    return { kind: "data", data };
  }

  private truncated(): HttpError {
    return new HttpError(
      "Connection closed before the message body was complete",
      this.errorStatus,
    );
  }

  private badChunkEnd(): HttpError {
    return new HttpError("Chunk data is not followed by CRLF", this.errorStatus);
  }

  /**
   * The chunk-size line (RFC 9112 §7.1): `chunk-size [ chunk-ext ] CRLF`, judged in the same
   * order as a head's lines (the length limit, then the line end, then the grammar) so the
   * verdict does not depend on the split.
   */
  private readChunkSize(): HttpEvent<Head> | InformationalHead | null {
    const buf = this.buf;
    const start = this.pos;
    let lf = buf.indexOf(LF, start);
    if (lf >= this.end) lf = -1;
    const end = lf < 0 ? this.end : lf;
    const contentEnd = end > start && buf[end - 1] === CR ? end - 1 : end;
    if (contentEnd - start > MAX_CHUNK_LINE_BYTES) {
      throw new HttpError(
        `Chunk-size line longer than ${MAX_CHUNK_LINE_BYTES} bytes`,
        this.errorStatus,
      );
    }
    if (lf < 0) {
      if (this.eof) throw this.truncated();
      return null;
    }
    if (contentEnd === lf) {
      throw new HttpError("Chunk-size line does not end with CRLF", this.errorStatus);
    }
    const size = parseChunkSize(buf, start, contentEnd, this.errorStatus);
    this.pos = lf + 1;
    if (this.bodyBytes + size > this.maxBodyBytes) throw this.tooLarge();
    if (size === 0) {
      this.state = "trailers";
      return this.step();
    }
    this.remainingInBody = size;
    this.state = "chunk-data";
    return this.step();
  }
  protected tooLarge(): HttpError {
    return new HttpError(
      `Body larger than the limit of ${this.maxBodyBytes} bytes`,
      this.errorStatus === 400 ? 413 : this.errorStatus,
      false,
    );
  }

  /**
   * Finds the end of a head (`withStartLine`) or trailer section: lines up to an empty one.
   * Remembers where it stopped, so byte-by-byte input is scanned once. Enforces the limits.
   *
   * The verdict must not depend on how the bytes were split, so every line is judged in one
   * fixed order: first the size limits (on what has arrived so far, or on the whole line once
   * its LF is here), then the line-ending rule, then the field count; the fields' syntax is
   * checked once the section is complete. The size limits measure a line without its line end
   * (a CR that may be the start of CRLF is not counted until the next byte shows what it is),
   * so the measure only grows as bytes arrive and a limit trips at the same byte either way.
   */
  private scanSection(withStartLine: boolean): Section | null {
    const buf = this.buf;
    if (this.clearLines || this.scanAt < this.pos) {
      if (this.scanAt < this.pos) this.scanAt = this.pos;
      this.lineStarts.length = 0;
      this.lineEnds.length = 0;
      this.clearLines = false;
    }
    let lineStart = this.lineStarts.length === this.lineEnds.length
      ? (this.lineEnds.length ? this.lineEnds[this.lineEnds.length - 1] + 2 : this.pos)
      : this.lineStarts[this.lineStarts.length - 1];
    if (this.lineStarts.length === this.lineEnds.length) this.lineStarts.push(lineStart);
    while (true) {
      const lf = buf.indexOf(LF, this.scanAt);
      if (lf < 0 || lf >= this.end) {
        this.scanAt = this.end;
        const end = this.end;
        this.checkLineLimits(
          withStartLine,
          lineStart,
          end > lineStart && buf[end - 1] === CR ? end - 1 : end,
        );
        return null;
      }
      this.scanAt = lf + 1;
      const crlf = lf > lineStart && buf[lf - 1] === CR;
      const contentEnd = crlf ? lf - 1 : lf;
      this.checkLineLimits(withStartLine, lineStart, contentEnd);
      if (!crlf) throw new HttpError("Line ends with a bare LF instead of CRLF", this.errorStatus);
      const isFirst = withStartLine && this.lineEnds.length === 0;
      if (contentEnd === lineStart) {
        if (isFirst) {
          // RFC 9112 §2.2: empty lines before a request line are ignored.
          this.pos = lineStart = lf + 1;
          this.lineStarts[0] = lineStart;
          continue;
        }
        // The blank line: the section is complete.
        this.lineStarts.pop();
        this.clearLines = true;
        return { lineStarts: this.lineStarts, lineEnds: this.lineEnds, end: lf + 1 };
      }
      this.lineEnds.push(contentEnd);
      if (this.lineEnds.length - (withStartLine ? 1 : 0) > this.maxHeaderFields) {
        throw this.headersTooLarge();
      }
      lineStart = lf + 1;
      this.lineStarts.push(lineStart);
    }
  }

  /**
   * The size limits for the line at `lineStart` whose content (line end excluded) is known up to
   * `contentEnd`. When one line crosses two limits (the field line's and the section's), the one
   * crossed at the earlier byte is reported: the same whether the line came whole or in pieces.
   */
  private checkLineLimits(withStartLine: boolean, lineStart: number, contentEnd: number): void {
    if (withStartLine && this.lineEnds.length === 0) {
      if (contentEnd - lineStart > this.maxStartLineBytes) throw this.startLineTooLong(lineStart);
      return;
    }
    const lineOver = lineStart + this.maxFieldLineBytes + 1;
    const sectionOver = this.fieldsStart(withStartLine) + this.maxHeaderSectionBytes + 1;
    const first = Math.min(lineOver, sectionOver);
    if (contentEnd < first) return;
    throw first === lineOver ? this.fieldLineTooLong() : this.headersTooLarge();
  }

  /**
   * `latin1(buf, start, end)`, but the same string as the previous head's at `slot` when the bytes
   * are the same: a client repeats its target and most field values (Host, User-Agent, Accept…)
   * on every request of a connection, and comparing is ~4× cheaper than decoding (no allocation).
   */
  protected recentLatin1(slot: number, start: number, end: number): string {
    const buf = this.buf;
    const length = end - start;
    const previous = this.recent[slot];
    if (previous !== undefined && previous.length === length) {
      let i = 0;
      while (i < length && previous.charCodeAt(i) === buf[start + i]) i++;
      if (i === length) return previous;
    }
    const text = latin1(buf, start, end);
    if (slot < RECENT_SLOTS && length <= RECENT_MAX_LENGTH) this.recent[slot] = text;
    return text;
  }

  /** Offset where the field lines begin (after the start line, if any). */
  private fieldsStart(withStartLine: boolean): number {
    return withStartLine ? this.lineEnds[0] + 2 : this.pos;
  }

  /** The start line at `lineStart` is over the limit (a request line says more; see there). */
  protected startLineTooLong(_lineStart: number): HttpError {
    return new HttpError(
      `Start line longer than ${this.maxStartLineBytes} bytes`,
      this.errorStatus,
      false,
    );
  }

  private fieldLineTooLong(): HttpError {
    return new HttpError(
      `Header line longer than ${this.maxFieldLineBytes} bytes`,
      this.errorStatus === 400 ? 431 : this.errorStatus,
      false,
    );
  }

  protected headersTooLarge(): HttpError {
    return new HttpError(
      `Header section larger than ${this.maxHeaderSectionBytes} bytes or ${this.maxHeaderFields} fields`,
      this.errorStatus === 400 ? 431 : this.errorStatus,
      false,
    );
  }

  /**
   * Parses field lines `from`… of a section into a header list (names lower-cased); `rawNames`,
   * when given, receives each name as it was spelled.
   */
  protected parseFields(section: Section, from: number, rawNames?: string[]): HeaderList {
    const buf = this.buf;
    const headers: HeaderList = [];
    for (let i = from; i < section.lineStarts.length; i++) {
      const start = section.lineStarts[i];
      const end = section.lineEnds[i];
      const first = buf[start];
      if (first === SP || first === HTAB) {
        throw new HttpError("Obsolete line folding (obs-fold) is not allowed", this.errorStatus);
      }
      let colon = start;
      while (colon < end && TOKEN_CHAR[buf[colon]]) colon++;
      if (colon === end) {
        throw new HttpError(
          `Header line without a colon: "${latin1(buf, start, Math.min(end, start + 40))}"`,
          this.errorStatus,
        );
      }
      if (buf[colon] !== COLON) {
        const what = buf[colon] === SP || buf[colon] === HTAB
          ? "whitespace before the colon"
          : "invalid character in the field name";
        throw new HttpError(
          `Invalid header "${latin1(buf, start, Math.min(colon, start + 40))}": ${what}`,
          this.errorStatus,
        );
      }
      if (colon === start) throw new HttpError("Header with an empty name", this.errorStatus);
      let valueStart = colon + 1;
      let valueEnd = end;
      while (valueStart < valueEnd && (buf[valueStart] === SP || buf[valueStart] === HTAB)) {
        valueStart++;
      }
      while (valueEnd > valueStart && (buf[valueEnd - 1] === SP || buf[valueEnd - 1] === HTAB)) {
        valueEnd--;
      }
      for (let at = valueStart; at < valueEnd; at++) {
        if (!VALUE_CHAR[buf[at]]) {
          throw new HttpError(
            `Invalid header "${latin1(buf, start, colon)}": control character 0x${
              buf[at].toString(16).padStart(2, "0")
            } in the value`,
            this.errorStatus,
          );
        }
      }
      let raw: string | undefined;
      if (rawNames) rawNames.push(raw = latin1(buf, start, colon));
      const name = COMMON_FIELDS.find(buf, start, colon, true) ??
        (raw ?? latin1(buf, start, colon)).toLowerCase();
      headers.push([name, this.recentLatin1(i, valueStart, valueEnd)]);
    }
    return headers;
  }

  /** Parses the version at `at` (8 bytes, `HTTP/x.y`); null when it is not that shape. */
  protected parseVersion(at: number, end: number): string | null {
    const b = this.buf;
    if (
      end - at !== 8 || b[at] !== 0x48 || b[at + 1] !== 0x54 || b[at + 2] !== 0x54 ||
      b[at + 3] !== 0x50 || b[at + 4] !== 0x2f || b[at + 6] !== 0x2e ||
      b[at + 5] < 0x30 || b[at + 5] > 0x39 || b[at + 7] < 0x30 || b[at + 7] > 0x39
    ) {
      return null;
    }
    if (b[at + 5] === 0x31 && b[at + 7] === 0x31) return "1.1";
    if (b[at + 5] === 0x31 && b[at + 7] === 0x30) return "1.0";
    return latin1(b, at + 5, at + 8);
  }
  /** Drops `n` consumed bytes from the scan bookkeeping when the buffer is compacted. */
  private shift(n: number): void {
    this.pos -= n;
    this.end -= n;
    this.scanAt -= n;
    for (let i = 0; i < this.lineStarts.length; i++) this.lineStarts[i] -= n;
    for (let i = 0; i < this.lineEnds.length; i++) this.lineEnds[i] -= n;
  }

  /** Before saying "need more": stop referencing the caller's chunk. */
  private adopt(): void {
    if (this.pos === this.end) {
      this.shift(this.pos);
      this.buf = EMPTY;
      this.owned = false;
      // Between messages nothing refers to the last section's lines: drop them now rather than
      // at the next scan, so a parser waiting for its next message holds no line arrays.
      if (this.clearLines) {
        this.lineStarts.length = 0;
        this.lineEnds.length = 0;
        this.clearLines = false;
      }
    } else if (!this.owned) {
      const copy = new Uint8Array(Math.max((this.end - this.pos) * 2, MIN_OWN_BUFFER));
      copy.set(this.buf.subarray(this.pos, this.end));
      this.shift(this.pos);
      this.buf = copy;
      this.owned = true;
    }
  }
}
