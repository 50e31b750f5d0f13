/**
 * What a reply from a server for zone Z may teach a resolver — the lesson of 2008's cache
 * poisoning. Pure: a decoded reply in, a verdict out.
 *
 * A server answers for its own zone and nothing else: `cnblogs.com.`'s server may say what
 * `www.cnblogs.com.` is, but not what `com.` or `bank.com.` are. Before 2008 many resolvers
 * cached whatever a reply carried, so anyone who could get one forged reply accepted could plant
 * an address for a whole TLD (Kaminsky's attack). The transport already makes forging hard
 * (random ID and source port, dns/resolver/transport.ts); this module makes a forged or malicious reply
 * worth little: every record is checked against the zone the server was asked about (its
 * *bailiwick*) and the question, and everything else is dropped, with the reason.
 *
 * Rules (after unbound's scrubber, RFC 2181 §5.4.1):
 * - ANSWER: only the chain from the question name — CNAMEs, then the records asked for — and
 *   only while the chain stays inside the zone. A CNAME to another zone ends what this server
 *   may say: the target is resolved separately, from its own servers.
 * - AUTHORITY: NS for the zone itself or for a child zone on the way to the question name (a
 *   referral must lead strictly downwards), and the SOA of the zone that says "no". With DNSSEC
 *   also the DS of that child (the parent signs it) and the zone's NSEC/NSEC3 records, which
 *   prove a "no", a wildcard answer or an unsigned delegation — kept as `proofs`, for a validator
 *   and for clients that ask with DO set.
 * - ADDITIONAL: addresses of those name servers only, and only inside the zone (glue).
 * - An rcode other than NOERROR/NXDOMAIN, a referral up or sideways, or an empty
 *   non-authoritative reply makes the server *lame* for this question.
 *
 * Names are compared label by label, so `evil\.cnblogs.com.` (one label "evil.cnblogs" under
 * `com.`) is not inside `cnblogs.com.`.
 */
import { CLASS, RCODE, rcodeName, TYPE, typeName } from "../wire/constants.ts";
import { type Message } from "../wire/message.ts";
import { type ResourceRecord } from "../wire/rdata.ts";
import { inBailiwick, sameName, strictlyBelow } from "../wire/names.ts";
import { type RRset, TRUST } from "./cache.ts";

/** The RRSIG type (DNSSEC); its records travel with the RRset they sign. */
export const TYPE_RRSIG = 46;

/** Where in a reply a record was. */
export type RecordSection = "answer" | "authority" | "additional";

/** An RRset a reply may teach, with where it came from and how far it is trusted. */
export interface ReplyRRset {
  rrset: RRset;
  section: RecordSection;
  trust: number;
}

/** What a reply is, for the question asked. */
export type ReplyVerdict = "answer" | "cname" | "referral" | "nxdomain" | "nodata" | "lame";

/** The verdict on one reply. */
export interface CheckedReply {
  kind: ReplyVerdict;
  /** Every RRset the reply may teach (bailiwick-checked), in section order. */
  rrsets: ReplyRRset[];
  /** The CNAME chain from the question name, then the records asked for. */
  answer: RRset[];
  /** Where the CNAME chain ends: the question name when there is none. */
  target: string;
  /** For a referral: the child zone, its name servers and the glue that came with them. */
  referral?: { zone: string; ns: RRset; glue: RRset[] };
  /** For NXDOMAIN and NODATA: the SOA of the zone that says so, when the server sent it. */
  soa?: RRset;
  /**
   * DNSSEC proofs from AUTHORITY (with DO set upstream): the zone's NSEC and NSEC3 RRsets, each
   * with its RRSIGs — the denial of a negative answer, of a closer name for a wildcard answer,
   * or of a DS at a referral. Never cached on their own: they travel with what they prove.
   */
  proofs: RRset[];
  /** Why the reply is unusable ("lame"). */
  problem?: string;
  /** Records thrown away, each with the reason. */
  dropped: { record: ResourceRecord; reason: string }[];
}

// ---------------------------------------------------------------------------------------------
// RRsets.

/** The type an RRSIG signs (the first two bytes of its rdata), or undefined. */
function coveredType(rr: ResourceRecord): number | undefined {
  if (rr.data.kind === "RRSIG") return rr.data.typeCovered;
  if (rr.data.kind !== "UNKNOWN" || rr.data.bytes.length < 2) return undefined;
  return (rr.data.bytes[0] << 8) | rr.data.bytes[1];
}

/**
 * Groups records into RRsets (name, type and class), in order of first appearance; RRSIGs join
 * the RRset of the type they cover. OPT and RRSIGs that cover nothing here are returned apart.
 */
export function groupRRsets(
  records: ResourceRecord[],
): { rrsets: RRset[]; strays: ResourceRecord[] } {
  const byKey = new Map<string, RRset>();
  const signatures: ResourceRecord[] = [];
  const strays: ResourceRecord[] = [];
  for (const rr of records) {
    if (rr.type === TYPE.OPT) continue;
    if (rr.type === TYPE_RRSIG) {
      signatures.push(rr);
      continue;
    }
    const key = `${rr.name.toLowerCase()}/${rr.type}/${rr.class}`;
    const set = byKey.get(key);
    if (set) {
      set.records.push(rr);
      set.ttl = Math.min(set.ttl, rr.ttl);
    } else {
      byKey.set(key, {
        name: rr.name,
        type: rr.type,
        class: rr.class,
        ttl: rr.ttl,
        records: [rr],
        signatures: [],
      });
    }
  }
  for (const sig of signatures) {
    const set = byKey.get(`${sig.name.toLowerCase()}/${coveredType(sig)}/${sig.class}`);
    if (set) set.signatures.push(sig);
    else strays.push(sig);
  }
  return { rrsets: [...byKey.values()], strays };
}

function nsTargets(ns: RRset): string[] {
  return ns.records.flatMap((rr) => rr.data.kind === "NS" ? [rr.data.target] : []);
}

// ---------------------------------------------------------------------------------------------
// The verdict.

/** Options for `checkReply`. */
export interface CheckOptions {
  /** Up to how many CNAMEs the answer section may chain (default 8). */
  maxCnames?: number;
}

/**
 * Checks `reply`, the answer of a server for `zone` to `question`, and says what it is and
 * what may be learnt from it (see the module comment). Never throws.
 */
export function checkReply(
  reply: Message,
  question: { name: string; type: number },
  zone: string,
  options: CheckOptions = {},
): CheckedReply {
  const scrub = new Scrub(question, zone);
  const rcode = reply.flags.rcode;
  if (rcode !== RCODE.NOERROR && rcode !== RCODE.NXDOMAIN) {
    return scrub.result("lame", { problem: `the server answered ${rcodeName(rcode)}` });
  }
  const aa = reply.flags.aa;
  const answers = scrub.section(reply.answers);
  const authority = scrub.section(reply.authorities);
  const additional = scrub.section(reply.additionals);

  // 1. The answer chain: CNAMEs from the question name, then the records asked for.
  const { chain, target, complete } = scrub.answerChain(answers, aa, options.maxCnames ?? 8);

  // 2. The SOA that says "no" (for the name where the chain ended), and NS records.
  const soa = authority.find((set) =>
    set.type === TYPE.SOA && inBailiwick(set.name, zone) && inBailiwick(target, set.name)
  );
  const nsSets = authority.filter((set) => set.type === TYPE.NS);
  const childNs = !soa && !complete
    ? nsSets.find((set) => strictlyBelow(set.name, zone) && inBailiwick(target, set.name))
    : undefined;
  const zoneNs = nsSets.find((set) => sameName(set.name, zone));
  // The child's DS at a referral is the parent's own (signed) data, as good as an answer.
  const childDs = childNs
    ? authority.find((set) => set.type === TYPE.DS && sameName(set.name, childNs.name))
    : undefined;
  const { kind, problem } = classify({
    complete,
    target,
    zone,
    rcode,
    chain,
    soa,
    childNs,
    aa,
    nsSets,
  });
  const authorityTrust = aa ? TRUST.AUTHORITATIVE_AUTHORITY : TRUST.AUTHORITY;
  if (soa && (kind === "nxdomain" || kind === "nodata")) scrub.used.add(soa);
  if (childNs) scrub.learn(childNs, "authority", TRUST.AUTHORITY);
  if (childDs && kind === "referral") scrub.learn(childDs, "authority", TRUST.ANSWER);
  if (zoneNs && kind !== "lame") scrub.learn(zoneNs, "authority", authorityTrust);
  const proofs = kind === "lame" ? [] : scrub.proofs(authority);
  scrub.dropUnused(authority, "needed for");

  // 3. Addresses of the name servers just named, inside the zone (glue).
  const nsAnswers = chain.filter((set) => set.type === TYPE.NS);
  const servers = [childNs, zoneNs, ...nsAnswers].flatMap((set) => set ? nsTargets(set) : []);
  const glue = scrub.glue(additional, servers, kind === "lame", childNs);

  return scrub.result(kind, {
    rrsets: kind === "lame" ? [] : scrub.learnt,
    answer: chain,
    target,
    referral: childNs && kind === "referral"
      ? { zone: childNs.name, ns: childNs, glue }
      : undefined,
    soa: kind === "nxdomain" || kind === "nodata" ? soa : undefined,
    proofs,
    problem,
  });
}

/**
 * What a reply is, from what its sections hold: an answer, a CNAME to follow elsewhere, a
 * negative answer, a referral down — or lame, with the reason.
 */
function classify(
  { complete, target, zone, rcode, chain, soa, childNs, aa, nsSets }: {
    complete: boolean;
    target: string;
    zone: string;
    rcode: number;
    chain: RRset[];
    soa: RRset | undefined;
    childNs: RRset | undefined;
    aa: boolean;
    nsSets: RRset[];
  },
): { kind: ReplyVerdict; problem?: string } {
  if (complete) return { kind: "answer" };
  // A chain that leaves the zone, or stops short without saying "no": the rest of the way
  // starts again at the target (from the cache or its own servers).
  if (!inBailiwick(target, zone)) return { kind: "cname" };
  if (rcode === RCODE.NXDOMAIN) return { kind: "nxdomain" };
  if (chain.length > 0) return { kind: soa ? "nodata" : "cname" };
  if (childNs) return { kind: "referral" };
  if (soa || (aa && nsSets.length === 0)) return { kind: "nodata" };
  const up = nsSets.find((set) => !strictlyBelow(set.name, zone));
  const problem = up
    ? `a referral to "${up.name}", which is not below "${zone}" (lame delegation)`
    : nsSets.length
    ? `a referral to "${nsSets[0].name}", which is not on the way to ${target}`
    : "an empty non-authoritative reply";
  return { kind: "lame", problem };
}

/** One reply being checked: what is learnt from it and what is dropped, with the reasons. */
class Scrub {
  readonly dropped: CheckedReply["dropped"] = [];
  readonly learnt: ReplyRRset[] = [];
  readonly used = new Set<RRset>();

  constructor(readonly question: { name: string; type: number }, readonly zone: string) {}

  result(kind: ReplyVerdict, rest: Partial<CheckedReply> = {}): CheckedReply {
    return {
      kind,
      rrsets: [],
      answer: [],
      target: this.question.name,
      proofs: [],
      dropped: this.dropped,
      ...rest,
    };
  }

  /** The zone's NSEC and NSEC3 RRsets among `authority` (DNSSEC proofs), marked as used. */
  proofs(authority: RRset[]): RRset[] {
    const proofs = authority.filter((set) =>
      (set.type === TYPE.NSEC || set.type === TYPE.NSEC3) && inBailiwick(set.name, this.zone)
    );
    for (const set of proofs) this.used.add(set);
    return proofs;
  }

  drop(set: RRset, reason: string): void {
    for (const record of [...set.records, ...set.signatures]) {
      this.dropped.push({ record, reason });
    }
  }

  learn(rrset: RRset, section: RecordSection, trust: number): void {
    this.learnt.push({ rrset, section, trust });
    this.used.add(rrset);
  }

  /** A section's RRsets of class IN (the rest, and RRSIGs without their RRset, dropped). */
  section(records: ResourceRecord[]): RRset[] {
    const { rrsets, strays } = groupRRsets(records);
    for (const record of strays) {
      this.dropped.push({ record, reason: "an RRSIG without its RRset" });
    }
    return rrsets.filter((set) => {
      if (set.class === CLASS.IN) return true;
      this.drop(set, `class ${set.class} is not IN`);
      return false;
    });
  }

  /** Drops every RRset of `sets` not learnt: outside the zone, or not `why` the question. */
  dropUnused(sets: RRset[], why: "part of the answer to" | "needed for"): void {
    const { question, zone } = this;
    for (const set of sets) {
      if (this.used.has(set)) continue;
      this.drop(
        set,
        inBailiwick(set.name, zone)
          ? `not ${why} ${question.name} ${typeName(question.type)}`
          : `${set.name} is outside "${zone}" (out of bailiwick)`,
      );
    }
  }

  /**
   * The answer chain: CNAMEs from the question name (at most `maxCnames`, while inside the
   * zone), then the records asked for. `complete` when it reached them.
   */
  answerChain(
    answers: RRset[],
    aa: boolean,
    maxCnames: number,
  ): { chain: RRset[]; target: string; complete: boolean } {
    const { question, zone } = this;
    const answerTrust = aa ? TRUST.AUTHORITATIVE_ANSWER : TRUST.ANSWER;
    const chain: RRset[] = [];
    let target = question.name;
    let complete = false;
    for (let hops = 0; hops <= maxCnames && inBailiwick(target, zone); hops++) {
      const at = answers.filter((set) => sameName(set.name, target));
      const direct = at.filter((set) => question.type === TYPE.ANY || set.type === question.type);
      if (direct.length > 0) {
        for (const set of direct) {
          chain.push(set);
          this.learn(set, "answer", answerTrust);
        }
        complete = true;
        break;
      }
      const cname = at.find((set) => set.type === TYPE.CNAME);
      const next = cname?.records[0]?.data;
      if (!cname || next?.kind !== "CNAME" || cname.records.length !== 1) break;
      chain.push(cname);
      this.learn(cname, "answer", answerTrust);
      if (chain.some((set) => sameName(set.name, next.target))) break; // a CNAME loop
      target = next.target;
    }
    this.dropUnused(answers, "part of the answer to");
    return { chain, target, complete };
  }

  /**
   * The addresses in ADDITIONAL of the name servers `servers`, inside the zone, learnt (unless
   * the reply is lame); returns those of the referral's servers (its glue).
   */
  glue(additional: RRset[], servers: string[], lame: boolean, childNs?: RRset): RRset[] {
    const zone = this.zone;
    const glue: RRset[] = [];
    for (const set of additional) {
      const address = set.type === TYPE.A || set.type === TYPE.AAAA;
      const named = servers.some((ns) => sameName(ns, set.name));
      if (address && named && inBailiwick(set.name, zone) && !lame) {
        this.learn(set, "additional", TRUST.ADDITIONAL);
        if (childNs && nsTargets(childNs).some((ns) => sameName(ns, set.name))) glue.push(set);
      } else {
        this.drop(
          set,
          !address || !named
            ? `not an address of a name server named here`
            : !inBailiwick(set.name, zone)
            ? `glue for ${set.name}, which is outside "${zone}" (out of bailiwick)`
            : "the reply is unusable",
        );
      }
    }
    return glue;
  }
}
