/**
 * Large read buffers shared by the connections of one server. A pending read pins its buffer, so
 * a server gives each connection a small buffer of its own and lends it a large one from here
 * only while its reads keep filling the small one (bulk traffic); the connection gives it back as
 * soon as a read is small again. Idle connections then cost their small buffer, not a large one.
 */

/** How many idle large buffers a pool keeps for reuse by default (more are left to the GC). */
export const POOL_KEEP = 16;

/** Buffers of one size, reused instead of reallocated. */
export class ReadBufferPool {
  #free: Uint8Array<ArrayBuffer>[] = [];
  constructor(readonly size: number, readonly keep = POOL_KEEP) {}
  /** A buffer of `size` bytes (reused when one is free). */
  take(): Uint8Array<ArrayBuffer> {
    return this.#free.pop() ?? new Uint8Array(this.size);
  }
  /** Returns a buffer taken earlier; kept for reuse up to `keep` buffers. */
  give(buffer: Uint8Array<ArrayBuffer>): void {
    if (this.#free.length < this.keep) this.#free.push(buffer);
  }
  /** How many buffers are waiting for reuse. */
  get idle(): number {
    return this.#free.length;
  }
}
