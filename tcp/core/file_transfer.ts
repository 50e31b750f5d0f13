/**
 * File transfer over one TCP connection (the I/O half of `tcp/file_protocol.ts`), shared by
 * `tcp/file_send.ts` and `tcp/file_recv.ts` in both directions (download and upload).
 *
 * Theory of operation. The sender hashes each file once (cached until its size or mtime
 * changes), writes the header frame, streams exactly `size` bytes in 1 MiB chunks and waits
 * for the receiver's ack before the next file. The receiver reads the header, refuses unsafe or
 * existing names (discarding that body so the stream stays in step), and otherwise streams the
 * body into a temporary file in DEST while hashing it: a chunk is hashed on the main thread while
 * the previous one is being written (Deno's blocking pool), at most one write in flight, so
 * memory stays at two buffers and TCP's window pushes back on a fast sender. Only when size and
 * SHA-256 match does the temporary file get its final name (a hard link, which cannot
 * overwrite, or a rename with `--force`); any failure removes it.
 *
 * Resume (`tcp/file_protocol.ts` has the handshake): a sender with `resume` offers it in each
 * header and waits for the receiver's `{"resume": OFFSET}` (or an error ack: no body), then sends
 * from OFFSET. A receiver with `resume` keeps its partial file under a name derived from the
 * file's name and digest (`.NAME.netlab-partial-<16 hex>`) when a transfer is cut; next time it
 * hashes the bytes already there (streamed) and asks only for the rest, so the digest check at
 * the end still covers the whole file. A partial longer than announced starts over; a digest
 * mismatch removes the partial, so a wrong file never gets the final name.
 *
 * Every connection has an idle deadline: if no byte moves for `idleTimeoutMs`, or the caller's
 * signal aborts, the connection is closed and the pending read or write fails with that reason.
 * The functions here own the connection they are given and close it when they return.
 */
import { createHash } from "node:crypto";
import { posix } from "node:path";
import { decodeLengthPrefixed, encodeLengthPrefixed, FrameTooLargeError } from "./framing.ts";
import {
  type Ack,
  checkSafeName,
  decodeAck,
  decodeHeader,
  decodeResumeAnswer,
  describeFrame,
  encodeAck,
  encodeEndHeader,
  encodeFileHeader,
  encodeResume,
  FileProtocolError,
  HEADER_FRAMING,
  isSeedEndMarker,
  MAX_HEADER_FRAME_SIZE,
  pathInside,
  quoteName,
  resumablePartialName,
  SEED_ACK,
  SEED_CHUNK_SIZE,
  UnsafeNameError,
} from "./file_protocol.ts";
import { CliError, formatHostPort, pause } from "../kit/cli.ts";
import { writeAll } from "./io.ts";
import { FileShrankError, sendFileRange } from "../linux/sendfile.ts";
import { createEventProgress, type ProgressBar } from "../kit/progress.ts";
import { explainBytes } from "../kit/explain.ts";
import type { Reporter } from "../kit/report.ts";

/** Read/write chunk size for file bodies: large enough for full speed, small enough for RSS. */
export const CHUNK_SIZE = 1024 * 1024;

/** Default idle deadline: a connection where nothing moves for this long is dropped. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

/** Prefix of temporary files in DEST; they never carry a final name. */
export const PARTIAL_PREFIX = ".netlab-partial-";

/** The whole transfer failed (connection cut, short body, protocol error, timeout). */
export class TransferError extends Error {
  override name = "TransferError";
}

/** Starts a progress bar for one file (`createProgressBar` from `tcp/progress.ts`). */
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
}

/** Writes one frame, showing it to `wire` first. */
async function writeFrame(
  conn: Deno.Conn,
  frame: Uint8Array,
  wire: TransferOptions["wire"],
): Promise<void> {
  wire?.({ direction: "sent", frame });
  await writeAll(conn, frame);
}

/** Reads one frame's payload, showing the whole frame to `wire`. */
async function readFrame(
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

class ConnGuard implements Disposable {
  #lastActivity = performance.now();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** Why the guard closed the connection (reported instead of the resulting I/O error). */
  failure: Error | undefined;
  readonly #onAbort: () => void;

  constructor(
    readonly conn: Deno.Conn,
    readonly idleTimeoutMs: number,
    readonly signal: AbortSignal | undefined,
  ) {
    // Headers and acks are small writes right after others: without TCP_NODELAY, Nagle's
    // algorithm and delayed ACKs would add ~40 ms to every file.
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    this.#onAbort = () => this.#fail(toError(signal?.reason));
    signal?.addEventListener("abort", this.#onAbort, { once: true });
    if (signal?.aborted) this.#onAbort();
    this.#arm(idleTimeoutMs);
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
    try {
      this.conn.close();
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  }

  [Symbol.dispose](): void {
    clearTimeout(this.#timer);
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
class WireReader {
  readonly #buffer = new Uint8Array(MAX_HEADER_FRAME_SIZE + 4 + 4096);
  #start = 0;
  #end = 0;
  #bodyBuffers: [Uint8Array, Uint8Array] | undefined;

  constructor(readonly conn: Deno.Conn, readonly guard: ConnGuard) {}

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
          throw new FileProtocolError(
            `Frame of ${error.size} bytes exceeds the maximum of ${MAX_HEADER_FRAME_SIZE} bytes`,
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
interface BodySink {
  /** Synchronous work on each piece right after it is read (hashing, progress). */
  inspect?: (chunk: Uint8Array) => void;
  /** Stores a piece; the buffer is reused once the promise settles. */
  store?: (chunk: Uint8Array) => Promise<void>;
}

/** Reads until EOF or `limit` bytes (the seed's ack: its receiver closes after sending it). */
async function readUpTo(conn: Deno.Conn, limit: number): Promise<Uint8Array> {
  const buffer = new Uint8Array(limit);
  let filled = 0;
  while (filled < limit) {
    const got = await conn.read(buffer.subarray(filled));
    if (got === null) break;
    filled += got;
  }
  return buffer.subarray(0, filled);
}

// ---------------------------------------------------------------------------------------------
// Sending.

/** What a sender announces for one file. */
export interface FileSummary {
  name: string;
  size: number;
  sha256: string;
}

/** SHA-256 (hex) of a file, streamed in `CHUNK_SIZE` chunks. */
export async function hashFile(path: string): Promise<string> {
  using file = await Deno.open(path, { read: true });
  const hash = createHash("sha256");
  const buffer = new Uint8Array(CHUNK_SIZE);
  while (true) {
    const got = await file.read(buffer);
    if (got === null) break;
    hash.update(buffer.subarray(0, got));
  }
  return hash.digest("hex");
}

/**
 * A file offered by a sender. Its digest is computed once and shared by every client, and
 * recomputed only when the file's size or modification time changes.
 */
export class OfferedFile {
  #cache: { size: number; mtime: number; sha256: Promise<string> } | undefined;

  /** `name` defaults to the path's last component (what the receiver will save it as). */
  constructor(readonly path: string, readonly name = posix.basename(path)) {
    checkSafeName(this.name);
  }

  /** Current size and digest (hashing the file if it is new or changed). */
  async describe(): Promise<FileSummary> {
    const info = await Deno.stat(this.path);
    if (!info.isFile) throw new TransferError(`${quoteName(this.path)} is not a regular file`);
    const mtime = info.mtime?.getTime() ?? 0;
    const cached = this.#cache;
    if (!cached || cached.size !== info.size || cached.mtime !== mtime) {
      const sha256 = hashFile(this.path);
      const entry = { size: info.size, mtime, sha256 };
      this.#cache = entry;
      sha256.catch(() => {
        if (this.#cache === entry) this.#cache = undefined;
      });
    }
    const entry = this.#cache!;
    return { name: this.name, size: entry.size, sha256: await entry.sha256 };
  }
}

/** The receiver's verdict on one sent file. */
export interface SentFile extends FileSummary {
  ack: Ack;
  elapsedMs: number;
  /** Where the body started (the receiver already held this many bytes; 0 without resume). */
  resumedFrom: number;
  /** Body bytes actually sent (`size - resumedFrom`, or 0 when refused before the body). */
  bytesSent: number;
}

/** Options for `sendFiles`. */
export interface SendOptions extends TransferOptions {
  /** Called after each file's ack. */
  onFile?: (sent: SentFile) => void;
  /**
   * Offer resume in every header and wait for the receiver's answer before each body. Only for
   * receivers that speak the handshake: one that does not would wait for the body forever.
   */
  resume?: boolean;
  /** Send bodies with sendfile(2) when possible (default true); false: read/write copies. */
  zeroCopy?: boolean;
}

/**
 * Streams exactly `size` bytes of `path` to the connection; fails if the file shrank.
 *
 * With `zeroCopy` (and Linux FFI available) the kernel sends the file's pages itself
 * (sendfile(2), tcp/sendfile.ts), which takes about a third of the CPU. Otherwise two buffers
 * take turns so the next disk read overlaps the previous socket write (one in flight).
 */
async function sendBody(
  conn: Deno.Conn,
  guard: ConnGuard,
  summary: FileSummary,
  path: string,
  progress: ProgressBar | undefined,
  { offset = 0, zeroCopy = true }: { offset?: number; zeroCopy?: boolean } = {},
): Promise<void> {
  const shrank = (sent: number) =>
    new TransferError(
      `${quoteName(path)} shrank while being sent (${sent} of ${summary.size} bytes)`,
    );
  if (zeroCopy) {
    try {
      const sent = await sendFileRange(conn, path, offset, summary.size - offset, {
        closed: () => guard.closed,
        progress: (moved) => {
          guard.kick();
          progress?.update(offset + moved);
        },
      });
      if (sent) return;
    } catch (error) {
      throw error instanceof FileShrankError ? shrank(offset + error.sent) : error;
    }
  }
  using file = await Deno.open(path, { read: true });
  if (offset > 0) await file.seek(offset, Deno.SeekMode.Start);
  const buffers = [new Uint8Array(CHUNK_SIZE), new Uint8Array(CHUNK_SIZE)];
  let inFlight: Promise<void> | undefined;
  let sent = offset;
  try {
    for (let turn = 0; sent < summary.size; turn ^= 1) {
      const buffer = buffers[turn];
      const got = await file.read(buffer.subarray(0, Math.min(CHUNK_SIZE, summary.size - sent)));
      if (got === null) throw shrank(sent);
      await inFlight;
      guard.kick();
      inFlight = writeAll(conn, buffer.subarray(0, got));
      inFlight.catch(() => {}); // awaited on the next turn; handled now
      sent += got;
      progress?.update(sent);
    }
    await inFlight;
  } finally {
    await inFlight?.catch(() => {});
  }
}

/**
 * Sends `files` over `conn` in the netlab wire format, waiting for each ack, then the end frame.
 * Returns every file's ack (refusals included); throws on a broken connection. Closes `conn`.
 */
export async function sendFiles(
  conn: Deno.Conn,
  files: OfferedFile[],
  options: SendOptions = {},
): Promise<SentFile[]> {
  using guard = new ConnGuard(
    conn,
    options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    options.signal,
  );
  const reader = new WireReader(conn, guard);
  const { wire } = options;
  const results: SentFile[] = [];
  const done = (sent: SentFile) => {
    results.push(sent);
    options.onFile?.(sent);
  };
  try {
    for (const file of files) {
      const summary = await file.describe();
      guard.kick();
      const started = performance.now();
      const header = options.resume ? { ...summary, resume: true as const } : summary;
      await writeFrame(conn, encodeFileHeader(header), wire);
      let offset = 0;
      if (options.resume) {
        const payload = await readFrame(reader, wire);
        if (payload === null) {
          throw new TransferError(
            `receiver closed the connection before answering the resume offer for ${
              quoteName(summary.name)
            }`,
          );
        }
        const answer = decodeResumeAnswer(payload, summary.size);
        if (answer.type === "refused") {
          const elapsedMs = performance.now() - started;
          const ack: Ack = { ok: false, error: answer.error };
          done({ ...summary, ack, elapsedMs, resumedFrom: 0, bytesSent: 0 });
          continue;
        }
        offset = answer.offset;
      }
      wire?.({
        direction: "sent",
        body: { name: summary.name, bytes: summary.size - offset, offset, size: summary.size },
      });
      const progress = options.progress?.(summary.name, summary.size, { from: offset });
      try {
        await sendBody(conn, guard, summary, file.path, progress, {
          offset,
          zeroCopy: options.zeroCopy,
        });
      } finally {
        progress?.finish();
      }
      const frame = await readFrame(reader, wire);
      if (frame === null) {
        throw new TransferError(
          `receiver closed the connection before acknowledging ${quoteName(summary.name)}`,
        );
      }
      done({
        ...summary,
        ack: decodeAck(frame),
        elapsedMs: performance.now() - started,
        resumedFrom: offset,
        bytesSent: summary.size - offset,
      });
    }
    await writeFrame(conn, encodeEndHeader(), wire);
    return results;
  } catch (error) {
    throw guard.explain(error);
  }
}

// ---------------------------------------------------------------------------------------------
// Receiving.

/** A file that arrived intact and now has its final name. */
export interface ReceivedFile extends FileSummary {
  /** Where it was saved (DEST joined with the name). */
  path: string;
  elapsedMs: number;
  /** Bytes that were already in the partial file (resume); 0 for a whole transfer. */
  resumedFrom: number;
}

/** A file the receiver refused (unsafe name, exists, digest mismatch); the session went on. */
export interface RefusedFile {
  name: string;
  error: string;
}

/** What the receiver decided about a resumable partial file before the body. */
export interface ResumeNote {
  name: string;
  size: number;
  /** Bytes kept and hashed; the body starts here. */
  offset: number;
  /** The partial file's path. */
  path: string;
  /** Why it did not resume (when `offset` is 0 though a partial existed), for humans. */
  note?: string;
}

/** Options for `receiveFiles`. */
export interface ReceiveOptions extends TransferOptions {
  /** Destination folder (must exist). Default `.`. */
  dir?: string;
  /** Replace an existing file of the same name. */
  force?: boolean;
  /**
   * Keep a cut file's bytes in `.NAME.netlab-partial-<16 hex>` and, when the sender offers
   * resume, continue from them (their digest is part of the final check).
   */
  resume?: boolean;
  onFile?: (file: ReceivedFile) => void;
  onRefused?: (file: RefusedFile) => void;
  /** Called before each body when `resume` is on. */
  onResume?: (note: ResumeNote) => void;
}

/** What one receiving session produced. */
export interface ReceiveResult {
  received: ReceivedFile[];
  refused: RefusedFile[];
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

function alreadyExists(name: string, dir: string): string {
  return `File ${quoteName(name)} already exists in ${quoteName(dir)} (use --force to overwrite)`;
}

async function removeQuietly(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/**
 * A temporary file in DEST that becomes `target` only through `commit`. Disposing it removes
 * whatever was not committed — unless it is resumable, then a cut transfer's bytes stay for the
 * next run.
 */
class PartialFile implements AsyncDisposable {
  readonly path: string;
  #file: Deno.FsFile | undefined;
  #committed = false;
  #keep: boolean;

  private constructor(file: Deno.FsFile, path: string, keep: boolean) {
    this.path = path;
    this.#file = file;
    this.#keep = keep;
  }

  static async create(dir: string): Promise<PartialFile> {
    const random = Array.from(
      crypto.getRandomValues(new Uint8Array(8)),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    const path = posix.join(dir, `${PARTIAL_PREFIX}${random}`);
    const file = await Deno.open(path, { write: true, createNew: true });
    return new PartialFile(file, path, false);
  }

  /**
   * Opens (or creates) the resumable partial file for one announced file. With `useBytes`, the
   * bytes already in it are fed to `hash` (streamed in `CHUNK_SIZE` pieces, `kick`ed per piece)
   * and writing continues after them; otherwise, or if it holds more than `size` bytes, it is
   * emptied. A path that is not a regular file (a symlink planted there) is refused.
   */
  static async openResumable(
    dir: string,
    header: FileSummary,
    useBytes: boolean,
    hash: ReturnType<typeof createHash>,
    kick: () => void,
  ): Promise<{ partial: PartialFile; offset: number; note?: string }> {
    const path = posix.join(dir, resumablePartialName(header.name, header.sha256));
    let info: Deno.FileInfo | undefined;
    try {
      info = await Deno.lstat(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    if (!info) {
      const file = await Deno.open(path, { write: true, createNew: true });
      return { partial: new PartialFile(file, path, true), offset: 0 };
    }
    if (!info.isFile) {
      throw new TransferError(`${JSON.stringify(path)} is not a regular file: remove it and retry`);
    }
    const file = await Deno.open(path, { read: true, write: true });
    const partial = new PartialFile(file, path, true);
    let note: string | undefined;
    if (info.size > header.size) {
      note = `partial file holds ${info.size} bytes, more than the ${header.size} announced: ` +
        "starting over";
    } else if (!useBytes && info.size > 0) {
      note = "the sender does not offer resume (start it with --resume): starting over";
    }
    if (note !== undefined || !useBytes || info.size === 0) {
      await file.truncate(0);
      return { partial, offset: 0, note };
    }
    try {
      const buffer = new Uint8Array(CHUNK_SIZE);
      let offset = 0;
      while (offset < info.size) {
        const got = await file.read(buffer.subarray(0, Math.min(CHUNK_SIZE, info.size - offset)));
        if (got === null) break;
        hash.update(buffer.subarray(0, got));
        offset += got;
        kick();
      }
      await file.seek(offset, Deno.SeekMode.Start);
      return { partial, offset };
    } catch (error) {
      file.close();
      throw error;
    }
  }

  async write(chunk: Uint8Array): Promise<void> {
    await writeAll(this.#file!, chunk);
  }

  #closeFile(): void {
    this.#file?.close();
    this.#file = undefined;
  }

  /** Removes it even if resumable (its bytes proved wrong). */
  discard(): void {
    this.#keep = false;
  }

  /**
   * Gives the data its final name. Without `force` a hard link is made (it fails instead of
   * replacing a file that appeared meanwhile); with `force` a rename replaces atomically.
   */
  async commit(target: string, force: boolean): Promise<void> {
    this.#closeFile();
    if (force) {
      await Deno.rename(this.path, target);
    } else {
      try {
        await Deno.link(this.path, target);
      } catch (error) {
        if (error instanceof Deno.errors.AlreadyExists) throw error;
        // File systems without hard links: check, then rename (a small race, no silent loss).
        if (await exists(target)) throw new Deno.errors.AlreadyExists(target);
        await Deno.rename(this.path, target);
        this.#committed = true;
        return;
      }
      await Deno.remove(this.path);
    }
    this.#committed = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#closeFile();
    if (!this.#committed && !this.#keep) await removeQuietly(this.path);
  }
}

/**
 * Receives files in the netlab wire format into `options.dir` until the end frame, acking each.
 * Refused files (unsafe or existing name, digest mismatch) are acked with an error and the
 * session goes on; a broken stream throws `TransferError`/`FileProtocolError` and leaves no
 * partial file behind (with `resume`: the resumable partial stays). Closes `conn`.
 */
export async function receiveFiles(
  conn: Deno.Conn,
  options: ReceiveOptions = {},
): Promise<ReceiveResult> {
  const dir = options.dir ?? ".";
  const { wire } = options;
  using guard = new ConnGuard(
    conn,
    options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    options.signal,
  );
  const reader = new WireReader(conn, guard);
  const result: ReceiveResult = { received: [], refused: [] };
  const refuse = async (name: string, error: string) => {
    result.refused.push({ name, error });
    options.onRefused?.({ name, error });
    await writeFrame(conn, encodeAck({ ok: false, error }), wire);
  };
  try {
    while (true) {
      const frame = await readFrame(reader, wire);
      if (frame === null) {
        throw new TransferError("connection closed before the end-of-files frame");
      }
      const header = decodeHeader(frame);
      if (header.type === "end") return result;
      const { name, size, sha256 } = header;
      const offered = header.resume === true;
      const started = performance.now();

      let target: string | undefined;
      let refusal: string | undefined;
      try {
        target = pathInside(dir, name);
      } catch (error) {
        if (!(error instanceof UnsafeNameError)) throw error;
        refusal = error.message;
      }
      if (target !== undefined && !options.force && await exists(target)) {
        refusal = alreadyExists(name, dir);
      }
      if (refusal !== undefined || target === undefined) {
        if (!offered) {
          // Skip the body without storing it, so the next header is read in step.
          const skipped = await reader.readBody(size);
          if (skipped < size) throw shortBody(name, skipped, size);
        } // else: the error ack answers the offer, and no body follows.
        await refuse(name, refusal ?? "refused");
        continue;
      }

      const hash = createHash("sha256");
      let offset = 0;
      let partial: PartialFile;
      if (options.resume) {
        const opened = await PartialFile.openResumable(
          dir,
          header,
          offered,
          hash,
          () => guard.kick(),
        );
        ({ partial, offset } = opened);
        options.onResume?.({ name, size, offset, path: partial.path, note: opened.note });
      } else {
        partial = await PartialFile.create(dir);
      }
      await using _partial = partial;
      if (offered) await writeFrame(conn, encodeResume(offset), wire);
      wire?.({ direction: "received", body: { name, bytes: size - offset, offset, size } });
      const progress = options.progress?.(name, size, { from: offset });
      let received = offset;
      try {
        await reader.readBody(size - offset, {
          inspect: (chunk) => {
            hash.update(chunk);
            received += chunk.length;
            progress?.update(received);
          },
          store: (chunk) => partial.write(chunk),
        });
      } finally {
        progress?.finish();
      }
      if (received < size) {
        throw options.resume
          ? new TransferError(
            `connection closed after ${received} of ${size} bytes of ${quoteName(name)}: kept in ${
              JSON.stringify(partial.path)
            }, run again with --resume to continue`,
          )
          : shortBody(name, received, size);
      }
      const digest = hash.digest("hex");
      if (digest !== sha256) {
        partial.discard();
        const kept = offset > 0
          ? ` (the first ${offset} bytes came from the partial file, now removed: ` +
            "run again to transfer it from the start)"
          : "";
        await refuse(
          name,
          `SHA-256 mismatch for ${
            quoteName(name)
          }: received ${digest}, header announced ${sha256}${kept}`,
        );
        continue;
      }
      try {
        await partial.commit(target, options.force ?? false);
      } catch (error) {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
        await refuse(name, alreadyExists(name, dir));
        continue;
      }
      const file = {
        name,
        size,
        sha256,
        path: target,
        elapsedMs: performance.now() - started,
        resumedFrom: offset,
      };
      result.received.push(file);
      options.onFile?.(file);
      await writeFrame(conn, encodeAck({ ok: true, sha256: digest }), wire);
    }
  } catch (error) {
    throw guard.explain(error);
  }
}

function shortBody(name: string, received: number, size: number): TransferError {
  return new TransferError(
    `connection closed after ${received} of ${size} bytes of ${quoteName(name)}: nothing saved`,
  );
}

// ---------------------------------------------------------------------------------------------
// Seed 003's protocol (interoperability with the tutorial's Python programs only).

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Seed 003's pause between the name, the data and `##` (it frames by timing — see warning). */
export const SEED_PAUSE_MS = 100;

/**
 * Seed 003's sender: the name, sleep(0.1), the file in 1024-byte writes, sleep(0.1), `##`, then
 * the receiver's ack text (read until it closes, at most 1024 bytes, as its `recv(1024)`).
 * Closes `conn`.
 */
export async function sendSeedProtocol(
  conn: Deno.Conn,
  file: OfferedFile,
  options: TransferOptions = {},
): Promise<{ summary: FileSummary; ack: string }> {
  using guard = new ConnGuard(
    conn,
    options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    options.signal,
  );
  try {
    const summary = await file.describe();
    await writeAll(conn, encoder.encode(file.name));
    await pause(SEED_PAUSE_MS, options.signal);
    using source = await Deno.open(file.path, { read: true });
    const chunk = new Uint8Array(SEED_CHUNK_SIZE);
    while (true) {
      const got = await source.read(chunk);
      if (got === null) break;
      await writeAll(conn, chunk.subarray(0, got));
      guard.kick();
    }
    await pause(SEED_PAUSE_MS, options.signal);
    await writeAll(conn, encoder.encode("##"));
    guard.kick();
    const ack = decoder.decode(await readUpTo(conn, SEED_CHUNK_SIZE));
    return { summary, ack };
  } catch (error) {
    throw guard.explain(error);
  }
}

/**
 * Seed 003's receiver, made safe: the first read (≤ 1024 bytes) is the name, which must pass
 * `checkSafeName`; then reads of ≤ 1024 bytes are data until one equals `##`; EOF before that
 * is an error (the seed spun forever). Data goes to a temporary file that is renamed at `##`;
 * then `接收完成` is sent. Closes `conn`.
 */
export async function receiveSeedProtocol(
  conn: Deno.Conn,
  options: Omit<ReceiveOptions, "onFile" | "onRefused"> = {},
): Promise<ReceivedFile> {
  const dir = options.dir ?? ".";
  using guard = new ConnGuard(
    conn,
    options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    options.signal,
  );
  try {
    const chunk = new Uint8Array(SEED_CHUNK_SIZE);
    const first = await conn.read(chunk);
    if (first === null) throw new TransferError("connection closed before the file name arrived");
    const started = performance.now();
    let name: string;
    try {
      name = new TextDecoder("utf-8", { fatal: true }).decode(chunk.subarray(0, first));
    } catch {
      throw new UnsafeNameError("Unsafe file name: the first read is not UTF-8 text");
    }
    const target = pathInside(dir, name);
    if (!options.force && await exists(target)) throw new TransferError(alreadyExists(name, dir));
    await using partial = await PartialFile.create(dir);
    const hash = createHash("sha256");
    const progress = options.progress?.(name, undefined);
    let size = 0;
    try {
      while (true) {
        const got = await conn.read(chunk);
        if (got === null) {
          throw new TransferError(
            `connection closed before the "##" end marker (${size} bytes of ${
              quoteName(name)
            } arrived): nothing saved`,
          );
        }
        guard.kick();
        const data = chunk.subarray(0, got);
        if (isSeedEndMarker(data)) break;
        hash.update(data);
        await partial.write(data);
        size += got;
        progress?.update(size);
      }
    } finally {
      progress?.finish();
    }
    try {
      await partial.commit(target, options.force ?? false);
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) {
        throw new TransferError(alreadyExists(name, dir));
      }
      throw error;
    }
    await writeAll(conn, encoder.encode(SEED_ACK));
    return {
      name,
      size,
      sha256: hash.digest("hex"),
      path: target,
      elapsedMs: performance.now() - started,
      resumedFrom: 0,
    };
  } catch (error) {
    throw guard.explain(error);
  }
}

// ---------------------------------------------------------------------------------------------
// Serving and connecting (shared by both scripts).

/** Options for `serveConnections`. */
export interface ServeOptions {
  /** Stops accepting; running sessions end through their own guards (same signal). */
  signal?: AbortSignal;
  /** Serve one client, then stop. */
  once?: boolean;
}

/**
 * Accepts clients until `signal` fires (or after one with `once`) and runs `handle` for each,
 * concurrently. Resolves when every session has ended; closes the listener. With `once`, the
 * result is that one session's result.
 */
export async function serveConnections(
  listener: Deno.Listener,
  handle: (conn: Deno.Conn) => Promise<boolean>,
  options: ServeOptions = {},
): Promise<boolean> {
  const sessions = new Set<Promise<boolean>>();
  let allOk = true;
  const stop = () => {
    try {
      listener.close();
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  };
  options.signal?.addEventListener("abort", stop, { once: true });
  if (options.signal?.aborted) stop();
  try {
    while (!options.signal?.aborted) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (error instanceof Deno.errors.BadResource || options.signal?.aborted) break;
        throw error;
      }
      const session = handle(conn).then((ok) => {
        allOk &&= ok;
        return ok;
      });
      if (options.once) return await session;
      sessions.add(session);
      session.finally(() => sessions.delete(session));
    }
  } finally {
    options.signal?.removeEventListener("abort", stop);
    stop();
    await Promise.all(sessions);
  }
  return allOk;
}

/**
 * The `--explain` view of the wire for one peer: each frame annotated by `describeFrame`, each
 * body as one line (its size, never its bytes). `undefined` unless the reporter is explaining,
 * so nothing is built otherwise.
 */
export function explainWire(
  reporter: Reporter,
  peer: string,
): ((event: WireEvent) => void) | undefined {
  if (!reporter.explaining) return undefined;
  return (event) => {
    const toFrom = event.direction === "sent" ? `sent to ${peer}` : `received from ${peer}`;
    if ("frame" in event) {
      const { frame } = event;
      reporter.explain(
        explainBytes(frame, describeFrame(frame), {
          title: `frame ${toFrom}, ${frame.length} bytes`,
        }),
        { peer, direction: event.direction, bytes: frame.length },
      );
      return;
    }
    const { name, bytes, offset, size } = event.body;
    const range = bytes === 0
      ? "no bytes"
      : `bytes ${offset}…${size - 1} of ${size}${offset > 0 ? ` (resumed at ${offset})` : ""}`;
    reporter.explain(
      `body ${toFrom}: ${bytes} raw bytes of ${quoteName(name)}, ${range} — ` +
        "the file itself, not framed and not shown",
      { peer, direction: event.direction, name, bytes, offset, size },
    );
  };
}

/** `--json` progress: a `progress` event at most ~2/s per file, with `fields` added. */
export function progressEvents(
  reporter: Reporter,
  fields: Record<string, unknown>,
): ProgressFactory {
  return (label, total, options) =>
    createEventProgress(
      label,
      total,
      ({ done, elapsedMs, text }) =>
        reporter.info(text, "progress", {
          ...fields,
          name: label,
          bytes: done,
          size: total,
          ms: Math.round(elapsedMs),
        }),
      { from: options?.from },
    );
}

/** Connects within `timeoutMs`, turning refusals and timeouts into one clear line. */
export async function connectOrExplain(
  hostname: string,
  port: number,
  timeoutMs = 10_000,
): Promise<Deno.TcpConn> {
  const where = formatHostPort(hostname, port);
  // A private controller: Deno closes the connection if this signal ever fires, so it is only
  // armed while connecting.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    return await Deno.connect({ hostname, port, signal: controller.signal });
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionRefused) {
      throw new CliError(
        `Cannot connect to ${where}: connection refused (is the other side running?)`,
      );
    }
    if (controller.signal.aborted) {
      throw new CliError(`Cannot connect to ${where}: timed out after ${timeoutMs / 1000} s`);
    }
    throw new CliError(`Cannot connect to ${where}: ${describeError(error)}`);
  } finally {
    clearTimeout(timer);
  }
}
