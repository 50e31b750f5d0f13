/**
 * One of the demo's servers, run as a child process: the real lesson script (`deno run -A
 * script …`), so the demo shows exactly what `deno task http:server` or `deno task dns:resolver`
 * would do in a terminal of its own.
 *
 * Theory of operation: both pipes are read for the child's whole life (tcp/kit/child_script.ts),
 * because a child whose pipe is full blocks on its next log line. Every stdout line is kept
 * (`lines`); a caller waits
 * for the first line that passes a test — from the start, so a line printed before the wait
 * began still counts — and the wait ends early when the child exits or the time is up. Only the
 * tail of stderr is kept: its last line says why a child failed to start. `stop()` sends SIGTERM
 * (the scripts stop cleanly on it) and resolves once the child has exited and both pipes are
 * drained.
 */
import { forwardLines, spawnDenoScript, stderrTail } from "../../tcp/kit/child_script.ts";

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
  const child = spawnDenoScript(script, args);
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let exited = false;
  const wake = () => waiters.forEach((w) => w());
  const pumpOut = forwardLines(child.stdout, (line) => {
    lines.push(line);
    wake();
  });
  const stderr = stderrTail(child.stderr);
  const done = Promise.all([pumpOut, stderr.done, child.status]).then(() => {
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
  return { lines, waitFor, lastError: stderr.lastLine, stop };
}
