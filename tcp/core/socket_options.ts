/**
 * Socket options beyond Deno's own calls, portable: on Linux they are read and set on the real
 * socket (tcp/linux/), elsewhere these say "unavailable" (null, an empty map, false) and the
 * caller carries on with what Deno offers.
 */
export {
  bindWithoutReuseAddr,
  type KeepaliveTimers,
  type PlainBindResult,
  readSocketOptions,
  readUnsentLimit,
  type SocketOptions,
} from "../linux/sockopt.ts";
export { socketDescriptors } from "../linux/descriptor.ts";
import {
  type KeepaliveTimers,
  setKeepaliveTimers,
  setListenerKeepalive,
  setListenerUnsentLimit,
} from "../linux/sockopt.ts";

/**
 * SO_KEEPALIVE on `conn`, with the kernel's probe timers set where the system allows it (Linux),
 * so that a peer that vanished without a word is found and the connection closed. Returns
 * whether the timers were set (false: keepalive is on with the system's default timers).
 */
export function enableKeepalive(conn: Deno.TcpConn, timers?: KeepaliveTimers): boolean {
  conn.setKeepAlive(true);
  return timers ? setKeepaliveTimers(conn, timers) : false;
}

/**
 * Keepalive for every connection `listener` accepts, with `timers` where the system allows it:
 * returns what to do with each accepted connection. On Linux the listening socket gets
 * SO_KEEPALIVE and the timers once and every accepted connection inherits them, so there is
 * nothing to do per connection; elsewhere each connection turns keepalive on itself (with the
 * system's default timers).
 */
export function keepaliveFor(
  listener: Deno.Listener,
  timers: KeepaliveTimers,
): (conn: Deno.Conn) => void {
  if (setListenerKeepalive(listener, timers)) return () => {};
  return (conn) => {
    if ("setKeepAlive" in conn) enableKeepalive(conn as Deno.TcpConn, timers);
  };
}

/** `--keepalive` when not given: probe after a minute of silence. */
export const DEFAULT_KEEPALIVE_SECONDS = 60;
/** The largest `--keepalive` (the kernel's TCP_KEEPIDLE limit is 32767 s). */
export const MAX_KEEPALIVE_SECONDS = 32767;
/** Unanswered probes after which the kernel gives the connection up. */
export const KEEPALIVE_PROBES = 5;

/**
 * The timers for `--keepalive SECONDS`: idle SECONDS, then a probe every SECONDS / 6 (at least
 * 1 s, at most 10 s), 5 probes — 60 s → idle 60 s, every 10 s, so a vanished peer is let go
 * within two minutes. 0 turns keepalive off (undefined).
 */
export function keepaliveTimers(seconds: number): KeepaliveTimers | undefined {
  if (seconds === 0) return undefined;
  const intervalSeconds = Math.min(10, Math.max(1, Math.ceil(seconds / 6)));
  return { idleSeconds: seconds, intervalSeconds, probes: KEEPALIVE_PROBES };
}

/**
 * Caps what every connection `listener` accepts keeps queued in the kernel but not yet sent
 * (Linux: TCP_NOTSENT_LOWAT on the listener, copied to each accepted socket). Without a cap Linux
 * grows a socket's send buffer up to `tcp_wmem`'s maximum (4 MiB by default) even for a client
 * that has stopped reading, so a few hundred such clients hold gigabytes of kernel memory and
 * push every socket of the machine into TCP memory pressure. With it, a write or sendfile takes
 * bytes only while fewer than `bytes` wait unsent, and the socket reports itself writable again
 * as soon as the queue falls below that — bytes in flight (the window) are not limited, so a
 * reading client is served as fast as before. Returns whether the cap is set (false elsewhere:
 * the system's buffers apply).
 */
export function limitUnsentBytes(listener: Deno.Listener, bytes: number): boolean {
  return setListenerUnsentLimit(listener, bytes);
}
