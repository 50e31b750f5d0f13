/**
 * The one shape of `--help` (tcp/kit/cli.ts): `Usage: deno task NAME …` first, where NAME is the
 * deno.json task that runs the script; the options, `-h, --help` among them; the exit codes
 * last (the standard line, or a tool's own list that includes 130), nothing over 100 columns.
 * tests/cli/convention_test.ts checks it for every tool `deno task` lists.
 */
import assert from "node:assert/strict";
import { ROOT, runScript } from "./_helpers.ts";

/** deno.json's tasks: name → command (a task may be a string or `{ command, description }`). */
function tasks(): Map<string, string> {
  const config = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)) as {
    tasks: Record<string, string | { command: string }>;
  };
  return new Map(
    Object.entries(config.tasks).map((
      [name, task],
    ) => [name, typeof task === "string" ? task : task.command]),
  );
}

/** The scripts of `folder` that run as programs (they call `runMain`), e.g. `tcp/server.ts`. */
export function lessonScripts(folder: string): string[] {
  return [...Deno.readDirSync(`${ROOT}${folder}`)]
    .filter((e) => e.isFile && e.name.endsWith(".ts"))
    .map((e) => `${folder}/${e.name}`)
    .filter((path) => /\bawait runMain\(/.test(Deno.readTextFileSync(`${ROOT}${path}`)))
    .sort();
}

/** Runs `script --help` and checks the shape; returns the help text. */
export async function assertHelpShape(script: string): Promise<string> {
  const result = await runScript(script, ["--help"]);
  assert.equal(result.code, 0, `${script}: ${result.stderr}`);
  assert.equal(result.stderr, "", script);
  const lines = result.stdout.trimEnd().split("\n");
  const name = /^Usage: deno task (\S+)/.exec(lines[0])?.[1];
  assert.ok(name, `${script}: first line ${JSON.stringify(lines[0])}`);
  const command = tasks().get(name);
  assert.ok(command?.split(/\s+/).includes(script), `${script}: task ${name} runs ${command}`);
  assert.ok(lines.some((l) => /^ {2}-h, --help {2,}show this help$/.test(l)), `${script}: -h`);
  const exitCodes = lines.findIndex((l) => l.startsWith("Exit codes:"));
  assert.ok(exitCodes > 0, `${script}: no exit codes`);
  assert.match(lines.slice(exitCodes).join("\n"), /\b130\b/, `${script}: exit code 130`);
  for (const line of lines) assert.ok(line.length <= 100, `${script}: ${line.length} columns`);
  return result.stdout;
}
