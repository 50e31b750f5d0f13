/**
 * One HTTP request over a raw TCP socket (seed 003's connect → request → respond → close): the
 * URL resolved (resolve.ts), the connection opened, the request written in one write, the
 * response read with netlab's own parser — then redirects followed when asked. Every failure
 * is an `HttpClientError` with curl's exit code.
 */
import { concatBytes, writeAll } from "../../tcp/core/io.ts";
import { formatHostPort } from "../../tcp/kit/cli.ts";
import { type BodyKind, HttpError } from "../core/events.ts";
import { ResponseParser } from "../core/response_parser.ts";
import { formatRequestHead, joinHeadAndBody } from "../core/serialize.ts";
import { type HttpUrl, parseUrl, resolveUrl, UrlError } from "../core/url.ts";
import { resolveAddress } from "./resolve.ts";
import {
  type BodyFraming,
  CONNECT_TIMEOUT_MS,
  type Exchange,
  EXIT,
  getHeader,
  HttpClientError,
  type HttpRequestOptions,
  type HttpResponse,
  IDLE_TIMEOUT_MS,
  type Marks,
  MAX_BUFFERED_BODY,
  MAX_REDIRECTS,
  type ResponseHead,
  type Timings,
} from "./types.ts";

const USER_AGENT = "netlab-http/1.0";
const READ_SIZE = 64 * 1024;

/**
 * Fetches `url` over a raw TCP connection: resolve, connect, write the request, read the
 * response. Throws `HttpClientError` (with a curl exit code) for every failure.
 */
export async function httpRequest(
  url: string | HttpUrl,
  options: HttpRequestOptions = {},
): Promise<HttpResponse> {
  const deadline = options.maxTimeMs === undefined
    ? undefined
    : AbortSignal.timeout(options.maxTimeMs);
  const signal = anySignal(options.signal, deadline);
  const body = typeof options.body === "string"
    ? new TextEncoder().encode(options.body)
    : options.body;
  let method = (options.method ?? (body ? "POST" : "GET")).toUpperCase();
  let requestBody = body;
  let current = typeof url === "string" ? parseOrThrow(url) : url;
  const redirects: ResponseHead[] = [];
  const maxRedirects = options.maxRedirects ?? MAX_REDIRECTS;
  try {
    while (true) {
      const exchange = await exchangeOnce(current, method, requestBody, options, signal);
      const location = getHeader(exchange.head, "location");
      if (!options.followRedirects || !isRedirect(exchange.head.status) || !location) {
        return { ...exchange, redirects };
      }
      if (redirects.length >= maxRedirects) {
        throw new HttpClientError(
          `Maximum (${maxRedirects}) redirects followed`,
          EXIT.TOO_MANY_REDIRECTS,
        );
      }
      redirects.push(exchange.head);
      const next = resolveOrThrow(current, location);
      // 303 always becomes GET; 301/302 turn a POST into GET (what browsers and curl do);
      // 307/308 repeat the method and body unchanged.
      const status = exchange.head.status;
      if (
        (status === 303 && method !== "HEAD") ||
        ((status === 301 || status === 302) && method === "POST")
      ) {
        method = "GET";
        requestBody = undefined;
      }
      options.onEvent?.({ type: "redirect", status, from: current.href, to: next.href, method });
      current = next;
    }
  } catch (error) {
    throw translateError(error, signal, deadline, options.maxTimeMs);
  }
}

/** True when `-L` would follow this response (a redirect status with a Location). */
export function willFollow(head: ResponseHead): boolean {
  return isRedirect(head.status) && getHeader(head, "location") !== undefined;
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

function parseOrThrow(text: string): HttpUrl {
  try {
    return parseUrl(text);
  } catch (error) {
    if (error instanceof UrlError) {
      const code = /^Unsupported scheme/.test(error.message)
        ? EXIT.UNSUPPORTED_PROTOCOL
        : EXIT.URL_MALFORMED;
      throw new HttpClientError(error.message, code);
    }
    throw error;
  }
}

function resolveOrThrow(base: HttpUrl, location: string): HttpUrl {
  try {
    return resolveUrl(base, location);
  } catch (error) {
    if (error instanceof UrlError) throw new HttpClientError(error.message, EXIT.URL_MALFORMED);
    throw error;
  }
}

/** Combines optional signals into one (or none). */
function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  return present.length === 0
    ? undefined
    : present.length === 1
    ? present[0]
    : AbortSignal.any(present);
}

/** Maps an abort to its cause: curl's timeout error for the deadline, else the signal's reason. */
function translateError(
  error: unknown,
  signal: AbortSignal | undefined,
  deadline: AbortSignal | undefined,
  maxTimeMs: number | undefined,
): unknown {
  if (deadline?.aborted) {
    return new HttpClientError(
      `Operation timed out after ${maxTimeMs} milliseconds`,
      EXIT.OPERATION_TIMEDOUT,
    );
  }
  if (signal?.aborted) return signal.reason;
  return error;
}

/** One request on one connection (`Connection: close`: seed 003's connect, request, respond, close). */
async function exchangeOnce(
  url: HttpUrl,
  method: string,
  body: Uint8Array | undefined,
  options: HttpRequestOptions,
  signal: AbortSignal | undefined,
): Promise<Exchange> {
  if (url.scheme === "https") {
    throw new HttpClientError(
      `Protocol "https" not supported: netlab speaks plain HTTP only (no TLS), use http://`,
      EXIT.UNSUPPORTED_PROTOCOL,
    );
  }
  const marks: Marks = { start: performance.now(), dns: 0, connect: 0, sent: 0, firstByte: 0 };
  options.onEvent?.({ type: "url", url });
  const address = await resolveAddress(url, options, signal);
  marks.dns = performance.now();
  signal?.throwIfAborted();
  const conn = await connect(address, url.port, options, signal);
  marks.connect = performance.now();
  try {
    // Closing the socket is what wakes a pending read when the deadline passes.
    const onAbort = () => closeQuietly(conn);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const head = buildRequestHead(url, method, body, options.headers ?? []);
      options.onEvent?.({ type: "request", head, bodyBytes: body?.length ?? 0 });
      // Head and body leave in one write (one segment for small requests).
      const request = joinHeadAndBody(head, body);
      await writeAll(conn, request);
      marks.sent = performance.now();
      options.onWire?.("sent", request);
      return await readResponse(conn, url, method, address, options, marks);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  } finally {
    closeQuietly(conn);
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch (error) {
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  }
}

async function connect(
  address: string,
  port: number,
  options: HttpRequestOptions,
  signal: AbortSignal | undefined,
): Promise<Deno.TcpConn> {
  const started = performance.now();
  const connectSignal = anySignal(signal, AbortSignal.timeout(CONNECT_TIMEOUT_MS));
  let conn: Deno.TcpConn;
  try {
    options.waits?.waiting(`${formatHostPort(address, port)} to accept the connection`);
    conn = await Deno.connect({ hostname: address, port, signal: connectSignal });
  } catch (error) {
    if (signal?.aborted) throw error;
    const where = formatHostPort(address, port);
    if (connectSignal?.aborted) {
      throw new HttpClientError(
        `Failed to connect to ${where}: no answer within ${CONNECT_TIMEOUT_MS} ms`,
        EXIT.OPERATION_TIMEDOUT,
      );
    }
    if (error instanceof Deno.errors.ConnectionRefused) {
      throw new HttpClientError(
        `Failed to connect to ${where}: connection refused`,
        EXIT.COULDNT_CONNECT,
      );
    }
    if (
      error instanceof Deno.errors.NetworkUnreachable ||
      error instanceof Deno.errors.AddrNotAvailable ||
      error instanceof Deno.errors.ConnectionReset ||
      error instanceof Deno.errors.PermissionDenied ||
      error instanceof Deno.errors.TimedOut
    ) {
      throw new HttpClientError(
        `Failed to connect to ${where}: ${error.message}`,
        EXIT.COULDNT_CONNECT,
      );
    }
    throw error;
  } finally {
    options.waits?.done();
  }
  options.onEvent?.({
    type: "connect",
    local: conn.localAddr,
    remote: conn.remoteAddr,
    ms: performance.now() - started,
  });
  return conn;
}

/**
 * The request head: request line (`GET /path HTTP/1.1`, seed 003's 请求行 without its stray
 * `/` before HTTP), Host, defaults, the caller's fields, blank line.
 */
export function buildRequestHead(
  url: HttpUrl,
  method: string,
  body: Uint8Array | undefined,
  extra: [string, string][],
): string {
  const defaults: [string, string][] = [
    ["Host", url.authority],
    ["User-Agent", USER_AGENT],
    ["Accept", "*/*"],
  ];
  if (url.username || url.password) {
    const credentials = btoa(
      String.fromCharCode(...new TextEncoder().encode(`${url.username}:${url.password}`)),
    );
    defaults.push(["Authorization", `Basic ${credentials}`]);
  }
  if (body !== undefined) {
    defaults.push(["Content-Type", "application/x-www-form-urlencoded"]);
    defaults.push(["Content-Length", String(body.length)]);
  }
  defaults.push(["Connection", "close"]);
  const overridden = new Set(extra.map(([n]) => n.toLowerCase()));
  const fields = [
    ...defaults.filter(([n]) => !overridden.has(n.toLowerCase())),
    ...extra.filter(([, v]) => v !== ""),
  ];
  return formatRequestHead(method, url.target, fields);
}

/**
 * The exact bytes `httpRequest` would write for this request (head and body in one buffer):
 * what `--offline` prints. Throws `HttpClientError` for a malformed URL or https.
 */
export function buildRequestBytes(
  url: string | HttpUrl,
  options: { method?: string; headers?: [string, string][]; body?: Uint8Array | string } = {},
): Uint8Array {
  const parsed = typeof url === "string" ? parseOrThrow(url) : url;
  if (parsed.scheme === "https") {
    throw new HttpClientError(
      `Protocol "https" not supported: netlab speaks plain HTTP only (no TLS), use http://`,
      EXIT.UNSUPPORTED_PROTOCOL,
    );
  }
  const body = typeof options.body === "string"
    ? new TextEncoder().encode(options.body)
    : options.body;
  const method = (options.method ?? (body ? "POST" : "GET")).toUpperCase();
  return joinHeadAndBody(buildRequestHead(parsed, method, body, options.headers ?? []), body);
}

/**
 * Reads one response through `ResponseParser`: the head, then the body in whatever pieces the
 * network delivers, until the parser says the message ended (Content-Length reached, last chunk,
 * or — for a body without a length — the server closing the connection).
 */
async function readResponse(
  conn: Deno.Conn,
  url: HttpUrl,
  method: string,
  address: string,
  options: HttpRequestOptions,
  marks: Marks,
): Promise<Exchange> {
  const parser = new ResponseParser();
  parser.expect(method);
  const buf = new Uint8Array(READ_SIZE);
  const maxBody = options.maxBodyBytes ?? MAX_BUFFERED_BODY;
  const parts: Uint8Array[] = [];
  let head: ResponseHead | undefined;
  let framing: BodyFraming = "none";
  let final = true;
  let bodyBytes = 0;
  let received = 0;
  const from = formatHostPort(address, url.port);
  while (true) {
    let event;
    try {
      event = parser.next();
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      if (received === 0) {
        throw new HttpClientError("Empty reply from server", EXIT.GOT_NOTHING);
      }
      if (head && /before the message body was complete/.test(error.message)) {
        throw new HttpClientError(
          `Transfer closed with the body incomplete (${bodyBytes} bytes received): ${error.message}`,
          EXIT.PARTIAL_FILE,
        );
      }
      throw new HttpClientError(`Weird server reply: ${error.message}`, EXIT.WEIRD_SERVER_REPLY);
    }
    if (event === null) {
      options.waits?.waiting(
        received === 0
          ? `the response from ${from}`
          : `more of the response from ${from} (${received} bytes so far)`,
      );
      let n: number | null;
      try {
        n = await readWithIdleTimeout(conn, buf);
      } finally {
        options.waits?.done();
      }
      if (n === null) parser.feedEof();
      else {
        if (received === 0) marks.firstByte = performance.now();
        received += n;
        options.onWire?.("received", buf.subarray(0, n));
        parser.feed(buf.subarray(0, n));
      }
      continue;
    }
    switch (event.kind) {
      case "response": {
        head = {
          version: event.version,
          status: event.status,
          reason: event.reason,
          headers: event.headers,
          fieldNames: event.fieldNames,
        };
        framing = FRAMING[event.bodyKind];
        final = !(options.followRedirects && willFollow(head));
        options.onEvent?.({ type: "response", head });
        break;
      }
      case "data": {
        bodyBytes += event.data.length;
        if (!final) break; // a redirect's body is read and dropped, like a browser does
        if (options.onBody) {
          await options.onBody(event.data);
        } else {
          if (bodyBytes > maxBody) {
            throw new HttpClientError(
              `Response body larger than ${maxBody} bytes: use -o FILE`,
              EXIT.WRITE_ERROR,
            );
          }
          parts.push(event.data.slice());
        }
        break;
      }
      case "informational":
        break; // 100 Continue and friends: the real response follows
      case "end":
      case "closed": {
        if (!head) throw new HttpClientError("Empty reply from server", EXIT.GOT_NOTHING);
        const since = (mark: number) => Math.max(0, mark - marks.start);
        const timings: Timings = {
          dns: since(marks.dns),
          connect: since(marks.connect),
          sent: since(marks.sent),
          firstByte: since(marks.firstByte),
          total: since(performance.now()),
        };
        options.onEvent?.({ type: "body", bytes: bodyBytes, framing, timings });
        return {
          timings,
          ...head,
          head,
          url: url.href,
          body: concatBytes(parts, options.onBody ? 0 : bodyBytes),
          bodyBytes,
          framing,
          address,
        };
      }
    }
  }
}

const FRAMING: Record<BodyKind, BodyFraming> = {
  none: "none",
  length: "content-length",
  chunked: "chunked",
  close: "close",
};

/** One read with an idle deadline: a server that goes silent for `IDLE_TIMEOUT_MS` is dropped. */
async function readWithIdleTimeout(conn: Deno.Conn, buf: Uint8Array): Promise<number | null> {
  let idle = false;
  const timer = setTimeout(() => {
    idle = true;
    closeQuietly(conn);
  }, IDLE_TIMEOUT_MS);
  try {
    return await conn.read(buf);
  } catch (error) {
    if (idle) {
      throw new HttpClientError(
        `Operation timed out: no data from the server for ${IDLE_TIMEOUT_MS / 1000} s`,
        EXIT.OPERATION_TIMEDOUT,
      );
    }
    if (error instanceof Deno.errors.ConnectionReset) {
      throw new HttpClientError(
        "Failure when receiving data from the peer: connection reset",
        EXIT.RECV_ERROR,
      );
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
