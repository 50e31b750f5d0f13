/**
 * unbound for interop tests and benchmarks: a validating resolver for the mini-Internet, run in
 * the foreground from a config in a temporary folder, with the mini-Internet's three zones as
 * stubs (a referral carries addresses, not ports) and its trust anchor.
 */
import { pickSharedPort } from "../dns/internet/servers.ts";

/** A running unbound. */
export interface Unbound extends AsyncDisposable {
  port: number;
  /** The tail of its log. */
  log(): string;
}

/** Starts unbound as a validating resolver for the mini-Internet (its root hint and anchor). */
export async function startValidatingUnbound(port: number, anchorFile: string): Promise<Unbound> {
  const dir = await Deno.makeTempDir({ prefix: "netlab-unbound-" });
  const listen = pickSharedPort(["127.0.0.1"], { preferStandard: false });
  await Deno.writeTextFile(
    `${dir}/unbound.conf`,
    `server:
  interface: 127.0.0.1@${listen}
  port: ${listen}
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "${dir}"
  pidfile: "${dir}/unbound.pid"
  use-syslog: no
  logfile: ""
  verbosity: 1
  do-not-query-localhost: no
  do-ip6: no
  trust-anchor-file: "${anchorFile}"
  val-log-level: 2
  ede: yes
  harden-referral-path: no
  qname-minimisation: no
  module-config: "validator iterator"
# Referrals carry addresses, not ports: each zone of the mini-Internet is a stub on its port.
stub-zone:
  name: "."
  stub-addr: 127.0.0.2@${port}
stub-zone:
  name: "com."
  stub-addr: 127.0.0.3@${port}
stub-zone:
  name: "cnblogs.com."
  stub-addr: 127.0.0.4@${port}
remote-control:
  control-enable: no
`,
  );
  const child = new Deno.Command("unbound", {
    args: ["-d", "-c", `${dir}/unbound.conf`],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // Ready when it logs "start of service" (its sockets are open): a line, never a sleep.
  let log = "";
  let announce: (ok: boolean) => void = () => {};
  const ready = new Promise<boolean>((resolve) => (announce = resolve));
  const pump = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      log = (log + chunk).slice(-8000);
      if (log.includes("start of service")) announce(true);
    }
    announce(false);
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const ok = await Promise.race([
    ready,
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 15_000))),
  ]);
  clearTimeout(timer);
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    await Promise.all([child.status, pump]);
    await Deno.remove(dir, { recursive: true });
  };
  if (!ok) {
    await stop();
    throw new Error(`unbound did not start:\n${log}`);
  }
  return { port: listen, log: () => log, [Symbol.asyncDispose]: stop };
}
