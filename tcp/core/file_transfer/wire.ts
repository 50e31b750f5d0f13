/**
 * What both directions of a file transfer share (tcp/core/file_transfer/send.ts and
 * receive.ts, and seed 003's protocol in seed.ts): the connection guard — an idle deadline and
 * the caller's abort signal, one close — and the reader that takes header/ack frames and raw
 * bodies from one buffer.
 *
 * Every connection has an idle deadline: if no byte moves for `idleTimeoutMs`, or the caller's
 * signal aborts, the connection is closed and the pending read or write fails with that reason
 * (`ConnGuard.explain` reports the reason instead of the I/O error it caused).
 */
import { decodeLengthPrefixed, encodeLengthPrefixed, FrameTooLargeError } from "../framing.ts";
import {
  FileProtocolError,
  HEADER_FRAMING,
  looksLikeSeedFileName,
  MAX_HEADER_FRAME_SIZE,
  SEED_SENDER_HINT,
} from "../file_protocol.ts";
import { closeQuietly, SLOW_WAIT_MS, writeAll } from "../io.ts";
import type { ProgressBar } from "../../kit/progress.ts";

/** Read/write chunk size for file bodies: large enough for full speed, small enough for RSS. */
export const CHUNK_SIZE = 1024 * 1024;

/** How long the file tools wait for the other side to accept the connection. */
export const CONNECT_TIMEOUT_MS = 10_000;

/** Default idle deadline: a connection where nothing moves for this long is dropped. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

/** The whole transfer failed (connection cut, short body, protocol error, timeout). */
export class TransferError extends Error {
  override name = "TransferError";
}

/** Starts a progress bar for one file (`createProgressBar` from `tcp/kit/progress.ts`). */
export type ProgressFactory = (
  label: string,
  total: number | undefined,
  options?: { from?: number },
) => ProgressBar;

/**
 * What crossed the wire, for `--explain`: a whole header/ack/resume frame (length prefix
 * included), or a file body (only its size: bodies are never dumped).
 */
export type WireEvent =
  | { direction: "sent" | "received"; frame: Uint8Array }
  | {
    direction: "sent" | "received";
    body: { name: string; bytes: number; offset: number; size: number };
  };

/** Options shared by every transfer function. */
export interface TransferOptions {
  /** Drop the connection when no byte moves for this long (ms). Default 30 s. */
  idleTimeoutMs?: number;
  /** Aborting closes the connection (Ctrl-C). */
  signal?: AbortSignal;
  /** Shows a progress bar per file. */
  progress?: ProgressFactory;
  /** Sees every frame and body (per frame, never per chunk); only set under `--explain`. */
  wire?: (event: WireEvent) => void;
  /**
   * Told once per silence when nothing has moved for 2 s while waiting for the peer (a header,
   * an ack, an answer): `waiting for the receiver's ack of "x.bin": nothing for 2 s (…)`. Bodies
   * are not reported here: their progress line shows a stall.
   */
  onWaiting?: (text: string) => void;
}

/** Writes one frame, showing it to `wire` first. */
export async function writeFrame(
  conn: Deno.Conn,
  frame: Uint8Array,
  wire: TransferOptions["wire"],
): Promise<void> {
  wire?.({ direction: "sent", frame });
  await writeAll(conn, frame);
}

/** Reads one frame's payload, showing the whole frame to `wire`. */
export async function readFrame(
  reader: WireReader,
  wire: TransferOptions["wire"],
): Promise<Uint8Array | null> {
  const payload = await reader.readFrame();
  if (payload && wire) {
    wire({ direction: "received", frame: encodeLengthPrefixed(payload, HEADER_FRAMING) });
  }
  return payload;
}

// ---------------------------------------------------------------------------------------------
// Connection guard: idle deadline + abort, one close.

/**
 * A connection's idle deadline and abort signal; the one place that closes it. What the program
 * waits for (`waitingFor`, set by the protocol code before each wait on the peer) is reported
 * through `onWaiting` once nothing has moved for `SLOW_WAIT_MS`.
 */
export class ConnGuard implements Disposable {
  #lastActivity = performance.now();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stallTimer: ReturnType<typeof setTimeout> | undefined;
  /** `#lastActivity` when the current silence was reported (so each silence is said once). */
  #reportedAt = -1;
  #closed = false;
  /** What the next wait on the peer is for (`the sender's next file header`); unset: say nothing. */
  waitingFor: string | undefined;
  /** Why the guard closed the connection (reported instead of the resulting I/O error). */
  failure: Error | undefined;
  readonly #onAbort: () => void;

  constructor(
    readonly conn: Deno.Conn,
    readonly idleTimeoutMs: number,
    readonly signal: AbortSignal | undefined,
    onWaiting?: (text: string) => void,
  ) {
    // Headers and acks are small writes right after others: without TCP_NODELAY, Nagle's
    // algorithm and delayed ACKs would add ~40 ms to every file.
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    this.#onAbort = () => this.#fail(toError(signal?.reason));
    signal?.addEventListener("abort", this.#onAbort, { once: true });
    if (signal?.aborted) this.#onAbort();
    this.#arm(idleTimeoutMs);
    if (onWaiting) this.#armStall(SLOW_WAIT_MS, onWaiting);
  }

  /** Checks for a silence worth a line; cheap when data flows (one timer per 2 s). */
  #armStall(ms: number, onWaiting: (text: string) => void): void {
    this.#stallTimer = setTimeout(() => {
      const idle = performance.now() - this.#lastActivity;
      if (idle < SLOW_WAIT_MS) return this.#armStall(SLOW_WAIT_MS - idle, onWaiting);
      if (this.waitingFor !== undefined && this.#reportedAt !== this.#lastActivity) {
        this.#reportedAt = this.#lastActivity;
        onWaiting(
          `waiting for ${this.waitingFor}: nothing for ${SLOW_WAIT_MS / 1000} s ` +
            `(giving up after ${this.idleTimeoutMs / 1000} s)`,
        );
      }
      this.#armStall(SLOW_WAIT_MS, onWaiting);
    }, ms);
  }

  /** Records progress (cheap: called once per chunk). */
  kick(): void {
    this.#lastActivity = performance.now();
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => {
      const idle = performance.now() - this.#lastActivity;
      if (idle >= this.idleTimeoutMs) {
        this.#fail(
          new TransferError(`timed out: nothing moved for ${this.idleTimeoutMs / 1000} s`),
        );
      } else {
        this.#arm(this.idleTimeoutMs - idle);
      }
    }, ms);
  }

  #fail(error: Error): void {
    this.failure ??= error;
    this.close();
  }

  /** Maps an I/O error caused by our own close to the reason we closed. */
  explain(error: unknown): Error {
    return this.failure ?? toError(error);
  }

  /** True once the guard closed the connection (timeout, abort or done). */
  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.conn);
  }

  [Symbol.dispose](): void {
    clearTimeout(this.#timer);
    clearTimeout(this.#stallTimer);
    this.signal?.removeEventListener("abort", this.#onAbort);
    this.close();
  }
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/** A one-line reason for an I/O failure (peer resets read as such, not as stack traces). */
export function describeError(error: unknown): string {
  if (error instanceof Deno.errors.ConnectionReset) return "connection reset by peer";
  if (error instanceof Deno.errors.BrokenPipe) return "connection closed by peer";
  if (error instanceof Deno.errors.ConnectionAborted) return "connection aborted";
  return error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------------------------------------
// Reading frames and bodies from one buffer.

/**
 * Reads header/ack frames and raw bodies from a connection. Frames go through one buffer of
 * 64 KiB plus a little; bytes after a frame stay buffered for the body; a body never reads past
 * its announced size.
 */
export class WireReader {
  readonly #buffer = new Uint8Array(MAX_HEADER_FRAME_SIZE + 4 + 4096);
  #start = 0;
  #end = 0;
  #bodyBuffers: [Uint8Array, Uint8Array] | undefined;

  /**
   * `receiving`: this side receives files, so an oversized "length" made of printable text is
   * most likely seed 003's bare file name, and the error says so.
   */
  constructor(
    readonly conn: Deno.Conn,
    readonly guard: ConnGuard,
    readonly options: { receiving?: boolean } = {},
  ) {}

  /** The next frame's payload, or `null` on a clean end of stream between frames. */
  async readFrame(): Promise<Uint8Array | null> {
    while (true) {
      let decoded;
      try {
        decoded = decodeLengthPrefixed(
          this.#buffer.subarray(this.#start, this.#end),
          0,
          HEADER_FRAMING,
        );
      } catch (error) {
        if (error instanceof FrameTooLargeError) {
          const prefix = this.#buffer.subarray(this.#start, this.#start + 4);
          throw new FileProtocolError(
            this.options.receiving && looksLikeSeedFileName(prefix)
              ? SEED_SENDER_HINT
              : `Frame of ${error.size} bytes ` +
                `exceeds the maximum of ${MAX_HEADER_FRAME_SIZE} bytes`,
          );
        }
        throw error;
      }
      if (decoded) {
        const frame = decoded.frame.slice();
        this.#start += decoded.next;
        return frame;
      }
      if (this.#start > 0) {
        this.#buffer.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      }
      const got = await this.conn.read(this.#buffer.subarray(this.#end));
      if (got === null) {
        if (this.#end === 0) return null;
        throw new TransferError(
          `connection closed inside a frame (${this.#end} bytes of it arrived)`,
        );
      }
      this.guard.kick();
      this.#end += got;
    }
  }

  /**
   * Streams the next `size` bytes through `sink` in order, in pieces of at most `CHUNK_SIZE`.
   * Returns how many arrived: fewer than `size` means EOF.
   *
   * Two body buffers take turns. Each piece is `inspect`ed (hashed) on this thread as soon as
   * it is read, *before* waiting for the previous piece's `store` (a disk write, which Deno runs
   * on its blocking thread pool): hashing and writing then overlap instead of taking turns.
   * Never more than one `store` is in flight, so memory stays at two buffers, and a slow disk
   * stops the reads, which fills TCP's window and slows the sender (backpressure).
   */
  async readBody(size: number, sink: BodySink = {}): Promise<number> {
    let received = 0;
    let storing: Promise<void> | undefined;
    const hand = async (chunk: Uint8Array) => {
      sink.inspect?.(chunk);
      await storing;
      if (!sink.store) return;
      storing = sink.store(chunk);
      // Handled here so a failing write is not "unhandled" while the next read is pending.
      storing.catch(() => {});
    };
    try {
      if (this.#end > this.#start) {
        const take = Math.min(size, this.#end - this.#start);
        await hand(this.#buffer.subarray(this.#start, this.#start + take));
        this.#start += take;
        received += take;
      }
      let turn = 0;
      while (received < size) {
        this.#bodyBuffers ??= [new Uint8Array(CHUNK_SIZE), new Uint8Array(CHUNK_SIZE)];
        const buffer = this.#bodyBuffers[turn];
        turn ^= 1;
        const got = await this.conn.read(buffer.subarray(0, Math.min(CHUNK_SIZE, size - received)));
        if (got === null) break;
        this.guard.kick();
        await hand(buffer.subarray(0, got));
        received += got;
      }
      await storing;
    } finally {
      await storing?.catch(() => {});
      if (this.#start === this.#end) this.#start = this.#end = 0;
    }
    return received;
  }
}

/** Where `WireReader.readBody` puts a body; without either, the body is skipped. */
export interface BodySink {
  /** Synchronous work on each piece right after it is read (hashing, progress). */
  inspect?: (chunk: Uint8Array) => void;
  /** Stores a piece; the buffer is reused once the promise settles. */
  store?: (chunk: Uint8Array) => Promise<void>;
}

/** Reads until EOF or `limit` bytes (the seed's ack: its receiver closes after sending it). */
export async function readUpTo(conn: Deno.Conn, limit: number): Promise<Uint8Array> {
  const buffer = new Uint8Array(limit);
  let filled = 0;
  while (filled < limit) {
    const got = await conn.read(buffer.subarray(filled));
    if (got === null) break;
    filled += got;
  }
  return buffer.subarray(0, filled);
}

/** What a sender announces for one file. */
export interface FileSummary {
  name: string;
  size: number;
  sha256: string;
}
