/**
 * An authoritative DNS server over UDP and TCP: the other side of seed 000's
 * 「浏览器客户端套接字 –– UDP –– DNS服务端套接字,将域名解析成IP返回」, serving master-file zones.
 *
 *   deno task dns:server --zone dns/zones/cnblogs.com.zone           # 127.0.0.1:1053
 *   deno task dns:server --zone dns/zones/root.zone --zone dns/zones/com.zone --port 0
 *   sudo deno task dns:server --zone dns/zones/root.zone --host 127.0.0.2 --port 53
 *
 * Poke it by hand: `dig @127.0.0.1 -p 1053 www.cnblogs.com`, `dig … big.cnblogs.com` (TC over
 * UDP, dig retries over TCP), `dig +tcp …`, `dig … nope.cnblogs.com` (NXDOMAIN), or
 * `deno task dns:query @127.0.0.1 -p 1053 www.cnblogs.com`. How it answers, and what limits its
 * speed: dns/README.md.
 */
import {
  CliError,
  formatAddr,
  interruptSignal,
  listeningLine,
  parseCli,
  parseCount,
  parsePort,
  runMain,
  UsageError,
} from "../tcp/kit/cli.ts";
import { createReporter } from "../tcp/kit/report.ts";
import { describeKeepalive } from "../tcp/kit/echo_explain.ts";
import {
  DEFAULT_KEEPALIVE_SECONDS,
  keepaliveTimers,
  MAX_KEEPALIVE_SECONDS,
} from "../tcp/core/socket_options.ts";
import { closeQuietly } from "../tcp/core/io.ts";
import { serveDatagrams } from "../udp/core/serve_datagrams.ts";
import { Authority } from "./authority/authority.ts";
import { ResponseCache, writeReply } from "./authority/response_cache.ts";
import { printableText } from "./wire/primitives.ts";
import { parseZone, type Zone, ZoneSyntaxError } from "./zone/parse.ts";
import { bindBoth, type DnsListenOptions } from "./serve/sockets.ts";
import { serveDnsTcp } from "./serve/tcp.ts";
import { QueryLog } from "./serve/query_log.ts";
import { onAbort } from "../tcp/core/abort.ts";

/**
 * The server: one socket pair (UDP and TCP on the same port), every query answered from the
 * zones through the response cache. UDP datagrams go through the one datagram loop (in batches
 * where the system allows), TCP connections through the one accept loop; each answer is logged
 * as one line. Stops on `close()` or the signal.
 */
export function startDnsServer(authority: Authority, options: DnsServerOptions = {}): DnsServer {
  const reporter = options.reporter ?? createReporter("dns/server", { quiet: true });
  const cache = new ResponseCache(authority);
  const log = new QueryLog(reporter, options);
  const { udp, tcp } = bindBoth(options.host ?? "127.0.0.1", options.port ?? DEFAULT_DNS_PORT);
  let closing = false;

  // UDP: each datagram answered into the buffer that holds it, with the query's id.
  const udpDone = serveDatagrams(udp, {
    answer(query, out, from) {
      const response = cache.lookup(query, true);
      if (!response) return -1;
      const length = writeReply(out, response.bytes, query);
      // With --quiet nothing about the client is decoded (batched, its address stays raw).
      if (log.active || response.error) {
        log.answered(from.addr, "udp", response, query, out.subarray(0, length));
      }
      return length;
    },
    receiveFailed: (error) => keepServing(error, "UDP receive failed"),
    sendFailed: (error, to) => keepServing(error, `UDP send to ${formatAddr(to)} failed`),
    stopped: () => closing,
  }, { batch: options.batch ?? true, loops: UDP_RECEIVE_LOOPS });

  // TCP: each query framed by its 2-byte length, answered in order.
  const tcpSide = serveDnsTcp(tcp, (query, client) => {
    const response = cache.respond(query, false);
    if (!response) return null;
    log.answered(client, "tcp", response, query, response.bytes);
    return response.bytes;
  }, {
    idleTimeoutMs: options.idleTimeoutMs ?? 10_000,
    maxConnections: options.maxTcpConnections ?? 256,
    keepalive: options.keepalive,
    reporter,
  });

  // Only our own close() ends the UDP loop: an error about one client (e.g. a reset reported
  // for an earlier reply) must not take the socket away from everyone else.
  function keepServing(error: unknown, what: string): boolean {
    if (closing || error instanceof Deno.errors.BadResource) return false;
    reporter.warn(`${what}: ${(error as Error).message}`);
    return true;
  }

  const finished = Promise.all([udpDone, tcpSide.finished]).then(() => {});
  const close = async () => {
    if (!closing) {
      closing = true;
      closeQuietly(udp);
      tcpSide.close();
    }
    await finished;
  };
  onAbort(options.signal, () => void close());
  return { addr: udp.addr as Deno.NetAddr, finished, close, [Symbol.asyncDispose]: close };
}

/** Default port (an unprivileged stand-in for 53). */
export const DEFAULT_DNS_PORT = 1053;
/** Plain UDP receive loops on the one socket (where datagrams are not moved in batches). */
export const UDP_RECEIVE_LOOPS = 8;

/** Options for `startDnsServer`. */
export interface DnsServerOptions extends DnsListenOptions {
  /** The reporter prints JSON: report each query as a `query` event before its `answer`. */
  json?: boolean;
}

/** A running server. */
export interface DnsServer extends AsyncDisposable {
  /** The UDP address (TCP listens on the same host and port). */
  addr: Deno.NetAddr;
  /** Resolves when every loop has stopped after `close()` or the signal. */
  finished: Promise<void>;
  close(): Promise<void>;
}

/** Reads and parses zone files; an error names the file and line. */
export async function loadZoneFiles(paths: string[]): Promise<Zone[]> {
  const zones: Zone[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      throw new CliError(
        `Cannot read zone file "${printableText(path)}": ${(error as Error).message}`,
      );
    }
    try {
      zones.push(parseZone(text, { file: path }));
    } catch (error) {
      if (error instanceof ZoneSyntaxError) throw new CliError(error.message);
      throw error;
    }
  }
  return zones;
}

/** The command line: load zones, bind, print `listening on …`, serve until Ctrl-C. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args, {
    zone: { type: "string", multiple: true },
    host: { type: "string" },
    port: { type: "string" },
    idle: { type: "string" },
    "max-tcp": { type: "string" },
    keepalive: { type: "string" },
    quiet: { type: "boolean" },
    json: { type: "boolean" },
    explain: { type: "boolean" },
  });
  if (positionals.length) {
    throw new UsageError(`Unexpected argument "${printableText(positionals[0])}"`);
  }
  const zoneFiles = values.zone ?? [];
  if (zoneFiles.length === 0) throw new UsageError("At least one --zone FILE is required");
  const port = parsePort(values.port, DEFAULT_DNS_PORT);
  const idleSeconds = parseCount(values.idle, 10, "--idle", { min: 1, max: 3600 });
  const maxTcp = parseCount(values["max-tcp"], 256, "--max-tcp", { min: 1, max: 65536 });
  const keepalive = keepaliveTimers(
    parseCount(values.keepalive, DEFAULT_KEEPALIVE_SECONDS, "--keepalive", {
      min: 0,
      max: MAX_KEEPALIVE_SECONDS,
    }),
  );
  const host = values.host ?? "127.0.0.1";
  const authority = authorityOf(await loadZoneFiles(zoneFiles));
  // The query log goes out in batches: one write per turn of the event loop, not one per query.
  const reporter = createReporter("dns/server", {
    json: values.json,
    quiet: values.quiet,
    explain: values.explain,
    batched: true,
  });
  using signal = interruptSignal();
  let server: DnsServer;
  try {
    server = startDnsServer(authority, {
      host,
      port,
      idleTimeoutMs: idleSeconds * 1000,
      maxTcpConnections: maxTcp,
      keepalive,
      reporter,
      json: values.json,
      quiet: values.quiet,
      signal,
    });
  } catch (error) {
    throw new CliError(`Cannot listen on ${host}:${port}: ${(error as Error).message}`);
  }
  // The first line is printed even with --quiet: tests and scripts wait for it.
  createReporter("dns/server", { json: values.json }).info(
    listeningLine(server.addr, " (udp+tcp)"),
    "listening",
    { address: formatAddr(server.addr), zones: authority.origins },
  );
  reporter.explain(describeKeepalive(keepalive), { step: "keepalive", ...keepalive });
  await server.finished;
  if (signal.aborted) reporter.info("stopped", "log");
  return 0;
}

/** The zones as one authority; two zones with the same apex are a one-line error. */
function authorityOf(zones: Zone[]): Authority {
  try {
    return new Authority(zones);
  } catch (error) {
    if (error instanceof RangeError) throw new CliError(error.message);
    throw error;
  }
}

const USAGE = `Usage: deno task dns:server --zone FILE [--zone FILE…] [--host HOST] [--port PORT]

An authoritative DNS server (UDP and TCP on the same port) for master-file zones.
  --zone FILE     a zone file (RFC 1035 master format); repeat for more zones
  --host HOST     address to bind (default 127.0.0.1)
  --port PORT     UDP and TCP port, 0 = ephemeral (default 1053; 53 needs root)
  --idle SECONDS  close a TCP connection with no complete query for this long (default 10)
  --max-tcp N     most TCP connections served at once (default 256)
  --keepalive S   TCP keepalive on every connection (seed 004): after S seconds of silence the
                  kernel probes the client, and unanswered probes close the connection
                  (default ${DEFAULT_KEEPALIVE_SECONDS}; 0 = off)
  --quiet         no per-query log lines (for benchmarks)
  --json          newline-delimited JSON events (listening, query, answer) instead of text
  --explain       print every query received and every reply sent as an annotated hex dump
  -h, --help      show this help

Each query is logged as "client -> name type rcode". Ctrl-C stops the server.`;

if (import.meta.main) await runMain(USAGE, main);
