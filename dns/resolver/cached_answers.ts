/**
 * What the record cache alone says (`resolver/cache.ts`): the answer to a question — records, a
 * CNAME to follow, or a negative answer — and, for a question with RD clear, the referral to the
 * closest cached delegation. Only data of answer rank answers a question; glue only shows the
 * way. Pure: the cache in, records out.
 */
import { RCODE, TYPE } from "../wire/constants.ts";
import { normalizeName } from "../wire/names.ts";
import type { ResourceRecord } from "../wire/rdata.ts";
import { ancestors, sameName } from "../wire/names.ts";
import { type RecordCache, type RRset, TRUST } from "./cache.ts";
import type { Resolution } from "./stub.ts";
import type { ResolverEvent, ServerRef } from "./trace.ts";

/** What one name and type resolved to, before the CNAME chain is followed further. */
export interface LookupStep {
  rcode: number;
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  /** A CNAME chain that must go on from here (another zone, or not in the reply). */
  next?: string;
  /** DNSSEC: the RRSIGs over `answers` (when the zone is signed and DO was set upstream). */
  signatures?: ResourceRecord[];
  /** DNSSEC: the SOA's RRSIGs, and the NSEC/NSEC3 records and RRSIGs proving a "no" or a wildcard. */
  proofs?: ResourceRecord[];
  /** The zone whose server gave this (when known). */
  zone?: string;
}

/** A `cache` step as `answerFromCache` reports it (the caller adds the time). */
export type CacheStep = Omit<Extract<ResolverEvent, { kind: "cache" }>, "elapsedMs">;

/**
 * What the cache says about `name`/`type`: a negative answer, the records, or a CNAME to
 * follow; undefined when it knows nothing that answers.
 */
export function answerFromCache(
  cache: RecordCache,
  name: string,
  type: number,
  emit?: (step: CacheStep) => void,
): LookupStep | undefined {
  const negative = cache.getNegative(name, type);
  if (negative) {
    const nx = negative.rcode === RCODE.NXDOMAIN;
    emit?.({
      kind: "cache",
      name,
      type,
      records: negative.soa.records,
      negative: nx ? "NXDOMAIN" : "NODATA",
    });
    return {
      rcode: negative.rcode,
      answers: [],
      authorities: negative.soa.records,
      signatures: [],
      proofs: [...negative.soa.signatures, ...negative.proofs],
      zone: negative.zone,
    };
  }
  const rrset = type === TYPE.ANY ? undefined : cache.get(name, type, { minTrust: TRUST.ANSWER });
  if (rrset) {
    emit?.({ kind: "cache", name, type, records: rrset.records, signatures: rrset.signatures });
    return {
      rcode: RCODE.NOERROR,
      answers: rrset.records,
      authorities: [],
      signatures: rrset.signatures,
      proofs: rrset.proofs ?? [],
      zone: rrset.zone,
    };
  }
  const cname = type === TYPE.CNAME
    ? undefined
    : cache.get(name, TYPE.CNAME, { minTrust: TRUST.ANSWER });
  const target = cname?.records[0]?.data;
  if (cname && target?.kind === "CNAME") {
    emit?.({
      kind: "cache",
      name,
      type: TYPE.CNAME,
      records: cname.records,
      signatures: cname.signatures,
    });
    return {
      rcode: RCODE.NOERROR,
      answers: cname.records,
      authorities: [],
      next: target.target,
      signatures: cname.signatures,
      proofs: cname.proofs ?? [],
      zone: cname.zone,
    };
  }
  return undefined;
}

/**
 * The whole answer the cache alone gives for `name`/`type`, CNAMEs followed (at most
 * `maxCnames`); undefined when it is not complete. Only a complete answer's steps are reported.
 */
export function lookupCached(
  cache: RecordCache,
  name: string,
  type: number,
  { maxCnames = 8, onEvent }: { maxCnames?: number; onEvent?: (event: ResolverEvent) => void },
): Resolution | undefined {
  const qname = normalizeName(name);
  const answers: ResourceRecord[] = [];
  const signatures: ResourceRecord[] = [];
  const proofs: ResourceRecord[] = [];
  let current = qname;
  const steps: ResolverEvent[] = [];
  for (let hops = 0; hops <= maxCnames; hops++) {
    const found = answerFromCache(cache, current, type, (step) => {
      steps.push({ ...step, elapsedMs: 0 });
    });
    if (!found) return undefined;
    answers.push(...found.answers);
    signatures.push(...found.signatures ?? []);
    proofs.push(...found.proofs ?? []);
    if (found.next === undefined) {
      if (onEvent) steps.forEach(onEvent);
      return {
        name: qname,
        type,
        rcode: found.rcode,
        answers,
        authorities: found.authorities,
        signatures,
        proofs,
        zone: found.zone,
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
 * referral a cache-only (RD=0) question gets; the root hints (`roots`) when nothing is cached.
 */
export function cachedReferral(
  cache: RecordCache,
  name: string,
  roots: ServerRef[],
): { ns: ResourceRecord[]; addresses: ResourceRecord[] } {
  for (const zone of ancestors(normalizeName(name))) {
    const ns = cache.get(zone, TYPE.NS);
    if (!ns) continue;
    const addresses = nsTargets(ns.records).flatMap((n) => cache.get(n, TYPE.A)?.records ?? []);
    return { ns: ns.records, addresses };
  }
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

/** The name-server names of NS records. */
export function nsTargets(records: ResourceRecord[]): string[] {
  return records.flatMap((rr) => rr.data.kind === "NS" ? [rr.data.target] : []);
}

/**
 * The records of `rrsets` as a client gets them straight from a walk: every record of an RRset
 * with the RRset's TTL (its smallest, RFC 2181 §5.2), cut to what the cache would keep.
 */
export function servedRecords(rrsets: RRset[], maxTtl: number): ResourceRecord[] {
  return rrsets.flatMap((set) => withTtl(set.records, Math.min(set.ttl, maxTtl)));
}

/** The RRSIGs over `rrsets`, with the TTL their RRsets are served with (RFC 4034 §3). */
export function servedSignatures(rrsets: RRset[], maxTtl: number): ResourceRecord[] {
  return rrsets.flatMap((set) => withTtl(set.signatures, Math.min(set.ttl, maxTtl)));
}

/** The records and RRSIGs of proof RRsets (NSEC, NSEC3), with `ttl` at most. */
export function servedProofs(rrsets: RRset[], ttl: number): ResourceRecord[] {
  return rrsets.flatMap((set) =>
    withTtl([...set.records, ...set.signatures], Math.min(set.ttl, ttl))
  );
}

function withTtl(records: ResourceRecord[], ttl: number): ResourceRecord[] {
  return records.map((rr) => rr.ttl === ttl ? rr : { ...rr, ttl });
}

/** How long a negative answer with this SOA may be kept (RFC 2308 §5). */
export function negativeTtl(cache: RecordCache, soa: RRset): number {
  const data = soa.records[0]?.data;
  const minimum = data?.kind === "SOA" ? data.minimum : soa.ttl;
  return Math.min(soa.ttl, minimum, cache.maxNegativeTtl);
}

/** True when `zone`'s server said `name` has data or none, but no referral: no zone cut. */
export function knownNoCut(cache: RecordCache, name: string, zone: string): boolean {
  const known = cache.peek(name, TYPE.A);
  return known !== undefined && known.kind !== "nxdomain" && sameName(known.zone, zone);
}
