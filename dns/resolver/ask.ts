/**
 * Asking one zone's servers — the step the iterative walk (`resolver/iterative.ts`) repeats at
 * every level: the servers in order of their smoothed RTT (`resolver/server_selection.ts`), one
 * query each (again without EDNS when a server rejects it), until one gives a usable reply. A
 * timeout or a lame reply (`resolver/bailiwick.ts`) moves on to the next server. What a usable
 * reply teaches enters through one door, `#admit`: the `checkRRset` hook (DNSSEC validation) may
 * refuse it, then it is cached by TTL with its trust. Every query and reply is reported as a
 * step (`resolver/trace.ts`).
 */
import { RCODE, typeName } from "../wire/constants.ts";
import { signatureLabelCount } from "../wire/canonical.ts";
import { DnsFormatError } from "../wire/primitives.ts";
import { type DnsExchange, exchange, NoReplyError } from "./transport.ts";
import { type CheckedReply, checkReply, type RecordSection, type ReplyRRset } from "./bailiwick.ts";
import { type RecordCache, type RRset, TRUST } from "./cache.ts";
import type { ServerSelection } from "./server_selection.ts";
import { buildQuery, exchangeOptions, type QueryOptions, ResolveError } from "./stub.ts";
import { nsTargets } from "./cached_answers.ts";
import { type Outcome, type ResolverEvent, serverReason, type ServerRef } from "./trace.ts";
import type { IterativeOptions } from "./iterative.ts";

/**
 * Checks an RRset before it is cached or used: `from` says which server (for which zone) sent
 * it, in which section, at which trust. Returning false refuses it and makes the whole reply
 * unusable (the next server is asked). The seam for DNSSEC validation.
 */
export type RRsetCheck = (
  rrset: RRset,
  from: { zone: string; server: ServerRef; section: RecordSection; trust: number },
) => boolean;

/** Per-`resolve` bookkeeping shared by nested lookups. */
export interface Context {
  signal: AbortSignal;
  queries: number;
  startedAt: number;
  /** Name servers whose addresses are being looked up, to detect a delegation loop. */
  inProgress: string[];
  /** `performance.now()` time after which no more queries go out (`deadlineMs`). */
  deadline: number;
  last?: DnsExchange;
  /** Reports a step; undefined when nobody listens (then no event is even built). */
  emit: ((event: ResolverEvent) => void) | undefined;
}

/** What one server said, checked. */
export interface Answered {
  ref: ServerRef;
  exchange: DnsExchange;
  checked: CheckedReply;
}

const OUTCOMES: Record<CheckedReply["kind"], Outcome> = {
  answer: "answer",
  cname: "answer",
  referral: "referral",
  nxdomain: "nxdomain",
  nodata: "nodata",
  lame: "lame",
};

/** Errors that mean "this server gave no usable reply", not a bug. */
function isNoReply(error: unknown): boolean {
  return error instanceof NoReplyError || error instanceof DnsFormatError ||
    error instanceof Deno.errors.NetworkUnreachable ||
    error instanceof Deno.errors.AddrNotAvailable ||
    error instanceof Deno.errors.ConnectionRefused ||
    error instanceof Deno.errors.ConnectionReset;
}

/** True when `rrset`'s RRSIG says it was synthesised from a wildcard (Labels < its own). */
function expandedFromWildcard(rrset: RRset): boolean {
  const labels = signatureLabelCount(rrset.name);
  return rrset.signatures.some((sig) => sig.data.kind === "RRSIG" && sig.data.labels < labels);
}

/** Milliseconds since the resolution started. */
export function elapsed(ctx: Context): number {
  return performance.now() - ctx.startedAt;
}

/** Asks a zone's servers (see the module comment); one per resolver. */
export class ZoneAsker {
  constructor(
    readonly options: IterativeOptions,
    readonly servers: ServerSelection,
    readonly cache: RecordCache,
  ) {}

  /**
   * Asks the servers, fastest first, until one gives a usable reply; a timeout or a lame reply
   * moves on to the next. With `tries` > 1 the servers that timed out get another round.
   */
  async askServers(
    zone: string,
    servers: ServerRef[],
    ask: { name: string; type: number },
    ctx: Context,
    { outcome, question }: { outcome?: Outcome; question?: { name: string; type: number } } = {},
  ): Promise<Answered> {
    const forwarding = !!this.options.forward?.length;
    const ordered = this.servers.order(servers, zone);
    const rounds = Math.max(1, this.options.tries ?? 2);
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
          this.servers.markLame(zone, ref.address);
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
    const forwarding = !!this.options.forward?.length;
    let options: QueryOptions = this.options;
    for (let edns = true;; edns = false) {
      const maxQueries = this.options.maxQueries ?? 64;
      if (++ctx.queries > maxQueries) {
        throw new ResolveError(`Too many queries: gave up after ${maxQueries} for one resolution`, {
          fatal: true,
        });
      }
      const left = ctx.deadline - performance.now();
      if (left <= 0) {
        const ms = this.options.deadlineMs ?? 10_000;
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
        elapsedMs: elapsed(ctx),
      });
      const query = buildQuery(ask.name, ask.type, forwarding, options);
      let result: DnsExchange;
      try {
        result = await exchange(query, ref.address, {
          ...exchangeOptions(options, ctx.signal),
          port: ref.port,
          tries: 1,
          timeoutMs: Math.min(
            left,
            this.options.timeoutMs ?? this.servers.timeoutMs(ref.address),
          ),
        });
      } catch (error) {
        if (ctx.signal.aborted || !isNoReply(error)) throw error;
        this.servers.timedOut(ref.address);
        // The event names the server already: the reason alone ("connection refused", …).
        const why = error instanceof NoReplyError
          ? error.reason
          : error instanceof Error
          ? error.message
          : String(error);
        ctx.emit?.({
          kind: "no-reply",
          zone,
          server: ref,
          reason: why,
          elapsedMs: elapsed(ctx),
        });
        return undefined;
      }
      this.servers.replied(ref.address, result.elapsedMs);
      ctx.last = result;
      const rcode = result.reply.flags.rcode;
      const rejectedEdns = rcode === RCODE.FORMERR || rcode === RCODE.NOTIMP;
      if (edns && rejectedEdns && query.additionals.length > 0) {
        options = { ...this.options, bufsize: 0, dnssec: false };
        continue;
      }
      const checked = checkReply(result.reply, ask, zone, { maxCnames: this.options.maxCnames });
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
    const check = this.options.checkRRset;
    if (check) {
      for (const item of [...checked.rrsets, ...soa]) {
        const from = { zone, server, section: item.section, trust: item.trust };
        if (!check(item.rrset, from)) {
          return `${item.rrset.name} ${typeName(item.rrset.type)}, which the RRset check refused`;
        }
      }
    }
    // DNSSEC proofs travel with what they prove: a "no", or the answer from a wildcard.
    const proofs = checked.proofs.flatMap((set) => [...set.records, ...set.signatures]);
    for (const item of checked.rrsets) {
      const rrset = proofs.length && !negative && expandedFromWildcard(item.rrset)
        ? { ...item.rrset, proofs }
        : item.rrset;
      this.cache.store(rrset, { trust: item.trust, zone });
    }
    if (negative && checked.soa) {
      this.cache.storeNegative({
        rcode: checked.kind === "nxdomain" ? RCODE.NXDOMAIN : RCODE.NOERROR,
        name: checked.target,
        type: ask.type,
        soa: checked.soa,
        zone,
        trust: soaTrust,
        proofs,
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
      elapsedMs: elapsed(ctx),
    });
  }
}
