/**
 * `deno task bench http`: http/server.ts against `Deno.serve` (tests/bench/http_deno_serve.ts)
 * and nginx (1 worker, a temp config and prefix, access_log off, started and stopped here), all
 * loaded by `wrk` on loopback with keep-alive in the same run: a 5-byte body at 50 connections,
 * pipelined depth 16 (a wrk Lua script), 1,000 connections (req/s and p99), and a 1 MiB static
 * file. Each server gets a short warm-up first (the JIT), then the measured run.
 */
import type { BenchContext, BenchRow, BenchSuite } from "../_bench.ts";
import { hasCommand, type RunningScript, startScript } from "../../_helpers.ts";

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

function toMs(value: string, unit: string): number {
  const n = Number(value);
  return unit === "us" ? n / 1000 : unit === "s" ? n * 1000 : unit === "m" ? n * 60_000 : n;
}

async function wrk(url: string, connections: number, seconds: number, lua?: string) {
  const args = ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", "--timeout", "5s"];
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
  return { rps: Number(rps[1]), p99ms: toMs(p99[1], p99[2]) } satisfies WrkResult;
}

function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return (listener.addr as Deno.NetAddr).port;
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
  // nginx workers run as an unprivileged user: the temp tree must be readable.
  await Deno.chmod(dir, 0o755);
  await Deno.chmod(root, 0o755);
  const lua = `${dir}/pipeline.lua`;
  await Deno.writeTextFile(lua, PIPELINE_LUA);

  const servers: { stop(): Promise<unknown> }[] = [];
  try {
    const ours: RunningScript = await startScript("http/server.ts", [
      "--root",
      root,
      "--port",
      "0",
      "--quiet",
    ], { timeoutMs: 600_000 });
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
    const measure = async (name: string, url: string, conns: number, script?: string) => {
      await wrk(url, conns, 1, script); // warm-up
      const result = await wrk(url, conns, seconds, script);
      ctx.log(`${name}: ${Math.round(result.rps)} req/s, p99 ${result.p99ms.toFixed(2)} ms`);
      return result;
    };
    const rows: BenchRow[] = [];
    const pair = (
      capability: string,
      ours: WrkResult,
      ref: WrkResult | undefined,
      referenceName: string,
      target: string,
      p99Target?: string,
    ) => {
      if (!ref) {
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
      if (ours.p99ms === 0 || ref.p99ms === 0) {
        rows.push({
          capability,
          metric: "p99 latency",
          referenceName,
          unit: "ms",
          skipped: "wrk records no latency for pipelined requests",
        });
        return;
      }
      rows.push({
        capability,
        metric: "p99 latency",
        ours: ours.p99ms,
        reference: ref.p99ms,
        referenceName,
        unit: "ms",
        lowerIsBetter: true,
        target: p99Target,
      });
    };

    const hello = "/hello.txt";
    const o50 = await measure("ours 50 conns", base.ours + hello, 50);
    const d50 = await measure("Deno.serve 50 conns", base.deno + hello, 50);
    const n50 = base.nginx ? await measure("nginx 50 conns", base.nginx + hello, 50) : undefined;
    pair("5-byte body, 50 conns", o50, d50, "Deno.serve", "≥ 0.95×");
    pair("5-byte body, 50 conns", o50, n50, "nginx (1 worker)", "—");

    const oPipe = await measure("ours pipelined 16", base.ours + hello, 50, lua);
    const dPipe = await measure("Deno.serve pipelined 16", base.deno + hello, 50, lua);
    pair("5-byte body, pipelined depth 16", oPipe, dPipe, "Deno.serve", "≥ 3×");

    const o1k = await measure("ours 1000 conns", base.ours + hello, 1000);
    const d1k = await measure("Deno.serve 1000 conns", base.deno + hello, 1000);
    pair("5-byte body, 1,000 conns", o1k, d1k, "Deno.serve", "≥ 1.0×", "≥ 0.5× (p99 ≤ 2×)");

    const oFile = await measure("ours 1 MiB", base.ours + "/1m.bin", 50);
    const nFile = base.nginx ? await measure("nginx 1 MiB", base.nginx + "/1m.bin", 50) : undefined;
    pair("1 MiB static file, 50 conns", oFile, nFile, "nginx (1 worker)", "≥ 1.0×");
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
