/**
 * tcp/client.ts as a real process against the echo server (or a hand-written one): `q`, a refused
 * connection and a server that hangs up as one line each, the terminal prompt, and seed
 * 001/002's one-shot `--message`.
 */
import assert from "node:assert/strict";
import {
  hasCommand,
  readAll,
  readExactly,
  ROOT,
  type RunningScript,
  runScript,
  startScript,
  writeAll,
} from "../_helpers.ts";

const SERVER = "tcp/server.ts";
const CLIENT = "tcp/client.ts";
const encoder = new TextEncoder();

/** seed 000's bytes.upper(): a–z → A–Z, every other byte unchanged. */
function referenceUpper(bytes: Uint8Array): Uint8Array {
  return bytes.map((b) => (b >= 0x61 && b <= 0x7a ? b - 0x20 : b));
}

async function startServer(args: string[] = []): Promise<RunningScript> {
  return await startScript(SERVER, ["--port", "0", ...args]);
}

Deno.test("client: a line q ends the session; later lines are not sent", async () => {
  await using server = await startServer();
  const result = await runScript(CLIENT, ["--port", String(server.port)], {
    stdin: "hello\nq\nworld\n",
  });
  assert.equal(result.code, 0);
  assert.equal(result.stdout, "HELLO\n");
  // 5 bytes of hello + the q; the q itself is not echoed.
  await server.waitForLine(/\(#1\): q, 6 bytes in, 5 out$/);
});

Deno.test("client: no server is exactly one line 'connection refused', exit 1", async () => {
  const port = (() => {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    return (listener.addr as Deno.NetAddr).port;
  })();
  const result = await runScript(CLIENT, ["--port", String(port)], { stdin: "hello\n" });
  assert.equal(result.code, 1);
  assert.equal(result.stdout, "");
  assert.equal(
    result.stderr,
    `error: cannot connect to 127.0.0.1:${port}: connection refused\n`,
  );
});

Deno.test("client: the server closing mid-session is one clear line, exit 1", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  // A server that answers the first message, then reads half of the second and hangs up.
  const fake = (async () => {
    using conn = await listener.accept();
    const first = await readExactly(conn, 5);
    await writeAll(conn, referenceUpper(first));
    await readExactly(conn, 3);
  })();
  const result = await runScript(CLIENT, ["--port", String(port)], {
    stdin: "hello\nworld\nmore\n",
  });
  await fake;
  assert.equal(result.code, 1);
  assert.equal(result.stdout, "HELLO\n");
  assert.match(
    result.stderr,
    /^error: 127\.0\.0\.1:\d+: server closed the connection( after 0 of 5 reply bytes|: .*)\n$/,
  );
});

Deno.test({
  name: "client on a terminal: the >>>: prompt, empty input skipped, q ends it",
  ignore: !hasCommand("script"),
  async fn() {
    await using server = await startServer();
    // util-linux `script` gives the client a pseudo-terminal, so Deno.stdin.isTerminal() is true.
    const command = `${Deno.execPath()} run -A --quiet ${CLIENT} --port ${server.port}`;
    const child = new Deno.Command("script", {
      args: ["-qec", command, "/dev/null"],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const writer = child.stdin.getWriter();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let output = "";
    // Type each line only once the prompt for it is on screen (a terminal user would too).
    const waitForPrompts = async (count: number) => {
      while (output.split(">>>: ").length - 1 < count) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`client exited early:\n${output}`);
        output += value;
      }
    };
    try {
      let prompts = 0;
      for (const line of ["hello", "", "  你好  ", "q"]) {
        await waitForPrompts(++prompts);
        await writer.write(encoder.encode(line + "\n"));
      }
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        output += value;
      }
    } finally {
      await writer.close().catch(() => {});
      await reader.cancel().catch(() => {});
    }
    assert.equal((await child.status).code, 0, output);
    assert.match(output, /HELLO/);
    assert.match(output, /你好/);
    assert.equal(output.split(">>>: ").length - 1, 4, "one prompt per line, the empty one skipped");
    // hello + 你好 (trimmed, 6 bytes) + q; the empty line was never sent.
    await server.waitForLine(/\(#1\): q, 12 bytes in, 11 out$/);
  },
});

Deno.test("--message against the echo server: our FIN ends the session, the whole echo is printed", async () => {
  await using server = await startServer();
  const big = "a".repeat(100_000); // comes back in several reads
  for (const [message, expected] of [["hello 你好", "HELLO 你好"], [big, big.toUpperCase()]]) {
    const client = await runScript(CLIENT, ["--port", String(server.port), "--message", message]);
    assert.equal(client.code, 0, client.stderr);
    assert.equal(client.stdout, `${expected}\n`);
  }
  await server.waitForLine(/\(#2\): eof, 100000 bytes in, 100000 out$/);
});

Deno.test("--message: a server that closes without replying is one line, exit 1", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  const fake = (async () => {
    using conn = await listener.accept();
    await readAll(conn); // the message, up to the client's FIN; then close without a word
  })();
  const result = await runScript(CLIENT, ["--port", String(port), "--message", "hello"]);
  await fake;
  assert.equal(result.code, 1);
  assert.equal(result.stdout, "");
  assert.equal(
    result.stderr,
    `error: 127.0.0.1:${port}: server closed the connection without a reply\n`,
  );
});
