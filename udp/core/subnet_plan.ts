/**
 * The subnet planner: what a network engineer does after seed 002's 「子网掩码 & ip地址 得到网段」 —
 * carve a network into subnets for host counts (VLSM), into equal parts, or cover an address
 * range with the fewest CIDRs.
 *
 * Theory of operation. The planner works on `bigint` so that one algorithm serves both the 32-bit
 * and the 128-bit family: a prefix is a block of 2^(bits − prefix) addresses that starts at a
 * multiple of its own size.
 * - VLSM: each request gets the smallest subnet whose usable host count (2^(32−p) − 2) is at
 *   least the request; blocks are laid out largest first, so every block starts aligned (a sum
 *   of larger-or-equal powers of two is a multiple of the smaller one) and the requests fit
 *   exactly when their block sizes add up to at most the network's size.
 * - Deaggregation: from the range's start, take the largest aligned block that does not run past
 *   the end, and repeat — at most 2 × bits − 2 blocks, the minimal CIDR cover.
 *
 * No I/O, bounded input (host request lists, ranges, listed rows); errors are `SyntaxError` and
 * `RangeError` with one-line messages, as in ./subnet_math.ts.
 */
import { quoteInput } from "../../tcp/core/printable.ts";
import {
  clipInput,
  formatIPv4,
  formatIPv6,
  MAX_INPUT_LENGTH,
  parseIPv4,
  parseIPv6,
} from "../../tcp/core/ip_address.ts";
import {
  checkPrefixLength,
  describeSubnet,
  parseCidr,
  parseCidr6,
  prefixToMask,
  prefixToMask6,
  type SubnetInfo,
} from "./subnet_math.ts";

// ---------------------------------------------------------------------------------------------
// Both families: prefixes as bigint blocks.

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
  checkPrefixLength(newPrefix, String(newPrefix), bits);
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
    throw new SyntaxError(`Invalid range ${quoteInput(clipInput(text))}: too long`);
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
    throw new SyntaxError(`Invalid host requests ${quoteInput(clipInput(text))}: too long`);
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
  checkPrefixLength(prefix, String(prefix));
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
        `Request ${quoteInput(request.name)} for ${request.hosts} hosts needs a /${needed} ` +
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
