/**
 * The lab: a page that runs netlab's experiments on loopback and draws each one live as a
 * sequence diagram — one lane per party, one arrow per datagram or write/read, and, on a click,
 * the message's bytes annotated by the codecs' own `--explain` view.
 *
 * Seed ideas: all of them, seen instead of read — seed 000's URL from DNS root to response, 003's
 * 粘包 and UDP's 「收与发一一对应」, 004's handshake and 四次挥手 with the socket states.
 *
 * How: netlab's own HTTP server (http/server/serve.ts `serveHttp`) serves the page from http/lab/
 * and, at `/run/<experiment>`, a Server-Sent Events stream (a `ReadableStream` body): the run
 * starts the experiment's lesson scripts as processes with `--json --explain` (a fixed list,
 * http/lab/experiments.ts; nothing the page sends becomes part of a command line), and forwards
 * their NDJSON events as they come (http/lab/runs.ts). The page lays each event out with
 * http/lab/diagram.js — the same module the tests call — and draws it as SVG.
 *
 * Safety: loopback only (the page, and every experiment); one run at a time per browser (a
 * cookie) and a few at a time in all; every run ends by itself within 10 s; requests whose Host or
 * Origin is not this lab are refused (a web page elsewhere cannot start runs).
 *
 *   deno task lab                          # lab on http://127.0.0.1:8090/
 *   deno run -A http/lab.ts --port 0       # any free port
 *
 * Poke it: `curl -N http://127.0.0.1:8090/run/udp-truncate` shows a run's raw event stream.
 */
import {
  formatAddr,
  interruptSignal,
  listenTcp,
  parseCli,
  parsePort,
  printLine,
  runMain,
  UsageError,
} from "../tcp/kit/cli.ts";
import { createReporter, type Reporter } from "../tcp/kit/report.ts";
import { getHeader } from "./core/headers.ts";
import type { HttpRequest, HttpResponse, HttpServer } from "./server/types.ts";
import { serveHttp } from "./server/serve.ts";
import { type Experiment, EXPERIMENTS } from "./lab/experiments.ts";
import { runStream, type RunStreamOptions } from "./lab/runs.ts";

const USAGE = `Usage: deno task lab [--host HOST] [--port PORT]

Serves the lab: a page that runs netlab's experiments on loopback (open a URL, 粘包, the TCP
life cycle, UDP truncation and broadcast, DNS +trace) and draws each one live as a sequence
diagram; click an arrow for the message's annotated bytes.
  --host HOST   loopback address to listen on (default 127.0.0.1)
  --port PORT   TCP port, 0 = ephemeral (default 8090)
  -h, --help    show this help`;

/** The page's folder. */
export const LAB_ROOT = new URL("./lab/", import.meta.url).pathname;
/** Files of the page served as they are (everything else in the folder is not). */
const PUBLIC_FILES = new Set([
  "/lab.css",
  "/lab.js",
  "/diagram.js",
  "/readers.js",
  "/reader_kit.js",
  "/svg.js",
]);
/** The cookie that tells one browser from another. */
const COOKIE = "netlab_lab";
const COOKIE_VALUE = /^[0-9a-f]{32}$/;
/** Runs at once, all browsers together. */
export const MAX_RUNS = 4;

const SECURITY_HEADERS: [string, string][] = [
  // Everything comes from the lab itself: no CDN, nothing inline.
  [
    "Content-Security-Policy",
    // The diagram's SVG carries its own <style> (so a copy looks the same): inline styles only.
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'",
  ],
  ["X-Content-Type-Options", "nosniff"],
  ["Referrer-Policy", "no-referrer"],
];

/** Options for `serveLab`. */
export interface LabOptions {
  /** One line per run; omit for silence. */
  reporter?: Reporter;
  /** Deadlines of the runs (tests shorten them). */
  runs?: RunStreamOptions;
  /** Concurrent runs in all (default `MAX_RUNS`). */
  maxRuns?: number;
  /** I/O mode of the HTTP server (see `ServeOptions.epoll`). */
  epoll?: boolean;
  /** The experiments (default `EXPERIMENTS`; tests add ones that take long). */
  experiments?: readonly Experiment[];
  signal?: AbortSignal;
}

/** A running lab. */
export interface Lab extends AsyncDisposable {
  server: HttpServer;
  /** Stops serving, stops every run and waits until none of their processes is left. */
  close(): Promise<void>;
  /** Resolves when the server has stopped and every run's processes have exited. */
  finished: Promise<void>;
}

function text(status: number, message: string, headers: [string, string][] = []): HttpResponse {
  return {
    status,
    headers: [["Content-Type", "text/plain; charset=utf-8"], ...headers],
    body: `${message}\n`,
  };
}

/** The browser's id from its cookie, or undefined. */
function browserId(request: HttpRequest): string | undefined {
  for (const part of (getHeader(request.headers, "cookie") ?? "").split(";")) {
    const [name, value] = part.trim().split("=", 2);
    if (name === COOKIE && value && COOKIE_VALUE.test(value)) return value;
  }
  return undefined;
}

/** Serves the lab on `listener` (which it owns from now on). */
export async function serveLab(listener: Deno.TcpListener, options: LabOptions = {}): Promise<Lab> {
  const index = await Deno.readFile(`${LAB_ROOT}index.html`);
  const experiments = options.experiments ?? EXPERIMENTS;
  const experimentsJson = JSON.stringify(
    experiments.map(({ id, title, summary, commands, caveats }) => ({
      id,
      title,
      summary,
      commands,
      caveats,
    })),
  );
  const { port } = listener.addr;
  const hosts = new Set([
    formatAddr(listener.addr),
    `localhost:${port}`,
    `127.0.0.1:${port}`,
    `[::1]:${port}`,
  ]);
  const maxRuns = options.maxRuns ?? MAX_RUNS;
  /** Browsers with a run going. */
  const running = new Set<string>();
  const settled = new Set<Promise<void>>();
  const reporter = options.reporter;

  function page(request: HttpRequest): HttpResponse {
    const headers: [string, string][] = [
      ["Content-Type", "text/html; charset=utf-8"],
      ["Cache-Control", "no-store"],
      ...SECURITY_HEADERS,
    ];
    if (!browserId(request)) {
      const id = Array.from(crypto.getRandomValues(new Uint8Array(16)))
        .map((b) => b.toString(16).padStart(2, "0")).join("");
      headers.push(["Set-Cookie", `${COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict`]);
    }
    return { status: 200, headers, body: index };
  }

  function startRun(request: HttpRequest, id: string): HttpResponse {
    // The id only selects from the list; it goes nowhere else.
    const experiment = /^[a-z0-9-]{1,40}$/.test(id)
      ? experiments.find((e) => e.id === id)
      : undefined;
    if (!experiment) return text(404, `No experiment "${id.slice(0, 40)}"`);
    if (request.method !== "GET") return text(405, "Method Not Allowed", [["Allow", "GET"]]);
    const origin = getHeader(request.headers, "origin");
    const host = getHeader(request.headers, "host") ?? "";
    if (origin !== undefined && origin !== `http://${host}`) {
      return text(403, "Forbidden: runs start from the lab's own page");
    }
    const browser = browserId(request) ?? `no cookie, ${request.remote.hostname}`;
    if (running.has(browser)) {
      return text(409, "Conflict: this browser has a run going; one at a time");
    }
    if (running.size >= maxRuns) {
      return text(503, `Service Unavailable: ${maxRuns} runs are going`, [["Retry-After", "5"]]);
    }
    running.add(browser);
    const run = runStream(experiment, {
      ...options.runs,
      onEnd: ({ ok, reason, ms }) => {
        running.delete(browser);
        reporter?.info(`run ${experiment.id}: ${reason} in ${ms} ms`, "result", {
          experiment: experiment.id,
          ok,
          reason,
          ms,
        });
      },
    });
    settled.add(run.settled);
    run.settled.finally(() => settled.delete(run.settled));
    return {
      status: 200,
      headers: [
        ["Content-Type", "text/event-stream; charset=utf-8"],
        ["Cache-Control", "no-store"],
        ...SECURITY_HEADERS,
      ],
      body: run.body,
    };
  }

  const server = await serveHttp(listener, {
    root: LAB_ROOT,
    reporter,
    accessLog: false,
    epoll: options.epoll,
    signal: options.signal,
    handler(request) {
      // A name that is not this lab's is another site reaching it through DNS (rebinding).
      if (!hosts.has((getHeader(request.headers, "host") ?? "").toLowerCase())) {
        return text(403, "Forbidden: unknown Host");
      }
      const { path, method } = request;
      if (path.startsWith("/run/")) return startRun(request, path.slice("/run/".length));
      if (method !== "GET" && method !== "HEAD") {
        return text(405, "Method Not Allowed", [["Allow", "GET, HEAD"]]);
      }
      if (path === "/" || path === "/index.html") return page(request);
      if (path === "/experiments.json") {
        return {
          status: 200,
          headers: [["Content-Type", "application/json"], ["Cache-Control", "no-store"]],
          body: experimentsJson,
        };
      }
      if (PUBLIC_FILES.has(path)) return undefined; // the static files, with their validators
      return text(404, "Not Found");
    },
  });

  const finished = server.finished.then(async () => {
    while (settled.size) await Promise.all([...settled]);
  });
  const close = async () => {
    await server.close();
    await finished;
  };
  return { server, close, finished, [Symbol.asyncDispose]: close };
}

/** `deno task lab [--host HOST] [--port PORT]`. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args, {
    host: { type: "string" },
    port: { type: "string" },
  });
  if (positionals.length) throw new UsageError(`Unexpected argument "${positionals[0]}"`);
  const hostname = values.host ?? "127.0.0.1";
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname) && hostname !== "::1") {
    throw new UsageError(
      `Invalid --host "${hostname}": the lab only listens on loopback (127.0.0.0/8 or ::1)`,
    );
  }
  const port = parsePort(values.port, 8090);
  using signal = interruptSignal();
  const listener = listenTcp({ hostname, port });
  printLine(`lab on http://${formatAddr(listener.addr)}/`);
  const lab = await serveLab(listener, {
    reporter: createReporter("http/lab"),
    signal,
  });
  await lab.finished;
  if (signal.aborted) printLine("stopped");
  return 0;
}

if (import.meta.main) await runMain(USAGE, main);
