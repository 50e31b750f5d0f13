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
