/**
 * dns/dnssec/crypto.ts's `verifySignature` remembers signatures it found good (a wildcard zone
 * hands a validator the same signature over the same bytes for every name it synthesises):
 * the memory must answer only for exactly the key, data and signature it checked.
 */
import assert from "node:assert/strict";
import { generateSigningKey, signData, verifySignature } from "../../dns/dnssec/crypto.ts";
import { ALGORITHM } from "../../dns/wire/dnssec_rdata.ts";

for (const algorithm of [ALGORITHM.ECDSAP256SHA256, ALGORITHM.ED25519]) {
  Deno.test(`verifySignature (algorithm ${algorithm}) after a good verification: the same bytes verify, a changed byte of the data, the signature or the key does not`, async () => {
    const key = await generateSigningKey("example.", algorithm);
    const other = await generateSigningKey("example.", algorithm);
    const data = new TextEncoder().encode("the bytes an RRSIG signs");
    const signature = await signData(key, data);
    const publicKey = key.dnskey.publicKey;
    assert.equal(await verifySignature(algorithm, publicKey, data, signature), true);
    assert.equal(
      await verifySignature(algorithm, publicKey, data.slice(), signature.slice()),
      true,
    );

    const changedData = data.slice();
    changedData[3] ^= 1;
    assert.equal(await verifySignature(algorithm, publicKey, changedData, signature), false);
    const longerData = new Uint8Array([...data, 0]);
    assert.equal(await verifySignature(algorithm, publicKey, longerData, signature), false);
    assert.equal(await verifySignature(algorithm, other.dnskey.publicKey, data, signature), false);
    const changedSignature = signature.slice();
    changedSignature[10] ^= 1;
    assert.equal(await verifySignature(algorithm, publicKey, data, changedSignature), false);
    // And the good one still verifies after the failures.
    assert.equal(await verifySignature(algorithm, publicKey, data, signature), true);
  });
}

Deno.test("verifySignature remembers the bytes it checked, not the caller's buffers", async () => {
  const key = await generateSigningKey("example.", ALGORITHM.ECDSAP256SHA256);
  const data = new TextEncoder().encode("signed once");
  const signature = await signData(key, data);
  assert.equal(
    await verifySignature(ALGORITHM.ECDSAP256SHA256, key.dnskey.publicKey, data, signature),
    true,
  );
  data[0] ^= 1; // the caller reuses its buffer for other bytes
  assert.equal(
    await verifySignature(ALGORITHM.ECDSAP256SHA256, key.dnskey.publicKey, data, signature),
    false,
  );
});
