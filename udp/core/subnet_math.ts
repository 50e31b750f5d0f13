/**
 * Pure subnet arithmetic for IPv4 and IPv6 — seed 002's 「IP地址是一个32位的二进制数」, 点分十进制
 * and 「子网掩码 & ip地址 得到网段」 done with real numbers: what `calc` and `ip` show.
 *
 * Theory of operation. An IPv4 address is one unsigned 32-bit integer (a `number`, parsed and
 * formatted by tcp/core/ip_address.ts), the mask is `prefix` one-bits followed by zero-bits, the
 * network is `address & mask` and the broadcast address is `network | ~mask`; IPv6 does the same
 * on 128-bit bigints. The planner built on this (VLSM split, equal split, deaggregation) is
 * ./subnet_plan.ts.
 *
 * No I/O: `udp/subnet.ts` (the CLI) and `udp/broadcast.ts calc` print what these functions
 * return. Every parser is strict and bounded: a prefix 0–32 or 0–128, a dotted mask only when its
 * one-bits are contiguous. Malformed text throws `SyntaxError`, well-formed but out-of-range
 * values throw `RangeError`; both carry a one-line message.
 *
 * The edges are explicit rather than falling out of the formula:
 * - `/32` is a single host: no network/broadcast split, one usable address.
 * - `/31` is a point-to-point link (RFC 3021): no broadcast address, both addresses are hosts.
 * - `/0` is the whole IPv4 space: JavaScript's `x << 32` is `x << 0`, so the mask is special-cased.
 * - IPv6 has no broadcast address at all (all-nodes multicast ff02::1 does that job).
 */
import { quoteInput } from "../../tcp/core/printable.ts";
import {
  clipInput,
  expandIPv6,
  formatIPv4,
  formatIPv6,
  MAX_INPUT_LENGTH,
  parseIPv4,
  parseIPv6,
} from "../../tcp/core/ip_address.ts";

// The address codec is shared with the socket layer; it is part of this module's API too.
export {
  expandIPv6,
  formatIPv4,
  formatIPv6,
  MAX_INPUT_LENGTH,
  parseIPv4,
  parseIPv6,
} from "../../tcp/core/ip_address.ts";

/** Highest IPv4 prefix length. */
export const MAX_PREFIX_LENGTH = 32;

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

/** Formats an unsigned 32-bit integer as four dotted 8-bit binary groups (seed 002's picture). */
export function formatBinary(value: number): string {
  const bits = (value >>> 0).toString(2).padStart(32, "0");
  return `${bits.slice(0, 8)}.${bits.slice(8, 16)}.${bits.slice(16, 24)}.${bits.slice(24)}`;
}

/** The mask for a prefix length 0–32 (`24` → 255.255.255.0 as an integer). */
export function prefixToMask(prefix: number): number {
  checkPrefixLength(prefix, String(prefix));
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
  const { address, prefixText } = splitCidr(text, parseIPv4, 24);
  if (prefixText.includes(".")) {
    return { address, prefix: maskToPrefix(parseIPv4(prefixText), prefixText) };
  }
  return { address, prefix: parsePrefixLength(prefixText, MAX_PREFIX_LENGTH) };
}

/**
 * `ADDRESS/PREFIX` split at its slash, bounded in length, the address parsed by `parseAddress`
 * (first, so a bad address is named as such); without a slash the error shows the form with
 * `examplePrefix`.
 */
function splitCidr<Address>(
  text: string,
  parseAddress: (text: string) => Address,
  examplePrefix: number,
): { address: Address; prefixText: string } {
  if (text.length > MAX_INPUT_LENGTH) {
    throw new SyntaxError(`Invalid CIDR ${quoteInput(clipInput(text))}: too long`);
  }
  const slash = text.indexOf("/");
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const address = parseAddress(addressText);
  if (slash < 0) {
    throw new SyntaxError(
      `Invalid CIDR ${
        quoteInput(text)
      }: missing "/PREFIX" (for example ${addressText}/${examplePrefix})`,
    );
  }
  return { address, prefixText: text.slice(slash + 1) };
}

/** A prefix length in decimal, 0 to `max`. */
function parsePrefixLength(prefixText: string, max: number): number {
  if (!/^\d{1,3}$/.test(prefixText)) {
    throw new SyntaxError(
      `Invalid prefix length ${quoteInput(`/${prefixText}`)}: expected a number from 0 to ${max}`,
    );
  }
  const prefix = Number(prefixText);
  checkPrefixLength(prefix, prefixText, max);
  return prefix;
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

/** The IPv6 mask for a prefix length 0–128. */
export function prefixToMask6(prefix: number): bigint {
  checkPrefixLength(prefix, String(prefix), MAX_PREFIX_LENGTH_V6);
  return ALL_ONES_V6 ^ ((1n << BigInt(128 - prefix)) - 1n);
}

/** Parses `ADDRESS/PREFIX` for IPv6 (`2001:db8::1/64`). */
export function parseCidr6(text: string): { address: bigint; prefix: number } {
  const { address, prefixText } = splitCidr(text, parseIPv6, 64);
  return { address, prefix: parsePrefixLength(prefixText, MAX_PREFIX_LENGTH_V6) };
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

/** Throws `RangeError` unless `prefix` is an integer from 0 to `max`. */
export function checkPrefixLength(prefix: number, text: string, max = MAX_PREFIX_LENGTH): void {
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) {
    throw new RangeError(
      `Invalid prefix length ${quoteInput(`/${text}`)}: expected a number from 0 to ${max}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// `calc`: what `subnet calc` and `udp/broadcast.ts calc` print for one CIDR.

/** The `--json` fields of an IPv4 subnet. */
export function subnetFields(info: SubnetInfo): Record<string, unknown> {
  return {
    family: 4,
    cidr: `${formatIPv4(info.network)}/${info.prefix}`,
    network: formatIPv4(info.network),
    prefix: info.prefix,
    mask: formatIPv4(info.mask),
    wildcard: formatIPv4(info.wildcard),
    broadcast: info.broadcast === null ? null : formatIPv4(info.broadcast),
    first: formatIPv4(info.firstHost),
    last: formatIPv4(info.lastHost),
    hosts: info.hostCount,
    kind: info.kind,
  };
}

/** The `--json` fields of an IPv6 prefix (the address count is a decimal string: up to 2^128). */
export function subnet6Fields(info: Subnet6Info): Record<string, unknown> {
  return {
    family: 6,
    cidr: `${formatIPv6(info.network)}/${info.prefix}`,
    network: formatIPv6(info.network),
    prefix: info.prefix,
    mask: formatIPv6(info.mask),
    first: formatIPv6(info.network),
    last: formatIPv6(info.lastAddress),
    addresses: info.addressCount.toString(),
    expanded: expandIPv6(info.network),
  };
}

/**
 * `calc CIDR` for either family: the lines a human reads and the `--json` fields (`role: "calc"`).
 * Throws `SyntaxError`/`RangeError` with a one-line message for bad input.
 */
export function calcResult(cidr: string): { text: string; fields: Record<string, unknown> } {
  if (cidr.includes(":")) {
    const { address, prefix } = parseCidr6(cidr);
    const info = describeSubnet6(address, prefix);
    return {
      text: formatSubnet6(info).join("\n"),
      fields: {
        role: "calc",
        address: formatIPv6(address),
        addressExpanded: expandIPv6(address),
        ...subnet6Fields(info),
      },
    };
  }
  const info = calcSubnet(cidr);
  return {
    text: formatSubnet(info).join("\n"),
    fields: { role: "calc", address: formatIPv4(info.address), ...subnetFields(info) },
  };
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
