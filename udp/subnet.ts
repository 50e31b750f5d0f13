/**
 * Pure IPv4 subnet arithmetic — seed 002's 「IP地址是一个32位的二进制数」, 点分十进制 and
 * 「子网掩码 & ip地址 得到网段」 done with real numbers: an address is one unsigned 32-bit
 * integer, the mask is `prefix` one-bits followed by zero-bits, the network is `address & mask`
 * and the broadcast address is `network | ~mask`.
 *
 * No I/O: `udp/broadcast.ts calc` prints what `describeSubnet` returns (issue 7 will grow this
 * module into its own CLI). Every parser is strict: exactly four decimal octets 0–255 without
 * leading zeros (`010` means 8 to inet_aton and 10 to a human, so it is refused), a prefix 0–32,
 * a dotted mask only when its one-bits are contiguous. Malformed text throws `SyntaxError`,
 * well-formed but out-of-range values throw `RangeError`; both carry a one-line message.
 *
 * The edges are explicit rather than falling out of the formula:
 * - `/32` is a single host: no network/broadcast split, one usable address.
 * - `/31` is a point-to-point link (RFC 3021): no broadcast address, both addresses are hosts.
 * - `/0` is the whole IPv4 space: JavaScript's `x << 32` is `x << 0`, so the mask is special-cased.
 */

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
  if (text.length > MAX_INPUT_LENGTH) {
    throw new SyntaxError(`Invalid IPv4 address "${clip(text)}": too long`);
  }
  const parts = text.split(".");
  if (parts.length !== 4) {
    throw new SyntaxError(
      `Invalid IPv4 address "${text}": expected 4 dotted decimal octets, got ${parts.length}`,
    );
  }
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) {
      throw new SyntaxError(
        `Invalid IPv4 address "${text}": octet "${part}" is not a decimal number 0-255`,
      );
    }
    if (part.length > 1 && part.startsWith("0")) {
      throw new SyntaxError(
        `Invalid IPv4 address "${text}": octet "${part}" has a leading zero (octal or decimal?)`,
      );
    }
    const octet = Number(part);
    if (octet > 255) {
      throw new RangeError(`Invalid IPv4 address "${text}": octet ${octet} is greater than 255`);
    }
    value = value * 256 + octet;
  }
  return value;
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
    throw new RangeError(`Invalid subnet mask "${text}": its one-bits are not contiguous`);
  }
  return 32 - Math.log2(inverted + 1);
}

/** Parses `ADDRESS/PREFIX` (`192.168.1.37/24`) or `ADDRESS/MASK` (`192.168.1.37/255.255.255.0`). */
export function parseCidr(text: string): { address: number; prefix: number } {
  if (text.length > MAX_INPUT_LENGTH) {
    throw new SyntaxError(`Invalid CIDR "${clip(text)}": too long`);
  }
  const slash = text.indexOf("/");
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const address = parseIPv4(addressText);
  if (slash < 0) {
    throw new SyntaxError(
      `Invalid CIDR "${text}": missing "/PREFIX" (for example ${addressText}/24)`,
    );
  }
  const prefixText = text.slice(slash + 1);
  if (prefixText.includes(".")) {
    return { address, prefix: maskToPrefix(parseIPv4(prefixText), prefixText) };
  }
  if (!/^\d{1,3}$/.test(prefixText)) {
    throw new SyntaxError(
      `Invalid prefix length "/${prefixText}": expected a number from 0 to ${MAX_PREFIX_LENGTH}`,
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

function checkPrefix(prefix: number, text: string): void {
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > MAX_PREFIX_LENGTH) {
    throw new RangeError(
      `Invalid prefix length "/${text}": expected a number from 0 to ${MAX_PREFIX_LENGTH}`,
    );
  }
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
