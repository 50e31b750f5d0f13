/**
 * udp/client.ts as a subprocess: host names, nobody listening, a lost line on a terminal, the
 * waits it announces, and the summary it prints on Ctrl-C.
 */
import assert from "node:assert/strict";
import {
  hasCommand,
  isRoot,
  ROOT,
  runCommand,
  runScript,
  startScript,
  stopped,
} from "../_helpers.ts";
import { startInTerminal } from "../_terminal.ts";
import { closedPort } from "./_udp.ts";

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
    new RegExp(
      `^error: no reply from 127\\.0\\.0\\.1:${port} after 2 tries \\(100 ms each\\):.*\\n$`,
    ),
  );
});

Deno.test("udp/client.ts --host localhost talks to the server (the name resolved from /etc/hosts)", async () => {
  await using server = await startScript("udp/server.ts", ["--port", "0", "--quiet"]);
  const result = await runScript(
    "udp/client.ts",
    ["--host", "localhost", "--port", String(server.port)],
    { stdin: "hello\n你好\n" },
  );
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "HELLO\n你好\n");
  await stopped(server);
});

Deno.test("udp/client.ts --host: malformed text is a usage error, one line naming it", async () => {
  for (
    const [host, why] of [
      ["my host", "a host name has only letters, digits, hyphens and dots"],
      ["300.1.1.1", 'Invalid IPv4 address "300.1.1.1": octet 300 is greater than 255'],
      ["::zz", "not 1-4 hex digits"],
    ]
  ) {
    const result = await runScript("udp/client.ts", ["--host", host], { stdin: "x\n" });
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stdout, "");
    assert.ok(result.stderr.startsWith(`error: Invalid --host ${JSON.stringify(host)}: `));
    assert.ok(result.stderr.includes(why), result.stderr);
    assert.ok(result.stderr.endsWith(" (see --help)\n"), result.stderr);
  }
});

/** Why `unshare -n` cannot give a test its own empty network namespace here, or undefined. */
function isolationMissing(): string | undefined {
  if (Deno.build.os !== "linux") return "network namespaces are Linux only";
  if (!isRoot()) return "needs root for unshare -n";
  if (!hasCommand("unshare")) return "needs unshare (util-linux)";
  return undefined;
}

Deno.test({
  name: "udp/client.ts --host with a name that does not resolve: one line naming it, exit 1 " +
    "(in a network namespace of its own, so no query reaches any DNS server)",
  ignore: isolationMissing() !== undefined,
  async fn() {
    const result = await runCommand("unshare", [
      "-n",
      Deno.execPath(),
      "run",
      "-A",
      "--quiet",
      "udp/client.ts",
      "--host",
      "no-such-host.invalid",
    ], { stdin: "hello\n" });
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /^error: Cannot resolve host "no-such-host\.invalid": [^\n]+\n$/);
  },
});

Deno.test({
  name: "udp/client.ts --host NAME: a name from the hosts file reaches the server at its address " +
    "(server and client in a network and mount namespace of their own: no DNS anywhere)",
  ignore: isolationMissing() !== undefined || !hasCommand("ip"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "netlab-hosts-" });
    try {
      await Deno.writeTextFile(`${dir}/hosts`, "127.0.0.1 localhost\n127.0.0.1 netlab-echo\n");
      const script = [
        'ip link set lo up && mount --bind "$1/hosts" /etc/hosts || exit 97',
        'mkfifo "$1/ready"',
        '"$2" run -A --quiet udp/server.ts --port 8080 --once --quiet > "$1/ready" &',
        'read line < "$1/ready"',
        'printf "hello\\n" | "$2" run -A --quiet udp/client.ts --host netlab-echo --port 8080',
        "status=$?",
        "wait",
        "exit $status",
      ].join("\n");
      const result = await runCommand("unshare", [
        "-n",
        "-m",
        "sh",
        "-c",
        script,
        "sh",
        dir,
        Deno.execPath(),
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, "HELLO\n");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "udp/client.ts on a terminal: a lost line is reported and the next one is sent",
  ignore: !hasCommand("script"),
  async fn() {
    const port = closedPort();
    await using terminal = startInTerminal("udp/client.ts", [
      "--port",
      String(port),
      "--timeout",
      "100",
      "--retries",
      "0",
    ]);
    await terminal.waitFor(/quit to leave/);
    await terminal.type("hello\n");
    await terminal.waitFor(/lost: no reply from 127\.0\.0\.1:\d+ after 1 try/);
    await terminal.type("again\n");
    await terminal.waitFor(/lost:[^]*lost:/);
    await terminal.type("quit\n");
    const { code, output } = await terminal.finished();
    assert.equal(code, 0, output);
    assert.equal(output.match(/lost: no reply/g)?.length, 2, output);
  },
});

Deno.test("udp/client.ts says what it waits for when a reply takes longer than 2 s", async () => {
  const port = closedPort();
  const result = await runScript(
    "udp/client.ts",
    ["--port", String(port), "--timeout", "2500", "--retries", "0"],
    { stdin: "hello\n" },
  );
  assert.equal(result.code, 1);
  const lines = result.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 2, result.stderr);
  assert.equal(
    lines[0],
    `still waiting for the reply from 127.0.0.1:${port} after 2 s (1 try of 2500 ms each)`,
  );
  assert.match(lines[1], /^error: no reply from /);
});

Deno.test("udp/client.ts --count: probes unanswered for 2 s are said once", async () => {
  const port = closedPort();
  const result = await runScript("udp/client.ts", [
    "--port",
    String(port),
    "--count",
    "2",
    "--interval",
    "1500",
    "--timeout",
    "1500",
  ]);
  assert.equal(result.code, 1);
  assert.equal(
    result.stderr,
    `no reply from 127.0.0.1:${port} for 2 s (2 of 2 probes sent, 0 answered): still ` +
      "waiting, up to 1500 ms after the last probe\n",
  );
  assert.match(result.stdout, /2 sent, 0 received, 100\.0% loss/);
});

/**
 * Runs `udp/client.ts` with `input` on a stdin that stays open (as a person's would), waits for
 * stdout to match `until`, then sends Ctrl-C (SIGINT) and returns what it printed and its code.
 */
async function interruptClient(args: string[], input: string, until: RegExp) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "udp/client.ts", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  let stdout = "";
  let seen: () => void = () => {};
  const matched = new Promise<void>((resolve) => seen = resolve);
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const pumps = Promise.all([
    (async () => {
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        stdout += chunk;
        if (until.test(stdout)) seen();
      }
      seen(); // ended without a match: the assertions below say what came instead
    })(),
    new Response(child.stderr).text(),
  ]);
  await matched;
  try {
    child.kill("SIGINT");
  } catch { /* already gone */ }
  const [, stderr] = await pumps;
  const { code } = await child.status;
  clearTimeout(timer);
  await writer.close().catch(() => {});
  return { code, stdout, stderr };
}

for (const mode of [["--count", "1000", "--interval", "20"], []]) {
  Deno.test(`udp/client.ts --stats${mode.length ? " --count" : ""}: Ctrl-C prints the summary first, then exit 130`, async () => {
    await using server = await startScript("udp/server.ts", ["--port", "0", "--quiet"]);
    const result = await interruptClient(
      ["--port", String(server.port), "--stats", ...mode],
      "one\ntwo\n",
      mode.length ? /^reply seq=3 /m : /^TWO$/m,
    );
    assert.equal(result.code, 130, result.stderr);
    assert.match(result.stdout, /--- 127\.0\.0\.1:\d+ udp statistics/);
    assert.match(result.stdout, /rtt min\/median\/p99\/max = /);
    assert.equal(result.stderr, "");
    await stopped(server);
  });
}
