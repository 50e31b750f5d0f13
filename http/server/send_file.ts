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
import { type ByteWriter, writeAll } from "../../tcp/core/io.ts";
import { FileShrankError, sendFileRange as sendFileZeroCopy } from "../../tcp/linux/sendfile.ts";

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
  { writer, zeroCopy = true, onProgress, closed }: SendFileOptions,
): Promise<void> {
  if (zeroCopy) {
    try {
      const sent = await sendFileZeroCopy(conn, file.path, file.start, file.length, {
        closed: () => closed?.() ?? false,
        progress: (sent) => onProgress?.(sent),
      });
      if (sent) return;
    } catch (error) {
      throw error instanceof FileShrankError ? shrank(file) : error;
    }
  }
  using opened = await Deno.open(file.path, { read: true });
  await opened.seek(file.start, Deno.SeekMode.Start);
  const chunk = new Uint8Array(Math.min(STREAM_CHUNK_BYTES, file.length));
  let sent = 0;
  while (sent < file.length) {
    const n = await opened.read(chunk.subarray(0, Math.min(file.length - sent, chunk.length)));
    if (n === null) throw shrank(file);
    await writeAll(writer, chunk.subarray(0, n));
    sent += n;
    onProgress?.(sent);
  }
}

function shrank(file: FileRange): Error {
  return new Error(`File "${file.path}" shrank while being sent`);
}
