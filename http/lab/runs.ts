/**
 * One run of a lab experiment as a stream of Server-Sent Events: the experiment's processes are
 * started (`deno run -A <script> … --json`), every NDJSON line they print is forwarded as it
 * comes, and the stream ends by itself — when the processes are done, or at the deadline, when
 * they are stopped. A client that leaves cancels the stream, which stops the processes too.
 *
 * The events (`event:` names): `start` (the experiment), `line` (`{ source, event }`: one
 * `--json` event of the process `source`, the schema of tcp/report.ts), `stderr` (`{ source,
 * text }`), `exit` (`{ source, code, signal }`), `end` (`{ ok, reason, ms }`), always last.
 *
 * Limits: `RUN_DEADLINE_MS` per run, `MAX_LINE_BYTES` per line, `MAX_EVENTS` lines per run,
 * `MAX_STDERR_LINES` stderr lines forwarded.
 */
import { DelimiterDecoder, FrameTooLargeError } from "../../tcp/core/framing.ts";
import type { Experiment } from "./experiments.ts";

/** A run is stopped (SIGTERM) this long after it started. */
export const RUN_DEADLINE_MS = 8000;
/** After SIGTERM, how long a process may take before SIGKILL. */
const KILL_AFTER_MS = 1000;
/** The stream ends at the latest this long after the run started, whatever the processes do. */
export const RUN_HARD_LIMIT_MS = 9800;
/** Longest NDJSON line forwarded (an annotated HTTP response is a few KiB). */
export const MAX_LINE_BYTES = 256 * 1024;
/** Lines forwarded per run before it is stopped. */
export const MAX_EVENTS = 3000;
/** Stderr lines forwarded per run (the rest is counted, not sent). */
const MAX_STDERR_LINES = 40;

const REPO_ROOT = new URL("../..", import.meta.url).pathname;
const encoder = new TextEncoder();

/** A process of a run. */
export interface LabProcess {
  /** The first event of this process named `event` (e.g. `listening`); rejects if it exits first. */
  waitFor(event: string): Promise<Record<string, unknown>>;
  /** Resolves when the process has exited and its output is forwarded. */
  done: Promise<void>;
  /** Asks the process to stop (SIGTERM). */
  stop(): void;
}

/** What an experiment starts its processes through. */
export interface LabRun {
  /** Starts `deno run -A <script> <args>` (script relative to the repository) as `source`. */
  spawn(source: string, script: string, args: string[]): LabProcess;
}

/** One Server-Sent Event: `event:`, `id:` and one `data:` line of JSON. */
export function formatSse(type: string, id: number, data: unknown): Uint8Array {
  return encoder.encode(`event: ${type}\nid: ${id}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** Options for `runStream`. */
export interface RunStreamOptions {
  deadlineMs?: number;
  hardLimitMs?: number;
  /** Called once when the run is over (for the log). */
  onEnd?: (result: { ok: boolean; reason: string; ms: number }) => void;
}

/** A run: its event stream, and when every process of it has exited. */
export interface RunHandle {
  body: ReadableStream<Uint8Array>;
  /** Resolves once the run has ended (or was cancelled) and no process of it is left. */
  settled: Promise<void>;
}

/**
 * Runs `experiment` and returns its events as a Server-Sent Events body. Cancelling the stream
 * (the client left) stops the run.
 */
export function runStream(experiment: Experiment, options: RunStreamOptions = {}): RunHandle {
  const deadlineMs = options.deadlineMs ?? RUN_DEADLINE_MS;
  const hardLimitMs = options.hardLimitMs ?? RUN_HARD_LIMIT_MS;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let nextId = 0;
  let ended = false;
  let lines = 0;
  let stderrLines = 0;
  const started = performance.now();
  const children = new Set<Deno.ChildProcess>();
  /** Every process's `done`: the run is over when all have settled. */
  const processes: Promise<void>[] = [];
  const timers: ReturnType<typeof setTimeout>[] = [];
  let stopReason: string | undefined;
  let settle!: () => void;
  const settled = new Promise<void>((resolve) => (settle = resolve));

  const send = (type: string, data: unknown) => {
    if (ended) return;
    try {
      controller.enqueue(formatSse(type, nextId++, data));
    } catch {
      // The stream was cancelled meanwhile: the run is being stopped.
    }
  };

  /** SIGTERM now, SIGKILL a moment later for whoever is still there. */
  const stopAll = (reason: string) => {
    stopReason ??= reason;
    signalAll("SIGTERM");
    timers.push(setTimeout(() => signalAll("SIGKILL"), KILL_AFTER_MS));
  };
  const signalAll = (signal: Deno.Signal) => {
    for (const child of children) {
      try {
        child.kill(signal);
      } catch { /* already exited */ }
    }
  };

  const finish = (ok: boolean, reason: string) => {
    if (ended) return;
    const ms = Math.round(performance.now() - started);
    send("end", { ok, reason, ms });
    ended = true;
    for (const timer of timers) clearTimeout(timer);
    signalAll("SIGKILL"); // Nobody outlives the stream.
    try {
      controller.close();
    } catch { /* cancelled */ }
    options.onEnd?.({ ok, reason, ms });
  };

  const run: LabRun = {
    spawn(source, script, args) {
      if (ended || stopReason) throw new Error(`The run is over: ${source} not started`);
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", new URL(script, `file://${REPO_ROOT}`).pathname, ...args],
        cwd: REPO_ROOT,
        env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      children.add(child);
      const waiters: { event: string; resolve(e: Record<string, unknown>): void }[] = [];
      let exited = false;
      const failWaiters: ((error: Error) => void)[] = [];

      const onEvent = (event: Record<string, unknown>) => {
        for (const w of [...waiters]) {
          if (event.event === w.event) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(event);
          }
        }
      };
      const stdout = forwardLines(child.stdout, (line) => {
        if (++lines > MAX_EVENTS) {
          stopAll(`more than ${MAX_EVENTS} events`);
          return;
        }
        let event: unknown;
        try {
          event = JSON.parse(line);
        } catch {
          event = undefined;
        }
        if (event && typeof event === "object" && !Array.isArray(event)) {
          send("line", { source, event });
          onEvent(event as Record<string, unknown>);
        } else if (line.trim()) send("stderr", { source, text: line.slice(0, 2000) });
      });
      const stderr = forwardLines(child.stderr, (line) => {
        if (line.trim() && ++stderrLines <= MAX_STDERR_LINES) {
          send("stderr", { source, text: line.slice(0, 2000) });
        }
      });
      // Never rejects: a process that fails is reported, and the run goes on to its end.
      const done = (async () => {
        const [status] = await Promise.all([
          child.status,
          stdout.catch((error) => send("stderr", { source, text: String(error) })),
          stderr.catch(() => {}),
        ]);
        exited = true;
        children.delete(child);
        send("exit", { source, code: status.code, signal: status.signal });
        for (const fail of failWaiters) fail(new Error(`${source} exited (${status.code})`));
      })();
      processes.push(done);
      return {
        waitFor(event) {
          return new Promise((resolve, reject) => {
            if (exited) return reject(new Error(`${source} has exited`));
            waiters.push({ event, resolve });
            failWaiters.push(reject);
          });
        },
        done,
        stop() {
          try {
            child.kill("SIGTERM");
          } catch { /* already exited */ }
        },
      };
    },
  };

  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      send("start", {
        id: experiment.id,
        title: experiment.title,
        commands: experiment.commands,
        at: new Date().toISOString(),
      });
      timers.push(
        setTimeout(() => stopAll(`stopped at the ${deadlineMs / 1000} s limit`), deadlineMs),
      );
      timers.push(setTimeout(() => finish(false, stopReason ?? "time limit"), hardLimitMs));
      experiment.start(run).then(
        async () => {
          // Every process the experiment left running must be done too.
          await Promise.all(processes);
          finish(!stopReason, stopReason ?? "finished");
        },
        async (error) => {
          stopAll(error instanceof Error ? error.message : String(error));
          await Promise.all(processes);
          finish(false, stopReason ?? "failed");
        },
      ).finally(async () => {
        await Promise.all(processes);
        for (const timer of timers.splice(0)) clearTimeout(timer);
        settle();
      });
    },
    cancel() {
      // The client left: stop everything; `finish` sends nothing more.
      ended = true;
      for (const timer of timers.splice(0)) clearTimeout(timer);
      stopAll("the client left");
      options.onEnd?.({
        ok: false,
        reason: "the client left",
        ms: Math.round(performance.now() - started),
      });
    },
  });
  return { body, settled };
}

/** Calls `onLine` for every line of `stream` (bounded by `MAX_LINE_BYTES`); resolves at EOF. */
async function forwardLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  const decoder = new DelimiterDecoder("\n", { maxFrameSize: MAX_LINE_BYTES });
  const text = new TextDecoder();
  try {
    for await (const chunk of stream) {
      for (const frame of decoder.push(chunk)) onLine(text.decode(frame));
    }
    const rest = decoder.finish();
    if (rest) onLine(text.decode(rest));
  } catch (error) {
    if (!(error instanceof FrameTooLargeError)) throw error;
    onLine(`(a line longer than ${MAX_LINE_BYTES} bytes was dropped; the rest too)`);
    await stream.cancel().catch(() => {});
  }
}
