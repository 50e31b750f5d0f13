/**
 * Byte-stream primitives that honour counts and EOF (Beej: a stream has no message boundaries;
 * loop until every byte is written or read). Everything netlab does on raw `read`/`write` goes
 * through these instead of assuming one call moves one message. Plus the two small things every
 * owner of a connection needs: closing it when it may already be closed, and pausing without a
 * timer that outlives the caller's signal.
 */

/** Anything with a raw `read` (a `Deno.Conn`, a `Deno.FsFile`, `Deno.stdin`). */
export interface ByteReader {
  read(p: Uint8Array): Promise<number | null>;
}

/** Anything with a raw `write` that may write fewer bytes than asked. */
export interface ByteWriter {
  write(p: Uint8Array): Promise<number>;
}

/** Writes every byte of `bytes` to `w`, looping over short writes. */
export async function writeAll(w: ByteWriter, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await w.write(bytes.subarray(at));
}

/**
 * Reads until exactly `n` bytes have arrived. Returns fewer only when the peer closed first
 * (the caller decides whether a short read is an error).
 */
export async function readExactly(r: ByteReader, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let filled = 0;
  while (filled < n) {
    const got = await r.read(out.subarray(filled));
    if (got === null) return out.subarray(0, filled);
    filled += got;
  }
  return out;
}

/** Reads until EOF, refusing to hold more than `maxBytes` (default 64 MiB). */
export async function readAll(
  r: ByteReader,
  { maxBytes = 64 * 1024 * 1024 }: { maxBytes?: number } = {},
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(64 * 1024);
  while (true) {
    const got = await r.read(buf);
    if (got === null) break;
    total += got;
    if (total > maxBytes) throw new RangeError(`Refusing to buffer more than ${maxBytes} bytes`);
    parts.push(buf.slice(0, got));
  }
  return concatBytes(parts, total);
}

/** Joins byte arrays into one. */
export function concatBytes(parts: Uint8Array[], total?: number): Uint8Array {
  const out = new Uint8Array(total ?? parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Closes a connection, listener or file that may already be closed (by a shutdown, a deadline,
 * or a finished `readable`); any other failure is thrown.
 */
export function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch (error) {
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  }
}

/**
 * How long a program may wait without a word: a connect, a reply or a peer that is still silent
 * after this long is reported (one line saying what it waits for).
 */
export const SLOW_WAIT_MS = 2000;

/** Awaits `work`; calls `onSlow` once if it is still pending after `afterMs` (default 2 s). */
export async function noticeIfSlow<T>(
  work: Promise<T>,
  onSlow: () => void,
  afterMs = SLOW_WAIT_MS,
): Promise<T> {
  const timer = setTimeout(onSlow, afterMs);
  try {
    return await work;
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (no timer outlives it). */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}
