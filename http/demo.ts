/**
 * What happens when you open a URL — netlab's main demo, all on loopback, nothing leaves the
 * machine.
 *
 * Seed 000: opening `http://www.cnblogs.com/linhaifeng/articles/6817679.html` is (a) the
 * browser's client socket asking DNS over UDP for the domain's IP — it asks the *local DNS
 * server* (「本地DNS」), which looks in its cache and otherwise walks from the root
 * (`.` → `com.` → `cnblogs.com.`) on the browser's behalf — then (b) a TCP connection to the web
 * server, which sends the file back. `runDemo` below builds that little Internet and walks through
 * it; http/demo/ holds the machinery (stage.ts starts and stops the servers, browser.ts is the
 * browser's side, narration.ts prints each step).
 *
 *   deno task demo
 *   deno run -A http/demo.ts [--json] [--explain]
 *
 * To do it by hand: `deno task dns:internet` in one terminal (note its port P), `deno task
 * dns:resolver --root 127.0.0.2 --upstream-port P --explain` in a second, `deno task http:server
 * --host 127.0.0.5 --port 8080` in a third, then `deno task http:get -v --dns 127.0.0.1:1054
 * http://www.cnblogs.com:8080/linhaifeng/articles/6817679.html`.
 */
import { interruptSignal, parseCli, runMain, UsageError } from "../tcp/kit/cli.ts";
import { createReporter, type Reporter } from "../tcp/kit/report.ts";
import { parseUrl } from "./core/url.ts";
import { lookUp, type Visit, visitPage } from "./demo/browser.ts";
import { Narrator } from "./demo/narration.ts";
import { type LookupStory, startStage } from "./demo/stage.ts";

/** The URL seed 000 takes apart. */
export const SEED_URL = "http://www.cnblogs.com/linhaifeng/articles/6817679.html";
/** Where the zone `cnblogs.com.` says `www` lives. */
export const WEB_HOST = "127.0.0.5";

/** Runs the whole walk-through, reporting through `reporter`. */
export async function runDemo(
  reporter: Reporter,
  { signal, json = false }: { signal?: AbortSignal; json?: boolean } = {},
): Promise<DemoResult> {
  const started = performance.now();
  const timeout = AbortSignal.timeout(DEMO_DEADLINE_MS);
  const deadline = signal ? AbortSignal.any([timeout, signal]) : timeout;
  const tell = new Narrator(reporter, { json });
  tell.intro(SEED_URL);

  // Start the mini-Internet's DNS servers (root on 127.0.0.2, com. on 127.0.0.3, cnblogs.com. on
  // 127.0.0.4, whose zone says www is 127.0.0.5), the web server on 127.0.0.5 (port 80 as root,
  // else a free port) and the local DNS server on 127.0.0.1, which walks from that root.
  const stage = await startStage(WEB_HOST, deadline);
  let result: DemoResult;
  try {
    tell.setup(stage);
    // The default port 80 applies only when the URL omits it: a free port must be named.
    const url = parseUrl(withPort(SEED_URL, stage.web.port));
    tell.url(SEED_URL, url);

    // The browser: ask the local DNS server for the name (cold, it walks from the root), connect
    // over TCP, send the request, read the response. What the local DNS server did meanwhile
    // comes from its own events, once it answered.
    const explaining = reporter.explaining;
    const visit = await visitPage(url, stage.localDns, { signal: deadline, explaining });
    const walk = await stage.localDns.nextStory(DNS_STORY_WAIT_MS);
    tell.firstLookup(stage.localDns, url.host, visit, walk);
    tell.connection(visit);
    tell.request(url, visit);
    tell.response(visit);
    tell.accessLog(await stage.web.waitForLog(url.path, ACCESS_LOG_WAIT_MS));

    // A second visit: the browser asks for the name again, and the local DNS server remembers.
    tell.secondVisit();
    const again = await lookUp(url.host, stage.localDns, { signal: deadline });
    const cached = await stage.localDns.nextStory(DNS_STORY_WAIT_MS);
    tell.cachedLookup(stage.localDns, url.host, again, cached);

    result = demoResult(url.href, visit, walk, cached);
  } finally {
    // Stop every server, whatever happened.
    await stage.stop();
  }
  tell.done(performance.now() - started);
  return result;
}

/** The whole demo normally takes well under a second; this is the point to give up. */
const DEMO_DEADLINE_MS = 20_000;
/** How long the local DNS server may take to report what it did for one question. */
const DNS_STORY_WAIT_MS = 5000;
/** How long the web server may take to write its access-log line. */
const ACCESS_LOG_WAIT_MS = 2000;

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

/** What the two visits found. */
function demoResult(url: string, visit: Visit, walk: LookupStory, cached: LookupStory): DemoResult {
  return {
    url,
    address: visit.response.address,
    status: visit.response.status,
    bodyBytes: visit.response.bodyBytes,
    referrals: walk.steps.flatMap((e) => e.event === "referral" ? [String(e.referral)] : []),
    queries: Number(walk.answer?.queries ?? 0),
    cachedQueries: Number(cached.answer?.queries ?? -1),
    cache: String(cached.answer?.cache ?? ""),
  };
}

/** `url` with `port` written into it, unless it is the default 80. */
function withPort(url: string, port: number): string {
  return port === 80 ? url : url.replace("www.cnblogs.com", `www.cnblogs.com:${port}`);
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
