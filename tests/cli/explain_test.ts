/**
 * The pure parts of the TCP/UDP instruments: golden outputs of the annotated views
 * (hexdump of a fixed read, the 粘包 view of fixed writes and reads, an explainBytes layout),
 * the stats math (percentile definition pinned with vectors, loss/duplicate/reorder
 * classification) and the SVG pictures (checked by a small strict XML well-formedness checker,
 * one mark per read and write, one bar per benchmark row).
 */
import assert from "node:assert/strict";
import {
  chunkView,
  describeBytes,
  explainBytes,
  mapReadsToWrites,
  stickyView,
} from "../../tcp/kit/explain.ts";
import {
  formatSequenceSummary,
  formatSummary,
  median,
  percentile,
  SequenceTracker,
  summarize,
} from "../../tcp/kit/stats.ts";
import { barChartSvg, escapeXml, timelineSvg } from "../../tcp/kit/svg.ts";
import { timelinePanel } from "../../tcp/sticky.ts";
import { chartRows, renderChart, targetRatio } from "../bench/run.ts";
import type { BenchRow } from "../bench/_bench.ts";
import { runScript } from "../_helpers.ts";

const encoder = new TextEncoder();

// --- golden views ----------------------------------------------------------------------------

Deno.test("golden: chunkView of a fixed TCP read (hexdump + text)", () => {
  const view = chunkView("read #1: 14 bytes from 127.0.0.1:5000", encoder.encode("hello 你好\n\0"));
  assert.equal(
    view,
    [
      "read #1: 14 bytes from 127.0.0.1:5000",
      "  0000  68 65 6c 6c 6f 20 e4 bd a0 e5 a5 bd 0a 00        |hello ........|",
      '  text  "hello 你好\\x0a\\x00"',
    ].join("\n"),
  );
});

Deno.test("golden: the 粘包 view of fixed writes and reads (glued and split)", () => {
  const writes = ["hello", "world", "你好", "q"].map((m) => encoder.encode(m));
  assert.equal(
    stickyView(writes, [7, 10]),
    [
      "粘包 view: 4 writes (17 bytes) → 2 reads (17 bytes)",
      '  read #1       7 bytes = w1 "hello" + w2 bytes 0..1 (2 of 5) "wo"',
      '  read #2      10 bytes = w2 bytes 2..4 (3 of 5) "rld" + w3 "你好" + w4 "q"',
      "  → 2 reads carried more than one write (粘包: glued); 1 write came out in more than one " +
      "read (split)",
    ].join("\n"),
  );
});

Deno.test("golden: the 粘包 view from sizes only, with bytes beyond the writes", () => {
  assert.equal(
    stickyView([10, 20], [5, 5, 20, 3], { title: "sizes" }),
    [
      "sizes: 2 writes (30 bytes) → 4 reads (33 bytes)",
      "  read #1       5 bytes = w1 bytes 0..4 (5 of 10)",
      "  read #2       5 bytes = w1 bytes 5..9 (5 of 10)",
      "  read #3      20 bytes = w2 (20 bytes)",
      "  read #4       3 bytes = 3 bytes beyond the writes",
      "  → 0 reads carried more than one write (粘包: glued); 1 write came out in more than one " +
      "read (split)",
    ].join("\n"),
  );
});

Deno.test("golden: explainBytes lays out a length-prefixed frame and flags the stray byte", () => {
  const frame = Uint8Array.of(0, 0, 0, 5, ...encoder.encode("hello"), 0xff);
  const view = explainBytes(frame, [
    { offset: 0, length: 4, name: "length", value: "5 (big-endian uint32)" },
    { offset: 4, length: 5, name: "payload", value: '"hello"' },
  ], { title: "length-prefixed frame, 10 bytes" });
  assert.equal(
    view,
    [
      "length-prefixed frame, 10 bytes",
      "  0000  00 00 00 05              length               5 (big-endian uint32)",
      '  0004  68 65 6c 6c 6f           payload              "hello"',
      "  0009  ff                       (unexplained)",
    ].join("\n"),
  );
});

Deno.test("mapReadsToWrites: every split point of three writes covers each byte exactly once", () => {
  const writes = [3, 1, 4];
  for (let cut = 0; cut <= 8; cut++) {
    const reads = [cut, 8 - cut].filter((n) => n > 0);
    const mapping = mapReadsToWrites(writes, reads);
    const covered = writes.map(() => 0);
    for (const m of mapping) {
      assert.equal(m.pieces.reduce((n, p) => n + p.to - p.from, 0), m.length);
      for (const p of m.pieces) covered[p.write] += p.to - p.from;
    }
    assert.deepEqual(covered, writes, `cut at ${cut}`);
  }
  assert.deepEqual(mapReadsToWrites([2, 0, 2], [4])[0].pieces, [
    { write: 0, from: 0, to: 2 },
    { write: 2, from: 0, to: 2 },
  ]);
});

Deno.test("describeBytes keeps UTF-8, escapes quotes and control bytes, shortens with …", () => {
  assert.equal(describeBytes(encoder.encode('a"b\\')), '"a\\"b\\\\"');
  assert.equal(describeBytes(Uint8Array.of(0xe4, 0xbd)), '"\\xe4\\xbd"');
  assert.equal(describeBytes(encoder.encode("abcdef"), { maxBytes: 3 }), '"abc"…');
});

// --- stats -----------------------------------------------------------------------------------

Deno.test("stats: nearest-rank percentile vectors", () => {
  const ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  assert.equal(percentile(ten, 50), 5);
  assert.equal(percentile(ten, 90), 9);
  assert.equal(percentile(ten, 91), 10);
  assert.equal(percentile(ten, 99), 10);
  assert.equal(percentile(ten, 0), 1);
  assert.equal(percentile(ten, 100), 10);
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(hundred, 99), 99);
  const thousand = Array.from({ length: 1000 }, (_, i) => i + 1);
  assert.equal(percentile(thousand, 99), 990);
  assert.equal(percentile([15, 20, 35, 40, 50], 30), 20); // the textbook example
  assert.equal(percentile([15, 20, 35, 40, 50], 40), 20);
  assert.equal(percentile([15, 20, 35, 40, 50], 100), 50);
  assert.throws(() => percentile([], 50), RangeError);
  assert.throws(() => percentile([1], 101), RangeError);
});

Deno.test("stats: median and summarize", () => {
  assert.equal(median([1, 2, 3, 4]), 2.5);
  assert.equal(median([7]), 7);
  assert.equal(summarize([]), null);
  assert.deepEqual(summarize([4, 1, 3, 2]), {
    count: 4,
    min: 1,
    median: 2.5,
    p99: 4,
    max: 4,
    mean: 2.5,
  });
  assert.equal(
    formatSummary(summarize([0.5, 0.25, 1])),
    "rtt min/median/p99/max = 0.250/0.500/1.000/1.000 ms (3 samples)",
  );
  assert.equal(formatSummary(null), "rtt: no samples");
});

Deno.test("stats: SequenceTracker counts loss, duplicates and reordering like ping", () => {
  const t = new SequenceTracker();
  for (let seq = 1; seq <= 5; seq++) t.sent(seq, seq * 10);
  assert.deepEqual(t.reply(1, 11), { kind: "ok", rttMs: 1 });
  assert.deepEqual(t.reply(3, 32), { kind: "ok", rttMs: 2 });
  assert.deepEqual(t.reply(3, 33), { kind: "duplicate", rttMs: 3 });
  assert.deepEqual(t.reply(5, 54), { kind: "ok", rttMs: 4 });
  assert.deepEqual(t.reply(4, 60), { kind: "reordered", rttMs: 20 });
  assert.deepEqual(t.reply(99, 61), { kind: "unknown" });
  assert.equal(t.complete, false); // 2 was lost
  const s = t.summary();
  assert.deepEqual(
    { ...s, rtt: undefined },
    {
      sent: 5,
      received: 4,
      lost: 1,
      lossPercent: 20,
      duplicates: 1,
      reordered: 1,
      unknown: 1,
      rtt: undefined,
    },
  );
  assert.deepEqual(s.rtt, { count: 4, min: 1, median: 3, p99: 20, max: 20, mean: 6.75 });
  assert.equal(
    formatSequenceSummary(s),
    "5 sent, 4 received, 20.0% loss, 1 duplicate, 1 reordered",
  );
  assert.throws(() => t.sent(1, 0), RangeError);
});

// --- SVG -------------------------------------------------------------------------------------

/** What the strict checker found: element names in document order, with their attributes. */
interface XmlElement {
  name: string;
  attributes: Record<string, string>;
}

/**
 * A small strict XML well-formedness checker (enough for the SVG we write): one root element,
 * balanced and properly nested tags, every attribute quoted and not repeated, no raw `<` or bare
 * `&` in text or attribute values (only the five predefined entities and numeric references).
 */
function parseXml(xml: string): XmlElement[] {
  const elements: XmlElement[] = [];
  const stack: string[] = [];
  let roots = 0;
  const checkText = (text: string, where: number) => {
    if (text.includes("<")) throw new Error(`raw < at ${where}`);
    const amp = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.exec(text);
    if (amp) throw new Error(`bare & at ${where + amp.index}`);
  };
  let at = 0;
  while (at < xml.length) {
    const open = xml.indexOf("<", at);
    const text = xml.slice(at, open < 0 ? xml.length : open);
    checkText(text, at);
    if (stack.length === 0 && text.trim()) throw new Error(`text outside the root at ${at}`);
    if (open < 0) break;
    const close = xml.indexOf(">", open);
    if (close < 0) throw new Error(`unterminated tag at ${open}`);
    const tag = xml.slice(open + 1, close);
    at = close + 1;
    if (tag.startsWith("/")) {
      const name = tag.slice(1).trim();
      const expected = stack.pop();
      if (name !== expected) throw new Error(`</${name}> closes <${expected}> at ${open}`);
      continue;
    }
    const selfClosing = tag.endsWith("/");
    const body = selfClosing ? tag.slice(0, -1) : tag;
    const m = /^([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_:][\w:.-]*\s*=\s*"[^"]*")*)\s*$/.exec(body);
    if (!m) throw new Error(`malformed tag <${tag}> at ${open}`);
    const attributes: Record<string, string> = {};
    for (const a of m[2].matchAll(/([A-Za-z_:][\w:.-]*)\s*=\s*"([^"]*)"/g)) {
      if (a[1] in attributes) throw new Error(`attribute ${a[1]} repeated in <${m[1]}>`);
      checkText(a[2], open);
      attributes[a[1]] = a[2];
    }
    if (stack.length === 0) roots++;
    if (roots > 1) throw new Error(`second root element <${m[1]}> at ${open}`);
    elements.push({ name: m[1], attributes });
    if (!selfClosing) stack.push(m[1]);
  }
  if (stack.length) throw new Error(`unclosed <${stack.join("><")}>`);
  if (roots !== 1) throw new Error("no root element");
  return elements;
}

const withClass = (elements: XmlElement[], cls: string) =>
  elements.filter((e) => e.attributes.class === cls);

Deno.test("the XML checker rejects what a browser rejects", () => {
  assert.equal(parseXml(`<a x="1"><b/>t &amp; u</a>`).length, 2);
  for (
    const bad of [
      `<a><b></a></b>`,
      `<a x=1></a>`,
      `<a x="1" x="2"></a>`,
      `<a>1 < 2</a>`,
      `<a>R&D</a>`,
      `<a></a><b></b>`,
      `<a>`,
      `<a t="x<y"></a>`,
    ]
  ) {
    assert.throws(() => parseXml(bad), Error, bad);
  }
});

Deno.test("escapeXml escapes the five XML characters", () => {
  assert.equal(escapeXml(`<a href="x">&'`), "&lt;a href=&quot;x&quot;&gt;&amp;&apos;");
});

Deno.test("timelineSvg is well-formed and has one mark per write and per read", () => {
  const writes = ["hello", "<&>", '"你好"', "q"].map((m) => encoder.encode(m));
  const svg = timelineSvg([
    timelinePanel("glued <1>", writes, [writes.reduce((n, w) => n + w.length, 0)]),
    timelinePanel("split & sized", [1000], [300, 300, 400]),
  ]);
  const elements = parseXml(svg);
  assert.equal(elements[0].name, "svg");
  assert.equal(withClass(elements, "write").length, 4 + 1);
  assert.equal(withClass(elements, "read").length, 1 + 3);
  assert.match(svg, /glued &lt;1&gt;/);
});

Deno.test("barChartSvg: one bar per row, a target tick per row with a target", () => {
  const rows = [
    { label: "TCP echo <bulk>", value: 1.7, target: 1.5 },
    { label: "UDP & co", value: 0.9, target: 1.2 },
    { label: "HTTP", value: 2.4 },
  ];
  const elements = parseXml(barChartSvg(rows, { title: 'ratios "now"' }));
  assert.equal(withClass(elements, "bar").length, 3);
  assert.equal(withClass(elements, "target").length, 2);
  const widths = withClass(elements, "bar").map((e) => Number(e.attributes.width));
  assert.ok(widths[2] > widths[0] && widths[0] > widths[1], widths.join(" "));
  parseXml(barChartSvg([], { title: "empty" }));
});

Deno.test("bench --svg: one bar per benchmark row with a ratio", () => {
  const rows: BenchRow[] = [
    {
      capability: "a",
      metric: "throughput",
      ours: 3,
      reference: 2,
      referenceName: "x",
      unit: "MiB/s",
      target: "≥ 1.5×",
    },
    {
      capability: "b",
      metric: "p99",
      ours: 2,
      reference: 4,
      referenceName: "y",
      unit: "ms",
      lowerIsBetter: true,
    },
    {
      capability: "c",
      metric: "peak RSS",
      ours: 100,
      referenceName: "limit",
      unit: "MB",
      target: "≤ 120 MB",
    },
    { capability: "d", metric: "x", referenceName: "z", unit: "", skipped: "missing" },
  ];
  assert.deepEqual(chartRows(rows), [
    { label: "a: throughput vs x", value: 1.5, target: 1.5 },
    { label: "b: p99 vs y", value: 2 },
  ]);
  assert.equal(targetRatio("≥ 0.8×"), 0.8);
  assert.equal(targetRatio("≤ 120 MB"), undefined);
  assert.equal(withClass(parseXml(renderChart(rows)), "bar").length, 2);
});

Deno.test("tcp/sticky.ts --svg writes a well-formed timeline, one mark per write and read", async () => {
  const file = await Deno.makeTempFile({ suffix: ".svg" });
  try {
    const result = await runScript("tcp/sticky.ts", [
      "--big-write",
      "200000",
      "--gap-ms",
      "1",
      "--svg",
      file,
      "--json",
    ]);
    assert.equal(result.code, 0, result.stderr);
    const reads = result.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const saved = reads.find((e) => e.event === "saved");
    assert.equal(saved?.file, file);
    // The run's own numbers: writes and reads per panel, from its JSON events.
    const glue = reads.filter((e) => e.part === "glue" && Array.isArray(e.sizes));
    const split = reads.find((e) => e.part === "split" && Array.isArray(e.reads));
    const sleep = reads.find((e) => e.fix === "sleep" && "fastReads" in e);
    const writes = glue[0].sizes.length + 1 + 5 + 5;
    const readCount = glue[1].sizes.length + split.reads.length + sleep.fastReads + sleep.slowReads;
    const elements = parseXml(await Deno.readTextFile(file));
    assert.equal(withClass(elements, "write").length, writes);
    assert.equal(withClass(elements, "read").length, readCount);
  } finally {
    await Deno.remove(file);
  }
});
