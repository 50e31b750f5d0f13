/**
 * Name resolution: a stub resolver (ask one server, let it do the work — seed 000's 「本地DNS代劳」)
 * and an iterative resolver that does the work itself (seed 000's 「迭代查询」).
 *
 * Theory of operation (iterative). A name is a path down a tree: `www.cnblogs.com.` is `www`
 * under `cnblogs` under `com` under the root `.`. Nobody knows every name, so the resolver starts
 * at one of the 13 root servers (built in below — the "root hints") and asks for the full name.
 * The root does not know `www.cnblogs.com`, but it knows who runs `com.`: it answers with a
 * *referral* — NS records for `com.` in AUTHORITY and, usually, their addresses ("glue") in
 * ADDITIONAL. The resolver asks one of those servers the same question and gets a referral to
 * `cnblogs.com.`, whose server finally answers authoritatively (AA set). Along the way:
 *
 * - a referral without glue (the NS name lives in another zone) means resolving that NS name
 *   first — a whole nested resolution, limited in depth and checked for loops;
 * - a CNAME answer means starting again with the target name (limited in length);
 * - every RRset learnt is cached until its TTL runs out, so the next lookup under `com.` skips
 *   the root entirely;
 * - a referral must lead strictly downwards: sideways or upwards is a lame delegation and a
 *   cycle of delegations ends with `ResolveError` (the SERVFAIL a real resolver would return),
 *   never with an endless walk: referrals, nesting depth and total queries are all capped.
 *
 * Every step is reported through `onEvent` (zone, server asked, what came back, elapsed time) —
 * that is what `query.ts +trace` prints and what `--json`/`--explain` can build on.
 */
import {
  CLASS,
  isSubdomain,
  makeQuery,
  type Message,
  namesEqual,
  normalizeName,
  RCODE,
  type ResourceRecord,
  TYPE,
} from "./wire/message.ts";
import {
  DNS_PORT,
  type Exchange,
  exchange,
  type ExchangeOptions,
  NoReplyError,
} from "./transport.ts";

/** One of the 13 root name servers (IANA root hints, `named.root`). */
export interface RootServer {
  name: string;
  ipv4: string;
  ipv6: string;
  operator: string;
}

/** The 13 root servers a–m (seed 000: 「13个跟服务器」), from IANA's named.root. */
export const ROOT_SERVERS: readonly RootServer[] = [
  {
    name: "a.root-servers.net.",
    ipv4: "198.41.0.4",
    ipv6: "2001:503:ba3e::2:30",
    operator: "Verisign",
  },
  {
    name: "b.root-servers.net.",
    ipv4: "170.247.170.2",
    ipv6: "2801:1b8:10::b",
    operator: "USC-ISI",
  },
  { name: "c.root-servers.net.", ipv4: "192.33.4.12", ipv6: "2001:500:2::c", operator: "Cogent" },
  {
    name: "d.root-servers.net.",
    ipv4: "199.7.91.13",
    ipv6: "2001:500:2d::d",
    operator: "University of Maryland",
  },
  {
    name: "e.root-servers.net.",
    ipv4: "192.203.230.10",
    ipv6: "2001:500:a8::e",
    operator: "NASA Ames",
  },
  { name: "f.root-servers.net.", ipv4: "192.5.5.241", ipv6: "2001:500:2f::f", operator: "ISC" },
  {
    name: "g.root-servers.net.",
    ipv4: "192.112.36.4",
    ipv6: "2001:500:12::d0d",
    operator: "US DoD (DISA)",
  },
  {
    name: "h.root-servers.net.",
    ipv4: "198.97.190.53",
    ipv6: "2001:500:1::53",
    operator: "US Army Research Lab",
  },
  { name: "i.root-servers.net.", ipv4: "192.36.148.17", ipv6: "2001:7fe::53", operator: "Netnod" },
  {
    name: "j.root-servers.net.",
    ipv4: "192.58.128.30",
    ipv6: "2001:503:c27::2:30",
    operator: "Verisign",
  },
  { name: "k.root-servers.net.", ipv4: "193.0.14.129", ipv6: "2001:7fd::1", operator: "RIPE NCC" },
  { name: "l.root-servers.net.", ipv4: "199.7.83.42", ipv6: "2001:500:9f::42", operator: "ICANN" },
  {
    name: "m.root-servers.net.",
    ipv4: "202.12.27.33",
    ipv6: "2001:dc3::35",
    operator: "WIDE Project",
  },
];

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

/** True for an IPv4 dotted quad or an IPv6 literal (no host name lookup needed). */
export function isIpAddress(text: string): boolean {
  if (/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(text)) {
    return text.split(".").every((part) => Number(part) <= 255);
  }
  return text.includes(":") && /^[0-9a-f:.]+$/i.test(text);
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
  exchange?: Exchange;
  /** How many queries went out. */
  queries: number;
}

/** Options shared by both resolvers: how each query is sent. */
export interface QueryOptions {
  port?: number;
  timeoutMs?: number;
  tries?: number;
  tcp?: boolean;
  /** EDNS0 UDP payload size to advertise (default 1232); 0 sends no OPT record. */
  bufsize?: number;
  /** Set the DO bit (`+dnssec`). */
  dnssec?: boolean;
  onIgnored?: (reason: string) => void;
  onTruncated?: (truncated: Exchange) => void;
}

/** Default EDNS0 UDP size (the DNS Flag Day 2020 value dig uses). */
export const DEFAULT_BUFSIZE = 1232;

/** Builds the query message for `name`/`type` with the EDNS settings of `options`. */
export function buildQuery(
  name: string,
  type: number,
  rd: boolean,
  options: QueryOptions,
): Message {
  const bufsize = options.bufsize ?? DEFAULT_BUFSIZE;
  const edns = bufsize === 0 && !options.dnssec
    ? false
    : { udpSize: Math.max(512, bufsize), dnssecOk: options.dnssec ?? false };
  return makeQuery(name, type, { rd, edns });
}

function exchangeOptions(options: QueryOptions, signal?: AbortSignal): ExchangeOptions {
  return {
    port: options.port,
    timeoutMs: options.timeoutMs,
    tries: options.tries,
    tcp: options.tcp,
    signal,
    onIgnored: options.onIgnored,
    onTruncated: options.onTruncated,
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
  ): Promise<Exchange> {
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

// ---------------------------------------------------------------------------------------------
// Iterative resolver

/** A server the resolver talks to: its NS name (or address) and address. */
export interface ServerRef {
  name: string;
  address: string;
  port: number;
  /**
   * How the resolver came to know this server's address — the reason it is asked: a built-in
   * root hint, a root given with `--root`, glue in the referral just received, an earlier reply
   * (cached), or a separate resolution of an NS name that came without glue.
   */
  source?: ServerSource;
  /** The zone whose server told us about it (the referring zone, or who sent the cached data). */
  via?: string;
}

/** See `ServerRef.source`. */
export type ServerSource = "root-hint" | "root-option" | "glue" | "cache" | "resolved";

/**
 * Why `server` is asked about `zone`, in one sentence (what `+trace --explain` prints before
 * each query). `attempt` > 0 means the servers before it gave no usable reply.
 */
export function serverReason(zone: string, server: ServerRef, attempt = 0): string {
  const zoneText = zone === "." ? `"." (the root)` : `"${zone}"`;
  const via = server.via === "." ? `"." (the root)` : `"${server.via}"`;
  let reason: string;
  switch (server.source) {
    case "root-hint":
      reason =
        `${zoneText} is where every lookup starts: ${server.name} (${server.address}) is one of the 13 built-in root hints`;
      break;
    case "root-option":
      reason =
        `${zoneText} is where every lookup starts: ${server.address} is the root server given (--root)`;
      break;
    case "glue":
      reason =
        `the referral from ${via} named ${server.name} as a name server of ${zoneText} and carried its address ${server.address} (glue)`;
      break;
    case "resolved":
      reason =
        `the referral from ${via} named ${server.name} as a name server of ${zoneText} without glue; its address ${server.address} was resolved separately`;
      break;
    case "cache":
      reason =
        `${server.name} serves ${zoneText}; its address ${server.address} is cached from an earlier reply${
          server.via ? ` of a server for ${via}` : ""
        }`;
      break;
    default:
      reason = `${server.name} (${server.address}) serves ${zoneText}`;
  }
  return attempt > 0
    ? `${reason}; the server${attempt > 1 ? "s" : ""} before gave no usable reply`
    : reason;
}

/** What came back from one server, classified. */
export type Outcome = "priming" | "referral" | "answer" | "nxdomain" | "nodata" | "lame";

/** One step of an iterative resolution, for `+trace`, `--json` and `--explain`. */
export type ResolverEvent =
  | {
    kind: "query";
    zone: string;
    server: ServerRef;
    name: string;
    type: number;
    /** Why this server: see `serverReason`. */
    reason: string;
    elapsedMs: number;
  }
  | {
    kind: "response";
    zone: string;
    server: ServerRef;
    outcome: Outcome;
    /** For a referral: the child zone we were sent to. */
    referral?: string;
    /** For a referral: the child's name servers (NS targets) and the glue addresses it carried. */
    nameservers?: string[];
    glue?: { name: string; address: string }[];
    exchange: Exchange;
    elapsedMs: number;
  }
  | { kind: "no-reply"; zone: string; server: ServerRef; reason: string; elapsedMs: number }
  | { kind: "ns-lookup"; zone: string; nameserver: string; elapsedMs: number }
  | { kind: "cname"; from: string; to: string; elapsedMs: number }
  | {
    kind: "cache";
    name: string;
    type: number;
    records: ResourceRecord[];
    /** With `dnssec`: the cached RRSIGs over these records (for a validator). */
    signatures?: ResourceRecord[];
    elapsedMs: number;
  };

/** Limits and settings of the iterative resolver. */
export interface IterativeOptions extends QueryOptions {
  /** Root server addresses (`--root`); default: the 13 built-in root hints (IPv4). */
  roots?: string[];
  /** Ask the roots for `. NS` first (RFC 8109 priming, what `dig +trace` shows first). */
  prime?: boolean;
  /** Nested name-server lookups (a referral without glue), default 4. */
  maxDepth?: number;
  /** Referrals followed for one lookup, default 16. */
  maxReferrals?: number;
  /** Queries sent for one `resolve` call, all nesting included, default 64. */
  maxQueries?: number;
  /** CNAMEs followed, default 8. */
  maxCnames?: number;
  onEvent?: (event: ResolverEvent) => void;
  /** The clock for TTLs, in milliseconds (tests pass a fake one). */
  now?: () => number;
}

interface CacheEntry {
  records: ResourceRecord[];
  expiresAt: number;
  /** The zone whose server sent these records. */
  from: string;
}

/** Per-`resolve` bookkeeping shared by nested lookups. */
interface Context {
  signal?: AbortSignal;
  queries: number;
  startedAt: number;
  /** Name servers whose addresses are being looked up, to detect a delegation loop. */
  inProgress: string[];
  last?: Exchange;
}

interface Lookup {
  rcode: number;
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
}

const key = (name: string, type: number) => `${name.toLowerCase()}/${type}`;
/** RRSIGs are cached per covered type, beside the RRset they sign. */
const signatureKey = (name: string, covered: number) => `${key(name, TYPE.RRSIG)}/${covered}`;

/** The parent zones of `name` from itself up to the root: `a.b.` → `a.b.`, `b.`, `.`. */
function ancestors(name: string): string[] {
  const out: string[] = [];
  let current = name;
  while (current !== ".") {
    out.push(current);
    current = current.slice(current.indexOf(".") + 1) || ".";
  }
  out.push(".");
  return out;
}

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = crypto.getRandomValues(new Uint32Array(1))[0] % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Resolves names itself, starting at the root servers; caches what it learns by TTL. */
export class IterativeResolver {
  readonly #options: IterativeOptions;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #now: () => number;

  constructor(options: IterativeOptions = {}) {
    this.#options = options;
    this.#now = options.now ?? (() => Date.now());
  }

  /** The root servers this resolver starts from. */
  rootServers(): ServerRef[] {
    const port = this.#options.port ?? DNS_PORT;
    if (this.#options.roots?.length) {
      return this.#options.roots.map((address) => ({
        name: address,
        address,
        port,
        source: "root-option" as const,
      }));
    }
    return shuffled(ROOT_SERVERS).map((r) => ({
      name: r.name,
      address: r.ipv4,
      port,
      source: "root-hint" as const,
    }));
  }

  /**
   * Resolves `name`/`type` from the root down. Returns the answer (NXDOMAIN and NODATA are
   * answers too); throws `ResolveError` when no server gives a usable answer.
   */
  async resolve(
    name: string,
    type: number,
    { signal }: { signal?: AbortSignal } = {},
  ): Promise<Resolution> {
    const qname = normalizeName(name);
    const ctx: Context = { signal, queries: 0, startedAt: performance.now(), inProgress: [] };
    if (this.#options.prime && !this.#cached(".", TYPE.NS)) await this.#prime(ctx);
    const result = await this.#resolveChain(qname, type, ctx, 0);
    return { name: qname, type, ...result, exchange: ctx.last, queries: ctx.queries };
  }

  /** Forgets everything cached. */
  clearCache(): void {
    this.#cache.clear();
  }

  #emit(event: ResolverEvent): void {
    this.#options.onEvent?.(event);
  }

  #elapsed(ctx: Context): number {
    return performance.now() - ctx.startedAt;
  }

  #cached(name: string, type: number): ResourceRecord[] | undefined {
    return this.#cacheEntry(name, type)?.records;
  }

  #cacheEntry(name: string, type: number): CacheEntry | undefined {
    const entry = this.#cache.get(key(name, type));
    if (!entry) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#cache.delete(key(name, type));
      return undefined;
    }
    return entry;
  }

  /** Caches every RRset in `records` whose owner is inside `zone` (the bailiwick rule). */
  #store(records: ResourceRecord[], zone: string): void {
    const groups = new Map<string, ResourceRecord[]>();
    for (const rr of records) {
      if (rr.type === TYPE.OPT || rr.class !== CLASS.IN || !isSubdomain(rr.name, zone)) continue;
      const k = rr.data.kind === "RRSIG"
        ? signatureKey(rr.name, rr.data.typeCovered)
        : key(rr.name, rr.type);
      groups.set(k, [...(groups.get(k) ?? []), rr]);
    }
    for (const [k, rrset] of groups) {
      const ttl = Math.min(...rrset.map((rr) => rr.ttl));
      if (ttl > 0) {
        this.#cache.set(k, { records: rrset, expiresAt: this.#now() + ttl * 1000, from: zone });
      }
    }
  }

  /** RFC 8109 priming: `. NS` from a root hint, so the trace shows the root's own NS set. */
  async #prime(ctx: Context): Promise<void> {
    const roots = this.rootServers();
    const response = await this.#askAny(".", roots, ".", TYPE.NS, ctx, "priming");
    const ns = response.reply.answers.filter((rr) => rr.type === TYPE.NS && rr.name === ".");
    const nsNames = ns.flatMap((rr) => rr.data.kind === "NS" ? [rr.data.target] : []);
    const glue = response.reply.additionals.filter((rr) =>
      rr.type === TYPE.A && nsNames.some((nsName) => namesEqual(nsName, rr.name))
    );
    // Only trust the primed set when it comes with addresses (else keep the hints).
    if (glue.length > 0) {
      this.#store(ns, ".");
      this.#store(glue, ".");
    }
  }

  /** Follows CNAMEs until the requested type (or a negative answer) is reached. */
  async #resolveChain(name: string, type: number, ctx: Context, depth: number): Promise<Lookup> {
    const maxCnames = this.#options.maxCnames ?? 8;
    const chain: ResourceRecord[] = [];
    const seen = new Set<string>();
    let current = name;
    for (let hops = 0; hops <= maxCnames; hops++) {
      seen.add(current.toLowerCase());
      const found = await this.#lookup(current, type, ctx, depth);
      // Walk the answer: records for `current`, or a CNAME from it (maybe several in-zone hops).
      let target = current;
      let complete = false;
      for (let step = 0; step <= maxCnames; step++) {
        const data = found.answers.filter((rr) => rr.type === type && namesEqual(rr.name, target));
        if (data.length > 0) {
          chain.push(...data);
          complete = true;
          break;
        }
        const cname = found.answers.find((rr) =>
          rr.type === TYPE.CNAME && namesEqual(rr.name, target)
        );
        if (!cname || cname.data.kind !== "CNAME" || type === TYPE.CNAME) break;
        chain.push(cname);
        this.#emit({
          kind: "cname",
          from: target,
          to: cname.data.target,
          elapsedMs: this.#elapsed(ctx),
        });
        target = cname.data.target;
        if (seen.has(target.toLowerCase())) {
          throw new ResolveError(`Cannot resolve "${name}": CNAME loop at "${target}"`, {
            fatal: true,
          });
        }
        seen.add(target.toLowerCase());
      }
      if (complete || found.rcode !== RCODE.NOERROR || target === current) {
        return { rcode: found.rcode, answers: chain, authorities: found.authorities };
      }
      // The chain left the zone that answered: ask again for the target, from the top.
      current = target;
    }
    throw new ResolveError(`Cannot resolve "${name}": more than ${maxCnames} CNAMEs`, {
      fatal: true,
    });
  }

  /** One name and type: from the cache, or walking referrals down from the closest zone known. */
  async #lookup(name: string, type: number, ctx: Context, depth: number): Promise<Lookup> {
    for (const t of type === TYPE.CNAME ? [type] : [type, TYPE.CNAME]) {
      const records = this.#cached(name, t);
      if (records) {
        const sigs = this.#options.dnssec ? this.#cache.get(signatureKey(name, t)) : undefined;
        const signatures = sigs && sigs.expiresAt > this.#now() ? sigs.records : undefined;
        this.#emit({
          kind: "cache",
          name,
          type: t,
          records,
          signatures,
          elapsedMs: this.#elapsed(ctx),
        });
        return { rcode: RCODE.NOERROR, answers: records, authorities: [] };
      }
    }
    // DS lives on the parent side of a zone cut: ask the parent's servers (RFC 4035 §4.2).
    const start = type === TYPE.DS && name !== "."
      ? name.slice(name.indexOf(".") + 1) || "."
      : name;
    let { zone, servers } = await this.#closestServers(start, ctx, depth);
    const maxReferrals = this.#options.maxReferrals ?? 16;
    for (let referrals = 0;; referrals++) {
      if (referrals > maxReferrals) {
        throw new ResolveError(`Cannot resolve "${name}": more than ${maxReferrals} referrals`, {
          fatal: true,
        });
      }
      const response = await this.#askAny(zone, servers, name, type, ctx);
      const reply = response.reply;
      if (reply.flags.rcode === RCODE.NXDOMAIN) {
        this.#emitResponse(ctx, zone, response, "nxdomain");
        return { rcode: RCODE.NXDOMAIN, answers: reply.answers, authorities: reply.authorities };
      }
      if (reply.answers.length > 0) {
        this.#emitResponse(ctx, zone, response, "answer");
        this.#store(reply.answers, zone);
        return { rcode: RCODE.NOERROR, answers: reply.answers, authorities: reply.authorities };
      }
      const ns = reply.authorities.filter((rr) => rr.type === TYPE.NS);
      const child = ns[0]?.name;
      if (!child || reply.flags.aa) {
        this.#emitResponse(ctx, zone, response, "nodata");
        return { rcode: RCODE.NOERROR, answers: [], authorities: reply.authorities };
      }
      // A referral must point strictly down, towards `name`; anything else is lame (and a
      // server that keeps sending us sideways or back up would otherwise loop forever).
      if (namesEqual(child, zone) || !isSubdomain(child, zone) || !isSubdomain(name, child)) {
        this.#emitResponse(ctx, zone, response, "lame", child);
        throw new ResolveError(
          `Cannot resolve "${name}": lame delegation: ${response.ref.address} for "${zone}" referred to "${child}"`,
        );
      }
      const nsRecords = ns.filter((rr) => namesEqual(rr.name, child));
      const nsNames = nsRecords.flatMap((rr) => rr.data.kind === "NS" ? [rr.data.target] : []);
      const glue = reply.additionals.flatMap((rr) =>
        (rr.data.kind === "A" || rr.data.kind === "AAAA") &&
          nsNames.some((nsName) => namesEqual(nsName, rr.name))
          ? [{ name: rr.name, address: rr.data.address }]
          : []
      );
      this.#emitResponse(ctx, zone, response, "referral", child, { nameservers: nsNames, glue });
      this.#store(nsRecords, zone);
      // Glue is only trusted for names inside the referring zone (bailiwick).
      this.#store(
        reply.additionals.filter((rr) => rr.type === TYPE.A || rr.type === TYPE.AAAA),
        zone,
      );
      // Say where each address came from: this referral's glue, or the cache, or a lookup.
      servers = (await this.#addressesOf(child, nsNames, ctx, depth)).map((server) =>
        server.source === "cache" &&
          glue.some((g) => g.address === server.address && namesEqual(g.name, server.name))
          ? { ...server, source: "glue" as const, via: zone }
          : server.source === "resolved"
          ? { ...server, via: zone }
          : server
      );
      zone = child;
    }
  }

  #emitResponse(
    ctx: Context,
    zone: string,
    response: AskResult,
    outcome: Outcome,
    referral?: string,
    delegation: { nameservers?: string[]; glue?: { name: string; address: string }[] } = {},
  ) {
    this.#emit({
      kind: "response",
      zone,
      server: response.ref,
      outcome,
      referral,
      ...delegation,
      exchange: response.exchange,
      elapsedMs: this.#elapsed(ctx),
    });
  }

  /** The deepest zone above `name` whose servers' addresses are cached; else the roots. */
  async #closestServers(
    name: string,
    ctx: Context,
    depth: number,
  ): Promise<{ zone: string; servers: ServerRef[] }> {
    for (const zone of ancestors(name)) {
      const ns = this.#cached(zone, TYPE.NS);
      if (!ns) continue;
      const names = ns.flatMap((rr) => rr.data.kind === "NS" ? [rr.data.target] : []);
      const servers = this.#cachedAddresses(names);
      if (servers.length > 0) return { zone, servers };
      if (zone !== ".") {
        try {
          return { zone, servers: await this.#addressesOf(zone, names, ctx, depth) };
        } catch (error) {
          if (!(error instanceof ResolveError) || error.fatal) throw error;
        }
      }
    }
    return { zone: ".", servers: this.rootServers() };
  }

  #cachedAddresses(nsNames: string[]): ServerRef[] {
    const port = this.#options.port ?? DNS_PORT;
    return nsNames.flatMap((nsName) => {
      const entry = this.#cacheEntry(nsName, TYPE.A);
      return (entry?.records ?? []).flatMap((rr) =>
        rr.data.kind === "A"
          ? [{
            name: nsName,
            address: rr.data.address,
            port,
            source: "cache" as const,
            via: entry?.from,
          }]
          : []
      );
    });
  }

  /**
   * Addresses for a zone's name servers: glue from the cache, else resolve the NS names one by
   * one (a nested resolution — the part that can loop, hence depth and loop checks).
   */
  async #addressesOf(
    zone: string,
    nsNames: string[],
    ctx: Context,
    depth: number,
  ): Promise<ServerRef[]> {
    const known = this.#cachedAddresses(nsNames);
    if (known.length > 0) return known;
    const maxDepth = this.#options.maxDepth ?? 4;
    const failures: string[] = [];
    for (const nsName of nsNames) {
      // A name server inside the zone it serves needs glue; without glue it cannot be reached.
      if (isSubdomain(nsName, zone)) {
        failures.push(`"${nsName}" is inside "${zone}" but came without glue`);
        continue;
      }
      const lookupKey = nsName.toLowerCase();
      if (ctx.inProgress.includes(lookupKey)) {
        throw new ResolveError(
          `Delegation loop: the address of "${nsName}" is needed to find itself (${
            [...ctx.inProgress, lookupKey].join(" → ")
          })`,
          { fatal: true },
        );
      }
      if (depth + 1 > maxDepth) {
        throw new ResolveError(
          `Delegation chain too deep: more than ${maxDepth} nested name-server lookups`,
          { fatal: true },
        );
      }
      this.#emit({
        kind: "ns-lookup",
        zone,
        nameserver: nsName,
        elapsedMs: this.#elapsed(ctx),
      });
      ctx.inProgress.push(lookupKey);
      try {
        const found = await this.#resolveChain(nsName, TYPE.A, ctx, depth + 1);
        const servers = found.answers.flatMap((rr) =>
          rr.type === TYPE.A && rr.data.kind === "A"
            ? [{
              name: nsName,
              address: rr.data.address,
              port: this.#options.port ?? DNS_PORT,
              source: "resolved" as const,
            }]
            : []
        );
        if (servers.length > 0) return servers;
        failures.push(`"${nsName}" has no address`);
      } catch (error) {
        if (!(error instanceof ResolveError) || error.fatal) throw error;
        failures.push(error.message);
      } finally {
        ctx.inProgress.pop();
      }
    }
    throw new ResolveError(`No address for any name server of "${zone}": ${failures.join("; ")}`);
  }

  /** Asks the servers in order until one gives a usable reply (NOERROR or NXDOMAIN). */
  async #askAny(
    zone: string,
    servers: ServerRef[],
    name: string,
    type: number,
    ctx: Context,
    outcome?: Outcome,
  ): Promise<AskResult> {
    const problems: string[] = [];
    let noReply = true;
    for (const [attempt, ref] of servers.entries()) {
      const maxQueries = this.#options.maxQueries ?? 64;
      if (++ctx.queries > maxQueries) {
        throw new ResolveError(`Too many queries: gave up after ${maxQueries} for one resolution`, {
          fatal: true,
        });
      }
      this.#emit({
        kind: "query",
        zone,
        server: ref,
        name,
        type,
        reason: serverReason(zone, ref, attempt),
        elapsedMs: this.#elapsed(ctx),
      });
      const query = buildQuery(name, type, false, this.#options);
      let result: Exchange;
      try {
        result = await exchange(query, ref.address, {
          ...exchangeOptions(this.#options, ctx.signal),
          port: ref.port,
        });
      } catch (error) {
        if (!(error instanceof NoReplyError)) throw error;
        this.#emit({
          kind: "no-reply",
          zone,
          server: ref,
          reason: error.message,
          elapsedMs: this.#elapsed(ctx),
        });
        problems.push(error.message);
        continue;
      }
      noReply = false;
      ctx.last = result;
      const rcode = result.reply.flags.rcode;
      const askResult = { ref, exchange: result, reply: result.reply };
      if (rcode === RCODE.NOERROR || rcode === RCODE.NXDOMAIN) {
        if (outcome) this.#emitResponse(ctx, zone, askResult, outcome);
        return askResult;
      }
      this.#emitResponse(ctx, zone, askResult, "lame");
      problems.push(`${ref.address} answered ${rcodeText(rcode)}`);
    }
    throw new ResolveError(
      `No usable answer from the servers of "${zone}" for "${name}": ${problems.join("; ")}`,
      { noReply },
    );
  }
}

interface AskResult {
  ref: ServerRef;
  exchange: Exchange;
  reply: Message;
}

function rcodeText(rcode: number): string {
  const names: Record<number, string> = {
    1: "FORMERR",
    2: "SERVFAIL",
    3: "NXDOMAIN",
    4: "NOTIMP",
    5: "REFUSED",
  };
  return names[rcode] ?? `RCODE${rcode}`;
}

// ---------------------------------------------------------------------------------------------
// resolveHost: what an HTTP client needs

/** Options for `resolveHost`. */
export interface ResolveHostOptions extends QueryOptions {
  /** Recursive server to ask (default: the first nameserver in /etc/resolv.conf). */
  server?: string;
  /** Resolve from the root instead of asking a recursive server. */
  iterative?: boolean;
  /** Root server addresses for `iterative` (default: the 13 real roots). */
  roots?: string[];
  /** Reuse a resolver (and its cache) across calls. */
  resolver?: IterativeResolver;
  signal?: AbortSignal;
}

/**
 * A host name's addresses (IPv4 first, then IPv6). IP literals are returned as they are and
 * `localhost` is answered locally. Throws `ResolveError` when the name has no address.
 */
export async function resolveHost(
  name: string,
  options: ResolveHostOptions = {},
): Promise<string[]> {
  const bare = name.replace(/^\[(.*)\]$/, "$1");
  if (isIpAddress(bare)) return [bare];
  if (/^localhost\.?$/i.test(bare)) return ["127.0.0.1", "::1"];
  const resolver: {
    resolve(n: string, t: number, o: { signal?: AbortSignal }): Promise<Resolution>;
  } = options.iterative || options.roots
    ? options.resolver ?? new IterativeResolver(options)
    : new StubResolver(options.server ?? await systemNameserver(), options);
  const [v4, v6] = await Promise.all(
    [TYPE.A, TYPE.AAAA].map((type) => resolver.resolve(bare, type, { signal: options.signal })),
  );
  const addresses = [...v4.answers, ...v6.answers].flatMap((rr) =>
    rr.data.kind === "A" || rr.data.kind === "AAAA" ? [rr.data.address] : []
  );
  if (addresses.length === 0) {
    const why = v4.rcode === RCODE.NXDOMAIN
      ? "no such name (NXDOMAIN)"
      : v4.rcode === RCODE.NOERROR
      ? "no address records (NODATA)"
      : `the server answered ${rcodeText(v4.rcode)}`;
    throw new ResolveError(`Cannot resolve "${bare}": ${why}`);
  }
  return addresses;
}
