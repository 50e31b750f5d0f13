/**
 * One HTTP/1.1 connection, from its first byte to its close — h11's `http_serve` loop: take the
 * next step from the parser, answer it, flush, and read again when the parser needs more.
 *
 *   read ──► parser ──► step ─┬─ need data ──► flush all answers in one write ──► read
 *                             ├─ request ────► route ─► render ─► queue (file: stream it)
 *                             ├─ 100-continue ► send it, then read the body
 *                             ├─ invalid ────► error answer ─► linger ─► close
 *                             └─ closed ─────► flush ─► close
 *
 * `advance()` walks the parser synchronously: it records heads, collects bodies and answers
 * repeat GETs of hot files from the hot cache on the spot (hot_cache.ts); it stops at whatever
 * needs the loop (a request to route, an error, more bytes). Pipelined requests are answered in
 * order, at most `REQUESTS_PER_TURN` before the answers are written and others get a turn;
 * writing before reading more is the backpressure.
 *
 * On the epoll backend the same `advance()` also runs inside the reactor's batch (`syncReader`):
 * bytes that hold only hot GETs are answered right there — a recv, the parser and a send, with no
 * promise and no wake-up of the loop. Anything else is carried to the loop, which goes on from
 * exactly that step.
 *
 * Memory: read buffers are lent by the server's pools for one read at a time (`lendReadBuffer`)
 * and given back once the parser has what it needs; on the epoll backend a read asks for its
 * buffer only when bytes are there, so an idle connection holds none. Deno's ops pin the buffer
 * for the whole wait, so there a connection between requests waits on a `READ_SLOT_BYTES` slot
 * of a shared slab, and takes a buffer only for the reads of a request that did not fit. A large
 * buffer is lent only while reads keep filling the small ones, and only so many at once.
 */
import { concatBytes, writeAll } from "../../tcp/core/io.ts";
import { isPeerGone } from "../../tcp/core/net_errors.ts";
import type { ReadBufferPool } from "../../tcp/core/read_buffers.ts";
import type { BufferLender, StreamConn, SyncReader } from "../../tcp/core/stream_io.ts";
import { formatAddr } from "../../tcp/kit/cli.ts";
import type { Reporter } from "../../tcp/kit/report.ts";
import { HttpError, type RequestHead } from "../core/events.ts";
import { RequestParser } from "../core/request_parser.ts";
import type { AccessLog } from "./access_log.ts";
import { basicCredentials } from "./auth.ts";
import { streamBody } from "./body_stream.ts";
import { DISCARDED, LINGER_BYTES, LINGER_MS, type Overdue, type Timed } from "./deadlines.ts";
import { explainExchange, RequestWire } from "./explain.ts";
import {
  because,
  CONTINUE,
  fieldSafe,
  type Rendered,
  renderError,
  renderResponse,
  text,
} from "./response.ts";
import { route } from "./routes.ts";
import { sendFileRange } from "../../tcp/core/send_file.ts";
import type { Site } from "./site.ts";
import type { HttpRequest, HttpResponse } from "./types.ts";

/** Most requests answered per connection before its responses are written and others run. */
export const REQUESTS_PER_TURN = 32;
/**
 * Every connection's own read buffer: small, so idle connections pin little memory, yet a batch
 * of 16 pipelined GETs (~800 bytes from wrk) fits in one read — with 512 bytes each batch took
 * two reads and a copy of the partial request, and pipelined throughput fell by a third.
 */
export const SMALL_READ_BYTES = 1024;
/**
 * What a connection between requests waits on with Deno's ops, whose pending read pins its
 * buffer: a slot of a shared slab, room for a whole GET from curl or wrk. A longer request
 * continues in a small buffer.
 */
export const READ_SLOT_BYTES = 128;
/** Pieces at least this large are written on their own instead of being copied together. */
const JOIN_LIMIT_BYTES = 64 * 1024;

/** What a connection needs from its server. */
export interface ConnectionHost {
  readonly site: Site;
  readonly log: AccessLog;
  readonly reporter?: Reporter;
  readonly maxBodyBytes: number;
  /** For the 408's text. */
  readonly headerTimeoutMs: number;
  /** Stream large files with sendfile(2) when possible. */
  readonly zeroCopy: boolean;
  /**
   * Read buffers to borrow: slots for waits between requests on Deno's ops, small buffers, and
   * large ones (a bounded number) for reads that fill the small.
   */
  readonly slots: ReadBufferPool;
  readonly smallBuffers: ReadBufferPool;
  readonly buffers: ReadBufferPool;
  /** The server is shutting down: answer with `Connection: close`. */
  readonly stopping: boolean;
  /** Counts requests answered inside the epoll reactor's batch. */
  answeredInPlace: number;
  /** Called once `serve()` has ended and the connection is closed. */
  ended(conn: Connection): void;
}

/** What `advance()` stopped at. */
type Step =
  | { kind: "need-data" }
  | { kind: "yield" }
  | { kind: "continue" }
  | { kind: "request"; head: RequestHead }
  | { kind: "invalid"; error: HttpError }
  | { kind: "closed" };

const NEED_DATA: Step = { kind: "need-data" };
const YIELD: Step = { kind: "yield" };
const CONTINUE_STEP: Step = { kind: "continue" };
const CLOSED: Step = { kind: "closed" };
const NOTHING_RECEIVED = new Uint8Array(0);
/** No answers queued, no body parts: shared, never added to (a connection makes its own list). */
const NO_PIECES: Uint8Array[] = [];

/** One client connection and its request loop (see the module comment). */
export class Connection implements Timed, BufferLender, SyncReader {
  lastActive = Date.now();
  headStarted = 0;
  writingSince = 0;
  bodyStarted = 0;
  bodyLastAt = 0;
  bodyBytes = 0;
  busy = false;
  timedOut?: Overdue;
  closed = false;
  readonly remote: Deno.NetAddr;

  readonly #host: ConnectionHost;
  readonly #parser: RequestParser;
  /** The read buffer lent to this connection now, if any (see `lendReadBuffer`), and its pool. */
  #buffer: Uint8Array<ArrayBuffer> | undefined;
  #lentBy: ReadBufferPool | undefined;
  /** Whether the next buffer is to be a large one. */
  #large = false;
  /** A view of the last read's bytes, reused while reads have the same size. */
  #received: Uint8Array = NOTHING_RECEIVED;
  /** Answers queued for the next write. */
  #pending = NO_PIECES;
  #pendingBytes = 0;
  /** The request being read or answered (none between requests), and its body so far. */
  #head: RequestHead | undefined;
  #body = NO_PIECES;
  /** Requests answered since the last read. */
  #answered = 0;
  /** --explain: the bytes this connection received, so each request can be shown as it came. */
  readonly #wire: RequestWire | undefined;
  /** What the in-place path parsed but left to the loop. */
  #carried: Step | undefined;
  /** The in-place path already fed the bytes of the read the loop is about to see. */
  #fed = false;
  #inPlace = false;
  /** The byte count of the last read (it decides the next read's buffer). */
  #lastRead = 0;

  constructor(readonly io: StreamConn, host: ConnectionHost) {
    this.#host = host;
    this.remote = io.remoteAddr as Deno.NetAddr;
    this.#parser = new RequestParser({ maxBodyBytes: host.maxBodyBytes });
    this.#wire = host.reporter?.explaining ? new RequestWire() : undefined;
    if (!this.#wire) io.syncReader = this;
  }

  /**
   * Serves requests until the connection ends, then closes it and tells the host (`ended`).
   * Never rejects: what goes wrong is reported.
   */
  async serve(): Promise<void> {
    try {
      while (!this.closed) {
        const step = this.#carried ?? this.#advance();
        this.#carried = undefined;
        switch (step.kind) {
          case "need-data": {
            if (this.#pending.length) await this.#flush();
            this.#beforeRead();
            this.#afterRead(await this.io.readLent(this));
            break;
          }
          case "yield": // More complete requests may be buffered: write, then go on.
            await this.#flush();
            this.#answered = 0;
            break;
          case "continue":
            this.#queue(CONTINUE);
            await this.#flush();
            // The body's deadlines run from now (after the 100 Continue that invites it).
            if (this.#head?.bodyKind !== "none") this.bodyStarted = this.bodyLastAt = Date.now();
            break;
          case "request":
            if (!await this.#respond(step.head)) return;
            break;
          case "invalid":
            return await this.#refuse(step.error);
          case "closed":
            return await this.#flush();
        }
      }
    } catch (error) {
      if (!isPeerGone(error)) {
        const message = error instanceof Error ? error.message : String(error);
        this.#host.reporter?.warn(
          `connection ${formatAddr(this.remote)} failed: ${message}`,
          "error",
          { kind: "connection", remote: formatAddr(this.remote) },
        );
      }
    } finally {
      this.#giveBufferBack();
      this.close();
      this.#host.ended(this);
    }
  }

  /** Answers `reply` without reading a request (503 past the connection cap), then closes. */
  async turnAway(reply: Uint8Array, status: number): Promise<void> {
    this.busy = true;
    try {
      this.#queue(reply);
      await this.#flush();
      this.#host.log.response(this.remote, undefined, status, 0);
      await this.#linger();
    } catch (error) {
      if (!isPeerGone(error)) throw error;
    } finally {
      this.close();
    }
  }

  /** Closes the socket (once; later calls do nothing). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.io.close();
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  }

  /** Called by the sweeper (deadlines.ts): 408 for a slow head or body, else just close. */
  timeOut(why: Overdue): void {
    if (why !== "header" && why !== "body") return this.close();
    // Tell the slow client why (best effort, never waiting on it), then hang up.
    const message = why === "header"
      ? `Request Timeout: the request head took longer than ${this.#host.headerTimeoutMs} ms\n`
      : `Request Timeout: the request body stopped arriving or came too slowly\n`;
    this.headStarted = 0;
    this.bodyStarted = 0;
    this.io.write(renderError(408, [], message)).catch(() => {}).finally(() => this.close());
  }

  /**
   * Walks the parser as far as it goes without waiting: heads recorded, bodies collected, hot
   * GETs answered from the hot cache. Returns what the loop must do next.
   */
  #advance(): Step {
    while (true) {
      if (this.#answered >= REQUESTS_PER_TURN) return YIELD;
      let event;
      try {
        event = this.#parser.next();
      } catch (error) {
        if (!(error instanceof HttpError)) throw error;
        return { kind: "invalid", error };
      }
      if (event === null) return NEED_DATA;
      if (event.kind === "request") {
        this.#head = event;
        this.#host.log.request(this.remote, event);
        this.headStarted = 0;
        this.busy = true;
        this.#body = NO_PIECES;
        this.bodyBytes = 0;
        if (event.expectContinue) return CONTINUE_STEP;
        if (event.bodyKind !== "none") this.bodyStarted = this.bodyLastAt = this.lastActive;
      } else if (event.kind === "data") {
        this.#body = addPiece(this.#body, event.data.slice());
        this.bodyBytes += event.data.length;
        this.bodyLastAt = this.lastActive;
      } else if (event.kind === "end" && this.#head) {
        this.bodyStarted = 0;
        if (!this.#answerHot(this.#head)) return { kind: "request", head: this.#head };
        this.#head = undefined; // Answered.
      } else if (event.kind === "closed") {
        return CLOSED;
      }
    }
  }

  /** The one hot path: a repeat GET of a cached file, answered from its wire bytes. */
  #answerHot(head: RequestHead): boolean {
    if (!head.keepAlive || this.#host.stopping || this.bodyBytes !== 0) return false;
    const hot = this.#host.site.hot.answer(head, this.lastActive);
    if (!hot) return false;
    this.#queue(hot.bytes);
    this.#host.log.response(this.remote, head, 200, hot.size);
    this.busy = false;
    this.#answered++;
    if (this.#inPlace) this.#host.answeredInPlace++;
    return true;
  }

  /**
   * The epoll reactor's synchronous path (`StreamConn.syncReader`): while the loop waits in
   * `read`, new bytes are fed and `advance()`d right here. When everything they held was
   * answered, the answers are sent at once and the read stays pending (true); otherwise the
   * loop wakes up and goes on from the step carried over (false).
   */
  bytesArrived(into: Uint8Array, n: number): boolean {
    if (into !== this.#buffer) return false; // Not the loop's read (e.g. lingering).
    this.#take(n);
    this.#lastRead = n;
    this.#fed = true;
    this.#inPlace = true;
    let step;
    try {
      step = this.#advance();
    } finally {
      this.#inPlace = false;
    }
    if (step !== NEED_DATA) {
      this.#carried = step;
      return false;
    }
    if (this.#pending.length) {
      const piece = this.#joinPending();
      const written = this.io.writeNow(piece);
      if (written < piece.length) {
        // The socket is full: the loop waits for room.
        this.#queue(piece.subarray(written));
        return false;
      }
    }
    if (!this.#parser.inMessage) this.headStarted = 0;
    this.#answered = 0;
    this.#fed = false;
    this.#giveBufferBack(); // The parser copied what it keeps.
    return true;
  }

  /** Routes, renders and queues the answer to `head`; false when the connection is done. */
  async #respond(head: RequestHead): Promise<boolean> {
    const host = this.#host;
    const keepAlive = head.keepAlive && !host.stopping;
    const request = makeRequest(head, this.#body, this.bodyBytes, this.remote);
    this.#body = NO_PIECES;
    const response = await this.#answer(request);
    const out = response.file && keepAlive && head.version === "1.1" && head.method === "GET" &&
        !host.site.explainHeader
      ? host.site.hot.store(response.file, () => renderResponse(head, response, true, host.site))
      : renderResponse(head, response, keepAlive, host.site);
    if (this.#wire) {
      const streamed = out.file !== undefined || out.stream !== undefined;
      explainExchange(host.reporter!, this.#wire, this.remote, out.bytes, head.method, streamed);
    }
    this.#queue(out.bytes);
    const user = request.credentials?.logName;
    if (out.stream) {
      await this.#flush();
      const sent = await streamBody(this, out.stream, out.chunked !== false, host.reporter);
      host.log.response(this.remote, head, response.status, sent, user);
      return false; // `streamBody` ended the connection.
    }
    if (out.file) await this.#sendFile(out);
    host.log.response(this.remote, head, response.status, out.bodyLength, user);
    this.busy = false;
    this.#answered++;
    this.#head = undefined;
    // A streamed body not sent (HEAD) still said Connection: close.
    if (!keepAlive || response.body instanceof ReadableStream) {
      await this.#flush();
      await this.#linger();
      return false;
    }
    return true;
  }

  /** The routes' answer; a handler that throws is a 500 for this request only. */
  async #answer(request: HttpRequest): Promise<HttpResponse> {
    try {
      return await route(request, this.#host.site);
    } catch (error) {
      if (isPeerGone(error)) throw error;
      const message = error instanceof Error ? error.message : String(error);
      const head = request.head;
      this.#host.reporter?.warn(
        `handler failed for ${head.method} ${head.target}: ${message}`,
        "error",
        { kind: "handler", method: head.method, target: head.target },
      );
      return because(text(500, "Internal Server Error"), `500: the handler threw: ${message}`);
    }
  }

  /** Writes the queued head, then streams the file body (tcp/core/send_file.ts). */
  async #sendFile(out: Rendered): Promise<void> {
    await this.#flush();
    const body = out.file!;
    this.writingSince = Date.now();
    try {
      await sendFileRange(
        this.io.socket,
        { path: body.path, start: body.start, length: body.end - body.start + 1 },
        {
          writer: this.io,
          zeroCopy: this.#host.zeroCopy,
          onProgress: () => this.writingSince = Date.now(),
          closed: () => this.closed,
        },
      );
    } finally {
      this.writingSince = 0;
    }
    this.lastActive = Date.now();
  }

  /** A request the parser refused: its suggested status, then close (the stream is lost). */
  async #refuse(error: HttpError): Promise<void> {
    const host = this.#host;
    const why: [string, string][] = host.site.explainHeader
      ? [["X-Netlab-Explain", fieldSafe(`${error.status}: ${error.message}`)]]
      : [];
    const reply = renderError(error.status, why, `${error.message}\n`);
    if (this.#wire) explainExchange(host.reporter!, this.#wire, this.remote, reply, undefined);
    this.#queue(reply);
    host.log.response(this.remote, this.#head, error.status, 0);
    await this.#flush();
    await this.#linger();
  }

  /** Before a read: the head's deadline set, the last buffer given back. */
  #beforeRead(): void {
    // A request head is pending: its deadline runs from its first byte.
    if (!this.#parser.inMessage) this.headStarted = 0;
    else if (!this.busy && !this.headStarted) this.headStarted = Date.now();
    this.#answered = 0;
    // The parser asked for more bytes, so it holds nothing of the old buffer (it copies what it
    // keeps).
    this.#giveBufferBack();
  }

  /**
   * `BufferLender`: the buffer for the read about to happen, from the server's pools — a large
   * one while reads fill the small ones (a big request, a pipelined batch) and one is free; a
   * slot when the read waits with it (Deno's ops) for the next request.
   */
  lendReadBuffer(waiting = false): Uint8Array {
    if (this.#buffer) return this.#buffer;
    const host = this.#host;
    let pool = this.#large
      ? host.buffers
      : waiting && !this.#parser.inMessage
      ? host.slots
      : host.smallBuffers;
    let buffer = pool.tryTake();
    if (!buffer) {
      pool = host.smallBuffers;
      buffer = pool.take();
    }
    this.#lentBy = pool;
    this.#buffer = buffer;
    return buffer;
  }

  /** Feeds what a read returned to the parser (EOF included). */
  #afterRead(n: number | null): void {
    if (n === null) return this.#parser.feedEof();
    this.#lastRead = n;
    if (this.#fed) this.#fed = false;
    else this.#take(n);
  }

  /** Bookkeeping for `n` bytes just read into the buffer, then the parser gets them. */
  #take(n: number): void {
    this.lastActive = Date.now();
    if (!this.busy && !this.headStarted) this.headStarted = this.lastActive;
    const buffer = this.#buffer!;
    if (this.#received.length !== n || this.#received.buffer !== buffer.buffer) {
      this.#received = buffer.subarray(0, n);
    }
    this.#wire?.add(this.#received);
    this.#parser.feed(this.#received);
  }

  /**
   * Gives the lent buffer back, and picks the next one's size: large after a read that filled a
   * small buffer, small again once a read fits one.
   */
  #giveBufferBack(): void {
    const buffer = this.#buffer;
    const pool = this.#lentBy;
    if (!buffer || !pool) return;
    this.#buffer = undefined;
    this.#lentBy = undefined;
    this.#received = NOTHING_RECEIVED;
    const host = this.#host;
    this.#large = pool === host.buffers
      ? this.#lastRead > SMALL_READ_BYTES
      : pool === host.smallBuffers && this.#lastRead === buffer.length;
    pool.give(buffer);
  }

  #queue(bytes: Uint8Array): void {
    this.#pending = addPiece(this.#pending, bytes);
    this.#pendingBytes += bytes.length;
  }

  /** The queued answers as one piece (cleared from the queue). */
  #joinPending(): Uint8Array {
    const piece = this.#pending.length === 1
      ? this.#pending[0]
      : concatBytes(this.#pending, this.#pendingBytes);
    this.#pending = NO_PIECES;
    this.#pendingBytes = 0;
    return piece;
  }

  /** Writes every queued answer: one write when they are small, each on its own when big. */
  async #flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    this.writingSince = this.lastActive;
    if (this.#pending.length > 2 || this.#pendingBytes <= JOIN_LIMIT_BYTES) {
      const piece = this.#joinPending();
      // Through epoll the answer leaves synchronously, so the reactor's next socket waits for
      // no more than this one's turn; a full socket (or Deno's ops) waits in `write`.
      const written = this.io.writeNow(piece);
      if (written < piece.length) await writeAll(this.io, piece.subarray(written));
    } else {
      const pieces = this.#pending;
      this.#pending = NO_PIECES;
      this.#pendingBytes = 0;
      for (const piece of pieces) await writeAll(this.io, piece);
    }
    this.writingSince = 0;
    this.lastActive = Date.now();
  }

  /** Half-close, then drain briefly so the client reads our answer instead of a reset. */
  async #linger(): Promise<void> {
    if (this.closed) return;
    try {
      await this.io.closeWrite();
    } catch (error) {
      if (isPeerGone(error)) return;
      throw error;
    }
    const deadline = Date.now() + LINGER_MS;
    this.headStarted = 0;
    this.bodyStarted = 0;
    this.busy = false;
    let drained = 0;
    const timer = setTimeout(() => this.close(), LINGER_MS);
    try {
      while (drained < LINGER_BYTES && Date.now() < deadline) {
        const n = await this.io.read(DISCARDED);
        if (n === null) break;
        drained += n;
      }
    } catch (error) {
      if (!isPeerGone(error)) throw error;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** `pieces` with `piece` added: a new list in place of the shared empty one. */
function addPiece(pieces: Uint8Array[], piece: Uint8Array): Uint8Array[] {
  if (pieces === NO_PIECES) return [piece];
  pieces.push(piece);
  return pieces;
}

/** The request handlers see, from its head and body parts. */
function makeRequest(
  head: RequestHead,
  parts: Uint8Array[],
  total: number,
  remote: Deno.NetAddr,
): HttpRequest {
  const body = parts.length === 1 ? parts[0] : concatBytes(parts, total);
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
    credentials: basicCredentials(head.headers),
  };
}
