/**
 * One of the demo's servers, run as a child process: the real lesson script (`deno run -A
 * script …`), so the demo shows exactly what `deno task http:server` or `deno task dns:resolver`
 * would do in a terminal of its own.
 *
 * Theory of operation: both pipes are read for the child's whole life, because a child whose
 * pipe is full blocks on its next log line. Every stdout line is kept (`lines`); a caller waits
 * for the first line that passes a test — from the start, so a line printed before the wait
 * began still counts — and the wait ends early when the child exits or the time is up. Only the
 * tail of stderr is kept: its last line says why a child failed to start. `stop()` sends SIGTERM
 * (the scripts stop cleanly on it) and resolves once the child has exited and both pipes are
 * drained.
 */

/** Where the children run: the repository root, so their relative paths work from anywhere. */
const REPO_ROOT = new URL("../..", import.meta.url).pathname;
/** How much of a child's stderr is kept (its last line is the one that matters). */
const STDERR_TAIL_CHARS = 4000;

/** A child process that prints lines: what it printed so far, and a way to wait for more. */
export interface ChildScript {
  lines: string[];
  /** Resolves with the first line (from the start) matching `test`, or undefined on exit/timeout. */
  waitFor(test: (line: string) => boolean, timeoutMs: number): Promise<string | undefined>;
  /** The last line of its stderr (why it failed to start). */
  lastError(): string;
  stop(): Promise<void>;
}

/** Starts `deno run -A script args…`, reading both of its pipes for its whole life. */
export function spawnScript(script: string, args: string[]): ChildScript {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", script, ...args],
    cwd: REPO_ROOT,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let exited = false;
  let stderr = "";
  const wake = () => waiters.forEach((w) => w());
  const pumpOut = (async () => {
    let pending = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      pending += chunk;
      let nl;
      while ((nl = pending.indexOf("\n")) >= 0) {
        lines.push(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
      wake();
    }
  })();
  const pumpErr = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderr = (stderr + chunk).slice(-STDERR_TAIL_CHARS);
    }
  })();
  const done = Promise.all([pumpOut, pumpErr, child.status]).then(() => {
    exited = true;
    wake();
  });
  const waitFor = (test: (line: string) => boolean, timeoutMs: number) =>
    new Promise<string | undefined>((resolve) => {
      let seen = 0;
      const check = () => {
        for (; seen < lines.length; seen++) {
          if (test(lines[seen])) return finish(lines[seen]);
        }
        if (exited) finish(undefined);
      };
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      const finish = (line: string | undefined) => {
        clearTimeout(timer);
        waiters.delete(check);
        resolve(line);
      };
      waiters.add(check);
      check();
    });
  const stop = async () => {
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch (error) {
        if (!(error instanceof TypeError)) throw error; // TypeError: already exited
      }
    }
    await done;
  };
  return { lines, waitFor, lastError: () => stderr.trim().split("\n").at(-1) ?? "", stop };
}
