/**
 * What the bytes of an HTTP/1.1 message say, field by field — the HTTP part of every `--explain`
 * (issue 7). `describeHttp(bytes)` walks a request or response as it went over the wire and
 * returns `ExplainField`s for `tcp/explain.ts`: the request/status line split into its parts,
 * each header line with what it does (above all to framing: Content-Length, Transfer-Encoding,
 * Connection and the HTTP/1.0 vs 1.1 default), the blank line with the framing decision it
 * completes, then the body: its Content-Length bytes, each chunk's hex size line with the decoded
 * size, the last chunk and the trailers — seed 003's 请求行 / 请求头 / 空行 / 请求体, annotated.
 *
 * Pure and total: it never throws. Anything malformed is described as far as it goes, then one
 * `(malformed)` field covers the rest and says what is wrong, in the words `http/core/ (parser, serialize)` uses
 * when it refuses the same bytes. The framing rules are RFC 9112's, the same ones the parser
 * applies; this module re-walks the bytes itself because the parser (built for speed) keeps no
 * offsets and lower-cases header names — here names are shown exactly as they came on the wire.
 * Limits: at most `MAX_DESCRIBED_LINES` head lines and `MAX_DESCRIBED_CHUNKS` chunks are
 * described one by one; the rest is summarised in one field.
 */
import { explainBytes, type ExplainField } from "../../tcp/kit/explain.ts";
import type { BodyKind } from "./events.ts";
import {
  KNOWN_METHODS,
  MAX_CHUNK_LINE_BYTES,
  MAX_HEADER_FIELDS,
  MAX_START_LINE_BYTES,
} from "./parser.ts";
import { reasonPhrase, STATUS_CLASSES } from "./status.ts";

/** Head lines (start line and fields) described one by one; more is malformed anyway (431). */
export const MAX_DESCRIBED_LINES = MAX_HEADER_FIELDS + 1;
/** Chunks described one by one; the rest of a long chunked body is summarised. */
export const MAX_DESCRIBED_CHUNKS = 64;
/** Characters of a header value or body preview shown before `…`. */
const PREVIEW_CHARS = 48;

/** Options for `describeHttp`. */
export interface DescribeOptions {
  /** Which message it is; by default a message starting with `HTTP/` is a response. */
  kind?: "request" | "response";
  /** For a response: the method of the request it answers (HEAD: no body). Default GET. */
  requestMethod?: string;
  /**
   * The bytes are a capture that may stop early on purpose (the client keeps only the start of
   * a large body): a missing end is then "not captured", not an error.
   */
  partial?: boolean;
}

/** What `describeHttp` found. */
export interface HttpDescription {
  kind: "request" | "response";
  fields: ExplainField[];
  /** Bytes of the head (start line to blank line); -1 when the head is incomplete or broken. */
  headBytes: number;
  /** How the body is delimited (undefined when the head could not be read). */
  bodyKind?: BodyKind;
  /** Content-Length, or -1. */
  contentLength: number;
  /** Whether the connection stays open after this message. */
  keepAlive?: boolean;
  /** Offset just past the message when it is complete, else -1. */
  end: number;
  /** What is wrong, when something is. */
  error?: string;
}

/** What each method asks for (seed 003's 请求方法). */
const METHOD_MEANING: Record<string, string> = {
  GET: "fetch the resource",
  HEAD: "like GET, but the head only: the response has no body",
  POST: "send the body to the resource for processing",
  PUT: "store the body at this URL",
  DELETE: "remove the resource",
  CONNECT: "open a tunnel to host:port (proxies)",
  OPTIONS: "ask which methods the resource allows",
  TRACE: "echo the request back (loop-back test)",
  PATCH: "apply a partial change",
};

/** What a header field does; framing headers get their own, value-dependent text. */
const HEADER_MEANING: Record<string, string> = {
  "host": "which site on this address (required in HTTP/1.1: one IP, many sites)",
  "user-agent": "the client software",
  "accept": "media types the client takes",
  "accept-encoding": "content codings the client can decode",
  "accept-language": "languages the client prefers",
  "accept-ranges": "the server can send byte ranges (Range → 206)",
  "age": "seconds the response spent in a cache",
  "allow": "the methods this resource accepts",
  "authorization": "credentials (Basic: base64 of user:pass — encoded, not encrypted)",
  "cache-control": "caching rules",
  "content-encoding": "the body is compressed with this coding",
  "content-range": "which bytes of the whole this partial body is (206/416)",
  "content-type": "what the body is (media type, charset)",
  "cookie": "state the client stored for this site",
  "date": "when the message was made",
  "etag": "a version tag of the resource: If-None-Match with it → 304",
  "expect": "100-continue: the client waits for an interim 100 before sending the body",
  "expires": "when the response goes stale",
  "if-match": "only if the resource still has this ETag",
  "if-modified-since": "conditional: 304 Not Modified unless changed since this date",
  "if-none-match": "conditional: 304 Not Modified if the ETag still matches",
  "if-range": "send the range only if the resource is unchanged, else all of it",
  "keep-alive": "hints for a persistent connection (timeout, max)",
  "last-modified": "when the resource last changed: If-Modified-Since with it → 304",
  "location": "where to go instead (3xx redirect) or what was created (201)",
  "origin": "the page's site that made this (cross-origin) request",
  "range": "only these bytes of the resource → 206 Partial Content",
  "referer": "the page that linked here",
  "retry-after": "when to try again (503, 429)",
  "server": "the server software",
  "set-cookie": "state for the client to send back in Cookie",
  "te": "transfer codings the client accepts (trailers)",
  "trailer": "these fields come after the chunked body",
  "upgrade": "switch this connection to another protocol (101)",
  "vary": "which request headers chose this response (for caches)",
  "via": "proxies on the way",
  "www-authenticate": "how to authenticate (401): send Authorization",
  "access-control-allow-origin": "CORS: which other sites' scripts may read this response",
  "access-control-allow-methods": "CORS preflight: the methods allowed cross-origin",
  "access-control-allow-headers": "CORS preflight: the request headers allowed cross-origin",
  "access-control-request-method": "CORS preflight: the method the real request will use",
  "access-control-request-headers": "CORS preflight: the headers the real request will send",
  "access-control-max-age": "CORS preflight: seconds the browser may cache this answer",
  "x-netlab-explain": "netlab: which rule produced this status, and which file",
};

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;

/** tchar (RFC 9110 §5.6.2). */
function isTokenChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
    "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c));
}

/** Bytes as latin1 text (every byte one character, as http/core/ (parser, serialize) decodes heads). */
function text(bytes: Uint8Array, start: number, end: number): string {
  let out = "";
  for (let at = start; at < end; at++) out += String.fromCharCode(bytes[at]);
  return out;
}

/** A short quoted preview: `"hello\n"`, cut with `…`. */
function preview(value: string, max = PREVIEW_CHARS): string {
  const cut = value.length > max ? value.slice(0, max) : value;
  return JSON.stringify(cut) + (value.length > max ? "…" : "");
}

/** A body preview decoded as UTF-8 (what a browser would most likely show). */
function bodyPreview(bytes: Uint8Array): string {
  const head = bytes.subarray(0, PREVIEW_CHARS * 2);
  return preview(new TextDecoder().decode(head));
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** What header `name` (any case) with `value` does, or undefined for a field we do not know. */
export function headerMeaning(name: string, value: string): string | undefined {
  const lower = name.toLowerCase();
  switch (lower) {
    case "content-length":
      return /^\d+$/.test(value.trim())
        ? `the body is exactly ${plural(Number(value.trim()), "byte")}`
        : "the body length (this value is not a number: rejected)";
    case "transfer-encoding": {
      const codings = value.split(",").map((c) => c.trim().toLowerCase());
      if (codings.at(-1) === "chunked") {
        return "the body comes in chunks, each with a hex size line, ending with 0" +
          (codings.length > 1 ? ` (first decoded: ${codings.slice(0, -1).join(", ")})` : "");
      }
      return "a transfer coding without chunked: the body ends when the connection closes";
    }
    case "connection": {
      const tokens = value.split(",").map((t) => t.trim().toLowerCase());
      if (tokens.includes("close")) return "close the connection after this message";
      if (tokens.includes("keep-alive")) {
        return "keep the connection open for another message (HTTP/1.0's opt-in)";
      }
      if (tokens.includes("upgrade")) return "the Upgrade field is for this hop";
      return "fields meant for this hop only";
    }
    default:
      return HEADER_MEANING[lower];
  }
}

/** The target's form (RFC 9112 §3.2). */
function targetMeaning(method: string, target: string): string {
  if (target === "*") return "asterisk-form: the server as a whole (OPTIONS)";
  if (method === "CONNECT") return "authority-form: host:port to tunnel to";
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) return "absolute-form: a full URL (to a proxy)";
  const q = target.indexOf("?");
  return q < 0
    ? "origin-form: the path of the resource"
    : `origin-form: path ${target.slice(0, q)} and query ${target.slice(q + 1)}`;
}

function versionMeaning(version: string): string {
  if (version === "1.1") return `HTTP/1.1: the connection stays open unless "Connection: close"`;
  if (version === "1.0") {
    return `HTTP/1.0: the connection closes after the response unless "Connection: keep-alive"`;
  }
  return `HTTP/${version}: not supported (only 1.0 and 1.1)`;
}

/** The state of one walk over the bytes. */
interface Walk {
  bytes: Uint8Array;
  fields: ExplainField[];
  pos: number;
  partial: boolean;
}

/** Adds a field covering the rest of the bytes (or nothing) that says what is wrong. */
function fail(walk: Walk, message: string, at = walk.pos): string {
  walk.fields.push({
    offset: at,
    length: Math.max(0, walk.bytes.length - at),
    name: "(malformed)",
    value: message,
  });
  return message;
}

/** Marks where an intentionally partial capture stops. */
function notCaptured(walk: Walk, what: string): void {
  walk.fields.push({ offset: walk.bytes.length, length: 0, name: "(capture ends)", value: what });
}

/**
 * Finds the line at `walk.pos`: returns the offset of its CR, or a string saying why there is no
 * complete CRLF-terminated line (null when the bytes simply end).
 */
function lineEnd(walk: Walk, limit: number): number | string | null {
  const { bytes, pos } = walk;
  const lf = bytes.indexOf(LF, pos);
  if (lf < 0 || lf - pos > limit + 1) {
    if (bytes.length - pos > limit + 1) return `Line longer than ${limit} bytes`;
    return null;
  }
  if (lf === pos || bytes[lf - 1] !== CR) return "Line ends with a bare LF instead of CRLF";
  return lf - 1;
}

/** Describes one HTTP/1.x message (request or response) in `bytes`, from offset 0. */
export function describeHttp(bytes: Uint8Array, options: DescribeOptions = {}): HttpDescription {
  const kind = options.kind ??
    (bytes.length >= 5 && text(bytes, 0, 5) === "HTTP/" ? "response" : "request");
  const walk: Walk = { bytes, fields: [], pos: 0, partial: options.partial ?? false };
  const result: HttpDescription = {
    kind,
    fields: walk.fields,
    headBytes: -1,
    contentLength: -1,
    end: -1,
  };
  if (kind === "request") {
    describeRequestInto(walk, result);
  } else {
    describeResponseInto(walk, result, (options.requestMethod ?? "GET").toUpperCase());
  }
  return result;
}

/** The annotated view of a message: `explainBytes` over `describeHttp`'s fields. */
export function explainHttp(
  bytes: Uint8Array,
  options: DescribeOptions & { title?: string } = {},
): string {
  return explainBytes(bytes, describeHttp(bytes, options).fields, { title: options.title });
}

/** Fields of a head (after the start line): the raw lines, and what decides framing. */
interface HeadFields {
  /** [name as on the wire, value] in order. */
  list: [string, string][];
  hosts: number;
  contentLengths: string[];
  transferEncodings: string[];
  connection: string[];
}

function describeRequestInto(walk: Walk, result: HttpDescription): void {
  const { bytes, fields } = walk;
  // RFC 9112 §2.2: empty lines before a request line are ignored.
  while (bytes[walk.pos] === CR && bytes[walk.pos + 1] === LF) {
    fields.push({
      offset: walk.pos,
      length: 2,
      name: "empty line",
      value: "ignored before a request line",
    });
    walk.pos += 2;
  }
  const start = walk.pos;
  const end = lineEnd(walk, MAX_START_LINE_BYTES);
  if (typeof end !== "number") {
    result.error = incompleteOrBad(walk, end, "request line");
    return;
  }
  const sp1 = bytes.indexOf(SP, start);
  const sp2 = sp1 < 0 || sp1 >= end ? -1 : bytes.indexOf(SP, sp1 + 1);
  let tokenOk = sp1 > start;
  for (let at = start; tokenOk && at < sp1; at++) tokenOk = isTokenChar(bytes[at]);
  const versionText = sp2 > sp1 && sp2 < end ? text(bytes, sp2 + 1, end) : "";
  const versionMatch = /^HTTP\/(\d)\.(\d)$/.exec(versionText);
  if (!tokenOk || sp2 < 0 || sp2 >= end || sp2 === sp1 + 1 || !versionMatch) {
    result.error = fail(
      walk,
      "Malformed request line: expected METHOD SP TARGET SP HTTP/x.y",
    );
    return;
  }
  const method = text(bytes, start, sp1);
  const target = text(bytes, sp1 + 1, sp2);
  const version = `${versionMatch[1]}.${versionMatch[2]}`;
  fields.push({
    offset: start,
    length: end + 2 - start,
    name: "request line",
    value: `${method} ${target} HTTP/${version}`,
  });
  fields.push({
    offset: start,
    length: sp1 + 1 - start,
    name: "method",
    value: `${method}: ${METHOD_MEANING[method] ?? "not a method this server knows → 501"}`,
    depth: 1,
  });
  fields.push({
    offset: sp1 + 1,
    length: sp2 + 1 - (sp1 + 1),
    name: "target",
    value: `${target}: ${targetMeaning(method, target)}`,
    depth: 1,
  });
  fields.push({
    offset: sp2 + 1,
    length: end + 2 - (sp2 + 1),
    name: "version",
    value: versionMeaning(version),
    depth: 1,
  });
  walk.pos = end + 2;
  if (!KNOWN_METHODS.has(method)) {
    result.error = fail(walk, `Method "${method}" is not implemented (501)`);
    return;
  }
  if (version !== "1.0" && version !== "1.1") {
    result.error = fail(walk, `HTTP version "${version}" is not supported (505)`);
    return;
  }
  const head = describeFields(walk, result, "header");
  if (!head) return;

  // The framing decision, RFC 9112 §6.3 for requests: chunked, else Content-Length, else none.
  const blank = walk.pos - 2;
  if (head.hosts > 1) return void (result.error = fail(walk, "More than one Host header", blank));
  if (version === "1.1" && head.hosts === 0) {
    result.error = fail(walk, "HTTP/1.1 request without a Host header (400)", blank);
    return;
  }
  let bodyKind: BodyKind = "none";
  if (head.transferEncodings.length > 0) {
    if (head.contentLengths.length > 0) {
      result.error = fail(
        walk,
        "Transfer-Encoding together with Content-Length: rejected (request smuggling)",
        blank,
      );
      return;
    }
    if (version === "1.0") {
      result.error = fail(walk, "Transfer-Encoding in an HTTP/1.0 request", blank);
      return;
    }
    const codings = head.transferEncodings.join(",").split(",").map((c) => c.trim().toLowerCase());
    if (codings.at(-1) !== "chunked") {
      result.error = fail(
        walk,
        `Transfer-Encoding "${head.transferEncodings.join(", ")}" does not end in chunked`,
        blank,
      );
      return;
    }
    bodyKind = "chunked";
  } else if (head.contentLengths.length > 0) {
    const length = contentLength(head.contentLengths);
    if (typeof length === "string") return void (result.error = fail(walk, length, blank));
    result.contentLength = length;
    bodyKind = length > 0 ? "length" : "none";
  }
  const keepAlive = persistent(version, head.connection);
  finishHead(walk, result, bodyKind, keepAlive, version, head.connection, "");
  describeBody(walk, result);
}

function describeResponseInto(walk: Walk, result: HttpDescription, requestMethod: string): void {
  const { bytes, fields } = walk;
  while (true) {
    const start = walk.pos;
    const end = lineEnd(walk, MAX_START_LINE_BYTES);
    if (typeof end !== "number") {
      result.error = incompleteOrBad(walk, end, "status line");
      return;
    }
    const line = text(bytes, start, end);
    const match = /^HTTP\/(\d)\.(\d) (\d{3})(?: ([^]*))?$/.exec(line);
    if (!match || Number(match[3]) < 100) {
      result.error = fail(walk, `Malformed status line ${preview(line)}`);
      return;
    }
    const version = `${match[1]}.${match[2]}`;
    const status = Number(match[3]);
    const reason = match[4] ?? "";
    fields.push({ offset: start, length: end + 2 - start, name: "status line", value: line });
    fields.push({
      offset: start,
      length: 8,
      name: "version",
      value: versionMeaning(version),
      depth: 1,
    });
    const digit = Math.floor(status / 100);
    const classText = STATUS_CLASSES[digit as 1 | 2 | 3 | 4 | 5] ?? "not a status class (1xx–5xx)";
    fields.push({
      offset: start + 8,
      length: match[4] === undefined ? end + 2 - (start + 8) : 4,
      name: "status code",
      value: `${status}: ${digit}xx ${classText}`,
      depth: 1,
    });
    const known = reasonPhrase(status);
    if (match[4] !== undefined) {
      fields.push({
        offset: start + 12,
        length: end + 2 - (start + 12),
        name: "reason",
        value: `${preview(reason)}: for humans only${
          known && known !== reason ? ` (the usual text is "${known}")` : ""
        }`,
        depth: 1,
      });
    }
    walk.pos = end + 2;
    if (version !== "1.0" && version !== "1.1") {
      result.error = fail(walk, `HTTP version "${version}" is not supported`);
      return;
    }
    const head = describeFields(walk, result, "header");
    if (!head) return;
    if (status < 200 && status !== 101) {
      // An interim response (100 Continue, 103 Early Hints): the real one follows.
      fields.push({
        offset: walk.pos - 2,
        length: 2,
        name: "blank line",
        value: `end of an interim ${status} response: the real response follows`,
      });
      if (walk.pos >= bytes.length && walk.partial) return notCaptured(walk, "the final response");
      continue;
    }

    // The framing decision, RFC 9112 §6.3 for responses.
    const blank = walk.pos - 2;
    let keepAlive = persistent(version, head.connection);
    let bodyKind: BodyKind = "none";
    let why = "";
    if (status === 101) {
      keepAlive = false;
      why = "101: the connection now speaks another protocol";
    } else if (requestMethod === "HEAD" || status === 204 || status === 304) {
      why = requestMethod === "HEAD"
        ? "an answer to HEAD never has a body (Content-Length describes the GET answer)"
        : `${status} never has a body`;
    } else if (head.transferEncodings.length > 0) {
      if (head.contentLengths.length > 0) {
        result.error = fail(walk, "Transfer-Encoding together with Content-Length", blank);
        return;
      }
      const codings = head.transferEncodings.join(",").split(",").map((c) =>
        c.trim().toLowerCase()
      );
      if (codings.at(-1) === "chunked") {
        bodyKind = "chunked";
      } else {
        bodyKind = "close";
        keepAlive = false;
      }
    } else if (head.contentLengths.length > 0) {
      const length = contentLength(head.contentLengths);
      if (typeof length === "string") return void (result.error = fail(walk, length, blank));
      result.contentLength = length;
      bodyKind = length > 0 ? "length" : "none";
    } else {
      bodyKind = "close";
      keepAlive = false;
    }
    finishHead(walk, result, bodyKind, keepAlive, version, head.connection, why);
    describeBody(walk, result);
    return;
  }
}

/** Says why there is no complete start line: the bytes end (incomplete) or it is malformed. */
function incompleteOrBad(walk: Walk, why: string | null, what: string): string {
  if (why !== null) return fail(walk, why);
  if (walk.partial) {
    notCaptured(walk, `the ${what} is not complete`);
    return `Incomplete ${what}`;
  }
  return fail(walk, `Incomplete ${what}: the bytes end before its CRLF`);
}

/** Header (or trailer) lines up to the blank line; null (with `result.error` set) on a problem. */
function describeFields(
  walk: Walk,
  result: HttpDescription,
  what: "header" | "trailer",
  depth = 0,
): HeadFields | null {
  const { bytes, fields } = walk;
  const head: HeadFields = {
    list: [],
    hosts: 0,
    contentLengths: [],
    transferEncodings: [],
    connection: [],
  };
  while (true) {
    if (head.list.length >= MAX_DESCRIBED_LINES) {
      result.error = fail(walk, `More than ${MAX_HEADER_FIELDS} ${what} fields (431)`);
      return null;
    }
    const start = walk.pos;
    const end = lineEnd(walk, 64 * 1024);
    if (typeof end !== "number") {
      result.error = incompleteOrBad(walk, end, `${what} section`);
      return null;
    }
    if (end === start) {
      walk.pos = end + 2;
      if (what === "header") result.headBytes = walk.pos;
      return head;
    }
    const first = bytes[start];
    if (first === SP || first === HTAB) {
      result.error = fail(walk, "Obsolete line folding (obs-fold) is not allowed");
      return null;
    }
    let colon = start;
    while (colon < end && isTokenChar(bytes[colon])) colon++;
    const lineText = text(bytes, start, end);
    if (colon === end) {
      result.error = fail(walk, `Header line without a colon: ${preview(lineText, 40)}`);
      return null;
    }
    if (bytes[colon] !== 0x3a || colon === start) {
      const why = bytes[colon] === SP || bytes[colon] === HTAB
        ? "whitespace before the colon"
        : colon === start
        ? "an empty name"
        : "invalid character in the field name";
      result.error = fail(
        walk,
        `Invalid ${what} ${preview(text(bytes, start, colon), 40)}: ${why}`,
      );
      return null;
    }
    const name = text(bytes, start, colon);
    // OWS trimmed by a scan: a regex with `[ \t]+$` is quadratic in a long run of inner spaces.
    let valueStart = colon + 1;
    let valueEnd = end;
    while (valueStart < valueEnd && (bytes[valueStart] === SP || bytes[valueStart] === HTAB)) {
      valueStart++;
    }
    while (valueEnd > valueStart && (bytes[valueEnd - 1] === SP || bytes[valueEnd - 1] === HTAB)) {
      valueEnd--;
    }
    const value = text(bytes, valueStart, valueEnd);
    for (let at = colon + 1; at < end; at++) {
      const c = bytes[at];
      if (c !== HTAB && (c < 0x20 || c === 0x7f)) {
        result.error = fail(
          walk,
          `Invalid ${what} "${name}": control character 0x${
            c.toString(16).padStart(2, "0")
          } in the value`,
        );
        return null;
      }
    }
    const lower = name.toLowerCase();
    if (lower === "host") head.hosts++;
    if (lower === "content-length") head.contentLengths.push(value);
    if (lower === "transfer-encoding") head.transferEncodings.push(value);
    if (lower === "connection") head.connection.push(value);
    head.list.push([name, value]);
    const meaning = headerMeaning(name, value);
    const shown = lower === "authorization" ? value.replace(/ .*/, " …") : preview(value);
    fields.push({
      offset: start,
      length: end + 2 - start,
      name: what === "trailer" ? `${name} (trailer)` : name,
      value: meaning ? `${shown}: ${meaning}` : shown,
      depth,
    });
    walk.pos = end + 2;
  }
}

/** Content-Length from its (possibly repeated, comma-listed) values, or what is wrong. */
function contentLength(values: string[]): number | string {
  let length = -1;
  for (const value of values) {
    for (const item of value.split(",")) {
      const digits = item.trim();
      if (!/^\d{1,15}$/.test(digits)) return `Invalid Content-Length "${value}"`;
      if (length >= 0 && Number(digits) !== length) {
        return `Duplicate Content-Length with different values: "${values.join(", ")}"`;
      }
      length = Number(digits);
    }
  }
  return length;
}

/** RFC 9112 §9.3: 1.1 persists unless `close`; 1.0 only with `keep-alive`. */
function persistent(version: string, connection: string[]): boolean {
  const tokens = connection.join(",").split(",").map((t) => t.trim().toLowerCase());
  if (tokens.includes("close")) return false;
  return version === "1.1" || tokens.includes("keep-alive");
}

/** The blank line: where the head ends, and what it decided about body and connection. */
function finishHead(
  walk: Walk,
  result: HttpDescription,
  bodyKind: BodyKind,
  keepAlive: boolean,
  version: string,
  connection: string[],
  why: string,
): void {
  result.bodyKind = bodyKind;
  result.keepAlive = keepAlive;
  const body = bodyKind === "length"
    ? `body of exactly ${plural(result.contentLength, "byte")} (Content-Length)`
    : bodyKind === "chunked"
    ? "body in chunks (Transfer-Encoding: chunked)"
    : bodyKind === "close"
    ? "body until the server closes the connection (no length given)"
    : why
    ? `no body (${why})`
    : "no body";
  const explicit = connection.length > 0;
  const conn = keepAlive
    ? `the connection stays open (${explicit ? "Connection: keep-alive" : "HTTP/1.1 default"})`
    : bodyKind === "close"
    ? "then the connection closes"
    : `the connection closes after it (${
      explicit ? "Connection: close" : `HTTP/${version} default`
    })`;
  walk.fields.push({
    offset: walk.pos - 2,
    length: 2,
    name: "blank line",
    value: `end of the head: ${body}; ${conn}`,
  });
}

/** The body after the head, by its framing. */
function describeBody(walk: Walk, result: HttpDescription): void {
  const { bytes, fields } = walk;
  const available = bytes.length - walk.pos;
  switch (result.bodyKind) {
    case "none":
      result.end = walk.pos;
      break;
    case "length": {
      const length = result.contentLength;
      const present = Math.min(length, available);
      fields.push({
        offset: walk.pos,
        length: present,
        name: "body",
        value: `${plural(length, "byte")} (Content-Length): ${
          bodyPreview(bytes.subarray(walk.pos, walk.pos + present))
        }`,
      });
      walk.pos += present;
      if (present < length) {
        if (walk.partial) notCaptured(walk, `${length - present} more body bytes`);
        else result.error = fail(walk, `Body incomplete: ${present} of ${length} bytes`);
        return;
      }
      result.end = walk.pos;
      break;
    }
    case "close":
      fields.push({
        offset: walk.pos,
        length: available,
        name: "body",
        value: `${plural(available, "byte")} (until the connection closed): ${
          bodyPreview(bytes.subarray(walk.pos))
        }`,
      });
      walk.pos = bytes.length;
      result.end = walk.pos;
      return;
    case "chunked":
      if (!describeChunks(walk, result)) return;
      result.end = walk.pos;
      break;
    default:
      return;
  }
  if (walk.pos < bytes.length) {
    fields.push({
      offset: walk.pos,
      length: bytes.length - walk.pos,
      name: "(after the message)",
      value: result.keepAlive
        ? `${plural(bytes.length - walk.pos, "byte")}: the next (pipelined) message`
        : `${plural(bytes.length - walk.pos, "byte")} the peer should not have sent`,
    });
  }
}

/** Each chunk: size line (hex) with its decoded size, data, CRLF; last chunk; trailers. */
function describeChunks(walk: Walk, result: HttpDescription): boolean {
  const { bytes, fields } = walk;
  let total = 0;
  for (let index = 1;; index++) {
    if (index > MAX_DESCRIBED_CHUNKS) {
      fields.push({
        offset: walk.pos,
        length: bytes.length - walk.pos,
        name: "(more chunks)",
        value: `${plural(bytes.length - walk.pos, "byte")} of further chunks, not described`,
      });
      walk.pos = bytes.length;
      return false;
    }
    const start = walk.pos;
    if (start >= bytes.length && walk.partial) {
      notCaptured(walk, `the rest of the chunked body (${plural(total, "byte")} so far)`);
      return false;
    }
    const end = lineEnd(walk, MAX_CHUNK_LINE_BYTES);
    if (typeof end !== "number") {
      result.error = incompleteOrBad(walk, end, "chunk-size line");
      return false;
    }
    const line = text(bytes, start, end);
    const match = /^([0-9a-fA-F]{1,12})[ \t]*(;.*)?$/.exec(line);
    if (!match) {
      result.error = fail(
        walk,
        `Invalid chunk size ${preview(line, 40)}: expected 1 to 12 hex digits`,
      );
      return false;
    }
    const size = parseInt(match[1], 16);
    const extension = match[2] ? ` with extension ${preview(match[2], 30)}` : "";
    if (size === 0) {
      fields.push({
        offset: start,
        length: end + 2 - start,
        name: "last chunk",
        value: `"${match[1]}" = size 0${extension}: no more data; trailer fields may follow`,
      });
      walk.pos = end + 2;
      const trailers = describeFields(walk, result, "trailer");
      if (!trailers) return false;
      fields.push({
        offset: walk.pos - 2,
        length: 2,
        name: "blank line",
        value: `end of the chunked body (${plural(total, "byte")} in ${
          plural(index - 1, "chunk")
        }) and of the message`,
      });
      return true;
    }
    const dataStart = end + 2;
    const present = Math.min(size, bytes.length - dataStart);
    const complete = present === size && bytes.length >= dataStart + size + 2;
    fields.push({
      offset: start,
      length: (complete ? dataStart + size + 2 : dataStart + present) - start,
      name: `chunk ${index}`,
      value: `${plural(size, "byte")}`,
    });
    fields.push({
      offset: start,
      length: end + 2 - start,
      name: "size line",
      value: `"${match[1]}" hex = ${plural(size, "byte")} of data follow${extension}`,
      depth: 1,
    });
    fields.push({
      offset: dataStart,
      length: present,
      name: "data",
      value: bodyPreview(bytes.subarray(dataStart, dataStart + present)),
      depth: 1,
    });
    walk.pos = dataStart + present;
    total += present;
    if (present < size) {
      if (walk.partial) notCaptured(walk, `${size - present} more bytes of chunk ${index}`);
      else result.error = fail(walk, `Chunk ${index} incomplete: ${present} of ${size} bytes`);
      return false;
    }
    if (bytes.length < walk.pos + 2) {
      if (walk.partial && (bytes.length === walk.pos || bytes[walk.pos] === CR)) {
        notCaptured(walk, `the CRLF after chunk ${index}`);
      } else {
        result.error = fail(walk, `Chunk ${index} is not followed by CRLF`);
      }
      return false;
    }
    if (bytes[walk.pos] !== CR || bytes[walk.pos + 1] !== LF) {
      result.error = fail(walk, "Chunk data is not followed by CRLF");
      return false;
    }
    fields.push({ offset: walk.pos, length: 2, name: "CRLF", value: "end of the chunk", depth: 1 });
    walk.pos += 2;
  }
}
