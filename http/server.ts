/**
 * A raw HTTP/1.1 server on `Deno.listen` — seed 003's "tcp应用 ---> http传输": the request and
 * response of the seed, parsed and written by netlab's own http/message.ts, serving the demo site
 * of seed 000's URL (`/linhaifeng/articles/6817679.html`). `Deno.serve` is the benchmark to beat,
 * never the implementation.
 *
 *   deno task http:server                              # http://127.0.0.1:8000/, site http/site/
 *   deno run -A http/server.ts --root DIR --port 0     # any directory, ephemeral port
 *   deno task http:server --upload /tmp/up --auth alice:secret --trace
 *   deno task http:server --explain --explain-header --cors --spa   # issue 7's instruments
 *
 * Poke it: `curl -v http://127.0.0.1:8000/`, `curl -I …` (HEAD), `curl -r 0-9 …` (Range),
 * `curl -d hello http://127.0.0.1:8000/echo`, `curl -X OPTIONS -i …`, or by hand:
 * `printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' | nc 127.0.0.1 8000`.
 *
 * Theory of operation. Each connection is one loop: read → feed the parser → answer every
 * complete request → write all the answers in one write → read again. Pipelined requests are
 * answered in order, and at most `REQUESTS_PER_TURN` per turn, so one busy connection cannot
 * starve the others; writing before reading more is the backpressure. On Linux the reads and
 * writes go through one epoll set with recv/send via FFI (tcp/epoll.ts, as nginx does; the
 * sockets are still Deno's, from `Deno.listen`), and a plain GET of a hot file that arrives
 * while its loop waits is answered synchronously inside the reactor's batch (`answerInPlace`):
 * no promise and no await per request. Elsewhere, or with `--no-epoll`, Deno's own ops do the
 * I/O, and under overload a `TurnGate` lets at most `ANSWERS_PER_TURN` connections answer per I/O
 * turn of the runtime and queues the rest first-come first-served (without it, at 1,000
 * connections some clients waited over a second while others were served in 1.5 ms — see
 * `TurnGate`; epoll's ready list is first come first served by itself). Small hot files come from
 * a validated in-memory cache (one `statSync` per hit); larger ones are streamed in bounded
 * pieces. A sweeper (one timer for the whole server) closes idle connections, connections whose
 * request head is not complete in time (slowloris), bodies that stop arriving or trickle in
 * below a minimum rate (408, see `bodyTooSlow`), and writes stuck behind a client that does
 * not read. A parse error is answered with its suggested status and the connection is closed
 * after draining what the client still sends (so the answer is not lost to a reset). A handler
 * that throws gives 500 for that request only; a file-system error of a lookup is a status
 * (404, 403, 414…), never a 500 with a stack. The server speaks only HTTP/1.1: a valid Upgrade
 * is ignored, as RFC 9110 §7.8 allows, and an invalid one is refused by the parser (400).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { setImmediate } from "node:timers";
import {
  CliError,
  formatAddr,
  interruptSignal,
  listenTcp,
  parseCli,
  parseCount,
  parsePort,
  runMain,
  UsageError,
} from "../tcp/kit/cli.ts";
import { concatBytes, writeAll } from "../tcp/core/io.ts";
import { FileShrankError, sendFileRange } from "../tcp/linux/sendfile.ts";
import { EpollReactor } from "../tcp/linux/epoll.ts";
import { createReporter, type Reporter } from "../tcp/kit/report.ts";
import { type HeaderList, HttpError, type HttpEvent, type RequestHead } from "./core/events.ts";
import { getHeader, listItems } from "./core/headers.ts";
import { RequestParser } from "./core/request_parser.ts";
import { formatResponseHead, joinHeadAndBody } from "./core/serialize.ts";
import { reasonPhrase } from "./core/status.ts";
import { encodeLatin1 } from "./core/syntax.ts";
import { describeHttp, explainHttp } from "./core/describe.ts";
import {
  BadPathError,
  type ByteRange,
  type DecodedPath,
  decodeRequestPath,
  errorCode,
  FileCache,
  type FileEntry,
  ifRangeMatches,
  isInside,
  lookupFile,
  notModified,
  parseRange,
} from "./server/static_files.ts";

const USAGE = `Usage: deno task http:server [--root DIR] [--host HOST] [--port PORT] [options]

A raw HTTP/1.1 server (static files and a few demo routes) built on Deno.listen.
  --root DIR              directory to serve (default: the demo site http/site/)
  --host HOST             address to bind (default 127.0.0.1)
  --port PORT             TCP port, 0 = ephemeral (default 8000)
  --upload DIR            allow PUT/DELETE under /upload/, stored in DIR
  --auth USER:PASS        credentials for /private/ (Basic auth)
  --trace                 answer TRACE with a message/http echo (off: cross-site tracing)
  --max-conns N           connections served at once; beyond: 503 (default 4096)
  --max-body BYTES        largest request body (default 16777216)
  --idle-timeout-ms MS    close a keep-alive connection idle this long (default 15000)
  --header-timeout-ms MS  close a connection whose request head takes longer (default 10000)
  --body-timeout-ms MS    close a connection whose request body stops arriving this long
                          (default 10000); after that long, the body must also average
  --body-min-rate BYTES   bytes per second at least, 0 = no minimum (default 1024)
  --test-routes           enable /__error (a handler that throws) for tests
  --spa                   single-page app: a missing path without an extension, asked for by
                          a client that accepts text/html, gets /index.html (200)
  --cors                  Access-Control-Allow-Origin: * and answers to CORS preflights
  --explain-header        add X-Netlab-Explain: which rule produced the status, which file
  --no-sendfile           stream large files through a buffer instead of sendfile(2) (which
                          Linux uses by default when FFI is allowed, as nginx's sendfile on)
  --no-epoll              read and write connections with Deno's own ops instead of one
                          epoll(7) set and recv/send through FFI (the default on Linux)
  --explain               print each request and response head, annotated field by field
  --quiet                 no access log (for benchmarks)
  --json                  log as newline-delimited JSON events (request and response)`;

/** Most requests answered per connection before its responses are written and others run. */
export const REQUESTS_PER_TURN = 32;
/** Read buffer per connection. */
const READ_BUFFER_BYTES = 16 * 1024;
/** Files larger than the cache limit are streamed in pieces of this size. */
const STREAM_CHUNK_BYTES = 256 * 1024;
/** After an error response: how long and how much we keep reading before closing. */
const LINGER_MS = 2000;
const LINGER_BYTES = 1024 * 1024;
/** Pieces at least this large are written on their own instead of being copied together. */
const JOIN_LIMIT_BYTES = 64 * 1024;
/**
 * Most connections that answer per I/O turn of the runtime once the server is saturated; the
 * rest wait in `TurnGate`'s queue. It must stay below 128, tokio's cooperative budget (see
 * `TurnGate`), with room for the reads that are still waiting from earlier turns.
 */
export const ANSWERS_PER_TURN = 96;
/** Released entries at the head of `TurnGate`'s queue before it is compacted. */
const COMPACT_AFTER = 1024;

/**
 * Fair scheduling of many connections on Deno's runtime.
 *
 * Why it exists: every pending `conn.read` is completed by one runtime task (deno_core's op
 * driver), and tokio lets one task complete at most 128 I/O operations per poll (its cooperative
 * budget). When more than 128 reads become ready in one reactor turn, the surplus is put back
 * and, as far as we can tell from the outside, lands behind the reads that become ready in the
 * next turn — so under steady overload the connections answered last turn (whose clients reply
 * at once) keep jumping the queue and the others starve. Measured with
 * a 20-line `Deno.listen` responder at 1,000 connections: median latency 1.5 ms, p99 1–2 s, and
 * 700 connections with a read pending over 500 ms while `ss` showed their requests sitting in the
 * socket; with `DENO_TOKIO_MAX_IO_EVENTS_PER_TICK` ≤ 128 the same program was perfectly fair
 * (p99 17 ms) and with 192 it was not — so the limit is the 128 budget, not the parser or wrk.
 *
 * What it does: a connection calls `enter()` after each read. While fewer than
 * `ANSWERS_PER_TURN` connections entered in the current event-loop iteration it goes on at once
 * (a light load never waits). Beyond that it queues, and queued connections are released
 * first-come first-served, `ANSWERS_PER_TURN` per *reactor* turn. That keeps the number of fresh
 * reads per turn under the budget, so the runtime also completes the old ones. A reactor turn is
 * detected with a self-connection on loopback: we write one byte to it and its read completes
 * only after the runtime polled the kernel for I/O again — timers (≥ 1 ms) were too slow and
 * `setImmediate` or `MessageChannel` turns do not wait for the reactor, so they did not help.
 */
class TurnGate {
  #entered = 0;
  #resetQueued = false;
  #queue: (() => void)[] = [];
  #queueHead = 0;
  #turnPending = false;
  #turn: Promise<void> | undefined;
  #ticker: Promise<Ticker | undefined> | undefined;
  #closed = false;

  constructor(readonly perTurn: number) {}

  /** Resolves when the caller may answer; `undefined` means "go on now" (no await needed). */
  enter(): Promise<void> | undefined {
    if (this.#closed) return undefined;
    if (this.#queueHead === this.#queue.length && this.#entered < this.perTurn) {
      this.#entered++;
      if (!this.#resetQueued) {
        this.#resetQueued = true;
        // The ungated count is per event-loop iteration: setImmediate runs once per iteration
        // and costs no system call, unlike the ticker.
        setImmediate(this.#resetCount);
      }
      return undefined;
    }
    const wait = new Promise<void>((resolve) => this.#queue.push(resolve));
    this.#armTurn();
    return wait;
  }

  /** Releases every waiter and closes the ticker. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#releaseAll();
    const ticker = await this.#ticker;
    ticker?.close();
    // Closing cancels the ticker's pending read; wait for it so no op outlives the server.
    await this.#turn;
  }

  #resetCount = () => {
    this.#resetQueued = false;
    this.#entered = 0;
  };

  #armTurn(): void {
    if (this.#turnPending || this.#closed) return;
    this.#turnPending = true;
    this.#ticker ??= openTicker();
    this.#turn = this.#ticker.then((ticker) => ticker ? ticker.nextTurn() : fallbackTurn()).then(
      this.#onTurn,
      () => {
        // A broken ticker (it should not happen on loopback): go on with timer turns.
        this.#ticker = Promise.resolve(undefined);
        this.#onTurn();
      },
    );
  }

  #onTurn = () => {
    this.#turnPending = false;
    if (this.#closed) return this.#releaseAll();
    let released = 0;
    while (released < this.perTurn && this.#queueHead < this.#queue.length) {
      this.#queue[this.#queueHead++]();
      released++;
    }
    if (this.#queueHead === this.#queue.length) {
      this.#queue = [];
      this.#queueHead = 0;
    } else {
      // Under steady overload the queue never drains, so the released head is dropped now and
      // then: without it the array (and every released resolver in it) grew for as long as the
      // load lasted — RSS +280 MB in 15 s of wrk at 1,000 connections.
      if (this.#queueHead >= COMPACT_AFTER) {
        this.#queue = this.#queue.slice(this.#queueHead);
        this.#queueHead = 0;
      }
      this.#armTurn();
    }
    this.#entered = released;
  };

  #releaseAll(): void {
    const waiting = this.#queue.slice(this.#queueHead);
    this.#queue = [];
    this.#queueHead = 0;
    for (const resolve of waiting) resolve();
  }
}

/** A loopback connection to ourselves: a read on it completes one reactor turn after a write. */
interface Ticker {
  nextTurn(): Promise<void>;
  close(): void;
}

const TICK = new Uint8Array([0x2e]);

async function openTicker(): Promise<Ticker | undefined> {
  let listener: Deno.Listener | undefined;
  let writer: Deno.TcpConn | undefined;
  try {
    listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    const connecting = Deno.connect({ hostname: "127.0.0.1", port });
    const reader = await listener.accept();
    writer = await connecting;
    writer.setNoDelay(true);
    const sink = new Uint8Array(64);
    const w = writer;
    return {
      async nextTurn() {
        await w.write(TICK);
        await reader.read(sink);
      },
      close() {
        for (const conn of [w, reader]) {
          try {
            conn.close();
          } catch { /* already closed */ }
        }
      },
    };
  } catch {
    // No loopback (e.g. a namespace without lo): timer turns are slower but still fair.
    writer?.close();
    return undefined;
  } finally {
    listener?.close();
  }
}

function fallbackTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

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
   * client leaves (see `streamBody`).
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
  /** Serve connections through tcp/epoll.ts when possible (default true). */
  epoll?: boolean;
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
  /** How connections are read and written: one epoll set (tcp/epoll.ts) or Deno's own ops. */
  readonly io: "epoll" | "deno";
  /** Connections served through the epoll set right now. */
  readonly epollConnections: number;
  /** Requests answered by the epoll reactor's synchronous path so far (see `answerInPlace`). */
  readonly answeredInPlace: number;
}

/** The part of a connection the loop uses: `Deno.Conn` or the epoll reactor's `EpollConn`. */
type StreamConn = Pick<
  Deno.Conn,
  "localAddr" | "remoteAddr" | "read" | "write" | "closeWrite" | "close"
>;

interface ConnState {
  /** How the connection is read and written: `socket` itself, or through the epoll reactor. */
  conn: StreamConn;
  /** Deno's connection (sendfile finds its descriptor). */
  socket: Deno.Conn;
  lastActive: number;
  /** When the first byte of a not-yet-complete request head arrived (0: none pending). */
  headStarted: number;
  /** When the current write started (0: not writing). */
  writingSince: number;
  /** When the current request's body was first awaited (0: no body pending). */
  bodyStarted: number;
  /** When the last body bytes arrived, and how many have arrived. */
  bodyLastAt: number;
  bodyBytes: number;
  /** A request is being handled (not idle). */
  busy: boolean;
  closed: boolean;
  /** Why the sweeper closed it. */
  timedOut?: "idle" | "header" | "body" | "write";
}

const encoder = new TextEncoder();

let dateSecond = -1;
let dateText = "";
/** The Date header value, recomputed once per second. */
function httpDate(now = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/** `[10/Oct/2000:13:55:36 +0000]` for the common log format. */
function clfDate(date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `[${p(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:${
    p(date.getUTCHours())
  }:${p(date.getUTCMinutes())}:${p(date.getUTCSeconds())} +0000]`;
}

function closeQuietly(state: ConnState): void {
  if (state.closed) return;
  state.closed = true;
  try {
    state.conn.close();
  } catch (error) {
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  }
}

/** Errors that mean "this connection is gone", not "the server is broken". */
function isConnectionGone(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.UnexpectedEof;
}

function sha256(text: string): Uint8Array {
  return createHash("sha256").update(text).digest();
}

/**
 * Serves HTTP on `listener` until `options.signal` aborts or `close()` is called. The listener
 * is owned by the server from now on (closed on stop).
 */
export async function serveHttp(
  listener: Deno.Listener,
  options: ServeOptions,
): Promise<HttpServer> {
  const realRoot = await Deno.realPath(options.root);
  const uploadRoot = options.uploadDir ? await Deno.realPath(options.uploadDir) : undefined;
  const maxConns = options.maxConns ?? 4096;
  const idleTimeoutMs = options.idleTimeoutMs ?? 15_000;
  const headerTimeoutMs = options.headerTimeoutMs ?? 10_000;
  const bodyTimeoutMs = options.bodyTimeoutMs ?? 10_000;
  const bodyMinRate = options.bodyMinRate ?? 1024;
  const maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;
  const reporter = options.reporter;
  const accessLog = reporter !== undefined && options.accessLog !== false;
  const requestEvents = reporter !== undefined && options.requestEvents === true;
  // The opt-in instruments (issue 7). Each is one boolean test where it applies, so the hot
  // path costs the same when they are off.
  const explainHeader = options.explainHeader === true;
  const cors = options.cors === true;
  const spa = options.spa === true;
  const explaining = reporter?.explaining === true;
  const cache = new FileCache(options.cacheRevalidateMs);
  /** Raw request paths already known to name a public file under the root → cache keys. */
  const hotPaths = new Map<string, string>();
  const active = new Set<ConnState>();
  const tasks = new Set<Promise<void>>();
  const gate = new TurnGate(ANSWERS_PER_TURN);
  const reactor = options.epoll ?? true ? EpollReactor.open() : null;
  let answeredInPlace = 0;
  const authDigest = options.auth
    ? sha256(`${options.auth.user}:${options.auth.password}`)
    : undefined;
  let stopping = false;

  // One timer for every deadline: cheaper than a timer per read, and it never blocks anyone.
  const sweepEvery = Math.max(
    50,
    Math.min(1000, Math.floor(Math.min(idleTimeoutMs, headerTimeoutMs, bodyTimeoutMs) / 4)),
  );
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const state of active) {
      if (state.writingSince && now - state.writingSince > idleTimeoutMs) {
        state.timedOut = "write";
      } else if (state.headStarted && now - state.headStarted > headerTimeoutMs) {
        state.timedOut = "header";
      } else if (state.bodyStarted && bodyTooSlow(state, now)) {
        state.timedOut = "body";
      } else if (!state.busy && !state.writingSince && now - state.lastActive > idleTimeoutMs) {
        state.timedOut = "idle";
      } else continue;
      if (state.timedOut === "header" || state.timedOut === "body") {
        // Tell the slow client why (best effort, never waiting on it), then hang up.
        const why = state.timedOut === "header"
          ? `Request Timeout: the request head took longer than ${headerTimeoutMs} ms\n`
          : `Request Timeout: the request body stopped arriving or came too slowly\n`;
        state.conn.write(encodeLatin1(errorHead(408, [], why))).catch(() => {}).finally(() =>
          closeQuietly(state)
        );
        state.headStarted = 0;
        state.bodyStarted = 0;
        active.delete(state);
      } else {
        closeQuietly(state);
      }
    }
  }, sweepEvery);

  /**
   * A body must keep arriving (as nginx's `client_body_timeout`): no pause longer than
   * `bodyTimeoutMs`, and after that grace period an average of at least `bodyMinRate` bytes/s
   * (as Apache's `RequestReadTimeout body=…,MinRate=…`), so a client trickling a byte now and
   * then cannot hold a connection — and with `maxConns` of them, the whole server — for ever.
   */
  function bodyTooSlow(state: ConnState, now: number): boolean {
    if (now - state.bodyLastAt > bodyTimeoutMs) return true;
    return bodyMinRate > 0 &&
      now - state.bodyStarted > bodyTimeoutMs + state.bodyBytes * 1000 / bodyMinRate;
  }

  function logAccess(
    remote: Deno.NetAddr,
    head: { method: string; target: string; version: string } | undefined,
    status: number,
    bytes: number,
    user = "-",
  ): void {
    if (!accessLog || !reporter) return;
    const line = head ? `"${head.method} ${head.target} HTTP/${head.version}"` : '"-"';
    reporter.info(
      `${remote.hostname} - ${user} ${clfDate()} ${line} ${status} ${bytes || "-"}`,
      "response",
      { remote: formatAddr(remote), method: head?.method, target: head?.target, status, bytes },
    );
  }

  function errorHead(status: number, extra: HeaderList = [], body = ""): string {
    return formatResponseHead(status, [
      ["Date", httpDate()],
      ["Server", "netlab"],
      ...extra,
      ["Content-Type", "text/plain; charset=utf-8"],
      ["Content-Length", String(encoder.encode(body).length)],
      ["Connection", "close"],
    ]) + body;
  }

  function allowFor(path: string): string {
    const trace = options.trace ? ", TRACE" : "";
    if (path === "/echo") return `POST, OPTIONS${trace}`;
    if (uploadRoot && (path === "/upload" || path.startsWith("/upload/"))) {
      return `GET, HEAD, PUT, DELETE, OPTIONS${trace}`;
    }
    return `GET, HEAD, OPTIONS${trace}`;
  }

  function text(status: number, message: string, headers: HeaderList = []): HttpResponse {
    return {
      status,
      headers: [["Content-Type", "text/plain; charset=utf-8"], ...headers],
      body: `${message}\n`,
    };
  }

  function authorized(request: HttpRequest): boolean {
    if (!authDigest) return false;
    const token = basicToken(getHeader(request.headers, "authorization"));
    if (token === undefined) return false;
    let decoded: string;
    try {
      decoded = new TextDecoder().decode(Uint8Array.from(atob(token), (c) => c.charCodeAt(0)));
    } catch {
      return false;
    }
    return timingSafeEqual(sha256(decoded), authDigest);
  }

  function userOf(request: HttpRequest): string {
    const token = basicToken(getHeader(request.headers, "authorization"));
    if (token === undefined) return "-";
    try {
      return atob(token).split(":")[0].replace(/[^\x21-\x7e]/g, "?") || "-";
    } catch {
      return "-";
    }
  }

  async function serveFile(
    request: HttpRequest,
    root: string,
    decoded: ReturnType<typeof decodeRequestPath>,
  ): Promise<HttpResponse> {
    const found = await lookupFile(root, decoded, request.path, cache);
    if (found.kind === "not-found") {
      if (spa && root === realRoot && acceptsSpaFallback(request, decoded)) {
        const index = await lookupFile(realRoot, INDEX_PATH, "/index.html", cache);
        if (index.kind === "file") {
          const response = fileResponse(request, index.entry);
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
    // Never for /private/: the fast path skips the auth check.
    const isPublic = root === realRoot && decoded.segments[0] !== "private";
    if (found.kind === "file" && isPublic && hotPaths.size < 10_000) {
      hotPaths.set(request.path, found.key);
    }
    if (found.kind === "redirect") {
      const location = found.location + (request.query ? `?${request.query}` : "");
      return because(
        text(301, `Moved Permanently: ${location}`, [["Location", location]]),
        `301: ${request.path} is a directory, so its URL ends with /`,
      );
    }
    return fileResponse(request, found.entry);
  }

  /** Sets `explain` for --explain-header (the routes that call it are off the hot file path). */
  function because(response: HttpResponse, why: string): HttpResponse {
    if (explainHeader) response.explain = why;
    return response;
  }

  /** The file an entry came from, as a path under its root (what X-Netlab-Explain names). */
  function servedPath(entry: FileEntry): string {
    if (entry.path.startsWith(realRoot)) return entry.path.slice(realRoot.length) || "/";
    if (uploadRoot && entry.path.startsWith(uploadRoot)) {
      return `/upload${entry.path.slice(uploadRoot.length)}`;
    }
    return entry.path;
  }

  /** Why `fileResponse` answered `status` for `entry` (only built with --explain-header). */
  function fileRule(request: HttpRequest, entry: FileEntry, status: number): string {
    const file = servedPath(entry);
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

  function fileResponse(request: HttpRequest, entry: FileEntry): HttpResponse {
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
      if (explainHeader) response.explain = fileRule(request, entry, 304);
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
      if (explainHeader) response.explain = fileRule(request, entry, 416);
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
    if (explainHeader) response.explain = fileRule(request, entry, status);
    return response;
  }

  async function upload(request: HttpRequest, segments: string[]): Promise<HttpResponse> {
    if (!uploadRoot || segments.length === 0) {
      return because(
        text(405, "Method Not Allowed", [["Allow", allowFor(request.path)]]),
        `405: ${request.method} needs --upload DIR and a file name under /upload/`,
      );
    }
    try {
      return await store(request, uploadRoot, segments);
    } catch (error) {
      // Any name can be asked for: what the file system refuses is an answer, not a crash.
      const code = errorCode(error);
      if (code === undefined) throw error;
      const status = UPLOAD_ERROR_STATUS[code] ?? 500;
      return because(
        text(status, reasonPhrase(status)),
        `${status}: ${request.method} ${request.path} failed (${code})`,
      );
    }
  }

  /** PUT or DELETE of `segments` under the upload directory (file-system errors are thrown). */
  async function store(
    request: HttpRequest,
    uploadRoot: string,
    segments: string[],
  ): Promise<HttpResponse> {
    const parent = await Deno.realPath(`${uploadRoot}/${segments.slice(0, -1).join("/")}`).catch(
      (error) => {
        if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
          return undefined;
        }
        throw error;
      },
    );
    if (!parent || !isInside(uploadRoot, parent)) {
      return because(text(409, "Conflict: no such directory"), `409: no such upload directory`);
    }
    const name = segments[segments.length - 1];
    const target = `${parent}/${name}`;
    const existing = await Deno.lstat(target).catch((error) => {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    });
    if (existing && !existing.isFile) {
      return because(text(409, "Conflict: not a regular file"), "409: not a regular file");
    }
    if (request.method === "DELETE") {
      if (!existing) return because(text(404, "Not Found"), `404: no upload ${request.path}`);
      await Deno.remove(target);
      return because({ status: 204 }, `204: DELETE removed ${request.path}`);
    }
    // Write beside the target and rename: readers see the old file or the new one, never half.
    // (The temporary name does not grow with the target's, so any name the system takes works.)
    const temp = `${parent}/.upload-${crypto.randomUUID()}.tmp`;
    try {
      await Deno.writeFile(temp, request.body, { createNew: true });
      await Deno.rename(temp, target);
    } catch (error) {
      await Deno.remove(temp).catch(() => {});
      throw error;
    }
    return existing ? because({ status: 204 }, `204: PUT replaced ${request.path}`) : because(
      text(201, "Created", [["Location", request.path]]),
      `201: PUT stored ${request.path}`,
    );
  }

  /**
   * The fast path: a GET/HEAD for a path already served from the cache is answered without a
   * promise. Everything else (and every first visit) goes through `route`.
   */
  function answer(request: HttpRequest): HttpResponse | Promise<HttpResponse> {
    if (!options.handler && (request.method === "GET" || request.method === "HEAD")) {
      const key = hotPaths.get(request.path);
      if (key !== undefined) {
        const entry = cache.get(key);
        if (entry) return fileResponse(request, entry);
        hotPaths.delete(request.path);
      }
    }
    return route(request);
  }

  /** The built-in routes. */
  async function route(request: HttpRequest): Promise<HttpResponse> {
    const { method, path } = request;
    if (options.handler) {
      const answer = await options.handler(request);
      if (answer) return answer;
    }
    if (method === "CONNECT") {
      return because(
        text(501, "Not Implemented: this is not a proxy"),
        "501: CONNECT (this server is not a proxy)",
      );
    }
    if (request.target === "*") {
      if (method === "OPTIONS") {
        return because(
          { status: 204, headers: [["Allow", allowFor("*")]] },
          "204: OPTIONS * lists the methods",
        );
      }
      return because(text(400, "Bad Request: * is only for OPTIONS"), "400: * is only for OPTIONS");
    }
    if (!path.startsWith("/")) {
      return because(
        text(400, "Bad Request: expected an origin-form target"),
        "400: not an origin-form target",
      );
    }
    let decoded;
    try {
      decoded = decodeRequestPath(path);
    } catch (error) {
      if (error instanceof BadPathError) {
        return because(text(400, `Bad Request: ${error.message}`), `400: ${error.message}`);
      }
      throw error;
    }
    if (method === "OPTIONS") {
      const preflight = cors ? corsPreflight(request) : undefined;
      if (preflight) return preflight;
      return because(
        { status: 204, headers: [["Allow", allowFor(path)]] },
        `204: OPTIONS lists the methods ${path} allows`,
      );
    }
    if (method === "TRACE") {
      if (!options.trace) {
        return because(
          text(405, "Method Not Allowed: TRACE is off (start with --trace)", [[
            "Allow",
            allowFor(path),
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
    if (path === "/echo") {
      if (method !== "POST") {
        return because(
          text(405, "Method Not Allowed", [["Allow", allowFor(path)]]),
          `405: /echo takes POST, not ${method}`,
        );
      }
      const type = getHeader(request.headers, "content-type") ?? "application/octet-stream";
      return because(
        { status: 200, headers: [["Content-Type", type]], body: request.body },
        "200: POST /echo returns the body",
      );
    }
    if (path === "/old") {
      return because(
        text(301, "Moved Permanently: /", [["Location", "/"]]),
        "301: /old moved to /",
      );
    }
    if (options.testRoutes && path === "/__error") {
      throw new Error("the /__error test route always throws");
    }
    const first = decoded.segments[0];
    if (first === "private") {
      if (!authDigest) {
        return because(
          text(403, "Forbidden: start the server with --auth USER:PASS"),
          "403: /private/ is closed (no --auth USER:PASS)",
        );
      }
      if (!authorized(request)) {
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
    }
    if (first === "upload" && (method === "PUT" || method === "DELETE")) {
      return await upload(request, decoded.segments.slice(1));
    }
    if (method !== "GET" && method !== "HEAD") {
      return because(
        text(405, "Method Not Allowed", [["Allow", allowFor(path)]]),
        `405: ${method} is not allowed on ${path}`,
      );
    }
    if (first === "upload" && uploadRoot) {
      return await serveFile(request, uploadRoot, {
        ...decoded,
        segments: decoded.segments.slice(1),
      });
    }
    return await serveFile(request, realRoot, decoded);
  }

  /** Serialises a response head (and in-memory body) for `head`'s connection. */
  function render(
    head: RequestHead,
    response: HttpResponse,
    keepAlive: boolean,
  ): Rendered {
    const status = response.status;
    let body: Uint8Array | undefined;
    let file: FileBody | undefined;
    let stream: ReadableStream<Uint8Array> | undefined;
    let bodyLength = 0;
    if (typeof response.body === "string") body = encoder.encode(response.body);
    else if (response.body instanceof Uint8Array) body = response.body;
    else if (response.body instanceof ReadableStream) {
      stream = response.body;
      keepAlive = false; // The body ends when the connection does (see `streamBody`).
    } else if (response.body) file = response.body;
    if (body) bodyLength = body.length;
    if (file) bodyLength = file.end - file.start + 1;
    if (response.bodyLength !== undefined) bodyLength = response.bodyLength;
    const noBody = status === 204 || status === 304 || status < 200;
    let fields = `Date: ${httpDate()}\r\nServer: netlab\r\n`;
    for (const [name, value] of response.headers ?? []) fields += `${name}: ${value}\r\n`;
    if (cors) fields += "Access-Control-Allow-Origin: *\r\n";
    if (explainHeader) {
      fields += `X-Netlab-Explain: ${fieldSafe(response.explain ?? "a request handler")}\r\n`;
    }
    if (stream) {
      // HTTP/1.0 has no chunks: its body simply ends with the connection.
      if (!noBody && head.version === "1.1") fields += "Transfer-Encoding: chunked\r\n";
    } else if (!noBody) fields += `Content-Length: ${bodyLength}\r\n`;
    if (!keepAlive) fields += "Connection: close\r\n";
    else if (head.version === "1.0") fields += "Connection: keep-alive\r\n";
    const headText = `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n${fields}\r\n`;
    const send = head.method !== "HEAD" && !noBody;
    if (stream && !send) stream.cancel().catch(() => {});
    return {
      bytes: joinHeadAndBody(headText, send ? body : undefined),
      bodyLength: send ? bodyLength : 0,
      file: send ? file : undefined,
      stream: send ? stream : undefined,
      chunked: head.version === "1.1",
    };
  }

  /** Whole 200 responses of cached files; `dateAt` is where the Date value starts. */
  const wireCache = new WeakMap<
    FileEntry,
    { date: string; dateAt: number; bytes: Uint8Array; size: number }
  >();

  /**
   * A repeat GET of a hot public file, answered from its cached wire bytes without building a
   * request or a response (the common case under load: ~4 µs less per request at 1,000
   * connections, much of it garbage collection). Undefined sends the request the general way:
   * anything conditional, ranged or authenticated. When the Date second has changed, the bytes
   * are copied with the new date right here: sending every connection that asked in that batch
   * down the general path at once gave a latency spike each second at 3,000 connections.
   */
  function hotWire(
    head: RequestHead,
    now: number,
  ): { bytes: Uint8Array; size: number } | undefined {
    if (options.handler || explainHeader || head.method !== "GET" || head.version !== "1.1") {
      return undefined;
    }
    for (const [name] of head.headers) if (NOT_HOT.has(name)) return undefined;
    const target = head.target;
    const q = target.indexOf("?");
    const key = hotPaths.get(q < 0 ? target : target.slice(0, q));
    const entry = key === undefined ? undefined : cache.get(key, now);
    const cached = entry && wireCache.get(entry);
    if (!cached) return undefined;
    const date = httpDate(now);
    if (cached.date === date) return cached;
    if (date.length !== cached.date.length) return undefined;
    // A copy: the old bytes may still be queued for a write.
    const bytes = cached.bytes.slice();
    for (let i = 0; i < date.length; i++) bytes[cached.dateAt + i] = date.charCodeAt(i);
    const fresh = { date, dateAt: cached.dateAt, bytes, size: cached.size };
    wireCache.set(entry!, fresh);
    return fresh;
  }

  function renderCached(
    head: RequestHead,
    response: HttpResponse,
    entry: FileEntry,
  ): Rendered {
    const date = httpDate();
    let wire = wireCache.get(entry);
    if (!wire || wire.date !== date) {
      const bytes = render(head, response, true).bytes;
      // render() writes the status line, then `Date: <value>` first of all fields.
      const dateAt = bytes.indexOf(0x0a) + 1 + "Date: ".length;
      wire = { date, dateAt, bytes, size: entry.size };
      wireCache.set(entry, wire);
    }
    return { bytes: wire.bytes, bodyLength: entry.size };
  }

  /**
   * A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method): the browser asks
   * before a cross-origin request that is not "simple". The answer lists what is allowed; the
   * browser compares and then sends (or blocks) the real request.
   */
  function corsPreflight(request: HttpRequest): HttpResponse | undefined {
    const origin = getHeader(request.headers, "origin");
    const wanted = getHeader(request.headers, "access-control-request-method");
    if (origin === undefined || wanted === undefined) return undefined;
    const headers: HeaderList = [
      ["Allow", allowFor(request.path)],
      ["Access-Control-Allow-Methods", allowFor(request.path)],
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

  /** Under --json: the request head as a `request` event (the access line is the `response`). */
  function reportRequest(remote: Deno.NetAddr, head: RequestHead): void {
    reporter?.info(`${head.method} ${head.target} HTTP/${head.version}`, "request", {
      remote: formatAddr(remote),
      method: head.method,
      target: head.target,
      version: head.version,
      headers: head.headers,
    });
  }

  /**
   * --explain, per request: the request as it came (head and body framing, from the bytes this
   * connection received) and the response head (with an in-memory body) as written.
   */
  function explainExchange(
    wire: RequestWire,
    remote: Deno.NetAddr,
    response: Uint8Array,
    method: string | undefined,
    streamed = false,
  ): void {
    const peer = formatAddr(remote);
    const request = wire.next();
    if (request) {
      reporter?.explain(
        explainHttp(request, { kind: "request", title: `HTTP request, from ${peer}` }),
        { direction: "request", remote: peer },
      );
    }
    const shown = streamed ? " (the file body follows, streamed)" : "";
    reporter?.explain(
      explainHttp(response, {
        kind: "response",
        requestMethod: method,
        partial: streamed,
        title: `HTTP response, ${response.length} bytes, to ${peer}${shown}`,
      }),
      { direction: "response", remote: peer, bytes: response.length },
    );
  }

  async function serveConnection(socket: Deno.Conn): Promise<void> {
    const remote = socket.remoteAddr as Deno.NetAddr;
    // Through the epoll set, reads need no turn gate: epoll's ready list is already fair.
    const attached = reactor?.attach(socket);
    const conn: StreamConn = attached ?? socket;
    const state: ConnState = {
      conn,
      socket,
      lastActive: Date.now(),
      headStarted: 0,
      writingSince: 0,
      bodyStarted: 0,
      bodyLastAt: 0,
      bodyBytes: 0,
      busy: false,
      closed: false,
    };
    active.add(state);
    const parser = new RequestParser({ maxBodyBytes });
    const readBuffer = new Uint8Array(READ_BUFFER_BYTES);
    let received = readBuffer.subarray(0, 0);
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;

    const flush = async () => {
      if (pending.length === 0) return;
      const pieces = pending;
      pending = [];
      state.writingSince = Date.now();
      if (pieces.length === 1 || pendingBytes > JOIN_LIMIT_BYTES && pieces.length < 3) {
        for (const piece of pieces) await writeAll(conn, piece);
      } else {
        await writeAll(conn, concatBytes(pieces, pendingBytes));
      }
      pendingBytes = 0;
      state.writingSince = 0;
      state.lastActive = Date.now();
    };
    const queue = (bytes: Uint8Array) => {
      pending.push(bytes);
      pendingBytes += bytes.length;
    };

    let head: RequestHead | undefined;
    let bodyParts: Uint8Array[] = [];
    let bodyBytes = 0;
    // --explain: the bytes this connection received, so each request can be shown as it came.
    const wire = explaining ? new RequestWire() : undefined;
    /** What the fast path parsed but left to the loop: an event, or the parse error it met. */
    let carried: HttpEvent<RequestHead> | HttpError | undefined;
    /** The fast path already fed the bytes of the read the loop is about to see. */
    let fed = false;

    /** Bookkeeping for `n` bytes just read into `readBuffer`, then the parser gets them. */
    const take = (n: number) => {
      state.lastActive = Date.now();
      if (!state.busy && !state.headStarted) state.headStarted = state.lastActive;
      // Requests on one connection tend to be the same size: reuse the view when n repeats.
      if (received.length !== n) received = readBuffer.subarray(0, n);
      if (wire) wire.add(received);
      parser.feed(received);
    };

    /** `parser.next()`, but a parse error is carried to the loop (undefined) instead of thrown. */
    const nextOrCarry = () => {
      try {
        return parser.next();
      } catch (error) {
        if (!(error instanceof HttpError)) throw error;
        carried = error;
        return undefined;
      }
    };

    /**
     * Queues the answers to buffered plain GETs of hot files, without awaiting anything; stops
     * at the first other event and carries it to the loop. True when the parser ran dry.
     */
    const answerHot = (): boolean => {
      for (let budget = REQUESTS_PER_TURN; budget > 0; budget--) {
        const event = nextOrCarry();
        if (event === undefined) return false;
        if (event === null) return true;
        const plain = event.kind === "request" && event.keepAlive && !stopping &&
          event.bodyKind === "none" && !event.expectContinue;
        const hot = plain ? hotWire(event, state.lastActive) : undefined;
        if (!hot || event.kind !== "request") {
          carried = event;
          return false;
        }
        head = event;
        if (requestEvents) reportRequest(remote, head);
        state.headStarted = 0;
        state.busy = true;
        const end = nextOrCarry(); // A request without a body ends right after its head.
        if (end === undefined) return false;
        if (end?.kind !== "end") {
          carried = end ?? undefined;
          return false;
        }
        queue(hot.bytes);
        if (accessLog) logAccess(remote, head, 200, hot.size);
        state.busy = false;
        answeredInPlace++;
      }
      return false; // Out of budget: the loop answers the rest in its own turns.
    };

    /**
     * The epoll reactor's synchronous path (tcp/epoll.ts `syncReader`): while the loop waits in
     * `read`, new bytes holding only hot GETs are answered right here, in the reactor's batch,
     * with no promise, no await and no wake-up of the loop — the common keep-alive request
     * costs a recv, the parser and a send. Anything else goes to the loop (false).
     */
    const answerInPlace = (into: Uint8Array, n: number): boolean => {
      if (into !== readBuffer) return false; // Not the loop's read (e.g. draining in linger).
      take(n);
      fed = true;
      if (!answerHot()) return false;
      if (pending.length) {
        const piece = pending.length === 1 ? pending[0] : concatBytes(pending, pendingBytes);
        pending.length = 0; // No flush holds it: the loop is waiting in read.
        pendingBytes = 0;
        const written = attached!.writeNow(piece);
        if (written < piece.length) {
          // The socket is full: the loop waits for room.
          queue(piece.subarray(written));
          return false;
        }
      }
      if (!parser.inMessage) state.headStarted = 0;
      fed = false;
      return true;
    };
    if (attached && !wire) attached.syncReader = answerInPlace;

    try {
      while (!state.closed) {
        let budget = REQUESTS_PER_TURN;
        let event;
        while (budget > 0) {
          try {
            if (carried instanceof HttpError) {
              const error = carried;
              carried = undefined;
              throw error;
            }
            event = carried ?? parser.next();
            carried = undefined;
          } catch (error) {
            if (!(error instanceof HttpError)) throw error;
            // The stream cannot be trusted past this point: answer, then close.
            const why: HeaderList = explainHeader
              ? [["X-Netlab-Explain", fieldSafe(`${error.status}: ${error.message}`)]]
              : [];
            const reply = encodeLatin1(errorHead(error.status, why, `${error.message}\n`));
            if (wire) explainExchange(wire, remote, reply, undefined);
            queue(reply);
            logAccess(remote, head, error.status, 0);
            await flush();
            await linger(state);
            return;
          }
          if (event === null) break;
          if (event.kind === "request") {
            head = event;
            if (requestEvents) reportRequest(remote, event);
            state.headStarted = 0;
            state.busy = true;
            if (bodyParts.length) bodyParts = [];
            bodyBytes = 0;
            if (event.expectContinue) {
              queue(encodeLatin1("HTTP/1.1 100 Continue\r\n\r\n"));
              await flush();
            }
            if (event.bodyKind !== "none") {
              // The body's deadlines run from now (after the 100 Continue that invites it).
              state.bodyStarted = state.bodyLastAt = event.expectContinue
                ? Date.now()
                : state.lastActive;
              state.bodyBytes = 0;
            }
          } else if (event.kind === "data") {
            bodyParts.push(event.data.slice());
            bodyBytes += event.data.length;
            state.bodyBytes = bodyBytes;
            state.bodyLastAt = state.lastActive;
          } else if (event.kind === "end" && head) {
            state.bodyStarted = 0;
            const keepAlive = head.keepAlive && !stopping;
            const hot = keepAlive && bodyBytes === 0 && !wire
              ? hotWire(head, state.lastActive)
              : undefined;
            if (hot) {
              queue(hot.bytes);
              if (accessLog) logAccess(remote, head, 200, hot.size);
              state.busy = false;
              budget--;
              continue;
            }
            const request = makeRequest(head, bodyParts, bodyBytes, remote);
            if (bodyParts.length) bodyParts = [];
            let response: HttpResponse;
            try {
              const pending = answer(request);
              response = pending instanceof Promise ? await pending : pending;
            } catch (error) {
              if (isConnectionGone(error)) throw error;
              const message = error instanceof Error ? error.message : String(error);
              reporter?.warn(
                `handler failed for ${head.method} ${head.target}: ${message}`,
                "error",
                { kind: "handler", method: head.method, target: head.target },
              );
              response = because(
                text(500, "Internal Server Error"),
                `500: the handler threw: ${message}`,
              );
            }
            const out = response.file && keepAlive && head.version === "1.1" &&
                head.method === "GET" && !explainHeader
              ? renderCached(head, response, response.file)
              : render(head, response, keepAlive);
            const streamed = out.file !== undefined || out.stream !== undefined;
            if (wire) explainExchange(wire, remote, out.bytes, head.method, streamed);
            queue(out.bytes);
            if (out.file) {
              await flush();
              await streamFile(state, out.file);
            }
            if (out.stream) {
              await flush();
              const sent = await streamBody(state, out.stream, out.chunked !== false);
              if (accessLog) logAccess(remote, head, response.status, sent, userOf(request));
              return; // `streamBody` ended the connection.
            }
            if (accessLog) {
              logAccess(remote, head, response.status, out.bodyLength, userOf(request));
            }
            state.busy = false;
            budget--;
            // A streamed body not sent (HEAD) still said Connection: close.
            if (!keepAlive || response.body instanceof ReadableStream) {
              await flush();
              await linger(state);
              return;
            }
          } else if (event.kind === "closed") {
            await flush();
            return;
          }
        }
        if (pending.length === 1) {
          // One response, the usual case: written right here, without another async layer, and
          // timed from its request's read instead of another clock reading.
          const piece = pending[0];
          pending.length = 0;
          pendingBytes = 0;
          state.writingSince = state.lastActive;
          // Through epoll the answer leaves synchronously, so the reactor's next socket waits
          // for no more than this one's turn.
          const written = attached ? attached.writeNow(piece) : await conn.write(piece);
          if (written < piece.length) await writeAll(conn, piece.subarray(written));
          state.writingSince = 0;
          state.lastActive = Date.now();
        } else if (pending.length) await flush();
        if (budget === 0) continue; // More complete requests may be buffered: next turn.
        // A request head is pending: its deadline runs from its first byte.
        if (!parser.inMessage) state.headStarted = 0;
        else if (!state.busy && !state.headStarted) state.headStarted = Date.now();
        const n = await conn.read(readBuffer);
        if (n === null) {
          parser.feedEof();
          continue;
        }
        if (fed) fed = false;
        else take(n);
        if (!attached) {
          const turn = gate.enter();
          if (turn) await turn;
        }
      }
    } catch (error) {
      if (!isConnectionGone(error)) {
        reporter?.warn(
          `connection ${formatAddr(remote)} failed: ${
            error instanceof Error ? error.message : String(error)
          }`,
          "error",
          { kind: "connection", remote: formatAddr(remote) },
        );
      }
    } finally {
      active.delete(state);
      closeQuietly(state);
    }
  }

  async function streamFile(state: ConnState, body: FileBody): Promise<void> {
    const length = body.end - body.start + 1;
    const shrank = () => new Error(`File "${body.path}" shrank while being sent`);
    if (options.zeroCopy ?? true) {
      // The kernel sends the file's pages itself (tcp/sendfile.ts), as nginx's `sendfile on`.
      state.writingSince = Date.now();
      try {
        const sent = await sendFileRange(state.socket, body.path, body.start, length, {
          closed: () => state.closed,
          progress: () => {
            state.writingSince = Date.now();
          },
        });
        if (sent) {
          state.lastActive = Date.now();
          return;
        }
      } catch (error) {
        throw error instanceof FileShrankError ? shrank() : error;
      } finally {
        state.writingSince = 0;
      }
    }
    using file = await Deno.open(body.path, { read: true });
    await file.seek(body.start, Deno.SeekMode.Start);
    const chunk = new Uint8Array(STREAM_CHUNK_BYTES);
    let left = length;
    while (left > 0) {
      const n = await file.read(chunk.subarray(0, Math.min(left, chunk.length)));
      if (n === null) throw shrank();
      state.writingSince = Date.now();
      await writeAll(state.conn, chunk.subarray(0, n));
      state.writingSince = 0;
      left -= n;
    }
    state.lastActive = Date.now();
  }

  /**
   * Writes a streamed body: each chunk as soon as the stream yields it (one HTTP/1.1 chunk, so
   * Server-Sent Events reach the client one by one), then the last chunk and a FIN. Meanwhile one
   * read watches the socket: the client closing it cancels the stream, so its producer stops
   * instead of writing into the void. Ends the connection; returns the body bytes sent.
   */
  async function streamBody(
    state: ConnState,
    body: ReadableStream<Uint8Array>,
    chunked: boolean,
  ): Promise<number> {
    const reader = body.getReader();
    let left = false;
    const watching = (async () => {
      // Nothing the client sends now means anything (the response says Connection: close).
      const sink = new Uint8Array(4096);
      let drained = 0;
      try {
        for (let n; drained < LINGER_BYTES && (n = await state.conn.read(sink)) !== null;) {
          drained += n;
        }
      } catch (error) {
        if (!isConnectionGone(error)) throw error;
      } finally {
        left = true;
        reader.cancel().catch(() => {});
      }
    })();
    let sent = 0;
    let complete = false;
    try {
      while (true) {
        const { done, value } = await reader.read();
        if (done || left || state.closed) break;
        if (value.length === 0) continue; // An empty chunk would end a chunked body.
        state.writingSince = Date.now();
        await writeAll(state.conn, chunked ? chunkFrame(value) : value);
        state.writingSince = 0;
        state.lastActive = Date.now();
        sent += value.length;
      }
      if (!left && !state.closed) {
        if (chunked) await writeAll(state.conn, LAST_CHUNK);
        await state.conn.closeWrite();
        complete = true;
      }
    } catch (error) {
      // The client left mid-write, or the producer failed: either way the body stops here.
      if (!isConnectionGone(error)) {
        reporter?.warn(`streamed body failed: ${(error as Error).message}`, "error", {
          kind: "stream",
        });
      }
    } finally {
      state.writingSince = 0;
      reader.cancel().catch(() => {});
      // After a complete body the client closes its end; give it a moment, as `linger` does.
      if (!complete) closeQuietly(state);
      const timer = setTimeout(() => closeQuietly(state), LINGER_MS);
      await watching.catch(() => {});
      clearTimeout(timer);
      closeQuietly(state);
    }
    return sent;
  }

  /** Half-close, then drain briefly so the client reads our answer instead of a reset. */
  async function linger(state: ConnState): Promise<void> {
    if (state.closed) return;
    try {
      await state.conn.closeWrite();
    } catch (error) {
      if (isConnectionGone(error)) return;
      throw error;
    }
    const deadline = Date.now() + LINGER_MS;
    state.headStarted = 0;
    state.bodyStarted = 0;
    state.busy = false;
    const sink = new Uint8Array(16 * 1024);
    let drained = 0;
    const timer = setTimeout(() => closeQuietly(state), LINGER_MS);
    try {
      while (drained < LINGER_BYTES && Date.now() < deadline) {
        const n = await state.conn.read(sink);
        if (n === null) break;
        drained += n;
      }
    } catch (error) {
      if (!isConnectionGone(error)) throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Beyond the connection cap: a 503 to whoever asked, without reading their request. */
  async function refuse(conn: Deno.Conn): Promise<void> {
    const state: ConnState = {
      conn,
      socket: conn,
      lastActive: Date.now(),
      headStarted: 0,
      writingSince: 0,
      bodyStarted: 0,
      bodyLastAt: 0,
      bodyBytes: 0,
      busy: true,
      closed: false,
    };
    try {
      await writeAll(
        conn,
        encodeLatin1(
          errorHead(
            503,
            [
              ["Retry-After", "1"],
              ...(explainHeader
                ? [["X-Netlab-Explain", `503: more than ${maxConns} connections`] as [
                  string,
                  string,
                ]]
                : []),
            ],
            "Service Unavailable: too many connections\n",
          ),
        ),
      );
      logAccess(conn.remoteAddr as Deno.NetAddr, undefined, 503, 0);
      await linger(state);
    } catch (error) {
      if (!isConnectionGone(error)) throw error;
    } finally {
      closeQuietly(state);
    }
  }

  function track(task: Promise<void>): void {
    tasks.add(task);
    task.catch((error) =>
      reporter?.warn(`connection task failed: ${(error as Error).message}`, "error")
    ).finally(() => tasks.delete(task));
  }

  const finished = (async () => {
    try {
      while (!stopping) {
        let conn: Deno.Conn;
        try {
          conn = await listener.accept();
        } catch (error) {
          if (stopping || error instanceof Deno.errors.BadResource) break;
          if (error instanceof Deno.errors.Interrupted) break;
          reporter?.warn(`accept failed: ${(error as Error).message}`, "error", { kind: "accept" });
          continue;
        }
        if ((conn as Deno.TcpConn).setNoDelay) {
          // Without it a pipelined batch waits for the peer's delayed ACK (Nagle).
          (conn as Deno.TcpConn).setNoDelay(true);
        }
        if (active.size >= maxConns) track(refuse(conn));
        else track(serveConnection(conn));
      }
    } finally {
      clearInterval(sweeper);
      for (const state of active) closeQuietly(state);
      await gate.close();
      while (tasks.size) await Promise.allSettled([...tasks]);
      await reactor?.close();
    }
  })();

  const close = async () => {
    if (!stopping) {
      stopping = true;
      try {
        listener.close();
      } catch (error) {
        if (!(error instanceof Deno.errors.BadResource)) throw error;
      }
    }
    await finished;
  };
  options.signal?.addEventListener("abort", () => void close(), { once: true });

  return {
    addr: listener.addr as Deno.NetAddr,
    finished,
    close,
    get connections() {
      return active.size;
    },
    io: reactor ? "epoll" : "deno",
    get epollConnections() {
      return reactor?.size ?? 0;
    },
    get answeredInPlace() {
      return answeredInPlace;
    },
    [Symbol.asyncDispose]: close,
  };
}

/** What `render` produced: the bytes to queue, and a body still to be sent after them. */
interface Rendered {
  bytes: Uint8Array;
  bodyLength: number;
  file?: FileBody;
  stream?: ReadableStream<Uint8Array>;
  /** A streamed body goes out in HTTP/1.1 chunks (HTTP/1.0: raw, ended by the close). */
  chunked?: boolean;
}

const CRLF = new Uint8Array([0x0d, 0x0a]);
const LAST_CHUNK = encoder.encode("0\r\n\r\n");

/** One HTTP/1.1 chunk: the size in hex, CRLF, the bytes, CRLF (RFC 9112 section 7.1). */
function chunkFrame(data: Uint8Array): Uint8Array {
  return concatBytes([encoder.encode(`${data.length.toString(16)}\r\n`), data, CRLF]);
}

/** Request fields that make a GET more than "the whole file, please" (see `hotWire`). */
const NOT_HOT = new Set([
  "if-none-match",
  "if-modified-since",
  "if-range",
  "range",
  "authorization",
]);

/** `/index.html`, decoded once for the --spa fallback. */
const INDEX_PATH: DecodedPath = { segments: ["index.html"], trailingSlash: false };

/** Statuses for a failed PUT or DELETE, by the file system's error code (else 500). */
const UPLOAD_ERROR_STATUS: Readonly<Record<string, number>> = {
  ENAMETOOLONG: 414,
  ENOENT: 409,
  ENOTDIR: 409,
  EISDIR: 409,
  ELOOP: 409,
  EEXIST: 409,
  EINVAL: 400,
  EACCES: 403,
  EPERM: 403,
  EROFS: 403,
  ENOSPC: 507,
  EDQUOT: 507,
  EFBIG: 413,
  EMFILE: 503,
  ENFILE: 503,
};

/**
 * The credentials of `Authorization: Basic <token68>` (RFC 7617), or undefined: a scan, not a
 * regex, since the value can be kilobytes long.
 */
function basicToken(value: string | undefined): string | undefined {
  if (value === undefined || value.length < 7) return undefined;
  if (value.slice(0, 5).toLowerCase() !== "basic") return undefined;
  let at = 5;
  const blank = (c: string) => c === " " || c === "\t";
  if (!blank(value[at])) return undefined;
  while (at < value.length && blank(value[at])) at++;
  const start = at;
  while (at < value.length && BASE64_CHAR.has(value[at])) at++;
  const end = at;
  while (at < value.length && blank(value[at])) at++;
  return end > start && at === value.length ? value.slice(start, end) : undefined;
}

const BASE64_CHAR = new Set(
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=",
);

/** A header value from text that may hold anything: printable ASCII kept, the rest %-encoded. */
function fieldSafe(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, (c) => encodeURIComponent(c));
}

/** Longest stretch of received bytes kept per connection for --explain. */
const EXPLAIN_WIRE_BYTES = 1024 * 1024;

/**
 * The bytes one connection received, for --explain: `next()` returns the next complete message
 * (found with `describeHttp`, which knows the framing) and drops it. Over the cap the record
 * stops (the views say so) instead of holding a big upload in memory twice.
 */
class RequestWire {
  #bytes = new Uint8Array(0);
  #overflow = false;

  add(chunk: Uint8Array): void {
    if (this.#overflow) return;
    if (this.#bytes.length + chunk.length > EXPLAIN_WIRE_BYTES) {
      this.#overflow = true;
      this.#bytes = new Uint8Array(0);
      return;
    }
    const grown = new Uint8Array(this.#bytes.length + chunk.length);
    grown.set(this.#bytes);
    grown.set(chunk, this.#bytes.length);
    this.#bytes = grown;
  }

  /** The next message's bytes (up to its end, or all there is when it is broken). */
  next(): Uint8Array | undefined {
    if (this.#overflow || this.#bytes.length === 0) return undefined;
    const described = describeHttp(this.#bytes, { kind: "request" });
    const end = described.end > 0 ? described.end : this.#bytes.length;
    const message = this.#bytes.subarray(0, end);
    this.#bytes = this.#bytes.slice(end);
    return message;
  }
}

function makeRequest(
  head: RequestHead,
  parts: Uint8Array[],
  total: number,
  remote: Deno.NetAddr,
): HttpRequest {
  let body: Uint8Array;
  if (parts.length === 1) body = parts[0];
  else {
    body = new Uint8Array(total);
    let at = 0;
    for (const part of parts) {
      body.set(part, at);
      at += part.length;
    }
  }
  let target = head.target;
  // absolute-form (`GET http://host/path`) is accepted: the path is what matters here.
  const absolute = target.charCodeAt(0) === 0x2f ? null : /^https?:\/\/[^/?#]*/i.exec(target);
  if (absolute) target = target.slice(absolute[0].length) || "/";
  const q = target.indexOf("?");
  return {
    head,
    method: head.method,
    target: head.target,
    path: q < 0 ? target : target.slice(0, q),
    query: q < 0 ? "" : target.slice(q + 1),
    headers: head.headers,
    body,
    remote,
  };
}

/** The bundled demo site. */
export const DEFAULT_ROOT = new URL("./site/", import.meta.url).pathname;

/** `deno task http:server …`. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args, {
    root: { type: "string" },
    host: { type: "string" },
    port: { type: "string" },
    upload: { type: "string" },
    auth: { type: "string" },
    trace: { type: "boolean" },
    "max-conns": { type: "string" },
    "max-body": { type: "string" },
    "idle-timeout-ms": { type: "string" },
    "header-timeout-ms": { type: "string" },
    "body-timeout-ms": { type: "string" },
    "body-min-rate": { type: "string" },
    "test-routes": { type: "boolean" },
    quiet: { type: "boolean" },
    json: { type: "boolean" },
    spa: { type: "boolean" },
    cors: { type: "boolean" },
    "explain-header": { type: "boolean" },
    explain: { type: "boolean" },
    "no-sendfile": { type: "boolean" },
    "no-epoll": { type: "boolean" },
  });
  if (positionals.length) throw new UsageError(`Unexpected argument "${positionals[0]}"`);
  const port = parsePort(values.port, 8000);
  const hostname = values.host ?? "127.0.0.1";
  const maxConns = parseCount(values["max-conns"], 4096, "--max-conns", { max: 1_000_000 });
  const maxBodyBytes = parseCount(values["max-body"], 16 * 1024 * 1024, "--max-body", {
    min: 0,
  });
  const idleTimeoutMs = parseCount(values["idle-timeout-ms"], 15_000, "--idle-timeout-ms");
  const headerTimeoutMs = parseCount(values["header-timeout-ms"], 10_000, "--header-timeout-ms");
  const bodyTimeoutMs = parseCount(values["body-timeout-ms"], 10_000, "--body-timeout-ms");
  const bodyMinRate = parseCount(values["body-min-rate"], 1024, "--body-min-rate", { min: 0 });
  let auth: ServeOptions["auth"];
  if (values.auth !== undefined) {
    const colon = values.auth.indexOf(":");
    if (colon <= 0) throw new UsageError(`Invalid --auth "${values.auth}": expected USER:PASS`);
    auth = { user: values.auth.slice(0, colon), password: values.auth.slice(colon + 1) };
  }
  const root = values.root ?? DEFAULT_ROOT;
  const rootInfo = await Deno.stat(root).catch(() => undefined);
  if (!rootInfo?.isDirectory) throw new CliError(`Cannot serve --root "${root}": not a directory`);
  if (values.upload !== undefined) await Deno.mkdir(values.upload, { recursive: true });

  const listener = listenTcp({ hostname, port, tcpBacklog: 4096 });
  const announce = createReporter("http/server", { json: values.json });
  announce.info(`listening on http://${formatAddr(listener.addr)}/`, "listening", {
    address: formatAddr(listener.addr),
    root,
  });
  using signal = interruptSignal();
  const server = await serveHttp(listener, {
    root,
    uploadDir: values.upload,
    auth,
    trace: values.trace,
    testRoutes: values["test-routes"],
    maxConns,
    maxBodyBytes,
    idleTimeoutMs,
    headerTimeoutMs,
    bodyTimeoutMs,
    bodyMinRate,
    reporter: createReporter("http/server", {
      json: values.json,
      quiet: values.quiet,
      explain: values.explain,
    }),
    accessLog: !values.quiet,
    requestEvents: values.json === true && !values.quiet,
    spa: values.spa,
    cors: values.cors,
    explainHeader: values["explain-header"],
    zeroCopy: !values["no-sendfile"],
    epoll: !values["no-epoll"],
    signal,
  });
  await server.finished;
  return 0;
}

if (import.meta.main) await runMain(USAGE, main);
