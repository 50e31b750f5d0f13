/**
 * Read buffers shared by the connections of one server. A pending read pins its buffer, so a
 * connection holds one only while it reads: it takes one here for each read and gives it back
 * once its bytes are parsed. On the epoll backend a read asks for its buffer only when bytes are
 * there (`StreamConn.readLent`), so an idle connection holds none; Deno's ops pin one for the
 * whole wait. Servers keep two pools: small buffers for ordinary requests, large ones lent only
 * while reads keep filling the small ones (bulk traffic).
 */

/** How many idle buffers a pool keeps for reuse by default (more are left to the GC). */
export const POOL_KEEP = 16;

/** Buffers of one size, reused instead of reallocated. */
export class ReadBufferPool {
  #free: Uint8Array<ArrayBuffer>[] = [];
  #lent = 0;
  constructor(readonly size: number, readonly keep = POOL_KEEP) {}
  /** A buffer of `size` bytes (reused when one is free). */
  take(): Uint8Array<ArrayBuffer> {
    this.#lent++;
    return this.#free.pop() ?? new Uint8Array(this.size);
  }
  /** Returns a buffer taken earlier; kept for reuse up to `keep` buffers. */
  give(buffer: Uint8Array<ArrayBuffer>): void {
    this.#lent--;
    if (this.#free.length < this.keep) this.#free.push(buffer);
  }
  /** How many buffers are waiting for reuse. */
  get idle(): number {
    return this.#free.length;
  }
  /** How many buffers are taken and not given back: held by connections now. */
  get lent(): number {
    return this.#lent;
  }
}
