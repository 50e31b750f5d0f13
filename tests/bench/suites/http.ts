/**
 * `deno task bench http`: http/server.ts against `Deno.serve` (tests/bench/http_deno_serve.ts)
 * and nginx (1 worker, a temp config and prefix, access_log off, started and stopped here), all
 * loaded by `wrk` on loopback with keep-alive in the same run: a 5-byte body at 50 connections,
 * pipelined depth 16 (a wrk Lua script), 1,000 connections (req/s and p99), a 1 MiB static
 * file (from the server's cache) and a 64 MiB one (streamed: sendfile(2) in both servers).
 * Each server gets a short warm-up first (the JIT); then the servers of a case are measured in
 * turn, twice (A B A B), and each keeps its best req/s and its best p99 — the machine is
 * shared, so interleaving spreads the noise over both sides instead of over one.
 *
 * wrk runs with 2 threads (its default). With 1 thread, wrk itself is the bottleneck at 50
 * connections (a CPU profile showed http/server.ts idle ~45 % of the time), so the number
 * measured wrk's turnaround more than the servers; with 2 threads both sides are loaded the same.
 *
 * `HTTP_BENCH_SERVER=path/to/server.ts deno task bench http` measures another build of the
 * server (e.g. the committed one, for before/after numbers in the same conditions).
 */
import type { BenchContext, BenchRow, BenchSuite } from "../_bench.ts";
import { freePort } from "../_bench.ts";
import { hasCommand, type RunningScript, startScript } from "../../_helpers.ts";
import { writeAll } from "../../../tcp/core/io.ts";

interface WrkResult {
  rps: number;
  p99ms: number;
}

const PIPELINE_LUA = `-- wrk: send 16 requests per write (HTTP pipelining)
init = function(args)
  local r = {}
  for i = 1, 16 do r[i] = wrk.format(nil, wrk.path) end
  req = table.concat(r)
end
request = function() return req end
`;

/** wrk threads; see the header for why 2. */
const WRK_THREADS = 2;

function toMs(value: string, unit: string): number {
  const n = Number(value);
  return unit === "us" ? n / 1000 : unit === "s" ? n * 1000 : unit === "m" ? n * 60_000 : n;
}

export async function wrk(
  url: string,
  connections: number,
  seconds: number,
  lua?: string,
): Promise<WrkResult> {
  const args = [
    `-t${WRK_THREADS}`,
    `-c${connections}`,
    `-d${seconds}s`,
    "--latency",
    "--timeout",
    "5s",
  ];
  if (lua) args.push("-s", lua);
  const out = await new Deno.Command("wrk", {
    args: [...args, url],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(text);
  if (!out.success || !rps || !p99) {
    throw new Error(`wrk failed for ${url}: ${text}${new TextDecoder().decode(out.stderr)}`);
  }
  return { rps: Number(rps[1]), p99ms: toMs(p99[1], p99[2]) };
}

/** Waits (bounded) until something accepts on `port`. */
async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch (error) {
      if (!(error instanceof Deno.errors.ConnectionRefused)) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`nothing listening on 127.0.0.1:${port}`);
}

/** nginx with one worker on a temp prefix; returns its port and a stop function. */
async function startNginx(dir: string, root: string) {
  const port = freePort();
  const conf = `${dir}/nginx.conf`;
  await Deno.writeTextFile(
    conf,
    `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  types { text/plain txt; application/octet-stream bin; }
  sendfile on;
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
  await waitForPort(port);
  return {
    port,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
    },
  };
}

async function run(ctx: BenchContext): Promise<BenchRow[]> {
  if (!hasCommand("wrk")) {
    return [{
      capability: "HTTP server",
      metric: "req/s",
      referenceName: "Deno.serve",
      unit: "req/s",
      skipped: "wrk not installed",
    }];
  }
  const seconds = ctx.quick ? 2 : 5;
  const dir = await Deno.makeTempDir({ prefix: "netlab-bench-http-" });
  const root = `${dir}/root`;
  await Deno.mkdir(root);
  await Deno.writeTextFile(`${root}/hello.txt`, "hello");
  const mib = new Uint8Array(1024 * 1024);
  crypto.getRandomValues(mib.subarray(0, 65536));
  await Deno.writeFile(`${root}/1m.bin`, mib);
  // Past the server's 1 MiB cache: streamed from the file (sendfile on both sides).
  {
    using big = await Deno.open(`${root}/64m.bin`, { write: true, createNew: true });
    for (let i = 0; i < 64; i++) await writeAll(big, mib);
  }
  // nginx workers run as an unprivileged user: the temp tree must be readable.
  await Deno.chmod(dir, 0o755);
  await Deno.chmod(root, 0o755);
  const lua = `${dir}/pipeline.lua`;
  await Deno.writeTextFile(lua, PIPELINE_LUA);

  const servers: { stop(): Promise<unknown> }[] = [];
  try {
    const ours: RunningScript = await startScript(
      Deno.env.get("HTTP_BENCH_SERVER") ?? "http/server.ts",
      [
        "--root",
        root,
        "--port",
        "0",
        "--quiet",
      ],
      { timeoutMs: 600_000 },
    );
    servers.push(ours);
    const deno = await startScript("tests/bench/http_deno_serve.ts", ["--port", "0"], {
      timeoutMs: 600_000,
    });
    servers.push(deno);
    const nginx = hasCommand("nginx") ? await startNginx(dir, root) : undefined;
    if (nginx) servers.push(nginx);

    const base = {
      ours: `http://127.0.0.1:${ours.port}`,
      deno: `http://127.0.0.1:${deno.port}`,
      nginx: nginx ? `http://127.0.0.1:${nginx.port}` : undefined,
    };
    /** Warms every server up, then measures them interleaved twice; best req/s and p99 each. */
    const measureAll = async (
      label: string,
      targets: Record<string, string | undefined>,
      conns: number,
      script?: string,
    ): Promise<Record<string, WrkResult | undefined>> => {
      const names = Object.keys(targets).filter((name) => targets[name] !== undefined);
      const best: Record<string, WrkResult | undefined> = {};
      for (const name of names) await wrk(targets[name]!, conns, 1, script); // warm-up (JIT)
      for (let round = 0; round < 2; round++) {
        for (const name of names) {
          const result = await wrk(targets[name]!, conns, seconds, script);
          const prev = best[name];
          // wrk prints a p99 of 0 when it recorded no latency (it can happen with pipelining).
          const p99s = [prev?.p99ms ?? 0, result.p99ms].filter((ms) => ms > 0);
          best[name] = {
            rps: Math.max(prev?.rps ?? 0, result.rps),
            p99ms: p99s.length ? Math.min(...p99s) : 0,
          };
          ctx.log(
            `${label}, ${name}: ${Math.round(result.rps)} req/s, p99 ${result.p99ms.toFixed(2)} ms`,
          );
        }
      }
      return best;
    };
    const rows: BenchRow[] = [];
    const pair = (
      capability: string,
      ours: WrkResult | undefined,
      ref: WrkResult | undefined,
      referenceName: string,
      target: string,
      p99Target = "—",
      p99Metric = "p99 latency",
    ) => {
      capability = `HTTP ${capability}`;
      if (!ours || !ref) {
        rows.push({
          capability,
          metric: "req/s",
          referenceName,
          unit: "req/s",
          skipped: "not installed",
        });
        return;
      }
      rows.push({
        capability,
        metric: "req/s",
        ours: ours.rps,
        reference: ref.rps,
        referenceName,
        unit: "req/s",
        target,
      });
      if (ours.p99ms === 0) {
        rows.push({
          capability,
          metric: p99Metric,
          referenceName,
          unit: "ms",
          skipped: ref.p99ms === 0
            ? "wrk recorded no latency for either"
            : "wrk recorded no latency for netlab",
        });
        return;
      }
      if (ref.p99ms === 0) {
        // wrk records no latency at all for some servers under pipelining (Deno.serve's); ours
        // is still worth reporting, without a ratio.
        rows.push({
          capability,
          metric: p99Metric,
          ours: ours.p99ms,
          referenceName: `${referenceName}: wrk recorded no latency`,
          unit: "ms",
          target: p99Target,
        });
        return;
      }
      rows.push({
        capability,
        metric: p99Metric,
        ours: ours.p99ms,
        reference: ref.p99ms,
        referenceName,
        unit: "ms",
        lowerIsBetter: true,
        target: p99Target,
      });
    };

    const hello = "/hello.txt";
    const at50 = await measureAll("5-byte body, 50 conns", {
      ours: base.ours + hello,
      "Deno.serve": base.deno + hello,
      nginx: base.nginx && base.nginx + hello,
    }, 50);
    pair("5-byte body, 50 conns", at50.ours, at50["Deno.serve"], "Deno.serve", "≥ 0.95×");
    if (base.nginx) pair("5-byte body, 50 conns", at50.ours, at50.nginx, "nginx (1 worker)", "—");

    // wrk times a pipelined batch from its write to its 16th response: p99 is per batch.
    const piped = await measureAll(
      "pipelined 16",
      {
        ours: base.ours + hello,
        "Deno.serve": base.deno + hello,
      },
      50,
      lua,
    );
    pair(
      "5-byte body, pipelined depth 16",
      piped.ours,
      piped["Deno.serve"],
      "Deno.serve",
      "≥ 3×",
      "—",
      "p99 latency (16-request batch)",
    );

    const at1k = await measureAll("1,000 conns", {
      ours: base.ours + hello,
      "Deno.serve": base.deno + hello,
    }, 1000);
    pair(
      "5-byte body, 1,000 conns",
      at1k.ours,
      at1k["Deno.serve"],
      "Deno.serve",
      "≥ 1.0×",
      "≥ 0.5× (p99 ≤ 2×)",
    );

    const file = await measureAll("1 MiB file", {
      ours: base.ours + "/1m.bin",
      nginx: base.nginx && base.nginx + "/1m.bin",
    }, 50);
    pair("1 MiB static file, 50 conns", file.ours, file.nginx, "nginx (1 worker)", "≥ 1.0×");

    const streamed = await measureAll("64 MiB file", {
      ours: base.ours + "/64m.bin",
      nginx: base.nginx && base.nginx + "/64m.bin",
    }, 8);
    pair(
      "64 MiB static file (streamed), 8 conns",
      streamed.ours,
      streamed.nginx,
      "nginx (1 worker)",
      "—",
    );
    return rows;
  } finally {
    for (const server of servers.reverse()) await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

export const suite: BenchSuite = {
  name: "http",
  description: "http/server.ts vs Deno.serve and nginx under wrk (keep-alive, loopback)",
  run,
};
