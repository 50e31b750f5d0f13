/**
 * What the server's modules pass to each other and what its callers see: a request as handlers
 * get it, a response as they answer it, the options of `serveHttp` and the running server.
 */
import type { HeaderList, RequestHead } from "../core/events.ts";
import type { Reporter } from "../../tcp/kit/report.ts";
import type { BasicCredentials } from "./auth.ts";
import type { FileEntry } from "./static_files.ts";

/** A complete request as handlers see it. */
export interface HttpRequest {
  head: RequestHead;
  method: string;
  target: string;
  /** The raw path (before `?`) and the query (without `?`, "" when absent). */
  path: string;
  query: string;
  headers: HeaderList;
  body: Uint8Array;
  remote: Deno.NetAddr;
  /** `Authorization: Basic …`, decoded once (undefined when absent or not Basic). */
  credentials?: BasicCredentials;
}

/** A file (or part of one) to stream as the body. */
export interface FileBody {
  path: string;
  start: number;
  /** Inclusive. */
  end: number;
}

/** What a handler answers. `Content-Length` and `Date` are added by the server. */
export interface HttpResponse {
  status: number;
  headers?: HeaderList;
  /**
   * A `ReadableStream` is a streamed body (e.g. Server-Sent Events): each chunk goes out at once
   * as one HTTP/1.1 chunk, the connection closes after it, and the stream is cancelled when the
   * client leaves (see http/server/body_stream.ts).
   */
  body?: Uint8Array | string | FileBody | ReadableStream<Uint8Array>;
  /** The body's length when it is not sent (HEAD, or a 304 does not use this). */
  bodyLength?: number;
  /** Set by the server for a whole cached file (its bytes on the wire are cached too). */
  file?: FileEntry;
  /** Which rule produced this status (and which file): the `X-Netlab-Explain` value. */
  explain?: string;
}

/** A request hook tried before the built-in routes; return undefined to fall through. */
export type Handler = (
  request: HttpRequest,
) => HttpResponse | undefined | Promise<HttpResponse | undefined>;

/** Options for `serveHttp`. */
export interface ServeOptions {
  /** Directory to serve (resolved to its real path). */
  root: string;
  uploadDir?: string;
  auth?: { user: string; password: string };
  trace?: boolean;
  testRoutes?: boolean;
  maxConns?: number;
  maxBodyBytes?: number;
  idleTimeoutMs?: number;
  headerTimeoutMs?: number;
  /**
   * Longest pause in a request body (as nginx's `client_body_timeout`), and the grace period
   * before `bodyMinRate` applies (default 10 s).
   */
  bodyTimeoutMs?: number;
  /** Slowest average body rate accepted once `bodyTimeoutMs` has passed, bytes/s (default 1024). */
  bodyMinRate?: number;
  /** How long a cached file is trusted before it is stat'ed again (default 1000 ms). */
  cacheRevalidateMs?: number;
  /** Tried before the built-in routes (tests use it). */
  handler?: Handler;
  /** Access log and errors; omit for silence. */
  reporter?: Reporter;
  /** Access lines on (default true when a reporter is given). */
  accessLog?: boolean;
  /** Also report each request head as a `request` event (the `--json` access log). */
  requestEvents?: boolean;
  /**
   * Single-page apps: a GET/HEAD for a missing path without a file extension, from a client
   * that accepts text/html, gets `/index.html` with 200 (so client-side routes survive reload).
   */
  spa?: boolean;
  /** CORS: `Access-Control-Allow-Origin: *` on every response, and answers to preflights. */
  cors?: boolean;
  /** Add `X-Netlab-Explain: <rule, file>` to every response (why this status). */
  explainHeader?: boolean;
  /** Stream files past the cache with sendfile(2) when possible (default true). */
  zeroCopy?: boolean;
  /** Serve connections through the epoll set (tcp/linux/epoll.ts) when possible (default true). */
  epoll?: boolean;
  /**
   * TCP keepalive on every accepted connection: seconds of silence before the first probe
   * (default 30; 0 leaves SO_KEEPALIVE off). See `keepaliveTimers`.
   */
  keepaliveSeconds?: number;
  signal?: AbortSignal;
}

/** A running server. */
export interface HttpServer extends AsyncDisposable {
  addr: Deno.NetAddr;
  /** Resolves when the server has stopped and every connection is closed. */
  finished: Promise<void>;
  /** Stops accepting, closes every connection and waits for them. */
  close(): Promise<void>;
  /** Connections being served right now. */
  readonly connections: number;
  /** How connections are read and written: one epoll set (tcp/linux/epoll.ts) or Deno's ops. */
  readonly io: "epoll" | "deno";
  /** Connections served through the epoll set right now. */
  readonly epollConnections: number;
  /** Requests answered inside the epoll reactor's batch so far (see http/server/connection.ts). */
  readonly answeredInPlace: number;
  /** Read buffers held by connections right now (none for an idle connection). */
  readonly readBuffersLent: number;
  /**
   * Bytes of read buffers and slots held by connections right now (an idle connection on Deno's
   * ops waits on a small slot of a shared slab).
   */
  readonly readBytesHeld: number;
}
