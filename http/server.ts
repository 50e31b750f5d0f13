/**
 * A raw HTTP/1.1 server on `Deno.listen` — seed 003's "tcp应用 ---> http传输": the request and
 * response of the seed, parsed and written by netlab's own HTTP core (http/core/), serving the
 * demo site of seed 000's URL (`/linhaifeng/articles/6817679.html`). `Deno.serve` is the
 * benchmark to beat, never the implementation. How it works and what limits it: http/README.md.
 *
 *   deno task http:server                              # http://127.0.0.1:8000/, site http/site/
 *   deno run -A http/server.ts --root DIR --port 0     # any directory, ephemeral port
 *   deno task http:server --upload /tmp/up --auth alice:secret --trace
 *   deno task http:server --explain --explain-header --cors --spa
 *
 * Poke it: `curl -v http://127.0.0.1:8000/`, `curl -I …` (HEAD), `curl -r 0-9 …` (Range),
 * `curl -d hello http://127.0.0.1:8000/echo`, `curl -X OPTIONS -i …`, or by hand:
 * `printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' | nc 127.0.0.1 8000`.
 */
import {
  checkWritableFolder,
  CliError,
  formatAddr,
  interruptSignal,
  listenTcp,
  parseCli,
  parseCount,
  parsePort,
  runMain,
  UsageError,
  userPath,
} from "../tcp/kit/cli.ts";
import { createReporter } from "../tcp/kit/report.ts";
import { DEFAULT_KEEPALIVE_SECONDS, keepaliveExplained, serveHttp } from "./server/serve.ts";
import type { ServeOptions } from "./server/types.ts";

export { serveHttp };

export type {
  FileBody,
  Handler,
  HttpRequest,
  HttpResponse,
  HttpServer,
  ServeOptions,
} from "./server/types.ts";

/** The bundled demo site. */
export const DEFAULT_ROOT = new URL("./site/", import.meta.url).pathname;

/**
 * `deno task http:server …`: bind, then accept → serve → close for every client until Ctrl-C
 * (`serveHttp`, http/server/serve.ts: one client on its own `Connection`, read → parse →
 * respond → flush, until it leaves). The flags and folders are checked first, below.
 */
export async function main(args: string[]): Promise<number> {
  const flags = await parseServeFlags(args);
  // Ctrl-C is ours from before the first line: a stop right after it still ends cleanly.
  using signal = interruptSignal();
  // socket() + bind() + listen() in one call; the kernel queues up to 4096 finished handshakes.
  const listener = listenTcp({ hostname: flags.hostname, port: flags.port, tcpBacklog: 4096 });
  const address = formatAddr(listener.addr);
  createReporter("http/server", { json: flags.json }).info(
    `listening on http://${address}/`,
    "listening",
    { address, root: flags.options.root },
  );
  const reporter = createReporter("http/server", {
    json: flags.json,
    quiet: flags.quiet,
    explain: flags.explain,
    batched: true,
  });
  reporter.explain(keepaliveExplained(flags.options.keepaliveSeconds ?? 0));
  const server = await serveHttp(listener, { ...flags.options, reporter, signal });
  await server.finished;
  if (signal.aborted) reporter.info("stopped", "log");
  return 0;
}

/** What the command line asked for. */
interface ServeFlags {
  hostname: string;
  port: number;
  json: boolean;
  quiet: boolean;
  explain: boolean;
  options: ServeOptions;
}

/** Reads the flags; the root must be a folder and the upload folder writable, before binding. */
async function parseServeFlags(args: string[]): Promise<ServeFlags> {
  const { values, positionals } = parseCli(args, {
    root: { type: "string" },
    host: { type: "string" },
    port: { type: "string" },
    upload: { type: "string" },
    auth: { type: "string" },
    trace: { type: "boolean" },
    "max-conns": { type: "string" },
    "max-body": { type: "string" },
    "idle-timeout-ms": { type: "string" },
    "header-timeout-ms": { type: "string" },
    "body-timeout-ms": { type: "string" },
    "body-min-rate": { type: "string" },
    "test-routes": { type: "boolean" },
    quiet: { type: "boolean" },
    json: { type: "boolean" },
    spa: { type: "boolean" },
    cors: { type: "boolean" },
    "explain-header": { type: "boolean" },
    explain: { type: "boolean" },
    "no-sendfile": { type: "boolean" },
    "no-epoll": { type: "boolean" },
    keepalive: { type: "string" },
  });
  if (positionals.length) throw new UsageError(`Unexpected argument "${positionals[0]}"`);
  const port = parsePort(values.port, 8000);
  const hostname = values.host ?? "127.0.0.1";
  const maxConns = parseCount(values["max-conns"], 4096, "--max-conns", { max: 1_000_000 });
  const maxBodyBytes = parseCount(values["max-body"], 16 * 1024 * 1024, "--max-body", {
    min: 0,
  });
  const idleTimeoutMs = parseCount(values["idle-timeout-ms"], 15_000, "--idle-timeout-ms");
  const headerTimeoutMs = parseCount(values["header-timeout-ms"], 10_000, "--header-timeout-ms");
  const bodyTimeoutMs = parseCount(values["body-timeout-ms"], 10_000, "--body-timeout-ms");
  const bodyMinRate = parseCount(values["body-min-rate"], 1024, "--body-min-rate", { min: 0 });
  const keepaliveSeconds = parseCount(values.keepalive, DEFAULT_KEEPALIVE_SECONDS, "--keepalive", {
    min: 0,
    max: 86_400,
  });
  let auth: ServeOptions["auth"];
  if (values.auth !== undefined) {
    const colon = values.auth.indexOf(":");
    if (colon <= 0) throw new UsageError(`Invalid --auth "${values.auth}": expected USER:PASS`);
    auth = { user: values.auth.slice(0, colon), password: values.auth.slice(colon + 1) };
  }
  // Folders as typed, resolved where `deno task` was started; the upload folder is created if
  // missing and proven writable before anything is served.
  const root = values.root === undefined ? DEFAULT_ROOT : userPath(values.root);
  const rootInfo = await Deno.stat(root).catch(() => undefined);
  if (!rootInfo?.isDirectory) {
    throw new CliError(`Cannot serve --root "${values.root ?? root}": not a directory`);
  }
  const upload = values.upload === undefined ? undefined : userPath(values.upload);
  if (upload !== undefined) await checkWritableFolder(upload, values.upload);

  return {
    hostname,
    port,
    json: values.json === true,
    quiet: values.quiet === true,
    explain: values.explain === true,
    options: {
      root,
      uploadDir: upload,
      auth,
      trace: values.trace,
      testRoutes: values["test-routes"],
      maxConns,
      maxBodyBytes,
      idleTimeoutMs,
      headerTimeoutMs,
      bodyTimeoutMs,
      bodyMinRate,
      accessLog: !values.quiet,
      requestEvents: values.json === true && !values.quiet,
      spa: values.spa,
      cors: values.cors,
      explainHeader: values["explain-header"],
      zeroCopy: !values["no-sendfile"],
      epoll: !values["no-epoll"],
      keepaliveSeconds,
    },
  };
}

const USAGE = `Usage: deno task http:server [--root DIR] [--host HOST] [--port PORT] [options]

A raw HTTP/1.1 server (static files and a few demo routes) built on Deno.listen.
  --root DIR              directory to serve (default: the demo site http/site/)
  --host HOST             address to bind (default 127.0.0.1)
  --port PORT             TCP port, 0 = ephemeral (default 8000)
  --upload DIR            allow PUT/DELETE under /upload/, stored in DIR
  --auth USER:PASS        credentials for /private/ (Basic auth)
  --trace                 answer TRACE with a message/http echo (off: cross-site tracing)
  --max-conns N           connections served at once; beyond: 503 (default 4096)
  --max-body BYTES        largest request body (default 16777216)
  --idle-timeout-ms MS    close a keep-alive connection idle this long (default 15000)
  --header-timeout-ms MS  close a connection whose request head takes longer (default 10000)
  --body-timeout-ms MS    close a connection whose request body stops arriving this long
                          (default 10000); after that long, the body must also average
  --body-min-rate BYTES   bytes per second at least, 0 = no minimum (default 1024)
  --test-routes           enable /__error (a handler that throws) for tests
  --spa                   single-page app: a missing path without an extension, asked for by
                          a client that accepts text/html, gets /index.html (200)
  --cors                  Access-Control-Allow-Origin: * and answers to CORS preflights
  --explain-header        add X-Netlab-Explain: which rule produced the status, which file
  --no-sendfile           stream large files through a buffer instead of sendfile(2) (which
                          Linux uses by default when FFI is allowed, as nginx's sendfile on)
  --no-epoll              read and write connections with Deno's own ops instead of one
                          epoll(7) set and recv/send through FFI (the default on Linux)
  --keepalive SECONDS     TCP keepalive: probe a connection silent this long, close it after
                          3 unanswered probes; 0 = off (default 30)
  --explain               print each request and response head, annotated field by field
  --quiet                 no access log (for benchmarks)
  --json                  log as newline-delimited JSON events (request and response)
  -h, --help              show this help`;

if (import.meta.main) await runMain(USAGE, main);
