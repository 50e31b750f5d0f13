/**
 * The one log writer: lines collected in memory and written in batches, so a busy server pays for
 * one write system call per turn of the event loop instead of one per request, query or datagram.
 *
 * A line is appended to a pending text; the text is written when it reaches `LOG_BATCH_BYTES`,
 * or at the end of the current event-loop turn (`setImmediate`), whichever comes first — so a
 * line is never held for longer than one turn (well under the one second a log reader may
 * expect), and on an idle server every line still appears at once. `flushLogs()` writes whatever
 * is pending; `runMain` calls it before the process exits, so Ctrl-C loses nothing. The bytes and
 * their order are exactly those of writing each line on its own.
 */
import { setImmediate } from "node:timers";

/** Pending text is written once it reaches this many characters. */
export const LOG_BATCH_BYTES = 64 * 1024;

/** Where the batches go (`Deno.stdout` and `Deno.stderr` have this shape). */
export interface SyncWriter {
  writeSync(bytes: Uint8Array): number;
}

const encoder = new TextEncoder();
const writers = new Set<LogWriter>();

/** Lines for one output, written in batches. */
export class LogWriter {
  #pending = "";
  #scheduled = false;

  constructor(readonly target: SyncWriter, readonly batchBytes = LOG_BATCH_BYTES) {
    writers.add(this);
  }

  /** Queues `text` plus a newline. */
  line(text: string): void {
    this.#pending += text + "\n";
    if (this.#pending.length >= this.batchBytes) {
      this.flush();
    } else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flushLater);
    }
  }

  /** Writes everything pending now. */
  flush(): void {
    if (this.#pending === "") return;
    const bytes = encoder.encode(this.#pending);
    this.#pending = "";
    let written = 0;
    while (written < bytes.length) written += this.target.writeSync(bytes.subarray(written));
  }

  #flushLater = () => {
    this.#scheduled = false;
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
