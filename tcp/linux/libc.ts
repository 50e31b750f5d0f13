/**
 * libc through Deno's built-in FFI: the one place netlab calls `Deno.dlopen`.
 *
 * Every Linux fast path (epoll, sendfile, recvmmsg/sendmmsg, socket options) binds its calls
 * here, so the library is opened once and the rules for using it live in one place:
 * - only on 64-bit Linux (the struct layouts the callers use) with glibc;
 * - only when FFI and reading /proc/self/fd (where Deno's socket descriptors are found) are
 *   already granted — an optimisation must never make Deno prompt the user;
 * - otherwise `libc()` returns null and each caller keeps its portable twin.
 *
 * A failed call's errno is read with `lastErrno()` right after it, on the same thread, and
 * `systemError()` turns it into the error Deno itself would throw for that socket call.
 */

const SYMBOLS = {
  // Sockets: finding Deno's descriptors and reading or setting options.
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  // Byte I/O. Results as i32 where the count allows: an isize comes back as a BigInt (an
  // allocation per call, and numbers mixed with BigInts make V8 deoptimise the caller).
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "i32" },
  recvfrom: {
    parameters: ["i32", "buffer", "usize", "i32", "buffer", "buffer"],
    result: "i32",
  },
  recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "pointer"], result: "i32" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  sendfile: { parameters: ["i32", "i32", "buffer", "usize"], result: "isize" },
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  // Readiness: epoll_wait blocks on one of Deno's helper threads, never on the event loop.
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  epoll_wait: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32", nonblocking: true },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  // Sockets made here: binding without SO_REUSEADDR (a lesson), fresh UDP sockets per query.
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  // A fresh UDP socket connected to its one server hears ICMP port unreachable (ECONNREFUSED).
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  // Descriptors.
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  // Memory: give freed heap pages back to the kernel (tcp/linux/release_memory.ts).
  malloc_trim: { parameters: ["usize"], result: "i32" },
} as const;

/** The bound library. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>;

/** errno values the fast paths act on (Linux, every architecture netlab binds on). */
export const ERRNO = {
  EINTR: 4,
  EBADF: 9,
  EAGAIN: 11,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  EPIPE: 32,
  ENOSYS: 38,
  EADDRINUSE: 98,
  EOPNOTSUPP: 95,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  ENOTCONN: 107,
  ECONNREFUSED: 111,
  ENETUNREACH: 101,
  EHOSTUNREACH: 113,
} as const;

let opened: Libc | null | undefined;

function granted(descriptor: Deno.PermissionDescriptor): boolean {
  return Deno.permissions.querySync(descriptor).state === "granted";
}

/** libc, or null where the fast paths are unavailable (see the module comment). */
export function libc(): Libc | null {
  if (opened !== undefined) return opened;
  opened = null;
  if (Deno.build.os !== "linux" || !["x86_64", "aarch64"].includes(Deno.build.arch)) return null;
  if (!granted({ name: "ffi" }) || !granted({ name: "read", path: "/proc/self/fd" })) return null;
  try {
    opened = Deno.dlopen("libc.so.6", SYMBOLS);
  } catch {
    // No glibc: the portable paths stay.
  }
  return opened;
}

/** The calling thread's errno (valid right after a failed libc call on this thread). */
export function lastErrno(lib: Libc): number {
  const pointer = lib.symbols.__errno_location();
  return pointer ? new Deno.UnsafePointerView(pointer).getInt32() : 0;
}

const ERRORS: Record<number, () => Error> = {
  [ERRNO.EPIPE]: () => new Deno.errors.BrokenPipe("broken pipe"),
  [ERRNO.ECONNRESET]: () => new Deno.errors.ConnectionReset("connection reset by peer"),
  [ERRNO.ECONNABORTED]: () => new Deno.errors.ConnectionAborted("connection aborted"),
  [ERRNO.ENOTCONN]: () => new Deno.errors.NotConnected("socket is not connected"),
  [ERRNO.EBADF]: () => new Deno.errors.BadResource("bad file descriptor"),
  [ERRNO.ECONNREFUSED]: () => new Deno.errors.ConnectionRefused("connection refused"),
  [ERRNO.ENETUNREACH]: () => new Deno.errors.NetworkUnreachable("network unreachable"),
  [ERRNO.EHOSTUNREACH]: () => new Deno.errors.NetworkUnreachable("host unreachable"),
};

/** The error Deno itself would throw for `errno` on a socket call named `call`. */
export function systemError(code: number, call: string): Error {
  return ERRORS[code]?.() ?? new Error(`${call} failed (errno ${code})`);
}
