// @ts-check
/**
 * A diagram model (diagram.js) as SVG text: lanes with lifelines, one arrow per message with its
 * label, marks and time, notes, socket states and section headings. The styles travel inside the
 * SVG, so "copy as SVG" gives a picture that looks the same anywhere. With `interactive`, every
 * arrow and note that has details is focusable (`tabindex`, `role="button"`, `data-item`); the
 * page listens for clicks and Enter on the SVG.
 *
 * Pure: a model in, a string out; every text from an event is escaped.
 */
import { GEOMETRY } from "./diagram.js";

/** @typedef {import("./diagram.js").Diagram} Diagram */
/** @typedef {import("./diagram.js").Row} Row */

const STYLE = `
.bg{fill:#fff}
text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK SC",sans-serif;font-size:12px;fill:#1d2330}
.lane-label{font-size:13px;font-weight:600}
.lane-detail,.marks,.time,.states-label,.time-head{font-size:10.5px;fill:#5b6474}
.lifeline{stroke:#c4cad4;stroke-dasharray:4 4}
.arrow line{stroke:#2457c5;stroke-width:1.6}
.arrow polygon{fill:#2457c5}
.arrow.kernel line{stroke:#6b7585;stroke-dasharray:6 4}
.arrow.kernel polygon{fill:#6b7585}
.arrow.fin line{stroke:#8a3fc0;stroke-dasharray:2 3;stroke-width:2}
.arrow.fin polygon{fill:#8a3fc0}
.arrow.warn line{stroke:#c2410c}
.arrow.warn polygon{fill:#c2410c}
.arrow.warn .marks{fill:#c2410c}
.note rect{fill:#f3f5f9;stroke:#d3d9e3}
.note.result rect{fill:#edf2ff;stroke:#b3c5f2}
.note.good rect{fill:#e8f6ec;stroke:#8bcb9b}
.note.warn rect{fill:#fff3e3;stroke:#efb262}
.state rect{fill:#fff;stroke:#2457c5}
.state.inferred rect{stroke:#6b7585;stroke-dasharray:3 3}
.state.absent rect{stroke:#b8bfca}
.state.absent text,.state.inferred text{fill:#5b6474}
.section text{font-size:13px;font-weight:600}
.section line{stroke:#d3d9e3}
.section .time-head{font-size:10.5px;font-weight:400}
.hit{fill:transparent}
[data-item]{cursor:pointer}
[data-item]:focus{outline:none}
[data-item]:focus .hit,[data-item]:hover .hit,[data-item].selected .hit{fill:#ffd54a33;stroke:#d99a00;stroke-width:1.5}
`;

/** @param {string} text */
export function escapeXml(text) {
  return text.replace(
    /[&<>"']/g,
    (c) =>
      c === "&"
        ? "&amp;"
        : c === "<"
        ? "&lt;"
        : c === ">"
        ? "&gt;"
        : c === '"'
        ? "&quot;"
        : "&#39;",
  );
}

/** @param {number} n */
const px = (n) => String(Math.round(n * 10) / 10);

/**
 * The attributes that make a row focusable and name it for screen readers.
 * @param {Row} row @param {string} label @param {boolean} interactive
 */
function focusable(row, label, interactive) {
  if (!interactive) return "";
  return ` data-item="${row.id}" tabindex="0" role="button" aria-label="${escapeXml(label)}"`;
}

/** @param {import("./diagram.js").Arrow} a @param {boolean} interactive */
function arrowSvg(a, interactive) {
  const dir = a.x2 >= a.x1 ? 1 : -1;
  const tip = a.x2 - dir * 1;
  const mid = a.labelX;
  const half = Math.min(a.labelWidth, Math.max(a.shownLabel.length, a.shownMarks.length) * 7) / 2;
  const left = Math.min(mid - half, Math.min(a.x1, a.x2)) - 4;
  const right = Math.max(mid + half, Math.max(a.x1, a.x2)) + 4;
  const classes = ["arrow", a.style, a.warn ? "warn" : ""].filter(Boolean).join(" ");
  const spoken = `${a.label}${a.marks.length ? `, ${a.marks.join(", ")}` : ""}${
    a.time ? `, at ${a.time}` : ""
  }${a.explain ? ", has annotated bytes" : ""}`;
  return `<g class="${classes}"${focusable(a, spoken, interactive)}>` +
    `<title>${escapeXml(a.label)}</title>` +
    `<rect class="hit" x="${px(left)}" y="${px(a.y - 20)}" width="${
      px(right - left)
    }" height="40" rx="4"/>` +
    `<line x1="${px(a.x1)}" y1="${px(a.y)}" x2="${px(tip - dir * 7)}" y2="${px(a.y)}"/>` +
    `<polygon points="${px(tip)},${px(a.y)} ${px(tip - dir * 9)},${px(a.y - 4.5)} ${
      px(tip - dir * 9)
    },${px(a.y + 4.5)}"/>` +
    `<text class="label" x="${px(mid)}" y="${px(a.y - 6)}" text-anchor="middle">${
      escapeXml(a.shownLabel)
    }</text>` +
    (a.shownMarks
      ? `<text class="marks" x="${px(mid)}" y="${px(a.y + 14)}" text-anchor="middle">${
        escapeXml(a.shownMarks)
      }</text>`
      : "") +
    (a.time
      ? `<text class="time" x="${px(GEOMETRY.timeColumn - 6)}" y="${
        px(a.y + 4)
      }" text-anchor="end">${escapeXml(a.time)}</text>`
      : "") +
    "</g>";
}

/** @param {import("./diagram.js").Note} n @param {boolean} interactive */
function noteSvg(n, interactive) {
  const top = n.y;
  const left = n.x - n.width / 2;
  const canOpen = interactive && (n.explain !== null || n.detail !== n.text);
  const lines = n.lines.map((line, i) =>
    `<text x="${px(n.x)}" y="${px(top + 17 + i * 15)}" text-anchor="middle">${
      escapeXml(line)
    }</text>`
  ).join("");
  const spoken = `${n.text}${n.explain ? ", has annotated bytes" : ""}`;
  return `<g class="note ${n.tone}"${focusable(n, spoken, canOpen)}>` +
    `<title>${escapeXml(n.text)}</title>` +
    `<rect x="${px(left)}" y="${px(top)}" width="${px(n.width)}" height="${
      px(n.height)
    }" rx="5"/>` +
    (canOpen
      ? `<rect class="hit" x="${px(left - 3)}" y="${px(top - 3)}" width="${
        px(n.width + 6)
      }" height="${px(n.height + 6)}" rx="6"/>`
      : "") +
    lines + "</g>";
}

/** @param {import("./diagram.js").States} s */
function statesSvg(s) {
  const cells = s.cells.map((c) => {
    const shown = c.source === "inferred" ? `${c.state}?` : c.state;
    const why = c.source === "proc"
      ? "read from /proc/net/tcp"
      : c.source === "absent"
      ? "no longer in /proc/net/tcp: the kernel has forgotten the socket"
      : "inferred: not read from the kernel";
    const w = Math.max(84, shown.length * 7.4 + 16);
    return `<g class="state ${c.source}"><title>${escapeXml(`${c.state}: ${why}`)}</title>` +
      `<rect x="${px(c.x - w / 2)}" y="${px(s.y)}" width="${px(w)}" height="20" rx="10"/>` +
      `<text x="${px(c.x)}" y="${px(s.y + 14)}" text-anchor="middle">${escapeXml(shown)}</text>` +
      "</g>";
  }).join("");
  return `<g class="states"><text class="states-label" x="${px(GEOMETRY.timeColumn - 6)}" y="${
    px(s.y + 14)
  }" text-anchor="end">${escapeXml(s.label)}</text>${cells}</g>`;
}

/** @param {import("./diagram.js").Section} s @param {number} width */
function sectionSvg(s, width) {
  const x = GEOMETRY.timeColumn + GEOMETRY.margin;
  return `<g class="section"><line x1="${px(x)}" y1="${px(s.y - 12)}" x2="${
    px(width - GEOMETRY.margin)
  }" y2="${px(s.y - 12)}"/><text x="${px(x)}" y="${px(s.y + 2)}">${escapeXml(s.shown)}</text>` +
    (s.timeBase !== "run"
      ? `<text class="time-head" x="${px(width - GEOMETRY.margin)}" y="${
        px(s.y + 2)
      }" text-anchor="end">${escapeXml(`times: ${s.timeBase}`)}</text>`
      : "") +
    "</g>";
}

/**
 * The diagram as a standalone SVG document.
 * @param {Diagram} model
 * @param {{ title?: string, interactive?: boolean }} [options]
 */
export function diagramSvg(model, { title = "netlab lab run", interactive = true } = {}) {
  const { width, height } = model;
  const lanes = model.lanes.map((lane) =>
    `<g class="lane"><text class="lane-label" x="${px(lane.x)}" y="22" text-anchor="middle">${
      escapeXml(lane.shownLabel)
    }</text><text class="lane-detail" x="${px(lane.x)}" y="38" text-anchor="middle">${
      escapeXml(lane.shownDetail)
    }</text><line class="lifeline" x1="${px(lane.x)}" y1="${GEOMETRY.header - 8}" x2="${
      px(lane.x)
    }" y2="${px(height - 8)}"/></g>`
  ).join("");
  const rows = model.rows.map((row) => {
    switch (row.kind) {
      case "arrow":
        return arrowSvg(row, interactive);
      case "note":
        return noteSvg(row, interactive);
      case "states":
        return statesSvg(row);
      case "section":
        return sectionSvg(row, width);
    }
  }).join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="group" aria-label="${
    escapeXml(title)
  }"><title>${escapeXml(title)}</title><style>${STYLE}</style>` +
    `<rect class="bg" width="${width}" height="${height}"/>` +
    `<text class="time-head" x="${
      px(GEOMETRY.timeColumn - 6)
    }" y="38" text-anchor="end">time</text>` +
    `<g class="lanes">${lanes}</g><g class="rows">${rows}</g></svg>`;
}
