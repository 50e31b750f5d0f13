/**
 * The iterative resolver: it does the work itself (seed 000's 「迭代查询」) — the engine of the
 * local DNS server (`dns/resolver_server.ts`), `dns:query +trace` and `http:get`. (The stub
 * resolver, which asks one server and lets it do the work — 「本地DNS代劳」 — is `resolver/stub.ts`.)
 *
 * Size: one walk (referrals, glue, aliases, QNAME minimisation, the proofs a validator needs) is
 * one state machine, read top to bottom; split, the story of a lookup would be in three files.
 *
 * Theory of operation. A name is a path down a tree: `www.cnblogs.com.` is `www` under `cnblogs`
 * under `com` under the root `.`. Nobody knows every name, so the resolver starts at one of the
 * 13 root servers (the root hints, `resolver/root_hints.ts`). The root does not know
 * `www.cnblogs.com`, but it knows who runs `com.`: it answers with a *referral* — NS records for
 * `com.` in AUTHORITY and, usually, their addresses ("glue") in ADDITIONAL. The resolver asks one
 * of those servers and gets a referral to `cnblogs.com.`, whose server finally answers
 * authoritatively (AA set). This module is that walk; each step it repeats has a module:
 *
 * - asking one zone's servers, fastest first, and admitting what they said — checked against the
 *   zone (`resolver/bailiwick.ts`), offered to the `checkRRset` hook (DNSSEC validation), cached by
 *   TTL (`resolver/cache.ts`): `resolver/ask.ts`;
 * - what the cache already answers, so the next lookup under `com.` skips the root:
 *   `resolver/cached_answers.ts`; whose servers to ask for a zone: `resolver/delegations.ts`.
 *
 * Along the way:
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
 * what `dns:query +trace` prints and what the local DNS server's `--explain`/`--json` show.
 */
import { normalizeName } from "../wire/names.ts";
import { RCODE, TYPE } from "../wire/constants.ts";
import type { ResourceRecord } from "../wire/rdata.ts";
import { DNS_PORT } from "./transport.ts";
import { ancestors, inBailiwick, labelCount, lastLabels, sameName } from "../wire/names.ts";
import { type CheckedReply } from "./bailiwick.ts";
import { RecordCache } from "./cache.ts";
import { ServerSelection } from "./server_selection.ts";
import { ROOT_SERVERS } from "./root_hints.ts";
import { type QueryOptions, type Resolution, ResolveError } from "./stub.ts";
import type { ResolverEvent, ServerRef } from "./trace.ts";
import { type Answered, type Context, elapsed, type RRsetCheck, ZoneAsker } from "./ask.ts";
import {
  answerFromCache,
  cachedReferral,
  knownNoCut,
  lookupCached,
  type LookupStep,
  negativeTtl,
  nsTargets,
  servedProofs,
  servedRecords,
  servedSignatures,
} from "./cached_answers.ts";
import { Delegations, type ZoneServers } from "./delegations.ts";

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

/** One resolution in flight, shared by everyone asking the same question meanwhile. */
interface Flight {
  /** The shared work; undefined once it has settled and left the map (see `resolve`). */
  promise?: Promise<Resolution>;
  controller: AbortController;
  waiters: number;
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

/**
 * Resolves names itself, starting at the root servers (or asking forwarders); caches what it
 * learns by TTL. See the module comment for the walk, the checks and the limits.
 */
export class IterativeResolver {
  readonly #options: IterativeOptions;
  readonly #cache: RecordCache;
  readonly #servers: ServerSelection;
  readonly #inflight = new Map<string, Flight>();
  readonly #delegations: Delegations;
  readonly #asker: ZoneAsker;

  constructor(options: IterativeOptions = {}) {
    this.#options = options;
    const now = options.now ?? Date.now;
    this.#cache = options.cache ?? new RecordCache({ now });
    this.#servers = options.servers ?? new ServerSelection({ now });
    this.#delegations = new Delegations(this.#cache, this.#port, now);
    this.#asker = new ZoneAsker(options, this.#servers, this.#cache);
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
        // Let go of the result. V8 can keep a value deleted from a busy Map reachable until
        // its next full collection; a settled flight holding its result would keep the whole
        // resolution (messages, bytes, the walk's state) alive through every minor collection
        // meanwhile — under a load of cold names, most of the garbage collector's work.
        started.promise = undefined;
      };
      started.promise!.then(done, done);
    }
    flight.waiters++;
    try {
      // Defined: the flight is in the map (or was just started), so it has not settled yet.
      const shared = flight.promise!;
      const result = signal ? await waitFor(shared, signal) : await shared;
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
        // Which zone answered is known when walking; through a forwarder it is not.
        zone: this.#options.forward?.length ? undefined : result.zone,
        exchange: ctx.last,
        queries: ctx.queries,
        fromCache: ctx.queries === 0,
      };
    })();
    return { promise, controller, waiters: 0 };
  }

  /** RFC 8109 priming: `. NS` from a root hint, so the trace shows the root's own NS set. */
  async #prime(ctx: Context): Promise<void> {
    await this.#asker.askServers(".", this.rootServers(), { name: ".", type: TYPE.NS }, ctx, {
      outcome: "priming",
    });
  }

  /** Follows CNAMEs (across zones too) until the requested type or a negative answer. */
  async #resolveChain(
    name: string,
    type: number,
    ctx: Context,
    depth: number,
  ): Promise<LookupStep> {
    const maxCnames = this.#options.maxCnames ?? 8;
    const answers: ResourceRecord[] = [];
    const signatures: ResourceRecord[] = [];
    const proofs: ResourceRecord[] = [];
    const seen = new Set([name.toLowerCase()]);
    let current = name;
    while (true) {
      const found = await this.#lookup(current, type, ctx, depth);
      signatures.push(...found.signatures ?? []);
      proofs.push(...found.proofs ?? []);
      for (const rr of found.answers) {
        answers.push(rr);
        if (rr.type !== TYPE.CNAME || rr.data.kind !== "CNAME" || type === TYPE.CNAME) continue;
        if (!ctx.emit) continue;
        // The target's records may have come along (an in-zone chain): then they end the story.
        const target = rr.data.target;
        const answered = found.answers.filter((other) => sameName(other.name, target));
        ctx.emit({
          kind: "cname",
          from: rr.name,
          to: target,
          ...(answered.length > 0 ? { answered } : {}),
          elapsedMs: elapsed(ctx),
        });
      }
      if (answers.filter((rr) => rr.type === TYPE.CNAME).length > maxCnames) {
        throw new ResolveError(`Cannot resolve "${name}": more than ${maxCnames} CNAMEs`, {
          fatal: true,
        });
      }
      if (found.next === undefined) {
        const { rcode, authorities, zone } = found;
        return { rcode, answers, authorities, signatures, proofs, zone };
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
  #lookup(
    name: string,
    type: number,
    ctx: Context,
    depth: number,
  ): LookupStep | Promise<LookupStep> {
    const emit = ctx.emit;
    const cached = answerFromCache(
      this.#cache,
      name,
      type,
      emit && ((step) => emit({ ...step, elapsedMs: elapsed(ctx) })),
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
    const known = this.#delegations.closestRemembered(start);
    if (known) return this.#walk(name, type, known.zone, known.servers, ctx, depth);
    return this.#closestServers(start, ctx, depth).then(({ zone, servers }) =>
      this.#walk(name, type, zone, servers, ctx, depth)
    );
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
  ): Promise<LookupStep> {
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
        while (labels < total && knownNoCut(this.#cache, lastLabels(name, labels), zone)) {
          labels = nextLabelCount(labels, total, ++steps);
        }
        if (labels < total) ask = { name: lastLabels(name, labels), type: TYPE.A };
      }
      const minimised = ask.name !== name;
      let got: Answered;
      try {
        got = await this.#asker.askServers(zone, servers, ask, ctx, {
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
      const maxTtl = this.#cache.maxTtl;
      const answers = servedRecords(checked.answer, maxTtl);
      const signatures = servedSignatures(checked.answer, maxTtl);
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
        case "cname": {
          // A wildcard answer comes with the proof that no closer name exists.
          const proofs = servedProofs(checked.proofs, maxTtl);
          const next = checked.kind === "cname" ? checked.target : undefined;
          return { rcode: RCODE.NOERROR, answers, authorities: [], next, signatures, proofs, zone };
        }
        default: {
          const soa = checked.soa;
          const ttl = soa ? negativeTtl(this.#cache, soa) : 0;
          return {
            rcode: checked.kind === "nxdomain" ? RCODE.NXDOMAIN : RCODE.NOERROR,
            answers,
            authorities: soa ? servedRecords([soa], ttl) : [],
            signatures,
            proofs: soa
              ? [...servedSignatures([soa], ttl), ...servedProofs(checked.proofs, ttl)]
              : [],
            zone,
          };
        }
      }
    }
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
    const servers = [...glue, ...this.#delegations.addresses(unglued)];
    if (servers.length > 0) return servers;
    return (await this.#addressesOf(child, nsNames, ctx, depth)).map((server) =>
      server.source === "resolved" ? { ...server, via: zone } : server
    );
  }

  /** The deepest zone above `name` whose servers' addresses are known; else the roots. */
  async #closestServers(name: string, ctx: Context, depth: number): Promise<ZoneServers> {
    for (const zone of ancestors(name)) {
      const known = this.#delegations.remembered(zone);
      if (known) return known;
      const cached = this.#delegations.fromCache(zone);
      if (!cached) continue;
      if (cached.servers.length > 0) return { zone: cached.zone, servers: cached.servers };
      if (zone !== ".") {
        try {
          const servers = await this.#addressesOf(cached.zone, cached.names, ctx, depth);
          return { zone: cached.zone, servers };
        } catch (error) {
          if (!(error instanceof ResolveError) || error.fatal) throw error;
        }
      }
    }
    return { zone: ".", servers: this.rootServers() };
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
    const known = this.#delegations.addresses(nsNames);
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
      ctx.emit?.({ kind: "ns-lookup", zone, nameserver: nsName, elapsedMs: elapsed(ctx) });
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

  // -------------------------------------------------------------------------------------------
  // The cache alone (RD=0 queries).

  /** What the cache alone answers for `name`/`type`, CNAMEs followed; undefined if not enough. */
  lookupCached(
    name: string,
    type: number,
    onEvent?: (event: ResolverEvent) => void,
  ): Resolution | undefined {
    return lookupCached(this.#cache, name, type, { maxCnames: this.#options.maxCnames, onEvent });
  }

  /**
   * The closest cached delegation above `name` — its NS records and their cached addresses — the
   * referral a cache-only (RD=0) question gets; the root hints when nothing is cached.
   */
  cachedReferral(name: string): { ns: ResourceRecord[]; addresses: ResourceRecord[] } {
    return cachedReferral(this.#cache, name, this.rootServers());
  }
}
