/**
 * What the bytes of an HTTP/1.1 message say, field by field — the HTTP part of every `--explain`.
 * `describeHttp(bytes)` walks a request or response as it went over the wire and
 * returns `ExplainField`s for `tcp/explain.ts`: the request/status line split into its parts,
 * each header line with what it does (above all to framing: Content-Length, Transfer-Encoding,
 * Connection and the HTTP/1.0 vs 1.1 default), the blank line with the framing decision it
 * completes, then the body: its Content-Length bytes, each chunk's hex size line with the decoded
 * size, the last chunk and the trailers — seed 003's 请求行 / 请求头 / 空行 / 请求体, annotated.
 *
 * Pure and total: it never throws. Anything malformed is described as far as it goes, then one
 * `(malformed)` field covers the rest and says what is wrong, in the words the parser (http/core/parser.ts) uses
 * when it refuses the same bytes. The framing rules are RFC 9112's, the same ones the parser
 * applies; this module re-walks the bytes itself because the parser (built for speed) keeps no
 * offsets and lower-cases header names — here names are shown exactly as they came on the wire.
 * Limits: at most `MAX_DESCRIBED_LINES` head lines and `MAX_DESCRIBED_CHUNKS` chunks are
 * described one by one; the rest is summarised in one field.
 */
import { explainBytes } from "../../tcp/kit/explain.ts";
import type { BodyKind } from "./events.ts";
import { KNOWN_METHODS, MAX_START_LINE_BYTES } from "./parser.ts";
import { reasonPhrase, STATUS_CLASSES } from "./status.ts";
import { CR, latin1, LF, SP, TOKEN_CHAR } from "./syntax.ts";
import {
  headerMeaning,
  METHOD_MEANING,
  plural,
  targetMeaning,
  versionMeaning,
} from "./describe_meaning.ts";

import { describeBody } from "./describe_body.ts";
import {
  describeFields,
  type DescribeOptions,
  fail,
  type HttpDescription,
  incompleteOrBad,
  lineEnd,
  notCaptured,
  preview,
  type Walk,
} from "./describe_walk.ts";

export { headerMeaning };
export { MAX_DESCRIBED_CHUNKS } from "./describe_body.ts";
export { MAX_DESCRIBED_LINES } from "./describe_walk.ts";
export type { DescribeOptions, HttpDescription } from "./describe_walk.ts";

/** Describes one HTTP/1.x message (request or response) in `bytes`, from offset 0. */
export function describeHttp(bytes: Uint8Array, options: DescribeOptions = {}): HttpDescription {
  const kind = options.kind ??
    (bytes.length >= 5 && latin1(bytes, 0, 5) === "HTTP/" ? "response" : "request");
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
  for (let at = start; tokenOk && at < sp1; at++) tokenOk = TOKEN_CHAR[bytes[at]] === 1;
  const versionText = sp2 > sp1 && sp2 < end ? latin1(bytes, sp2 + 1, end) : "";
  const versionMatch = /^HTTP\/(\d)\.(\d)$/.exec(versionText);
  if (!tokenOk || sp2 < 0 || sp2 >= end || sp2 === sp1 + 1 || !versionMatch) {
    result.error = fail(
      walk,
      "Malformed request line: expected METHOD SP TARGET SP HTTP/x.y",
    );
    return;
  }
  const method = latin1(bytes, start, sp1);
  const target = latin1(bytes, sp1 + 1, sp2);
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
    const line = latin1(bytes, start, end);
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
