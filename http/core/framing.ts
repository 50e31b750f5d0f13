/**
 * How long a message's body is (RFC 9112 §6): Content-Length, Transfer-Encoding, whether the
 * connection persists, and the chunk-size line of a chunked body. Each rule is strict, because
 * two parsers that read one length two ways is how requests are smuggled.
 */
import type { HeaderList, HttpVersion } from "./events.ts";
import { HttpError } from "./events.ts";
import { headerHasToken } from "./headers.ts";
import {
  BACKSLASH,
  DQUOTE,
  EQUALS,
  HEX_VALUE,
  HTAB,
  isOws,
  isToken,
  latin1,
  quoted,
  SEMICOLON,
  SP,
  TOKEN_CHAR,
  trimOws,
  VALUE_CHAR,
} from "./syntax.ts";

/** Most significant hex digits in a chunk size (leading zeros are free): 12, 256 TiB. */
export const MAX_CHUNK_SIZE_DIGITS = 12;
/** Largest Content-Length we can represent exactly (15 decimal digits). */
export const MAX_LENGTH_DIGITS = 15;

/**
 * Content-Length from its values; -1 when absent. Each is `1*DIGIT` without leading zeros;
 * repeated fields or a list (`5, 5`) must all agree (RFC 9110 §8.6). Anything else — a sign,
 * whitespace other than OWS around the commas, an empty member — is refused: two parsers
 * reading one length two ways is how requests are smuggled.
 */
export function parseContentLength(values: string[], errorStatus: number): number {
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
        throw new HttpError(`Invalid Content-Length ${quoted(value)}`, errorStatus);
      }
      const n = Number(value.slice(start, at));
      if (length >= 0 && n !== length) {
        throw new HttpError(
          `Duplicate Content-Length with different values: ${quoted(values.join(", "))}`,
          errorStatus,
        );
      }
      length = n;
      while (at < value.length && isOws(value.charCodeAt(at))) at++;
      if (at === value.length) break;
      if (value.charCodeAt(at) !== 0x2c) {
        throw new HttpError(`Invalid Content-Length ${quoted(value)}`, errorStatus);
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
export function parseTransferCodings(values: string[], errorStatus: number): string[] {
  const codings: string[] = [];
  for (const value of values) {
    for (const item of value.split(",")) {
      const member = trimOws(item);
      const semicolon = member.indexOf(";");
      const coding = (semicolon < 0 ? member : trimOws(member.slice(0, semicolon)))
        .toLowerCase();
      if (!isToken(coding) || (coding === "chunked" && semicolon >= 0)) {
        throw new HttpError(`Invalid Transfer-Encoding ${quoted(value)}`, errorStatus);
      }
      codings.push(coding);
    }
  }
  return codings;
}

/** RFC 9112 §9.3: 1.1 persists unless `close`; 1.0 only with `keep-alive`. */
export function isPersistent(version: HttpVersion, headers: HeaderList): boolean {
  if (headerHasToken(headers, "connection", "close")) return false;
  return version === "1.1" || headerHasToken(headers, "connection", "keep-alive");
}

/**
 * Parses `chunk-size *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] )` in
 * `buf[start, end)` and returns the size. Extensions are checked, then ignored.
 */
export function parseChunkSize(
  buf: Uint8Array,
  start: number,
  end: number,
  errorStatus: number,
): number {
  const bad = (why: string) =>
    new HttpError(
      `Invalid chunk size ${quoted(latin1(buf, start, end))}: ${why}`,
      errorStatus,
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
      at = quotedStringEnd(buf, at, end);
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
function quotedStringEnd(buf: Uint8Array, at: number, end: number): number {
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
