/**
 * dns/wire/dnssec_rdata.ts, dns/wire/canonical.ts and dns/dnssec/crypto.ts: the DNSSEC rdata formats
 * against RFC 4034/5155 vectors, round trips of every type, canonical order, key tags, DS
 * digests, NSEC3 hashes, the RFC 6605 / 8080 / 5702 signature examples, zones signed by
 * ldns-signzone loading unchanged with every signature verifying, and a seeded fuzz of the
 * decoders.
 */
import assert from "node:assert/strict";
import { decodeMessage, encodeMessage, makeQuery } from "../../dns/wire/message.ts";
import {
  decodeRdata,
  encodeRdata,
  formatRdata,
  formatRecord,
  type ResourceRecord,
} from "../../dns/wire/rdata.ts";
import { DnsFormatError } from "../../dns/wire/primitives.ts";
import { nameKey } from "../../dns/wire/names.ts";
import { TYPE } from "../../dns/wire/constants.ts";
import {
  compareSerial,
  decodeTypeBitmap,
  type DnskeyData as Dnskey,
  encodeTypeBitmap,
  formatSigTime,
  fromBase32Hex,
  fromBase64,
  fromHex,
  keyTag,
  parseSigTime,
  type RrsigData as Rrsig,
  toBase32Hex,
  toBase64,
  toHex,
} from "../../dns/wire/dnssec_rdata.ts";
import { compareNames, signedData } from "../../dns/wire/canonical.ts";
import {
  makeDs,
  nsec3Hash,
  readPrivateKey,
  signData,
  verifySignature,
} from "../../dns/dnssec/crypto.ts";
import { parseZone, ZoneSyntaxError } from "../../dns/zone/parse.ts";
import { hasCommand, runCommand } from "../_helpers.ts";
import { prng } from "../_prng.ts";

function records(text: string): ResourceRecord[] {
  return parseZone(text, { recordsOnly: true, origin: "." }).records;
}

function hexOf(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ");
}

Deno.test("base64, base32hex and hex round-trip every length and reject bad text", () => {
  for (let n = 0; n < 40; n++) {
    const bytes = new Uint8Array(n).map((_, i) => (i * 37 + n) & 0xff);
    assert.deepEqual(fromBase64(toBase64(bytes)), bytes);
    assert.deepEqual(fromBase32Hex(toBase32Hex(bytes)), bytes);
    assert.deepEqual(fromHex(toHex(bytes)), bytes);
  }
  assert.equal(toBase64(new TextEncoder().encode("foobar")), "Zm9vYmFy");
  assert.equal(toBase64(new TextEncoder().encode("fo")), "Zm8=");
  // RFC 4648 §10's base32hex vector, without padding as NSEC3 writes it.
  assert.equal(toBase32Hex(new TextEncoder().encode("foobar")), "CPNMUOJ1E8");
  assert.deepEqual(fromBase64("Zm9v\n YmFy"), new TextEncoder().encode("foobar"));
  assert.throws(() => fromBase64("Zm9"), /Invalid base64 "Zm9": length is not a multiple of 4/);
  assert.throws(() => fromBase64("Zm!v"), /Invalid base64 "Zm!v": bad character/);
  assert.throws(() => fromBase64("Z=9v"), /bad character/);
  assert.throws(() => fromBase32Hex("W0"), /Invalid base32hex "W0": bad character/);
  assert.throws(() => fromBase32Hex("C"), /impossible length/);
  assert.throws(() => fromBase32Hex("CQ"), /non-zero padding bits/);
  assert.throws(() => fromHex("abc"), /Invalid hex "abc"/);
});

Deno.test("signature times print as YYYYMMDDHHmmSS and compare in serial arithmetic", () => {
  assert.equal(parseSigTime("20100909100439"), 1284026679);
  assert.equal(formatSigTime(1284026679), "20100909100439");
  assert.equal(parseSigTime("1440021600"), 1440021600);
  assert.throws(() => parseSigTime("20100231000000"), /Invalid signature time "20100231000000"/);
  assert.throws(() => parseSigTime("2010-09-09"), /expected YYYYMMDDHHmmSS or seconds/);
  assert.equal(compareSerial(1, 2), -1);
  assert.equal(compareSerial(0xffffffff, 1), -1); // wraps: 2^32-1 is before 1
  assert.equal(compareSerial(5, 5), 0);
});

Deno.test("type bitmaps: RFC 4034 §4.3's example and every malformed window", () => {
  const bitmap = encodeTypeBitmap([1, 15, 46, 47, 1234]);
  assert.equal(
    hexOf(bitmap),
    "00 06 40 01 00 00 00 03 04 1b " + Array(26).fill("00").join(" ") + " 20",
  );
  assert.deepEqual(decodeTypeBitmap(bitmap, 0, bitmap.length), [1, 15, 46, 47, 1234]);
  assert.deepEqual(encodeTypeBitmap([]), new Uint8Array(0));
  const bad: [number[], RegExp][] = [
    [[0, 0], /window length 0 is not 1 to 32/],
    [[0, 33, ...Array(33).fill(1)], /window length 33/],
    [[0, 1, 0], /window ends in a zero byte/],
    [[1, 1, 0x40, 0, 1, 0x40], /window 0 follows window 1/],
    [[0, 2, 0x40], /need 2 bytes, only 1 left/],
  ];
  for (const [bytes, message] of bad) {
    assert.throws(
      () => decodeTypeBitmap(new Uint8Array(bytes), 0, bytes.length),
      (e) => e instanceof DnsFormatError && message.test(e.message),
    );
  }
});

Deno.test("RFC 4034's NSEC wire example encodes byte for byte", () => {
  const [nsec] = records(
    "alfa.example.com. 86400 IN NSEC host.example.com. A MX RRSIG NSEC TYPE1234",
  );
  assert.equal(
    hexOf(encodeRdata(nsec)),
    "04 68 6f 73 74 07 65 78 61 6d 70 6c 65 03 63 6f 6d 00 " +
      "00 06 40 01 00 00 00 03 04 1b " + Array(26).fill("00").join(" ") + " 20",
  );
  assert.equal(formatRdata(nsec), "host.example.com. A MX RRSIG NSEC TYPE1234");
});

Deno.test("key tags and DS digests match RFC 4034, 6605 and 8080", () => {
  const [dskey, p256, ed, rsa] = records(`
dskey.example.com. 86400 IN DNSKEY 256 3 5 ( AQOeiiR0GOMYkDshWoSKz9Xz fwJr1AYtsmx3TGkJaNXVbfi/
  2pHm822aJ5iI9BMzNXxeYCmZ DRD99WYwYqUSdjMmmAphXdvx egXd/M5+X7OrzKBaMbCVdFLU
  Uh6DhweJBjEVv5f2wwjM9Xzc nOf+EPbtG9DMBmADjFDc2w/r ljwvFw== )
example.net. 3600 IN DNSKEY 257 3 13 GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edb krSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==
example.com. 3600 IN DNSKEY 257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=
example.net. 3600 IN DNSKEY 256 3 8 AwEAAcFcGsaxxdgiuuGmCkVImy4h99CqT7jwY3pexPGcnUFtR2Fh36BponcwtkZ4cAgtvd4Qs8PkxUdp6p/DlUmObdk=
`);
  const tags = [dskey, p256, ed, rsa].map((rr) => keyTag(rr.data as Dnskey));
  assert.deepEqual(tags, [60485, 55648, 3613, 9033]);
  const ds = (rr: ResourceRecord, type: number) =>
    toHex(makeDs(rr.name, rr.data as Dnskey, type).digest);
  assert.equal(ds(dskey, 1), "2BB183AF5F22588179A53B0A98631FAD1A292118");
  assert.equal(ds(p256, 2), "B4C8C1FE2E7477127B27115656AD6256F424625BF5C1E2770CE6D6E37DF61D17");
  assert.equal(ds(ed, 2), "3AA5AB37EFCE57F737FC1627013FEE07BDF241BD10F3B1964AB55C78E79A304B");
  assert.equal(
    formatRecord({ ...dskey, type: TYPE.DS, data: makeDs(dskey.name, dskey.data as Dnskey, 1) }),
    "dskey.example.com.\t86400\tIN\tDS\t60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118",
  );
});

Deno.test("NSEC3 hashes match RFC 5155 Appendix A", () => {
  const salt = fromHex("aabbccdd");
  const expected: Record<string, string> = {
    "example.": "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom",
    "a.example.": "35mthgpgcu1qg68fab165klnsnk3dpvl",
    "ai.example.": "gjeqe526plbf1g8mklp59enfd789njgi",
    "ns1.example.": "2t7b4g4vsa5smi47k61mv5bv1a22bojr",
    "w.example.": "k8udemvp1j2f7eg6jebps17vp3n8i58h",
    "*.w.example.": "r53bq7cc2uvmubfu5ocmm6pers9tk9en",
    "x.y.w.example.": "2vptu5timamqttgl4luu9kg21e0aor3s",
    "xx.EXAMPLE.": "t644ebqk9bibcna874givr6joj62mlhv",
  };
  for (const [name, hash] of Object.entries(expected)) {
    assert.equal(toBase32Hex(nsec3Hash(name, salt, 12)).toLowerCase(), hash, name);
  }
});

Deno.test("every DNSSEC type round-trips presentation → wire → presentation", () => {
  const text = `
example. 3600 IN DNSKEY 257 3 13 GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==
example. 3600 IN CDNSKEY 257 3 ED25519 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=
example. 3600 IN DS 60485 5 1 ( 2BB183AF5F22588179A53B0A
  98631FAD1A292118 )
example. 3600 IN CDS 3613 15 2 3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b
example. 3600 IN RRSIG MX 15 2 3600 1440021600 1438207200 3613 Example. oL9krJun7xfBOIWcGHi7mag5/hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrqNAg==
example. 3600 IN NSEC a.example. NS SOA RRSIG NSEC DNSKEY TYPE65534
example. 3600 IN NSEC3 1 1 12 aabbccdd 2t7b4g4vsa5smi47k61mv5bv1a22bojr MX DNSKEY NS SOA NSEC3PARAM RRSIG
example. 3600 IN NSEC3 1 0 0 - 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR
example. 3600 IN NSEC3PARAM 1 0 12 aabbccdd
example. 3600 IN NSEC3PARAM 1 0 0 -
`;
  const rrs = records(text);
  assert.equal(rrs.length, 10);
  const printed = rrs.map(formatRecord);
  assert.deepEqual(printed, [
    "example.\t3600\tIN\tDNSKEY\t257 3 13 GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==",
    "example.\t3600\tIN\tCDNSKEY\t257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=",
    "example.\t3600\tIN\tDS\t60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118",
    "example.\t3600\tIN\tCDS\t3613 15 2 3AA5AB37EFCE57F737FC1627013FEE07BDF241BD10F3B1964AB55C78E79A304B",
    "example.\t3600\tIN\tRRSIG\tMX 15 2 3600 20150819220000 20150729220000 3613 Example. oL9krJun7xfBOIWcGHi7mag5/hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrqNAg==",
    "example.\t3600\tIN\tNSEC\ta.example. NS SOA RRSIG NSEC DNSKEY TYPE65534",
    "example.\t3600\tIN\tNSEC3\t1 1 12 AABBCCDD 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR NS SOA MX RRSIG DNSKEY NSEC3PARAM",
    "example.\t3600\tIN\tNSEC3\t1 0 0 - 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR",
    "example.\t3600\tIN\tNSEC3PARAM\t1 0 12 AABBCCDD",
    "example.\t3600\tIN\tNSEC3PARAM\t1 0 0 -",
  ]);
  // Printed text parses back to the same records, and the wire form decodes back to them.
  assert.deepEqual(records(printed.join("\n")), rrs);
  for (const rr of rrs) assert.deepEqual(decodeRdata(rr.type, encodeRdata(rr)), rr.data);
  // In a message too: the RRSIG signer and NSEC next name are written uncompressed.
  const msg = { ...makeQuery("example.", TYPE.ANY, { id: 7 }), answers: rrs, additionals: [] };
  const wire = encodeMessage(msg);
  assert.deepEqual(decodeMessage(wire).answers, rrs);
  const signer = new Uint8Array([7, ...new TextEncoder().encode("Example"), 0]);
  assert.ok(hexOf(wire).includes(hexOf(signer)), "the signer name is written in full");
});

Deno.test("DNSSEC presentation errors name the field", () => {
  const bad: [string, RegExp][] = [
    ["DNSKEY 257 3 13", /DNSKEY needs at least 4 rdata fields, got 3/],
    ["DNSKEY 70000 3 13 AAAA", /invalid DNSKEY flags "70000"/],
    ["DNSKEY 257 3 13 AAA", /Invalid base64 "AAA"/],
    ["DS 1 13 2 abc", /Invalid hex "abc"/],
    ["RRSIG BOGUS 13 2 3600 1 1 1 example. AAAA", /unknown type covered "BOGUS"/],
    ["RRSIG A 13 2 3600 2010-09 1 1 example. AAAA", /Invalid signature time "2010-09"/],
    ["NSEC a.example. A BOGUS", /unknown type "BOGUS" in type bitmap/],
    ["NSEC3 1 0 0 - W", /Invalid base32hex "W"/],
    ["NSEC3PARAM 1 0 0", /NSEC3PARAM needs 4 rdata fields, got 3/],
  ];
  for (const [rdata, message] of bad) {
    assert.throws(
      () => records(`example. 3600 IN ${rdata}`),
      (e) => e instanceof ZoneSyntaxError && message.test(e.message),
      rdata,
    );
  }
});

Deno.test("a CNAME may have RRSIG and NSEC beside it, nothing else", () => {
  const zone = `$ORIGIN example.
@ 3600 IN SOA ns hostmaster 1 2 3 4 5
alias 3600 IN CNAME www
alias 3600 IN RRSIG CNAME 13 2 3600 1440021600 1438207200 3613 example. AAAA
alias 3600 IN NSEC www.example. CNAME RRSIG NSEC
`;
  assert.equal(parseZone(zone).records.length, 4);
  assert.throws(() => parseZone(zone + "alias 3600 IN A 192.0.2.1\n"), /CNAME and other data/);
});

Deno.test("canonical order is RFC 4034 §6.1's example", () => {
  const ordered = [
    "example.",
    "a.example.",
    "yljkjljk.a.example.",
    "Z.a.example.",
    "zABC.a.EXAMPLE.",
    "z.example.",
    "\\001.z.example.",
    "*.z.example.",
    "\\200.z.example.",
  ];
  const shuffled = [...ordered].reverse();
  shuffled.sort(compareNames);
  assert.deepEqual(shuffled, ordered);
});

/** The three RFC signature examples: key, RRset, RRSIG. */
const SIGNATURE_VECTORS: { name: string; text: string }[] = [
  {
    name: "RFC 6605 §6.1 ECDSAP256SHA256",
    text: `example.net. 3600 IN DNSKEY 257 3 13 ( GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edb
  krSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA== )
www.example.net. 3600 IN A 192.0.2.1
www.example.net. 3600 IN RRSIG A 13 3 3600 ( 20100909100439 20100812100439 55648 example.net.
  qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXA yGmt+3SNruPFKG7tZoLBLlUzGGus7ZwmwWep666VCw== )`,
  },
  {
    name: "RFC 8080 §6.1 ED25519 (erratum 4935)",
    text: `example.com. 3600 IN DNSKEY 257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=
example.com. 3600 IN MX 10 mail.example.com.
example.com. 3600 IN RRSIG MX 15 2 3600 ( 1440021600 1438207200 3613 example.com.
  oL9krJun7xfBOIWcGHi7mag5/hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrqNAg== )`,
  },
  {
    name: "RFC 5702 §6.1 RSASHA256",
    text:
      `example.net. 3600 IN DNSKEY 256 3 8 ( AwEAAcFcGsaxxdgiuuGmCkVImy4h99CqT7jwY3pexPGcnUFtR2Fh
  36BponcwtkZ4cAgtvd4Qs8PkxUdp6p/DlUmObdk= )
www.example.net. 3600 IN A 192.0.2.91
www.example.net. 3600 IN RRSIG A 8 3 3600 ( 20300101000000 20000101000000 9033 example.net.
  kRCOH6u7l0QGy9qpC9l1sLncJcOKFLJ7GhiUOibu4teYp5VE9RncriShZNz85mwlMgNEacFYK/lPtPiVYP4bwg== )`,
  },
];

for (const vector of SIGNATURE_VECTORS) {
  Deno.test(`${vector.name}: the example signature verifies, a changed byte does not`, async () => {
    const [key, rr, sig] = records(vector.text);
    const k = key.data as Dnskey;
    const s = sig.data as Rrsig;
    const data = signedData(s, [rr]);
    assert.equal(await verifySignature(k.algorithm, k.publicKey, data, s.signature), true);
    const flipped = data.slice();
    flipped[flipped.length - 1] ^= 1;
    assert.equal(await verifySignature(k.algorithm, k.publicKey, flipped, s.signature), false);
    // The owner's case does not matter (canonical form), the TTL seen does not either.
    const upper = { ...rr, name: rr.name.toUpperCase(), ttl: 5 };
    assert.equal(
      await verifySignature(k.algorithm, k.publicKey, signedData(s, [upper]), s.signature),
      true,
    );
  });
}

Deno.test("signing RFC 8080's record with its private key gives its signature exactly", async () => {
  const [key, mx, sig] = records(SIGNATURE_VECTORS[1].text);
  const signing = await readPrivateKey(
    "example.com.",
    key.data as Dnskey,
    "Private-key-format: v1.2\nAlgorithm: 15 (ED25519)\n" +
      "PrivateKey: ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=\n",
  );
  const produced = await signData(signing, signedData(sig.data as Rrsig, [mx]));
  assert.equal(toBase64(produced), toBase64((sig.data as Rrsig).signature));
});

Deno.test("an ECDSA signature made with RFC 6605's private key verifies", async () => {
  const [key, a, sig] = records(SIGNATURE_VECTORS[0].text);
  const signing = await readPrivateKey(
    "example.net.",
    key.data as Dnskey,
    "Private-key-format: v1.2\nAlgorithm: 13 (ECDSAP256SHA256)\n" +
      "PrivateKey: GU6SnQ/Ou+xC5RumuIUIuJZteXT2z0O/ok1s38Et6mQ=\n",
  );
  const data = signedData(sig.data as Rrsig, [a]);
  const produced = await signData(signing, data);
  assert.equal(produced.length, 64);
  assert.equal(await verifySignature(13, (key.data as Dnskey).publicKey, data, produced), true);
});

/** Verifies every RRSIG of a zone with the zone's DNSKEYs; returns [verified, failed]. */
async function verifyZone(rrs: ResourceRecord[]): Promise<[number, string[]]> {
  const keys = rrs.filter((rr) => rr.type === TYPE.DNSKEY).map((rr) => rr.data as Dnskey);
  let ok = 0;
  const failed: string[] = [];
  for (const sig of rrs.filter((rr) => rr.type === TYPE.RRSIG)) {
    const s = sig.data as Rrsig;
    const rrset = rrs.filter((rr) =>
      rr.type === s.typeCovered && nameKey(rr.name) === nameKey(sig.name)
    );
    const key = keys.find((k) => keyTag(k) === s.keyTag)!;
    const good = await verifySignature(
      s.algorithm,
      key.publicKey,
      signedData(s, rrset),
      s.signature,
    );
    if (good) ok++;
    else failed.push(formatRecord(sig));
  }
  return [ok, failed];
}

const haveLdns = hasCommand("ldns-signzone") && hasCommand("ldns-keygen");

for (
  const [label, algorithm, extra] of [
    ["ECDSAP256SHA256, NSEC", "ECDSAP256SHA256", []],
    ["ED25519, NSEC3 with salt and opt-out", "ED25519", ["-n", "-s", "aabbccdd", "-t", "3", "-p"]],
    ["RSASHA256, NSEC3 without salt", "RSASHA256", ["-n", "-t", "0"]],
  ] as const
) {
  Deno.test({
    name: `ldns-signzone (${label}): the signed zone loads unchanged and every RRSIG verifies`,
    ignore: !haveLdns,
    async fn() {
      const dir = await Deno.makeTempDir({ prefix: "netlab-ldns-" });
      try {
        await Deno.copyFile("dns/zones/cnblogs.com.zone", `${dir}/zone`);
        const keygen = async (ksk: boolean) => {
          const bits = algorithm === "RSASHA256" ? ["-b", "1024"] : [];
          const args = ["-a", algorithm, ...bits, ...(ksk ? ["-k"] : []), "cnblogs.com"];
          const r = await runCommand("ldns-keygen", args, { cwd: dir });
          assert.equal(r.code, 0, r.stderr);
          return r.stdout.trim();
        };
        const zsk = await keygen(false);
        const ksk = await keygen(true);
        const sign = await runCommand(
          "ldns-signzone",
          [...extra, "-o", "cnblogs.com.", "-f", "signed", "zone", zsk, ksk],
          { cwd: dir },
        );
        assert.equal(sign.code, 0, sign.stderr);
        const text = await Deno.readTextFile(`${dir}/signed`);
        const zone = parseZone(text, { file: "signed" });
        const lines = text.split("\n").filter((l) => l.trim() && !l.startsWith(";"));
        assert.equal(zone.records.length, lines.length);
        const types = new Set(zone.records.map((rr) => rr.type));
        for (const t of [TYPE.RRSIG, TYPE.DNSKEY]) assert.ok(types.has(t));
        assert.ok(types.has(extra.length ? TYPE.NSEC3 : TYPE.NSEC));
        const [ok, failed] = await verifyZone(zone.records);
        assert.deepEqual(failed, []);
        assert.ok(ok > 20, `${ok} signatures`);
        // Printing and reparsing keeps every record.
        const again = parseZone(zone.records.map(formatRecord).join("\n"), { file: "again" });
        assert.deepEqual(again.records, zone.records);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

Deno.test("fuzz: DNSSEC rdata decoders either reject with DnsFormatError or round-trip", () => {
  const random = prng(0x5eed);
  const types = [43, 46, 47, 48, 50, 51, 59, 60];
  // Valid seeds, then mutated: truncated, extended, bytes flipped.
  const seeds = records(`
example. 1 IN DNSKEY 257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=
example. 1 IN DS 3613 15 2 3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b
example. 1 IN RRSIG MX 15 2 3600 1440021600 1438207200 3613 example. AAECAw==
example. 1 IN NSEC a.example. NS SOA RRSIG NSEC DNSKEY TYPE1234
example. 1 IN NSEC3 1 1 12 aabbccdd 2t7b4g4vsa5smi47k61mv5bv1a22bojr MX DNSKEY NS
example. 1 IN NSEC3PARAM 1 0 12 aabbccdd
`).map((rr) => [rr.type, encodeRdata(rr)] as const);
  let accepted = 0;
  let rejected = 0;
  for (let i = 0; i < 5000; i++) {
    let type: number;
    let bytes: Uint8Array;
    if (random() < 0.3) {
      type = types[Math.floor(random() * types.length)];
      bytes = new Uint8Array(Math.floor(random() * 40)).map(() => random() * 256);
    } else {
      const [t, seed] = seeds[Math.floor(random() * seeds.length)];
      type = t;
      bytes = seed.slice(0, Math.max(0, seed.length - Math.floor(random() * 4)));
      for (let f = Math.floor(random() * 3); f > 0; f--) {
        bytes[Math.floor(random() * bytes.length)] = random() * 256;
      }
    }
    try {
      const data = decodeRdata(type, bytes);
      const again = encodeRdata({ name: ".", type, class: 1, ttl: 0, data });
      assert.deepEqual(again, bytes, `type ${type}: ${hexOf(bytes)}`);
      accepted++;
    } catch (error) {
      if (error instanceof assert.AssertionError) throw error;
      assert.ok(error instanceof DnsFormatError, `type ${type}: ${hexOf(bytes)}: ${error}`);
      rejected++;
    }
  }
  assert.ok(accepted > 500 && rejected > 500, `${accepted} accepted, ${rejected} rejected`);
});
