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
 * The DNS logic lives in library modules — the wire rules in `dns/resolver/responder.ts`, the
 * walk in `dns/resolver/iterative.ts`, the caches in `dns/resolver/cache.ts` and
 * `answer_cache.ts`; this file moves bytes, and `dns/serve/resolver_log.ts` says what happened.
 * How it works, and what limits its speed: dns/README.md.
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
  userPath,
} from "../tcp/kit/cli.ts";
import { createReporter } from "../tcp/kit/report.ts";
import { describeKeepalive } from "../tcp/kit/echo_explain.ts";
import { closeQuietly } from "../tcp/core/io.ts";
import { isPeerGone } from "../tcp/core/net_errors.ts";
import {
  DEFAULT_KEEPALIVE_SECONDS,
  keepaliveTimers,
  MAX_KEEPALIVE_SECONDS,
} from "../tcp/core/socket_options.ts";
import { serveDatagrams } from "../udp/core/serve_datagrams.ts";
import { type FreshSockets, lateSender, openFreshSockets } from "../udp/core/fresh_sockets.ts";
import { MAX_MESSAGE_SIZE } from "./wire/constants.ts";
import { isIpAddress } from "./wire/addresses.ts";
import { DEFAULT_CACHE_SIZE, DEFAULT_MAX_TTL, RecordCache } from "./resolver/cache.ts";
import { AnswerCache } from "./resolver/answer_cache.ts";
import { type IterativeOptions, IterativeResolver } from "./resolver/iterative.ts";
import { ValidatingResolver } from "./dnssec/validating_resolver.ts";
import { parseTrustAnchor, ROOT_TRUST_ANCHOR } from "./dnssec/validator.ts";
import { keyTag } from "./wire/dnssec_rdata.ts";
import type { TrustAnchor } from "./dnssec/validate.ts";
import type { ResolverEvent } from "./resolver/trace.ts";
import { AccessList, DEFAULT_ALLOW, RecursiveResponder } from "./resolver/responder.ts";
import { bindBoth, type DnsListenOptions } from "./serve/sockets.ts";
import { serveDnsTcp } from "./serve/tcp.ts";
import { ResolverLog } from "./serve/resolver_log.ts";
import { onAbort } from "../tcp/core/abort.ts";

/** Default port (an unprivileged stand-in for 53, next to the authoritative server's 1053). */
export const DEFAULT_RESOLVER_PORT = 1054;
/** Plain UDP receive loops on the one socket (where datagrams are not moved in batches). */
const UDP_RECEIVE_LOOPS = 8;
/** Questions one TCP connection may have in flight at once. */
const MAX_TCP_PIPELINE = 32;

/** Options for `startResolverServer`. */
export interface ResolverServerOptions extends DnsListenOptions {
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
  /**
   * Validate every answer with DNSSEC from these trust anchors (`--trust-anchor`, or the real
   * root's KSK); none or empty: no validation. DO is set upstream either way.
   */
  anchors?: TrustAnchor[];
  /** Per-query timeout upstream (default: adaptive, from each server's RTT). */
  upstreamTimeoutMs?: number;
  /** The reporter prints JSON: each question's steps become events of their own. */
  json?: boolean;
  /** The clock (ms) for every TTL (tests pass a fake one). */
  now?: () => number;
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

/**
 * The server: answer a question from the encoded-answer cache at once, or resolve it aside and
 * answer when ready — over UDP (the one datagram loop, in batches where the system allows) and
 * TCP (the one accept loop, several questions in flight per connection). Stops on `close()` or
 * the signal, once every pending answer has finished.
 */
export function startResolverServer(options: ResolverServerOptions = {}): ResolverServer {
  const reporter = options.reporter ?? createReporter("dns/resolver", { quiet: true });
  const log = new ResolverLog(reporter, options);
  // Upstream queries each come from a fresh socket: through one epoll set where FFI allows.
  const sockets = openFreshSockets();
  const { resolver, responder } = localResolver(sockets, options);
  const { udp, tcp } = bindBoth(options.host ?? "127.0.0.1", options.port ?? DEFAULT_RESOLVER_PORT);
  const pending = new Set<Promise<void>>();
  let closing = false;

  // A question the cache could not answer: resolve it aside, then hand the reply back (if the
  // server is still running). `pending` lets close() wait for every one of them.
  const answerLater = (
    query: Uint8Array,
    client: Deno.NetAddr,
    transport: "udp" | "tcp",
  ): Promise<Uint8Array | null> => {
    const started = performance.now();
    const steps: ResolverEvent[] = [];
    const task = (async () => {
      try {
        const reply = await responder.respond(query, client.hostname, {
          udp: transport === "udp",
          onEvent: log.explaining ? (event) => steps.push(event) : undefined,
        });
        if (!reply || closing) return null;
        log.answered(client, transport, reply, performance.now() - started, steps);
        return reply.bytes;
      } catch (error) {
        if (closing || isPeerGone(error)) return null;
        reporter.warn(`Answering ${formatAddr(client)} failed: ${(error as Error).message}`);
        return null;
      }
    })();
    track(task);
    return task;
  };
  const track = (task: Promise<unknown>) => {
    const tracked = task.then(() => {});
    pending.add(tracked);
    tracked.finally(() => pending.delete(tracked));
  };

  // UDP: the cache answers into the buffer that holds the question; anything else is resolved
  // aside, and its reply goes out with those finished alongside it, in one sendmmsg where the
  // fast paths are on (`lateSender`).
  const sendLate = lateSender(udp, sockets);
  const udpDone = serveDatagrams(udp, {
    answer(query, out, from) {
      const client = from.addr as Deno.NetAddr;
      log.asked(client, "udp", query);
      const length = responder.cached(query, client.hostname, true, out);
      if (length >= 0) {
        if (!log.quiet) log.hit(client, "udp", query, out.subarray(0, length));
        return length;
      }
      track(
        answerLater(query.slice(), client, "udp")
          .then((reply) => reply && !closing ? sendLate(reply, client) : undefined)
          .catch((error) => {
            if (closing || isPeerGone(error)) return;
            reporter.warn(`UDP send to ${formatAddr(client)} failed: ${(error as Error).message}`);
          }),
      );
      return -1;
    },
    receiveFailed: (error) => keepServing(error, "UDP receive failed"),
    sendFailed: (error, to) => keepServing(error, `UDP send to ${formatAddr(to)} failed`),
    stopped: () => closing,
  }, { batch: options.batch ?? true, loops: UDP_RECEIVE_LOOPS });

  // TCP: the same, with up to MAX_TCP_PIPELINE questions of one connection in flight.
  const out = new Uint8Array(MAX_MESSAGE_SIZE);
  const tcpSide = serveDnsTcp(tcp, (query, client) => {
    log.asked(client, "tcp", query);
    const length = responder.cached(query, client.hostname, false, out);
    if (length < 0) return answerLater(query, client, "tcp");
    if (!log.quiet) log.hit(client, "tcp", query, out.subarray(0, length));
    return out.slice(0, length);
  }, {
    idleTimeoutMs: options.idleTimeoutMs ?? 10_000,
    maxConnections: options.maxTcpConnections ?? 256,
    maxPipeline: MAX_TCP_PIPELINE,
    keepalive: options.keepalive,
    reporter,
  });

  // Only our own close() ends the UDP loop: one client's trouble must not stop the others.
  function keepServing(error: unknown, what: string): boolean {
    if (closing || error instanceof Deno.errors.BadResource) return false;
    reporter.warn(`${what}: ${(error as Error).message}`);
    return true;
  }

  const finished = Promise.all([udpDone, tcpSide.finished]).then(async () => {
    while (pending.size > 0) await Promise.allSettled([...pending]);
    await sockets?.close();
  });
  const close = async () => {
    if (!closing) {
      closing = true;
      resolver.abortAll(new CliError("the server is closing"));
      closeQuietly(udp);
      tcpSide.close();
    }
    await finished;
  };
  onAbort(options.signal, () => void close());
  const addr = udp.addr as Deno.NetAddr;
  return { addr, responder, finished, close, [Symbol.asyncDispose]: close };
}

/** The resolver and the wire rules around it, with caches of the configured size. */
function localResolver(
  sockets: FreshSockets | null,
  options: ResolverServerOptions,
): { resolver: IterativeResolver; responder: RecursiveResponder } {
  const now = options.now ?? Date.now;
  const cacheSize = options.cacheSize ?? DEFAULT_CACHE_SIZE;
  const maxTtl = options.maxTtl ?? DEFAULT_MAX_TTL;
  // DO is set on every upstream query (as unbound does): the signatures are cached with the
  // records, for the validator and for clients that ask with DO.
  const walk: IterativeOptions = {
    sockets,
    roots: options.roots,
    forward: options.forward,
    port: options.upstreamPort,
    minimise: options.minimise ?? true,
    timeoutMs: options.upstreamTimeoutMs,
    cache: new RecordCache({ maxEntries: cacheSize, maxTtl, now }),
    now,
    dnssec: true,
  };
  const validating = options.anchors?.length
    ? new ValidatingResolver({ ...walk, anchors: options.anchors })
    : undefined;
  const resolver = validating?.resolver ?? new IterativeResolver(walk);
  const responder = new RecursiveResponder({
    resolver,
    answers: new AnswerCache({ maxEntries: cacheSize, maxTtl, now }),
    allow: options.allow,
    now,
    judge: validating,
  });
  return { resolver, responder };
}

/** `--allow CIDR[,CIDR…]` (default: loopback only). */
function parseAllow(text: string | undefined): AccessList {
  try {
    return new AccessList(text ?? DEFAULT_ALLOW);
  } catch (error) {
    if (error instanceof SyntaxError || error instanceof RangeError) {
      throw new UsageError(`Invalid --allow "${text}": ${error.message}`);
    }
    throw error;
  }
}

/** `--root`/`--forward ADDR[,ADDR…]`: IP addresses only. */
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

/**
 * The trust anchors the server validates with, and the line that says so: `--trust-anchor
 * FILE`; else, walking from the real roots, the root's KSK 20326 built in (unbound's packaged
 * default); else (`--root`, `--forward`, `--no-validate`) none.
 */
async function trustFrom(
  file: string | undefined,
  { off, realRoots }: { off: boolean; realRoots: boolean },
): Promise<{ anchors: TrustAnchor[]; text: string }> {
  if (off) return { anchors: [], text: "not validating (--no-validate)" };
  if (file === undefined) {
    return realRoots
      ? {
        anchors: [ROOT_TRUST_ANCHOR],
        text: "validating with DNSSEC from the root's KSK 20326 (built in)",
      }
      : { anchors: [], text: "not validating (no --trust-anchor FILE)" };
  }
  let anchor: TrustAnchor;
  try {
    anchor = parseTrustAnchor(await Deno.readTextFile(userPath(file)), file);
  } catch (error) {
    throw new CliError(`Cannot use trust anchor "${file}": ${(error as Error).message}`);
  }
  const tags = [...anchor.ds.map((d) => d.keyTag), ...anchor.keys.map(keyTag)];
  return {
    anchors: [anchor],
    text: `validating with DNSSEC from the trust anchor in ${file} (${anchor.zone} key ${
      [...new Set(tags)].join(", ")
    })`,
  };
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
    keepalive: { type: "string" },
    "trust-anchor": { type: "string" },
    "no-validate": { type: "boolean" },
    quiet: { type: "boolean" },
    json: { type: "boolean" },
    explain: { type: "boolean" },
  });
  if (positionals.length) throw new UsageError(`Unexpected argument "${positionals[0]}"`);
  const roots = parseAddresses(values.root, "--root");
  const forward = parseAddresses(values.forward, "--forward");
  if (roots && forward) throw new UsageError("Give either --root or --forward, not both");
  if (values["no-validate"] && values["trust-anchor"] !== undefined) {
    throw new UsageError("Give either --trust-anchor or --no-validate, not both");
  }
  const trust = await trustFrom(values["trust-anchor"], {
    off: values["no-validate"] ?? false,
    realRoots: !roots && !forward,
  });
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
  const keepalive = keepaliveTimers(
    parseCount(values.keepalive, DEFAULT_KEEPALIVE_SECONDS, "--keepalive", {
      min: 0,
      max: MAX_KEEPALIVE_SECONDS,
    }),
  );
  const allow = parseAllow(values.allow);
  const host = values.host ?? "127.0.0.1";
  // The log goes out in batches: one write per turn of the event loop, not one per question.
  const reporter = createReporter("dns/resolver", {
    json: values.json,
    quiet: values.quiet,
    explain: values.explain,
    batched: true,
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
      anchors: trust.anchors,
      idleTimeoutMs: idleSeconds * 1000,
      keepalive,
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
  reporter.info(trust.text, "log", { validation: trust.text });
  reporter.explain(describeKeepalive(keepalive), { step: "keepalive", ...keepalive });
  await server.finished;
  if (signal.aborted) reporter.info("stopped", "log");
  return 0;
}

const USAGE = `Usage: deno task dns:resolver [--host HOST] [--port PORT]
         [--root ADDR[,ADDR…] | --forward ADDR[,ADDR…]] [--upstream-port PORT]
         [--allow CIDR[,CIDR…]] [--cache-size N] [--max-ttl SECONDS]
         [--idle SECONDS] [--keepalive SECONDS] [--trust-anchor FILE | --no-validate]
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
  --keepalive S         TCP keepalive on every connection (seed 004): after S seconds of silence
                        the kernel probes the client, and unanswered probes close the connection
                        (default ${DEFAULT_KEEPALIVE_SECONDS}; 0 = off)
  --trust-anchor FILE   validate every answer with DNSSEC from this trust anchor: DS and/or
                        DNSKEY records, as dns:query --trust-anchor reads them (deno task
                        dns:internet --dnssec --anchor FILE writes the mini-Internet's)
  --no-validate         no DNSSEC validation (clients that set DO still get the signatures)
  --quiet               no per-question log lines (for benchmarks)
  --json                newline-delimited JSON events (listening, query, answer; with --explain
                        also every step of each walk)
  --explain             per question: whether the cache answered, else the walk — the hop lines
                        of dns:query +trace, with what each server was asked and why
  -h, --help            show this help

DNSSEC, as unbound does it: the server asks upstream with DO set and caches the signatures with
the records. A client that sets DO gets them (and the NSEC/NSEC3 proofs of a "no"); others never
see them. When validating, a Secure answer has AD set (for a client that set DO or AD), an
Insecure one (a proven unsigned zone) is answered as it is, and a Bogus one gets SERVFAIL with
an Extended DNS Error saying why (dig prints "; EDE: 6 (DNSSEC Bogus): (…)"), the same for 60
seconds (unbound's val-bogus-ttl); a client that sets CD gets the answer unchecked.
Which anchor: walking from the 13 real roots, the root's KSK 20326 is built in and validation is
on, as with unbound's packaged root anchor (auto-trust-anchor-file). It costs nothing when
unused: nothing is fetched at start-up (the root's keys come with the first answer that needs
them), and a cached answer costs the same with it as without. The key is fixed (no RFC 5011
rollover tracking): --trust-anchor gives another. With --root or --forward nothing is validated
without --trust-anchor: the real root's key would find a private root's every answer bogus.

Each question is logged as "client -> name type rcode (how it was answered)". Ctrl-C stops it.`;

if (import.meta.main) await runMain(USAGE, main);
