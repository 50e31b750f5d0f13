/**
 * The one accept loop every netlab server uses: accept → hand the connection over → accept again,
 * until the listener is closed.
 *
 * What it adds to `for await (const conn of listener)` is what a server needs when things go
 * wrong. When the process runs out of file descriptors (EMFILE, or ENFILE system-wide) accept
 * fails at once, every time, for as long as the pending connection waits in the kernel's queue;
 * retrying straight away burns a core and writes a log line per try. So the loop pauses — 5 ms,
 * doubling up to 50 ms, which keeps a wait after a descriptor frees well under 100 ms — and
 * reports the episode twice: once when it starts, once when accepting works again (with the count
 * of failed tries). Any other accept failure is reported and retried after a pause, too.
 */
import { isClosedLocally, isOutOfDescriptors } from "./net_errors.ts";
import { pause } from "./io.ts";

/** First pause after a failed accept, and the longest one (the back-off doubles in between). */
export const ACCEPT_PAUSE_MIN_MS = 5;
export const ACCEPT_PAUSE_MAX_MS = 50;

/** What `acceptLoop` tells its caller (all optional). */
export interface AcceptOptions {
  /** One connection at a time: the next accept waits until the handler is done. */
  sequential?: boolean;
  /** Stop after the first connection (and its handler, which is awaited). */
  once?: boolean;
  /** An episode of descriptor exhaustion started (`error` is the first failure). */
  onExhausted?(error: Error): void;
  /**
   * Every failed try of an episode, before its pause: a chance to free descriptors (as nginx
   * closes idle keep-alive connections when it runs out).
   */
  onPause?(error: Error): void;
  /** Accepting works again after `failures` failed tries over `pausedMs`. */
  onRecovered?(failures: number, pausedMs: number): void;
  /** Any other accept failure, or a handler that threw (the loop goes on). */
  onError?(error: Error): void;
}

/**
 * Accepts connections on `listener` and calls `handle` with each (concurrently, unless
 * `sequential` or `once`), until the listener is closed. Resolves when it is; connections still
 * being handled are the caller's to track and close.
 */
export async function acceptLoop<C extends Deno.Conn>(
  listener: Deno.Listener<C>,
  handle: (conn: C) => Promise<void> | void,
  options: AcceptOptions = {},
): Promise<void> {
  const failed = (error: unknown) =>
    options.onError?.(error instanceof Error ? error : new Error(String(error)));
  let failures = 0;
  let exhaustedSince = 0;
  let wait = ACCEPT_PAUSE_MIN_MS;
  while (true) {
    let conn: C;
    try {
      conn = await listener.accept();
    } catch (error) {
      if (isClosedLocally(error)) return;
      failures++;
      if (isOutOfDescriptors(error)) {
        if (!exhaustedSince) {
          exhaustedSince = performance.now();
          options.onExhausted?.(error as Error);
        }
        options.onPause?.(error as Error);
      } else {
        failed(error);
      }
      await pause(wait);
      wait = Math.min(wait * 2, ACCEPT_PAUSE_MAX_MS);
      continue;
    }
    if (exhaustedSince) {
      options.onRecovered?.(failures, Math.round(performance.now() - exhaustedSince));
      exhaustedSince = 0;
    }
    failures = 0;
    wait = ACCEPT_PAUSE_MIN_MS;
    try {
      const handled = handle(conn);
      if (options.sequential || options.once) await handled;
      else handled?.catch(failed);
    } catch (error) {
      failed(error);
    }
    if (options.once) return;
  }
}
