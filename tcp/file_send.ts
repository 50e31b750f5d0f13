/**
 * Sends files over TCP to every client that connects — seed 003's 文件传输示例 server, done right.
 *
 * Seed idea: the listening side tells the client the file name, then sends the file, then
 * waits for 「接收完成」. The seed framed that with sleep(0.1) and a `##` marker, served one
 * client, and sent a hard-coded img.jpg; here each file travels as a length-prefixed JSON header
 * (name, size, SHA-256) plus exactly `size` bytes, several clients are served at once, and the
 * receiver's ack for each file is logged. `--seed-protocol` speaks the seed's own protocol to the
 * tutorial's Python client (with a warning: it cannot tell a `##` chunk from the end marker).
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
  formatAddr,
  interruptSignal,
  listeningLine,
  parseCli,
  parseCount,
  parseHostPort,
  parsePort,
  runMain,
  UsageError,
} from "./cli.ts";
import { createReporter, type Reporter } from "./report.ts";
import { SEED_ACK, SEED_PROTOCOL_WARNING, UnsafeNameError } from "./file_protocol.ts";
import {
  connectOrExplain,
  describeError,
  listenOrExplain,
  OfferedFile,
  sendFiles,
  sendSeedProtocol,
  type SentFile,
  serveConnections,
  type TransferOptions,
} from "./file_transfer.ts";
import { createProgressBar, formatBytes } from "./progress.ts";

const USAGE = `Usage: deno task file:send FILE... [options]

Listens and sends FILE(s) to every client that connects (tcp/file_recv.ts), several at once.
Each file: a JSON header (name, size, sha256), its bytes, then the receiver's ack is logged.

Options:
  --host H          address to listen on (default 127.0.0.1)
  --port P          port to listen on (default 8888, 0 = any free port)
  --once            serve one client, then exit (exit 1 if it did not get every file)
  --to HOST:PORT    upload instead: connect to 'file_recv.ts --listen' and send
  --seed-protocol   seed 003's protocol (name, 1024-byte chunks, "##", ack 接收完成), one FILE
  --timeout S       drop a client when nothing moves for S seconds (default 30)
  --json            newline-delimited JSON events
  --quiet           only the listening line and errors
  -h, --help        this help`;

/** Checks the FILE arguments: regular, readable files with distinct, safe names. */
export async function offeredFiles(paths: string[]): Promise<OfferedFile[]> {
  if (paths.length === 0) throw new UsageError("Missing FILE: name at least one file to send");
  const files: OfferedFile[] = [];
  const seen = new Set<string>();
  for (const path of paths) {
    let file: OfferedFile;
    try {
      file = new OfferedFile(path);
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
      const info = await Deno.stat(path);
      if (!info.isFile) throw new CliError(`Cannot send "${path}": not a regular file`);
      (await Deno.open(path, { read: true })).close();
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

/** Logs one file's outcome; returns whether the receiver accepted it. */
function reportSent(reporter: Reporter, peer: string, sent: SentFile): boolean {
  const fields = {
    peer,
    name: sent.name,
    size: sent.size,
    sha256: sent.sha256,
    ms: sent.elapsedMs,
  };
  if (!sent.ack.ok) {
    reporter.warn(`${peer}: refused ${sent.name}: ${sent.ack.error}`, "refused", {
      ...fields,
      error: sent.ack.error,
    });
    return false;
  }
  if (sent.ack.sha256 !== sent.sha256) {
    reporter.warn(
      `${peer}: ${sent.name} acked with a different sha256 ${sent.ack.sha256}`,
      "mismatch",
      fields,
    );
    return false;
  }
  reporter.info(
    `${peer}: sent ${sent.name} (${formatBytes(sent.size)}) in ${
      (sent.elapsedMs / 1000).toFixed(3)
    } s, ${rate(sent.size, sent.elapsedMs)}: ack ok sha256 ${sent.ack.sha256}`,
    "sent",
    fields,
  );
  return true;
}

/** One client's session in either protocol; logs everything, returns success, never throws. */
async function session(
  conn: Deno.Conn,
  files: OfferedFile[],
  reporter: Reporter,
  options: TransferOptions & { seed: boolean },
): Promise<boolean> {
  const peer = formatAddr(conn.remoteAddr);
  reporter.info(`${peer}: connected`, "connect", { peer });
  try {
    if (options.seed) {
      const { summary, ack } = await sendSeedProtocol(conn, files[0], options);
      const ok = ack === SEED_ACK;
      const text = `${peer}: sent ${summary.name} (${formatBytes(summary.size)}), ack ${
        JSON.stringify(ack)
      }`;
      if (ok) reporter.info(text, "sent", { peer, ...summary, ack });
      else reporter.warn(`${text}: expected "${SEED_ACK}"`, "refused", { peer, ...summary, ack });
      return ok;
    }
    let ok = true;
    const sent = await sendFiles(conn, files, {
      ...options,
      onFile: (file) => {
        ok = reportSent(reporter, peer, file) && ok;
      },
    });
    reporter.info(
      `${peer}: done, ${sent.filter((f) => f.ack.ok).length} of ${files.length} files accepted`,
      "done",
      {
        peer,
      },
    );
    return ok;
  } catch (error) {
    reporter.warn(`${peer}: failed: ${describeError(error)}`, "error", {
      peer,
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
    timeout: { type: "string" },
    json: { type: "boolean" },
    quiet: { type: "boolean" },
  });
  const port = parsePort(values.port, 8888);
  const target = values.to === undefined ? undefined : parseHostPort(values.to, "--to");
  if (target && (values.host !== undefined || values.port !== undefined || values.once)) {
    throw new UsageError("--to cannot be combined with --host, --port or --once");
  }
  const seed = values["seed-protocol"] ?? false;
  if (seed && positionals.length > 1) {
    throw new UsageError("--seed-protocol sends exactly one FILE per connection");
  }
  const idleTimeoutMs = parseCount(values.timeout, 30, "--timeout", { max: 86_400 }) * 1000;
  const files = await offeredFiles(positionals);
  const reporter = createReporter("tcp/file_send", { json: values.json, quiet: values.quiet });
  if (seed) reporter.warn(SEED_PROTOCOL_WARNING, "warning");
  using signal = interruptSignal();

  if (target) {
    const conn = await connectOrExplain(target.hostname, target.port);
    const progress = values.json ? undefined : createProgressBar;
    const ok = await session(conn, files, reporter, { seed, idleTimeoutMs, signal, progress });
    if (signal.aborted) throw signal.reason;
    return ok ? 0 : 1;
  }

  const listener = listenOrExplain(values.host ?? "127.0.0.1", port);
  const address = formatAddr(listener.addr);
  // The listening line is printed even with --quiet: tools and tests wait for it.
  createReporter("tcp/file_send", { json: values.json }).info(
    listeningLine(listener.addr),
    "listening",
    { address },
  );
  // Hash now, while nobody waits; clients that arrive earlier wait for the shared digest.
  Promise.all(files.map((f) => f.describe())).then(
    (summaries) =>
      reporter.info(
        `ready: ${summaries.map((s) => `${s.name} (${formatBytes(s.size)})`).join(", ")}`,
        "ready",
        { files: summaries },
      ),
    (error) => reporter.warn(`cannot read files: ${describeError(error)}`, "error"),
  );
  const ok = await serveConnections(
    listener,
    (conn) => session(conn, files, reporter, { seed, idleTimeoutMs, signal }),
    { signal, once: values.once },
  );
  if (signal.aborted) {
    reporter.info(`stopped listening on ${address}`, "stopped");
    return 0;
  }
  return ok ? 0 : 1;
}

if (import.meta.main) await runMain(USAGE, main);
