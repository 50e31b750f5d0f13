/**
 * `--explain` for the echo server (tcp/server.ts, tcp/demo.ts): seed 001's five server steps told
 * live — what `Deno.listen` did in one call (create, bind, listen), then each accept, every read
 * and write of each session with its stream offsets and a hexdump (N writes of the client come
 * out as M reads here), and the close. Built only under `--explain`: without it, sessions carry
 * no trace and do no extra work.
 */
import { formatAddr } from "./cli.ts";
import { chunkView } from "./explain.ts";
import type { Reporter } from "./report.ts";
import type { ConnectionTrace, EchoMode, SessionSummary } from "../core/echo.ts";
import type { KeepaliveTimers } from "../core/socket_options.ts";

/** Listen backlog Deno uses when `tcpBacklog` is not given (measured with `ss -ltn`: 511). */
export const DEFAULT_BACKLOG = 511;
/** The backlog Deno gives a Unix-domain listener (measured with `ss -lx`: 1024). */
export const UNIX_BACKLOG = 1024;

/** How much of each read and write `--explain` dumps. */
const EXPLAIN_MAX_BYTES = 256;

/** `1 byte`, `5 bytes`. */
function byteCount(n: number): string {
  return `${n} ${n === 1 ? "byte" : "bytes"}`;
}

/** How logs name a client: its address, or `unix:(unnamed)` for an unnamed Unix socket. */
export function peerName(conn: Deno.Conn): string {
  const addr = conn.remoteAddr;
  if ("path" in addr && !addr.path) return "unix:(unnamed)";
  return formatAddr(addr);
}

/**
 * Seed 001's steps 1–3 for a listener that is already bound: what `Deno.listen` did in one call,
 * with the real address and backlog.
 */
export function describeListenSteps(
  requested: { hostname: string; port: number } | { path: string },
  addr: Deno.Addr,
  backlog = DEFAULT_BACKLOG,
): string[] {
  if ("path" in requested) {
    return [
      "step 1 create: socket(AF_UNIX, SOCK_STREAM) — a Unix-domain stream socket; " +
      "Deno.listen does steps 1–3 in one call",
      `step 2 bind: the path ${requested.path} (a file in the file system is the address)`,
      `step 3 listen: backlog ${UNIX_BACKLOG} — connections wait here until accept() takes ` +
      "them (Deno's fixed backlog for Unix sockets; --backlog applies to TCP only)",
    ];
  }
  const family = requested.hostname.includes(":") ? "AF_INET6" : "AF_INET";
  const asked = formatAddr({ transport: "tcp", ...requested });
  const got = formatAddr(addr);
  return [
    `step 1 create: socket(${family}, SOCK_STREAM) — a TCP socket; Deno.listen does steps 1–3 ` +
    "in one call",
    `step 2 bind: ${asked} → ${got}` +
    (requested.port === 0 ? " (port 0: the kernel picked a free port)" : "") +
    "; SO_REUSEADDR is already on, so a restart need not wait for old TIME_WAIT connections",
    `step 3 listen: backlog ${backlog} — up to ${backlog} connections the kernel has completed ` +
    "(three-way handshake done) wait here until accept() takes them",
  ];
}

/** Seed 004's keepalive as the server applies it to every accepted connection (or not). */
export function describeKeepalive(timers: KeepaliveTimers | undefined): string {
  if (!timers) {
    return "keepalive: off (--keepalive 0) — a client that vanishes without FIN or RST (cable " +
      "pulled, machine gone) keeps its connection here until the server stops";
  }
  const { idleSeconds, intervalSeconds, probes } = timers;
  return `keepalive: on for every accepted connection (SO_KEEPALIVE) — after ${idleSeconds} s ` +
    `of silence the kernel probes the client every ${intervalSeconds} s; ${probes} unanswered ` +
    `probes close the connection ("timed out"), so a client that vanished without FIN or RST ` +
    `is found and let go (seed 004)`;
}

/** A `ConnectionTrace` that also hears how the session ended. */
export interface SessionTrace extends ConnectionTrace {
  closed(summary: SessionSummary): void;
}

/** Seed 001's steps 4–6 told live, one `SessionTrace` per accepted connection. */
export class SessionNarrator {
  constructor(
    readonly reporter: Reporter,
    readonly mode: EchoMode | "reply",
    readonly sequential: boolean,
  ) {}

  accepted(conn: Deno.Conn, id: number): SessionTrace {
    const reporter = this.reporter;
    const peer = peerName(conn);
    const local = formatAddr(conn.localAddr);
    reporter.explain(
      `step 4 accept: connection #${id} from ${peer} — accept() returned a new socket ` +
        `(local ${local}); the listening socket stays open for the next client` +
        (this.sequential
          ? " (--sequential: the next one waits in the backlog until this ends)"
          : ""),
      { step: "accept", id, peer, local },
    );
    let reads = 0;
    let writes = 0;
    let readOffset = 0;
    let writeOffset = 0;
    const range = (at: number, n: number) => n ? `stream bytes ${at}..${at + n - 1}` : "no bytes";
    const what = this.mode === "upper"
      ? "upper-cased"
      : this.mode === "echo"
      ? "unchanged"
      : "of the fixed --reply";
    return {
      read(chunk) {
        reads++;
        reporter.explain(
          chunkView(
            `step 5 exchange: read #${reads} on #${id} from ${peer}: ${byteCount(chunk.length)} ` +
              `(${range(readOffset, chunk.length)})`,
            chunk,
            { maxBytes: EXPLAIN_MAX_BYTES },
          ),
          { step: "exchange", direction: "read", id, peer, index: reads, bytes: chunk.length },
        );
        readOffset += chunk.length;
      },
      wrote(chunk) {
        writes++;
        reporter.explain(
          chunkView(
            `step 5 exchange: write #${writes} on #${id} to ${peer}: ${byteCount(chunk.length)} ` +
              `${what} (${range(writeOffset, chunk.length)})`,
            chunk,
            { maxBytes: EXPLAIN_MAX_BYTES },
          ),
          { step: "exchange", direction: "write", id, peer, index: writes, bytes: chunk.length },
        );
        writeOffset += chunk.length;
      },
      closed(summary) {
        const why = summary.reason === "q"
          ? `the client sent "q" as one read (seed 004)`
          : summary.reason === "eof"
          ? "the client closed (read returned EOF)"
          : summary.reason;
        reporter.explain(
          `step 6 close: connection #${id} (${peer}) closed: ${why}; ${reads} reads, ` +
            `${writes} writes (${summary.bytesIn} bytes in, ${summary.bytesOut} out) — ` +
            `however many writes the client made, TCP delivered them as these ${reads} reads`,
          { step: "close", id, peer, reads, writes, ...summary },
        );
      },
    };
  }
}
