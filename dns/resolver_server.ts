/**
 * The local DNS server — seed 000's 「本地DNS」: the server a browser's stub resolver asks. It
 * answers from its cache, or walks from the root down on the client's behalf
 * (「若还找不到需要从根DNS服务器逐级问下来(迭代查询)…本地DNS代劳」) and remembers the answer for its
 * TTL. UDP and TCP on one port.
 *
 *   deno task dns:resolver                          # 127.0.0.1:1054, from the 13 real roots
 *   deno task dns:internet                          # offline: note its port P, then
 *   deno task dns:resolver --root 127.0.0.2 --upstream-port P --explain
 *   dig @127.0.0.1 -p 1054 www.cnblogs.com          # again: from the cache, the TTL counting down
 *   dig @127.0.0.1 -p 1054 www.cnblogs.com +norecurse   # RD clear: what the cache knows, nothing more
 *   deno task dns:query @127.0.0.1 -p 1054 web.cnblogs.com
 *
 * `--explain` shows, per client question, whether the cache answered and else the walk — the hop
 * lines of `query.ts +trace`, with what each server was asked (QNAME minimisation: the root hears
 * `com. A`, not `www.cnblogs.com. A`) and why that server. `--json` prints NDJSON events.
 *
 * Theory of operation: the DNS logic lives in library modules — the wire rules in
 * `dns/recursive.ts`, the walk in `dns/resolver.ts`, the caches in `dns/cache.ts`; this file moves
 * bytes. A datagram whose exact bytes were answered before is answered at once from the encoded
 * answer cache (ID and TTLs patched, nothing decoded). Anything else is resolved without holding
 * up the receive loop, and its reply goes out whenever it is ready. With `--quiet` on Linux (FFI
 * allowed) UDP is received and answered in batches (recvmmsg/sendmmsg, `udp/mmsg.ts`). A TCP
 * connection carries any number of queries, each with a 2-byte length prefix (`tcp/framing.ts`),
 * answered as they resolve — possibly out of order, as RFC 7766 allows.
 */
import {
  CliError,
  formatAddr,
  formatHostPort,
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
import { serveDatagrams } from "../udp/core/serve_datagrams.ts";
import { lateSender, openFreshSockets } from "../udp/core/fresh_sockets.ts";
import { decodeMessage } from "./wire/message.ts";
import { formatRecord } from "./wire/rdata.ts";
import { MAX_MESSAGE_SIZE, rcodeName, typeName } from "./wire/constants.ts";
import { DEFAULT_CACHE_SIZE, DEFAULT_MAX_TTL, RecordCache } from "./resolver/cache.ts";
import { AnswerCache } from "./resolver/answer_cache.ts";
import { isIpAddress } from "./wire/addresses.ts";
import { IterativeResolver } from "./resolver/iterative.ts";
import { type ResolverEvent } from "./resolver/trace.ts";
import {
  AccessList,
  type ClientReply,
  DEFAULT_ALLOW,
  peekQuestion,
  RecursiveResponder,
} from "./resolver/responder.ts";
import { traceStep } from "./resolver/trace.ts";
import { explainMessage } from "./wire/describe.ts";
import { bindBoth, isClosedError } from "./serve/sockets.ts";

const USAGE =
  `Usage: deno task dns:resolver [--host HOST] [--port PORT] [--root ADDR[,ADDR…] | --forward ADDR[,ADDR…]]
         [--upstream-port PORT] [--allow CIDR[,CIDR…]] [--cache-size N] [--max-ttl SECONDS]
         [--quiet] [--json] [--explain]

The local DNS server (seed 000's 本地DNS): a caching recursive resolver on UDP and TCP. It answers
from its cache, or walks from the root servers down and remembers the answer for its TTL.
  --host HOST           address to bind (default 127.0.0.1)
  --port PORT           UDP and TCP port, 0 = ephemeral (default 1054; 53 needs root)
  --root ADDR[,ADDR…]   root server addresses to start from (default: the 13 real root servers;
                        the offline mini-Internet's root is 127.0.0.2: deno task dns:internet)
  --forward ADDR[,…]    ask these recursive servers (RD set) instead of walking from the root
  --upstream-port PORT  port of every server asked — roots, the servers they refer to,
                        forwarders (default 53)
  --allow CIDR[,…]      who may ask (default ${DEFAULT_ALLOW}); everyone else gets REFUSED
  --cache-size N        most cached RRsets, and most cached answers (default ${DEFAULT_CACHE_SIZE})
  --max-ttl SECONDS     keep nothing longer than this (default ${DEFAULT_MAX_TTL})
  --idle SECONDS        close a TCP connection with no complete query for this long (default 10)
  --quiet               no per-question log lines (for benchmarks); on Linux with --allow-ffi UDP
                        is then answered in batches (recvmmsg/sendmmsg)
  --json                newline-delimited JSON events (listening, query, answer; with --explain
                        also every step of each walk)
  --explain             per question: whether the cache answered, else the walk — the hop lines
                        of query.ts +trace, with what each server was asked and why
  -h, --help            show this help

Each question is logged as "client -> name type rcode (how it was answered)". Ctrl-C stops it.`;

/** Default port (an unprivileged stand-in for 53, next to the authoritative server's 1053). */
export const DEFAULT_RESOLVER_PORT = 1054;
/** Concurrent UDP receives on the one socket (the loop that does not batch). */
const UDP_RECEIVE_LOOPS = 8;
/** Questions one TCP connection may have in flight at once. */
const MAX_TCP_PIPELINE = 32;

/** Options for `startResolverServer`. */
export interface ResolverServerOptions {
  host?: string;
  port?: number;
  /** Root server addresses (default: the 13 real roots). */
  roots?: string[];
  /** Recursive servers to forward to instead of walking. */
  forward?: string[];
  /** Port of every upstream server (default 53). */
  upstreamPort?: number;
  /** Who may ask (default loopback only). */
  allow?: AccessList;
  /** Most cached RRsets, and most cached answers. */
  cacheSize?: number;
  /** Seconds; no TTL is kept longer. */
  maxTtl?: number;
  /** QNAME minimisation (default on, like unbound). */
  minimise?: boolean;
  /** Per-query timeout upstream (default: adaptive, from each server's RTT). */
  upstreamTimeoutMs?: number;
  idleTimeoutMs?: number;
  maxTcpConnections?: number;
  reporter?: Reporter;
  /** The reporter prints JSON: each question's steps become events of their own. */
  json?: boolean;
  /** No per-question log lines (UDP answered in batches where `udp/mmsg.ts` can). */
  quiet?: boolean;
  /** The clock (ms) for every TTL (tests pass a fake one). */
  now?: () => number;
  signal?: AbortSignal;
}

/** A running local DNS server. */
export interface ResolverServer extends AsyncDisposable {
  /** The UDP address (TCP listens on the same host and port). */
  addr: Deno.NetAddr;
  /** The wire rules and caches, for tests and statistics. */
  responder: RecursiveResponder;
  /** Resolves when every loop and every pending answer has finished after `close()`. */
  finished: Promise<void>;
  close(): Promise<void>;
}

/** Starts the local DNS server on UDP and TCP; the address is in `addr`. */
export function startResolverServer(options: ResolverServerOptions = {}): ResolverServer {
  const now = options.now ?? Date.now;
  const reporter = options.reporter ?? createReporter("dns/resolver", { quiet: true });
  const quiet = options.quiet ?? false;
  const json = options.json ?? false;
  const explaining = reporter.explaining && !quiet;
  const cacheSize = options.cacheSize ?? DEFAULT_CACHE_SIZE;
  const maxTtl = options.maxTtl ?? DEFAULT_MAX_TTL;
  // Upstream queries each come from a fresh socket: through one epoll set where FFI allows.
  const sockets = openFreshSockets();
  const resolver = new IterativeResolver({
    sockets,
    roots: options.roots,
    forward: options.forward,
    port: options.upstreamPort,
    minimise: options.minimise ?? true,
    timeoutMs: options.upstreamTimeoutMs,
    cache: new RecordCache({ maxEntries: cacheSize, maxTtl, now }),
    now,
  });
  const responder = new RecursiveResponder({
    resolver,
    answers: new AnswerCache({ maxEntries: cacheSize, maxTtl, now }),
    allow: options.allow,
    now,
  });
  const idleTimeoutMs = options.idleTimeoutMs ?? 10_000;
  const maxTcp = options.maxTcpConnections ?? 256;
  const { udp, tcp } = bindBoth(options.host ?? "127.0.0.1", options.port ?? DEFAULT_RESOLVER_PORT);
  const addr = udp.addr as Deno.NetAddr;
  const connections = new Set<Deno.Conn>();
  const pending = new Set<Promise<void>>();
  let closing = false;
  let questions = 0;

  // What one answer looks like in the log: a line (or an `answer` event), and with --explain the
  // question's whole story — cache hit or miss, then the walk, step by step.
  const report = (
    client: Deno.NetAddr,
    transport: string,
    reply: ClientReply,
    ms: number,
    steps: ResolverEvent[],
  ) => {
    if (quiet) return;
    const seq = ++questions;
    const from = formatAddr(client);
    const asked = `${reply.name} ${reply.type ? typeName(reply.type) : "-"}`;
    const how = describeSource(reply, ms);
    if (explaining) {
      if (json) {
        for (const step of steps) {
          const shown = traceStep(step);
          reporter.info(shown.text.trimEnd(), shown.event, { ...shown.fields, client: from, seq });
          // Each upstream exchange's bytes, annotated: the query, then the reply.
          if (step.kind !== "response") continue;
          const { exchange } = step;
          const at = `${exchange.server}#${exchange.port} over ${exchange.protocol}`;
          for (
            const [direction, bytes, title] of [
              ["sent", exchange.queryBytes, `DNS query, ${exchange.queryBytes.length} bytes, to`],
              ["received", exchange.bytes, `DNS reply, ${exchange.bytes.length} bytes, from`],
            ] as const
          ) {
            reporter.explain(explainMessage(bytes, `${title} ${at}`), {
              client: from,
              seq,
              zone: step.zone,
              direction,
            });
          }
        }
      } else {
        const story = [`;; ${from} asks ${asked} over ${transport.toUpperCase()}: ${how}`];
        for (const step of steps) story.push(traceStep(step, { explain: true }).text.trimEnd());
        story.push(...answerLines(reply));
        reporter.explain(story.join("\n"), { client: from, seq });
      }
    }
    reporter.info(`${from} -> ${asked} ${rcodeName(reply.rcode)} (${how})`, "answer", {
      client: from,
      transport,
      name: reply.name,
      type: reply.type ? typeName(reply.type) : "-",
      rcode: rcodeName(reply.rcode),
      cache: reply.source === "cache" ? "hit" : reply.source === "resolved" ? "miss" : reply.source,
      source: reply.source,
      queries: reply.queries,
      ms: Math.round(ms * 1000) / 1000,
      size: reply.bytes.length,
      seq,
      ...(reply.reason ? { reason: reply.reason } : {}),
    });
  };

  /** The fast path's answers, in the log (never with --quiet). */
  const reportHit = (
    client: Deno.NetAddr,
    transport: string,
    query: Uint8Array,
    reply: Uint8Array,
  ) => {
    if (quiet) return;
    const q = peekQuestion(query);
    const rcode = reply[3] & 0x0f;
    report(
      client,
      transport,
      {
        bytes: reply,
        name: q?.name ?? "-",
        type: q?.type ?? 0,
        rcode,
        source: "cache",
        queries: 0,
      },
      0,
      [],
    );
  };

  const reportQuestion = (client: Deno.NetAddr, transport: string, query: Uint8Array) => {
    if (quiet || !json) return;
    const q = peekQuestion(query);
    const from = formatAddr(client);
    const asked = `${q?.name ?? "-"} ${q ? typeName(q.type) : "-"}`;
    reporter.info(`${from} -> ${asked}`, "query", {
      client: from,
      transport,
      name: q?.name ?? "-",
      type: q ? typeName(q.type) : "-",
      size: query.length,
    });
  };

  // A question the cache could not answer: resolve it aside, then send the reply (if the
  // server is still running). `pending` lets close() wait for every one of them.
  const answerLater = (
    query: Uint8Array,
    client: Deno.NetAddr,
    transport: "udp" | "tcp",
    send: (reply: Uint8Array) => Promise<void>,
  ) => {
    const started = performance.now();
    const steps: ResolverEvent[] = [];
    const task = (async () => {
      try {
        const reply = await responder.respond(query, client.hostname, {
          udp: transport === "udp",
          onEvent: explaining ? (event) => steps.push(event) : undefined,
        });
        if (!reply || closing) return;
        report(client, transport, reply, performance.now() - started, steps);
        await send(reply.bytes);
      } catch (error) {
        if (closing || isClosedError(error)) return;
        reporter.warn(`Answering ${formatAddr(client)} failed: ${(error as Error).message}`);
      }
    })();
    pending.add(task);
    task.finally(() => pending.delete(task));
    return task;
  };

  // A late reply (resolved aside) goes straight out with one sendto where the fast paths are
  // on; Deno's send (which waits for room) when that would block, or elsewhere.
  const sendLate = lateSender(udp, sockets);
  const udpSend = (client: Deno.NetAddr) => (bytes: Uint8Array) => sendLate(bytes, client);

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

  // The UDP side: receive a question; answer it from the cache at once, or resolve it aside and
  // answer when ready; receive the next (udp/core/serve_datagrams.ts: in batches when quiet).
  const serveUdp = () =>
    serveDatagrams(udp, {
      answer(query, out, from) {
        const client = from.addr as Deno.NetAddr;
        reportQuestion(client, "udp", query);
        const length = responder.cached(query, client.hostname, true, out);
        if (length < 0) {
          answerLater(query.slice(), client, "udp", udpSend(client));
          return -1;
        }
        reportHit(client, "udp", query, out.subarray(0, length));
        return length;
      },
      receiveFailed: udpReceiveFailed,
      sendFailed: udpSendFailed,
      stopped: () => closing,
    }, { batch: quiet && !explaining, loops: UDP_RECEIVE_LOOPS });

  const serveTcp = async (conn: Deno.Conn) => {
    const client = conn.remoteAddr as Deno.NetAddr;
    const decoder = new LengthPrefixDecoder({ prefixBytes: 2, maxFrameSize: MAX_MESSAGE_SIZE });
    const buf = new Uint8Array(16 * 1024);
    const out = new Uint8Array(MAX_MESSAGE_SIZE);
    const inFlight = new Set<Promise<void>>();
    // Replies may finish in any order; each is written whole before the next (one frame each).
    let writing = Promise.resolve();
    const send = (bytes: Uint8Array) => {
      const framed = encodeLengthPrefixed(bytes, { prefixBytes: 2 });
      writing = writing.then(() => writeAll(conn, framed));
      return writing;
    };
    const closeConn = () => {
      try {
        conn.close();
      } catch { /* already closed */ }
    };
    const idle = () => {
      if (inFlight.size === 0) closeConn();
      else timer = setTimeout(idle, idleTimeoutMs);
    };
    let timer = setTimeout(idle, idleTimeoutMs);
    try {
      while (true) {
        const n = await conn.read(buf);
        if (n === null) break;
        for (const frame of decoder.push(buf.subarray(0, n))) {
          clearTimeout(timer);
          timer = setTimeout(idle, idleTimeoutMs);
          reportQuestion(client, "tcp", frame);
          const length = responder.cached(frame, client.hostname, false, out);
          if (length >= 0) {
            reportHit(client, "tcp", frame, out.subarray(0, length));
            await send(out.slice(0, length));
            continue;
          }
          while (inFlight.size >= MAX_TCP_PIPELINE) await Promise.race(inFlight);
          const task = answerLater(frame, client, "tcp", send);
          inFlight.add(task);
          task.finally(() => inFlight.delete(task));
        }
      }
      await Promise.all(inFlight);
      await writing;
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
    const handlers = new Set<Promise<void>>();
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
      handlers.add(handler);
      handler.finally(() => handlers.delete(handler));
    }
    await Promise.all(handlers);
  };

  const loops = [acceptLoop(), serveUdp()];
  const finished = Promise.all(loops).then(async () => {
    while (pending.size > 0) await Promise.allSettled([...pending]);
    await sockets?.close();
  });

  const close = async () => {
    if (!closing) {
      closing = true;
      resolver.abortAll(new CliError("the server is closing"));
      for (const r of [udp, tcp, ...connections]) {
        try {
          r.close();
        } catch { /* already closed */ }
      }
    }
    await finished;
  };
  options.signal?.addEventListener("abort", () => void close(), { once: true });
  return { addr, responder, finished, close, [Symbol.asyncDispose]: close };
}

/** How a question was answered, in a few words for the log. */
function describeSource(reply: ClientReply, ms: number): string {
  const took = `${ms.toFixed(1)} ms`;
  switch (reply.source) {
    case "cache":
      return "from the cache";
    case "resolved":
      return `resolved: ${reply.queries} ${reply.queries === 1 ? "query" : "queries"}, ${took}`;
    case "coalesced":
      return `joined the same question in flight, ${took}`;
    case "norecurse":
      return "RD clear: from the cache only";
    case "refused":
      return `refused: ${reply.reason}`;
    case "rejected":
      return `rejected: ${reply.reason}`;
    case "failed":
      return `failed: ${reply.reason}`;
  }
}

/** The records of a reply as `;; answer: …` lines (for --explain). */
function answerLines(reply: ClientReply): string[] {
  try {
    const msg = decodeMessage(reply.bytes);
    const records = [...msg.answers, ...msg.authorities];
    return [
      `;; answer: ${rcodeName(reply.rcode)}, ${msg.answers.length} record${
        msg.answers.length === 1 ? "" : "s"
      }`,
      ...records.map((rr) => formatRecord(rr)),
    ];
  } catch {
    return [`;; answer: ${rcodeName(reply.rcode)}`];
  }
}

function parseAddresses(values: string[] | undefined, flag: string): string[] | undefined {
  if (!values) return undefined;
  const list = values.flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean);
  for (const address of list) {
    if (!isIpAddress(address)) {
      throw new UsageError(`Invalid ${flag} "${address}": expected an IP address`);
    }
  }
  if (list.length === 0) throw new UsageError(`Invalid ${flag}: expected an IP address`);
  return list;
}

/** The command line: bind, print `resolver listening on …`, serve until Ctrl-C. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args, {
    host: { type: "string" },
    port: { type: "string" },
    root: { type: "string", multiple: true },
    forward: { type: "string", multiple: true },
    "upstream-port": { type: "string" },
    allow: { type: "string" },
    "cache-size": { type: "string" },
    "max-ttl": { type: "string" },
    idle: { type: "string" },
    quiet: { type: "boolean" },
    json: { type: "boolean" },
    explain: { type: "boolean" },
  });
  if (positionals.length) throw new UsageError(`Unexpected argument "${positionals[0]}"`);
  const roots = parseAddresses(values.root, "--root");
  const forward = parseAddresses(values.forward, "--forward");
  if (roots && forward) throw new UsageError("Give either --root or --forward, not both");
  const port = parsePort(values.port, DEFAULT_RESOLVER_PORT);
  const upstreamPort = parseCount(values["upstream-port"], 53, "--upstream-port", {
    min: 1,
    max: 65535,
  });
  const cacheSize = parseCount(values["cache-size"], DEFAULT_CACHE_SIZE, "--cache-size", {
    min: 1,
    max: 10_000_000,
  });
  const maxTtl = parseCount(values["max-ttl"], DEFAULT_MAX_TTL, "--max-ttl", {
    min: 1,
    max: 0x7fffffff,
  });
  const idleSeconds = parseCount(values.idle, 10, "--idle", { min: 1, max: 3600 });
  let allow: AccessList;
  try {
    allow = new AccessList(values.allow ?? DEFAULT_ALLOW);
  } catch (error) {
    if (error instanceof SyntaxError || error instanceof RangeError) {
      throw new UsageError(`Invalid --allow "${values.allow}": ${error.message}`);
    }
    throw error;
  }
  const host = values.host ?? "127.0.0.1";
  const reporter = createReporter("dns/resolver", {
    json: values.json,
    quiet: values.quiet,
    explain: values.explain,
  });
  using signal = interruptSignal();
  let server: ResolverServer;
  try {
    server = startResolverServer({
      host,
      port,
      roots,
      forward,
      upstreamPort,
      allow,
      cacheSize,
      maxTtl,
      idleTimeoutMs: idleSeconds * 1000,
      reporter,
      json: values.json,
      quiet: values.quiet,
      signal,
    });
  } catch (error) {
    throw new CliError(
      `Cannot listen on ${formatHostPort(host, port)}: ${(error as Error).message}`,
    );
  }
  // The first line is printed even with --quiet: tests and scripts wait for it.
  const address = formatAddr(server.addr);
  const upstream = forward
    ? `forwarding to ${forward.map((a) => formatHostPort(a, upstreamPort)).join(", ")}`
    : `walking from the root ${
      roots ? roots.map((a) => formatHostPort(a, upstreamPort)).join(", ") : "(the 13 root servers)"
    } with QNAME minimisation`;
  createReporter("dns/resolver", { json: values.json }).info(
    `resolver ${listeningLine(server.addr, " (udp+tcp)")}`,
    "listening",
    { address, upstream, allow: allow.text },
  );
  reporter.info(`${upstream}; answering ${allow.text}`, "log", { upstream, allow: allow.text });
  await server.finished;
  return 0;
}

if (import.meta.main) await runMain(USAGE, main);
