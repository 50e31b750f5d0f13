/**
 * The echo server's engine, one connection at a time: read → upper-case (or not) → write it all
 * back → read again, until EOF, seed 004's `q`, or the peer goes away. `tcp/server.ts` accepts
 * the connections and hands each to `serveConnection`; the demo does the same in one process.
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
 * as a read is small again. What remains per idle connection is Deno's own cost (about 6 KB).
 *
 * A session ends on EOF, when one read is exactly `q` / `q\n` / `q\r\n` (seed 004; not echoed),
 * or on a connection error (RST, broken pipe, a keepalive timeout), which ends only that session.
 */
import { upperAsciiInPlace } from "./upper.ts";
import { closeQuietly, writeAll } from "./io.ts";
import { peerGoneReason } from "./net_errors.ts";
import { ReadBufferPool } from "./read_buffers.ts";

export { ReadBufferPool };

/** What the server does to each chunk: upper-case ASCII (seed 000) or echo it unchanged. */
export type EchoMode = "upper" | "echo";

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
export type EndReason =
  | "eof"
  | "q"
  | "reset"
  | "broken pipe"
  | "timed out"
  | "server shutdown"
  | "error";

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

/** Options for `serveConnection`. */
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

/** How a session ended on `error`: the peer went away (and how), our shutdown, or a real fault. */
function endReason(error: unknown): { reason: EndReason; detail?: string } {
  const gone = peerGoneReason(error);
  if (gone === "closed") return { reason: "server shutdown" };
  if (gone !== null) return { reason: gone };
  return { reason: "error", detail: error instanceof Error ? error.message : String(error) };
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
  let end: { reason: EndReason; detail?: string } = { reason: "eof" };
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      bytesIn += n;
      const chunk = n === buffer.length ? buffer : buffer.subarray(0, n);
      if (trace !== undefined) trace.read(chunk);
      if (n <= 3 && isQuitMessage(chunk)) {
        end = { reason: "q" };
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
    end = endReason(error);
  } finally {
    if (buffer !== small) pool.give(buffer);
    closeQuietly(conn);
  }
  return { reason: end.reason, bytesIn, bytesOut, detail: end.detail };
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
  let end: { reason: EndReason; detail?: string } = { reason: "eof" };
  try {
    const n = await conn.read(buffer);
    if (n !== null) {
      bytesIn += n;
      const request = buffer.subarray(0, n);
      trace?.read(request);
      if (isQuitMessage(request)) {
        end = { reason: "q" };
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
    end = endReason(error);
  } finally {
    closeQuietly(conn);
  }
  return { reason: end.reason, bytesIn, bytesOut, detail: end.detail };
}

/** `eof, 12 bytes in, 12 out` or `error: …, 0 bytes in, 0 out`: how a session ended, for logs. */
export function describeSessionEnd(summary: SessionSummary): string {
  const because = summary.detail ? `error: ${summary.detail}` : summary.reason;
  return `${because}, ${summary.bytesIn} bytes in, ${summary.bytesOut} out`;
}
