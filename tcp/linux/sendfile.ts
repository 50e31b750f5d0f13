/**
 * Zero-copy file sending on Linux: sendfile(2) through Deno's built-in FFI, on the very socket
 * behind a `Deno.Conn`.
 *
 * Why: sending a file with read() + write() copies every byte twice through this process (page
 * cache → buffer → socket). sendfile hands the kernel the file's pages instead, so the sender
 * spends a fraction of the CPU; nginx (`sendfile on;`) and netcat-style tools do the same. The
 * seam that decides between this and the portable copy loop is tcp/core/send_file.ts.
 *
 * Every call here is synchronous and never waits: the socket is non-blocking (Deno's), so a full
 * socket buffer is answered with `SENDFILE_WOULD_BLOCK` at once, and the caller waits for room
 * the way Deno's own writes do (in its reactor) — never on a thread.
 *
 * Safety: the socket is used through our own duplicate descriptor (F_DUPFD_CLOEXEC), so Deno
 * closing its descriptor can never make us write into an unrelated file that reused the number;
 * the file is opened by us, read-only.
 */
import { ERRNO, lastErrno, type Libc, libc, systemError } from "./libc.ts";
import { streamDescriptor } from "./descriptor.ts";

const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
const F_DUPFD_CLOEXEC = 1030;
const { EAGAIN, EINTR } = ERRNO;
/** "This file or socket cannot do sendfile": before the first byte, the caller's loop takes over. */
const UNSUPPORTED = new Set<number>([ERRNO.EINVAL, ERRNO.ENOSYS, ERRNO.EOPNOTSUPP]);
/** Most bytes one sendfile call is asked for (it sends what fits in the socket buffer). */
const MAX_CALL = 1 << 30;

/** `SendfileChannel.send`: the socket's buffer is full; nothing was sent. */
export const SENDFILE_WOULD_BLOCK = -1;
/** `SendfileChannel.send`: this file or socket cannot do sendfile (nothing was sent yet). */
export const SENDFILE_UNSUPPORTED = -2;

/** One file opened for sendfile(2) to one connection's socket. Dispose it to close both. */
export class SendfileChannel implements Disposable {
  readonly #lib: Libc;
  readonly #socket: number;
  readonly #file: number;
  readonly #position = new BigInt64Array(1);
  #sentAny = false;

  private constructor(lib: Libc, socket: number, file: number) {
    this.#lib = lib;
    this.#socket = socket;
    this.#file = file;
  }

  /**
   * A channel from the file at `path` to `conn`'s socket, or null where sendfile is unavailable
   * (no FFI, not Linux, the socket not found) or the file cannot be opened.
   */
  static open(conn: Deno.Conn, path: string): SendfileChannel | null {
    const lib = libc();
    if (!lib) return null;
    const socket = streamDescriptor(conn);
    if (socket === null) return null;
    const own = lib.symbols.fcntl(socket, F_DUPFD_CLOEXEC, 0);
    if (own < 0) return null;
    const file = lib.symbols.open(new TextEncoder().encode(`${path}\0`), O_RDONLY | O_CLOEXEC);
    if (file < 0) {
      lib.symbols.close(own);
      return null;
    }
    return new SendfileChannel(lib, own, file);
  }

  /**
   * Hands up to `count` bytes of the file, from `offset`, to the socket without waiting. Returns
   * the bytes moved, 0 at the end of the file, `SENDFILE_WOULD_BLOCK` when the socket is full,
   * or `SENDFILE_UNSUPPORTED` when the file or socket cannot do sendfile and nothing has been
   * sent yet. Throws the error a write would (connection reset, broken pipe).
   */
  send(offset: number, count: number): number {
    const lib = this.#lib;
    this.#position[0] = BigInt(offset);
    while (true) {
      const moved = Number(
        lib.symbols.sendfile(
          this.#socket,
          this.#file,
          this.#position,
          BigInt(Math.min(MAX_CALL, count)),
        ),
      );
      if (moved >= 0) {
        if (moved > 0) this.#sentAny = true;
        return moved;
      }
      const code = lastErrno(lib);
      if (code === EINTR) continue;
      if (code === EAGAIN) return SENDFILE_WOULD_BLOCK;
      if (!this.#sentAny && UNSUPPORTED.has(code)) return SENDFILE_UNSUPPORTED;
      throw systemError(code, "sendfile");
    }
  }

  /**
   * Reads up to `into.length` bytes of the file from `offset` into `into` (pread(2), as sendfile
   * itself reads it: from the page cache, on this thread). Returns the count, 0 at the end.
   */
  read(offset: number, into: Uint8Array): number {
    const lib = this.#lib;
    while (true) {
      const got = Number(lib.symbols.pread(this.#file, into, BigInt(into.length), BigInt(offset)));
      if (got >= 0) return got;
      const code = lastErrno(lib);
      if (code !== EINTR) throw systemError(code, "pread");
    }
  }

  [Symbol.dispose](): void {
    this.#lib.symbols.close(this.#file);
    this.#lib.symbols.close(this.#socket);
  }
}
