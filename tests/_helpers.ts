/**
 * Test helpers shared by every topic: run a netlab script as a real subprocess, wait for its
 * `listening on …` line (never a sleep), talk to it, stop it, and find out whether an interop
 * tool such as `dig`, `curl` or `nc` is installed (tests that need one are reported as ignored
 * when it is missing, never as passed).
 */

/** The repository root (tests run scripts with it as the working directory). */
export const ROOT = new URL("..", import.meta.url).pathname;

export { readAll, readExactly, writeAll } from "../tcp/core/io.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What a finished script left behind. */
export interface ScriptResult {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
}

/** Options for `runScript` and `startScript`. */
export interface ScriptOptions {
  /** Bytes or text written to stdin, which is then closed. Omitted: stdin is closed at once. */
  stdin?: string | Uint8Array;
  /** Kill the script (SIGKILL) if it runs longer than this. Default 20 s. */
  timeoutMs?: number;
  env?: Record<string, string>;
  cwd?: string;
}

/**
 * The environment every child gets on top of the test's. INIT_CWD is emptied: under `deno task
 * test` it holds the directory the tests were started from, and scripts resolve the paths they
 * are given against it (tcp/kit/cli.ts `userPath`); the tests give paths from ROOT.
 */
const TEST_ENV = { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", INIT_CWD: "" };

function denoArgs(script: string, args: string[]): string[] {
  return ["run", "-A", "--quiet", script, ...args];
}

/** Runs `deno run -A script args…` to completion and collects its output. */
export async function runScript(
  script: string,
  args: string[] = [],
  options: ScriptOptions = {},
): Promise<ScriptResult> {
  return await runCommand(Deno.execPath(), denoArgs(script, args), {
    cwd: ROOT,
    ...options,
  });
}

/** Runs any command to completion (used for interop tools like `dig`, `curl`, `nc`). */
export async function runCommand(
  command: string,
  args: string[] = [],
  options: ScriptOptions = {},
): Promise<ScriptResult> {
  const child = new Deno.Command(command, {
    args,
    cwd: options.cwd ?? ROOT,
    env: { ...TEST_ENV, ...options.env },
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, options.timeoutMs ?? 20_000);
  try {
    if (options.stdin !== undefined) {
      const bytes = typeof options.stdin === "string"
        ? encoder.encode(options.stdin)
        : options.stdin;
      const writer = child.stdin.getWriter();
      try {
        await writer.write(bytes);
        await writer.close();
      } catch {
        // The child may exit before reading all of stdin; its output tells the story.
      }
    }
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

/** A script started by `startScript`, still running. */
export interface RunningScript extends AsyncDisposable {
  child: Deno.ChildProcess;
  /** The address from the first `listening on …` line, e.g. `127.0.0.1:41234`. */
  address: string;
  /** Host and port parsed from it (`host` without brackets; port 0 for unix sockets). */
  host: string;
  port: number;
  /** The first stdout line (`listening on …`). */
  firstLine: string;
  /** Stdout lines seen so far (including the first). */
  lines: string[];
  /** Stderr text seen so far. */
  stderr(): string;
  /** Waits until a stdout line matches, returning it. Rejects if the script exits first. */
  waitForLine(pattern: RegExp | string, timeoutMs?: number): Promise<string>;
  /** Sends a signal (default SIGINT, like Ctrl-C) and waits for exit and all output. */
  stop(signal?: Deno.Signal): Promise<ScriptResult>;
}

/**
 * Starts `deno run -A script args…` and resolves once its first stdout line saying `listening on `
 * (perhaps after the server's name) has appeared, parsing the address from it.
 */
export async function startScript(
  script: string,
  args: string[] = [],
  options: ScriptOptions = {},
): Promise<RunningScript> {
  return await startCommand(Deno.execPath(), denoArgs(script, args), options);
}

/** Like `startScript` for any command that prints a `listening on …` line. */
export async function startCommand(
  command: string,
  args: string[],
  options: ScriptOptions = {},
): Promise<RunningScript> {
  const child = new Deno.Command(command, {
    args,
    cwd: options.cwd ?? ROOT,
    env: { ...TEST_ENV, ...options.env },
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(
      typeof options.stdin === "string" ? encoder.encode(options.stdin) : options.stdin,
    );
    await writer.close();
  }

  const lines: string[] = [];
  let stderrText = "";
  let exited = false;
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of [...waiters]) w();
  };

  const pumpOut = (async () => {
    let pending = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      pending += chunk;
      let nl;
      while ((nl = pending.indexOf("\n")) >= 0) {
        lines.push(pending.slice(0, nl).replace(/\r$/, ""));
        pending = pending.slice(nl + 1);
      }
      wake();
    }
    if (pending) lines.push(pending);
  })();
  const pumpErr = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderrText += chunk;
      wake();
    }
  })();
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  // Output is complete only when both pipes have closed and the process has exited.
  const finished = Promise.all([pumpOut, pumpErr, status]).then(([, , s]) => {
    exited = true;
    wake();
    return s;
  });

  const hardKill = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, options.timeoutMs ?? 60_000);

  function waitForLine(pattern: RegExp | string, timeoutMs = 15_000): Promise<string> {
    const test = (line: string) =>
      typeof pattern === "string" ? line.includes(pattern) : pattern.test(line);
    return new Promise((resolve, reject) => {
      let seen = 0;
      const check = () => {
        for (; seen < lines.length; seen++) {
          if (test(lines[seen])) {
            done();
            resolve(lines[seen]);
            return;
          }
        }
        if (exited) {
          done();
          reject(
            new Error(
              `script exited before printing ${pattern}\nstdout:\n${
                lines.join("\n")
              }\nstderr:\n${stderrText}`,
            ),
          );
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${pattern}\nstdout:\n${lines.join("\n")}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  }

  let stopped: Promise<ScriptResult> | undefined;
  function stop(signal: Deno.Signal = "SIGINT"): Promise<ScriptResult> {
    stopped ??= (async () => {
      if (!exited) {
        try {
          child.kill(signal);
        } catch { /* already gone */ }
      }
      const s = await finished;
      clearTimeout(hardKill);
      return {
        code: s.code,
        signal: s.signal,
        stdout: lines.join("\n"),
        stderr: stderrText,
      };
    })();
    return stopped;
  }

  let firstLine: string;
  try {
    // The text line, or under --json the `listening` event (tcp/kit/report.ts schema).
    firstLine = await waitForLine(/^(?:[a-z]+ )?(listening|lab) on |^\{.*"event":"listening"/);
  } catch (error) {
    await stop("SIGKILL");
    throw error;
  }
  // `listening on 127.0.0.1:80`, or with a transport word first: `listening on udp 127.0.0.1:80`.
  const listeningText = firstLine.startsWith("{")
    ? String((JSON.parse(firstLine) as { text?: unknown }).text ?? "")
    : firstLine;
  // A server may name itself first: `resolver listening on 127.0.0.1:1054 (udp+tcp)`.
  const words = listeningText.slice(listeningText.indexOf(" on ") + 4).split(/\s/);
  const address = /^(udp|tcp)$/.test(words[0]) && words.length > 1 ? words[1] : words[0];
  const { host, port } = splitAddress(address);
  return {
    child,
    address,
    host,
    port,
    firstLine,
    lines,
    stderr: () => stderrText,
    waitForLine,
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
}

/** Splits `127.0.0.1:80`, `[::1]:80`, `http://127.0.0.1:80/` or `unix:/path` into host and port. */
export function splitAddress(address: string): { host: string; port: number } {
  const bare = address.replace(/^[a-z]+:\/\//, "").replace(/\/.*$/, "");
  if (bare.startsWith("unix:")) return { host: bare.slice(5), port: 0 };
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(bare);
  if (!m) throw new Error(`cannot parse address "${address}"`);
  return { host: m[1], port: Number(m[2]) };
}

const commandCache = new Map<string, boolean>();

/** True when `name` is an executable on PATH (checked once, synchronously, for `ignore:`). */
export function hasCommand(name: string): boolean {
  const cached = commandCache.get(name);
  if (cached !== undefined) return cached;
  let found = false;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    try {
      const info = Deno.statSync(`${dir}/${name}`);
      if (info.isFile && (info.mode ?? 0o111) & 0o111) {
        found = true;
        break;
      }
    } catch { /* not here */ }
  }
  commandCache.set(name, found);
  return found;
}

/** True when running as root (network namespaces, port 53). */
export function isRoot(): boolean {
  return Deno.uid?.() === 0;
}

/** One `--json` event (see the schema in tcp/kit/report.ts). */
export type JsonEvent = Record<string, unknown> & { ts: string; tool: string; event: string };

/**
 * Checks `--json` output against the shared NDJSON schema (tcp/kit/report.ts): every non-empty line
 * parses as an object with an ISO `ts`, `tool` equal to `tool` and a string `event`. Returns the
 * events; throws an Error naming the first bad line.
 */
export function assertNdjson(stdout: string, tool: string): JsonEvent[] {
  const events: JsonEvent[] = [];
  for (const [index, line] of stdout.split("\n").entries()) {
    if (line.trim() === "") continue;
    const where = `--json line ${index + 1} ${JSON.stringify(line.slice(0, 120))}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new Error(`${where} is not JSON`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new Error(`${where} is not a JSON object`);
    }
    const event = value as Record<string, unknown>;
    if (
      typeof event.ts !== "string" || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(event.ts) ||
      Number.isNaN(Date.parse(event.ts))
    ) {
      throw new Error(`${where} has no ISO "ts"`);
    }
    if (event.tool !== tool) throw new Error(`${where} has "tool" ${event.tool}, not ${tool}`);
    if (typeof event.event !== "string" || event.event === "") {
      throw new Error(`${where} has no "event"`);
    }
    events.push(event as JsonEvent);
  }
  return events;
}

/** Stops a server with Ctrl-C and checks it ended as the convention says: exit 130. */
export async function stopped(script: RunningScript): Promise<ScriptResult> {
  const result = await script.stop();
  if (result.code !== 130) {
    throw new Error(`expected exit 130 after Ctrl-C, got ${result.code}: ${result.stderr}`);
  }
  return result;
}

/** Waits (bounded) for a one-shot program to exit by itself with 0; returns what it printed. */
export async function exitedByItself(script: RunningScript): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), 15_000);
  });
  try {
    const status = await Promise.race([script.child.status, timeout]);
    if (status === "timeout") throw new Error("the program did not exit by itself");
  } finally {
    clearTimeout(timer);
  }
  const result = await script.stop();
  if (result.code !== 0) throw new Error(`exit ${result.code}: ${result.stderr}`);
  return result.stdout;
}
