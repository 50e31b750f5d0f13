/**
 * What the server answers, as a table: each route looks at a request and answers it, or passes
 * (undefined) to the next one; the static files answer whatever is left. Before the table, the
 * request target must be a path the server can use (CONNECT, `OPTIONS *`, a non-origin-form
 * target or a path that does not decode are answered here).
 *
 * Every answer says which rule produced it (`because`), which `--explain-header` shows as
 * `X-Netlab-Explain`.
 */
import { getHeader } from "../core/headers.ts";
import { encodeLatin1 } from "../core/syntax.ts";
import { credentialsMatch } from "./auth.ts";
import { serveFile } from "./file_response.ts";
import { because, text } from "./response.ts";
import { allowFor, type Site } from "./site.ts";
import { BadPathError, type DecodedPath, decodeRequestPath } from "./static_files.ts";
import type { HttpRequest, HttpResponse } from "./types.ts";
import { upload } from "./upload.ts";
import type { HeaderList } from "../core/events.ts";

/** One row of the table: an answer, or undefined to try the next row. */
type Route = (
  request: HttpRequest,
  path: DecodedPath,
  site: Site,
) => HttpResponse | undefined | Promise<HttpResponse | undefined>;

/** The routes, tried in order (the last one always answers). */
const ROUTES: readonly Route[] = [
  optionsRoute,
  traceRoute,
  echoRoute,
  oldRoute,
  testErrorRoute,
  privateRoute,
  uploadRoute,
  methodRoute,
  staticRoute,
];

/** The answer to `request`: the request hook first (if any), then the target, then the table. */
export async function route(request: HttpRequest, site: Site): Promise<HttpResponse> {
  if (site.handler) {
    const answer = await site.handler(request);
    if (answer) return answer;
  }
  const path = targetPath(request, site);
  if (!("segments" in path)) return path;
  for (const row of ROUTES) {
    const answer = await row(request, path, site);
    if (answer) return answer;
  }
  throw new Error("the static-file route answers every request");
}

/** The decoded path of an origin-form target, or the answer when there is none. */
function targetPath(request: HttpRequest, site: Site): DecodedPath | HttpResponse {
  if (request.method === "CONNECT") {
    return because(
      text(501, "Not Implemented: this is not a proxy"),
      "501: CONNECT (this server is not a proxy)",
    );
  }
  if (request.target === "*") {
    if (request.method === "OPTIONS") {
      return because(
        { status: 204, headers: [["Allow", allowFor(site, "*")]] },
        "204: OPTIONS * lists the methods",
      );
    }
    return because(text(400, "Bad Request: * is only for OPTIONS"), "400: * is only for OPTIONS");
  }
  if (!request.path.startsWith("/")) {
    return because(
      text(400, "Bad Request: expected an origin-form target"),
      "400: not an origin-form target",
    );
  }
  try {
    return decodeRequestPath(request.path);
  } catch (error) {
    if (error instanceof BadPathError) {
      return because(text(400, `Bad Request: ${error.message}`), `400: ${error.message}`);
    }
    throw error;
  }
}

/** OPTIONS: a CORS preflight (with --cors), else the methods the path allows. */
function optionsRoute(request: HttpRequest, _path: DecodedPath, site: Site) {
  if (request.method !== "OPTIONS") return undefined;
  const preflight = site.cors ? corsPreflight(request, site) : undefined;
  if (preflight) return preflight;
  return because(
    { status: 204, headers: [["Allow", allowFor(site, request.path)]] },
    `204: OPTIONS lists the methods ${request.path} allows`,
  );
}

/**
 * A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method): the browser asks
 * before a cross-origin request that is not "simple". The answer lists what is allowed; the
 * browser compares and then sends (or blocks) the real request.
 */
function corsPreflight(request: HttpRequest, site: Site): HttpResponse | undefined {
  const origin = getHeader(request.headers, "origin");
  const wanted = getHeader(request.headers, "access-control-request-method");
  if (origin === undefined || wanted === undefined) return undefined;
  const headers: HeaderList = [
    ["Allow", allowFor(site, request.path)],
    ["Access-Control-Allow-Methods", allowFor(site, request.path)],
    ["Access-Control-Max-Age", "600"],
  ];
  const askedHeaders = getHeader(request.headers, "access-control-request-headers");
  if (askedHeaders !== undefined) {
    headers.push(["Access-Control-Allow-Headers", askedHeaders]);
    headers.push(["Vary", "Access-Control-Request-Headers"]);
  }
  return because(
    { status: 204, headers },
    `204: CORS preflight from ${origin} for ${wanted} ${request.path}`,
  );
}

/** TRACE (--trace): the request echoed as it came, header names spelled as sent. */
function traceRoute(request: HttpRequest, _path: DecodedPath, site: Site) {
  if (request.method !== "TRACE") return undefined;
  if (!site.trace) {
    return because(
      text(405, "Method Not Allowed: TRACE is off (start with --trace)", [[
        "Allow",
        allowFor(site, request.path),
      ]]),
      "405: TRACE is off (start with --trace)",
    );
  }
  const head = request.head;
  const echo = `${head.method} ${head.target} HTTP/${head.version}\r\n` +
    head.headers.map(([n, v], i) => `${head.fieldNames?.[i] ?? n}: ${v}\r\n`).join("") + "\r\n";
  return because(
    { status: 200, headers: [["Content-Type", "message/http"]], body: encodeLatin1(echo) },
    "200: TRACE echo (--trace)",
  );
}

/** POST /echo: the body back, with its Content-Type. */
function echoRoute(request: HttpRequest, _path: DecodedPath, site: Site) {
  if (request.path !== "/echo") return undefined;
  if (request.method !== "POST") {
    return because(
      text(405, "Method Not Allowed", [["Allow", allowFor(site, request.path)]]),
      `405: /echo takes POST, not ${request.method}`,
    );
  }
  const type = getHeader(request.headers, "content-type") ?? "application/octet-stream";
  return because(
    { status: 200, headers: [["Content-Type", type]], body: request.body },
    "200: POST /echo returns the body",
  );
}

/** /old: a permanent redirect (the demo of 301). */
function oldRoute(request: HttpRequest) {
  if (request.path !== "/old") return undefined;
  return because(text(301, "Moved Permanently: /", [["Location", "/"]]), "301: /old moved to /");
}

/** /__error (--test-routes): a handler that throws, for the 500 path. */
function testErrorRoute(request: HttpRequest, _path: DecodedPath, site: Site) {
  if (site.testRoutes && request.path === "/__error") {
    throw new Error("the /__error test route always throws");
  }
  return undefined;
}

/** /private/: closed without --auth, else Basic auth (a match passes to the next rows). */
function privateRoute(request: HttpRequest, path: DecodedPath, site: Site) {
  if (path.segments[0] !== "private") return undefined;
  if (!site.authDigest) {
    return because(
      text(403, "Forbidden: start the server with --auth USER:PASS"),
      "403: /private/ is closed (no --auth USER:PASS)",
    );
  }
  if (credentialsMatch(request.credentials, site.authDigest)) return undefined;
  return because(
    text(401, "Unauthorized", [[
      "WWW-Authenticate",
      'Basic realm="netlab private", charset="UTF-8"',
    ]]),
    getHeader(request.headers, "authorization") === undefined
      ? "401: /private/ needs Basic auth"
      : "401: /private/ needs Basic auth (these credentials do not match)",
  );
}

/** PUT and DELETE under /upload/ (--upload). */
function uploadRoute(request: HttpRequest, path: DecodedPath, site: Site) {
  if (path.segments[0] !== "upload") return undefined;
  if (request.method !== "PUT" && request.method !== "DELETE") return undefined;
  return upload(site, request, path.segments.slice(1));
}

/** Anything but GET and HEAD from here on is 405. */
function methodRoute(request: HttpRequest, _path: DecodedPath, site: Site) {
  if (request.method === "GET" || request.method === "HEAD") return undefined;
  return because(
    text(405, "Method Not Allowed", [["Allow", allowFor(site, request.path)]]),
    `405: ${request.method} is not allowed on ${request.path}`,
  );
}

/** GET and HEAD of a file: under /upload/ from the upload directory, else from the root. */
function staticRoute(request: HttpRequest, path: DecodedPath, site: Site) {
  if (path.segments[0] === "upload" && site.uploadRoot) {
    return serveFile(site, request, site.uploadRoot, {
      ...path,
      segments: path.segments.slice(1),
    });
  }
  return serveFile(site, request, site.realRoot, path);
}
