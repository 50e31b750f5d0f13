/**
 * udp/server.ts: the server loop in-process (ASCII, Chinese, empty and binary datagrams, boundaries
 * kept, clients interleaved, `limit` and `--reply`), the script as a subprocess (with the UDP
 * scripts' shared command-line rules), and seed 001's Python client against it.
 */
import assert from "node:assert/strict";
import { bind, portOf } from "./_udp.ts";
import { assertNdjson, hasCommand, ROOT, runCommand, runScript, startScript } from "../_helpers.ts";
import { exitedByItself, stopped } from "../_helpers.ts";
import { serveUdp } from "../../udp/server.ts";
import { DatagramClient } from "../../udp/core/datagram_client.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const text = (bytes: Uint8Array) => decoder.decode(bytes);

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
    assert.equal(result.code, 130);
    assert.equal(result.stdout.split("\n").length, 1, result.stdout); // only `listening on …`
  }
});

Deno.test("udp scripts: --help exits 0 with usage; a bad flag or value exits 1 with one line + usage", async () => {
  for (const script of ["udp/server.ts", "udp/client.ts", "udp/truncate.ts", "udp/broadcast.ts"]) {
    const help = await runScript(script, ["--help"]);
    assert.equal(help.code, 0, script);
    assert.match(help.stdout, /^Usage: deno task udp:/, script);
  }
  const bad: [string, string[], RegExp][] = [
    ["udp/server.ts", ["--bogus"], /^error: unknown option --bogus \(see --help\)$/],
    ["udp/server.ts", ["--port", "70000"], /^error: --port must be 0–65535, got 70000/],
    [
      "udp/server.ts",
      ["--reply", "x".repeat(65508)],
      /^error: --reply is 65508 bytes: the largest/,
    ],
    ["udp/client.ts", ["--timeout", "soon"], /^error: --timeout must be an integer .*, got soon/],
    ["udp/client.ts", ["--port", "0"], /^error: Invalid --port "0": the server's port is needed/],
    ["udp/client.ts", ["--retries", "-1"], /^error: --retries must be an integer .*, got -1/],
    ["udp/client.ts", ["--host", "1.2.3"], /^error: Invalid --host "1\.2\.3"/],
    ["udp/truncate.ts", ["--size", "65508"], /^error: --size must be an integer .*, got 65508/],
    ["udp/truncate.ts", ["--host", "192.0.2.1"], /^error: Invalid --host "192\.0\.2\.1"/],
    ["udp/broadcast.ts", ["shout"], /^error: Unknown command "shout"/],
    ["udp/broadcast.ts", ["send", "--port", "9", "--nope", "x"], /^error: unknown option --nope/],
  ];
  for (const [script, args, first] of bad) {
    const result = await runScript(script, args);
    assert.equal(result.code, 2, `${script} ${args.join(" ")}: ${result.stderr}`);
    const [line, ...rest] = result.stderr.split("\n");
    assert.match(line, first);
    assert.deepEqual(rest, [""], "one line, never the usage");
  }
});

Deno.test("udp/server.ts on a port in use: one line, exit 1", async () => {
  using taken = bind();
  const result = await runScript("udp/server.ts", ["--port", String(portOf(taken))]);
  assert.equal(result.code, 1);
  assert.equal(
    result.stderr,
    `error: Cannot listen on udp 127.0.0.1:${portOf(taken)}: address already in use\n`,
  );
});

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
