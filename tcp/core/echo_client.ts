/**
 * The echo client's side of the exchange (seed 000 §一's client, without its bugs): send a
 * message, then read until the whole reply is in — as many bytes as were sent, since the echo
 * server's reply has the message's length — never one `recv(1024)` per message; or, for seed
 * 001/002's one-shot exchange, half-close and read until the server closes. tcp/client.ts,
 * tcp/demo.ts, the tests and the benchmarks all talk to the server through these.
 */
import { concatBytes, readExactly, writeAll } from "./io.ts";
import { peerGoneReason } from "./net_errors.ts";

/** Default longest line the client reads from stdin before giving up: 16 MiB. */
export const DEFAULT_MAX_LINE = 16 * 1024 * 1024;

const encoder = new TextEncoder();
const LF = 0x0a;
const CR = 0x0d;

/** The server closed (or reset) the connection before the whole reply came back. */
export class ServerClosedError extends Error {
  override name = "ServerClosedError";
}

/** A line (or a one-shot reply) longer than the limit the caller set. */
export class LineTooLongError extends RangeError {
  override name = "LineTooLongError";
  constructor(readonly what: "input line" | "reply", readonly limit: number) {
    super(`${what} longer than ${limit} bytes`);
  }
}

/** Hooks that watch an exchange's write and each read of its reply (for `--explain`). */
export interface ExchangeTrace {
  wrote(message: Uint8Array): void;
  read(chunk: Uint8Array): void;
}

/**
 * Sends `message` and reads until as many bytes have come back (the echo server's reply has the
 * same length). Throws `ServerClosedError` when the server goes away first. `trace` sees the
 * write and every read.
 */
export async function exchange(
  conn: Deno.Conn,
  message: Uint8Array,
  trace?: ExchangeTrace,
): Promise<Uint8Array> {
  try {
    await writeAll(conn, message);
    trace?.wrote(message);
    const reply = trace
      ? await readExactlyTraced(conn, message.length, trace)
      : await readExactly(conn, message.length);
    if (reply.length < message.length) {
      throw new ServerClosedError(
        `server closed the connection after ${reply.length} of ${message.length} reply bytes`,
      );
    }
    return reply;
  } catch (error) {
    throw serverClosed(error);
  }
}

/**
 * The one-shot exchange (`--message`): sends `message`, half-closes (FIN) and reads until the
 * server closes, so the reply may have any length. More than `maxBytes` of reply throws
 * `LineTooLongError`. `trace` sees the write and every read.
 */
export async function exchangeToEof(
  conn: Deno.Conn,
  message: Uint8Array,
  { trace, maxBytes = DEFAULT_MAX_LINE }: { trace?: ExchangeTrace; maxBytes?: number } = {},
): Promise<Uint8Array> {
  try {
    await writeAll(conn, message);
    trace?.wrote(message);
    await conn.closeWrite();
    const parts: Uint8Array[] = [];
    let total = 0;
    const buffer = new Uint8Array(64 * 1024);
    while (true) {
      const got = await conn.read(buffer);
      if (got === null) break;
      const chunk = buffer.slice(0, got);
      trace?.read(chunk);
      total += got;
      if (total > maxBytes) throw new LineTooLongError("reply", maxBytes);
      parts.push(chunk);
    }
    return concatBytes(parts, total);
  } catch (error) {
    throw serverClosed(error);
  }
}

/**
 * Sends each line (skipping empty ones) and collects the decoded replies. A line `q` is sent and
 * ends the session without a reply. Used by the demo, the tests and the benchmarks.
 */
export async function echoLines(conn: Deno.Conn, lines: Iterable<string>): Promise<string[]> {
  const decoder = new TextDecoder();
  const replies: string[] = [];
  for (const line of lines) {
    if (!line) continue;
    const bytes = encoder.encode(line);
    if (line === "q") {
      await writeAll(conn, bytes);
      break;
    }
    replies.push(decoder.decode(await exchange(conn, bytes)));
  }
  return replies;
}

/**
 * Splits a byte stream into lines (without `\n` or `\r\n`), as bytes, so whatever was piped in is
 * sent unchanged. The last line may lack its newline. A line longer than `maxLine` throws
 * `LineTooLongError`.
 */
export async function* byteLines(
  stream: ReadableStream<Uint8Array>,
  { maxLine = DEFAULT_MAX_LINE }: { maxLine?: number } = {},
): AsyncGenerator<Uint8Array> {
  let pending: Uint8Array[] = [];
  let pendingLength = 0;
  const finish = (tail: Uint8Array): Uint8Array => {
    const line = pending.length ? concatBytes([...pending, tail]) : tail;
    pending = [];
    pendingLength = 0;
    return line.length && line[line.length - 1] === CR ? line.subarray(0, -1) : line;
  };
  for await (const chunk of stream) {
    let start = 0;
    let nl: number;
    while ((nl = chunk.indexOf(LF, start)) >= 0) {
      if (pendingLength + nl - start > maxLine) throw new LineTooLongError("input line", maxLine);
      yield finish(chunk.slice(start, nl));
      start = nl + 1;
    }
    if (start < chunk.length) {
      pendingLength += chunk.length - start;
      if (pendingLength > maxLine) throw new LineTooLongError("input line", maxLine);
      pending.push(chunk.slice(start));
    }
  }
  if (pendingLength) yield finish(new Uint8Array(0));
}

/** `readExactly`, reporting every read to `trace`. */
async function readExactlyTraced(
  conn: Deno.Conn,
  n: number,
  trace: ExchangeTrace,
): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let filled = 0;
  while (filled < n) {
    const got = await conn.read(out.subarray(filled));
    if (got === null) return out.subarray(0, filled);
    trace.read(out.subarray(filled, filled + got));
    filled += got;
  }
  return out;
}

/**
 * The server went away (reset, broken pipe): `ServerClosedError`. Anything else — our own close
 * under a pending read (Ctrl-C), a real fault — is left as it is.
 */
function serverClosed(error: unknown): unknown {
  const gone = peerGoneReason(error);
  return gone !== null && gone !== "closed" && error instanceof Error
    ? new ServerClosedError(`server closed the connection: ${error.message}`)
    : error;
}
