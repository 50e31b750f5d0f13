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

/** A TCP port nobody listens on right now (bound, read, closed). */
function closedPort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return (listener.addr as Deno.NetAddr).port;
}

Deno.test("no server: tcp:client, file:recv and file:send --to say it in the same one line", async () => {
  const port = closedPort();
  const runs = [
    runScript(CLIENT, ["--port", String(port)], { stdin: "hello\n" }),
    runScript("tcp/file_recv.ts", ["--port", String(port)]),
    runScript("tcp/file_send.ts", ["deno.json", "--to", `127.0.0.1:${port}`]),
  ];
  for (const result of await Promise.all(runs)) {
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.equal(
      result.stderr,
      `error: Cannot connect to 127.0.0.1:${port}: connection refused (is the other side running?)\n`,
    );
  }
  const unix = await runScript(CLIENT, ["--unix", "/nonexistent/netlab.sock"], { stdin: "x\n" });
  assert.equal(unix.code, 1);
  assert.equal(
    unix.stderr,
    "error: Cannot connect to unix:/nonexistent/netlab.sock: no such socket (is the other side " +
      "running?)\n",
  );
});

Deno.test("client --host: localhost resolves; malformed text is a usage error naming it", async () => {
  await using server = await startServer();
  const ok = await runScript(CLIENT, ["--host", "localhost", "--port", String(server.port)], {
    stdin: "hi\n",
  });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, "HI\n");
  const bad = await runScript(CLIENT, ["--host", "my host"], { stdin: "hi\n" });
  assert.equal(bad.code, 2);
  assert.equal(
    bad.stderr,
    'error: Invalid --host "my host": a host name has only letters, digits, hyphens and dots ' +
      "(see --help)\n",
  );
});

Deno.test("client of a --sequential server that is busy: says after 2 s what it waits for", async () => {
  await using server = await startServer(["--sequential"]);
  // The first client holds the server's only session.
  using first = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  await writeAll(first, encoder.encode("hi"));
  await readExactly(first, 2);
  const second = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CLIENT, "--port", String(server.port)],
    cwd: ROOT,
    env: { NO_COLOR: "1", INIT_CWD: "" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const input = second.stdin.getWriter();
  await input.write(encoder.encode("hello\n"));
  await input.close();
  // Once it has said so, the first client leaves and the server takes the second.
  const killer = setTimeout(() => second.kill("SIGKILL"), 10_000); // bounded, should it not
  let stderr = "";
  for await (const chunk of second.stderr.pipeThrough(new TextDecoderStream())) {
    stderr += chunk;
    if (stderr.includes("\n")) break;
  }
  clearTimeout(killer);
  assert.equal(
    stderr,
    `still waiting for the reply from 127.0.0.1:${server.port} after 2 s (is the server busy ` +
      "with another client?)\n",
  );
  first.close();
  const out = await new Response(second.stdout).text();
  assert.equal((await second.status).code, 0);
  assert.equal(out, "HELLO\n");
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
    // The way out is said once, before the first prompt.
    assert.equal(output.match(/type a line to send it, q to leave/g)?.length, 1, output);
    assert.ok(output.indexOf("q to leave") < output.indexOf(">>>: "), output);
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

Deno.test("client: a connect still pending after 2 s says so (the server's accept queue is full)", async () => {
  // A listener that accepts nobody yet, with room for two finished handshakes (backlog 1): two
  // connections fill it, and the kernel drops the client's SYNs until there is room again.
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0, tcpBacklog: 1 });
  const port = listener.addr.port;
  const queued = [await Deno.connect({ hostname: "127.0.0.1", port })];
  queued.push(await Deno.connect({ hostname: "127.0.0.1", port }));
  const client = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CLIENT, "--port", String(port), "--message", "hi"],
    cwd: ROOT,
    env: { NO_COLOR: "1", INIT_CWD: "" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Bounded: without the line the client would wait for the kernel's SYN retries (minutes).
  const killer = setTimeout(() => client.kill("SIGKILL"), 10_000);
  let stderr = "";
  for await (const chunk of client.stderr.pipeThrough(new TextDecoderStream())) {
    stderr += chunk;
    if (stderr.includes("\n")) break;
  }
  clearTimeout(killer);
  assert.equal(stderr, `connecting to 127.0.0.1:${port}: no answer yet after 2 s\n`);
  // Make room: the queued connections are taken and closed; the client's next SYN gets in.
  for (const conn of queued) conn.close();
  for (let i = 0; i < 2; i++) (await listener.accept()).close();
  {
    using conn = await listener.accept();
    await writeAll(conn, referenceUpper(await readAll(conn)));
  }
  assert.equal(await new Response(client.stdout).text(), "HI\n");
  assert.equal((await client.status).code, 0);
});
