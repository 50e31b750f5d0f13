/**
 * The walk under every `--explain` HTTP view (describe.ts): where it stands in the bytes, the
 * fields found so far, and the steps every part of a message shares — find a line end, say what
 * is malformed or not captured, and read header (or trailer) lines up to the blank line.
 */
import type { ExplainField } from "../../tcp/kit/explain.ts";
import type { BodyKind } from "./events.ts";
import { MAX_HEADER_FIELDS } from "./parser.ts";
import { CR, HTAB, latin1, LF, SP, TOKEN_CHAR } from "./syntax.ts";
import { headerMeaning } from "./describe_meaning.ts";

/** Head lines (start line and fields) described one by one; more is malformed anyway (431). */
export const MAX_DESCRIBED_LINES = MAX_HEADER_FIELDS + 1;
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

/** A short quoted preview: `"hello\n"`, cut with `…`. */
export function preview(value: string, max = PREVIEW_CHARS): string {
  const cut = value.length > max ? value.slice(0, max) : value;
  return JSON.stringify(cut) + (value.length > max ? "…" : "");
}

/** A body preview decoded as UTF-8 (what a browser would most likely show). */
export function bodyPreview(bytes: Uint8Array): string {
  const head = bytes.subarray(0, PREVIEW_CHARS * 2);
  return preview(new TextDecoder().decode(head));
}

export interface Walk {
  bytes: Uint8Array;
  fields: ExplainField[];
  pos: number;
  partial: boolean;
}

/** Adds a field covering the rest of the bytes (or nothing) that says what is wrong. */
export function fail(walk: Walk, message: string, at = walk.pos): string {
  walk.fields.push({
    offset: at,
    length: Math.max(0, walk.bytes.length - at),
    name: "(malformed)",
    value: message,
  });
  return message;
}

/** Marks where an intentionally partial capture stops. */
export function notCaptured(walk: Walk, what: string): void {
  walk.fields.push({ offset: walk.bytes.length, length: 0, name: "(capture ends)", value: what });
}

/**
 * Finds the line at `walk.pos`: returns the offset of its CR, or a string saying why there is no
 * complete CRLF-terminated line (null when the bytes simply end).
 */
export function lineEnd(walk: Walk, limit: number): number | string | null {
  const { bytes, pos } = walk;
  const lf = bytes.indexOf(LF, pos);
  if (lf < 0 || lf - pos > limit + 1) {
    if (bytes.length - pos > limit + 1) return `Line longer than ${limit} bytes`;
    return null;
  }
  if (lf === pos || bytes[lf - 1] !== CR) return "Line ends with a bare LF instead of CRLF";
  return lf - 1;
}

/** Fields of a head (after the start line): the raw lines, and what decides framing. */
export interface HeadFields {
  /** [name as on the wire, value] in order. */
  list: [string, string][];
  hosts: number;
  contentLengths: string[];
  transferEncodings: string[];
  connection: string[];
}

/** Says why there is no complete start line: the bytes end (incomplete) or it is malformed. */
export function incompleteOrBad(walk: Walk, why: string | null, what: string): string {
  if (why !== null) return fail(walk, why);
  if (walk.partial) {
    notCaptured(walk, `the ${what} is not complete`);
    return `Incomplete ${what}`;
  }
  return fail(walk, `Incomplete ${what}: the bytes end before its CRLF`);
}

/** Header (or trailer) lines up to the blank line; null (with `result.error` set) on a problem. */
export function describeFields(
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
    while (colon < end && TOKEN_CHAR[bytes[colon]] === 1) colon++;
    const lineText = latin1(bytes, start, end);
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
        `Invalid ${what} ${preview(latin1(bytes, start, colon), 40)}: ${why}`,
      );
      return null;
    }
    const name = latin1(bytes, start, colon);
    // OWS trimmed by a scan: a regex with `[ \t]+$` is quadratic in a long run of inner spaces.
    let valueStart = colon + 1;
    let valueEnd = end;
    while (valueStart < valueEnd && (bytes[valueStart] === SP || bytes[valueStart] === HTAB)) {
      valueStart++;
    }
    while (valueEnd > valueStart && (bytes[valueEnd - 1] === SP || bytes[valueEnd - 1] === HTAB)) {
      valueEnd--;
    }
    const value = latin1(bytes, valueStart, valueEnd);
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
