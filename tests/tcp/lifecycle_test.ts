/**
 * tcp/core/tcp_table.ts (the /proc/net/tcp parser) and tcp/lifecycle.ts (one connection's life with
 * the kernel's state after every step): golden rows, the real steps on loopback with the states
 * read from the kernel (Linux), the inferred fallback, and the script as a subprocess.
 */
import assert from "node:assert/strict";
import { assertNdjson, runScript } from "../_helpers.ts";
import { EVENT_NAMES } from "../../tcp/kit/report.ts";
import {
  findSocket,
  parseProcAddress,
  parseTcpTable,
  tcpTableAvailable,
} from "../../tcp/core/tcp_table.ts";
import { describeStates, runLifecycle, socketStates } from "../../tcp/lifecycle.ts";

// Three rows as Linux prints them (x86-64): a listener on 127.0.0.1:8080, the client and the
// server side of one connection to it, the server side with 13 bytes in its receive queue.
const SAMPLE =
  `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0000000000000000 100 0 0 10 0
   1: 0100007F:A2F2 0100007F:1F90 05 00000000:00000000 00:00000000 00000000     0        0 1002 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:1F90 0100007F:A2F2 08 00000000:0000000D 00:00000000 00000000     0        0 1003 1 0000000000000000 20 4 30 10 -1
   3: garbage line that is not a socket
`;

Deno.test("parseTcpTable reads addresses, states and queues; skips the header and junk", () => {
  const rows = parseTcpTable(SAMPLE, { little: true });
  const text = (e: { hostname: string; port: number }) => `${e.hostname}:${e.port}`;
  assert.deepEqual(
    rows.map((r) => [text(r.local), text(r.remote), r.state, r.txQueue, r.rxQueue]),
    [
      ["127.0.0.1:8080", "0.0.0.0:0", "LISTEN", 0, 0],
      ["127.0.0.1:41714", "127.0.0.1:8080", "FIN_WAIT2", 0, 0],
      ["127.0.0.1:8080", "127.0.0.1:41714", "CLOSE_WAIT", 0, 13],
    ],
  );
  assert.equal(findSocket(rows, "127.0.0.1:8080")?.state, "LISTEN");
  assert.equal(findSocket(rows, "127.0.0.1:41714", "127.0.0.1:8080")?.state, "FIN_WAIT2");
  assert.equal(findSocket(rows, "127.0.0.1:1", "127.0.0.1:8080"), undefined);
  // Filtered by port: only the rows that touch it.
  assert.equal(parseTcpTable(SAMPLE, { little: true, ports: new Set([41714]) }).length, 2);
  assert.equal(parseTcpTable(SAMPLE, { little: true, ports: new Set([9]) }).length, 0);
});

Deno.test("parseProcAddress follows the machine's byte order", () => {
  assert.equal(parseProcAddress("0100007F:0050", { little: true }).hostname, "127.0.0.1");
  assert.equal(parseProcAddress("7F000001:0050", { little: false }).hostname, "127.0.0.1");
  assert.equal(parseProcAddress("0500A8C0:0050", { little: true }).hostname, "192.168.0.5");
});

Deno.test("socketStates without the kernel's table gives the textbook states, marked inferred", () => {
  const states = socketStates(
    [{ socket: "client", local: "127.0.0.1:1", remote: "127.0.0.1:2" }],
    { client: "FIN_WAIT2" },
    { table: null },
  );
  assert.deepEqual(states.map((s) => [s.state, s.source]), [["FIN_WAIT2", "inferred"]]);
  assert.match(describeStates(states), /client FIN_WAIT2 \(inferred\) — not read/);
  // Read from a table: the FIN in the receive queue is not counted as a byte.
  const rows = parseTcpTable(SAMPLE, { little: true });
  const read = socketStates(
    [
      { socket: "server", local: "127.0.0.1:8080", remote: "127.0.0.1:41714" },
      { socket: "client", local: "127.0.0.1:5", remote: "127.0.0.1:8080" },
    ],
    {},
    { table: rows },
  );
  assert.equal(
    describeStates(read),
    "server CLOSE_WAIT (12 bytes unread and the FIN), client CLOSED (gone from the table)",
  );
});

Deno.test({
  name: "runLifecycle walks listen → TIME_WAIT with the states the kernel reports",
  ignore: !tcpTableAvailable(),
  async fn() {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const message = new TextEncoder().encode("hello 你好");
    const live: string[] = [];
    const steps = await runLifecycle(listener, {
      message,
      onStep: (step) => live.push(step.event),
    });
    assert.deepEqual(live, steps.map((s) => s.event));
    assert.deepEqual(steps.map((s) => `${s.actor} ${s.event}`), [
      "listener listening",
      "client connected",
      "client sent",
      "client sent",
      "server received",
      "server sent",
      "server disconnected",
      "client received",
      "client disconnected",
    ]);
    const state = (i: number, socket: string) => steps[i].states.find((s) => s.socket === socket)!;
    for (const step of steps) {
      for (const s of step.states) assert.notEqual(s.source, "inferred", step.text);
    }
    assert.equal(state(0, "listener").state, "LISTEN");
    assert.equal(state(1, "client").state, "ESTABLISHED");
    assert.equal(state(1, "server").state, "ESTABLISHED");
    // The written bytes wait in the server's receive queue until it reads them.
    assert.equal(state(2, "server").rxQueue, message.length);
    assert.equal(steps[3].fields.segment, "FIN");
    // After the client's FIN: the server's kernel has it; the client's waits for its ACK or has it.
    assert.equal(state(3, "server").state, "CLOSE_WAIT");
    assert.match(state(3, "client").state, /^FIN_WAIT[12]$/);
    assert.equal(steps[4].fields.bytes, message.length);
    assert.equal(state(4, "server").state, "CLOSE_WAIT");
    // The reply travels on the half-closed connection; then the server closes.
    assert.equal(new TextDecoder().decode(steps[5].bytes), "HELLO 你好");
    assert.equal(state(7, "client").state, "TIME_WAIT");
    // The side that sent the first FIN keeps TIME_WAIT after its close; the others are gone.
    const last = steps.at(-1)!;
    assert.equal(state(8, "client").state, "TIME_WAIT");
    assert.equal(state(8, "client").source, "proc");
    assert.deepEqual(
      last.states.filter((s) => s.socket !== "client").map((s) => [s.state, s.source]),
      [["CLOSED", "absent"], ["CLOSED", "absent"]],
    );
  },
});

Deno.test("tcp/lifecycle.ts --help, a bad flag and a bad message", async () => {
  const help = await runScript("tcp/lifecycle.ts", ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: deno task tcp:lifecycle/);
  const bad = await runScript("tcp/lifecycle.ts", ["--bogus"]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, "error: unknown option --bogus (see --help)\n");
  const host = await runScript("tcp/lifecycle.ts", ["--host", "192.0.2.1"]);
  assert.equal(host.code, 2);
  assert.match(
    host.stderr,
    /^error: Invalid --host "192\.0\.2\.1": expected an IPv4 loopback address/,
  );
  const big = await runScript("tcp/lifecycle.ts", ["--message", "x".repeat(5000)]);
  assert.equal(big.code, 2);
  assert.match(big.stderr, /^error: Invalid --message: expected 1 to 4096 bytes/);
});

Deno.test("tcp/lifecycle.ts prints every step with its states; --json --explain is the schema", async () => {
  const text = await runScript("tcp/lifecycle.ts", ["--message", "abc"]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^listening on 127\.0\.0\.1:\d+\n {3}states: listener LISTEN/);
  assert.match(text.stdout, /closeWrite\(\) \(shutdown SHUT_WR\): its kernel sends FIN/);
  assert.match(text.stdout, /server CLOSE_WAIT/);
  assert.match(text.stdout, /client TIME_WAIT/);

  const json = await runScript("tcp/lifecycle.ts", ["--json", "--explain", "--message", "abc"]);
  assert.equal(json.code, 0, json.stderr);
  const events = assertNdjson(json.stdout, "tcp/lifecycle");
  for (const e of events) assert.ok(EVENT_NAMES.includes(e.event), e.event);
  const steps = events.filter((e) => Array.isArray(e.states));
  assert.equal(steps.length, 9);
  // Every write and read of data has its bytes under --explain, right after it.
  const explained = events.filter((e) => e.event === "explain");
  assert.deepEqual(explained.map((e) => `${e.actor} ${e.direction}`), [
    "client write",
    "server read",
    "server write",
    "client read",
  ]);
  assert.match(String(explained[0].text), /61 62 63 +\|abc\|/);
  assert.equal(events.at(-1)?.event, "result");
});
