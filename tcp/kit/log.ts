/**
 * The one log writer: lines collected in memory and written in batches, so a busy server pays for
 * one write system call per batch instead of one per request, query or datagram.
 *
 * A line is encoded into a buffer of pending bytes (or copied there, for a line whose bytes the
 * caller has at hand: `lineOfBytes`); the buffer is written when the next line would not fit in
 * `LOG_BATCH_BYTES`, or `LOG_FLUSH_MS` after its first line, whichever comes first — a delay
 * nobody reading a log notices, and one write per 20 ms however small the event-loop turns are
 * (a UDP echo server answers one or two datagrams per turn: a write per turn would cost more than
 * the answers).
 * `flushLogs()` writes whatever is pending; `runMain` calls it before the process exits, so
 * Ctrl-C loses nothing, and a warning on stderr first writes the stdout lines before it. The
 * bytes and their order are exactly those of writing each line on its own.
 */

/** The pending bytes are written before they would pass this many. */
export const LOG_BATCH_BYTES = 64 * 1024;
/** Pending bytes are written at most this long after their first line. */
export const LOG_FLUSH_MS = 20;

/** Where the batches go (`Deno.stdout` and `Deno.stderr` have this shape). */
export interface SyncWriter {
  writeSync(bytes: Uint8Array): number;
}

const encoder = new TextEncoder();
const NEWLINE = 0x0a;
const NEWLINE_BYTES = new Uint8Array([NEWLINE]);
const writers = new Set<LogWriter>();

/** Lines for one output, written in batches. */
export class LogWriter {
  /** The pending bytes: `#buffer[0, #length)`. */
  readonly #buffer: Uint8Array;
  #length = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(readonly target: SyncWriter, readonly batchBytes = LOG_BATCH_BYTES) {
    this.#buffer = new Uint8Array(batchBytes);
    writers.add(this);
  }

  /** Queues `text` plus a newline. */
  line(text: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit: text that cannot fit is not tried twice.
    if (text.length * 3 + 1 <= this.#buffer.length - this.#length || this.#fits(text)) {
      this.#length += encoder.encodeInto(text, this.#buffer.subarray(this.#length)).written;
      this.#buffer[this.#length++] = NEWLINE;
    } else {
      this.flush();
      this.#writeAll(encoder.encode(text + "\n"));
    }
    this.#queued();
  }

  /**
   * Queues the bytes `head` then `body` plus a newline: a line made of bytes already at hand (a
   * server's cached peer text and a datagram's printable bytes), without making a string.
   */
  lineOfBytes(head: Uint8Array, body: Uint8Array): void {
    const size = head.length + body.length + 1;
    if (size > this.#buffer.length - this.#length) {
      this.flush();
      if (size > this.#buffer.length) {
        this.#writeAll(head);
        this.#writeAll(body);
        this.#writeAll(NEWLINE_BYTES);
        return;
      }
    }
    this.#buffer.set(head, this.#length);
    this.#buffer.set(body, this.#length + head.length);
    this.#length += size;
    this.#buffer[this.#length - 1] = NEWLINE;
    this.#queued();
  }

  /** Writes everything pending now. */
  flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#length === 0) return;
    const length = this.#length;
    this.#length = 0;
    this.#writeAll(this.#buffer.subarray(0, length));
  }

  /** Whether `text` and its newline fit after what is pending; flushed first when they would not. */
  #fits(text: string): boolean {
    const bytes = encoder.encode(text).length + 1;
    if (bytes <= this.#buffer.length - this.#length) return true;
    this.flush();
    return bytes <= this.#buffer.length;
  }

  /** After a line: written once the batch is full, else within `LOG_FLUSH_MS`. */
  #queued(): void {
    if (this.#length >= this.#buffer.length) this.flush();
    else if (this.#timer === undefined) this.#timer = setTimeout(this.#flushLater, LOG_FLUSH_MS);
  }

  #writeAll(bytes: Uint8Array): void {
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
