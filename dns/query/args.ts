/**
 * dig's command line for `dns:query`: `@server`, `+options`, a type and a name in any order,
 * plus the dash flags, turned into one `QueryRequest`. Anything it cannot use is a `UsageError`
 * (exit 2) naming the argument.
 */
import { EDNS_UDP_SIZE } from "../wire/edns.ts";
import { normalizeName } from "../wire/names.ts";
import { parseClass, parseType, TYPE } from "../wire/constants.ts";
import { printableText } from "../wire/primitives.ts";
import { reverseName } from "../wire/addresses.ts";
import { isIpAddress } from "../wire/addresses.ts";
import { parseCli, parsePort, UsageError } from "../../tcp/kit/cli.ts";

/** Everything the command line asked for. */
export interface QueryRequest {
  name: string;
  type: number;
  qclass: number;
  server?: string;
  port: number;
  short: boolean;
  tcp: boolean;
  recurse: boolean;
  trace: boolean;
  /** Unset: 5 s × 3 tries for one server; 2 s × 1 try per server when iterating. */
  timeoutMs?: number;
  tries?: number;
  bufsize: number;
  dnssec: boolean;
  /** `+validate`: judge the answer with DNSSEC. */
  validate: boolean;
  /** `--trust-anchor FILE`. */
  trustAnchor?: string;
  ignoreTruncation: boolean;
  json: boolean;
  /** `--explain`: annotated wire views of every query and reply. */
  explain: boolean;
  roots: string[];
}

const FLAGS = {
  port: { type: "string", short: "p" },
  type: { type: "string", short: "t" },
  reverse: { type: "string", short: "x" },
  json: { type: "boolean" },
  explain: { type: "boolean" },
  root: { type: "string", multiple: true },
  "trust-anchor": { type: "string" },
} as const;

function parseIntOption(option: string, value: string, min: number, max: number): number {
  if (!/^\d{1,6}$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(
      `Invalid option "${printableText(option)}": expected an integer from ${min} to ${max}`,
    );
  }
  return Number(value);
}

function parseTypeText(text: string): number {
  try {
    return parseType(text);
  } catch (error) {
    if (error instanceof RangeError) throw new UsageError(error.message);
    throw error;
  }
}

/** A positional that names a record type (`MX`, `aaaa`, `TYPE99`), not a domain. */
function looksLikeType(text: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9]*$/.test(text)) return false;
  try {
    parseType(text);
    return true;
  } catch {
    return false;
  }
}

function isClass(text: string): boolean {
  if (!/^(IN|CH|HS|ANY|CLASS\d+)$/i.test(text)) return false;
  try {
    parseClass(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Turns dig-style arguments into a request: `@server`, `+option`, a type and a name in any
 * order, plus the dash flags. Throws `UsageError` (exit 2) on anything it cannot use.
 */
export function parseQueryArgs(args: string[]): QueryRequest {
  const { values, positionals } = parseCli(args, FLAGS);
  const request: QueryRequest = {
    name: "",
    type: TYPE.A,
    qclass: 1,
    port: parsePort(values.port, 53, "--port"),
    short: false,
    tcp: false,
    recurse: true,
    trace: false,
    bufsize: EDNS_UDP_SIZE,
    dnssec: false,
    validate: false,
    trustAnchor: values["trust-anchor"],
    ignoreTruncation: false,
    json: values.json ?? false,
    explain: values.explain ?? false,
    roots: (values.root ?? []).flatMap((r) => r.split(",")).map((r) => r.trim()).filter(Boolean),
  };
  for (const root of request.roots) {
    if (!isIpAddress(root)) {
      throw new UsageError(`Invalid --root "${printableText(root)}": expected an IP address`);
    }
  }
  let name: string | undefined;
  let typeSet = false;
  if (values.type !== undefined) {
    request.type = parseTypeText(values.type);
    typeSet = true;
  }
  for (const arg of positionals) {
    if (arg.startsWith("@")) {
      if (arg.length === 1) throw new UsageError(`Invalid server "@": expected @ADDRESS`);
      request.server = arg.slice(1);
    } else if (arg.startsWith("+")) {
      applyPlusOption(request, arg);
    } else if (!typeSet && looksLikeType(arg) && !(name === undefined && arg.includes("."))) {
      request.type = parseTypeText(arg);
      typeSet = true;
    } else if (isClass(arg) && name !== undefined) {
      request.qclass = parseClass(arg);
    } else if (name === undefined) {
      name = arg;
    } else if (/^[A-Za-z][A-Za-z0-9]*$/.test(arg)) {
      throw new UsageError(`Unknown record type "${printableText(arg)}"`);
    } else {
      throw new UsageError(`Unexpected argument "${printableText(arg)}": only one name per query`);
    }
  }
  if (values.reverse !== undefined) {
    if (name !== undefined) throw new UsageError(`Give either -x ADDR or a NAME, not both`);
    try {
      name = reverseName(values.reverse);
    } catch (error) {
      if (error instanceof RangeError) {
        throw new UsageError(
          `Invalid -x "${printableText(values.reverse)}": not an IPv4 or IPv6 address`,
        );
      }
      throw error;
    }
    if (!typeSet) request.type = TYPE.PTR;
  }
  // dig without a name asks for the root's name servers.
  if (name === undefined) {
    name = ".";
    if (!typeSet) request.type = TYPE.NS;
  }
  request.name = validName(name);
  return request;
}

function validName(name: string): string {
  if (name === "") throw new UsageError(`Invalid name "": empty`);
  try {
    return normalizeName(name);
  } catch (error) {
    if (error instanceof RangeError) throw new UsageError(error.message);
    throw error;
  }
}

function applyPlusOption(request: QueryRequest, arg: string): void {
  const [option, value] = arg.slice(1).split("=", 2) as [string, string | undefined];
  const needValue = () => {
    if (value === undefined) {
      throw new UsageError(`Invalid option "${printableText(arg)}": needs =VALUE`);
    }
    return value;
  };
  switch (option.toLowerCase()) {
    case "short":
      request.short = true;
      return;
    case "noshort":
      request.short = false;
      return;
    case "tcp":
    case "vc":
      request.tcp = true;
      return;
    case "notcp":
    case "novc":
      request.tcp = false;
      return;
    case "rec":
    case "recurse":
      request.recurse = true;
      return;
    case "norec":
    case "norecurse":
      request.recurse = false;
      return;
    case "trace":
      request.trace = true;
      return;
    case "notrace":
      request.trace = false;
      return;
    // As dig: a time under 1 s means 1 s, and fewer than one try means one.
    case "time":
    case "timeout":
      request.timeoutMs = Math.max(1, parseIntOption(arg, needValue(), 0, 300)) * 1000;
      return;
    case "tries":
      request.tries = Math.max(1, parseIntOption(arg, needValue(), 0, 100));
      return;
    case "retry":
      request.tries = parseIntOption(arg, needValue(), 0, 99) + 1;
      return;
    case "bufsize":
      request.bufsize = parseIntOption(arg, needValue(), 0, 65535);
      return;
    case "dnssec":
      request.dnssec = true;
      return;
    case "nodnssec":
      request.dnssec = false;
      return;
    case "validate":
      request.validate = true;
      request.dnssec = true;
      return;
    case "novalidate":
      request.validate = false;
      return;
    case "ignore":
      request.ignoreTruncation = true;
      return;
    case "noignore":
      request.ignoreTruncation = false;
      return;
    default:
      throw new UsageError(`Invalid option "${printableText(arg)}"`);
  }
}
