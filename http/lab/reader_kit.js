// @ts-check
/**
 * The vocabulary of the lab's readers (readers.js): the types a reader works with (events, the
 * `Sink` it draws through, arrow and note specs), lane ranks, small helpers for untrusted event
 * fields, and `genericReader`, which draws every `sent`/`received` event that names both ends, so
 * a new script or a new party (a local DNS server, say) shows up without a reader of its own.
 *
 * Pure; loaded as-is by the browser and imported by the tests.
 */

/**
 * @typedef {Record<string, unknown> & { ts?: string, tool?: string, event?: string, text?: string }} NetlabEvent
 * One `--json` event (the schema in tcp/report.ts).
 */

/**
 * @typedef {object} ArrowSpec
 * @property {string} from lane id
 * @property {string} to lane id
 * @property {string} label
 * @property {string} [detail] longer text for the detail panel (default: the event's text)
 * @property {string[]} [marks] small tags under the label (`UDP`, `glue`, `1024 B`)
 * @property {"message" | "kernel" | "fin"} [style] kernel: segments the kernels exchange that
 *   no program wrote (a handshake); fin: a FIN
 * @property {number | null} [t] time in ms (see `timeBase`), default: from the event's `ts`
 * @property {string | null} [explainKey] which `explain` event belongs here (null: none)
 * @property {boolean} [warn] drawn as a problem (truncated, broken)
 */

/**
 * @typedef {object} NoteSpec
 * @property {string | null} lane lane id, or null for the whole width
 * @property {string} text
 * @property {"info" | "result" | "warn" | "good"} [tone]
 * @property {string | null} [explainKey]
 * @property {boolean} [manyExplains] several `explain` events may belong here
 * @property {number | null} [t]
 */

/**
 * @typedef {object} StateCell
 * @property {string} lane
 * @property {string} state
 * @property {"proc" | "absent" | "inferred"} source
 * @property {string} [extra]
 */

/**
 * @typedef {object} Sink
 * @property {(id: string, label: string, detail: string, rank: number) => void} lane
 *   a lane (created once; later calls only fill in a missing detail)
 * @property {(spec: ArrowSpec) => void} arrow
 * @property {(spec: NoteSpec) => void} note
 * @property {(cells: StateCell[], label: string) => void} states
 * @property {(text: string, timeBase?: string) => void} section
 * @property {(key: string, text: string) => void} explain
 *   attaches an `explain` view to the oldest item waiting with this key; a view that comes
 *   before its message waits for it
 * @property {(key?: string) => Record<string, unknown>} memory scratch space for a reader,
 *   per source (or shared between sources under `key`)
 * @property {(key: string) => boolean} defer puts the event off until `release(key)`: false
 *   when it cannot be (at the end of the events), and the reader draws it at once instead
 * @property {(key: string) => void} release reads the events put off under `key` again, right
 *   after the current one
 */

/** @typedef {(e: NetlabEvent, sink: Sink, source: string) => void} Reader */

// Lane ranks: the party that starts things on the left, kernels and networks in the middle,
// servers to the right. Lanes of one rank keep the order in which they appeared.
export const RANK_CLIENT = 0;
export const RANK_MIDDLE = 1;
export const RANK_SERVER = 2;
export const RANK_LAST = 3;

/** `0.42 ms`, `12.3 ms`, `512 ms`. @param {number | null} ms */
export function formatMs(ms) {
  if (ms === null) return "";
  const digits = ms < 10 ? 2 : ms < 100 ? 1 : 0;
  return `${ms.toFixed(digits)} ms`;
}

/** @param {unknown} value */
export const str = (value) =>
  typeof value === "string" ? value : value === undefined ? "" : String(value);
/** @param {unknown} value */
export const num = (value) => typeof value === "number" && Number.isFinite(value) ? value : null;
/** @param {unknown} value @returns {unknown[]} */
export const list = (value) => Array.isArray(value) ? value : [];
/** `127.0.0.2#53` (dig's way) and `127.0.0.2:53` are the same party. @param {unknown} address */
export const addressLane = (address) => `addr:${str(address).replace("#", ":")}`;
/** @param {string} source */
export const selfLane = (source) => `src:${source}`;
/** @param {NetlabEvent} e */
export const textOf = (e) => str(e.text).trim();

/** A numbered heading in a script's narration: `1. …`, `3. (b) …`, `a) …`. @param {string} text */
export function isHeading(text) {
  return /^(\d{1,2}\.|[a-z]\))\s/.test(text) && !text.includes("\n");
}

/** `"." (root)`, `com.` — how a DNS zone is named on its lane. @param {string} zone */
export function zoneLabel(zone) {
  return zone === "." ? "DNS root ." : `DNS ${zone}`;
}

/** A DNS server's lane, labelled by its zone when known. @param {Sink} sink @param {unknown} server @param {unknown} zone */
export function dnsServerLane(sink, server, zone) {
  const id = addressLane(server);
  sink.lane(
    id,
    zone ? zoneLabel(str(zone)) : "DNS server",
    str(server).replace("#", ":"),
    RANK_SERVER,
  );
  return id;
}

/** The common cases every reader shares: headings, errors. @type {Reader} */
export function common(e, sink) {
  const text = textOf(e);
  if (e.event === "log" && isHeading(text)) sink.section(text);
  else if (e.event === "error") sink.note({ lane: null, text, tone: "warn" });
}

/**
 * Every `sent`/`received` event with a `from` and a `to` is an arrow between those addresses;
 * `listening` names a lane; `explain` goes to the oldest arrow still waiting for one.
 * @type {Reader}
 */
export function genericReader(e, sink, source) {
  switch (e.event) {
    case "listening":
      if (e.address) sink.lane(addressLane(e.address), source, str(e.address), RANK_SERVER);
      return;
    case "sent":
    case "received":
    case "query":
    case "answer":
    case "request":
    case "response": {
      const from = e.from ?? (e.event === "answer" || e.event === "response" ? e.server : null);
      const to = e.to ?? (e.event === "query" || e.event === "request" ? e.server : null);
      if (!from || !to) return common(e, sink, source);
      sink.lane(addressLane(from), str(from), "", RANK_CLIENT);
      sink.lane(addressLane(to), str(to), "", RANK_SERVER);
      sink.arrow({
        from: addressLane(from),
        to: addressLane(to),
        label: `${e.event} ${num(e.bytes) ?? ""}`.trim(),
        explainKey: source,
      });
      return;
    }
    case "explain":
      sink.explain(source, str(e.text));
      return;
    default:
      common(e, sink, source);
  }
}

/** DNS records as the label of an answer: the first one and how many more. @param {unknown[]} records */
export function firstRecord(records) {
  const shown = records.map((r) =>
    typeof r === "string"
      ? r
      : r && typeof r === "object"
      ? `${str(/** @type {Record<string, unknown>} */ (r).name)} ${
        str(/** @type {Record<string, unknown>} */ (r).type)
      } ${str(/** @type {Record<string, unknown>} */ (r).data)}`
      : ""
  );
  if (shown.length === 0) return "no records";
  return shown.length === 1 ? shown[0] : `${shown[0]} (+${shown.length - 1} more)`;
}
