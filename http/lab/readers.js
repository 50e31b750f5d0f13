// @ts-check
/**
 * What each netlab script's `--json` events mean in a sequence diagram: who the parties are
 * (lanes), which events are messages between them (arrows), which are notes, socket states or
 * section headings, and which `explain` view belongs to which message. One reader per tool (the
 * event's `tool` field, `READERS`); anything else goes through `genericReader` (reader_kit.js).
 *
 * Pure: events in, calls on a `Sink` out (diagram.js implements it). Loaded as-is by the browser
 * and imported by the tests.
 */
import {
  addressLane,
  common,
  dnsServerLane,
  firstRecord,
  formatMs,
  isHeading,
  list,
  num,
  RANK_CLIENT,
  RANK_LAST,
  RANK_MIDDLE,
  RANK_SERVER,
  selfLane,
  str,
  textOf,
} from "./reader_kit.js";

/** @typedef {import("./reader_kit.js").NetlabEvent} NetlabEvent */
/** @typedef {import("./reader_kit.js").Reader} Reader */
/** @typedef {import("./reader_kit.js").StateCell} StateCell */

/**
 * http/demo.ts: the browser asks the local DNS server, which walks from the root down for it
 * (or answers from its cache); then the browser connects, asks, reads.
 * @type {Reader}
 */
function demoReader(e, sink, source) {
  const me = selfLane(source);
  const memory = sink.memory();
  sink.lane(me, "browser", "http/demo.ts", RANK_CLIENT);
  /** The local DNS server's lane: every question from the browser, every walk from it. */
  const local = () => str(memory.local ?? "local DNS");
  switch (e.event) {
    case "listening":
      if (e.zone) dnsServerLane(sink, e.address, e.zone);
      else if (e.role === "local DNS") {
        memory.local = addressLane(e.address);
        sink.lane(local(), "local DNS", str(e.address), RANK_MIDDLE);
      } else sink.lane(addressLane(e.address), "web server", str(e.address), RANK_LAST);
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
      // Without a zone it is the browser's question to the local DNS server; with one, the
      // local server's question to that zone's server (QNAME-minimised: only what it needs).
      // (Without a local server in the run, the browser walks itself.)
      const walker = memory.local ? local() : me;
      const from = e.zone ? walker : me;
      const to = e.zone ? dnsServerLane(sink, e.server, e.zone) : local();
      sink.arrow({
        from,
        to,
        label: `${str(e.name)} ${str(e.type)}?`,
        marks: e.zone ? ["DNS", "UDP", `${str(e.source ?? "")}`].filter(Boolean) : ["DNS", "UDP"],
        // The walk's bytes come from the local server, the browser's own from the demo.
        explainKey: e.zone && memory.local ? `${source}:walk` : source,
      });
      return;
    }
    case "referral":
    case "answer": {
      if (!e.zone && e.cache) {
        sink.arrow({
          from: local(),
          to: me,
          label: `answer (${
            e.cache === "hit" ? "from the cache" : `after ${str(e.queries)} queries`
          })`,
          marks: [formatMs(num(e.ms))],
          explainKey: source,
        });
        return;
      }
      const lane = dnsServerLane(sink, e.server, e.zone);
      sink.arrow({
        from: lane,
        to: e.zone && memory.local ? local() : me,
        label: e.event === "referral"
          ? `referral: ask ${str(e.referral)}`
          : `answer: ${firstRecord(list(e.records))}`,
        marks: [`${num(e.bytes ?? e.size) ?? "?"} B`, formatMs(num(e.ms ?? e.elapsed_ms))],
        explainKey: e.zone && memory.local ? `${source}:walk` : source,
      });
      return;
    }
    case "explain":
      sink.explain(e.walk ? `${source}:walk` : source, str(e.text));
      return;
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
