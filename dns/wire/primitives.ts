/**
 * The bottom of the DNS codec: the typed error every decoder throws, the bounds-checked readers
 * (each returns `[value, nextOffset]` — the miekg/dns shape — so a short or lying message becomes
 * a `DnsFormatError` naming the offset, never a wrong value), and the escapes text needs to show
 * bytes the way dig and master files do. Pure.
 */

/** A message that breaks the wire format; `offset` is where decoding gave up. */
export class DnsFormatError extends SyntaxError {
  override name = "DnsFormatError";
  constructor(message: string, readonly offset: number) {
    super(message);
  }
}

/** `Cannot decode WHAT at offset N: DETAIL`, as a `DnsFormatError`. */
export function formatError(offset: number, what: string, detail: string): DnsFormatError {
  return new DnsFormatError(`Cannot decode ${what} at offset ${offset}: ${detail}`, offset);
}

// ---------------------------------------------------------------------------------------------
// Bounds-checked primitive readers: each returns [value, nextOffset] or throws DnsFormatError.

function need(offset: number, n: number, end: number, what: string): void {
  if (offset + n > end) {
    const left = Math.max(0, end - offset);
    throw formatError(offset, what, `need ${n} bytes, only ${left} left`);
  }
}

/** Reads one byte. */
export function readU8(
  buf: Uint8Array,
  offset: number,
  end: number,
  what: string,
): [number, number] {
  need(offset, 1, end, what);
  return [buf[offset], offset + 1];
}

/** Reads a big-endian 16-bit integer. */
export function readU16(
  buf: Uint8Array,
  offset: number,
  end: number,
  what: string,
): [number, number] {
  need(offset, 2, end, what);
  return [(buf[offset] << 8) | buf[offset + 1], offset + 2];
}

/** Reads a big-endian unsigned 32-bit integer. */
export function readU32(
  buf: Uint8Array,
  offset: number,
  end: number,
  what: string,
): [number, number] {
  need(offset, 4, end, what);
  const v = buf[offset] * 0x1000000 + ((buf[offset + 1] << 16) | (buf[offset + 2] << 8) |
    buf[offset + 3]);
  return [v, offset + 4];
}

/** Reads `n` bytes (a copy, so the result outlives the input buffer). */
export function readBytes(
  buf: Uint8Array,
  offset: number,
  n: number,
  end: number,
  what: string,
): [Uint8Array, number] {
  need(offset, n, end, what);
  return [buf.slice(offset, offset + n), offset + n];
}

/** Reads a <character-string>: one length byte, then that many bytes. */
export function readCharacterString(
  buf: Uint8Array,
  offset: number,
  end: number,
  what: string,
): [Uint8Array, number] {
  const [len, at] = readU8(buf, offset, end, what);
  if (at + len > end) {
    throw formatError(offset, what, `string of ${len} bytes runs past the end (${end - at} left)`);
  }
  return [buf.slice(at, at + len), at + len];
}
// ---------------------------------------------------------------------------------------------
// Text: the escapes of master files and dig.

/** `\DDD`: a byte as a backslash and three decimal digits. */
export function decimalEscape(b: number): string {
  return "\\" + (b < 10 ? "00" : b < 100 ? "0" : "") + b;
}

/**
 * `text` for an error message: control characters (C0, DEL, C1, and the Unicode line and
 * paragraph separators) written as master-file escapes (`\010`, `\u2028` above 255), so a
 * message that echoes input stays one line whatever was typed. Everything else is kept.
 */
export function printableText(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 255 ? decimalEscape(code) : `\\u${code.toString(16)}`;
  });
}

/** A <character-string> in master-file form: quoted, `"` and `\` escaped, non-printables `\DDD`. */
export function quoteString(bytes: Uint8Array): string {
  let s = '"';
  for (const b of bytes) {
    if (b === 0x22 || b === 0x5c) s += "\\" + String.fromCharCode(b);
    else if (b < 0x20 || b >= 0x7f) s += decimalEscape(b);
    else s += String.fromCharCode(b);
  }
  return s + '"';
}
