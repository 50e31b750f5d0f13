/**
 * DNSSEC validation, the pure part (RFC 4035 §5): RRsets, signatures, keys and the time in, a
 * verdict out. No I/O: `dns/dnssec/validator.ts` fetches what these functions judge.
 *
 * Theory of operation
 * - An RRset is *verified* when one of its RRSIGs (RFC 4035 §5.3.1) names the zone as signer,
 *   covers the RRset's type, has a Labels field no larger than the owner's label count, is
 *   inside its validity window (serial arithmetic on 32-bit times), names a DNSKEY of the zone by
 *   tag and algorithm that has the Zone Key flag, and the signature over the canonical RRset
 *   checks out with that key. Labels smaller than the owner's count means the RRset was
 *   expanded from a wildcard — the caller must then see proof that no closer name exists.
 * - A zone's DNSKEY RRset is *trusted* when a DS from the parent (or a trust anchor) names one
 *   of its keys — tag, algorithm and digest all match — and that key signed the RRset. Every
 *   zone key in the RRset is then trusted for the zone's other RRsets.
 * - Every failure is a `ValidationFailure` carrying the reason in one sentence and the Extended
 *   DNS Error code (RFC 8914) a resolver would attach to its SERVFAIL.
 */
import { formatRecord, type ResourceRecord } from "../wire/rdata.ts";
import { nameKey } from "../wire/names.ts";
import { TYPE, typeName } from "../wire/constants.ts";
import {
  algorithmName,
  compareSerial,
  type DnskeyData,
  type DsData,
  formatSigTime,
  keyTag,
  type RrsigData,
} from "../wire/dnssec_rdata.ts";
import { signatureLabelCount, signedData } from "../wire/canonical.ts";
import {
  BadKeyError,
  DNSKEY_FLAGS,
  dsDigest,
  isSupportedAlgorithm,
  isSupportedDigest,
  verifySignature,
} from "./crypto.ts";
import { EDE } from "../wire/ede.ts";

/** The outcome of validation (RFC 4033 §5, RFC 4035 §4.3). */
export type Verdict = "secure" | "insecure" | "bogus" | "indeterminate";

/** Why something could not be validated; `ede` is the RFC 8914 info code. */
export class ValidationFailure extends Error {
  override name = "ValidationFailure";
  constructor(
    message: string,
    readonly ede: number,
    readonly verdict: "bogus" | "insecure" | "indeterminate" = "bogus",
  ) {
    super(message);
  }
}

/** The keys trusted for one zone. */
export interface ZoneKeys {
  zone: string;
  keys: DnskeyData[];
}

/** What verified an RRset: the signature and the key, and the wildcard it came from, if any. */
export interface RRsetProof {
  sig: RrsigData;
  tag: number;
  key: DnskeyData;
  /** `*.example.` when the RRset was synthesised from that wildcard. */
  wildcard?: string;
}

/** `20270106172809` → `2027-01-06 17:28:09 UTC`. */
export function sigTimeText(seconds: number): string {
  const t = formatSigTime(seconds);
  return `${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)} ${t.slice(8, 10)}:${t.slice(10, 12)}:${
    t.slice(12)
  } UTC`;
}

function describe(rrset: readonly ResourceRecord[]): string {
  return `${rrset[0].name} ${typeName(rrset[0].type)}`;
}

/** The RRSIGs among `records` that cover `owner`/`type`. */
export function signaturesOver(
  records: readonly ResourceRecord[],
  owner: string,
  type: number,
): ResourceRecord[] {
  const key = nameKey(owner);
  return records.filter((rr) =>
    rr.data.kind === "RRSIG" && rr.data.typeCovered === type && nameKey(rr.name) === key
  );
}

/** `*.` + the rightmost `labels` labels of `owner`. */
function wildcardName(owner: string, labels: number): string {
  const parts = owner.replace(/\.$/, "").split(".");
  return `*.${parts.slice(parts.length - labels).join(".")}.`;
}

/**
 * Verifies `rrset` with one of `sigs` and the keys of `zone` at time `now` (seconds since 1970).
 * Throws `ValidationFailure` naming the first problem of the best candidate.
 */
export async function verifyRRset(
  rrset: readonly ResourceRecord[],
  sigs: readonly ResourceRecord[],
  zone: ZoneKeys,
  now: number,
): Promise<RRsetProof> {
  const what = describe(rrset);
  const candidates = signaturesOver(sigs, rrset[0].name, rrset[0].type)
    .map((rr) => rr.data as RrsigData);
  if (candidates.length === 0) {
    throw new ValidationFailure(
      `${what} has no RRSIG (zone ${zone.zone} is signed)`,
      EDE.RRSIGS_MISSING,
    );
  }
  const failures: ValidationFailure[] = [];
  const ownerLabels = signatureLabelCount(rrset[0].name);
  for (const sig of candidates) {
    const by = `RRSIG ${typeName(sig.typeCovered)} by ${sig.signerName} key ${sig.keyTag}`;
    if (nameKey(sig.signerName) !== nameKey(zone.zone)) {
      failures.push(
        new ValidationFailure(
          `${what}: ${by} is signed by the wrong zone (expected ${zone.zone})`,
          EDE.DNSSEC_BOGUS,
        ),
      );
      continue;
    }
    if (sig.labels > ownerLabels) {
      failures.push(
        new ValidationFailure(
          `${what}: ${by} has Labels ${sig.labels}, more than the owner's ${ownerLabels}`,
          EDE.DNSSEC_BOGUS,
        ),
      );
      continue;
    }
    if (compareSerial(sig.expiration, now >>> 0) < 0) {
      failures.push(
        new ValidationFailure(
          `${what}: ${by} expired at ${sigTimeText(sig.expiration)} (now ${sigTimeText(now)})`,
          EDE.SIGNATURE_EXPIRED,
        ),
      );
      continue;
    }
    if (compareSerial(sig.inception, now >>> 0) > 0) {
      failures.push(
        new ValidationFailure(
          `${what}: ${by} is not valid before ${sigTimeText(sig.inception)} (now ${
            sigTimeText(now)
          })`,
          EDE.SIGNATURE_NOT_YET_VALID,
        ),
      );
      continue;
    }
    if (!isSupportedAlgorithm(sig.algorithm)) {
      failures.push(
        new ValidationFailure(
          `${what}: ${by} uses algorithm ${algorithmName(sig.algorithm)}, which is not supported`,
          EDE.UNSUPPORTED_DNSKEY_ALGORITHM,
        ),
      );
      continue;
    }
    const keys = zone.keys.filter((k) =>
      k.algorithm === sig.algorithm && keyTag(k) === sig.keyTag && k.protocol === 3 &&
      (k.flags & DNSKEY_FLAGS.ZONE) !== 0
    );
    if (keys.length === 0) {
      failures.push(
        new ValidationFailure(
          `${what}: ${by}: ${zone.zone} has no trusted DNSKEY ${sig.keyTag}`,
          EDE.DNSKEY_MISSING,
        ),
      );
      continue;
    }
    const data = signedData(sig, rrset);
    for (const key of keys) {
      let ok = false;
      try {
        ok = await verifySignature(sig.algorithm, key.publicKey, data, sig.signature);
      } catch (error) {
        if (!(error instanceof BadKeyError)) throw error;
      }
      if (ok) {
        const proof: RRsetProof = { sig, tag: sig.keyTag, key };
        if (sig.labels < ownerLabels) proof.wildcard = wildcardName(rrset[0].name, sig.labels);
        return proof;
      }
    }
    failures.push(
      new ValidationFailure(
        `${what}: ${by} does not verify: the signature does not match the data`,
        EDE.DNSSEC_BOGUS,
      ),
    );
  }
  // The most telling failure: a signature that does not verify beats a missing key, etc.
  const rank: number[] = [EDE.DNSSEC_BOGUS, EDE.SIGNATURE_EXPIRED, EDE.SIGNATURE_NOT_YET_VALID];
  failures.sort((a, b) => (rank.indexOf(a.ede) + 1 || 9) - (rank.indexOf(b.ede) + 1 || 9));
  throw failures[0];
}

/** A trust anchor: DS records or DNSKEYs for a zone (the root's, usually). */
export interface TrustAnchor {
  zone: string;
  ds: DsData[];
  keys: DnskeyData[];
}

/** How a zone's DNSKEY RRset came to be trusted. */
export interface KeysetProof {
  zone: string;
  keys: DnskeyData[];
  /** The key-signing key that matched the DS (or anchor) and signed the DNSKEY RRset. */
  sep: DnskeyData;
  sepTag: number;
  /** The DS that named it (undefined when a DNSKEY anchor named it directly). */
  ds?: DsData;
  sig: RrsigData;
}

/**
 * Trusts a zone's DNSKEY RRset through `ds` (the parent's DS RRset, already verified) or a
 * DNSKEY anchor. Throws `ValidationFailure` (verdict insecure when no DS can be used at all:
 * RFC 4035 §5.2, every algorithm or digest unknown).
 */
export async function verifyKeyset(
  zone: string,
  dnskeys: readonly ResourceRecord[],
  sigs: readonly ResourceRecord[],
  trust: { ds: DsData[]; keys?: DnskeyData[] },
  now: number,
): Promise<KeysetProof> {
  const keys = dnskeys.flatMap((rr) => rr.data.kind === "DNSKEY" ? [rr.data] : []);
  if (keys.length === 0) {
    throw new ValidationFailure(`${zone} has no DNSKEY records`, EDE.DNSKEY_MISSING);
  }
  const usable = trust.ds.filter((d) =>
    isSupportedDigest(d.digestType) && isSupportedAlgorithm(d.algorithm)
  );
  if (usable.length === 0 && !(trust.keys?.length)) {
    throw new ValidationFailure(
      `every DS of ${zone} uses an unsupported digest or algorithm: treated as unsigned`,
      EDE.UNSUPPORTED_DS_DIGEST,
      "insecure",
    );
  }
  const candidates: { key: DnskeyData; ds?: DsData }[] = [];
  for (const key of keys) {
    if (!(key.flags & DNSKEY_FLAGS.ZONE) || key.flags & DNSKEY_FLAGS.REVOKE) continue;
    const tag = keyTag(key);
    for (const d of usable) {
      if (d.keyTag !== tag || d.algorithm !== key.algorithm) continue;
      if (dsDigest(zone, key, d.digestType).join() === d.digest.join()) {
        candidates.push({ key, ds: d });
      }
    }
    for (const anchor of trust.keys ?? []) {
      if (anchor.algorithm === key.algorithm && anchor.publicKey.join() === key.publicKey.join()) {
        candidates.push({ key });
      }
    }
  }
  if (candidates.length === 0) {
    const tags = [...usable.map((d) => d.keyTag), ...(trust.keys ?? []).map(keyTag)];
    throw new ValidationFailure(
      `no DNSKEY of ${zone} matches its ${trust.keys?.length ? "trust anchor" : "DS"} (key ${
        [...new Set(tags)].join(", ")
      }; the zone has ${keys.map(keyTag).join(", ")})`,
      EDE.DNSKEY_MISSING,
    );
  }
  let failure: ValidationFailure | undefined;
  for (const { key, ds } of candidates) {
    try {
      const proof = await verifyRRset(dnskeys, sigs, { zone, keys: [key] }, now);
      const trusted = keys.filter((k) =>
        k.flags & DNSKEY_FLAGS.ZONE && !(k.flags & DNSKEY_FLAGS.REVOKE)
      );
      return { zone, keys: trusted, sep: key, sepTag: keyTag(key), ds, sig: proof.sig };
    } catch (error) {
      if (!(error instanceof ValidationFailure)) throw error;
      failure ??= error;
    }
  }
  throw failure!;
}

/** Parses a trust anchor file: DS and/or DNSKEY records in master-file form (unbound's format). */
export function anchorFromRecords(records: readonly ResourceRecord[]): TrustAnchor {
  const zone = records.find((rr) => rr.type === TYPE.DS || rr.type === TYPE.DNSKEY)?.name;
  if (!zone) throw new RangeError("Trust anchor has no DS or DNSKEY record");
  const mine = records.filter((rr) => nameKey(rr.name) === nameKey(zone));
  return {
    zone,
    ds: mine.flatMap((rr) => rr.data.kind === "DS" ? [rr.data] : []),
    keys: mine.flatMap((rr) => rr.data.kind === "DNSKEY" ? [rr.data] : []),
  };
}

/** One record for messages: `www.cnblogs.com. A 127.0.0.5`. */
export function shortRecord(rr: ResourceRecord): string {
  return formatRecord(rr).replace(/\t\d+\tIN\t/, " ").replace(/\t/g, " ");
}
