/**
 * Which of a zone's name servers to ask first, and how long to wait for it — what BIND and
 * unbound keep in their "infrastructure cache". Pure: the clock and the dice are injected.
 *
 * Theory of operation
 * - Every server address gets a smoothed round-trip time (SRTT) and its variation, TCP's
 *   estimator (RFC 6298): each reply moves the SRTT an eighth of the way towards the new
 *   measurement and the variation a quarter. The timeout for the next query is
 *   SRTT + 4 × variation, kept between `minTimeoutMs` and `maxTimeoutMs`.
 * - The servers of a zone are asked fastest first. An address never measured gets a small
 *   random SRTT, so each is tried in turn and measured; after that the fast one keeps winning.
 * - A timeout doubles the address's back-off (its SRTT and timeout count double, then
 *   quadruple…), so a dead server sinks below the live ones and the next resolution does not
 *   wait for it first. A reply resets the back-off.
 * - A server that answered badly for a zone (lame: REFUSED, SERVFAIL, a referral the wrong way)
 *   goes last for that zone.
 * - Everything is forgotten `memoryMs` after it was last updated (unbound: 15 minutes), so a
 *   server that was down is tried again one day; at most `maxEntries` addresses are remembered.
 */

/** Options for `ServerSelection`. */
export interface ServerSelectionOptions {
  /** The clock, in milliseconds. */
  now?: () => number;
  /** A random number in [0, 1). */
  random?: () => number;
  /** Timeout for an address never measured (default 1000 ms). */
  unknownTimeoutMs?: number;
  minTimeoutMs?: number;
  maxTimeoutMs?: number;
  /** How long an address's statistics and lameness are remembered (default 15 minutes). */
  memoryMs?: number;
  maxEntries?: number;
}

interface Stats {
  /** Smoothed RTT and its variation (ms); NaN until the first reply. */
  srtt: number;
  rttvar: number;
  /** 1, 2, 4, …: doubled by each timeout, reset by a reply. */
  backoff: number;
  /** A random SRTT used until the first measurement. */
  guess: number;
  updatedAt: number;
}

/** Default limits (ms) of the per-query timeout. */
export const MIN_TIMEOUT_MS = 300;
export const MAX_TIMEOUT_MS = 5000;
export const UNKNOWN_TIMEOUT_MS = 1000;

/** Smoothed-RTT server choice and adaptive timeouts (see the module comment). */
export class ServerSelection {
  readonly #stats = new Map<string, Stats>();
  readonly #lame = new Map<string, number>();
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #unknownTimeout: number;
  readonly #minTimeout: number;
  readonly #maxTimeout: number;
  readonly #memory: number;
  readonly #max: number;

  constructor(options: ServerSelectionOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#unknownTimeout = options.unknownTimeoutMs ?? UNKNOWN_TIMEOUT_MS;
    this.#minTimeout = options.minTimeoutMs ?? MIN_TIMEOUT_MS;
    this.#maxTimeout = options.maxTimeoutMs ?? MAX_TIMEOUT_MS;
    this.#memory = options.memoryMs ?? 15 * 60_000;
    this.#max = options.maxEntries ?? 10_000;
  }

  /** The servers in the order to ask them: not lame for `zone` first, then lowest SRTT first. */
  order<T extends { address: string }>(servers: readonly T[], zone: string): readonly T[] {
    if (servers.length < 2) return servers;
    const scored = servers.map((server) => ({
      server,
      score: this.#score(server.address) + (this.isLame(zone, server.address) ? 1e9 : 0),
    }));
    scored.sort((a, b) => a.score - b.score);
    return scored.map((s) => s.server);
  }

  /** The smoothed RTT of `address` in ms (undefined until it replied once). */
  srtt(address: string): number | undefined {
    const stats = this.#get(address);
    return stats && !Number.isNaN(stats.srtt) ? stats.srtt : undefined;
  }

  /** How long to wait for `address`'s reply. */
  timeoutMs(address: string): number {
    const stats = this.#get(address);
    const base = !stats || Number.isNaN(stats.srtt)
      ? this.#unknownTimeout
      : stats.srtt + 4 * stats.rttvar;
    const clamped = Math.min(this.#maxTimeout, Math.max(this.#minTimeout, base));
    return Math.min(this.#maxTimeout, clamped * (stats?.backoff ?? 1));
  }

  /** `address` replied after `rttMs`. */
  replied(address: string, rttMs: number): void {
    const stats = this.#touch(address);
    if (Number.isNaN(stats.srtt)) {
      stats.srtt = rttMs;
      stats.rttvar = rttMs / 2;
    } else {
      stats.rttvar = 0.75 * stats.rttvar + 0.25 * Math.abs(stats.srtt - rttMs);
      stats.srtt = 0.875 * stats.srtt + 0.125 * rttMs;
    }
    stats.backoff = 1;
  }

  /** `address` did not reply in time. */
  timedOut(address: string): void {
    const stats = this.#touch(address);
    stats.backoff = Math.min(stats.backoff * 2, 64);
  }

  /** `address` gave a lame reply for `zone`. */
  markLame(zone: string, address: string): void {
    const key = `${zone.toLowerCase()} ${address}`;
    this.#lame.delete(key);
    if (this.#lame.size >= this.#max) this.#lame.delete(this.#lame.keys().next().value!);
    this.#lame.set(key, this.#now() + this.#memory);
  }

  /** True when `address` was lame for `zone` recently. */
  isLame(zone: string, address: string): boolean {
    const key = `${zone.toLowerCase()} ${address}`;
    const until = this.#lame.get(key);
    if (until === undefined) return false;
    if (until > this.#now()) return true;
    this.#lame.delete(key);
    return false;
  }

  #score(address: string): number {
    const stats = this.#get(address);
    if (!stats) return this.#random() * 5;
    const rtt = Number.isNaN(stats.srtt) ? stats.guess : stats.srtt;
    return rtt * stats.backoff + (stats.backoff > 1 ? this.#unknownTimeout * stats.backoff : 0);
  }

  #get(address: string): Stats | undefined {
    const stats = this.#stats.get(address);
    if (stats && this.#now() - stats.updatedAt > this.#memory) {
      this.#stats.delete(address);
      return undefined;
    }
    return stats;
  }

  #touch(address: string): Stats {
    let stats = this.#get(address);
    if (!stats) {
      if (this.#stats.size >= this.#max) this.#stats.delete(this.#stats.keys().next().value!);
      stats = { srtt: NaN, rttvar: 0, backoff: 1, guess: this.#random() * 5, updatedAt: 0 };
      this.#stats.set(address, stats);
    }
    stats.updatedAt = this.#now();
    return stats;
  }
}
