/**
 * A bounded log of variable-length byte records with a hash index — the storage under both of
 * the resolver's caches (dns/resolver/cache.ts). Why not JavaScript objects: a cache of 100,000 names
 * must fit in tens of megabytes, and as objects and strings every entry costs ten times its
 * bytes, all of it kept alive for the garbage collector to walk again and again. Here an entry
 * is its bytes in one buffer, and the index is a typed array: nothing for the collector at all.
 *
 * The buffer is `maxBytes` from the start: the kernel hands out zeroed pages as they are first
 * written, so an empty cache costs address space, not memory, and no growing copy ever holds
 * two buffers at once. Records are appended at the head; when the buffer or the number of
 * records (`maxRecords`) is full, the oldest fall off the tail: first in, first out.
 * Each record starts with its total length (the high bit marks it dead: replaced or removed)
 * and its hash; the owner writes the rest. The index is open addressing with linear probing over
 * record offsets (+1, so 0 is empty), at most half full; removal shifts later entries back, so
 * probing never needs tombstones.
 */

/** Bytes every record starts with: total length (4) and hash (4). */
export const RECORD_HEADER = 8;
const DEAD = 0x80000000;

/** See the module comment. */
export class RingStore {
  /** The buffer, `maxBytes` long. */
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** The index: record offset + 1 by hash, linear probing; read it through `mask`. */
  readonly table: Int32Array;
  readonly mask: number;
  readonly #maxBytes: number;
  readonly #maxRecords: number;
  /** The records fill [tail, head) — or, once wrapped, [tail, wrapAt) and then [0, head). */
  #head = 0;
  #tail = 0;
  #wrapped = false;
  #wrapAt = 0;
  #size = 0;
  #liveBytes = 0;

  constructor(maxRecords: number, maxBytes: number) {
    this.#maxRecords = Math.max(1, maxRecords);
    this.#maxBytes = maxBytes;
    this.bytes = new Uint8Array(maxBytes);
    this.view = new DataView(this.bytes.buffer);
    let slots = 16;
    while (slots < this.#maxRecords * 2) slots *= 2;
    this.table = new Int32Array(slots);
    this.mask = slots - 1;
  }

  /** How many live (indexed) records there are. */
  get size(): number {
    return this.#size;
  }

  /** The bytes the live records take, headers included (what the cache holds). */
  get liveBytes(): number {
    return this.#liveBytes;
  }

  /** Forgets every record. */
  clear(): void {
    this.table.fill(0);
    this.#head =
      this.#tail =
      this.#size =
      this.#liveBytes =
        0;
    this.#wrapped = false;
  }

  /** The hash stored in the record at `at`. */
  hashAt(at: number): number {
    return this.view.getInt32(at + 4);
  }

  /** The total length of the record at `at`. */
  lengthAt(at: number): number {
    return this.view.getUint32(at) & ~DEAD;
  }

  /**
   * Room for a record of `total` bytes (header included) with `hash`, evicting the oldest
   * records as needed; returns its offset. The caller writes the body and then calls `index`.
   * Throws RangeError for a record that could never fit.
   */
  allocate(total: number, hash: number): number {
    if (total > this.#maxBytes / 2) throw new RangeError(`Record of ${total} bytes too large`);
    while (this.#size >= this.#maxRecords) this.#evictOldest();
    while (true) {
      if (!this.#wrapped) {
        if (this.#head === this.#tail) this.#head = this.#tail = 0; // empty: start over
        if (this.#head + total <= this.bytes.length) break;
        this.#wrapAt = this.#head;
        this.#head = 0;
        this.#wrapped = true;
      } else {
        if (this.#head + total <= this.#tail) break;
        this.#evictOldest();
      }
    }
    const at = this.#head;
    this.#head += total;
    this.view.setUint32(at, total | DEAD); // dead until indexed
    this.view.setInt32(at + 4, hash);
    return at;
  }

  /** Makes the record at `at` findable. */
  index(at: number): void {
    let i = this.hashAt(at) & this.mask;
    while (this.table[i] !== 0) i = (i + 1) & this.mask;
    this.table[i] = at + 1;
    this.view.setUint32(at, this.lengthAt(at));
    this.#size++;
    this.#liveBytes += this.lengthAt(at);
  }

  /** Removes the record at `at` from the index (its bytes stay until the tail passes them). */
  remove(at: number): void {
    const table = this.table;
    const mask = this.mask;
    let i = this.hashAt(at) & mask;
    while (table[i] !== at + 1) {
      if (table[i] === 0) return;
      i = (i + 1) & mask;
    }
    this.view.setUint32(at, this.lengthAt(at) | DEAD);
    this.#size--;
    this.#liveBytes -= this.lengthAt(at);
    // Backward-shift deletion: move later entries of the cluster into the hole when their home
    // slot does not lie cyclically after it.
    for (let j = (i + 1) & mask; table[j] !== 0; j = (j + 1) & mask) {
      const home = this.hashAt(table[j] - 1) & mask;
      const between = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!between) {
        table[i] = table[j];
        i = j;
      }
    }
    table[i] = 0;
  }

  #evictOldest(): void {
    const word = this.view.getUint32(this.#tail);
    if (!(word & DEAD)) this.remove(this.#tail);
    this.#tail += word & ~DEAD;
    if (this.#wrapped && this.#tail >= this.#wrapAt) {
      this.#tail = 0;
      this.#wrapped = false;
    }
  }
}
