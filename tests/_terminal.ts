/**
 * Runs a netlab script on a terminal, for the tests of what a person at a keyboard sees (the
 * `>>>: ` prompts): util-linux `script` gives the program a pseudo-terminal, so
 * `Deno.stdin.isTerminal()` is true, and passes what the test "types" to it. Tests that need it
 * are ignored where `script` is missing (`hasCommand("script")`).
 */
import { ROOT } from "./_helpers.ts";

const encoder = new TextEncoder();

/** A script running on a pseudo-terminal. */
export interface TerminalRun extends AsyncDisposable {
  /** Everything the terminal showed so far (stdout and stderr together, with `\r\n`). */
  output(): string;
  /** Waits until the output matches `pattern` (rejects after `timeoutMs` or on exit). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Types `text` (include `\n` to press Enter). */
  type(text: string): Promise<void>;
  /** Waits for the program to exit by itself; its exit code and output. */
  finished(timeoutMs?: number): Promise<{ code: number; output: string }>;
}

/** `'…'` for sh, so any argument reaches the program unchanged. */
function shellQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** Starts `deno run -A script args…` on a pseudo-terminal. */
export function startInTerminal(script: string, args: string[] = []): TerminalRun {
  const command = [Deno.execPath(), "run", "-A", "--quiet", script, ...args].map(shellQuote)
    .join(" ");
  const child = new Deno.Command("script", {
    args: ["-qfec", command, "/dev/null"],
    cwd: ROOT,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", TERM: "dumb" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  let text = "";
  let exited = false;
  const waiters = new Set<() => void>();
  const wake = () => [...waiters].forEach((w) => w());
  const pump = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      wake();
    }
  })();
  const drainErr = child.stderr.cancel();
  const status = Promise.all([child.status, pump, drainErr]).then(([s]) => {
    exited = true;
    wake();
    return s;
  });
  const hardKill = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 60_000);

  function waitFor(pattern: RegExp, timeoutMs = 15_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (pattern.test(text)) {
          done();
          resolve();
        } else if (exited) {
          done();
          reject(new Error(`exited before showing ${pattern}:\n${text}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${pattern}:\n${text}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  }

  async function finished(timeoutMs = 15_000) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`did not exit:\n${text}`)), timeoutMs);
    });
    try {
      const s = await Promise.race([status, late]);
      return { code: s.code, output: text };
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    output: () => text,
    waitFor,
    async type(input: string) {
      await writer.write(encoder.encode(input));
    },
    finished,
    async [Symbol.asyncDispose]() {
      if (!exited) {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }
      await writer.close().catch(() => {});
      await status;
      clearTimeout(hardKill);
    },
  };
}
