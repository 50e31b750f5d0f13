/**
 * The demo's stage: every server seed 000's story needs, started on loopback and stopped
 * together.
 *
 * Theory of operation: the DNS mini-Internet (root, `com.`, `cnblogs.com.`: dns/internet/) and the
 * web server (`http/server.ts` on 127.0.0.5, where the zone puts www.cnblogs.com) start side by
 * side; the local DNS server (`dns/resolver_server.ts` on 127.0.0.1) starts once the mini-Internet
 * is up, because it needs that port to walk from the root. Each server is the real lesson script
 * in a child process (./child.ts); it is ready when it prints its listening line, which also says
 * the port it got. If any of them fails to start, the ones already running are stopped and the
 * first failure is thrown (the mini-Internet's before the web server's).
 *
 * The local DNS server runs with `--json --explain`: its own events are how the demo tells what it
 * did for each question — which servers it asked, the referrals, its cache — without guessing.
 */
import { type MiniInternet, startMiniInternet } from "../../dns/internet/servers.ts";
import { spawnScript } from "./child.ts";

const WEB_SCRIPT = new URL("../server.ts", import.meta.url).pathname;
const RESOLVER_SCRIPT = new URL("../../dns/resolver_server.ts", import.meta.url).pathname;
/** How long a server may take to print its listening line. */
const START_TIMEOUT_MS = 20_000;

/** A running `http/server.ts`. */
export interface WebServer {
  host: string;
  port: number;
  /** Waits (bounded) for an access-log line that contains `text`. */
  waitForLog(text: string, timeoutMs: number): Promise<string | undefined>;
  stop(): Promise<void>;
}

/** One `--json` event of the local DNS server (the schema of `tcp/kit/report.ts`). */
export type LocalDnsEvent = Record<string, unknown> & { event: string; text: string };

/** What the local DNS server did for one client question: its upstream steps, then its answer. */
export interface LookupStory {
  /** Its queries to other servers and their replies (none when it answered from its cache). */
  steps: LocalDnsEvent[];
  /** Its answer to the client (undefined if it was not reported in time). */
  answer?: LocalDnsEvent;
}

/** A running local DNS server (`dns/resolver_server.ts --json --explain`). */
export interface LocalDns {
  host: string;
  port: number;
  /**
   * The story of the next client question answered, once the server reported it (bounded wait).
   */
  nextStory(timeoutMs: number): Promise<LookupStory>;
  stop(): Promise<void>;
}

/** Everything the demo runs on. */
export interface Stage {
  internet: MiniInternet;
  web: WebServer;
  localDns: LocalDns;
  /** Stops every server and waits until they have exited. */
  stop(): Promise<void>;
}

/** Starts the mini-Internet, the web server on `webHost` and the local DNS server. */
export async function startStage(webHost: string, signal?: AbortSignal): Promise<Stage> {
  const [started, startedWeb] = await Promise.allSettled([
    startMiniInternet({ signal }),
    startWebServer(webHost),
  ]);
  const internet = started.status === "fulfilled" ? started.value : undefined;
  const web = startedWeb.status === "fulfilled" ? startedWeb.value : undefined;
  try {
    if (!internet || !web) {
      throw started.status === "rejected"
        ? started.reason
        : (startedWeb as PromiseRejectedResult).reason;
    }
    const localDns = await startLocalDns(internet.roots, internet.port);
    return {
      internet,
      web,
      localDns,
      stop: async () => {
        await Promise.all([internet.stop(), web.stop(), localDns.stop()]);
      },
    };
  } catch (error) {
    await Promise.all([internet?.stop(), web?.stop()]);
    throw error;
  }
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
  const child = spawnScript(WEB_SCRIPT, ["--host", host, "--port", String(port)]);
  const first = await child.waitFor((line) => line.startsWith("listening on "), START_TIMEOUT_MS);
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

/** Starts the local DNS server on 127.0.0.1 (a free port), walking from `roots`. */
export async function startLocalDns(roots: string[], upstreamPort: number): Promise<LocalDns> {
  const child = spawnScript(RESOLVER_SCRIPT, [
    "--port",
    "0",
    "--root",
    roots.join(","),
    "--upstream-port",
    String(upstreamPort),
    "--json",
    "--explain",
  ]);
  const first = await child.waitFor(
    (line) => parseEvent(line)?.event === "listening",
    START_TIMEOUT_MS,
  );
  const address = first && /^resolver listening on ([\d.]+):(\d+)/.exec(parseEvent(first)!.text);
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
      // Every event of one client question carries the same `seq`; its answer comes last.
      const want = told + 1;
      let answers = 0;
      await child.waitFor(
        (line) => isClientAnswer(parseEvent(line)) && ++answers >= want,
        timeoutMs,
      );
      told = want;
      const events = child.lines.map(parseEvent).filter((e): e is LocalDnsEvent => e !== undefined);
      const answer = events.filter(isClientAnswer)[want - 1];
      const steps = answer ? events.filter((e) => e.seq === answer.seq && e !== answer) : [];
      return { steps, answer };
    },
    stop: child.stop,
  };
}

/** One line of the local DNS server's `--json` output, or undefined if it is not JSON. */
function parseEvent(line: string): LocalDnsEvent | undefined {
  try {
    return JSON.parse(line) as LocalDnsEvent;
  } catch {
    return undefined;
  }
}

/** The answer to a client (the answers of upstream servers, steps of the walk, have no `source`). */
function isClientAnswer(e: LocalDnsEvent | undefined): boolean {
  return e?.event === "answer" && e.source !== undefined;
}
