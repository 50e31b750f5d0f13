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
import { forwardLines, MAX_CHILD_LINE_BYTES, spawnDenoScript } from "../../tcp/kit/child_script.ts";
import type { Experiment } from "./experiments.ts";

/** A run is stopped (SIGTERM) this long after it started. */
export const RUN_DEADLINE_MS = 8000;
/** After SIGTERM, how long a process may take before SIGKILL. */
const KILL_AFTER_MS = 1000;
/** The stream ends at the latest this long after the run started, whatever the processes do. */
export const RUN_HARD_LIMIT_MS = 9800;
/** Longest NDJSON line forwarded (an annotated HTTP response is a few KiB). */
export const MAX_LINE_BYTES = MAX_CHILD_LINE_BYTES;
/** Lines forwarded per run before it is stopped. */
export const MAX_EVENTS = 3000;
/** Stderr lines forwarded per run (the rest is counted, not sent). */
const MAX_STDERR_LINES = 40;

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
  const run = new Run(experiment, options);
  return { body: run.body, settled: run.settled };
}

/** The state of one run: its stream, its processes and its timers. */
class Run implements LabRun {
  readonly body: ReadableStream<Uint8Array>;
  readonly settled: Promise<void>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #nextId = 0;
  #ended = false;
  #lines = 0;
  #stderrLines = 0;
  readonly #started = performance.now();
  readonly #children = new Set<Deno.ChildProcess>();
  /** Every process's `done`: the run is over when all have settled. */
  readonly #processes: Promise<void>[] = [];
  readonly #timers: ReturnType<typeof setTimeout>[] = [];
  #stopReason: string | undefined;
  #settle!: () => void;

  constructor(readonly experiment: Experiment, readonly options: RunStreamOptions) {
    this.settled = new Promise<void>((resolve) => (this.#settle = resolve));
    this.body = new ReadableStream<Uint8Array>({
      start: (controller) => this.#start(controller),
      cancel: () => this.#cancel(),
    });
  }

  /** The stream opened: announce the experiment, arm the deadlines, let it start its processes. */
  #start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.#controller = controller;
    const { experiment } = this;
    const deadlineMs = this.options.deadlineMs ?? RUN_DEADLINE_MS;
    const hardLimitMs = this.options.hardLimitMs ?? RUN_HARD_LIMIT_MS;
    this.#send("start", {
      id: experiment.id,
      title: experiment.title,
      commands: experiment.commands,
      at: new Date().toISOString(),
    });
    this.#timers.push(
      setTimeout(() => this.#stopAll(`stopped at the ${deadlineMs / 1000} s limit`), deadlineMs),
    );
    this.#timers.push(
      setTimeout(() => this.#finish(false, this.#stopReason ?? "time limit"), hardLimitMs),
    );
    experiment.start(this).then(
      async () => {
        // Every process the experiment left running must be done too.
        await Promise.all(this.#processes);
        this.#finish(!this.#stopReason, this.#stopReason ?? "finished");
      },
      async (error) => {
        this.#stopAll(error instanceof Error ? error.message : String(error));
        await Promise.all(this.#processes);
        this.#finish(false, this.#stopReason ?? "failed");
      },
    ).finally(async () => {
      await Promise.all(this.#processes);
      for (const timer of this.#timers.splice(0)) clearTimeout(timer);
      this.#settle();
    });
  }

  /** The client left: stop everything; `#finish` sends nothing more. */
  #cancel(): void {
    this.#ended = true;
    for (const timer of this.#timers.splice(0)) clearTimeout(timer);
    this.#stopAll("the client left");
    this.options.onEnd?.({
      ok: false,
      reason: "the client left",
      ms: Math.round(performance.now() - this.#started),
    });
  }

  #send(type: string, data: unknown): void {
    if (this.#ended) return;
    try {
      this.#controller.enqueue(formatSse(type, this.#nextId++, data));
    } catch {
      // The stream was cancelled meanwhile: the run is being stopped.
    }
  }

  /** SIGTERM now, SIGKILL a moment later for whoever is still there. */
  #stopAll(reason: string): void {
    this.#stopReason ??= reason;
    this.#signalAll("SIGTERM");
    this.#timers.push(setTimeout(() => this.#signalAll("SIGKILL"), KILL_AFTER_MS));
  }

  #signalAll(signal: Deno.Signal): void {
    for (const child of this.#children) {
      try {
        child.kill(signal);
      } catch { /* already exited */ }
    }
  }

  #finish(ok: boolean, reason: string): void {
    if (this.#ended) return;
    const ms = Math.round(performance.now() - this.#started);
    this.#send("end", { ok, reason, ms });
    this.#ended = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#signalAll("SIGKILL"); // Nobody outlives the stream.
    try {
      this.#controller.close();
    } catch { /* cancelled */ }
    this.options.onEnd?.({ ok, reason, ms });
  }

  /** One line a process printed on stdout: an event to forward, or text to pass on. */
  #onStdout(source: string, line: string, onEvent: (e: Record<string, unknown>) => void): void {
    if (++this.#lines > MAX_EVENTS) {
      this.#stopAll(`more than ${MAX_EVENTS} events`);
      return;
    }
    let event: unknown;
    try {
      event = JSON.parse(line);
    } catch {
      event = undefined;
    }
    if (event && typeof event === "object" && !Array.isArray(event)) {
      this.#send("line", { source, event });
      onEvent(event as Record<string, unknown>);
    } else if (line.trim()) this.#send("stderr", { source, text: line.slice(0, 2000) });
  }

  /** Starts `deno run -A <script> <args>` as `source`; its output goes into the stream. */
  spawn(source: string, script: string, args: string[]): LabProcess {
    if (this.#ended || this.#stopReason) throw new Error(`The run is over: ${source} not started`);
    const child = spawnDenoScript(script, args);
    this.#children.add(child);
    const waiters: { event: string; resolve(e: Record<string, unknown>): void }[] = [];
    const failWaiters: ((error: Error) => void)[] = [];
    let exited = false;
    const onEvent = (event: Record<string, unknown>) => {
      for (const w of [...waiters]) {
        if (event.event !== w.event) continue;
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(event);
      }
    };
    const stdout = forwardLines(child.stdout, (line) => this.#onStdout(source, line, onEvent));
    const stderr = forwardLines(child.stderr, (line) => {
      if (line.trim() && ++this.#stderrLines <= MAX_STDERR_LINES) {
        this.#send("stderr", { source, text: line.slice(0, 2000) });
      }
    });
    // Never rejects: a process that fails is reported, and the run goes on to its end.
    const done = (async () => {
      const [status] = await Promise.all([
        child.status,
        stdout.catch((error) => this.#send("stderr", { source, text: String(error) })),
        stderr.catch(() => {}),
      ]);
      exited = true;
      this.#children.delete(child);
      this.#send("exit", { source, code: status.code, signal: status.signal });
      for (const fail of failWaiters) fail(new Error(`${source} exited (${status.code})`));
    })();
    this.#processes.push(done);
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
  }
}
