/**
 * Socket options through getsockopt(2)/setsockopt(2) on Linux, on Deno's own sockets (found by
 * ./descriptor.ts): what `tcp/info.ts` reads back, and the keepalive timers Deno has no call for.
 */
import { ERRNO, lastErrno, libc } from "./libc.ts";
import { listenerDescriptor, streamDescriptor } from "./descriptor.ts";
import { encodeSockaddr, SOCKADDR_SIZE } from "./sockaddr.ts";

/** Options read back with getsockopt(2); absent when they could not be read. */
export interface SocketOptions {
  SO_TYPE?: number;
  SO_DOMAIN?: number;
  SO_ACCEPTCONN?: number;
  SO_REUSEADDR?: number;
  SO_KEEPALIVE?: number;
  SO_RCVBUF?: number;
  SO_SNDBUF?: number;
  TCP_NODELAY?: number;
  TCP_KEEPIDLE?: number;
  TCP_KEEPINTVL?: number;
  TCP_KEEPCNT?: number;
}

type OptionName = keyof SocketOptions;

const SOL_SOCKET = 1;
const IPPROTO_TCP = 6;
/** [level, optname] for each option (Linux values). */
const OPTIONS: Record<OptionName, [number, number]> = {
  SO_TYPE: [SOL_SOCKET, 3],
  SO_DOMAIN: [SOL_SOCKET, 39],
  SO_ACCEPTCONN: [SOL_SOCKET, 30],
  SO_REUSEADDR: [SOL_SOCKET, 2],
  SO_KEEPALIVE: [SOL_SOCKET, 9],
  SO_RCVBUF: [SOL_SOCKET, 8],
  SO_SNDBUF: [SOL_SOCKET, 7],
  TCP_NODELAY: [IPPROTO_TCP, 1],
  TCP_KEEPIDLE: [IPPROTO_TCP, 4],
  TCP_KEEPINTVL: [IPPROTO_TCP, 5],
  TCP_KEEPCNT: [IPPROTO_TCP, 6],
};
const TCP_ONLY: OptionName[] = ["TCP_NODELAY", "TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT"];

/**
 * Reads the socket options of descriptor `fd` (an int each). Null when getsockopt is
 * unavailable. `tcp` adds the IPPROTO_TCP options.
 */
export function readSocketOptions(fd: number, { tcp = true } = {}): SocketOptions | null {
  const lib = libc();
  if (!lib) return null;
  const result: SocketOptions = {};
  const value = new Int32Array(1);
  const length = new Uint32Array(1);
  for (const [name, [level, optname]] of Object.entries(OPTIONS) as [OptionName, number[]][]) {
    if (!tcp && TCP_ONLY.includes(name)) continue;
    length[0] = 4;
    if (lib.symbols.getsockopt(fd, level, optname, value, length) === 0) result[name] = value[0];
  }
  return result;
}

/** TCP keepalive timers: idle time before the first probe, time between probes, probes. */
export interface KeepaliveTimers {
  idleSeconds: number;
  intervalSeconds: number;
  probes: number;
}

/**
 * Sets TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT on `conn`'s socket (SO_KEEPALIVE itself is
 * Deno's `setKeepAlive`). False when the socket or the calls are unavailable.
 */
export function setKeepaliveTimers(conn: Deno.TcpConn, timers: KeepaliveTimers): boolean {
  const fd = libc() ? streamDescriptor(conn) : null;
  return fd !== null && setOptions(fd, timerOptions(timers));
}

/**
 * SO_KEEPALIVE and the keepalive timers on a listening socket: Linux copies a listener's options
 * to every connection it accepts, so they all get keepalive without a call each. False when the
 * listener's socket or the calls are unavailable.
 */
export function setListenerKeepalive(listener: Deno.Listener, timers: KeepaliveTimers): boolean {
  const fd = libc() ? listenerDescriptor(listener) : null;
  return fd !== null && setOptions(fd, [["SO_KEEPALIVE", 1], ...timerOptions(timers)]);
}

/** TCP_NOTSENT_LOWAT (Linux): the unsent bytes above which a socket no longer takes more. */
const TCP_NOTSENT_LOWAT = 25;

/**
 * TCP_NOTSENT_LOWAT on a listening socket (copied to every connection it accepts, like the
 * keepalive options): a connection's send calls stop taking bytes, and it stops reporting itself
 * writable, once `bytes` are queued but not yet sent. False when unavailable.
 */
export function setListenerUnsentLimit(listener: Deno.Listener, bytes: number): boolean {
  const lib = libc();
  const fd = lib ? listenerDescriptor(listener) : null;
  if (!lib || fd === null) return false;
  const value = new Int32Array([bytes]);
  return lib.symbols.setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, value, 4) === 0;
}

/** The TCP_NOTSENT_LOWAT of descriptor `fd`, or null when it cannot be read. */
export function readUnsentLimit(fd: number): number | null {
  const lib = libc();
  if (!lib) return null;
  const value = new Uint32Array(1);
  const length = new Uint32Array([4]);
  return lib.symbols.getsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, value, length) === 0
    ? value[0]
    : null;
}

function timerOptions(timers: KeepaliveTimers): [OptionName, number][] {
  return [
    ["TCP_KEEPIDLE", timers.idleSeconds],
    ["TCP_KEEPINTVL", timers.intervalSeconds],
    ["TCP_KEEPCNT", timers.probes],
  ];
}

/** setsockopt for each `[name, value]` on `fd`, in order; false at the first failure. */
function setOptions(fd: number, options: [OptionName, number][]): boolean {
  const lib = libc();
  if (!lib) return false;
  const value = new Int32Array(1);
  return options.every(([name, n]) => {
    value[0] = n;
    const [level, optname] = OPTIONS[name];
    return lib.symbols.setsockopt(fd, level, optname, value, 4) === 0;
  });
}

/** What binding a TCP socket without SO_REUSEADDR gave. */
export type PlainBindResult = "bound" | "address in use" | "unavailable";

/**
 * Creates a TCP socket WITHOUT SO_REUSEADDR (which `Deno.listen` always sets), binds it to
 * `hostname:port` and closes it again: what seed 002's server did before it learnt
 * `setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)`. "unavailable" where libc cannot be used.
 */
export function bindWithoutReuseAddr(hostname: string, port: number): PlainBindResult {
  const lib = libc();
  if (!lib) return "unavailable";
  const name = new Uint8Array(SOCKADDR_SIZE);
  const length = encodeSockaddr({ transport: "tcp", hostname, port }, name);
  if (!length) return "unavailable";
  const family = name[0] | (name[1] << 8);
  const fd = lib.symbols.socket(family, 1, /* SOCK_STREAM */ 0);
  if (fd < 0) return "unavailable";
  try {
    if (lib.symbols.bind(fd, name, length) === 0) return "bound";
    return lastErrno(lib) === ERRNO.EADDRINUSE ? "address in use" : "unavailable";
  } finally {
    lib.symbols.close(fd);
  }
}
