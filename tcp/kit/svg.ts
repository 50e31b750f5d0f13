/**
 * Pictures as plain SVG text: the writes-vs-reads timeline of `tcp/sticky.ts --svg` and the bar
 * chart of `deno task bench --svg`. No library — a few rectangles, lines and labels, with every
 * piece of text escaped, so the output is well-formed XML that any browser or README renders.
 *
 * Every mark carries a class (`write`, `read`, `bar`) so tests (and CSS) can find them.
 *
 * Pure: no I/O.
 */

/** Escapes text for XML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&${XML_ENTITIES[c]};`);
}

const XML_ENTITIES: Record<string, string> = {
  "&": "amp",
  "<": "lt",
  ">": "gt",
  '"': "quot",
  "'": "apos",
};

/** `1 write`, `3 reads`. */
function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** A number for an SVG attribute: at most two decimals, no trailing zeros. */
function num(n: number): string {
  return String(Math.round(n * 100) / 100);
}

const FONT = `font-family="sans-serif" font-size="12"`;
const TITLE_FONT = `font-family="sans-serif" font-size="15" font-weight="bold"`;

function svgDocument(width: number, height: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${num(width)}" height="${num(height)}" ` +
    `viewBox="0 0 ${num(width)} ${num(height)}" role="img" aria-label="${escapeXml(title)}">`,
    `  <title>${escapeXml(title)}</title>`,
    `  <rect x="0" y="0" width="${num(width)}" height="${num(height)}" fill="#ffffff"/>`,
    ...body.map((line) => `  ${line}`),
    `</svg>`,
    "",
  ].join("\n");
}

/** One panel of the timeline: the writes one side made and the reads the other side got. */
export interface TimelinePanel {
  title: string;
  /** Each write: its size, and optionally a label shown on hover (e.g. the text written). */
  writes: readonly { size: number; label?: string }[];
  reads: readonly { size: number; label?: string }[];
}

/**
 * The writes-vs-reads timeline: for each panel two lanes over the stream's byte offsets, writes
 * on top, reads below, one rectangle per write and per read spanning the bytes it carried;
 * dashed lines mark where a read ended, so a read spanning several writes (粘包) or a write cut
 * into several reads is visible at a glance.
 */
export function timelineSvg(
  panels: readonly TimelinePanel[],
  { title = "TCP writes vs reads" } = {},
): string {
  const width = 760;
  const left = 70;
  const right = 20;
  const laneHeight = 26;
  const panelHeight = 2 * laneHeight + 58;
  const plot = width - left - right;
  const body: string[] = [
    `<text x="${left}" y="22" ${TITLE_FONT}>${escapeXml(title)}</text>`,
  ];
  panels.forEach((panel, p) => {
    const top = 40 + p * panelHeight;
    const total = Math.max(
      1,
      panel.writes.reduce((a, w) => a + w.size, 0),
      panel.reads.reduce((a, r) => a + r.size, 0),
    );
    const x = (offset: number) => left + (offset / total) * plot;
    const writeY = top + 18;
    const readY = writeY + laneHeight + 8;
    body.push(
      `<text x="${left}" y="${top + 10}" ${FONT} font-weight="bold">${
        escapeXml(panel.title)
      }</text>`,
    );
    body.push(`<text x="8" y="${writeY + 17}" ${FONT}>writes</text>`);
    body.push(`<text x="8" y="${readY + 17}" ${FONT}>reads</text>`);
    const lane = (
      items: TimelinePanel["writes"],
      kind: "write" | "read",
      y: number,
      fill: string,
    ) => {
      let offset = 0;
      items.forEach((item, i) => {
        const x0 = x(offset);
        const w = Math.max(x(offset + item.size) - x0, 1);
        const name = `${kind} #${i + 1}: bytes ${offset}..${offset + item.size - 1} ` +
          `(${item.size} bytes)${item.label ? ` ${item.label}` : ""}`;
        body.push(
          `<rect class="${kind}" x="${num(x0)}" y="${y}" width="${
            num(w)
          }" height="${laneHeight}" ` +
            `fill="${fill}" stroke="#333333" stroke-width="0.5"><title>${
              escapeXml(name)
            }</title></rect>`,
        );
        const tag = `${kind === "write" ? "w" : "r"}${i + 1}`;
        if (w >= tag.length * 8 + 4) {
          body.push(
            `<text x="${num(x0 + w / 2)}" y="${y + 17}" ${FONT} text-anchor="middle">${tag}</text>`,
          );
        }
        offset += item.size;
        if (kind === "read" && i < items.length - 1) {
          body.push(
            `<line x1="${num(x(offset))}" y1="${writeY}" x2="${num(x(offset))}" ` +
              `y2="${readY + laneHeight}" stroke="#cc3333" stroke-dasharray="3,2"/>`,
          );
        }
      });
    };
    lane(panel.writes, "write", writeY, "#9ecae1");
    lane(panel.reads, "read", readY, "#fdd49e");
    body.push(
      `<text x="${left}" y="${readY + laneHeight + 16}" ${FONT} fill="#555555">` +
        `${
          escapeXml(
            `${count(panel.writes.length, "write")} → ${
              count(panel.reads.length, "read")
            }, ${total} bytes`,
          )
        }</text>`,
    );
  });
  return svgDocument(width, 40 + panels.length * panelHeight + 10, title, body);
}

/** Longest bar label shown whole (the label column's width); the bar's tooltip has all of it. */
const MAX_LABEL_CHARS = 52;

/** `text`, cut to `max` characters with `…` when longer. */
function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** One bar of `barChartSvg`. */
export interface BarRow {
  label: string;
  value: number;
  /** A target value drawn as a tick on the bar (e.g. 1.5 for "≥ 1.5×"). */
  target?: number;
}

/**
 * A horizontal bar chart: one bar per row, its value written at the end, an optional target tick
 * per row and a reference line at 1 (for ratios: left of it netlab is slower).
 */
export function barChartSvg(
  rows: readonly BarRow[],
  { title = "", unit = "×", reference = 1 }: { title?: string; unit?: string; reference?: number } =
    {},
): string {
  const width = 760;
  const labelWidth = 360;
  const right = 70;
  const barHeight = 20;
  const gap = 8;
  const top = title ? 44 : 16;
  const plot = width - labelWidth - right;
  const max = Math.max(
    reference,
    ...rows.map((r) => Math.max(r.value, r.target ?? 0)),
    Number.MIN_VALUE,
  );
  const x = (v: number) => labelWidth + (Math.max(v, 0) / max) * plot;
  const body: string[] = [];
  if (title) {
    body.push(
      `<text x="10" y="24" ${TITLE_FONT}>${escapeXml(title)}</text>`,
    );
  }
  rows.forEach((row, i) => {
    const y = top + i * (barHeight + gap);
    const fill = row.target !== undefined && row.value < row.target ? "#e6550d" : "#3182bd";
    body.push(
      `<text x="${labelWidth - 8}" y="${y + 14}" ${FONT} text-anchor="end">${
        escapeXml(shorten(row.label, MAX_LABEL_CHARS))
      }</text>`,
      `<rect class="bar" x="${labelWidth}" y="${y}" width="${num(x(row.value) - labelWidth)}" ` +
        `height="${barHeight}" fill="${fill}"><title>${
          escapeXml(`${row.label}: ${row.value}${unit}`)
        }</title></rect>`,
      `<text x="${num(x(row.value) + 4)}" y="${y + 14}" ${FONT}>${
        escapeXml(`${row.value.toFixed(2)}${unit}`)
      }</text>`,
    );
    if (row.target !== undefined) {
      body.push(
        `<line class="target" x1="${num(x(row.target))}" y1="${y - 2}" x2="${
          num(x(row.target))
        }" ` +
          `y2="${y + barHeight + 2}" stroke="#000000" stroke-width="2"/>`,
      );
    }
  });
  const bottom = top + rows.length * (barHeight + gap);
  body.push(
    `<line x1="${num(x(reference))}" y1="${top - 4}" x2="${num(x(reference))}" y2="${bottom}" ` +
      `stroke="#777777" stroke-dasharray="4,3"/>`,
    `<text x="${num(x(reference))}" y="${bottom + 14}" ${FONT} text-anchor="middle">` +
      `${escapeXml(`${reference}${unit}`)}</text>`,
  );
  return svgDocument(width, bottom + 24, title || "bar chart", body);
}
