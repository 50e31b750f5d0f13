/**
 * DNS is served on one port over both UDP and TCP: the sockets of both netlab DNS servers (the
 * authoritative `dns/server.ts` and the local DNS server `dns/resolver_server.ts`).
 */

/**
 * Binds UDP and TCP on the same host and port. With port 0, UDP binds first and TCP takes the
 * port it got, trying another one if that port is taken for TCP.
 */
export function bindBoth(
  hostname: string,
  port: number,
): { udp: Deno.DatagramConn; tcp: Deno.TcpListener } {
  for (let attempt = 0;; attempt++) {
    const udp = Deno.listenDatagram({ transport: "udp", hostname, port });
    const got = (udp.addr as Deno.NetAddr).port;
    try {
      return { udp, tcp: Deno.listen({ transport: "tcp", hostname, port: got }) };
    } catch (error) {
      udp.close();
      // An ephemeral UDP port may already be taken for TCP: try another one.
      if (port !== 0 || !(error instanceof Deno.errors.AddrInUse) || attempt >= 20) throw error;
    }
  }
}
