/**
 * What happens when you open a URL — netlab's main demo, all on loopback, nothing leaves the
 * machine.
 *
 * Seed 000: opening `http://www.cnblogs.com/linhaifeng/articles/6817679.html` is (a) the
 * browser's client socket asking DNS over UDP for the domain's IP — it asks the *local DNS
 * server* (「本地DNS」), which looks in its cache and otherwise walks from the root
 * (`.` → `com.` → `cnblogs.com.`) on the browser's behalf — then (b) a TCP connection to the web
 * server, which sends the file back. This script builds that little Internet and walks through it:
 *
 *   1. starts the DNS mini-Internet (`dns/internet.ts`: root on 127.0.0.2, `com.` on 127.0.0.3,
 *      `cnblogs.com.` on 127.0.0.4, whose zone says www.cnblogs.com is 127.0.0.5), the local DNS
 *      server (`dns/resolver_server.ts` on 127.0.0.1) and the web server (`http/server.ts`) on
 *      127.0.0.5 — port 80 when run as root and free, else a free high port (the URL then carries
 *      it: the default 80 only applies when the port is omitted);
 *   2. takes the URL apart; asks the local DNS server, which is cold and walks from the root
 *      (asking each server only what it needs: QNAME minimisation), printing each referral;
 *      connects over TCP; writes the request; reads the response (`http/client.ts`);
 *   3. looks the name up again: the local DNS server answers from its cache, nobody else is asked;
 *   4. stops everything and exits 0.
 *
 *   deno task demo
 *   deno run -A http/demo.ts [--json] [--explain]
 *
 * To do it by hand: `deno task dns:internet` in one terminal (note its port P), `deno task
 * dns:resolver --root 127.0.0.2 --upstream-port P --explain` in a second, `deno task http:server
 * --host 127.0.0.5 --port 8080` in a third, then `deno task http:get -v --dns 127.0.0.1:1054
 * http://www.cnblogs.com:8080/linhaifeng/articles/6817679.html`.
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
import { type MiniInternet, startMiniInternet } from "../dns/internet/servers.ts";
import { eventJson, explainDnsStep, WireRecorder } from "./client/output.ts";
import { httpRequest } from "./client/request.ts";
import { getHeader } from "./client/types.ts";
import { formatRecord, type ResourceRecord } from "../dns/wire/rdata.ts";
import { TYPE } from "../dns/wire/constants.ts";
import { StubResolver } from "../dns/resolver/stub.ts";
import { describeUrl, domainLevels, parseUrl } from "./core/url.ts";

/** The URL seed 000 takes apart. */
export const SEED_URL = "http://www.cnblogs.com/linhaifeng/articles/6817679.html";
/** Where the zone `cnblogs.com.` says `www` lives. */
export const WEB_HOST = "127.0.0.5";
/** The whole demo normally takes well under a second; this is the point to give up. */
const DEMO_DEADLINE_MS = 20_000;
const WEB_SCRIPT = new URL("./server.ts", import.meta.url).pathname;
const RESOLVER_SCRIPT = new URL("../dns/resolver_server.ts", import.meta.url).pathname;
const REPO_ROOT = new URL("..", import.meta.url).pathname;

const USAGE = `Usage: deno task demo [--json] [--explain]

What happens when you open ${SEED_URL}:
starts an offline DNS mini-Internet (root, com., cnblogs.com. on 127.0.0.2-4), the local DNS
server (本地DNS) on 127.0.0.1 and the web server on ${WEB_HOST}; the browser side asks the local DNS
server, which walks from the root; then it connects, requests, looks the name up again (from the
cache this time), prints every step and stops everything. Works without root (then the web server
uses a free high port). Exits 0.

  --json       newline-delimited JSON events instead of text
  --explain    also show the request and response bytes, annotated field by field
  -h, --help   show this help`;

/** What the demo found, for tests and `--json`. */
export interface DemoResult {
  url: string;
  address: string;
  status: number;
  bodyBytes: number;
  /** The zones the local DNS server was referred to on its walk. */
  referrals: string[];
  /** Upstream queries the first lookup cost; and the second (0: from the cache). */
  queries: number;
  cachedQueries: number;
  /** How the second lookup was answered (`hit`). */
  cache: string;
}

/** A child process that prints lines: what it printed so far, and a way to wait for more. */
interface Child {
  lines: string[];
  /** Resolves with the first line (from the start) matching `test`, or undefined on exit/timeout. */
  waitFor(test: (line: string) => boolean, timeoutMs: number): Promise<string | undefined>;
  /** The last line of its stderr (why it failed to start). */
  lastError(): string;
  stop(): Promise<void>;
}

/** Starts `deno run -A script args…`, reading both of its pipes for its whole life. */
function spawnChild(script: string, args: string[]): Child {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", script, ...args],
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
  // A full pipe would block the child's logging: both are read until it exits.
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
  return { lines, waitFor, lastError: () => stderr.trim().split("\n").at(-1) ?? "", stop };
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
  const child = spawnChild(WEB_SCRIPT, ["--host", host, "--port", String(port)]);
  const first = await child.waitFor((line) => line.startsWith("listening on "), 20_000);
  const match = first && /^listening on (?:http:\/\/)?\[?([^\]\s]*?)\]?:(\d+)/.exec(first);
  if (!match) {
    await child.stop();
    const why = child.lastError() || "no listening line";
    throw new Error(`http/server.ts did not start on ${host}:${port}: ${why}`);
  }
  return {
    host: match[1],
    port: Number(match[2]),
    waitForLog: (text, timeoutMs) => child.waitFor((line) => line.includes(text), timeoutMs),
    stop: child.stop,
  };
}

/** One `--json` event of the local DNS server (the schema of `tcp/report.ts`). */
type ResolverEvent = Record<string, unknown> & { event: string; text: string };

/** A running local DNS server (`dns/resolver_server.ts --json --explain`). */
interface LocalDns {
  host: string;
  port: number;
  /**
   * The steps of the next client question answered (its upstream queries and replies) and the
   * answer itself, once the server reported them (bounded wait).
   */
  nextStory(timeoutMs: number): Promise<{ steps: ResolverEvent[]; answer?: ResolverEvent }>;
  stop(): Promise<void>;
}

/** Starts the local DNS server on 127.0.0.1 (a free port), walking from `roots`. */
export async function startLocalDns(roots: string[], upstreamPort: number): Promise<LocalDns> {
  const child = spawnChild(RESOLVER_SCRIPT, [
    "--port",
    "0",
    "--root",
    roots.join(","),
    "--upstream-port",
    String(upstreamPort),
    "--json",
    "--explain",
  ]);
  const parse = (line: string): ResolverEvent | undefined => {
    try {
      return JSON.parse(line) as ResolverEvent;
    } catch {
      return undefined;
    }
  };
  const first = await child.waitFor((line) => parse(line)?.event === "listening", 20_000);
  const address = first && /^resolver listening on ([\d.]+):(\d+)/.exec(parse(first)!.text);
  if (!address) {
    await child.stop();
    throw new Error(
      `dns/resolver_server.ts did not start: ${child.lastError() || "no listening line"}`,
    );
  }
  let told = 0; // client answers already taken
  return {
    host: address[1],
    port: Number(address[2]),
    async nextStory(timeoutMs) {
      const want = told + 1;
      let answers = 0;
      const isAnswer = (e: ResolverEvent | undefined) =>
        e?.event === "answer" && e.source !== undefined;
      await child.waitFor((line) => isAnswer(parse(line)) && ++answers >= want, timeoutMs);
      told = want;
      const events = child.lines.map(parse).filter((e): e is ResolverEvent => e !== undefined);
      const answer = events.filter(isAnswer)[want - 1];
      const steps = answer ? events.filter((e) => e.seq === answer.seq && e !== answer) : [];
      return { steps, answer };
    },
    stop: child.stop,
  };
}

/** One step of the local DNS server's walk, the way the demo prints it. */
function formatWalkStep(e: ResolverEvent): string[] {
  const zone = (z: unknown) => (z === "." ? ". (root)" : String(z));
  const records = (list: unknown) =>
    ((list ?? []) as { name: string; ttl: number; class: string; type: string; data: string }[])
      .map((r) => `    ${r.name} ${r.ttl} ${r.class} ${r.type} ${r.data}`);
  const ms = `${Number(e.elapsed_ms ?? 0).toFixed(1)} ms`;
  if (e.event === "query") {
    const server = String(e.server).replace("#", ":");
    const minimised = e.question ? ` — only what it needs, not ${e.question}` : "";
    return [
      `ask ${server} (server for ${zone(e.zone)}) over UDP: ${e.name} ${e.type}?${minimised}`,
    ];
  }
  if (e.event === "referral") {
    return [
      `  referral: ${zone(e.zone)} does not know, ask ${e.referral} (${ms})`,
      ...records(e.records),
      ...records(e.additional),
    ];
  }
  if (e.event === "answer") {
    return [`  ${e.outcome} from ${zone(e.zone)} (${ms})`, ...records(e.records)];
  }
  return [`  ${e.text}`];
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
  say(
    "(seed 000: a) UDP to the local DNS server, which asks from the root down; " +
      "b) TCP to the web server — all on loopback)",
  );
  say("");

  // Setup: the DNS hierarchy and the web server start side by side; the local DNS server needs
  // the hierarchy's port.
  const [internet, web] = await Promise.allSettled([
    startMiniInternet({ signal: deadline }),
    startWebServer(WEB_HOST),
  ]);
  const net: MiniInternet | undefined = internet.status === "fulfilled"
    ? internet.value
    : undefined;
  const server: WebServer | undefined = web.status === "fulfilled" ? web.value : undefined;
  let localDns: LocalDns | undefined;
  let result: DemoResult;
  try {
    if (!net || !server) {
      throw internet.status === "rejected"
        ? internet.reason
        : (web as PromiseRejectedResult).reason;
    }
    localDns = await startLocalDns(net.roots, net.port);
    for (const s of net.servers) {
      say(
        `setup: DNS server for ${s.zone === "." ? '"." (root)' : s.zone} on ${s.host}:${s.port}`,
        "listening",
        { zone: s.zone, address: formatHostPort(s.host, s.port), host: s.host, port: s.port },
      );
    }
    const dnsAddress = formatHostPort(localDns.host, localDns.port);
    say(
      `setup: local DNS server (本地DNS) dns/resolver_server.ts on ${dnsAddress}, ` +
        `walking from the root ${net.roots[0]}`,
      "listening",
      { role: "local DNS", address: dnsAddress, host: localDns.host, port: localDns.port },
    );
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

    // The browser's side: an HTTP request whose host name goes to the local DNS server. What the
    // local DNS server did meanwhile comes from its own --json events, told once it answered.
    let dnsStarted = 0;
    let dnsMs = 0;
    const dnsViews: string[] = [];
    let dnsAnswers: ResourceRecord[] = [];
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
    const dns = { server: localDns.host, port: localDns.port };
    const response = await httpRequest(url, {
      dns,
      signal: deadline,
      onWire: reporter.explaining ? (direction, bytes) => wire.record(direction, bytes) : undefined,
      onEvent(event) {
        switch (event.type) {
          case "url":
            dnsStarted = performance.now();
            break;
          case "dns":
            if (event.step.kind === "stub-answer") dnsAnswers = event.step.resolution.answers;
            if (reporter.explaining) dnsViews.push(...explainDnsStep(event.step));
            break;
          case "resolved":
            dnsMs = performance.now() - dnsStarted;
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

    say(
      "2. (a) DNS over UDP: the browser asks the local DNS server, which asks from the root down",
    );
    const first = await localDns.nextStory(5000);
    const referrals = first.steps.flatMap((e) =>
      e.event === "referral" ? [String(e.referral)] : []
    );
    const queries = Number(first.answer?.queries ?? 0);
    const explainWalk = reporter.explaining
      ? (view: string, fields: Record<string, unknown>) => reporter.explain(view, fields)
      : undefined;
    tellLookup(say, dnsAddress, url.host, first, dnsAnswers, dnsMs, explainWalk);
    for (const view of dnsViews) reporter.explain(view, { protocol: "dns" });
    say(`   => ${url.host} is ${response.address}`, "log", {
      host: url.host,
      address: response.address,
      queries,
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

    // A second visit: the browser asks again, and the local DNS server remembers.
    say("6. The same name again: the local DNS server answers from its cache");
    const again = await new StubResolver(dns.server, { port: dns.port }).resolve(url.host, TYPE.A, {
      signal: deadline,
    });
    const second = await localDns.nextStory(5000);
    tellLookup(
      say,
      dnsAddress,
      url.host,
      second,
      again.answers,
      again.exchange?.elapsedMs ?? 0,
      explainWalk,
    );
    if (reporter.explaining && again.exchange) {
      for (const view of explainDnsStep({ kind: "stub-answer", resolution: again })) {
        reporter.explain(view, { protocol: "dns" });
      }
    }
    say("");

    result = {
      url: url.href,
      address: response.address,
      status: response.status,
      bodyBytes: response.bodyBytes,
      referrals,
      queries,
      cachedQueries: Number(second.answer?.queries ?? -1),
      cache: String(second.answer?.cache ?? ""),
    };
  } finally {
    await Promise.all([net?.stop(), server?.stop(), localDns?.stop()]);
  }
  say(
    `7. Done: the connection is closed (Connection: close) and the servers are stopped, ${
      ((performance.now() - started) / 1000).toFixed(2)
    } s in all`,
    "disconnected",
    { seconds: Math.round(performance.now() - started) / 1000 },
  );
  return result;
}

/**
 * One lookup through the local DNS server: the browser's question, the server's walk (when it
 * had to walk), and the answer the browser got (`records`).
 */
function tellLookup(
  say: (text: string, event?: string, fields?: Record<string, unknown>) => void,
  dnsAddress: string,
  host: string,
  story: { steps: ResolverEvent[]; answer?: ResolverEvent },
  records: ResourceRecord[],
  ms: number,
  explain?: (view: string, fields: Record<string, unknown>) => void,
): void {
  const name = host.endsWith(".") ? host : `${host}.`;
  say(`   ask ${dnsAddress} (the local DNS server) over UDP: ${name} A?`, "query", {
    server: dnsAddress,
    name,
    type: "A",
  });
  if (story.steps.length > 0) {
    say(
      "     not in its cache: the local DNS server walks from the root, asking each server only " +
        "what it needs (QNAME minimisation)",
    );
  }
  for (const step of story.steps) {
    // The step keeps its fields; `ts` and `tool` become the demo's own.
    const { text: _text, event, ts: _ts, tool: _tool, ...fields } = step;
    if (event === "explain") {
      // The local server's annotated bytes of this upstream exchange (shown with --explain).
      explain?.(String(step.text), { ...fields, walk: true, protocol: "dns" });
      continue;
    }
    say(formatWalkStep(step).map((line) => `       ${line}`).join("\n"), event, {
      ...fields,
      walk: true,
    });
  }
  const answer = story.answer;
  if (!answer) return;
  const how = answer.cache === "hit"
    ? "from its cache: nobody else asked, and the TTL it gives counts down"
    : `it walked for us: ${answer.queries} queries`;
  say(
    [
      `   answer from the local DNS server (RA set; ${how}; ${ms.toFixed(1)} ms in all)`,
      ...records.map((rr) => `     ${formatRecord(rr).replaceAll("\t", " ")}`),
    ].join("\n"),
    "answer",
    {
      server: dnsAddress,
      name: answer.name,
      rcode: answer.rcode,
      cache: answer.cache,
      queries: answer.queries,
      ms: Math.round(ms * 1000) / 1000,
      records: records.map((rr) => formatRecord(rr).replaceAll("\t", " ")),
    },
  );
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
