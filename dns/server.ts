/**
 * An authoritative DNS server over UDP and TCP: the other side of seed 000's
 * 「浏览器客户端套接字 –– UDP –– DNS服务端套接字,将域名解析成IP返回」, serving master-file zones.
 *
 *   deno task dns:server --zone dns/zones/cnblogs.com.zone           # 127.0.0.1:1053
 *   deno run -A dns/server.ts --zone dns/zones/root.zone --zone dns/zones/com.zone --port 0
 *   sudo deno run -A dns/server.ts --zone dns/zones/root.zone --host 127.0.0.2 --port 53
 *
 * Poke it by hand: `dig @127.0.0.1 -p 1053 www.cnblogs.com`, `dig … big.cnblogs.com` (TC over
 * UDP, dig retries over TCP), `dig +tcp …`, `dig … nope.cnblogs.com` (NXDOMAIN), or
 * `deno task dns:query @127.0.0.1 -p 1053 www.cnblogs.com`. `--explain` prints every query and
 * reply as an annotated hex dump (`dns/describe.ts`); `--json` prints NDJSON events (`listening`,
 * then `query` and `answer` per query with client, name, type, rcode and size).
 *
 * Theory of operation: all DNS logic lives in `dns/authority.ts` (pure); this file only moves
 * bytes. UDP and TCP share one port (with `--port 0` UDP binds first and TCP takes the port it
 * got, retrying if that port is taken for TCP). Several UDP receive loops run on one socket so
 * a receive is always pending; each datagram is answered through the response cache, copied
 * into the loop's own reply buffer with the query's id (no allocation per reply).
 * Each TCP connection carries any number of queries, each framed by a 2-byte length
 * (`tcp/framing.ts`); it is closed when no complete query arrives for `--idle` seconds, and at
 * most `--max-tcp` connections are served at once. A query the server cannot decode gets
 * FORMERR; nothing a client sends can stop it serving the others.
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
import { createReporter, type Reporter } from "../tcp/kit/report.ts";
import { writeAll } from "../tcp/core/io.ts";
import { encodeLengthPrefixed, LengthPrefixDecoder } from "../tcp/core/framing.ts";
import { Authority } from "./authority/authority.ts";
import { type Response } from "./authority/respond.ts";
import { ResponseCache, writeReply } from "./authority/response_cache.ts";
import { MAX_MESSAGE_SIZE, rcodeName, typeName } from "./wire/constants.ts";
import { printableText } from "./wire/primitives.ts";
import { explainMessage } from "./wire/describe.ts";
import { DatagramBatch } from "../tcp/linux/mmsg.ts";
import { serveInBatches } from "../udp/core/serve_datagrams.ts";
import { parseZone, type Zone, ZoneSyntaxError } from "./zone/parse.ts";
import { bindBoth, isClosedError } from "./serve/sockets.ts";

const USAGE = `Usage: deno task dns:server --zone FILE [--zone FILE…] [--host HOST] [--port PORT]

An authoritative DNS server (UDP and TCP on the same port) for master-file zones.
  --zone FILE     a zone file (RFC 1035 master format); repeat for more zones
  --host HOST     address to bind (default 127.0.0.1)
  --port PORT     UDP and TCP port, 0 = ephemeral (default 1053; 53 needs root)
  --idle SECONDS  close a TCP connection with no complete query for this long (default 10)
  --max-tcp N     most TCP connections served at once (default 256)
  --quiet         no per-query log lines (for benchmarks); on Linux with --allow-ffi UDP
                  queries are then also answered in batches (recvmmsg/sendmmsg)
  --json          newline-delimited JSON events (listening, query, answer) instead of text
  --explain       print every query received and every reply sent as an annotated hex dump
  -h, --help      show this help

Each query is logged as "client -> name type rcode". Ctrl-C stops the server.`;

/** Default port (an unprivileged stand-in for 53). */
export const DEFAULT_DNS_PORT = 1053;
/** Concurrent UDP receives on the one socket. */
export const UDP_RECEIVE_LOOPS = 8;

/** Options for `startDnsServer`. */
export interface DnsServerOptions {
  host?: string;
  port?: number;
  /** Close a TCP connection after this long without a complete query (default 10 s). */
  idleTimeoutMs?: number;
  /** Most TCP connections at once (default 256). */
  maxTcpConnections?: number;
  reporter?: Reporter;
  /** The reporter prints JSON: report each query as a `query` event before its `answer`. */
  json?: boolean;
  /** No per-query log lines (no strings built; UDP answered in batches where `udp/mmsg.ts` can). */
  quiet?: boolean;
  signal?: AbortSignal;
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

/** Starts serving `authority` on UDP and TCP; the address is in `addr`. */
export function startDnsServer(authority: Authority, options: DnsServerOptions = {}): DnsServer {
  const hostname = options.host ?? "127.0.0.1";
  const reporter = options.reporter ?? createReporter("dns/server", { quiet: true });
  const idleTimeoutMs = options.idleTimeoutMs ?? 10_000;
  const maxTcp = options.maxTcpConnections ?? 256;
  const cache = new ResponseCache(authority);
  const { udp, tcp } = bindBoth(hostname, options.port ?? DEFAULT_DNS_PORT);
  const addr = udp.addr as Deno.NetAddr;
  const connections = new Set<Deno.Conn>();
  let closing = false;

  const quiet = options.quiet ?? false;
  const json = options.json ?? false;
  const log = (client: Deno.Addr, transport: string, r: Response, query: Uint8Array) => {
    if (r.error) reporter.warn(`Internal error answering ${formatAddr(client)}: ${r.error}`);
    if (quiet) return;
    const type = r.type ? typeName(r.type) : "-";
    const rcode = rcodeName(r.rcode);
    const from = formatAddr(client);
    if (json) {
      reporter.info(`${from} -> ${r.name} ${type}`, "query", {
        client: from,
        transport,
        name: r.name,
        type,
        size: query.length,
      });
    }
    reporter.info(`${from} -> ${r.name} ${type} ${rcode}`, "answer", {
      client: from,
      transport,
      name: r.name,
      type,
      rcode,
      size: r.bytes.length,
    });
  };
  // `--explain` (never with --quiet): the query as received and the reply exactly as sent.
  const explaining = reporter.explaining && !quiet;
  const explain = (client: Deno.Addr, transport: string, query: Uint8Array, reply: Uint8Array) => {
    const from = formatAddr(client);
    const fields = { client: from, transport };
    reporter.explain(
      explainMessage(query, `;; query from ${from} over ${transport}, ${query.length} bytes:`),
      { ...fields, direction: "received", size: query.length },
    );
    reporter.explain(
      explainMessage(reply, `;; reply to ${from} over ${transport}, ${reply.length} bytes:`),
      { ...fields, direction: "sent", size: reply.length },
    );
  };

  // Only our own close() ends a loop: an error about one client (e.g. a reset reported for an
  // earlier reply) must not take a receive loop away from everyone else.
  const udpReceiveFailed = (error: unknown): boolean => {
    if (closing || error instanceof Deno.errors.BadResource) return false;
    reporter.warn(`UDP receive failed: ${(error as Error).message}`);
    return true;
  };
  const udpSendFailed = (error: unknown, to: Deno.Addr): boolean => {
    if (closing || error instanceof Deno.errors.BadResource) return false;
    reporter.warn(`UDP send to ${formatAddr(to)} failed: ${(error as Error).message}`);
    return true;
  };

  // The one-query-per-op UDP loop (when the batched loop below cannot run). Measured on
  // loopback with dnsperf, the JavaScript DNS work of a cache hit is a few percent of the
  // server's CPU; the rest is the kernel and Deno's receive/send ops (~8.5 µs per query here;
  // batched, 5.4 µs like NSD). So the loop allocates nothing per reply: each loop owns one reply
  // buffer, and awaits its send before reusing it. Several loops keep receives pending while one
  // waits for a send, and a send that blocks on a full socket buffer only holds up its own loop
  // (natural backpressure).
  const udpLoop = async () => {
    const buf = new Uint8Array(MAX_MESSAGE_SIZE);
    const reply = new Uint8Array(MAX_MESSAGE_SIZE);
    while (!closing) {
      let datagram: Uint8Array;
      let client: Deno.Addr;
      try {
        [datagram, client] = await udp.receive(buf);
      } catch (error) {
        if (udpReceiveFailed(error)) continue;
        break;
      }
      const response = cache.lookup(datagram, true);
      if (!response) continue;
      log(client, "udp", response, datagram);
      const length = writeReply(reply, response.bytes, datagram);
      if (explaining) explain(client, "udp", datagram, reply.subarray(0, length));
      try {
        await udp.send(reply.subarray(0, length), client);
      } catch (error) {
        if (!udpSendFailed(error, client)) break;
      }
    }
  };

  const batchLoop = async (batch: DatagramBatch) => {
    await serveInBatches(udp, batch, {
      answer(query, out, slot) {
        const response = cache.lookup(query, true);
        if (!response) return -1;
        if (response.error) log(batch.peer(slot), "udp", response, query);
        return writeReply(out, response.bytes, query);
      },
      receiveFailed: udpReceiveFailed,
      sendFailed: udpSendFailed,
      stopped: () => closing,
    });
  };

  const serveTcp = async (conn: Deno.Conn) => {
    const client = conn.remoteAddr;
    const decoder = new LengthPrefixDecoder({ prefixBytes: 2, maxFrameSize: MAX_MESSAGE_SIZE });
    const buf = new Uint8Array(16 * 1024);
    const closeConn = () => {
      try {
        conn.close();
      } catch { /* already closed */ }
    };
    let timer = setTimeout(closeConn, idleTimeoutMs);
    try {
      while (true) {
        const n = await conn.read(buf);
        if (n === null) break;
        for (const frame of decoder.push(buf.subarray(0, n))) {
          clearTimeout(timer);
          timer = setTimeout(closeConn, idleTimeoutMs);
          const response = cache.respond(frame, false);
          if (!response) continue;
          log(client, "tcp", response, frame);
          if (explaining) explain(client, "tcp", frame, response.bytes);
          await writeAll(conn, encodeLengthPrefixed(response.bytes, { prefixBytes: 2 }));
        }
      }
    } catch (error) {
      if (!isClosedError(error)) {
        reporter.warn(`TCP ${formatAddr(client)}: ${(error as Error).message}`);
      }
    } finally {
      clearTimeout(timer);
      connections.delete(conn);
      closeConn();
    }
  };

  const acceptLoop = async () => {
    const handlers: Promise<void>[] = [];
    while (!closing) {
      let conn: Deno.Conn;
      try {
        conn = await tcp.accept();
      } catch (error) {
        if (closing || isClosedError(error)) break;
        reporter.warn(`TCP accept failed: ${(error as Error).message}`);
        continue;
      }
      if (connections.size >= maxTcp) {
        conn.close(); // over the limit: the client may retry later
        continue;
      }
      connections.add(conn);
      const handler = serveTcp(conn);
      handlers.push(handler);
      handler.finally(() => handlers.splice(handlers.indexOf(handler), 1));
    }
    await Promise.all(handlers);
  };

  // Quiet and not explaining: nothing per query but the answer, so answer in batches (Linux,
  // FFI allowed: udp/mmsg.ts) — one recvmmsg and one sendmmsg for whatever queued up.
  const batch = quiet && !explaining ? DatagramBatch.open(udp) : null;
  const loops = [acceptLoop()];
  if (batch) loops.push(batchLoop(batch));
  else for (let i = 0; i < UDP_RECEIVE_LOOPS; i++) loops.push(udpLoop());
  const finished = Promise.all(loops).then(() => {});

  const close = async () => {
    if (!closing) {
      closing = true;
      for (const r of [udp, tcp, ...connections]) {
        try {
          r.close();
        } catch { /* already closed */ }
      }
    }
    await finished;
  };
  options.signal?.addEventListener("abort", () => void close(), { once: true });
  return { addr, finished, close, [Symbol.asyncDispose]: close };
}

/** The command line: load zones, bind, print `listening on …`, serve until Ctrl-C. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args, {
    zone: { type: "string", multiple: true },
    host: { type: "string" },
    port: { type: "string" },
    idle: { type: "string" },
    "max-tcp": { type: "string" },
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
  const host = values.host ?? "127.0.0.1";
  const zones = await loadZoneFiles(zoneFiles);
  let authority: Authority;
  try {
    authority = new Authority(zones);
  } catch (error) {
    if (error instanceof RangeError) throw new CliError(error.message);
    throw error;
  }
  const reporter = createReporter("dns/server", {
    json: values.json,
    quiet: values.quiet,
    explain: values.explain,
  });
  using signal = interruptSignal();
  let server: DnsServer;
  try {
    server = startDnsServer(authority, {
      host,
      port,
      idleTimeoutMs: idleSeconds * 1000,
      maxTcpConnections: maxTcp,
      reporter,
      json: values.json,
      quiet: values.quiet,
      signal,
    });
  } catch (error) {
    throw new CliError(
      `Cannot listen on ${host}:${port}: ${(error as Error).message}`,
    );
  }
  // The first line is printed even with --quiet: tests and scripts wait for it.
  createReporter("dns/server", { json: values.json }).info(
    listeningLine(server.addr, " (udp+tcp)"),
    "listening",
    { address: formatAddr(server.addr), zones: authority.origins },
  );
  await server.finished;
  return 0;
}

if (import.meta.main) await runMain(USAGE, main);
