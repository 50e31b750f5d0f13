/**
 * What an authoritative server answers (`dns/server.ts`), pure: its zones plus a question in,
 * the answer's sections and rcode out. Tests drive it directly.
 *
 * Theory of operation (RFC 1034 4.3.2, simplified for an authoritative-only server)
 * 1. Pick the loaded zone with the longest apex that encloses the question name; none →
 *    REFUSED (we are not a resolver and answer for nobody else).
 * 2. Walk from the apex down towards the name: the first delegation (NS below the apex) makes
 *    the answer a referral — NS in AUTHORITY, glue A/AAAA in ADDITIONAL, AA clear.
 * 3. The name exists: the asked RRset (AA set), or its CNAME followed inside the zone (at most
 *    `MAX_CNAME_CHAIN` links, loops stop), or NODATA (NOERROR, SOA in AUTHORITY). ANY is
 *    answered minimally with one RRset (RFC 8482).
 * 4. The name does not exist: an empty non-terminal (a name with data only below it) is NODATA;
 *    else a wildcard `*.<closest encloser>` synthesises the answer (RFC 4592); else NXDOMAIN
 *    with the SOA.
 * 5. A/AAAA for NS, MX and SRV targets we hold go into ADDITIONAL.
 * Owner names echo the question's spelling (case); everything else keeps the zone's.
 *
 * `authority/respond.ts` wraps this in the wire rules (query bytes in, reply bytes out), and
 * `authority/response_cache.ts` keeps the encoded answers to well-formed questions.
 */
import { RCODE, TYPE } from "../wire/constants.ts";
import { type Question } from "../wire/message.ts";
import { nameKey, parentName } from "../wire/names.ts";
import { type ResourceRecord } from "../wire/rdata.ts";
import type { Zone } from "../zone/parse.ts";
import { addSignatures, SignedZone } from "./signed_answer.ts";

/** Longest CNAME chain followed inside our zones. */
export const MAX_CNAME_CHAIN = 8;

/** What the lookup decided, before the wire rules. */
export interface Answer {
  rcode: number;
  aa: boolean;
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  additionals: ResourceRecord[];
}

type Node = Map<number, ResourceRecord[]>;

interface ZoneData {
  apex: string; // lowercase key
  soa: ResourceRecord;
  nodes: Map<string, Node>;
  /** Every name with data, and every name between such a name and the apex (ENTs). */
  existing: Set<string>;
  /** Delegation points (names below the apex with NS). */
  cuts: Set<string>;
  /** The zone's signatures and NSEC/NSEC3 chain, when it is signed (DO=1 answers). */
  signed?: SignedZone;
}

function withName(rr: ResourceRecord, name: string): ResourceRecord {
  return rr.name === name
    ? rr
    : { name, type: rr.type, class: rr.class, ttl: rr.ttl, data: rr.data };
}

/** The zones one server answers for, indexed for lookups. */
export class Authority {
  readonly #zones = new Map<string, ZoneData>();

  /** Indexes `zones`; throws RangeError when two zones have the same apex. */
  constructor(zones: Zone[]) {
    for (const zone of zones) {
      const apex = nameKey(zone.origin);
      if (this.#zones.has(apex)) throw new RangeError(`Zone "${zone.origin}" is loaded twice`);
      const data: ZoneData = {
        apex,
        soa: zone.records.find((rr) => rr.type === TYPE.SOA)!,
        nodes: new Map(),
        existing: new Set([apex]),
        cuts: new Set(),
        signed: SignedZone.from(zone.origin, zone.records),
      };
      if (!data.soa) throw new RangeError(`Zone "${zone.origin}" has no SOA record`);
      for (const rr of zone.records) {
        const key = nameKey(rr.name);
        let node = data.nodes.get(key);
        if (!node) data.nodes.set(key, node = new Map());
        const rrset = node.get(rr.type);
        if (rrset) rrset.push(rr);
        else node.set(rr.type, [rr]);
        if (rr.type === TYPE.NS && key !== apex) data.cuts.add(key);
        for (let k = key; k !== apex && k !== "."; k = parentName(k)) data.existing.add(k);
      }
      this.#zones.set(apex, data);
    }
  }

  /** The apexes served, as loaded. */
  get origins(): string[] {
    return [...this.#zones.values()].map((z) => z.soa.name);
  }

  #zoneFor(key: string): ZoneData | undefined {
    for (let k = key;; k = parentName(k)) {
      const zone = this.#zones.get(k);
      if (zone) return zone;
      if (k === ".") return undefined;
    }
  }

  /**
   * Answers one question (class IN assumed) from the zone data; REFUSED outside our zones. With
   * `dnssec` (the query's DO bit) a signed zone adds its RRSIGs and denial proofs.
   */
  answer(question: Question, { dnssec = false }: { dnssec?: boolean } = {}): Answer {
    const result: Answer = {
      rcode: RCODE.NOERROR,
      aa: true,
      answers: [],
      authorities: [],
      additionals: [],
    };
    const key = nameKey(question.name);
    const zone = this.#zoneFor(key);
    if (!zone) {
      result.rcode = RCODE.REFUSED;
      result.aa = false;
      return result;
    }
    this.#resolve(zone, question.name, key, question.type, result, new Set());
    this.#addAdditional(result);
    if (dnssec && zone.signed) addSignatures(zone.signed, question.name, question.type, result);
    return result;
  }

  #negative(zone: ZoneData, result: Answer, rcode: number): void {
    const soa = zone.soa;
    const minimum = soa.data.kind === "SOA" ? soa.data.minimum : soa.ttl;
    result.rcode = rcode;
    result.authorities.push({ ...soa, ttl: Math.min(soa.ttl, minimum) });
  }

  #resolve(
    zone: ZoneData,
    owner: string,
    key: string,
    qtype: number,
    result: Answer,
    visited: Set<string>,
  ): void {
    visited.add(key);
    // 2. A delegation on the way down: the topmost cut at or above the name wins.
    if (zone.cuts.size) {
      let cut: string | undefined;
      for (let k = key; k !== zone.apex && k !== "."; k = parentName(k)) {
        // DS belongs to the parent side of a cut (RFC 4035 §3.1.4.1).
        if (zone.cuts.has(k) && !(k === key && qtype === TYPE.DS)) cut = k;
      }
      if (cut !== undefined) {
        if (result.answers.length === 0) result.aa = false;
        const ns = zone.nodes.get(cut)!.get(TYPE.NS)!;
        result.authorities.push(...ns);
        for (const rr of ns) {
          if (rr.data.kind === "NS") this.#addAddresses(zone, rr.data.target, result, true);
        }
        return;
      }
    }
    let node = zone.nodes.get(key);
    if (!node) {
      if (zone.existing.has(key)) {
        this.#negative(zone, result, RCODE.NOERROR); // 4. empty non-terminal: NODATA
        return;
      }
      let encloser = parentName(key);
      while (!zone.existing.has(encloser)) encloser = parentName(encloser);
      node = zone.nodes.get(encloser === "." ? "*." : `*.${encloser}`);
      if (!node) {
        this.#negative(zone, result, RCODE.NXDOMAIN);
        return;
      }
    }
    // 3. The name (or its wildcard) exists.
    if (qtype === TYPE.ANY) {
      const first = node.values().next().value!;
      for (const rr of first) result.answers.push(withName(rr, owner));
      return;
    }
    const rrset = node.get(qtype);
    if (rrset) {
      for (const rr of rrset) result.answers.push(withName(rr, owner));
      return;
    }
    const cname = node.get(TYPE.CNAME);
    if (cname && cname[0].data.kind === "CNAME") {
      result.answers.push(withName(cname[0], owner));
      const target = cname[0].data.target;
      const targetKey = nameKey(target);
      const inZone = this.#zoneFor(targetKey) === zone;
      if (inZone && !visited.has(targetKey) && visited.size < MAX_CNAME_CHAIN) {
        this.#resolve(zone, target, targetKey, qtype, result, visited);
      }
      return;
    }
    this.#negative(zone, result, RCODE.NOERROR);
  }

  /** A/AAAA of `target` if we hold it (glue included when `glue`), once. */
  #addAddresses(zone: ZoneData | undefined, target: string, result: Answer, glue: boolean): void {
    const key = nameKey(target);
    zone ??= this.#zoneFor(key);
    if (!zone) return;
    if (!glue) {
      for (let k = key; k !== zone.apex && k !== "."; k = parentName(k)) {
        if (zone.cuts.has(k)) return; // below a cut: not ours to answer with
      }
    }
    const node = zone.nodes.get(key);
    if (!node) return;
    for (const type of [TYPE.A, TYPE.AAAA]) {
      const rrset = node.get(type);
      if (!rrset) continue;
      const present = [...result.answers, ...result.additionals].some((rr) =>
        rr.type === type && nameKey(rr.name) === key
      );
      if (!present) result.additionals.push(...rrset);
    }
  }

  #addAdditional(result: Answer): void {
    for (const rr of result.answers) {
      const d = rr.data;
      const target = d.kind === "NS" || d.kind === "SRV"
        ? d.target
        : d.kind === "MX"
        ? d.exchange
        : undefined;
      if (target !== undefined) this.#addAddresses(undefined, target, result, false);
    }
  }
}
