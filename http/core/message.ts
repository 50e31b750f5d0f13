/**
 * HTTP/1.1 messages (RFC 9112) without I/O: an incremental parser for requests and responses and
 * a serializer for both — seed 003's 请求行 / 请求头 / 空行 / 请求体 and 响应行 / 响应头 / 空行 /
 * 响应体, done strictly.
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
/** Most significant hex digits in a chunk size (leading zeros are free): 12, 256 TiB. */
const MAX_CHUNK_SIZE_DIGITS = 12;
/** Largest Content-Length we can represent exactly (15 decimal digits). */
const MAX_LENGTH_DIGITS = 15;

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
const LONGEST_METHOD = Math.max(...[...KNOWN_METHODS].map((method) => method.length));

/**
 * A message the parser refuses. `status` is the response a server should send (400, 413, 414,
 * 431, 501, 505; 502 for a broken response); `peerFault` says whether the peer broke the protocol
 * (true) or merely went beyond what we accept (false). Either way the connection must close.
 */
export class HttpError extends Error {
  override name = "HttpError";
  constructor(message: string, readonly status = 400, readonly peerFault = true) {
    super(message);
  }
}

/** The two versions spoken here. */
export type HttpVersion = "1.0" | "1.1";

/** Header fields in order, names lower-cased, values as received (latin1, OWS trimmed). */
export type HeaderList = [name: string, value: string][];

/** How a message's body is delimited. */
export type BodyKind = "none" | "length" | "chunked" | "close";

interface HeadCommon {
  version: HttpVersion;
  headers: HeaderList;
  /** Whether the connection stays open after this message (RFC 9112 §9.3). */
  keepAlive: boolean;
  bodyKind: BodyKind;
  /** The Content-Length, or -1 when the body is not length-delimited. */
  contentLength: number;
  /** Bytes the head took on the wire (start line, fields, blank line). */
  headBytes: number;
}

/** A parsed request line and header section. */
export interface RequestHead extends HeadCommon {
  kind: "request";
  method: string;
  target: string;
  /** `Expect: 100-continue` was sent (HTTP/1.1): the client waits before sending the body. */
  expectContinue: boolean;
  /**
   * TRACE only (its echo repeats the request): each field name as the client spelled it, in
   * `headers` order. Other requests skip the copy.
   */
  fieldNames?: string[];
}

/** A parsed status line and header section. */
export interface ResponseHead extends HeadCommon {
  kind: "response";
  status: number;
  reason: string;
  /** The method of the request this answers (it decides whether a body follows). */
  requestMethod: string;
  /** Each field name as the server spelled it, in `headers` order (`headers` are lower-case). */
  fieldNames: string[];
}

/** A 1xx response, reported only with `emitInformational`. */
export interface InformationalHead {
  kind: "informational";
  status: number;
  reason: string;
  headers: HeaderList;
}

/** Body bytes: a view valid until the next `feed()`. */
export interface BodyData {
  kind: "data";
  data: Uint8Array;
}

/** The message is complete; `trailers` holds chunked trailer fields (usually none). */
export interface MessageEnd {
  kind: "end";
  trailers: HeaderList;
}

/** The peer closed the connection cleanly between messages. */
export interface ConnectionClosed {
  kind: "closed";
}

/** What `next()` returns besides `null`. */
export type HttpEvent<Head> = Head | BodyData | MessageEnd | ConnectionClosed;

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

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const EMPTY = new Uint8Array(0);
/** Strings remembered per head position (see `recentLatin1`), and the longest remembered. */
const RECENT_SLOTS = 32;
const RECENT_MAX_LENGTH = 1024;
const NO_HEADERS: HeaderList = [];
/** The end of a message without trailers: one shared event (consumers only read it). */
const END_WITHOUT_TRAILERS: MessageEnd = { kind: "end", trailers: NO_HEADERS };

/**
 * Common methods and field names as ready-made strings, so that parsing them allocates nothing
 * (every request on a busy server carries the same few). Names match case-insensitively.
 */
class Interned {
  readonly #byLength: (string[] | undefined)[] = [];

  constructor(words: readonly string[]) {
    for (const word of words) (this.#byLength[word.length] ??= []).push(word);
  }

  /** The word spelled by `buf[start, end)` (ASCII letters folded to lower case if asked). */
  find(buf: Uint8Array, start: number, end: number, foldCase: boolean): string | undefined {
    const words = this.#byLength[end - start];
    if (!words) return undefined;
    // Folding with | 0x20 is exact here: the bytes are token characters, whose only
    // characters that fold onto a letter, digit or "-" are the upper-case letters.
    const fold = foldCase ? 0x20 : 0;
    next: for (const word of words) {
      for (let i = 0; i < word.length; i++) {
        if ((buf[start + i] | fold) !== word.charCodeAt(i)) continue next;
      }
      return word;
    }
    return undefined;
  }
}

const COMMON_METHODS = new Interned(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"]);
const COMMON_FIELDS = new Interned([
  "host",
  "user-agent",
  "accept",
  "accept-encoding",
  "accept-language",
  "connection",
  "content-length",
  "content-type",
  "transfer-encoding",
  "cookie",
  "referer",
  "origin",
  "authorization",
  "cache-control",
  "pragma",
  "range",
  "if-range",
  "if-none-match",
  "if-modified-since",
  "upgrade-insecure-requests",
  "expect",
  "date",
  "server",
  "etag",
  "last-modified",
  "location",
]);

/** tchar (RFC 9110 §5.6.2): the characters allowed in methods and field names. */
const TOKEN_CHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TOKEN_CHAR[c.charCodeAt(0)] = 1;
}
/** field-vchar, SP and HTAB: everything but control characters (NUL, CR, LF, DEL, …). */
const VALUE_CHAR = new Uint8Array(256);
for (let c = 0; c < 256; c++) VALUE_CHAR[c] = c === HTAB || (c >= 0x20 && c !== 0x7f) ? 1 : 0;
/**
 * The bytes a request target may hold: visible ASCII (no SP, no control characters, nothing
 * above 0x7e), except `#`, which would start a fragment.
 */
const TARGET_CHAR = new Uint8Array(256);
for (let c = 0x21; c < 0x7f; c++) TARGET_CHAR[c] = c === 0x23 ? 0 : 1;
const HASH = 0x23;
/** Characters of a Host's reg-name (RFC 3986 unreserved and sub-delims, but no comma). */
const HOST_CHAR = new Uint8Array(256);
for (const c of "-._~!$&'()*+;=0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  HOST_CHAR[c.charCodeAt(0)] = 1;
}
const HEX_VALUE = new Int8Array(256).fill(-1);
for (let c = 0; c < 16; c++) {
  HEX_VALUE["0123456789abcdef".charCodeAt(c)] = c;
  HEX_VALUE["0123456789ABCDEF".charCodeAt(c)] = c;
}

/** Decodes bytes as latin1 (every byte one character), so values round-trip exactly. */
export function latin1(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let out = "";
  for (let at = start; at < end; at += 8192) {
    const view = bytes.subarray(at, Math.min(end, at + 8192));
    out += String.fromCharCode.apply(null, view as unknown as number[]);
  }
  return out;
}

/** `"text"` for a message, cut after `max` characters: a value may be kilobytes long. */
function quoted(text: string, max = 60): string {
  return text.length > max ? `"${text.slice(0, max)}…"` : `"${text}"`;
}

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** `text` without leading and trailing SP and HTAB (OWS): nothing else counts as whitespace. */
function trimOws(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isOws(text.charCodeAt(start))) start++;
  while (end > start && isOws(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/** The members of a comma-separated list (RFC 9110 §5.6.1), OWS trimmed, empty ones dropped. */
export function listItems(value: string): string[] {
  const items: string[] = [];
  for (const item of value.split(",")) {
    const trimmed = trimOws(item);
    if (trimmed) items.push(trimmed);
  }
  return items;
}

/**
 * What is wrong with a Host value, or undefined: Host = uri-host [ ":" port ] (RFC 9110 §7.2),
 * where uri-host is an IP literal in brackets, an IPv4 address or a reg-name. Refused: an empty
 * host, userinfo (`user@`), a path, a comma (a list: two hosts, which one counts?), a port of
 * more than five digits.
 */
export function hostProblem(value: string): string | undefined {
  let at = 0;
  const n = value.length;
  if (value.includes("@")) return "userinfo (user@) is not allowed";
  if (value.charCodeAt(0) === 0x5b) {
    // IP-literal: "[" IPv6address "]" (checked for its characters) or "[v1.…]" (IPvFuture).
    const close = value.indexOf("]");
    if (close < 0) return "an IP literal without its closing bracket";
    const inside = value.slice(1, close);
    if (!isIpLiteral(inside)) return "not an IPv6 address in brackets";
    at = close + 1;
  } else {
    while (at < n) {
      const c = value.charCodeAt(at);
      if (c < 0x80 && HOST_CHAR[c]) at++;
      else if (
        c === 0x25 && at + 2 < n && isHexDigit(value.charCodeAt(at + 1)) &&
        isHexDigit(value.charCodeAt(at + 2))
      ) at += 3;
      else break;
    }
    if (n === 0) return "empty";
    if (at === 0 && value.charCodeAt(0) === 0x3a) return "no host name before the port";
  }
  if (at === n) return undefined;
  if (value.charCodeAt(at) === 0x3a) {
    const portStart = ++at;
    while (at < n && value.charCodeAt(at) >= 0x30 && value.charCodeAt(at) <= 0x39) at++;
    if (at === n) return at - portStart > 5 ? "a port has at most five digits" : undefined;
  }
  const c = value.charCodeAt(at);
  if (c === 0x2f || c === 0x3f || c === 0x23) return "only a host and a port, no path";
  if (c === 0x2c || isOws(c)) return "one host, not a list";
  return `unexpected character ${quoted(value[at])}`;
}

/** The inside of `[…]`: an IPv6 address (hex digits, colons, dots) or an IPvFuture. */
function isIpLiteral(inside: string): boolean {
  if (inside.length === 0) return false;
  const first = inside.charCodeAt(0);
  if (first === 0x76 || first === 0x56) {
    // IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
    const dot = inside.indexOf(".");
    if (dot < 2) return false;
    for (let i = 1; i < dot; i++) if (!isHexDigit(inside.charCodeAt(i))) return false;
    if (dot === inside.length - 1) return false;
    for (let i = dot + 1; i < inside.length; i++) {
      const c = inside.charCodeAt(i);
      if (!(c === 0x3a || (c < 0x80 && HOST_CHAR[c]))) return false;
    }
    return true;
  }
  let colons = 0;
  for (let i = 0; i < inside.length; i++) {
    const c = inside.charCodeAt(i);
    if (c === 0x3a) colons++;
    else if (c !== 0x2e && !isHexDigit(c)) return false;
  }
  return colons >= 2;
}

function isHexDigit(c: number): boolean {
  return c < 0x80 && HEX_VALUE[c] >= 0;
}

/** Encodes a latin1 string (characters up to U+00FF) as bytes. */
export function encodeLatin1(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) {
      throw new TypeError(`Cannot encode "${text.slice(i, i + 1)}" in an HTTP head: not latin1`);
    }
    out[i] = c;
  }
  return out;
}

/** All values of header `name` (lower-case), in order. */
export function getHeaderValues(headers: HeaderList, name: string): string[] {
  const out: string[] = [];
  for (const [n, v] of headers) if (n === name) out.push(v);
  return out;
}

/** The value of header `name` (lower-case); repeated fields are joined with ", ". */
export function getHeader(headers: HeaderList, name: string): string | undefined {
  let out: string | undefined;
  for (const [n, v] of headers) {
    if (n === name) out = out === undefined ? v : `${out}, ${v}`;
  }
  return out;
}

/** Whether the comma-separated header `name` lists `token` (case-insensitive). */
export function headerHasToken(headers: HeaderList, name: string, token: string): boolean {
  for (const [n, v] of headers) {
    if (n !== name) continue;
    for (const item of v.split(",")) if (trimOws(item).toLowerCase() === token) return true;
  }
  return false;
}

type State =
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
interface Section {
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
abstract class MessageParser<Head extends RequestHead | ResponseHead> {
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
      const grown = new Uint8Array(Math.max(4096, needed, this.owned ? this.buf.length * 2 : 0));
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
    const size = this.chunkSize(start, contentEnd);
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

  /**
   * Parses `chunk-size *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] )` in
   * `buf[start, end)` and returns the size. Extensions are checked, then ignored.
   */
  private chunkSize(start: number, end: number): number {
    const buf = this.buf;
    const bad = (why: string) =>
      new HttpError(
        `Invalid chunk size ${quoted(latin1(buf, start, end))}: ${why}`,
        this.errorStatus,
      );
    let at = start;
    let size = 0;
    let significant = 0;
    while (at < end && HEX_VALUE[buf[at]] >= 0) {
      const digit = HEX_VALUE[buf[at++]];
      if (significant > 0 || digit > 0) significant++;
      size = size * 16 + digit;
    }
    if (at === start || significant > MAX_CHUNK_SIZE_DIGITS) {
      throw bad(`expected 1 to ${MAX_CHUNK_SIZE_DIGITS} hex digits`);
    }
    const skipBws = () => {
      while (at < end && (buf[at] === SP || buf[at] === HTAB)) at++;
    };
    while (at < end) {
      skipBws();
      if (at === end) throw bad("whitespace at the end of the line");
      if (buf[at] !== SEMICOLON) throw bad("unexpected character");
      at++;
      skipBws();
      const name = at;
      while (at < end && TOKEN_CHAR[buf[at]]) at++;
      if (at === name) throw bad("a chunk extension needs a token as its name");
      let afterWs = at;
      while (afterWs < end && (buf[afterWs] === SP || buf[afterWs] === HTAB)) afterWs++;
      if (afterWs === end || buf[afterWs] !== EQUALS) continue;
      at = afterWs + 1;
      skipBws();
      if (at < end && buf[at] === DQUOTE) {
        at = this.quotedStringEnd(at, end);
        if (at < 0) throw bad("unterminated or invalid quoted string in a chunk extension");
      } else {
        const value = at;
        while (at < end && TOKEN_CHAR[buf[at]]) at++;
        if (at === value) throw bad("a chunk extension value must be a token or a quoted string");
      }
    }
    return size;
  }

  /** Where the quoted-string opening at `at` ends (just past its DQUOTE), or -1 when invalid. */
  private quotedStringEnd(at: number, end: number): number {
    const buf = this.buf;
    for (at++; at < end; at++) {
      const c = buf[at];
      if (c === DQUOTE) return at + 1;
      if (c === BACKSLASH) {
        at++;
        if (at === end || !VALUE_CHAR[buf[at]]) return -1;
      } else if (!VALUE_CHAR[c]) return -1;
    }
    return -1;
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

  /**
   * Content-Length from its values; -1 when absent. Each is `1*DIGIT` without leading zeros;
   * repeated fields or a list (`5, 5`) must all agree (RFC 9110 §8.6). Anything else — a sign,
   * whitespace other than OWS around the commas, an empty member — is refused: two parsers
   * reading one length two ways is how requests are smuggled.
   */
  protected contentLength(values: string[]): number {
    let length = -1;
    for (const value of values) {
      let at = 0;
      while (true) {
        const start = at;
        while (at < value.length && value.charCodeAt(at) >= 0x30 && value.charCodeAt(at) <= 0x39) {
          at++;
        }
        const digits = at - start;
        if (
          digits === 0 || digits > MAX_LENGTH_DIGITS ||
          (digits > 1 && value.charCodeAt(start) === 0x30)
        ) {
          throw new HttpError(`Invalid Content-Length ${quoted(value)}`, this.errorStatus);
        }
        const n = Number(value.slice(start, at));
        if (length >= 0 && n !== length) {
          throw new HttpError(
            `Duplicate Content-Length with different values: ${quoted(values.join(", "))}`,
            this.errorStatus,
          );
        }
        length = n;
        while (at < value.length && isOws(value.charCodeAt(at))) at++;
        if (at === value.length) break;
        if (value.charCodeAt(at) !== 0x2c) {
          throw new HttpError(`Invalid Content-Length ${quoted(value)}`, this.errorStatus);
        }
        at++;
        while (at < value.length && isOws(value.charCodeAt(at))) at++;
      }
    }
    return length;
  }

  /**
   * Transfer codings, lower-cased, in order. Each list member is a token, optionally followed by
   * parameters (`gzip;q=1` is not a thing, but the grammar allows them); nothing but OWS may
   * surround it.
   */
  protected transferCodings(values: string[]): string[] {
    const codings: string[] = [];
    for (const value of values) {
      for (const item of value.split(",")) {
        const member = trimOws(item);
        const semicolon = member.indexOf(";");
        const coding = (semicolon < 0 ? member : trimOws(member.slice(0, semicolon)))
          .toLowerCase();
        if (!isToken(coding) || (coding === "chunked" && semicolon >= 0)) {
          throw new HttpError(`Invalid Transfer-Encoding ${quoted(value)}`, this.errorStatus);
        }
        codings.push(coding);
      }
    }
    return codings;
  }

  /** RFC 9112 §9.3: 1.1 persists unless `close`; 1.0 only with `keep-alive`. */
  protected persistent(version: HttpVersion, headers: HeaderList): boolean {
    if (headerHasToken(headers, "connection", "close")) return false;
    return version === "1.1" || headerHasToken(headers, "connection", "keep-alive");
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
    } else if (!this.owned) {
      const copy = new Uint8Array(Math.max((this.end - this.pos) * 2, 4096));
      copy.set(this.buf.subarray(this.pos, this.end));
      this.shift(this.pos);
      this.buf = copy;
      this.owned = true;
    }
  }
}

/** Parses requests on a server connection (pipelined requests one after another). */
export class RequestParser extends MessageParser<RequestHead> {
  protected readonly errorStatus = 400;

  constructor(options: ParserOptions = {}) {
    super(options, DEFAULT_MAX_BODY_BYTES, MAX_FIELD_LINE_BYTES);
  }

  /** The next event, or `null` when more bytes are needed. Throws `HttpError` on bad input. */
  override next(): HttpEvent<RequestHead> | null {
    return super.next() as HttpEvent<RequestHead> | null;
  }

  /** The last Host value found valid (a connection repeats it; checking again is skipped). */
  private validHost: string | undefined;

  protected parseHead(section: Section): RequestHead {
    const buf = this.buf;
    const start = section.lineStarts[0];
    const end = section.lineEnds[0];
    const sp1 = buf.indexOf(SP, start);
    if (sp1 < 0 || sp1 >= end) throw this.badLine();
    for (let at = start; at < sp1; at++) if (!TOKEN_CHAR[buf[at]]) throw this.badLine();
    if (sp1 === start) throw this.badLine();
    let sp2 = sp1 + 1;
    while (sp2 < end && TARGET_CHAR[buf[sp2]]) sp2++;
    if (sp2 < end && buf[sp2] === HASH) {
      // RFC 9112 §3.2: no request-target form has a fragment; it stays in the browser.
      throw new HttpError("Request target with a fragment (#): the fragment is never sent");
    }
    if (sp2 === sp1 + 1 || sp2 >= end || buf[sp2] !== SP) throw this.badLine();
    const versionText = this.parseVersion(sp2 + 1, end);
    if (versionText === null) throw this.badLine();
    const method = COMMON_METHODS.find(buf, start, sp1, false) ?? latin1(buf, start, sp1);
    const fieldNames = method === "TRACE" ? [] : undefined;
    const headers = this.parseFields(section, 1, fieldNames);
    if (versionText !== "1.1" && versionText !== "1.0") {
      throw new HttpError(`HTTP version "${versionText}" is not supported`, 505, false);
    }
    const version = versionText as HttpVersion;
    if (!KNOWN_METHODS.has(method)) {
      throw new HttpError(`Method ${quoted(method)} is not implemented`, 501, false);
    }
    const target = this.recentLatin1(0, sp1 + 1, sp2);

    // One pass over the fields for everything that decides framing and persistence, and for
    // the fields whose value makes the request invalid. Rare fields cost one comparison each.
    let host: string | undefined;
    let hosts = 0;
    let contentTypes = 0;
    let teValues: string[] | undefined;
    let clValues: string[] | undefined;
    let connection: string | undefined;
    let expect: string | undefined;
    let upgrade: string | undefined;
    let webSocketVersion: string | undefined;
    for (const [name, value] of headers) {
      switch (name) {
        case "host":
          hosts++;
          host = value;
          break;
        case "content-type":
          contentTypes++;
          break;
        case "transfer-encoding":
          (teValues ??= []).push(value);
          break;
        case "content-length":
          (clValues ??= []).push(value);
          break;
        case "connection":
          connection = connection === undefined ? value : `${connection},${value}`;
          break;
        case "expect":
          expect = expect === undefined ? value : `${expect},${value}`;
          break;
        case "upgrade":
          upgrade = upgrade === undefined ? value : `${upgrade},${value}`;
          break;
        case "sec-websocket-version":
          webSocketVersion = webSocketVersion === undefined
            ? value
            : `${webSocketVersion},${value}`;
      }
    }
    if (hosts > 1) throw new HttpError("More than one Host header");
    if (host === undefined) {
      if (version === "1.1") throw new HttpError("HTTP/1.1 request without a Host header");
    } else if (host !== this.validHost) {
      const problem = hostProblem(host);
      if (problem) throw new HttpError(`Invalid Host ${quoted(host)}: ${problem}`);
      this.validHost = host;
    }
    // A singleton field sent twice: which one counts is anybody's guess (RFC 9110 §5.3).
    if (contentTypes > 1) throw new HttpError("More than one Content-Type header");

    let bodyKind: BodyKind = "none";
    let contentLength = -1;
    if (teValues) {
      if (clValues) {
        throw new HttpError("Transfer-Encoding together with Content-Length (request smuggling)");
      }
      if (version === "1.0") throw new HttpError("Transfer-Encoding in an HTTP/1.0 request");
      const codings = this.transferCodings(teValues);
      if (codings[codings.length - 1] !== "chunked") {
        throw new HttpError(
          `Transfer-Encoding ${quoted(teValues.join(", "))} does not end in chunked`,
        );
      }
      if (codings.indexOf("chunked") < codings.length - 1) {
        throw new HttpError(`Transfer-Encoding ${quoted(teValues.join(", "))}: chunked twice`);
      }
      if (codings.length > 1) {
        throw new HttpError(
          `Transfer-Encoding ${quoted(teValues.join(", "))} is not implemented`,
          501,
          false,
        );
      }
      bodyKind = "chunked";
    } else if (clValues) {
      contentLength = this.contentLength(clValues);
      if (contentLength > this.maxBodyBytes) throw this.tooLarge();
      bodyKind = contentLength > 0 ? "length" : "none";
    }
    let expectContinue = false;
    if (expect !== undefined) {
      // RFC 9110 §10.1.1: 100-continue is the only expectation there is; others cannot be met.
      for (const item of listItems(expect)) {
        if (item.toLowerCase() !== "100-continue") {
          throw new HttpError(`Expectation ${quoted(item)} cannot be met`, 417, false);
        }
        expectContinue = version === "1.1" && bodyKind !== "none";
      }
    }
    if (upgrade !== undefined) this.checkUpgrade(upgrade, webSocketVersion);
    const keepAlive = connection === undefined
      ? version === "1.1"
      : this.persistent(version, [["connection", connection]]);
    return {
      kind: "request",
      method,
      target,
      version,
      headers,
      keepAlive,
      bodyKind,
      contentLength,
      headBytes: section.end - start,
      expectContinue,
      fieldNames,
    };
  }

  /**
   * Upgrade (RFC 9110 §7.8). This parser switches to no other protocol, and a server using it
   * ignores a valid Upgrade, as §7.8 allows ("A server MAY ignore a received Upgrade header
   * field"), answering in HTTP/1.1. An invalid one is refused with 400 like any invalid field:
   * a value that is not a list of `protocol-name ["/" protocol-version]` tokens, or a WebSocket
   * handshake whose Sec-WebSocket-Version is not 13, the only version there is (RFC 6455
   * §4.1; §4.2.1 asks for 400 when a handshake breaks the rules). A 426 listing supported
   * versions (§4.4) would claim a WebSocket support we do not have.
   */
  private checkUpgrade(upgrade: string, webSocketVersion: string | undefined): void {
    let webSocket = false;
    for (const item of listItems(upgrade)) {
      const slash = item.indexOf("/");
      const name = slash < 0 ? item : item.slice(0, slash);
      if (!isToken(name) || (slash >= 0 && !isToken(item.slice(slash + 1)))) {
        throw new HttpError(
          `Invalid Upgrade ${quoted(upgrade)}: expected protocol names with an optional /version`,
        );
      }
      if (name.toLowerCase() === "websocket") webSocket = true;
    }
    if (webSocket && webSocketVersion?.trim() !== "13") {
      throw new HttpError(
        `Invalid WebSocket handshake: Sec-WebSocket-Version ${
          webSocketVersion === undefined ? "missing" : quoted(webSocketVersion)
        }, and 13 is the only version`,
      );
    }
  }

  /** A request line too long: 414, unless it is the method that never ends (501, or 400). */
  protected override startLineTooLong(lineStart: number): HttpError {
    // No SP within the longest known method's length: the method is unknown, whatever follows.
    const buf = this.buf;
    for (let at = lineStart; at <= lineStart + LONGEST_METHOD; at++) {
      if (buf[at] === SP) {
        return new HttpError(
          `Request line longer than ${this.maxStartLineBytes} bytes`,
          414,
          false,
        );
      }
      if (!TOKEN_CHAR[buf[at]]) return this.badLine();
    }
    return new HttpError(
      `Method ${quoted(latin1(buf, lineStart, lineStart + 20))} is not implemented`,
      501,
      false,
    );
  }

  private badLine(): HttpError {
    return new HttpError("Malformed request line: expected METHOD SP TARGET SP HTTP/x.y");
  }
}

/** Options for the response parser. */
export interface ResponseParserOptions extends ParserOptions {
  /** Return 1xx responses as `informational` events instead of skipping them silently. */
  emitInformational?: boolean;
}

/**
 * Parses responses on a client connection. Tell it each request's method with `expect(method)`
 * before the response arrives (HEAD and CONNECT change whether a body follows); without a call
 * it assumes GET.
 */
export class ResponseParser extends MessageParser<ResponseHead> {
  protected readonly errorStatus = 502;
  private readonly methods: string[] = [];
  private readonly emitInformational: boolean;

  constructor(options: ResponseParserOptions = {}) {
    // As a client, take what real servers send (a long Content-Security-Policy, a big cookie):
    // one field line may fill the whole section, as curl allows 100 KB.
    super(options, Infinity, MAX_HEADER_SECTION_BYTES);
    this.emitInformational = options.emitInformational ?? false;
  }

  /** Queues the method of a request whose response will be parsed next. */
  expect(method: string): void {
    this.methods.push(method);
  }

  /** Like `RequestParser.next`; 1xx heads are skipped unless `emitInformational` is set. */
  override next(): HttpEvent<ResponseHead> | InformationalHead | null {
    while (true) {
      const event = super.next();
      if (event?.kind !== "informational" || this.emitInformational) return event;
    }
  }

  protected parseHead(section: Section): ResponseHead | InformationalHead {
    const buf = this.buf;
    const start = section.lineStarts[0];
    const end = section.lineEnds[0];
    const badLine = () =>
      new HttpError(
        `Malformed status line "${latin1(buf, start, Math.min(end, start + 60))}"`,
        502,
      );
    if (end - start < 12 || buf[start + 8] !== SP) throw badLine();
    const versionText = this.parseVersion(start, start + 8);
    if (versionText === null) throw badLine();
    let status = 0;
    for (let at = start + 9; at < start + 12; at++) {
      if (buf[at] < 0x30 || buf[at] > 0x39) throw badLine();
      status = status * 10 + buf[at] - 0x30;
    }
    if (status < 100) throw badLine();
    // A missing SP before an empty reason phrase is tolerated (RFC 9112 §4).
    if (end > start + 12 && buf[start + 12] !== SP) throw badLine();
    for (let at = start + 13; at < end; at++) if (!VALUE_CHAR[buf[at]]) throw badLine();
    const reason = end > start + 13 ? latin1(buf, start + 13, end) : "";
    const fieldNames: string[] = [];
    const headers = this.parseFields(section, 1, fieldNames);
    if (versionText !== "1.1" && versionText !== "1.0") {
      throw new HttpError(`HTTP version "${versionText}" is not supported`, 502);
    }
    const version = versionText as HttpVersion;

    if (status < 200 && status !== 101) {
      // 1xx: an interim response (100 Continue, 103 Early Hints); the real one follows.
      return { kind: "informational", status, reason, headers };
    }
    const requestMethod = this.methods.shift() ?? "GET";
    let keepAlive = this.persistent(version, headers);
    let bodyKind: BodyKind = "none";
    let contentLength = -1;
    const teValues = getHeaderValues(headers, "transfer-encoding");
    const clValues = getHeaderValues(headers, "content-length");
    if (status === 101 || (requestMethod === "CONNECT" && status < 300)) {
      keepAlive = false; // The connection now speaks another protocol (or is a tunnel).
    } else if (requestMethod === "HEAD" || status === 204 || status === 304) {
      // No body, whatever the fields say; Content-Length describes the GET answer.
      if (clValues.length) contentLength = this.contentLength(clValues);
    } else if (teValues.length > 0) {
      if (clValues.length > 0) {
        throw new HttpError("Transfer-Encoding together with Content-Length", 502);
      }
      const codings = this.transferCodings(teValues);
      if (codings[codings.length - 1] === "chunked") {
        if (codings.length > 1) {
          throw new HttpError(`Transfer-Encoding "${teValues.join(", ")}" is not supported`, 502);
        }
        bodyKind = "chunked";
      } else {
        bodyKind = "close";
        keepAlive = false;
      }
    } else if (clValues.length > 0) {
      contentLength = this.contentLength(clValues);
      if (contentLength > this.maxBodyBytes) throw this.tooLarge();
      bodyKind = contentLength > 0 ? "length" : "none";
    } else {
      bodyKind = "close";
      keepAlive = false;
    }
    return {
      kind: "response",
      status,
      reason,
      version,
      headers,
      keepAlive,
      bodyKind,
      contentLength,
      headBytes: section.end - start,
      requestMethod,
      fieldNames,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Status codes (seed 003: 响应码) and the serializer.

/** Reason phrases of RFC 9110 §15 (and a few common extensions). */
export const STATUS_TEXT: Readonly<Record<number, string>> = {
  100: "Continue",
  101: "Switching Protocols",
  103: "Early Hints",
  200: "OK",
  201: "Created",
  202: "Accepted",
  203: "Non-Authoritative Information",
  204: "No Content",
  205: "Reset Content",
  206: "Partial Content",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  421: "Misdirected Request",
  422: "Unprocessable Content",
  426: "Upgrade Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

/** The five status classes: the first digit says how the request went (seed 003's 1xx–5xx). */
export const STATUS_CLASSES: Readonly<Record<1 | 2 | 3 | 4 | 5, string>> = {
  1: "Informational: request received, continuing",
  2: "Successful: request received, understood and accepted",
  3: "Redirection: further action (another URL) needed",
  4: "Client error: the request is wrong or cannot be fulfilled",
  5: "Server error: the server failed to fulfil a valid request",
};

/** The reason phrase for `status` (an empty string for codes without one). */
export function reasonPhrase(status: number): string {
  return STATUS_TEXT[status] ?? "";
}

/** The class text for `status` (1xx–5xx); throws RangeError outside 100–599. */
export function statusClass(status: number): string {
  const digit = Math.floor(status / 100);
  if (!Number.isInteger(status) || digit < 1 || digit > 5) {
    throw new RangeError(`Invalid status code "${status}": expected 100 to 599`);
  }
  return STATUS_CLASSES[digit as 1 | 2 | 3 | 4 | 5];
}

/** Header fields for the serializer: a list (order kept) or a record. */
export type HeaderInit = HeaderList | Record<string, string | number>;

function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f || !TOKEN_CHAR[c]) return false;
  }
  return true;
}

function isFieldValue(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff || !VALUE_CHAR[c]) return false;
  }
  return true;
}

/**
 * `Name: value\r\n` lines, validated: no header injection through CR/LF/NUL, and no leading or
 * trailing whitespace in a value — a parser drops it (it is OWS), so the message read back would
 * not be the one written.
 */
export function formatFields(headers: HeaderInit): string {
  let out = "";
  const entries = Array.isArray(headers) ? headers : Object.entries(headers);
  for (const [name, raw] of entries) {
    const value = String(raw);
    if (!isToken(name)) throw new TypeError(`Invalid header name ${quoted(name)}`);
    if (!isFieldValue(value)) {
      throw new TypeError(`Invalid value for header "${name}": control characters are not allowed`);
    }
    if (value !== "" && (isOws(value.charCodeAt(0)) || isOws(value.charCodeAt(value.length - 1)))) {
      throw new TypeError(
        `Invalid value for header "${name}": leading or trailing whitespace would be lost`,
      );
    }
    out += `${name}: ${value}\r\n`;
  }
  return out;
}

/** A request head as text: `GET /index.html HTTP/1.1` CRLF, fields, CRLF (never seed 003's typo). */
export function formatRequestHead(
  method: string,
  target: string,
  headers: HeaderInit = [],
  version: HttpVersion = "1.1",
): string {
  if (!isToken(method)) throw new TypeError(`Invalid method ${quoted(method)}`);
  let valid = target.length > 0;
  for (let i = 0; valid && i < target.length; i++) {
    const c = target.charCodeAt(i);
    valid = c < 0x80 && TARGET_CHAR[c] === 1;
  }
  if (!valid) {
    throw new TypeError(
      `Invalid request target ${quoted(target)}: expected visible ASCII, no spaces, no fragment`,
    );
  }
  return `${method} ${target} HTTP/${version}\r\n${formatFields(headers)}\r\n`;
}

/** A response head as text: `HTTP/1.1 200 OK` CRLF, fields, CRLF (never seed 003's `20 OK`). */
export function formatResponseHead(
  status: number,
  headers: HeaderInit = [],
  { reason = reasonPhrase(status), version = "1.1" }: { reason?: string; version?: HttpVersion } =
    {},
): string {
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    throw new RangeError(`Invalid status code "${status}": expected 100 to 599`);
  }
  if (!isFieldValue(reason)) throw new TypeError(`Invalid reason phrase "${reason}"`);
  return `HTTP/${version} ${status} ${reason}\r\n${formatFields(headers)}\r\n`;
}

/** An outgoing request for `serializeRequest`. */
export interface OutgoingRequest {
  method: string;
  target: string;
  headers?: HeaderInit;
  version?: HttpVersion;
  /** Sent with a Content-Length (added unless the headers already frame the body). */
  body?: Uint8Array | string;
}

/** An outgoing response for `serializeResponse`. */
export interface OutgoingResponse {
  status: number;
  reason?: string;
  headers?: HeaderInit;
  version?: HttpVersion;
  body?: Uint8Array | string;
}

const textEncoder = new TextEncoder();

function bodyBytes(body: Uint8Array | string | undefined): Uint8Array | undefined {
  return typeof body === "string" ? textEncoder.encode(body) : body;
}

function withLength(headers: HeaderInit, body: Uint8Array | undefined): HeaderList {
  const list: HeaderList = Array.isArray(headers)
    ? [...headers]
    : Object.entries(headers).map(([n, v]) => [n, String(v)]);
  if (body !== undefined) {
    const framed = list.some(([n]) => {
      const lower = n.toLowerCase();
      return lower === "content-length" || lower === "transfer-encoding";
    });
    if (!framed) list.push(["Content-Length", String(body.length)]);
  }
  return list;
}

/** Joins a head and an optional body into one buffer (one `write`). */
export function joinHeadAndBody(head: string, body?: Uint8Array): Uint8Array {
  const out = new Uint8Array(head.length + (body?.length ?? 0));
  if (ASCII_ONLY.test(head)) {
    textEncoder.encodeInto(head, out); // Native and exact for ASCII.
  } else {
    out.set(encodeLatin1(head));
  }
  if (body) out.set(body, head.length);
  return out;
}

const ASCII_ONLY = /^[^\u0080-\uffff]*$/;

/** A whole request as bytes; a body gets a Content-Length unless the headers frame it. */
export function serializeRequest(request: OutgoingRequest): Uint8Array {
  const body = bodyBytes(request.body);
  const head = formatRequestHead(
    request.method,
    request.target,
    withLength(request.headers ?? [], body),
    request.version,
  );
  return joinHeadAndBody(head, body);
}

/** A whole response as bytes; a body gets a Content-Length unless the headers frame it. */
export function serializeResponse(response: OutgoingResponse): Uint8Array {
  const body = bodyBytes(response.body);
  const head = formatResponseHead(response.status, withLength(response.headers ?? [], body), {
    reason: response.reason,
    version: response.version,
  });
  return joinHeadAndBody(head, body);
}

/** One chunk of a chunked body (`size CRLF data CRLF`); empty data yields nothing. */
export function encodeChunk(data: Uint8Array): Uint8Array {
  if (data.length === 0) return EMPTY;
  const size = data.length.toString(16);
  const out = new Uint8Array(size.length + 2 + data.length + 2);
  for (let i = 0; i < size.length; i++) out[i] = size.charCodeAt(i);
  out[size.length] = CR;
  out[size.length + 1] = LF;
  out.set(data, size.length + 2);
  out[out.length - 2] = CR;
  out[out.length - 1] = LF;
  return out;
}

/** The last chunk (`0 CRLF`), optional trailer fields, and the final CRLF. */
export function encodeLastChunk(trailers: HeaderInit = []): Uint8Array {
  return encodeLatin1(`0\r\n${formatFields(trailers)}\r\n`);
}
