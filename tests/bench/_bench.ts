/**
 * Types and measuring helpers shared by the benchmark suites in `tests/bench/suites/`.
 */

/** One line of the ratio table. */
export interface BenchRow {
  /** e.g. `TCP echo (tcp/server.ts --echo)`. */
  capability: string;
  /** e.g. `throughput`, `p99 latency`, `peak RSS`. */
  metric: string;
  /** netlab's value (omit when skipped). */
  ours?: number;
  /** The reference peer's value in the same run (omit for absolute targets like peak RSS). */
  reference?: number;
  /** e.g. `Node net`, `iperf3`, `nginx (1 worker)`, or `limit` for an absolute target. */
  referenceName: string;
  /** e.g. `MiB/s`, `req/s`, `ms`, `MB`. */
  unit: string;
  /** Lower is better (latency, memory): the ratio is then reference / ours. */
  lowerIsBetter?: boolean;
  /** The target, as text (`≥ 1.5×`, `≤ 120 MB`). */
  target?: string;
  /** Set instead of values when the reference tool is missing or the suite failed. */
  skipped?: string;
}

/** What the runner hands each suite. */
export interface BenchContext {
  /** Smaller loads for a smoke run. */
  quick: boolean;
  /** Progress on stderr. */
  log(line: string): void;
}

/** A benchmark suite: a module in `tests/bench/suites/` exports one as `suite`. */
export interface BenchSuite {
  name: string;
  description: string;
  run(ctx: BenchContext): Promise<BenchRow[]>;
}

/** `1.52×` (how much better netlab is than the reference), or `—` without a reference. */
export function formatRatio(row: BenchRow): string {
  if (row.ours === undefined || row.reference === undefined || row.reference === 0) return "—";
  const ratio = row.lowerIsBetter ? row.reference / row.ours : row.ours / row.reference;
  return `${ratio.toFixed(2)}×`;
}

/** A value with its unit, with sensible precision. */
export function formatValue(value: number | undefined, unit: string): string {
  if (value === undefined) return "—";
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return `${value.toLocaleString("en-US", { maximumFractionDigits: digits })} ${unit}`.trim();
}

/** Peak resident set size (VmHWM) of a live process, in MB, from /proc (Linux). */
export function peakRssMB(pid: number): number | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = /VmHWM:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Median of a list of numbers. */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const MiB = 1024 * 1024;

/** A free loopback TCP port (bound and released; reference peers need a number up front). */
export function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return listener.addr.port;
}

/**
 * Reads a child's stream until `pattern` appears (its "I am listening" line), then keeps
 * draining it in the background so the child never blocks or dies writing more output.
 */
export async function waitForText(
  stream: ReadableStream<Uint8Array>,
  pattern: RegExp,
): Promise<void> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!pattern.test(seen)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`exited before printing ${pattern}: ${seen}`);
    seen += value;
  }
  (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
}

/**
 * One `iperf3` single-stream run of `bytes` on loopback (the one-way reference for TCP and file
 * transfer); returns the receiver's MiB/s. `--forceflush` because iperf3 buffers its
 * "listening" line when stdout is a pipe.
 */
export async function iperf3Throughput(bytes: number): Promise<number> {
  const port = freePort();
  const server = new Deno.Command("iperf3", {
    args: ["-s", "-1", "--forceflush", "-p", String(port), "-B", "127.0.0.1"],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    await waitForText(server.stdout, /listening/);
    const client = await new Deno.Command("iperf3", {
      args: ["-c", "127.0.0.1", "-p", String(port), "-n", String(bytes), "-J"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const report = JSON.parse(new TextDecoder().decode(client.stdout)) as {
      end?: { sum_received?: { bits_per_second?: number } };
      error?: string;
    };
    const bps = report.end?.sum_received?.bits_per_second;
    if (!bps) throw new Error(`iperf3 failed: ${report.error ?? "no result"}`);
    return bps / 8 / MiB;
  } finally {
    try {
      server.kill("SIGKILL");
    } catch { /* already exited after its one test */ }
    await server.status;
  }
}
