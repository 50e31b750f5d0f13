/**
 * dns/dnssec/signer.ts and dns/sign.ts: zones signed with ECDSA P-256, Ed25519 and RSA/SHA-256,
 * with NSEC, NSEC3 and NSEC3 opt-out chains, verify record by record with our verifier and as a
 * whole with ldns-verify-zone; key files round-trip and ldns-keygen's keys sign; the CLI prints
 * the DS the parent needs.
 */
import assert from "node:assert/strict";
import { formatRecord, type ResourceRecord } from "../../dns/wire/rdata.ts";
import { nameKey } from "../../dns/wire/names.ts";
import { TYPE } from "../../dns/wire/constants.ts";
import { parseZone } from "../../dns/zone/parse.ts";
import {
  type DnskeyData,
  keyTag,
  type Nsec3Data,
  type NsecData,
  type RrsigData,
} from "../../dns/wire/dnssec_rdata.ts";
import { compareNames, signedData } from "../../dns/wire/canonical.ts";
import {
  generateSigningKey,
  makeDs,
  type SigningKey,
  verifySignature,
} from "../../dns/dnssec/crypto.ts";
import { signZone } from "../../dns/dnssec/signer.ts";
import { loadKeyPair, writeKeyPair } from "../../dns/sign.ts";
import { hasCommand, runCommand, runScript } from "../_helpers.ts";

const ZONE_TEXT = await Deno.readTextFile("dns/zones/cnblogs.com.zone");

async function keysFor(algorithm: number): Promise<SigningKey[]> {
  return [
    await generateSigningKey("cnblogs.com.", algorithm, { ksk: true }),
    await generateSigningKey("cnblogs.com.", algorithm),
  ];
}

/** Every RRSIG verifies with the zone's own DNSKEYs; returns how many. */
async function verifyAll(records: ResourceRecord[]): Promise<number> {
  const keys = records.filter((rr) => rr.type === TYPE.DNSKEY).map((rr) => rr.data as DnskeyData);
  let verified = 0;
  for (const sig of records.filter((rr) => rr.type === TYPE.RRSIG)) {
    const s = sig.data as RrsigData;
    const rrset = records.filter((rr) =>
      rr.type === s.typeCovered && nameKey(rr.name) === nameKey(sig.name)
    );
    const key = keys.find((k) => keyTag(k) === s.keyTag);
    assert.ok(key, `no key ${s.keyTag}`);
    const ok = await verifySignature(s.algorithm, key.publicKey, signedData(s, rrset), s.signature);
    assert.ok(ok, formatRecord(sig));
    verified++;
  }
  return verified;
}

const haveVerifier = hasCommand("ldns-verify-zone");

async function ldnsVerify(records: ResourceRecord[]): Promise<void> {
  if (!haveVerifier) return;
  const dir = await Deno.makeTempDir({ prefix: "netlab-verify-" });
  try {
    await Deno.writeTextFile(`${dir}/z`, records.map(formatRecord).join("\n") + "\n");
    const r = await runCommand("ldns-verify-zone", ["z"], { cwd: dir });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /Zone is verified and complete/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

for (
  const [label, algorithm, nsec3] of [
    ["ECDSAP256SHA256, NSEC", 13, undefined],
    ["ED25519, NSEC3", 15, { iterations: 0 }],
    ["RSASHA256, NSEC3 opt-out with salt", 8, {
      iterations: 3,
      salt: new Uint8Array([0xaa, 0xbb]),
      optOut: true,
    }],
  ] as const
) {
  Deno.test(`signZone (${label}): every signature verifies and the chain is whole`, async () => {
    const zone = parseZone(ZONE_TEXT);
    const keys = await keysFor(algorithm);
    const result = await signZone(zone, keys, { nsec3 });
    const records = result.zone.records;
    assert.equal(await verifyAll(records), result.signatures);
    // The DNSKEY RRset is signed by the KSK, the rest by the ZSK.
    const sigs = records.filter((rr) => rr.type === TYPE.RRSIG).map((rr) => rr.data as RrsigData);
    assert.deepEqual(
      [...new Set(sigs.filter((s) => s.typeCovered === TYPE.DNSKEY).map((s) => s.keyTag))],
      [keys[0].tag],
    );
    assert.ok(
      sigs.filter((s) => s.typeCovered !== TYPE.DNSKEY).every((s) => s.keyTag === keys[1].tag),
    );
    // Glue and the delegation's NS are not signed.
    for (const owner of ["ns.sub.cnblogs.com.", "sub.cnblogs.com."]) {
      assert.ok(
        !sigs.some((s, i) =>
          s.typeCovered !== TYPE.NSEC && s.typeCovered !== TYPE.DS &&
          nameKey(records.filter((rr) => rr.type === TYPE.RRSIG)[i].name) === owner
        ),
        owner,
      );
    }
    if (!nsec3) {
      // NSEC: a ring over the authoritative names in canonical order.
      const nsecs = records.filter((rr) => rr.type === TYPE.NSEC);
      const owners = nsecs.map((rr) => rr.name);
      assert.deepEqual([...owners].sort(compareNames), owners);
      nsecs.forEach((rr, i) => {
        const next = (rr.data as NsecData).nextName;
        assert.equal(next, owners[(i + 1) % owners.length]);
      });
      assert.ok(!owners.includes("ns.sub.cnblogs.com."), "glue is not chained");
      assert.ok(owners.includes("sub.cnblogs.com."), "the delegation is chained");
    } else {
      const nsec3s = records.filter((rr) => rr.type === TYPE.NSEC3);
      const flags = new Set(nsec3s.map((rr) => (rr.data as Nsec3Data).flags));
      assert.deepEqual([...flags], [nsec3.optOut ? 1 : 0]);
      // 10 names + 3 empty non-terminals (_tcp, ent, wild), less the opted-out delegation.
      assert.equal(nsec3s.length, nsec3.optOut ? 12 : 13);
      assert.ok(records.some((rr) => rr.type === TYPE.NSEC3PARAM));
    }
    await ldnsVerify(records);
  });
}

Deno.test("signZone replaces old signatures and keeps one DNSKEY per key", async () => {
  const keys = await keysFor(13);
  const once = await signZone(parseZone(ZONE_TEXT), keys);
  const text = once.zone.records.map(formatRecord).join("\n");
  const twice = await signZone(parseZone(text), keys, { nsec3: {} });
  const types = twice.zone.records.map((rr) => rr.type);
  assert.equal(types.filter((t) => t === TYPE.DNSKEY).length, 2);
  assert.equal(types.filter((t) => t === TYPE.NSEC).length, 0);
  assert.equal(await verifyAll(twice.zone.records), twice.signatures);
  await assert.rejects(() => signZone(parseZone(ZONE_TEXT), []), /Cannot sign: no keys/);
  const other = await generateSigningKey("example.", 13);
  await assert.rejects(
    () => signZone(parseZone(ZONE_TEXT), [other]),
    /Cannot sign "cnblogs.com." with a key of "example."/,
  );
});

Deno.test("key files round-trip, and ldns-keygen's keys sign zones we verify", async () => {
  const dir = await Deno.makeTempDir({ prefix: "netlab-keys-" });
  try {
    for (const algorithm of [13, 15, 8]) {
      const key = await generateSigningKey("cnblogs.com.", algorithm, { ksk: true });
      const prefix = await writeKeyPair(key, dir);
      const loaded = await loadKeyPair(`${prefix}.private`);
      assert.deepEqual(loaded.dnskey, key.dnskey);
      assert.equal(loaded.tag, key.tag);
      const signed = await signZone(parseZone(ZONE_TEXT), [loaded]);
      assert.equal(await verifyAll(signed.zone.records), signed.signatures);
    }
    if (hasCommand("ldns-keygen")) {
      for (const algorithm of ["ECDSAP256SHA256", "ED25519"]) {
        const r = await runCommand("ldns-keygen", ["-a", algorithm, "cnblogs.com"], { cwd: dir });
        assert.equal(r.code, 0, r.stderr);
        const key = await loadKeyPair(`${dir}/${r.stdout.trim()}`);
        const signed = await signZone(parseZone(ZONE_TEXT), [key]);
        assert.equal(await verifyAll(signed.zone.records), signed.signatures);
        await ldnsVerify(signed.zone.records);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dns/sign.ts: --help, bad flags, and a real signing that prints the DS", async () => {
  const help = await runScript("dns/sign.ts", ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: deno task dns:sign ZONE/);
  const none = await runScript("dns/sign.ts", ["dns/zones/cnblogs.com.zone"]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^error: Give --key KFILE \(one or more\) or --new-keys, not both/);
  const badAlg = await runScript("dns/sign.ts", ["x.zone", "--new-keys", "--algorithm", "5"]);
  assert.equal(badAlg.code, 2);
  assert.match(badAlg.stderr, /^error: Invalid --algorithm "5": use 13, 15 or 8/);
  const dir = await Deno.makeTempDir({ prefix: "netlab-sign-cli-" });
  try {
    await Deno.writeTextFile(`${dir}/z.zone`, ZONE_TEXT);
    const r = await runScript("dns/sign.ts", [
      `${dir}/z.zone`,
      "--new-keys",
      "--key-dir",
      dir,
      "--nsec3",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /; signed cnblogs\.com\.: \d+ records, \d+ signatures in/);
    const ds = /^cnblogs\.com\.\t86400\tIN\tDS\t(\d+) 13 2 ([0-9A-F]{64})$/m.exec(r.stdout);
    assert.ok(ds, r.stdout);
    const signed = parseZone(await Deno.readTextFile(`${dir}/z.zone.signed`));
    const ksk = signed.records.find((rr) =>
      rr.type === TYPE.DNSKEY && (rr.data as DnskeyData).flags === 257
    )!;
    const expected = makeDs("cnblogs.com.", ksk.data as DnskeyData);
    assert.equal(Number(ds[1]), expected.keyTag);
    assert.equal(await verifyAll(signed.records) > 20, true);
    // The key files it wrote sign again.
    const keyFiles = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".private"));
    assert.equal(keyFiles.length, 2);
    const again = await runScript("dns/sign.ts", [
      `${dir}/z.zone`,
      ...keyFiles.flatMap((e) => ["--key", `${dir}/${e.name}`]),
      "--output",
      `${dir}/again`,
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.ok(again.stdout.includes(ds[0]), "the same KSK gives the same DS");
    const missing = await runScript("dns/sign.ts", [`${dir}/z.zone`, "--key", `${dir}/nope`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error: Cannot read key ".*\/nope": /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
