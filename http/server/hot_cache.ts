/**
 * The one fast path: a repeat `GET` of a small public file is answered from the bytes of its
 * last whole answer, without building a request, routing it or rendering a response — the common
 * case under load (about 4 µs less per request at 1,000 connections, much of it garbage
 * collection). The connection loop asks `answer(head)` for every complete request without a
 * body; so does the epoll reactor's in-place path, through the same loop code (connection.ts).
 *
 * Two maps make a file hot. `remember(path, key)` is called by the static-file route when a raw
 * request path names a public file under the root (never /private/: this path skips the auth
 * check); `store(entry, rendered)` keeps the whole 200 answer of a cached file. Each hit costs a
 * map lookup and the file cache's validation (one `statSync` per revalidation period). When the
 * Date second has changed, the bytes are copied with the new date right here: sending every
 * connection that asked in that second down the general path at once made a latency spike each
 * second at 3,000 connections.
 */
import type { RequestHead } from "../core/events.ts";
import { httpDate, type Rendered } from "./response.ts";
import type { FileCache, FileEntry } from "./static_files.ts";

/** Most request paths remembered as naming a hot file. */
const MAX_HOT_PATHS = 10_000;

/** Request fields that make a GET more than "the whole file, please". */
const NOT_HOT = new Set([
  "if-none-match",
  "if-modified-since",
  "if-range",
  "range",
  "authorization",
]);

/** A cached file's whole answer on the wire. */
export interface HotAnswer {
  bytes: Uint8Array;
  /** The file's size (the access log's byte count). */
  size: number;
  date: string;
  dateAt: number;
}

/** Hot paths and the wire bytes of their answers (see the module comment). */
export class HotCache {
  readonly #paths = new Map<string, string>();
  readonly #wire = new WeakMap<FileEntry, HotAnswer>();

  /**
   * `enabled` is false when answers may not be shared: a request hook can answer any path, and
   * `--explain-header` / `--explain` describe each exchange.
   */
  constructor(readonly files: FileCache, readonly enabled: boolean) {}

  /** Notes that the raw request `path` names the public file cached under `key`. */
  remember(path: string, key: string): void {
    if (this.#paths.size < MAX_HOT_PATHS) this.#paths.set(path, key);
  }

  /** The cached file a hot `path` names (still current), or undefined. */
  entry(path: string, now = Date.now()): FileEntry | undefined {
    const key = this.#paths.get(path);
    if (key === undefined) return undefined;
    const entry = this.files.get(key, now);
    if (!entry) this.#paths.delete(path);
    return entry;
  }

  /**
   * The answer to `head` from cached wire bytes, or undefined to send it the general way:
   * anything but a plain HTTP/1.1 GET (conditional, ranged, authenticated), or a file not yet
   * answered whole.
   */
  answer(head: RequestHead, now: number): HotAnswer | undefined {
    if (!this.enabled || head.method !== "GET" || head.version !== "1.1") return undefined;
    for (const [name] of head.headers) if (NOT_HOT.has(name)) return undefined;
    const target = head.target;
    const q = target.indexOf("?");
    const key = this.#paths.get(q < 0 ? target : target.slice(0, q));
    const entry = key === undefined ? undefined : this.files.get(key, now);
    const cached = entry && this.#wire.get(entry);
    if (!cached) return undefined;
    const date = httpDate(now);
    if (cached.date === date) return cached;
    if (date.length !== cached.date.length) return undefined;
    // A copy: the old bytes may still be queued for a write.
    const bytes = cached.bytes.slice();
    for (let i = 0; i < date.length; i++) bytes[cached.dateAt + i] = date.charCodeAt(i);
    const fresh = { date, dateAt: cached.dateAt, bytes, size: cached.size };
    this.#wire.set(entry!, fresh);
    return fresh;
  }

  /**
   * The wire bytes for a whole 200 answer of the cached file `entry`: the ones kept from this
   * second, or `render()`'s, kept from now on.
   */
  store(entry: FileEntry, render: () => Rendered): Rendered {
    const date = httpDate();
    const wire = this.#wire.get(entry);
    if (wire && wire.date === date) {
      return { bytes: wire.bytes, bodyLength: entry.size, dateAt: wire.dateAt };
    }
    const rendered = render();
    this.#wire.set(entry, {
      date,
      dateAt: rendered.dateAt,
      bytes: rendered.bytes,
      size: entry.size,
    });
    return { bytes: rendered.bytes, bodyLength: entry.size, dateAt: rendered.dateAt };
  }
}
