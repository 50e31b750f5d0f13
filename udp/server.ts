/**
 * UDP upper-case echo server: every datagram that arrives is answered with one datagram, the same
 * bytes upper-cased, sent back to the address it came from.
 *
 * Seed idea (000 §二, 001 UDP编程, 003 recvfrom/sendto): a UDP server has no listen() and no
 * accept() — it binds and then loops `recvfrom` → reply with `sendto(data, client_addr)`. Because
 * there is no connection, any number of clients interleave (seed 000's 「并发的感觉」): the server
 * still answers one datagram at a time, just fast. Only ASCII a–z change, so a datagram cut in
 * the middle of a Chinese character cannot kill it (seed 001's `decode().upper()` can).
 * `--once --reply 你好` is seed 002's one-shot server (`recvfrom` once, `sendto(你好, addr)`).
 *
 * Run:  deno task udp:server                 (127.0.0.1:8080)
 *       deno run -A udp/server.ts --port 0   (ephemeral port, printed on the first line)
 *       deno task udp:server --once --reply 你好   (seed 002: one datagram, reply 你好, exit 0)
 * Poke: nc -u 127.0.0.1 8080   then type a line: the reply comes back upper-cased
 *       echo -n hello | nc -u -w1 127.0.0.1 8080
 * How it works (and the batched fast path it takes on Linux): udp/README.md.
 */
import {
  datagramListeningLine,
  formatAddr,
  interruptSignal,
  listenUdp,
  parseCli,
  parsePort,
  resolveHostArgument,
  runMain,
  UsageError,
} from "../tcp/kit/cli.ts";
import { createReporter, type Reporter } from "../tcp/kit/report.ts";
import { chunkView } from "../tcp/kit/explain.ts";
import { isClosedLocally } from "../tcp/core/net_errors.ts";
import { serveDatagrams } from "./core/serve_datagrams.ts";
import { MAX_UDP_PAYLOAD_IPV4, upperAsciiInPlace } from "./core/datagram.ts";
import { DatagramLog } from "./core/datagram_log.ts";
import { onAbort } from "../tcp/core/abort.ts";

/**
 * The server: for each datagram, `recvfrom` → upper-case it (or take `reply`) → `sendto` the
 * sender, until `signal` aborts (which closes `conn`), `conn` is closed, or `limit` datagrams
 * have been answered; `conn` is closed on return. Resolves with the number answered. A failure to
 * reply to one peer is reported and the server goes on serving everyone else.
 */
export async function serveUdp(
  conn: Deno.DatagramConn,
  options: ServeUdpOptions = {},
): Promise<number> {
  const { signal, reporter, reply } = options;
  const limit = options.limit ?? Infinity;
  const log = options.quiet || !reporter ? undefined : new DatagramLog(reporter);
  // Built only under --explain, so the hot path stays one undefined check per datagram.
  const explain = reporter?.explaining ? reporter : undefined;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    conn.close();
  };
  onAbort(signal, close);
  // Nothing to narrate or count per datagram: move whole batches per system call where we can
  // (the log line of each datagram is written from the batch, through the batched log writer).
  const batch = !explain && limit === Infinity;
  let answered = 0;
  let received = 0;
  try {
    answered = await serveDatagrams(conn, {
      answer(datagram, out, from) {
        received++;
        if (log || explain) {
          const sender = from.addr;
          log?.received(datagram, sender);
          if (explain) explainDatagram(explain, "recvfrom", received, datagram, sender);
        }
        if (!reply) return upperAsciiInPlace(datagram).length;
        out.set(reply);
        return reply.length;
      },
      replied: batch ? undefined : (answer, to) => {
        answered++;
        if (explain) {
          explainDatagram(explain, "sendto", received, answer, to.addr, reply !== undefined);
        }
      },
      stopped: () => closed || answered >= limit,
      // A failed receive: the loop's own policy (stop once closed, go on after an ICMP report).
      sendFailed(error, to) {
        if (closed || isClosedLocally(error)) return false;
        // One unreachable or refused peer must not stop the server for everyone else.
        reporter?.warn(`Cannot reply to ${formatAddr(to)}: ${(error as Error).message}`, "error", {
          to: formatAddr(to),
        });
        return true;
      },
    }, { batch });
  } finally {
    signal?.removeEventListener("abort", close);
    close();
  }
  return answered;
}

/** `deno run -A udp/server.ts [flags]`. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args, {
    host: { type: "string" },
    port: { type: "string" },
    once: { type: "boolean" },
    reply: { type: "string" },
    quiet: { type: "boolean" },
    json: { type: "boolean" },
    explain: { type: "boolean" },
  });
  if (positionals.length) throw new UsageError(`Unexpected argument "${positionals[0]}"`);
  const port = parsePort(values.port, 8080);
  const quiet = values.quiet ?? false;
  const reply = values.reply === undefined ? undefined : new TextEncoder().encode(values.reply);
  if (reply && reply.length > MAX_UDP_PAYLOAD_IPV4) {
    throw new UsageError(
      `--reply is ${reply.length} bytes: the largest UDP datagram is ${MAX_UDP_PAYLOAD_IPV4} bytes`,
    );
  }
  const host = await resolveHostArgument(values.host ?? "127.0.0.1");
  const reporter = createReporter("udp/server", {
    quiet,
    json: values.json,
    explain: values.explain,
    batched: true,
  });

  using signal = interruptSignal();
  const conn = listenUdp(host, port);
  // Printed even with --quiet: tests and benchmarks read the port from this first line.
  createReporter("udp/server", { json: values.json }).info(
    datagramListeningLine(conn.addr),
    "listening",
    { address: formatAddr(conn.addr), transport: "udp" },
  );
  if (reporter.explaining) {
    const steps = ["create", "bind", "no-listen"];
    describeUdpSteps({ hostname: host, port }, conn.addr).forEach((line, i) =>
      reporter.explain(line, { step: steps[i], address: formatAddr(conn.addr) })
    );
  }
  const answered = await serveUdp(conn, {
    signal,
    reporter,
    quiet,
    limit: values.once ? 1 : undefined,
    reply,
  });
  reporter.explain(`step 4 close: the socket is closed after ${answered} datagrams answered`, {
    step: "close",
    answered,
  });
  if (signal.aborted) reporter.info("stopped", "log");
  return 0;
}

/** Options for `serveUdp`. */
export interface ServeUdpOptions {
  /** Stops the server (closes the socket). */
  signal?: AbortSignal;
  /** Where the per-datagram log goes; omitted or `quiet`: no log. */
  reporter?: Reporter;
  /** Skip the per-datagram log entirely (the hot path does no string work). */
  quiet?: boolean;
  /** Stop after answering this many datagrams (`--once` is 1); default: no limit. */
  limit?: number;
  /** Answer every datagram with these bytes instead of its upper-cased bytes (`--reply`). */
  reply?: Uint8Array;
}

/** How much of each datagram `--explain` dumps. */
const EXPLAIN_MAX_BYTES = 256;

/** One datagram as `--explain` shows it: one recvfrom is exactly one datagram, whole. */
function explainDatagram(
  reporter: Reporter,
  call: "recvfrom" | "sendto",
  index: number,
  datagram: Uint8Array,
  peer: Deno.Addr,
  fixedReply = false,
): void {
  const address = formatAddr(peer);
  const heading = call === "recvfrom"
    ? `step 3 recvfrom #${index}: one datagram of ${datagram.length} bytes from ${address} ` +
      "(one receive = one whole datagram: no 粘包 in UDP)"
    : `step 3 sendto #${index}: ${datagram.length} bytes ` +
      `${fixedReply ? "(the fixed --reply)" : "upper-cased"} back to ${address} ` +
      "(the address came with the datagram; there is no connection to write to)";
  reporter.explain(chunkView(heading, datagram, { maxBytes: EXPLAIN_MAX_BYTES }), {
    step: call,
    index,
    peer: address,
    bytes: datagram.length,
  });
}

/** Seed 001's server steps as UDP has them, for a socket already bound to `addr`. */
export function describeUdpSteps(requested: { hostname: string; port: number }, addr: Deno.Addr) {
  const family = requested.hostname.includes(":") ? "AF_INET6" : "AF_INET";
  const asked = formatAddr({ transport: "udp", ...requested });
  return [
    `step 1 create: socket(${family}, SOCK_DGRAM) — a UDP socket; Deno.listenDatagram does ` +
    "steps 1 and 2 in one call",
    `step 2 bind: ${asked} → ${formatAddr(addr)}` +
    (requested.port === 0 ? " (port 0: the kernel picked a free port)" : ""),
    "no listen, no accept: UDP has no connections and no backlog; every datagram carries its " +
    "sender's address, and one socket talks to every client (step 3 is recvfrom → sendto)",
  ];
}

const USAGE =
  `Usage: deno task udp:server [--host HOST] [--port PORT] [--once] [--reply TEXT] [--quiet]
                            [--json] [--explain]

UDP upper-case echo server: replies to every datagram with the same bytes upper-cased (ASCII
letters only, so Chinese and binary pass through unchanged).

Options:
  --host HOST   address or host name to bind (default 127.0.0.1; ::1 for IPv6)
  --port PORT   port to bind (default 8080; 0 = ephemeral, printed on the first line)
  --once        answer one datagram, then close the socket and exit 0 (seed 002)
  --reply TEXT  answer every datagram with TEXT instead of its upper-cased bytes (seed 002's
                sendto(你好, addr))
  --quiet       do not log each datagram (for benchmarks); on Linux with --allow-ffi this
                also answers in batches (recvmmsg/sendmmsg)
  --json        newline-delimited JSON events instead of text
  --explain     narrate the server's steps (create → bind → recvfrom/sendto; no listen, no
                accept) and show every datagram received and sent (hexdump)
  -h, --help    show this help`;

if (import.meta.main) await runMain(USAGE, main);
