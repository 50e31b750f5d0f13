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
 * If-Modified-Since; weak comparison; `*` matches any current file. If-Modified-Since counts
 * only when it is one valid HTTP-date (RFC 9110 §13.1.3) no later than `now`: a date in the
 * future says nothing about the file (RFC 2616 §14.25 called it invalid; nginx and Deno.serve
 * ignore it too).
 */
export function notModified(
  entry: Pick<FileEntry, "etag" | "mtimeMs">,
  ifNoneMatch: string | undefined,
  ifModifiedSince: string | undefined,
  now?: number,
): boolean {
  if (ifNoneMatch !== undefined) {
    const opaque = withoutWeakPrefix(entry.etag);
    return ifNoneMatch.split(",").some((tag) => {
      const t = tag.trim();
      return t === "*" || withoutWeakPrefix(t) === opaque;
    });
  }
  if (ifModifiedSince !== undefined) {
    const since = parseHttpDate(ifModifiedSince);
    if (since === undefined || since > (now ?? Date.now())) return false;
    return Math.floor(entry.mtimeMs / 1000) * 1000 <= since;
  }
  return false;
}

function withoutWeakPrefix(tag: string): string {
  return tag.startsWith("W/") ? tag.slice(2) : tag;
}

const DAY_NAMES = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const LONG_DAY_NAMES = [
  "Sunday",
  "Monday",
  "Tuesday",
  "Wednesday",
  "Thursday",
  "Friday",
  "Saturday",
];
const MONTH_NAMES = [
  "Jan",
  "Feb",
  "Mar",
  "Apr",
  "May",
  "Jun",
  "Jul",
  "Aug",
  "Sep",
  "Oct",
  "Nov",
  "Dec",
];

/**
 * An HTTP-date (RFC 9110 §5.6.7) in ms since the epoch, or undefined: the IMF-fixdate
 * `Sun, 06 Nov 1994 08:49:37 GMT`, and the two obsolete forms a recipient must still accept,
 * `Sunday, 06-Nov-94 08:49:37 GMT` (a two-digit year more than 50 years ahead is in the past
 * century) and `Sun Nov  6 08:49:37 1994`. Anything else (which `Date.parse` would often
 * guess at) is not a date. Fixed shapes, read by position: no regex, no backtracking.
 */
export function parseHttpDate(text: string, now = Date.now()): number | undefined {
  const comma = text.indexOf(",");
  if (comma === 3 && text.length === 29 && DAY_NAMES.includes(text.slice(0, 3))) {
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    if (text[4] !== " " || text[7] !== " " || text[11] !== " " || text[16] !== " ") {
      return undefined;
    }
    if (text.slice(25) !== " GMT") return undefined;
    return dateFrom(text.slice(12, 16), text.slice(8, 11), text.slice(5, 7), text.slice(17, 25));
  }
  if (comma > 3 && LONG_DAY_NAMES.includes(text.slice(0, comma))) {
    // rfc850-date: "Sunday, 06-Nov-94 08:49:37 GMT"
    const rest = text.slice(comma);
    if (rest.length !== 24 || rest[1] !== " " || rest[4] !== "-" || rest[8] !== "-") {
      return undefined;
    }
    if (rest[11] !== " " || rest.slice(20) !== " GMT") return undefined;
    const yy = digitsValue(rest.slice(9, 11));
    if (yy === undefined) return undefined;
    // RFC 9110 §5.6.7: a year that looks more than 50 years ahead is in the past.
    const thisYear = new Date(now).getUTCFullYear();
    let year = Math.floor(thisYear / 100) * 100 + yy;
    if (year > thisYear + 50) year -= 100;
    return dateFrom(String(year), rest.slice(5, 8), rest.slice(2, 4), rest.slice(12, 20));
  }
  if (text.length === 24 && DAY_NAMES.includes(text.slice(0, 3))) {
    // asctime-date: "Sun Nov  6 08:49:37 1994" (the day padded with a space)
    if (text[3] !== " " || text[7] !== " " || text[10] !== " " || text[19] !== " ") {
      return undefined;
    }
    const day = text[8] === " " ? `0${text[9]}` : text.slice(8, 10);
    return dateFrom(text.slice(20, 24), text.slice(4, 7), day, text.slice(11, 19));
  }
  return undefined;
}

/** A UTC time from its pieces (`1994`, `Nov`, `06`, `08:49:37`); undefined when one is bad. */
function dateFrom(yearText: string, monthText: string, dayText: string, time: string) {
  const month = MONTH_NAMES.indexOf(monthText);
  const year = digitsValue(yearText);
  const day = digitsValue(dayText);
  if (time[2] !== ":" || time[5] !== ":") return undefined;
  const hour = digitsValue(time.slice(0, 2));
  const minute = digitsValue(time.slice(3, 5));
  const second = digitsValue(time.slice(6, 8));
  if (
    month < 0 || year === undefined || day === undefined || hour === undefined ||
    minute === undefined || second === undefined
  ) return undefined;
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  const ms = Date.UTC(year, month, day, hour, minute, Math.min(second, 59));
  // 31 Feb would roll over into March: not a date.
  return new Date(ms).getUTCDate() === day ? ms : undefined;
}

/** The value of a string of ASCII digits, or undefined when it is empty or holds anything else. */
function digitsValue(text: string): number | undefined {
  if (text.length === 0) return undefined;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return undefined;
    value = value * 10 + c - 0x30;
  }
  return value;
}

/** A byte range to send: `start` to `end` inclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Interprets a Range header for a file of `size` bytes (RFC 9110 §14): a single satisfiable
 * range, `"unsatisfiable"` (→ 416), or null to ignore it (absent, malformed or several ranges;
 * serving the whole file is always allowed). `bytes=FIRST-[LAST]` or `bytes=-SUFFIX`, with SP
 * or HTAB allowed around the numbers; read in one pass (a regex here once backtracked for
 * seconds on a value of 60,000 spaces).
 */
export function parseRange(
  header: string | undefined,
  size: number,
): ByteRange | "unsatisfiable" | null {
  if (header === undefined || header.length < 7) return null;
  if (header.slice(0, 6).toLowerCase() !== "bytes=") return null;
  let at = 6;
  const skipBlanks = () => {
    while (at < header.length && (header[at] === " " || header[at] === "\t")) at++;
  };
  const digits = (): string => {
    const start = at;
    while (at < header.length && header[at] >= "0" && header[at] <= "9") at++;
    return header.slice(start, at);
  };
  skipBlanks();
  const first = digits();
  skipBlanks();
  if (header[at] !== "-") return null;
  at++;
  skipBlanks();
  const last = digits();
  skipBlanks();
  if (at !== header.length || (first === "" && last === "")) return null;
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== "" && Number(last) < start) return null;
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
  | { kind: "not-found"; why?: string }
  /** The file system refused (403) or failed (500, 503 when out of descriptors). */
  | { kind: "failed"; status: number; why: string };

/**
 * Finds the file for `decoded` under `realRoot` (a real path): directories need a trailing
 * slash (else a redirect) and are served by their `index.html`; anything whose real path lies
 * outside the root is not found. Every file-system error becomes an answer, never an
 * exception: a request can name anything, and a name too long for the file system (a 300-byte
 * segment: ENAMETOOLONG), a file used as a directory (ENOTDIR) or a symlink loop (ELOOP) is
 * simply not there.
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
  try {
    return await lookupUncached(realRoot, decoded, rawPath, cache, joined, key);
  } catch (error) {
    return lookupFailure(error);
  }
}

async function lookupUncached(
  realRoot: string,
  decoded: DecodedPath,
  rawPath: string,
  cache: FileCache,
  joined: string,
  key: string,
): Promise<Lookup> {
  let real = await Deno.realPath(joined);
  if (!isInside(realRoot, real)) return { kind: "not-found" };
  let info = await Deno.stat(real);
  let lookupPath = joined;
  if (info.isDirectory) {
    if (!decoded.trailingSlash) return { kind: "redirect", location: `${rawPath}/` };
    lookupPath = `${joined}/index.html`;
    real = await Deno.realPath(lookupPath);
    if (!isInside(realRoot, real)) return { kind: "not-found" };
    info = await Deno.stat(real);
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

/** The errno-style code of a file-system error (`ENOENT`, `ENAMETOOLONG`…), if it has one. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Codes meaning "no such file", whatever the name asked for. */
const NOT_THERE = new Set(["ENOENT", "ENOTDIR", "ENAMETOOLONG", "ELOOP", "EISDIR", "EINVAL"]);

/** A lookup's file-system error as an answer (404, 403, 503 or 500); other errors are bugs. */
export function lookupFailure(error: unknown): Lookup {
  if (!(error instanceof Error)) throw error;
  const code = errorCode(error);
  if (error instanceof Deno.errors.NotFound || (code && NOT_THERE.has(code))) {
    // The plain case needs no footnote; the others say why the name cannot be there.
    return { kind: "not-found", why: code === "ENOENT" ? undefined : code };
  }
  if (
    error instanceof Deno.errors.PermissionDenied || code === "EACCES" || code === "EPERM"
  ) {
    return { kind: "failed", status: 403, why: code ?? "EACCES" };
  }
  if (code === "EMFILE" || code === "ENFILE") return { kind: "failed", status: 503, why: code };
  if (code || error instanceof Deno.errors.NotCapable) {
    return { kind: "failed", status: 500, why: code ?? error.name };
  }
  throw error;
}
