/**
 * The arithmetic behind `tcp/client.ts --stats` and `udp/client.ts --stats`: a summary of round
 * trip times (count, min, median, p99, max) and, for numbered UDP probes, loss, duplicates and
 * reordering — what `ping` prints at the end, for any message a netlab client sends.
 *
 * Definitions (the tests pin them with vectors):
 * - median: the middle value of the sorted samples; for an even count, the mean of the two
 *   middle values (1, 2, 3, 4 → 2.5).
 * - percentile p (used for p99): the nearest-rank method — the smallest sample such that at
 *   least p % of the samples are less than or equal to it: the sample at rank ⌈p/100 · n⌉ of the
 *   sorted list (1-based). It is always one of the measured values, never interpolated; with
 *   fewer than 100 samples p99 is the maximum.
 * - loss: probes sent whose sequence number never came back, as a percentage of probes sent.
 * - duplicate: a reply for a sequence number that was already answered.
 * - reordered: a reply whose sequence number is lower than one already received (it was
 *   overtaken), counted once per late reply.
 *
 * Pure: no I/O.
 */

/** What `summarize` returns; all times in the unit of the samples (ms in netlab). */
export interface Summary {
  count: number;
  min: number;
  median: number;
  p99: number;
  max: number;
  mean: number;
}

/**
 * The nearest-rank percentile of `sorted` (ascending): the sample at rank ⌈p/100 · n⌉, with
 * rank at least 1. Throws on an empty list or p outside 0–100.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError("percentile of no samples");
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile ${p} is not within 0–100`);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

/** The middle of `sorted` (ascending); the mean of the two middle values for an even count. */
export function median(sorted: readonly number[]): number {
  if (sorted.length === 0) throw new RangeError("median of no samples");
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Count, min, median, p99, max and mean of `samples` (any order); null when there are none. */
export function summarize(samples: readonly number[]): Summary | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  let total = 0;
  for (const value of sorted) total += value;
  return {
    count: sorted.length,
    min: sorted[0],
    median: median(sorted),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1],
    mean: total / sorted.length,
  };
}

/** A time in milliseconds with three decimals (`0.153`), like ping. */
export function formatMs(ms: number): string {
  return ms.toFixed(3);
}

/** `rtt min/median/p99/max = 0.051/0.060/0.204/0.204 ms (5 samples)`, or a line saying none. */
export function formatSummary(summary: Summary | null): string {
  if (!summary) return "rtt: no samples";
  const { min, median, p99, max, count } = summary;
  return `rtt min/median/p99/max = ${[min, median, p99, max].map(formatMs).join("/")} ms ` +
    `(${count} ${count === 1 ? "sample" : "samples"})`;
}

/** How one reply was classified by `SequenceTracker.reply`. */
export type ReplyKind = "ok" | "reordered" | "duplicate" | "unknown";

/** Loss, duplicates and reordering of numbered probes, as ping reports them. */
export interface SequenceSummary {
  sent: number;
  /** Distinct probes answered. */
  received: number;
  lost: number;
  /** `lost / sent` in percent (0 when nothing was sent). */
  lossPercent: number;
  duplicates: number;
  reordered: number;
  /** Replies for sequence numbers never sent (or malformed), ignored. */
  unknown: number;
  /** Round trip times of the first reply to each probe, in ms. */
  rtt: Summary | null;
}

/**
 * Tracks numbered probes (sequence numbers are any integers, each sent once) and classifies the
 * replies. Pure: the caller passes the times.
 */
export class SequenceTracker {
  #sentAt = new Map<number, number>();
  #answered = new Set<number>();
  #rtts: number[] = [];
  #highest = -Infinity;
  #duplicates = 0;
  #reordered = 0;
  #unknown = 0;

  /** Records that probe `seq` left at time `at` (ms). */
  sent(seq: number, at: number): void {
    if (this.#sentAt.has(seq)) throw new RangeError(`sequence ${seq} was already sent`);
    this.#sentAt.set(seq, at);
  }

  /** Classifies a reply for `seq` that arrived at time `at`; returns its kind and its RTT. */
  reply(seq: number, at: number): { kind: ReplyKind; rttMs?: number } {
    const sentAt = this.#sentAt.get(seq);
    if (sentAt === undefined) {
      this.#unknown++;
      return { kind: "unknown" };
    }
    const rttMs = at - sentAt;
    if (this.#answered.has(seq)) {
      this.#duplicates++;
      return { kind: "duplicate", rttMs };
    }
    this.#answered.add(seq);
    this.#rtts.push(rttMs);
    if (seq < this.#highest) {
      this.#reordered++;
      return { kind: "reordered", rttMs };
    }
    this.#highest = seq;
    return { kind: "ok", rttMs };
  }

  /** True once every probe sent has been answered. */
  get complete(): boolean {
    return this.#answered.size === this.#sentAt.size;
  }

  summary(): SequenceSummary {
    const sent = this.#sentAt.size;
    const received = this.#answered.size;
    return {
      sent,
      received,
      lost: sent - received,
      lossPercent: sent ? ((sent - received) / sent) * 100 : 0,
      duplicates: this.#duplicates,
      reordered: this.#reordered,
      unknown: this.#unknown,
      rtt: summarize(this.#rtts),
    };
  }
}

/** `5 sent, 4 received, 20.0% loss, 1 duplicate, 1 reordered` — ping's summary line. */
export function formatSequenceSummary(s: SequenceSummary): string {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  return `${s.sent} sent, ${s.received} received, ${s.lossPercent.toFixed(1)}% loss, ` +
    `${plural(s.duplicates, "duplicate")}, ${s.reordered} reordered`;
}
