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
  type SocketOptions,
} from "../linux/sockopt.ts";
export { socketDescriptors } from "../linux/descriptor.ts";
import {
  type KeepaliveTimers,
  setKeepaliveTimers,
  setListenerKeepalive,
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
