/**
 * Validating resolution: `dns/dnssec/validator.ts` plugged into the two resolvers of
 * `dns/resolver/iterative.ts`, so a caller gets an answer and its DNSSEC verdict together.
 *
 * - `stubFetch` asks one recursive server (RD=1) with DO=1 and CD=1: the server hands over
 *   signatures and proofs without judging them, and the validator judges (what `delv` does).
 * - `ValidatingResolver` resolves iteratively from the root with DO=1 and reads the raw replies
 *   off the resolver's events (RRSIGs, NSEC/NSEC3, the zone that answered); DS questions go to
 *   the parent's servers, DNSKEY questions to the zone's own.
 * A local caching server can use either: resolve, validate, and answer a Bogus result with
 * `servfailFor` (SERVFAIL plus an Extended DNS Error saying why).
 */
import { normalizeName } from "../wire/names.ts";
import { RCODE } from "../wire/constants.ts";
import { exchange, type ExchangeOptions } from "../resolver/transport.ts";
import { buildQuery, type Resolution } from "../resolver/stub.ts";
import { type IterativeOptions, IterativeResolver } from "../resolver/iterative.ts";
import { type ResolverEvent } from "../resolver/trace.ts";
import {
  type Fetch,
  type Fetched,
  type Validation,
  Validator,
  type ValidatorOptions,
} from "./validator.ts";

/** A `Fetch` through one recursive server: DO=1, CD=1, RD=1. */
export function stubFetch(
  server: string,
  options: ExchangeOptions & { bufsize?: number } = {},
): Fetch {
  return async (name, type) => {
    const query = buildQuery(normalizeName(name), type, true, {
      bufsize: options.bufsize,
      dnssec: true,
    });
    query.flags.cd = true;
    const { reply } = await exchange(query, server, options);
    return { rcode: reply.flags.rcode, answers: reply.answers, authorities: reply.authorities };
  };
}

/** An answer and its verdict. */
export interface ValidatedResolution {
  answer: Fetched;
  validation: Validation;
  resolution: Resolution;
}

/** Iterative resolution from the root with every answer validated. */
export class ValidatingResolver {
  readonly resolver: IterativeResolver;
  readonly validator: Validator;
  #capture?: (event: ResolverEvent) => void;

  constructor(options: IterativeOptions & ValidatorOptions = {}) {
    const onEvent = options.onEvent;
    this.resolver = new IterativeResolver({
      ...options,
      dnssec: true,
      onEvent: (event) => {
        this.#capture?.(event);
        onEvent?.(event);
      },
    });
    this.validator = new Validator((name, type) => this.fetch(name, type), options);
  }

  /** Resolves `name`/`type` and keeps the raw records the servers sent (for the validator). */
  async fetch(name: string, type: number, signal?: AbortSignal): Promise<Fetched> {
    return (await this.#resolveRaw(name, type, signal)).answer;
  }

  async #resolveRaw(
    name: string,
    type: number,
    signal?: AbortSignal,
  ): Promise<{ answer: Fetched; resolution: Resolution }> {
    const answer: Fetched = { rcode: RCODE.NOERROR, answers: [], authorities: [] };
    const previous = this.#capture;
    this.#capture = (event) => {
      if (event.kind === "cache") {
        answer.answers.push(...event.records, ...(event.signatures ?? []));
      } else if (
        event.kind === "response" &&
        (event.outcome === "answer" || event.outcome === "nxdomain" || event.outcome === "nodata")
      ) {
        const reply = event.exchange.reply;
        answer.answers.push(...reply.answers);
        answer.authorities = reply.authorities;
        answer.zone = event.zone;
      }
    };
    try {
      const resolution = await this.resolver.resolve(name, type, { signal });
      answer.rcode = resolution.rcode;
      return { answer, resolution };
    } finally {
      this.#capture = previous;
    }
  }

  /** Resolves and validates. Throws `ResolveError` when no answer can be had at all. */
  async resolve(
    name: string,
    type: number,
    { signal }: { signal?: AbortSignal } = {},
  ): Promise<ValidatedResolution> {
    const { answer, resolution } = await this.#resolveRaw(name, type, signal);
    const validation = await this.validator.validate(normalizeName(name), type, answer);
    return { answer, validation, resolution };
  }
}
