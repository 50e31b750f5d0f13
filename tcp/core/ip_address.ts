/**
 * IP addresses as numbers: dotted decimal ↔ an unsigned 32-bit integer, IPv6 text ↔ a 128-bit
 * bigint (RFC 5952 on the way out), and `host:port` as every tool prints it. The lowest layer every topic shares: the Linux socket calls
 * (tcp/linux/sockaddr.ts) encode addresses with it, the subnet calculator (udp/core/subnet_math.ts)
 * does its arithmetic on these numbers.
 *
 * Every parser is strict and bounded: four decimal octets 0–255 without leading zeros (`010`
 * means 8 to inet_aton and 10 to a human, so it is refused), IPv6 groups of 1–4 hex digits with
 * at most one `::`, no zone index. Malformed text throws `SyntaxError`, well-formed but
 * out-of-range values throw `RangeError`; both carry a one-line message.
 */
import { quoteInput } from "./printable.ts";

/** Input longer than this is refused before looking at it (the longest valid CIDR has 31). */
export const MAX_INPUT_LENGTH = 64;

/** Parses dotted decimal `a.b.c.d` into an unsigned 32-bit integer. */
export function parseIPv4(text: string): number {
  const quick = wellFormedIPv4(text);
  if (quick >= 0) return quick;
  // Something is off: the slow path below says exactly what.
  if (text.length > MAX_INPUT_LENGTH) {
    throw new SyntaxError(`Invalid IPv4 address ${quoteInput(clipInput(text))}: too long`);
  }
  const parts = text.split(".");
  if (parts.length !== 4) {
    throw new SyntaxError(
      `Invalid IPv4 address ${
        quoteInput(text)
      }: expected 4 dotted decimal octets, got ${parts.length}`,
    );
  }
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) {
      throw new SyntaxError(
        `Invalid IPv4 address ${quoteInput(text)}: octet ${
          quoteInput(part)
        } is not a decimal number 0-255`,
      );
    }
    if (part.length > 1 && part.startsWith("0")) {
      throw new SyntaxError(
        `Invalid IPv4 address ${quoteInput(text)}: octet ${
          quoteInput(part)
        } has a leading zero (octal or decimal?)`,
      );
    }
    const octet = Number(part);
    if (octet > 255) {
      throw new RangeError(
        `Invalid IPv4 address ${quoteInput(text)}: octet ${octet} is greater than 255`,
      );
    }
    value = value * 256 + octet;
  }
  return value;
}

/**
 * The value of a well-formed `a.b.c.d` (four octets 0-255, no leading zeros), or -1. One pass
 * over the characters: the socket fast paths parse an address per connection or datagram.
 */
function wellFormedIPv4(text: string): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (digits === 0 || octet > 255 || ++dots > 4) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits === 1 && octet === 0 || ++digits > 3) return -1; // leading zero, too long
      octet = octet * 10 + c - 0x30;
    } else return -1;
  }
  return dots === 4 ? value : -1;
}

/** Formats an unsigned 32-bit integer as dotted decimal. */
export function formatIPv4(value: number): string {
  const v = value >>> 0;
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** Parses an IPv6 address (`2001:db8::1`, `::ffff:192.0.2.1`) into a 128-bit bigint. */
export function parseIPv6(text: string): bigint {
  if (text.length > MAX_INPUT_LENGTH) {
    throw new SyntaxError(`Invalid IPv6 address ${quoteInput(clipInput(text))}: too long`);
  }
  const fail = (why: string) => new SyntaxError(`Invalid IPv6 address ${quoteInput(text)}: ${why}`);
  if (text.includes("%")) throw fail('a zone index ("%…") is not part of an address or prefix');
  const halves = text.split("::");
  if (halves.length > 2) throw fail('"::" may appear only once');
  const groupsOf = (part: string, mayEndInIPv4: boolean): number[] => {
    if (part === "") return [];
    const texts = part.split(":");
    const groups: number[] = [];
    texts.forEach((group, index) => {
      if (mayEndInIPv4 && index === texts.length - 1 && group.includes(".")) {
        let v4: number;
        try {
          v4 = parseIPv4(group);
        } catch (error) {
          const why = (error as Error).message.replace(/^Invalid IPv4 address "[^"]*": /, "");
          throw fail(`embedded IPv4 ${quoteInput(group)}: ${why}`);
        }
        groups.push(v4 >>> 16, v4 & 0xffff);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(group)) {
        groups.push(parseInt(group, 16));
      } else {
        throw fail(`group ${quoteInput(group)} is not 1-4 hex digits`);
      }
    });
    return groups;
  };
  const head = groupsOf(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? groupsOf(halves[1], true) : [];
  if (halves.length === 1 && head.length !== 8) {
    throw fail(`expected 8 groups of hex digits (or "::"), got ${head.length}`);
  }
  if (halves.length === 2 && head.length + tail.length > 7) {
    throw fail(
      `"::" must stand for at least one zero group, but ${
        head.length + tail.length
      } groups are given`,
    );
  }
  const groups = [...head, ...Array(8 - head.length - tail.length).fill(0), ...tail];
  return groups.reduce((value: bigint, group: number) => (value << 16n) | BigInt(group), 0n);
}

function groupsOfIPv6(value: bigint): number[] {
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));
  return groups;
}

/**
 * Formats a 128-bit bigint the RFC 5952 way: lower-case hex, no leading zeros, the longest run
 * of two or more zero groups (the first one on a tie) as `::`, IPv4-mapped addresses as
 * `::ffff:a.b.c.d`.
 */
export function formatIPv6(value: bigint): string {
  const groups = groupsOfIPv6(value);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${formatIPv4(Number(value & 0xffffffffn))}`;
  }
  let bestStart = -1;
  let bestLength = 1; // a single zero group is never shortened (RFC 5952 §4.2.2)
  for (let start = 0; start < 8;) {
    if (groups[start] !== 0) {
      start++;
      continue;
    }
    let end = start;
    while (end < 8 && groups[end] === 0) end++;
    if (end - start > bestLength) [bestStart, bestLength] = [start, end - start];
    start = end;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

/** Formats a 128-bit bigint as all eight groups of four hex digits (`2001:0db8:0000:…`). */
export function expandIPv6(value: bigint): string {
  return groupsOfIPv6(value).map((g) => g.toString(16).padStart(4, "0")).join(":");
}

/** `text` cut to 40 characters for an error message (the input may be long). */
export function clipInput(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** `host:port`, with IPv6 literals in brackets. */
export function formatHostPort(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}
