/**
 * What happens when you open a URL — netlab's main demo, all on loopback, nothing leaves the
 * machine.
 *
 * Seed 000: opening `http://www.cnblogs.com/linhaifeng/articles/6817679.html` is (a) the
 * browser's client socket asking DNS over UDP for the domain's IP — an iterative query from the
 * root (`.` → `com.` → `cnblogs.com.`) — then (b) a TCP connection to the web server, which sends
 * the file back. This script builds that little Internet and walks through it:
 *
 *   1. starts the DNS mini-Internet (`dns/internet.ts`: root on 127.0.0.2, `com.` on 127.0.0.3,
 *      `cnblogs.com.` on 127.0.0.4, whose zone says www.cnblogs.com is 127.0.0.5) and the web
 *      server (`http/server.ts`) on 127.0.0.5 — port 80 when run as root and free, else a free
 *      high port (the URL then carries it: the default 80 only applies when the port is omitted);
 *   2. takes the URL apart; resolves the name iteratively from the root, printing each referral;
 *      connects over TCP; writes the request; reads the response (`http/client.ts`);
 *   3. stops everything and exits 0.
 *
 *   deno task demo
 *   deno run -A http/demo.ts [--json] [--explain]
 *
 * To do it by hand: `deno task dns:internet` in one terminal, `deno task http:server --host
 * 127.0.0.5 --port 8080` in a second, then `deno task http:get -v --trace-dns --root 127.0.0.2
 * --dns-port PORT http://www.cnblogs.com:8080/linhaifeng/articles/6817679.html`.
 */
import {
  formatAddr,
  formatHostPort,
  interruptSignal,
  parseCli,
  runMain,
  UsageError,
} from "../tcp/kit/cli.ts";
import { createReporter, type Reporter } from "../tcp/kit/report.ts";
import { type MiniInternet, startMiniInternet } from "../dns/internet.ts";
import {
  eventJson,
  explainDnsStep,
  formatResolverEvent,
  getHeader,
  httpRequest,
  WireRecorder,
} from "./client.ts";
import { describeUrl, domainLevels, parseUrl } from "./core/url.ts";

/** The URL seed 000 takes apart. */
export const SEED_URL = "http://www.cnblogs.com/linhaifeng/articles/6817679.html";
/** Where the zone `cnblogs.com.` says `www` lives. */
export const WEB_HOST = "127.0.0.5";
/** The whole demo normally takes well under a second; this is the point to give up. */
const DEMO_DEADLINE_MS = 20_000;
const SERVER_SCRIPT = new URL("./server.ts", import.meta.url).pathname;
const REPO_ROOT = new URL("..", import.meta.url).pathname;

const USAGE = `Usage: deno task demo [--json] [--explain]

What happens when you open ${SEED_URL}:
starts an offline DNS mini-Internet (root, com., cnblogs.com. on 127.0.0.2-4) and the web server
on ${WEB_HOST}, resolves the name from the root, connects, requests, prints every step, stops
everything. Works without root (then the web server uses a free high port). Exits 0.

  --json       newline-delimited JSON events instead of text
  --explain    also show the request and response bytes, annotated field by field
  -h, --help   show this help`;

/** What the demo found, for tests and `--json`. */
export interface DemoResult {
  url: string;
  address: string;
  status: number;
  bodyBytes: number;
  referrals: string[];
}

/** A running `http/server.ts`. */
interface WebServer {
  host: string;
  port: number;
  /** Waits (bounded) for an access-log line that contains `text`. */
  waitForLog(text: string, timeoutMs: number): Promise<string | undefined>;
  stop(): Promise<void>;
}

/**
 * Starts `http/server.ts` on `host`: port 80 when it can be bound (root, and free), else a port
 * the kernel picks. Resolves once the server printed `listening on http://HOST:PORT/`.
 */
export async function startWebServer(host: string): Promise<WebServer> {
  const port = canBind(host, 80) ? 80 : 0;
  try {
    return await spawnWebServer(host, port);
  } catch (error) {
    // Someone took port 80 between the check and the server's bind: use any free port.
    if (port === 80) return await spawnWebServer(host, 0);
    throw error;
  }
}

function canBind(hostname: string, port: number): boolean {
  try {
    Deno.listen({ hostname, port }).close();
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse || error instanceof Deno.errors.PermissionDenied) {
      return false;
    }
    throw error;
  }
}

async function spawnWebServer(host: string, port: number): Promise<WebServer> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", SERVER_SCRIPT, "--host", host, "--port", String(port)],
    cwd: REPO_ROOT,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let exited = false;
  let stderr = "";
  const wake = () => waiters.forEach((w) => w());
  // Read both pipes for the server's whole life: a full pipe would block its logging.
  const pumpOut = (async () => {
    let pending = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      pending += chunk;
      let nl;
      while ((nl = pending.indexOf("\n")) >= 0) {
        lines.push(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
      wake();
    }
  })();
  const pumpErr = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderr = (stderr + chunk).slice(-4000);
    }
  })();
  const done = Promise.all([pumpOut, pumpErr, child.status]).then(() => {
    exited = true;
    wake();
  });

  /** Resolves with the first line matching `test`, or undefined on exit or timeout. */
  const waitFor = (test: (line: string) => boolean, timeoutMs: number) =>
    new Promise<string | undefined>((resolve) => {
      let seen = 0;
      const check = () => {
        for (; seen < lines.length; seen++) {
          if (test(lines[seen])) return finish(lines[seen]);
        }
        if (exited) finish(undefined);
      };
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      const finish = (line: string | undefined) => {
        clearTimeout(timer);
        waiters.delete(check);
        resolve(line);
      };
      waiters.add(check);
      check();
    });

  const stop = async () => {
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch (error) {
        if (!(error instanceof TypeError)) throw error; // TypeError: already exited
      }
    }
    await done;
  };

  const first = await waitFor((line) => line.startsWith("listening on "), 20_000);
  const match = first && /^listening on (?:http:\/\/)?\[?([^\]\s]*?)\]?:(\d+)/.exec(first);
  if (!match) {
    await stop();
    const why = stderr.trim().split("\n").at(-1) || "no listening line";
    throw new Error(`http/server.ts did not start on ${host}:${port}: ${why}`);
  }
  return {
    host: match[1],
    port: Number(match[2]),
    waitForLog: (text, timeoutMs) => waitFor((line) => line.includes(text), timeoutMs),
    stop,
  };
}

/** Runs the whole walk-through, reporting through `reporter`. */
export async function runDemo(
  reporter: Reporter,
  { signal, json = false }: { signal?: AbortSignal; json?: boolean } = {},
): Promise<DemoResult> {
  const started = performance.now();
  // Events follow the shared --json schema (tcp/report.ts); narration is `log`.
  const say = (text: string, event = "log", fields: Record<string, unknown> = {}) => {
    if (text === "" && json) return; // blank lines only space out the text form
    reporter.info(text, event, fields);
  };
  const deadline = AbortSignal.any([
    AbortSignal.timeout(DEMO_DEADLINE_MS),
    ...(signal ? [signal] : []),
  ]);

  say(`What happens when you open ${SEED_URL}`);
  say("(seed 000: a) UDP to the DNS server, b) TCP to the web server — all on loopback)");
  say("");

  // Setup: the DNS hierarchy and the web server start side by side.
  const [internet, web] = await Promise.allSettled([
    startMiniInternet({ signal: deadline }),
    startWebServer(WEB_HOST),
  ]);
  const net: MiniInternet | undefined = internet.status === "fulfilled"
    ? internet.value
    : undefined;
  const server: WebServer | undefined = web.status === "fulfilled" ? web.value : undefined;
  let result: DemoResult;
  try {
    if (!net || !server) {
      const failure = internet.status === "rejected"
        ? internet.reason
        : web.status === "rejected"
        ? web.reason
        : undefined;
      throw failure;
    }
    for (const s of net.servers) {
      say(
        `setup: DNS server for ${s.zone === "." ? '"." (root)' : s.zone} on ${s.host}:${s.port}`,
        "listening",
        { zone: s.zone, address: formatHostPort(s.host, s.port), host: s.host, port: s.port },
      );
    }
    say(
      `setup: web server http/server.ts on ${server.host}:${server.port}` +
        (server.port === 80 ? "" : " (port 80 needs root, so a free port; the URL names it)"),
      "listening",
      {
        address: formatHostPort(server.host, server.port),
        host: server.host,
        port: server.port,
      },
    );
    // The zone says www.cnblogs.com is 127.0.0.5; the port is the web server's, if not 80.
    const url = parseUrl(
      server.port === 80
        ? SEED_URL
        : SEED_URL.replace("www.cnblogs.com", `www.cnblogs.com:${server.port}`),
    );
    say("");

    say("1. The URL, taken apart");
    say(
      describeUrl(parseUrl(SEED_URL)).slice(1).map((line) => `   ${line.trim()}`).join("\n"),
      "log",
      { url: SEED_URL, scheme: url.scheme, host: url.host, port: url.port, path: url.path },
    );
    if (url.portExplicit) say(`   (this demo's server is on port ${url.port}: ${url.href})`);
    const levels = domainLevels(url.host).reverse();
    say(`   levels: ${levels.map((l) => `${l.label} (${l.level})`).join(" < ")}`, "log", {
      levels: levels.map((l) => l.label),
    });
    say("");

    say("2. (a) DNS over UDP: an iterative query, from the root down");
    const referrals: string[] = [];
    let queries = 0;
    let dnsStarted = 0;
    let connectLine = "";
    let connectFields = {};
    const requestLines: string[] = [];
    let requestFields = {};
    const responseLines: string[] = [];
    let responseFields = {};
    let framingText = "";
    let remote = "";
    let requestMethod = "GET";
    const wire = new WireRecorder();
    const response = await httpRequest(url, {
      dns: { roots: net.roots, port: net.port },
      signal: deadline,
      onWire: reporter.explaining ? (direction, bytes) => wire.record(direction, bytes) : undefined,
      onEvent(event) {
        switch (event.type) {
          case "url":
            dnsStarted = performance.now();
            break;
          case "dns":
            if (event.step.kind === "iterative") {
              const e = event.step.event;
              if (e.kind === "query") queries++;
              if (e.kind === "response" && e.outcome === "referral" && e.referral) {
                referrals.push(e.referral);
              }
              const { event: name, fields } = eventJson(event);
              say(formatResolverEvent(e).map((line) => `   ${line}`).join("\n"), name, fields);
              if (reporter.explaining) {
                for (const view of explainDnsStep(event.step)) {
                  reporter.explain(view, { protocol: "dns" });
                }
              }
            }
            break;
          case "resolved":
            say(
              `   => ${event.host} is ${event.address} (${queries} queries over UDP, ${
                (performance.now() - dnsStarted).toFixed(1)
              } ms)`,
              "log",
              { host: event.host, address: event.address, queries },
            );
            break;
          case "connect":
            remote = formatAddr(event.remote);
            connectFields = eventJson(event).fields;
            connectLine =
              `   connected ${formatAddr(event.local)} -> ${formatAddr(event.remote)} ` +
              `(three-way handshake done in ${event.ms.toFixed(1)} ms)`;
            break;
          case "request":
            requestMethod = event.head.slice(0, event.head.indexOf(" "));
            requestFields = eventJson(event).fields;
            requestLines.push(...event.head.replace(/\r\n\r\n$/, "").split("\r\n"));
            break;
          case "response":
            responseFields = eventJson(event).fields;
            responseLines.push(
              `HTTP/${event.head.version} ${event.head.status} ${event.head.reason}`,
            );
            for (const [n, v] of event.head.headers) responseLines.push(`${n}: ${v}`);
            break;
          case "body":
            framingText = event.framing === "content-length"
              ? "its length came in Content-Length"
              : event.framing === "chunked"
              ? "sent in chunks"
              : event.framing === "close"
              ? "ended by the server closing the connection"
              : "no body";
            break;
        }
      },
    });
    say("");

    say("3. (b) TCP: the browser's client socket connects to the web server's socket");
    say(connectLine, "connected", connectFields);
    say("");

    say("4. HTTP request: request line, headers, blank line");
    say([...requestLines, ""].map((line) => `   > ${line}`.trimEnd()).join("\n"), "request", {
      ...requestFields,
      url: url.href,
    });
    if (reporter.explaining) {
      reporter.explain(wire.explainRequest(remote), { direction: "request", remote });
    }
    say("");

    say("5. HTTP response: status line, headers, blank line, body");
    say(
      [...responseLines, ""].map((line) => `   < ${line}`.trimEnd()).join("\n"),
      "response",
      responseFields,
    );
    if (reporter.explaining) {
      reporter.explain(wire.explainResponse(remote, requestMethod), {
        direction: "response",
        remote,
      });
    }
    const html = new TextDecoder().decode(response.body);
    const title = /<title>([^<]*)<\/title>/i.exec(html)?.[1]?.trim();
    say(
      `   body: ${response.bodyBytes} bytes of ${getHeader(response, "content-type") ?? "data"}` +
        ` (${framingText})${title ? `, <title>${title}</title>` : ""}`,
      "received",
      { bytes: response.bodyBytes, framing: response.framing, title },
    );
    const logLine = await server.waitForLog(url.path, 2000);
    if (logLine) say(`   the server's access log: ${logLine}`, "log", { accessLog: logLine });
    say("");

    result = {
      url: url.href,
      address: response.address,
      status: response.status,
      bodyBytes: response.bodyBytes,
      referrals,
    };
  } finally {
    await Promise.all([net?.stop(), server?.stop()]);
  }
  say(
    `6. Done: the connection is closed (Connection: close) and the servers are stopped, ${
      ((performance.now() - started) / 1000).toFixed(2)
    } s in all`,
    "disconnected",
    { seconds: Math.round(performance.now() - started) / 1000 },
  );
  return result;
}

/** Runs the demo; exit 0 when the page came back with 200. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args, {
    json: { type: "boolean" },
    explain: { type: "boolean" },
  });
  if (positionals.length > 0) throw new UsageError(`Unexpected argument "${positionals[0]}"`);
  const reporter = createReporter("http/demo", { json: values.json, explain: values.explain });
  using interrupted = interruptSignal();
  const result = await runDemo(reporter, { signal: interrupted, json: values.json });
  return result.status === 200 ? 0 : 1;
}

if (import.meta.main) await runMain(USAGE, main);
