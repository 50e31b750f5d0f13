/**
 * unbound beside netlab's local DNS server, for the interop tests and the `dns` benchmark.
 *
 * unbound sends every query that follows a referral to port 53 (only the root hints file says
 * where to start, and it has no port), so the mini-Internet it iterates through must listen on
 * port 53. To stay clear of anyone else's mini-Internet on 127.0.0.2–4 this one runs on its own
 * loopback addresses: the zone files are copied with `127.0.0.` rewritten to `127.53.0.` (the
 * root on 127.53.0.2, `com.` on .3, `cnblogs.com.` on .4). Port 53 needs root, so callers check
 * `canServePort53()` and report themselves ignored otherwise.
 */
import { hasCommand, isRoot, ROOT, startScript } from "./_helpers.ts";
import type { RunningScript } from "./_helpers.ts";

/** The first three octets of the port-53 mini-Internet's addresses. */
export const PREFIX_53 = "127.53.0";
const ZONES = [
  { file: "root.zone", host: `${PREFIX_53}.2` },
  { file: "com.zone", host: `${PREFIX_53}.3` },
  { file: "cnblogs.com.zone", host: `${PREFIX_53}.4` },
];

/** True when this process can bind port 53 on the mini-Internet's addresses (root, free). */
export function canServePort53(): boolean {
  if (!isRoot()) return false;
  try {
    for (const { host } of ZONES) {
      Deno.listenDatagram({ transport: "udp", hostname: host, port: 53 }).close();
      Deno.listen({ hostname: host, port: 53 }).close();
    }
    return true;
  } catch {
    return false;
  }
}

/** True when unbound can be compared with: installed, and port 53 usable. */
export function unboundAvailable(): boolean {
  return hasCommand("unbound") && canServePort53();
}

/** The port-53 mini-Internet. */
export interface Internet53 extends AsyncDisposable {
  /** The root server's address. */
  root: string;
  /** Where `www.cnblogs.com` points in this copy. */
  www: string;
  /** The three servers (root, `com.`, `cnblogs.com.`); without `quiet` their lines log queries. */
  servers: RunningScript[];
  stop(): Promise<void>;
}

/** Starts dns/server.ts for the three zones (rewritten) on 127.53.0.2–4, port 53. */
export async function startInternet53(
  dir: string,
  { quiet = true }: { quiet?: boolean } = {},
): Promise<Internet53> {
  const servers: RunningScript[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop("SIGTERM")));
  };
  try {
    for (const zone of ZONES) {
      const text = await Deno.readTextFile(`${ROOT}dns/zones/${zone.file}`);
      const path = `${dir}/${zone.file}`;
      await Deno.writeTextFile(path, text.replaceAll("127.0.0.", `${PREFIX_53}.`));
      servers.push(
        await startScript("dns/server.ts", [
          "--zone",
          path,
          "--host",
          zone.host,
          "--port",
          "53",
          ...(quiet ? ["--quiet"] : []),
        ], { timeoutMs: 600_000 }),
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    root: ZONES[0].host,
    www: `${PREFIX_53}.5`,
    servers,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** A running unbound. */
export interface Unbound extends AsyncDisposable {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** A port free for both UDP and TCP on 127.0.0.1. */
export function freeDnsPort(): number {
  for (let i = 0; i < 50; i++) {
    const udp = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const port = (udp.addr as Deno.NetAddr).port;
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch {
      /* taken for TCP: try another */
    } finally {
      udp.close();
    }
  }
  throw new Error("no free port for unbound");
}

/**
 * Starts unbound in the foreground from a config in `dir`: one thread, iterating from `root`
 * (a root hints file), on 127.0.0.1 and a free high port, loopback clients allowed to snoop
 * (so RD=0 is answered from the cache, as netlab's server does), `do-not-query-localhost: no`
 * (its upstreams are on loopback), QNAME minimisation on (unbound's default), no DNSSEC
 * validation (the mini-Internet is unsigned). Resolves once it answers.
 */
export async function startUnbound(
  dir: string,
  root: string,
  { extra = "" }: { extra?: string } = {},
): Promise<Unbound> {
  const port = freeDnsPort();
  await Deno.writeTextFile(
    `${dir}/root.hints`,
    `.                  3600000 NS a.root-servers.net.\na.root-servers.net. 3600000 A  ${root}\n`,
  );
  await Deno.writeTextFile(
    `${dir}/unbound.conf`,
    `server:
  interface: 127.0.0.1
  port: ${port}
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "${dir}"
  pidfile: "${dir}/unbound.pid"
  use-syslog: no
  logfile: ""
  verbosity: 0
  num-threads: 1
  do-ip6: no
  root-hints: "${dir}/root.hints"
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow_snoop
  module-config: "iterator"
  qname-minimisation: yes
${extra}remote-control:
  control-enable: no
`,
  );
  const child = new Deno.Command("unbound", {
    args: ["-d", "-c", `${dir}/unbound.conf`],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let log = "";
  const draining = (async () => {
    while (true) {
      const { value, done } = await stderr.read();
      if (done) break;
      log = (log + value).slice(-4000);
    }
  })();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await draining;
  };
  try {
    await waitForDns(port);
  } catch (error) {
    await stop();
    throw new Error(`unbound did not start: ${(error as Error).message}\n${log}`);
  }
  return { port, pid: child.pid, stop, [Symbol.asyncDispose]: stop };
}

/** Waits (bounded) until a DNS server on 127.0.0.1:`port` answers anything at all. */
export async function waitForDns(port: number, timeoutMs = 15_000): Promise<void> {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  // A header-only query for ". NS" with RD clear: answered from the cache, never resolved.
  const query = new Uint8Array([
    0x12,
    0x34,
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    2,
    0,
    1,
  ]);
  let answered = false;
  const receiving = (async () => {
    while (!answered) {
      const [bytes] = await socket.receive();
      if (bytes[0] === 0x12 && bytes[1] === 0x34) answered = true;
    }
  })().catch(() => {});
  const deadline = Date.now() + timeoutMs;
  try {
    while (!answered && Date.now() < deadline) {
      await socket.send(query, { transport: "udp", hostname: "127.0.0.1", port });
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([receiving, new Promise((r) => timer = setTimeout(r, 100))]);
      clearTimeout(timer);
    }
  } finally {
    socket.close();
    await receiving;
  }
  if (!answered) throw new Error(`no DNS answer on port ${port}`);
}
