/**
 * Name resolution: the iterative resolver that does the work itself (seed 000's 「迭代查询」), the
 * engine of the local DNS server (`dns/resolver_server.ts`), `query.ts +trace` and
 * `http/client.ts`; and `resolveHost`, what an HTTP client needs. The stub resolver (ask one
 * server, let it do the work — 「本地DNS代劳」) is in `dns/stub.ts`, the root hints in
 * `dns/root_hints.ts`, the steps' description in `dns/trace.ts`; all stay importable from here.
 *
 * Theory of operation. A name is a path down a tree: `www.cnblogs.com.` is `www` under `cnblogs`
 * under `com` under the root `.`. Nobody knows every name, so the resolver starts at one of the
 * 13 root servers (the "root hints"). The root does not know
 * `www.cnblogs.com`, but it knows who runs `com.`: it answers with a *referral* — NS records for
 * `com.` in AUTHORITY and, usually, their addresses ("glue") in ADDITIONAL. The resolver asks one
 * of those servers and gets a referral to `cnblogs.com.`, whose server finally answers
 * authoritatively (AA set). Along the way:
 *
 * - Everything learnt goes through one step, `#admit` ("an RRset arrives from a server for zone
 *   Z"): the bailiwick check of `dns/bailiwick.ts` has already dropped what that server may not
 *   say, an optional `checkRRset` hook (DNSSEC validation) may refuse it, and then it is cached
 *   by TTL (`dns/cache.ts`) — answers, negative answers (RFC 2308), referrals and glue — so the
 *   next lookup under `com.` skips the root.
 * - Which of a zone's servers to ask, and how long to wait, comes from their smoothed RTTs
 *   (`dns/server_selection.ts`); a timeout or a lame reply moves on to the next server.
 * - QNAME minimisation (RFC 9156, optional): each server is asked only the labels it needs —
 *   the root `com. A`, `com.`'s server `cnblogs.com. A` — and only the zone's own server hears
 *   the full question. A name that answers without a referral is no zone cut; that is cached
 *   too, so the next name below it skips the step.
 * - A referral without glue means resolving that NS name first — a nested resolution, limited
 *   in depth and checked for loops; a CNAME leaving the zone means starting again at the target.
 * - Referrals, CNAMEs, nesting depth, queries and time per resolution are all capped, so a lame
 *   or looping delegation ends with `ResolveError` (SERVFAIL) after bounded work.
 * - Identical questions in flight at the same time share one resolution (coalescing).
 * - With `forward`, the resolver asks the given recursive servers (RD set) instead of walking.
 *
 * Every step is reported through `onEvent` (zone, server asked, what came back, elapsed time) —
 * what `query.ts +trace` prints and what the local DNS server's `--explain`/`--json` show.
 *
 * Why this module is over 1,000 lines: the walk is one state machine (resolve → CNAME chain →
 * lookup → walk down the referrals → ask the servers → admit what they said) whose steps share
 * the per-resolution context and the class's caches; its pure parts are already apart — the
 * reply checks (`dns/bailiwick.ts`), the caches (`dns/cache.ts`), the server choice
 * (`dns/server_selection.ts`) — and splitting the rest would scatter one walk over files.
 */
import { DnsFormatError } from "../wire/primitives.ts";
import { normalizeName } from "../wire/names.ts";
import { RCODE, TYPE, typeName } from "../wire/constants.ts";
import { type ResourceRecord } from "../wire/rdata.ts";
import { DNS_PORT, type Exchange, exchange, NoReplyError } from "./transport.ts";
import {
  ancestors,
  type CheckedReply,
  checkReply,
  inBailiwick,
  labelCount,
  lastLabels,
  type ReplyRRset,
  sameName,
  type Section,
} from "./bailiwick.ts";
import { type CachedRRset, RecordCache, type RRset, TRUST } from "./cache.ts";
import { ServerSelection } from "./server_selection.ts";
import { ROOT_SERVERS } from "./root_hints.ts";
import {
  buildQuery,
  exchangeOptions,
  isIpAddress,
  type QueryOptions,
  type Resolution,
  ResolveError,
  StubResolver,
  systemNameserver,
} from "./stub.ts";
import { type Outcome, type ResolverEvent, serverReason, type ServerRef } from "./trace.ts";

// The pieces that moved to their own modules stay importable from here.
export { ROOT_SERVERS, type RootServer } from "./root_hints.ts";
export {
  buildQuery,
  DEFAULT_BUFSIZE,
  isIpAddress,
  parseResolvConf,
  type QueryOptions,
  type Resolution,
  type ResolvConf,
  ResolveError,
  StubResolver,
  systemNameserver,
} from "./stub.ts";
export {
  type Outcome,
  type ResolverEvent,
  serverReason,
  type ServerRef,
  type ServerSource,
} from "./trace.ts";

// ---------------------------------------------------------------------------------------------
// Iterative resolver

/**
 * Checks an RRset before it is cached or used: `from` says which server (for which zone) sent
 * it, in which section, at which trust. Returning false refuses it and makes the whole reply
 * unusable (the next server is asked). The seam for DNSSEC validation.
 */
export type RRsetCheck = (
  rrset: RRset,
  from: { zone: string; server: ServerRef; section: Section; trust: number },
) => boolean;

/** Limits and settings of the iterative resolver. */
export interface IterativeOptions extends QueryOptions {
  /** Root server addresses (`--root`); default: the 13 built-in root hints (IPv4). */
  roots?: string[];
  /** Ask the roots for `. NS` first (RFC 8109 priming, what `dig +trace` shows first). */
  prime?: boolean;
  /** Ask these recursive servers (RD set) instead of walking from the root (`--forward`). */
  forward?: string[];
  /** QNAME minimisation (RFC 9156): each server sees only the labels it needs (default off). */
  minimise?: boolean;
  /** Nested name-server lookups (a referral without glue), default 4. */
  maxDepth?: number;
  /** Referrals followed for one lookup, default 16. */
  maxReferrals?: number;
  /** Queries sent for one `resolve` call, all nesting included, default 64. */
  maxQueries?: number;
  /** CNAMEs followed, default 8. */
  maxCnames?: number;
  /** Time for one `resolve` call, default 10 s. */
  deadlineMs?: number;
  onEvent?: (event: ResolverEvent) => void;
  /** The clock for TTLs, in milliseconds (tests pass a fake one). */
  now?: () => number;
  /** The cache to use (shared with a server's answer cache, or sized); default a new one. */
  cache?: RecordCache;
  /** The server statistics to use; default new ones. */
  servers?: ServerSelection;
  /** Checks every RRset before it is cached or used (DNSSEC validation plugs in here). */
  checkRRset?: RRsetCheck;
}

/** Per-`resolve` bookkeeping shared by nested lookups. */
interface Context {
  signal: AbortSignal;
  queries: number;
  startedAt: number;
  /** Name servers whose addresses are being looked up, to detect a delegation loop. */
  inProgress: string[];
  /** `performance.now()` time after which no more queries go out (`deadlineMs`). */
  deadline: number;
  last?: Exchange;
  /** Reports a step; undefined when nobody listens (then no event is even built). */
  emit: ((event: ResolverEvent) => void) | undefined;
}

interface Lookup {
  rcode: number;
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  /** A CNAME chain that must go on from here (another zone, or not in the reply). */
  next?: string;
}

/** One resolution in flight, shared by everyone asking the same question meanwhile. */
interface Flight {
  promise: Promise<Resolution>;
  controller: AbortController;
  waiters: number;
}

/** What one server said, checked. */
interface Answered {
  ref: ServerRef;
  exchange: Exchange;
  checked: CheckedReply;
}

/** RFC 9156 §2.3: single labels for the first steps, then bigger ones, at most 10 steps. */
const MINIMISE_ONE_LABEL = 4;
const MAX_MINIMISE_COUNT = 10;

function nextLabelCount(current: number, total: number, steps: number): number {
  if (steps < MINIMISE_ONE_LABEL) return current + 1;
  const left = Math.max(1, MAX_MINIMISE_COUNT - steps);
  return current + Math.max(1, Math.ceil((total - current) / left));
}

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = crypto.getRandomValues(new Uint32Array(1))[0] % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function nsTargets(records: ResourceRecord[]): string[] {
  return records.flatMap((rr) => rr.data.kind === "NS" ? [rr.data.target] : []);
}

const OUTCOMES: Record<CheckedReply["kind"], Outcome> = {
  answer: "answer",
  cname: "answer",
  referral: "referral",
  nxdomain: "nxdomain",
  nodata: "nodata",
  lame: "lame",
};

/** Waits for `promise`, or rejects with the abort reason when `signal` fires first. */
async function waitFor<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return await promise;
  signal.throwIfAborted();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort!);
  }
}

/** Errors that mean "this server gave no usable reply", not a bug. */
function isNoReply(error: unknown): boolean {
  return error instanceof NoReplyError || error instanceof DnsFormatError ||
    error instanceof Deno.errors.NetworkUnreachable ||
    error instanceof Deno.errors.AddrNotAvailable ||
    error instanceof Deno.errors.ConnectionRefused ||
    error instanceof Deno.errors.ConnectionReset;
}

/**
 * Resolves names itself, starting at the root servers (or asking forwarders); caches what it
 * learns by TTL. See the module comment for the walk, the checks and the limits.
 */
export class IterativeResolver {
  readonly #options: IterativeOptions;
  readonly #cache: RecordCache;
  readonly #servers: ServerSelection;
  readonly #inflight = new Map<string, Flight>();
  /**
   * The servers of zones met lately, decoded: a cold name under a known zone then costs no
   * decoding of its NS and address records. Valid until the cache stores another NS or address
   * RRset (its `generation`) or the shortest TTL ends.
   */
  readonly #delegations = new Map<
    string,
    { zone: string; servers: ServerRef[]; expiresAt: number; generation: number }
  >();
  readonly #now: () => number;

  constructor(options: IterativeOptions = {}) {
    this.#options = options;
    const now = options.now ?? Date.now;
    this.#now = now;
    this.#cache = options.cache ?? new RecordCache({ now });
    this.#servers = options.servers ?? new ServerSelection({ now });
  }

  /** The RRset and negative cache this resolver fills. */
  get cache(): RecordCache {
    return this.#cache;
  }

  /** The per-server RTT statistics it chooses servers by. */
  get servers(): ServerSelection {
    return this.#servers;
  }

  get #port(): number {
    return this.#options.port ?? DNS_PORT;
  }

  /** The root servers this resolver starts from. */
  rootServers(): ServerRef[] {
    if (this.#options.roots?.length) {
      return this.#options.roots.map((address) => ({
        name: address,
        address,
        port: this.#port,
        source: "root-option" as const,
      }));
    }
    return shuffled(ROOT_SERVERS).map((r) => ({
      name: r.name,
      address: r.ipv4,
      port: this.#port,
      source: "root-hint" as const,
    }));
  }

  /**
   * Resolves `name`/`type` from the root down (or through the forwarders). Returns the answer
   * (NXDOMAIN and NODATA are answers too); throws `ResolveError` when no server gives a usable
   * answer. Identical questions in flight share one resolution; `signal` only stops this
   * caller's wait (the shared work stops when every waiter is gone, or at its deadline).
   */
  async resolve(
    name: string,
    type: number,
    { signal, onEvent }: { signal?: AbortSignal; onEvent?: (event: ResolverEvent) => void } = {},
  ): Promise<Resolution> {
    const qname = normalizeName(name);
    const key = `${qname.toLowerCase()}/${type}`;
    let flight = this.#inflight.get(key);
    const coalesced = flight !== undefined;
    if (!flight) {
      const started = this.#start(qname, type, onEvent);
      flight = started;
      this.#inflight.set(key, started);
      const done = () => {
        if (this.#inflight.get(key) === started) this.#inflight.delete(key);
      };
      started.promise.then(done, done);
    }
    flight.waiters++;
    try {
      const result = signal ? await waitFor(flight.promise, signal) : await flight.promise;
      return coalesced ? { ...result, coalesced: true, queries: 0, exchange: undefined } : result;
    } finally {
      flight.waiters--;
      if (flight.waiters === 0 && signal?.aborted) flight.controller.abort(signal.reason);
    }
  }

  /** How many distinct resolutions are in flight. */
  get inFlight(): number {
    return this.#inflight.size;
  }

  /** Stops every resolution in flight (a server closing): each rejects with `reason`. */
  abortAll(reason: unknown): void {
    for (const flight of this.#inflight.values()) flight.controller.abort(reason);
  }

  /** Forgets everything cached. */
  clearCache(): void {
    this.#cache.clear();
  }

  #start(
    qname: string,
    type: number,
    onEvent: ((event: ResolverEvent) => void) | undefined,
  ): Flight {
    const controller = new AbortController();
    const global = this.#options.onEvent;
    const startedAt = performance.now();
    const ctx: Context = {
      signal: controller.signal,
      queries: 0,
      startedAt,
      deadline: startedAt + (this.#options.deadlineMs ?? 10_000),
      inProgress: [],
      emit: global || onEvent
        ? (event) => {
          global?.(event);
          onEvent?.(event);
        }
        : undefined,
    };
    const promise = (async (): Promise<Resolution> => {
      if (this.#options.prime && !this.#cache.get(".", TYPE.NS)) await this.#prime(ctx);
      const result = await this.#resolveChain(qname, type, ctx, 0);
      return {
        name: qname,
        type,
        ...result,
        exchange: ctx.last,
        queries: ctx.queries,
        fromCache: ctx.queries === 0,
      };
    })();
    return { promise, controller, waiters: 0 };
  }

  #elapsed(ctx: Context): number {
    return performance.now() - ctx.startedAt;
  }

  /** RFC 8109 priming: `. NS` from a root hint, so the trace shows the root's own NS set. */
  async #prime(ctx: Context): Promise<void> {
    await this.#askServers(".", this.rootServers(), { name: ".", type: TYPE.NS }, ctx, {
      outcome: "priming",
    });
  }

  /** Follows CNAMEs (across zones too) until the requested type or a negative answer. */
  async #resolveChain(name: string, type: number, ctx: Context, depth: number): Promise<Lookup> {
    const maxCnames = this.#options.maxCnames ?? 8;
    const answers: ResourceRecord[] = [];
    const seen = new Set([name.toLowerCase()]);
    let current = name;
    while (true) {
      const found = await this.#lookup(current, type, ctx, depth);
      for (const rr of found.answers) {
        answers.push(rr);
        if (rr.type !== TYPE.CNAME || rr.data.kind !== "CNAME" || type === TYPE.CNAME) continue;
        ctx.emit?.({
          kind: "cname",
          from: rr.name,
          to: rr.data.target,
          elapsedMs: this.#elapsed(ctx),
        });
      }
      if (answers.filter((rr) => rr.type === TYPE.CNAME).length > maxCnames) {
        throw new ResolveError(`Cannot resolve "${name}": more than ${maxCnames} CNAMEs`, {
          fatal: true,
        });
      }
      if (found.next === undefined) {
        return { rcode: found.rcode, answers, authorities: found.authorities };
      }
      if (seen.has(found.next.toLowerCase())) {
        throw new ResolveError(`Cannot resolve "${name}": CNAME loop at "${found.next}"`, {
          fatal: true,
        });
      }
      seen.add(found.next.toLowerCase());
      current = found.next;
    }
  }

  /** One name and type: from the cache, or asked of the closest servers known. */
  #lookup(name: string, type: number, ctx: Context, depth: number): Lookup | Promise<Lookup> {
    const emit = ctx.emit;
    const cached = this.#fromCache(
      name,
      type,
      emit && ((event) => emit({ ...event, elapsedMs: this.#elapsed(ctx) })),
    );
    if (cached) return cached;
    if (this.#options.forward?.length) {
      return this.#walk(name, type, ".", this.#forwarders(), ctx, depth);
    }
    // DS lives on the parent side of a zone cut: ask the parent's servers (RFC 4035 §4.2).
    const start = type === TYPE.DS && name !== "."
      ? name.slice(name.indexOf(".") + 1) || "."
      : name;
    // Usually the closest zone's servers are known and decoded already: no detour then.
    const known = this.#knownDelegation(start);
    if (known) return this.#walk(name, type, known.zone, known.servers, ctx, depth);
    return this.#closestServers(start, ctx, depth).then(({ zone, servers }) =>
      this.#walk(name, type, zone, servers, ctx, depth)
    );
  }

  /** The closest zone above `name` whose decoded servers are remembered and still valid. */
  #knownDelegation(name: string): { zone: string; servers: ServerRef[] } | undefined {
    for (const zone of ancestors(name)) {
      const known = this.#delegations.get(zone.toLowerCase());
      if (
        known && known.generation === this.#cache.generation && known.expiresAt > this.#now()
      ) {
        return known;
      }
      if (this.#cache.peek(zone, TYPE.NS)) return undefined; // closer data not decoded yet
    }
    return undefined;
  }

  /**
   * What the cache says about `name`/`type`: a negative answer, the records, or a CNAME to
   * follow. Only data of answer rank answers a question (glue only shows the way).
   */
  #fromCache(
    name: string,
    type: number,
    emit?: (event: Omit<Extract<ResolverEvent, { kind: "cache" }>, "elapsedMs">) => void,
  ): Lookup | undefined {
    const negative = this.#cache.getNegative(name, type);
    if (negative) {
      const nx = negative.rcode === RCODE.NXDOMAIN;
      emit?.({
        kind: "cache",
        name,
        type,
        records: negative.soa.records,
        negative: nx ? "NXDOMAIN" : "NODATA",
      });
      return { rcode: negative.rcode, answers: [], authorities: negative.soa.records };
    }
    const rrset = type === TYPE.ANY
      ? undefined
      : this.#cache.get(name, type, { minTrust: TRUST.ANSWER });
    if (rrset) {
      emit?.({ kind: "cache", name, type, records: rrset.records, signatures: rrset.signatures });
      return { rcode: RCODE.NOERROR, answers: rrset.records, authorities: [] };
    }
    const cname = type === TYPE.CNAME
      ? undefined
      : this.#cache.get(name, TYPE.CNAME, { minTrust: TRUST.ANSWER });
    const target = cname?.records[0]?.data;
    if (cname && target?.kind === "CNAME") {
      emit?.({
        kind: "cache",
        name,
        type: TYPE.CNAME,
        records: cname.records,
        signatures: cname.signatures,
      });
      return { rcode: RCODE.NOERROR, answers: cname.records, authorities: [], next: target.target };
    }
    return undefined;
  }

  /**
   * Asks `servers` of `zone` about `name`/`type` and follows referrals down until an answer.
   * With QNAME minimisation, a server is first asked only one label more than its zone (an `A`
   * question); a referral moves down, anything else means "no zone cut here" and the next
   * label is added, until the zone's own server gets the full question.
   */
  async #walk(
    name: string,
    type: number,
    startZone: string,
    startServers: ServerRef[],
    ctx: Context,
    depth: number,
  ): Promise<Lookup> {
    let zone = startZone;
    let servers = startServers;
    const total = labelCount(name);
    let minimise = (this.#options.minimise ?? false) && !this.#options.forward?.length;
    let labels = labelCount(zone) + 1;
    let steps = 0;
    const maxReferrals = this.#options.maxReferrals ?? 16;
    let referrals = 0;
    while (true) {
      let ask = { name, type };
      if (minimise) {
        // Names already known to be no zone cut (an answer from this zone's server) are skipped.
        while (labels < total && this.#knownNoCut(lastLabels(name, labels), zone)) {
          labels = nextLabelCount(labels, total, ++steps);
        }
        if (labels < total) ask = { name: lastLabels(name, labels), type: TYPE.A };
      }
      const minimised = ask.name !== name;
      let got: Answered;
      try {
        got = await this.#askServers(zone, servers, ask, ctx, {
          question: minimised ? { name, type } : undefined,
        });
      } catch (error) {
        // Servers that cannot cope with a minimised question get the full one (unbound's
        // relaxed mode); silence is silence either way.
        if (minimised && error instanceof ResolveError && !error.fatal && !error.noReply) {
          minimise = false;
          continue;
        }
        throw error;
      }
      const { checked } = got;
      if (minimised && checked.kind !== "referral") {
        // NXDOMAIN for a partial name: ask the full name to be sure (RFC 9156 §2.3).
        if (checked.kind === "nxdomain") minimise = false;
        else labels = nextLabelCount(labels, total, ++steps);
        continue;
      }
      const answers = this.#served(checked.answer, this.#cache.maxTtl);
      switch (checked.kind) {
        case "referral": {
          if (++referrals > maxReferrals) {
            throw new ResolveError(
              `Cannot resolve "${name}": more than ${maxReferrals} referrals`,
              { fatal: true },
            );
          }
          const child = checked.referral!.zone;
          servers = await this.#referralServers(child, checked, zone, ctx, depth);
          zone = child;
          labels = labelCount(zone) + 1;
          steps = 0;
          continue;
        }
        case "answer":
          return { rcode: RCODE.NOERROR, answers, authorities: [] };
        case "cname":
          return { rcode: RCODE.NOERROR, answers, authorities: [], next: checked.target };
        default:
          return {
            rcode: checked.kind === "nxdomain" ? RCODE.NXDOMAIN : RCODE.NOERROR,
            answers,
            authorities: checked.soa
              ? this.#served([checked.soa], this.#negativeTtl(checked.soa))
              : [],
          };
      }
    }
  }

  /**
   * The records of `rrsets` as a client gets them straight from a walk: every record of an RRset
   * with the RRset's TTL (its smallest, RFC 2181 §5.2), cut to what the cache would keep.
   */
  #served(rrsets: RRset[], maxTtl: number): ResourceRecord[] {
    return rrsets.flatMap((set) => {
      const ttl = Math.min(set.ttl, maxTtl);
      return set.records.map((rr) => rr.ttl === ttl ? rr : { ...rr, ttl });
    });
  }

  /** How long a negative answer with this SOA may be kept (RFC 2308 §5). */
  #negativeTtl(soa: RRset): number {
    const data = soa.records[0]?.data;
    const minimum = data?.kind === "SOA" ? data.minimum : soa.ttl;
    return Math.min(soa.ttl, minimum, this.#cache.maxNegativeTtl);
  }

  /** True when `zone`'s server said `name` has data or none, but no referral: no zone cut. */
  #knownNoCut(name: string, zone: string): boolean {
    const known = this.#cache.peek(name, TYPE.A);
    return known !== undefined && known.kind !== "nxdomain" && sameName(known.zone, zone);
  }

  /** The servers of `child` from a referral: its glue, cached addresses, or a lookup. */
  async #referralServers(
    child: string,
    checked: CheckedReply,
    zone: string,
    ctx: Context,
    depth: number,
  ): Promise<ServerRef[]> {
    const nsNames = nsTargets(checked.referral!.ns.records);
    const glue = checked.referral!.glue.flatMap((set) =>
      set.records.flatMap((rr) =>
        rr.data.kind === "A"
          ? [{
            name: set.name,
            address: rr.data.address,
            port: this.#port,
            source: "glue" as const,
            via: zone,
          }]
          : []
      )
    );
    const unglued = nsNames.filter((ns) => !glue.some((g) => sameName(g.name, ns)));
    const servers = [...glue, ...this.#cachedAddresses(unglued)];
    if (servers.length > 0) return servers;
    return (await this.#addressesOf(child, nsNames, ctx, depth)).map((server) =>
      server.source === "resolved" ? { ...server, via: zone } : server
    );
  }

  /** The deepest zone above `name` whose servers' addresses are known; else the roots. */
  async #closestServers(
    name: string,
    ctx: Context,
    depth: number,
  ): Promise<{ zone: string; servers: ServerRef[] }> {
    for (const zone of ancestors(name)) {
      const known = this.#delegations.get(zone.toLowerCase());
      if (
        known && known.generation === this.#cache.generation && known.expiresAt > this.#now()
      ) {
        return known;
      }
      const ns = this.#cache.get(zone, TYPE.NS);
      if (!ns) continue;
      const names = nsTargets(ns.records);
      const servers = this.#cachedAddresses(names);
      if (servers.length > 0) {
        // Remembered decoded until the cache's delegations change or the shortest TTL ends.
        const ttl = Math.min(ns.ttl, ...servers.map((s) => s.ttl ?? ns.ttl));
        if (this.#delegations.size >= 10_000) this.#delegations.clear();
        this.#delegations.set(zone.toLowerCase(), {
          zone: ns.name,
          servers,
          expiresAt: this.#now() + ttl * 1000,
          generation: this.#cache.generation,
        });
        return { zone: ns.name, servers };
      }
      if (zone !== ".") {
        try {
          return { zone: ns.name, servers: await this.#addressesOf(ns.name, names, ctx, depth) };
        } catch (error) {
          if (!(error instanceof ResolveError) || error.fatal) throw error;
        }
      }
    }
    return { zone: ".", servers: this.rootServers() };
  }

  #cachedAddresses(nsNames: string[]): (ServerRef & { ttl?: number })[] {
    return nsNames.flatMap((nsName) => {
      const entry: CachedRRset | undefined = this.#cache.get(nsName, TYPE.A);
      return (entry?.records ?? []).flatMap((rr) =>
        rr.data.kind === "A"
          ? [{
            name: nsName,
            address: rr.data.address,
            port: this.#port,
            source: "cache" as const,
            via: entry?.zone,
            ttl: entry?.ttl,
          }]
          : []
      );
    });
  }

  #forwarders(): ServerRef[] {
    return (this.#options.forward ?? []).map((address) => ({
      name: address,
      address,
      port: this.#port,
      source: "forwarder" as const,
    }));
  }

  /**
   * Addresses for a zone's name servers: from the cache, else resolve the NS names one by one
   * (a nested resolution — the part that can loop, hence the depth and loop checks).
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
      if (inBailiwick(nsName, zone)) {
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
      ctx.emit?.({ kind: "ns-lookup", zone, nameserver: nsName, elapsedMs: this.#elapsed(ctx) });
      ctx.inProgress.push(lookupKey);
      try {
        const found = await this.#resolveChain(nsName, TYPE.A, ctx, depth + 1);
        const servers = found.answers.flatMap((rr) =>
          rr.type === TYPE.A && rr.data.kind === "A"
            ? [{
              name: nsName,
              address: rr.data.address,
              port: this.#port,
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

  /**
   * Asks the servers, fastest first, until one gives a usable reply; a timeout or a lame reply
   * moves on to the next. With `tries` > 1 the servers that timed out get another round.
   */
  async #askServers(
    zone: string,
    servers: ServerRef[],
    ask: { name: string; type: number },
    ctx: Context,
    { outcome, question }: { outcome?: Outcome; question?: { name: string; type: number } } = {},
  ): Promise<Answered> {
    const forwarding = !!this.#options.forward?.length;
    const ordered = this.#servers.order(servers, zone);
    const rounds = Math.max(1, this.#options.tries ?? 2);
    const problems: string[] = [];
    const lame = new Set<ServerRef>();
    let noReply = true;
    let attempt = 0;
    for (let round = 0; round < rounds; round++) {
      for (const ref of ordered) {
        if (lame.has(ref)) continue;
        const got = await this.#ask(zone, ref, ask, ctx, attempt++, question);
        if (!got) {
          problems.push(`no reply from ${ref.address}`);
          continue;
        }
        noReply = false;
        const { checked } = got;
        const problem = checked.kind === "lame"
          ? checked.problem
          : forwarding && checked.kind === "referral"
          ? "a referral, but a forwarder must resolve the question itself"
          : this.#admit(checked, ask, zone, ref);
        if (problem !== undefined) {
          this.#servers.markLame(zone, ref.address);
          lame.add(ref);
          this.#emitResponse(ctx, zone, got, "lame", problem);
          problems.push(`${ref.address} gave ${problem}`);
          continue;
        }
        this.#emitResponse(ctx, zone, got, outcome ?? OUTCOMES[checked.kind]);
        return got;
      }
    }
    throw new ResolveError(
      `No usable answer from the servers of "${zone}" for "${ask.name}": ${problems.join("; ")}`,
      { noReply },
    );
  }

  /** One query to one server (again without EDNS if it rejects EDNS); undefined: no reply. */
  async #ask(
    zone: string,
    ref: ServerRef,
    ask: { name: string; type: number },
    ctx: Context,
    attempt: number,
    question: { name: string; type: number } | undefined,
  ): Promise<Answered | undefined> {
    const forwarding = !!this.#options.forward?.length;
    let options: QueryOptions = this.#options;
    for (let edns = true;; edns = false) {
      const maxQueries = this.#options.maxQueries ?? 64;
      if (++ctx.queries > maxQueries) {
        throw new ResolveError(`Too many queries: gave up after ${maxQueries} for one resolution`, {
          fatal: true,
        });
      }
      const left = ctx.deadline - performance.now();
      if (left <= 0) {
        const ms = this.#options.deadlineMs ?? 10_000;
        throw new ResolveError(`No answer within ${ms} ms: gave up`, { fatal: true });
      }
      ctx.emit?.({
        kind: "query",
        zone,
        server: ref,
        ...ask,
        ...(question ? { question } : {}),
        reason: serverReason(zone, ref, attempt) +
          (edns ? "" : "; it rejected EDNS, so the question goes again without it"),
        elapsedMs: this.#elapsed(ctx),
      });
      const query = buildQuery(ask.name, ask.type, forwarding, options);
      let result: Exchange;
      try {
        result = await exchange(query, ref.address, {
          ...exchangeOptions(options, ctx.signal),
          port: ref.port,
          tries: 1,
          timeoutMs: Math.min(
            left,
            this.#options.timeoutMs ?? this.#servers.timeoutMs(ref.address),
          ),
        });
      } catch (error) {
        if (ctx.signal.aborted || !isNoReply(error)) throw error;
        this.#servers.timedOut(ref.address);
        const why = error instanceof Error ? error.message : String(error);
        ctx.emit?.({
          kind: "no-reply",
          zone,
          server: ref,
          reason: why,
          elapsedMs: this.#elapsed(ctx),
        });
        return undefined;
      }
      this.#servers.replied(ref.address, result.elapsedMs);
      ctx.last = result;
      const rcode = result.reply.flags.rcode;
      const rejectedEdns = rcode === RCODE.FORMERR || rcode === RCODE.NOTIMP;
      if (edns && rejectedEdns && query.additionals.length > 0) {
        options = { ...this.#options, bufsize: 0, dnssec: false };
        continue;
      }
      const checked = checkReply(result.reply, ask, zone, { maxCnames: this.#options.maxCnames });
      return { ref, exchange: result, checked };
    }
  }

  /**
   * The one place where RRsets from a server for `zone` enter: each passes the `checkRRset`
   * hook (DNSSEC validation), then goes into the cache with its trust — negative answers with
   * their SOA (RFC 2308). Returns why the reply must be refused, or undefined.
   */
  #admit(
    checked: CheckedReply,
    ask: { name: string; type: number },
    zone: string,
    server: ServerRef,
  ): string | undefined {
    const negative = checked.kind === "nxdomain" || checked.kind === "nodata";
    const aa = checked.rrsets.some((item) => item.trust >= TRUST.AUTHORITATIVE_AUTHORITY);
    const soaTrust = aa || checked.answer.length === 0
      ? TRUST.AUTHORITATIVE_AUTHORITY
      : TRUST.AUTHORITY;
    const soa: ReplyRRset[] = negative && checked.soa
      ? [{ rrset: checked.soa, section: "authority", trust: soaTrust }]
      : [];
    const check = this.#options.checkRRset;
    if (check) {
      for (const item of [...checked.rrsets, ...soa]) {
        const from = { zone, server, section: item.section, trust: item.trust };
        if (!check(item.rrset, from)) {
          return `${item.rrset.name} ${typeName(item.rrset.type)}, which the RRset check refused`;
        }
      }
    }
    for (const item of checked.rrsets) this.#cache.store(item.rrset, { trust: item.trust, zone });
    if (negative && checked.soa) {
      this.#cache.storeNegative({
        rcode: checked.kind === "nxdomain" ? RCODE.NXDOMAIN : RCODE.NOERROR,
        name: checked.target,
        type: ask.type,
        soa: checked.soa,
        zone,
        trust: soaTrust,
      });
    }
    return undefined;
  }

  #emitResponse(
    ctx: Context,
    zone: string,
    got: Answered,
    outcome: Outcome,
    problem?: string,
  ): void {
    if (!ctx.emit) return;
    const { checked } = got;
    const referral = checked.referral;
    ctx.emit?.({
      kind: "response",
      zone,
      server: got.ref,
      outcome,
      ...(referral
        ? {
          referral: referral.zone,
          nameservers: nsTargets(referral.ns.records),
          glue: referral.glue.flatMap((set) =>
            set.records.flatMap((rr) =>
              rr.data.kind === "A" || rr.data.kind === "AAAA"
                ? [{ name: set.name, address: rr.data.address }]
                : []
            )
          ),
        }
        : {}),
      ...(checked.dropped.length ? { dropped: checked.dropped } : {}),
      ...(problem ? { problem } : {}),
      exchange: got.exchange,
      elapsedMs: this.#elapsed(ctx),
    });
  }

  // -------------------------------------------------------------------------------------------
  // The cache alone (RD=0 queries).

  /** What the cache alone answers for `name`/`type`, CNAMEs followed; undefined if not enough. */
  lookupCached(
    name: string,
    type: number,
    onEvent?: (event: ResolverEvent) => void,
  ): Resolution | undefined {
    const qname = normalizeName(name);
    const answers: ResourceRecord[] = [];
    let current = qname;
    const steps: ResolverEvent[] = [];
    for (let hops = 0; hops <= (this.#options.maxCnames ?? 8); hops++) {
      const found = this.#fromCache(
        current,
        type,
        (event) => steps.push({ ...event, elapsedMs: 0 }),
      );
      if (!found) return undefined;
      answers.push(...found.answers);
      if (found.next === undefined) {
        // Only a complete answer is reported: a partial one is resolved (and reported) again.
        if (onEvent) steps.forEach(onEvent);
        return {
          name: qname,
          type,
          rcode: found.rcode,
          answers,
          authorities: found.authorities,
          queries: 0,
          fromCache: true,
        };
      }
      current = found.next;
    }
    return undefined;
  }

  /**
   * The closest cached delegation above `name` — its NS records and their cached addresses — the
   * referral a cache-only (RD=0) question gets; the root hints when nothing is cached.
   */
  cachedReferral(name: string): { ns: ResourceRecord[]; addresses: ResourceRecord[] } {
    for (const zone of ancestors(normalizeName(name))) {
      const ns = this.#cache.get(zone, TYPE.NS);
      if (!ns) continue;
      const addresses = nsTargets(ns.records).flatMap((n) =>
        this.#cache.get(n, TYPE.A)?.records ?? []
      );
      return { ns: ns.records, addresses };
    }
    const roots = this.rootServers();
    const ttl = 3_600_000;
    return {
      ns: roots.map((r) => ({
        name: ".",
        type: TYPE.NS,
        class: 1,
        ttl,
        data: { kind: "NS" as const, target: r.source === "root-hint" ? r.name : "." },
      })).filter((rr) => rr.data.target !== "."),
      addresses: [],
    };
  }
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
