/**
 * Connecting to a server, with one wording for every way it can fail — the same line from
 * tcp/client.ts, tcp/file_recv.ts and tcp/file_send.ts --to:
 *
 *     Cannot connect to 127.0.0.1:8080: connection refused (is the other side running?)
 *
 * A connect that has not finished after `SLOW_WAIT_MS` (the peer's SYN-ACK is not coming: a
 * firewall that drops, a machine that is off) is reported once through `onSlow`, so the program
 * never waits without a word; `timeoutMs` gives up.
 */
import { formatHostPort } from "./ip_address.ts";
import { SLOW_WAIT_MS } from "./io.ts";

/** Where to connect: TCP host and port, or a Unix socket path. */
export type ConnectTarget = { hostname: string; port: number } | { path: string };

/** Connecting failed (refused, timed out, unreachable); the message is one line. */
export class ConnectError extends Error {
  override name = "ConnectError";
}

/** `127.0.0.1:8080`, `[::1]:8080` or `unix:/path` — how messages name the server. */
export function describeTarget(target: ConnectTarget): string {
  return "path" in target ? `unix:${target.path}` : formatHostPort(target.hostname, target.port);
}

/** Why a connect failed, in the one wording (`connection refused (is the other side running?)`). */
function connectFailure(where: string, error: unknown): ConnectError {
  const hint = "(is the other side running?)";
  if (error instanceof Deno.errors.ConnectionRefused) {
    return new ConnectError(`Cannot connect to ${where}: connection refused ${hint}`);
  }
  if (error instanceof Deno.errors.NotFound) {
    return new ConnectError(`Cannot connect to ${where}: no such socket ${hint}`);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ConnectError(`Cannot connect to ${where}: ${message.split("\n")[0]}`);
}

/** Options for `connectWithin`. */
export interface ConnectOptions {
  /** Give up after this long (ms); omitted: wait as long as the kernel does. */
  timeoutMs?: number;
  /** Called once when the connect is still pending after `SLOW_WAIT_MS`. */
  onSlow?: (text: string) => void;
}

/**
 * Connects to `target`; every failure becomes one `ConnectError` in the wording above.
 */
export async function connectWithin(
  target: ConnectTarget,
  { timeoutMs, onSlow }: ConnectOptions = {},
): Promise<Deno.Conn> {
  const where = describeTarget(target);
  // A private controller: Deno closes the connection if this signal ever fires, so it is only
  // armed while connecting.
  const controller = new AbortController();
  const timer = timeoutMs === undefined
    ? undefined
    : setTimeout(() => controller.abort(), timeoutMs);
  const slow = onSlow &&
    setTimeout(() => {
      const limit = timeoutMs === undefined ? "" : ` (giving up after ${timeoutMs / 1000} s)`;
      onSlow(`connecting to ${where}: no answer yet after ${SLOW_WAIT_MS / 1000} s${limit}`);
    }, SLOW_WAIT_MS);
  try {
    return "path" in target
      ? await Deno.connect({ transport: "unix", path: target.path })
      : await Deno.connect({ ...target, signal: controller.signal });
  } catch (error) {
    if (controller.signal.aborted) {
      throw new ConnectError(`Cannot connect to ${where}: timed out after ${timeoutMs! / 1000} s`);
    }
    throw connectFailure(where, error);
  } finally {
    clearTimeout(timer);
    clearTimeout(slow);
  }
}
