/**
 * Answering a GET or HEAD with a file: find it (static_files.ts), then the status its request
 * fields ask for — 304 when the client's copy is current (ETag, Last-Modified), 206 for a Range,
 * 416 for a range beyond the end, else 200 — with the body from the cache or streamed from disk.
 * Missing files are 404 (or, with `--spa`, the app's /index.html), directories without their
 * slash 301, file-system refusals their own status.
 */
import type { HeaderList } from "../core/events.ts";
import { getHeader, listItems } from "../core/headers.ts";
import { reasonPhrase } from "../core/status.ts";
import { because, text } from "./response.ts";
import type { Site } from "./site.ts";
import {
  type ByteRange,
  type DecodedPath,
  type FileEntry,
  ifRangeMatches,
  lookupFile,
  notModified,
  parseRange,
} from "./static_files.ts";
import type { HttpRequest, HttpResponse } from "./types.ts";

/** `/index.html`, decoded once for the --spa fallback. */
const INDEX_PATH: DecodedPath = { segments: ["index.html"], trailingSlash: false };

/** The answer to a GET or HEAD of `decoded` under `root` (the site's root or upload dir). */
export async function serveFile(
  site: Site,
  request: HttpRequest,
  root: string,
  decoded: DecodedPath,
): Promise<HttpResponse> {
  const hot = root === site.realRoot ? site.hot.entry(request.path) : undefined;
  if (hot) return fileResponse(site, request, hot);
  const found = await lookupFile(root, decoded, request.path, site.files);
  if (found.kind === "not-found") {
    if (site.spa && root === site.realRoot && acceptsSpaFallback(request, decoded)) {
      const index = await lookupFile(site.realRoot, INDEX_PATH, "/index.html", site.files);
      if (index.kind === "file") {
        const response = fileResponse(site, request, index.entry);
        if (response.status === 200) {
          response.explain =
            `--spa: no file for ${request.path}, no extension, accepts text/html: /index.html`;
        }
        return response;
      }
    }
    const cause = found.why ? ` (${found.why})` : "";
    return because(
      text(404, "Not Found"),
      `404: no file for ${request.path} under the root${cause}`,
    );
  }
  if (found.kind === "failed") {
    return because(
      text(found.status, reasonPhrase(found.status)),
      `${found.status}: looking up ${request.path} failed (${found.why})`,
    );
  }
  // Never for /private/: the hot path skips the auth check.
  if (found.kind === "file" && root === site.realRoot && decoded.segments[0] !== "private") {
    site.hot.remember(request.path, found.key);
  }
  if (found.kind === "redirect") {
    const location = found.location + (request.query ? `?${request.query}` : "");
    return because(
      text(301, `Moved Permanently: ${location}`, [["Location", location]]),
      `301: ${request.path} is a directory, so its URL ends with /`,
    );
  }
  return fileResponse(site, request, found.entry);
}

/** The answer for `entry`: 200, 206, 304 or 416, from its validators and the request's fields. */
export function fileResponse(site: Site, request: HttpRequest, entry: FileEntry): HttpResponse {
  const validatorHeaders: HeaderList = [
    ["Last-Modified", entry.lastModified],
    ["ETag", entry.etag],
  ];
  if (
    notModified(
      entry,
      getHeader(request.headers, "if-none-match"),
      getHeader(request.headers, "if-modified-since"),
    )
  ) {
    const response: HttpResponse = { status: 304, headers: validatorHeaders };
    if (site.explainHeader) response.explain = fileRule(site, request, entry, 304);
    return response;
  }
  const headers: HeaderList = [
    ["Content-Type", entry.contentType],
    ...validatorHeaders,
    ["Accept-Ranges", "bytes"],
  ];
  let range: ByteRange | "unsatisfiable" | null = null;
  if (request.method === "GET" && ifRangeMatches(entry, getHeader(request.headers, "if-range"))) {
    range = parseRange(getHeader(request.headers, "range"), entry.size);
  }
  if (range === "unsatisfiable") {
    const response = text(416, "Range Not Satisfiable", [[
      "Content-Range",
      `bytes */${entry.size}`,
    ]]);
    if (site.explainHeader) response.explain = fileRule(site, request, entry, 416);
    return response;
  }
  const status = range ? 206 : 200;
  const start = range ? range.start : 0;
  const end = range ? range.end : entry.size - 1;
  if (range) headers.push(["Content-Range", `bytes ${start}-${end}/${entry.size}`]);
  const length = end - start + 1;
  const response: HttpResponse = request.method === "HEAD"
    ? { status, headers, bodyLength: length }
    : entry.body && !range
    ? { status, headers, body: entry.body, file: entry }
    : entry.body
    ? { status, headers, body: entry.body.subarray(start, end + 1) }
    : { status, headers, body: { path: entry.path, start, end } };
  if (site.explainHeader) response.explain = fileRule(site, request, entry, status);
  return response;
}

/** The file an entry came from, as a path under its root (what X-Netlab-Explain names). */
function servedPath(site: Site, entry: FileEntry): string {
  if (entry.path.startsWith(site.realRoot)) {
    return entry.path.slice(site.realRoot.length) || "/";
  }
  if (site.uploadRoot && entry.path.startsWith(site.uploadRoot)) {
    return `/upload${entry.path.slice(site.uploadRoot.length)}`;
  }
  return entry.path;
}

/** Why `fileResponse` answered `status` for `entry` (only built with --explain-header). */
function fileRule(site: Site, request: HttpRequest, entry: FileEntry, status: number): string {
  const file = servedPath(site, entry);
  switch (status) {
    case 304: {
      const inm = getHeader(request.headers, "if-none-match");
      return inm !== undefined
        ? `304: If-None-Match matched ETag ${entry.etag}, file ${file}`
        : `304: not modified since If-Modified-Since, file ${file}`;
    }
    case 416: {
      const range = (getHeader(request.headers, "range") ?? "").replace(/^bytes=\s*/i, "");
      return `416: range ${range} beyond size ${entry.size}, file ${file}`;
    }
    case 206: {
      const range = getHeader(request.headers, "range");
      return `206: Range ${range} of ${entry.size} bytes, file ${file}`;
    }
    default:
      return file === request.path
        ? `static file ${file}`
        : `static file ${file} for ${request.path}`;
  }
}

/** --spa: only extension-less paths (routes, not missing assets), only for HTML clients. */
function acceptsSpaFallback(request: HttpRequest, decoded: DecodedPath): boolean {
  const last = decoded.segments[decoded.segments.length - 1] ?? "";
  if (last.includes(".")) return false;
  const accept = getHeader(request.headers, "accept") ?? "";
  return listItems(accept).some((item) => {
    const semicolon = item.indexOf(";");
    const type = semicolon < 0 ? item : item.slice(0, semicolon);
    return type.trimEnd().toLowerCase() === "text/html";
  });
}
