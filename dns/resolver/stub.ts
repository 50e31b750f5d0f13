/**
 * Asking one recursive server and letting it do the work — seed 000's 「本地DNS代劳」 from the
 * browser's side — and what every resolver here shares: the query options, the result, and the
 * SERVFAIL error. Also the machine's own resolver configuration (`/etc/resolv.conf`).
 */
import { makeQuery, type Message } from "../wire/message.ts";
import { normalizeName } from "../wire/names.ts";
import { RCODE } from "../wire/constants.ts";
import { EDNS_UDP_SIZE } from "../wire/edns.ts";
import { type ResourceRecord } from "../wire/rdata.ts";
import { type DnsExchange, exchange, type ExchangeOptions, type TryProgress } from "./transport.ts";
import type { FreshSockets } from "../../udp/core/fresh_sockets.ts";

/** Resolution failed the way a recursive resolver would answer SERVFAIL. */
export class ResolveError extends Error {
  override name = "ResolveError";
  readonly rcode: number = RCODE.SERVFAIL;
  /** True when no server replied at all (dig's exit 9). */
  readonly noReply: boolean;
  /** True for a loop or a limit: trying other servers or zones cannot help. */
  readonly fatal: boolean;
  constructor(message: string, { noReply = false, fatal = false } = {}) {
    super(message);
    this.noReply = noReply;
    this.fatal = fatal;
  }
}

// ---------------------------------------------------------------------------------------------
// resolv.conf

/** What `/etc/resolv.conf` says (only the parts netlab uses). */
export interface ResolvConf {
  nameservers: string[];
  search: string[];
}

/** Parses resolv.conf text: `nameserver ADDR` lines (in order) and `search`/`domain`. */
export function parseResolvConf(text: string): ResolvConf {
  const nameservers: string[] = [];
  let search: string[] = [];
  for (const raw of text.split(/\r?\n/).slice(0, 10_000)) {
    const line = raw.replace(/[#;].*$/, "").trim();
    const [keyword, ...rest] = line.split(/\s+/);
    if (keyword === "nameserver" && rest[0]) nameservers.push(rest[0]);
    else if (keyword === "search" || keyword === "domain") search = rest;
  }
  return { nameservers, search };
}

/** The machine's first configured nameserver (127.0.0.1 when none is configured, like libc). */
export async function systemNameserver(path = "/etc/resolv.conf"): Promise<string> {
  try {
    return parseResolvConf(await Deno.readTextFile(path)).nameservers[0] ?? "127.0.0.1";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "127.0.0.1";
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Stub resolver

/** The result of resolving one name and type. */
export interface Resolution {
  name: string;
  type: number;
  rcode: number;
  /** The CNAME chain (if any) followed by the records of the requested type. */
  answers: ResourceRecord[];
  /** For negative answers: the SOA that says how long the "no" may be cached. */
  authorities: ResourceRecord[];
  /** The last reply received (undefined when everything came from the cache). */
  exchange?: DnsExchange;
  /** How many queries went out. */
  queries: number;
  /** Every step came from the cache (nothing was asked). */
  fromCache?: boolean;
  /** The answer came from an identical question already being resolved (no walk of its own). */
  coalesced?: boolean;
  /**
   * DNSSEC material (iterative resolution with DO set): the RRSIGs over `answers`, and the SOA's
   * RRSIGs with the NSEC/NSEC3 records (and theirs) that prove a "no" or a wildcard answer.
   */
  signatures?: ResourceRecord[];
  proofs?: ResourceRecord[];
  /** The zone whose server gave the final answer (iterative resolution). */
  zone?: string;
}

/** Options shared by both resolvers: how each query is sent. */
export interface QueryOptions {
  port?: number;
  timeoutMs?: number;
  tries?: number;
  tcp?: boolean;
  /** EDNS0 UDP payload size to advertise (default `EDNS_UDP_SIZE`, 1232); 0 sends no OPT record. */
  bufsize?: number;
  /** Set the DO bit (`+dnssec`). */
  dnssec?: boolean;
  /** Set CD (checking disabled): a validating server hands over what it has, unjudged. */
  checkingDisabled?: boolean;
  onIgnored?: (reason: string) => void;
  onTruncated?: (truncated: DnsExchange) => void;
  /** Where fresh UDP sockets come from (see `ExchangeOptions.sockets`). */
  sockets?: FreshSockets | null;
  /** Each try of each query (see `ExchangeOptions.onProgress`). */
  onProgress?: (progress: TryProgress) => void;
}

/** Builds the query message for `name`/`type` with the EDNS settings of `options`. */
export function buildQuery(
  name: string,
  type: number,
  rd: boolean,
  options: QueryOptions,
): Message {
  const bufsize = options.bufsize ?? EDNS_UDP_SIZE;
  const edns = bufsize === 0 && !options.dnssec
    ? false
    : { udpSize: Math.max(512, bufsize), dnssecOk: options.dnssec ?? false };
  // The ID is left 0: `exchange` gives every query it sends a fresh random one.
  const query = makeQuery(name, type, { rd, edns, id: 0 });
  if (options.checkingDisabled) query.flags.cd = true;
  return query;
}

/** The `exchange` options for one query under `options`. */
export function exchangeOptions(
  options: QueryOptions,
  signal?: AbortSignal,
): ExchangeOptions {
  return {
    port: options.port,
    timeoutMs: options.timeoutMs,
    tries: options.tries,
    tcp: options.tcp,
    signal,
    onIgnored: options.onIgnored,
    onTruncated: options.onTruncated,
    sockets: options.sockets,
    onProgress: options.onProgress,
  };
}

/** Asks one recursive server (RD set) and returns its answer as is. */
export class StubResolver {
  constructor(readonly server: string, readonly options: QueryOptions = {}) {}

  /** Sends one query and returns the raw exchange (`NoReplyError` when nobody answers). */
  async query(
    name: string,
    type: number,
    { signal, rd = true }: { signal?: AbortSignal; rd?: boolean } = {},
  ): Promise<DnsExchange> {
    const query = buildQuery(normalizeName(name), type, rd, this.options);
    return await exchange(query, this.server, exchangeOptions(this.options, signal));
  }

  /** Resolves `name`/`type`; the server follows CNAMEs for us. */
  async resolve(
    name: string,
    type: number,
    { signal }: { signal?: AbortSignal } = {},
  ): Promise<Resolution> {
    const result = await this.query(name, type, { signal });
    const reply = result.reply;
    return {
      name: normalizeName(name),
      type,
      rcode: reply.flags.rcode,
      answers: reply.answers,
      authorities: reply.authorities,
      exchange: result,
      queries: 1,
    };
  }
}
