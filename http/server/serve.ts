/**
 * A running HTTP server's state around its accept loop (http/server.ts): the site it answers
 * from, the I/O backend its connections go through (chosen once), the connections being served,
 * their deadlines, the access log — and a stop that closes every connection and waits for them.
 */
import { acceptLoop, type AcceptOptions } from "../../tcp/core/accept.ts";
import { AfterWave } from "../../tcp/core/after_wave.ts";
import { isPeerGone } from "../../tcp/core/net_errors.ts";
import { ReadBufferPool } from "../../tcp/core/read_buffers.ts";
import {
  keepaliveFor,
  type KeepaliveTimers,
  limitUnsentBytes,
} from "../../tcp/core/socket_options.ts";
import { type IoBackend, openIoBackend } from "../../tcp/core/stream_io.ts";
import type { Reporter } from "../../tcp/kit/report.ts";
import { AccessLog } from "./access_log.ts";
import {
  Connection,
  type ConnectionHost,
  READ_SLOT_BYTES,
  SMALL_READ_BYTES,
} from "./connection.ts";
import { Deadlines } from "./deadlines.ts";
import { renderError } from "./response.ts";
import { openSite, type Site } from "./site.ts";
import type { HttpServer, ServeOptions } from "./types.ts";
import { onAbort } from "../../tcp/core/abort.ts";

/** Seconds of silence before TCP keepalive probes a connection (`--keepalive`). */
export const DEFAULT_KEEPALIVE_SECONDS = 30;
/** Idle connections closed per failed accept while descriptors are exhausted. */
const SHED_PER_PAUSE = 32;
/** How long a connection must have been quiet to be closed that way. */
const SHED_AFTER_MS = 100;
/** The large read buffers connections borrow while their reads fill the small ones. */
const LARGE_READ_BYTES = 16 * 1024;
/**
 * Most large read buffers lent at once (1 MiB): beyond, reads go on in small buffers, so a wave
 * of uploading clients costs a small buffer each, not 16 KiB each.
 */
export const LARGE_BUFFERS_MOST = 64;
/**
 * Most bytes a connection keeps queued in the kernel unsent (`limitUnsentBytes`): a client that
 * stops reading then holds this much kernel memory, not 4 MiB. Room to keep loopback and LAN
 * transfers at full speed: the socket asks for more as soon as less than this is left.
 */
export const UNSENT_LIMIT_BYTES = 128 * 1024;

/**
 * The kernel's keepalive timers for `seconds` of silence: then a probe every third of that (at
 * least 1 s), and 3 unanswered probes close the connection — a vanished peer is found in about
 * twice `seconds`.
 */
export function keepaliveTimers(seconds: number): KeepaliveTimers {
  return { idleSeconds: seconds, intervalSeconds: Math.max(1, Math.ceil(seconds / 3)), probes: 3 };
}

/** What `--explain` says about keepalive, once at start-up. */
export function keepaliveExplained(seconds: number): string {
  if (seconds === 0) {
    return "TCP keepalive: off (--keepalive 0): a peer that vanishes is noticed only by the idle timeout";
  }
  const t = keepaliveTimers(seconds);
  return `TCP keepalive (SO_KEEPALIVE, seed 004) on every connection: after ${t.idleSeconds} s of silence the kernel probes every ${t.intervalSeconds} s and closes the connection after ${t.probes} unanswered probes`;
}

/** The server's state (see the module comment); `ConnectionHost` is what connections read. */
export class HttpService implements ConnectionHost {
  /** The connections being served; each leaves when its `serve()` ends (`ended`). */
  readonly live = new Set<Connection>();
  /** Other work shutdown waits for (503s being sent). */
  readonly tasks = new Set<Promise<void>>();
  readonly slots = new ReadBufferPool(READ_SLOT_BYTES, { slabBytes: 256 * READ_SLOT_BYTES });
  readonly smallBuffers = new ReadBufferPool(SMALL_READ_BYTES);
  readonly buffers = new ReadBufferPool(LARGE_READ_BYTES, { most: LARGE_BUFFERS_MOST });
  readonly log: AccessLog;
  readonly reporter?: Reporter;
  readonly maxConns: number;
  readonly maxBodyBytes: number;
  readonly headerTimeoutMs: number;
  readonly zeroCopy: boolean;
  readonly keepalive?: KeepaliveTimers;
  /** Keepalive for one accepted connection (nothing to do where the listener passes it on). */
  readonly keepaliveConn: ((conn: Deno.Conn) => void) | undefined;
  readonly deadlines: Deadlines;
  /** Gives freed memory back after a wave of clients leaves (tcp/core/after_wave.ts). */
  readonly afterWave = new AfterWave();
  readonly #waveTimer: ReturnType<typeof setInterval>;
  stopping = false;
  answeredInPlace = 0;
  /** Called when the last connection has ended, while shutdown waits for that. */
  #lastEnded: (() => void) | undefined;

  private constructor(
    readonly listener: Deno.Listener,
    readonly site: Site,
    readonly io: IoBackend,
    options: ServeOptions,
  ) {
    this.reporter = options.reporter;
    this.log = new AccessLog(options.reporter, {
      lines: options.accessLog !== false,
      requests: options.requestEvents === true,
    });
    this.maxConns = options.maxConns ?? 4096;
    this.maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;
    this.headerTimeoutMs = options.headerTimeoutMs ?? 10_000;
    this.zeroCopy = options.zeroCopy ?? true;
    const keepaliveSeconds = options.keepaliveSeconds ?? DEFAULT_KEEPALIVE_SECONDS;
    if (keepaliveSeconds > 0) {
      this.keepalive = keepaliveTimers(keepaliveSeconds);
      this.keepaliveConn = keepaliveFor(listener, this.keepalive);
    }
    // Clients that stop reading a large answer hold little kernel memory (see the constant).
    limitUnsentBytes(listener, UNSENT_LIMIT_BYTES);
    this.deadlines = new Deadlines(this.live, {
      idleTimeoutMs: options.idleTimeoutMs ?? 15_000,
      headerTimeoutMs: this.headerTimeoutMs,
      bodyTimeoutMs: options.bodyTimeoutMs ?? 10_000,
      bodyMinRate: options.bodyMinRate ?? 1024,
    });
    this.#waveTimer = setInterval(() => this.afterWave.tick(this.live.size), 1000);
  }

  /** The state for serving `options` on `listener` (which the server owns from now on). */
  static async open(listener: Deno.Listener, options: ServeOptions): Promise<HttpService> {
    const site = await openSite(options, options.reporter?.explaining === true);
    return new HttpService(listener, site, openIoBackend({ epoll: options.epoll }), options);
  }

  /** Whether the connection cap is reached (the next client gets 503). */
  get full(): boolean {
    return this.live.size >= this.maxConns;
  }

  /**
   * TCP_NODELAY (a pipelined batch must not wait for a delayed ACK), and keepalive unless the
   * connection has it from the listener already.
   */
  tune(socket: Deno.Conn): void {
    if (!("setNoDelay" in socket)) return;
    const tcp = socket as Deno.TcpConn;
    tcp.setNoDelay(true);
    this.keepaliveConn?.(tcp);
  }

  /** Beyond the connection cap: a 503 to whoever asked, without reading their request. */
  async refuse(socket: Deno.Conn): Promise<void> {
    const explain: [string, string][] = this.site.explainHeader
      ? [["X-Netlab-Explain", `503: more than ${this.maxConns} connections`]]
      : [];
    const reply = renderError(
      503,
      [["Retry-After", "1"], ...explain],
      "Service Unavailable: too many connections\n",
    );
    await new Connection(this.io.attach(socket), this).turnAway(reply, 503);
  }

  /**
   * Out of descriptors, a new client waits behind connections that do nothing: closes up to
   * `count` idle ones (waiting for a request, none begun, quiet for `SHED_AFTER_MS` — a
   * connection accepted a moment ago may not have read its request yet), oldest first: what
   * nginx does with its keep-alive connections when it runs out. Returns how many it closed.
   */
  shedIdle(count: number): number {
    const quietSince = Date.now() - SHED_AFTER_MS;
    let closed = 0;
    for (const conn of this.live) {
      if (closed === count) break;
      if (conn.busy || conn.headStarted || conn.writingSince || conn.closed) continue;
      if (conn.lastActive > quietSince) continue;
      conn.close();
      closed++;
    }
    return closed;
  }

  /** A connection's `serve()` has ended (the connection closed itself). */
  ended(conn: Connection): void {
    this.live.delete(conn);
    if (this.live.size === 0) this.#lastEnded?.();
  }

  /** Keeps `task` until it settles (shutdown waits for it); a failure is reported. */
  track(task: Promise<void>): void {
    this.tasks.add(task);
    task.catch((error) =>
      this.reporter?.warn(`connection task failed: ${(error as Error).message}`, "error")
    ).finally(() => this.tasks.delete(task));
  }

  /**
   * `acceptLoop`'s hooks: one line when descriptors run out, one when they are back; meanwhile
   * every failed accept closes a few idle connections (see `shedIdle`).
   */
  get acceptReports(): AcceptOptions {
    const warn = (text: string) => this.reporter?.warn(text, "error", { kind: "accept" });
    let shed = 0;
    return {
      onExhausted: (error) =>
        warn(`accept failed: ${error.message}; pausing until descriptors free up`),
      onPause: () => shed += this.shedIdle(SHED_PER_PAUSE),
      onRecovered: (failures, pausedMs) => {
        const closed = shed ? ` (closed ${shed} idle connections)` : "";
        shed = 0;
        warn(`accepting again after ${failures} failed accepts in ${pausedMs} ms${closed}`);
      },
      onError: (error) => {
        if (!isPeerGone(error)) warn(`accept failed: ${error.message}`);
      },
    };
  }

  /** The running server, once `accepting` (the accept loop) is under way. */
  start(accepting: Promise<void>, signal?: AbortSignal): HttpServer {
    const finished = accepting.finally(() => this.#shutdown());
    const close = async () => {
      if (!this.stopping) {
        this.stopping = true;
        try {
          this.listener.close();
        } catch (error) {
          if (!(error instanceof Deno.errors.BadResource)) throw error;
        }
      }
      await finished;
    };
    onAbort(signal, () => void close());
    const { live, io, slots, smallBuffers, buffers } = this;
    const answeredInPlace = () => this.answeredInPlace;
    return {
      addr: this.listener.addr as Deno.NetAddr,
      finished,
      close,
      get connections() {
        return live.size;
      },
      io: io.name,
      get epollConnections() {
        return io.reactorSize;
      },
      get answeredInPlace() {
        return answeredInPlace();
      },
      get readBuffersLent() {
        return smallBuffers.lent + buffers.lent;
      },
      get readBytesHeld() {
        return slots.lent * slots.size + smallBuffers.lent * smallBuffers.size +
          buffers.lent * buffers.size;
      },
      [Symbol.asyncDispose]: close,
    };
  }

  /** After the accept loop: close every connection, wait for them, stop the backend. */
  async #shutdown(): Promise<void> {
    this.stopping = true;
    this.deadlines.stop();
    clearInterval(this.#waveTimer);
    if (this.live.size) {
      const allEnded = new Promise<void>((resolve) => this.#lastEnded = resolve);
      for (const conn of this.live) conn.close();
      await allEnded;
    }
    while (this.tasks.size) await Promise.allSettled([...this.tasks]);
    await this.io.close();
  }
}

/**
 * Serves HTTP on `listener` until `options.signal` aborts or `close()` is called: accept a
 * client, serve it, accept the next — each client on its own, concurrently. The listener is
 * owned by the server from now on (closed on stop).
 */
export async function serveHttp(
  listener: Deno.Listener,
  options: ServeOptions,
): Promise<HttpServer> {
  // The site, the I/O backend (epoll or Deno's ops, chosen once), the deadlines, the log.
  const server = await HttpService.open(listener, options);
  // Out of file descriptors, acceptLoop pauses instead of spinning (tcp/core/accept.ts).
  const accepting = acceptLoop(
    listener,
    (socket) => serveClient(server, socket),
    server.acceptReports,
  );
  return server.start(accepting, options.signal);
}

/** One client, start to end: tune its socket, then serve its requests until it leaves. */
function serveClient(server: HttpService, socket: Deno.Conn): void {
  server.tune(socket); // TCP_NODELAY (keepalive comes from the listening socket)
  if (server.full) return server.track(server.refuse(socket)); // 503 past --max-conns
  const conn = new Connection(server.io.attach(socket), server);
  server.live.add(conn);
  // read → parse → respond → flush until the connection ends; then it closes itself and tells
  // the server (`ended`). Never rejects, so nothing waits on it: an idle connection is one
  // suspended call, which keeps its memory small.
  void conn.serve();
}
