/**
 * The lab's event → diagram layout (http/lab/diagram.js, readers.js, reader_kit.js, svg.js) as
 * pure functions: events in, a model out — lanes, arrows, labels, notes, states, the `explain`
 * view each message carries — and the model as SVG. The events are shaped exactly as the scripts
 * print them (tests/cli/lab_sources_test.ts checks the scripts' side; tests/http/lab_test.ts runs both
 * together).
 */
import assert from "node:assert/strict";
import { fitText, GEOMETRY, layoutDiagram, textWidth, wrapText } from "../../http/lab/diagram.js";
import { diagramSvg, escapeXml } from "../../http/lab/svg.js";

type Fields = Record<string, unknown>;
type Arrow = Extract<ReturnType<typeof layoutDiagram>["rows"][number], { kind: "arrow" }>;
type Note = Extract<ReturnType<typeof layoutDiagram>["rows"][number], { kind: "note" }>;

/** `{ source, event }` records as the lab streams them, ts 1 ms apart from a fixed start. */
function run(source: string, tool: string, events: [string, Fields?][], startMs = 0) {
  return events.map(([event, fields = {}], i) => ({
    source,
    event: {
      ts: new Date(Date.UTC(2026, 0, 1) + startMs + i).toISOString(),
      tool,
      event,
      text: String(fields.text ?? event),
      ...fields,
    },
  }));
}

const arrows = (model: ReturnType<typeof layoutDiagram>) =>
  model.rows.filter((r): r is Arrow => r.kind === "arrow");
const notes = (model: ReturnType<typeof layoutDiagram>) =>
  model.rows.filter((r): r is Note => r.kind === "note");
const laneLabel = (model: ReturnType<typeof layoutDiagram>, id: string) =>
  model.lanes.find((l) => l.id === id)?.label;

Deno.test("layoutDiagram: the demo's DNS walk and HTTP exchange, one arrow per message", () => {
  const events = run("demo", "http/demo", [
    ["log", { text: "What happens when you open …" }],
    ["listening", { zone: ".", address: "127.0.0.2:53" }],
    ["listening", { zone: "com.", address: "127.0.0.3:53" }],
    ["listening", { address: "127.0.0.5:80" }],
    ["log", { text: "2. (a) DNS over UDP: an iterative query, from the root down" }],
    ["query", { server: "127.0.0.2:53", zone: ".", name: "www.cnblogs.com.", type: "A" }],
    ["referral", { server: "127.0.0.2:53", zone: ".", referral: "com.", bytes: 92, ms: 5.1 }],
    ["explain", { protocol: "dns", text: "DNS query, 44 bytes" }],
    ["explain", { protocol: "dns", text: "DNS reply, 92 bytes" }],
    ["connected", { local: "127.0.0.1:41542", remote: "127.0.0.5:80", ms: 1.2 }],
    ["request", { method: "GET", target: "/linhaifeng/articles/6817679.html" }],
    ["explain", { direction: "request", text: "HTTP request, 134 bytes" }],
    ["response", { status: 200, reason: "OK" }],
    ["explain", { direction: "response", text: "HTTP response, 2890 bytes" }],
  ]);
  const model = layoutDiagram(events, { width: 1000 });
  // The browser first, the servers in the order they were announced.
  assert.deepEqual(model.lanes.map((l) => l.label), [
    "browser",
    "DNS root .",
    "DNS com.",
    "web server",
  ]);
  assert.ok(model.lanes.every((l, i) => i === 0 || l.x > model.lanes[i - 1].x));
  const drawn = arrows(model);
  assert.deepEqual(
    drawn.map((a) => [laneLabel(model, a.from), laneLabel(model, a.to), a.label]),
    [
      ["browser", "DNS root .", "www.cnblogs.com. A?"],
      ["DNS root .", "browser", "referral: ask com."],
      ["browser", "web server", "connect(): SYN, SYN+ACK, ACK"],
      ["browser", "web server", "GET /linhaifeng/articles/6817679.html"],
      ["web server", "browser", "200 OK"],
    ],
  );
  // Each message carries its own annotated view; the handshake has none (no bytes were written).
  assert.deepEqual(drawn.map((a) => a.explain), [
    "DNS query, 44 bytes",
    "DNS reply, 92 bytes",
    null,
    "HTTP request, 134 bytes",
    "HTTP response, 2890 bytes",
  ]);
  assert.equal(drawn[2].style, "kernel");
  // Every arrow points back at the event it came from.
  for (const a of drawn) {
    assert.ok(
      ["query", "referral", "connected", "request", "response"].includes(
        String(events[a.event].event.event),
      ),
    );
  }
  // Rows go down the page; times come from the events' ts.
  assert.ok(model.rows.every((r, i) => i === 0 || r.y > model.rows[i - 1].y));
  assert.deepEqual(drawn.map((a) => a.time), [
    "5.00 ms",
    "6.00 ms",
    "9.00 ms",
    "10.0 ms",
    "12.0 ms",
  ]);
  assert.equal(model.rows[0].kind, "section");
  assert.equal(model.unmatchedExplains, 0);
});

Deno.test("layoutDiagram: +trace marks glue and glueless steps; a view may come before its reply", () => {
  const trace = run("query", "dns/query", [
    ["query", {
      zone: "test.",
      server: "127.0.0.12#53",
      server_name: "ns.test.",
      name: "www.noglue.test.",
      type: "A",
      source: "glue",
      reason: "… (glue)",
    }],
    ["explain", { server: "127.0.0.12#53", direction: "sent", text: "query bytes" }],
    ["explain", { server: "127.0.0.12#53", direction: "received", text: "reply bytes" }],
    ["referral", {
      server: "127.0.0.12#53",
      zone: "test.",
      referral: "noglue.test.",
      nameservers: ["ns.example.test."],
      glue: [],
      size: 70,
      elapsed_ms: 1.5,
    }],
    ["log", { zone: "noglue.test.", nameserver: "ns.example.test.", text: ";; came without glue" }],
    ["query", {
      zone: "noglue.test.",
      server: "127.0.0.14#53",
      server_name: "ns.example.test.",
      name: "www.noglue.test.",
      type: "A",
      source: "resolved",
      reason: "… without glue",
    }],
    ["answer", {
      zone: "noglue.test.",
      server: "127.0.0.14#53",
      answer: [{ name: "www.noglue.test.", type: "A", data: "192.0.2.2" }],
      flags: ["qr", "aa"],
      size: 60,
      elapsed_ms: 0.8,
    }],
  ]);
  const internet = run("internet", "dns/internet", [
    ["listening", { zone: "test.", address: "127.0.0.12:53" }],
  ]);
  const model = layoutDiagram([...internet, ...trace]);
  assert.deepEqual(model.lanes.map((l) => l.label), ["resolver", "DNS test.", "DNS noglue.test."]);
  const [ask, referral, ask2, answer] = arrows(model);
  assert.ok(ask.marks.includes("glue"));
  assert.equal(ask.explain, "query bytes");
  // The reply's view was printed before the referral event: it still lands on the reply.
  assert.equal(referral.explain, "reply bytes");
  assert.ok(referral.marks.includes("no glue (glueless)"));
  assert.equal(referral.warn, true);
  assert.ok(ask2.marks.includes("glueless: address looked up"));
  assert.equal(answer.label, "answer: www.noglue.test. A 192.0.2.2");
  assert.ok(answer.marks.includes("authoritative"));
  assert.match(notes(model)[0].text, /^glueless: "noglue\.test\." came without glue/);
});

Deno.test("layoutDiagram: 粘包 — four writes into the stream, one read out of it", () => {
  const model = layoutDiagram(run("sticky", "tcp/sticky", [
    ["log", { part: "glue", text: "1. 粘包: several small writes, a slow reader" }],
    ["sent", {
      part: "glue",
      sizes: [5, 5, 6, 1],
      writes: ['"hello"', '"world"', '"你好"', '"q"'],
      timesMs: [0.1, 0.2, 0.3, 0.4],
    }],
    ["explain", { part: "glue", direction: "write", index: 1, text: "write #1: 68 65 6c 6c 6f" }],
    ["received", {
      part: "glue",
      sizes: [17],
      reads: ['"helloworld你好q"'],
      timesMs: [0.9],
      glued: true,
    }],
    ["explain", { part: "glue", direction: "read", index: 1, text: "read #1: 17 bytes" }],
    ["result", { part: "glue", glued: true, text: "   -> the messages were glued together" }],
    ["explain", { part: "glue", text: "粘包 view: 4 writes → 1 read" }],
  ]));
  assert.deepEqual(model.lanes.map((l) => l.label), ["client", "TCP byte stream", "server"]);
  const drawn = arrows(model);
  assert.deepEqual(drawn.map((a) => `${a.from}→${a.to} ${a.label} ${a.marks}`), [
    'sticky:writer→sticky:stream write "hello" 5 B',
    'sticky:writer→sticky:stream write "world" 5 B',
    'sticky:writer→sticky:stream write "你好" 6 B',
    'sticky:writer→sticky:stream write "q" 1 B',
    'sticky:stream→sticky:reader read "helloworld你好q" 17 B',
  ]);
  // Times are the script's own (ms since connect), and the section says so.
  assert.deepEqual(drawn.map((a) => a.time), [
    "0.10 ms",
    "0.20 ms",
    "0.30 ms",
    "0.40 ms",
    "0.90 ms",
  ]);
  const section = model.rows.find((r) => r.kind === "section");
  assert.equal(section?.kind === "section" && section.timeBase, "ms since connect");
  assert.equal(drawn[0].explain, "write #1: 68 65 6c 6c 6f");
  assert.equal(drawn[1].explain, null);
  assert.equal(drawn[4].explain, "read #1: 17 bytes");
  const [glued] = notes(model);
  assert.equal(glued.text, "→ the messages were glued together");
  assert.equal(glued.tone, "warn");
  assert.equal(glued.explain, "粘包 view: 4 writes → 1 read");
});

Deno.test("layoutDiagram: the TCP life cycle's FINs, handshake and socket states", () => {
  const states = (client: string, server: string, source = "proc") => [
    { socket: "client", state: client, source },
    { socket: "server", state: server, source: server === "CLOSED" ? "absent" : source },
  ];
  const model = layoutDiagram(run("lifecycle", "tcp/lifecycle", [
    ["listening", {
      actor: "listener",
      address: "127.0.0.1:9",
      states: [{ socket: "listener", state: "LISTEN", source: "proc" }],
      text: "listening on 127.0.0.1:9\n   states: listener LISTEN",
    }],
    ["connected", {
      actor: "client",
      local: "127.0.0.1:5",
      remote: "127.0.0.1:9",
      ms: 0.3,
      states: states("ESTABLISHED", "ESTABLISHED"),
    }],
    ["sent", { actor: "client", bytes: 3, states: states("ESTABLISHED", "ESTABLISHED") }],
    ["explain", { actor: "client", direction: "write", text: "61 62 63 |abc|" }],
    ["sent", {
      actor: "client",
      bytes: 0,
      segment: "FIN",
      call: "closeWrite",
      states: states("FIN_WAIT2", "CLOSE_WAIT", "inferred"),
    }],
    ["received", {
      actor: "server",
      bytes: 3,
      eof: true,
      text: "4. server read() ×1: 3 bytes, then null",
      states: states("FIN_WAIT2", "CLOSE_WAIT"),
    }],
    ["disconnected", {
      actor: "server",
      segment: "FIN",
      call: "close",
      states: states("TIME_WAIT", "CLOSED"),
    }],
  ]));
  assert.deepEqual(model.lanes.map((l) => [l.label, l.detail]), [
    ["client", "127.0.0.1:5"],
    ["server", "127.0.0.1:9"],
    ["listener", "127.0.0.1:9"],
  ]);
  assert.deepEqual(arrows(model).map((a) => [a.label, a.style, a.from]), [
    ["connect() / accept(): SYN, SYN+ACK, ACK", "kernel", "lc:client"],
    ["write(): 3 B", "message", "lc:client"],
    ["FIN (closeWrite())", "fin", "lc:client"],
    ["FIN (close())", "fin", "lc:server"],
  ]);
  assert.equal(arrows(model)[1].explain, "61 62 63 |abc|");
  const rows = model.rows.filter((r) => r.kind === "states");
  assert.equal(rows.length, 6);
  const last = rows.at(-1)!;
  assert.ok(last.kind === "states");
  assert.deepEqual(last.cells.map((c) => [c.state, c.source]), [["TIME_WAIT", "proc"], [
    "CLOSED",
    "absent",
  ]]);
  // Inferred states stay marked as such all the way to the SVG.
  const svg = diagramSvg(model);
  assert.match(
    svg,
    /<g class="state inferred"><title>FIN_WAIT2: inferred: not read from the kernel<\/title>/,
  );
  assert.match(svg, />FIN_WAIT2\?<\/text>/);
  assert.match(notes(model).find((n) => n.lane === "lc:server")!.text, /^server read\(\) ×1/);
});

Deno.test("layoutDiagram: UDP truncation through the socket's queue", () => {
  const route = { part: "truncation", from: "127.0.0.1:1000", to: "127.0.0.1:2000" };
  const model = layoutDiagram(run("truncate", "udp/truncate", [
    ["result", {
      part: "truncation",
      text: "UDP: one 5000-byte datagram into a 1024-byte receive buffer",
    }],
    ["sent", { ...route, bytes: 5000 }],
    ["sent", { ...route, bytes: 17 }],
    ["received", { ...route, bytes: 1024, bufferSize: 1024, dropped: 3976 }],
    ["explain", { ...route, direction: "received", text: "recvfrom returned 1024 bytes" }],
    ["received", { ...route, bytes: 17 }],
  ]));
  assert.deepEqual(model.lanes.map((l) => l.label), ["sender", "receiving socket", "receiver"]);
  assert.deepEqual(arrows(model).map((a) => [a.label, a.marks.join(), a.warn]), [
    ["sendto(): one datagram, 5000 B", "UDP", false],
    ["sendto(): one datagram, 17 B", "UDP", false],
    ["recvfrom(): 1024 B into 1024 B", "3976 B dropped", true],
    ["recvfrom(): 17 B", "the next datagram, whole", false],
  ]);
  assert.equal(arrows(model)[2].explain, "recvfrom returned 1024 bytes");
});

Deno.test("layoutDiagram: a broadcast drawn in causal order, whatever process reported first", () => {
  const l1 = run("listener-1", "udp/broadcast", [
    ["listening", { address: "127.255.255.255:7000" }],
  ]);
  const l2 = run("listener-2", "udp/broadcast", [
    ["listening", { address: "127.255.255.255:7000" }],
  ], 1);
  // Both listeners print before the sender does (separate processes: it happens).
  const got1 = run("listener-1", "udp/broadcast", [
    ["received", { from: "127.0.0.1:5555", bytes: 15 }],
    ["explain", { index: 1, text: "recvfrom #1: listener 1" }],
  ], 10);
  const got2 = run("listener-2", "udp/broadcast", [
    ["received", { from: "127.0.0.1:5555", bytes: 15 }],
  ], 11);
  const sent = run("sender", "udp/broadcast", [
    ["sent", { to: "127.255.255.255:7000", from: "127.0.0.1:5555", bytes: 15 }],
    ["explain", { to: "127.255.255.255:7000", text: "sendto: 15 bytes" }],
  ], 12);
  const events = [...l1, ...l2, ...got1, ...got2, ...sent];
  const model = layoutDiagram(events);
  assert.deepEqual(model.lanes.map((l) => l.label), [
    "sender",
    "broadcast address",
    "listener 1",
    "listener 2",
  ]);
  const drawn = arrows(model);
  assert.deepEqual(drawn.map((a) => `${laneLabel(model, a.from)} → ${laneLabel(model, a.to)}`), [
    "sender → broadcast address",
    "broadcast address → listener 1",
    "broadcast address → listener 2",
  ]);
  // Each keeps its own event and its own view.
  assert.deepEqual(drawn.map((a) => events[a.event].source), [
    "sender",
    "listener-1",
    "listener-2",
  ]);
  assert.deepEqual(drawn.map((a) => a.explain), [
    "sendto: 15 bytes",
    "recvfrom #1: listener 1",
    null,
  ]);
  // Without the sender's event the copies are still drawn (never lost).
  assert.equal(arrows(layoutDiagram([...l1, ...got1])).length, 1);
});

Deno.test("layoutDiagram: unknown tools, odd events and a new party take the generic path", () => {
  const model = layoutDiagram([
    ...run("local", "dns/resolver_server", [
      ["listening", { address: "127.0.0.53:53" }],
      ["received", { from: "127.0.0.1:4000", to: "127.0.0.53:53", bytes: 40 }],
      ["explain", { text: "stub query" }],
      ["error", { text: "something went wrong" }],
    ]),
    { source: "junk", event: null as unknown as Fields },
    { source: "junk", event: { tool: "tcp/sticky", event: "sent", writes: "not a list" } },
    { source: "junk", event: { tool: "http/demo", event: "query" } },
  ]);
  const [arrow] = arrows(model);
  assert.equal(arrow.label, "received 40");
  assert.equal(arrow.explain, "stub query");
  assert.ok(model.lanes.some((l) => l.label === "local" && l.detail === "127.0.0.53:53"));
  assert.ok(notes(model).some((n) => n.tone === "warn" && n.text === "something went wrong"));
});

Deno.test("layoutDiagram: more lanes than fit make the diagram wider, never narrower lanes", () => {
  const servers = Array.from({ length: 8 }, (_, i) => i + 2);
  const events = run(
    "demo",
    "http/demo",
    servers.map((n) => ["listening", {
      zone: `z${n}.`,
      address: `127.0.0.${n}:53`,
    }]),
  );
  const model = layoutDiagram(events, { width: 360 });
  assert.equal(model.lanes.length, 9);
  const gaps = model.lanes.slice(1).map((l, i) => l.x - model.lanes[i].x);
  assert.ok(gaps.every((g) => g >= GEOMETRY.minLaneGap - 1), String(gaps));
  assert.ok(model.width > 360);
  // Titles and details are cut to their lane's room.
  for (const lane of model.lanes) {
    assert.ok(textWidth(lane.shownDetail, 10.5) <= 2 * GEOMETRY.laneHalf, lane.shownDetail);
  }
  assert.ok(layoutDiagram(events, { width: 3000 }).width === 3000);
});

Deno.test("fitText, wrapText and textWidth fit labels without a browser", () => {
  assert.equal(fitText("short", 200), "short");
  const cut = fitText("a".repeat(100), 60);
  assert.ok(cut.endsWith("…") && textWidth(cut) <= 60, cut);
  assert.equal(textWidth("你好"), 2 * GEOMETRY.fontPx);
  assert.equal(textWidth("ab"), 2 * 0.6 * GEOMETRY.fontPx);
  const lines = wrapText("one two three four five six seven eight nine ten", 60, 2);
  assert.equal(lines.length, 2);
  assert.ok(lines[1].endsWith("…"));
  assert.deepEqual(wrapText("a\nb", 100, 3), ["a", "b"]);
});

Deno.test("diagramSvg escapes every text, names its arrows for keyboards, and can be static", () => {
  const evil = '<script>alert("x")</script> & \'';
  const model = layoutDiagram(run("t", "udp/truncate", [
    ["sent", { part: "truncation", from: "127.0.0.1:1", to: "127.0.0.1:2", bytes: 1, text: evil }],
    ["result", { text: evil }],
  ]));
  const svg = diagramSvg(model, { title: evil });
  assert.doesNotMatch(svg, /<script/);
  assert.match(svg, /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt; &amp; &#39;/);
  assert.equal(escapeXml(`<&>"'`), "&lt;&amp;&gt;&quot;&#39;");
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" viewBox="0 0 \d+ \d+"/);
  assert.match(
    svg,
    /<g class="arrow message" data-item="row-0" tabindex="0" role="button" aria-label="sendto\(\): one datagram, 1 B, UDP, at 0\.00 ms">/,
  );
  const still = diagramSvg(model, { interactive: false });
  assert.doesNotMatch(still, /tabindex="|data-item="/);
  assert.equal((still.match(/<g class="arrow/g) ?? []).length, 1);
});
