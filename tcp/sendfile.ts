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
import { openFastPathLibc } from "./fast_path.ts";
import { SOCK_STREAM } from "./info.ts";
import { encodeSockaddr, sockaddrKey } from "../udp/mmsg.ts";

const SYMBOLS = {
  sendfile: { parameters: ["i32", "i32", "buffer", "usize"], result: "isize" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>;
let libc: Libc | null | undefined;

const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
const F_DUPFD_CLOEXEC = 1030;
const SOL_SOCKET = 1;
const SO_TYPE = 3;
const POLLOUT = 0x4;
const EAGAIN = 11;
const EINTR = 4;
/** "This file or socket cannot do sendfile": before the first byte, the caller's loop takes over. */
const UNSUPPORTED = new Set([22, /* EINVAL */ 38, /* ENOSYS */ 95 /* EOPNOTSUPP */]);
const NAME_SIZE = 32;
/** Most bytes one sendfile call is asked for (it sends what fits in the socket buffer). */
const MAX_CALL = 1 << 30;
/** How long one poll waits before the loop looks at `closed()` again. */
const POLL_SLICE_MS = 250;

function openLibc(): Libc | null {
  if (libc === undefined) libc = openFastPathLibc(SYMBOLS);
  return libc;
}

function errno(lib: Libc): number {
  const pointer = lib.symbols.__errno_location();
  return pointer ? new Deno.UnsafePointerView(pointer).getInt32() : 0;
}

/** `addr` as a comparable sockaddr key, or null if it cannot be encoded. */
function addressKey(addr: Deno.Addr): string | null {
  if (addr.transport !== "tcp") return null;
  const name = new Uint8Array(NAME_SIZE);
  return encodeSockaddr(addr, name) === 0 ? null : sockaddrKey(name);
}

/** Scratch space for the socket calls (all synchronous, so one set is enough). */
const scratch = { name: new Uint8Array(NAME_SIZE), length: new Uint32Array(1) };
const socketType = new Int32Array(1);

/** `local|remote` of a connected stream socket, or null for anything else. */
function connectionKey(lib: Libc, fd: number): string | null {
  const { name, length } = scratch;
  length[0] = 4;
  if (lib.symbols.getsockopt(fd, SOL_SOCKET, SO_TYPE, socketType, length) !== 0) return null;
  if (socketType[0] !== SOCK_STREAM) return null;
  length[0] = NAME_SIZE;
  if (lib.symbols.getsockname(fd, name, length) !== 0) return null;
  const local = sockaddrKey(name);
  length[0] = NAME_SIZE;
  if (lib.symbols.getpeername(fd, name, length) !== 0) return null;
  return `${local}|${sockaddrKey(name)}`;
}

/**
 * Connected stream sockets of this process by `local|remote`, from the last scan of
 * /proc/self/fd. A hit is re-checked before use (the number may have been closed and reused);
 * a miss rescans. So a server with many connections scans once per new connection, not once
 * per file sent.
 */
let known = new Map<string, number>();

function rescan(lib: Libc): void {
  known = new Map();
  const ambiguous = new Set<string>();
  let names: Iterable<Deno.DirEntry>;
  try {
    names = Deno.readDirSync("/proc/self/fd");
  } catch {
    return;
  }
  for (const entry of names) {
    const fd = Number(entry.name);
    const key = connectionKey(lib, fd);
    if (key === null) continue;
    if (known.has(key)) ambiguous.add(key);
    known.set(key, fd);
  }
  // Two descriptors with one 4-tuple would be a dup of one socket; refuse to guess anyway.
  for (const key of ambiguous) known.delete(key);
}

/**
 * The descriptor behind `conn`: the stream socket of this process whose getsockname and
 * getpeername equal `conn.localAddr` and `conn.remoteAddr` (a TCP connection's 4-tuple is
 * unique). Null when FFI is unavailable or no single descriptor matches.
 */
export function streamDescriptor(conn: Deno.Conn): number | null {
  const lib = openLibc();
  if (!lib) return null;
  const local = addressKey(conn.localAddr);
  const remote = addressKey(conn.remoteAddr);
  if (local === null || remote === null) return null;
  const key = `${local}|${remote}`;
  const cached = known.get(key);
  if (cached !== undefined && connectionKey(lib, cached) === key) return cached;
  rescan(lib);
  return known.get(key) ?? null;
}

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
  const lib = openLibc();
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
    const code = errno(lib);
    if (code === EINTR) continue;
    if (sent === 0 && UNSUPPORTED.has(code)) return false;
    if (code !== EAGAIN) throw systemError(code);
    // Full socket buffer: wait until it drains (or the peer goes away).
    pollfd[0] = socket;
    pollfd[1] = POLLOUT; // events (low 16 bits); revents cleared
    // An error or hang-up also ends the wait: the next sendfile reports it.
    await lib.symbols.poll(pollfd, 1n, POLL_SLICE_MS);
  }
  return true;
}

const ERRORS: Record<number, () => Error> = {
  32: () => new Deno.errors.BrokenPipe("broken pipe"),
  104: () => new Deno.errors.ConnectionReset("connection reset by peer"),
  103: () => new Deno.errors.ConnectionAborted("connection aborted"),
};

function systemError(code: number): Error {
  return ERRORS[code]?.() ?? new Error(`sendfile failed (errno ${code})`);
}
