/**
 * All of the server's file streaming, in one function: a file (or a range of it) too large for
 * the cache goes out on the connection — through sendfile(2) when the system can (the kernel
 * sends the file's pages itself, as nginx's `sendfile on`), else through a copy loop of bounded
 * pieces written by the connection's I/O backend.
 *
 * A client that stops reading must cost only its own connection: a full socket waits for room
 * where the backend waits (Deno's own write, or the epoll set), never by holding a thread; the
 * caller's write deadline closes the connection if nothing moves for too long (`onProgress`
 * restarts it, `closed` stops the transfer once it fired).
 */
import { setImmediate } from "node:timers";
import { type ByteWriter, writeAll } from "../../tcp/core/io.ts";
import { FileShrankError, sendFileRange as sendFileZeroCopy } from "../../tcp/linux/sendfile.ts";

/** Most bytes one sendfile call moves before the other connections get a turn. */
export const SENDFILE_PIECE_BYTES = 1024 * 1024;
/** The copy loop's piece: one read from the file, one write to the socket. */
export const STREAM_CHUNK_BYTES = 256 * 1024;

/** Which bytes of which file. */
export interface FileRange {
  path: string;
  start: number;
  length: number;
}

/** How `sendFileRange` writes and reports. */
export interface SendFileOptions {
  /** The connection as its I/O backend writes it (the copy loop's writer). */
  writer: ByteWriter;
  /** Try sendfile(2) first (default true). */
  zeroCopy?: boolean;
  /** Called whenever bytes moved, with the count sent so far. */
  onProgress?(sent: number): void;
  /** True once the connection was closed (or given up on): stop. */
  closed?(): boolean;
}

/**
 * Sends `file`'s range on `conn` (Deno's socket; sendfile finds its descriptor). Throws when the
 * file shrinks under us, or as a write would (reset, broken pipe, closed).
 */
export async function sendFileRange(
  conn: Deno.Conn,
  file: FileRange,
  { writer, zeroCopy = true, onProgress, closed = () => false }: SendFileOptions,
): Promise<void> {
  let opened: Deno.FsFile | undefined;
  let chunk: Uint8Array | undefined;
  let sent = 0;
  let kernel = zeroCopy;
  try {
    while (sent < file.length) {
      if (kernel) {
        const piece = Math.min(file.length - sent, SENDFILE_PIECE_BYTES);
        const moved = await sendOnce(
          conn,
          file,
          sent,
          piece,
          closed,
          (n) => onProgress?.(sent + n),
        );
        if (moved === null) kernel = false; // sendfile is unavailable here: copy from now on.
        else sent += moved;
        if (sent === file.length) return;
        if (moved === piece) {
          // Room for more: let the other connections have this turn first.
          await new Promise((resolve) => setImmediate(resolve));
          continue;
        }
      }
      // One piece through the backend's write, which waits for room without holding a thread.
      opened ??= await Deno.open(file.path, { read: true });
      chunk ??= new Uint8Array(Math.min(STREAM_CHUNK_BYTES, file.length));
      await opened.seek(file.start + sent, Deno.SeekMode.Start);
      const n = await opened.read(chunk.subarray(0, Math.min(file.length - sent, chunk.length)));
      if (n === null) throw shrank(file);
      await writeAll(writer, chunk.subarray(0, n));
      sent += n;
      onProgress?.(sent);
    }
  } finally {
    opened?.close();
  }
}

/**
 * One sendfile(2) call for `count` bytes from `sent` on: the bytes it moved (as many as fit in
 * the socket), or
 * null when the fast path is unavailable. One call only: tcp/linux/sendfile.ts waits for a full
 * socket in poll(2) on a runtime thread, so before its second call (its `closed` hook is asked
 * first) the transfer is cut here, and the caller pushes the next piece through the backend's
 * write, which waits for room without holding a thread. A client that stops reading then costs
 * no thread at all, only its own pending write.
 */
async function sendOnce(
  conn: Deno.Conn,
  file: FileRange,
  sent: number,
  count: number,
  closed: () => boolean,
  onProgress: (moved: number) => void,
): Promise<number | null> {
  let moved = 0;
  let calls = 0;
  let cut = false;
  try {
    const done = await sendFileZeroCopy(conn, file.path, file.start + sent, count, {
      closed: () => {
        if (closed()) return true;
        cut = ++calls > 1;
        return cut;
      },
      progress: (n) => {
        moved = n;
        onProgress(n);
      },
    });
    return done ? count : null;
  } catch (error) {
    if (cut && !closed()) return moved;
    throw error instanceof FileShrankError ? shrank(file) : error;
  }
}

function shrank(file: FileRange): Error {
  return new Error(`File "${file.path}" shrank while being sent`);
}
