/**
 * Read buffers shared by the connections of one server. A pending read pins its buffer, so a
 * connection holds one only while it reads: it takes one here for each read and gives it back
 * once its bytes are parsed. On the epoll backend a read asks for its buffer only when bytes are
 * there (`StreamConn.readLent`), so an idle connection holds none; Deno's ops pin one for the
 * whole wait, so there an idle connection waits on a small slot instead (a slice of a shared
 * slab, see `slabBytes`), and takes a real buffer for the reads after.
 *
 * Every pool is bounded: it keeps at most `keep` idle buffers for reuse (the rest are left to the
 * GC, so a wave of clients leaves nothing behind), and a pool with `most` lends no more than that
 * at once (`tryTake`; the caller reads into a smaller buffer instead), so a wave of large reads
 * cannot grow memory by a large buffer per client.
 */

/** How many idle buffers a pool keeps for reuse by default (more are left to the GC). */
export const POOL_KEEP = 16;

/** How a pool sizes and bounds itself. */
export interface PoolOptions {
  /** Idle buffers kept for reuse (default `POOL_KEEP`). */
  keep?: number;
  /** Most buffers lent at once through `tryTake` (default: no limit). */
  most?: number;
  /**
   * Carve buffers from shared blocks of this many bytes instead of giving each its own
   * allocation (0, the default: one allocation each). For small buffers held by many
   * connections at once: one view each, no allocation of its own.
   */
  slabBytes?: number;
}

/** Buffers of one size, reused instead of reallocated. */
export class ReadBufferPool {
  readonly keep: number;
  readonly most: number;
  readonly slabBytes: number;
  #free: Uint8Array<ArrayBuffer>[] = [];
  #lent = 0;
  /** The slab buffers are carved from now, and where its unused part starts. */
  #slab: ArrayBuffer | undefined;
  #slabAt = 0;

  constructor(readonly size: number, options: PoolOptions = {}) {
    this.keep = options.keep ?? POOL_KEEP;
    this.most = options.most ?? Infinity;
    this.slabBytes = Math.max(options.slabBytes ?? 0, 0);
  }

  /** A buffer of `size` bytes (reused when one is free). */
  take(): Uint8Array<ArrayBuffer> {
    this.#lent++;
    return this.#free.pop() ?? this.#allocate();
  }

  /** A buffer, or undefined when `most` are lent already. */
  tryTake(): Uint8Array<ArrayBuffer> | undefined {
    return this.#lent < this.most ? this.take() : undefined;
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

  #allocate(): Uint8Array<ArrayBuffer> {
    if (this.slabBytes < this.size) return new Uint8Array(this.size);
    // A slab stays alive while any view of it does; the pool keeps at most `keep` idle views.
    if (!this.#slab || this.#slabAt + this.size > this.#slab.byteLength) {
      this.#slab = new ArrayBuffer(this.slabBytes);
      this.#slabAt = 0;
    }
    const view = new Uint8Array(this.#slab, this.#slabAt, this.size);
    this.#slabAt += this.size;
    return view;
  }
}
