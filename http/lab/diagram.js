// @ts-check
/**
 * The lab's sequence diagram as a pure function: `layoutDiagram(events)` turns one run's events
 * — `{ source, event }`, every `--json` line of every process of the experiment, in arrival
 * order — into a model: lanes with x positions, and rows with y positions (arrows, notes, socket
 * states, section headings), labels fitted to the room they have. `diagramSvg` (svg.js) draws the
 * model. The page calls it after every event; the tests call it with recorded events.
 *
 * How an event becomes a row is the business of readers.js (one reader per tool). Here: the rows'
 * order is the events' order, a lane exists once some event names it, lanes are ordered by rank
 * (clients, middle, servers) and then by first appearance, and an `explain` view is attached to
 * the message it describes. Every arrow and note keeps the index of the event it came from.
 */
import { formatMs, genericReader } from "./reader_kit.js";
import { READERS } from "./readers.js";

export { formatMs };

/**
 * @typedef {import("./reader_kit.js").NetlabEvent} NetlabEvent
 * @typedef {import("./reader_kit.js").ArrowSpec} ArrowSpec
 * @typedef {import("./reader_kit.js").NoteSpec} NoteSpec
 * @typedef {import("./reader_kit.js").StateCell} StateCell
 * @typedef {{ source: string, event: NetlabEvent }} LabEvent
 */

/**
 * @typedef {object} Lane
 * @property {string} id
 * @property {string} label
 * @property {string} detail
 * @property {number} rank
 * @property {number} x the lifeline
 * @property {string} shownLabel the label and the detail, fitted to the lane's room
 * @property {string} shownDetail
 */

/**
 * @typedef {object} RowBase
 * @property {string} id `row-3`, unique in the diagram
 * @property {number} event index of the event it came from
 * @property {string} source the process that reported it
 * @property {string} tool
 * @property {string} name the event's name (`sent`, `query`, …)
 * @property {number} y
 */

/**
 * @typedef {RowBase & {
 *   kind: "arrow", from: string, to: string, x1: number, x2: number, labelX: number,
 *   label: string, shownLabel: string, marks: string[], shownMarks: string,
 *   style: "message" | "kernel" | "fin", warn: boolean, t: number | null, time: string,
 *   detail: string, explain: string | null, labelWidth: number,
 * }} Arrow
 * @typedef {RowBase & {
 *   kind: "note", lane: string | null, x: number, width: number, height: number,
 *   text: string, lines: string[], tone: string, t: number | null, time: string,
 *   detail: string, explain: string | null, manyExplains: boolean,
 * }} Note
 * @typedef {RowBase & {
 *   kind: "states", label: string,
 *   cells: { lane: string, x: number, state: string, source: string, extra: string }[],
 * }} States
 * @typedef {RowBase & { kind: "section", text: string, shown: string, timeBase: string }} Section
 * @typedef {Arrow | Note | States | Section} Row
 */

/**
 * Rows before they are placed (`readEvents`' output).
 * @typedef {Omit<Arrow, "x1" | "x2" | "y" | "labelWidth" | "labelX" | "shownLabel" | "shownMarks">} ArrowItem
 * @typedef {Omit<Note, "x" | "width" | "height" | "lines" | "y">} NoteItem
 * @typedef {Omit<States, "y" | "cells"> & { cells: Omit<States["cells"][number], "x">[] }} StatesItem
 * @typedef {Omit<Section, "y" | "shown">} SectionItem
 * @typedef {ArrowItem | NoteItem | StatesItem | SectionItem} Item
 */

/**
 * @typedef {object} Diagram
 * @property {number} width
 * @property {number} height
 * @property {Lane[]} lanes
 * @property {Row[]} rows
 * @property {number} unmatchedExplains `explain` views that found no message (0 when all fit)
 */

/** Geometry, in SVG user units (px at 100 %). */
export const GEOMETRY = Object.freeze({
  timeColumn: 64,
  margin: 12,
  /** Half the room a lane's title and its notes get. */
  laneHalf: 78,
  /** Closest two lifelines may be; wider diagrams scroll sideways on a phone. */
  minLaneGap: 130,
  header: 56,
  fontPx: 12,
});

/**
 * Width of `text` at `px` font size, estimated: wide (CJK) characters a full em, the rest about
 * 0.6 em. Good enough to fit labels without measuring in a browser (the tests have none).
 * @param {string} text @param {number} [px]
 */
export function textWidth(text, px = GEOMETRY.fontPx) {
  let em = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    em += code >= 0x1100 && (code <= 0x115f || (code >= 0x2e80 && code <= 0xffdc)) ? 1 : 0.6;
  }
  return em * px;
}

/**
 * `text` cut with `…` to fit `maxPx`.
 * @param {string} text @param {number} maxPx @param {number} [px]
 */
export function fitText(text, maxPx, px = GEOMETRY.fontPx) {
  if (textWidth(text, px) <= maxPx) return text;
  let out = "";
  for (const ch of text) {
    if (textWidth(`${out}${ch}…`, px) > maxPx) break;
    out += ch;
  }
  return `${out}…`;
}

/**
 * Words of `text` in lines of at most `maxPx`, at most `maxLines` (the last cut with `…`).
 * @param {string} text @param {number} maxPx @param {number} maxLines
 */
export function wrapText(text, maxPx, maxLines) {
  /** @type {string[]} */
  const lines = [];
  for (const paragraph of text.split("\n")) {
    let line = "";
    for (const word of paragraph.split(/(?<=\s)/)) {
      if (line && textWidth(line + word) > maxPx) {
        lines.push(line.trimEnd());
        line = "";
      }
      line += word;
    }
    lines.push(line.trimEnd());
  }
  if (lines.length <= maxLines) return lines.map((l) => fitText(l, maxPx));
  const kept = lines.slice(0, maxLines);
  kept[maxLines - 1] = fitText(`${kept[maxLines - 1]} ${lines[maxLines]}`, maxPx);
  if (!kept[maxLines - 1].endsWith("…")) kept[maxLines - 1] += "…";
  return kept.map((l) => fitText(l, maxPx));
}

/**
 * Lays out one run.
 * @param {readonly LabEvent[]} events
 * @param {{ width?: number }} [options] the width to fill (the diagram gets wider when its lanes
 *   need more room than that)
 * @returns {Diagram}
 */
export function layoutDiagram(events, options = {}) {
  const built = readEvents(events);
  const lanes = [...built.lanes.values()].sort((a, b) => a.rank - b.rank || a.order - b.order);
  const g = GEOMETRY;
  const needed = g.timeColumn + 2 * (g.margin + g.laneHalf) +
    Math.max(0, lanes.length - 1) * g.minLaneGap;
  const width = Math.max(Math.round(options.width ?? 960), needed, 320);
  const first = g.timeColumn + g.margin + g.laneHalf;
  const last = width - g.margin - g.laneHalf;
  const gap = lanes.length > 1 ? (last - first) / (lanes.length - 1) : 0;
  /** @type {Map<string, Lane>} */
  const placed = new Map();
  lanes.forEach((lane, i) => {
    const x = Math.round(lanes.length > 1 ? first + i * gap : (first + last) / 2);
    const room = Math.min(2 * g.laneHalf, gap || 2 * g.laneHalf) - 4;
    placed.set(lane.id, {
      id: lane.id,
      label: lane.label,
      detail: lane.detail,
      rank: lane.rank,
      x,
      shownLabel: fitText(lane.label, room, 13),
      shownDetail: fitText(lane.detail, room, 10.5),
    });
  });
  const laneX = (/** @type {string} */ id) => placed.get(id)?.x ?? first;
  const noteWidth = Math.max(120, Math.min(2 * g.laneHalf + 40, gap ? gap - 12 : 2 * g.laneHalf));

  let y = g.header + 8;
  /** @type {Row[]} */
  const rows = [];
  for (const item of built.items) {
    if (item.kind === "arrow") {
      const x1 = laneX(item.from);
      const x2 = laneX(item.to);
      const span = Math.abs(x2 - x1);
      // A label may reach past the lanes it joins (its row is its own), but not out of the picture.
      const room = width - g.timeColumn - 2 * g.margin;
      const labelWidth = Math.max(span - 8, Math.min(320, room));
      const shownLabel = fitText(item.label, labelWidth);
      const shownMarks = fitText(item.marks.filter(Boolean).join(" · "), labelWidth, 10.5);
      const used = Math.max(textWidth(shownLabel), textWidth(shownMarks, 10.5));
      const lo = g.timeColumn + g.margin + used / 2;
      const hi = width - g.margin - used / 2;
      const labelX = Math.min(Math.max((x1 + x2) / 2, lo), Math.max(lo, hi));
      y += 22;
      rows.push({ ...item, x1, x2, y, labelWidth, labelX, shownLabel, shownMarks });
      y += 26;
    } else if (item.kind === "note") {
      const whole = item.lane === null;
      const w = whole ? width - g.timeColumn - 2 * g.margin : noteWidth;
      const lines = wrapText(item.text, w - 16, whole ? 2 : 4);
      const height = 10 + lines.length * 15;
      // A lane's note is centred on its lifeline but kept inside the picture.
      const x = whole ? g.timeColumn + g.margin + w / 2 : Math.min(
        Math.max(laneX(item.lane ?? ""), g.timeColumn + g.margin + w / 2),
        width - g.margin - w / 2,
      );
      y += 6;
      rows.push({ ...item, x, width: w, height, lines, y });
      y += height + 6;
    } else if (item.kind === "states") {
      y += 6;
      rows.push({ ...item, cells: item.cells.map((c) => ({ ...c, x: laneX(c.lane) })), y });
      y += 28;
    } else {
      y += 16;
      rows.push({ ...item, y, shown: fitText(item.text, width - g.timeColumn - 2 * g.margin, 13) });
      y += 20;
    }
  }
  return {
    width,
    height: y + 18,
    lanes: [...placed.values()].sort((a, b) => a.x - b.x),
    rows,
    unmatchedExplains: built.unmatchedExplains,
  };
}

/**
 * Runs every event through its tool's reader and collects lanes and rows (no geometry yet).
 * @param {readonly LabEvent[]} events
 */
function readEvents(events) {
  /** @type {Map<string, { id: string, label: string, detail: string, rank: number, order: number }>} */
  const lanes = new Map();
  /** @type {Item[]} */
  const items = [];
  /** @type {Map<string, (ArrowItem | NoteItem)[]>} rows waiting for their `explain` view, by key */
  const waiting = new Map();
  /** @type {Map<string, string[]>} views that came before their row, by key */
  const early = new Map();
  /** @type {Map<string, Record<string, unknown>>} */
  const memories = new Map();
  /** Events a reader put off until another arrives (see `Sink.defer`), by key. */
  /** @type {Map<string, { index: number, labEvent: LabEvent }[]>} */
  const deferred = new Map();
  /** @type {string[]} keys released by the event being read */
  const released = [];
  let flushing = false;
  let start = NaN;
  let index = 0;
  /** @type {LabEvent} */
  let current = { source: "", event: {} };

  const base = () => ({
    id: `row-${items.length}`,
    event: index,
    source: current.source,
    tool: String(current.event.tool ?? ""),
    name: String(current.event.event ?? ""),
  });
  /** The event's time since the run's first event, or the reader's own time (see `timeBase`). */
  const timeOf = (/** @type {number | null | undefined} */ t) => {
    if (typeof t === "number") return t;
    const ts = Date.parse(String(current.event.ts ?? ""));
    return Number.isNaN(ts) || Number.isNaN(start) ? null : Math.max(0, ts - start);
  };
  /** @param {ArrowItem | NoteItem} item @param {string | null | undefined} key */
  const await_ = (item, key) => {
    if (key === null || key === undefined) return;
    const views = early.get(key);
    if (views?.length) {
      const many = item.kind === "note" && item.manyExplains;
      item.explain = many ? views.splice(0).join("\n\n") : views.shift() ?? null;
      if (!many) return;
    }
    const queue = waiting.get(key) ?? [];
    queue.push(item);
    waiting.set(key, queue);
  };

  /** @type {import("./reader_kit.js").Sink} */
  const sink = {
    lane(id, label, detail, rank) {
      const lane = lanes.get(id);
      if (!lane) lanes.set(id, { id, label, detail, rank, order: lanes.size });
      else if (!lane.detail && detail) lane.detail = detail;
    },
    arrow(spec) {
      if (!lanes.has(spec.from) || !lanes.has(spec.to)) return;
      const t = typeof spec.t === "number" ? spec.t : timeOf(null);
      /** @type {ArrowItem} */
      const item = {
        kind: "arrow",
        ...base(),
        from: spec.from,
        to: spec.to,
        label: spec.label,
        marks: spec.marks ?? [],
        style: spec.style ?? "message",
        warn: spec.warn ?? false,
        t,
        time: formatMs(t),
        detail: spec.detail ?? String(current.event.text ?? ""),
        explain: null,
      };
      items.push(item);
      await_(item, spec.explainKey);
    },
    note(spec) {
      const t = typeof spec.t === "number" ? spec.t : null;
      /** @type {NoteItem} */
      const item = {
        kind: "note",
        ...base(),
        lane: spec.lane !== null && lanes.has(spec.lane) ? spec.lane : null,
        text: spec.text,
        tone: spec.tone ?? "info",
        t,
        time: formatMs(t),
        detail: String(current.event.text ?? spec.text),
        explain: null,
        manyExplains: spec.manyExplains ?? false,
      };
      if (!item.text) return;
      items.push(item);
      await_(item, spec.explainKey);
    },
    states(cells, label) {
      const known = cells.filter((c) => lanes.has(c.lane));
      if (known.length === 0) return;
      items.push({
        kind: "states",
        ...base(),
        label,
        cells: known.map((c) => ({ ...c, extra: c.extra ?? "" })),
      });
    },
    section(text, timeBase = "run") {
      const previous = items.at(-1);
      if (!text && previous?.kind === "section") {
        previous.timeBase = timeBase; // "" only sets how the section's times count
        return;
      }
      if (!text || (previous?.kind === "section" && previous.text === text)) return;
      items.push({ kind: "section", ...base(), text, timeBase });
    },
    explain(key, text) {
      const queue = waiting.get(key);
      const item = queue?.[0];
      if (!item) {
        const views = early.get(key) ?? [];
        views.push(text);
        early.set(key, views);
        return;
      }
      item.explain = item.explain ? `${item.explain}\n\n${text}` : text;
      if (!(item.kind === "note" && item.manyExplains)) queue.shift();
    },
    memory(key = current.source) {
      const memory = memories.get(key) ?? {};
      memories.set(key, memory);
      return memory;
    },
    defer(key) {
      if (flushing) return false;
      const list = deferred.get(key) ?? [];
      list.push({ index, labEvent: current });
      deferred.set(key, list);
      return true;
    },
    release(key) {
      released.push(key);
    },
  };

  /** @param {number} i @param {LabEvent} labEvent */
  const read = (i, labEvent) => {
    index = i;
    current = labEvent;
    const reader = READERS[String(labEvent.event.tool ?? "")] ?? genericReader;
    reader(labEvent.event, sink, String(labEvent.source));
  };
  /** Reads again, in their order, the events put off under the released keys. */
  const replay = (/** @type {string[]} */ keys) => {
    for (const key of keys) {
      const list = deferred.get(key) ?? [];
      deferred.delete(key);
      for (const d of list) read(d.index, d.labEvent);
    }
  };

  events.forEach((labEvent, i) => {
    if (!labEvent || typeof labEvent.event !== "object" || labEvent.event === null) return;
    if (Number.isNaN(start)) start = Date.parse(String(labEvent.event.ts ?? ""));
    read(i, labEvent);
    replay(released.splice(0));
  });
  // What is still put off is drawn now, in arrival order, rather than lost.
  flushing = true;
  replay([...deferred.keys()]);
  let unmatchedExplains = 0;
  for (const views of early.values()) unmatchedExplains += views.length;
  return { lanes, items, unmatchedExplains };
}
