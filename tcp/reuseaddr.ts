/**
 * Why a restarted server needs SO_REUSEADDR, shown on a port full of TIME_WAIT sockets.
 *
 * Seed ideas: 002's 「在bind前加」 `setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)` (restart a server
 * at once instead of getting "Address already in use"), and 004's four-way teardown, where the
 * side that closes first waits 2 MSL in TIME_WAIT (60 s on Linux) so that late segments of the old
 * connection die out before its address pair is used again.
 *
 * The script runs a server that closes its connections first (as a web server does after an
 * answer), lists the TIME_WAIT sockets that leaves on its port (the kernel's table, as `ss -tan`
 * shows it), stops the server, then restarts it twice on the same port: once with a plain socket
 * (no SO_REUSEADDR — the bind fails) and once with `Deno.listen`, which always sets the option.
 *
 * Run:   deno task tcp:reuseaddr                    (= deno run -A tcp/reuseaddr.ts)
 *        deno task tcp:reuseaddr --connections 5 --json
 * Poke:  `ss -tan state time-wait` while it runs, or right after (the sockets stay for 60 s).
 */
import {
  formatAddr,
  formatHostPort,
  listenTcp,
  parseCli,
  parseCount,
  parsePort,
  resolveHostArgument,
  runMain,
} from "./kit/cli.ts";
import { createReporter, type Reporter } from "./kit/report.ts";
import { readTcpTable, type TcpSocketRow } from "./core/tcp_table.ts";
import { bindWithoutReuseAddr } from "./core/socket_options.ts";

export const USAGE = `Usage: deno task tcp:reuseaddr [options]

Leaves TIME_WAIT sockets on a server's port (the server closes first), shows them, stops the
server and restarts it on the same port: without SO_REUSEADDR (bind fails), then with it.

Options:
  --host HOST          address to listen on (default 127.0.0.1)
  --port PORT          port to use (default 0 = any free port)
  --connections N      connections the server closes first (default 3, at most 100)
  --json               newline-delimited JSON events instead of text
  -h, --help           show this help`;

/** What the lesson saw. */
export interface ReuseAddrReport {
  port: number;
  /** The TIME_WAIT sockets on the port after the server stopped. */
  timeWait: TcpSocketRow[];
  /** Binding the port again without SO_REUSEADDR. */
  plainBind: "bound" | "address in use" | "unavailable";
  /** Whether Deno.listen (SO_REUSEADDR on) could listen on the port again. */
  reused: boolean;
}

/** The server side closes each of `connections` connections first, then the server stops. */
async function leaveTimeWait(listener: Deno.TcpListener, connections: number): Promise<void> {
  const { hostname, port } = listener.addr;
  for (let i = 0; i < connections; i++) {
    const [client, accepted] = await Promise.all([
      Deno.connect({ hostname, port }),
      listener.accept(),
    ]);
    // The server closes first: its side goes FIN_WAIT → TIME_WAIT.
    accepted.close();
    // The client reads the FIN (EOF) and closes too, which ends the teardown.
    await client.read(new Uint8Array(1));
    client.close();
  }
}

/** Runs the lesson on `hostname:port` and reports each step through `out`. */
export async function runReuseAddr(
  out: Reporter,
  { hostname = "127.0.0.1", port = 0, connections = 3 } = {},
): Promise<ReuseAddrReport> {
  const listener = listenTcp({ hostname, port });
  const bound = listener.addr;
  const where = formatAddr(bound);
  out.info(`1. server listening on ${where} (Deno.listen sets SO_REUSEADDR)`, "listening", {
    address: where,
  });
  try {
    await leaveTimeWait(listener, connections);
  } finally {
    listener.close();
  }
  out.info(
    `2. ${connections} clients came and went; the server closed each connection first`,
    "log",
  );
  const timeWait = readTcpTable({ localPort: bound.port }).filter((r) => r.state === "TIME_WAIT");
  out.info(
    `3. server stopped; the kernel still holds ${timeWait.length} sockets in TIME_WAIT on ` +
      `port ${bound.port} (2 MSL = 60 s on Linux):`,
    "result",
    { port: bound.port, timeWait: timeWait.length },
  );
  for (const row of timeWait) {
    const timer = row.timerSeconds === undefined ? "" : `, ${row.timerSeconds} s left`;
    out.info(
      `   ${formatHostPort(row.local.hostname, row.local.port)} → ` +
        `${formatHostPort(row.remote.hostname, row.remote.port)}  TIME_WAIT${timer}`,
      "result",
      { local: row.local, remote: row.remote, state: row.state, timerSeconds: row.timerSeconds },
    );
  }
  const plainBind = bindWithoutReuseAddr(bound.hostname, bound.port);
  const plainText = plainBind === "bound"
    ? "bound (no socket of the old server was in the way)"
    : plainBind === "address in use"
    ? "Address already in use (EADDRINUSE): the TIME_WAIT sockets hold the port"
    : "not shown here (needs Linux with FFI)";
  out.info(`4. restart without SO_REUSEADDR: bind ${where} → ${plainText}`, "result", {
    reuseAddress: false,
    outcome: plainBind,
  });
  let reused = false;
  try {
    const again = listenTcp({ hostname: bound.hostname, port: bound.port });
    again.close();
    reused = true;
  } catch (error) {
    out.warn(`5. restart with SO_REUSEADDR failed: ${(error as Error).message}`, "error");
  }
  if (reused) {
    out.info(
      `5. restart with SO_REUSEADDR (Deno.listen): listening on ${where} again at once`,
      "result",
      { reuseAddress: true, outcome: "bound" },
    );
  }
  return { port: bound.port, timeWait, plainBind, reused };
}

/** `deno task tcp:reuseaddr …`. */
export async function main(args: string[]): Promise<number> {
  const { values } = parseCli(args, {
    host: { type: "string" },
    port: { type: "string" },
    connections: { type: "string" },
    json: { type: "boolean" },
  });
  const out = createReporter("tcp/reuseaddr", { json: values.json });
  const report = await runReuseAddr(out, {
    port: parsePort(values.port, 0),
    hostname: await resolveHostArgument(values.host ?? "127.0.0.1"),
    connections: parseCount(values.connections, 3, "--connections", { min: 1, max: 100 }),
  });
  return report.reused ? 0 : 1;
}

if (import.meta.main) await runMain(USAGE, main);
