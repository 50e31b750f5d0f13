/**
 * Memory after a wave of connections. When many clients leave at once (a load test ends, 1,000
 * clients are killed mid-request), what they held is garbage: V8 collects it once the process
 * goes quiet, and the allocator keeps the freed pages resident until they are handed back. A
 * server calls `tick()` about once a second with its connection count; after a wave — the count
 * fell to a quarter of a peak of at least `minPeak` — it releases freed memory
 * (tcp/linux/release_memory.ts) at each of the next `ticks` ticks, so the pages go back whenever
 * the collection happens within that time. Idle or steady servers never call it.
 */
import { releaseFreedMemory } from "../linux/release_memory.ts";

/** Connections a peak must reach before its end counts as a wave. */
export const WAVE_MIN_PEAK = 256;
/** Ticks (seconds) after a wave during which freed memory is released. */
export const RELEASE_TICKS = 30;

/** Watches a server's connection count and releases freed memory after waves. */
export class AfterWave {
  #peak = 0;
  #ticksLeft = 0;
  /** How many times memory was released (for tests and reports). */
  released = 0;

  readonly release: () => void;
  readonly minPeak: number;
  readonly ticks: number;

  constructor(
    options: { release?: () => void; minPeak?: number; ticks?: number } = {},
  ) {
    this.release = options.release ?? releaseFreedMemory;
    this.minPeak = options.minPeak ?? WAVE_MIN_PEAK;
    this.ticks = options.ticks ?? RELEASE_TICKS;
  }

  /** Called about once a second with the connections served now. */
  tick(connections: number): void {
    if (connections > this.#peak) this.#peak = connections;
    if (this.#peak >= this.minPeak && connections * 4 <= this.#peak) {
      this.#peak = connections;
      this.#ticksLeft = this.ticks;
    }
    if (this.#ticksLeft === 0) return;
    this.#ticksLeft--;
    this.release();
    this.released++;
  }
}
