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
 *
 * Then the local DNS server (`dns/resolver_server.ts --quiet`) against unbound (one thread,
 * QNAME minimisation on, no DNSSEC), both iterating through the same mini-Internet (on port 53
 * and its own loopback addresses, tests/_unbound.ts: unbound only queries port 53 after a
 * referral; so this part needs root). Rows: cached answers (the same dnsperf warm-up for both,
 * then interleaved flat-out rounds, median q/s and server CPU per query; target ≥ 1.0×); cold
 * resolution of 2,000 names nobody asked before under the wildcard `*.wild.cnblogs.com` (both
 * first resolve the same number of other cold names, then interleaved rounds with fresh names
 * each, median completed q/s and CPU per name; target ≥ 1.0×); and the resident memory of a
 * fresh server holding 100,000 cold-resolved names once it has settled (V8 returns memory a
 * few seconds after the load; target ≤ 100 MB; the peak is logged).
 */
import { type BenchContext, type BenchRow, type BenchSuite, median } from "../_bench.ts";
import { hasCommand, ROOT, startScript } from "../../_helpers.ts";
import { decodeMessage, encodeMessage, makeQuery } from "../../../dns/wire/message.ts";
import { TYPE } from "../../../dns/wire/constants.ts";
import { startInternet53, startUnbound, unboundAvailable } from "../../_unbound.ts";
import { startMiniInternet } from "../../../dns/internet/servers.ts";

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

/** What a compared row says it measures. */
type RowText = Pick<BenchRow, "metric" | "unit" | "lowerIsBetter" | "target">;

/**
 * A row comparing the median of our rounds (`rounds[0]`) with the reference's (`rounds[1]`,
 * absent when the reference was skipped), each round reduced to one number by `pick`.
 */
function comparedRow<R>(
  base: Pick<BenchRow, "capability" | "referenceName" | "skipped">,
  rounds: R[][],
  pick: (r: R) => number,
  text: RowText,
): BenchRow {
  const mid = (i: number) => rounds[i] ? median(rounds[i].map(pick)) : undefined;
  return {
    capability: base.capability,
    referenceName: base.referenceName,
    metric: text.metric,
    unit: text.unit,
    lowerIsBetter: text.lowerIsBetter,
    ours: mid(0),
    reference: mid(1),
    target: text.target,
    skipped: base.skipped,
  };
}

/** The authoritative server's rows: dns/server.ts against NSD. */
async function authoritativeRows(ctx: BenchContext): Promise<BenchRow[]> {
  {
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
      const withSkipped = { ...base, skipped };
      const runs = sides.map((side) => side.runs);
      return [
        comparedRow(withSkipped, runs, (r) => r.qps, {
          metric: "queries/s",
          unit: "q/s",
          target: "≥ 0.7×",
        }),
        comparedRow(withSkipped, runs, (r) => r.latencyMs, {
          metric: "avg latency (flat out)",
          unit: "ms",
          lowerIsBetter: true,
        }),
        comparedRow(withSkipped, runs, (r) => r.pacedLatencyMs, {
          metric: `avg latency at ${PACED_RATE.toLocaleString("en-US")} q/s`,
          unit: "ms",
          lowerIsBetter: true,
        }),
        comparedRow(withSkipped, runs, (r) => r.cpuUsPerQuery, {
          metric: "server CPU per query",
          unit: "µs",
          lowerIsBetter: true,
        }),
        await signedRow(ctx, dir, dataFile, seconds, ticks),
      ];
    } finally {
      await nsd?.stop();
      await ours[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true });
    }
  }
}

export const suite: BenchSuite = {
  name: "dns",
  description:
    "dnsperf against dns/server.ts and NSD (same zone), and dns/resolver_server.ts and unbound " +
    "(same mini-Internet), loopback",
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    return [...await authoritativeRows(ctx), ...await resolverRows(ctx)];
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

// ---------------------------------------------------------------------------------------------
// The local DNS server (dns/resolver_server.ts) against unbound, iterating through the same
// mini-Internet. unbound follows referrals to port 53 only, so when it is compared the
// mini-Internet runs on port 53 on its own loopback addresses (tests/_unbound.ts; needs root).

const RESOLVER_CAPABILITY = "DNS recursive (dns/resolver_server.ts over the mini-Internet)";
/** What dnsperf asks once both caches are warm: answers, a CNAME, NODATA, NXDOMAIN. */
const CACHED_QUERIES = [
  "www.cnblogs.com A",
  "www.cnblogs.com AAAA",
  "web.cnblogs.com A",
  "cnblogs.com MX",
  "mail.cnblogs.com A",
  "ent.cnblogs.com A",
  "nope.cnblogs.com A",
];
/** Distinct names per cold round (the figure), all under the wildcard `*.wild`. */
const COLD_NAMES = 2000;
/**
 * Names both sides resolve cold before anything is measured (the same warm-up for both). A
 * local DNS server runs for days: the rounds measure that steady state, not V8 compiling the
 * cold path and collecting the warm-up's garbage, which takes netlab's first ~10,000 names.
 */
const COLD_WARMUP_NAMES = 15_000;
/** dnsperf's outstanding queries for the cold runs. */
const COLD_OUTSTANDING = 100;
const MEMORY_NAMES = 100_000;

/** One pass of dnsperf through `dataFile` (each query once), `outstanding` at a time. */
async function dnsperfOnce(port: number, dataFile: string, outstanding: number) {
  const out = await new Deno.Command("dnsperf", {
    args: [
      "-s",
      "127.0.0.1",
      "-p",
      String(port),
      "-d",
      dataFile,
      "-n",
      "1",
      "-q",
      String(outstanding),
      "-t",
      "5",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const qps = /Queries per second:\s+([\d.]+)/.exec(text);
  const completed = /Queries completed:\s+(\d+)/.exec(text);
  if (!out.success || !qps) throw new Error(`dnsperf failed: ${text}`);
  return { qps: Number(qps[1]), completed: Number(completed?.[1] ?? 0) };
}

/** Current and peak resident memory of a process, in MB. */
function rssMB(pid: number): { rss: number; peak: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}

/** The names file for one cold run: `count` names nobody has asked before. */
async function coldNames(dir: string, tag: string, count: number): Promise<string> {
  const file = `${dir}/cold-${tag}.txt`;
  const lines = Array.from({ length: count }, (_, i) => `${tag}-${i}.wild.cnblogs.com TXT`);
  await Deno.writeTextFile(file, lines.join("\n") + "\n");
  return file;
}

async function resolverRows(ctx: BenchContext): Promise<BenchRow[]> {
  const base = { capability: RESOLVER_CAPABILITY, referenceName: "unbound" };
  if (!hasCommand("dnsperf")) {
    return [{ ...base, metric: "cached queries/s", unit: "q/s", skipped: "dnsperf not installed" }];
  }
  const compare = unboundAvailable();
  const skipped = compare ? undefined : "unbound not installed, or port 53 not available (root)";
  const dir = await Deno.makeTempDir({ prefix: "netlab-resolver-bench-" });
  const ticks = await clockTicks();
  const seconds = ctx.quick ? 2 : 5;
  const rounds = ctx.quick ? 1 : ROUNDS;
  const stops: (() => Promise<void>)[] = [];
  try {
    // The upstream: port 53 when unbound takes part (its referrals go to port 53), else any.
    let root: string;
    let upstreamPort: number;
    if (compare) {
      await Deno.mkdir(`${dir}/zones`);
      const net = await startInternet53(`${dir}/zones`);
      stops.push(net.stop);
      [root, upstreamPort] = [net.root, 53];
    } else {
      const net = await startMiniInternet({ port: 0 });
      stops.push(net.stop);
      [root, upstreamPort] = [net.roots[0], net.port];
    }
    const args = [
      "--port",
      "0",
      "--root",
      root,
      "--upstream-port",
      String(upstreamPort),
      "--quiet",
    ];
    const ours = await startScript("dns/resolver_server.ts", args, { timeoutMs: 600_000 });
    stops.push(async () => void await ours.stop());
    const sides: {
      name: string;
      target: Target;
      runs: Run[];
      cold: { qps: number; cpu: number }[];
    }[] = [
      {
        name: "dns/resolver_server.ts",
        target: { port: ours.port, pid: ours.child.pid },
        runs: [],
        cold: [],
      },
    ];
    if (compare) {
      await Deno.mkdir(`${dir}/unbound`);
      const unbound = await startUnbound(`${dir}/unbound`, root);
      stops.push(unbound.stop);
      sides.push({
        name: "unbound",
        target: { port: unbound.port, pid: unbound.pid },
        runs: [],
        cold: [],
      });
    }

    // Cached answers: the same warm-up (which also fills both caches), then interleaved rounds.
    const cachedFile = `${dir}/cached.txt`;
    await Deno.writeTextFile(cachedFile, CACHED_QUERIES.join("\n") + "\n");
    for (const side of sides) await dnsperf(side.target.port, WARMUP_SECONDS, cachedFile);
    for (let round = 1; round <= rounds; round++) {
      for (const side of sides) {
        const r = await measure(side.target, seconds, cachedFile, ticks);
        side.runs.push(r);
        ctx.log(
          `${side.name} cached round ${round}: ${r.qps.toFixed(0)} q/s, ` +
            `${r.cpuUsPerQuery.toFixed(1)} µs CPU/query, lost ${r.lost}`,
        );
      }
    }

    // Cold resolution: names nobody asked before, under the wildcard (one upstream query each
    // once the delegation is cached), after the same cold warm-up for both.
    for (const side of sides) {
      const warm = await coldNames(dir, `warm-${sides.indexOf(side)}`, COLD_WARMUP_NAMES);
      await dnsperfOnce(side.target.port, warm, COLD_OUTSTANDING);
    }
    for (let round = 1; round <= rounds; round++) {
      for (const [i, side] of sides.entries()) {
        const file = await coldNames(dir, `r${round}-${i}`, COLD_NAMES);
        const before = cpuTicks(side.target.pid);
        const r = await dnsperfOnce(side.target.port, file, COLD_OUTSTANDING);
        const cpu = (cpuTicks(side.target.pid) - before) / ticks * 1e6 / Math.max(1, r.completed);
        side.cold.push({ qps: r.qps, cpu });
        ctx.log(
          `${side.name} cold round ${round}: ${COLD_NAMES} names, ${r.qps.toFixed(0)} q/s ` +
            `completed, ${cpu.toFixed(0)} µs CPU/name`,
        );
      }
    }

    // Memory: a fresh server resolves MEMORY_NAMES names and keeps them; its RSS once it has
    // settled (V8 gives memory back some seconds after the load).
    const names = ctx.quick ? 20_000 : MEMORY_NAMES;
    const fresh = await startScript("dns/resolver_server.ts", args, { timeoutMs: 600_000 });
    stops.push(async () => void await fresh.stop());
    const idle = rssMB(fresh.child.pid).rss;
    const loaded = await dnsperfOnce(fresh.port, await coldNames(dir, "memory", names), 200);
    const afterLoad = rssMB(fresh.child.pid);
    // V8's memory reducer gives the load's garbage back 15-21 s after the load on a quiet
    // machine, later on a busy one: wait for that drop (at most 60 s), then for RSS to stay put.
    let settled = afterLoad.rss;
    const dropped = () => settled < afterLoad.rss * 0.9;
    for (let second = 1, steady = 0; second <= 60 && !(dropped() && steady >= 3); second++) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const now = rssMB(fresh.child.pid).rss;
      steady = now < settled - 0.5 ? 0 : steady + 1;
      settled = Math.min(settled, now);
    }
    ctx.log(
      `dns/resolver_server.ts with ${names} names (${loaded.completed} resolved at ` +
        `${loaded.qps.toFixed(0)} q/s): RSS ${idle.toFixed(1)} MB idle before, ` +
        `${afterLoad.rss.toFixed(1)} MB right after (peak ${afterLoad.peak.toFixed(1)}), ` +
        `${settled.toFixed(1)} MB settled`,
    );

    const withSkipped = { ...base, skipped };
    const runs = sides.map((side) => side.runs);
    const cold = sides.map((side) => side.cold);
    return [
      comparedRow(withSkipped, runs, (r) => r.qps, {
        metric: "cached answers, queries/s",
        unit: "q/s",
        target: "≥ 1.0×",
      }),
      comparedRow(withSkipped, runs, (r) => r.cpuUsPerQuery, {
        metric: "cached answers, server CPU per query",
        unit: "µs",
        lowerIsBetter: true,
      }),
      comparedRow(withSkipped, cold, (r) => r.qps, {
        metric: `cold resolution of ${COLD_NAMES.toLocaleString("en-US")} names, completed q/s`,
        unit: "q/s",
        target: "≥ 1.0×",
      }),
      comparedRow(withSkipped, cold, (r) => r.cpu, {
        metric: "cold resolution, server CPU per name",
        unit: "µs",
        lowerIsBetter: true,
      }),
      {
        capability: RESOLVER_CAPABILITY,
        referenceName: "limit",
        metric: `RSS with ${names.toLocaleString("en-US")} cached names (settled)`,
        unit: "MB",
        lowerIsBetter: true,
        ours: settled,
        target: ctx.quick ? undefined : "≤ 100 MB",
      },
    ];
  } finally {
    for (const stop of stops.reverse()) await stop();
    await Deno.remove(dir, { recursive: true });
  }
}
