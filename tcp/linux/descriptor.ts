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
import { openFastPathLibc } from "./libc.ts";
import { SOCK_STREAM } from "../info.ts";
import { encodeSockaddr } from "./mmsg.ts";

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
const AF_INET6 = 10;
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

/** Both ends of the connection being looked for, as sockaddr bytes (`encodeSockaddr`). */
const wanted = { local: new Uint8Array(NAME_SIZE), remote: new Uint8Array(NAME_SIZE) };
/** Scratch space for the socket calls (all synchronous, so one set is enough). */
const scratch = { name: new Uint8Array(NAME_SIZE), length: new Uint32Array(1) };
const socketType = new Int32Array(1);
/** What `classify` found. */
const CLOSED = 0;
const OTHER = 1;
const MATCH = 2;

/** Same family, port and address (what identifies an end; padding and flow labels aside). */
function sameEnd(a: Uint8Array, b: Uint8Array): boolean {
  if (a[0] !== b[0] || a[1] !== b[1] || a[2] !== b[2] || a[3] !== b[3]) return false;
  const [from, to] = (a[0] | (a[1] << 8)) === AF_INET6 ? [8, 24] : [4, 8];
  for (let i = from; i < to; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** `MATCH` for the stream socket connecting `wanted`'s ends; `CLOSED` for a free number. */
function classify(lib: Libc, fd: number): typeof CLOSED | typeof OTHER | typeof MATCH {
  const { name, length } = scratch;
  length[0] = 4;
  if (lib.symbols.getsockopt(fd, SOL_SOCKET, SO_TYPE, socketType, length) !== 0) {
    return lastErrno(lib) === EBADF ? CLOSED : OTHER;
  }
  if (socketType[0] !== SOCK_STREAM) return OTHER;
  length[0] = NAME_SIZE;
  if (lib.symbols.getsockname(fd, name, length) !== 0 || !sameEnd(name, wanted.local)) {
    return OTHER;
  }
  length[0] = NAME_SIZE;
  if (lib.symbols.getpeername(fd, name, length) !== 0 || !sameEnd(name, wanted.remote)) {
    return OTHER;
  }
  return MATCH;
}

/** Descriptor numbers to pass over (a `Set` or the keys of a `Map`). */
export interface DescriptorSet {
  has(fd: number): boolean;
}

/** A set of descriptor numbers as one byte per number: a lookup is an array read. */
export class DescriptorFlags implements DescriptorSet {
  #flags = new Uint8Array(256);

  has(fd: number): boolean {
    return fd < this.#flags.length && this.#flags[fd] === 1;
  }

  add(fd: number): void {
    if (fd >= this.#flags.length) {
      const grown = new Uint8Array(Math.max(fd + 1, this.#flags.length * 2));
      grown.set(this.#flags);
      this.#flags = grown;
    }
    this.#flags[fd] = 1;
  }

  delete(fd: number): void {
    if (fd < this.#flags.length) this.#flags[fd] = 0;
  }
}

/** Connections found before, by local and remote port (re-checked on every hit). */
const known = new Map<number, number>();
/**
 * Numbers that were something else when last probed — Deno's own epoll sets, eventfds, pipes and
 * socket pairs, files, listeners, other connections: the first pass of a probe passes over them
 * without a system call (before this, Deno's own sockets alone cost ~20 calls per accept). A
 * number can be closed and reused for a new connection, so a probe that fails with them skipped
 * tries again without.
 */
const others = new DescriptorFlags();

/**
 * Probes numbers upwards; `skip` holds numbers known to belong to other connections. The lowest
 * match wins: any descriptor with this 4-tuple is this very socket (a second one can only be a
 * duplicate, and netlab makes those only for the length of a sendfile).
 */
function probe(lib: Libc, skip: DescriptorSet | undefined, trust: boolean): number | null {
  let free = 0;
  for (let fd = 0; free < PROBE_GAP; fd++) {
    if (skip?.has(fd) || trust && others.has(fd)) {
      free = 0;
      continue;
    }
    const found = classify(lib, fd);
    if (found === CLOSED) {
      others.delete(fd);
      free++;
      continue;
    }
    free = 0;
    if (found === MATCH) {
      others.delete(fd);
      return fd;
    }
    others.add(fd);
  }
  return null;
}

/** Walks /proc/self/fd; refuses ends that two descriptors share (a dup: no guessing). */
function walk(lib: Libc): number | null {
  let match: number | null = null;
  let names: Iterable<Deno.DirEntry>;
  try {
    names = Deno.readDirSync("/proc/self/fd");
  } catch {
    return null;
  }
  for (const entry of names) {
    const fd = Number(entry.name);
    if (classify(lib, fd) !== MATCH) continue;
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
  const local = conn.localAddr;
  const remote = conn.remoteAddr;
  if (local.transport !== "tcp" || remote.transport !== "tcp") return null;
  if (!encodeSockaddr(local, wanted.local) || !encodeSockaddr(remote, wanted.remote)) return null;
  // The ports pick the cache entry; a hit is checked in full (a number is soon reused).
  const slot = local.port * 65536 + remote.port;
  const cached = known.get(slot);
  if (cached !== undefined && classify(lib, cached) === MATCH) return cached;
  const fd = probe(lib, skip, true) ?? probe(lib, skip, false) ?? walk(lib);
  if (fd !== null) {
    // Bounded: entries for closed connections are dropped when the cache grows large.
    if (known.size >= 4096) known.clear();
    known.set(slot, fd);
  }
  return fd;
}
