/**
 * `deno task bench [SUITE…] [--quick]`: runs every benchmark suite in `tests/bench/suites/`
 * (or the ones named), each side by side with its reference peer in this one process tree, and
 * prints a markdown table of ratios at the end.
 *
 * A full-size run (not `--quick`) also records its rows in tests/bench/results.json (a suite's
 * rows replace that suite's earlier ones) and regenerates everything that quotes them: the
 * tables between `<!-- bench:SUITE[,SUITE…] -->` and `<!-- /bench -->` in README.md and the topic
 * guides, and the chart tests/bench/ratios.svg. No number in the docs is typed by hand.
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

const USAGE = `Usage: deno task bench [SUITE…] [--quick] [--list] [--docs] [--svg FILE]

Runs the side-by-side benchmarks in tests/bench/suites/ and prints a ratio table. A full-size run
records its rows in tests/bench/results.json and regenerates the tables in README.md, the topic
guides and tests/bench/ratios.svg.
  SUITE       only these suites (file names without .ts, e.g. tcp udp)
  --quick     smaller loads (a smoke run: printed only, nothing recorded)
  --list      list the suites and exit
  --docs      only regenerate the tables and the chart from tests/bench/results.json
  --svg FILE  also write the ratio chart to FILE
  -h, --help  show this help`;

const BENCH_DIR = new URL("./", import.meta.url);
const REPO = new URL("../../", import.meta.url);
/** Every run's rows, by suite. */
const RESULTS = new URL("results.json", BENCH_DIR);
/** The documents whose `<!-- bench:… -->` blocks are regenerated. */
const DOCUMENTS = [
  "README.md",
  "tcp/README.md",
  "udp/README.md",
  "http/README.md",
  "dns/README.md",
];

/** What results.json holds: each suite's rows and when they were measured. */
export interface BenchResults {
  suites: Record<string, { measured: string; deno: string; rows: BenchRow[] }>;
}

/** Replaces the rows of the suites in `fresh`, keeping the others. */
export function mergeResults(
  previous: BenchResults,
  fresh: Record<string, BenchRow[]>,
  measured: string,
): BenchResults {
  const suites = { ...previous.suites };
  for (const [name, rows] of Object.entries(fresh)) {
    suites[name] = { measured, deno: Deno.version.deno, rows };
  }
  return { suites };
}

/** Cuts `text` to `width` characters (with `…`), or pads it to them. */
function cell(text: string, width: number): string {
  return text.length > width ? text.slice(0, width - 1) + "…" : text.padEnd(width);
}

/** Whether a row meets its target: a ratio target (`≥ 1.2×`), or an absolute one (`≤ 120 MB`). */
export function meetsTarget(row: BenchRow): boolean | undefined {
  if (row.skipped || row.ours === undefined || !row.target || row.target === "—") return undefined;
  const ratio = ratioOf(row);
  const wanted = targetRatio(row.target);
  if (wanted !== undefined) return ratio === undefined ? undefined : ratio >= wanted * 0.995;
  const m = /([≤≥])\s*([\d.,]+)/.exec(row.target);
  if (!m) return undefined;
  const limit = Number(m[2].replaceAll(",", ""));
  return m[1] === "≤" ? row.ours <= limit : row.ours >= limit;
}

/**
 * The README's summary: one line per row that has a target, under a line naming its capability,
 * as a fixed-width text table that fits 100 columns (a terminal shows it as it is).
 */
export function renderSummary(rows: BenchRow[]): string {
  const lines = [
    `${cell("capability: metric", 52)} ${cell("vs", 20)} ${cell("ratio", 9)} ${
      cell("target", 11)
    } met`,
  ];
  let capability: string | undefined;
  for (const row of rows) {
    const met = meetsTarget(row);
    if (met === undefined) continue;
    if (row.capability !== capability) {
      capability = row.capability;
      lines.push(cell(capability, 100).trimEnd());
    }
    const value = ratioOf(row) !== undefined
      ? formatRatio(row)
      : formatValue(row.ours, row.unit).replace(/\s+/g, "");
    lines.push(
      `  ${cell(row.metric, 50)} ${cell(row.referenceName, 20)} ${cell(value, 9)} ${
        cell(row.target ?? "", 11)
      } ${met ? "yes" : "NO"}`,
    );
  }
  return ["```text", ...lines, "```"].join("\n");
}

/**
 * Rewrites every `<!-- bench:a,b -->` … `<!-- /bench -->` block of `text` with the table of
 * those suites' rows (all suites for `bench:all`; `bench:summary` for README's short form), and
 * a line saying when they were measured.
 */
export function fillBenchBlocks(text: string, results: BenchResults): string {
  const open = "<!-- bench:";
  let out = "";
  let at = 0;
  while (true) {
    const start = text.indexOf(open, at);
    if (start < 0) break;
    const nameEnd = text.indexOf(" -->", start);
    const close = text.indexOf("<!-- /bench -->", nameEnd);
    if (nameEnd < 0 || close < 0) break;
    const wanted = text.slice(start + open.length, nameEnd).split(",").map((n) => n.trim());
    const summary = wanted.includes("summary");
    const names = wanted.includes("all") || summary ? Object.keys(results.suites).sort() : wanted;
    const present = names.filter((n) => results.suites[n]);
    const rows = present.flatMap((n) => results.suites[n].rows);
    const dates = [...new Set(present.map((n) => results.suites[n].measured.slice(0, 10)))];
    const body = rows.length
      ? `${
        summary ? renderSummary(rows) : renderTable(rows)
      }\n\n_Written by \`deno task bench\` on ${dates.join(", ")} (Deno ${
        results.suites[present[0]].deno
      }); ratios above 1 favour netlab._`
      : "_No results yet: run `deno task bench`._";
    out += text.slice(at, nameEnd + 4) + "\n\n" + body + "\n\n";
    at = close;
  }
  return out + text.slice(at);
}

async function readResults(): Promise<BenchResults> {
  try {
    return JSON.parse(await Deno.readTextFile(RESULTS)) as BenchResults;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { suites: {} };
    throw error;
  }
}

/** Records `fresh` and regenerates the docs' tables and the chart from all results. */
async function record(fresh: Record<string, BenchRow[]>): Promise<void> {
  const results = mergeResults(await readResults(), fresh, new Date().toISOString());
  await Deno.writeTextFile(RESULTS, JSON.stringify(results, null, 2) + "\n");
  for (const doc of DOCUMENTS) {
    const url = new URL(doc, REPO);
    let text: string;
    try {
      text = await Deno.readTextFile(url);
    } catch {
      continue;
    }
    const filled = fillBenchBlocks(text, results);
    if (filled !== text) await Deno.writeTextFile(url, filled);
  }
  const allRows = Object.keys(results.suites).sort().flatMap((n) => results.suites[n].rows);
  await Deno.writeTextFile(new URL("ratios.svg", BENCH_DIR), renderChart(allRows));
  // The tables are written plainly; deno fmt aligns them, so the tree stays fmt-clean.
  const files = [RESULTS, ...DOCUMENTS.map((doc) => new URL(doc, REPO))];
  await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--quiet", ...files.map((file) => new URL(file).pathname)],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  console.error("recorded in tests/bench/results.json; README, guides and ratios.svg regenerated");
}

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
    docs: { type: "boolean" },
    svg: { type: "string" },
  });
  if (values.docs) {
    await record({});
    return 0;
  }
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
  const bySuite: Record<string, BenchRow[]> = {};
  const ctx: BenchContext = {
    quick: values.quick ?? false,
    log: (line) => console.error(`  ${line}`),
  };
  for (const suite of chosen) {
    console.error(`# ${suite.name}: ${suite.description}`);
    const started = performance.now();
    try {
      const suiteRows = await suite.run(ctx);
      rows.push(...suiteRows);
      bySuite[suite.name] = suiteRows;
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
  if (!values.quick) await record(bySuite);
  if (values.svg) {
    await Deno.writeTextFile(values.svg, renderChart(rows));
    console.error(`wrote the ratio chart to ${values.svg} (${chartRows(rows).length} bars)`);
  }
  return 0;
}

if (import.meta.main) await runMain(USAGE, main);
