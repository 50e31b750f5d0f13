/**
 * Receives files over TCP into a folder, verified — seed 003's 文件传输示例 client, done right.
 *
 * Seed idea: connect, learn the file name from the wire, write what follows, answer 「接收完成」.
 * The seed stopped at any read equal to `##` (cutting files short), spun forever on EOF and wrote
 * to `'/home/tarena/' + filename` (so the sender chose the path). Here every file is announced
 * with its size and SHA-256, streamed to a temporary file in DEST and renamed only when both
 * match; names must be one safe path component; existing files survive unless `--force`.
 * One line per file: name, size, sha256, elapsed, MB/s. Exit 1 if anything was refused or cut.
 * `--resume` keeps a cut file's bytes (`.NAME.netlab-partial-<16 hex>`) and, when the sender
 * offers resume (`file_send.ts --resume`), asks only for the rest; the whole file's SHA-256 is
 * still checked. `--json` prints NDJSON events, `--explain` annotates every frame.
 *
 *   deno task file:recv --port 8888 --dir downloads
 *   deno run --allow-net --allow-read=. --allow-write=. tcp/file_recv.ts --port 8888
 *   deno task file:recv --listen --port 9999 --dir uploads    (for 'file_send.ts --to')
 *   deno task file:recv --resume --dir downloads              (again after a cut: continues)
 *
 * Poke it by hand: an empty session is the 4-byte length 13 and `{"end": true}` —
 *   printf '\0\0\0\r{"end": true}' | nc -l 127.0.0.1 8888     then: deno task file:recv
 */
import {
  checkWritableFolder,
  connectOrFail,
  formatAddr,
  interruptSignal,
  listeningLine,
  listenTcp,
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
import { SEED_PROTOCOL_WARNING } from "./core/file_protocol.ts";
import { type ReceivedFile, receiveFiles } from "./core/file_transfer/receive.ts";
import { receiveSeedProtocol } from "./core/file_transfer/seed.ts";
import { CONNECT_TIMEOUT_MS, describeError } from "./core/file_transfer/wire.ts";
import { serveConnections } from "./core/file_transfer/serve.ts";
import { explainWire, progressEvents } from "./kit/transfer_view.ts";
import { createProgressBar, type ProgressBar } from "./kit/progress.ts";

const USAGE = `Usage: deno task file:recv [options]

Connects to tcp/file_send.ts and saves every file it sends into DEST, each verified by size and
SHA-256 before it gets its name. Prints one line per file; exit 1 if any file was refused or cut.

Options:
  --host H          sender to connect to (default 127.0.0.1; with --listen: address to bind)
  --port P          its port (default 8888; with --listen 0 = any free port)
  --dir DEST        folder to save into (default .; created if missing, checked for
                    writing before anything is received)
  --force           replace existing files of the same name
  --listen          receive uploads instead: listen for 'file_send.ts --to', serve until Ctrl-C
  --once            with --listen: receive from one client, then exit
  --resume          keep a cut file's bytes and continue from them next time (the sender must
                    run with --resume too; the whole file's SHA-256 is checked at the end)
  --seed-protocol   seed 003's protocol (name, 1024-byte chunks, "##", ack 接收完成)
  --timeout S       give up when nothing moves for S seconds (default 30)
  --json            newline-delimited JSON events (connected, progress, saved, error, ...)
  --explain         annotate every header/ack frame sent and received
  -h, --help        show this help`;

/**
 * The result line: `saved NAME  SIZE bytes  sha256 HEX  0.123 s  456.7 MB/s`, plus
 * `  resumed at OFFSET` when the first OFFSET bytes were already there (the rate counts the rest).
 */
export function formatReceived(file: ReceivedFile): string {
  const seconds = file.elapsedMs / 1000;
  const resumedFrom = file.resumedFrom ?? 0;
  const moved = file.size - resumedFrom;
  const mbps = seconds > 0 ? (moved / 1e6 / seconds).toFixed(1) : "-";
  return `saved ${file.name}  ${file.size} bytes  sha256 ${file.sha256}  ${
    seconds.toFixed(3)
  } s  ${mbps} MB/s${resumedFrom > 0 ? `  resumed at ${resumedFrom}` : ""}`;
}

interface SessionOptions {
  dir: string;
  force: boolean;
  seed: boolean;
  resume: boolean;
  json: boolean;
  idleTimeoutMs: number;
  signal: AbortSignal;
  progress?: (label: string, total: number | undefined) => ProgressBar;
}

/** One sender's session; logs every file and failure, returns success, never throws. */
async function session(
  conn: Deno.Conn,
  reporter: Reporter,
  options: SessionOptions,
): Promise<boolean> {
  const peer = formatAddr(conn.remoteAddr);
  // The human output is one line per file (scripts read it); connection events exist only
  // in the --json stream.
  const event = (text: string, name: string, fields: Record<string, unknown>) => {
    if (options.json) reporter.info(text, name, fields);
  };
  event(`connected to ${peer}`, "connected", { peer });
  let saved = 0;
  let refused = 0;
  const onFile = (file: ReceivedFile) => {
    saved++;
    reporter.info(formatReceived(file), "saved", {
      peer,
      name: file.name,
      path: file.path,
      size: file.size,
      sha256: file.sha256,
      ms: file.elapsedMs,
      resumedFrom: file.resumedFrom,
    });
  };
  const transfer = {
    dir: options.dir,
    force: options.force,
    resume: options.resume,
    idleTimeoutMs: options.idleTimeoutMs,
    signal: options.signal,
    progress: options.json ? progressEvents(reporter, { peer }) : options.progress,
    wire: explainWire(reporter, peer),
    onWaiting: (text: string) => reporter.warn(text, "log", { peer }),
  };
  let ok = false;
  try {
    if (options.seed) {
      onFile(await receiveSeedProtocol(conn, transfer));
      ok = true;
    } else {
      const result = await receiveFiles(conn, {
        ...transfer,
        onFile,
        onRefused: ({ name, error }) => {
          refused++;
          reporter.warn(`refused: ${error}`, "error", { peer, name, error, refused: true });
        },
        onResume: ({ name, size, offset, path, note }) => {
          if (note) reporter.warn(`${name}: ${note}`, "log", { peer, name, path, note });
          else if (offset > 0) {
            reporter.warn(
              `${name}: resuming at ${offset} of ${size} bytes (kept in ${path})`,
              "log",
              { peer, name, path, offset, size },
            );
          }
        },
      });
      ok = result.refused.length === 0;
    }
  } catch (error) {
    reporter.warn(`failed: ${describeError(error)}`, "error", {
      peer,
      error: describeError(error),
    });
  }
  event(`disconnected from ${peer}: ${saved} saved, ${refused} refused`, "disconnected", {
    peer,
    saved,
    refused,
    ok,
  });
  return ok;
}

/** `deno task file:recv [options]`. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args, {
    host: { type: "string" },
    port: { type: "string" },
    dir: { type: "string" },
    force: { type: "boolean" },
    listen: { type: "boolean" },
    once: { type: "boolean" },
    "seed-protocol": { type: "boolean" },
    resume: { type: "boolean" },
    timeout: { type: "string" },
    json: { type: "boolean" },
    explain: { type: "boolean" },
  });
  if (positionals.length) throw new UsageError(`Unexpected argument "${positionals[0]}"`);
  if (values.once && !values.listen) throw new UsageError("--once only makes sense with --listen");
  const port = parsePort(values.port, 8888);
  if (!values.listen && port === 0) {
    throw new UsageError(`Invalid --port "0": cannot connect to port 0`);
  }
  const typedDir = values.dir ?? ".";
  if (typedDir === "") throw new UsageError(`Invalid --dir "": expected a folder`);
  // Checked (and created) before connecting: no byte moves towards a folder we cannot write.
  const dir = userPath(typedDir);
  await checkWritableFolder(dir, typedDir);
  const idleTimeoutMs = parseCount(values.timeout, 30, "--timeout", { max: 86_400 }) * 1000;
  const host = await resolveHostArgument(values.host ?? "127.0.0.1");
  const seed = values["seed-protocol"] ?? false;
  const resume = values.resume ?? false;
  if (seed && resume) {
    throw new UsageError("--resume cannot be combined with --seed-protocol (it has no sizes)");
  }
  const json = values.json ?? false;
  const reporter = createReporter("tcp/file_recv", { json, explain: values.explain });
  if (seed) reporter.warn(SEED_PROTOCOL_WARNING, "log", { level: "warning" });
  using signal = interruptSignal();
  const options: SessionOptions = {
    dir,
    force: values.force ?? false,
    seed,
    resume,
    json,
    idleTimeoutMs,
    signal,
    progress: json ? undefined : createProgressBar,
  };

  if (!values.listen) {
    const conn = await connectOrFail({ hostname: host, port }, { timeoutMs: CONNECT_TIMEOUT_MS });
    const ok = await session(conn, reporter, options);
    // The session has already said so in its one `failed: interrupted` line.
    if (signal.aborted) return 130;
    return ok ? 0 : 1;
  }

  const listener = listenTcp({ hostname: host, port });
  const address = formatAddr(listener.addr);
  reporter.info(listeningLine(listener.addr), "listening", { address });
  const ok = await serveConnections(listener, (conn) => session(conn, reporter, options), {
    signal,
    once: values.once,
    ...acceptReports(reporter),
  });
  if (signal.aborted) {
    reporter.info(`stopped listening on ${address}`, "log", { address });
    return 0;
  }
  return ok ? 0 : 1;
}

if (import.meta.main) await runMain(USAGE, main);
