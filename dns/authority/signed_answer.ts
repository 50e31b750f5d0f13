/**
 * Signed answers: what an authoritative server adds to a response when the query sets DO=1 and
 * the zone is signed (RFC 4035 §3.1), the way NSD adds it.
 *
 * `dns/authority/authority.ts` decides the answer as for any query (the records, the rcode, a referral);
 * `addSignatures` then looks at what was decided and adds, without changing anything else:
 * - every RRset in every section gets the RRSIGs that cover it, with the RRset's TTL; an RRset
 *   synthesised from a wildcard gets the wildcard's RRSIGs (their Labels field says so) and the
 *   proof that no closer name exists (RFC 4035 §3.1.3.3);
 * - NXDOMAIN and NODATA get the NSEC or NSEC3 records that prove them (`dns/dnssec/denial.ts`), with
 *   their RRSIGs;
 * - a referral gets the child's DS RRset and its RRSIG, or the proof that there is no DS
 *   (an insecure delegation).
 * Pure: zone records in (indexed once), answers out.
 */
import { nameKey } from "../wire/names.ts";
import { RCODE, TYPE } from "../wire/constants.ts";
import { type ResourceRecord } from "../wire/rdata.ts";
import { DenialChain, wildcardOf } from "../dnssec/denial.ts";
import { parentName } from "../wire/names.ts";

/** What `addSignatures` reads and extends (the shape of `Answer` in `dns/authority/authority.ts`). */
export interface SignableAnswer {
  rcode: number;
  aa: boolean;
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  additionals: ResourceRecord[];
}

/** The DNSSEC side of one signed zone: RRSIGs by owner and covered type, names, the chain. */
export class SignedZone {
  readonly apex: string;
  /** owner key → covered type → RRSIG records. */
  readonly #signatures = new Map<string, Map<number, ResourceRecord[]>>();
  /** owner key → type → records (NSEC3 and RRSIG excluded). */
  readonly #rrsets = new Map<string, Map<number, ResourceRecord[]>>();
  /** Every name with data and every empty non-terminal above one. */
  readonly #existing = new Set<string>();
  readonly chain: DenialChain;

  private constructor(apex: string, records: readonly ResourceRecord[]) {
    this.apex = nameKey(apex);
    this.#existing.add(this.apex);
    for (const rr of records) {
      const key = nameKey(rr.name);
      if (rr.type === TYPE.RRSIG && rr.data.kind === "RRSIG") {
        push(this.#signatures, key, rr.data.typeCovered, rr);
        continue;
      }
      // NSEC3 records live at hashed names that are not part of the zone's name tree.
      if (rr.type === TYPE.NSEC3) continue;
      push(this.#rrsets, key, rr.type, rr);
      for (let k = key; k !== this.apex && k !== "."; k = parentName(k)) this.#existing.add(k);
    }
    this.chain = new DenialChain(apex, records);
  }

  /** The signed side of a zone, or undefined when the zone is not signed (no DNSKEY at apex). */
  static from(apex: string, records: readonly ResourceRecord[]): SignedZone | undefined {
    const key = nameKey(apex);
    const signed = records.some((rr) => rr.type === TYPE.DNSKEY && nameKey(rr.name) === key) &&
      records.some((rr) => rr.type === TYPE.RRSIG);
    return signed ? new SignedZone(apex, records) : undefined;
  }

  /** RRSIGs of `owner`/`type`, renamed to `as` and with `ttl`. */
  signaturesFor(owner: string, type: number, as: string, ttl: number): ResourceRecord[] {
    const list = this.#signatures.get(nameKey(owner))?.get(type);
    if (!list) return [];
    return list.map((rr) => ({ ...rr, name: as, ttl }));
  }

  /** The records of `owner`/`type` (empty when there are none). */
  records(owner: string, type: number): ResourceRecord[] {
    return this.#rrsets.get(nameKey(owner))?.get(type) ?? [];
  }

  /** True when `name` owns records (not counting empty non-terminals). */
  hasNode(name: string): boolean {
    return this.#rrsets.has(nameKey(name));
  }

  /** True when `name` owns `type`. */
  hasType(name: string, type: number): boolean {
    return this.#rrsets.get(nameKey(name))?.has(type) ?? false;
  }

  /** The closest existing ancestor of `name` (itself when it exists). */
  closestEncloser(name: string): string {
    let current = nameKey(name);
    while (!this.#existing.has(current) && current !== ".") current = parentName(current);
    return current;
  }

  /** True when `name` exists: it has data or data below it. */
  exists(name: string): boolean {
    return this.#existing.has(nameKey(name));
  }
}

function push(
  map: Map<string, Map<number, ResourceRecord[]>>,
  key: string,
  type: number,
  rr: ResourceRecord,
): void {
  let byType = map.get(key);
  if (!byType) map.set(key, byType = new Map());
  const list = byType.get(type);
  if (list) list.push(rr);
  else byType.set(type, [rr]);
}

type Section = ResourceRecord[];

/** Groups consecutive records of one owner and type. */
function rrsets(section: Section): Section[] {
  const out: Section[] = [];
  for (const rr of section) {
    const last = out.at(-1);
    if (last && last[0].type === rr.type && nameKey(last[0].name) === nameKey(rr.name)) {
      last.push(rr);
    } else {
      out.push([rr]);
    }
  }
  return out;
}

/** Adds `records` and the RRSIGs covering them (with their TTL) to `section`, once. */
function addSigned(zone: SignedZone, section: Section, records: ResourceRecord[]): void {
  for (const rr of records) {
    if (section.includes(rr)) continue;
    section.push(rr, ...zone.signaturesFor(rr.name, rr.type, rr.name, rr.ttl));
  }
}

/**
 * Rewrites a section with the RRSIGs after each RRset. A name the zone does not hold was
 * synthesised from a wildcard: its signatures come from the wildcard, and `onWildcard` is told.
 */
function signSection(
  zone: SignedZone,
  section: Section,
  onWildcard: (owner: string, encloser: string) => void,
): Section {
  const out: Section = [];
  for (const set of rrsets(section)) {
    out.push(...set);
    const { name, type, ttl } = set[0];
    if (type === TYPE.RRSIG || type === TYPE.OPT || !isInside(name, zone.apex)) continue;
    if (zone.hasNode(name)) {
      out.push(...zone.signaturesFor(name, type, name, ttl));
      continue;
    }
    // Not a name of the zone: the answer was synthesised from a wildcard.
    const encloser = zone.closestEncloser(name);
    const wildcard = wildcardOf(encloser);
    if (zone.hasType(wildcard, type)) {
      out.push(...zone.signaturesFor(wildcard, type, name, ttl));
      onWildcard(name, encloser);
    }
  }
  return out;
}

function isInside(name: string, apex: string): boolean {
  const key = nameKey(name);
  return apex === "." || key === apex || key.endsWith("." + apex);
}

/** The name the answer ends at: the question, or the last CNAME target in the zone. */
function finalName(qname: string, qtype: number, answers: Section): string {
  let current = qname;
  for (let hops = 0; hops < 16; hops++) {
    const cname = answers.find((rr) =>
      rr.type === TYPE.CNAME && rr.data.kind === "CNAME" && nameKey(rr.name) === nameKey(current)
    );
    if (!cname || qtype === TYPE.CNAME || cname.data.kind !== "CNAME") break;
    current = cname.data.target;
  }
  return current;
}

/**
 * Adds the DNSSEC records for a DO=1 query to an answer from `zone` (see the module comment).
 * `qname`/`qtype` are the question's.
 */
export function addSignatures(
  zone: SignedZone,
  qname: string,
  qtype: number,
  answer: SignableAnswer,
): void {
  const proofs: ResourceRecord[] = [];
  const onWildcard = (owner: string, encloser: string) => {
    for (const rr of zone.chain.proveWildcard(owner, encloser)) {
      if (!proofs.includes(rr)) proofs.push(rr);
    }
  };
  answer.answers = signSection(zone, answer.answers, onWildcard);

  const cut = answer.authorities.find((rr) =>
    rr.type === TYPE.NS && nameKey(rr.name) !== zone.apex
  );
  const negative = answer.rcode === RCODE.NXDOMAIN ||
    (answer.rcode === RCODE.NOERROR && answer.aa &&
      answer.authorities.some((rr) => rr.type === TYPE.SOA));
  const authorities = signSection(zone, answer.authorities, onWildcard);
  if (cut) {
    // A referral: the child's DS, or the proof that it has none.
    const ds = zone.records(cut.name, TYPE.DS);
    addSigned(zone, authorities, ds.length ? ds : zone.chain.proveNoDs(cut.name));
  } else if (negative) {
    const name = finalName(qname, qtype, answer.answers);
    const encloser = zone.closestEncloser(name);
    let denial: ResourceRecord[];
    if (answer.rcode === RCODE.NXDOMAIN) {
      denial = zone.chain.proveNxdomain(name, encloser);
    } else if (zone.exists(name)) {
      denial = zone.chain.proveNodata(name);
    } else {
      denial = zone.chain.proveWildcardNodata(name, encloser);
    }
    addSigned(zone, authorities, denial);
  }
  addSigned(zone, authorities, proofs);
  answer.authorities = authorities;
  answer.additionals = signSection(zone, answer.additionals, () => {});
}
