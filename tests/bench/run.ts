/**
 * `deno task bench [SUITE…] [--quick]`: runs every benchmark suite in `tests/bench/suites/`
 * (or the ones named), each side by side with its reference peer in this one process tree, and
 * prints a markdown table of ratios at the end — the table README's performance section quotes.
 *
 * A suite is a module exporting `suite: BenchSuite`. Suites whose reference tool is missing
 * report a row with `skipped` instead of failing the run. Load loops are bounded in count and
 * time; traffic stays on loopback.
 */
import { parseCli, runMain } from "../../tcp/kit/cli.ts";
import type { BenchContext, BenchRow, BenchSuite } from "./_bench.ts";
import { formatRatio, formatValue } from "./_bench.ts";
import { barChartSvg, type BarRow } from "../../tcp/kit/svg.ts";

/** The ratio `formatRatio` prints, as a number (undefined without a reference). */
export function ratioOf(row: BenchRow): number | undefined {
  if (row.ours === undefined || row.reference === undefined || row.reference === 0) {
    return undefined;
  }
  return row.lowerIsBetter ? row.reference / row.ours : row.ours / row.reference;
}

/** The ratio a target like `≥ 1.5×` asks for; undefined for absolute targets (`≤ 120 MB`). */
export function targetRatio(target: string | undefined): number | undefined {
  const m = /([\d.]+)\s*×/.exec(target ?? "");
  return m ? Number(m[1]) : undefined;
}

/** The bar chart rows: one per benchmark row that has a ratio. */
export function chartRows(rows: BenchRow[]): BarRow[] {
  const bars: BarRow[] = [];
  for (const row of rows) {
    const value = ratioOf(row);
    if (value === undefined || row.skipped) continue;
    const target = targetRatio(row.target);
    bars.push({
      label: `${row.capability}: ${row.metric} vs ${row.referenceName}`,
      value,
      ...(target === undefined ? {} : { target }),
    });
  }
  return bars;
}

/** The SVG `--svg` writes: netlab ÷ reference for every row with a ratio. */
export function renderChart(rows: BenchRow[]): string {
  return barChartSvg(chartRows(rows), {
    title: "netlab vs reference (ratio, higher is better; tick = target)",
  });
}

const USAGE = `Usage: deno task bench [SUITE…] [--quick] [--list] [--svg FILE]

Runs the side-by-side benchmarks in tests/bench/suites/ and prints a ratio table.
  SUITE     only these suites (file names without .ts, e.g. tcp udp)
  --quick   smaller loads (a smoke run, numbers not for README)
  --list    list the suites and exit
  --svg FILE  also write the ratio column as an SVG bar chart (one bar per row with a ratio)`;

async function loadSuites(): Promise<BenchSuite[]> {
  const dir = new URL("./suites/", import.meta.url);
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".ts") && !entry.name.startsWith("_")) {
      names.push(entry.name);
    }
  }
  names.sort();
  const suites: BenchSuite[] = [];
  for (const name of names) {
    const mod = await import(new URL(name, dir).href) as { suite?: BenchSuite };
    if (mod.suite) suites.push(mod.suite);
  }
  return suites;
}

/** Renders rows as the markdown table README embeds. */
export function renderTable(rows: BenchRow[]): string {
  const head = "| capability | metric | netlab | reference | ratio | target |\n" +
    "|---|---|---|---|---|---|";
  const body = rows.map((r) => {
    if (r.skipped) {
      return `| ${r.capability} | ${r.metric} | — | ${r.referenceName}: skipped (${r.skipped}) | — | ${
        r.target ?? "—"
      } |`;
    }
    const ours = formatValue(r.ours, r.unit);
    const ref = r.reference === undefined
      ? r.referenceName
      : `${r.referenceName} ${formatValue(r.reference, r.unit)}`;
    return `| ${r.capability} | ${r.metric} | ${ours} | ${ref} | ${formatRatio(r)} | ${
      r.target ?? "—"
    } |`;
  });
  return [head, ...body].join("\n");
}

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args, {
    quick: { type: "boolean" },
    list: { type: "boolean" },
    svg: { type: "string" },
  });
  const suites = await loadSuites();
  if (values.list) {
    for (const s of suites) console.log(`${s.name}\t${s.description}`);
    return 0;
  }
  const chosen = positionals.length ? suites.filter((s) => positionals.includes(s.name)) : suites;
  if (positionals.length && chosen.length !== positionals.length) {
    const known = suites.map((s) => s.name).join(", ");
    console.error(`Unknown suite in "${positionals.join(" ")}": known suites are ${known}`);
    return 1;
  }
  const rows: BenchRow[] = [];
  const ctx: BenchContext = {
    quick: values.quick ?? false,
    log: (line) => console.error(`  ${line}`),
  };
  for (const suite of chosen) {
    console.error(`# ${suite.name}: ${suite.description}`);
    const started = performance.now();
    try {
      rows.push(...await suite.run(ctx));
    } catch (error) {
      console.error(`  suite ${suite.name} failed: ${(error as Error).stack ?? error}`);
      rows.push({
        capability: suite.name,
        metric: "suite",
        referenceName: "—",
        unit: "",
        skipped: `failed: ${(error as Error).message}`,
      });
    }
    console.error(`  (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
  console.log(renderTable(rows));
  if (values.svg) {
    await Deno.writeTextFile(values.svg, renderChart(rows));
    console.error(`wrote the ratio chart to ${values.svg} (${chartRows(rows).length} bars)`);
  }
  return 0;
}

if (import.meta.main) await runMain(USAGE, main);
