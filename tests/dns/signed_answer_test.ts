/**
 * dns/authority/authority.ts + dns/authority/signed_answer.ts + dns/dnssec/denial.ts: a signed zone served with DO=1 the way
 * NSD serves it. The same ldns-signed zone (NSEC, and NSEC3 with salt and opt-out) is loaded by
 * NSD and by our `Authority`; every question gets the same rcode, flags and sections (compared
 * as sets of records: both servers order records a little differently). DO=0 answers carry no
 * DNSSEC records, and TC is set when the signatures do not fit.
 */
import assert from "node:assert/strict";
import { Authority } from "../../dns/authority/authority.ts";
import { respond } from "../../dns/authority/respond.ts";
import { decodeMessage, encodeMessage, makeQuery, type Message } from "../../dns/wire/message.ts";
import { formatRecord } from "../../dns/wire/rdata.ts";
import { parseType, TYPE } from "../../dns/wire/constants.ts";
import { parseZone } from "../../dns/zone/parse.ts";
import { generateSigningKey } from "../../dns/dnssec/crypto.ts";
import { signZone } from "../../dns/dnssec/signer.ts";
import { hasCommand, runCommand } from "../_helpers.ts";
import { startNsd } from "../_nsd.ts";

const haveLdns = hasCommand("ldns-signzone") && hasCommand("ldns-keygen");

/** The mini-Internet's cnblogs.com zone plus a secure delegation (DS) to compare referrals. */
async function testZoneText(): Promise<string> {
  const base = await Deno.readTextFile("dns/zones/cnblogs.com.zone");
  return base + `
secure  IN NS  ns.secure
ns.secure IN A 127.0.0.9
secure  IN DS  12345 13 2 ( 3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b )
cname-nx IN CNAME nothing-here
cname-wild IN CNAME x.wild
`;
}

/** Signs the test zone with ldns-signzone; `extra` selects NSEC3. */
async function signWithLdns(extra: string[]): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "netlab-sign-" });
  try {
    await Deno.writeTextFile(`${dir}/zone`, await testZoneText());
    const keys: string[] = [];
    for (const ksk of [false, true]) {
      const args = ["-a", "ECDSAP256SHA256", ...(ksk ? ["-k"] : []), "cnblogs.com"];
      const r = await runCommand("ldns-keygen", args, { cwd: dir });
      assert.equal(r.code, 0, r.stderr);
      keys.push(r.stdout.trim());
    }
    const r = await runCommand(
      "ldns-signzone",
      [...extra, "-o", "cnblogs.com.", "-f", "signed", "zone", ...keys],
      { cwd: dir },
    );
    assert.equal(r.code, 0, r.stderr);
    return await Deno.readTextFile(`${dir}/signed`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** One question: name, type, DO bit, EDNS size (0: no EDNS). */
interface Question {
  name: string;
  type: string;
  dnssec?: boolean;
  udpSize?: number;
}

const QUESTIONS: Question[] = [
  { name: "www.cnblogs.com", type: "A" },
  { name: "www.cnblogs.com", type: "AAAA" },
  { name: "www.cnblogs.com", type: "TXT" }, // NODATA
  { name: "WWW.CnBlogs.com", type: "A" }, // case kept in the owner, signatures still match
  { name: "web.cnblogs.com", type: "A" }, // CNAME
  { name: "web.cnblogs.com", type: "TXT" }, // CNAME then NODATA
  { name: "cname-nx.cnblogs.com", type: "A" }, // CNAME then NXDOMAIN
  { name: "cname-wild.cnblogs.com", type: "TXT" }, // CNAME then wildcard
  { name: "cnblogs.com", type: "MX" },
  { name: "cnblogs.com", type: "DNSKEY" },
  { name: "cnblogs.com", type: "SOA" },
  { name: "cnblogs.com", type: "NS" },
  { name: "cnblogs.com", type: "DS" }, // DS at our own apex: NODATA from this zone
  { name: "nope.cnblogs.com", type: "A" }, // NXDOMAIN
  { name: "a.b.nope.cnblogs.com", type: "A" }, // NXDOMAIN, deeper
  { name: "ent.cnblogs.com", type: "A" }, // empty non-terminal
  { name: "x.ent.cnblogs.com", type: "TXT" },
  { name: "any.wild.cnblogs.com", type: "TXT" }, // wildcard expansion
  { name: "a.b.wild.cnblogs.com", type: "TXT" }, // wildcard, two labels deeper
  { name: "any.wild.cnblogs.com", type: "A" }, // wildcard NODATA
  { name: "*.wild.cnblogs.com", type: "TXT" }, // the wildcard itself
  { name: "x.sub.cnblogs.com", type: "A" }, // insecure referral
  { name: "sub.cnblogs.com", type: "NS" },
  { name: "sub.cnblogs.com", type: "DS" }, // no DS: NODATA from the parent
  { name: "x.secure.cnblogs.com", type: "A" }, // secure referral: DS + RRSIG
  { name: "secure.cnblogs.com", type: "DS" },
  { name: "_http._tcp.cnblogs.com", type: "SRV" },
  { name: "big.cnblogs.com", type: "A" },
  { name: "big.cnblogs.com", type: "A", udpSize: 512 }, // TC
  { name: "big.cnblogs.com", type: "TXT" }, // TC at 1232
  { name: "www.cnblogs.com", type: "A", dnssec: false },
  { name: "nope.cnblogs.com", type: "A", dnssec: false },
];

function queryBytes(q: Question): Uint8Array {
  const udpSize = q.udpSize ?? 1232;
  return encodeMessage(
    makeQuery(q.name, parseType(q.type), {
      id: 0x1234,
      rd: false,
      edns: { udpSize, dnssecOk: q.dnssec ?? true },
    }),
  );
}

async function askUdp(port: number, bytes: Uint8Array): Promise<Uint8Array> {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const timer = setTimeout(() => socket.close(), 5000);
  try {
    await socket.send(bytes, { transport: "udp", hostname: "127.0.0.1", port });
    const [reply] = await socket.receive();
    return reply;
  } finally {
    clearTimeout(timer);
    try {
      socket.close();
    } catch { /* closed by the timer */ }
  }
}

/**
 * A reply reduced to what both servers must agree on. NSD (without minimal responses) also puts
 * the apex NS RRset in AUTHORITY of positive answers and the addresses of those name servers in
 * ADDITIONAL; our server does not, so those are left out of NSD's side (`like`: our reply).
 */
function summary(msg: Message, like?: Message) {
  const section = (records: Message["answers"]) =>
    records.filter((rr) => rr.type !== TYPE.OPT).map(formatRecord).sort();
  let authorities = msg.authorities;
  let additionals = msg.additionals;
  if (like) {
    const apexNs = (rr: Message["answers"][0]) =>
      rr.name.toLowerCase() === "cnblogs.com." &&
      (rr.type === TYPE.NS || rr.data.kind === "RRSIG" && rr.data.typeCovered === TYPE.NS);
    if (!like.authorities.some(apexNs)) authorities = authorities.filter((rr) => !apexNs(rr));
    const owners = new Set(like.additionals.map((rr) => rr.name.toLowerCase()));
    additionals = additionals.filter((rr) => owners.has(rr.name.toLowerCase()));
  }
  return {
    rcode: msg.flags.rcode,
    aa: msg.flags.aa,
    tc: msg.flags.tc,
    answers: section(msg.answers),
    authorities: section(authorities),
    additionals: section(additionals),
  };
}

/** Signs the test zone with dns/dnssec/signer.ts. */
async function signWithOurs(nsec3?: { optOut?: boolean; iterations?: number }): Promise<string> {
  const zone = parseZone(await testZoneText());
  const keys = [
    await generateSigningKey("cnblogs.com.", 13, { ksk: true }),
    await generateSigningKey("cnblogs.com.", 13),
  ];
  const { zone: signed } = await signZone(zone, keys, { nsec3 });
  return signed.records.map(formatRecord).join("\n") + "\n";
}

const VARIANTS: { label: string; sign: () => Promise<string>; ldns: boolean }[] = [
  { label: "ldns-signzone, NSEC", sign: () => signWithLdns([]), ldns: true },
  {
    label: "ldns-signzone, NSEC3, salt, opt-out",
    sign: () => signWithLdns(["-n", "-s", "aabbccdd", "-t", "5", "-p"]),
    ldns: true,
  },
  { label: "ldns-signzone, NSEC3", sign: () => signWithLdns(["-n", "-t", "0"]), ldns: true },
  { label: "dns/sign.ts, NSEC", sign: () => signWithOurs(), ldns: false },
  {
    label: "dns/sign.ts, NSEC3 opt-out",
    sign: () => signWithOurs({ optOut: true, iterations: 2 }),
    ldns: false,
  },
];

for (const variant of VARIANTS) {
  Deno.test({
    name: `signed zone (${variant.label}): every answer matches NSD's`,
    ignore: (variant.ldns && !haveLdns) || !hasCommand("nsd"),
    async fn() {
      const signed = await variant.sign();
      const authority = new Authority([parseZone(signed, { file: "signed" })]);
      await using nsd = await startNsd({ "cnblogs.com": signed });
      let dnssecRecords = 0;
      for (const q of QUESTIONS) {
        const bytes = queryBytes(q);
        const theirs = decodeMessage(await askUdp(nsd.port, bytes));
        const ours = decodeMessage(respond(authority, bytes, { udp: true })!.bytes);
        const what = `${q.name} ${q.type}${q.dnssec === false ? " DO=0" : ""}` +
          `${q.udpSize ? ` bufsize ${q.udpSize}` : ""}`;
        assert.deepEqual(summary(ours), summary(theirs, ours), what);
        dnssecRecords += [...ours.answers, ...ours.authorities].filter((rr) =>
          rr.type === TYPE.RRSIG || rr.type === TYPE.NSEC || rr.type === TYPE.NSEC3
        ).length;
      }
      assert.ok(dnssecRecords > 50, `${dnssecRecords} DNSSEC records compared`);
    },
  });
}

Deno.test({
  name: "DO=0 gets no DNSSEC records; DO=1 gets the proofs (NXDOMAIN, NODATA, wildcard)",
  async fn() {
    const authority = new Authority([parseZone(await signWithOurs(), { file: "signed" })]);
    const ask = (q: Question) =>
      decodeMessage(respond(authority, queryBytes(q), { udp: true })!.bytes);
    const types = (msg: Message) =>
      [...msg.answers, ...msg.authorities, ...msg.additionals].map((rr) => rr.type);
    for (const q of QUESTIONS.filter((q) => !q.udpSize)) {
      const plain = ask({ ...q, dnssec: false });
      assert.ok(
        !types(plain).some((t) => t === TYPE.RRSIG || t === TYPE.NSEC || t === TYPE.NSEC3),
        `${q.name} ${q.type}`,
      );
    }
    const nx = ask({ name: "nope.cnblogs.com", type: "A" });
    assert.equal(nx.flags.rcode, 3);
    assert.deepEqual(
      nx.authorities.filter((rr) => rr.type === TYPE.NSEC).map((rr) => rr.name).sort(),
      ["cnblogs.com.", "mail.cnblogs.com."],
    );
    const wild = ask({ name: "any.wild.cnblogs.com", type: "TXT" });
    const sig = wild.answers.find((rr) => rr.type === TYPE.RRSIG)!;
    assert.equal(sig.data.kind === "RRSIG" && sig.data.labels, 3); // *.wild.cnblogs.com
    assert.equal(sig.name, "any.wild.cnblogs.com.");
    assert.ok(wild.authorities.some((rr) => rr.type === TYPE.NSEC));
    const referral = ask({ name: "x.secure.cnblogs.com", type: "A" });
    assert.deepEqual(
      referral.authorities.map((rr) => rr.type),
      [TYPE.NS, TYPE.DS, TYPE.RRSIG],
    );
  },
});
