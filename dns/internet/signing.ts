/**
 * The signed mini-Internet: the three zones of `dns/internet.ts` signed bottom-up so that a
 * chain of trust runs from the root's key down to www.cnblogs.com.
 *
 * 1. cnblogs.com. is signed with a fresh KSK and ZSK; the DS of its KSK is what its owner hands
 *    to the registry (com.) — seed 000's 「二级域名需去顶级域名中买」, now with a key.
 * 2. com. gets that DS beside the cnblogs.com. delegation and is signed; its DS goes to the root.
 * 3. The root gets com.'s DS and is signed; nobody vouches for the root, so its KSK is the
 *    *trust anchor* a validator must be given (on the real Internet: KSK 20326, built into every
 *    validating resolver).
 * `sub.cnblogs.com.` stays an unsigned child: its parent proves it has no DS (insecure).
 *
 * `breakWith` spoils one link on purpose, to see what a validator says:
 * - `flip`:    one byte of the signature over www.cnblogs.com. A is flipped;
 * - `expired`: cnblogs.com. is signed with signatures that expired a week ago (well past the
 *              day or so of clock skew validators such as unbound forgive);
 * - `no-ds`:   com. loses the DS of cnblogs.com. after signing (its NSEC still lists DS), as if
 *              the registry had dropped it.
 *
 * The signed zone files and the anchor (as DS and DNSKEY records, and in BIND's `trust-anchors`
 * syntax for `delv -a`) are written into a folder the caller owns.
 */
import { formatRecord, type ResourceRecord } from "../wire/rdata.ts";
import { TYPE } from "../wire/constants.ts";
import { parseZone } from "../zone/parse.ts";
import { generateSigningKey, makeDs, type SigningKey } from "../dnssec/crypto.ts";
import { type Nsec3Options, signZone } from "../dnssec/signer.ts";
import { toBase64 } from "../wire/dnssec_rdata.ts";

/** One zone to sign: its apex and the path of its unsigned file. */
export interface ZoneSource {
  zone: string;
  path: string;
}

/** Where the signed mini-Internet was written. */
export interface SignedMiniInternet {
  /** Signed zone file path by apex. */
  files: Record<string, string>;
  /** The root KSK's DS record (the trust anchor). */
  anchorDs: ResourceRecord;
  /** The root KSK itself. */
  anchorKey: ResourceRecord;
  /** The anchor as zone-file records (DS and DNSKEY): `query.ts --trust-anchor FILE`. */
  anchorFile: string;
  /** The anchor for `delv -a FILE` (BIND's trust-anchors clause). */
  bindAnchorFile: string;
  /** Every key, by apex (tests use them to break things on purpose). */
  keys: Record<string, SigningKey[]>;
}

/** The ways `signMiniInternet` can break the chain on purpose. */
export const BREAKAGES = ["flip", "expired", "no-ds"] as const;
/** One of `BREAKAGES`. */
export type Breakage = typeof BREAKAGES[number];

/** Options for `signMiniInternet`. */
export interface SignMiniOptions {
  /** Spoil one link of the chain (see the module comment). */
  breakWith?: Breakage;
  /** Deny with NSEC3 (these settings) instead of NSEC, in every zone. */
  nsec3?: Nsec3Options;
  /** DNSSEC algorithm for every key (default 13, ECDSAP256SHA256). */
  algorithm?: number;
  /** Signature inception and expiration (seconds since 1970); default: the signer's. */
  inception?: number;
  expiration?: number;
}

/**
 * Signs `zones` (ordered parent first, e.g. root, com., cnblogs.com.) from the bottom up, adding
 * each child's DS to its parent, and writes the results and the trust anchor into `outDir`.
 */
export async function signMiniInternet(
  zones: readonly ZoneSource[],
  outDir: string,
  options: SignMiniOptions = {},
): Promise<SignedMiniInternet> {
  const algorithm = options.algorithm ?? 13;
  const files: Record<string, string> = {};
  const keys: Record<string, SigningKey[]> = {};
  const pendingDs = new Map<string, ResourceRecord[]>();
  let rootKsk: SigningKey | undefined;
  for (const source of [...zones].reverse()) {
    const zone = parseZone(await Deno.readTextFile(source.path), { file: source.path });
    for (const [child, ds] of pendingDs) {
      if (isChildOf(child, zone.origin)) {
        zone.records.push(...ds);
        pendingDs.delete(child);
      }
    }
    const ksk = await generateSigningKey(zone.origin, algorithm, { ksk: true });
    const zsk = await generateSigningKey(zone.origin, algorithm);
    keys[zone.origin] = [ksk, zsk];
    const expired = options.breakWith === "expired" && zone.origin === "cnblogs.com.";
    const now = Math.floor(Date.now() / 1000);
    const signed = await signZone(zone, [ksk, zsk], {
      inception: expired ? now - 37 * 86400 : options.inception,
      expiration: expired ? now - 7 * 86400 : options.expiration,
      nsec3: options.nsec3,
    });
    spoil(signed.zone.records, zone.origin, options.breakWith);
    const file = `${outDir}/${zone.origin === "." ? "root" : zone.origin.slice(0, -1)}.signed`;
    await Deno.writeTextFile(file, signed.zone.records.map(formatRecord).join("\n") + "\n");
    files[zone.origin] = file;
    pendingDs.set(zone.origin, [dsRecord(zone.origin, ksk)]);
    if (zone.origin === ".") rootKsk = ksk;
  }
  if (!rootKsk) throw new RangeError("Cannot make a trust anchor: no root zone given");
  const anchorDs = dsRecord(".", rootKsk);
  const anchorKey: ResourceRecord = {
    name: ".",
    type: TYPE.DNSKEY,
    class: 1,
    ttl: 86400,
    data: rootKsk.dnskey,
  };
  const anchorFile = `${outDir}/root.anchor`;
  await Deno.writeTextFile(
    anchorFile,
    `; The mini-Internet's trust anchor: its root KSK (tag ${rootKsk.tag}) and that key's DS.\n` +
      `${formatRecord(anchorDs)}\n${formatRecord(anchorKey)}\n`,
  );
  const bindAnchorFile = `${outDir}/root.anchor.conf`;
  const k = rootKsk.dnskey;
  await Deno.writeTextFile(
    bindAnchorFile,
    `trust-anchors {\n  . static-key ${k.flags} ${k.protocol} ${k.algorithm} "${
      toBase64(k.publicKey)
    }";\n};\n`,
  );
  return { files, anchorDs, anchorKey, anchorFile, bindAnchorFile, keys };
}

/** Applies `flip` (to cnblogs.com.) or `no-ds` (to com.) to freshly signed records. */
function spoil(records: ResourceRecord[], origin: string, breakage: Breakage | undefined): void {
  if (breakage === "flip" && origin === "cnblogs.com.") {
    const sig = records.find((rr) =>
      rr.name === "www.cnblogs.com." && rr.data.kind === "RRSIG" && rr.data.typeCovered === TYPE.A
    );
    if (sig?.data.kind === "RRSIG") {
      const signature = sig.data.signature.slice();
      signature[10] ^= 0x01;
      sig.data = { ...sig.data, signature };
    }
  }
  if (breakage === "no-ds" && origin === "com.") {
    for (let i = records.length - 1; i >= 0; i--) {
      const rr = records[i];
      const isDs = rr.type === TYPE.DS ||
        (rr.data.kind === "RRSIG" && rr.data.typeCovered === TYPE.DS);
      if (isDs && rr.name === "cnblogs.com.") records.splice(i, 1);
    }
  }
}

function dsRecord(owner: string, key: SigningKey): ResourceRecord {
  return { name: owner, type: TYPE.DS, class: 1, ttl: 86400, data: makeDs(owner, key.dnskey) };
}

function isChildOf(child: string, parent: string): boolean {
  const c = child.toLowerCase();
  const p = parent.toLowerCase();
  const rest = c.slice(c.indexOf(".") + 1) || ".";
  return rest === p;
}
