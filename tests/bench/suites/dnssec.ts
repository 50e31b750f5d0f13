/**
 * `deno task bench dnssec [--quick]`: signing a zone of 100,000 records (`--quick`: 10,000) with
 * ECDSA P-256 and NSEC, by `dns/dnssec/signer.ts` and by `ldns-signzone` on the same zone file;
 * each side's wall time (parsing, signing and writing included: what a user waits for) as
 * records per second, the median of `ROUNDS` runs alternating between the two.
 *
 * Then a cold validating resolution of www.cnblogs.com on the signed mini-Internet (three
 * servers, `dns:internet --dnssec`): a fresh `ValidatingResolver` per round (root → com. →
 * cnblogs.com., DS and DNSKEY at each level, every signature checked) against a freshly started
 * unbound with the same trust anchor, timed from the query to the validated answer (AD set).
 *
 * The zone: an SOA and NS at the apex, then hosts h0…hN with an A record each and every other
 * one a TXT record too, so a third of the RRsets have two records — a spread of names like a
 * real zone, not one giant RRset.
 */
import { type BenchContext, type BenchRow, type BenchSuite, median } from "../_bench.ts";
import { hasCommand } from "../../_helpers.ts";
import { formatRecord } from "../../../dns/wire/rdata.ts";
import { parseZone } from "../../../dns/zone/parse.ts";
import { generateSigningKey } from "../../../dns/dnssec/crypto.ts";
import { signZone } from "../../../dns/dnssec/signer.ts";
import { writeKeyPair } from "../../../dns/sign.ts";
import { startMiniInternet } from "../../../dns/internet/servers.ts";
import { ValidatingResolver } from "../../../dns/dnssec/validating_resolver.ts";
import { parseTrustAnchor } from "../../../dns/dnssec/validator.ts";
import { makeQuery } from "../../../dns/wire/message.ts";
import { TYPE } from "../../../dns/wire/constants.ts";
import { exchange } from "../../../dns/resolver/transport.ts";
import { startValidatingUnbound as startUnbound } from "../../_unbound_validator.ts";

const ROUNDS = 3;

/** A zone of about `records` records under `bench.example.`. */
export function benchZone(records: number): string {
  const lines = [
    "$ORIGIN bench.example.",
    "$TTL 3600",
    "@ IN SOA ns1 hostmaster 1 3600 900 604800 300",
    "@ IN NS ns1",
    "ns1 IN A 192.0.2.1",
  ];
  for (let i = 0; lines.length - 2 < records; i++) {
    lines.push(`h${i} IN A 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    if (i % 2 === 0) lines.push(`h${i} IN TXT "host ${i}"`);
  }
  return lines.join("\n") + "\n";
}

export const suite: BenchSuite = {
  name: "dnssec",
  description: "signing 100,000 records with ECDSA P-256: dns/dnssec/signer.ts vs ldns-signzone",
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const records = ctx.quick ? 2_000 : 100_000;
    const row: BenchRow = {
      capability: `DNSSEC zone signing (${records.toLocaleString("en-US")} records, ECDSA P-256)`,
      metric: "records signed/s",
      unit: "rec/s",
      referenceName: "ldns-signzone",
      target: "report",
    };
    const dir = await Deno.makeTempDir({ prefix: "netlab-sign-bench-" });
    try {
      const text = benchZone(records);
      await Deno.writeTextFile(`${dir}/zone`, text);
      const ksk = await generateSigningKey("bench.example.", 13, { ksk: true });
      const zsk = await generateSigningKey("bench.example.", 13);
      const kskFile = await writeKeyPair(ksk, dir);
      const zskFile = await writeKeyPair(zsk, dir);
      const ours: number[] = [];
      const theirs: number[] = [];
      for (let round = 1; round <= ROUNDS; round++) {
        const started = performance.now();
        const zone = parseZone(await Deno.readTextFile(`${dir}/zone`), { maxRecords: 1e6 });
        const signed = await signZone(zone, [ksk, zsk]);
        await Deno.writeTextFile(
          `${dir}/ours.signed`,
          signed.zone.records.map(formatRecord).join("\n") + "\n",
        );
        const ms = performance.now() - started;
        ours.push(records / (ms / 1000));
        ctx.log(`dns/dnssec/signer.ts round ${round}: ${ms.toFixed(0)} ms`);
        if (!hasCommand("ldns-signzone")) continue;
        const t0 = performance.now();
        const out = await new Deno.Command("ldns-signzone", {
          args: [
            "-o",
            "bench.example.",
            "-f",
            `${dir}/ldns.signed`,
            `${dir}/zone`,
            zskFile,
            kskFile,
          ],
          stdout: "null",
          stderr: "piped",
        }).output();
        const ldnsMs = performance.now() - t0;
        if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
        theirs.push(records / (ldnsMs / 1000));
        ctx.log(`ldns-signzone round ${round}: ${ldnsMs.toFixed(0)} ms`);
      }
      return [{
        ...row,
        ours: median(ours),
        reference: theirs.length ? median(theirs) : undefined,
        skipped: theirs.length ? undefined : "ldns-signzone not installed",
      }, await validationRow(ctx)];
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
};

/** Cold validated resolution time: ours against unbound, fresh each round. */
async function validationRow(ctx: BenchContext): Promise<BenchRow> {
  const row: BenchRow = {
    capability: "DNSSEC validating resolution, cold (www.cnblogs.com, signed mini-Internet)",
    metric: "time to a validated answer",
    unit: "ms",
    lowerIsBetter: true,
    referenceName: "unbound",
    target: "report",
  };
  await using net = await startMiniInternet({ port: 0, dnssec: true });
  const anchorFile = net.dnssec!.anchorFile;
  const anchors = [parseTrustAnchor(await Deno.readTextFile(anchorFile))];
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let round = 1; round <= 5; round++) {
    const resolver = new ValidatingResolver({ roots: net.roots, port: net.port, anchors });
    const t0 = performance.now();
    const { validation } = await resolver.resolve("www.cnblogs.com", TYPE.A);
    const ms = performance.now() - t0;
    if (validation.verdict !== "secure") throw new Error(`not secure: ${validation.reason}`);
    ours.push(ms);
    if (!hasCommand("unbound")) continue;
    await using unbound = await startUnbound(net.port, anchorFile);
    const query = makeQuery("www.cnblogs.com", TYPE.A, { edns: { dnssecOk: true } });
    const t1 = performance.now();
    const { reply } = await exchange(query, "127.0.0.1", { port: unbound.port, timeoutMs: 5000 });
    const unboundMs = performance.now() - t1;
    if (!reply.flags.ad) throw new Error("unbound did not validate the answer");
    theirs.push(unboundMs);
    ctx.log(`round ${round}: ours ${ms.toFixed(1)} ms, unbound ${unboundMs.toFixed(1)} ms`);
  }
  return {
    ...row,
    ours: median(ours),
    reference: theirs.length ? median(theirs) : undefined,
    skipped: theirs.length ? undefined : "unbound not installed",
  };
}
