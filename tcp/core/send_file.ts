/**
 * Sending part of a file down a connection: the one seam for it. On Linux with FFI the kernel
 * sends the file's pages itself (sendfile(2), tcp/linux/sendfile.ts), as nginx's `sendfile on`
 * does; everywhere else, and for files sendfile cannot read, a copy loop reads the file and
 * writes it. Callers never ask which one ran.
 *
 * Theory of operation. sendfile is called without waiting (the socket is non-blocking): it moves
 * what fits in the socket's buffer and reports "full" when nothing fits. A full socket is waited
 * out in the server's I/O backend, never on a thread: where the writer can wait for room itself
 * (`whenWritable`, the epoll set) it does, and sendfile goes on once the socket has room; on
 * Deno's ops, which wait only inside a write, the next piece of the file (`PIECE_SIZE`, read the
 * way sendfile reads it) goes through `writer.write()`, which resolves once the socket took it.
 * So a client that never reads costs its own connection one pending wait (and on Deno's ops one
 * piece of memory), and nothing per turn of the event loop: every other connection goes on.
 *
 * The copy loop takes turns with two buffers, so the next disk read overlaps the previous socket
 * write (one write in flight, memory two buffers). Either way, a file that turns out shorter than
 * promised is a `FileShrankError` after the bytes it had.
 */
import { setImmediate } from "node:timers";
import { writeAll } from "./io.ts";
import { SENDFILE_UNSUPPORTED, SENDFILE_WOULD_BLOCK, SendfileChannel } from "../linux/sendfile.ts";

/** Bytes pushed through `writer` each time sendfile finds the socket full. */
export const PIECE_SIZE = 16 * 1024;
/** Most bytes one sendfile call moves before other connections get a turn of the event loop. */
export const KERNEL_PIECE_SIZE = 1024 * 1024;

/** Resolves at the next turn of the event loop, after pending I/O callbacks. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
/** The copy loop's default buffer size (two of them take turns). */
export const COPY_CHUNK_SIZE = 256 * 1024;

/** The part of a file to send: `length` bytes of the file at `path`, from byte `start`. */
export interface FileRange {
  path: string;
  start: number;
  length: number;
}

/** Something bytes can be written to: a `Deno.Conn`, or a server's own connection wrapper. */
export interface RangeWriter {
  write(p: Uint8Array): Promise<number>;
  /** Resolves once the socket has room, where the writer can wait without writing (epoll). */
  whenWritable?(): Promise<void>;
}

/** Options for `sendFileRange`. */
export interface SendFileOptions {
  /**
   * What to write through when it is not `conn` itself (a server's epoll connection): the copy
   * loop and the pieces between sendfile calls go here, sendfile to `conn`'s socket.
   */
  writer?: RangeWriter;
  /** Try sendfile(2) first (default true); false: always the copy loop. */
  zeroCopy?: boolean;
  /** Called after every move with the bytes of the range sent so far. */
  onProgress?: (sent: number) => void;
  /** True once the caller has closed (or given up on) the connection: stop. */
  closed?: () => boolean;
  /** The copy loop's buffer size (default `COPY_CHUNK_SIZE`). */
  chunkSize?: number;
}

/** The file ended early: only `sent` bytes of the range were there. */
export class FileShrankError extends Error {
  override name = "FileShrankError";
  constructor(readonly path: string, readonly sent: number, readonly expected: number) {
    super(`"${path}" shrank while being sent (${sent} of ${expected} bytes)`);
  }
}

/**
 * Sends `range` of a file on `conn` (through `options.writer` where given): sendfile when
 * possible, else the copy loop. Resolves when every byte was handed to the socket. Throws
 * `FileShrankError` if the file ends early, the write's own error when the peer goes away, and
 * `Deno.errors.BadResource` once `closed()` says the connection is over.
 */
export async function sendFileRange(
  conn: Deno.Conn,
  range: FileRange,
  options: SendFileOptions = {},
): Promise<void> {
  let sent = 0;
  if (options.zeroCopy ?? true) {
    using channel = SendfileChannel.open(conn, range.path);
    if (channel) sent = await sendWithKernel(channel, conn, range, options);
  }
  if (sent < range.length) await sendWithCopies(conn, range, sent, options);
}

/**
 * sendfile until the range is sent; returns how much it sent (0 when sendfile cannot read this
 * file: the copy loop then does it all).
 */
async function sendWithKernel(
  channel: SendfileChannel,
  conn: Deno.Conn,
  { path, start, length }: FileRange,
  { writer = conn, onProgress, closed }: SendFileOptions,
): Promise<number> {
  let sent = 0;
  while (sent < length) {
    if (closed?.()) throw new Deno.errors.BadResource("connection closed");
    // At most a piece per call, then a turn for everyone else: sendfile never blocks, but a
    // fast reader could keep it busy for a whole large file without a pause otherwise.
    const moved = channel.send(start + sent, Math.min(KERNEL_PIECE_SIZE, length - sent));
    if (moved === SENDFILE_UNSUPPORTED) return 0;
    if (moved === SENDFILE_WOULD_BLOCK) {
      const got = await waitForRoom(channel, writer, start + sent, length - sent);
      if (got === null) throw new FileShrankError(path, sent, length);
      sent += got;
    } else if (moved === 0) {
      throw new FileShrankError(path, sent, length);
    } else {
      sent += moved;
      if (sent < length) await nextTurn();
    }
    onProgress?.(sent);
  }
  return sent;
}

/**
 * Waits until the socket has room again; returns the bytes of the file sent meanwhile (null: the
 * file ended there). The epoll backend waits in its set and sends nothing; Deno's ops only wait
 * inside a write, so there the next piece of the file (from `offset`, at most `left` bytes) is
 * written through `writer`.
 */
async function waitForRoom(
  channel: SendfileChannel,
  writer: RangeWriter,
  offset: number,
  left: number,
): Promise<number | null> {
  if (writer.whenWritable) {
    await writer.whenWritable();
    return 0;
  }
  const piece = new Uint8Array(Math.min(PIECE_SIZE, left));
  const got = channel.read(offset, piece);
  if (got === 0) return null;
  await writeAll(writer, piece.subarray(0, got));
  return got;
}

/** The portable loop: read the file from `start + from`, write it, two buffers taking turns. */
async function sendWithCopies(
  conn: Deno.Conn,
  { path, start, length }: FileRange,
  from: number,
  { writer = conn, onProgress, closed, chunkSize = COPY_CHUNK_SIZE }: SendFileOptions,
): Promise<void> {
  using file = await Deno.open(path, { read: true });
  await file.seek(start + from, Deno.SeekMode.Start);
  const buffers = [new Uint8Array(chunkSize), new Uint8Array(chunkSize)];
  let inFlight: Promise<void> | undefined;
  let sent = from;
  try {
    for (let turn = 0; sent < length; turn ^= 1) {
      const buffer = buffers[turn];
      const got = await file.read(buffer.subarray(0, Math.min(chunkSize, length - sent)));
      if (got === null) throw new FileShrankError(path, sent, length);
      await inFlight;
      if (closed?.()) throw new Deno.errors.BadResource("connection closed");
      inFlight = writeAll(writer, buffer.subarray(0, got));
      inFlight.catch(() => {}); // awaited on the next turn; handled now
      sent += got;
      onProgress?.(sent);
    }
    await inFlight;
  } finally {
    await inFlight?.catch(() => {});
  }
}
