/**
 * Every deadline of every connection, kept by one timer (a sweeper) instead of a timer per
 * read: cheaper, and it never waits on anyone — a connection stuck behind a client that does not
 * read costs the sweeper one comparison, like any other.
 *
 * Each connection keeps a few clocks (`Clocks`); the sweeper compares them with the limits:
 * - idle: a keep-alive connection with nothing to do for `idleTimeoutMs` is closed;
 * - header: a request head not complete `headerTimeoutMs` after its first byte (slowloris) → 408;
 * - body: a body must keep arriving (as nginx's `client_body_timeout`): no pause longer than
 *   `bodyTimeoutMs`, and after that grace period an average of at least `bodyMinRate` bytes/s
 *   (as Apache's `RequestReadTimeout body=…,MinRate=…`), so a client trickling a byte now and
 *   then cannot hold a connection — and with `maxConns` of them the whole server — for ever → 408;
 * - write: a write that has not moved for `idleTimeoutMs` (a client that stopped reading) is
 *   closed.
 */

/**
 * After the last answer on a connection we close (an error, `Connection: close`, a streamed
 * body): how long and how much we keep reading and dropping before closing, so that the client
 * reads our answer instead of a reset.
 */
export const LINGER_MS = 2000;
export const LINGER_BYTES = 1024 * 1024;
/**
 * Where lingering connections read what they drop: one buffer for all of them, since nobody looks
 * at its bytes (a buffer each made a wave of 1,000 departing clients cost 16 MB at once).
 */
export const DISCARDED = new Uint8Array(16 * 1024);

/** Why a connection's time ran out. */
export type Overdue = "idle" | "header" | "body" | "write";

/** A connection's clocks (milliseconds since the epoch; 0 means "not running"). */
export interface Clocks {
  /** When the connection last read or wrote something. */
  lastActive: number;
  /** When the first byte of a not-yet-complete request head arrived. */
  headStarted: number;
  /** When the current write started, or last moved. */
  writingSince: number;
  /** When the current request's body was first awaited. */
  bodyStarted: number;
  /** When the last body bytes arrived, and how many have arrived. */
  bodyLastAt: number;
  bodyBytes: number;
  /** A request is being handled (the connection is not idle). */
  busy: boolean;
}

/** A connection as the sweeper sees it. */
export interface Timed extends Clocks {
  /** Set once its time ran out (the sweeper then leaves it alone). */
  timedOut?: Overdue;
  /** Its time ran out: answer (408) or close, without waiting on the client. */
  timeOut(why: Overdue): void;
}

/** The limits, in milliseconds (and bytes per second for the body rate). */
export interface DeadlineLimits {
  idleTimeoutMs: number;
  headerTimeoutMs: number;
  bodyTimeoutMs: number;
  bodyMinRate: number;
}

/** Which deadline `clocks` missed at `now`, or undefined. */
export function overdue(
  clocks: Clocks,
  now: number,
  limits: DeadlineLimits,
): Overdue | undefined {
  if (clocks.writingSince && now - clocks.writingSince > limits.idleTimeoutMs) return "write";
  if (clocks.headStarted && now - clocks.headStarted > limits.headerTimeoutMs) return "header";
  if (clocks.bodyStarted && bodyTooSlow(clocks, now, limits)) return "body";
  if (!clocks.busy && !clocks.writingSince && now - clocks.lastActive > limits.idleTimeoutMs) {
    return "idle";
  }
  return undefined;
}

function bodyTooSlow(clocks: Clocks, now: number, limits: DeadlineLimits): boolean {
  if (now - clocks.bodyLastAt > limits.bodyTimeoutMs) return true;
  return limits.bodyMinRate > 0 &&
    now - clocks.bodyStarted >
      limits.bodyTimeoutMs + clocks.bodyBytes * 1000 / limits.bodyMinRate;
}

/** The sweeper: checks every connection in `live` a few times per shortest limit. */
export class Deadlines {
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(readonly live: Iterable<Timed>, readonly limits: DeadlineLimits) {
    const shortest = Math.min(limits.idleTimeoutMs, limits.headerTimeoutMs, limits.bodyTimeoutMs);
    const every = Math.max(50, Math.min(1000, Math.floor(shortest / 4)));
    this.#timer = setInterval(() => this.sweep(Date.now()), every);
  }

  /** Times out every connection that missed a deadline at `now`. */
  sweep(now: number): void {
    for (const conn of this.live) {
      if (conn.timedOut) continue;
      const why = overdue(conn, now, this.limits);
      if (why === undefined) continue;
      conn.timedOut = why;
      conn.timeOut(why);
    }
  }

  /** Stops the timer. */
  stop(): void {
    clearInterval(this.#timer);
  }
}
