/**
 * What a reply from a server for zone Z may teach a resolver — the lesson of 2008's cache
 * poisoning. Pure: a decoded reply in, a verdict out.
 *
 * A server answers for its own zone and nothing else: `cnblogs.com.`'s server may say what
 * `www.cnblogs.com.` is, but not what `com.` or `bank.com.` are. Before 2008 many resolvers
 * cached whatever a reply carried, so anyone who could get one forged reply accepted could plant
 * an address for a whole TLD (Kaminsky's attack). The transport already makes forging hard
 * (random ID and source port, dns/transport.ts); this module makes a forged or malicious reply
 * worth little: every record is checked against the zone the server was asked about (its
 * *bailiwick*) and the question, and everything else is dropped, with the reason.
 *
 * Rules (after unbound's scrubber, RFC 2181 §5.4.1):
 * - ANSWER: only the chain from the question name — CNAMEs, then the records asked for — and
 *   only while the chain stays inside the zone. A CNAME to another zone ends what this server
 *   may say: the target is resolved separately, from its own servers.
 * - AUTHORITY: NS for the zone itself or for a child zone on the way to the question name (a
 *   referral must lead strictly downwards), and the SOA of the zone that says "no".
 * - ADDITIONAL: addresses of those name servers only, and only inside the zone (glue).
 * - An rcode other than NOERROR/NXDOMAIN, a referral up or sideways, or an empty
 *   non-authoritative reply makes the server *lame* for this question.
 *
 * Names are compared label by label, so `evil\.cnblogs.com.` (one label "evil.cnblogs" under
 * `com.`) is not inside `cnblogs.com.`.
 */
import { CLASS, RCODE, TYPE, typeName } from "../wire/constants.ts";
import { type Message } from "../wire/message.ts";
import { type ResourceRecord } from "../wire/rdata.ts";
import { type RRset, TRUST } from "./cache.ts";

/** The RRSIG type (DNSSEC); its records travel with the RRset they sign. */
export const TYPE_RRSIG = 46;

/** Where in a reply a record was. */
export type Section = "answer" | "authority" | "additional";

/** An RRset a reply may teach, with where it came from and how far it is trusted. */
export interface ReplyRRset {
  rrset: RRset;
  section: Section;
  trust: number;
}

/** What a reply is, for the question asked. */
export type ReplyKind = "answer" | "cname" | "referral" | "nxdomain" | "nodata" | "lame";

/** The verdict on one reply. */
export interface CheckedReply {
  kind: ReplyKind;
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
  /** Why the reply is unusable ("lame"). */
  problem?: string;
  /** Records thrown away, each with the reason. */
  dropped: { record: ResourceRecord; reason: string }[];
}

// ---------------------------------------------------------------------------------------------
// Names, label by label.

/** Index of the dot that ends the first label of `name` (escapes honoured), or -1 for the root. */
function firstLabelEnd(name: string): number {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 92) i++; // `\.` or the first digit of `\DDD`: never a separator
    else if (c === 46) return i;
  }
  return -1;
}

/** The parent of a name: `www.cnblogs.com.` → `cnblogs.com.`, `com.` → `.`. */
export function parentName(name: string): string {
  if (name === ".") return ".";
  const end = firstLabelEnd(name);
  return end < 0 || end + 1 >= name.length ? "." : name.slice(end + 1);
}

/** How many labels a name has (the root has 0). */
export function labelCount(name: string): number {
  if (name === ".") return 0;
  let count = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 92) i++; // an escape: never a separator
    else if (c === 46) count++;
  }
  return name.endsWith(".") ? count : count + 1;
}

/** The last `count` labels of `name`: (`a.b.c.`, 2) → `b.c.`. */
export function lastLabels(name: string, count: number): string {
  let drop = labelCount(name) - count;
  if (drop <= 0) return name;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 92) i++;
    else if (c === 46 && --drop === 0) return i + 1 >= name.length ? "." : name.slice(i + 1);
  }
  return ".";
}

/** `name`, its parent, … up to the root: `a.b.` → `a.b.`, `b.`, `.`. */
export function ancestors(name: string): string[] {
  const out = [name];
  for (let n = name; n !== "."; n = parentName(n)) out.push(parentName(n));
  return out;
}

/** True when two names are equal up to ASCII case. */
export function sameName(a: string, b: string): boolean {
  return a === b || (a.length === b.length && a.toLowerCase() === b.toLowerCase());
}

/**
 * True when `name` is `zone` or below it, compared label by label (case-insensitive): the text
 * before the zone must end with a real dot, not an escaped one.
 */
export function inBailiwick(name: string, zone: string): boolean {
  if (zone === ".") return true;
  if (name.length < zone.length) return false;
  const n = name.toLowerCase();
  const z = zone.toLowerCase();
  if (n === z) return true;
  const dot = n.length - z.length - 1;
  if (dot < 0 || n.charCodeAt(dot) !== 46 || !n.endsWith(z)) return false;
  let backslashes = 0;
  for (let i = dot - 1; i >= 0 && n.charCodeAt(i) === 92; i--) backslashes++;
  return backslashes % 2 === 0;
}

/** True when `name` is strictly below `zone`. */
export function strictlyBelow(name: string, zone: string): boolean {
  return inBailiwick(name, zone) && !sameName(name, zone);
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

function rcodeText(rcode: number): string {
  const names: Record<number, string> = {
    1: "FORMERR",
    2: "SERVFAIL",
    4: "NOTIMP",
    5: "REFUSED",
  };
  return names[rcode] ?? `rcode ${rcode}`;
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
  const dropped: CheckedReply["dropped"] = [];
  const drop = (set: RRset, reason: string) => {
    for (const record of [...set.records, ...set.signatures]) dropped.push({ record, reason });
  };
  const result = (
    kind: ReplyKind,
    rest: Partial<CheckedReply> = {},
  ): CheckedReply => ({
    kind,
    rrsets: [],
    answer: [],
    target: question.name,
    dropped,
    ...rest,
  });
  const rcode = reply.flags.rcode;
  if (rcode !== RCODE.NOERROR && rcode !== RCODE.NXDOMAIN) {
    return result("lame", { problem: `the server answered ${rcodeText(rcode)}` });
  }
  const sections = (records: ResourceRecord[]) => {
    const { rrsets, strays } = groupRRsets(records);
    for (const record of strays) dropped.push({ record, reason: "an RRSIG without its RRset" });
    return rrsets.filter((set) => {
      if (set.class === CLASS.IN) return true;
      drop(set, `class ${set.class} is not IN`);
      return false;
    });
  };
  const answers = sections(reply.answers);
  const authority = sections(reply.authorities);
  const additional = sections(reply.additionals);
  const aa = reply.flags.aa;
  const learnt: ReplyRRset[] = [];
  const used = new Set<RRset>();
  const learn = (rrset: RRset, section: Section, trust: number) => {
    learnt.push({ rrset, section, trust });
    used.add(rrset);
  };

  // 1. The answer chain: CNAMEs from the question name, then the records asked for.
  const answerTrust = aa ? TRUST.AUTHORITATIVE_ANSWER : TRUST.ANSWER;
  const chain: RRset[] = [];
  const maxCnames = options.maxCnames ?? 8;
  let target = question.name;
  let complete = false;
  for (let hops = 0; hops <= maxCnames && inBailiwick(target, zone); hops++) {
    const at = answers.filter((set) => sameName(set.name, target));
    const direct = at.filter((set) => question.type === TYPE.ANY || set.type === question.type);
    if (direct.length > 0) {
      for (const set of direct) {
        chain.push(set);
        learn(set, "answer", answerTrust);
      }
      complete = true;
      break;
    }
    const cname = at.find((set) => set.type === TYPE.CNAME);
    const next = cname?.records[0]?.data;
    if (!cname || next?.kind !== "CNAME" || cname.records.length !== 1) break;
    chain.push(cname);
    learn(cname, "answer", answerTrust);
    if (chain.some((set) => sameName(set.name, next.target))) break; // a CNAME loop
    target = next.target;
  }
  for (const set of answers) {
    if (used.has(set)) continue;
    drop(
      set,
      inBailiwick(set.name, zone)
        ? `not part of the answer to ${question.name} ${typeName(question.type)}`
        : `${set.name} is outside "${zone}" (out of bailiwick)`,
    );
  }

  // 2. The SOA that says "no" (for the name where the chain ended), and NS records.
  const soa = authority.find((set) =>
    set.type === TYPE.SOA && inBailiwick(set.name, zone) && inBailiwick(target, set.name)
  );
  const nsSets = authority.filter((set) => set.type === TYPE.NS);
  const childNs = !soa && !complete
    ? nsSets.find((set) => strictlyBelow(set.name, zone) && inBailiwick(target, set.name))
    : undefined;
  const zoneNs = nsSets.find((set) => sameName(set.name, zone));

  let kind: ReplyKind;
  let problem: string | undefined;
  if (complete) kind = "answer";
  // A chain that leaves the zone, or stops short without saying "no": the rest of the way
  // starts again at the target (from the cache or its own servers).
  else if (!inBailiwick(target, zone)) kind = "cname";
  else if (rcode === RCODE.NXDOMAIN) kind = "nxdomain";
  else if (chain.length > 0) kind = soa ? "nodata" : "cname";
  else if (childNs) kind = "referral";
  else if (soa || (aa && nsSets.length === 0)) kind = "nodata";
  else {
    kind = "lame";
    const up = nsSets.find((set) => !strictlyBelow(set.name, zone));
    problem = up
      ? `a referral to "${up.name}", which is not below "${zone}" (lame delegation)`
      : nsSets.length
      ? `a referral to "${nsSets[0].name}", which is not on the way to ${target}`
      : "an empty non-authoritative reply";
  }

  const authorityTrust = aa ? TRUST.AUTHORITATIVE_AUTHORITY : TRUST.AUTHORITY;
  if (soa && (kind === "nxdomain" || kind === "nodata")) used.add(soa);
  if (childNs) learn(childNs, "authority", TRUST.AUTHORITY);
  if (zoneNs && kind !== "lame") learn(zoneNs, "authority", authorityTrust);
  for (const set of authority) {
    if (used.has(set)) continue;
    drop(
      set,
      !inBailiwick(set.name, zone)
        ? `${set.name} is outside "${zone}" (out of bailiwick)`
        : `not needed for ${question.name} ${typeName(question.type)}`,
    );
  }

  // 3. Addresses of the name servers just named, inside the zone (glue).
  const nsAnswers = chain.filter((set) => set.type === TYPE.NS);
  const servers = [childNs, zoneNs, ...nsAnswers].flatMap((set) => set ? nsTargets(set) : []);
  const glue: RRset[] = [];
  for (const set of additional) {
    const address = set.type === TYPE.A || set.type === TYPE.AAAA;
    const named = servers.some((ns) => sameName(ns, set.name));
    if (address && named && inBailiwick(set.name, zone) && kind !== "lame") {
      learn(set, "additional", TRUST.ADDITIONAL);
      if (childNs && nsTargets(childNs).some((ns) => sameName(ns, set.name))) glue.push(set);
    } else {
      drop(
        set,
        !address || !named
          ? `not an address of a name server named here`
          : !inBailiwick(set.name, zone)
          ? `glue for ${set.name}, which is outside "${zone}" (out of bailiwick)`
          : "the reply is unusable",
      );
    }
  }

  return result(kind, {
    rrsets: kind === "lame" ? [] : learnt,
    answer: chain,
    target,
    referral: childNs && kind === "referral"
      ? { zone: childNs.name, ns: childNs, glue }
      : undefined,
    soa: kind === "nxdomain" || kind === "nodata" ? soa : undefined,
    problem,
  });
}
