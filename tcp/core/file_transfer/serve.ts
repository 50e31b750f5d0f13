/**
 * The two ways a file-transfer session starts, shared by tcp/file_send.ts and tcp/file_recv.ts:
 * listening (every client that connects gets a session of its own, through the one accept loop,
 * tcp/core/accept.ts) or connecting to the other side within a deadline.
 */
import { formatHostPort } from "../ip_address.ts";
import { acceptLoop, type AcceptOptions } from "../accept.ts";
import { closeQuietly } from "../io.ts";
import { describeError } from "./wire.ts";

/** Options for `serveConnections`. */
export interface ServeConnectionsOptions
  extends Pick<AcceptOptions, "onError" | "onExhausted" | "onRecovered"> {
  /** Stops accepting; running sessions end through their own guards (same signal). */
  signal?: AbortSignal;
  /** Serve one client, then stop. */
  once?: boolean;
}

/**
 * Accepts clients until `signal` fires (or after one with `once`) and runs `handle` for each,
 * concurrently. Resolves when every session has ended; closes the listener. The result: whether
 * every session succeeded (with `once`, that one session's result).
 */
export async function serveConnections(
  listener: Deno.Listener,
  handle: (conn: Deno.Conn) => Promise<boolean>,
  options: ServeConnectionsOptions = {},
): Promise<boolean> {
  const { signal, once, ...reports } = options;
  const sessions = new Set<Promise<boolean>>();
  let allOk = true;
  const stop = () => closeQuietly(listener);
  signal?.addEventListener("abort", stop, { once: true });
  if (signal?.aborted) stop();
  try {
    await acceptLoop(listener, (conn) => {
      const session = handle(conn).then((ok) => {
        allOk &&= ok;
        return ok;
      });
      sessions.add(session);
      session.finally(() => sessions.delete(session));
      return session.then(() => {});
    }, { ...reports, once });
  } finally {
    signal?.removeEventListener("abort", stop);
    stop();
    await Promise.all(sessions);
  }
  return allOk;
}

/** Connecting failed (refused, timed out, unreachable); the message is one line. */
export class ConnectError extends Error {
  override name = "ConnectError";
}

/** Connects within `timeoutMs`; refusals and timeouts become one clear `ConnectError`. */
export async function connectWithin(
  hostname: string,
  port: number,
  timeoutMs = 10_000,
): Promise<Deno.TcpConn> {
  const where = formatHostPort(hostname, port);
  // A private controller: Deno closes the connection if this signal ever fires, so it is only
  // armed while connecting.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    return await Deno.connect({ hostname, port, signal: controller.signal });
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionRefused) {
      throw new ConnectError(
        `Cannot connect to ${where}: connection refused (is the other side running?)`,
      );
    }
    if (controller.signal.aborted) {
      throw new ConnectError(`Cannot connect to ${where}: timed out after ${timeoutMs / 1000} s`);
    }
    throw new ConnectError(`Cannot connect to ${where}: ${describeError(error)}`);
  } finally {
    clearTimeout(timer);
  }
}
