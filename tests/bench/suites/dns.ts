/**
 * `deno task bench dns [--quick]`: `dnsperf` on loopback against `dns/server.ts --quiet` and
 * against NSD serving the same zone (`dns/zones/cnblogs.com.zone`), same run, same query file.
 *
 * NSD runs in the foreground from a config written to a temporary folder (its own port,
 * `server-count: 1`, `rrl-ratelimit: 0` because Debian's NSD rate-limits by default, no chroot,
 * no privilege drop) and is killed afterwards. Each side gets a 1 s warm-up, then one measured
 * `dnsperf -l 5` run (`--quick`: 2 s) with up to 64 queries outstanding, cycling through seven
 * queries (answers, a CNAME, a referral, NODATA, NXDOMAIN); the rows report queries/s and
 * average latency.
 * Target: ≥ 0.7× NSD.
 */
import type { BenchContext, BenchRow, BenchSuite } from "../_bench.ts";
import { hasCommand, ROOT, startScript } from "../../_helpers.ts";
import { decodeMessage, encodeMessage, makeQuery, TYPE } from "../../../dns/message.ts";

const ZONE_FILE = "dns/zones/cnblogs.com.zone";
/** An unmeasured dnsperf run before each measured one (both sides). */
const WARMUP_SECONDS = 1;
const CAPABILITY = "DNS authoritative (dns/server.ts, cnblogs.com zone)";
/** The queries dnsperf cycles through: answers, a CNAME, a referral, NODATA and NXDOMAIN. */
const QUERIES = [
  "www.cnblogs.com A",
  "www.cnblogs.com AAAA",
  "web.cnblogs.com A",
  "cnblogs.com MX",
  "x.sub.cnblogs.com A",
  "ent.cnblogs.com A",
  "nope.cnblogs.com A",
];

interface PerfResult {
  qps: number;
  latencyMs: number;
  lost: number;
}

function freeUdpTcpPort(): number {
  for (let i = 0; i < 20; i++) {
    const udp = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const port = (udp.addr as Deno.NetAddr).port;
    try {
      using _tcp = Deno.listen({ hostname: "127.0.0.1", port });
      return port;
    } catch {
      /* taken for TCP: try another */
    } finally {
      udp.close();
    }
  }
  throw new Error("no free port for NSD");
}

/** Polls with a real query until the server answers (bounded), so the run starts warm. */
async function waitForAnswer(port: number, timeoutMs = 10_000): Promise<void> {
  const udp = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const query = encodeMessage(makeQuery("www.cnblogs.com", TYPE.A, { id: 4242 }));
  const deadline = Date.now() + timeoutMs;
  // One receive stays pending across retries; closing the socket ends it.
  let answered = false;
  const receiving = (async () => {
    while (!answered) {
      const [bytes] = await udp.receive();
      if (decodeMessage(bytes).id === 4242) answered = true;
    }
  })().catch(() => {});
  try {
    while (!answered && Date.now() < deadline) {
      await udp.send(query, { transport: "udp", hostname: "127.0.0.1", port });
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([receiving, new Promise((r) => timer = setTimeout(r, 100))]);
      clearTimeout(timer);
    }
  } finally {
    udp.close();
    await receiving;
  }
  if (!answered) throw new Error(`no DNS answer on port ${port}`);
}

async function dnsperf(port: number, seconds: number, dataFile: string): Promise<PerfResult> {
  const out = await new Deno.Command("dnsperf", {
    args: [
      "-s",
      "127.0.0.1",
      "-p",
      String(port),
      "-d",
      dataFile,
      "-l",
      String(seconds),
      "-q",
      "64",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const qps = /Queries per second:\s+([\d.]+)/.exec(text);
  const latency = /Average Latency \(s\):\s+([\d.]+)/.exec(text);
  const lost = /Queries lost:\s+(\d+)/.exec(text);
  if (!out.success || !qps || !latency) {
    throw new Error(`dnsperf failed: ${text}${new TextDecoder().decode(out.stderr)}`);
  }
  return {
    qps: Number(qps[1]),
    latencyMs: Number(latency[1]) * 1000,
    lost: Number(lost?.[1] ?? 0),
  };
}

async function measureOurs(seconds: number, dataFile: string): Promise<PerfResult> {
  await using server = await startScript(
    "dns/server.ts",
    ["--zone", ZONE_FILE, "--port", "0", "--quiet"],
    { timeoutMs: 120_000 },
  );
  await waitForAnswer(server.port);
  await dnsperf(server.port, WARMUP_SECONDS, dataFile); // JIT warm-up, not measured
  return await dnsperf(server.port, seconds, dataFile);
}

async function measureNsd(seconds: number, dataFile: string, dir: string): Promise<PerfResult> {
  const port = freeUdpTcpPort();
  await Deno.copyFile(`${ROOT}${ZONE_FILE}`, `${dir}/cnblogs.com.zone`);
  const config = `server:
  ip-address: 127.0.0.1
  port: ${port}
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "${dir}"
  pidfile: "${dir}/nsd.pid"
  zonelistfile: "${dir}/zone.list"
  xfrdfile: "${dir}/xfrd.state"
  xfrdir: "${dir}"
  logfile: "${dir}/nsd.log"
  database: ""
  do-ip6: no
  verbosity: 0
  rrl-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: cnblogs.com.
  zonefile: cnblogs.com.zone
`;
  await Deno.writeTextFile(`${dir}/nsd.conf`, config);
  const child = new Deno.Command("nsd", {
    args: ["-d", "-c", `${dir}/nsd.conf`],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    await waitForAnswer(port);
    await dnsperf(port, WARMUP_SECONDS, dataFile); // same warm-up as ours, for fairness
    return await dnsperf(port, seconds, dataFile);
  } finally {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    const status = await child.output();
    if (!status.success && status.signal !== "SIGTERM" && status.code !== 0) {
      console.error(new TextDecoder().decode(status.stderr));
    }
  }
}

export const suite: BenchSuite = {
  name: "dns",
  description: "dnsperf against dns/server.ts and NSD (same zone, loopback)",
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const base = { capability: CAPABILITY, referenceName: "NSD" };
    if (!hasCommand("dnsperf")) {
      return [{ ...base, metric: "queries/s", unit: "q/s", skipped: "dnsperf not installed" }];
    }
    const seconds = ctx.quick ? 2 : 5;
    const dir = await Deno.makeTempDir({ prefix: "netlab-dns-bench-" });
    try {
      const dataFile = `${dir}/queries.txt`;
      await Deno.writeTextFile(dataFile, QUERIES.join("\n") + "\n");
      ctx.log(`dns/server.ts: dnsperf -l ${seconds}`);
      const ours = await measureOurs(seconds, dataFile);
      ctx.log(`  ${ours.qps.toFixed(0)} q/s, ${ours.latencyMs.toFixed(3)} ms, lost ${ours.lost}`);
      let nsd: PerfResult | undefined;
      let skipped: string | undefined;
      if (hasCommand("nsd")) {
        ctx.log(`NSD: dnsperf -l ${seconds}`);
        nsd = await measureNsd(seconds, dataFile, dir);
        ctx.log(`  ${nsd.qps.toFixed(0)} q/s, ${nsd.latencyMs.toFixed(3)} ms, lost ${nsd.lost}`);
      } else {
        skipped = "nsd not installed";
      }
      return [
        {
          ...base,
          metric: "queries/s",
          unit: "q/s",
          ours: ours.qps,
          reference: nsd?.qps,
          target: "≥ 0.7×",
          skipped,
        },
        {
          ...base,
          metric: "avg latency",
          unit: "ms",
          lowerIsBetter: true,
          ours: ours.latencyMs,
          reference: nsd?.latencyMs,
          skipped,
        },
      ];
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
};
