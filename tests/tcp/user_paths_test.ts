/**
 * Paths the user typed resolve where the user is, not in the project root where `deno task` runs
 * the scripts: file:send's FILEs, file:recv's --dir, tcp:sticky's --svg and the --unix sockets of
 * tcp:client and tcp:server — through a real `deno task` started from another directory.
 */
import assert from "node:assert/strict";
import { ROOT, type ScriptResult, startScript, stopped } from "../_helpers.ts";
import { withTempDir } from "../_file_peers.ts";

const decoder = new TextDecoder();

/**
 * The environment of a person's shell: the test's own, without INIT_CWD (set when the tests run
 * under `deno task test`; `deno task` keeps one that is already there).
 */
function shellEnv(): Record<string, string> {
  const env = Deno.env.toObject();
  delete env.INIT_CWD;
  return { ...env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };
}

/** `deno task --config ROOT/deno.json NAME args…`, started in `cwd` (as a person in `cwd`). */
function denoTask(cwd: string, name: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "--config", `${ROOT}deno.json`, name, ...args],
    cwd,
    clearEnv: true,
    env: shellEnv(),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Runs a task to completion (killed after 30 s). */
async function runTask(cwd: string, name: string, args: string[]): Promise<ScriptResult> {
  const child = denoTask(cwd, name, args);
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  try {
    const out = await child.output();
    return {
      code: out.code,
      signal: out.signal,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** The port in the first `listening on 127.0.0.1:PORT` line of a task's stdout. */
async function listeningPort(child: Deno.ChildProcess): Promise<number> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`exited before listening: ${text}`);
    text += value;
  }
  reader.releaseLock();
  const port = /^listening on 127\.0\.0\.1:(\d+)/.exec(text)?.[1];
  if (!port) throw new Error(`unexpected first line: ${text}`);
  return Number(port);
}

Deno.test("deno task file:send / file:recv from another directory: FILE and --dir are the user's", async () => {
  await withTempDir(async (here) => {
    await Deno.writeTextFile(`${here}/local.bin`, "bytes from the user's folder\n");
    const sender = denoTask(here, "file:send", ["local.bin", "--port", "0", "--once"]);
    try {
      const port = await listeningPort(sender);
      const recv = await runTask(here, "file:recv", ["--port", String(port), "--dir", "got"]);
      assert.equal(recv.code, 0, recv.stderr);
      assert.match(recv.stdout, /^saved local\.bin {2}29 bytes /);
      assert.equal(
        await Deno.readTextFile(`${here}/got/local.bin`),
        "bytes from the user's folder\n",
      );
    } finally {
      const status = await sender.status;
      await sender.stdout.cancel().catch(() => {});
      await sender.stderr.cancel();
      assert.equal(status.code, 0);
    }
    // Nothing landed in the project root.
    await assert.rejects(Deno.stat(`${ROOT}got`), Deno.errors.NotFound);
  });
});

Deno.test("deno task tcp:sticky --svg from another directory writes the picture there", async () => {
  await withTempDir(async (here) => {
    const result = await runTask(here, "tcp:sticky", [
      "--svg",
      "timeline.svg",
      "--big-write",
      "65536",
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^wrote the timeline to timeline\.svg$/m);
    assert.match(await Deno.readTextFile(`${here}/timeline.svg`), /^<svg /);
  });
});

Deno.test("deno task tcp:client --unix from another directory connects to the socket there", async () => {
  await withTempDir(async (here) => {
    using listener = Deno.listen({ transport: "unix", path: `${here}/echo.sock` });
    const server = (async () => {
      using conn = await listener.accept();
      const got = new Uint8Array(16);
      const n = await conn.read(got);
      await conn.write(new TextEncoder().encode(decoder.decode(got.subarray(0, n ?? 0)) + "!"));
    })();
    const result = await runTask(here, "tcp:client", ["--unix", "echo.sock", "--message", "hi"]);
    await server;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "hi!\n");
  });
});

Deno.test("tcp:server --unix takes a relative path from INIT_CWD (what deno task sets)", async () => {
  await withTempDir(async (here) => {
    await using server = await startScript("tcp/server.ts", ["--unix", "srv.sock"], {
      env: { INIT_CWD: here },
    });
    assert.equal(server.firstLine, `listening on unix:${here}/srv.sock`);
    assert.ok((await Deno.stat(`${here}/srv.sock`)).isSocket);
    await stopped(server);
    await assert.rejects(Deno.stat(`${here}/srv.sock`), Deno.errors.NotFound);
  });
});
