/**
 * Zero-copy file sending on Linux: sendfile(2) through Deno's built-in FFI, on the very socket
 * behind a `Deno.Conn`.
 *
 * Why: sending a file with read() + write() copies every byte twice through this process (page
 * cache → buffer → socket). sendfile hands the kernel the file's pages instead, so the sender
 * spends a fraction of the CPU; nginx (`sendfile on;`) and netcat-style tools do the same. The
 * portable read/write loop stays in the callers; this is the fast path they take when they can
 * (Linux, glibc, `--allow-ffi`, and the socket found in /proc/self/fd).
 *
 * Safety: the socket is used through our own duplicate descriptor (F_DUPFD_CLOEXEC), so Deno
 * closing its descriptor can never make us write into an unrelated file that reused the number;
 * the file is opened by us, read-only. The socket is non-blocking (Deno's): when it is full we
 * wait with poll(2) on a helper thread, in short slices so that a close is noticed.
 */
import { ERRNO, lastErrno, type Libc, libc, systemError } from "./libc.ts";
import { streamDescriptor } from "./descriptor.ts";

const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
const F_DUPFD_CLOEXEC = 1030;
const POLLOUT = 0x4;
const { EAGAIN, EINTR } = ERRNO;
/** "This file or socket cannot do sendfile": before the first byte, the caller's loop takes over. */
const UNSUPPORTED = new Set<number>([ERRNO.EINVAL, ERRNO.ENOSYS, ERRNO.EOPNOTSUPP]);
/** Most bytes one sendfile call is asked for (it sends what fits in the socket buffer). */
const MAX_CALL = 1 << 30;
/** How long one poll waits before the loop looks at `closed()` again. */
const POLL_SLICE_MS = 250;

/** What `sendFileRange` needs from its caller. */
export interface SendFileHooks {
  /** True once the caller has closed (or given up on) the connection: stop. */
  closed(): boolean;
  /** Called after each successful sendfile with the bytes it moved. */
  progress(sent: number): void;
}

/** The file shrank under us: fewer bytes than promised were left at `offset`. */
export class FileShrankError extends Error {
  constructor(readonly sent: number) {
    super(`file ended after ${sent} bytes`);
    this.name = "FileShrankError";
  }
}

/**
 * Sends `count` bytes of the file at `path`, from `offset`, on `conn`'s socket with sendfile(2).
 * Returns false without sending anything when the fast path is unavailable or the file system
 * cannot do sendfile (the caller then uses its own loop); true when every byte was handed to the
 * socket. Throws
 * `FileShrankError` if the file ends early, or an `Error` with the system's reason (connection
 * reset, broken pipe) as a write would.
 */
export async function sendFileRange(
  conn: Deno.Conn,
  path: string,
  offset: number,
  count: number,
  hooks: SendFileHooks,
): Promise<boolean> {
  const lib = libc();
  if (!lib) return false;
  const socket = streamDescriptor(conn);
  if (socket === null) return false;
  const own = lib.symbols.fcntl(socket, F_DUPFD_CLOEXEC, 0);
  if (own < 0) return false;
  try {
    const file = lib.symbols.open(new TextEncoder().encode(`${path}\0`), O_RDONLY | O_CLOEXEC);
    if (file < 0) return false;
    try {
      return await pump(lib, own, file, offset, count, hooks);
    } finally {
      lib.symbols.close(file);
    }
  } finally {
    lib.symbols.close(own);
  }
}

async function pump(
  lib: Libc,
  socket: number,
  file: number,
  offset: number,
  count: number,
  hooks: SendFileHooks,
): Promise<boolean> {
  const position = new BigInt64Array([BigInt(offset)]);
  const pollfd = new Int32Array(2);
  let sent = 0;
  while (sent < count) {
    if (hooks.closed()) throw new Deno.errors.BadResource("connection closed");
    const moved = Number(
      lib.symbols.sendfile(socket, file, position, BigInt(Math.min(MAX_CALL, count - sent))),
    );
    if (moved > 0) {
      sent += moved;
      hooks.progress(sent);
      continue;
    }
    if (moved === 0) throw new FileShrankError(sent);
    const code = lastErrno(lib);
    if (code === EINTR) continue;
    if (sent === 0 && UNSUPPORTED.has(code)) return false;
    if (code !== EAGAIN) throw systemError(code, "sendfile");
    // Full socket buffer: wait until it drains (or the peer goes away).
    pollfd[0] = socket;
    pollfd[1] = POLLOUT; // events (low 16 bits); revents cleared
    // An error or hang-up also ends the wait: the next sendfile reports it.
    await lib.symbols.poll(pollfd, 1n, POLL_SLICE_MS);
  }
  return true;
}
