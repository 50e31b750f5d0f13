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
 * SO_KEEPALIVE with the given timers on every connection `listener` accepts from now on, set once
 * on the listening socket (Linux passes it on to each accepted one). Returns false where that is
 * unavailable: the caller then calls `enableKeepalive` per connection. A server with many short
 * connections prefers this: finding each connection's descriptor costs system calls per accept.
 */
export function enableListenerKeepalive(
  listener: Deno.Listener,
  timers: KeepaliveTimers,
): boolean {
  return setListenerKeepalive(listener, timers);
}
