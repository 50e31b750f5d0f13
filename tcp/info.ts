/**
 * Socket attributes in Deno terms, for TCP over IPv4, TCP over IPv6 and Unix-domain sockets.
 *
 * Seed idea (003, 「套接字属性」): `s.family`, `s.type`, `s.fileno()` (「sys.stdin 0 / sys.stdout 1 /
 * sys.stderr 2」), `s.getsockname()`, `s.getpeername()`, `s.setsockopt(level, optname, value)`;
 * (004) the keepalive timer: 2 hours idle, a probe every 75 s, give up after 10.
 *
 * Deno's names: `listener.addr` and `conn.localAddr` are getsockname (listening on port 0 shows the
 * port the kernel chose), `conn.remoteAddr` is getpeername, `conn.setNoDelay()` sets TCP_NODELAY,
 * `conn.setKeepAlive()` sets SO_KEEPALIVE. Deno 2 does not expose file descriptors (no `rid`, no
 * `fileno()`), so this script finds each socket's real descriptor in /proc/self/fd and reads the
 * options back with getsockopt(2) (tcp/core/socket_options.ts: Linux; unavailable elsewhere).
 *
 * Run:   deno task tcp:info                    (= deno run -A tcp/info.ts)
 *        deno run -A tcp/info.ts --json
 * Poke:  while it runs nothing listens for long; compare with `ss -tnoe` on a live server
 *        (`deno task tcp:server` + `nc 127.0.0.1 8080`): `timer:(keepalive,…)` appears after
 *        setKeepAlive, and `cat /proc/sys/net/ipv4/tcp_keepalive_*` shows the kernel's timings.
 */
import { formatAddr, parseCli, runMain } from "./kit/cli.ts";
import { createReporter, type Reporter } from "./kit/report.ts";
import { readSocketOptions, socketDescriptors, type SocketOptions } from "./core/socket_options.ts";

export const USAGE = `Usage: deno task tcp:info [options]

Opens a listener, a client and the accepted connection for TCP/IPv4 (127.0.0.1), TCP/IPv6 (::1)
and a Unix-domain socket, and prints family, type, descriptor, local and peer address and the
socket options read back from the kernel; then the keepalive timings (seed vs this machine).

Options:
  --json        newline-delimited JSON events instead of text
  -h, --help    show this help`;

/** Address-family numbers on Linux (what Python's `s.family` prints as an int). */
export const AF = { AF_UNIX: 1, AF_INET: 2, AF_INET6: 10 } as const;
/** Socket types on Linux (`s.type`). */
export const SOCK_STREAM = 1;

/** Runs `create` and returns its result with the one socket descriptor it opened, if found. */
async function withNewDescriptor<T>(create: () => T | Promise<T>): Promise<[T, number | null]> {
  const before = socketDescriptors();
  const value = await create();
  const fresh = [...socketDescriptors()].filter(([fd, target]) => before.get(fd) !== target);
  return [value, fresh.length === 1 ? fresh[0][0] : null];
}

/** What one socket looks like. */
export interface SocketRow {
  role: "listener" | "client" | "accepted";
  /** The kernel's descriptor (Python's `s.fileno()`), or null when it could not be found. */
  fd: number | null;
  /** getsockname. */
  local: string;
  /** getpeername (none for a listener). */
  peer: string | null;
  /** Options read back after the script set them (null: getsockopt unavailable). */
  options: SocketOptions | null;
  /** For the client: options before `setNoDelay(true)` / `setKeepAlive(true)`. */
  optionsBefore?: SocketOptions | null;
}

/** Sockets of one family. */
export interface FamilyReport {
  title: string;
  family: keyof typeof AF;
  transport: "tcp" | "unix";
  rows: SocketRow[];
}

/**
 * Opens a listener on `hostname` port 0, connects a client, accepts it, sets TCP_NODELAY and
 * SO_KEEPALIVE on the client, and reports all three sockets. Null if the address is unavailable
 * (e.g. no IPv6).
 */
export async function inspectTcp(hostname: string): Promise<FamilyReport | null> {
  let listener: Deno.TcpListener;
  let listenerFd: number | null;
  try {
    [listener, listenerFd] = await withNewDescriptor(() => Deno.listen({ hostname, port: 0 }));
  } catch (error) {
    if (error instanceof Deno.errors.AddrNotAvailable) return null;
    throw error;
  }
  try {
    const [client, clientFd] = await withNewDescriptor(() =>
      Deno.connect({ hostname, port: listener.addr.port })
    );
    try {
      const [accepted, acceptedFd] = await withNewDescriptor(() => listener.accept());
      try {
        const optionsBefore = clientFd === null ? null : readSocketOptions(clientFd);
        // The seed's setsockopt, in Deno's words.
        client.setNoDelay(true);
        client.setKeepAlive(true);
        const v6 = hostname.includes(":");
        return {
          title: v6 ? `TCP over IPv6 (${hostname})` : `TCP over IPv4 (${hostname})`,
          family: v6 ? "AF_INET6" : "AF_INET",
          transport: "tcp",
          rows: [
            row("listener", listenerFd, listener.addr, null),
            { ...row("client", clientFd, client.localAddr, client.remoteAddr), optionsBefore },
            row("accepted", acceptedFd, accepted.localAddr, accepted.remoteAddr),
          ],
        };
      } finally {
        accepted.close();
      }
    } finally {
      client.close();
    }
  } finally {
    listener.close();
  }
}

function row(
  role: SocketRow["role"],
  fd: number | null,
  local: Deno.Addr,
  peer: Deno.Addr | null,
): SocketRow {
  const tcp = local.transport === "tcp";
  return {
    role,
    fd,
    local: describeAddr(local),
    peer: peer === null ? null : describeAddr(peer),
    options: fd === null ? null : readSocketOptions(fd, { tcp }),
  };
}

function describeAddr(addr: Deno.Addr): string {
  // An accepted or client Unix socket usually has no name: Deno reports path null.
  if ("path" in addr && !addr.path) return "(unnamed)";
  return formatAddr(addr);
}

/** The same for a Unix-domain socket at a fresh path in a temporary directory. */
export async function inspectUnix(): Promise<FamilyReport> {
  const dir = await Deno.makeTempDir({ prefix: "netlab-info-" });
  const path = `${dir}/info.sock`;
  try {
    const [listener, listenerFd] = await withNewDescriptor(() =>
      Deno.listen({ transport: "unix", path })
    );
    try {
      const [client, clientFd] = await withNewDescriptor(() =>
        Deno.connect({ transport: "unix", path })
      );
      try {
        const [accepted, acceptedFd] = await withNewDescriptor(() => listener.accept());
        try {
          return {
            title: "Unix-domain socket (a path in the file system)",
            family: "AF_UNIX",
            transport: "unix",
            rows: [
              row("listener", listenerFd, listener.addr, null),
              row("client", clientFd, client.localAddr, client.remoteAddr),
              row("accepted", acceptedFd, accepted.localAddr, accepted.remoteAddr),
            ],
          };
        } finally {
          accepted.close();
        }
      } finally {
        client.close();
      }
    } finally {
      listener.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Linux keepalive timings from /proc/sys/net/ipv4, or null where unreadable. */
export interface KeepaliveSettings {
  timeSeconds: number | null;
  intervalSeconds: number | null;
  probes: number | null;
}

/** The seed's keepalive timer (004): 2 h idle, probe every 75 s, 10 probes. */
export const SEED_KEEPALIVE = { timeSeconds: 7200, intervalSeconds: 75, probes: 10 } as const;

/** Reads tcp_keepalive_time, tcp_keepalive_intvl and tcp_keepalive_probes. */
export function readKeepaliveSettings(): KeepaliveSettings {
  const read = (name: string) => {
    try {
      const n = Number(Deno.readTextFileSync(`/proc/sys/net/ipv4/${name}`).trim());
      return Number.isFinite(n) ? n : null;
    } catch {
      return null;
    }
  };
  return {
    timeSeconds: read("tcp_keepalive_time"),
    intervalSeconds: read("tcp_keepalive_intvl"),
    probes: read("tcp_keepalive_probes"),
  };
}

/** What descriptors 0, 1 and 2 are connected to in this process (Linux). */
export function standardDescriptors(): string[] {
  return ["stdin", "stdout", "stderr"].map((name, fd) => {
    try {
      return `${fd} = ${name} -> ${Deno.readLinkSync(`/proc/self/fd/${fd}`)}`;
    } catch {
      return `${fd} = ${name}`;
    }
  });
}

function formatOptions(options: SocketOptions | null | undefined): string {
  if (!options) return "(getsockopt unavailable)";
  return Object.entries(options).map(([k, v]) => `${k}=${v}`).join(" ");
}

/** Prints the reports as the teaching transcript (or JSON events). */
export function printInfo(
  families: (FamilyReport | { title: string; skipped: string })[],
  keepalive: KeepaliveSettings,
  out: Reporter,
): void {
  out.info("Descriptors 0, 1, 2 are always stdin, stdout, stderr (seed 003: sys.stdin 0 …):");
  for (const line of standardDescriptors()) out.info(`  ${line}`, "result");
  out.info(
    "Deno 2 hides descriptors (no rid/fileno()); the fd column comes from /proc/self/fd.",
  );
  for (const family of families) {
    out.info("");
    if ("skipped" in family) {
      out.info(`${family.title}: skipped (${family.skipped})`, "result", { ...family });
      continue;
    }
    out.info(
      `${family.title}: family ${family.family} (${
        AF[family.family]
      }), type SOCK_STREAM (${SOCK_STREAM}), transport "${family.transport}"`,
      "result",
      { family: family.family, transport: family.transport },
    );
    for (const r of family.rows) {
      out.info(
        `  ${r.role.padEnd(8)} fd ${String(r.fd ?? "?").padEnd(3)} local (getsockname) ${
          r.local.padEnd(22)
        } peer (getpeername) ${r.peer ?? "—"}`,
        "result",
        { family: family.family, ...r },
      );
      if (r.optionsBefore !== undefined) {
        out.info(`           before set: ${formatOptions(r.optionsBefore)}`);
        out.info(
          `           after setNoDelay(true), setKeepAlive(true): ${formatOptions(r.options)}`,
        );
      } else {
        out.info(`           ${formatOptions(r.options)}`);
      }
    }
  }
  out.info("");
  const show = (v: number | null, unit = "") => (v === null ? "?" : `${v}${unit}`);
  out.info(
    `Keepalive (seed 004: idle 2 h = ${SEED_KEEPALIVE.timeSeconds} s, every ${SEED_KEEPALIVE.intervalSeconds} s, ${SEED_KEEPALIVE.probes} probes); this machine: tcp_keepalive_time ${
      show(keepalive.timeSeconds, " s")
    }, tcp_keepalive_intvl ${show(keepalive.intervalSeconds, " s")}, tcp_keepalive_probes ${
      show(keepalive.probes)
    }`,
    "result",
    { seed: SEED_KEEPALIVE, linux: keepalive },
  );
}

/** Gathers every family's report (IPv6 skipped when ::1 is unavailable). */
export async function gatherInfo(): Promise<(FamilyReport | { title: string; skipped: string })[]> {
  const v4 = await inspectTcp("127.0.0.1");
  const v6 = await inspectTcp("::1");
  return [
    v4 ?? { title: "TCP over IPv4 (127.0.0.1)", skipped: "127.0.0.1 is not available" },
    v6 ?? { title: "TCP over IPv6 (::1)", skipped: "IPv6 loopback ::1 is not available" },
    await inspectUnix(),
  ];
}

/** The command line. */
export async function main(args: string[]): Promise<number> {
  const { values } = parseCli(args, { json: { type: "boolean" } });
  const out = createReporter("tcp/info", { json: values.json });
  printInfo(await gatherInfo(), readKeepaliveSettings(), out);
  return 0;
}

if (import.meta.main) await runMain(USAGE, main);
