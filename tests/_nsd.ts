/**
 * NSD for interop tests: runs `nsd -d` from a config in a temporary folder on a free loopback
 * port (no chroot, no privilege drop, no rate limit)
 * and waits for its "nsd started" line, never a sleep.
 */
import { pickSharedPort } from "../dns/internet/servers.ts";

/** A running NSD. */
export interface Nsd extends AsyncDisposable {
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts NSD serving `zones` (apex → zone file text). The port is picked free, then NSD binds
 * it: another test may take it in between, so "Address already in use" means a new port.
 */
export async function startNsd(zones: Record<string, string>): Promise<Nsd> {
  for (let attempt = 1;; attempt++) {
    try {
      return await startNsdOnce(zones);
    } catch (error) {
      if (attempt >= 3 || !/Address already in use/.test(String(error))) throw error;
    }
  }
}

async function startNsdOnce(zones: Record<string, string>): Promise<Nsd> {
  const dir = await Deno.makeTempDir({ prefix: "netlab-nsd-" });
  const port = pickSharedPort(["127.0.0.1"], { preferStandard: false });
  let zoneConfig = "";
  let i = 0;
  for (const [apex, text] of Object.entries(zones)) {
    const file = `zone${i++}.zone`;
    await Deno.writeTextFile(`${dir}/${file}`, text);
    zoneConfig += `zone:\n  name: "${apex}"\n  zonefile: ${file}\n`;
  }
  await Deno.writeTextFile(
    `${dir}/nsd.conf`,
    `server:
  ip-address: 127.0.0.1@${port}
  username: ""
  chroot: ""
  pidfile: "${dir}/nsd.pid"
  zonesdir: "${dir}"
  database: ""
  zonelistfile: "${dir}/zone.list"
  xfrdfile: "${dir}/xfrd.state"
  xfrdir: "${dir}"
  server-count: 1
  rrl-ratelimit: 0
  verbosity: 1
remote-control:
  control-enable: no
${zoneConfig}`,
  );
  const child = new Deno.Command("nsd", {
    args: ["-d", "-c", `${dir}/nsd.conf`],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let log = "";
  let announce: (ok: boolean) => void = () => {};
  const ready = new Promise<boolean>((resolve) => (announce = resolve));
  const pumps = [child.stdout, child.stderr].map(async (stream) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      log += chunk;
      if (log.includes("nsd started")) announce(true);
    }
    announce(false);
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const ok = await Promise.race([
    ready,
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 15_000))),
  ]);
  clearTimeout(timer);
  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* already exited */ }
      await Promise.all([child.status, ...pumps]);
      await Deno.remove(dir, { recursive: true });
    })();
  if (!ok) {
    await stop();
    throw new Error(`nsd did not start:\n${log}`);
  }
  return { port, stop, [Symbol.asyncDispose]: stop };
}
