/**
 * DNSSEC canonical form and order (RFC 4034 §6, RFC 6840 §5.1): what a signature covers.
 *
 * - A name in canonical form is uncompressed with its ASCII letters lowercased.
 * - Names are ordered label by label from the right (the root first), each label compared as
 *   lowercase bytes, a missing label sorting first (RFC 4034's example: `example.`,
 *   `a.example.`, `yljkjljk.a.example.`, `Z.a.example.`, `zABC.a.EXAMPLE.`, `z.example.`,
 *   `\001.z.example.`, `*.z.example.`, `\200.z.example.`).
 * - A record in canonical form has its owner canonical, the names inside the rdata of the
 *   RFC 1035-era types (and RRSIG's signer) canonical, and the TTL of the RRSIG's original TTL.
 *   An RRset is ordered by its canonical rdata bytes.
 * - The data signed (§3.1.8.1) is the RRSIG rdata without its signature followed by every record
 *   of the RRset in that order; a wildcard-expanded owner is signed as `*.` + the rightmost
 *   `labels` labels.
 */
import { encodeRdata, type RData, type ResourceRecord } from "./rdata.ts";
import { nameLabels } from "./names.ts";
import { TYPE } from "./constants.ts";
import {
  type DnssecRData,
  encodeDnssecRdata,
  isDnssecType,
  nameWire,
  type RrsigData as Rrsig,
} from "./dnssec_rdata.ts";

/** A name in canonical wire form (uncompressed, lowercase). */
export function canonicalNameWire(name: string): Uint8Array {
  return nameWire(name, true);
}

/** The labels of a name, lowercased, from the root down (`www.a.` → [`a`, `www`]). */
export function reversedLabels(name: string): Uint8Array[] {
  return nameLabels(name).map(lower).reverse();
}

function lower(label: Uint8Array): Uint8Array {
  let copy: Uint8Array | undefined;
  for (let i = 0; i < label.length; i++) {
    const b = label[i];
    if (b >= 65 && b <= 90) {
      copy ??= label.slice();
      copy[i] = b + 32;
    }
  }
  return copy ?? label;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** Compares names already split by `reversedLabels`. */
export function compareReversedLabels(a: Uint8Array[], b: Uint8Array[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareBytes(a[i], b[i]);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/** RFC 4034 §6.1 order of two names: negative, zero or positive. */
export function compareNames(a: string, b: string): number {
  return compareReversedLabels(reversedLabels(a), reversedLabels(b));
}

/** The number of labels in RRSIG terms: the root and a leading `*` are not counted. */
export function signatureLabelCount(name: string): number {
  const labels = nameLabels(name);
  return labels.length && labels[0].length === 1 && labels[0][0] === 42
    ? labels.length - 1
    : labels.length;
}

/** Types whose rdata names are lowercased in canonical form (RFC 4034 §6.2, RFC 6840 §5.1). */
function lowercaseNames(data: RData): RData {
  const l = (n: string) => n.toLowerCase();
  switch (data.kind) {
    case "NS":
    case "CNAME":
    case "PTR":
      return { kind: data.kind, target: l(data.target) };
    case "MX":
      return { ...data, exchange: l(data.exchange) };
    case "SOA":
      return { ...data, mname: l(data.mname), rname: l(data.rname) };
    case "SRV":
      return { ...data, target: l(data.target) };
    default:
      return data;
  }
}

/** The canonical wire form of a record's rdata. */
export function canonicalRdata(rr: ResourceRecord): Uint8Array {
  if (isDnssecType(rr.type) && rr.data.kind !== "UNKNOWN") {
    return encodeDnssecRdata(rr.data as DnssecRData, rr.type === TYPE.RRSIG);
  }
  // Names in master-file text lowercase byte-wise only for ASCII: escapes (`\065`) are decimal
  // digits and stay as they are, which lowercases exactly the letters.
  return encodeRdata({ ...rr, data: lowercaseNames(rr.data) });
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The owner a signature covers: the name itself, or `*.` + its last `labels` labels. */
export function signedOwnerWire(owner: string, labels: number): Uint8Array {
  const all = nameWire(owner, true);
  const count = signatureLabelCount(owner);
  if (labels >= count) return all;
  // Skip (count - labels) labels (a leading `*` counts as one too when present).
  let skip = nameLabels(owner).length - labels;
  let at = 0;
  while (skip-- > 0) at += all[at] + 1;
  return concat([new Uint8Array([1, 42]), all.subarray(at)]);
}

/**
 * The bytes an RRSIG signs (RFC 4034 §3.1.8.1): its rdata without the signature, then the RRset
 * in canonical form and order, each with the original TTL.
 */
export function signedData(rrsig: Rrsig, rrset: readonly ResourceRecord[]): Uint8Array {
  const head = encodeDnssecRdata({ ...rrsig, signature: new Uint8Array(0) }, true);
  const parts: Uint8Array[] = [head];
  if (rrset.length === 0) return head;
  const owner = signedOwnerWire(rrset[0].name, rrsig.labels);
  const rdatas = rrset.map(canonicalRdata).sort(compareBytes);
  const fixed = new Uint8Array(10);
  const type = rrset[0].type;
  const klass = rrset[0].class;
  fixed[0] = type >> 8;
  fixed[1] = type & 0xff;
  fixed[2] = klass >> 8;
  fixed[3] = klass & 0xff;
  const ttl = rrsig.originalTtl;
  fixed[4] = ttl >>> 24;
  fixed[5] = (ttl >>> 16) & 0xff;
  fixed[6] = (ttl >>> 8) & 0xff;
  fixed[7] = ttl & 0xff;
  let previous: Uint8Array | undefined;
  for (const rdata of rdatas) {
    // Duplicate records count once (RFC 4034 §6.3).
    if (previous && compareBytes(previous, rdata) === 0) continue;
    previous = rdata;
    const f = fixed.slice();
    f[8] = rdata.length >> 8;
    f[9] = rdata.length & 0xff;
    parts.push(owner, f, rdata);
  }
  return concat(parts);
}
