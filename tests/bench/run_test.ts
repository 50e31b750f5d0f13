/**
 * The benchmark runner's bookkeeping (tests/bench/run.ts): a suite's new rows replace its old
 * ones, and the docs' `<!-- bench:… -->` blocks are regenerated from the recorded results —
 * no number in the docs is typed by hand.
 */
import assert from "node:assert/strict";
import { fillBenchBlocks, meetsTarget, mergeResults, renderSummary } from "./run.ts";
import type { BenchRow } from "./_bench.ts";

const row = (capability: string, ours: number): BenchRow => ({
  capability,
  metric: "req/s",
  ours,
  reference: 100,
  referenceName: "peer",
  unit: "req/s",
});

Deno.test("mergeResults replaces a suite's rows and keeps the other suites", () => {
  const first = mergeResults(
    { suites: {} },
    { http: [row("a", 1)], dns: [row("b", 2)] },
    "2026-01-01",
  );
  const second = mergeResults(first, { http: [row("c", 3)] }, "2026-02-02");
  assert.deepEqual(second.suites.http.rows.map((r) => r.capability), ["c"]);
  assert.deepEqual(second.suites.dns.rows.map((r) => r.capability), ["b"]);
  assert.equal(second.suites.dns.measured, "2026-01-01");
});

Deno.test("fillBenchBlocks rewrites each block with its suites' table and leaves the rest", () => {
  const results = mergeResults(
    { suites: {} },
    { http: [row("web", 150)], dns: [row("names", 50)] },
    "2026-03-04T00:00:00Z",
  );
  const doc = [
    "# Guide",
    "<!-- bench:http -->",
    "old table",
    "<!-- /bench -->",
    "between",
    "<!-- bench:all -->",
    "<!-- /bench -->",
    "end",
  ].join("\n");
  const filled = fillBenchBlocks(doc, results);
  const [httpBlock, allBlock] = filled.split("between");
  assert.match(httpBlock, /\| web \| req\/s \| 150 req\/s \| peer 100 req\/s \| 1\.50× \|/);
  assert.doesNotMatch(httpBlock, /old table|names/);
  assert.match(allBlock, /names[\s\S]*0\.50×/);
  assert.match(allBlock, /web/);
  assert.match(filled, /2026-03-04/);
  assert.ok(
    filled.startsWith("# Guide\n<!-- bench:http -->\n") && filled.endsWith("<!-- /bench -->\nend"),
  );
  assert.equal(fillBenchBlocks(filled, results), filled, "filling twice changes nothing");
});

Deno.test("meetsTarget reads ratio and absolute targets; renderSummary fits 100 columns", () => {
  const fast = { ...row("HTTP 5-byte body, 50 conns, a long capability name that goes on", 150) };
  assert.equal(meetsTarget({ ...fast, target: "≥ 1.2×" }), true);
  assert.equal(meetsTarget({ ...fast, target: "≥ 2×" }), false);
  const rss = { capability: "idle", metric: "RSS", ours: 130, referenceName: "limit", unit: "MB" };
  assert.equal(meetsTarget({ ...rss, target: "≤ 120 MB" }), false);
  assert.equal(meetsTarget({ ...rss, target: "≤ 1,000 MB" }), true);
  assert.equal(meetsTarget({ ...fast, target: "—" }), undefined);
  const text = renderSummary([
    { ...fast, target: "≥ 1.2×" },
    { ...rss, target: "≤ 120 MB" },
    { ...fast, target: undefined },
  ]);
  const lines = text.split("\n");
  // fence, header, then each row under its capability's line, fence
  assert.equal(lines.length, 7, text);
  assert.ok(lines.every((l) => l.length <= 100), text);
  assert.equal(lines[2], fast.capability);
  assert.match(lines[3], /^ {2}req\/s +peer +1\.50× +≥ 1\.2× +yes$/);
  assert.equal(lines[4], "idle");
  assert.match(lines[5], /^ {2}RSS +limit +130MB +≤ 120 MB +NO$/);
});
