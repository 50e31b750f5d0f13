/**
 * Helpers shared by the UDP tests: a loopback socket that `using` closes, its port, and a port
 * nobody listens on.
 */

/** A UDP socket that `using` closes (DatagramConn has no `Symbol.dispose` of its own). */
export function bind(
  hostname = "127.0.0.1",
  port = 0,
  reuseAddress = false,
): Deno.DatagramConn & Disposable {
  const conn = Deno.listenDatagram({ transport: "udp", hostname, port, reuseAddress });
  return Object.assign(conn, {
    [Symbol.dispose]() {
      try {
        conn.close();
      } catch (error) {
        if (!(error instanceof Deno.errors.BadResource)) throw error;
      }
    },
  });
}

/** The port `conn` is bound to. */
export function portOf(conn: Deno.DatagramConn): number {
  return (conn.addr as Deno.NetAddr).port;
}

/** A port nobody listens on right now (bound, read, closed). */
export function closedPort(): number {
  const conn = bind();
  const port = portOf(conn);
  conn.close();
  return port;
}
