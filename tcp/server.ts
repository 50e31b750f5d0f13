/**
 * The seeds' upper-case TCP echo server (seed 000 §一), with seed 001's plain echo (`--echo`),
 * seed 004's `q` and seed 000's "无并发效果" (`--sequential`) — and without their bugs.
 *
 *   deno task tcp:server                        # 127.0.0.1:8080, many clients at once
 *   deno run -A tcp/server.ts --port 0          # ephemeral port, printed on the first line
 *   deno task tcp:server --sequential --backlog 2   # one client at a time, like seed 000
 *   deno task tcp:server --unix /tmp/echo.sock  # AF_UNIX instead of TCP
 *   deno task tcp:server --once --reply 你好      # seed 002's one-shot server
 *
 * Poke it by hand: `nc 127.0.0.1 8080`, type `hello` → `HELLO`; a lone `q` (or Ctrl-D) ends the
 * session. Or `deno task tcp:client`.
 *
 * Seed 001's five server steps, in Deno terms: create + bind + listen are one call
 * (`Deno.listen`, which also sets SO_REUSEADDR and the listen backlog, `tcpBacklog`); accept is
 * `listener.accept()` (each connection is a new socket; the listening one stays open for the next
 * client — it is never closed inside the per-client loop); exchange is the read → upper-case →
 * write loop in `serveConnection`; close is `conn.close()` when the session ends.
 *
 * Theory of operation. The reply is a stream transform on bytes, exactly like seed 000's
 * `data.upper()` on `bytes`: whatever one read returned is upper-cased in place (ASCII a–z only,
 * so the length never changes and a UTF-8 character split between two reads cannot break — the
 * seeds' `recv(1024).decode()` crash cannot happen) and written back before the next read. That
 * "write, await, then read again" order is the backpressure: a client that never reads fills the
 * kernel buffers, our write waits, we stop reading, and the client's own writes block — memory
 * stays bounded. A 10 MB line without a newline is therefore simply streamed back in pieces.
 *
 * Memory: a pending read pins its buffer, so 10,000 idle connections with 64 KiB buffers would
 * cost over 600 MB. Each connection starts with a small buffer and borrows a large one from a
 * shared pool only while reads keep filling the small one (bulk traffic); it gives it back as soon
 * as a read is small again. What remains per idle connection is Deno's own cost (about 6 KB);
 * V8 grows its young generation by tens of MB while 10,000 connections are being set up, so
 * for that many clients run `deno run -A --v8-flags=--max-semi-space-size=2 tcp/server.ts`
 * (measured: peak RSS 110 MB instead of 134 MB; bulk throughput unchanged).
 *
 * A session ends on EOF, when one read is exactly `q` / `q\n` / `q\r\n` (seed 004; not echoed),
 * or on a connection error (RST, broken pipe), which ends only that session.
 *
 * `--reply TEXT` is seed 002's exchange instead of an echo: after the client's first read the
 * server logs it (like seed 001's 收到), writes TEXT, and half-closes (FIN: the reply is complete,
 * so `deno task tcp:client --message hello` or `nc -N` read it to EOF). It then discards what the
 * client still sends until the client closes — closing with unread bytes would make the kernel
 * send RST, which can destroy the reply before the client has read it. With `--once` the process
 * exits 0 after that one client (`nc -N 127.0.0.1 8080 <<< hello` prints 你好).
 */
import {
  CliError,
  formatAddr,
  interruptSignal,
  listeningLine,
  parseCli,
  parseCount,
  parsePort,
  runMain,
  UsageError,
} from "./kit/cli.ts";
import { createReporter, type Reporter } from "./kit/report.ts";
import { chunkView } from "./kit/explain.ts";
import { upperAsciiInPlace } from "./core/upper.ts";
import { writeAll } from "./core/io.ts";
import { ReadBufferPool } from "./core/read_buffers.ts";

export { ReadBufferPool };

const USAGE = `Usage: deno task tcp:server [--host HOST] [--port PORT | --unix PATH] [options]

The seeds' upper-case echo server: every byte a client sends comes back at once, a–z upper-cased.
  --host HOST      address to bind (default 127.0.0.1; ::1 for IPv6)
  --port PORT      TCP port, 0 = ephemeral (default 8080)
  --unix PATH      listen on a Unix domain socket instead of TCP
  --echo           plain echo, bytes unchanged (seed 001's echo server)
  --sequential     serve one client at a time; the others wait in the backlog (seed 000)
  --backlog N      listen backlog, the queue of not-yet-accepted connections (default 511)
  --once           serve one client, then exit 0
  --reply TEXT     seed 002's exchange: after each client's first read, log it (收到), send
                   TEXT, close; with --once the one-shot server (accept, recv, print, send 你好)
  --verbose        also log every chunk received (seed 001's 收到: …)
  --quiet          no per-client lines (the listening line is still printed)
  --json           newline-delimited JSON events instead of text
  --explain        narrate seed 001's server steps live and show every read and write (hexdump)
  -h, --help       show this help

A session ends on EOF or when one read is exactly "q" (seed 004). Ctrl-C closes every connection
and exits 0. --reply cannot be combined with --echo.`;

/** What the server does to each chunk: upper-case ASCII (seed 000) or echo it unchanged. */
export type EchoMode = "upper" | "echo";

/** Listen backlog Deno uses when `tcpBacklog` is not given (measured with `ss -ltn`: 511). */
export const DEFAULT_BACKLOG = 511;
/** The backlog Deno gives a Unix-domain listener (measured with `ss -lx`: 1024). */
export const UNIX_BACKLOG = 1024;

/** Every connection's first read buffer. Small, so idle connections do not pin much memory. */
export const SMALL_READ_SIZE = 512;
/** The read buffer a busy connection borrows while its reads keep filling the small one. */
export const LARGE_READ_SIZE = 256 * 1024;

const LOWER_Q = 0x71;
const LF = 0x0a;
const CR = 0x0d;

/** True when one read is exactly `q`, `q\n` or `q\r\n` — seed 004's "I am leaving". */
export function isQuitMessage(bytes: Uint8Array): boolean {
  switch (bytes.length) {
    case 1:
      return bytes[0] === LOWER_Q;
    case 2:
      return bytes[0] === LOWER_Q && bytes[1] === LF;
    case 3:
      return bytes[0] === LOWER_Q && bytes[1] === CR && bytes[2] === LF;
    default:
      return false;
  }
}

/** Why a session ended. */
export type EndReason = "eof" | "q" | "reset" | "broken pipe" | "server shutdown" | "error";

/** What one session did. */
export interface SessionSummary {
  reason: EndReason;
  /** Bytes received from the client (the `q` that ended it included). */
  bytesIn: number;
  /** Bytes written back. */
  bytesOut: number;
  /** The error message when `reason` is `error`. */
  detail?: string;
}

/** Options for `serveConnection` and `serveListener`. */
export interface EchoOptions {
  /** `upper` (default, seed 000) or `echo` (seed 001). */
  mode?: EchoMode;
  /** Large buffers to borrow from; one per server. */
  pool?: ReadBufferPool;
  /** Called with every chunk as it arrives (before it is transformed), e.g. for `--verbose`. */
  onData?: (chunk: Uint8Array) => void;
  /** Sees every read and write (for `--explain`); omitted, the loop does no extra work. */
  trace?: ConnectionTrace;
  /**
   * Seed 002's exchange instead of the echo: after the first read, write these bytes, half-close
   * and discard the rest of the client's data until it closes (see `replyOnce`).
   */
  reply?: Uint8Array;
}

/** Hooks that watch one connection's reads and writes (the chunk is only valid during the call). */
export interface ConnectionTrace {
  /** A read returned `chunk` (before it is upper-cased). */
  read(chunk: Uint8Array): void;
  /** `chunk` was written back in full. */
  wrote(chunk: Uint8Array): void;
}

/** Errors that mean "this one peer went away or we closed it", not a server bug. */
function classifyError(error: unknown): EndReason {
  if (error instanceof Deno.errors.ConnectionReset) return "reset";
  if (error instanceof Deno.errors.ConnectionAborted) return "reset";
  if (error instanceof Deno.errors.BrokenPipe) return "broken pipe";
  if (error instanceof Deno.errors.NotConnected) return "broken pipe";
  if (error instanceof Deno.errors.UnexpectedEof) return "eof";
  // Our own shutdown closed the connection under a pending read or write.
  if (error instanceof Deno.errors.BadResource) return "server shutdown";
  if (error instanceof Deno.errors.Interrupted) return "server shutdown";
  return "error";
}

/**
 * Serves one client until EOF, `q` or an error: every chunk read is upper-cased in place (or left
 * alone in echo mode) and written back in full before the next read. Never throws; closes `conn`.
 */
export async function serveConnection(
  conn: Deno.Conn,
  options: EchoOptions = {},
): Promise<SessionSummary> {
  if (options.reply !== undefined) return await replyOnce(conn, options.reply, options);
  const upper = (options.mode ?? "upper") === "upper";
  const pool = options.pool ?? new ReadBufferPool(LARGE_READ_SIZE);
  const onData = options.onData;
  const trace = options.trace;
  const small = new Uint8Array(SMALL_READ_SIZE);
  let buffer = small;
  let bytesIn = 0;
  let bytesOut = 0;
  let reason: EndReason = "eof";
  let detail: string | undefined;
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      bytesIn += n;
      const chunk = n === buffer.length ? buffer : buffer.subarray(0, n);
      if (trace !== undefined) trace.read(chunk);
      if (n <= 3 && isQuitMessage(chunk)) {
        reason = "q";
        break;
      }
      onData?.(chunk);
      if (upper) upperAsciiInPlace(chunk);
      // Loop over short writes without allocating a view for the common full write.
      let written = await conn.write(chunk);
      while (written < n) written += await conn.write(chunk.subarray(written));
      bytesOut += n;
      if (trace !== undefined) trace.wrote(chunk);
      // Grow while reads fill the buffer (bulk traffic), shrink back once they are small again.
      if (n === buffer.length && buffer === small) {
        buffer = pool.take();
      } else if (buffer !== small && n <= SMALL_READ_SIZE) {
        pool.give(buffer);
        buffer = small;
      }
    }
  } catch (error) {
    reason = classifyError(error);
    if (reason === "error") detail = error instanceof Error ? error.message : String(error);
  } finally {
    if (buffer !== small) pool.give(buffer);
    try {
      conn.close();
    } catch { /* already closed by shutdown */ }
  }
  return { reason, bytesIn, bytesOut, detail };
}

/**
 * What `replyOnce` still reads after its reply, waiting for the client's FIN, before it gives up
 * and closes anyway (a client that keeps sending would otherwise pin the session forever).
 */
export const REPLY_DRAIN_LIMIT = 1024 * 1024;

/**
 * Seed 002's server exchange on one connection: read once (the request; up to 64 KiB), write
 * `reply` in full, half-close (FIN), then read and discard until the client closes, so the close
 * is a clean FIN and not an RST that could destroy the reply in flight. Every chunk read is given
 * to `onData`/`trace` like the echo loop's. A lone `q` ends the session without a reply, as
 * everywhere. Never throws; closes `conn`.
 */
export async function replyOnce(
  conn: Deno.Conn,
  reply: Uint8Array,
  { onData, trace }: Pick<EchoOptions, "onData" | "trace"> = {},
): Promise<SessionSummary> {
  const buffer = new Uint8Array(64 * 1024);
  let bytesIn = 0;
  let bytesOut = 0;
  let reason: EndReason = "eof";
  let detail: string | undefined;
  try {
    const n = await conn.read(buffer);
    if (n !== null) {
      bytesIn += n;
      const request = buffer.subarray(0, n);
      trace?.read(request);
      if (isQuitMessage(request)) {
        reason = "q";
      } else {
        onData?.(request);
        await writeAll(conn, reply);
        bytesOut = reply.length;
        trace?.wrote(reply);
        await conn.closeWrite();
        // Drain until EOF: the reply is out, the client decides when it has read it.
        while (bytesIn - n < REPLY_DRAIN_LIMIT) {
          const more = await conn.read(buffer);
          if (more === null) break;
          bytesIn += more;
          const chunk = buffer.subarray(0, more);
          trace?.read(chunk);
          onData?.(chunk);
        }
      }
    }
  } catch (error) {
    reason = classifyError(error);
    if (reason === "error") detail = error instanceof Error ? error.message : String(error);
  } finally {
    try {
      conn.close();
    } catch { /* already closed by shutdown */ }
  }
  return { reason, bytesIn, bytesOut, detail };
}

/** Options for `serveListener`. */
export interface ServeOptions extends Omit<EchoOptions, "onData"> {
  /** Called with every chunk as it arrives, and who sent it (for `--verbose`). */
  onData?: (chunk: Uint8Array, peer: string) => void;
  /** One client at a time: the next is accepted only when the current session ends. */
  sequential?: boolean;
  /** Serve one client, then stop. */
  once?: boolean;
  /** Where connect/disconnect lines and per-connection errors go (default: nowhere). */
  reporter?: Reporter;
  /** Report every connect and disconnect (default true); errors are reported regardless. */
  logConnections?: boolean;
  /** Stops the server: closes the listener and every open connection. */
  signal?: AbortSignal;
}

/** How much of each chunk `--verbose` shows. */
const VERBOSE_PREVIEW_BYTES = 60;

/** Pause after a failed accept (e.g. out of file descriptors) so the loop does not spin. */
const ACCEPT_RETRY_MS = 50;

function peerName(conn: Deno.Conn): string {
  const addr = conn.remoteAddr;
  // A Unix client socket is usually unnamed.
  if ("path" in addr && !addr.path) return "unix:(unnamed)";
  return formatAddr(addr);
}

/**
 * Accepts clients on `listener` and serves each with `serveConnection` (concurrently, or one after
 * another with `sequential`) until `signal` fires or the listener is closed. Resolves once every
 * session has ended. The listener is closed on return.
 */
export async function serveListener(
  listener: Deno.Listener,
  options: ServeOptions = {},
): Promise<void> {
  const echo: EchoOptions = {
    mode: options.mode,
    pool: options.pool ?? new ReadBufferPool(LARGE_READ_SIZE),
    reply: options.reply,
  };
  const reporter = options.reporter;
  // Per-client lines cost a string and an event per connection; --quiet skips building them.
  const log = options.logConnections === false ? undefined : reporter;
  const onData = options.onData;
  // Built only under --explain: without it, sessions carry no trace and do no extra work.
  const explainer = reporter?.explaining
    ? new SessionNarrator(
      reporter,
      options.reply ? "reply" : options.mode ?? "upper",
      options.sequential ?? false,
    )
    : undefined;
  const open = new Set<Deno.Conn>();
  let active = 0;
  let drained: (() => void) | undefined;
  let nextId = 1;
  let stopping = false;

  const stop = () => {
    stopping = true;
    try {
      listener.close();
    } catch { /* already closed */ }
    for (const conn of open) {
      try {
        conn.close();
      } catch { /* already closed */ }
    }
  };
  options.signal?.addEventListener("abort", stop, { once: true });
  if (options.signal?.aborted) stop();

  // Kept lean on purpose: with 10,000 idle clients every object held per connection counts.
  async function session(conn: Deno.Conn): Promise<void> {
    const id = nextId++;
    open.add(conn);
    active++;
    if (log) {
      const peer = peerName(conn);
      log.info(`connected ${peer} (#${id})`, "connected", { id, peer });
    }
    const narrator = explainer?.accepted(conn, id);
    const summary = await serveConnection(
      conn,
      onData || narrator
        ? {
          ...echo,
          onData: onData ? (chunk) => onData(chunk, peerName(conn)) : undefined,
          trace: narrator,
        }
        : echo,
    );
    narrator?.closed(summary);
    open.delete(conn);
    active--;
    if (log || summary.reason === "error") {
      const peer = peerName(conn);
      const because = summary.detail ? `error: ${summary.detail}` : summary.reason;
      const text = `disconnected ${peer} (#${id}): ${because}, ` +
        `${summary.bytesIn} bytes in, ${summary.bytesOut} out`;
      const fields = { id, peer, ...summary };
      if (summary.reason === "error") reporter?.warn(text, "disconnected", fields);
      else log?.info(text, "disconnected", fields);
    }
    if (active === 0) drained?.();
  }

  try {
    while (!stopping) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (stopping || error instanceof Deno.errors.BadResource) break;
        reporter?.warn(`accept failed: ${(error as Error).message}`, "error");
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      if (options.sequential || options.once) {
        await session(conn);
        if (options.once) break;
      } else {
        session(conn);
      }
    }
  } finally {
    options.signal?.removeEventListener("abort", stop);
    stop();
    if (active > 0) await new Promise<void>((resolve) => drained = resolve);
  }
}

/** `1 byte`, `5 bytes`. */
function byteCount(n: number): string {
  return `${n} ${n === 1 ? "byte" : "bytes"}`;
}

/** How much of each read and write `--explain` dumps. */
const EXPLAIN_MAX_BYTES = 256;

/**
 * Seed 001's steps 4–6 told live under `--explain`: each accept, every read and write of each
 * session (numbered, with the stream offsets and a hexdump — N writes of the client come out as
 * M reads here), and the close.
 */
class SessionNarrator {
  constructor(
    readonly reporter: Reporter,
    readonly mode: EchoMode | "reply",
    readonly sequential: boolean,
  ) {}

  accepted(conn: Deno.Conn, id: number): ConnectionTrace & { closed(s: SessionSummary): void } {
    const reporter = this.reporter;
    const peer = peerName(conn);
    const local = formatAddr(conn.localAddr);
    reporter.explain(
      `step 4 accept: connection #${id} from ${peer} — accept() returned a new socket ` +
        `(local ${local}); the listening socket stays open for the next client` +
        (this.sequential
          ? " (--sequential: the next one waits in the backlog until this ends)"
          : ""),
      { step: "accept", id, peer, local },
    );
    let reads = 0;
    let writes = 0;
    let readOffset = 0;
    let writeOffset = 0;
    const range = (at: number, n: number) => n ? `stream bytes ${at}..${at + n - 1}` : "no bytes";
    const what = this.mode === "upper"
      ? "upper-cased"
      : this.mode === "echo"
      ? "unchanged"
      : "of the fixed --reply";
    return {
      read(chunk) {
        reads++;
        reporter.explain(
          chunkView(
            `step 5 exchange: read #${reads} on #${id} from ${peer}: ${byteCount(chunk.length)} ` +
              `(${range(readOffset, chunk.length)})`,
            chunk,
            { maxBytes: EXPLAIN_MAX_BYTES },
          ),
          { step: "exchange", direction: "read", id, peer, index: reads, bytes: chunk.length },
        );
        readOffset += chunk.length;
      },
      wrote(chunk) {
        writes++;
        reporter.explain(
          chunkView(
            `step 5 exchange: write #${writes} on #${id} to ${peer}: ${byteCount(chunk.length)} ` +
              `${what} (${range(writeOffset, chunk.length)})`,
            chunk,
            { maxBytes: EXPLAIN_MAX_BYTES },
          ),
          { step: "exchange", direction: "write", id, peer, index: writes, bytes: chunk.length },
        );
        writeOffset += chunk.length;
      },
      closed(summary) {
        const why = summary.reason === "q"
          ? `the client sent "q" as one read (seed 004)`
          : summary.reason === "eof"
          ? "the client closed (read returned EOF)"
          : summary.reason;
        reporter.explain(
          `step 6 close: connection #${id} (${peer}) closed: ${why}; ${reads} reads, ` +
            `${writes} writes (${summary.bytesIn} bytes in, ${summary.bytesOut} out) — ` +
            `however many writes the client made, TCP delivered them as these ${reads} reads`,
          { step: "close", id, peer, reads, writes, ...summary },
        );
      },
    };
  }
}

/**
 * Seed 001's steps 1–3 for a listener that is already bound: what `Deno.listen` did in one call,
 * with the real address and backlog. For `--explain`.
 */
export function describeListenSteps(
  requested: { hostname: string; port: number } | { path: string },
  addr: Deno.Addr,
  backlog = DEFAULT_BACKLOG,
): string[] {
  if ("path" in requested) {
    return [
      "step 1 create: socket(AF_UNIX, SOCK_STREAM) — a Unix-domain stream socket; " +
      "Deno.listen does steps 1–3 in one call",
      `step 2 bind: the path ${requested.path} (a file in the file system is the address)`,
      `step 3 listen: backlog ${UNIX_BACKLOG} — connections wait here until accept() takes ` +
      "them (Deno's fixed backlog for Unix sockets; --backlog applies to TCP only)",
    ];
  }
  const family = requested.hostname.includes(":") ? "AF_INET6" : "AF_INET";
  const asked = formatAddr({ transport: "tcp", ...requested });
  const got = formatAddr(addr);
  return [
    `step 1 create: socket(${family}, SOCK_STREAM) — a TCP socket; Deno.listen does steps 1–3 ` +
    "in one call",
    `step 2 bind: ${asked} → ${got}` +
    (requested.port === 0 ? " (port 0: the kernel picked a free port)" : "") +
    "; SO_REUSEADDR is already on, so a restart need not wait for old TIME_WAIT connections",
    `step 3 listen: backlog ${backlog} — up to ${backlog} connections the kernel has completed ` +
    "(three-way handshake done) wait here until accept() takes them",
  ];
}

/** Binds the listener the flags ask for: TCP on host:port, or a Unix socket on `path`. */
export function listenEcho(
  target: { hostname: string; port: number; backlog?: number } | { path: string },
): Deno.Listener {
  if ("path" in target) return Deno.listen({ transport: "unix", path: target.path });
  return Deno.listen({
    hostname: target.hostname,
    port: target.port,
    ...(target.backlog === undefined ? {} : { tcpBacklog: target.backlog }),
  });
}

/** `deno task tcp:server …`. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args, {
    host: { type: "string" },
    port: { type: "string" },
    unix: { type: "string" },
    echo: { type: "boolean" },
    sequential: { type: "boolean" },
    backlog: { type: "string" },
    once: { type: "boolean" },
    reply: { type: "string" },
    verbose: { type: "boolean" },
    quiet: { type: "boolean" },
    json: { type: "boolean" },
    explain: { type: "boolean" },
  });
  if (positionals.length) throw new UsageError(`Unexpected argument "${positionals[0]}"`);
  if (values.unix !== undefined && (values.host !== undefined || values.port !== undefined)) {
    throw new UsageError("--unix cannot be combined with --host or --port");
  }
  if (values.reply !== undefined && values.echo) {
    throw new UsageError("--reply cannot be combined with --echo");
  }
  if (values.unix === "") throw new UsageError(`Invalid --unix "": expected a socket path`);
  const port = parsePort(values.port, 8080);
  const backlog = values.backlog === undefined
    ? undefined
    : parseCount(values.backlog, 511, "--backlog", { min: 1, max: 65535 });
  const reporter = createReporter("tcp/server", {
    json: values.json,
    quiet: values.quiet,
    explain: values.explain,
  });

  const requested = values.unix !== undefined
    ? { path: values.unix }
    : { hostname: values.host ?? "127.0.0.1", port, backlog };
  const listener = bindOrExplain(requested);
  // The listening line is printed even with --quiet: tools and tests wait for it.
  const announce = createReporter("tcp/server", { json: values.json });
  announce.info(listeningLine(listener.addr), "listening", { address: formatAddr(listener.addr) });
  if (reporter.explaining) {
    const steps = ["create", "bind", "listen"];
    describeListenSteps(requested, listener.addr, backlog).forEach((line, i) =>
      reporter.explain(line, { step: steps[i], address: formatAddr(listener.addr) })
    );
  }

  const decoder = new TextDecoder();
  const preview = (chunk: Uint8Array) => {
    const text = decoder.decode(chunk.subarray(0, VERBOSE_PREVIEW_BYTES));
    return JSON.stringify(text) + (chunk.length > VERBOSE_PREVIEW_BYTES ? "…" : "");
  };
  using signal = interruptSignal();
  await serveListener(listener, {
    mode: values.echo ? "echo" : "upper",
    reply: values.reply === undefined ? undefined : new TextEncoder().encode(values.reply),
    sequential: values.sequential,
    once: values.once,
    reporter,
    logConnections: !values.quiet,
    signal,
    // Seed 002's server prints what it received; --reply does too, --verbose for every mode.
    onData: values.verbose || values.reply !== undefined
      ? (chunk, peer) =>
        reporter.info(
          `received ${chunk.length} bytes from ${peer}: ${preview(chunk)}`,
          "received",
          {
            peer,
            bytes: chunk.length,
          },
        )
      : undefined,
  });
  if (values.unix !== undefined) {
    try {
      Deno.removeSync(values.unix);
    } catch { /* someone else removed it */ }
  }
  if (signal.aborted) reporter.info("stopped", "log");
  reporter.explain("step 6 close: the listening socket is closed; the server has stopped", {
    step: "close",
  });
  return 0;
}

/** Deno.listen with the two common failures turned into one clear line. */
function bindOrExplain(
  target: { hostname: string; port: number; backlog?: number } | { path: string },
): Deno.Listener {
  try {
    return listenEcho(target);
  } catch (error) {
    const where = "path" in target
      ? `unix:${target.path}`
      : formatAddr({ transport: "tcp", hostname: target.hostname, port: target.port });
    if (error instanceof Deno.errors.AddrInUse) {
      throw new CliError(`Cannot listen on ${where}: address already in use`);
    }
    if (error instanceof Deno.errors.AddrNotAvailable) {
      throw new CliError(`Cannot listen on ${where}: address not available`);
    }
    throw error;
  }
}

if (import.meta.main) await runMain(USAGE, main);
