/**
 * `deno task bench faults`: the servers under load and faults, each measured side by side with
 * the reference it must hold up against, in one run:
 * - logging: every server with its default log on (stdout to a file) against itself with
 *   `--quiet`, and http/server.ts against nginx logging to a file with `access_log … buffer=64k`;
 * - stuck readers: 600 connections each ask for a 64 MiB file and never read; a normal GET's p99
 *   meanwhile, in both I/O modes;
 * - idle connections: 10,000 keep-alive HTTP connections after one request each, the server's RSS
 *   above its baseline, in both I/O modes;
 * - killed clients: 1,000 clients killed mid-request (a partial head, a partial upload, a large
 *   download not read), how soon the server's RSS is back within 10 MB of its baseline;
 * - descriptor exhaustion: the HTTP server under `ulimit -n 256` with 400 connections open, its
 *   CPU while exhausted and how soon it serves again once descriptors free up.
 * Servers write their logs to files in a temp folder, as a service's would; load stays on
 * loopback, every load is bounded in count and time. The memory rows run http/server.ts with the
 * V8 flags of its `deno task http:server` (deno.json), as it is meant to be run.
 */
import type { BenchContext, BenchRow, BenchSuite } from "../_bench.ts";
import { freePort, median } from "../_bench.ts";
import { hasCommand, ROOT } from "../../_helpers.ts";
import { wrk } from "./http.ts";
import { dnsperf, waitForAnswer, writeQueryFile } from "./dns.ts";
import { roundTrips } from "./udp.ts";
import { writeAll } from "../../../tcp/core/io.ts";

/** A server process started through bash (for `ulimit` and a redirect) on a known port. */
interface Service {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

/** The `--v8-flags=…` of a `deno task` in deno.json (none: an empty list). */
function taskV8Flags(task: string): string[] {
  const config = JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`));
  const command: string = config.tasks?.[task]?.command ?? "";
  return command.split(/\s+/).filter((word) => word.startsWith("--v8-flags="));
}

/** Starts `deno run -A script args` with stdout (and stderr) to `logFile`, under `ulimit -n`. */
function startService(
  script: string,
  args: string[],
  { logFile, openFiles = 20000, port, v8Flags = [] }: {
    logFile: string;
    openFiles?: number;
    port: number;
    v8Flags?: string[];
  },
): Service {
  const child = new Deno.Command("bash", {
    args: [
      "-c",
      `ulimit -n ${openFiles}; exec "$@" > "${logFile}" 2>&1`,
      "bash",
      Deno.execPath(),
      "run",
      "-A",
      "--quiet",
      ...v8Flags,
      script,
      ...args,
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  return {
    pid: child.pid,
    port,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
    },
  };
}

/** Waits (bounded) until something accepts TCP connections on `port`. */
async function waitForTcp(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`nothing listening on 127.0.0.1:${port}`);
}

/** Resident memory (VmRSS) of `pid` in MB. */
function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** CPU seconds (user + system) used by `pid` so far. */
function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** One keep-alive GET on `conn`; resolves when the whole answer (headers + body) is read. */
async function getOnce(conn: Deno.Conn, path: string, buffer: Uint8Array): Promise<void> {
  await writeAll(conn, new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nHost: bench\r\n\r\n`));
  let seen = "";
  while (!/\r\n\r\n/.test(seen) || !seen.endsWith("hello")) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error("closed before the answer");
    seen += new TextDecoder().decode(buffer.subarray(0, n));
  }
}

/** Opens `count` connections to `port` (in bounded waves), each with `path` asked if given. */
async function openConnections(port: number, count: number, ask?: string): Promise<Deno.Conn[]> {
  const conns: Deno.Conn[] = [];
  const buffer = new Uint8Array(4096);
  for (let i = 0; i < count; i += 200) {
    const wave = await Promise.all(
      Array.from({ length: Math.min(200, count - i) }, async () => {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        if (ask === "/hello.txt") await getOnce(conn, ask, buffer);
        else if (ask) {
          await writeAll(conn, new TextEncoder().encode(`GET ${ask} HTTP/1.1\r\nHost: b\r\n\r\n`));
        }
        return conn;
      }),
    );
    conns.push(...wave);
  }
  return conns;
}

function closeAll(conns: Deno.Conn[]): void {
  for (const conn of conns) {
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

/** nginx, one worker, logging every request to a file with a 64 KiB buffer. */
async function startNginxLogging(dir: string, root: string): Promise<Service> {
  const port = freePort();
  const conf = `${dir}/nginx-log.conf`;
  await Deno.writeTextFile(
    conf,
    `worker_processes 1;
daemon off;
pid ${dir}/nginx-log.pid;
error_log ${dir}/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log ${dir}/nginx-access.log combined buffer=64k;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  types { text/plain txt; }
  keepalive_requests 1000000;
  server { listen 127.0.0.1:${port}; root ${root}; }
}
`,
  );
  const child = new Deno.Command("nginx", {
    args: ["-p", dir, "-c", conf],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  await waitForTcp(port);
  return {
    pid: child.pid,
    port,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
    },
  };
}

/** Best-of-rounds wrk req/s for each target, interleaved. */
async function interleavedRps(
  ctx: BenchContext,
  label: string,
  targets: Record<string, string>,
  connections: number,
  seconds: number,
): Promise<Record<string, number>> {
  const best: Record<string, number> = {};
  for (const url of Object.values(targets)) await wrk(url, connections, 1);
  for (let round = 0; round < 2; round++) {
    for (const [name, url] of Object.entries(targets)) {
      const { rps } = await wrk(url, connections, seconds);
      best[name] = Math.max(best[name] ?? 0, rps);
      ctx.log(`${label}, ${name}: ${Math.round(rps)} req/s`);
    }
  }
  return best;
}

async function httpLogging(ctx: BenchContext, dir: string, root: string): Promise<BenchRow[]> {
  const capability = "HTTP 5-byte body, 50 conns, access log to a file";
  const seconds = ctx.quick ? 2 : 5;
  const logged = startService("http/server.ts", ["--root", root, "--port", "0"], {
    logFile: `${dir}/http-access.log`,
    port: 0,
  });
  const services: Service[] = [logged];
  try {
    const loggedPort = await portFromLog(`${dir}/http-access.log`);
    const quietPort = freePort();
    const quiet = startService(
      "http/server.ts",
      ["--root", root, "--port", String(quietPort), "--quiet"],
      { logFile: `${dir}/http-quiet.log`, port: quietPort },
    );
    services.push(quiet);
    await waitForTcp(quietPort);
    const targets: Record<string, string> = {
      logged: `http://127.0.0.1:${loggedPort}/hello.txt`,
      quiet: `http://127.0.0.1:${quietPort}/hello.txt`,
    };
    if (hasCommand("nginx")) {
      const nginx = await startNginxLogging(dir, root);
      services.push(nginx);
      targets.nginx = `http://127.0.0.1:${nginx.port}/hello.txt`;
    }
    const best = await interleavedRps(ctx, "logging", targets, 50, seconds);
    const rows: BenchRow[] = [{
      capability,
      metric: "req/s, default log vs --quiet",
      ours: best.logged,
      reference: best.quiet,
      referenceName: "http/server.ts --quiet",
      unit: "req/s",
      target: "≥ 0.85×",
    }];
    rows.push(
      best.nginx
        ? {
          capability,
          metric: "req/s, default log",
          ours: best.logged,
          reference: best.nginx,
          referenceName: "nginx (access_log buffer=64k)",
          unit: "req/s",
          target: "≥ 1.2×",
        }
        : {
          capability,
          metric: "req/s, default log",
          referenceName: "nginx",
          unit: "req/s",
          skipped: "nginx not installed",
        },
    );
    return rows;
  } finally {
    for (const service of services) await service.stop();
  }
}

/**
 * The sides in the order they run in `round`: first-to-last, then last-to-first, so that neither
 * always runs on a machine the other has just warmed (or tired).
 */
function takingTurns<T>(sides: T[], round: number): T[] {
  return round % 2 === 0 ? sides : [...sides].reverse();
}

/** The port a server printed in its `listening on …` line (bounded wait for the log file). */
async function portFromLog(logFile: string): Promise<number> {
  for (let i = 0; i < 200; i++) {
    try {
      const m = /listening on (?:udp |http:\/\/)?[^\s]*:(\d+)/.exec(
        await Deno.readTextFile(logFile),
      );
      if (m) return Number(m[1]);
    } catch { /* not created yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no listening line in ${logFile}`);
}

async function dnsLogging(ctx: BenchContext, dir: string): Promise<BenchRow[]> {
  const capability = "DNS authoritative, query log to a file";
  if (!hasCommand("dnsperf")) {
    return [{
      capability,
      metric: "q/s",
      referenceName: "--quiet",
      unit: "q/s",
      skipped: "dnsperf not installed",
    }];
  }
  const dataFile = `${dir}/queries.txt`;
  await writeQueryFile(dataFile);
  const seconds = ctx.quick ? 2 : 5;
  const sides: { name: string; service: Service; port: number }[] = [];
  try {
    for (const [name, extra] of [["logged", []], ["quiet", ["--quiet"]]] as const) {
      const log = `${dir}/dns-${name}.log`;
      const service = startService(
        "dns/server.ts",
        ["--zone", "dns/zones/cnblogs.com.zone", "--port", "0", ...extra],
        { logFile: log, port: 0 },
      );
      const port = await portFromLog(log);
      await waitForAnswer(port);
      sides.push({ name, service, port });
    }
    const runs: Record<string, number[]> = { logged: [], quiet: [] };
    for (const side of sides) await dnsperf(side.port, 1, dataFile);
    for (let round = 0; round < 3; round++) {
      for (const side of takingTurns(sides, round)) {
        const r = await dnsperf(side.port, seconds, dataFile);
        runs[side.name].push(r.qps);
        ctx.log(`dns logging, ${side.name}: ${Math.round(r.qps)} q/s`);
      }
    }
    return [{
      capability,
      metric: "queries/s, default log vs --quiet",
      ours: median(runs.logged),
      reference: median(runs.quiet),
      referenceName: "dns/server.ts --quiet",
      unit: "q/s",
      target: "≥ 0.85×",
    }];
  } finally {
    for (const side of sides) await side.service.stop();
  }
}

async function udpLogging(ctx: BenchContext, dir: string): Promise<BenchRow[]> {
  const sides: { name: string; service: Service; port: number }[] = [];
  try {
    for (const [name, extra] of [["logged", []], ["quiet", ["--quiet"]]] as const) {
      const log = `${dir}/udp-${name}.log`;
      const service = startService("udp/server.ts", ["--port", "0", ...extra], {
        logFile: log,
        port: 0,
      });
      sides.push({ name, service, port: await portFromLog(log) });
    }
    const count = ctx.quick ? 50_000 : 300_000;
    const runs: Record<string, number[]> = { logged: [], quiet: [] };
    // A warm-up for both servers and for this process's own load generator (V8 compiles it too).
    for (const side of sides) {
      await roundTrips(side.port, side.service.pid, { count: count / 2, timeLimitMs: 5_000 });
    }
    for (let round = 0; round < 3; round++) {
      for (const side of takingTurns(sides, round)) {
        const r = await roundTrips(side.port, side.service.pid, { count, timeLimitMs: 10_000 });
        runs[side.name].push(r.perSecond);
        ctx.log(`udp logging, ${side.name}: ${Math.round(r.perSecond)} rt/s`);
      }
    }
    return [{
      capability: "UDP echo, datagram log to a file, 64 B, 32 outstanding",
      metric: "round trips, default log vs --quiet",
      ours: median(runs.logged),
      reference: median(runs.quiet),
      referenceName: "udp/server.ts --quiet",
      unit: "rt/s",
      target: "≥ 0.85×",
    }];
  } finally {
    for (const side of sides) await side.service.stop();
  }
}

async function stuckReaders(ctx: BenchContext, dir: string, root: string): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const stuck = ctx.quick ? 100 : 600;
  for (const mode of ["epoll", "deno"] as const) {
    const port = freePort();
    const service = startService(
      "http/server.ts",
      [
        "--root",
        root,
        "--port",
        String(port),
        "--quiet",
        ...(mode === "deno" ? ["--no-epoll"] : []),
      ],
      { logFile: `${dir}/stuck-${mode}.log`, port },
    );
    let conns: Deno.Conn[] = [];
    try {
      await waitForTcp(port);
      conns = await openConnections(port, stuck, "/64m.bin");
      // Let the stuck answers fill their socket buffers before measuring.
      await new Promise((r) => setTimeout(r, 500));
      const { p99ms } = await wrk(`http://127.0.0.1:${port}/hello.txt`, 4, ctx.quick ? 2 : 5);
      ctx.log(`${stuck} stuck readers (${mode}): normal GET p99 ${p99ms.toFixed(1)} ms`);
      rows.push({
        capability:
          `HTTP normal GET while ${stuck} readers of a 64 MiB file are stuck (${mode} I/O)`,
        metric: "p99 latency",
        ours: p99ms,
        referenceName: "limit",
        unit: "ms",
        target: "≤ 50 ms",
      });
    } finally {
      closeAll(conns);
      await service.stop();
    }
  }
  return rows;
}

async function idleConnections(ctx: BenchContext, dir: string, root: string): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const mode of ["epoll", "deno"] as const) {
    rows.push(...await idleConnectionsIn(mode, ctx, dir, root));
  }
  return rows;
}

async function idleConnectionsIn(
  mode: "epoll" | "deno",
  ctx: BenchContext,
  dir: string,
  root: string,
): Promise<BenchRow[]> {
  const count = ctx.quick ? 2_000 : 10_000;
  const port = freePort();
  const service = startService(
    "http/server.ts",
    [
      "--root",
      root,
      "--port",
      String(port),
      "--quiet",
      "--max-conns",
      "20000",
      "--idle-timeout-ms",
      "600000",
      ...(mode === "deno" ? ["--no-epoll"] : []),
    ],
    { logFile: `${dir}/idle-${mode}.log`, port, v8Flags: taskV8Flags("http:server") },
  );
  let conns: Deno.Conn[] = [];
  try {
    await waitForTcp(port);
    // Baseline: the server warmed up by a few requests, no connection open.
    const warm = await openConnections(port, 50, "/hello.txt");
    closeAll(warm);
    await new Promise((r) => setTimeout(r, 500));
    const baseline = rssMB(service.pid);
    conns = await openConnections(port, count, "/hello.txt");
    await new Promise((r) => setTimeout(r, 1000));
    const loaded = rssMB(service.pid);
    const perConnKB = (loaded - baseline) * 1024 / count;
    ctx.log(
      `${count} idle keep-alive connections (${mode} I/O): RSS ${baseline.toFixed(0)} → ${
        loaded.toFixed(0)
      } MB, ${perConnKB.toFixed(1)} KB each`,
    );
    const capability = `HTTP ${
      count.toLocaleString("en-US")
    } idle keep-alive connections (${mode} I/O)`;
    return [
      {
        capability,
        metric: "server RSS",
        ours: loaded,
        referenceName: "limit",
        unit: "MB",
        target: "≤ 120 MB",
      },
      {
        capability,
        metric: "RSS per connection above baseline",
        ours: perConnKB,
        referenceName: "limit",
        unit: "KB",
        target: "≤ 8 KB",
      },
    ];
  } finally {
    closeAll(conns);
    await service.stop();
  }
}

/**
 * A separate process (so it can be killed) that opens `count` connections to `port` and leaves
 * each mid-request — a third with a partial head, a third partway through a PUT body, a third
 * after the first bytes of a 64 MiB download — then says "ready" and waits to be killed.
 */
function startDoomedClients(port: number, count: number): Deno.ChildProcess {
  const code = `
    const encoder = new TextEncoder();
    const opened = [];
    const buffer = new Uint8Array(4096);
    for (let i = 0; i < ${count}; i += 100) {
      opened.push(...await Promise.all(Array.from({ length: Math.min(100, ${count} - i) }, async (_, j) => {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: ${port} });
        const kind = (i + j) % 3;
        if (kind === 0) {
          await conn.write(encoder.encode("GET /hello.txt HTTP/1.1\\r\\nHost: x\\r\\nX-Pad: " + "a".repeat(500)));
        } else if (kind === 1) {
          await conn.write(encoder.encode("PUT /upload/x HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 100000\\r\\n\\r\\n" + "b".repeat(20000)));
        } else {
          await conn.write(encoder.encode("GET /64m.bin HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"));
          await conn.read(buffer);
        }
        return conn;
      })));
    }
    console.log("ready");
    setInterval(() => {}, 60000);
  `;
  return new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
}

/** Starts doomed clients, waits until they are all mid-request, then kills them (SIGKILL). */
async function killClientsMidRequest(port: number, count: number): Promise<void> {
  const clients = startDoomedClients(port, count);
  const reader = clients.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const tooLong = new Promise<null>((r) => timer = setTimeout(() => r(null), 30_000));
    const ready = await Promise.race([reader.read(), tooLong]);
    if (!ready?.value?.includes("ready")) throw new Error("doomed clients did not get ready");
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    clearTimeout(timer);
    try {
      clients.kill("SIGKILL");
    } catch { /* gone */ }
    await clients.status;
    await reader.cancel();
  }
}

async function killedClients(ctx: BenchContext, dir: string, root: string): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const mode of ["epoll", "deno"] as const) {
    rows.push(...await killedClientsIn(mode, ctx, dir, root));
  }
  return rows;
}

async function killedClientsIn(
  mode: "epoll" | "deno",
  ctx: BenchContext,
  dir: string,
  root: string,
): Promise<BenchRow[]> {
  const count = 1000;
  const waitSeconds = 40;
  const port = freePort();
  const service = startService(
    "http/server.ts",
    ["--root", root, "--port", String(port), "--quiet", ...(mode === "deno" ? ["--no-epoll"] : [])],
    { logFile: `${dir}/killed-${mode}.log`, port, v8Flags: taskV8Flags("http:server") },
  );
  try {
    await waitForTcp(port);
    // Baseline: warmed up by ordinary requests and a small killed wave (the code paths run once).
    closeAll(await openConnections(port, 50, "/hello.txt"));
    await killClientsMidRequest(port, 30);
    await new Promise((r) => setTimeout(r, 2000));
    const baseline = rssMB(service.pid);
    await killClientsMidRequest(port, count);
    const killedAt = performance.now();
    let peak = rssMB(service.pid);
    let backAfter: number | undefined;
    while (performance.now() - killedAt < waitSeconds * 1000) {
      await new Promise((r) => setTimeout(r, 250));
      const rss = rssMB(service.pid);
      peak = Math.max(peak, rss);
      if (rss - baseline <= 10) {
        backAfter = (performance.now() - killedAt) / 1000;
        break;
      }
    }
    ctx.log(
      `${count} clients killed mid-request (${mode} I/O): RSS ${baseline.toFixed(0)} MB, peak ${
        peak.toFixed(0)
      } MB, back within 10 MB ${
        backAfter === undefined ? `not within ${waitSeconds} s` : `after ${backAfter.toFixed(1)} s`
      }`,
    );
    return [{
      capability: `HTTP ${count.toLocaleString("en-US")} clients killed mid-request (${mode} I/O)`,
      metric: backAfter === undefined
        ? `time until RSS is within 10 MB of baseline (not within ${waitSeconds} s)`
        : "time until RSS is within 10 MB of baseline",
      ours: backAfter ?? waitSeconds,
      referenceName: "limit",
      unit: "s",
      target: "≤ 20 s",
    }];
  } finally {
    await service.stop();
  }
}

async function descriptorExhaustion(
  ctx: BenchContext,
  dir: string,
  root: string,
): Promise<BenchRow[]> {
  const port = freePort();
  const service = startService("http/server.ts", ["--root", root, "--port", String(port)], {
    logFile: `${dir}/emfile.log`,
    openFiles: 256,
    port,
  });
  let conns: Deno.Conn[] = [];
  try {
    await waitForTcp(port);
    // More connections than the server has descriptors: the kernel queues the rest.
    conns = await Promise.all(
      Array.from({ length: 400 }, () => Deno.connect({ hostname: "127.0.0.1", port })),
    );
    await new Promise((r) => setTimeout(r, 500));
    const before = cpuSeconds(service.pid);
    const window = ctx.quick ? 1 : 3;
    await new Promise((r) => setTimeout(r, window * 1000));
    const cpuPercent = (cpuSeconds(service.pid) - before) / window * 100;
    // Free descriptors: the server must serve a new client promptly.
    closeAll(conns.splice(0, 100));
    const started = performance.now();
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await getOnce(conn, "/hello.txt", new Uint8Array(4096));
    const recoveryMs = performance.now() - started;
    conn.close();
    const lines = (await Deno.readTextFile(`${dir}/emfile.log`)).split("\n").length;
    ctx.log(
      `EMFILE: CPU ${cpuPercent.toFixed(1)} %, recovery ${
        recoveryMs.toFixed(0)
      } ms, ${lines} log lines`,
    );
    return [
      {
        capability: "HTTP server out of descriptors (ulimit -n 256, 400 clients)",
        metric: "server CPU while exhausted",
        ours: cpuPercent,
        referenceName: "limit",
        unit: "%",
        target: "≤ 5 %",
      },
      {
        capability: "HTTP server out of descriptors (ulimit -n 256, 400 clients)",
        metric: "time to serve after descriptors free up",
        ours: recoveryMs,
        referenceName: "limit",
        unit: "ms",
        target: "≤ 100 ms",
      },
    ];
  } finally {
    closeAll(conns);
    await service.stop();
  }
}

async function run(ctx: BenchContext): Promise<BenchRow[]> {
  if (Deno.build.os !== "linux" || !hasCommand("wrk")) {
    return [{
      capability: "load and faults",
      metric: "—",
      referenceName: "—",
      unit: "",
      skipped: "needs Linux and wrk",
    }];
  }
  const dir = await Deno.makeTempDir({ prefix: "netlab-bench-faults-" });
  const root = `${dir}/root`;
  await Deno.mkdir(root);
  await Deno.writeTextFile(`${root}/hello.txt`, "hello");
  {
    const mib = new Uint8Array(1024 * 1024);
    using big = await Deno.open(`${root}/64m.bin`, { write: true, createNew: true });
    for (let i = 0; i < 64; i++) await writeAll(big, mib);
  }
  await Deno.chmod(dir, 0o755);
  await Deno.chmod(root, 0o755);
  const rows: BenchRow[] = [];
  try {
    for (
      const part of [
        () => httpLogging(ctx, dir, root),
        () => dnsLogging(ctx, dir),
        () => udpLogging(ctx, dir),
        () => stuckReaders(ctx, dir, root),
        () => idleConnections(ctx, dir, root),
        () => killedClients(ctx, dir, root),
        () => descriptorExhaustion(ctx, dir, root),
      ]
    ) {
      try {
        rows.push(...await part());
      } catch (error) {
        ctx.log(`failed: ${(error as Error).stack ?? error}`);
        rows.push({
          capability: "load and faults",
          metric: "—",
          referenceName: "—",
          unit: "",
          skipped: `failed: ${(error as Error).message}`,
        });
      }
    }
    return rows;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

export const suite: BenchSuite = {
  name: "faults",
  description:
    "servers under load and faults: logging cost, stuck readers, idle memory, killed clients, EMFILE",
  run,
};
