/**
 * Running something when a signal aborts — including a signal that aborted already.
 *
 * `signal.addEventListener("abort", …)` never fires for a signal that is already aborted: a
 * Ctrl-C that lands while a server is still starting would then leave it running forever,
 * deaf to the stop it was given. Every stop hook in netlab goes through `onAbort`, so a stop
 * that came early is honoured as soon as the hook is installed.
 */

/** Calls `stop` once when `signal` aborts, or right away if it already has; no signal: never. */
export function onAbort(signal: AbortSignal | undefined, stop: () => void): void {
  if (!signal) return;
  if (signal.aborted) stop();
  else signal.addEventListener("abort", stop, { once: true });
}
