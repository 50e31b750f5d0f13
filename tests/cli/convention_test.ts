/**
 * The one CLI convention (tcp/kit/cli.ts), checked over every tool that `deno task` lists:
 * `--help` in one shape (usage line, `-h, --help`, exit codes) and exit 0; an unknown flag and
 * `--port -1` as one line `error: … (see --help)` with exit 2; no stack trace anywhere; and every
 * server stops on Ctrl-C with a `stopped` line and exit 130.
 */
import assert from "node:assert/strict";
import { ROOT, runScript, startScript } from "../_helpers.ts";
import { assertHelpShape, lessonScripts } from "../_help_shape.ts";

interface Tool {
  task: string;
  script: string;
}

/** Every `deno task` entry that runs one of netlab's scripts. */
function tools(): Tool[] {
  const config = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)) as {
    tasks: Record<string, string | { command: string }>;
  };
  const out: Tool[] = [];
  for (const [task, entry] of Object.entries(config.tasks)) {
    const command = typeof entry === "string" ? entry : entry.command;
    const script = command.split(" ").find((word) => word.endsWith(".ts"));
    if (command.startsWith("deno run") && script) out.push({ task, script });
  }
  return out;
}

/** The arguments that make a server of each script listen on an ephemeral port. */
const SERVERS: Record<string, string[]> = {
  "tcp/server.ts": ["--port", "0"],
  "udp/server.ts": ["--port", "0"],
  "tcp/file_send.ts": ["deno.json", "--port", "0"],
  "tcp/file_recv.ts": ["--listen", "--port", "0", "--dir", "/tmp"],
  "tcp/halfclose.ts": ["--serve", "--port", "0"],
  "dns/server.ts": ["--zone", "dns/zones/cnblogs.com.zone", "--port", "0"],
  "dns/internet.ts": ["--port", "0"],
  "dns/resolver_server.ts": ["--port", "0"],
  "http/server.ts": ["--port", "0"],
  "http/lab.ts": ["--port", "0"],
};

/** Tools whose first argument is a command: `--port` belongs after it. */
const COMMANDS: Record<string, string[]> = { "udp/broadcast.ts": ["listen"] };

const STACK = /^\s+at /m;

Deno.test("every script that runs as a program has a deno task, so the convention covers it", () => {
  const scripts = ["tcp", "udp", "http", "dns"].flatMap(lessonScripts);
  assert.ok(scripts.length >= 25, scripts.join(" "));
  const covered = new Set(tools().map((tool) => tool.script));
  assert.deepEqual(scripts.filter((script) => !covered.has(script)), []);
});

for (const { task, script } of tools()) {
  Deno.test(`${task}: --help in the one shape`, async () => {
    const help = await assertHelpShape(script);
    assert.ok(help.startsWith(`Usage: deno task ${task}`), `${script}: ${help.split("\n")[0]}`);
  });

  Deno.test(`${task}: an unknown flag and --port -1 are one line, exit 2`, async () => {
    const bogus = await runScript(script, ["--bogus"]);
    assert.equal(bogus.code, 2, `${script}: ${bogus.stderr}`);
    assert.equal(bogus.stderr, "error: unknown option --bogus (see --help)\n", script);
    const help = await runScript(script, ["--help"]);
    if (/--port\b/.test(help.stdout)) {
      const before = COMMANDS[script] ?? (SERVERS[script] ?? []).slice(0, -2);
      const port = await runScript(script, [...before, "--port", "-1"]);
      assert.equal(port.code, 2, `${script}: ${port.stderr}`);
      assert.equal(port.stderr, "error: --port must be 0–65535, got -1 (see --help)\n", script);
    }
    assert.doesNotMatch(bogus.stderr, STACK);
  });
}

for (const [script, args] of Object.entries(SERVERS)) {
  Deno.test({
    name: `${script}: Ctrl-C stops it with a "stopped" line and exit 130`,
    ignore: !tools().some((t) => t.script === script),
    async fn() {
      const server = await startScript(script, args);
      await server.waitForLine(/\S/); // its first line: the stop hooks are in place
      const result = await server.stop("SIGINT");
      assert.equal(result.code, 130, `${script}: ${result.stderr}`);
      assert.match(result.stdout, /\bstopped\b/, `${script}: ${result.stdout}`);
      assert.doesNotMatch(result.stderr, STACK);
    },
  });
}
