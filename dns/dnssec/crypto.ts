/**
 * The cryptography of DNSSEC over WebCrypto and node:crypto's hashes: DS digests (RFC 4509),
 * NSEC3 hashes (RFC 5155 §5), signature verification for RSA/SHA-1 and SHA-2 (5, 7, 8, 10;
 * RFC 3110, 5702), ECDSA P-256 and P-384 (13, 14; RFC 6605) and Ed25519 (15; RFC 8080), and
 * signing keys for 8, 13 and 15: generated, or read from the BIND/ldns key files
 * (`Kexample.+013+12345.key` beside `.private`).
 *
 * DNSSEC's key and signature formats are close to WebCrypto's: an ECDSA key is x‖y (WebCrypto's
 * raw point without the 0x04), an ECDSA signature is r‖s (WebCrypto's own format), an Ed25519
 * key is its 32 bytes; only RSA keys need reshaping (RFC 3110: exponent length, exponent,
 * modulus → a JWK). Imported public keys are cached by their bytes, so verifying many
 * signatures by one key imports it once.
 */
import { createHash } from "node:crypto";
import {
  ALGORITHM,
  algorithmName,
  type DnskeyData as Dnskey,
  type DsData as Ds,
  fromBase64,
  keyTag,
  toBase64,
} from "../wire/dnssec_rdata.ts";
import { canonicalNameWire } from "../wire/canonical.ts";

/** WebCrypto wants ArrayBuffer-backed views. */
const view = (bytes: Uint8Array) => bytes as Uint8Array<ArrayBuffer>;

/** DS digest types (RFC 4034, 4509, 6605). */
export const DIGEST = { SHA1: 1, SHA256: 2, SHA384: 4 } as const;

const HASH_OF_DIGEST: Record<number, string> = { 1: "sha1", 2: "sha256", 4: "sha384" };

/** Digest types this module can compute. */
export function isSupportedDigest(digestType: number): boolean {
  return HASH_OF_DIGEST[digestType] !== undefined;
}

/** The DS digest of `key` owned by `owner`: hash(owner in canonical form ‖ DNSKEY rdata). */
export function dsDigest(owner: string, key: Dnskey, digestType: number): Uint8Array {
  const hash = HASH_OF_DIGEST[digestType];
  if (!hash) throw new RangeError(`Unsupported DS digest type ${digestType}`);
  const h = createHash(hash);
  h.update(canonicalNameWire(owner));
  h.update(dnskeyWire(key));
  return new Uint8Array(h.digest());
}

function dnskeyWire(key: Dnskey): Uint8Array {
  const out = new Uint8Array(4 + key.publicKey.length);
  out[0] = key.flags >> 8;
  out[1] = key.flags & 0xff;
  out[2] = key.protocol;
  out[3] = key.algorithm;
  out.set(key.publicKey, 4);
  return out;
}

/** The DS record data a parent publishes for `key` (SHA-256 unless told otherwise). */
export function makeDs(owner: string, key: Dnskey, digestType: number = DIGEST.SHA256): Ds {
  return {
    kind: "DS",
    keyTag: keyTag(key),
    algorithm: key.algorithm,
    digestType,
    digest: dsDigest(owner, key, digestType),
  };
}

/** The NSEC3 hash of a name (RFC 5155 §5): SHA-1 over name ‖ salt, then `iterations` more. */
export function nsec3Hash(name: string, salt: Uint8Array, iterations: number): Uint8Array {
  let digest = createHash("sha1").update(canonicalNameWire(name)).update(salt).digest();
  for (let i = 0; i < iterations; i++) {
    digest = createHash("sha1").update(digest).update(salt).digest();
  }
  return new Uint8Array(digest);
}

// ---------------------------------------------------------------------------------------------
// Verification.

interface AlgorithmSpec {
  params: RsaHashedImportParams | EcKeyImportParams | Algorithm;
  verify: AlgorithmIdentifier | EcdsaParams;
}

const SPECS: Record<number, AlgorithmSpec> = {
  5: rsa("SHA-1"),
  7: rsa("SHA-1"),
  8: rsa("SHA-256"),
  10: rsa("SHA-512"),
  13: ec("P-256", "SHA-256"),
  14: ec("P-384", "SHA-384"),
  15: { params: { name: "Ed25519" }, verify: { name: "Ed25519" } },
};

function rsa(hash: string): AlgorithmSpec {
  return {
    params: { name: "RSASSA-PKCS1-v1_5", hash },
    verify: { name: "RSASSA-PKCS1-v1_5" },
  };
}

function ec(namedCurve: string, hash: string): AlgorithmSpec {
  return { params: { name: "ECDSA", namedCurve }, verify: { name: "ECDSA", hash } };
}

/** True when signatures of `algorithm` can be verified here. */
export function isSupportedAlgorithm(algorithm: number): boolean {
  return SPECS[algorithm] !== undefined;
}

/** A public key that cannot be used: its bytes do not fit its algorithm. */
export class BadKeyError extends RangeError {
  override name = "BadKeyError";
}

const base64url = (bytes: Uint8Array) =>
  toBase64(bytes).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");

function fromBase64url(text: string): Uint8Array {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  return fromBase64(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
}

/** The JWK of a DNSKEY's public key (RFC 3110 RSA, RFC 6605 EC, RFC 8080 Ed25519). */
function publicJwk(algorithm: number, key: Uint8Array): JsonWebKey {
  if (algorithm === 13 || algorithm === 14) {
    const half = algorithm === 13 ? 32 : 48;
    if (key.length !== 2 * half) {
      throw new BadKeyError(`${algorithmName(algorithm)} key of ${key.length} bytes`);
    }
    return {
      kty: "EC",
      crv: algorithm === 13 ? "P-256" : "P-384",
      x: base64url(key.subarray(0, half)),
      y: base64url(key.subarray(half)),
    };
  }
  if (algorithm === 15) {
    if (key.length !== 32) throw new BadKeyError(`ED25519 key of ${key.length} bytes`);
    return { kty: "OKP", crv: "Ed25519", x: base64url(key) };
  }
  // RSA: one length byte (or 0 and two), the exponent, then the modulus.
  let at = 1;
  let expLength = key[0] ?? 0;
  if (expLength === 0) {
    expLength = ((key[1] ?? 0) << 8) | (key[2] ?? 0);
    at = 3;
  }
  if (expLength === 0 || at + expLength >= key.length) {
    throw new BadKeyError(`RSA key of ${key.length} bytes is cut short`);
  }
  return {
    kty: "RSA",
    e: base64url(key.subarray(at, at + expLength)),
    n: base64url(key.subarray(at + expLength)),
  };
}

const KEY_CACHE_SIZE = 1024;
const keyCache = new Map<string, Promise<CryptoKey>>();

function importPublicKey(algorithm: number, key: Uint8Array): Promise<CryptoKey> {
  const cacheKey = `${algorithm}/${toBase64(key)}`;
  let imported = keyCache.get(cacheKey);
  if (!imported) {
    const spec = SPECS[algorithm];
    imported = crypto.subtle.importKey("jwk", publicJwk(algorithm, key), spec.params, false, [
      "verify",
    ]);
    if (keyCache.size >= KEY_CACHE_SIZE) keyCache.delete(keyCache.keys().next().value!);
    keyCache.set(cacheKey, imported);
    imported.catch(() => keyCache.delete(cacheKey));
  }
  return imported;
}

/**
 * Signatures found good, by the signature's bytes, with the key and the exact data they were
 * checked over. A wildcard zone signs one RRset and one NSEC for every name it synthesises,
 * so a validating resolver is handed the same signature over the same bytes name after name:
 * a compare answers it instead of the public-key arithmetic. Only successes are kept, and a
 * hit must match all three byte for byte (the RRSIG's time window is checked by the caller
 * before every verification).
 */
const verified = new Map<string, { algorithm: number; key: Uint8Array; data: Uint8Array }>();
const VERIFIED_CACHE_SIZE = 1024;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Verifies `signature` over `data` with a DNSKEY's algorithm and public key. False for a
 * signature that does not match; throws RangeError for an unsupported algorithm and
 * `BadKeyError` for a key the algorithm cannot use.
 */
export async function verifySignature(
  algorithm: number,
  publicKey: Uint8Array,
  data: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  const spec = SPECS[algorithm];
  if (!spec) throw new RangeError(`Unsupported algorithm ${algorithmName(algorithm)}`);
  const memo = toBase64(signature);
  const seen = verified.get(memo);
  if (
    seen && seen.algorithm === algorithm && sameBytes(seen.key, publicKey) &&
    sameBytes(seen.data, data)
  ) return true;
  const ok = await verifyUncached(spec, algorithm, publicKey, data, signature);
  if (ok) {
    if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
    verified.set(memo, { algorithm, key: publicKey.slice(), data: data.slice() });
  }
  return ok;
}

async function verifyUncached(
  spec: AlgorithmSpec,
  algorithm: number,
  publicKey: Uint8Array,
  data: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  let key: CryptoKey;
  try {
    key = await importPublicKey(algorithm, publicKey);
  } catch (error) {
    if (error instanceof BadKeyError) throw error;
    throw new BadKeyError(`${algorithmName(algorithm)} key rejected: ${(error as Error).message}`);
  }
  try {
    return await crypto.subtle.verify(spec.verify, key, view(signature), view(data));
  } catch {
    return false; // e.g. an ECDSA signature of the wrong length
  }
}

// ---------------------------------------------------------------------------------------------
// Signing keys.

/** Algorithms this module can sign with. */
export const SIGNING_ALGORITHMS: readonly number[] = [
  ALGORITHM.RSASHA256,
  ALGORITHM.ECDSAP256SHA256,
  ALGORITHM.ED25519,
];

/** A key that signs: the DNSKEY it publishes and the private half. */
export interface SigningKey {
  owner: string;
  dnskey: Dnskey;
  tag: number;
  privateKey: CryptoKey;
  /** The private key as a JWK, for writing the key file. */
  jwk: JsonWebKey;
}

/** DNSKEY flags: a zone key; with SEP, a key-signing key (RFC 4034 §2.1.1). */
export const DNSKEY_FLAGS = { ZONE: 0x0100, SEP: 0x0001, REVOKE: 0x0080 } as const;

function checkSigningAlgorithm(algorithm: number): void {
  if (!SIGNING_ALGORITHMS.includes(algorithm)) {
    throw new RangeError(
      `Cannot sign with ${algorithmName(algorithm)}: use 13 (ECDSAP256SHA256), 15 (ED25519) or 8`,
    );
  }
}

function dnskeyFromJwk(algorithm: number, jwk: JsonWebKey, ksk: boolean): Dnskey {
  let publicKey: Uint8Array;
  if (algorithm === 13) {
    publicKey = new Uint8Array([...fromBase64url(jwk.x!), ...fromBase64url(jwk.y!)]);
  } else if (algorithm === 15) {
    publicKey = fromBase64url(jwk.x!);
  } else {
    const e = fromBase64url(jwk.e!);
    const n = fromBase64url(jwk.n!);
    publicKey = new Uint8Array([
      ...(e.length < 256 ? [e.length] : [0, e.length >> 8, e.length & 0xff]),
      ...e,
      ...n,
    ]);
  }
  return {
    kind: "DNSKEY",
    flags: DNSKEY_FLAGS.ZONE | (ksk ? DNSKEY_FLAGS.SEP : 0),
    protocol: 3,
    algorithm,
    publicKey,
  };
}

async function importPrivate(algorithm: number, jwk: JsonWebKey): Promise<CryptoKey> {
  const spec = SPECS[algorithm];
  const { key_ops: _ops, ext: _ext, ...plain } = jwk;
  return await crypto.subtle.importKey("jwk", plain, spec.params, false, ["sign"]);
}

/** A new key pair for `owner` (a KSK when `ksk`). RSA keys are 2048 bits. */
export async function generateSigningKey(
  owner: string,
  algorithm: number,
  { ksk = false }: { ksk?: boolean } = {},
): Promise<SigningKey> {
  checkSigningAlgorithm(algorithm);
  const spec = SPECS[algorithm];
  const params = algorithm === 8
    ? { ...spec.params, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) }
    : spec.params;
  const pair = await crypto.subtle.generateKey(params, true, ["sign", "verify"]) as CryptoKeyPair;
  const jwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
  const dnskey = dnskeyFromJwk(algorithm, jwk, ksk);
  return { owner, dnskey, tag: keyTag(dnskey), privateKey: pair.privateKey, jwk };
}

/** Signs `data` with `key` in the DNSSEC signature format of its algorithm. */
export async function signData(key: SigningKey, data: Uint8Array): Promise<Uint8Array> {
  const spec = SPECS[key.dnskey.algorithm];
  return new Uint8Array(await crypto.subtle.sign(spec.verify, key.privateKey, view(data)));
}

// ---------------------------------------------------------------------------------------------
// BIND/ldns private key files (`Private-key-format: v1.3`).

const RSA_FIELDS: [string, keyof JsonWebKey][] = [
  ["Modulus", "n"],
  ["PublicExponent", "e"],
  ["PrivateExponent", "d"],
  ["Prime1", "p"],
  ["Prime2", "q"],
  ["Exponent1", "dp"],
  ["Exponent2", "dq"],
  ["Coefficient", "qi"],
];

/** The `.private` file text for a key (BIND's v1.3 format, which ldns reads too). */
export function privateKeyFile(key: SigningKey): string {
  const alg = key.dnskey.algorithm;
  const lines = ["Private-key-format: v1.3", `Algorithm: ${alg} (${algorithmName(alg)})`];
  if (alg === 8) {
    for (const [field, prop] of RSA_FIELDS) {
      lines.push(`${field}: ${toBase64(fromBase64url(key.jwk[prop] as string))}`);
    }
  } else {
    lines.push(`PrivateKey: ${toBase64(fromBase64url(key.jwk.d!))}`);
  }
  return lines.join("\n") + "\n";
}

/** A key malformed in its file: the message names the problem. */
export class KeyFileError extends SyntaxError {
  override name = "KeyFileError";
}

/**
 * A signing key from the text of a `.private` file and its public DNSKEY (from the `.key`
 * file). Throws `KeyFileError` when the two do not fit together.
 */
export async function readPrivateKey(
  owner: string,
  dnskey: Dnskey,
  text: string,
): Promise<SigningKey> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/).slice(0, 64)) {
    const m = /^([A-Za-z0-9-]+):\s*(.*?)\s*$/.exec(line);
    if (m) fields.set(m[1], m[2]);
  }
  const algorithm = Number(/^(\d+)/.exec(fields.get("Algorithm") ?? "")?.[1] ?? NaN);
  if (algorithm !== dnskey.algorithm) {
    throw new KeyFileError(
      `Private key algorithm "${
        fields.get("Algorithm") ?? ""
      }" does not match the DNSKEY's ${dnskey.algorithm}`,
    );
  }
  checkSigningAlgorithm(algorithm);
  const pub = publicJwk(algorithm, dnskey.publicKey);
  const jwk: JsonWebKey = { ...pub };
  const field = (name: string) => {
    const v = fields.get(name);
    if (!v) throw new KeyFileError(`Private key file has no "${name}" field`);
    return base64url(fromBase64(v));
  };
  if (algorithm === 8) {
    for (const [name, prop] of RSA_FIELDS) (jwk as Record<string, string>)[prop] = field(name);
  } else {
    jwk.d = field("PrivateKey");
  }
  let privateKey: CryptoKey;
  try {
    privateKey = await importPrivate(algorithm, jwk);
  } catch (error) {
    throw new KeyFileError(`Private key rejected: ${(error as Error).message}`);
  }
  return { owner, dnskey, tag: keyTag(dnskey), privateKey, jwk };
}
