/**
 * DNS is served on one port over both UDP and TCP: the sockets of both netlab DNS servers (the
 * authoritative `dns/server.ts` and the local DNS server `dns/resolver_server.ts`).
 */
import type { KeepaliveTimers } from "../../tcp/core/socket_options.ts";
import type { Reporter } from "../../tcp/kit/report.ts";

/** How a netlab DNS server listens and logs: the options both servers take. */
export interface DnsListenOptions {
  host?: string;
  port?: number;
  /** Close a TCP connection after this long without a complete query (default 10 s). */
  idleTimeoutMs?: number;
  /** Most TCP connections at once (default 256). */
  maxTcpConnections?: number;
  /** TCP keepalive timers for every accepted connection; omitted: no keepalive. */
  keepalive?: KeepaliveTimers;
  /** Move UDP datagrams in batches (recvmmsg/sendmmsg) where the system allows (default true). */
  batch?: boolean;
  reporter?: Reporter;
  /** No per-question log lines (no strings built). */
  quiet?: boolean;
  signal?: AbortSignal;
}

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
