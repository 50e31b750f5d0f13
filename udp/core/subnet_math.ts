/**
 * Pure subnet arithmetic for IPv4 and IPv6 — seed 002's 「IP地址是一个32位的二进制数」, 点分十进制
 * and 「子网掩码 & ip地址 得到网段」 done with real numbers, then grown into a planner.
 *
 * Theory of operation. An IPv4 address is one unsigned 32-bit integer (a `number`), the mask is
 * `prefix` one-bits followed by zero-bits, the network is `address & mask` and the broadcast
 * address is `network | ~mask`. The planner (VLSM split, equal split, deaggregation) works on
 * `bigint` so that one algorithm serves both the 32-bit and the 128-bit family: a prefix is a
 * block of 2^(bits − prefix) addresses that starts at a multiple of its own size.
 * - VLSM: each request gets the smallest subnet whose usable host count (2^(32−p) − 2) is at
 *   least the request; blocks are laid out largest first, so every block starts aligned (a sum
 *   of larger-or-equal powers of two is a multiple of the smaller one) and the requests fit
 *   exactly when their block sizes add up to at most the network's size.
 * - Deaggregation: from the range's start, take the largest aligned block that does not run past
 *   the end, and repeat — at most 2 × bits − 2 blocks, the minimal CIDR cover.
 *
 * No I/O: `udp/subnet.ts` (the CLI, which re-exports this module) and `udp/broadcast.ts calc`
 * print what these functions return. Every parser is strict and bounded: four decimal octets
 * 0–255 without leading zeros (`010` means 8 to inet_aton and 10 to a human, so it is refused),
 * IPv6 groups of 1–4 hex digits with at most one `::`, a prefix 0–32 or 0–128, a dotted mask
 * only when its one-bits are contiguous. Malformed text throws `SyntaxError`, well-formed but
 * out-of-range values throw `RangeError`; both carry a one-line message.
 *
 * The edges are explicit rather than falling out of the formula:
 * - `/32` is a single host: no network/broadcast split, one usable address.
 * - `/31` is a point-to-point link (RFC 3021): no broadcast address, both addresses are hosts.
 * - `/0` is the whole IPv4 space: JavaScript's `x << 32` is `x << 0`, so the mask is special-cased.
 * - IPv6 has no broadcast address at all (all-nodes multicast ff02::1 does that job).
 */

import { quoteInput } from "../../tcp/core/printable.ts";

/** Highest IPv4 prefix length. */
export const MAX_PREFIX_LENGTH = 32;

/** Input longer than this is refused before looking at it (the longest valid CIDR has 31). */
export const MAX_INPUT_LENGTH = 64;

/** Everything `calc` shows about one address in one subnet; addresses are unsigned 32-bit. */
export interface SubnetInfo {
  address: number;
  prefix: number;
  mask: number;
  /** `~mask`: the host bits (Cisco's "wildcard"). */
  wildcard: number;
  /** `address & mask`. */
  network: number;
  /** `network | ~mask`, or `null` for /31 (RFC 3021) and /32, which have none. */
  broadcast: number | null;
  firstHost: number;
  lastHost: number;
  /** Usable host addresses (2^(32-prefix) − 2, except /31 → 2 and /32 → 1). */
  hostCount: number;
  /** Which rule produced the host range. */
  kind: "normal" | "point-to-point" | "single-host";
}

/** Parses dotted decimal `a.b.c.d` into an unsigned 32-bit integer. */
export function parseIPv4(text: string): number {
  const quick = wellFormedIPv4(text);
  if (quick >= 0) return quick;
  // Something is off: the slow path below says exactly what.
  if (text.length > MAX_INPUT_LENGTH) {
    throw new SyntaxError(`Invalid IPv4 address ${quoteInput(clip(text))}: too long`);
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

/** Formats an unsigned 32-bit integer as four dotted 8-bit binary groups (seed 002's picture). */
export function formatBinary(value: number): string {
  const bits = (value >>> 0).toString(2).padStart(32, "0");
  return `${bits.slice(0, 8)}.${bits.slice(8, 16)}.${bits.slice(16, 24)}.${bits.slice(24)}`;
}

/** The mask for a prefix length 0–32 (`24` → 255.255.255.0 as an integer). */
export function prefixToMask(prefix: number): number {
  checkPrefix(prefix, String(prefix));
  // `-1 << 32` is `-1` in JavaScript (shift counts are taken mod 32), so /0 is explicit.
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** The prefix length of a contiguous mask; throws `RangeError` for masks like 255.0.255.0. */
export function maskToPrefix(mask: number, text = formatIPv4(mask)): number {
  const inverted = ~mask >>> 0;
  // A contiguous mask's host part is 2^k − 1, so adding one leaves a single bit set.
  if ((inverted & (inverted + 1)) !== 0) {
    throw new RangeError(
      `Invalid subnet mask ${quoteInput(text)}: its one-bits are not contiguous`,
    );
  }
  return 32 - Math.log2(inverted + 1);
}

/** Parses `ADDRESS/PREFIX` (`192.168.1.37/24`) or `ADDRESS/MASK` (`192.168.1.37/255.255.255.0`). */
export function parseCidr(text: string): { address: number; prefix: number } {
  if (text.length > MAX_INPUT_LENGTH) {
    throw new SyntaxError(`Invalid CIDR ${quoteInput(clip(text))}: too long`);
  }
  const slash = text.indexOf("/");
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const address = parseIPv4(addressText);
  if (slash < 0) {
    throw new SyntaxError(
      `Invalid CIDR ${quoteInput(text)}: missing "/PREFIX" (for example ${addressText}/24)`,
    );
  }
  const prefixText = text.slice(slash + 1);
  if (prefixText.includes(".")) {
    return { address, prefix: maskToPrefix(parseIPv4(prefixText), prefixText) };
  }
  if (!/^\d{1,3}$/.test(prefixText)) {
    throw new SyntaxError(
      `Invalid prefix length ${
        quoteInput(`/${prefixText}`)
      }: expected a number from 0 to ${MAX_PREFIX_LENGTH}`,
    );
  }
  const prefix = Number(prefixText);
  checkPrefix(prefix, prefixText);
  return { address, prefix };
}

/** Computes mask, network, broadcast and host range for `address` in a `/prefix` subnet. */
export function describeSubnet(address: number, prefix: number): SubnetInfo {
  const mask = prefixToMask(prefix);
  const wildcard = ~mask >>> 0;
  const network = (address & mask) >>> 0;
  const last = (network | wildcard) >>> 0;
  const base = { address: address >>> 0, prefix, mask, wildcard, network };
  if (prefix === 32) {
    return {
      ...base,
      broadcast: null,
      firstHost: network,
      lastHost: network,
      hostCount: 1,
      kind: "single-host",
    };
  }
  if (prefix === 31) {
    return {
      ...base,
      broadcast: null,
      firstHost: network,
      lastHost: last,
      hostCount: 2,
      kind: "point-to-point",
    };
  }
  return {
    ...base,
    broadcast: last,
    firstHost: network + 1,
    lastHost: last - 1,
    hostCount: 2 ** (32 - prefix) - 2,
    kind: "normal",
  };
}

/** Parses CIDR text and describes it: the one call `calc` makes. */
export function calcSubnet(text: string): SubnetInfo {
  const { address, prefix } = parseCidr(text);
  return describeSubnet(address, prefix);
}

/**
 * Renders a `SubnetInfo` as aligned lines: name, dotted decimal, 32-bit binary and how the
 * value was obtained.
 */
export function formatSubnet(info: SubnetInfo): string[] {
  const row = (name: string, value: number, note = "") =>
    `${name.padEnd(10)} ${formatIPv4(value).padEnd(15)}  ${formatBinary(value)}${
      note ? `  ${note}` : ""
    }`;
  const lines = [
    row("address", info.address),
    row("mask", info.mask, `/${info.prefix}: ${info.prefix} one-bits`),
    row("wildcard", info.wildcard, "~mask (host bits)"),
    row("network", info.network, "address & mask"),
  ];
  if (info.broadcast === null) {
    const why = info.kind === "single-host"
      ? "/32 is a single host"
      : "/31 is a point-to-point link (RFC 3021): both addresses are hosts";
    lines.push(`${"broadcast".padEnd(10)} ${"none".padEnd(15)}  ${why}`);
  } else {
    lines.push(row("broadcast", info.broadcast, "network | ~mask"));
  }
  lines.push(row("first host", info.firstHost));
  lines.push(row("last host", info.lastHost));
  lines.push(`${"hosts".padEnd(10)} ${info.hostCount}`);
  return lines;
}

// ---------------------------------------------------------------------------------------------
// IPv6: 128-bit addresses as bigint.

/** Highest IPv6 prefix length. */
export const MAX_PREFIX_LENGTH_V6 = 128;

const ALL_ONES_V6 = (1n << 128n) - 1n;

/** Parses an IPv6 address (`2001:db8::1`, `::ffff:192.0.2.1`) into a 128-bit bigint. */
export function parseIPv6(text: string): bigint {
  if (text.length > MAX_INPUT_LENGTH) {
    throw new SyntaxError(`Invalid IPv6 address ${quoteInput(clip(text))}: too long`);
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

/** The IPv6 mask for a prefix length 0–128. */
export function prefixToMask6(prefix: number): bigint {
  checkPrefix(prefix, String(prefix), MAX_PREFIX_LENGTH_V6);
  return ALL_ONES_V6 ^ ((1n << BigInt(128 - prefix)) - 1n);
}

/** Parses `ADDRESS/PREFIX` for IPv6 (`2001:db8::1/64`). */
export function parseCidr6(text: string): { address: bigint; prefix: number } {
  if (text.length > MAX_INPUT_LENGTH) {
    throw new SyntaxError(`Invalid CIDR ${quoteInput(clip(text))}: too long`);
  }
  const slash = text.indexOf("/");
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const address = parseIPv6(addressText);
  if (slash < 0) {
    throw new SyntaxError(
      `Invalid CIDR ${quoteInput(text)}: missing "/PREFIX" (for example ${addressText}/64)`,
    );
  }
  const prefixText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) {
    throw new SyntaxError(
      `Invalid prefix length ${
        quoteInput(`/${prefixText}`)
      }: expected a number from 0 to ${MAX_PREFIX_LENGTH_V6}`,
    );
  }
  const prefix = Number(prefixText);
  checkPrefix(prefix, prefixText, MAX_PREFIX_LENGTH_V6);
  return { address, prefix };
}

/** Everything `calc` shows about one IPv6 address in one prefix. */
export interface Subnet6Info {
  address: bigint;
  prefix: number;
  mask: bigint;
  /** `address & mask`: also the first address (the Subnet-Router anycast, RFC 4291 §2.6.1). */
  network: bigint;
  /** `network | ~mask`: just the last address — IPv6 has no broadcast. */
  lastAddress: bigint;
  /** 2^(128 − prefix). */
  addressCount: bigint;
}

/** Computes mask, network, last address and size of `address`'s `/prefix`. */
export function describeSubnet6(address: bigint, prefix: number): Subnet6Info {
  const mask = prefixToMask6(prefix);
  const network = address & mask;
  return {
    address,
    prefix,
    mask,
    network,
    lastAddress: network | (ALL_ONES_V6 ^ mask),
    addressCount: 1n << BigInt(128 - prefix),
  };
}

/** Renders a `Subnet6Info` as aligned lines: name, compressed form, expanded form, how. */
export function formatSubnet6(info: Subnet6Info): string[] {
  const values = [info.address, info.mask, info.network, info.lastAddress];
  const width = Math.max(...values.map((v) => formatIPv6(v).length));
  const row = (name: string, value: bigint, note = "") =>
    `${name.padEnd(10)} ${formatIPv6(value).padEnd(width)}  ${expandIPv6(value)}${
      note ? `  ${note}` : ""
    }`;
  const size = info.prefix === 128
    ? "1 (/128 is a single address)"
    : info.prefix === 127
    ? "2 (/127 is a point-to-point link, RFC 6164)"
    : formatCount(info.addressCount, { exact: true });
  const lines = [
    row("address", info.address),
    row("mask", info.mask, `/${info.prefix}: ${info.prefix} one-bits`),
    row("network", info.network, "address & mask"),
    row("first", info.network),
    row("last", info.lastAddress, "network | ~mask"),
    `${"addresses".padEnd(10)} ${size}`,
  ];
  if (info.prefix < 64) {
    lines.push(`${"/64 nets".padEnd(10)} ${formatCount(1n << BigInt(64 - info.prefix))}`);
  }
  lines.push(
    `${
      "broadcast".padEnd(10)
    } none: IPv6 has no broadcast (all-nodes multicast ff02::1 does that job)`,
  );
  return lines;
}

/**
 * A count for humans: exact below 2^32, `2^k` for larger powers of two (a /48 has 2^80
 * addresses); `exact` adds the full decimal too.
 */
export function formatCount(count: bigint, { exact = false } = {}): string {
  if (count < 1n << 32n || (count & (count - 1n)) !== 0n) return count.toString();
  const power = `2^${count.toString(2).length - 1}`;
  return exact ? `${count} (${power})` : power;
}

// ---------------------------------------------------------------------------------------------
// Both families: prefixes as bigint blocks, for the planner.

/** 4 or 6. */
export type IpFamily = 4 | 6;

/** Address width of each family. */
export const FAMILY_BITS: Record<IpFamily, number> = { 4: 32, 6: 128 };

/** A network prefix (block) of either family: `network` is aligned to the block size. */
export interface IpPrefix {
  family: IpFamily;
  network: bigint;
  prefix: number;
}

/** Parses a CIDR of either family; the address may have host bits set (they are kept). */
export function parseNetwork(text: string): IpPrefix & { address: bigint } {
  if (text.includes(":")) {
    const { address, prefix } = parseCidr6(text);
    return { family: 6, address, prefix, network: address & prefixToMask6(prefix) };
  }
  const { address, prefix } = parseCidr(text);
  return {
    family: 4,
    address: BigInt(address),
    prefix,
    network: BigInt((address & prefixToMask(prefix)) >>> 0),
  };
}

/** Parses a single address of either family (IPv6 if it contains a colon). */
export function parseAddress(text: string): { family: IpFamily; value: bigint } {
  return text.includes(":")
    ? { family: 6, value: parseIPv6(text) }
    : { family: 4, value: BigInt(parseIPv4(text)) };
}

/** Formats an address of either family. */
export function formatAddress(family: IpFamily, value: bigint): string {
  return family === 4 ? formatIPv4(Number(value)) : formatIPv6(value);
}

/** `192.168.1.0/26`, `2001:db8::/48`. */
export function formatPrefix(block: IpPrefix): string {
  return `${formatAddress(block.family, block.network)}/${block.prefix}`;
}

/** Addresses in a block: 2^(bits − prefix). */
export function blockSize(family: IpFamily, prefix: number): bigint {
  return 1n << BigInt(FAMILY_BITS[family] - prefix);
}

/** The last address of a block. */
export function blockLast(block: IpPrefix): bigint {
  return block.network + blockSize(block.family, block.prefix) - 1n;
}

/** Upper bound on how many subnets `splitPrefix` lists. */
export const MAX_SPLIT_ROWS = 65536;

/** The result of an equal split: the first `subnets` of `total`. */
export interface EqualSplit {
  parent: IpPrefix;
  newPrefix: number;
  total: bigint;
  subnets: IpPrefix[];
}

/**
 * Splits `parent` into equal `/newPrefix` subnets and lists the first `limit` (at most
 * `MAX_SPLIT_ROWS`); `total` says how many there are in all.
 */
export function splitPrefix(
  parent: IpPrefix,
  newPrefix: number,
  { limit = MAX_SPLIT_ROWS }: { limit?: number } = {},
): EqualSplit {
  const bits = FAMILY_BITS[parent.family];
  checkPrefix(newPrefix, String(newPrefix), bits);
  if (newPrefix < parent.prefix) {
    throw new RangeError(
      `Cannot split ${formatPrefix(parent)} into /${newPrefix} subnets: ` +
        `a /${newPrefix} is larger than the /${parent.prefix} itself`,
    );
  }
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_SPLIT_ROWS) {
    throw new RangeError(`Invalid limit ${limit}: expected 1 to ${MAX_SPLIT_ROWS}`);
  }
  const total = 1n << BigInt(newPrefix - parent.prefix);
  const size = blockSize(parent.family, newPrefix);
  const shown = total < BigInt(limit) ? Number(total) : limit;
  const subnets: IpPrefix[] = [];
  for (let i = 0; i < shown; i++) {
    subnets.push({
      family: parent.family,
      network: parent.network + BigInt(i) * size,
      prefix: newPrefix,
    });
  }
  return { parent, newPrefix, total, subnets };
}

/**
 * The minimal list of CIDR blocks covering exactly `first`…`last` (inclusive): from the start,
 * the largest aligned block that does not run past the end, repeated.
 */
export function deaggregate(family: IpFamily, first: bigint, last: bigint): IpPrefix[] {
  const bits = FAMILY_BITS[family];
  const top = (1n << BigInt(bits)) - 1n;
  if (first < 0n || last > top || first > last) {
    throw new RangeError(
      `Invalid range ${formatAddress(family, first)} - ${formatAddress(family, last)}`,
    );
  }
  const blocks: IpPrefix[] = [];
  let start = first;
  while (start <= last) {
    // The lowest set bit of `start` is the largest block aligned there (0 is aligned to all).
    let size = start === 0n ? 1n << BigInt(bits) : start & -start;
    while (start + size - 1n > last) size >>= 1n;
    blocks.push({ family, network: start, prefix: bits - (size.toString(2).length - 1) });
    start += size;
  }
  return blocks;
}

/** Longest range text accepted by `parseRange`. */
export const MAX_RANGE_INPUT_LENGTH = 2 * MAX_INPUT_LENGTH + 8;

/** Parses `FIRST - LAST` or `FIRST-LAST` (both of one family, `LAST` not before `FIRST`). */
export function parseRange(text: string): { family: IpFamily; first: bigint; last: bigint } {
  if (text.length > MAX_RANGE_INPUT_LENGTH) {
    throw new SyntaxError(`Invalid range ${quoteInput(clip(text))}: too long`);
  }
  const match = /^\s*([^\s-]+)\s*-\s*([^\s-]+)\s*$/.exec(text);
  if (!match) {
    throw new SyntaxError(
      `Invalid range ${quoteInput(text)}: expected FIRST - LAST, e.g. 10.0.0.0 - 10.0.0.200`,
    );
  }
  const first = parseAddress(match[1]);
  const last = parseAddress(match[2]);
  if (first.family !== last.family) {
    throw new SyntaxError(`Invalid range ${quoteInput(text)}: both ends must be IPv4 or both IPv6`);
  }
  if (last.value < first.value) {
    throw new RangeError(
      `Invalid range ${quoteInput(text)}: the end ${match[2]} is before the start ${match[1]}`,
    );
  }
  return { family: first.family, first: first.value, last: last.value };
}

// ---------------------------------------------------------------------------------------------
// VLSM: variable-length subnets for host counts (IPv4).

/** Largest host count a request may ask for: a /0 minus network and broadcast. */
export const MAX_HOSTS_PER_REQUEST = 2 ** 32 - 2;

/** Upper bound on the number of requests in one plan. */
export const MAX_HOST_REQUESTS = 1024;

/** Longest `--hosts` text accepted. */
export const MAX_HOST_REQUESTS_INPUT_LENGTH = 32 * 1024;

/** One subnet to plan: a name (`#1` when none is given) and how many hosts it must hold. */
export interface HostRequest {
  name: string;
  hosts: number;
}

/** Parses `50,20,10` or `lan=50,wifi=20,10` (unnamed requests are called `#1`, `#2`, …). */
export function parseHostRequests(text: string): HostRequest[] {
  if (text.length > MAX_HOST_REQUESTS_INPUT_LENGTH) {
    throw new SyntaxError(`Invalid host requests ${quoteInput(clip(text))}: too long`);
  }
  const parts = text.split(",").map((part) => part.trim());
  if (parts.length > MAX_HOST_REQUESTS) {
    throw new RangeError(
      `Too many host requests: ${parts.length} (at most ${MAX_HOST_REQUESTS} per plan)`,
    );
  }
  const names = new Set<string>();
  return parts.map((part, index) => {
    const match = /^(?:([\w.-]{1,32})=)?(\d{1,10})$/.exec(part);
    if (!match) {
      throw new SyntaxError(
        `Invalid host request ${
          quoteInput(part)
        }: expected a host count or NAME=COUNT, e.g. lan=50`,
      );
    }
    const hosts = Number(match[2]);
    if (hosts < 1 || hosts > MAX_HOSTS_PER_REQUEST) {
      throw new RangeError(
        `Invalid host request ${quoteInput(part)}: expected 1 to ${MAX_HOSTS_PER_REQUEST} hosts`,
      );
    }
    const name = match[1] ?? `#${index + 1}`;
    if (names.has(name)) {
      throw new SyntaxError(`Invalid host requests: ${quoteInput(name)} appears twice`);
    }
    names.add(name);
    return { name, hosts };
  });
}

/** Usable hosts in an IPv4 subnet: 2^(32−p) − 2, except /31 → 2 (RFC 3021) and /32 → 1. */
export function usableHosts(prefix: number): number {
  checkPrefix(prefix, String(prefix));
  if (prefix === 32) return 1;
  if (prefix === 31) return 2;
  return 2 ** (32 - prefix) - 2;
}

/**
 * The longest prefix (smallest subnet) with at least `hosts` usable addresses: 2^(32−p) − 2 ≥
 * hosts for p ≤ 30 — 50 hosts → /26 (62), 31–62 hosts → /26, 63 → /25. With `pointToPoint`,
 * 1–2 hosts get a /31 (RFC 3021) instead of a /30.
 */
export function prefixForHosts(hosts: number, { pointToPoint = false } = {}): number {
  if (!Number.isSafeInteger(hosts) || hosts < 1 || hosts > MAX_HOSTS_PER_REQUEST) {
    throw new RangeError(`Invalid host count ${hosts}: expected 1 to ${MAX_HOSTS_PER_REQUEST}`);
  }
  if (pointToPoint && hosts <= 2) return 31;
  let prefix = 30;
  while (usableHosts(prefix) < hosts) prefix--;
  return prefix;
}

/** One planned subnet. */
export interface VlsmAllocation {
  request: HostRequest;
  subnet: SubnetInfo;
  /** Usable addresses beyond the request: `subnet.hostCount − request.hosts`. */
  waste: number;
}

/** A VLSM plan: allocations largest first, then the rest of the network as minimal CIDRs. */
export interface VlsmPlan {
  parent: IpPrefix;
  allocations: VlsmAllocation[];
  free: IpPrefix[];
  /** Addresses taken by the allocated subnets (network and broadcast included). */
  usedAddresses: number;
  totalAddresses: number;
}

/**
 * Plans variable-length subnets for `requests` inside `network/prefix` (IPv4): each gets the
 * smallest subnet that holds it, laid out largest first. Throws `RangeError` when one request
 * is larger than the network or all together do not fit, saying by how much.
 */
export function planVlsm(
  network: number,
  prefix: number,
  requests: HostRequest[],
  { pointToPoint = false } = {},
): VlsmPlan {
  const parent: IpPrefix = {
    family: 4,
    network: BigInt((network & prefixToMask(prefix)) >>> 0),
    prefix,
  };
  if (requests.length === 0) throw new RangeError("No host requests to plan");
  const totalAddresses = 2 ** (32 - prefix);
  const sized = requests.map((request, index) => ({
    request,
    index,
    prefix: prefixForHosts(request.hosts, { pointToPoint }),
  }));
  for (const { request, prefix: needed } of sized) {
    if (needed < prefix) {
      throw new RangeError(
        `Request "${request.name}" for ${request.hosts} hosts needs a /${needed} ` +
          `(${usableHosts(needed)} usable), larger than ${formatPrefix(parent)}`,
      );
    }
  }
  // Largest block first (stable for equal sizes): keeps every block aligned, no gaps.
  sized.sort((a, b) =>
    a.prefix - b.prefix || b.request.hosts - a.request.hosts || a.index - b.index
  );
  const needed = sized.reduce((sum, s) => sum + 2 ** (32 - s.prefix), 0);
  if (needed > totalAddresses) {
    const counts = new Map<number, number>();
    for (const s of sized) counts.set(s.prefix, (counts.get(s.prefix) ?? 0) + 1);
    const blocks = [...counts].map(([p, n]) => `${n} × /${p}`).join(" + ");
    throw new RangeError(
      `Requests do not fit in ${formatPrefix(parent)}: they need ${blocks} = ${needed} ` +
        `addresses, it has ${totalAddresses}`,
    );
  }
  let offset = 0;
  const allocations = sized.map(({ request, prefix: p }) => {
    const subnet = describeSubnet(Number(parent.network) + offset, p);
    offset += 2 ** (32 - p);
    return { request, subnet, waste: subnet.hostCount - request.hosts };
  });
  const free = offset < totalAddresses
    ? deaggregate(4, parent.network + BigInt(offset), blockLast(parent))
    : [];
  return { parent, allocations, free, usedAddresses: offset, totalAddresses };
}

function checkPrefix(prefix: number, text: string, max = MAX_PREFIX_LENGTH): void {
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) {
    throw new RangeError(
      `Invalid prefix length ${quoteInput(`/${text}`)}: expected a number from 0 to ${max}`,
    );
  }
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

// ---------------------------------------------------------------------------------------------
// One address on its own (`subnet.ts ip ADDR`): seed 002's 「IP地址是一个32位的二进制数」 picture.

/** The parts of seed 002's picture of one IPv4 address: 100.4.5.6 ↔ 01100100.00000100.…. */
export interface IPv4View {
  /** Unsigned 32-bit value. */
  value: number;
  dotted: string;
  /** Four dotted groups of 8 bits. */
  binary: string;
  /** The four bytes, most significant first. */
  octets: number[];
  /** `0x64040506`. */
  hex: string;
}

/**
 * Parses one IPv4 address written either way round: dotted decimal (`100.4.5.6`) or seed 002's
 * dotted binary (`01100100.00000100.00000101.00000110`, exactly 8 binary digits per group — a
 * decimal octet has at most 3 digits, so the two notations cannot be confused).
 */
export function parseIPv4Either(text: string): number {
  const groups = text.split(".");
  if (groups.length === 4 && groups.every((group) => /^[01]{8}$/.test(group))) {
    return groups.reduce((value, group) => value * 256 + parseInt(group, 2), 0);
  }
  return parseIPv4(text);
}

/** Describes one IPv4 address in dotted decimal, binary, per octet and as one integer. */
export function describeIPv4(value: number): IPv4View {
  const v = value >>> 0;
  return {
    value: v,
    dotted: formatIPv4(v),
    binary: formatBinary(v),
    octets: [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255],
    hex: `0x${v.toString(16).padStart(8, "0")}`,
  };
}

/** Renders an `IPv4View`: the ↔ line, each octet with its 8 bits, the 32-bit integer. */
export function formatIPv4View(view: IPv4View): string[] {
  return [
    `address  ${view.dotted}  ↔  ${view.binary}`,
    `octets   ${
      view.octets.map((octet) => `${octet} = ${octet.toString(2).padStart(8, "0")}`).join("   ")
    }`,
    `integer  ${view.value} (${view.hex}): 32 bits = 4 bytes, each 0-255; ` +
    `0.0.0.0 is the smallest, 255.255.255.255 the largest`,
  ];
}
