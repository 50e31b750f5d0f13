/**
 * UDP: the upper-case echo server and client, truncation, the datagram size limit and broadcast
 * on loopback. Pure helpers are tested directly, the server loop in-process, and every script
 * once as a real subprocess. No sleeps: every wait is for a datagram or a printed line.
 */
import assert from "node:assert/strict";
import {
  assertNdjson,
  hasCommand,
  ROOT,
  runCommand,
  type RunningScript,
  runScript,
  startScript,
} from "../_helpers.ts";
import {
  describeDatagram,
  MAX_UDP_PAYLOAD_IPV4,
  upperAscii,
  upperAsciiInPlace,
} from "../../udp/core/datagram.ts";
import { serveUdp } from "../../udp/server.ts";
import { serverHostname } from "../../udp/client.ts";
import {
  DatagramClient,
  NoReplyError,
  readLines,
  TextLineTooLongError,
} from "../../udp/core/datagram_client.ts";
import {
  observeMaxDatagram,
  observeOneByteBuffer,
  observeTcp,
  observeTruncation,
} from "../../udp/truncate.ts";
import { checkSendTarget, LOOPBACK_BROADCAST } from "../../udp/broadcast.ts";
import { CliError, UsageError } from "../../tcp/kit/cli.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const text = (bytes: Uint8Array) => decoder.decode(bytes);

/** A UDP socket that `using` closes (DatagramConn has no `Symbol.dispose` of its own). */
function bind(
  hostname = "127.0.0.1",
  port = 0,
  reuseAddress = false,
): Deno.DatagramConn & Disposable {
  const conn = Deno.listenDatagram({ transport: "udp", hostname, port, reuseAddress });
  return Object.assign(conn, {
    [Symbol.dispose]() {
      try {
        conn.close();
      } catch (error) {
        if (!(error instanceof Deno.errors.BadResource)) throw error;
      }
    },
  });
}

function portOf(conn: Deno.DatagramConn): number {
  return (conn.addr as Deno.NetAddr).port;
}

/** A port nobody listens on right now (bound, read, closed). */
function closedPort(): number {
  const conn = bind();
  const port = portOf(conn);
  conn.close();
  return port;
}

/** Runs the real `serveUdp` loop on an ephemeral loopback port for the duration of `body`. */
async function withServer(
  body: (server: Deno.NetAddr) => Promise<void>,
): Promise<void> {
  const conn = bind();
  const controller = new AbortController();
  const serving = serveUdp(conn, { signal: controller.signal, quiet: true });
  try {
    await body(conn.addr as Deno.NetAddr);
  } finally {
    controller.abort();
    await serving;
  }
}

// ---------------------------------------------------------------------------------------------
// Pure helpers

Deno.test("upperAscii changes only a-z, so Chinese, é and binary pass through", () => {
  assert.equal(text(upperAscii(encoder.encode("hello, World 123"))), "HELLO, WORLD 123");
  assert.equal(text(upperAscii(encoder.encode("你好 abc"))), "你好 ABC");
  assert.equal(text(upperAscii(encoder.encode("café"))), "CAFé");
  const binary = new Uint8Array([0xff, 0x00, 0x61, 0xe4, 0xbd, 0x7a, 0x80]);
  assert.deepEqual(upperAscii(binary), new Uint8Array([0xff, 0x00, 0x41, 0xe4, 0xbd, 0x5a, 0x80]));
  assert.deepEqual(binary, new Uint8Array([0xff, 0x00, 0x61, 0xe4, 0xbd, 0x7a, 0x80]));
  const inPlace = encoder.encode("abc");
  assert.equal(upperAsciiInPlace(inPlace), inPlace);
  assert.equal(text(inPlace), "ABC");
});

Deno.test("upperAscii of a CJK datagram cut mid-character keeps the partial bytes (seed 001 bug)", () => {
  // 1200 bytes of 你 (3 bytes each) cut at 1024 ends inside a character: seed 001's decode dies.
  const cut = encoder.encode("你".repeat(400)).subarray(0, 1024);
  assert.throws(() => new TextDecoder("utf-8", { fatal: true }).decode(cut), TypeError);
  assert.deepEqual(upperAscii(cut), cut);
});

Deno.test("describeDatagram shows text, escapes control characters and hex-dumps binary", () => {
  assert.equal(describeDatagram(encoder.encode("hello")), "hello");
  assert.equal(describeDatagram(encoder.encode("你好")), "你好");
  assert.equal(describeDatagram(new Uint8Array(0)), "(empty)");
  assert.equal(describeDatagram(encoder.encode("a\nb")), '"a\\nb"');
  assert.equal(
    describeDatagram(new Uint8Array([0xff, 0x61])),
    "(2 bytes, not UTF-8: ff 61)",
  );
  assert.match(
    describeDatagram(new Uint8Array(40).fill(0xff)),
    /^\(40 bytes, not UTF-8: ff .* …\)$/,
  );
});

Deno.test("serverHostname accepts IP literals and localhost, refuses names and bad addresses", () => {
  assert.equal(serverHostname("127.0.0.1"), "127.0.0.1");
  assert.equal(serverHostname("localhost"), "127.0.0.1");
  assert.equal(serverHostname("::1"), "::1");
  assert.equal(serverHostname("[0:0::1]"), "::1");
  assert.throws(() => serverHostname("300.1.1.1"), (e: Error) => {
    assert.ok(e instanceof UsageError);
    assert.equal(
      e.message,
      'Invalid --host "300.1.1.1": Invalid IPv4 address "300.1.1.1": octet 300 is greater than 255',
    );
    return true;
  });
  assert.throws(() => serverHostname("example.com"), UsageError);
  assert.throws(() => serverHostname("::zz"), UsageError);
});

Deno.test("readLines splits across chunks, strips CR, keeps empty lines and an unterminated last line", async () => {
  const bytes = encoder.encode("one\r\n\n你好\nlast");
  // Feed one byte at a time: a Chinese character is split across chunks.
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const b of bytes) controller.enqueue(new Uint8Array([b]));
      controller.close();
    },
  });
  const lines: string[] = [];
  for await (const line of readLines(stream)) lines.push(line);
  assert.deepEqual(lines, ["one", "", "你好", "last"]);
});

Deno.test("readLines refuses a line longer than its limit", async () => {
  const stream = ReadableStream.from([encoder.encode("x".repeat(20))]);
  await assert.rejects(
    async () => {
      for await (const _ of readLines(stream, { maxChars: 10 })) { /* nothing */ }
    },
    (e: Error) =>
      e instanceof TextLineTooLongError && e.message === "Input line is longer than 10 characters",
  );
});

Deno.test("checkSendTarget allows loopback, refuses 255.255.255.255 and LAN unless --allow-lan", () => {
  assert.equal(checkSendTarget(LOOPBACK_BROADCAST, false), "127.255.255.255");
  assert.equal(checkSendTarget("127.0.0.1", false), "127.0.0.1");
  for (const to of ["255.255.255.255", "192.168.1.255", "10.231.0.255"]) {
    assert.throws(() => checkSendTarget(to, false), (e: Error) => {
      assert.ok(e instanceof CliError);
      assert.match(e.message, new RegExp(`^Refusing to send to "${to.replaceAll(".", "\\.")}"`));
      return true;
    });
    assert.equal(checkSendTarget(to, true), to);
  }
  assert.throws(
    () => checkSendTarget("1.2.3", true),
    /^CliError: Invalid --to: Invalid IPv4 address "1\.2\.3"/,
  );
});

// ---------------------------------------------------------------------------------------------
// The server loop, in-process

Deno.test("serveUdp answers ASCII, Chinese, empty and binary datagrams upper-cased", async () => {
  await withServer(async (server) => {
    using client = bind();
    const cases: [Uint8Array, Uint8Array][] = [
      [encoder.encode("hello"), encoder.encode("HELLO")],
      [encoder.encode("你好, udp"), encoder.encode("你好, UDP")],
      [new Uint8Array(0), new Uint8Array(0)],
      [new Uint8Array([0xff, 0x62, 0x00]), new Uint8Array([0xff, 0x42, 0x00])],
      [
        encoder.encode("你".repeat(400)).subarray(0, 1024),
        encoder.encode("你".repeat(400)).subarray(0, 1024),
      ],
    ];
    for (const [sent, expected] of cases) {
      await client.send(sent, server);
      const [reply, from] = await client.receive();
      assert.deepEqual(reply, expected);
      assert.deepEqual(from, server);
    }
  });
});

Deno.test("serveUdp keeps datagram boundaries: N datagrams, N replies, each intact (no 粘包)", async () => {
  await withServer(async (server) => {
    using client = bind();
    const sizes = [1, 7, 100, 1500, 9000, 0, 64];
    for (const size of sizes) await client.send(new Uint8Array(size).fill(0x61), server);
    for (const size of sizes) {
      const [reply] = await client.receive();
      assert.equal(reply.length, size);
      assert.ok(reply.every((b) => b === 0x41));
    }
  });
});

Deno.test("serveUdp serves three clients interleaved (seed 000: 几个客户端都可以和服务端交互)", async () => {
  await withServer(async (server) => {
    await using a = new DatagramClient(server.hostname, server.port, { timeoutMs: 5000 });
    await using b = new DatagramClient(server.hostname, server.port, { timeoutMs: 5000 });
    await using c = new DatagramClient(server.hostname, server.port, { timeoutMs: 5000 });
    assert.equal(new Set([a.addr.port, b.addr.port, c.addr.port]).size, 3);
    for (let round = 0; round < 5; round++) {
      const replies = await Promise.all(
        [a, b, c].map((client, i) => client.request(encoder.encode(`client ${i} round ${round}`))),
      );
      assert.deepEqual(
        replies.map((r) => text(r.reply)),
        [0, 1, 2].map((i) => `CLIENT ${i} ROUND ${round}`),
      );
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The client: timeout, retry, foreign datagrams

Deno.test("DatagramClient retries after a lost datagram (server drops the first one)", async () => {
  using server = bind();
  const serving = (async () => {
    const [, firstFrom] = await server.receive(); // dropped: no reply, like a lost datagram
    const [data, from] = await server.receive();
    assert.deepEqual(from, firstFrom);
    await server.send(upperAscii(data), from);
  })();
  await using client = new DatagramClient("127.0.0.1", portOf(server), {
    timeoutMs: 200,
    retries: 2,
  });
  const { reply, tries } = await client.request(encoder.encode("retry me"));
  await serving;
  assert.equal(text(reply), "RETRY ME");
  assert.equal(tries, 2);
});

Deno.test("DatagramClient ignores datagrams from other addresses than the server", async () => {
  using server = bind();
  using stranger = bind();
  const serving = (async () => {
    const [data, from] = await server.receive();
    // The stranger's datagram reaches the client first; it must not be taken as the reply.
    await stranger.send(encoder.encode("not from the server"), from);
    await server.send(upperAscii(data), from);
  })();
  await using client = new DatagramClient("127.0.0.1", portOf(server), { timeoutMs: 5000 });
  const { reply, ignored, tries } = await client.request(encoder.encode("hi"));
  await serving;
  assert.equal(text(reply), "HI");
  assert.equal(ignored, 1);
  assert.equal(tries, 1);
});

Deno.test("DatagramClient gives up after 1 + retries tries when nobody listens", async () => {
  await using client = new DatagramClient("127.0.0.1", closedPort(), {
    timeoutMs: 100,
    retries: 1,
  });
  await assert.rejects(() => client.request(encoder.encode("anyone?")), (e: Error) => {
    assert.ok(e instanceof NoReplyError);
    assert.match(e.message, /^no reply from 127\.0\.0\.1:\d+ after 2 tries \(100 ms each\)/);
    assert.match(e.message, /nobody is listening/);
    return true;
  });
});

// ---------------------------------------------------------------------------------------------
// Truncation and size limits (udp/truncate.ts)

Deno.test("a 5000-byte datagram into a 1024-byte buffer: the first 1024 bytes, then the NEXT datagram", async () => {
  const seen = await observeTruncation(5000, { bufferSize: 1024 });
  assert.deepEqual(seen, {
    sent: 5000,
    bufferSize: 1024,
    received: 1024,
    receivedIsPrefix: true,
    dropped: 3976,
    next: "the next datagram",
  });
});

Deno.test('"hello" into a 1-byte buffer gives "h" on Linux (seed 000)', async () => {
  assert.equal(await observeOneByteBuffer("hello"), "h");
});

Deno.test("the same 5000 bytes over TCP arrive whole with the same 1024-byte buffer", async () => {
  const seen = await observeTcp(5000, { bufferSize: 1024 });
  assert.equal(seen.received, 5000);
  assert.equal(seen.intact, true);
  assert.ok(seen.reads.length >= 5, `reads: ${seen.reads}`);
  assert.ok(seen.reads.every((n) => n <= 1024));
});

Deno.test("the largest datagram loopback accepts is 65507 bytes; 65508 is EMSGSIZE", async () => {
  const seen = await observeMaxDatagram();
  assert.equal(seen.max, MAX_UDP_PAYLOAD_IPV4);
  assert.equal(seen.max, 65535 - 20 - 8);
  assert.equal(seen.receivedWhole, true);
  assert.equal(seen.errorCode, "EMSGSIZE");
  assert.match(seen.errorForOneMore, /Message too long/);
});

// ---------------------------------------------------------------------------------------------
// Broadcast on loopback, in-process facts

Deno.test("one datagram to 127.255.255.255 reaches two 0.0.0.0 listeners; a 127.0.0.1 one misses it", async () => {
  using first = bind("0.0.0.0", 0, true);
  const port = portOf(first);
  using second = bind("0.0.0.0", port, true);
  using loopbackOnly = bind("127.0.0.1", port, true);
  using sender = bind();
  // Succeeds only because Deno sets SO_BROADCAST on every UDP socket (see the python3 test).
  const sent = await sender.send(encoder.encode("to everyone"), {
    transport: "udp",
    hostname: LOOPBACK_BROADCAST,
    port,
  });
  assert.equal(sent, 11);
  for (const listener of [first, second]) {
    const [data, from] = await listener.receive();
    assert.equal(text(data), "to everyone");
    assert.deepEqual(from, sender.addr);
  }
  // A unicast marker to 127.0.0.1 goes to the most specific socket: the 127.0.0.1-bound one. If
  // the broadcast had reached it, the broadcast would come out first.
  await sender.send(encoder.encode("marker"), { transport: "udp", hostname: "127.0.0.1", port });
  const [data] = await loopbackOnly.receive();
  assert.equal(text(data), "marker");
});

Deno.test({
  name:
    "python3 without SO_BROADCAST gets EACCES sending to 127.255.255.255 (why Deno's default matters)",
  ignore: !hasCommand("python3"),
  async fn() {
    using listener = bind("0.0.0.0", 0, true);
    const port = portOf(listener);
    const script = `
import socket, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.sendto(b"x", ("127.255.255.255", port))
    print("sent without SO_BROADCAST")
except PermissionError:
    print("EACCES")
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.sendto(b"with SO_BROADCAST", ("127.255.255.255", port))
print("sent")
`;
    const result = await runCommand("python3", ["-c", script, String(port)]);
    assert.equal(result.stdout, "EACCES\nsent\n", result.stderr);
    const [data] = await listener.receive();
    assert.equal(text(data), "with SO_BROADCAST");
  },
});

// ---------------------------------------------------------------------------------------------
// The scripts as subprocesses

async function stopped(script: RunningScript): Promise<void> {
  const result = await script.stop();
  assert.equal(result.code, 0, `exit ${result.code}: ${result.stderr}`);
}

Deno.test("udp/server.ts + udp/client.ts: one real exchange (ASCII, Chinese, empty line), logged", async () => {
  const server = await startScript("udp/server.ts", ["--port", "0"]);
  try {
    assert.match(server.firstLine, /^listening on udp 127\.0\.0\.1:\d+$/);
    const result = await runScript(
      "udp/client.ts",
      ["--port", String(server.port), "--timeout", "5000"],
      { stdin: "hello\n你好\n\nQUIT\nnot sent\n" },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "HELLO\n你好\n\n");
    await server.waitForLine(/^127\.0\.0\.1:\d+ -> \(empty\)$/);
    assert.match(server.lines[1], /^127\.0\.0\.1:\d+ -> hello$/);
    assert.match(server.lines[2], /^127\.0\.0\.1:\d+ -> 你好$/);
    assert.ok(!server.lines.some((l) => l.includes("not sent")));
  } finally {
    await stopped(server);
  }
});

/** Waits (bounded) for a one-shot server to exit by itself; returns what it printed. */
async function exitedByItself(script: RunningScript): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), 15_000);
  });
  try {
    const status = await Promise.race([script.child.status, timeout]);
    assert.notEqual(status, "timeout", "the --once server did not exit by itself");
  } finally {
    clearTimeout(timer);
  }
  const result = await script.stop();
  assert.equal(result.code, 0, `exit ${result.code}: ${result.stderr}`);
  return result.stdout;
}

Deno.test("udp/server.ts --once answers one datagram, then exits 0 by itself (seed 002)", async () => {
  const server = await startScript("udp/server.ts", ["--port", "0", "--once"]);
  try {
    const result = await runScript(
      "udp/client.ts",
      ["--port", String(server.port), "--timeout", "5000"],
      { stdin: "abc 你好\n" },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "ABC 你好\n");
    const stdout = await exitedByItself(server);
    assert.match(stdout, /^listening on udp 127\.0\.0\.1:\d+\n127\.0\.0\.1:\d+ -> abc 你好$/);
  } finally {
    await server.stop();
  }
});

Deno.test("udp/server.ts --once --reply 你好 --json: hello gets 你好, schema events, exit 0", async () => {
  const server = await startScript("udp/server.ts", [
    "--port",
    "0",
    "--once",
    "--reply",
    "你好",
    "--json",
  ]);
  try {
    const result = await runScript(
      "udp/client.ts",
      ["--port", String(server.port), "--timeout", "5000", "--json"],
      { stdin: "hello\n" },
    );
    assert.equal(result.code, 0, result.stderr);
    const replies = assertNdjson(result.stdout, "udp/client");
    assert.deepEqual(replies.map((e) => [e.event, e.text, e.bytes]), [["received", "你好", 6]]);
    const events = assertNdjson(await exitedByItself(server), "udp/server");
    assert.deepEqual(events.map((e) => e.event), ["listening", "received"]);
    assert.equal(events[1].bytes, 5);
  } finally {
    await server.stop();
  }
});

Deno.test("serveUdp with limit 1 and a fixed reply answers one datagram, then closes", async () => {
  const conn = bind();
  const serving = serveUdp(conn, { quiet: true, limit: 1, reply: encoder.encode("你好") });
  using client = bind();
  await client.send(encoder.encode("hello"), conn.addr);
  const [reply] = await client.receive();
  assert.equal(text(reply), "你好");
  assert.equal(await serving, 1);
  // The server's socket is closed: a second receive on it fails at once.
  await assert.rejects(() => conn.receive(), Deno.errors.BadResource);
});

Deno.test("udp/server.ts --quiet logs nothing per datagram but answers; three clients at once", async () => {
  const server = await startScript("udp/server.ts", ["--port", "0", "--quiet"]);
  try {
    const clients = [0, 1, 2].map((i) =>
      runScript("udp/client.ts", ["--port", String(server.port), "--timeout", "5000"], {
        stdin: Array.from({ length: 20 }, (_, n) => `c${i} line ${n}`).join("\n") + "\n",
      })
    );
    const results = await Promise.all(clients);
    results.forEach((result, i) => {
      assert.equal(result.code, 0, result.stderr);
      assert.equal(
        result.stdout,
        Array.from({ length: 20 }, (_, n) => `C${i} LINE ${n}\n`).join(""),
      );
    });
  } finally {
    const result = await server.stop();
    assert.equal(result.code, 0);
    assert.equal(result.stdout.split("\n").length, 1, result.stdout); // only `listening on …`
  }
});

Deno.test("udp/client.ts with nobody listening: exit 1 and 'no reply from HOST:PORT after N tries'", async () => {
  const port = closedPort();
  const result = await runScript(
    "udp/client.ts",
    ["--port", String(port), "--timeout", "100", "--retries", "1"],
    { stdin: "hello\n" },
  );
  assert.equal(result.code, 1);
  assert.equal(result.stdout, "");
  assert.match(
    result.stderr,
    new RegExp(`^no reply from 127\\.0\\.0\\.1:${port} after 2 tries \\(100 ms each\\):.*\\n$`),
  );
});

Deno.test("udp scripts: --help exits 0 with usage; a bad flag or value exits 1 with one line + usage", async () => {
  for (const script of ["udp/server.ts", "udp/client.ts", "udp/truncate.ts", "udp/broadcast.ts"]) {
    const help = await runScript(script, ["--help"]);
    assert.equal(help.code, 0, script);
    assert.match(help.stdout, /^Usage: deno task udp:/, script);
  }
  const bad: [string, string[], RegExp][] = [
    ["udp/server.ts", ["--bogus"], /^Unknown option '--bogus'/],
    ["udp/server.ts", ["--port", "70000"], /^Invalid --port "70000"/],
    ["udp/server.ts", ["--reply", "x".repeat(65508)], /^--reply is 65508 bytes: the largest/],
    ["udp/client.ts", ["--timeout", "soon"], /^Invalid --timeout "soon"/],
    ["udp/client.ts", ["--port", "0"], /^Invalid --port "0": the server's port is needed$/],
    ["udp/client.ts", ["--retries", "-1"], /^Option '--retries' argument is ambiguous\. Did/],
    ["udp/client.ts", ["--host", "1.2.3"], /^Invalid --host "1\.2\.3"/],
    ["udp/truncate.ts", ["--size", "65508"], /^Invalid --size "65508"/],
    ["udp/truncate.ts", ["--host", "192.0.2.1"], /^Invalid --host "192\.0\.2\.1"/],
    ["udp/broadcast.ts", ["shout"], /^Unknown command "shout"/],
    ["udp/broadcast.ts", ["send", "--port", "9", "--nope", "x"], /^Unknown option '--nope'/],
  ];
  for (const [script, args, first] of bad) {
    const result = await runScript(script, args);
    assert.equal(result.code, 1, `${script} ${args.join(" ")}`);
    const [line, ...rest] = result.stderr.split("\n");
    assert.match(line, first);
    assert.match(rest.join("\n"), /^Usage: /);
  }
});

Deno.test("udp/server.ts on a port in use: one line, exit 1", async () => {
  using taken = bind();
  const result = await runScript("udp/server.ts", ["--port", String(portOf(taken))]);
  assert.equal(result.code, 1);
  assert.equal(
    result.stderr,
    `Cannot listen on udp 127.0.0.1:${portOf(taken)}: address already in use\n`,
  );
});

Deno.test("udp/truncate.ts prints the truncation, the TCP contrast and the size limit", async () => {
  const result = await runScript("udp/truncate.ts");
  assert.equal(result.code, 0, result.stderr);
  const out = result.stdout;
  assert.match(out, /received 1024 bytes \(exactly the first 1024\), 3976 bytes dropped/);
  assert.match(out, /the NEXT datagram: "the next datagram"/);
  assert.match(out, /"hello" into a 1-byte buffer → "h"/);
  assert.match(out, /= 5000 bytes, all intact and in order/);
  assert.match(out, /accepts: 65507 bytes .*received whole/);
  assert.match(out, /65508 bytes → EMSGSIZE: Message too long/);
});

Deno.test("udp/broadcast.ts: one send to 127.255.255.255 reaches two listen processes", async () => {
  const first = await startScript("udp/broadcast.ts", ["listen", "--port", "0", "--count", "1"]);
  let second: RunningScript | undefined;
  try {
    assert.match(first.firstLine, /^listening on udp 0\.0\.0\.0:\d+$/);
    second = await startScript("udp/broadcast.ts", [
      "listen",
      "--port",
      String(first.port),
      "--count",
      "1",
    ]);
    const sent = await runScript("udp/broadcast.ts", [
      "send",
      "--port",
      String(first.port),
      "hello",
      "everyone",
    ]);
    assert.equal(sent.code, 0, sent.stderr);
    const from = /^sent 14 bytes to 127\.255\.255\.255:\d+ from (127\.0\.0\.1:\d+)\n$/.exec(
      sent.stdout,
    );
    assert.ok(from, sent.stdout);
    for (const listener of [first, second]) {
      assert.equal(await listener.waitForLine("->"), `${from[1]} -> hello everyone`);
    }
  } finally {
    await stopped(first);
    if (second) await stopped(second);
  }
});

Deno.test("udp/broadcast.ts send refuses 255.255.255.255 and a LAN broadcast without --allow-lan", async () => {
  for (const to of ["255.255.255.255", "192.168.1.255"]) {
    const result = await runScript("udp/broadcast.ts", ["send", "--to", to, "--port", "9", "x"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`^Refusing to send to "${to.replaceAll(".", "\\.")}"`));
    assert.equal(result.stderr.split("\n").length, 2, result.stderr); // one line
  }
});

// ---------------------------------------------------------------------------------------------
// Interop: seed 001's Python UDP client against udp/server.ts

/** Seed 001's `udp_client`, stdlib only, with the receive timeout the seed forgot. */
const SEED_001_UDP_CLIENT = `
import socket, sys

def udp_client(server_host='127.0.0.1', server_port=12345):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)  # the seed has none: one lost datagram would hang it forever
        while True:
            try:
                message = input("Enter message (or 'quit' to exit): ")
            except EOFError:
                break
            if message.lower() == 'quit':
                break
            s.sendto(message.encode('utf-8'), (server_host, server_port))
            data, server = s.recvfrom(1024)
            print(f"Received from server: {data.decode('utf-8')}")

if __name__ == "__main__":
    udp_client(sys.argv[1], int(sys.argv[2]))
`;

Deno.test({
  name: "interop: seed 001's Python udp_client talks to udp/server.ts",
  ignore: !hasCommand("python3"),
  async fn() {
    const server = await startScript("udp/server.ts", ["--port", "0"]);
    try {
      const result = await runCommand(
        "python3",
        ["-c", SEED_001_UDP_CLIENT, server.host, String(server.port)],
        { stdin: "hello\n你好 udp\nQuit\nnever sent\n", cwd: ROOT },
      );
      assert.equal(result.code, 0, result.stderr);
      const prompt = "Enter message (or 'quit' to exit): ";
      assert.equal(
        result.stdout,
        `${prompt}Received from server: HELLO\n${prompt}Received from server: 你好 UDP\n${prompt}`,
      );
      await server.waitForLine(/ -> 你好 udp$/);
    } finally {
      await stopped(server);
    }
  },
});
