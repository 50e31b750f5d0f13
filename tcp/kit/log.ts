/**
 * The one log writer: lines collected in memory and written in batches, so a busy server pays for
 * one write system call per batch instead of one per request, query or datagram.
 *
 * A line is appended to a pending text; the text is written when it reaches `LOG_BATCH_BYTES`,
 * or `LOG_FLUSH_MS` after its first line, whichever comes first — a delay nobody reading a log
 * notices, and one write per 20 ms however small the event-loop turns are (a UDP echo server
 * answers one or two datagrams per turn: a write per turn would cost more than the answers).
 * `flushLogs()` writes whatever is pending; `runMain` calls it before the process exits, so
 * Ctrl-C loses nothing, and a warning on stderr first writes the stdout lines before it. The
 * bytes and their order are exactly those of writing each line on its own.
 */

/** Pending text is written once it reaches this many characters. */
export const LOG_BATCH_BYTES = 64 * 1024;
/** Pending text is written at most this long after its first line. */
export const LOG_FLUSH_MS = 20;

/** Where the batches go (`Deno.stdout` and `Deno.stderr` have this shape). */
export interface SyncWriter {
  writeSync(bytes: Uint8Array): number;
}

const encoder = new TextEncoder();
const writers = new Set<LogWriter>();

/** Lines for one output, written in batches. */
export class LogWriter {
  #pending = "";
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(readonly target: SyncWriter, readonly batchBytes = LOG_BATCH_BYTES) {
    writers.add(this);
  }

  /** Queues `text` plus a newline. */
  line(text: string): void {
    this.#pending += text + "\n";
    if (this.#pending.length >= this.batchBytes) {
      this.flush();
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(this.#flushLater, LOG_FLUSH_MS);
    }
  }

  /** Writes everything pending now. */
  flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#pending === "") return;
    const bytes = encoder.encode(this.#pending);
    this.#pending = "";
    let written = 0;
    while (written < bytes.length) written += this.target.writeSync(bytes.subarray(written));
  }

  #flushLater = () => {
    this.#timer = undefined;
    try {
      this.flush();
    } catch {
      // stdout went away (a closed pipe): nothing more can be logged there.
    }
  };
}

let stdoutWriter: LogWriter | undefined;

/** The process's one batched writer for stdout. */
export function stdoutLog(): LogWriter {
  return stdoutWriter ??= new LogWriter(Deno.stdout);
}

/** Writes every writer's pending lines (before the process exits). */
export function flushLogs(): void {
  for (const writer of writers) {
    try {
      writer.flush();
    } catch {
      // As above: a closed output cannot be written any more.
    }
  }
}
