/**
 * `deno task bench dnssec [--quick]`: signing a zone of 100,000 records (`--quick`: 10,000) with
 * ECDSA P-256 and NSEC, by `dns/zone_signer.ts` and by `ldns-signzone` on the same zone file;
 * each side's wall time (parsing, signing and writing included: what a user waits for) as
 * records per second, the median of `ROUNDS` runs alternating between the two.
 *
 * The zone: an SOA and NS at the apex, then hosts h0…hN with an A record each and every other
 * one a TXT record too, so a third of the RRsets have two records — a spread of names like a
 * real zone, not one giant RRset.
 */
import { type BenchContext, type BenchRow, type BenchSuite, median } from "../_bench.ts";
import { hasCommand } from "../../_helpers.ts";
import { formatRecord } from "../../../dns/message.ts";
import { parseZone } from "../../../dns/zone.ts";
import { generateSigningKey } from "../../../dns/dnssec_crypto.ts";
import { signZone } from "../../../dns/zone_signer.ts";
import { writeKeyPair } from "../../../dns/sign.ts";

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
  description: "signing 100,000 records with ECDSA P-256: dns/zone_signer.ts vs ldns-signzone",
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const records = ctx.quick ? 10_000 : 100_000;
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
        ctx.log(`dns/zone_signer.ts round ${round}: ${ms.toFixed(0)} ms`);
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
      }];
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
};
