// @ts-check
/**
 * What each netlab script's `--json` events mean in a sequence diagram: who the parties are
 * (lanes), which events are messages between them (arrows), which are notes, socket states or
 * section headings, and which `explain` view belongs to which message. One reader per tool (the
 * event's `tool` field); anything else goes through `genericReader`, which draws every `sent`
 * and `received` event that names both ends, so a new script or a new party (a local DNS
 * server, say) shows up without a change here.
 *
 * Pure: events in, calls on a `Sink` out (diagram.js implements it). Loaded as-is by the browser
 * and imported by the tests.
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
const str = (value) => typeof value === "string" ? value : value === undefined ? "" : String(value);
/** @param {unknown} value */
const num = (value) => typeof value === "number" && Number.isFinite(value) ? value : null;
/** @param {unknown} value @returns {unknown[]} */
const list = (value) => Array.isArray(value) ? value : [];
/** `127.0.0.2#53` (dig's way) and `127.0.0.2:53` are the same party. @param {unknown} address */
export const addressLane = (address) => `addr:${str(address).replace("#", ":")}`;
/** @param {string} source */
const selfLane = (source) => `src:${source}`;
/** @param {NetlabEvent} e */
const textOf = (e) => str(e.text).trim();

/** A numbered heading in a script's narration: `1. …`, `3. (b) …`, `a) …`. @param {string} text */
function isHeading(text) {
  return /^(\d{1,2}\.|[a-z]\))\s/.test(text) && !text.includes("\n");
}

/** `"." (root)`, `com.` — how a DNS zone is named on its lane. @param {string} zone */
export function zoneLabel(zone) {
  return zone === "." ? "DNS root ." : `DNS ${zone}`;
}

/** A DNS server's lane, labelled by its zone when known. @param {Sink} sink @param {unknown} server @param {unknown} zone */
function dnsServerLane(sink, server, zone) {
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
function common(e, sink) {
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
function firstRecord(records) {
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

/**
 * http/demo.ts: the browser resolves the name from the root down, connects, asks, reads.
 * @type {Reader}
 */
function demoReader(e, sink, source) {
  const me = selfLane(source);
  const memory = sink.memory();
  sink.lane(me, "browser", "http/demo.ts", RANK_CLIENT);
  switch (e.event) {
    case "listening":
      if (e.zone) dnsServerLane(sink, e.address, e.zone);
      else sink.lane(addressLane(e.address), "web server", str(e.address), RANK_LAST);
      return;
    case "log":
      if (e.url && e.scheme) {
        sink.note({
          lane: null,
          text: `${str(e.url)} — scheme ${str(e.scheme)}, host ${str(e.host)} (ask DNS), port ${
            str(e.port)
          }, path ${str(e.path)}`,
        });
      } else if (e.host && e.address) {
        sink.note({ lane: me, text: `${str(e.host)} is ${str(e.address)}`, tone: "result" });
      } else common(e, sink, source);
      return;
    case "query": {
      const lane = dnsServerLane(sink, e.server, e.zone);
      sink.arrow({
        from: me,
        to: lane,
        label: `${str(e.name)} ${str(e.type)}?`,
        marks: ["DNS", "UDP"],
        explainKey: source,
      });
      return;
    }
    case "referral":
    case "answer": {
      const lane = dnsServerLane(sink, e.server, e.zone);
      sink.arrow({
        from: lane,
        to: me,
        label: e.event === "referral"
          ? `referral: ask ${str(e.referral)}`
          : `answer: ${firstRecord(list(e.records))}`,
        marks: [`${num(e.bytes) ?? "?"} B`, formatMs(num(e.ms))],
        explainKey: source,
      });
      return;
    }
    case "connected": {
      memory.server = addressLane(e.remote);
      sink.lane(str(memory.server), "web server", str(e.remote), RANK_LAST);
      sink.arrow({
        from: me,
        to: str(memory.server),
        label: "connect(): SYN, SYN+ACK, ACK",
        marks: ["TCP handshake (kernels)", formatMs(num(e.ms))],
        style: "kernel",
        explainKey: null,
      });
      return;
    }
    case "request":
      sink.arrow({
        from: me,
        to: str(memory.server ?? addressLane(e.remote)),
        label: `${str(e.method)} ${str(e.target)}`,
        marks: ["HTTP request"],
        explainKey: source,
      });
      return;
    case "response":
      sink.arrow({
        from: str(memory.server ?? addressLane(e.remote)),
        to: me,
        label: `${str(e.status)} ${str(e.reason)}`,
        marks: ["HTTP response"],
        explainKey: source,
      });
      return;
    case "received":
      sink.note({ lane: me, text: textOf(e), tone: "result" });
      return;
    case "disconnected":
      sink.note({ lane: null, text: textOf(e).replace(/^\d+\.\s*/, ""), tone: "info" });
      return;
    case "explain":
      sink.explain(source, str(e.text));
      return;
    default:
      common(e, sink, source);
  }
}

/** dns/internet.ts: only its servers matter (they are lanes). @type {Reader} */
function internetReader(e, sink) {
  if (e.event === "listening" && e.zone) dnsServerLane(sink, e.address, e.zone);
}

/** How a +trace query's server address was known, as a mark. @type {Record<string, string>} */
const SERVER_SOURCE = {
  "root-option": "root (--root)",
  "root-hint": "root hint",
  glue: "glue",
  resolved: "glueless: address looked up",
  cache: "address from the cache",
};

/** dns/query.ts +trace: one hop per referral, glue and glueless steps marked. @type {Reader} */
function traceReader(e, sink, source) {
  const me = selfLane(source);
  sink.lane(me, "resolver", "dns/query.ts +trace", RANK_CLIENT);
  const server = str(e.server);
  switch (e.event) {
    case "query": {
      const lane = dnsServerLane(sink, server, e.zone);
      const how = SERVER_SOURCE[str(e.source)];
      sink.arrow({
        from: me,
        to: lane,
        label: `${str(e.name)} ${str(e.type)}?`,
        detail: `${textOf(e)}\nwhy this server: ${str(e.reason)}`,
        marks: [`zone ${str(e.zone)}`, str(e.server_name), ...(how ? [how] : [])],
        warn: e.source === "resolved",
        explainKey: `${server} sent`,
      });
      return;
    }
    case "referral":
    case "answer": {
      const lane = dnsServerLane(sink, server, e.zone);
      const glue = list(e.glue).map((g) => {
        const r = /** @type {Record<string, unknown>} */ (g ?? {});
        return `${str(r.name)} ${str(r.address)}`;
      });
      const referral = e.event === "referral";
      sink.arrow({
        from: lane,
        to: me,
        label: referral
          ? `referral: ${str(e.referral)} NS ${list(e.nameservers).map(str).join(", ")}`
          : `answer: ${firstRecord(list(e.answer))}`,
        marks: [
          `${num(e.size) ?? "?"} B`,
          formatMs(num(e.elapsed_ms)),
          ...(referral
            ? [glue.length ? `glue: ${glue.join(", ")}` : "no glue (glueless)"]
            : list(e.flags).includes("aa")
            ? ["authoritative"]
            : []),
        ],
        warn: referral && glue.length === 0,
        explainKey: `${server} received`,
      });
      return;
    }
    case "log":
      if (e.nameserver) {
        sink.note({
          lane: me,
          text: `glueless: "${str(e.zone)}" came without glue, so its name server ` +
            `${str(e.nameserver)} is resolved first`,
          tone: "warn",
        });
      } else if (e.from && e.to) {
        sink.note({ lane: me, text: textOf(e).replace(/^;;\s*/, ""), tone: "info" });
      }
      return;
    case "explain":
      sink.explain(`${server} ${str(e.direction)}`, str(e.text));
      return;
    case "error":
      sink.note({ lane: me, text: textOf(e).replace(/^;;\s*/, ""), tone: "warn" });
      return;
  }
}

/** @param {NetlabEvent} e */
const stickyGroup = (e) => str(e.part ?? e.fix);

/**
 * tcp/sticky.ts: writes on the left, the kernel's byte stream in the middle, reads on the right.
 * @type {Reader}
 */
function stickyReader(e, sink) {
  const writer = "sticky:writer";
  const stream = "sticky:stream";
  const reader = "sticky:reader";
  sink.lane(writer, "client", "write()", RANK_CLIENT);
  sink.lane(stream, "TCP byte stream", "the kernels' buffers", RANK_MIDDLE);
  sink.lane(reader, "server", "read()", RANK_SERVER);
  const group = stickyGroup(e);
  const times = list(e.timesMs).map(num);
  switch (e.event) {
    case "sent": {
      if (e.fix) sink.section(textOf(e).split(": wrote")[0], "ms since connect");
      else sink.section("", "ms since connect");
      const sizes = list(e.sizes).map(num);
      list(e.writes).forEach((bytes, i) => {
        sink.arrow({
          from: writer,
          to: stream,
          label: `write ${str(bytes)}`,
          marks: [`${sizes[i] ?? "?"} B`],
          t: times[i] ?? null,
          explainKey: `${group}/write/${i + 1}`,
          detail: `write #${i + 1} of ${list(e.writes).length}: ${sizes[i]} bytes ${str(bytes)}`,
        });
      });
      return;
    }
    case "received": {
      const sizes = list(e.sizes).map(num);
      const reads = list(e.reads);
      if (reads.length && typeof reads[0] === "number") {
        sink.note({ lane: reader, text: textOf(e), explainKey: `${group}/view` });
        return;
      }
      reads.forEach((bytes, i) => {
        sink.arrow({
          from: stream,
          to: reader,
          label: `read ${str(bytes)}`,
          marks: [`${sizes[i] ?? "?"} B`],
          t: times[i] ?? null,
          explainKey: `${group}/read/${i + 1}`,
          detail: `read #${i + 1} of ${reads.length}: ${sizes[i]} bytes ${str(bytes)}`,
        });
      });
      return;
    }
    case "result": {
      const text = textOf(e).replace(/^-+>\s*/, "→ ");
      if (e.fix === "sleep" && e.fastReads !== undefined) sink.section("c) sleep between sends");
      const tone = e.intact === false || e.glued === true
        ? "warn"
        : e.intact === true
        ? "good"
        : "result";
      sink.note({
        lane: e.refused ? writer : reader,
        text,
        tone,
        explainKey: e.part === "glue" || e.fix === "sleep" ? `${group}/view` : null,
        manyExplains: e.fix === "sleep",
      });
      return;
    }
    case "explain":
      sink.explain(
        e.index ? `${group}/${str(e.direction)}/${str(e.index)}` : `${group}/view`,
        str(e.text),
      );
      return;
    case "log":
      if (isHeading(textOf(e))) sink.section(textOf(e));
      return;
    default:
      common(e, sink, "");
  }
}

/** @type {Record<string, string>} */
const LIFECYCLE_LANES = { client: "lc:client", server: "lc:server", listener: "lc:listener" };

/**
 * tcp/lifecycle.ts: the client's and the server's calls, the segments their kernels send, and
 * every socket's state after each step (read from /proc/net/tcp, or marked inferred).
 * @type {Reader}
 */
function lifecycleReader(e, sink) {
  sink.lane(LIFECYCLE_LANES.client, "client", "", RANK_CLIENT);
  sink.lane(LIFECYCLE_LANES.server, "server", "", RANK_SERVER);
  sink.lane(LIFECYCLE_LANES.listener, "listener", "", RANK_LAST);
  const actor = str(e.actor);
  const me = LIFECYCLE_LANES[actor] ?? LIFECYCLE_LANES.client;
  const peer = me === LIFECYCLE_LANES.client ? LIFECYCLE_LANES.server : LIFECYCLE_LANES.client;
  // The step's text without its number and its states line.
  const call = textOf(e).split("\n")[0].replace(/^\d+\.\s*/, "");
  switch (e.event) {
    case "listening":
      sink.lane(LIFECYCLE_LANES.listener, "listener", str(e.address), RANK_LAST);
      sink.note({ lane: LIFECYCLE_LANES.listener, text: "listen()", tone: "info" });
      break;
    case "connected":
      sink.lane(LIFECYCLE_LANES.client, "client", str(e.local), RANK_CLIENT);
      sink.lane(LIFECYCLE_LANES.server, "server", str(e.remote), RANK_SERVER);
      sink.arrow({
        from: LIFECYCLE_LANES.client,
        to: LIFECYCLE_LANES.server,
        label: "connect() / accept(): SYN, SYN+ACK, ACK",
        marks: ["three-way handshake (kernels)", formatMs(num(e.ms))],
        style: "kernel",
        detail: call,
        explainKey: null,
      });
      break;
    case "sent":
    case "disconnected":
      if (e.segment === "FIN") {
        sink.arrow({
          from: me,
          to: peer,
          label: `FIN (${str(e.call)}())`,
          marks: ["sent by the kernel"],
          style: "fin",
          detail: call,
          explainKey: null,
        });
      } else if (e.event === "sent") {
        sink.arrow({
          from: me,
          to: peer,
          label: `write(): ${num(e.bytes) ?? "?"} B`,
          detail: call,
          explainKey: `${actor}/write`,
        });
      } else sink.note({ lane: me, text: call, tone: "info" });
      break;
    case "received":
      sink.note({ lane: me, text: call, tone: "info", explainKey: `${actor}/read` });
      break;
    case "explain":
      sink.explain(`${actor}/${str(e.direction)}`, str(e.text));
      return;
    case "result":
      sink.note({ lane: null, text: textOf(e).replace(/^→\s*/, ""), tone: "result" });
      return;
    default:
      return common(e, sink, "");
  }
  /** @type {StateCell[]} */
  const cells = list(e.states).map((s) => {
    const r = /** @type {Record<string, unknown>} */ (s ?? {});
    const source = r.source === "proc" || r.source === "absent" ? r.source : "inferred";
    return { lane: LIFECYCLE_LANES[str(r.socket)] ?? me, state: str(r.state), source };
  });
  if (cells.length) sink.states(cells, "states");
}

/**
 * udp/truncate.ts: the sender, the receiving socket's queue in the kernel, and the program
 * calling recvfrom — a datagram waits whole in the queue and is cut when it is read.
 * @type {Reader}
 */
function truncateReader(e, sink) {
  const sender = "udp:sender";
  const queue = "udp:queue";
  const receiver = "udp:receiver";
  const text = textOf(e);
  switch (e.event) {
    case "sent":
      sink.lane(sender, "sender", str(e.from), RANK_CLIENT);
      sink.lane(queue, "receiving socket", `${str(e.to)} (kernel queue)`, RANK_MIDDLE);
      sink.lane(receiver, "receiver", "recvfrom()", RANK_SERVER);
      sink.arrow({
        from: sender,
        to: queue,
        label: `sendto(): one datagram, ${num(e.bytes) ?? "?"} B`,
        marks: ["UDP"],
        explainKey: "sent",
      });
      return;
    case "received": {
      const dropped = num(e.dropped) ?? 0;
      sink.arrow({
        from: queue,
        to: receiver,
        label: `recvfrom(): ${num(e.bytes) ?? "?"} B${
          num(e.bufferSize) ? ` into ${num(e.bufferSize)} B` : ""
        }`,
        marks: dropped ? [`${dropped} B dropped`] : ["the next datagram, whole"],
        warn: dropped > 0,
        explainKey: "received",
      });
      return;
    }
    case "result":
      if (!/^\s/.test(str(e.text))) sink.section(text);
      else {
        sink.note({
          lane: null,
          text,
          tone: e.intact === true ? "good" : "result",
          explainKey: `${str(e.part)}/view`,
        });
      }
      return;
    case "explain":
      sink.explain(e.part === "truncation" ? str(e.direction) : `${str(e.part)}/view`, str(e.text));
      return;
  }
}

/**
 * udp/broadcast.ts: one sender, the broadcast address, and every listener process that got a
 * copy (each listener is its own source, `listener-1`, `listener-2`, …).
 * @type {Reader}
 */
function broadcastReader(e, sink, source) {
  const me = selfLane(source);
  const memory = sink.memory();
  const name = source.replace(/-/g, " ");
  switch (e.event) {
    case "listening":
      memory.bound = addressLane(e.address);
      sink.lane(me, name, str(e.address), RANK_SERVER);
      return;
    case "sent": {
      const lane = addressLane(e.to);
      sink.lane(me, name, str(e.from), RANK_CLIENT);
      sink.lane(lane, "broadcast address", str(e.to), RANK_MIDDLE);
      sink.arrow({
        from: me,
        to: lane,
        label: `sendto(): one datagram, ${num(e.bytes) ?? "?"} B`,
        marks: ["UDP", "broadcast"],
        explainKey: source,
      });
      sink.memory("broadcast")[lane] = true;
      sink.release(lane);
      return;
    }
    case "received": {
      // Another process sent it: a listener may report before the sender does, but its arrow
      // comes after the sendto.
      const lane = str(memory.bound ?? addressLane(e.from));
      if (!sink.memory("broadcast")[lane] && sink.defer(lane)) return;
      sink.lane(lane, "broadcast address", lane.slice("addr:".length), RANK_MIDDLE);
      sink.arrow({
        from: lane,
        to: me,
        label: `recvfrom(): ${num(e.bytes) ?? "?"} B from ${str(e.from)}`,
        marks: ["a copy for this socket"],
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

/** The reader for each tool; `genericReader` for the rest. @type {Record<string, Reader>} */
export const READERS = {
  "http/demo": demoReader,
  "dns/internet": internetReader,
  "dns/query": traceReader,
  "tcp/sticky": stickyReader,
  "tcp/lifecycle": lifecycleReader,
  "udp/truncate": truncateReader,
  "udp/broadcast": broadcastReader,
};
