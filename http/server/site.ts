/**
 * The site a server answers from: its options resolved once at start-up (real paths, the
 * credentials' digest, the switches), the file cache and the hot-answer cache. Routes, file
 * responses and uploads read it; nothing in it changes per request except the caches.
 */
import { credentialsDigest } from "./auth.ts";
import { HotCache } from "./hot_cache.ts";
import { FileCache } from "./static_files.ts";
import type { Handler, ServeOptions } from "./types.ts";

/** Everything a request is answered from. */
export interface Site {
  /** The root's real path (symlinks resolved): files outside it are never served. */
  realRoot: string;
  /** The upload directory's real path (`--upload`), if uploads are on. */
  uploadRoot?: string;
  /** SHA-256 of `user:password` (`--auth`), if /private/ is open to someone. */
  authDigest?: Uint8Array;
  trace: boolean;
  testRoutes: boolean;
  spa: boolean;
  cors: boolean;
  explainHeader: boolean;
  handler?: Handler;
  files: FileCache;
  hot: HotCache;
}

/** Resolves `options` into a site; `explaining` is `--explain` (no shared hot answers then). */
export async function openSite(options: ServeOptions, explaining: boolean): Promise<Site> {
  const files = new FileCache(options.cacheRevalidateMs);
  const explainHeader = options.explainHeader === true;
  return {
    realRoot: await Deno.realPath(options.root),
    uploadRoot: options.uploadDir ? await Deno.realPath(options.uploadDir) : undefined,
    authDigest: options.auth
      ? credentialsDigest(options.auth.user, options.auth.password)
      : undefined,
    trace: options.trace === true,
    testRoutes: options.testRoutes === true,
    spa: options.spa === true,
    cors: options.cors === true,
    explainHeader,
    handler: options.handler,
    files,
    hot: new HotCache(files, !options.handler && !explainHeader && !explaining),
  };
}

/** The methods `path` allows (the `Allow` field of 405s and OPTIONS). */
export function allowFor(site: Site, path: string): string {
  const trace = site.trace ? ", TRACE" : "";
  if (path === "/echo") return `POST, OPTIONS${trace}`;
  if (site.uploadRoot && (path === "/upload" || path.startsWith("/upload/"))) {
    return `GET, HEAD, PUT, DELETE, OPTIONS${trace}`;
  }
  return `GET, HEAD, OPTIONS${trace}`;
}
