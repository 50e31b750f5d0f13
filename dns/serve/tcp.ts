/**
 * DNS over TCP for both of netlab's DNS servers (RFC 1035 §4.2.2, RFC 7766): accept a
 * connection, read queries each framed by a 2-byte length (`tcp/core/framing.ts`), write each
 * reply framed the same way, close the connection when it stays idle.
 *
 * - Connections come from the one accept loop (`tcp/core/accept.ts`): when the process runs out
 *   of file descriptors it backs off and says so once per episode (`tcp/kit/accept_report.ts`),
 *   instead of spinning. Beyond `maxConnections` a new connection is closed at once (the client
 *   may retry); TCP keepalive (`keepaliveFor`) lets the kernel find peers that vanished.
 * - A handler answers a query at once (the authoritative server, the local server's cache) or
 *   later (a resolution): at most `maxPipeline` answers are awaited per connection, and replies
 *   go out whole, one frame after another, in the order they are ready — RFC 7766 allows that.
 * - A connection with no complete query for `idleTimeoutMs` and nothing in flight is closed. A
 *   peer that goes away (`isPeerGone`) is no news; any other failure is one warning, and every
 *   other connection is served on.
 */
import { acceptLoop } from "../../tcp/core/accept.ts";
import { encodeLengthPrefixed, LengthPrefixDecoder } from "../../tcp/core/framing.ts";
import { closeQuietly, writeAll } from "../../tcp/core/io.ts";
import { isPeerGone } from "../../tcp/core/net_errors.ts";
import { keepaliveFor, type KeepaliveTimers } from "../../tcp/core/socket_options.ts";
import { acceptReports } from "../../tcp/kit/accept_report.ts";
import { formatAddr } from "../../tcp/kit/cli.ts";
import type { Reporter } from "../../tcp/kit/report.ts";
import { MAX_MESSAGE_SIZE } from "../wire/constants.ts";

/** What a DNS server does with each query that arrives over TCP. */
export type TcpAnswer = (
  query: Uint8Array,
  client: Deno.NetAddr,
) => Uint8Array | null | Promise<Uint8Array | null>;

/** Options for `serveDnsTcp`. */
export interface DnsTcpOptions {
  /** Close a connection after this long without a complete query (and nothing in flight). */
  idleTimeoutMs: number;
  /** Most connections served at once. */
  maxConnections: number;
  /** Answers awaited at once per connection (default 1: one query at a time). */
  maxPipeline?: number;
  /** TCP keepalive timers for every accepted connection; omitted: no keepalive. */
  keepalive?: KeepaliveTimers;
  /** Where accept trouble and per-connection failures are reported. */
  reporter: Reporter;
}

/** A running TCP side: `close()` stops accepting and closes every connection. */
export interface DnsTcpServer {
  /** Resolves when the listener is closed and every connection has ended. */
  finished: Promise<void>;
  close(): void;
}

/** Serves DNS over TCP on `listener` with `answer` until `close()`. */
export function serveDnsTcp(
  listener: Deno.Listener,
  answer: TcpAnswer,
  options: DnsTcpOptions,
): DnsTcpServer {
  const open = new Set<Deno.Conn>();
  const sessions = new Set<Promise<void>>();
  const keepAlive = options.keepalive ? keepaliveFor(listener, options.keepalive) : undefined;
  const accepted = (conn: Deno.Conn) => {
    if (open.size >= options.maxConnections) {
      closeQuietly(conn); // over the limit: the client may retry later
      return;
    }
    open.add(conn);
    keepAlive?.(conn);
    const session = serveConnection(conn, answer, options).finally(() => {
      open.delete(conn);
      sessions.delete(session);
    });
    sessions.add(session);
  };
  const finished = acceptLoop(listener, accepted, acceptReports(options.reporter))
    .then(async () => {
      while (sessions.size > 0) await Promise.all(sessions);
    });
  return {
    finished,
    close() {
      closeQuietly(listener);
      for (const conn of open) closeQuietly(conn);
    },
  };
}

/** One connection: read frames, answer each, write the replies, until EOF or idle. */
async function serveConnection(
  conn: Deno.Conn,
  answer: TcpAnswer,
  options: DnsTcpOptions,
): Promise<void> {
  const client = conn.remoteAddr as Deno.NetAddr;
  const decoder = new LengthPrefixDecoder({ prefixBytes: 2, maxFrameSize: MAX_MESSAGE_SIZE });
  const buffer = new Uint8Array(16 * 1024);
  const maxPipeline = options.maxPipeline ?? 1;
  const inFlight = new Set<Promise<void>>();
  // Replies may be ready in any order; each is written whole before the next.
  let writing = Promise.resolve();
  const send = (reply: Uint8Array) => {
    const framed = encodeLengthPrefixed(reply, { prefixBytes: 2 });
    writing = writing.then(() => writeAll(conn, framed));
    return writing;
  };
  const idle = () => {
    if (inFlight.size === 0) closeQuietly(conn);
    else timer = setTimeout(idle, options.idleTimeoutMs);
  };
  const failed = (error: unknown) => {
    if (!isPeerGone(error)) {
      options.reporter.warn(`TCP ${formatAddr(client)}: ${(error as Error).message}`);
    }
    closeQuietly(conn);
  };
  let timer = setTimeout(idle, options.idleTimeoutMs);
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      for (const query of decoder.push(buffer.subarray(0, n))) {
        clearTimeout(timer);
        timer = setTimeout(idle, options.idleTimeoutMs);
        const reply = answer(query, client);
        if (reply === null) continue;
        if (reply instanceof Uint8Array) {
          await send(reply);
          continue;
        }
        while (inFlight.size >= maxPipeline) await Promise.race(inFlight);
        // A reply that cannot be written ends the connection; the loop notices on its next read.
        const tracked: Promise<void> = reply
          .then((bytes) => bytes ? send(bytes) : undefined)
          .catch((error) => failed(error))
          .finally(() => inFlight.delete(tracked));
        inFlight.add(tracked);
      }
    }
    await Promise.all(inFlight);
    await writing;
  } catch (error) {
    failed(error);
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
}
