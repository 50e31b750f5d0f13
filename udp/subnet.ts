/**
 * Subnet calculator and planner: `calc` shows one IPv4 or IPv6 prefix bit by bit, `split` carves
 * a network into subnets for host counts (VLSM) or into equal parts, `deaggregate` turns an
 * address range into the fewest CIDRs. The arithmetic is pure (udp/core/subnet_math.ts and
 * udp/core/subnet_plan.ts, re-exported here for the tests); this file is the CLI.
 *
 * Seed idea: 002 「IP地址是一个32位的二进制数」, 点分十进制 and 「子网掩码 & ip地址 得到网段」 — then
 * what a network engineer does next with it: plan the subnets. `udp/broadcast.ts calc` shows the
 * very same `calc` (both print `calcResult`).
 *
 * Why another calculator: Debian's ipcalc 0.42 (`ipcalc 192.168.1.0/24 -s 50 20 10`, measured)
 * only hands out odd prefix lengths — 50 hosts get a /27 (30 usable), 10 hosts a /29 (6 usable):
 * every request of 7–14, 31–62 or 127–254 hosts gets half the subnet it needs. Here each request
 * gets the longest prefix p with 2^(32−p) − 2 ≥ hosts: 50 hosts → /26 (62 usable).
 *
 * Run:  deno task subnet calc 192.168.1.37/24
 *       deno task subnet calc 2001:db8::1/64
 *       deno task subnet split 192.168.1.0/24 --hosts 50,20,10
 *       deno task subnet split 10.0.0.0/16 --prefix /20
 *       deno task subnet deaggregate 10.0.0.0 - 10.0.0.200
 *       deno task subnet ip 100.4.5.6          (seed 002: ↔ 01100100.00000100.00000101.00000110)
 *       deno task subnet mac AA:BB:CC:DD:EE:FF (seed 004: OUI AABBCC, serial DDEEFF, 48 bits)
 *       deno task subnet split 192.168.1.0/24 --hosts lan=50,wifi=20 --json   (NDJSON events)
 *       (or: deno run -A udp/subnet.ts …)
 * Poke: compare with `ipcalc 192.168.1.37/24`, `sipcalc 2001:db8::1/64`.
 */
import { quoteInput } from "../tcp/core/printable.ts";
import { CliError, parseCli, parseCount, runMain, UsageError } from "../tcp/kit/cli.ts";
import { createReporter, type Fields } from "../tcp/kit/report.ts";
import {
  calcResult,
  describeIPv4,
  describeSubnet,
  describeSubnet6,
  expandIPv6,
  formatCount,
  formatIPv4,
  formatIPv4View,
  formatIPv6,
  parseIPv4Either,
  parseIPv6,
  subnet6Fields,
  subnetFields,
} from "./core/subnet_math.ts";
import {
  blockLast,
  blockSize,
  deaggregate,
  formatAddress,
  formatPrefix,
  type IpFamily,
  type IpPrefix,
  MAX_SPLIT_ROWS,
  parseHostRequests,
  parseNetwork,
  parseRange,
  planVlsm,
  splitPrefix,
  usableHosts,
  type VlsmPlan,
} from "./core/subnet_plan.ts";
import { describeMac, formatMac, parseMac } from "./core/mac.ts";

export * from "./core/subnet_math.ts";
export * from "./core/subnet_plan.ts";
export * from "./core/mac.ts";

/** The `tool` field of this CLI's `--json` events. */
export const TOOL = "udp/subnet";

/** How many subnets `split --prefix` lists unless `--limit` says otherwise. */
export const DEFAULT_SPLIT_LIMIT = 1024;

const USAGE = `Usage: deno task subnet <command> … [--json]

  calc CIDR
      Address, mask, wildcard, network (address & mask), broadcast (network | ~mask), first/last
      host and host count in dotted decimal and binary: calc 192.168.1.37/24, 10.0.0.1/255.0.0.0.
      /31 is a point-to-point link (RFC 3021: two hosts, no broadcast), /32 a single host.
      IPv6 (calc 2001:db8::1/64): network, first/last address, number of addresses, each in
      RFC 5952 compressed and in expanded form.
  split CIDR --hosts [NAME=]N,… [--rfc3021]
      VLSM: each request gets the smallest subnet holding it (usable = 2^(32-p) - 2), largest
      first; prints requested, allocated, first - last host, broadcast, usable and waste per
      subnet, then the free rest as CIDRs. --rfc3021: 1-2 host requests get a /31.
  split CIDR --prefix /P [--limit N]
      Equal split into /P subnets (IPv4 or IPv6); lists the first N (default ${DEFAULT_SPLIT_LIMIT},
      at most ${MAX_SPLIT_ROWS}) and says how many there are in all.
  deaggregate FIRST - LAST
      The fewest CIDRs covering exactly FIRST…LAST (IPv4 or IPv6), e.g. 10.0.0.0 - 10.0.0.200.
  ip ADDRESS
      One address, no prefix: dotted decimal ↔ 32-bit binary (seed 002: 100.4.5.6 ↔
      01100100.00000100.00000101.00000110), each octet, the integer. Takes either notation;
      IPv6: compressed and expanded forms.
  mac ADDRESS
      A MAC address (AA:BB:CC:DD:EE:FF, aa-bb-cc-dd-ee-ff or aabb.ccdd.eeff): 12 hex digits =
      48 bits, OUI (first 6 hex digits: vendor) and serial (last 6), I/G bit (unicast,
      multicast; ff:ff:ff:ff:ff:ff = broadcast) and U/L bit (globally unique, locally
      administered).

Options:
  --json       one NDJSON event per line: {"ts","tool":"${TOOL}","event","text",…}; every
               subnet is an event "result" with its fields (role: calc, allocated, free,
               split, range), headings and summaries are events "log"; ip and mac print one
               event "result" too
  -h, --help   show this help`;

/** Where a command's lines go: results (`result` events), summaries (`log`), text-only notes. */
interface Output {
  /** A heading or summary line: a `log` event under `--json`. */
  log(text: string, fields?: Fields): void;
  /** One result: a `subnet` event under `--json`. */
  subnet(text: string, fields: Fields): void;
  /** Layout only (table headings): printed in text mode, left out of `--json`. */
  note(text: string): void;
}

function createOutput(tool: string, json: boolean): Output {
  const reporter = createReporter(tool, { json });
  return {
    log: (text, fields) => reporter.info(text, "log", fields),
    subnet: (text, fields) => reporter.info(text, "result", fields),
    note: (text) => {
      if (!json) reporter.info(text);
    },
  };
}

/** The math throws `SyntaxError`/`RangeError` with one-line messages: exit 1 with just that. */
function oneLine<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof SyntaxError || error instanceof RangeError) {
      throw new CliError(error.message);
    }
    throw error;
  }
}

/**
 * Lays out `rows` under `header` in columns two spaces apart; columns whose index is in
 * `rightAligned` (numbers) are right-aligned. Returns the header line, then one line per row.
 */
export function formatTable(
  header: string[],
  rows: string[][],
  rightAligned: number[] = [],
): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) =>
      rightAligned.includes(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i])
    ).join("  ").trimEnd();
  return [line(header), ...rows.map(line)];
}

/** The `--json` fields of a plain block (free space, deaggregation). */
function blockFields(block: IpPrefix): Fields {
  const size = blockSize(block.family, block.prefix);
  return {
    family: block.family,
    cidr: formatPrefix(block),
    first: formatAddress(block.family, block.network),
    last: formatAddress(block.family, blockLast(block)),
    addresses: countField(block.family, size),
  };
}

/** Counts in `--json`: numbers for IPv4 (at most 2^32), decimal strings for IPv6 (up to 2^128). */
function countField(family: IpFamily, count: bigint): number | string {
  return family === 4 ? Number(count) : count.toString();
}

/** `1 request`, `3 requests`. */
function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function blockRange(block: IpPrefix): string {
  return `${formatAddress(block.family, block.network)} - ${
    formatAddress(block.family, blockLast(block))
  }`;
}

/** `calc CIDR` (`udp/broadcast.ts calc` shows the same `calcResult`). */
function calcCommand(args: string[]): number {
  const { values, positionals } = parseCli(args, { json: { type: "boolean" } });
  if (positionals.length !== 1) {
    throw new UsageError(`calc takes one CIDR, e.g. 192.168.1.37/24 (got ${positionals.length})`);
  }
  const out = createOutput(TOOL, values.json ?? false);
  const { text, fields } = oneLine(() => calcResult(positionals[0]));
  out.subnet(text, fields);
  return 0;
}

/** Parses `--prefix /26` or `--prefix 26`. */
function parseNewPrefix(value: string): number {
  const match = /^\/?(\d{1,3})$/.exec(value);
  if (!match) throw new UsageError(`Invalid --prefix ${quoteInput(value)}: expected /P, e.g. /26`);
  return Number(match[1]);
}

function printVlsm(out: Output, plan: VlsmPlan, from: string): void {
  const parent = formatPrefix(plan.parent);
  const requested = plan.allocations.reduce((sum, a) => sum + a.request.hosts, 0);
  const source = from === parent ? parent : `${parent} (from ${from})`;
  const requests = plural(plan.allocations.length, "request");
  out.log(
    `${source}: ${requests} for ${requested} hosts, largest first (usable = 2^(32-p) - 2)`,
    { network: parent, requests: plan.allocations.length, requested },
  );
  const rows = plan.allocations.map(({ request, subnet }) => [
    request.name,
    String(request.hosts),
    `${formatIPv4(subnet.network)}/${subnet.prefix}`,
    `${formatIPv4(subnet.firstHost)} - ${formatIPv4(subnet.lastHost)}`,
    subnet.broadcast === null ? "none" : formatIPv4(subnet.broadcast),
    String(subnet.hostCount),
    String(subnet.hostCount - request.hosts),
  ]);
  const [head, ...lines] = formatTable(
    ["name", "hosts", "subnet", "first - last host", "broadcast", "usable", "waste"],
    rows,
    [1, 5, 6],
  );
  out.note(head);
  plan.allocations.forEach(({ request, subnet, waste }, i) =>
    out.subnet(lines[i], {
      role: "allocated",
      name: request.name,
      requested: request.hosts,
      ...subnetFields(subnet),
      waste,
    })
  );
  const freeAddresses = plan.totalAddresses - plan.usedAddresses;
  if (plan.free.length) {
    const [freeHead, ...freeLines] = formatTable(
      ["free", "first - last", "addresses"],
      plan.free.map((block) => [
        formatPrefix(block),
        blockRange(block),
        String(blockSize(4, block.prefix)),
      ]),
      [2],
    );
    out.note("");
    out.note(freeHead);
    plan.free.forEach((block, i) =>
      out.subnet(freeLines[i], { role: "free", ...blockFields(block) })
    );
  }
  const waste = plan.allocations.reduce((sum, a) => sum + a.waste, 0);
  out.log(
    `used ${plan.usedAddresses} of ${plan.totalAddresses} addresses ` +
      `(${requested} hosts requested, ${waste} usable to spare); ` +
      `${freeAddresses} free in ${plan.free.length} block${plan.free.length === 1 ? "" : "s"}`,
    {
      network: parent,
      used: plan.usedAddresses,
      total: plan.totalAddresses,
      requested,
      waste,
      free: freeAddresses,
    },
  );
}

function printEqualSplit(out: Output, parentText: string, newPrefix: number, limit: number) {
  const parent = parseNetwork(parentText);
  const split = splitPrefix(parent, newPrefix, { limit });
  const cidr = formatPrefix(parent);
  const size = blockSize(parent.family, newPrefix);
  const each = parent.family === 4
    ? `${size} addresses, ${usableHosts(newPrefix)} usable host${newPrefix === 32 ? "" : "s"} each`
    : `${formatCount(size)} addresses each`;
  out.log(`${cidr} = ${formatCount(split.total)} × /${newPrefix} (${each})`, {
    network: cidr,
    prefix: newPrefix,
    total: countField(parent.family, split.total),
  });
  if (parent.family === 4) {
    const infos = split.subnets.map((s) => describeSubnet(Number(s.network), newPrefix));
    const [head, ...lines] = formatTable(
      ["subnet", "first - last host", "broadcast"],
      infos.map((info) => [
        `${formatIPv4(info.network)}/${newPrefix}`,
        `${formatIPv4(info.firstHost)} - ${formatIPv4(info.lastHost)}`,
        info.broadcast === null ? "none" : formatIPv4(info.broadcast),
      ]),
    );
    out.note(head);
    infos.forEach((info, i) => out.subnet(lines[i], { role: "split", ...subnetFields(info) }));
  } else {
    const infos = split.subnets.map((s) => describeSubnet6(s.network, newPrefix));
    const [head, ...lines] = formatTable(
      ["subnet", "first - last"],
      infos.map((info) => [
        `${formatIPv6(info.network)}/${newPrefix}`,
        `${formatIPv6(info.network)} - ${formatIPv6(info.lastAddress)}`,
      ]),
    );
    out.note(head);
    infos.forEach((info, i) => out.subnet(lines[i], { role: "split", ...subnet6Fields(info) }));
  }
  const hidden = split.total - BigInt(split.subnets.length);
  if (hidden > 0n) {
    out.log(
      `… ${formatCount(hidden)} more /${newPrefix} subnets not shown ` +
        `(${formatCount(split.total)} in all; --limit N shows up to ${MAX_SPLIT_ROWS})`,
      { shown: split.subnets.length, total: countField(parent.family, split.total) },
    );
  }
}

/** `split CIDR --hosts …` or `split CIDR --prefix /P`. */
function splitCommand(args: string[]): number {
  const { values, positionals } = parseCli(args, {
    hosts: { type: "string" },
    prefix: { type: "string" },
    limit: { type: "string" },
    rfc3021: { type: "boolean" },
    json: { type: "boolean" },
  });
  if (positionals.length !== 1) {
    throw new UsageError(`split takes one CIDR, e.g. 192.168.1.0/24 (got ${positionals.length})`);
  }
  if ((values.hosts === undefined) === (values.prefix === undefined)) {
    throw new UsageError("split needs exactly one of --hosts N,… or --prefix /P");
  }
  if (values.hosts !== undefined && values.limit !== undefined) {
    throw new UsageError("--limit goes with --prefix (a VLSM plan is always printed whole)");
  }
  if (values.prefix !== undefined && values.rfc3021) {
    throw new UsageError("--rfc3021 goes with --hosts");
  }
  const out = createOutput(TOOL, values.json ?? false);
  const cidr = positionals[0];
  if (values.prefix !== undefined) {
    const newPrefix = parseNewPrefix(values.prefix);
    const limit = parseCount(values.limit, DEFAULT_SPLIT_LIMIT, "--limit", {
      max: MAX_SPLIT_ROWS,
    });
    oneLine(() => printEqualSplit(out, cidr, newPrefix, limit));
    return 0;
  }
  const hosts = values.hosts ?? "";
  oneLine(() => {
    const parent = parseNetwork(cidr);
    if (parent.family !== 4) {
      throw new CliError(
        "--hosts plans IPv4 subnets; IPv6 subnets are /64 whatever the host count: use --prefix /64",
      );
    }
    const plan = planVlsm(Number(parent.network), parent.prefix, parseHostRequests(hosts), {
      pointToPoint: values.rfc3021 ?? false,
    });
    printVlsm(out, plan, `${formatAddress(4, parent.address)}/${parent.prefix}`);
  });
  return 0;
}

/** `deaggregate FIRST - LAST` (the range may be one argument or three). */
function deaggregateCommand(args: string[]): number {
  const { values, positionals } = parseCli(args, { json: { type: "boolean" } });
  if (!positionals.length) {
    throw new UsageError("deaggregate takes a range FIRST - LAST, e.g. 10.0.0.0 - 10.0.0.200");
  }
  const out = createOutput(TOOL, values.json ?? false);
  oneLine(() => {
    const range = parseRange(positionals.join(" "));
    const blocks = deaggregate(range.family, range.first, range.last);
    const count = range.last - range.first + 1n;
    const first = formatAddress(range.family, range.first);
    const last = formatAddress(range.family, range.last);
    out.log(
      `${first} - ${last}: ${formatCount(count)} address${count === 1n ? "" : "es"} in ` +
        `${blocks.length} CIDR${blocks.length === 1 ? "" : "s"}`,
      { first, last, addresses: countField(range.family, count), cidrs: blocks.length },
    );
    const [head, ...lines] = formatTable(
      ["cidr", "first - last", "addresses"],
      blocks.map((block) => [
        formatPrefix(block),
        blockRange(block),
        formatCount(blockSize(block.family, block.prefix)),
      ]),
      [2],
    );
    out.note(head);
    blocks.forEach((block, i) => out.subnet(lines[i], { role: "range", ...blockFields(block) }));
  });
  return 0;
}

/** Reads the one positional argument of `ip` / `mac`. */
function oneAddress(args: string[], command: string, example: string) {
  const { values, positionals } = parseCli(args, { json: { type: "boolean" } });
  if (positionals.length !== 1) {
    throw new UsageError(
      `${command} takes one address, e.g. ${example} (got ${positionals.length})`,
    );
  }
  return { text: positionals[0], json: values.json ?? false };
}

/** `ip ADDRESS`: one address in dotted decimal and binary (seed 002), no prefix needed. */
function ipCommand(args: string[]): number {
  const { text, json } = oneAddress(args, "ip", "100.4.5.6");
  const reporter = createReporter(TOOL, { json });
  oneLine(() => {
    if (text.includes(":")) {
      const value = parseIPv6(text);
      reporter.info(
        [
          `address   ${formatIPv6(value)}`,
          `expanded  ${expandIPv6(value)}  128 bits = 8 groups of 16`,
        ].join("\n"),
        "result",
        { family: 6, address: formatIPv6(value), expanded: expandIPv6(value) },
      );
      return;
    }
    const view = describeIPv4(parseIPv4Either(text));
    reporter.info(formatIPv4View(view).join("\n"), "result", {
      family: 4,
      address: view.dotted,
      binary: view.binary,
      octets: view.octets,
      integer: view.value,
      hex: view.hex,
    });
  });
  return 0;
}

/** `mac ADDRESS`: OUI, serial, the 48 bits, I/G and U/L (seed 004). */
function macCommand(args: string[]): number {
  const { text, json } = oneAddress(args, "mac", "AA:BB:CC:DD:EE:FF");
  const reporter = createReporter(TOOL, { json });
  oneLine(() => {
    const info = describeMac(parseMac(text));
    reporter.info(formatMac(info).join("\n"), "result", {
      mac: info.colon,
      hex: info.hex,
      bits: info.binary,
      oui: info.oui,
      serial: info.serial,
      ig: info.groupBit,
      ul: info.localBit,
      cast: info.cast,
      administration: info.administration,
    });
  });
  return 0;
}

const COMMANDS = "calc, split, deaggregate, ip or mac";

/** `deno run -A udp/subnet.ts calc|split|deaggregate|ip|mac …`. */
export function main(args: string[]): number {
  const [command, ...rest] = args;
  switch (command) {
    case "calc":
      return calcCommand(rest);
    case "split":
      return splitCommand(rest);
    case "deaggregate":
      return deaggregateCommand(rest);
    case "ip":
      return ipCommand(rest);
    case "mac":
      return macCommand(rest);
    case undefined:
      throw new UsageError(`Missing command: ${COMMANDS}`);
    default:
      throw new UsageError(
        command.startsWith("-")
          ? `unknown option ${quoteInput(command).slice(1, -1)}`
          : `Unknown command ${quoteInput(command)}: expected ${COMMANDS}`,
      );
  }
}

if (import.meta.main) await runMain(USAGE, main);
