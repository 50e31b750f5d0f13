/**
 * The seeds' TCP client (seed 000 §一): send a message, print the server's reply — but it reads
 * until the whole reply is in (as many bytes as it sent), never one `recv(1024)` per message, and
 * decodes only complete replies, so a long or Chinese reply is never split or garbled.
 *
 *   deno task tcp:client                         # talk to 127.0.0.1:8080, prompt `>>>: `
 *   printf 'hello\n你好\nq\n' | deno task tcp:client --port 8080
 *   deno run -A tcp/client.ts --unix /tmp/echo.sock
 *
 * On a terminal it shows the seeds' `>>>: ` prompt and skips empty input. With stdin a pipe it
 * sends each line (without its newline, as the seeds do), prints each reply on its own line and
 * exits 0 after the last one. A line `q` ends the session (seed 004): it is sent, no reply is
 * expected. Start the server first (seed 000: 「必须先启动服务端,否则报错」): without it the client
 * prints `cannot connect to HOST:PORT: connection refused` and exits 1.
 */
import {
  CliError,
  formatHostPort,
  parseCli,
  parseCount,
  parsePort,
  runMain,
  UsageError,
} from "./cli.ts";
import { createReporter, type Reporter } from "./report.ts";
import { concatBytes, readExactly, writeAll } from "./io.ts";

const USAGE = `Usage: deno task tcp:client [--host HOST] [--port PORT | --unix PATH]

Sends each line of input to the echo server and prints each reply (seed 000's client).
  --host HOST        server address (default 127.0.0.1)
  --port PORT        server port (default 8080)
  --unix PATH        connect to a Unix domain socket instead
  --max-line BYTES   longest input line accepted (default 16777216)
  --json             newline-delimited JSON events instead of text
  -h, --help         show this help

A line "q" ends the session. On a terminal the prompt is ">>>: " and empty input is skipped.`;

/** Default longest line the client reads from stdin before giving up: 16 MiB. */
export const DEFAULT_MAX_LINE = 16 * 1024 * 1024;

const encoder = new TextEncoder();
const LF = 0x0a;
const CR = 0x0d;

/** The server closed (or reset) the connection before the whole reply came back. */
export class ServerClosedError extends Error {
  override name = "ServerClosedError";
}

/** Where to connect: TCP host and port, or a Unix socket path. */
export type Target = { hostname: string; port: number } | { path: string };

/** `127.0.0.1:8080`, `[::1]:8080` or `unix:/path` — how errors name the server. */
export function describeTarget(target: Target): string {
  return "path" in target ? `unix:${target.path}` : formatHostPort(target.hostname, target.port);
}

/**
 * Connects to the server; a refused or missing server becomes one clear `CliError`
 * (`cannot connect to 127.0.0.1:8080: connection refused`).
 */
export async function connectTo(target: Target): Promise<Deno.Conn> {
  try {
    return "path" in target
      ? await Deno.connect({ transport: "unix", path: target.path })
      : await Deno.connect({ hostname: target.hostname, port: target.port });
  } catch (error) {
    const where = describeTarget(target);
    if (error instanceof Deno.errors.ConnectionRefused) {
      throw new CliError(`cannot connect to ${where}: connection refused`);
    }
    if (error instanceof Deno.errors.NotFound) {
      throw new CliError(`cannot connect to ${where}: no such socket`);
    }
    if (error instanceof Error) throw new CliError(`cannot connect to ${where}: ${error.message}`);
    throw error;
  }
}

/**
 * Sends `message` and reads until as many bytes have come back (the echo server's reply has the
 * same length). Throws `ServerClosedError` when the server goes away first.
 */
export async function exchange(conn: Deno.Conn, message: Uint8Array): Promise<Uint8Array> {
  try {
    await writeAll(conn, message);
    const reply = await readExactly(conn, message.length);
    if (reply.length < message.length) {
      throw new ServerClosedError(
        `server closed the connection after ${reply.length} of ${message.length} reply bytes`,
      );
    }
    return reply;
  } catch (error) {
    if (
      error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.BrokenPipe ||
      error instanceof Deno.errors.ConnectionAborted
    ) {
      throw new ServerClosedError(`server closed the connection: ${error.message}`);
    }
    throw error;
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
 * sent unchanged. The last line may lack its newline. A line longer than `maxLine` throws.
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
      if (pendingLength + nl - start > maxLine) throw lineTooLong(maxLine);
      yield finish(chunk.slice(start, nl));
      start = nl + 1;
    }
    if (start < chunk.length) {
      pendingLength += chunk.length - start;
      if (pendingLength > maxLine) throw lineTooLong(maxLine);
      pending.push(chunk.slice(start));
    }
  }
  if (pendingLength) yield finish(new Uint8Array(0));
}

function lineTooLong(maxLine: number): CliError {
  return new CliError(`input line longer than ${maxLine} bytes (raise --max-line)`);
}

function isQuit(line: Uint8Array): boolean {
  return line.length === 1 && line[0] === 0x71;
}

/** Pipe mode: every line of stdin is sent, every reply printed; returns after the last one. */
async function runPiped(conn: Deno.Conn, reporter: Reporter, maxLine: number): Promise<void> {
  const decoder = new TextDecoder();
  for await (const line of byteLines(Deno.stdin.readable, { maxLine })) {
    if (!line.length) continue;
    if (isQuit(line)) {
      await writeAll(conn, line);
      return;
    }
    const reply = await exchange(conn, line);
    reporter.info(decoder.decode(reply), "reply", { bytes: reply.length });
  }
}

/** Terminal mode: the seeds' `>>>: ` prompt loop; empty input is skipped, Ctrl-D ends it. */
async function runInteractive(conn: Deno.Conn, reporter: Reporter): Promise<void> {
  const decoder = new TextDecoder();
  while (true) {
    const input = prompt(">>>:"); // Deno adds one space after the message
    if (input === null) return;
    const message = input.trim();
    if (!message) continue;
    const bytes = encoder.encode(message);
    if (message === "q") {
      await writeAll(conn, bytes);
      return;
    }
    reporter.info(decoder.decode(await exchange(conn, bytes)), "reply", { bytes: bytes.length });
  }
}

/** `deno task tcp:client …`. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args, {
    host: { type: "string" },
    port: { type: "string" },
    unix: { type: "string" },
    "max-line": { type: "string" },
    json: { type: "boolean" },
  });
  if (positionals.length) throw new UsageError(`Unexpected argument "${positionals[0]}"`);
  if (values.unix !== undefined && (values.host !== undefined || values.port !== undefined)) {
    throw new UsageError("--unix cannot be combined with --host or --port");
  }
  const maxLine = parseCount(values["max-line"], DEFAULT_MAX_LINE, "--max-line", {
    max: 1024 * 1024 * 1024,
  });
  const target: Target = values.unix !== undefined
    ? { path: values.unix }
    : { hostname: values.host ?? "127.0.0.1", port: parsePort(values.port, 8080) };
  const reporter = createReporter("tcp/client", { json: values.json });

  using conn = await connectTo(target);
  try {
    if (Deno.stdin.isTerminal()) await runInteractive(conn, reporter);
    else await runPiped(conn, reporter, maxLine);
  } catch (error) {
    if (error instanceof ServerClosedError) {
      throw new CliError(`${describeTarget(target)}: ${error.message}`);
    }
    throw error;
  }
  return 0;
}

if (import.meta.main) await runMain(USAGE, main);
