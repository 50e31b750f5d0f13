/**
 * The text encodings of DNSSEC's binary fields: base64 for keys and signatures (RFC 4648 §4),
 * base32hex without padding for NSEC3 hashed names (RFC 4648 §7, RFC 5155 §3.3), and hex for DS
 * digests and NSEC3 salts. Decoders throw RangeError naming the text and what is wrong with it.
 */

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_VALUE = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64_VALUE[B64.charCodeAt(i)] = i;

/** Bytes → base64 with padding (RFC 4648 §4). */
export function toBase64(bytes: Uint8Array): string {
  let s = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    s += B64[v >> 18] + B64[(v >> 12) & 63] + B64[(v >> 6) & 63] + B64[v & 63];
  }
  if (i < bytes.length) {
    const v = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8);
    s += B64[v >> 18] + B64[(v >> 12) & 63];
    s += i + 1 < bytes.length ? B64[(v >> 6) & 63] + "=" : "==";
  }
  return s;
}

/** Base64 (whitespace ignored, padding required as RFC 4648 says) → bytes; RangeError if bad. */
export function fromBase64(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  if (clean.length % 4 !== 0) {
    throw new RangeError(`Invalid base64 "${shorten(clean)}": length is not a multiple of 4`);
  }
  const pad = clean.endsWith("==") ? 2 : clean.endsWith("=") ? 1 : 0;
  const out = new Uint8Array((clean.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < clean.length; i += 4) {
    let v = 0;
    for (let j = 0; j < 4; j++) {
      const c = clean.charCodeAt(i + j);
      const isPad = c === 61 && i + 4 === clean.length && j >= 4 - pad;
      const d = isPad ? 0 : c < 128 ? B64_VALUE[c] : -1;
      if (d < 0) throw new RangeError(`Invalid base64 "${shorten(clean)}": bad character`);
      v = (v << 6) | d;
    }
    if (o < out.length) out[o++] = v >> 16;
    if (o < out.length) out[o++] = (v >> 8) & 0xff;
    if (o < out.length) out[o++] = v & 0xff;
  }
  return out;
}

const B32HEX = "0123456789ABCDEFGHIJKLMNOPQRSTUV";

/** Bytes → base32hex without padding, upper case (RFC 4648 §7, RFC 5155 §3.3). */
export function toBase32Hex(bytes: Uint8Array): string {
  let s = "";
  let buffer = 0;
  let bits = 0;
  for (const b of bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      s += B32HEX[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) s += B32HEX[(buffer << (5 - bits)) & 31];
  return s;
}

/** Base32hex without padding (either case) → bytes; RangeError if bad. */
export function fromBase32Hex(text: string): Uint8Array {
  const upper = text.toUpperCase();
  if ([1, 3, 6].includes(upper.length % 8)) {
    throw new RangeError(`Invalid base32hex "${shorten(text)}": impossible length`);
  }
  const out = new Uint8Array(Math.floor((upper.length * 5) / 8));
  let buffer = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < upper.length; i++) {
    const d = B32HEX.indexOf(upper[i]);
    if (d < 0) throw new RangeError(`Invalid base32hex "${shorten(text)}": bad character`);
    buffer = ((buffer << 5) | d) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out[o++] = (buffer >> (bits - 8)) & 0xff;
      bits -= 8;
    }
  }
  if ((buffer & ((1 << bits) - 1)) !== 0) {
    throw new RangeError(`Invalid base32hex "${shorten(text)}": non-zero padding bits`);
  }
  return out;
}

/** Bytes → upper-case hex (as dig prints DS digests and NSEC3 salts). */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += (b < 16 ? "0" : "") + b.toString(16);
  return s.toUpperCase();
}

/** Hex (either case, whitespace ignored) → bytes; RangeError if bad. */
export function fromHex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(clean)) {
    throw new RangeError(`Invalid hex "${shorten(clean)}"`);
  }
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function shorten(text: string): string {
  return text.length > 40 ? text.slice(0, 37) + "..." : text;
}
