/**
 * tcp/server.ts as a real process: every seed bug the issue lists, faults, load, IPv6 / Unix
 * sockets, seed 002's one-shot `--reply`, and interop with nc and Python clients written like the
 * seeds'. (Descriptor exhaustion: tests/tcp/accept_test.ts; a vanished peer and keepalive:
 * tests/tcp/server_netns_test.ts.)
 */
import assert from "node:assert/strict";
import {
  assertNdjson,
  hasCommand,
  readAll,
  readExactly,
  runCommand,
  type RunningScript,
  runScript,
  startCommand,
  startScript,
  writeAll,
} from "../_helpers.ts";
import { EVENT_NAMES } from "../../tcp/kit/report.ts";
import { peakRssMB } from "../bench/_bench.ts";
import { echoLines, exchange } from "../../tcp/core/echo_client.ts";
import { acceptQueueLength, tcpTableAvailable } from "../../tcp/core/tcp_table.ts";

const SERVER = "tcp/server.ts";
const CLIENT = "tcp/client.ts";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** seed 000's bytes.upper(): a–z → A–Z, every other byte unchanged. */
function referenceUpper(bytes: Uint8Array): Uint8Array {
  return bytes.map((b) => (b >= 0x61 && b <= 0x7a ? b - 0x20 : b));
}

function hasIPv6(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

/** Resolves to "timeout" if `promise` has not settled within `ms` (the timer is always cleared). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function startServer(args: string[] = []): Promise<RunningScript> {
  return await startScript(SERVER, ["--port", "0", ...args]);
}

function connect(server: RunningScript): Promise<Deno.Conn> {
  return Deno.connect({ hostname: server.host, port: server.port });
}

async function talk(conn: Deno.Conn, text: string): Promise<string> {
  return decoder.decode(await exchange(conn, encoder.encode(text)));
}

/** Seed 000's client, with its recv(1024) bug fixed: read until the whole reply is in. */
const PYTHON_CLIENT = `
import socket, sys
client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.connect((sys.argv[1], int(sys.argv[2])))
for msg in sys.argv[3:]:
    msg = msg.strip()
    if not msg:
        continue
    data = msg.encode('utf-8')
    client.sendall(data)
    if msg == 'q':
        break
    reply = b''
    while len(reply) < len(data):
        chunk = client.recv(1024)
        if not chunk:
            sys.exit('server closed the connection')
        reply += chunk
    print(reply.decode('utf-8'))
client.close()
`;

/** Waits (bounded) for a one-shot server to exit 0 by itself and returns all it printed. */
async function exitedByItself(server: RunningScript) {
  const status = await within(server.child.status, 15_000);
  assert.notEqual(status, "timeout", "the --once server did not exit by itself");
  const result = await server.stop();
  assert.equal(result.code, 0, result.stderr);
  return result;
}

/** Seed 002's one-shot server, in Python (quotes and the missing parentheses fixed). */
const PYTHON_SEED_002_SERVER = `
import socket
sk = socket.socket()
sk.bind(('127.0.0.1', 0))
sk.listen()
print('listening on 127.0.0.1:%d' % sk.getsockname()[1], flush=True)
conn, addr = sk.accept()
ret = conn.recv(1024)
print(ret.decode('utf-8'), flush=True)
conn.send('你好'.encode('utf-8'))
conn.close()
sk.close()
`;

/** Seed 002's client, in Python, reading until our FIN instead of one recv(1024). */
const PYTHON_SEED_002_CLIENT = `
import socket, sys
sk = socket.socket()
sk.connect(('127.0.0.1', int(sys.argv[1])))
sk.send('你好'.encode('utf-8'))
ret = b''
while chunk := sk.recv(1024):
    ret += chunk
print(ret.decode('utf-8'))
sk.close()
`;

Deno.test("pipe mode: ASCII, Chinese, é, 1 byte and a 1 MB line come back upper-cased", async () => {
  await using server = await startServer();
  const big = "ab".repeat(512 * 1024);
  const input = ["hello world", "你好,服务器!", "", "é", "x", big].join("\n") + "\n";
  const result = await runScript(CLIENT, ["--port", String(server.port)], { stdin: input });
  assert.equal(result.stderr, "");
  assert.equal(result.code, 0);
  assert.deepEqual(result.stdout.split("\n"), [
    "HELLO WORLD",
    "你好,服务器!",
    "é",
    "X",
    big.toUpperCase(),
    "",
  ]);
  await server.waitForLine(/^disconnected 127\.0\.0\.1:\d+ \(#1\): eof/);
});

Deno.test("server: q and q\\n end a session without an echo; q glued to data does not", async () => {
  await using server = await startServer();
  for (const quit of ["q", "q\n"]) {
    using conn = await connect(server);
    assert.equal(await talk(conn, "hi"), "HI");
    await writeAll(conn, encoder.encode(quit));
    assert.equal(await conn.read(new Uint8Array(8)), null, `EOF after ${JSON.stringify(quit)}`);
  }
  using conn = await connect(server);
  // 粘包: one read carrying "xq" is data, not the quit message.
  assert.equal(await talk(conn, "xq"), "XQ");
});

Deno.test("3 interleaved clients are all answered while all are open", async () => {
  await using server = await startServer();
  const conns = [await connect(server), await connect(server), await connect(server)];
  try {
    for (let round = 0; round < 3; round++) {
      for (const [i, conn] of conns.entries()) {
        assert.equal(await talk(conn, `client ${i} round ${round}`), `CLIENT ${i} ROUND ${round}`);
      }
    }
  } finally {
    for (const conn of conns) conn.close();
  }
});

Deno.test("--sequential: the second client is served only after the first leaves", async () => {
  await using server = await startServer(["--sequential"]);
  const first = await connect(server);
  assert.equal(await talk(first, "one"), "ONE");
  // The kernel completes the second handshake (backlog) but nobody reads its bytes yet.
  using second = await connect(server);
  await writeAll(second, encoder.encode("two"));
  const events: string[] = [];
  const secondReply = readExactly(second, 3).then((reply) => {
    events.push("second answered");
    return reply;
  });
  // While the first client keeps talking, the second hears nothing (a concurrent server would
  // have answered it during these round trips).
  for (let i = 0; i < 3; i++) assert.equal(await talk(first, `ping ${i}`), `PING ${i}`);
  events.push("first closed");
  first.close();
  assert.equal(decoder.decode(await secondReply), "TWO");
  assert.deepEqual(events, ["first closed", "second answered"]);
  const lines = server.lines;
  const firstLeft = lines.findIndex((l) => /^disconnected .*\(#1\)/.test(l));
  const secondAccepted = lines.findIndex((l) => /^connected .*\(#2\)/.test(l));
  assert.ok(firstLeft > 0 && secondAccepted > firstLeft, lines.join("\n"));
});

Deno.test({
  name: "--sequential --backlog 1 with 3 clients: each accept shows how many wait in the queue",
  ignore: !tcpTableAvailable(),
  async fn() {
    await using server = await startServer(["--sequential", "--backlog", "1"]);
    const first = await connect(server);
    assert.equal(await talk(first, "one"), "ONE");
    await server.waitForLine("no other client waits in the kernel's accept queue");
    // Two more complete the handshake while the first is served (a backlog of 1 holds two on
    // Linux), and wait in the queue: the kernel's table says so before we go on.
    using second = await connect(server);
    using third = await connect(server);
    await until(() => acceptQueueLength(server.port) === 2);
    first.close();
    await server.waitForLine(/^connected .*\(#2\)$/);
    const waiting = await server.waitForLine(/more client/);
    assert.equal(
      waiting,
      "  1 more client waits in the kernel's accept queue (handshake done, not yet accepted)",
    );
    second.close();
    await server.waitForLine(/^connected .*\(#3\)$/);
    third.close();
    await server.waitForLine(/\(#3\): eof/);
    const shown = server.lines.filter((line) => line.includes("accept queue"));
    assert.deepEqual(shown, [
      "  no other client waits in the kernel's accept queue",
      "  1 more client waits in the kernel's accept queue (handshake done, not yet accepted)",
      "  no other client waits in the kernel's accept queue",
    ]);
  },
});

Deno.test({
  name: "--sequential --json: the accept queue is a field of a log event",
  ignore: !tcpTableAvailable(),
  async fn() {
    await using server = await startServer(["--sequential", "--json"]);
    const first = await connect(server);
    assert.equal(await talk(first, "one"), "ONE");
    first.close();
    await server.waitForLine(/"event":"disconnected"/);
    const events = assertNdjson((await server.stop()).stdout, "tcp/server");
    const queue = events.filter((e) => "acceptQueue" in e);
    assert.deepEqual(queue.map((e) => [e.event, e.acceptQueue, e.id]), [["log", 0, 1]]);
  },
});

Deno.test("--sequential over a Unix socket says once that its queue cannot be shown", async () => {
  const path = `${await Deno.makeTempDir()}/seq.sock`;
  try {
    await using server = await startScript(SERVER, ["--unix", path, "--sequential"]);
    assert.equal(
      await server.waitForLine(/accept queue/),
      "the kernel's accept queue cannot be shown: a Unix socket's queue is not in /proc/net/tcp",
    );
  } finally {
    await Deno.remove(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  }
});

/** Waits (bounded: 5 s) until `condition` holds: kernel state the test cannot be told about. */
async function until(condition: () => boolean): Promise<void> {
  for (const started = performance.now(); !condition();) {
    if (performance.now() - started > 5000) throw new Error("condition not met within 5 s");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("an abrupt disconnect (RST) ends only that session; the next client is served", async () => {
  await using server = await startServer();
  {
    const conn = await connect(server);
    // 1 MB written and never read: closing with unread data makes the kernel send RST.
    await writeAll(conn, new Uint8Array(1024 * 1024).fill(0x61));
    conn.close();
  }
  // Measured with Deno 2.9.6: a write after the RST throws BrokenPipe, a read returns null (EOF),
  // so which reason the server logs depends on where the RST meets it.
  const line = await server.waitForLine(/^disconnected .*\(#1\)/);
  assert.match(line, /: (reset|broken pipe|eof), \d+ bytes in/);
  using conn = await connect(server);
  assert.equal(await talk(conn, "still here"), "STILL HERE");
});

Deno.test("a client killed mid-message does not disturb the server", async () => {
  await using server = await startServer();
  const code = `
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: ${server.port} });
    const chunk = new Uint8Array(64 * 1024).fill(0x62);
    await conn.write(chunk);
    console.log("sent");
    while (true) await conn.write(chunk); // never reads: blocks once the buffers are full
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("sent")) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  child.kill("SIGKILL");
  await reader.cancel();
  await child.status;
  assert.ok(seen.includes("sent"));
  await server.waitForLine(/^disconnected .*\(#1\)/);
  using conn = await connect(server);
  assert.equal(await talk(conn, "next"), "NEXT");
});

Deno.test("garbage and invalid UTF-8 bytes come back byte for byte (upper and --echo)", async () => {
  const garbage = new Uint8Array([
    ...Array.from({ length: 256 }, (_, i) => i),
    0xc3, // a lone UTF-8 lead byte
    0xff,
    0xfe,
    0xe4,
    0xbd, // a truncated 你
    0x80,
  ]);
  for (const [args, expected] of [[[], referenceUpper(garbage)], [["--echo"], garbage]] as const) {
    await using server = await startServer([...args]);
    using conn = await connect(server);
    assert.deepEqual(await exchange(conn, garbage), expected);
    assert.equal(await talk(conn, "still fine é"), args.length ? "still fine é" : "STILL FINE é");
  }
});

Deno.test("a 10 MB line without a newline streams straight back", async () => {
  await using server = await startServer();
  using conn = await connect(server);
  const line = new Uint8Array(10 * 1024 * 1024);
  for (let i = 0; i < line.length; i++) line[i] = 0x61 + (i % 26);
  const sending = writeAll(conn, line);
  const reply = await readExactly(conn, line.length);
  await sending;
  assert.deepEqual(reply, referenceUpper(line));
});

Deno.test("backpressure: a client that never reads is stopped by TCP, the server stays small", async () => {
  await using server = await startServer();
  using conn = await connect(server);
  const chunk = new Uint8Array(64 * 1024).fill(0x61);
  const cap = 256 * 1024 * 1024;
  let written = 0;
  let blocked: Promise<number> | undefined;
  while (written < cap) {
    const write = conn.write(chunk);
    const result = await within(write, 2_000);
    if (result === "timeout") {
      blocked = write;
      break;
    }
    written += result;
  }
  // Kernel buffers on both sides hold a few MB; a server that kept reading would take it all.
  assert.ok(blocked, `the client wrote ${written} bytes without ever blocking`);
  assert.ok(written < 64 * 1024 * 1024, `wrote ${written} bytes before blocking`);
  const rss = peakRssMB(server.child.pid);
  if (rss !== undefined) assert.ok(rss < 200, `server peak RSS ${rss} MB`);
  // Now read: the blocked write completes and every byte comes back upper-cased.
  const draining = (async () => {
    written += await blocked;
    await conn.closeWrite();
  })();
  const reply = await readAll(conn, { maxBytes: 128 * 1024 * 1024 });
  await draining;
  assert.equal(reply.length, written);
  assert.ok(reply.every((b) => b === 0x41));
});

Deno.test("1,000 clients connecting at once are all answered", async () => {
  await using server = await startServer(["--quiet"]);
  const replies = await Promise.all(
    Array.from({ length: 1000 }, async (_, i) => {
      using conn = await connect(server);
      return await talk(conn, `client ${i}`);
    }),
  );
  assert.deepEqual(replies, Array.from({ length: 1000 }, (_, i) => `CLIENT ${i}`));
});

Deno.test({
  name: "--host ::1 listens on IPv6 and prints [::1]:PORT",
  ignore: !hasIPv6(),
  async fn() {
    await using server = await startScript(SERVER, ["--host", "::1", "--port", "0"]);
    assert.match(server.firstLine, /^listening on \[::1\]:\d+$/);
    const result = await runScript(CLIENT, ["--host", "::1", "--port", String(server.port)], {
      stdin: "ipv6\n",
    });
    assert.equal(result.stdout, "IPV6\n");
    await server.waitForLine(/^connected \[::1\]:\d+ \(#1\)/);
  },
});

Deno.test("--unix serves a Unix domain socket and removes it on Ctrl-C", async () => {
  const dir = await Deno.makeTempDir({ prefix: "netlab-tcp-" });
  const path = `${dir}/echo.sock`;
  try {
    const server = await startScript(SERVER, ["--unix", path]);
    try {
      assert.equal(server.firstLine, `listening on unix:${path}`);
      const result = await runScript(CLIENT, ["--unix", path], { stdin: "unix socket\n" });
      assert.equal(result.stdout, "UNIX SOCKET\n");
    } finally {
      const stopped = await server.stop();
      assert.equal(stopped.code, 130);
    }
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Ctrl-C closes open connections, prints stopped and exits 130", async () => {
  const server = await startServer();
  using conn = await connect(server);
  assert.equal(await talk(conn, "bye"), "BYE");
  const result = await server.stop("SIGINT");
  assert.equal(result.code, 130);
  assert.match(result.stdout, /\(#1\): server shutdown/);
  assert.match(result.stdout, /^stopped$/m);
  assert.equal(await conn.read(new Uint8Array(8)), null);
});

Deno.test("--echo replies with the bytes unchanged (seed 001)", async () => {
  await using server = await startServer(["--echo"]);
  using conn = await connect(server);
  assert.deepEqual(await echoLines(conn, ["hello", "你好", "q"]), ["hello", "你好"]);
});

Deno.test("--once serves one client, then exits 0", async () => {
  const server = await startServer(["--once"]);
  {
    using conn = await connect(server);
    assert.equal(await talk(conn, "once"), "ONCE");
  }
  const status = await server.child.status;
  assert.equal(status.code, 0);
  await server.stop();
});

Deno.test("--verbose logs every chunk like seed 001's 收到", async () => {
  await using server = await startServer(["--verbose"]);
  using conn = await connect(server);
  assert.equal(await talk(conn, "你好"), "你好");
  await server.waitForLine(/^received 6 bytes from 127\.0\.0\.1:\d+: "你好"$/);
});

Deno.test("--help, bad flags and bad values", async () => {
  for (const script of [SERVER, CLIENT, "tcp/demo.ts"]) {
    const help = await runScript(script, ["--help"]);
    assert.equal(help.code, 0, script);
    assert.match(help.stdout, /^Usage: deno task tcp:/, script);
  }
  for (
    const [script, args, message] of [
      [SERVER, ["--bogus"], /^error: unknown option --bogus \(see --help\)$/],
      [SERVER, ["--port", "70000"], /^error: --port must be 0–65535, got 70000 \(see --help\)$/],
      [SERVER, ["--backlog", "0"], /^error: --backlog must be an integer from 1 to 65,535, got 0/],
      [SERVER, ["--unix", "/tmp/x", "--port", "1"], /cannot be combined/],
      [SERVER, ["--reply", "你好", "--echo"], /^error: --reply cannot be combined with --echo/],
      [CLIENT, ["--message", ""], /^error: Invalid --message ""/],
      [CLIENT, ["--port", "x"], /^error: --port must be 0–65535, got x \(see --help\)$/],
      [CLIENT, ["--port", "-1"], /^error: --port must be 0–65535, got -1 \(see --help\)$/],
      [CLIENT, ["--port"], /^error: --port needs a value \(see --help\)$/],
      [CLIENT, ["extra"], /^error: Unexpected argument "extra"/],
    ] as const
  ) {
    const result = await runScript(script, [...args]);
    assert.equal(result.code, 2, `${script} ${args.join(" ")}`);
    assert.match(result.stderr.trimEnd(), message);
    assert.equal(result.stderr.split("\n").length, 2, "one line, never the usage");
  }
});

Deno.test("server: a port already in use is one clear line, exit 1", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const result = await runScript(SERVER, ["--port", String(port)]);
  assert.equal(result.code, 1);
  assert.equal(
    result.stderr,
    `error: Cannot listen on 127.0.0.1:${port}: address already in use\n`,
  );
});

Deno.test({
  name: "interop: nc (netcat-openbsd) as the client",
  ignore: !hasCommand("nc"),
  async fn() {
    await using server = await startServer();
    // -N: shut down the sending side at EOF on stdin, so the server sees EOF and closes.
    const result = await runCommand("nc", ["-N", "127.0.0.1", String(server.port)], {
      stdin: "hello from nc 你好\n",
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "HELLO FROM NC 你好\n");
  },
});

Deno.test({
  name: "interop: a Python client written like seed 000's (1200-byte Chinese reply intact)",
  ignore: !hasCommand("python3"),
  async fn() {
    await using server = await startServer();
    const chinese = "中".repeat(400); // 1200 bytes: seed 000's recv(1024).decode() crashed here
    const result = await runCommand("python3", [
      "-c",
      PYTHON_CLIENT,
      "127.0.0.1",
      String(server.port),
      "hello python",
      chinese,
      "q",
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `HELLO PYTHON\n${chinese}\n`);
    await server.waitForLine(/\(#1\): q,/);
  },
});

Deno.test("--once --reply 你好 and client --message hello: prints 你好, both exit 0 (seed 002)", async () => {
  await using server = await startServer(["--once", "--reply", "你好"]);
  const client = await runScript(CLIENT, ["--port", String(server.port), "--message", "hello"]);
  assert.equal(client.code, 0, client.stderr);
  assert.equal(client.stdout, "你好\n");
  assert.equal(client.stderr, "");
  const result = await exitedByItself(server);
  const lines = result.stdout.split("\n");
  assert.match(lines[1], /^connected 127\.0\.0\.1:\d+ \(#1\)$/);
  assert.match(lines[2], /^received 5 bytes from 127\.0\.0\.1:\d+: "hello"$/);
  assert.match(lines[3], /^disconnected 127\.0\.0\.1:\d+ \(#1\): eof, 5 bytes in, 6 out$/);
  assert.equal(lines.length, 4, result.stdout);
});

Deno.test("--once --reply and --message under --json: schema events only", async () => {
  await using server = await startServer(["--once", "--reply", "你好", "--json"]);
  const client = await runScript(CLIENT, [
    "--port",
    String(server.port),
    "--message",
    "hello",
    "--json",
  ]);
  assert.equal(client.code, 0, client.stderr);
  const clientEvents = assertNdjson(client.stdout, "tcp/client");
  assert.deepEqual(clientEvents.map((e) => [e.event, e.text, e.bytes]), [["received", "你好", 6]]);
  const serverEvents = assertNdjson((await exitedByItself(server)).stdout, "tcp/server");
  assert.deepEqual(serverEvents.map((e) => e.event), [
    "listening",
    "connected",
    "received",
    "disconnected",
  ]);
  for (const e of serverEvents) assert.ok(EVENT_NAMES.includes(e.event), e.event);
  assert.equal(serverEvents[2].bytes, 5);
  assert.deepEqual(
    [serverEvents[3].reason, serverEvents[3].bytesIn, serverEvents[3].bytesOut],
    ["eof", 5, 6],
  );
});

Deno.test("--reply without --once: every client gets TEXT after its first read, then FIN; the rest is drained", async () => {
  await using server = await startServer(["--reply", "ok"]);
  for (const id of [1, 2]) {
    using conn = await connect(server);
    await writeAll(conn, encoder.encode(`first ${id}`));
    // No half-close from us: the server's FIN alone ends the reply (seed 002's client).
    assert.equal(decoder.decode(await readAll(conn)), "ok");
    // Bytes sent after the reply are read and discarded, so the close is clean.
    await writeAll(conn, encoder.encode("extra"));
    await conn.closeWrite();
    await server.waitForLine(
      new RegExp(`^disconnected 127\\.0\\.0\\.1:\\d+ \\(#${id}\\): eof, 12 bytes in, 2 out$`),
    );
  }
  assert.ok(server.lines.some((l) => /^received 5 bytes from .*: "extra"$/.test(l)));
  assert.equal((await server.stop()).code, 130); // still serving until Ctrl-C
});

Deno.test({
  name: "interop: seed 002's Python one-shot server and client with --message and --once --reply",
  ignore: !hasCommand("python3"),
  async fn() {
    {
      await using python = await startCommand("python3", ["-c", PYTHON_SEED_002_SERVER]);
      const client = await runScript(CLIENT, ["--port", String(python.port), "--message", "hello"]);
      assert.equal(client.code, 0, client.stderr);
      assert.equal(client.stdout, "你好\n");
      const result = await exitedByItself(python);
      assert.equal(result.stdout.split("\n")[1], "hello");
    }
    {
      await using server = await startServer(["--once", "--reply", "你好"]);
      const python = await runCommand("python3", [
        "-c",
        PYTHON_SEED_002_CLIENT,
        String(server.port),
      ]);
      assert.equal(python.code, 0, python.stderr);
      assert.equal(python.stdout, "你好\n");
      const result = await exitedByItself(server);
      assert.match(result.stdout, /received 6 bytes from 127\.0\.0\.1:\d+: "你好"/);
    }
  },
});
