/**
 * The addresses inside A and AAAA records, and the reverse names PTR lookups ask for. The
 * parsing and RFC 5952 formatting are tcp/core/ip_address.ts's (the one address parser every
 * topic shares); this module turns its numbers into the 4 and 16 bytes a record carries, and its
 * errors into the codec's: a `RangeError` that echoes the text in master-file escapes, as every
 * other DNS message does.
 */
import { formatIPv6 as formatIPv6Value, parseIPv4, parseIPv6 } from "../../tcp/core/ip_address.ts";
import { printableText } from "./primitives.ts";

/** Dotted-quad IPv4 text as its 4 bytes; throws RangeError when it is not one. */
export function ipv4Bytes(text: string): Uint8Array {
  let value: number;
  try {
    value = parseIPv4(text);
  } catch {
    throw new RangeError(`Invalid IPv4 address "${printableText(text)}"`);
  }
  return new Uint8Array([value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff]);
}

/** IPv6 text (with `::` and an optional trailing dotted quad) as its 16 bytes. */
export function ipv6Bytes(text: string): Uint8Array {
  let value: bigint;
  try {
    value = parseIPv6(text);
  } catch {
    throw new RangeError(`Invalid IPv6 address "${printableText(text)}"`);
  }
  const out = new Uint8Array(16);
  for (let i = 15; i >= 0; i--) {
    out[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  return out;
}

/** 16 bytes as IPv6 text in RFC 5952 form (`2001:db8::1`, `::ffff:1.2.3.4`). */
export function formatIPv6Bytes(bytes: Uint8Array): string {
  let value = 0n;
  for (let i = 0; i < 16; i += 2) value = (value << 16n) | BigInt((bytes[i] << 8) | bytes[i + 1]);
  return formatIPv6Value(value);
}

/** `1.2.3.4` → `4.3.2.1.in-addr.arpa.`; IPv6 → 32 nibbles under `ip6.arpa.`. */
export function reverseName(address: string): string {
  if (address.includes(":")) {
    const bytes = ipv6Bytes(address.replace(/^\[|\]$/g, ""));
    const nibbles: string[] = [];
    for (let i = 15; i >= 0; i--) {
      nibbles.push((bytes[i] & 0xf).toString(16), (bytes[i] >> 4).toString(16));
    }
    return nibbles.join(".") + ".ip6.arpa.";
  }
  const v4 = ipv4Bytes(address);
  return `${v4[3]}.${v4[2]}.${v4[1]}.${v4[0]}.in-addr.arpa.`;
}

/** True for an IPv4 dotted quad or an IPv6 literal: an address, not a name to look up. */
export function isIpAddress(text: string): boolean {
  try {
    if (text.includes(":")) parseIPv6(text);
    else parseIPv4(text);
    return true;
  } catch {
    return false;
  }
}
