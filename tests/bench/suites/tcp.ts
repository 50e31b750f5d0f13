/**
 * `deno task bench tcp [--quick]`: the TCP echo server against its references, same machine,
 * same run.
 *
 * 1. Bulk echo: one Deno client writes 64 KiB chunks (1 GiB; `--quick`: 64 MiB) while reading the
 *    echo back, through `tcp/server.ts --echo`, `tcp/server.ts` (upper-case) and a minimal Node
 *    `net` echo server (`s.pipe(s)`). Best of three rounds each, interleaved.
 * 2. One-way bulk: a Deno sender → a Deno receiver process vs `iperf3 -c … -n` (single stream).
 * 3. 10,000 connections held at once by one `tcp/server.ts`, then each echoes one message: all
 *    must be answered; the server's peak RSS (VmHWM) is the metric.
 */
import type { BenchContext, BenchRow, BenchSuite } from "../_bench.ts";
import { iperf3Throughput, peakRssMB } from "../_bench.ts";
import { hasCommand, type RunningScript, startCommand, startScript } from "../../_helpers.ts";
import { writeAll } from "../../../tcp/core/io.ts";

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;
const ROUNDS = 3;
const PEERS = "tests/bench/suites/_tcp_peers.ts";
const CONNECTIONS = 10_000;

const NODE_ECHO = `const net = require("net");
const server = net.createServer((s) => { s.on("error", () => {}); s.pipe(s); });
server.listen(0, "127.0.0.1", () => console.log("listening on 127.0.0.1:" + server.address().port));
process.on("SIGINT", () => process.exit(0));`;

/** Sends `total` bytes in 64 KiB writes while reading the echo back; returns MiB/s. */
export async function bulkEcho(port: number, total: number, expectByte: number): Promise<number> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const chunk = new Uint8Array(CHUNK).fill(0x61); // "a": the upper-case server has work to do
  const buffer = new Uint8Array(256 * 1024);
  const started = performance.now();
  const writing = (async () => {
    for (let sent = 0; sent < total; sent += CHUNK) await writeAll(conn, chunk);
  })();
  let received = 0;
  while (received < total) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error(`server closed after ${received} of ${total} bytes`);
    if (buffer[0] !== expectByte) throw new Error(`unexpected reply byte ${buffer[0]}`);
    received += n;
  }
  await writing;
  return total / MiB / ((performance.now() - started) / 1000);
}

/** Sends `total` bytes one way to the sink and waits for its one-byte receipt; returns MiB/s. */
async function oneWay(port: number, total: number): Promise<number> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const chunk = new Uint8Array(128 * 1024); // iperf3's default write size
  const started = performance.now();
  for (let sent = 0; sent < total; sent += chunk.length) await writeAll(conn, chunk);
  await conn.closeWrite();
  const ack = await conn.read(new Uint8Array(1));
  if (ack !== 1) throw new Error("the sink did not confirm");
  return total / MiB / ((performance.now() - started) / 1000);
}

/** Runs with a raised open-file limit (10,000 sockets need more than the usual 1,024). */
function withFileLimit(command: string, args: string[]): [string, string[]] {
  const raise = `ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`;
  return ["bash", ["-c", raise, command, ...args]];
}

function denoRun(script: string, args: string[]): [string, string[]] {
  return [Deno.execPath(), ["run", "-A", "--quiet", script, ...args]];
}

async function echoThroughput(ctx: BenchContext, total: number): Promise<BenchRow[]> {
  const echo = await startScript("tcp/server.ts", ["--port", "0", "--echo", "--quiet"]);
  const upper = await startScript("tcp/server.ts", ["--port", "0", "--quiet"]);
  const node = hasCommand("node") ? await startCommand("node", ["-e", NODE_ECHO]) : undefined;
  const best = { echo: 0, upper: 0, node: 0 };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      best.echo = Math.max(best.echo, await bulkEcho(echo.port, total, 0x61));
      best.upper = Math.max(best.upper, await bulkEcho(upper.port, total, 0x41));
      if (node) best.node = Math.max(best.node, await bulkEcho(node.port, total, 0x61));
      ctx.log(
        `round ${round + 1}: echo ${best.echo.toFixed(0)}, upper ${best.upper.toFixed(0)}, ` +
          `node ${best.node.toFixed(0)} MiB/s (best so far)`,
      );
    }
  } finally {
    await Promise.all([echo.stop(), upper.stop(), node?.stop()]);
  }
  const size = `${total / MiB} MiB in 64 KiB writes`;
  const row = (capability: string, ours: number, target: string): BenchRow =>
    node
      ? {
        capability,
        metric: `echo throughput (${size})`,
        ours,
        reference: best.node,
        referenceName: "Node net s.pipe(s)",
        unit: "MiB/s",
        target,
      }
      : {
        capability,
        metric: "echo throughput",
        referenceName: "Node net",
        unit: "MiB/s",
        skipped: "node not installed",
      };
  return [
    row("TCP echo (tcp/server.ts --echo)", best.echo, "≥ 1.5×"),
    row("TCP upper-case echo (tcp/server.ts)", best.upper, "report"),
  ];
}

async function oneWayThroughput(ctx: BenchContext, total: number): Promise<BenchRow[]> {
  const capability = "TCP one-way bulk (Deno → Deno)";
  const metric = `throughput (${total / MiB} MiB, 1 stream)`;
  if (!hasCommand("iperf3")) {
    return [{
      capability,
      metric,
      referenceName: "iperf3",
      unit: "MiB/s",
      skipped: "iperf3 not installed",
    }];
  }
  let ours = 0;
  let reference = 0;
  for (let round = 0; round < ROUNDS; round++) {
    await using sink = await startScript(PEERS, ["sink"]);
    ours = Math.max(ours, await oneWay(sink.port, total));
    reference = Math.max(reference, await iperf3Throughput(total));
    ctx.log(
      `round ${round + 1}: deno ${ours.toFixed(0)}, iperf3 ${reference.toFixed(0)} MiB/s (best)`,
    );
  }
  return [{
    capability,
    metric,
    ours,
    reference,
    referenceName: "iperf3",
    unit: "MiB/s",
    target: "≥ 0.8×",
  }];
}

/**
 * V8 grows its young generation up to 3 × 16 MiB while 10,000 connections' objects are being
 * created; capping the semi-space keeps the peak down at no cost to bulk throughput.
 */
export const SERVER_V8_FLAGS = "--v8-flags=--max-semi-space-size=2";

async function manyConnections(ctx: BenchContext, v8Flags?: string): Promise<BenchRow[]> {
  const capability = `${CONNECTIONS.toLocaleString("en-US")} connections (tcp/server.ts${
    v8Flags ? ` ${v8Flags}` : ""
  })`;
  let server: RunningScript | undefined;
  try {
    const serverArgs = ["run", "-A", "--quiet", ...(v8Flags ? [v8Flags] : []), "tcp/server.ts"];
    server = await startCommand(
      ...withFileLimit(Deno.execPath(), [
        ...serverArgs,
        ...["--port", "0", "--quiet", "--backlog", "4096"],
      ]),
    );
    const [command, args] = withFileLimit(
      ...denoRun(PEERS, ["many", String(server.port), String(CONNECTIONS)]),
    );
    const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
      .output();
    const text = new TextDecoder().decode(out.stdout).trim();
    if (!out.success) {
      throw new Error(`client failed: ${new TextDecoder().decode(out.stderr).trim()}`);
    }
    const result = JSON.parse(text) as {
      opened: number;
      answered: number;
      wrong: number;
      connectMs: number;
      echoMs: number;
    };
    const rss = peakRssMB(server.child.pid);
    ctx.log(
      `opened ${result.opened} in ${result.connectMs.toFixed(0)} ms, answered ${result.answered} ` +
        `(${result.wrong} wrong) in ${result.echoMs.toFixed(0)} ms, server peak RSS ${
          rss?.toFixed(1)
        } MB`,
    );
    return [
      {
        capability,
        metric: "answered",
        ours: result.answered,
        referenceName: `of ${CONNECTIONS}`,
        unit: "",
        target: `${CONNECTIONS}`,
      },
      {
        capability,
        metric: "server peak RSS",
        ours: rss,
        referenceName: "limit",
        unit: "MB",
        lowerIsBetter: true,
        target: "≤ 120 MB",
      },
    ];
  } finally {
    await server?.stop();
  }
}

export const suite: BenchSuite = {
  name: "tcp",
  description: "TCP echo throughput vs Node net, one-way vs iperf3, 10,000 connections RSS",
  async run(ctx) {
    const total = ctx.quick ? 64 * MiB : 1024 * MiB;
    return [
      ...await echoThroughput(ctx, total),
      ...await oneWayThroughput(ctx, total),
      ...await manyConnections(ctx),
      ...await manyConnections(ctx, SERVER_V8_FLAGS),
    ];
  },
};
