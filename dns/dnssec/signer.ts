/**
 * A zone signer (RFC 4035 §2, RFC 5155 §7.1): a parsed zone and signing keys in, the signed
 * zone out — DNSKEYs at the apex, an RRSIG over every authoritative RRset, and an NSEC or NSEC3
 * chain so that every "no" can be proven. Pure apart from WebCrypto; `dns/sign.ts` is the CLI.
 *
 * Theory of operation
 * 1. Old DNSSEC records (RRSIG, NSEC, NSEC3, NSEC3PARAM) are dropped: signing starts afresh.
 *    The keys' DNSKEYs join the apex's DNSKEY RRset.
 * 2. Names are classified: the apex and the names of the zone are *authoritative*; a name with
 *    NS below the apex is a *delegation* (only its DS and NSEC are ours to sign); names below a
 *    delegation are *glue* (neither signed nor chained).
 * 3. The chain. NSEC: the authoritative and delegation names in canonical order, each pointing
 *    at the next (the last at the apex), with its types plus RRSIG and NSEC. NSEC3: the same
 *    names plus the empty non-terminals, hashed (SHA-1, salt, iterations), sorted by hash; with
 *    opt-out, delegations without DS are left out and the Opt-Out flag is set. The chain's TTL
 *    is min(SOA TTL, SOA minimum) (RFC 9077).
 * 4. Every authoritative RRset (and the chain) is signed by the zone-signing keys, the DNSKEY
 *    RRset by the key-signing keys (SEP flag); with only one kind of key, that kind signs all.
 *    Signatures run in parallel batches (WebCrypto is asynchronous).
 */
import { nameKey } from "../wire/names.ts";
import { type ResourceRecord } from "../wire/rdata.ts";
import { TYPE } from "../wire/constants.ts";
import {
  compareReversedLabels,
  reversedLabels,
  signatureLabelCount,
  signedData,
} from "../wire/canonical.ts";
import { type RrsigData, toBase32Hex } from "../wire/dnssec_rdata.ts";
import { DNSKEY_FLAGS, nsec3Hash, signData, type SigningKey } from "./crypto.ts";
import { parentName } from "../wire/names.ts";
import type { Zone } from "../zone/parse.ts";

/** NSEC3 settings (RFC 9276 recommends 0 iterations and no salt). */
export interface Nsec3Options {
  iterations?: number;
  salt?: Uint8Array;
  optOut?: boolean;
}

/** Options for `signZone`. */
export interface SignOptions {
  /** Seconds since 1970 when the signatures start (default: an hour ago, for clock skew). */
  inception?: number;
  /** Seconds since 1970 when they end (default: 30 days after now). */
  expiration?: number;
  /** Use NSEC3 instead of NSEC. */
  nsec3?: Nsec3Options;
  /** Signatures computed at once (default 256). */
  batch?: number;
}

/** What `signZone` produced, besides the records. */
export interface SignedZoneResult {
  zone: Zone;
  /** Signatures made. */
  signatures: number;
  /** Authoritative RRsets signed (the chain's included). */
  rrsets: number;
}

const DNSSEC_GENERATED = new Set<number>([TYPE.RRSIG, TYPE.NSEC, TYPE.NSEC3, TYPE.NSEC3PARAM]);

interface NameInfo {
  name: string;
  labels: Uint8Array[];
  rrsets: Map<number, ResourceRecord[]>;
  kind: "apex" | "authoritative" | "delegation" | "glue";
}

/** Groups the zone's records by owner and type, and classifies every owner. */
function classify(apex: string, records: readonly ResourceRecord[]): Map<string, NameInfo> {
  const names = new Map<string, NameInfo>();
  const apexKey = nameKey(apex);
  for (const rr of records) {
    const key = nameKey(rr.name);
    let info = names.get(key);
    if (!info) {
      info = {
        name: rr.name,
        labels: reversedLabels(key),
        rrsets: new Map(),
        kind: "authoritative",
      };
      names.set(key, info);
    }
    const set = info.rrsets.get(rr.type);
    if (set) set.push(rr);
    else info.rrsets.set(rr.type, [rr]);
  }
  const cuts = new Set<string>();
  for (const [key, info] of names) {
    if (key === apexKey) info.kind = "apex";
    else if (info.rrsets.has(TYPE.NS)) cuts.add(key);
  }
  for (const [key, info] of names) {
    if (info.kind === "apex") continue;
    for (let k = parentName(key); k !== apexKey && k !== "."; k = parentName(k)) {
      if (cuts.has(k)) info.kind = "glue";
    }
    if (info.kind !== "glue" && cuts.has(key)) info.kind = "delegation";
  }
  return names;
}

function chainTtl(apexInfo: NameInfo): number {
  const soa = apexInfo.rrsets.get(TYPE.SOA)?.[0];
  if (!soa || soa.data.kind !== "SOA") throw new RangeError("Cannot sign a zone without SOA");
  return Math.min(soa.ttl, soa.data.minimum);
}

/** The types an NSEC/NSEC3 at this name lists (before adding RRSIG/NSEC). */
function ownTypes(info: NameInfo): number[] {
  if (info.kind === "delegation") {
    return [...info.rrsets.keys()].filter((t) => t === TYPE.NS || t === TYPE.DS);
  }
  return [...info.rrsets.keys()];
}

function nsecChain(apex: string, names: Map<string, NameInfo>, ttl: number): ResourceRecord[] {
  const chained = [...names.values()].filter((i) => i.kind !== "glue");
  chained.sort((a, b) => compareReversedLabels(a.labels, b.labels));
  return chained.map((info, i) => {
    const next = chained[(i + 1) % chained.length].name;
    const types = ownTypes(info);
    // A delegation without DS has no signed RRset of ours but its NSEC.
    types.push(TYPE.RRSIG, TYPE.NSEC);
    types.sort((a, b) => a - b);
    return {
      name: info.name,
      type: TYPE.NSEC,
      class: 1,
      ttl,
      data: { kind: "NSEC", nextName: i + 1 < chained.length ? next : apex, types },
    };
  });
}

function nsec3Chain(
  apex: string,
  names: Map<string, NameInfo>,
  ttl: number,
  options: Nsec3Options,
): ResourceRecord[] {
  const salt = options.salt ?? new Uint8Array(0);
  const iterations = options.iterations ?? 0;
  const apexKey = nameKey(apex);
  // Hashed names: every authoritative name, delegations (unless opted out), and the empty
  // non-terminals between them and the apex.
  const entries = new Map<string, { hash: Uint8Array; types: number[] }>();
  const add = (key: string, types: number[]) => {
    if (entries.has(key)) return;
    entries.set(key, { hash: nsec3Hash(key, salt, iterations), types });
  };
  for (const [key, info] of names) {
    if (info.kind === "glue") continue;
    if (info.kind === "delegation" && options.optOut && !info.rrsets.has(TYPE.DS)) continue;
    const types = ownTypes(info);
    if (info.kind !== "delegation" || info.rrsets.has(TYPE.DS)) types.push(TYPE.RRSIG);
    if (info.kind === "apex") types.push(TYPE.NSEC3PARAM);
    add(key, types);
    if (key === apexKey) continue;
    for (let k = parentName(key); k !== apexKey && k !== "."; k = parentName(k)) {
      if (!names.has(k)) add(k, []);
    }
  }
  const sorted = [...entries.values()].sort((a, b) => compareBytes(a.hash, b.hash));
  const flags = options.optOut ? 1 : 0;
  return sorted.map((entry, i) => ({
    name: `${toBase32Hex(entry.hash).toLowerCase()}.${apex === "." ? "" : apex}`,
    type: TYPE.NSEC3,
    class: 1,
    ttl,
    data: {
      kind: "NSEC3",
      hashAlgorithm: 1,
      flags,
      iterations,
      salt,
      nextHashed: sorted[(i + 1) % sorted.length].hash,
      types: [...new Set(entry.types)].sort((a, b) => a - b),
    },
  }));
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** The RRsets a zone signs: every one at authoritative names, DS (and NSEC) at delegations. */
function signedRRsets(names: Map<string, NameInfo>): ResourceRecord[][] {
  const out: ResourceRecord[][] = [];
  for (const info of names.values()) {
    if (info.kind === "glue") continue;
    for (const [type, rrset] of info.rrsets) {
      if (info.kind === "delegation" && type !== TYPE.DS && type !== TYPE.NSEC) continue;
      out.push(rrset);
    }
  }
  return out;
}

/** Signs `zone` with `keys` (see the module comment). Throws RangeError when it cannot. */
export async function signZone(
  zone: Zone,
  keys: readonly SigningKey[],
  options: SignOptions = {},
): Promise<SignedZoneResult> {
  if (keys.length === 0) throw new RangeError("Cannot sign: no keys");
  const apex = zone.origin;
  for (const key of keys) {
    if (nameKey(key.owner) !== nameKey(apex)) {
      throw new RangeError(`Cannot sign "${apex}" with a key of "${key.owner}"`);
    }
  }
  const now = Math.floor(Date.now() / 1000);
  const inception = options.inception ?? now - 3600;
  const expiration = options.expiration ?? now + 30 * 86400;
  const records = zone.records.filter((rr) => !DNSSEC_GENERATED.has(rr.type));
  const apexInfoSoa = records.find((rr) => rr.type === TYPE.SOA)!;
  const dnskeyTtl = records.find((rr) => rr.type === TYPE.DNSKEY)?.ttl ?? apexInfoSoa.ttl;
  for (const key of keys) {
    const present = records.some((rr) =>
      rr.type === TYPE.DNSKEY && rr.data.kind === "DNSKEY" &&
      rr.data.publicKey.join() === key.dnskey.publicKey.join()
    );
    if (!present) {
      records.push({ name: apex, type: TYPE.DNSKEY, class: 1, ttl: dnskeyTtl, data: key.dnskey });
    }
  }
  let names = classify(apex, records);
  const ttl = chainTtl(names.get(nameKey(apex))!);
  const chain = options.nsec3
    ? nsec3Chain(apex, names, ttl, options.nsec3)
    : nsecChain(apex, names, ttl);
  if (options.nsec3) {
    records.push({
      name: apex,
      type: TYPE.NSEC3PARAM,
      class: 1,
      ttl,
      data: {
        kind: "NSEC3PARAM",
        hashAlgorithm: 1,
        flags: 0,
        iterations: options.nsec3.iterations ?? 0,
        salt: options.nsec3.salt ?? new Uint8Array(0),
      },
    });
    names = classify(apex, records);
  } else {
    records.push(...chain);
    names = classify(apex, records);
  }
  const sets = signedRRsets(names);
  if (options.nsec3) { for (const rr of chain) sets.push([rr]); }
  const ksks = keys.filter((k) => k.dnskey.flags & DNSKEY_FLAGS.SEP);
  const zsks = keys.filter((k) => !(k.dnskey.flags & DNSKEY_FLAGS.SEP));
  const signatures = await signAll(sets, apex, {
    dnskeySigners: ksks.length ? ksks : zsks,
    otherSigners: zsks.length ? zsks : ksks,
    inception,
    expiration,
    batch: options.batch ?? 256,
  });
  const all = options.nsec3 ? [...records, ...chain] : records;
  return {
    zone: { origin: apex, records: orderForPrinting([...all, ...signatures]), lines: [] },
    signatures: signatures.length,
    rrsets: sets.length,
  };
}

interface Signers {
  dnskeySigners: SigningKey[];
  otherSigners: SigningKey[];
  inception: number;
  expiration: number;
  batch: number;
}

async function signAll(
  sets: ResourceRecord[][],
  apex: string,
  signers: Signers,
): Promise<ResourceRecord[]> {
  const jobs: { rrset: ResourceRecord[]; key: SigningKey }[] = [];
  for (const rrset of sets) {
    const keys = rrset[0].type === TYPE.DNSKEY ? signers.dnskeySigners : signers.otherSigners;
    for (const key of keys) jobs.push({ rrset, key });
  }
  const out: ResourceRecord[] = new Array(jobs.length);
  for (let start = 0; start < jobs.length; start += signers.batch) {
    const slice = jobs.slice(start, start + signers.batch);
    await Promise.all(slice.map(async ({ rrset, key }, i) => {
      const rr = rrset[0];
      const template: RrsigData = {
        kind: "RRSIG",
        typeCovered: rr.type,
        algorithm: key.dnskey.algorithm,
        labels: signatureLabelCount(rr.name),
        originalTtl: rr.ttl,
        expiration: signers.expiration >>> 0,
        inception: signers.inception >>> 0,
        keyTag: key.tag,
        signerName: apex,
        signature: new Uint8Array(0),
      };
      const signature = await signData(key, signedData(template, rrset));
      out[start + i] = {
        name: rr.name,
        type: TYPE.RRSIG,
        class: rr.class,
        ttl: rr.ttl,
        data: { ...template, signature },
      };
    }));
  }
  return out;
}

/** The SOA first at the apex, then the types by number. */
function printOrder(type: number): number {
  return type === TYPE.SOA ? -1 : type;
}

/** Canonical name order, each RRset followed by its RRSIGs (as ldns-signzone prints a zone). */
function orderForPrinting(records: ResourceRecord[]): ResourceRecord[] {
  const keyed = records.map((rr, i) => ({
    rr,
    i,
    labels: reversedLabels(rr.name),
    type: printOrder(rr.data.kind === "RRSIG" ? rr.data.typeCovered : rr.type),
    sig: rr.type === TYPE.RRSIG ? 1 : 0,
  }));
  keyed.sort((a, b) =>
    compareReversedLabels(a.labels, b.labels) || a.type - b.type || a.sig - b.sig || a.i - b.i
  );
  return keyed.map((k) => k.rr);
}
