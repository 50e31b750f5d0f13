/**
 * Half-close (FIN) and what happens when you talk to a closed or reset peer.
 *
 * Seed idea (004, four-way teardown): a FIN 「仅仅表示对方不再发送数据了但是还能接收数据」 — the
 * side that sent it can still read. Here the client writes, calls `closeWrite()` (shutdown(2):
 * FIN), and still reads the reply; the server reads until EOF (`read()` → `null`, seed 003:
 * 「则recv立即返回空字符串」) before it answers. Then two facts every socket program must handle:
 * after the peer has closed, the first write may still succeed but a later one throws
 * `BrokenPipe` (seed 003: 「则会产生Pipe Broken异常」), and a read after the peer's RST throws
 * `ConnectionReset`. Provoking a clean RST in Deno takes care (there is no SO_LINGER): closing a
 * socket with unread data makes the kernel send RST, but Deno's `close()` sends a FIN first (its
 * write half shuts down on close), so the peer reads `null`; a connection still in the backlog of
 * a listener that closes gets a bare RST, and its `read()` throws `ConnectionReset`.
 *
 * Run:   deno task tcp:halfclose                      (= deno run -A tcp/halfclose.ts)
 *        deno run -A tcp/halfclose.ts --message "hello 你好" --json
 *        deno run -A tcp/halfclose.ts --serve --port 9000    # keep only the half-close server
 * Poke:  printf 'hello' | nc -N 127.0.0.1 9000   # -N sends FIN at the end of stdin; prints HELLO
 *        (without -N, nc never half-closes and the server keeps waiting for EOF)
 */
import {
  formatAddr,
  interruptSignal,
  listeningLine,
  listenTcp,
  parseCli,
  parseCount,
  parsePort,
  resolveHostArgument,
  runMain,
} from "./kit/cli.ts";
import { closeQuietly, readAll, writeAll } from "./core/io.ts";
import { acceptLoop } from "./core/accept.ts";
import { createReporter, type Reporter } from "./kit/report.ts";
import { acceptReports } from "./kit/accept_report.ts";
import { upperAscii } from "./core/upper.ts";
import { chunkView } from "./kit/explain.ts";
import { onAbort } from "./core/abort.ts";

/** Largest request the half-close server buffers before answering. */
export const DEFAULT_MAX_REQUEST = 1024 * 1024;

/** How long a `--serve` connection may take to send its FIN. */
const SERVE_DEADLINE_MS = 30_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The server side of the half-close exchange: read until the client's FIN (EOF), then answer
 * with the upper-cased request and close. Returns how many bytes it read.
 */
export async function answerAfterEof(
  conn: Deno.Conn,
  { maxBytes = DEFAULT_MAX_REQUEST }: { maxBytes?: number } = {},
): Promise<number> {
  const request = await readAll(conn, { maxBytes });
  await writeAll(conn, upperAscii(request));
  return request.length;
}

/** What the half-close exchange observed. */
export interface HalfCloseObservation {
  sent: Uint8Array;
  /** Bytes the server had read when its `read()` returned `null`. */
  serverReadBeforeEof: number;
  reply: Uint8Array;
  /** The client's read after the reply returned `null` (the server's FIN). */
  clientSawEof: boolean;
  /** Who did what, in order. */
  events: string[];
}

/** Client writes `message`, half-closes, reads the whole reply; the server answers after EOF. */
export async function halfCloseExchange(
  listener: Deno.TcpListener,
  message: Uint8Array,
): Promise<HalfCloseObservation> {
  const events: string[] = [];
  const server = (async () => {
    const conn = await listener.accept();
    try {
      const request = await readAll(conn, { maxBytes: DEFAULT_MAX_REQUEST });
      events.push(
        `server: read() returned null (EOF) after ${request.length} bytes; only now does it answer`,
      );
      const reply = upperAscii(request);
      await writeAll(conn, reply);
      events.push(`server: wrote a ${reply.length}-byte reply and closed`);
      return request.length;
    } finally {
      conn.close();
    }
  })();
  const { hostname, port } = listener.addr;
  const client = await Deno.connect({ hostname, port });
  try {
    await writeAll(client, message);
    events.push(`client: wrote ${message.length} bytes`);
    await client.closeWrite();
    events.push("client: closeWrite() sent FIN; it can still read");
    const reply = await readAll(client, { maxBytes: DEFAULT_MAX_REQUEST });
    events.push(`client: read the ${reply.length}-byte reply, then null (the server's FIN)`);
    return {
      sent: message,
      serverReadBeforeEof: await server,
      reply,
      clientSawEof: true,
      events,
    };
  } finally {
    client.close();
    await server.catch(() => {});
  }
}

/** One write attempt and what became of it. */
export type WriteOutcome = { ok: true; bytes: number } | { ok: false; error: string };

/** What writing to a closed peer observed. */
export interface WriteAfterCloseObservation {
  /** The client's `read()` returned `null` before it started writing. */
  sawEof: boolean;
  /** Every write until the first failure (at most `maxWrites`). */
  writes: WriteOutcome[];
}

/** Name of a Deno error class (`BrokenPipe`, `ConnectionReset`), for reports. */
export function errorName(error: unknown): string {
  for (const [name, cls] of Object.entries(Deno.errors)) {
    if (typeof cls === "function" && error instanceof cls) return name;
  }
  return error instanceof Error ? error.name : String(error);
}

/**
 * The server accepts and closes at once (FIN). The client first reads `null`, then writes until
 * a write fails: on Linux the first write is accepted (the peer answers it with RST), the next
 * fails with `BrokenPipe`.
 */
export async function writeAfterPeerClosed(
  listener: Deno.TcpListener,
  { maxWrites = 10 }: { maxWrites?: number } = {},
): Promise<WriteAfterCloseObservation> {
  const { hostname, port } = listener.addr;
  const [client, accepted] = await Promise.all([
    Deno.connect({ hostname, port }),
    listener.accept(),
  ]);
  try {
    accepted.close();
    // Wait for the FIN: after this the server's socket is gone, not merely half-closed.
    const sawEof = (await client.read(new Uint8Array(16))) === null;
    const writes: WriteOutcome[] = [];
    const ping = encoder.encode("ping");
    while (writes.length < maxWrites) {
      try {
        writes.push({ ok: true, bytes: await client.write(ping) });
      } catch (error) {
        if (
          !(error instanceof Deno.errors.BrokenPipe) &&
          !(error instanceof Deno.errors.ConnectionReset)
        ) throw error;
        writes.push({ ok: false, error: `${errorName(error)}: ${error.message}` });
        break;
      }
    }
    return { sawEof, writes };
  } finally {
    client.close();
    closeQuietly(accepted);
  }
}

/** What reading after an RST observed. */
export interface ReadAfterResetObservation {
  /** Bytes the client sent to the server that closed with them unread. */
  sent: number;
  /** Bytes that server read before closing. */
  serverRead: number;
  /** What the client's `read()` saw then: `null` (Deno's close sent FIN before the RST). */
  afterUnreadClose: string;
  /** What the client's `read()` saw when its never-accepted connection was reset. */
  afterBacklogReset: string;
}

/** `null`, `5 bytes` or `ConnectionReset: …` — what one `read()` did. */
async function describeRead(conn: Deno.Conn): Promise<string> {
  try {
    const n = await conn.read(new Uint8Array(64));
    return n === null ? "null" : `${n} bytes`;
  } catch (error) {
    if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
    return `${errorName(error)}: ${error.message}`;
  }
}

/**
 * Two ways to reset a connection, and what the client's `read()` sees.
 *
 * 1. The server reads one byte (so it knows the rest has arrived) and closes with the rest
 *    unread. The kernel answers unread data with RST — but Deno's `close()` first shuts down the
 *    write side (a FIN), so the client reads `null`, not an error.
 * 2. The client's connection is completed by the kernel but never accepted, and the server closes
 *    its listener: the kernel resets every connection still in the backlog, with no FIN before
 *    the RST, and the client's `read()` throws `ConnectionReset`.
 */
export async function readAfterReset(
  listener: Deno.TcpListener,
): Promise<ReadAfterResetObservation> {
  const { hostname, port } = listener.addr;
  const request = encoder.encode("never read");
  let serverRead = 0;
  let afterUnreadClose: string;
  {
    const [client, accepted] = await Promise.all([
      Deno.connect({ hostname, port }),
      listener.accept(),
    ]);
    try {
      // One write, one segment: when the server has the first byte, it has all of them.
      await writeAll(client, request);
      serverRead = (await accepted.read(new Uint8Array(1))) ?? 0;
      accepted.close();
      afterUnreadClose = await describeRead(client);
    } finally {
      client.close();
      closeQuietly(accepted);
    }
  }
  // A second listener of its own, since closing it is the experiment.
  const backlogListener = Deno.listen({ hostname, port: 0 });
  let afterBacklogReset: string;
  try {
    const client = await Deno.connect({ hostname, port: backlogListener.addr.port });
    try {
      await writeAll(client, request);
      backlogListener.close();
      afterBacklogReset = await describeRead(client);
    } finally {
      client.close();
    }
  } finally {
    closeQuietly(backlogListener);
  }
  return { sent: request.length, serverRead, afterUnreadClose, afterBacklogReset };
}

/** Everything the demo observed. */
export interface HalfCloseReport {
  halfClose: HalfCloseObservation;
  writeAfterClose: WriteAfterCloseObservation;
  readAfterReset: ReadAfterResetObservation;
}

/** Runs the three experiments on `listener`. */
export async function runHalfCloseDemo(
  listener: Deno.TcpListener,
  message: Uint8Array,
): Promise<HalfCloseReport> {
  return {
    halfClose: await halfCloseExchange(listener, message),
    writeAfterClose: await writeAfterPeerClosed(listener),
    readAfterReset: await readAfterReset(listener),
  };
}

/** Prints the report as the teaching transcript (or JSON events). */
export function printReport(report: HalfCloseReport, out: Reporter): void {
  const { halfClose, writeAfterClose, readAfterReset } = report;
  out.info(
    "1. Half-close: FIN means the peer stops sending, not that it stops reading",
    "log",
    { part: "half-close" },
  );
  for (const event of halfClose.events) out.info(`   ${event}`, "log", { part: "half-close" });
  out.info(
    `   sent ${JSON.stringify(decoder.decode(halfClose.sent))}, got back ${
      JSON.stringify(decoder.decode(halfClose.reply))
    }`,
    "result",
    { part: "half-close", sent: halfClose.sent.length, reply: halfClose.reply.length },
  );
  if (out.explaining) {
    out.explain(
      indent(chunkView(`client wrote ${halfClose.sent.length} bytes, then FIN`, halfClose.sent)),
      {
        part: "half-close",
        direction: "write",
        bytes: halfClose.sent.length,
      },
    );
    out.explain(
      indent(
        chunkView(
          `client read the ${halfClose.reply.length}-byte reply after its FIN`,
          halfClose.reply,
        ),
      ),
      {
        part: "half-close",
        direction: "read",
        bytes: halfClose.reply.length,
      },
    );
  }

  out.info("2. Writing to a peer that has closed", "log", { part: "write-after-close" });
  out.info(
    `   client: read() returned ${writeAfterClose.sawEof ? "null: the server closed" : "data"}`,
    "result",
    { part: "write-after-close", sawEof: writeAfterClose.sawEof },
  );
  writeAfterClose.writes.forEach((w, i) => {
    out.info(
      w.ok
        ? `   client: write ${
          i + 1
        } succeeded (${w.bytes} bytes): the kernel took it; the closed peer answers with RST`
        : `   client: write ${i + 1} failed: ${w.error}`,
      "result",
      { part: "write-after-close", index: i + 1, ...w },
    );
  });

  out.info("3. Reading after an RST", "log", { part: "read-after-reset" });
  out.info(
    `   server: read ${readAfterReset.serverRead} of ${readAfterReset.sent} bytes and closed with ${
      readAfterReset.sent - readAfterReset.serverRead
    } unread (RST), but Deno's close() sent FIN first: client read() -> ${readAfterReset.afterUnreadClose}`,
    "result",
    {
      part: "read-after-reset",
      case: "unread-close",
      sent: readAfterReset.sent,
      serverRead: readAfterReset.serverRead,
    },
  );
  out.info(
    `   server: closed its listener with the client still in the backlog (RST, no FIN): client read() -> ${readAfterReset.afterBacklogReset}`,
    "result",
    { part: "read-after-reset", case: "backlog-reset", read: readAfterReset.afterBacklogReset },
  );
}

/** `--serve`: answer every connection after its FIN, until the signal fires. */
export async function serveHalfClose(
  listener: Deno.TcpListener,
  out: Reporter,
  { maxBytes = DEFAULT_MAX_REQUEST, signal }: { maxBytes?: number; signal?: AbortSignal } = {},
): Promise<void> {
  const stop = () => closeQuietly(listener);
  onAbort(signal, stop);
  if (signal?.aborted) stop();
  const sessions = new Set<Promise<void>>();
  // One client: read until its FIN, answer, close. A client that never sends FIN is cut off
  // after the deadline.
  const session = (conn: Deno.TcpConn) => {
    const peer = formatAddr(conn.remoteAddr);
    const deadline = setTimeout(() => closeQuietly(conn), SERVE_DEADLINE_MS);
    const done = answerAfterEof(conn, { maxBytes })
      .then((n) =>
        out.info(`${peer}: read ${n} bytes until EOF, replied, closed`, "disconnected", {
          peer,
          bytes: n,
        })
      )
      .catch((error) =>
        out.warn(`${peer}: ${errorName(error)}: ${error.message}`, "error", { peer })
      )
      .finally(() => {
        clearTimeout(deadline);
        closeQuietly(conn);
        sessions.delete(done);
      });
    sessions.add(done);
  };
  try {
    await acceptLoop(listener, session, acceptReports(out));
  } finally {
    signal?.removeEventListener("abort", stop);
    await Promise.all(sessions);
  }
}

/** The command line: flags → demo (or `--serve`) → transcript. */
export async function main(args: string[]): Promise<number> {
  const { values } = parseCli(args, {
    host: { type: "string" },
    port: { type: "string" },
    message: { type: "string" },
    serve: { type: "boolean" },
    "max-bytes": { type: "string" },
    json: { type: "boolean" },
    explain: { type: "boolean" },
  });
  const port = parsePort(values.port, 0);
  const maxBytes = parseCount(values["max-bytes"], DEFAULT_MAX_REQUEST, "--max-bytes", {
    max: 64 * 1024 * 1024,
  });
  const hostname = await resolveHostArgument(values.host ?? "127.0.0.1");
  const message = encoder.encode(values.message ?? "hello world 你好");
  const out = createReporter("tcp/halfclose", { json: values.json, explain: values.explain });
  using signal = interruptSignal();
  const listener = listenTcp({ hostname, port });
  try {
    out.info(listeningLine(listener.addr), "listening", { address: formatAddr(listener.addr) });
    if (values.serve) {
      await serveHalfClose(listener, out, { maxBytes, signal });
      if (signal.aborted) out.info("stopped", "log");
      return 0;
    }
    onAbort(signal, () => closeQuietly(listener));
    try {
      printReport(await runHalfCloseDemo(listener, message), out);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw error;
    }
    return 0;
  } finally {
    closeQuietly(listener);
  }
}

export const USAGE = `Usage: deno task tcp:halfclose [options]

Shows TCP half-close (the client sends FIN with closeWrite() and still reads the reply), then a
write to a closed peer (BrokenPipe) and a read after an RST (ConnectionReset).

Options:
  --host HOST         address to listen on (default 127.0.0.1)
  --port PORT         port to listen on (default 0 = any free port)
  --message TEXT      what the client sends (default "hello world 你好")
  --serve             only run the half-close server until Ctrl-C (poke it with nc -N)
  --max-bytes N       largest request the server reads before answering (default 1048576)
  --json              newline-delimited JSON events instead of text
  --explain           show the bytes the client wrote before its FIN and the reply (hexdump)
  -h, --help          show this help`;

function indent(view: string): string {
  return view.split("\n").map((line) => `   ${line}`).join("\n");
}

if (import.meta.main) await runMain(USAGE, main);
