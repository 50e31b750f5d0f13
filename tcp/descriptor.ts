/**
 * The kernel descriptor behind a `Deno.Conn`, for netlab's Linux fast paths that call libc on
 * Deno's own sockets (tcp/sendfile.ts, tcp/epoll.ts).
 *
 * Deno does not hand out descriptors, but a TCP connection's 4-tuple is unique: the stream socket
 * of this process whose getsockname and getpeername equal `conn.localAddr` and `conn.remoteAddr`
 * is the one. A hit from the cache is re-checked before use, because a closed number is soon
 * reused; a miss probes descriptor numbers from 0 upwards. Linux gives every new descriptor the
 * lowest free number, so a fresh connection sits among the low, dense numbers and the probe
 * stops there — a few system calls per accept instead of a walk over /proc/self/fd, which at
 * 1,000 connections made accepting quadratic. The walk stays as the fallback.
 */
import { openFastPathLibc } from "./fast_path.ts";
import { SOCK_STREAM } from "./info.ts";
import { encodeSockaddr, sockaddrKey } from "../udp/mmsg.ts";

const SYMBOLS = {
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>;
let libc: Libc | null | undefined;

const SOL_SOCKET = 1;
const SO_TYPE = 3;
const EBADF = 9;
const NAME_SIZE = 32;
/** Free numbers in a row after which the probe gives up and walks /proc/self/fd instead. */
const PROBE_GAP = 64;

function openLibc(): Libc | null {
  if (libc === undefined) libc = openFastPathLibc(SYMBOLS);
  return libc;
}

/** Any libc binding that includes `__errno_location`. */
export interface WithErrno {
  symbols: { __errno_location(): Deno.PointerValue };
}

/** The calling thread's errno (valid right after a failed libc call on this thread). */
export function lastErrno(lib: WithErrno): number {
  const pointer = lib.symbols.__errno_location();
  return pointer ? new Deno.UnsafePointerView(pointer).getInt32() : 0;
}

const ERRORS: Record<number, () => Error> = {
  32: () => new Deno.errors.BrokenPipe("broken pipe"),
  104: () => new Deno.errors.ConnectionReset("connection reset by peer"),
  103: () => new Deno.errors.ConnectionAborted("connection aborted"),
  107: () => new Deno.errors.NotConnected("socket is not connected"),
  9: () => new Deno.errors.BadResource("bad file descriptor"),
};

/** The error Deno itself would throw for `errno` on a socket call named `call`. */
export function systemError(code: number, call: string): Error {
  return ERRORS[code]?.() ?? new Error(`${call} failed (errno ${code})`);
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
/** What `connectionKey` found for a number that is not a connected stream socket. */
const CLOSED = 0;
const OTHER = 1;

/** `local|remote` of a connected stream socket; `CLOSED` for a free number; `OTHER` otherwise. */
function connectionKey(lib: Libc, fd: number): string | typeof CLOSED | typeof OTHER {
  const { name, length } = scratch;
  length[0] = 4;
  if (lib.symbols.getsockopt(fd, SOL_SOCKET, SO_TYPE, socketType, length) !== 0) {
    return lastErrno(lib) === EBADF ? CLOSED : OTHER;
  }
  if (socketType[0] !== SOCK_STREAM) return OTHER;
  length[0] = NAME_SIZE;
  if (lib.symbols.getsockname(fd, name, length) !== 0) return OTHER;
  const local = sockaddrKey(name);
  length[0] = NAME_SIZE;
  if (lib.symbols.getpeername(fd, name, length) !== 0) return OTHER;
  return `${local}|${sockaddrKey(name)}`;
}

/** Descriptor numbers to pass over (a `Set` or the keys of a `Map`). */
export interface DescriptorSet {
  has(fd: number): boolean;
}

/** Connections found before, by `local|remote` (re-checked on every hit). */
const known = new Map<string, number>();

/**
 * Probes numbers upwards; `skip` holds numbers known to belong to other connections. The lowest
 * match wins: any descriptor with this 4-tuple is this very socket (a second one can only be a
 * duplicate, and netlab makes those only for the length of a sendfile).
 */
function probe(lib: Libc, key: string, skip?: DescriptorSet): number | null {
  let free = 0;
  for (let fd = 0; free < PROBE_GAP; fd++) {
    if (skip?.has(fd)) {
      free = 0;
      continue;
    }
    const found = connectionKey(lib, fd);
    if (found === CLOSED) {
      free++;
      continue;
    }
    free = 0;
    if (found === key) return fd;
  }
  return null;
}

/** Walks /proc/self/fd; refuses a key that two descriptors share (a dup: no guessing). */
function walk(lib: Libc, key: string): number | null {
  let match: number | null = null;
  let names: Iterable<Deno.DirEntry>;
  try {
    names = Deno.readDirSync("/proc/self/fd");
  } catch {
    return null;
  }
  for (const entry of names) {
    const fd = Number(entry.name);
    if (connectionKey(lib, fd) !== key) continue;
    if (match !== null) return null;
    match = fd;
  }
  return match;
}

/**
 * The descriptor behind `conn`, or null when FFI is unavailable or no descriptor matches.
 * `skip`: descriptors the caller already owns for other connections (saves the probe their
 * system calls; they are never the answer).
 */
export function streamDescriptor(conn: Deno.Conn, skip?: DescriptorSet): number | null {
  const lib = openLibc();
  if (!lib) return null;
  const local = addressKey(conn.localAddr);
  const remote = addressKey(conn.remoteAddr);
  if (local === null || remote === null) return null;
  const key = `${local}|${remote}`;
  const cached = known.get(key);
  if (cached !== undefined && connectionKey(lib, cached) === key) return cached;
  known.delete(key);
  const fd = probe(lib, key, skip) ?? walk(lib, key);
  if (fd !== null) {
    // Bounded: entries for closed connections are dropped when the cache grows large.
    if (known.size >= 4096) known.clear();
    known.set(key, fd);
  }
  return fd;
}
