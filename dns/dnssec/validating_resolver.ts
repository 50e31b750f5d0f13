/**
 * Validating resolution: `dns/dnssec/validator.ts` plugged into the two resolvers of
 * `dns/resolver/iterative.ts`, so a caller gets an answer and its DNSSEC verdict together.
 *
 * - `stubFetch` asks one recursive server (RD=1) with DO=1 and CD=1: the server hands over
 *   signatures and proofs without judging them, and the validator judges (what `delv` does).
 * - `ValidatingResolver` resolves iteratively from the root with DO=1; each resolution carries
 *   the RRSIGs over its answer and the NSEC/NSEC3 proofs of a "no" (`Resolution.signatures`,
 *   `.proofs`), which is what the validator reads. DS questions go to the parent's servers,
 *   DNSKEY questions to the zone's own, and the answers are cached like any other.
 * - `judge` is the local DNS server's way in (`dns/resolver_server.ts`): a verdict on a
 *   resolution already made, a Bogus one remembered for `BOGUS_TTL_SECONDS` (the data behind it
 *   then expires from the cache as soon), so a broken zone costs one validation a minute, not one
 *   per question; identical questions answered at once share one validation. `servfailFor` turns a Bogus verdict into SERVFAIL with an Extended DNS Error.
 */
import { ancestors, nameKey, normalizeName } from "../wire/names.ts";
import { TYPE } from "../wire/constants.ts";
import { exchange, type ExchangeOptions } from "../resolver/transport.ts";
import { buildQuery, type Resolution } from "../resolver/stub.ts";
import { type IterativeOptions, IterativeResolver } from "../resolver/iterative.ts";
import type { ResolverEvent } from "../resolver/trace.ts";
import type { TrustAnchor } from "./validate.ts";
import {
  BOGUS_TTL_SECONDS,
  type Fetch,
  type Fetched,
  type Validation,
  Validator,
} from "./validator.ts";

/** Most Bogus verdicts remembered at once (then the memory starts afresh). */
const MAX_BOGUS_REMEMBERED = 10_000;

/** A `Fetch` through one recursive server: DO=1, CD=1, RD=1. */
export function stubFetch(
  server: string,
  options: ExchangeOptions & { bufsize?: number } = {},
): Fetch {
  return async (name, type) => {
    const query = buildQuery(normalizeName(name), type, true, {
      bufsize: options.bufsize,
      dnssec: true,
      checkingDisabled: true,
    });
    const { reply } = await exchange(query, server, options);
    return { rcode: reply.flags.rcode, answers: reply.answers, authorities: reply.authorities };
  };
}

/** The records of a resolution as the validator reads them: RRSIGs and proofs included. */
export function fetchedOf(resolution: Resolution): Fetched {
  return {
    rcode: resolution.rcode,
    answers: [...resolution.answers, ...resolution.signatures ?? []],
    authorities: [...resolution.authorities, ...resolution.proofs ?? []],
    zone: resolution.zone,
  };
}

/** An answer and its verdict. */
export interface ValidatedResolution {
  answer: Fetched;
  validation: Validation;
  resolution: Resolution;
}

/** A verdict as a server uses it: reached now, or a Bogus one remembered; what it cost. */
export interface Judgement extends Validation {
  /** A Bogus verdict given again from memory (nothing was checked or asked). */
  remembered: boolean;
  /** Upstream queries the validation needed (DNSKEYs and DSes not cached yet). */
  queries: number;
}

/** Options for `ValidatingResolver`: the iterative resolver's, and the trust anchors. */
export interface ValidatingOptions extends IterativeOptions {
  /** Trust anchors (default: the real root's KSK 20326). */
  anchors?: TrustAnchor[];
}

/** Iterative resolution from the root with every answer validated. */
export class ValidatingResolver {
  readonly resolver: IterativeResolver;
  readonly validator: Validator;
  /** Validations run, and Bogus verdicts given again from memory. */
  readonly counts = { validations: 0, remembered: 0 };
  readonly #bogus = new Map<string, { validation: Validation; expires: number }>();
  /** Validations in progress by question, for identical questions arriving meanwhile. */
  readonly #running = new Map<string, Promise<Validation>>();
  /** The clock in seconds (the resolver's, which counts milliseconds). */
  readonly #now: () => number;

  constructor(options: ValidatingOptions = {}) {
    this.resolver = new IterativeResolver({ ...options, dnssec: true });
    const ms = options.now ?? Date.now;
    this.#now = () => Math.floor(ms() / 1000);
    this.validator = new Validator((name, type) => this.fetch(name, type), {
      anchors: options.anchors,
      now: this.#now,
    });
  }

  /** Resolves `name`/`type` with the RRSIGs and proofs (what the validator reads). */
  async fetch(name: string, type: number, signal?: AbortSignal): Promise<Fetched> {
    return fetchedOf(await this.resolver.resolve(name, type, { signal }));
  }

  /** Resolves and validates. Throws `ResolveError` when no answer can be had at all. */
  async resolve(
    name: string,
    type: number,
    { signal }: { signal?: AbortSignal } = {},
  ): Promise<ValidatedResolution> {
    const resolution = await this.resolver.resolve(name, type, { signal });
    const answer = fetchedOf(resolution);
    const validation = await this.validator.validate(normalizeName(name), type, answer);
    return { answer, validation, resolution };
  }

  /**
   * The verdict on `resolution`, the answer to `name`/`type`: a Bogus one from memory while it
   * lasts, else validated now (what the validation asks upstream goes through `onEvent` too).
   * Throws `ResolveError` when what validation needs cannot be fetched.
   */
  async judge(
    name: string,
    type: number,
    resolution: Resolution,
    { signal, onEvent }: { signal?: AbortSignal; onEvent?: (event: ResolverEvent) => void } = {},
  ): Promise<Judgement> {
    const key = `${nameKey(name)}/${type}`;
    const known = this.#bogus.get(key);
    if (known && known.expires > this.#now()) {
      this.counts.remembered++;
      return { ...known.validation, steps: [], remembered: true, queries: 0 };
    }
    // Identical questions answered at once (a coalesced walk) share one validation.
    const running = this.#running.get(key);
    if (running) return { ...await running, steps: [], remembered: false, queries: 0 };
    let queries = 0;
    const fetch: Fetch = async (n, t) => {
      const fetched = await this.resolver.resolve(n, t, { signal, onEvent });
      queries += fetched.queries;
      return fetchedOf(fetched);
    };
    this.counts.validations++;
    const validating = this.validator.validate(
      normalizeName(name),
      type,
      fetchedOf(resolution),
      { fetch },
    );
    this.#running.set(key, validating);
    try {
      const validation = await validating;
      if (validation.verdict === "bogus") this.#rememberBogus(key, validation, resolution);
      return { ...validation, remembered: false, queries };
    } finally {
      this.#running.delete(key);
    }
  }

  /**
   * Remembers a Bogus verdict for `BOGUS_TTL_SECONDS`, and keeps the data behind it — the answer,
   * and the keys and DSes of the zones above — no longer in the cache, as unbound does: its TTL
   * cannot be trusted, and a repaired zone should be seen soon.
   */
  #rememberBogus(key: string, validation: Validation, resolution: Resolution): void {
    if (this.#bogus.size >= MAX_BOGUS_REMEMBERED) this.#bogus.clear();
    this.#bogus.set(key, { validation, expires: this.#now() + BOGUS_TTL_SECONDS });
    const cache = this.resolver.cache;
    cache.shorten(resolution.name, resolution.type, BOGUS_TTL_SECONDS);
    for (const rr of resolution.answers) cache.shorten(rr.name, rr.type, BOGUS_TTL_SECONDS);
    for (const zone of ancestors(resolution.name)) {
      cache.shorten(zone, TYPE.DNSKEY, BOGUS_TTL_SECONDS);
      cache.shorten(zone, TYPE.DS, BOGUS_TTL_SECONDS);
    }
  }
}
