/**
 * Checking denial-of-existence proofs (RFC 4035 §5.4, RFC 5155 §8): given NSEC or NSEC3 records
 * whose signatures are already verified, do they prove that a name does not exist (NXDOMAIN),
 * that it has no records of a type (NODATA), that a delegation has no DS (an insecure child), or
 * that a wildcard answer had no closer match? The other side of `dns/dnssec/denial.ts`, which picks the
 * records on the server. Pure; every "no" is a `ValidationFailure` saying what is missing.
 *
 * NSEC: a record *matches* a name it owns and *covers* one between its owner and next name in
 * canonical order. NSEC3 does the same over hashes, and needs the closest-encloser proof: the
 * nearest existing ancestor (matched) and the "next closer" name below it (covered).
 */
import { isSubdomain, nameKey } from "../wire/names.ts";
import { type ResourceRecord } from "../wire/rdata.ts";
import { TYPE, typeName } from "../wire/constants.ts";
import { compareNames } from "../wire/canonical.ts";
import { fromBase32Hex, type Nsec3Data, type NsecData, toBase32Hex } from "../wire/dnssec_rdata.ts";
import { nsec3Hash } from "./crypto.ts";
import { nextCloser, wildcardOf } from "./denial.ts";
import { parentName } from "../wire/names.ts";
import { ValidationFailure } from "./validate.ts";
import { EDE } from "../wire/ede.ts";

/** NSEC3 iterations above this are not worth the CPU: treated as insecure (RFC 9276 §3.2). */
export const MAX_NSEC3_ITERATIONS = 150;

/** What a proof showed, for explanations; `optOut` when an opt-out NSEC3 carried it. */
export interface Denial {
  how: string;
  optOut: boolean;
}

function missing(what: string): ValidationFailure {
  return new ValidationFailure(what, EDE.NSEC_MISSING);
}

// ---------------------------------------------------------------------------------------------
// NSEC

interface Nsec {
  owner: string;
  data: NsecData;
}

function nsecsOf(records: readonly ResourceRecord[]): Nsec[] {
  return records.flatMap((rr) =>
    rr.data.kind === "NSEC" ? [{ owner: rr.name, data: rr.data }] : []
  );
}

function covers(n: Nsec, name: string): boolean {
  const afterOwner = compareNames(n.owner, name) < 0;
  const beforeNext = compareNames(name, n.data.nextName) < 0;
  // The last NSEC of the ring points back at the apex.
  return compareNames(n.owner, n.data.nextName) < 0 ? afterOwner && beforeNext : afterOwner;
}

function types(list: readonly number[]): string {
  return list.map(typeName).join(" ") || "nothing";
}

/** The deepest common ancestor of `name` with the NSEC's owner or next name. */
function encloserFromNsec(n: Nsec, name: string): string {
  const common = (a: string, b: string) => {
    let x = nameKey(a);
    while (!isSubdomain(b, x)) x = parentName(x);
    return x;
  };
  const a = common(n.owner, name);
  const b = common(n.data.nextName, name);
  return a.length >= b.length ? a : b;
}

function nsecNxdomain(name: string, nsecs: Nsec[]): Denial {
  const cover = nsecs.find((n) => covers(n, name));
  if (!cover) throw missing(`no NSEC proves that ${name} does not exist`);
  const encloser = encloserFromNsec(cover, name);
  const wildcard = wildcardOf(encloser);
  if (nsecs.some((n) => nameKey(n.owner) === nameKey(wildcard))) {
    throw new ValidationFailure(
      `NXDOMAIN for ${name}, but NSEC shows ${wildcard} exists`,
      EDE.DNSSEC_BOGUS,
    );
  }
  const wildcardCover = nsecs.find((n) => covers(n, wildcard));
  if (!wildcardCover) throw missing(`no NSEC proves that ${wildcard} does not exist`);
  return {
    how: `NSEC ${cover.owner} → ${cover.data.nextName} covers ${name}; ` +
      `NSEC ${wildcardCover.owner} → ${wildcardCover.data.nextName} covers ${wildcard}`,
    optOut: false,
  };
}

function nsecNodata(name: string, type: number, nsecs: Nsec[]): Denial {
  const match = nsecs.find((n) => nameKey(n.owner) === nameKey(name));
  if (match) {
    const t = match.data.types;
    if (t.includes(type)) {
      throw new ValidationFailure(
        `NSEC at ${name} lists ${typeName(type)}, yet none was given`,
        EDE.DNSSEC_BOGUS,
      );
    }
    if (t.includes(TYPE.CNAME)) {
      throw new ValidationFailure(
        `NSEC at ${name} lists CNAME, yet none was given`,
        EDE.DNSSEC_BOGUS,
      );
    }
    return { how: `NSEC at ${name} lists ${types(t)}: no ${typeName(type)}`, optOut: false };
  }
  const ent = nsecs.find((n) => covers(n, name) && isSubdomain(n.data.nextName, name));
  if (ent) {
    return {
      how: `${name} is an empty non-terminal (NSEC ${ent.owner} → ${ent.data.nextName})`,
      optOut: false,
    };
  }
  const cover = nsecs.find((n) => covers(n, name));
  if (cover) {
    const wildcard = wildcardOf(encloserFromNsec(cover, name));
    const wild = nsecs.find((n) => nameKey(n.owner) === nameKey(wildcard));
    if (wild && !wild.data.types.includes(type) && !wild.data.types.includes(TYPE.CNAME)) {
      return {
        how: `NSEC ${cover.owner} covers ${name}; the wildcard ${wildcard} lists ${
          types(wild.data.types)
        }`,
        optOut: false,
      };
    }
  }
  throw missing(`no NSEC proves that ${name} has no ${typeName(type)}`);
}

function nsecNoDs(cut: string, nsecs: Nsec[]): Denial {
  const match = nsecs.find((n) => nameKey(n.owner) === nameKey(cut));
  if (!match) throw missing(`no NSEC proves that ${cut} has no DS`);
  const t = match.data.types;
  if (t.includes(TYPE.DS)) {
    throw new ValidationFailure(
      `the NSEC at ${cut} says it has a DS, but no DS was given`,
      EDE.DNSSEC_BOGUS,
    );
  }
  if (!t.includes(TYPE.NS) || t.includes(TYPE.SOA)) {
    throw new ValidationFailure(
      `the NSEC at ${cut} (${types(t)}) is not a delegation's`,
      EDE.DNSSEC_BOGUS,
    );
  }
  return { how: `NSEC at ${cut} lists ${types(t)}: a delegation without DS`, optOut: false };
}

// ---------------------------------------------------------------------------------------------
// NSEC3

interface Nsec3 {
  hash: string; // base32hex, upper case
  data: Nsec3Data;
  next: string;
}

function nsec3sOf(records: readonly ResourceRecord[], zone: string): Nsec3[] {
  const out: Nsec3[] = [];
  for (const rr of records) {
    if (rr.data.kind !== "NSEC3" || rr.data.hashAlgorithm !== 1) continue;
    const dot = rr.name.indexOf(".");
    if (nameKey(rr.name.slice(dot + 1) || ".") !== nameKey(zone)) continue;
    try {
      fromBase32Hex(rr.name.slice(0, dot));
    } catch {
      continue;
    }
    out.push({
      hash: rr.name.slice(0, dot).toUpperCase(),
      data: rr.data,
      next: toBase32Hex(rr.data.nextHashed),
    });
  }
  return out;
}

class Nsec3Set {
  readonly #hashes = new Map<string, string>();
  constructor(readonly records: Nsec3[]) {
    const first = records[0]?.data;
    if (first && first.iterations > MAX_NSEC3_ITERATIONS) {
      throw new ValidationFailure(
        `NSEC3 with ${first.iterations} iterations (over ${MAX_NSEC3_ITERATIONS}): treated as unsigned`,
        EDE.UNSUPPORTED_DNSKEY_ALGORITHM,
        "insecure",
      );
    }
  }
  hash(name: string): string {
    let h = this.#hashes.get(name);
    if (!h) {
      const p = this.records[0].data;
      h = toBase32Hex(nsec3Hash(name, p.salt, p.iterations));
      this.#hashes.set(name, h);
    }
    return h;
  }
  match(name: string): Nsec3 | undefined {
    const h = this.hash(name);
    return this.records.find((r) => r.hash === h);
  }
  cover(name: string): Nsec3 | undefined {
    const h = this.hash(name);
    return this.records.find((r) =>
      r.hash < r.next ? r.hash < h && h < r.next : h > r.hash || h < r.next
    );
  }
  /** RFC 5155 §8.3: the closest encloser (matched) and the next closer name (covered). */
  closestEncloser(name: string, zone: string): { encloser: string; closer: Nsec3; name: string } {
    let child = name;
    for (let n = parentName(name);; n = parentName(n)) {
      if (this.match(n)) {
        const closer = this.cover(child);
        if (!closer) throw missing(`no NSEC3 covers the next closer name ${child}`);
        return { encloser: n, closer, name: child };
      }
      if (nameKey(n) === nameKey(zone) || n === ".") break;
      child = n;
    }
    throw missing(`no NSEC3 proves the closest encloser of ${name}`);
  }
}

function nsec3Nxdomain(name: string, set: Nsec3Set, zone: string): Denial {
  if (set.match(name)) {
    throw new ValidationFailure(`NXDOMAIN for ${name}, but an NSEC3 matches it`, EDE.DNSSEC_BOGUS);
  }
  const ce = set.closestEncloser(name, zone);
  const wildcard = wildcardOf(ce.encloser);
  const wc = set.cover(wildcard);
  if (!wc) throw missing(`no NSEC3 proves that ${wildcard} does not exist`);
  return {
    how: `NSEC3: closest encloser ${ce.encloser}, next closer ${ce.name} covered, ` +
      `${wildcard} covered`,
    optOut: (ce.closer.data.flags & 1) === 1,
  };
}

function nsec3Nodata(name: string, type: number, set: Nsec3Set, zone: string): Denial {
  const match = set.match(name);
  if (match) {
    const t = match.data.types;
    if (t.includes(type) || t.includes(TYPE.CNAME)) {
      throw new ValidationFailure(
        `NSEC3 for ${name} lists ${
          t.includes(type) ? typeName(type) : "CNAME"
        }, yet none was given`,
        EDE.DNSSEC_BOGUS,
      );
    }
    if (type === TYPE.DS && t.includes(TYPE.NS) && !t.includes(TYPE.SOA)) {
      return { how: `NSEC3 for ${name} lists ${types(t)}: a delegation without DS`, optOut: false };
    }
    return { how: `NSEC3 for ${name} lists ${types(t)}: no ${typeName(type)}`, optOut: false };
  }
  const ce = set.closestEncloser(name, zone);
  const optOut = (ce.closer.data.flags & 1) === 1;
  if (type === TYPE.DS && optOut) {
    return {
      how: `NSEC3 opt-out: closest encloser ${ce.encloser}, ${ce.name} covered by an opt-out NSEC3`,
      optOut: true,
    };
  }
  const wildcard = set.match(wildcardOf(ce.encloser));
  if (
    wildcard && !wildcard.data.types.includes(type) && !wildcard.data.types.includes(TYPE.CNAME)
  ) {
    return {
      how: `NSEC3: closest encloser ${ce.encloser}, the wildcard lists ${
        types(wildcard.data.types)
      }`,
      optOut,
    };
  }
  throw missing(`no NSEC3 proves that ${name} has no ${typeName(type)}`);
}

// ---------------------------------------------------------------------------------------------
// The entry points: records (already verified) in, a `Denial` or a `ValidationFailure` out.

function chooser(records: readonly ResourceRecord[], zone: string) {
  const nsec3 = nsec3sOf(records, zone);
  return nsec3.length ? { nsec3: new Nsec3Set(nsec3) } : { nsec: nsecsOf(records) };
}

/** `name` does not exist in `zone`. */
export function checkNxdomain(
  records: readonly ResourceRecord[],
  name: string,
  zone: string,
): Denial {
  const c = chooser(records, zone);
  return c.nsec3 ? nsec3Nxdomain(name, c.nsec3, zone) : nsecNxdomain(name, c.nsec!);
}

/** `name` exists (or is a wildcard match) but has no `type`. */
export function checkNodata(
  records: readonly ResourceRecord[],
  name: string,
  type: number,
  zone: string,
): Denial {
  const c = chooser(records, zone);
  return c.nsec3 ? nsec3Nodata(name, type, c.nsec3, zone) : nsecNodata(name, type, c.nsec!);
}

/** The delegation `cut` in `zone` has no DS: the child is unsigned (insecure). */
export function checkNoDs(records: readonly ResourceRecord[], cut: string, zone: string): Denial {
  const c = chooser(records, zone);
  return c.nsec3 ? nsec3Nodata(cut, TYPE.DS, c.nsec3, zone) : nsecNoDs(cut, c.nsec!);
}

/** An answer for `name` was expanded from `wildcard`: no closer name may exist. */
export function checkWildcard(
  records: readonly ResourceRecord[],
  name: string,
  wildcard: string,
  zone: string,
): Denial {
  const encloser = parentName(wildcard);
  const c = chooser(records, zone);
  if (c.nsec3) {
    const closer = nextCloser(name, encloser);
    const cover = c.nsec3.cover(closer);
    if (!cover) throw missing(`no NSEC3 proves that ${closer} does not exist (wildcard answer)`);
    return { how: `NSEC3 covers ${closer}: the answer came from ${wildcard}`, optOut: false };
  }
  const cover = c.nsec!.find((n) => covers(n, name));
  if (!cover) throw missing(`no NSEC proves that ${name} does not exist (wildcard answer)`);
  return {
    how:
      `NSEC ${cover.owner} → ${cover.data.nextName} covers ${name}: the answer came from ${wildcard}`,
    optOut: false,
  };
}
