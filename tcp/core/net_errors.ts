/**
 * The one answer to "did the peer go away, or is something broken?".
 *
 * A server meets the first kind all the time — a client resets, closes early, or its connection
 * is closed by our own shutdown under a pending read — and must log it at most as a line and go
 * on serving. Anything else is a bug or a local fault worth a warning. Every server, client and
 * fast path in netlab classifies errors here, so they all agree.
 */

/** How a connection ended without anything being broken. */
export type PeerGone =
  /** The peer reset the connection (RST), or the kernel aborted it. */
  | "reset"
  /** We wrote after the peer had closed (EPIPE), or the socket is no longer connected. */
  | "broken pipe"
  /** The stream ended in the middle of something (a short read where more was promised). */
  | "eof"
  /** The peer stopped answering: keepalive probes (or retransmissions) went unanswered. */
  | "timed out"
  /** We closed it ourselves (shutdown) while a read or write was pending. */
  | "closed";

/** Why the connection ended, when `error` means the peer went away or we closed it; else null. */
export function peerGoneReason(error: unknown): PeerGone | null {
  if (
    error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.ConnectionAborted
  ) return "reset";
  if (error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.NotConnected) {
    return "broken pipe";
  }
  if (error instanceof Deno.errors.UnexpectedEof) return "eof";
  if (error instanceof Deno.errors.TimedOut) return "timed out";
  if (error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted) {
    return "closed";
  }
  return null;
}

/** True when `error` only means that this one peer went away (or we closed its connection). */
export function isPeerGone(error: unknown): boolean {
  return peerGoneReason(error) !== null;
}

/** True when `error` is what a pending call raises because we closed its socket ourselves. */
export function isClosedLocally(error: unknown): boolean {
  return peerGoneReason(error) === "closed";
}

/** True when the process (or the system) is out of file descriptors: EMFILE or ENFILE. */
export function isOutOfDescriptors(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return code === "EMFILE" || code === "ENFILE";
}
