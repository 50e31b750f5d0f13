/**
 * Sign a zone file: the lesson's answer to "who can I trust to tell me an address?" — the zone
 * owner signs every RRset with a private key, publishes the public key (DNSKEY), and hands its
 * parent a digest of that key (DS) to publish in turn. This script does the signing.
 *
 *   deno task dns:sign dns/zones/cnblogs.com.zone --new-keys            # KSK + ZSK, ECDSA P-256
 *   deno task dns:sign ZONE --key Kcnblogs.com.+013+12345 --key Kcnblogs.com.+013+54321
 *   deno task dns:sign ZONE --new-keys --algorithm 15 --nsec3 --salt - --iterations 0
 *
 * It writes ZONE.signed (or --output), the new key files (K<zone>+<alg>+<tag>.key/.private, the
 * format BIND and ldns use, in --key-dir), and prints the DS record for the parent zone. Serve
 * the result with `deno task dns:server --zone ZONE.signed` and look: `dig +dnssec @127.0.0.1
 * -p 1053 www.cnblogs.com`. All the signing logic is in `dns/dnssec/signer.ts`.
 */
import { CliError, parseCli, printLine, runMain, UsageError } from "../tcp/kit/cli.ts";
import { formatRecord, type ResourceRecord } from "./wire/rdata.ts";
import { TYPE } from "./wire/constants.ts";
import { parseZone, ZoneSyntaxError } from "./zone/parse.ts";
import { algorithmName, type DnskeyData, fromHex } from "./wire/dnssec_rdata.ts";
import {
  DNSKEY_FLAGS,
  generateSigningKey,
  KeyFileError,
  makeDs,
  privateKeyFile,
  readPrivateKey,
  SIGNING_ALGORITHMS,
  type SigningKey,
} from "./dnssec/crypto.ts";
import { type SignOptions, signZone } from "./dnssec/signer.ts";

export const USAGE = `Usage: deno task dns:sign ZONE (--key KFILE… | --new-keys) [options]

Signs a master-file zone (DNSKEY, RRSIG, NSEC or NSEC3) and prints the DS for the parent.
  --key KFILE         a key pair as BIND/ldns write it: KFILE.key (the DNSKEY) and
                      KFILE.private; repeat for a KSK and a ZSK (the SEP flag says which)
  --new-keys          generate a KSK and a ZSK and write their files to --key-dir
  --algorithm ALG     for --new-keys: 13 ECDSAP256SHA256 (default), 15 ED25519, 8 RSASHA256
  --key-dir DIR       where --new-keys writes key files (default: the current directory)
  --origin NAME       the zone's apex when the file does not say (default: the SOA owner)
  --nsec3             deny with NSEC3 instead of NSEC
  --salt HEX          NSEC3 salt, - for none (default -)
  --iterations N      NSEC3 extra iterations (default 0, as RFC 9276 advises)
  --opt-out           NSEC3 opt-out: unsigned delegations get no NSEC3 of their own
  --valid DAYS        signature lifetime from now (default 30; they start an hour ago)
  --output FILE       where the signed zone goes (default: ZONE.signed)
  -h, --help          show this help`;

/** Reads a key pair from `prefix`.key and `prefix`.private (either may be given). */
export async function loadKeyPair(path: string): Promise<SigningKey> {
  const prefix = path.replace(/\.(key|private)$/, "");
  let keyText: string;
  let privateText: string;
  try {
    keyText = await Deno.readTextFile(`${prefix}.key`);
    privateText = await Deno.readTextFile(`${prefix}.private`);
  } catch (error) {
    throw new CliError(`Cannot read key "${prefix}": ${(error as Error).message}`);
  }
  let dnskey: ResourceRecord | undefined;
  try {
    dnskey = parseZone(keyText, { file: `${prefix}.key`, recordsOnly: true, origin: "." })
      .records.find((rr) => rr.type === TYPE.DNSKEY);
  } catch (error) {
    if (error instanceof ZoneSyntaxError) throw new CliError(error.message);
    throw error;
  }
  if (!dnskey) throw new CliError(`Cannot read key "${prefix}.key": no DNSKEY record in it`);
  try {
    return await readPrivateKey(dnskey.name, dnskey.data as DnskeyData, privateText);
  } catch (error) {
    if (error instanceof KeyFileError || error instanceof RangeError) {
      throw new CliError(`Cannot use key "${prefix}": ${error.message}`);
    }
    throw error;
  }
}

/** The file name BIND and ldns give a key: `Kcnblogs.com.+013+12345`. */
export function keyFileName(key: SigningKey): string {
  const alg = String(key.dnskey.algorithm).padStart(3, "0");
  return `K${key.owner}+${alg}+${String(key.tag).padStart(5, "0")}`;
}

/** Writes a key pair's `.key` and `.private` files into `dir`; returns the path prefix. */
export async function writeKeyPair(key: SigningKey, dir: string): Promise<string> {
  const prefix = `${dir.replace(/\/$/, "")}/${keyFileName(key)}`;
  const record = { name: key.owner, type: TYPE.DNSKEY, class: 1, ttl: 3600, data: key.dnskey };
  const role = key.dnskey.flags & DNSKEY_FLAGS.SEP ? "key-signing key" : "zone-signing key";
  await Deno.writeTextFile(`${prefix}.key`, `; ${role}, tag ${key.tag}\n${formatRecord(record)}\n`);
  await Deno.writeTextFile(`${prefix}.private`, privateKeyFile(key), { mode: 0o600 });
  return prefix;
}

function parseCount(value: string | undefined, fallback: number, flag: string, max: number) {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) > max) {
    throw new UsageError(`Invalid ${flag} "${value}": expected an integer from 0 to ${max}`);
  }
  return Number(value);
}

/** Signs the zone the arguments name; prints the summary and the DS. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args, {
    key: { type: "string", multiple: true },
    "new-keys": { type: "boolean" },
    algorithm: { type: "string" },
    "key-dir": { type: "string" },
    origin: { type: "string" },
    nsec3: { type: "boolean" },
    salt: { type: "string" },
    iterations: { type: "string" },
    "opt-out": { type: "boolean" },
    valid: { type: "string" },
    output: { type: "string" },
  });
  if (positionals.length !== 1) throw new UsageError("Give exactly one zone file");
  const keyPaths = values.key ?? [];
  if (!keyPaths.length === !values["new-keys"]) {
    throw new UsageError("Give --key KFILE (one or more) or --new-keys, not both");
  }
  const algorithm = parseCount(values.algorithm, 13, "--algorithm", 255);
  if (!SIGNING_ALGORITHMS.includes(algorithm)) {
    throw new UsageError(`Invalid --algorithm "${values.algorithm}": use 13, 15 or 8`);
  }
  const iterations = parseCount(values.iterations, 0, "--iterations", 500);
  let salt: Uint8Array;
  try {
    salt = !values.salt || values.salt === "-" ? new Uint8Array(0) : fromHex(values.salt);
  } catch {
    throw new UsageError(`Invalid --salt "${values.salt}": expected hex digits or -`);
  }
  const days = parseCount(values.valid, 30, "--valid", 3650);
  const path = positionals[0];
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new CliError(`Cannot read zone file "${path}": ${(error as Error).message}`);
  }
  let zone;
  try {
    zone = parseZone(text, { file: path, origin: values.origin });
  } catch (error) {
    if (error instanceof ZoneSyntaxError || error instanceof RangeError) {
      throw new CliError(error.message);
    }
    throw error;
  }
  const keys: SigningKey[] = [];
  if (values["new-keys"]) {
    const dir = values["key-dir"] ?? ".";
    for (const ksk of [true, false]) {
      const key = await generateSigningKey(zone.origin, algorithm, { ksk });
      const prefix = await writeKeyPair(key, dir);
      printLine(`; new ${ksk ? "KSK" : "ZSK"} ${key.tag} (${algorithmName(algorithm)}): ${prefix}`);
      keys.push(key);
    }
  } else {
    for (const p of keyPaths) keys.push(await loadKeyPair(p));
  }
  const now = Math.floor(Date.now() / 1000);
  const options: SignOptions = {
    expiration: now + days * 86400,
    nsec3: values.nsec3 ? { iterations, salt, optOut: values["opt-out"] } : undefined,
  };
  const started = performance.now();
  let result;
  try {
    result = await signZone(zone, keys, options);
  } catch (error) {
    if (error instanceof RangeError) throw new CliError(error.message);
    throw error;
  }
  const ms = performance.now() - started;
  const output = values.output ?? `${path}.signed`;
  await Deno.writeTextFile(output, result.zone.records.map(formatRecord).join("\n") + "\n");
  printLine(
    `; signed ${zone.origin}: ${result.zone.records.length} records, ${result.signatures} ` +
      `signatures in ${ms.toFixed(0)} ms (${(result.signatures / (ms / 1000)).toFixed(0)}/s) ` +
      `-> ${output}`,
  );
  const ksks = keys.filter((k) => k.dnskey.flags & DNSKEY_FLAGS.SEP);
  printLine(`; DS for the parent zone (publish it there to make ${zone.origin} secure):`);
  for (const key of ksks.length ? ksks : keys) {
    const ds = makeDs(zone.origin, key.dnskey);
    printLine(formatRecord({ name: zone.origin, type: TYPE.DS, class: 1, ttl: 86400, data: ds }));
  }
  return 0;
}

if (import.meta.main) await runMain(USAGE, main);
