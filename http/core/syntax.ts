/**
 * The character classes of HTTP/1.1 (RFC 9110 §5.6) as lookup tables, and the few text helpers
 * the parser and the serializer share: latin1 both ways, OWS trimming, token and field-value
 * checks, and interned common words (so parsing them allocates nothing).
 */

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;
export const COLON = 0x3a;
export const SEMICOLON = 0x3b;
export const EQUALS = 0x3d;
export const DQUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const EMPTY = new Uint8Array(0);

/**
 * Common methods and field names as ready-made strings, so that parsing them allocates nothing
 * (every request on a busy server carries the same few). Names match case-insensitively.
 */
export class Interned {
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

export const COMMON_METHODS = new Interned(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"]);
export const COMMON_FIELDS = new Interned([
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
export const TOKEN_CHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TOKEN_CHAR[c.charCodeAt(0)] = 1;
}
/** field-vchar, SP and HTAB: everything but control characters (NUL, CR, LF, DEL, …). */
export const VALUE_CHAR = new Uint8Array(256);
for (let c = 0; c < 256; c++) VALUE_CHAR[c] = c === HTAB || (c >= 0x20 && c !== 0x7f) ? 1 : 0;
/**
 * The bytes a request target may hold: visible ASCII (no SP, no control characters, nothing
 * above 0x7e), except `#`, which would start a fragment.
 */
export const TARGET_CHAR = new Uint8Array(256);
for (let c = 0x21; c < 0x7f; c++) TARGET_CHAR[c] = c === 0x23 ? 0 : 1;
export const HASH = 0x23;
/** Characters of a Host's reg-name (RFC 3986 unreserved and sub-delims, but no comma). */
export const HOST_CHAR = new Uint8Array(256);
for (const c of "-._~!$&'()*+;=0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  HOST_CHAR[c.charCodeAt(0)] = 1;
}
export const HEX_VALUE = new Int8Array(256).fill(-1);
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
export function quoted(text: string, max = 60): string {
  return text.length > max ? `"${text.slice(0, max)}…"` : `"${text}"`;
}

export function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** `text` without leading and trailing SP and HTAB (OWS): nothing else counts as whitespace. */
export function trimOws(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isOws(text.charCodeAt(start))) start++;
  while (end > start && isOws(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

export function isHexDigit(c: number): boolean {
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

/** Whether `text` is a token (tchar+): a method or a field name. */
export function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f || !TOKEN_CHAR[c]) return false;
  }
  return true;
}

/** Whether `text` holds only field-value characters (no CR, LF, NUL or other controls). */
export function isFieldValue(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff || !VALUE_CHAR[c]) return false;
  }
  return true;
}
