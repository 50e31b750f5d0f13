/**
 * A fresh UDP socket per question — the socket-per-query pattern of DNS resolvers, so that each
 * upstream query leaves from its own random source port (RFC 5452) — chosen once: one epoll set
 * and plain system calls on Linux (tcp/linux/fresh_sockets.ts), or null, and the caller uses
 * `Deno.listenDatagram` per query (dns/resolver/transport.ts).
 */
import { type Arrival, type FreshSocket, FreshSockets } from "../../tcp/linux/fresh_sockets.ts";
import { datagramDescriptor } from "../../tcp/linux/descriptor.ts";

export type { Arrival, FreshSocket, FreshSockets };

/**
 * The fast source of fresh sockets where the system offers one, else null. `connected` (for
 * clients asking one server): a closed port is refused at once instead of timing out, at a few
 * µs of CPU per query (tcp/linux/fresh_sockets.ts).
 */
export function openFreshSockets(options: { connected?: boolean } = {}): FreshSockets | null {
  return FreshSockets.open(options);
}

/**
 * How a server sends a late answer (one resolved aside) from its socket `conn`: straight out with
 * one sendto where `sockets` is the fast path, else (and whenever that would block) Deno's send,
 * which waits for room.
 */
export function lateSender(
  conn: Deno.DatagramConn,
  sockets: FreshSockets | null,
): (bytes: Uint8Array, to: Deno.NetAddr) => Promise<void> {
  const fd = sockets ? datagramDescriptor(conn) : null;
  return async (bytes, to) => {
    if (fd !== null && sockets!.sendNow(fd, bytes, to)) return;
    await conn.send(bytes, to);
  };
}
