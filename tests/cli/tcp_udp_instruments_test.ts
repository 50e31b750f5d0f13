/**
 * The TCP and UDP instruments, end to end: every TCP/UDP CLI run with `--json` prints pure NDJSON in
 * the shared schema (every line parses, required fields present, event names from the schema);
 * `--explain` narrates seed 001's server steps with the real address and backlog and shows every
 * read and write; `--stats` prints RTTs and the summary; `udp/client.ts --count` counts loss,
 * duplicates and reordering against a fake server that drops, duplicates and reorders on cue.
 */
import assert from "node:assert/strict";
import { assertNdjson, type JsonEvent, ROOT, runScript, startScript } from "../_helpers.ts";
import { EVENT_NAMES } from "../../tcp/kit/report.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `assertNdjson` plus this schema's extras: event names from the list, a string `text`. */
function schemaEvents(stdout: string, tool: string): JsonEvent[] {
  const events = assertNdjson(stdout, tool);
  assert.ok(events.length > 0, `${tool} printed no events`);
  for (const e of events) {
    assert.ok(EVENT_NAMES.includes(e.event), `${tool}: event "${e.event}" is not in the schema`);
    assert.equal(typeof e.text, "string", `${tool}: event without text`);
  }
  return events;
}

Deno.test("--json: tcp/server (with --explain) and tcp/client (with --stats --explain)", async () => {
  const server = await startScript("tcp/server.ts", ["--port", "0", "--json", "--explain"]);
  try {
    const client = await runScript(
      "tcp/client.ts",
      ["--port", String(server.port), "--json", "--stats", "--explain"],
      { stdin: "hello\n你好\nq\n" },
    );
    assert.equal(client.code, 0, client.stderr);
    const events = schemaEvents(client.stdout, "tcp/client");
    const replies = events.filter((e) => e.event === "received");
    assert.deepEqual(replies.map((e) => e.text), ["HELLO", "你好"]);
    assert.ok(replies.every((e) => typeof e.rttMs === "number" && e.rttMs >= 0));
    const summary = events.find((e) => e.event === "stats" && typeof e.rtt === "object");
    assert.equal((summary?.rtt as { count: number }).count, 2);
    assert.ok(events.some((e) => e.event === "explain" && String(e.text).includes("粘包 view")));
    await server.waitForLine(/"event":"disconnected"/);
  } finally {
    const result = await server.stop();
    assert.equal(result.code, 130, result.stderr);
    const events = schemaEvents(result.stdout, "tcp/server");
    assert.equal(events[0].event, "listening");
    assert.equal(events[0].address, server.address);
    const steps = events.filter((e) => e.event === "explain").map((e) => e.step);
    for (const step of ["create", "bind", "listen", "accept", "exchange", "close"]) {
      assert.ok(steps.includes(step), `no step ${step} in ${steps.join(",")}`);
    }
    assert.ok(events.some((e) => e.event === "connected"));
    assert.ok(events.some((e) => e.event === "disconnected" && e.reason === "q"));
  }
});

Deno.test("tcp/server --explain: the five steps with the real address and the backlog", async () => {
  const server = await startScript("tcp/server.ts", ["--port", "0", "--backlog", "7", "--explain"]);
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    try {
      // Two writes read back-to-back; however the server's reads fall, it numbers them.
      await conn.write(encoder.encode("ab"));
      await conn.read(new Uint8Array(2));
      await conn.write(encoder.encode("cd"));
      await conn.read(new Uint8Array(2));
    } finally {
      conn.close();
    }
    await server.waitForLine(/^step 6 close: connection #1/);
  } finally {
    const { stdout } = await server.stop();
    const lines = stdout.split("\n");
    assert.equal(lines[0], `listening on ${server.address}`);
    assert.match(lines[1], /^step 1 create: socket\(AF_INET, SOCK_STREAM\)/);
    assert.equal(
      lines[2].startsWith(`step 2 bind: 127.0.0.1:0 → ${server.address} (port 0`),
      true,
      lines[2],
    );
    assert.match(lines[3], /^step 3 listen: backlog 7 /);
    assert.match(stdout, /step 4 accept: connection #1 from 127\.0\.0\.1:\d+/);
    assert.match(stdout, /step 5 exchange: read #1 on #1 from .*: 2 bytes \(stream bytes 0\.\.1\)/);
    assert.match(stdout, /\|ab\|/);
    assert.match(
      stdout,
      /step 5 exchange: write #2 on #1 .*: 2 bytes upper-cased \(stream bytes 2\.\.3\)/,
    );
    assert.match(stdout, /\|CD\|/);
    assert.match(stdout, /step 6 close: connection #1 .* 2 reads, 2 writes \(4 bytes in, 4 out\)/);
  }
});

Deno.test("tcp/client --stats: one rtt line per message and the summary; default output unchanged", async () => {
  const server = await startScript("tcp/server.ts", ["--port", "0", "--quiet"]);
  try {
    const stats = await runScript("tcp/client.ts", ["--port", String(server.port), "--stats"], {
      stdin: "a\nbb\nccc\n",
    });
    assert.equal(stats.code, 0, stats.stderr);
    const lines = stats.stdout.trimEnd().split("\n");
    assert.deepEqual(lines.filter((_, i) => i < 6 && i % 2 === 0), ["A", "BB", "CCC"]);
    assert.match(lines[1], /^ {2}rtt \d+\.\d{3} ms \(1 bytes\)$/);
    assert.match(lines[6], /^--- 127\.0\.0\.1:\d+ tcp statistics: 3 messages ---$/);
    assert.match(
      lines[7],
      /^rtt min\/median\/p99\/max = [\d.]+\/[\d.]+\/[\d.]+\/[\d.]+ ms \(3 samples\)$/,
    );
    const plain = await runScript("tcp/client.ts", ["--port", String(server.port)], {
      stdin: "a\nbb\n",
    });
    assert.equal(plain.stdout, "A\nBB\n");
  } finally {
    await server.stop();
  }
});

Deno.test("tcp/client --count: numbered probes one at a time, rtt each, and the summary", async () => {
  const server = await startScript("tcp/server.ts", ["--port", "0", "--quiet"]);
  try {
    const port = String(server.port);
    const run = await runScript("tcp/client.ts", [
      "--port",
      port,
      "--count",
      "3",
      "--interval",
      "0",
    ]);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trimEnd().split("\n");
    assert.match(lines[0], /^PROBE 127\.0\.0\.1:\d+ \(tcp\): 3 probes "seq=N", one every 0 ms$/);
    assert.deepEqual([lines[1], lines[3], lines[5]], ["SEQ=1", "SEQ=2", "SEQ=3"]);
    assert.match(lines[2], /^ {2}rtt \d+\.\d{3} ms \(5 bytes\)$/);
    assert.match(lines[7], /^--- 127\.0\.0\.1:\d+ tcp statistics: 3 messages ---$/);
    assert.match(lines[8], /\(3 samples\)$/);
    for (
      const args of [["--interval", "5"], ["--count", "2", "--message", "hi"], ["--count", "0"]]
    ) {
      const bad = await runScript("tcp/client.ts", ["--port", port, ...args]);
      assert.equal(bad.code, 2, args.join(" "));
    }
  } finally {
    await server.stop();
  }
});

Deno.test("tcp/client --count: Ctrl-C stops the probes and still prints the summary", async () => {
  const server = await startScript("tcp/server.ts", ["--port", "0", "--quiet"]);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "tcp/client.ts", "--port", String(server.port), "--count", "50"],
    cwd: ROOT,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    // Interrupt once the first probe's rtt is printed (the next probe is 1 s away).
    let text = "";
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    while (!text.includes(" rtt ")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    child.kill("SIGINT");
    // A client that ignored Ctrl-C would go on probing: stop it so the assertions below fail.
    const hardKill = setTimeout(() => child.kill("SIGKILL"), 10_000);
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    const status = await child.status;
    clearTimeout(hardKill);
    await child.stderr.cancel();
    assert.equal(status.code, 130);
    assert.match(text, /^SEQ=1$/m);
    assert.doesNotMatch(text, /^SEQ=2$/m);
    assert.match(text, /tcp statistics: 1 message ---\n.*\(1 sample\)\n$/);
  } finally {
    await server.stop();
  }
});

Deno.test("--json: tcp/demo, tcp/sticky, tcp/halfclose and tcp/info print pure NDJSON", async () => {
  const runs: [string, string[]][] = [
    ["tcp/demo.ts", ["--json", "--explain"]],
    ["tcp/sticky.ts", ["--json", "--explain", "--big-write", "100000", "--gap-ms", "1"]],
    ["tcp/halfclose.ts", ["--json", "--explain"]],
    ["tcp/info.ts", ["--json"]],
  ];
  const results = await Promise.all(runs.map(([script, args]) => runScript(script, args)));
  results.forEach((result, i) => {
    const [script] = runs[i];
    assert.equal(result.code, 0, `${script}: ${result.stderr}`);
    const tool = script.replace(/\.ts$/, "");
    const events = schemaEvents(result.stdout, tool);
    if (script !== "tcp/info.ts" && script !== "tcp/demo.ts") {
      assert.equal(events[0].event, "listening", script);
    }
    if (script === "tcp/sticky.ts") {
      assert.ok(events.some((e) => e.event === "explain" && String(e.text).includes("粘包 view")));
    }
  });
});

Deno.test("--json and --explain: udp/server narrates create → bind → recvfrom/sendto, no listen/accept", async () => {
  const server = await startScript("udp/server.ts", ["--port", "0", "--json", "--explain"]);
  try {
    const client = await runScript("udp/client.ts", [
      "--port",
      String(server.port),
      "--json",
      "--explain",
    ], {
      stdin: "hello\n你好\n",
    });
    assert.equal(client.code, 0, client.stderr);
    const events = schemaEvents(client.stdout, "udp/client");
    assert.deepEqual(events.filter((e) => e.event === "received").map((e) => e.text), [
      "HELLO",
      "你好",
    ]);
    assert.equal(events.filter((e) => e.direction === "sendto").length, 2);
    await server.waitForLine(/"step":"sendto","index":2/);
  } finally {
    const result = await server.stop();
    const events = schemaEvents(result.stdout, "udp/server");
    assert.equal(events[0].event, "listening");
    const explained = events.filter((e) => e.event === "explain");
    assert.deepEqual(
      explained.map((e) => e.step),
      ["create", "bind", "no-listen", "recvfrom", "sendto", "recvfrom", "sendto", "close"],
    );
    assert.match(String(explained[2].text), /no listen, no accept/);
    assert.match(
      String(explained[1].text),
      new RegExp(`→ ${server.address.replace(/\./g, "\\.")}`),
    );
    assert.match(String(explained[3].text), /68 65 6c 6c 6f .*\|hello\|/);
  }
});

Deno.test("--json: udp/truncate and udp/broadcast listen/send print pure NDJSON", async () => {
  const truncate = await runScript("udp/truncate.ts", ["--json", "--explain"]);
  assert.equal(truncate.code, 0, truncate.stderr);
  const events = schemaEvents(truncate.stdout, "udp/truncate");
  assert.ok(events.some((e) => e.part === "truncation" && e.dropped === 3976));

  const listener = await startScript("udp/broadcast.ts", [
    "listen",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--count",
    "1",
    "--json",
    "--explain",
  ]);
  try {
    const send = await runScript("udp/broadcast.ts", [
      "send",
      "--to",
      "127.0.0.1",
      "--port",
      String(listener.port),
      "--json",
      "--explain",
      "hi",
      "all",
    ]);
    assert.equal(send.code, 0, send.stderr);
    const sent = schemaEvents(send.stdout, "udp/broadcast");
    assert.deepEqual(sent.map((e) => e.event), ["sent", "explain"]);
    assert.equal(sent[0].bytes, 6);
  } finally {
    const result = await listener.stop();
    const got = schemaEvents(result.stdout, "udp/broadcast");
    assert.deepEqual(got.map((e) => e.event), ["listening", "received", "explain"]);
    assert.equal(got[1].bytes, 6);
  }
});

/**
 * A fake UDP echo server for probes: drops seq=2, answers seq=3 twice, and holds seq=4's reply
 * until it has answered seq=5 (so 4 arrives after 5: reordered). No timing involved.
 */
async function misbehavingServer(conn: Deno.DatagramConn, probes: number): Promise<void> {
  let held: [Uint8Array, Deno.Addr] | undefined;
  for (let i = 0; i < probes; i++) {
    const [data, from] = await conn.receive();
    const text = decoder.decode(data);
    const reply = encoder.encode(text.toUpperCase());
    if (text === "seq=2") continue;
    if (text === "seq=4") {
      held = [reply, from];
      continue;
    }
    await conn.send(reply, from);
    if (text === "seq=3") await conn.send(reply, from);
    if (text === "seq=5" && held) await conn.send(...held);
  }
}

Deno.test("udp/client --stats --count: loss, duplicates and reordering matched by sequence", async () => {
  const conn = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    const serving = misbehavingServer(conn, 5);
    const result = await runScript("udp/client.ts", [
      "--port",
      String((conn.addr as Deno.NetAddr).port),
      "--stats",
      "--count",
      "5",
      "--interval",
      "5",
      "--timeout",
      "300",
    ]);
    await serving;
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split("\n");
    assert.match(lines[0], /^PROBE 127\.0\.0\.1:\d+ \(udp\): 5 probes "seq=N", one every 5 ms$/);
    const replies = lines.filter((l) => l.startsWith("reply "));
    assert.deepEqual(
      replies.map((l) => l.replace(/ rtt=[\d.]+ ms/, "")),
      [
        "reply seq=1 5 bytes",
        "reply seq=3 5 bytes",
        "reply seq=3 5 bytes (duplicate)",
        "reply seq=5 5 bytes",
        "reply seq=4 5 bytes (reordered)",
      ],
    );
    assert.ok(lines.includes("5 sent, 4 received, 20.0% loss, 1 duplicate, 1 reordered"));
    assert.match(lines.at(-1)!, /^rtt min\/median\/p99\/max = .* ms \(4 samples\)$/);
  } finally {
    conn.close();
  }
});

Deno.test("udp/client --count --json: nobody answering is 100% loss, exit 1, pure NDJSON", async () => {
  // A bound socket that never answers: the probes are lost for sure (no ICMP either).
  const silent = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    const result = await runScript("udp/client.ts", [
      "--port",
      String((silent.addr as Deno.NetAddr).port),
      "--count",
      "3",
      "--interval",
      "1",
      "--timeout",
      "100",
      "--json",
    ]);
    assert.equal(result.code, 1, result.stderr);
    const events = schemaEvents(result.stdout, "udp/client");
    const loss = events.find((e) => e.event === "stats" && "lossPercent" in e);
    assert.equal(loss?.lossPercent, 100);
    assert.equal(loss?.sent, 3);
  } finally {
    silent.close();
  }
});

Deno.test("udp/client --stats over stdin lines: rtt per reply and the summary", async () => {
  const server = await startScript("udp/server.ts", ["--port", "0", "--quiet"]);
  try {
    const result = await runScript("udp/client.ts", ["--port", String(server.port), "--stats"], {
      stdin: "ab\ncd\n",
    });
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split("\n");
    assert.equal(lines[0], "AB");
    assert.match(lines[1], /^ {2}rtt \d+\.\d{3} ms \(2 bytes\)$/);
    assert.equal(lines[2], "CD");
    assert.match(lines[4], /^--- 127\.0\.0\.1:\d+ udp statistics: 2 messages, 0 sent again ---$/);
    assert.match(lines[5], /\(2 samples\)$/);
  } finally {
    await server.stop();
  }
});

Deno.test("udp/client: --interval without --count is a usage error", async () => {
  const result = await runScript("udp/client.ts", ["--interval", "5"]);
  assert.equal(result.code, 2);
  assert.equal(result.stderr, "error: --interval needs --count (see --help)\n");
});
