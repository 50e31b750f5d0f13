/**
 * Extended DNS Errors (RFC 8914): an EDNS option (code 15) that says why an answer failed — a
 * 16-bit INFO-CODE and optional UTF-8 EXTRA-TEXT. A validating resolver attaches one to the
 * SERVFAIL it returns for a bogus answer ("6 (DNSSEC Bogus): RRSIG … expired at …").
 */
import type { EdnsOption } from "./rdata.ts";

/** The EDNS option code of Extended DNS Errors. */
export const EDE_OPTION = 15;

/** Info codes (RFC 8914 §4), the ones a validator uses and a few more. */
export const EDE = {
  OTHER: 0,
  UNSUPPORTED_DNSKEY_ALGORITHM: 1,
  UNSUPPORTED_DS_DIGEST: 2,
  STALE_ANSWER: 3,
  FORGED_ANSWER: 4,
  DNSSEC_INDETERMINATE: 5,
  DNSSEC_BOGUS: 6,
  SIGNATURE_EXPIRED: 7,
  SIGNATURE_NOT_YET_VALID: 8,
  DNSKEY_MISSING: 9,
  RRSIGS_MISSING: 10,
  NO_ZONE_KEY_BIT_SET: 11,
  NSEC_MISSING: 12,
  CACHED_ERROR: 13,
  NOT_READY: 14,
  BLOCKED: 15,
  CENSORED: 16,
  FILTERED: 17,
  PROHIBITED: 18,
  STALE_NXDOMAIN_ANSWER: 19,
  NOT_AUTHORITATIVE: 20,
  NOT_SUPPORTED: 21,
  NO_REACHABLE_AUTHORITY: 22,
  NETWORK_ERROR: 23,
  INVALID_DATA: 24,
} as const;

const EDE_NAMES: Record<number, string> = {
  0: "Other",
  1: "Unsupported DNSKEY Algorithm",
  2: "Unsupported DS Digest Type",
  3: "Stale Answer",
  4: "Forged Answer",
  5: "DNSSEC Indeterminate",
  6: "DNSSEC Bogus",
  7: "Signature Expired",
  8: "Signature Not Yet Valid",
  9: "DNSKEY Missing",
  10: "RRSIGs Missing",
  11: "No Zone Key Bit Set",
  12: "NSEC Missing",
  13: "Cached Error",
  14: "Not Ready",
  15: "Blocked",
  16: "Censored",
  17: "Filtered",
  18: "Prohibited",
  19: "Stale NXDOMAIN Answer",
  20: "Not Authoritative",
  21: "Not Supported",
  22: "No Reachable Authority",
  23: "Network Error",
  24: "Invalid Data",
};

/** `DNSSEC Bogus` for 6, `Unknown 99` for codes without a name. */
export function edeName(code: number): string {
  return EDE_NAMES[code] ?? `Unknown ${code}`;
}

/** One Extended DNS Error. */
export interface ExtendedError {
  code: number;
  text: string;
}

/** The EDNS option for an Extended DNS Error. */
export function edeOption(code: number, text = ""): EdnsOption {
  if (!Number.isInteger(code) || code < 0 || code > 0xffff) {
    throw new RangeError(`Invalid EDE info code "${code}": expected an integer from 0 to 65535`);
  }
  const bytes = new TextEncoder().encode(text);
  const data = new Uint8Array(2 + bytes.length);
  data[0] = code >> 8;
  data[1] = code & 0xff;
  data.set(bytes, 2);
  return { code: EDE_OPTION, data };
}

/** The Extended DNS Errors among EDNS options (malformed ones, under 2 bytes, are skipped). */
export function readEde(options: readonly EdnsOption[]): ExtendedError[] {
  const out: ExtendedError[] = [];
  for (const o of options) {
    if (o.code !== EDE_OPTION || o.data.length < 2) continue;
    const code = (o.data[0] << 8) | o.data[1];
    // EXTRA-TEXT is UTF-8 and may (wrongly) end in NUL; invalid bytes become U+FFFD.
    const text = new TextDecoder().decode(o.data.subarray(2)).replace(/\0+$/, "");
    out.push({ code, text });
  }
  return out;
}

/** How dig prints it: `6 (DNSSEC Bogus): (RRSIG … expired)`. */
export function formatEde(ede: ExtendedError): string {
  return `${ede.code} (${edeName(ede.code)})${ede.text ? `: (${ede.text})` : ""}`;
}
