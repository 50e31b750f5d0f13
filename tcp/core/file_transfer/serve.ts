/**
 * The listening side of a file transfer, shared by tcp/file_send.ts and tcp/file_recv.ts
 * --listen: every client that connects gets a session of its own, through the one accept loop
 * (tcp/core/accept.ts). The connecting side is `connectWithin` (tcp/core/connect.ts).
 */
import { acceptLoop, type AcceptOptions } from "../accept.ts";
import { closeQuietly } from "../io.ts";
import { onAbort } from "../abort.ts";

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
  onAbort(signal, stop);
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
