/**
 * The seeds' upper-case TCP echo server (seed 000 §一): every byte a client sends comes back at
 * once, a–z upper-cased — with seed 001's plain echo (`--echo`), seed 004's `q` and keepalive,
 * and seed 000's "无并发效果" (`--sequential`), without their bugs.
 *
 *   deno task tcp:server                        # 127.0.0.1:8080, many clients at once
 *   deno run -A tcp/server.ts --port 0          # ephemeral port, printed on the first line
 *   deno task tcp:server --sequential --backlog 2   # one client at a time, like seed 000
 *   deno task tcp:server --unix /tmp/echo.sock  # AF_UNIX instead of TCP
 *   deno task tcp:server --once --reply 你好      # seed 002's one-shot server
 *
 * Poke it by hand: `nc 127.0.0.1 8080`, type `hello` → `HELLO`; a lone `q` (or Ctrl-D) ends the
 * session. Or `deno task tcp:client`. How it works (backpressure, buffers, keepalive, running out
 * of descriptors): tcp/README.md.
 */
import {
  CliError,
  formatAddr,
  interruptSignal,
  listeningLine,
  parseCli,
  parseCount,
  parsePort,
  resolveHostArgument,
  runMain,
  UsageError,
  userPath,
} from "./kit/cli.ts";
import { createReporter, type Reporter } from "./kit/report.ts";
import { acceptReports } from "./kit/accept_report.ts";
import { acceptLoop } from "./core/accept.ts";
import {
  describeSessionEnd,
  type EchoMode,
  type EchoOptions,
  LARGE_READ_SIZE,
  ReadBufferPool,
  serveConnection,
  type SessionSummary,
} from "./core/echo.ts";
import {
  DEFAULT_KEEPALIVE_SECONDS,
  KEEPALIVE_PROBES,
  keepaliveFor,
  type KeepaliveTimers,
  keepaliveTimers,
  MAX_KEEPALIVE_SECONDS,
} from "./core/socket_options.ts";
import { closeQuietly } from "./core/io.ts";
import { acceptQueueLength, tcpTableAvailable } from "./core/tcp_table.ts";
import {
  DEFAULT_BACKLOG,
  describeKeepalive,
  describeListenSteps,
  peerName,
  SessionNarrator,
} from "./kit/echo_explain.ts";
import { onAbort } from "./core/abort.ts";

/**
 * The server: accept a client, serve it until it leaves, close it — for every client, until
 * `signal` fires (Ctrl-C), which closes the listener and every open connection. Resolves once
 * every session has ended.
 */
export async function serveListener(
  listener: Deno.Listener,
  options: EchoServerOptions = {},
): Promise<void> {
  const { reporter, signal, keepalive } = options;
  const echo: EchoOptions = {
    mode: options.mode,
    pool: options.pool ?? new ReadBufferPool(LARGE_READ_SIZE),
  };
  if (options.reply) echo.reply = options.reply;
  // Per-client lines cost a string and an event per connection; --quiet skips building them.
  const log = options.logConnections === false ? undefined : reporter;
  const narrator = reporter?.explaining ? narratorFor(reporter, options) : undefined;
  // Seed 004's keepalive: set once on the listener where connections inherit it.
  const keepAlive = keepalive && listener.addr.transport === "tcp"
    ? keepaliveFor(listener, keepalive)
    : undefined;
  // One client at a time: the others wait in the kernel's accept queue, shown at each accept.
  const queuePort = options.sequential && options.logConnections !== false
    ? acceptQueuePort(listener, reporter)
    : undefined;
  const open = new Set<Deno.Conn>();
  let nextId = 1;
  let allEnded: (() => void) | undefined;

  // One client. Kept lean: with 10,000 idle clients every object held per connection counts.
  async function session(conn: Deno.Conn): Promise<void> {
    const id = nextId++;
    open.add(conn);
    keepAlive?.(conn);
    log?.info(`connected ${peerName(conn)} (#${id})`, "connected", { id, peer: peerName(conn) });
    if (queuePort !== undefined) reportAcceptQueue(log, queuePort, id);
    const trace = narrator?.accepted(conn, id);
    const summary = await serveConnection(conn, withHooks(echo, conn, options.onData, trace));
    trace?.closed(summary);
    open.delete(conn);
    if (log || summary.reason === "error") reportEnd(reporter, log, conn, id, summary);
    if (open.size === 0) allEnded?.();
  }

  const stop = () => {
    closeQuietly(listener);
    for (const conn of open) closeQuietly(conn);
  };
  onAbort(signal, stop);
  if (signal?.aborted) stop();
  try {
    await acceptLoop(listener, session, {
      sequential: options.sequential,
      once: options.once,
      ...acceptReports(reporter),
    });
  } finally {
    signal?.removeEventListener("abort", stop);
    stop();
    if (open.size > 0) await new Promise<void>((resolve) => allEnded = resolve);
  }
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
    keepalive: { type: "string" },
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
    : parseCount(values.backlog, DEFAULT_BACKLOG, "--backlog", { min: 1, max: 65535 });
  const keepalive = keepaliveTimers(
    parseCount(values.keepalive, DEFAULT_KEEPALIVE_SECONDS, "--keepalive", {
      min: 0,
      max: MAX_KEEPALIVE_SECONDS,
    }),
  );
  const reporter = createReporter("tcp/server", {
    json: values.json,
    quiet: values.quiet,
    explain: values.explain,
  });

  // A socket path is taken from where the user ran `deno task`.
  const unixPath = values.unix === undefined ? undefined : userPath(values.unix);
  const requested = unixPath !== undefined
    ? { path: unixPath }
    : { hostname: await resolveHostArgument(values.host ?? "127.0.0.1"), port, backlog };
  // Ctrl-C is caught from before the listening line on, so a quick one still cleans up.
  using signal = interruptSignal();
  const listener = bindOrExplain(requested);
  // The listening line is printed even with --quiet: tools and tests wait for it.
  const announce = createReporter("tcp/server", { json: values.json });
  announce.info(listeningLine(listener.addr), "listening", { address: formatAddr(listener.addr) });
  if (reporter.explaining) {
    const steps = ["create", "bind", "listen"];
    describeListenSteps(requested, listener.addr, backlog).forEach((line, i) =>
      reporter.explain(line, { step: steps[i], address: formatAddr(listener.addr) })
    );
    if (!("path" in requested)) {
      reporter.explain(describeKeepalive(keepalive), { step: "keepalive", ...keepalive });
    }
  }

  await serveListener(listener, {
    mode: values.echo ? "echo" : "upper",
    reply: values.reply === undefined ? undefined : new TextEncoder().encode(values.reply),
    sequential: values.sequential,
    once: values.once,
    keepalive,
    reporter,
    logConnections: !values.quiet,
    signal,
    // Seed 002's server prints what it received; --reply does too, --verbose for every mode.
    onData: values.verbose || values.reply !== undefined ? receivedLine(reporter) : undefined,
  });
  if (unixPath !== undefined) {
    try {
      Deno.removeSync(unixPath);
    } catch { /* someone else removed it */ }
  }
  if (signal.aborted) reporter.info("stopped", "log");
  reporter.explain("step 6 close: the listening socket is closed; the server has stopped", {
    step: "close",
  });
  return 0;
}

/** Options for `serveListener`. */
export interface EchoServerOptions {
  /** `upper` (default, seed 000) or `echo` (seed 001). */
  mode?: EchoMode;
  /** Large read buffers shared by the connections (one per server). */
  pool?: ReadBufferPool;
  /** Seed 002's exchange instead of the echo (see `replyOnce` in tcp/core/echo.ts). */
  reply?: Uint8Array;
  /** Called with every chunk as it arrives, and who sent it (for `--verbose`). */
  onData?: (chunk: Uint8Array, peer: string) => void;
  /** One client at a time: the next is accepted only when the current session ends. */
  sequential?: boolean;
  /** Serve one client, then stop. */
  once?: boolean;
  /** TCP keepalive timers for every accepted TCP connection; omitted: no keepalive. */
  keepalive?: KeepaliveTimers;
  /** Where connect/disconnect lines and per-connection errors go (default: nowhere). */
  reporter?: Reporter;
  /** Report every connect and disconnect (default true); errors are reported regardless. */
  logConnections?: boolean;
  /** Stops the server: closes the listener and every open connection. */
  signal?: AbortSignal;
}

/** The echo options for one session: the shared ones, plus its peer's `onData` and its trace. */
function withHooks(
  echo: EchoOptions,
  conn: Deno.Conn,
  onData: EchoServerOptions["onData"],
  trace: EchoOptions["trace"],
): EchoOptions {
  if (!onData && !trace) return echo;
  return { ...echo, onData: onData && ((chunk) => onData(chunk, peerName(conn))), trace };
}

/** The `--explain` narrator for this server's mode. */
function narratorFor(reporter: Reporter, options: EchoServerOptions): SessionNarrator {
  const mode = options.reply ? "reply" : options.mode ?? "upper";
  return new SessionNarrator(reporter, mode, options.sequential ?? false);
}

/**
 * The port whose accept queue `--sequential` shows, or undefined (said once) where it cannot be
 * read: a Unix socket, or a system without /proc/net/tcp.
 */
function acceptQueuePort(listener: Deno.Listener, reporter?: Reporter): number | undefined {
  const why = listener.addr.transport !== "tcp"
    ? "a Unix socket's queue is not in /proc/net/tcp"
    : !tcpTableAvailable()
    ? "/proc/net/tcp cannot be read here (it is Linux only)"
    : undefined;
  if (why === undefined) return (listener.addr as Deno.NetAddr).port;
  reporter?.info(`the kernel's accept queue cannot be shown: ${why}`, "log", { acceptQueue: null });
  return undefined;
}

/**
 * `--sequential`, after each accept: how many more clients have finished the handshake and wait
 * in the kernel's accept queue (the backlog) — what `ss -ltn` shows as Recv-Q.
 */
function reportAcceptQueue(log: Reporter | undefined, port: number, id: number): void {
  const waiting = acceptQueueLength(port);
  if (waiting === undefined) return; // the listener has just been closed
  const text = waiting === 0
    ? "  no other client waits in the kernel's accept queue"
    : `  ${waiting} more ${waiting === 1 ? "client waits" : "clients wait"} in the kernel's ` +
      "accept queue (handshake done, not yet accepted)";
  log?.info(text, "log", { id, acceptQueue: waiting });
}

/** `disconnected PEER (#ID): eof, 5 bytes in, 5 out` — a warning when the session failed. */
function reportEnd(
  reporter: Reporter | undefined,
  log: Reporter | undefined,
  conn: Deno.Conn,
  id: number,
  summary: SessionSummary,
): void {
  const peer = peerName(conn);
  const text = `disconnected ${peer} (#${id}): ${describeSessionEnd(summary)}`;
  const fields = { id, peer, ...summary };
  if (summary.reason === "error") reporter?.warn(text, "disconnected", fields);
  else log?.info(text, "disconnected", fields);
}

/** How much of each chunk `--verbose` shows. */
const VERBOSE_PREVIEW_BYTES = 60;

/** `--verbose` / `--reply`: `received 6 bytes from 127.0.0.1:5000: "你好"` for every chunk. */
function receivedLine(reporter: Reporter): (chunk: Uint8Array, peer: string) => void {
  const decoder = new TextDecoder();
  return (chunk, peer) => {
    const text = decoder.decode(chunk.subarray(0, VERBOSE_PREVIEW_BYTES));
    const preview = JSON.stringify(text) + (chunk.length > VERBOSE_PREVIEW_BYTES ? "…" : "");
    reporter.info(`received ${chunk.length} bytes from ${peer}: ${preview}`, "received", {
      peer,
      bytes: chunk.length,
    });
  };
}

/** Deno.listen with the two common failures turned into one clear line. */
function bindOrExplain(
  target: { hostname: string; port: number; backlog?: number } | { path: string },
): Deno.Listener {
  try {
    if ("path" in target) return Deno.listen({ transport: "unix", path: target.path });
    return Deno.listen({
      hostname: target.hostname,
      port: target.port,
      ...(target.backlog === undefined ? {} : { tcpBacklog: target.backlog }),
    });
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

const USAGE = `Usage: deno task tcp:server [--host HOST] [--port PORT | --unix PATH] [options]

The seeds' upper-case echo server: every byte a client sends comes back at once, a–z upper-cased.

Options:
  --host HOST      address or host name to bind (default 127.0.0.1; ::1 for IPv6)
  --port PORT      TCP port, 0 = ephemeral (default 8080)
  --unix PATH      listen on a Unix domain socket instead of TCP
  --echo           plain echo, bytes unchanged (seed 001's echo server)
  --sequential     serve one client at a time; the others wait in the kernel's accept queue
                   (seed 000), and each accept shows how many wait there
  --backlog N      listen backlog, the queue of not-yet-accepted connections (default 511)
  --once           serve one client, then exit 0
  --reply TEXT     seed 002's exchange: after each client's first read, log it (收到), send
                   TEXT, close; with --once the one-shot server (accept, recv, print, send 你好)
  --keepalive S    TCP keepalive on every connection (seed 004): after S seconds of silence the
                   kernel probes the client, and ${KEEPALIVE_PROBES} unanswered probes close the connection, so a
                   client that vanished is let go (default ${DEFAULT_KEEPALIVE_SECONDS}; 0 = off)
  --verbose        also log every chunk received (seed 001's 收到: …)
  --quiet          no per-client lines (the listening line is still printed)
  --json           newline-delimited JSON events instead of text
  --explain        narrate seed 001's server steps live and show every read and write (hexdump)
  -h, --help       show this help

A session ends on EOF or when one read is exactly "q" (seed 004). Ctrl-C closes every connection,
prints "stopped" and exits 130. --reply cannot be combined with --echo.`;

if (import.meta.main) await runMain(USAGE, main);
