/**
 * http/lab.ts over plain HTTP: the script (help, flags, first line, Ctrl-C), the page and its
 * files and nothing else, every experiment's Server-Sent Events stream (in order, ending by
 * itself, each process's events drawn by http/lab/diagram.js as the page would), and the rules:
 * an unknown experiment is 404, one run at a time per browser (409), a few in all (503), runs
 * stop at their deadline and when the client leaves, foreign Host or Origin is refused.
 */
import assert from "node:assert/strict";
import { readAll, ROOT, runScript, writeAll } from "../_helpers.ts";
import { EVENT_NAMES } from "../../tcp/kit/report.ts";
import { type Lab, serveLab } from "../../http/lab.ts";
import { type Experiment, EXPERIMENTS } from "../../http/lab/experiments.ts";
import { runStream } from "../../http/lab/runs.ts";
import { layoutDiagram } from "../../http/lab/diagram.js";

interface SseMessage {
  type: string;
  id: number;
  data: Record<string, unknown>;
}

/** Reads a whole event stream (or `count` messages), failing after `timeoutMs`. */
async function readSse(
  body: ReadableStream<Uint8Array>,
  { count = Infinity, timeoutMs = 12_000 } = {},
): Promise<SseMessage[]> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const messages: SseMessage[] = [];
  const timer = setTimeout(() => reader.cancel(new Error("timed out")), timeoutMs);
  let buffer = "";
  try {
    while (messages.length < count) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += value;
      for (let end; (end = buffer.indexOf("\n\n")) >= 0 && messages.length < count;) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const field = (name: string) =>
          block.split("\n").find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
        messages.push({
          type: field("event") ?? "message",
          id: Number(field("id")),
          data: JSON.parse(field("data") ?? "null"),
        });
      }
    }
    if (messages.length < count) {
      assert.ok(buffer === "", `a partial message at the end: ${buffer}`);
    }
    return messages;
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
  }
}

/** A GET with a Host header of our choosing; returns the whole response as text. */
async function rawGet(base: string, path: string, host: string): Promise<string> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(new URL(base).port) });
  const request = `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
  await writeAll(conn, new TextEncoder().encode(request));
  return new TextDecoder().decode(await readAll(conn, { maxBytes: 1 << 20 }));
}

const cookie = (n: number) => `netlab_lab=${n.toString(16).padStart(32, "0")}`;

/** A test experiment that waits for a datagram that never comes: only the deadline ends it. */
const WAITS: Experiment = {
  id: "waits",
  title: "waits",
  summary: "",
  commands: [],
  caveats: [],
  async start(run) {
    const listen = ["listen", "--host", "127.0.0.1", "--port", "0", "--count", "1", "--json"];
    await run.spawn("listener", "udp/broadcast.ts", listen).done;
  },
};

/** An in-process lab with the real experiments and `waits`; `short`: runs stop after 1.5 s. */
async function startLab(
  { short = false, ...options }: { epoll?: boolean; maxRuns?: number; short?: boolean } = {},
): Promise<Lab & { url: string }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const lab = await serveLab(listener, {
    ...options,
    experiments: [...EXPERIMENTS, WAITS],
    runs: short ? { deadlineMs: 1500, hardLimitMs: 5000 } : undefined,
  });
  return Object.assign(lab, { url: `http://127.0.0.1:${listener.addr.port}` });
}

Deno.test("http/lab.ts --help, a bad flag and a host beyond loopback", async () => {
  const help = await runScript("http/lab.ts", ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: deno task lab \[--host HOST\] \[--port PORT\]\n/);
  const bad = await runScript("http/lab.ts", ["--bogus"]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, "error: unknown option --bogus (see --help)\n");
  const host = await runScript("http/lab.ts", ["--host", "0.0.0.0"]);
  assert.equal(host.code, 2);
  assert.match(
    host.stderr,
    /^error: Invalid --host "0\.0\.0\.0": the lab only listens on loopback/,
  );
  const port = await runScript("http/lab.ts", ["--port", "70000"]);
  assert.equal(port.code, 2);
  assert.equal(port.stderr, "error: --port must be 0–65535, got 70000 (see --help)\n");
});

Deno.test("http/lab.ts serves the page, its modules and nothing else; Ctrl-C stops it", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "http/lab.ts", "--port", "0"],
    cwd: ROOT,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    const { value: first = "" } = await lines.read();
    const m = /^lab on (http:\/\/127\.0\.0\.1:(\d+)\/)\n/.exec(first);
    assert.ok(m, `first line: ${JSON.stringify(first)}`);
    const base = m[1];
    const page = await fetch(base);
    assert.equal(page.status, 200);
    assert.match(
      page.headers.get("set-cookie") ?? "",
      /^netlab_lab=[0-9a-f]{32}; Path=\/; HttpOnly; SameSite=Strict$/,
    );
    assert.match(page.headers.get("content-security-policy") ?? "", /default-src 'self'/);
    const html = await page.text();
    assert.match(html, /<script type="module" src="\/lab\.js"><\/script>/);
    assert.doesNotMatch(html, /https?:\/\//, "nothing from elsewhere");
    for (
      const file of ["lab.js", "lab.css", "diagram.js", "readers.js", "reader_kit.js", "svg.js"]
    ) {
      const r = await fetch(`${base}${file}`);
      assert.equal(r.status, 200, file);
      assert.doesNotMatch(await r.text(), /\bimport\b[^;]*https?:/, file);
    }
    for (const path of ["index.htm", "lab.md", "../lab.ts", "run", "experiments"]) {
      const r = await fetch(`${base}${path}`);
      await r.body?.cancel();
      assert.equal(r.status, 404, path);
    }
    const list = await (await fetch(`${base}experiments.json`)).json();
    assert.deepEqual(list.map((e: { id: string }) => e.id), [
      "open-url",
      "sticky",
      "tcp-lifecycle",
      "udp-truncate",
      "udp-broadcast",
      "dns-trace",
    ]);
    child.kill("SIGINT");
    const status = await child.status;
    assert.equal(status.code, 130);
  } finally {
    await lines.cancel();
    await child.stderr.cancel();
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
  }
});

/** What each experiment must draw from its real events (the page's layout, no browser). */
const EXPECTED: Record<string, (model: ReturnType<typeof layoutDiagram>) => void> = {
  "open-url"(model) {
    const labels = arrowLabels(model);
    assert.deepEqual(model.lanes.map((l) => l.label), [
      "browser",
      "local DNS",
      "DNS root .",
      "DNS com.",
      "DNS cnblogs.com.",
      "web server",
    ]);
    // The browser asks the local DNS server twice (the second is a cache hit); the local server
    // asks each zone only what it needs (QNAME minimisation): com., cnblogs.com., then the name.
    assert.equal(labels.filter((l) => l === "www.cnblogs.com. A?").length, 3);
    assert.ok(labels.includes("com. A?") && labels.includes("cnblogs.com. A?"));
    assert.ok(labels.includes("answer (from the cache)"));
    assert.ok(labels.includes("referral: ask com."));
    assert.ok(labels.includes("GET /linhaifeng/articles/6817679.html"));
    assert.ok(labels.includes("200 OK"));
    assert.equal(arrowsOf(model).filter((a) => a.explain === null).length, 1); // the handshake
  },
  sticky(model) {
    const labels = arrowLabels(model);
    assert.deepEqual(labels.slice(0, 5), [
      'write "hello"',
      'write "world"',
      'write "你好"',
      'write "q"',
      'read "helloworld你好q"',
    ]);
    assert.ok(labels.includes('write "3##5##"'));
    assert.ok(labels.includes('write "\\x00\\x00\\x00\\x043##5"'));
    assert.ok(model.rows.some((r) => r.kind === "note" && /BROKEN/.test(r.text)));
    assert.ok(arrowsOf(model).every((a) => a.explain !== null));
  },
  "tcp-lifecycle"(model) {
    assert.deepEqual(arrowLabels(model), [
      "connect() / accept(): SYN, SYN+ACK, ACK",
      "write(): 12 B",
      "FIN (closeWrite())",
      "write(): 12 B",
      "FIN (close())",
    ]);
    const states = model.rows.filter((r) => r.kind === "states");
    const last = states.at(-1);
    assert.ok(last?.kind === "states");
    const client = last.cells.find((c) => c.lane === "lc:client");
    assert.equal(client?.state, "TIME_WAIT");
  },
  "udp-truncate"(model) {
    assert.deepEqual(arrowLabels(model), [
      "sendto(): one datagram, 5000 B",
      "sendto(): one datagram, 17 B",
      "recvfrom(): 1024 B into 1024 B",
      "recvfrom(): 17 B",
    ]);
    assert.deepEqual(arrowsOf(model)[2].marks, ["3976 B dropped"]);
  },
  "udp-broadcast"(model) {
    assert.deepEqual(arrowLabels(model).map((l) => l.replace(/from \S+/, "from …")), [
      "sendto(): one datagram, 15 B",
      "recvfrom(): 15 B from …",
      "recvfrom(): 15 B from …",
    ]);
    assert.deepEqual(model.lanes.map((l) => l.label).sort(), [
      "broadcast address",
      "listener 1",
      "listener 2",
      "sender",
    ]);
  },
  "dns-trace"(model) {
    const arrows = arrowsOf(model);
    assert.equal(arrows.length, 8);
    assert.deepEqual(
      arrows.filter((a) => a.from === "src:query").map((a) => a.marks.at(-1)),
      ["root (--root)", "address from the cache", "glue", "glue"],
    );
    assert.ok(arrows.every((a) => a.explain !== null));
  },
};

type Model = ReturnType<typeof layoutDiagram>;
const arrowsOf = (model: Model) =>
  model.rows.filter((r): r is Extract<Model["rows"][number], { kind: "arrow" }> =>
    r.kind === "arrow"
  );
const arrowLabels = (model: Model) => arrowsOf(model).map((a) => a.label);

for (const experiment of EXPERIMENTS) {
  Deno.test(`lab run "${experiment.id}": events in order, drawn as expected, ends by itself`, async () => {
    await using lab = await startLab();
    const started = performance.now();
    const response = await fetch(`${lab.url}/run/${experiment.id}`, {
      headers: { cookie: cookie(1) },
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
    const messages = await readSse(response.body!);
    const ms = performance.now() - started;
    assert.ok(ms < 10_000, `the run took ${ms} ms`);
    assert.equal(messages[0].type, "start");
    assert.equal(messages[0].data.id, experiment.id);
    assert.equal(messages.at(-1)?.type, "end");
    assert.equal(messages.at(-1)?.data.ok, true, JSON.stringify(messages.at(-1)?.data));
    assert.deepEqual(messages.map((m) => m.id), messages.map((_, i) => i));
    const lines = messages.filter((m) => m.type === "line").map((m) => m.data) as {
      source: string;
      event: Record<string, unknown>;
    }[];
    // Every line is one event of the shared schema; each process's events keep their order.
    const lastTs = new Map<string, number>();
    for (const { source, event } of lines) {
      assert.ok(EVENT_NAMES.includes(String(event.event)), `${source}: ${event.event}`);
      const ts = Date.parse(String(event.ts));
      assert.ok(ts >= (lastTs.get(source) ?? 0), `${source} out of order`);
      lastTs.set(source, ts);
    }
    // Nothing left loopback: every IPv4 address any process reported is in 127.0.0.0/8.
    const addresses = JSON.stringify(lines).match(/(?<![\d.])\d{1,3}(\.\d{1,3}){3}(?![\d.])/g) ??
      [];
    assert.ok(addresses.length > 0);
    assert.deepEqual(addresses.filter((a) => !a.startsWith("127.") && a !== "0.0.0.0"), []);
    const exits = messages.filter((m) => m.type === "exit");
    // Each process ends by itself (0), or is a server the run stopped (130: interrupted).
    assert.ok(
      exits.length >= 1 && exits.every((m) => m.data.code === 0 || m.data.code === 130) &&
        exits.some((m) => m.data.code === 0),
      JSON.stringify(exits),
    );
    const model = layoutDiagram(lines, { width: 1200 });
    EXPECTED[experiment.id](model);
    assert.equal(model.unmatchedExplains, 0);
    // Every arrow comes from a real event: a message event of the process that reported it.
    for (const a of arrowsOf(model)) {
      assert.equal(lines[a.event].source, a.source);
      assert.match(
        String(lines[a.event].event.event),
        /^(sent|received|query|answer|referral|request|response|connected|disconnected)$/,
      );
    }
  });
}

for (const epoll of [true, false]) {
  const mode = epoll ? "epoll" : "Deno's reads";
  Deno.test(`lab: 404, one run per browser, the deadline, the client leaving (${mode})`, async () => {
    await using lab = await startLab({ epoll, short: true });
    const missing = await fetch(`${lab.url}/run/no-such-thing`, { headers: { cookie: cookie(1) } });
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /^No experiment "no-such-thing"/);
    const odd = await fetch(`${lab.url}/run/..%2F..%2Fetc`, { headers: { cookie: cookie(1) } });
    assert.equal(odd.status, 404);
    await odd.body?.cancel();

    const first = await fetch(`${lab.url}/run/waits`, { headers: { cookie: cookie(1) } });
    assert.equal(first.status, 200);
    const reading = readSse(first.body!); // the whole run, read while the rest goes on
    // The same browser again while its run goes on: refused. Another browser: fine.
    const again = await fetch(`${lab.url}/run/waits`, { headers: { cookie: cookie(1) } });
    assert.equal(again.status, 409);
    assert.match(await again.text(), /one at a time/);
    const other = await fetch(`${lab.url}/run/sticky`, { headers: { cookie: cookie(2) } });
    assert.equal(other.status, 200);
    await other.body!.cancel(); // leaves at once: its run is stopped
    // A page elsewhere cannot start runs.
    const foreign = await fetch(`${lab.url}/run/waits`, {
      headers: { cookie: cookie(3), origin: "http://evil.example" },
    });
    assert.equal(foreign.status, 403);
    await foreign.body?.cancel();
    // A name that is not the lab's (DNS rebinding): fetch cannot set Host, a raw request can.
    assert.match(await rawGet(lab.url, "/", "evil.example"), /^HTTP\/1\.1 403 Forbidden\r\n/);
    assert.match(
      await rawGet(lab.url, "/", `localhost:${new URL(lab.url).port}`),
      /^HTTP\/1\.1 200 /,
    );
    // The first run goes on to its deadline, undisturbed.
    const messages = await reading;
    assert.equal(messages[0].type, "start");
    assert.match(String(messages.at(-1)?.data.reason), /limit/);
  });
}

Deno.test("lab: a run that would never end stops at its deadline; then the browser may run again", async () => {
  await using lab = await startLab({ short: true });
  const started = performance.now();
  const first = await fetch(`${lab.url}/run/waits`, { headers: { cookie: cookie(1) } });
  const messages = await readSse(first.body!);
  const ms = performance.now() - started;
  const end = messages.at(-1)!;
  assert.equal(end.type, "end");
  assert.equal(end.data.ok, false);
  assert.match(String(end.data.reason), /^stopped at the 1\.5 s limit$/);
  assert.ok(ms >= 1400 && ms < 5000, `${ms} ms`);
  // The listener got SIGTERM: reported, not hidden.
  assert.ok(messages.some((m) => m.type === "exit" && m.data.source === "listener"));
  const again = await fetch(`${lab.url}/run/udp-truncate`, { headers: { cookie: cookie(1) } });
  assert.equal(again.status, 200);
  assert.equal((await readSse(again.body!)).at(-1)?.data.ok, true);
});

Deno.test("lab: at most maxRuns at once in all (503)", async () => {
  await using lab = await startLab({ maxRuns: 1, short: true });
  const first = await fetch(`${lab.url}/run/waits`, { headers: { cookie: cookie(1) } });
  assert.equal(first.status, 200);
  const second = await fetch(`${lab.url}/run/waits`, { headers: { cookie: cookie(2) } });
  assert.equal(second.status, 503);
  assert.equal(second.headers.get("retry-after"), "5");
  await second.body?.cancel();
  await first.body!.cancel();
});

Deno.test("runStream: a client that leaves stops the run's processes", async () => {
  const run = runStream(WAITS, { deadlineMs: 30_000, hardLimitMs: 40_000 });
  const reader = run.body.getReader();
  const { value } = await reader.read();
  assert.match(new TextDecoder().decode(value), /^event: start\nid: 0\n/);
  const started = performance.now();
  await reader.cancel();
  // Everything it started has exited long before any deadline.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<string>((resolve) => (timer = setTimeout(resolve, 5000, "late")));
  const outcome = await Promise.race([run.settled.then(() => "settled"), late]);
  clearTimeout(timer);
  assert.equal(outcome, "settled", "the run's processes outlived the client by 5 s");
  assert.ok(performance.now() - started < 5000);
});
