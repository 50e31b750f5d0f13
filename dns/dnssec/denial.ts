/**
 * Authenticated denial of existence (RFC 4034 §4, RFC 4035 §3.1.3, RFC 5155 §7.2): which NSEC or
 * NSEC3 records of a signed zone prove that a name or a type is not there.
 *
 * Theory of operation
 * - NSEC: the zone's names in canonical order form a ring; each NSEC says "after me comes
 *   <next>, and I have these types". A name is *matched* by the NSEC it owns and *covered* by the
 *   NSEC just before it in the ring (owner < name < next).
 * - NSEC3: the same ring, over hashes of the names (SHA-1 with salt and iterations), so the
 *   zone's names cannot be walked. A name is matched by the NSEC3 owning its hash and covered by
 *   the one whose hash comes just before.
 * - `DenialChain` finds the records; `proveNxdomain`, `proveNodata`, `proveWildcard` and
 *   `proveNoDs` pick the set RFC 4035 / RFC 5155 ask for:
 *     NXDOMAIN     NSEC: cover(name) + cover(*.encloser)
 *                  NSEC3: match(closest encloser) + cover(next closer) + cover(*.encloser)
 *     NODATA       NSEC: match(name);   NSEC3: match(name)
 *     wildcard     NSEC: cover(name);   NSEC3: cover(next closer)      (the answer was expanded)
 *     wildcard NODATA   the wildcard proof plus match(*.encloser)
 *     no DS        NSEC: match(cut);    NSEC3: match(cut), or with opt-out the closest provable
 *                  encloser's match + cover(next closer)
 * Pure: records in, records out; the hashes come from `dns/dnssec/crypto.ts`.
 */
import { nameKey, parentName } from "../wire/names.ts";
import { type ResourceRecord } from "../wire/rdata.ts";
import { TYPE } from "../wire/constants.ts";
import { compareReversedLabels, reversedLabels } from "../wire/canonical.ts";
import { fromBase32Hex, type Nsec3Data, type Nsec3ParamData } from "../wire/dnssec_rdata.ts";
import { nsec3Hash } from "./crypto.ts";

interface NsecEntry {
  labels: Uint8Array[];
  rr: ResourceRecord;
}

interface Nsec3Entry {
  hash: Uint8Array;
  rr: ResourceRecord;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** The index of the last entry ≤ `target` in a sorted array (-1 when all are greater). */
function floorIndex<T, K>(items: T[], target: K, compare: (item: T, target: K) => number): number {
  let lo = 0;
  let hi = items.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (compare(items[mid], target) <= 0) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/** `*.` + name. */
export function wildcardOf(name: string): string {
  return name === "." ? "*." : `*.${name}`;
}

/** The name one label longer than `encloser` on the way down to `name` (RFC 5155 §1.3). */
export function nextCloser(name: string, encloser: string): string {
  const target = nameKey(encloser);
  let current = name;
  while (nameKey(parentName(current)) !== target && current !== ".") current = parentName(current);
  return current;
}

/** The NSEC or NSEC3 chain of one zone, for picking proofs. */
export class DenialChain {
  readonly #nsec: NsecEntry[] = [];
  readonly #nsec3: Nsec3Entry[] = [];
  readonly #params?: Nsec3ParamData;
  readonly #hashCache = new Map<string, Uint8Array>();

  /** Indexes the NSEC and NSEC3 records of a zone whose apex is `apex`. */
  constructor(readonly apex: string, records: readonly ResourceRecord[]) {
    let param: Nsec3ParamData | undefined;
    for (const rr of records) {
      if (rr.type === TYPE.NSEC) {
        this.#nsec.push({ labels: reversedLabels(rr.name), rr });
      } else if (rr.type === TYPE.NSEC3 && rr.data.kind === "NSEC3") {
        const first = rr.name.slice(0, rr.name.indexOf("."));
        try {
          this.#nsec3.push({ hash: fromBase32Hex(first), rr });
        } catch {
          continue; // an owner that is not a hash cannot be part of the chain
        }
      } else if (rr.type === TYPE.NSEC3PARAM && rr.data.kind === "NSEC3PARAM") {
        if (nameKey(rr.name) === nameKey(apex) && rr.data.flags === 0) param = rr.data;
      }
    }
    this.#nsec.sort((a, b) => compareReversedLabels(a.labels, b.labels));
    this.#nsec3.sort((a, b) => compareBytes(a.hash, b.hash));
    if (this.#nsec3.length) {
      const first = this.#nsec3[0].rr.data as Nsec3Data;
      this.#params = param ?? {
        kind: "NSEC3PARAM",
        hashAlgorithm: first.hashAlgorithm,
        flags: 0,
        iterations: first.iterations,
        salt: first.salt,
      };
    }
  }

  /** "nsec3" when the zone denies with hashed names, "nsec" with plain ones, else undefined. */
  get kind(): "nsec" | "nsec3" | undefined {
    return this.#nsec3.length ? "nsec3" : this.#nsec.length ? "nsec" : undefined;
  }

  #nsecMatchOrCover(name: string): { match: boolean; rr: ResourceRecord } | undefined {
    if (!this.#nsec.length) return undefined;
    const labels = reversedLabels(name);
    let i = floorIndex(this.#nsec, labels, (e, t) => compareReversedLabels(e.labels, t));
    if (i < 0) i = this.#nsec.length - 1; // before the first: the last one wraps around
    const e = this.#nsec[i];
    return { match: compareReversedLabels(e.labels, labels) === 0, rr: e.rr };
  }

  /** The NSEC3 hash of `name` with the zone's parameters. */
  hash(name: string): Uint8Array {
    const key = nameKey(name);
    let h = this.#hashCache.get(key);
    if (!h) {
      const p = this.#params!;
      h = nsec3Hash(key, p.salt, p.iterations);
      if (this.#hashCache.size > 10_000) this.#hashCache.clear();
      this.#hashCache.set(key, h);
    }
    return h;
  }

  #nsec3MatchOrCover(name: string): { match: boolean; rr: ResourceRecord } | undefined {
    if (!this.#nsec3.length) return undefined;
    const hash = this.hash(name);
    let i = floorIndex(this.#nsec3, hash, (e, t) => compareBytes(e.hash, t));
    if (i < 0) i = this.#nsec3.length - 1;
    const e = this.#nsec3[i];
    return { match: compareBytes(e.hash, hash) === 0, rr: e.rr };
  }

  /** The record owning `name` (or its hash), if any. */
  match(name: string): ResourceRecord | undefined {
    const found = this.kind === "nsec3"
      ? this.#nsec3MatchOrCover(name)
      : this.#nsecMatchOrCover(name);
    return found?.match ? found.rr : undefined;
  }

  /** The record covering `name` (or its hash); undefined when `name` is matched instead. */
  cover(name: string): ResourceRecord | undefined {
    const found = this.kind === "nsec3"
      ? this.#nsec3MatchOrCover(name)
      : this.#nsecMatchOrCover(name);
    return found && !found.match ? found.rr : undefined;
  }

  /** The record that matches `name` or else covers it (NSEC's "the NSEC at or before"). */
  matchOrCover(name: string): ResourceRecord | undefined {
    return (this.kind === "nsec3" ? this.#nsec3MatchOrCover(name) : this.#nsecMatchOrCover(name))
      ?.rr;
  }

  /** NXDOMAIN for `name` whose closest existing ancestor is `encloser`. */
  proveNxdomain(name: string, encloser: string): ResourceRecord[] {
    if (this.kind === "nsec3") {
      return unique([
        this.match(encloser),
        this.cover(nextCloser(name, encloser)),
        this.cover(wildcardOf(encloser)),
      ]);
    }
    return unique([this.matchOrCover(name), this.matchOrCover(wildcardOf(encloser))]);
  }

  /** NODATA at `name`, which exists (or is an empty non-terminal). */
  proveNodata(name: string): ResourceRecord[] {
    if (this.kind === "nsec3") {
      const match = this.match(name);
      return match ? [match] : this.#optOutProof(name);
    }
    return unique([this.matchOrCover(name)]);
  }

  /** The answer for `name` was expanded from `*.encloser`: no closer name exists. */
  proveWildcard(name: string, encloser: string): ResourceRecord[] {
    if (this.kind === "nsec3") return unique([this.cover(nextCloser(name, encloser))]);
    return unique([this.matchOrCover(name)]);
  }

  /** NODATA from a wildcard: no closer name, and the wildcard lacks the type. */
  proveWildcardNodata(name: string, encloser: string): ResourceRecord[] {
    const wildcard = wildcardOf(encloser);
    if (this.kind === "nsec3") {
      return unique([
        this.match(encloser),
        this.cover(nextCloser(name, encloser)),
        this.match(wildcard),
      ]);
    }
    return unique([this.matchOrCover(name), this.match(wildcard)]);
  }

  /** A delegation at `cut` without DS: its NSEC (or NSEC3, or the opt-out proof). */
  proveNoDs(cut: string): ResourceRecord[] {
    return this.proveNodata(cut);
  }

  /** RFC 5155 §7.2.7: the closest provable encloser's match and an opt-out cover below it. */
  #optOutProof(name: string): ResourceRecord[] {
    let closer = name;
    for (let ancestor = parentName(name);; ancestor = parentName(ancestor)) {
      const match = this.match(ancestor);
      if (match) return unique([match, this.cover(closer)]);
      if (nameKey(ancestor) === nameKey(this.apex) || ancestor === ".") return [];
      closer = ancestor;
    }
  }
}

function unique(records: (ResourceRecord | undefined)[]): ResourceRecord[] {
  const out: ResourceRecord[] = [];
  for (const rr of records) if (rr && !out.includes(rr)) out.push(rr);
  return out;
}
