/**
 * Static files for http/server.ts: request paths to confined file-system paths, Content-Type by
 * extension, validators (Last-Modified, ETag) and the conditional / range decisions, and a small
 * cache of hot files.
 *
 * Confinement: a path is percent-decoded once, then refused (400) if it contains an encoded `/`
 * or `\`, a NUL, a backslash or a `..` segment; `.` and empty segments are dropped. What remains
 * is joined under the root and resolved with `realPath`; a result outside the real root (a
 * symlink leading out) is reported as not found, so nothing outside is ever served or revealed.
 *
 * The cache keeps files up to 1 MiB in memory (64 MiB in all, oldest out first). A hit is
 * revalidated with `statSync` (size, mtime and inode must match) at most once per
 * `revalidateMs` (default 1 s, like nginx's `open_file_cache_valid`): a stat per request cost
 * ~30% of the small-file throughput. So an edited or replaced file — or a symlink pointed
 * elsewhere — is served stale for at most that long, and never from outside the root (the cached
 * bytes were read from inside it). Larger files are streamed.
 */

/** Default time a cached file is trusted before it is stat'ed again. */
export const CACHE_REVALIDATE_MS = 1000;

/** Files up to this size are kept in memory once read. */
export const CACHE_FILE_MAX_BYTES = 1024 * 1024;
/** All cached file bodies together stay under this. */
export const CACHE_TOTAL_MAX_BYTES = 64 * 1024 * 1024;

/** Content-Type by file extension (UTF-8 for text). */
export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  html: "text/html; charset=utf-8",
  htm: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  json: "application/json",
  txt: "text/plain; charset=utf-8",
  md: "text/markdown; charset=utf-8",
  xml: "application/xml",
  svg: "image/svg+xml",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  ico: "image/x-icon",
  wasm: "application/wasm",
  pdf: "application/pdf",
  zip: "application/zip",
  gz: "application/gzip",
  mp4: "video/mp4",
  woff2: "font/woff2",
};

/** The Content-Type for a file name; unknown extensions are `application/octet-stream`. */
export function contentTypeFor(name: string): string {
  const dot = name.lastIndexOf(".");
  const ext = dot < 0 ? "" : name.slice(dot + 1).toLowerCase();
  return CONTENT_TYPES[ext] ?? "application/octet-stream";
}

/** A request path the server refuses to map to a file (→ 400). */
export class BadPathError extends Error {
  override name = "BadPathError";
}

/** The decoded segments of a request path, and whether it ended with `/`. */
export interface DecodedPath {
  segments: string[];
  trailingSlash: boolean;
}

/**
 * Decodes and normalises a request path (`/a/b%20c/`): refuses encoded `/` or `\`, NUL,
 * backslashes, invalid UTF-8 and `..`; drops `.` and empty segments.
 */
export function decodeRequestPath(rawPath: string): DecodedPath {
  if (!rawPath.startsWith("/")) throw new BadPathError(`Path "${rawPath}" does not start with /`);
  if (/%(2f|5c|00)/i.test(rawPath)) {
    throw new BadPathError(`Path "${rawPath}" contains an encoded slash, backslash or NUL`);
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    throw new BadPathError(`Path "${rawPath}" is not valid percent-encoded UTF-8`);
  }
  if (decoded.includes("\0") || decoded.includes("\\")) {
    throw new BadPathError(`Path "${rawPath}" contains a NUL or a backslash`);
  }
  const segments: string[] = [];
  for (const segment of decoded.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") throw new BadPathError(`Path "${rawPath}" leaves the root with ".."`);
    segments.push(segment);
  }
  return { segments, trailingSlash: decoded.endsWith("/") };
}

/** True when `path` is `root` itself or lies inside it (both real paths). */
export function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith("/") ? root : `${root}/`);
}

/** What the server needs to answer for one file. */
export interface FileEntry {
  /** The real path (symlinks resolved). */
  path: string;
  size: number;
  mtimeMs: number;
  ino: number;
  contentType: string;
  etag: string;
  lastModified: string;
  /** The whole file when it is small enough to keep in memory. */
  body?: Uint8Array;
  /** The path it was looked up by (revalidated with statSync). */
  lookupPath: string;
  /** When it was last found current (ms since the epoch). */
  checkedAt: number;
}

/** The validator pair for a file: `"size-mtime"` ETag and an IMF-fixdate Last-Modified. */
export function validators(size: number, mtimeMs: number): { etag: string; lastModified: string } {
  return {
    etag: `"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`,
    lastModified: new Date(mtimeMs).toUTCString(),
  };
}

/**
 * Whether a GET/HEAD may be answered 304 (RFC 9110 §13.2.2): If-None-Match wins over
 * If-Modified-Since; weak comparison; `*` matches any current file.
 */
export function notModified(
  entry: Pick<FileEntry, "etag" | "mtimeMs">,
  ifNoneMatch: string | undefined,
  ifModifiedSince: string | undefined,
): boolean {
  if (ifNoneMatch !== undefined) {
    const opaque = entry.etag.replace(/^W\//, "");
    return ifNoneMatch.split(",").some((tag) => {
      const t = tag.trim();
      return t === "*" || t.replace(/^W\//, "") === opaque;
    });
  }
  if (ifModifiedSince !== undefined) {
    const since = Date.parse(ifModifiedSince);
    if (Number.isNaN(since)) return false;
    return Math.floor(entry.mtimeMs / 1000) * 1000 <= since;
  }
  return false;
}

/** A byte range to send: `start` to `end` inclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Interprets a Range header for a file of `size` bytes (RFC 9110 §14): a single satisfiable
 * range, `"unsatisfiable"` (→ 416), or null to ignore it (absent, malformed or several ranges;
 * serving the whole file is always allowed).
 */
export function parseRange(
  header: string | undefined,
  size: number,
): ByteRange | "unsatisfiable" | null {
  if (header === undefined) return null;
  const m = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === "" && m[2] === "")) return null;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== "" && Number(m[2]) < start) return null;
  if (start >= size) return "unsatisfiable";
  return { start, end };
}

/** Whether If-Range (an ETag or a date) still matches, so the Range may be honoured. */
export function ifRangeMatches(entry: FileEntry, ifRange: string | undefined): boolean {
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  if (value.startsWith('"')) return value === entry.etag;
  if (value.startsWith("W/")) return false;
  return value === entry.lastModified;
}

/** The hot-file cache (see the module comment). */
export class FileCache {
  private readonly entries = new Map<string, FileEntry>();
  private bytes = 0;

  constructor(readonly revalidateMs = CACHE_REVALIDATE_MS) {}

  /** A cached entry for `key` that is still current at `now` (ms), or undefined. */
  get(key: string, now = Date.now()): FileEntry | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (now - entry.checkedAt < this.revalidateMs) return entry;
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(entry.lookupPath);
    } catch {
      this.delete(key);
      return undefined;
    }
    if (
      !info.isFile || info.size !== entry.size || (info.mtime?.getTime() ?? 0) !== entry.mtimeMs ||
      (info.ino ?? 0) !== entry.ino
    ) {
      this.delete(key);
      return undefined;
    }
    entry.checkedAt = now;
    return entry;
  }

  /** Stores an entry, evicting the oldest while the total would exceed the cap. */
  set(key: string, entry: FileEntry): void {
    this.delete(key);
    const size = entry.body?.length ?? 0;
    for (const [oldKey] of this.entries) {
      if (this.bytes + size <= CACHE_TOTAL_MAX_BYTES) break;
      this.delete(oldKey);
    }
    this.entries.set(key, entry);
    this.bytes += size;
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.bytes -= entry.body?.length ?? 0;
  }
}

/** The result of looking a path up under a root. */
export type Lookup =
  | { kind: "file"; entry: FileEntry; key: string }
  | { kind: "redirect"; location: string }
  | { kind: "not-found" };

/**
 * Finds the file for `decoded` under `realRoot` (a real path): directories need a trailing
 * slash (else a redirect) and are served by their `index.html`; anything whose real path lies
 * outside the root is not found.
 */
export async function lookupFile(
  realRoot: string,
  decoded: DecodedPath,
  rawPath: string,
  cache: FileCache,
): Promise<Lookup> {
  const joined = decoded.segments.length ? `${realRoot}/${decoded.segments.join("/")}` : realRoot;
  const key = decoded.trailingSlash ? `${joined}/` : joined;
  const hit = cache.get(key);
  if (hit) return { kind: "file", entry: hit, key };

  let real: string;
  let info: Deno.FileInfo;
  try {
    real = await Deno.realPath(joined);
    if (!isInside(realRoot, real)) return { kind: "not-found" };
    info = await Deno.stat(real);
  } catch (error) {
    if (isMissing(error)) return { kind: "not-found" };
    throw error;
  }
  let lookupPath = joined;
  if (info.isDirectory) {
    if (!decoded.trailingSlash) return { kind: "redirect", location: `${rawPath}/` };
    lookupPath = `${joined}/index.html`;
    try {
      real = await Deno.realPath(lookupPath);
      if (!isInside(realRoot, real)) return { kind: "not-found" };
      info = await Deno.stat(real);
    } catch (error) {
      if (isMissing(error)) return { kind: "not-found" };
      throw error;
    }
  } else if (decoded.trailingSlash) {
    return { kind: "not-found" };
  }
  if (!info.isFile) return { kind: "not-found" };

  const mtimeMs = info.mtime?.getTime() ?? 0;
  const entry: FileEntry = {
    path: real,
    size: info.size,
    mtimeMs,
    ino: info.ino ?? 0,
    contentType: contentTypeFor(real),
    ...validators(info.size, mtimeMs),
    lookupPath,
    checkedAt: Date.now(),
  };
  if (info.size <= CACHE_FILE_MAX_BYTES) {
    const body = await Deno.readFile(real);
    // Changed while we read it: serve what we read this time, cache nothing.
    if (body.length !== info.size) {
      return { kind: "file", entry: { ...entry, size: body.length, body }, key };
    }
    entry.body = body;
  }
  cache.set(key, entry);
  return { kind: "file", entry, key };
}

function isMissing(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory ||
    error instanceof Deno.errors.PermissionDenied ||
    (error instanceof Error && /ELOOP|ENAMETOOLONG|too many levels/i.test(error.message));
}
