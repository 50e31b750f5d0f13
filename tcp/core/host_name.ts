/**
 * A host the user typed (`--host`, `--to`), turned into the address a socket needs: an IP literal
 * as it is (IPv6 without brackets, in its canonical form), a name through the system's resolver —
 * getaddrinfo, which reads /etc/hosts before it asks DNS, as `ping`, `nc` and `Deno.connect` do.
 *
 * The shape of a name is checked first (letters, digits, hyphens and underscores in dot-separated
 * labels of at most 63 characters, at most 253 in all), so `my host` is refused without a lookup,
 * and text made of digits and dots is an IPv4 address whose faults are named (`300.1.1.1`).
 * Where a name has several addresses the first IPv4 one is taken: netlab's servers bind 127.0.0.1
 * by default, and a UDP reply is recognised by coming from exactly the address the request went to.
 */
import { lookup as systemLookup } from "node:dns/promises";
import { formatIPv6, parseIPv4, parseIPv6 } from "./ip_address.ts";
import { quoteInput } from "./printable.ts";

/** Text that is neither an IP address nor a well-formed host name; `reason` says which rule. */
export class HostNameError extends SyntaxError {
  override name = "HostNameError";
  constructor(readonly host: string, readonly reason: string) {
    super(`Invalid host ${quoteInput(host)}: ${reason}`);
  }
}

/** A well-formed name the resolver could not turn into an address. */
export class HostLookupError extends Error {
  override name = "HostLookupError";
  constructor(readonly host: string, readonly reason: string) {
    super(`Cannot resolve host ${quoteInput(host)}: ${reason}`);
  }
}

/** The resolver's answer: addresses with their family (4 or 6), as node:dns's `lookup` gives. */
export type HostLookup = (name: string) => Promise<{ address: string; family: number }[]>;

const MAX_NAME_LENGTH = 253;
const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/** The canonical address when `host` is an IP literal (`[::1]` → `::1`); else undefined. */
export function addressLiteral(host: string): string | undefined {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (bare.includes(":")) {
    try {
      return formatIPv6(parseIPv6(bare));
    } catch (error) {
      throw new HostNameError(host, (error as Error).message);
    }
  }
  if (/^[\d.]+$/.test(bare)) {
    try {
      parseIPv4(bare);
    } catch (error) {
      throw new HostNameError(host, (error as Error).message);
    }
    return bare;
  }
  return undefined;
}

/** Throws `HostNameError` unless `name` has the shape of a host name (see the header). */
export function checkHostName(name: string): void {
  if (name === "") throw new HostNameError(name, "it is empty");
  if (name.length > MAX_NAME_LENGTH + 1) {
    throw new HostNameError(name.slice(0, 40) + "…", `longer than ${MAX_NAME_LENGTH} characters`);
  }
  const labels = (name.endsWith(".") ? name.slice(0, -1) : name).split(".");
  for (const label of labels) {
    if (!LABEL.test(label)) {
      throw new HostNameError(
        name,
        label === ""
          ? "it has an empty label (two dots in a row?)"
          : "a host name has only letters, digits, hyphens and dots",
      );
    }
  }
}

async function lookupAll(name: string): Promise<{ address: string; family: number }[]> {
  return await systemLookup(name, { all: true });
}

/** A resolver failure in plain words (getaddrinfo's codes, as node:dns reports them). */
function lookupReason(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  switch (code) {
    case "ENOTFOUND":
      return "no such host";
    case "ENODATA":
      return "the name has no address";
    case "EAI_AGAIN":
      return "temporary failure in name resolution (no DNS server answered)";
    default:
      return error instanceof Error ? error.message.split("\n")[0] : String(error);
  }
}

/**
 * The address to use for `host`: a literal as it is, a name through `lookup` (the system's
 * resolver by default) — its first IPv4 address, or its first address when it has no IPv4 one.
 * Throws `HostNameError` for malformed text, `HostLookupError` when the name does not resolve.
 */
export async function resolveHost(
  host: string,
  { lookup = lookupAll }: { lookup?: HostLookup } = {},
): Promise<string> {
  const literal = addressLiteral(host);
  if (literal !== undefined) return literal;
  checkHostName(host);
  let addresses: { address: string; family: number }[];
  try {
    addresses = await lookup(host);
  } catch (error) {
    throw new HostLookupError(host, lookupReason(error));
  }
  const chosen = addresses.find((a) => a.family === 4) ?? addresses[0];
  if (!chosen) throw new HostLookupError(host, "the name has no address");
  return chosen.address;
}
