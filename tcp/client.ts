/**
 * The seeds' TCP client (seed 000 §一): send a message, print the server's reply — but it reads
 * until the whole reply is in (as many bytes as it sent), never one `recv(1024)` per message, and
 * decodes only complete replies, so a long or Chinese reply is never split or garbled.
 *
 *   deno task tcp:client                         # talk to 127.0.0.1:8080, prompt `>>>: `
 *   printf 'hello\n你好\nq\n' | deno task tcp:client --port 8080
 *   deno run -A tcp/client.ts --unix /tmp/echo.sock
 *   deno task tcp:client --message '你好,服务器!'     # seed 001's hello client: one message
 *
 * On a terminal it shows the seeds' `>>>: ` prompt and skips empty input; with stdin a pipe it
 * sends each line (without its newline) and exits 0 after the last reply. A line `q` ends the
 * session (seed 004). `--message TEXT` half-closes after TEXT and prints everything until the
 * server closes (seed 002's reply may have any length). Start the server first (seed 000:
 * 「必须先启动服务端,否则报错」): without it the client prints `Cannot connect to HOST:PORT:
 * connection refused (is the other side running?)` and exits 1.
 */
import {
  CliError,
  connectOrFail,
  formatAddr,
  interruptSignal,
  parseCli,
  parseCount,
  parsePort,
  pause,
  resolveHostArgument,
  runMain,
  UsageError,
  userPath,
} from "./kit/cli.ts";
import { createReporter, type Reporter } from "./kit/report.ts";
import { noticeIfSlow, SLOW_WAIT_MS, writeAll } from "./core/io.ts";
import { type ConnectTarget, describeTarget } from "./core/connect.ts";
import {
  byteLines,
  DEFAULT_MAX_LINE,
  exchange,
  exchangeToEof,
  type ExchangeTrace,
  LineTooLongError,
  ServerClosedError,
} from "./core/echo_client.ts";
import { chunkView, stickyView } from "./kit/explain.ts";
import { formatMs, formatSummary, summarize } from "./kit/stats.ts";
import { onAbort } from "./core/abort.ts";

const encoder = new TextEncoder();

/** Pipe mode: every line of stdin is sent, every reply printed; returns after the last one. */
async function runPiped(session: ClientSession, maxLine: number): Promise<void> {
  for await (const line of byteLines(Deno.stdin.readable, { maxLine })) {
    if (!line.length) continue;
    if (isQuit(line)) {
      await session.quit(line);
      return;
    }
    await session.send(line);
  }
}

/** `--message`: one message, one reply to EOF; `q` alone is seed 004's goodbye, as in a line. */
async function runOnce(session: ClientSession, message: string, maxBytes: number): Promise<void> {
  const bytes = encoder.encode(message);
  if (isQuit(bytes)) await session.quit(bytes);
  else await session.sendOnce(bytes, maxBytes);
}

/**
 * `--count`: numbered probes, one at a time, `intervalMs` apart, until `count` or `signal` (Ctrl-C
 * ends the run early but the summary is still printed, as ping does).
 */
async function runProbes(
  session: ClientSession,
  { count, intervalMs, signal }: { count: number; intervalMs: number; signal: AbortSignal },
): Promise<void> {
  const interrupted = new Promise<void>((resolve) => {
    onAbort(signal, () => resolve());
  });
  for (let seq = 1; seq <= count && !signal.aborted; seq++) {
    const sending = session.send(encoder.encode(`seq=${seq}`));
    // After Ctrl-C the connection is closed under a probe still waiting for its echo.
    sending.catch(() => {});
    await Promise.race([sending, interrupted]);
    if (seq < count && intervalMs > 0) await pause(intervalMs, signal);
  }
}

/**
 * Terminal mode: the seeds' `>>>: ` prompt loop; empty input is skipped, Ctrl-D ends it. The
 * way out is said once, before the first prompt.
 */
async function runInteractive(session: ClientSession, say?: (text: string) => void): Promise<void> {
  say?.(`connected to ${session.where}: type a line to send it, q to leave`);
  while (true) {
    const input = prompt(">>>:"); // Deno adds one space after the message
    if (input === null) return;
    const message = input.trim();
    if (!message) continue;
    const bytes = encoder.encode(message);
    if (message === "q") {
      await session.quit(bytes);
      return;
    }
    await session.send(bytes);
  }
}

/** `deno task tcp:client …`. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args, {
    host: { type: "string" },
    port: { type: "string" },
    unix: { type: "string" },
    "max-line": { type: "string" },
    message: { type: "string" },
    json: { type: "boolean" },
    explain: { type: "boolean" },
    stats: { type: "boolean" },
    count: { type: "string" },
    interval: { type: "string" },
  });
  if (positionals.length) throw new UsageError(`Unexpected argument "${positionals[0]}"`);
  if (values.interval !== undefined && values.count === undefined) {
    throw new UsageError("--interval needs --count");
  }
  if (values.count !== undefined && values.message !== undefined) {
    throw new UsageError("--count and --message cannot be combined");
  }
  const probes = values.count === undefined ? undefined : {
    count: parseCount(values.count, 1, "--count", { min: 1, max: 100_000 }),
    intervalMs: parseCount(values.interval, 1000, "--interval", { min: 0, max: 60_000 }),
  };
  if (values.unix !== undefined && (values.host !== undefined || values.port !== undefined)) {
    throw new UsageError("--unix cannot be combined with --host or --port");
  }
  if (values.message === "") throw new UsageError(`Invalid --message "": expected some text`);
  const maxLine = parseCount(values["max-line"], DEFAULT_MAX_LINE, "--max-line", {
    max: 1024 * 1024 * 1024,
  });
  const port = parsePort(values.port, 8080);
  // A socket path is taken from where the user ran `deno task`.
  const target: ConnectTarget = values.unix !== undefined
    ? { path: userPath(values.unix) }
    : { hostname: await resolveHostArgument(values.host ?? "127.0.0.1"), port };
  const reporter = createReporter("tcp/client", { json: values.json, explain: values.explain });
  const say = (text: string) => reporter.warn(text, "log");

  using conn = await connectOrFail(target, { say });
  const where = describeTarget(target);
  if (reporter.explaining) {
    reporter.explain(
      `connected to ${where} from ${formatAddrOrUnnamed(conn.localAddr)} (connect(): the ` +
        "three-way handshake is done; the server's accept() may not have run yet)",
      { local: formatAddrOrUnnamed(conn.localAddr), peer: where },
    );
  }
  const stats = values.stats === true || probes !== undefined;
  const session = new ClientSession(conn, reporter, { stats, where, say });
  try {
    if (probes) {
      reporter.info(
        `PROBE ${where} (tcp): ${probes.count} probes "seq=N", one every ${probes.intervalMs} ms`,
        "log",
        { server: where, count: probes.count, intervalMs: probes.intervalMs },
      );
      using signal = interruptSignal();
      await runProbes(session, { ...probes, signal });
    } else if (values.message !== undefined) await runOnce(session, values.message, maxLine);
    else if (Deno.stdin.isTerminal()) await runInteractive(session, values.json ? undefined : say);
    else await runPiped(session, maxLine);
    session.finish();
  } catch (error) {
    if (error instanceof ServerClosedError) {
      throw new CliError(`${describeTarget(target)}: ${error.message}`);
    }
    if (error instanceof LineTooLongError) {
      throw new CliError(`${error.message} (raise --max-line)`);
    }
    throw error;
  }
  return 0;
}

/** `1 byte`, `5 bytes`. */
function bytes(n: number): string {
  return `${n} ${n === 1 ? "byte" : "bytes"}`;
}

function formatAddrOrUnnamed(addr: Deno.Addr): string {
  return "path" in addr && !addr.path ? "unix:(unnamed)" : formatAddr(addr);
}

function isQuit(line: Uint8Array): boolean {
  return line.length === 1 && line[0] === 0x71;
}

/**
 * One client session's output: each reply (and with `--stats` its RTT), with `--explain` every
 * write and read, and at the end the statistics and the 粘包 view.
 */
export class ClientSession {
  readonly #conn: Deno.Conn;
  readonly #reporter: Reporter;
  readonly #stats: boolean;
  readonly #where: string;
  readonly #say: ((text: string) => void) | undefined;
  readonly #decoder = new TextDecoder();
  readonly #rtts: number[] = [];
  readonly #writes: Uint8Array[] = [];
  readonly #reads: number[] = [];
  readonly #trace: ExchangeTrace | undefined;
  /** `--message`: the reply is not an echo, so the 粘包 view (writes vs reads) does not apply. */
  #oneShot = false;

  constructor(
    conn: Deno.Conn,
    reporter: Reporter,
    { stats = false, where = "", say }: {
      stats?: boolean;
      where?: string;
      /** Where "still waiting for the reply" goes when a reply takes longer than 2 s. */
      say?: (text: string) => void;
    } = {},
  ) {
    this.#conn = conn;
    this.#reporter = reporter;
    this.#stats = stats;
    this.#where = where;
    this.#say = say;
    if (reporter.explaining) {
      let offset = 0;
      this.#trace = {
        wrote: (message) => {
          this.#writes.push(message.slice());
          reporter.explain(
            chunkView(
              `write #${this.#writes.length}: ${bytes(message.length)} to ${where}`,
              message,
            ),
            { direction: "write", index: this.#writes.length, bytes: message.length },
          );
        },
        read: (chunk) => {
          this.#reads.push(chunk.length);
          reporter.explain(
            chunkView(
              `read #${this.#reads.length}: ${bytes(chunk.length)} from ${where} (reply bytes ` +
                `${offset}..${offset + chunk.length - 1})`,
              chunk,
            ),
            { direction: "read", index: this.#reads.length, bytes: chunk.length },
          );
          offset += chunk.length;
        },
      };
    }
  }

  /** The server, as messages name it (`127.0.0.1:8080`). */
  get where(): string {
    return this.#where;
  }

  /** Sends one message, prints its reply (and RTT with `--stats`). */
  async send(message: Uint8Array): Promise<void> {
    const started = performance.now();
    const reply = await this.#waiting(exchange(this.#conn, message, this.#trace));
    this.#record(reply, performance.now() - started);
  }

  /** A reply that takes longer than 2 s is announced once (a sequential server may be busy). */
  #waiting<T>(work: Promise<T>): Promise<T> {
    const say = this.#say;
    if (!say) return work;
    return noticeIfSlow(work, () =>
      say(
        `still waiting for the reply from ${this.#where} after ${SLOW_WAIT_MS / 1000} s ` +
          "(is the server busy with another client?)",
      ));
  }

  /**
   * Seed 001/002's one-shot message: sends it, half-closes, prints the reply that ends when the
   * server closes (and its RTT with `--stats`). An empty reply is an error: nothing came back.
   */
  async sendOnce(message: Uint8Array, maxBytes: number): Promise<void> {
    const started = performance.now();
    const reply = await this.#waiting(
      exchangeToEof(this.#conn, message, { trace: this.#trace, maxBytes }),
    );
    const rttMs = performance.now() - started;
    this.#oneShot = true;
    if (this.#trace) {
      this.#reporter.explain(
        `after our write we half-closed (FIN: the message is complete); the reply ended when ` +
          `the server closed (EOF): ${bytes(reply.length)} in ${this.#reads.length} ` +
          `${this.#reads.length === 1 ? "read" : "reads"}`,
        { bytes: reply.length, reads: this.#reads.length },
      );
    }
    if (reply.length === 0) {
      throw new ServerClosedError("server closed the connection without a reply");
    }
    this.#record(reply, rttMs);
  }

  /** Prints one reply (and with `--stats` its RTT). */
  #record(reply: Uint8Array, rttMs: number): void {
    this.#reporter.info(this.#decoder.decode(reply), "received", {
      bytes: reply.length,
      ...(this.#stats ? { rttMs } : {}),
    });
    if (this.#stats) {
      this.#rtts.push(rttMs);
      this.#reporter.info(`  rtt ${formatMs(rttMs)} ms (${reply.length} bytes)`, "stats", {
        index: this.#rtts.length,
        rttMs,
        bytes: reply.length,
      });
    }
  }

  /** Sends seed 004's `q` (no reply expected). */
  async quit(message: Uint8Array): Promise<void> {
    await writeAll(this.#conn, message);
    this.#trace?.wrote(message);
  }

  /** The end of the session: the 粘包 view (`--explain`) and the RTT summary (`--stats`). */
  finish(): void {
    if (this.#trace && !this.#oneShot) {
      this.#reporter.explain(
        stickyView(this.#writes, this.#reads, {
          title: "粘包 view (our writes vs the reads of their echo)",
        }),
        { writes: this.#writes.length, reads: this.#reads.length },
      );
    }
    if (this.#stats) {
      const summary = summarize(this.#rtts);
      this.#reporter.info(
        `--- ${this.#where} tcp statistics: ${this.#rtts.length} ` +
          `${this.#rtts.length === 1 ? "message" : "messages"} ---`,
        "stats",
        { messages: this.#rtts.length },
      );
      this.#reporter.info(formatSummary(summary), "stats", { rtt: summary });
    }
  }
}

const USAGE = `Usage: deno task tcp:client [--host HOST] [--port PORT | --unix PATH]

Sends each line of input to the echo server and prints each reply (seed 000's client).

Options:
  --host HOST        server address or host name (default 127.0.0.1)
  --port PORT        server port (default 8080)
  --unix PATH        connect to a Unix domain socket instead
  --message TEXT     one-shot (seed 001/002): send TEXT, half-close, print the whole reply
                     (everything until the server closes), exit 0; stdin is not read
  --max-line BYTES   longest input line accepted, and with --message the longest reply
                     (default 16777216)
  --json             newline-delimited JSON events instead of text
  --explain          show every write and read (hexdump) and, at the end, which of our writes
                     came back in which read (the 粘包 view)
  --stats            print each message's round-trip time and, at the end, count, min, median,
                     p99 and max
  --count N          like ping over TCP (implies --stats): send N probes "seq=1" … "seq=N", one
                     at a time, each after the previous echo came back; stdin is not read.
                     Ctrl-C stops early and still prints the summary. TCP never loses or
                     reorders a probe, so only round-trip times are reported
  --interval MS      time between probes with --count (default 1000)
  -h, --help         show this help

A line "q" ends the session. On a terminal the prompt is ">>>: " and empty input is skipped.
A reply that takes longer than 2 s is announced on stderr (a --sequential server may be busy).`;

if (import.meta.main) await runMain(USAGE, main);
