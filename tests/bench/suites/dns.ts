/**
 * `deno task bench dns [--quick]`: `dnsperf` on loopback against `dns/server.ts --quiet` and
 * against NSD serving the same zone (`dns/zones/cnblogs.com.zone`), same run, same query file.
 *
 * NSD runs in the foreground from a config written to a temporary folder (its own port,
 * `server-count: 1` like our one thread, `rrl-ratelimit: 0` because Debian's NSD rate-limits
 * by default, no chroot, no privilege drop) and is killed afterwards. Both servers run for the
 * whole suite; after a 1 s warm-up each, `ROUNDS` measured `dnsperf -l 5` runs (`--quick`: 2 s)
 * alternate between them (ours, NSD, ours, NSD, …), so a burst of load from something else on
 * the machine hits both sides, and each row is the median. dnsperf keeps up to 64 queries
 * outstanding from one thread, cycling through seven queries (answers, a CNAME, a referral,
 * NODATA, NXDOMAIN); each round also has a paced run (`-Q 20000`, below both servers'
 * capacity). Rows: queries/s; average latency flat out (queueing: 64 / queries/s) and paced
 * (the time one query takes); server CPU time per query (the process and its children, all
 * threads, from /proc), the figure least disturbed by other load on the machine.
 * Target: ≥ 0.7× NSD queries/s.
 *
 * Then the same zone signed by `ldns-signzone` (ECDSA P-256, NSEC), served by both with dnsperf
 * setting DO=1 (`-D`): every answer carries its RRSIGs, every negative answer its NSEC proofs.
 * Target: ≥ 0.9× NSD queries/s.
 */
import { type BenchContext, type BenchRow, type BenchSuite, median } from "../_bench.ts";
import { hasCommand, ROOT, startScript } from "../../_helpers.ts";
import { decodeMessage, encodeMessage, makeQuery, TYPE } from "../../../dns/wire/message.ts";

const ZONE_FILE = "dns/zones/cnblogs.com.zone";
/** An unmeasured dnsperf run before the measured ones (both sides). */
const WARMUP_SECONDS = 1;
/** Measured runs per side, interleaved. */
const ROUNDS = 3;
/**
 * The paced load for the latency row. Flat out, dnsperf's 64 outstanding queries queue at the
 * slower server, so that latency is just 64 / (queries/s); below both servers' capacity it is
 * the time one query takes.
 */
const PACED_RATE = 20_000;
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
  completed: number;
}

/** A measured run with the server CPU time it cost. */
interface Run extends PerfResult {
  cpuUsPerQuery: number;
  /** Average latency of the paced run (`PACED_RATE` q/s). */
  pacedLatencyMs: number;
}

/** Clock ticks per second of /proc CPU times (`getconf CLK_TCK`, 100 on Linux). */
async function clockTicks(): Promise<number> {
  try {
    const out = await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).output();
    const ticks = Number(new TextDecoder().decode(out.stdout).trim());
    return ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
}

/** The fields of /proc/PID/stat after the command name (which may contain spaces). */
function statFields(path: string): string[] | undefined {
  try {
    const text = Deno.readTextFileSync(path);
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined; // the process or thread is gone
  }
}

/** User + system CPU ticks of `pid`, its threads and its live descendants (NSD forks). */
function cpuTicks(pid: number): number {
  const children = new Map<number, number[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const ppid = Number(statFields(`/proc/${entry.name}/stat`)?.[1]);
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid)!.push(Number(entry.name));
  }
  let ticks = 0;
  const pending = [pid];
  while (pending.length) {
    const p = pending.pop()!;
    pending.push(...(children.get(p) ?? []));
    try {
      for (const task of Deno.readDirSync(`/proc/${p}/task`)) {
        const f = statFields(`/proc/${p}/task/${task.name}/stat`);
        if (f) ticks += Number(f[11]) + Number(f[12]); // utime, stime
      }
    } catch { /* exited meanwhile */ }
  }
  return ticks;
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
export async function waitForAnswer(port: number, timeoutMs = 10_000): Promise<void> {
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

/** One dnsperf run; `rate` caps the queries per second (`-Q`), otherwise it goes flat out. */
export async function dnsperf(
  port: number,
  seconds: number,
  dataFile: string,
  rate?: number,
  dnssec = false,
): Promise<PerfResult> {
  const out = await new Deno.Command("dnsperf", {
    args: [
      ...(rate ? ["-Q", String(rate)] : []),
      ...(dnssec ? ["-D"] : []),
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
  const completed = /Queries completed:\s+(\d+)/.exec(text);
  if (!out.success || !qps || !latency) {
    throw new Error(`dnsperf failed: ${text}${new TextDecoder().decode(out.stderr)}`);
  }
  return {
    qps: Number(qps[1]),
    latencyMs: Number(latency[1]) * 1000,
    lost: Number(lost?.[1] ?? 0),
    completed: Number(completed?.[1] ?? 0),
  };
}

/** Writes the query file dnsperf cycles through. */
export async function writeQueryFile(path: string): Promise<void> {
  await Deno.writeTextFile(path, QUERIES.join("\n") + "\n");
}

/** A server under test: its port and the pid whose process tree's CPU time is counted. */
interface Target {
  port: number;
  pid: number;
}

/** One flat-out dnsperf run against `target` with the server CPU it cost, then a paced one. */
async function measure(
  target: Target,
  seconds: number,
  dataFile: string,
  ticksPerSecond: number,
  dnssec = false,
): Promise<Run> {
  const before = cpuTicks(target.pid);
  const result = await dnsperf(target.port, seconds, dataFile, undefined, dnssec);
  const cpuSeconds = (cpuTicks(target.pid) - before) / ticksPerSecond;
  const paced = await dnsperf(target.port, seconds, dataFile, PACED_RATE, dnssec);
  return {
    ...result,
    cpuUsPerQuery: cpuSeconds * 1e6 / Math.max(1, result.completed),
    pacedLatencyMs: paced.latencyMs,
  };
}

async function startNsd(
  dir: string,
  zoneFile = `${ROOT}${ZONE_FILE}`,
): Promise<{ target: Target; stop(): Promise<void> }> {
  const port = freeUdpTcpPort();
  await Deno.copyFile(zoneFile, `${dir}/cnblogs.com.zone`);
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
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    const status = await child.output();
    if (!status.success && status.signal !== "SIGTERM" && status.code !== 0) {
      console.error(new TextDecoder().decode(status.stderr));
    }
  };
  try {
    await waitForAnswer(port);
  } catch (error) {
    await stop();
    throw error;
  }
  return { target: { port, pid: child.pid }, stop };
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
    const ticks = await clockTicks();
    const dir = await Deno.makeTempDir({ prefix: "netlab-dns-bench-" });
    const dataFile = `${dir}/queries.txt`;
    await writeQueryFile(dataFile);
    const ours = await startScript(
      "dns/server.ts",
      ["--zone", ZONE_FILE, "--port", "0", "--quiet"],
      { timeoutMs: 120_000 },
    );
    let nsd: Awaited<ReturnType<typeof startNsd>> | undefined;
    try {
      await waitForAnswer(ours.port);
      const sides: { name: string; target: Target; runs: Run[] }[] = [
        { name: "dns/server.ts", target: { port: ours.port, pid: ours.child.pid }, runs: [] },
      ];
      let skipped: string | undefined;
      if (hasCommand("nsd")) {
        nsd = await startNsd(dir);
        sides.push({ name: "NSD", target: nsd.target, runs: [] });
      } else {
        skipped = "nsd not installed";
      }
      // Warm-up (the JIT on our side), not measured; the same for both, for fairness.
      for (const side of sides) await dnsperf(side.target.port, WARMUP_SECONDS, dataFile);
      for (let round = 1; round <= ROUNDS; round++) {
        for (const side of sides) {
          const r = await measure(side.target, seconds, dataFile, ticks);
          side.runs.push(r);
          ctx.log(
            `${side.name} round ${round}: dnsperf -l ${seconds}: ${r.qps.toFixed(0)} q/s, ` +
              `${r.latencyMs.toFixed(3)} ms, ${r.cpuUsPerQuery.toFixed(1)} µs CPU/query, ` +
              `lost ${r.lost}; at ${PACED_RATE} q/s: ${r.pacedLatencyMs.toFixed(3)} ms`,
          );
        }
      }
      const mid = (i: number, pick: (r: Run) => number) =>
        sides[i] ? median(sides[i].runs.map(pick)) : undefined;
      return [
        {
          ...base,
          metric: "queries/s",
          unit: "q/s",
          ours: mid(0, (r) => r.qps),
          reference: mid(1, (r) => r.qps),
          target: "≥ 0.7×",
          skipped,
        },
        {
          ...base,
          metric: "avg latency (flat out)",
          unit: "ms",
          lowerIsBetter: true,
          ours: mid(0, (r) => r.latencyMs),
          reference: mid(1, (r) => r.latencyMs),
          skipped,
        },
        {
          ...base,
          metric: `avg latency at ${PACED_RATE.toLocaleString("en-US")} q/s`,
          unit: "ms",
          lowerIsBetter: true,
          ours: mid(0, (r) => r.pacedLatencyMs),
          reference: mid(1, (r) => r.pacedLatencyMs),
          skipped,
        },
        {
          ...base,
          metric: "server CPU per query",
          unit: "µs",
          lowerIsBetter: true,
          ours: mid(0, (r) => r.cpuUsPerQuery),
          reference: mid(1, (r) => r.cpuUsPerQuery),
          skipped,
        },
        await signedRow(ctx, dir, dataFile, seconds, ticks),
      ];
    } finally {
      await nsd?.stop();
      await ours[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true });
    }
  },
};

/** The zone signed by ldns-signzone (ECDSA P-256, NSEC) in `dir`; its path. */
async function signZone(dir: string): Promise<string> {
  const run = async (command: string, args: string[]) => {
    const out = await new Deno.Command(command, { args, cwd: dir, stdout: "piped" }).output();
    if (!out.success) throw new Error(`${command} failed`);
    return new TextDecoder().decode(out.stdout).trim();
  };
  const zsk = await run("ldns-keygen", ["-a", "ECDSAP256SHA256", "cnblogs.com"]);
  const ksk = await run("ldns-keygen", ["-a", "ECDSAP256SHA256", "-k", "cnblogs.com"]);
  await Deno.copyFile(`${ROOT}${ZONE_FILE}`, `${dir}/unsigned.zone`);
  await run("ldns-signzone", [
    "-o",
    "cnblogs.com.",
    "-f",
    "signed.zone",
    "unsigned.zone",
    zsk,
    ksk,
  ]);
  return `${dir}/signed.zone`;
}

/** DO=1 queries/s on the signed zone, ours against NSD, rounds interleaved as above. */
async function signedRow(
  ctx: BenchContext,
  dir: string,
  dataFile: string,
  seconds: number,
  ticks: number,
): Promise<BenchRow> {
  const row = {
    capability: "DNS authoritative, signed zone, DO=1 (dns/server.ts)",
    referenceName: "NSD",
    metric: "queries/s",
    unit: "q/s",
    target: "≥ 0.9×",
  };
  if (!hasCommand("nsd") || !hasCommand("ldns-signzone")) {
    return { ...row, skipped: "nsd or ldns-signzone not installed" };
  }
  const signed = await signZone(dir);
  const ours = await startScript("dns/server.ts", ["--zone", signed, "--port", "0", "--quiet"], {
    timeoutMs: 120_000,
  });
  const nsdDir = await Deno.makeTempDir({ prefix: "netlab-dnssec-bench-" });
  let nsd: Awaited<ReturnType<typeof startNsd>> | undefined;
  try {
    await waitForAnswer(ours.port);
    nsd = await startNsd(nsdDir, signed);
    const sides = [
      { name: "dns/server.ts DO=1", target: { port: ours.port, pid: ours.child.pid }, qps: [] },
      { name: "NSD DO=1", target: nsd.target, qps: [] as number[] },
    ] as { name: string; target: Target; qps: number[] }[];
    for (const side of sides) {
      await dnsperf(side.target.port, WARMUP_SECONDS, dataFile, undefined, true);
    }
    for (let round = 1; round <= ROUNDS; round++) {
      for (const side of sides) {
        const r = await measure(side.target, seconds, dataFile, ticks, true);
        side.qps.push(r.qps);
        ctx.log(`${side.name} round ${round}: ${r.qps.toFixed(0)} q/s, lost ${r.lost}`);
      }
    }
    return { ...row, ours: median(sides[0].qps), reference: median(sides[1].qps) };
  } finally {
    await nsd?.stop();
    await ours[Symbol.asyncDispose]();
    await Deno.remove(nsdDir, { recursive: true });
  }
}
