/**
 * Sends files over TCP to every client that connects — seed 003's 文件传输示例 server, done right.
 *
 * Seed idea: the listening side tells the client the file name, then sends the file, then
 * waits for 「接收完成」. The seed framed that with sleep(0.1) and a `##` marker, served one
 * client, and sent a hard-coded img.jpg; here each file travels as a length-prefixed JSON header
 * (name, size, SHA-256) plus exactly `size` bytes, several clients are served at once, and the
 * receiver's ack for each file is logged. `--seed-protocol` speaks the seed's own protocol to the
 * tutorial's Python client (with a warning: it cannot tell a `##` chunk from the end marker).
 * Clients are numbered (`client #N`); Ctrl-C prints `served N clients, M files, B bytes`.
 * `--resume` offers each receiver to continue a cut file (`file_recv.ts --resume`); `--json`
 * prints NDJSON events, `--explain` annotates every header and ack frame.
 *
 *   deno task file:send photo.jpg notes.txt --port 8888
 *   deno run --allow-net --allow-read tcp/file_send.ts photo.jpg --port 0 --once
 *   deno task file:send photo.jpg --to 127.0.0.1:9999    (upload to `file_recv.ts --listen`)
 *
 * Poke it by hand: `nc 127.0.0.1 8888 | xxd | head` shows the 4-byte length, the JSON header and
 * the first bytes of the file (nc sends no ack, so the sender then waits and times out).
 */
import {
  CliError,
  connectOrFail,
  formatAddr,
  interruptSignal,
  listeningLine,
  listenTcp,
  parseCli,
  parseCount,
  parseHostPort,
  parsePort,
  resolveHostArgument,
  runMain,
  UsageError,
  userPath,
} from "./kit/cli.ts";
import { createReporter, type Reporter } from "./kit/report.ts";
import { noticeIfSlow } from "./core/io.ts";
import { acceptReports } from "./kit/accept_report.ts";
import { SEED_ACK, SEED_PROTOCOL_WARNING, UnsafeNameError } from "./core/file_protocol.ts";
import { OfferedFile, sendFiles, type SentFile } from "./core/file_transfer/send.ts";
import { sendSeedProtocol } from "./core/file_transfer/seed.ts";
import {
  CONNECT_TIMEOUT_MS,
  describeError,
  type TransferOptions,
} from "./core/file_transfer/wire.ts";
import { serveConnections } from "./core/file_transfer/serve.ts";
import { explainWire, progressEvents } from "./kit/transfer_view.ts";
import { createProgressBar, formatBytes } from "./kit/progress.ts";

const USAGE = `Usage: deno task file:send FILE... [options]

Listens and sends FILE(s) to every client that connects (tcp/file_recv.ts), several at once.
Each file: a JSON header (name, size, sha256), its bytes, then the receiver's ack is logged.

Options:
  --host H          address to listen on (default 127.0.0.1)
  --port P          port to listen on (default 8888, 0 = any free port)
  --once            serve one client, then exit (exit 1 if it did not get every file)
  --to HOST:PORT    upload instead: connect to 'file_recv.ts --listen' and send
  --seed-protocol   seed 003's protocol (name, 1024-byte chunks, "##", ack 接收完成), one FILE
  --resume          offer resume: each receiver says how many bytes it already holds and gets
                    the rest (for 'file_recv.ts' of this version; older receivers would hang)
  --timeout S       drop a client when nothing moves for S seconds (default 30)
  --no-sendfile     copy each file through a buffer (read + write) instead of sendfile(2),
                    which Linux uses by default when FFI is allowed (-A or --allow-ffi)
  --json            newline-delimited JSON events (listening, connected, sent, progress, ...)
  --explain         annotate every header/ack frame sent and received
  --quiet           only the listening line and errors
  -h, --help        show this help`;

/**
 * Checks the FILE arguments: regular, readable files with distinct, safe names. Each path is
 * taken from where the user ran `deno task` (`userPath`); messages show it as typed.
 */
export async function offeredFiles(paths: string[]): Promise<OfferedFile[]> {
  if (paths.length === 0) throw new UsageError("Missing FILE: name at least one file to send");
  const files: OfferedFile[] = [];
  const seen = new Set<string>();
  for (const path of paths) {
    let file: OfferedFile;
    try {
      file = new OfferedFile(userPath(path));
    } catch (error) {
      if (error instanceof UnsafeNameError) {
        throw new CliError(`Cannot send "${path}": ${error.message}`);
      }
      throw error;
    }
    if (seen.has(file.name)) {
      throw new UsageError(
        `Duplicate file name "${file.name}": the receiver would save both under it`,
      );
    }
    seen.add(file.name);
    try {
      const info = await Deno.stat(file.path);
      if (!info.isFile) throw new CliError(`Cannot send "${path}": not a regular file`);
      (await Deno.open(file.path, { read: true })).close();
    } catch (error) {
      if (error instanceof CliError) throw error;
      throw new CliError(`Cannot send "${path}": ${describeError(error)}`);
    }
    files.push(file);
  }
  return files;
}

function rate(bytes: number, ms: number): string {
  return ms > 0 ? `${(bytes / 1e6 / (ms / 1000)).toFixed(1)} MB/s` : "-";
}

/** What the sender has served since it started (the Ctrl-C summary). */
export interface ServedTotals {
  clients: number;
  /** Files the receivers accepted. */
  files: number;
  /** File body bytes written to the wire (a resumed file counts only the rest). */
  bytes: number;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** `served 3 clients, 5 files, 1048576 bytes`. */
export function formatServed({ clients, files, bytes }: ServedTotals): string {
  return `served ${plural(clients, "client")}, ${plural(files, "file")}, ${plural(bytes, "byte")}`;
}

/** Logs one file's outcome; returns whether the receiver accepted it. */
function reportSent(reporter: Reporter, peer: string, sent: SentFile): boolean {
  const fields = {
    peer,
    name: sent.name,
    size: sent.size,
    sha256: sent.sha256,
    ms: sent.elapsedMs,
    bytes: sent.bytesSent,
    resumedFrom: sent.resumedFrom,
  };
  if (!sent.ack.ok) {
    reporter.warn(`${peer}: refused ${sent.name}: ${sent.ack.error}`, "error", {
      ...fields,
      error: sent.ack.error,
      refused: true,
    });
    return false;
  }
  if (sent.ack.sha256 !== sent.sha256) {
    reporter.warn(
      `${peer}: ${sent.name} acked with a different sha256 ${sent.ack.sha256}`,
      "error",
      { ...fields, error: "acked with a different sha256", ackSha256: sent.ack.sha256 },
    );
    return false;
  }
  const resumed = sent.resumedFrom > 0
    ? `; resumed at ${sent.resumedFrom}, ${formatBytes(sent.bytesSent)} sent`
    : "";
  reporter.info(
    `${peer}: sent ${sent.name} (${formatBytes(sent.size)}${resumed}) in ${
      (sent.elapsedMs / 1000).toFixed(3)
    } s, ${rate(sent.bytesSent, sent.elapsedMs)}: ack ok sha256 ${sent.ack.sha256}`,
    "sent",
    fields,
  );
  return true;
}

interface SessionOptions extends TransferOptions {
  seed: boolean;
  resume: boolean;
  zeroCopy: boolean;
  json: boolean;
  /** Counts accepted files and body bytes (shared by every session). */
  totals: ServedTotals;
  /** `client #N` (listening mode). */
  client?: number;
}

/** One client's session in either protocol; logs everything, returns success, never throws. */
async function session(
  conn: Deno.Conn,
  files: OfferedFile[],
  reporter: Reporter,
  options: SessionOptions,
): Promise<boolean> {
  const peer = formatAddr(conn.remoteAddr);
  const { totals, client } = options;
  reporter.info(
    `${peer}: connected${client === undefined ? "" : ` (client #${client})`}`,
    "connected",
    { peer, client },
  );
  const transfer: TransferOptions = {
    idleTimeoutMs: options.idleTimeoutMs,
    signal: options.signal,
    progress: options.json ? progressEvents(reporter, { peer }) : options.progress,
    wire: explainWire(reporter, peer),
    onWaiting: (text) => reporter.warn(`${peer}: ${text}`, "log", { peer }),
  };
  try {
    if (options.seed) {
      const { summary, ack } = await sendSeedProtocol(conn, files[0], transfer);
      const ok = ack === SEED_ACK;
      // The exact count, next to the receiver's: a file whose last read is "##" loses 2 bytes.
      const text = `${peer}: sent ${summary.name} (${summary.size} bytes), ack ${
        JSON.stringify(ack)
      }`;
      if (ok) {
        totals.files++;
        totals.bytes += summary.size;
        reporter.info(text, "sent", { peer, ...summary, bytes: summary.size, ack });
      } else {
        reporter.warn(`${text}: expected "${SEED_ACK}"`, "error", {
          peer,
          ...summary,
          ack,
          error: `expected ack "${SEED_ACK}"`,
        });
      }
      reporter.info(`${peer}: done`, "disconnected", { peer, client });
      return ok;
    }
    let ok = true;
    const sent = await sendFiles(conn, files, {
      ...transfer,
      resume: options.resume,
      zeroCopy: options.zeroCopy,
      onFile: (file) => {
        totals.bytes += file.bytesSent;
        const accepted = reportSent(reporter, peer, file);
        if (accepted) totals.files++;
        ok = accepted && ok;
      },
    });
    const accepted = sent.filter((f) => f.ack.ok).length;
    reporter.info(
      `${peer}: done, ${accepted} of ${files.length} files accepted`,
      "disconnected",
      { peer, client, accepted, files: files.length },
    );
    return ok;
  } catch (error) {
    reporter.warn(`${peer}: failed: ${describeError(error)}`, "error", {
      peer,
      client,
      error: describeError(error),
    });
    return false;
  }
}

/** `deno task file:send FILE... [options]`. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args, {
    host: { type: "string" },
    port: { type: "string" },
    once: { type: "boolean" },
    to: { type: "string" },
    "seed-protocol": { type: "boolean" },
    resume: { type: "boolean" },
    "no-sendfile": { type: "boolean" },
    timeout: { type: "string" },
    json: { type: "boolean" },
    explain: { type: "boolean" },
    quiet: { type: "boolean" },
  });
  const port = parsePort(values.port, 8888);
  const to = values.to === undefined ? undefined : parseHostPort(values.to, "--to");
  if (to && (values.host !== undefined || values.port !== undefined || values.once)) {
    throw new UsageError("--to cannot be combined with --host, --port or --once");
  }
  const seed = values["seed-protocol"] ?? false;
  if (seed && positionals.length > 1) {
    throw new UsageError("--seed-protocol sends exactly one FILE per connection");
  }
  const resume = values.resume ?? false;
  if (seed && resume) {
    throw new UsageError("--resume cannot be combined with --seed-protocol (it has no sizes)");
  }
  const json = values.json ?? false;
  const idleTimeoutMs = parseCount(values.timeout, 30, "--timeout", { max: 86_400 }) * 1000;
  const files = await offeredFiles(positionals);
  const target = to && { ...to, hostname: await resolveHostArgument(to.hostname, "--to") };
  const host = await resolveHostArgument(values.host ?? "127.0.0.1");
  const reporter = createReporter("tcp/file_send", {
    json,
    quiet: values.quiet,
    explain: values.explain,
  });
  if (seed) reporter.warn(SEED_PROTOCOL_WARNING, "log", { level: "warning" });
  using signal = interruptSignal();
  const totals: ServedTotals = { clients: 0, files: 0, bytes: 0 };
  const zeroCopy = !values["no-sendfile"];
  const common = { seed, resume, zeroCopy, json, totals, idleTimeoutMs, signal };

  if (target) {
    const conn = await connectOrFail(target, { timeoutMs: CONNECT_TIMEOUT_MS });
    const progress = json ? undefined : createProgressBar;
    const ok = await session(conn, files, reporter, { ...common, progress });
    // The session has already said so in its one `failed: interrupted` line.
    if (signal.aborted) return 130;
    return ok ? 0 : 1;
  }

  const listener = listenTcp({ hostname: host, port });
  const address = formatAddr(listener.addr);
  // The listening line is printed even with --quiet: tools and tests wait for it.
  createReporter("tcp/file_send", { json }).info(
    listeningLine(listener.addr),
    "listening",
    { address },
  );
  // Hash now, while nobody waits; clients that arrive earlier wait for the shared digest (said
  // when it takes longer than 2 s: a big file).
  noticeIfSlow(
    Promise.all(files.map((f) => f.describe())),
    () =>
      reporter.info(
        "computing each file's SHA-256 before the first header can go out (clients that " +
          "connect meanwhile wait)",
        "log",
      ),
  ).then(
    (summaries) =>
      reporter.info(
        `ready: ${summaries.map((s) => `${s.name} (${formatBytes(s.size)})`).join(", ")}`,
        "log",
        { files: summaries },
      ),
    (error) =>
      reporter.warn(`cannot read files: ${describeError(error)}`, "error", {
        error: describeError(error),
      }),
  );
  const ok = await serveConnections(
    listener,
    (conn) => session(conn, files, reporter, { ...common, client: ++totals.clients }),
    { signal, once: values.once, ...acceptReports(reporter) },
  );
  if (signal.aborted) reporter.info(`stopped listening on ${address}`, "log", { address });
  reporter.info(formatServed(totals), "stats", { ...totals });
  if (signal.aborted) return 0;
  return ok ? 0 : 1;
}

if (import.meta.main) await runMain(USAGE, main);
