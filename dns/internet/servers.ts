/**
 * The offline mini-Internet, as a library: three authoritative servers (`dns/server.ts`, each a
 * child process) on three loopback addresses, one per level of seed 000's hierarchy — the root
 * `.` on 127.0.0.2, `com.` on 127.0.0.3 and `cnblogs.com.` on 127.0.0.4 (which says
 * www.cnblogs.com is 127.0.0.5) — optionally signed (`internet/signing.ts`). The lesson
 * `dns/internet.ts`, the HTTP demo, the tests and the benchmarks start it from here.
 *
 * Every server listens on the same port (only the address differs), because a referral carries
 * addresses, not ports: a resolver asks every server on the one port it was given. Port 53 is
 * taken when it is free and allowed (root), else a port free on all three addresses; if another
 * program grabs it between the check and the bind, another port is tried.
 */
import { type Breakage, type SignedMiniInternet, signMiniInternet } from "./signing.ts";
import { forwardLines, spawnDenoScript, stderrTail } from "../../tcp/kit/child_script.ts";

/** One zone of the mini-Internet and the loopback address serving it. */
export interface MiniZone {
  zone: string;
  file: string;
  host: string;
}

/** The three levels of seed 000's `www.cnblogs.com.`. */
export const MINI_ZONES: readonly MiniZone[] = [
  { zone: ".", file: "root.zone", host: "127.0.0.2" },
  { zone: "com.", file: "com.zone", host: "127.0.0.3" },
  { zone: "cnblogs.com.", file: "cnblogs.com.zone", host: "127.0.0.4" },
];

const SERVER_SCRIPT = new URL("../server.ts", import.meta.url).pathname;
const ZONE_DIR = new URL("../zones/", import.meta.url).pathname;
/** How long a server may take to print `listening on`. */
const START_TIMEOUT_MS = 20_000;
/** Attempts when another program grabs the chosen port between the check and the bind. */
const START_ATTEMPTS = 4;

/** A running mini-Internet. */
export interface MiniInternet extends AsyncDisposable {
  /** The port every server listens on (UDP and TCP). */
  port: number;
  /** Root server addresses to give `--root` / `IterativeResolver({ roots })`. */
  roots: string[];
  servers: { zone: string; host: string; port: number }[];
  /** With `dnssec`: the signed zones and the root's trust anchor. */
  dnssec?: SignedMiniInternet;
  /** Stops every server and waits for them to exit. */
  stop(): Promise<void>;
}

/** Options for `startMiniInternet`. */
export interface MiniInternetOptions {
  /**
   * Port for all servers. Default: 53 when permitted and free, else a free high port; 0: a free
   * high port (never 53).
   */
  port?: number;
  /** Stops the servers when aborted. */
  signal?: AbortSignal;
  /** Receives every line the servers print after `listening on` (default: dropped). */
  onLog?: (zone: string, line: string) => void;
  /** Sign the three zones at start-up (root → com. → cnblogs.com., DS at each cut). */
  dnssec?: boolean;
  /** With `dnssec`: spoil one link on purpose (`internet/signing.ts`). */
  breakWith?: Breakage;
}

/** True when `port` can be bound for both UDP and TCP on every host right now. */
export function portFreeOnAll(port: number, hosts: readonly string[]): boolean {
  const opened: { close(): void }[] = [];
  try {
    for (const hostname of hosts) {
      opened.push(Deno.listenDatagram({ transport: "udp", hostname, port }));
      opened.push(Deno.listen({ transport: "tcp", hostname, port }));
    }
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse || error instanceof Deno.errors.PermissionDenied) {
      return false;
    }
    throw error;
  } finally {
    for (const socket of opened) socket.close();
  }
}

/** A port free on every host: 53 when possible, else one the kernel hands out on the first. */
export function pickSharedPort(hosts: readonly string[], { preferStandard = true } = {}): number {
  if (preferStandard && portFreeOnAll(53, hosts)) return 53;
  for (let attempt = 0; attempt < 50; attempt++) {
    const probe = Deno.listenDatagram({ transport: "udp", hostname: hosts[0], port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    if (portFreeOnAll(port, hosts)) return port;
  }
  throw new Error(`No port is free on all of ${hosts.join(", ")}`);
}

interface RunningServer {
  zone: string;
  host: string;
  child: Deno.ChildProcess;
  stderrTail(): string;
  done: Promise<unknown>;
}

/** Starts one `dns/server.ts` and resolves once it prints `listening on`. */
async function startServer(
  zone: MiniZone,
  port: number,
  onLog: ((zone: string, line: string) => void) | undefined,
  zoneFile = `${ZONE_DIR}${zone.file}`,
): Promise<RunningServer> {
  const child = spawnDenoScript(SERVER_SCRIPT, [
    "--zone",
    zoneFile,
    "--host",
    zone.host,
    "--port",
    String(port),
  ]);
  const stderr = stderrTail(child.stderr);
  let announce: (ok: boolean) => void = () => {};
  const listening = new Promise<boolean>((resolve) => (announce = resolve));
  // Keep reading stdout for the server's whole life, or a chatty server would block on a full pipe.
  let announced = false;
  const pumpOut = forwardLines(child.stdout, (line) => {
    if (!announced && line.startsWith("listening on ")) {
      announced = true;
      announce(true);
    } else onLog?.(zone.zone, line);
  }).finally(() => announce(false));
  const done = Promise.all([pumpOut, stderr.done, child.status]);

  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), START_TIMEOUT_MS);
  });
  const ok = await Promise.race([listening, timedOut]);
  clearTimeout(timer);
  const server = { zone: zone.zone, host: zone.host, child, stderrTail: stderr.text, done };
  if (!ok) {
    await stopServer(server);
    throw new Error(
      `The server for "${zone.zone}" on ${zone.host}:${port} did not start: ${
        stderr.lastLine() || "no output"
      }`,
    );
  }
  return server;
}

async function stopServer(server: RunningServer): Promise<void> {
  try {
    server.child.kill("SIGTERM");
  } catch (error) {
    // Already exited: nothing to stop.
    if (!(error instanceof TypeError)) throw error;
  }
  await server.done;
}

/**
 * Starts the root, `com.` and `cnblogs.com.` servers on one shared port and returns once all
 * three are listening. Call `stop()` (or abort `signal`) to end them.
 */
export async function startMiniInternet(options: MiniInternetOptions = {}): Promise<MiniInternet> {
  const hosts = MINI_ZONES.map((z) => z.host);
  let lastError: unknown;
  const fixed = options.port !== undefined && options.port !== 0;
  let signedDir: string | undefined;
  let signed: SignedMiniInternet | undefined;
  if (options.dnssec) {
    signedDir = await Deno.makeTempDir({ prefix: "netlab-mini-dnssec-" });
    signed = await signMiniInternet(
      MINI_ZONES.map((z) => ({ zone: z.zone, path: `${ZONE_DIR}${z.file}` })),
      signedDir,
      { breakWith: options.breakWith },
    );
  }
  const removeSigned = async () => {
    if (signedDir) await Deno.remove(signedDir, { recursive: true }).catch(() => {});
  };
  for (let attempt = 0; attempt < (fixed ? 1 : START_ATTEMPTS); attempt++) {
    if (options.signal?.aborted) await removeSigned();
    options.signal?.throwIfAborted();
    const port = fixed
      ? options.port!
      : pickSharedPort(hosts, { preferStandard: options.port === undefined && attempt === 0 });
    const started = await Promise.allSettled(
      MINI_ZONES.map((zone) => startServer(zone, port, options.onLog, signed?.files[zone.zone])),
    );
    const servers = started.flatMap((s) => s.status === "fulfilled" ? [s.value] : []);
    const failed = started.find((s) => s.status === "rejected");
    if (failed) {
      await Promise.all(servers.map(stopServer));
      lastError = failed.reason;
      continue;
    }
    let stopping: Promise<void> | undefined;
    const stop = () => {
      options.signal?.removeEventListener("abort", onAbort);
      stopping ??= Promise.all(servers.map(stopServer)).then(removeSigned);
      return stopping;
    };
    const onAbort = () => void stop();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    return {
      port,
      roots: [MINI_ZONES[0].host],
      servers: MINI_ZONES.map((z) => ({ zone: z.zone, host: z.host, port })),
      dnssec: signed,
      stop,
      [Symbol.asyncDispose]: stop,
    };
  }
  await removeSigned();
  throw lastError;
}
