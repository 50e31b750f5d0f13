/**
 * README's seed map, run exactly as written: every item's commands go through `bash -c` from the
 * repository root, with `deno` on PATH, and every quoted output must appear in what they print.
 * An item "`A` then `B`" starts A (a server: it prints `listening on …` or `lab on …` first),
 * runs B beside it, then stops A with Ctrl-C. If README and the programs drift apart, this fails.
 * The one liberty taken: `/tmp/` in a command means a fresh folder of the test's own, so an
 * earlier run (or a learner's) cannot change the outcome.
 */
import assert from "node:assert/strict";
import { ROOT } from "../_helpers.ts";

/** One item of the seed map: its commands in order and the texts its output must contain. */
export interface SeedMapItem {
  title: string;
  commands: string[];
  expected: string[];
}

/** The spans between backticks in `text`. */
function quoted(text: string): string[] {
  const spans: string[] = [];
  let at = text.indexOf("`");
  while (at >= 0) {
    const end = text.indexOf("`", at + 1);
    if (end < 0) break;
    spans.push(text.slice(at + 1, end));
    at = text.indexOf("`", end + 1);
  }
  return spans;
}

/** The first `→` after `from` that is not inside backticks (expected output may hold one). */
function arrowOutsideQuotes(text: string, from: number): number {
  let inside = false;
  for (let i = from; i < text.length; i++) {
    if (text[i] === "`") inside = !inside;
    else if (text[i] === "→" && !inside) return i;
  }
  return -1;
}

/** The items of README's "## Seed map" section. */
export function parseSeedMap(readme: string): SeedMapItem[] {
  const start = readme.indexOf("\n## Seed map");
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const items: SeedMapItem[] = [];
  let current: string[] = [];
  const flush = () => {
    if (!current.length) return;
    const text = current.join(" ");
    const colon = text.indexOf(":");
    const arrow = arrowOutsideQuotes(text, colon);
    if (arrow > 0) {
      const commands = quoted(text.slice(colon + 1, arrow)).filter((c) =>
        c.startsWith("deno ") ||
        c.startsWith("printf ")
      );
      items.push({
        title: text.slice(2, colon),
        commands,
        expected: quoted(text.slice(arrow + 1)),
      });
    }
    current = [];
  };
  for (const line of section.split("\n")) {
    if (line.startsWith("- ")) {
      flush();
      current.push(line);
    } else if (line.startsWith("  ") && current.length) {
      current.push(line.trim());
    } else {
      flush();
    }
  }
  flush();
  return items;
}

const decoder = new TextDecoder();

/** A folder with `deno` in it (this very Deno), for PATH. */
async function denoOnPath(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "netlab-seedmap-bin-" });
  await Deno.symlink(Deno.execPath(), `${dir}/deno`);
  return dir;
}

function shell(command: string, bin: string) {
  return new Deno.Command("setsid", {
    args: ["bash", "-c", command],
    cwd: ROOT,
    env: {
      PATH: `${bin}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
      NO_COLOR: "1",
      DENO_NO_UPDATE_CHECK: "1",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Reads `stream` into `sink`, resolving `ready` once `pattern` has been seen. */
function pump(stream: ReadableStream<Uint8Array>, sink: { text: string }, pattern?: RegExp) {
  let seen!: () => void;
  const ready = new Promise<void>((resolve) => seen = resolve);
  const done = (async () => {
    for await (const chunk of stream) {
      sink.text += decoder.decode(chunk, { stream: true });
      if (!pattern || pattern.test(sink.text)) seen();
    }
    seen();
  })();
  return { ready, done };
}

/** Runs one item; returns everything its commands printed (stdout and stderr). */
async function runItem(item: SeedMapItem, bin: string, tmp: string): Promise<string> {
  const servers: { child: Deno.ChildProcess; out: { text: string }; done: Promise<void>[] }[] = [];
  let printed = "";
  try {
    const commands = item.commands.map((command) => command.replaceAll("/tmp/", `${tmp}/`));
    for (const command of commands.slice(0, -1)) {
      const child = shell(command, bin);
      const out = { text: "" };
      const stdout = pump(child.stdout, out, /(listening on|lab on) \S+/);
      const stderr = pump(child.stderr, out);
      servers.push({ child, out, done: [stdout.done, stderr.done] });
      const timer = setTimeout(() => Deno.kill(-child.pid, "SIGKILL"), 30_000);
      await stdout.ready;
      clearTimeout(timer);
    }
    const last = shell(commands.at(-1)!, bin);
    const timer = setTimeout(() => Deno.kill(-last.pid, "SIGKILL"), 60_000);
    const { stdout, stderr } = await last.output();
    clearTimeout(timer);
    printed += decoder.decode(stdout) + decoder.decode(stderr);
  } finally {
    for (const server of servers.reverse()) {
      try {
        Deno.kill(-server.child.pid, "SIGINT");
      } catch { /* already gone */ }
      await server.child.status;
      await Promise.all(server.done);
      printed += server.out.text;
    }
  }
  return printed;
}

const readme = Deno.readTextFileSync(`${ROOT}README.md`);
const items = parseSeedMap(readme);

Deno.test("README's seed map lists runnable commands with expected output", () => {
  assert.ok(items.length >= 20, `${items.length} items`);
  for (const item of items) {
    assert.ok(item.commands.length >= 1, item.title);
    assert.ok(item.expected.length >= 1, item.title);
  }
});

for (const item of items) {
  Deno.test({
    name: `seed map: ${item.title}`,
    ignore: Deno.build.os !== "linux",
    async fn() {
      const bin = await denoOnPath();
      try {
        const printed = await runItem(item, bin, bin);
        for (const text of item.expected) {
          assert.ok(
            printed.includes(text),
            `"${text}" not in the output of ${item.commands.join(" then ")}:\n${printed}`,
          );
        }
      } finally {
        await Deno.remove(bin, { recursive: true });
      }
    },
  });
}
