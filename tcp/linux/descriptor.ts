/**
 * The kernel descriptor behind a Deno socket, for the Linux fast paths that call libc on Deno's
 * own sockets (epoll, sendfile, recvmmsg/sendmmsg, socket options on connections and listeners).
 *
 * Deno does not hand out descriptors, but a socket's addresses identify it: the stream socket of
 * this process whose getsockname and getpeername equal `conn.localAddr` and `conn.remoteAddr` is
 * the one (a TCP 4-tuple is unique); a datagram socket is the only one bound to its address.
 *
 * Streams are looked up per accepted connection, so that lookup is cheap. First the numbers that
 * may be the one are checked, three system calls each (a closed number is soon reused): the
 * cache's, and the number Deno notes on the connections it accepts (an internal field, so only a
 * hint until the addresses confirm it). Only when neither is it does a probe try numbers from 0
 * upwards. Linux gives every new descriptor the lowest free number, so a fresh connection sits
 * among the low, dense numbers and the probe stops there — a few system calls per accept instead
 * of a walk over /proc/self/fd, which at 1,000 connections made accepting quadratic. The walk
 * stays as the fallback, and is the only way for datagram sockets (looked up once per server),
 * where it refuses an address that two sockets share (SO_REUSEADDR): no guessing.
 */
import { ERRNO, lastErrno, type Libc, libc } from "./libc.ts";
import { encodeSockaddr, sameSockaddr, SOCKADDR_SIZE } from "./sockaddr.ts";

const SOL_SOCKET = 1;
const SO_TYPE = 3;
const SO_ACCEPTCONN = 30;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
/** Free numbers in a row after which the probe gives up and walks /proc/self/fd instead. */
const PROBE_GAP = 64;

/**
 * What to look for: the socket type and its ends as sockaddr bytes (`remote` for connections),
 * or a listening socket (`listening`: its accepted connections share its local address).
 */
interface Wanted {
  type: number;
  local: Uint8Array;
  remote?: Uint8Array;
  listening?: boolean;
}

/** Scratch space for the socket calls (all synchronous, so one set is enough). */
const scratch = {
  name: new Uint8Array(SOCKADDR_SIZE),
  length: new Uint32Array(1),
  type: new Int32Array(1),
};
const wantedStream: Wanted = {
  type: SOCK_STREAM,
  local: new Uint8Array(SOCKADDR_SIZE),
  remote: new Uint8Array(SOCKADDR_SIZE),
};

/** What `classify` found. */
const CLOSED = 0;
const OTHER = 1;
const MATCH = 2;

/** `MATCH` for the socket `wanted` describes; `CLOSED` for a free number. */
function classify(
  lib: Libc,
  fd: number,
  wanted: Wanted,
): typeof CLOSED | typeof OTHER | typeof MATCH {
  const { name, length, type } = scratch;
  length[0] = 4;
  if (lib.symbols.getsockopt(fd, SOL_SOCKET, SO_TYPE, type, length) !== 0) {
    return lastErrno(lib) === ERRNO.EBADF ? CLOSED : OTHER;
  }
  if (type[0] !== wanted.type) return OTHER;
  length[0] = SOCKADDR_SIZE;
  if (lib.symbols.getsockname(fd, name, length) !== 0 || !sameSockaddr(name, wanted.local)) {
    return OTHER;
  }
  if (wanted.listening) {
    length[0] = 4;
    if (lib.symbols.getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, type, length) !== 0 || !type[0]) {
      return OTHER;
    }
  }
  if (wanted.remote) {
    length[0] = SOCKADDR_SIZE;
    if (lib.symbols.getpeername(fd, name, length) !== 0 || !sameSockaddr(name, wanted.remote)) {
      return OTHER;
    }
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

/** How often a stream lookup had to probe (a test shows an accepted connection needs none). */
export const streamLookups = { probed: 0 };

/** Connections found before, by local and remote port (re-checked on every hit). */
const known = new Map<number, number>();
/**
 * Numbers that were something else when last probed — Deno's own epoll sets, eventfds, pipes and
 * socket pairs, files, listeners, other connections: the first pass of a probe passes over them
 * without a system call (Deno's own sockets alone would cost ~20 calls per accept). A number can
 * be closed and reused for a new connection, so a probe that fails with them skipped tries again
 * without.
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
    const found = classify(lib, fd, wantedStream);
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

/** The descriptor numbers of this process (Linux /proc; empty elsewhere or when unreadable). */
function openDescriptors(): number[] {
  try {
    return [...Deno.readDirSync("/proc/self/fd")].map((entry) => Number(entry.name));
  } catch {
    return [];
  }
}

/** Walks /proc/self/fd; refuses a socket that two descriptors match (a dup or a shared port). */
function walk(lib: Libc, wanted: Wanted): number | null {
  let match: number | null = null;
  for (const fd of openDescriptors()) {
    if (classify(lib, fd, wanted) !== MATCH) continue;
    if (match !== null) return null;
    match = fd;
  }
  return match;
}

/** The symbol under which Deno keeps an accepted connection's descriptor, once seen. */
let denoFdSymbol: symbol | undefined;

/**
 * The descriptor number Deno noted on `conn` when it accepted it, if any. Deno does not publish
 * it, so it is only a hint: `streamDescriptor` uses it after the socket's addresses confirm it.
 */
function hintedDescriptor(conn: Deno.Conn): number | undefined {
  denoFdSymbol ??= Object.getOwnPropertySymbols(conn).find((symbol) =>
    symbol.description === "Deno.internal.fd"
  );
  if (denoFdSymbol === undefined) return undefined;
  const fd = (conn as unknown as Record<symbol, unknown>)[denoFdSymbol];
  return typeof fd === "number" && Number.isInteger(fd) && fd >= 0 ? fd : undefined;
}

/**
 * The descriptor behind `conn`, or null when FFI is unavailable or no descriptor matches.
 * `skip`: descriptors the caller already owns for other connections (saves the probe their
 * system calls; they are never the answer).
 */
export function streamDescriptor(conn: Deno.Conn, skip?: DescriptorSet): number | null {
  const lib = libc();
  if (!lib) return null;
  const local = conn.localAddr;
  const remote = conn.remoteAddr;
  if (local.transport !== "tcp" || remote.transport !== "tcp") return null;
  if (!encodeSockaddr(local, wantedStream.local) || !encodeSockaddr(remote, wantedStream.remote!)) {
    return null;
  }
  // The ports pick the cache entry; a hit is checked in full (a number is soon reused).
  const slot = local.port * 65536 + remote.port;
  const cached = known.get(slot);
  if (cached !== undefined && classify(lib, cached, wantedStream) === MATCH) return cached;
  const hinted = hintedDescriptor(conn);
  if (hinted !== undefined && hinted !== cached && classify(lib, hinted, wantedStream) === MATCH) {
    return hinted;
  }
  streamLookups.probed++;
  const fd = probe(lib, skip, true) ?? probe(lib, skip, false) ?? walk(lib, wantedStream);
  if (fd !== null) {
    // Bounded: entries for closed connections are dropped when the cache grows large.
    if (known.size >= 4096) known.clear();
    known.set(slot, fd);
  }
  return fd;
}

/**
 * The descriptor behind `conn`: the one datagram socket of this process bound to `conn.addr`.
 * Null when not exactly one matches (two sockets sharing the port with SO_REUSEADDR) or FFI is
 * unavailable.
 */
export function datagramDescriptor(conn: Deno.DatagramConn): number | null {
  const lib = libc();
  const addr = conn.addr;
  if (!lib || addr.transport !== "udp") return null;
  const wanted: Wanted = { type: SOCK_DGRAM, local: new Uint8Array(SOCKADDR_SIZE) };
  if (!encodeSockaddr(addr, wanted.local)) return null;
  return walk(lib, wanted);
}

/**
 * The descriptor behind a TCP `listener`: the one listening stream socket of this process bound
 * to its address. Null when not exactly one matches (SO_REUSEPORT) or FFI is unavailable.
 */
export function listenerDescriptor(listener: Deno.Listener): number | null {
  const lib = libc();
  const addr = listener.addr;
  if (!lib || addr.transport !== "tcp") return null;
  const wanted: Wanted = {
    type: SOCK_STREAM,
    local: new Uint8Array(SOCKADDR_SIZE),
    listening: true,
  };
  if (!encodeSockaddr(addr, wanted.local)) return null;
  return walk(lib, wanted);
}

/** Socket descriptors of this process: fd → `socket:[inode]` (Linux /proc; empty elsewhere). */
export function socketDescriptors(): Map<number, string> {
  const fds = new Map<number, string>();
  for (const fd of openDescriptors()) {
    try {
      const target = Deno.readLinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith("socket:")) fds.set(fd, target);
    } catch {
      // The descriptor closed while we looked.
    }
  }
  return fds;
}
