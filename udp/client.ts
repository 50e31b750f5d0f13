/**
 * UDP client for `udp/server.ts`: each line becomes one datagram, each reply is printed on its own
 * line. On a terminal it shows the seeds' `>>>: ` prompt and `quit` exits (seed 001); with stdin
 * a pipe it sends one datagram per line and exits 0 at end of input.
 *
 * Seed idea (000 §二, 001 UDP 客户端): no connect() — every datagram is `sendto(data, (host,
 * port))` and the reply comes from `recvfrom`. What the seeds get wrong, and this fixes: their
 * `recvfrom` has no timeout, so one lost datagram (「如果发生丢包,信息即丢失」) hangs the client
 * forever, and seed 000's client never leaves its loop. Here every wait has a deadline
 * (`--timeout`), a lost datagram is sent again (`--retries`), and after the last try the client
 * says so and exits 1. It cannot say *why*: an unconnected UDP socket never hears the ICMP "port
 * unreachable" that a closed port sends back, so nobody listening looks exactly like loss.
 * Datagrams from any other address than the server are ignored (anyone can send to our port).
 *
 * Run:  deno task udp:client                         (talks to 127.0.0.1:8080)
 *       printf 'hello\n你好\n' | deno run -A udp/client.ts --port 8080
 * Poke: nc -u -l 127.0.0.1 8080   is a server you type the replies into (like seed 000's)
 */
import {
  CliError,
  formatHostPort,
  interruptSignal,
  parseCli,
  parseCount,
  parsePort,
  printLine,
  runMain,
  UsageError,
} from "../tcp/kit/cli.ts";
import { parseIPv4 } from "./subnet.ts";
import { createReporter, type Reporter } from "../tcp/kit/report.ts";
import { chunkView } from "../tcp/kit/explain.ts";
import {
  formatMs,
  formatSequenceSummary,
  formatSummary,
  type ReplyKind,
  type SequenceSummary,
  SequenceTracker,
  summarize,
} from "../tcp/kit/stats.ts";
import { isClosedError, MAX_UDP_PAYLOAD_IPV4, MAX_UDP_PAYLOAD_IPV6 } from "./core/datagram.ts";

const USAGE = `Usage: deno task udp:client [--host HOST] [--port PORT] [--timeout MS] [--retries N]
       deno task udp:client --stats --count N [--interval MS] [--host HOST] [--port PORT]

Sends each line of stdin as one UDP datagram and prints each reply on its own line.
On a terminal: prompt ">>>: ", "quit" exits. From a pipe: exit 0 at end of input.
  --host HOST     server address: an IPv4/IPv6 literal or localhost (default 127.0.0.1)
  --port PORT     server port (default 8080)
  --timeout MS    how long to wait for each reply (default 1000)
  --retries N     how many times to send again when no reply came (default 2)
  --json          newline-delimited JSON events instead of text
  --explain       show every datagram sent and received (hexdump)
  --stats         print each reply's round-trip time and, at the end, count, min, median, p99
                  and max
  --count N       like ping: send N numbered probes "seq=1" … "seq=N" (no stdin), match the
                  replies by sequence number, report loss, duplicates and reordering; exit 1
                  when no probe was answered
  --interval MS   time between probes with --count (default 1000)

With --count, --timeout is how long to wait for replies after the last probe.`;

const encoder = new TextEncoder();
const lenientUtf8 = new TextDecoder();

/** Options for `DatagramClient`. */
export interface DatagramClientOptions {
  /** Wait this long for each reply (default 1000 ms). */
  timeoutMs?: number;
  /** Send again this many times after a timeout (default 2: three tries in all). */
  retries?: number;
  /** Sees every datagram sent and received (for `--explain`). */
  trace?: DatagramTrace;
}

/** Hooks that watch a client's datagrams. */
export interface DatagramTrace {
  /** `payload` was sent to `to` (`attempt` 1 = the first try). */
  sent(payload: Uint8Array, to: Deno.NetAddr, attempt: number): void;
  /** A datagram arrived; `fromServer` false means it was ignored. */
  received(data: Uint8Array, from: Deno.Addr, fromServer: boolean): void;
}

/** What `DatagramClient.request` returns. */
export interface DatagramReply {
  reply: Uint8Array;
  /** Which try got the reply (1 = the first send). */
  tries: number;
  /** Datagrams from other addresses that were ignored meanwhile. */
  ignored: number;
  /** Milliseconds from the send that got the reply (the last try) to the reply. */
  rttMs: number;
}

/**
 * Turns `--host` into the address datagrams are sent to: IP literals as given (IPv6 canonical,
 * without brackets) and `localhost` as 127.0.0.1. Other names are refused: resolving them would
 * mean asking the machine's DNS resolver, and the reply's source must compare equal to it.
 */
export function serverHostname(host: string): string {
  if (host === "localhost") return "127.0.0.1";
  const bare = host.replace(/^\[(.*)\]$/, "$1");
  if (bare.includes(":")) {
    try {
      return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
    } catch {
      throw new UsageError(`Invalid --host "${host}": not an IPv6 address`);
    }
  }
  try {
    parseIPv4(bare);
  } catch (error) {
    throw new UsageError(`Invalid --host "${host}": ${(error as Error).message}`);
  }
  return bare;
}

/** True when `hostname` (as `serverHostname` returns it) is a loopback address. */
export function isLoopback(hostname: string): boolean {
  return hostname === "::1" || hostname.startsWith("127.");
}

/**
 * One unconnected UDP socket that sends requests to one server and waits for the reply with a
 * timeout and retries. At most one receive is ever pending: a receive that outlived its timeout is
 * kept and its datagram is the next one looked at, so nothing is read twice or lost in between.
 */
export class DatagramClient implements Disposable, AsyncDisposable {
  readonly server: Deno.NetAddr;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly #trace: DatagramTrace | undefined;
  #conn: Deno.DatagramConn;
  #pending: Promise<[Uint8Array, Deno.Addr]> | undefined;
  #closed = false;

  constructor(hostname: string, port: number, options: DatagramClientOptions = {}) {
    this.server = { transport: "udp", hostname, port };
    this.timeoutMs = options.timeoutMs ?? 1000;
    this.retries = options.retries ?? 2;
    this.#trace = options.trace;
    const ipv6 = hostname.includes(":");
    // Bind where the replies will come from: loopback stays on loopback.
    const local = isLoopback(hostname) ? hostname : ipv6 ? "::" : "0.0.0.0";
    this.#conn = Deno.listenDatagram({ transport: "udp", hostname: local, port: 0 });
  }

  /** The client's own address (the port the server sees). */
  get addr(): Deno.NetAddr {
    return this.#conn.addr as Deno.NetAddr;
  }

  /**
   * Sends `payload` and resolves with the server's reply. Sends again after each timeout, up to
   * `retries` times; then throws `CliError` with `no reply from HOST:PORT after N tries`.
   */
  async request(payload: Uint8Array): Promise<DatagramReply> {
    const tries = this.retries + 1;
    let ignored = 0;
    for (let attempt = 1; attempt <= tries; attempt++) {
      await this.#conn.send(payload, this.server);
      const sentAt = performance.now();
      this.#trace?.sent(payload, this.server, attempt);
      const deadline = sentAt + this.timeoutMs;
      while (true) {
        const remaining = deadline - performance.now();
        if (remaining <= 0) break;
        const got = await this.#receiveWithin(remaining);
        if (got === "timeout") break;
        if (got === "refused") break; // ICMP port unreachable (connected-socket systems): retry
        const [data, from] = got;
        const rttMs = performance.now() - sentAt;
        const fromServer = this.#isServer(from);
        this.#trace?.received(data, from, fromServer);
        if (fromServer) return { reply: data, tries: attempt, ignored, rttMs };
        ignored++; // Anyone can send to our port; only the server's datagram is a reply.
      }
    }
    const where = formatHostPort(this.server.hostname, this.server.port);
    throw new CliError(
      `no reply from ${where} after ${tries} ${tries === 1 ? "try" : "tries"} ` +
        `(${this.timeoutMs} ms each): the datagrams were lost or nobody is listening ` +
        `(an unconnected UDP socket cannot tell the two apart)`,
    );
  }

  /** Closes the socket; a pending `request` rejects. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending?.catch(() => {}); // its rejection is the expected end of the wait
    this.#conn.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** Closes the socket and waits until a receive left pending by a timeout has settled. */
  async [Symbol.asyncDispose](): Promise<void> {
    const pending = this.#pending;
    this.close();
    await pending?.catch(() => {});
  }

  #isServer(from: Deno.Addr): boolean {
    return "hostname" in from && from.hostname === this.server.hostname &&
      from.port === this.server.port;
  }

  async #receiveWithin(
    ms: number,
  ): Promise<[Uint8Array, Deno.Addr] | "timeout" | "refused"> {
    this.#pending ??= this.#conn.receive();
    const pending = this.#pending;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), ms);
    });
    try {
      const got = await Promise.race([pending, timeout]);
      if (got !== "timeout") this.#pending = undefined;
      return got;
    } catch (error) {
      this.#pending = undefined;
      if (error instanceof Deno.errors.ConnectionRefused) return "refused";
      if (error instanceof Deno.errors.ConnectionReset) return "refused";
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Splits a byte stream into lines (`\n`, with a trailing `\r` removed), decoding UTF-8 across
 * chunk boundaries. A last line without a newline is still yielded. A line longer than
 * `maxChars` characters throws `CliError` instead of growing without bound.
 */
export async function* readLines(
  readable: ReadableStream<Uint8Array>,
  { maxChars = MAX_UDP_PAYLOAD_IPV4, signal }: { maxChars?: number; signal?: AbortSignal } = {},
): AsyncGenerator<string> {
  const reader = readable.pipeThrough(new TextDecoderStream()).getReader();
  const cancel = () => reader.cancel().catch(() => {});
  signal?.addEventListener("abort", cancel, { once: true });
  let pending = "";
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += value;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        yield pending.slice(0, nl).replace(/\r$/, "");
        pending = pending.slice(nl + 1);
      }
      if (pending.length > maxChars) {
        throw new CliError(`Input line is longer than ${maxChars} characters`);
      }
    }
    if (pending.length) yield pending.replace(/\r$/, "");
  } finally {
    signal?.removeEventListener("abort", cancel);
    reader.releaseLock();
  }
}

/** One probe reply as `runProbes` reports it. */
export interface ProbeReply {
  seq: number;
  kind: ReplyKind;
  rttMs?: number;
  bytes: number;
}

/** Options for `runProbes`. */
export interface ProbeOptions {
  count: number;
  intervalMs: number;
  /** How long to wait for stragglers after the last probe. */
  timeoutMs: number;
  signal?: AbortSignal;
  onReply?: (reply: ProbeReply) => void;
  trace?: DatagramTrace;
}

/** The probe payload for sequence number `seq`: `seq=7` (the server answers `SEQ=7`). */
export function probePayload(seq: number): Uint8Array {
  return encoder.encode(`seq=${seq}`);
}

/** The sequence number in a probe or its upper-cased echo (`SEQ=7` → 7), or null. */
export function parseProbe(data: Uint8Array): number | null {
  if (data.length > 32) return null;
  const m = /^seq=(\d{1,15})$/i.exec(lenientUtf8.decode(data));
  return m ? Number(m[1]) : null;
}

/** A timer that can be cancelled (so no timer outlives the wait it was for). */
function timer(ms: number): { done: Promise<"timeout">; cancel(): void } {
  let id: ReturnType<typeof setTimeout> | undefined;
  let resolveNow: (() => void) | undefined;
  const done = new Promise<"timeout">((resolve) => {
    resolveNow = () => resolve("timeout");
    id = setTimeout(resolveNow, Math.max(0, ms));
  });
  return {
    done,
    cancel() {
      clearTimeout(id);
      resolveNow?.();
    },
  };
}

/**
 * Like ping over UDP: sends `count` probes `seq=1` … `seq=N`, one every `intervalMs`, to the
 * echo server, receives concurrently, matches each reply to its probe by sequence number (not by
 * arrival order) and classifies it (`SequenceTracker`). Returns once every probe is answered or
 * `timeoutMs` after the last one. Datagrams from other addresses are ignored.
 */
export async function runProbes(
  hostname: string,
  port: number,
  options: ProbeOptions,
): Promise<SequenceSummary> {
  const { count, intervalMs, timeoutMs, signal, onReply, trace } = options;
  const server: Deno.NetAddr = { transport: "udp", hostname, port };
  const local = isLoopback(hostname) ? hostname : hostname.includes(":") ? "::" : "0.0.0.0";
  const conn = Deno.listenDatagram({ transport: "udp", hostname: local, port: 0 });
  const tracker = new SequenceTracker();
  let closed = false;
  let pause: ReturnType<typeof timer> | undefined;
  const stop = () => {
    if (closed) return;
    closed = true;
    pause?.cancel();
    conn.close(); // a pending receive rejects, which ends the wait at once
  };
  signal?.addEventListener("abort", stop, { once: true });

  const sender = (async () => {
    const start = performance.now();
    for (let seq = 1; seq <= count && !closed; seq++) {
      const wait = start + (seq - 1) * intervalMs - performance.now();
      if (wait > 0) {
        pause = timer(wait);
        await pause.done;
        if (closed) break;
      }
      const payload = probePayload(seq);
      tracker.sent(seq, performance.now());
      await conn.send(payload, server);
      trace?.sent(payload, server, 1);
    }
    return "sent" as const;
  })();

  let pending: Promise<[Uint8Array, Deno.Addr]> = conn.receive();
  let senderFinished = false;
  let deadline = Infinity;
  try {
    while (!closed) {
      if (senderFinished && (tracker.complete || performance.now() >= deadline)) break;
      const wait = senderFinished ? timer(deadline - performance.now()) : undefined;
      let got: [Uint8Array, Deno.Addr] | "sent" | "timeout";
      try {
        got = await Promise.race(wait ? [pending, wait.done] : [pending, sender]);
      } catch (error) {
        if (closed) break;
        // ICMP port unreachable reported on a receive: like loss, keep listening.
        if (
          error instanceof Deno.errors.ConnectionRefused ||
          error instanceof Deno.errors.ConnectionReset
        ) {
          pending = conn.receive();
          continue;
        }
        throw error;
      } finally {
        wait?.cancel();
      }
      if (got === "timeout") continue;
      if (got === "sent") {
        senderFinished = true;
        deadline = performance.now() + timeoutMs;
        continue;
      }
      pending = conn.receive();
      const at = performance.now();
      const [data, from] = got;
      const fromServer = "hostname" in from && from.hostname === hostname && from.port === port;
      trace?.received(data, from, fromServer);
      if (!fromServer) continue;
      const seq = parseProbe(data);
      const { kind, rttMs } = seq === null ? tracker.reply(-1, at) : tracker.reply(seq, at);
      onReply?.({ seq: seq ?? -1, kind, rttMs, bytes: data.length });
    }
  } finally {
    signal?.removeEventListener("abort", stop);
    stop();
    await pending.catch(() => {});
    await sender.catch(() => {});
  }
  await sender;
  return tracker.summary();
}

/** `--explain`: every datagram sent and received as a hexdump. */
function explainTrace(reporter: Reporter): DatagramTrace {
  let sent = 0;
  let received = 0;
  return {
    sent(payload, to, attempt) {
      sent++;
      reporter.explain(
        chunkView(
          `sendto #${sent}: one datagram of ${payload.length} bytes to ${
            formatHostPort(to.hostname, to.port)
          }${attempt > 1 ? ` (try ${attempt}: no reply in time, sent again)` : ""}`,
          payload,
        ),
        { direction: "sendto", index: sent, bytes: payload.length, attempt },
      );
    },
    received(data, from, fromServer) {
      received++;
      const address = "hostname" in from ? formatHostPort(from.hostname, from.port) : "?";
      reporter.explain(
        chunkView(
          `recvfrom #${received}: one datagram of ${data.length} bytes from ${address}` +
            (fromServer ? "" : " — not the server: ignored"),
          data,
        ),
        { direction: "recvfrom", index: received, bytes: data.length, from: address, fromServer },
      );
    },
  };
}

/** Probe mode (`--count`): prints each reply and ping's summary; 1 when nothing came back. */
async function probeMode(
  hostname: string,
  port: number,
  options: Omit<ProbeOptions, "onReply">,
  reporter: Reporter,
): Promise<number> {
  const where = formatHostPort(hostname, port);
  reporter.info(
    `PROBE ${where} (udp): ${options.count} probes "seq=N", one every ${options.intervalMs} ms`,
    "log",
    { server: where, count: options.count, intervalMs: options.intervalMs },
  );
  const summary = await runProbes(hostname, port, {
    ...options,
    onReply: ({ seq, kind, rttMs, bytes }) => {
      const note = kind === "ok" ? "" : ` (${kind})`;
      const time = rttMs === undefined ? "" : ` rtt=${formatMs(rttMs)} ms`;
      reporter.info(`reply seq=${seq}${time} ${bytes} bytes${note}`, "received", {
        seq,
        kind,
        rttMs,
        bytes,
      });
    },
  });
  if (options.signal?.aborted) throw options.signal.reason;
  reporter.info(`--- ${where} udp statistics ---`, "stats", { server: where });
  reporter.info(formatSequenceSummary(summary), "stats", {
    sent: summary.sent,
    received: summary.received,
    lost: summary.lost,
    lossPercent: summary.lossPercent,
    duplicates: summary.duplicates,
    reordered: summary.reordered,
    unknown: summary.unknown,
  });
  reporter.info(formatSummary(summary.rtt), "stats", { rtt: summary.rtt });
  return summary.received > 0 ? 0 : 1;
}

/** `deno run -A udp/client.ts [flags]`. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args, {
    host: { type: "string" },
    port: { type: "string" },
    timeout: { type: "string" },
    retries: { type: "string" },
    json: { type: "boolean" },
    explain: { type: "boolean" },
    stats: { type: "boolean" },
    count: { type: "string" },
    interval: { type: "string" },
  });
  if (positionals.length) throw new UsageError(`Unexpected argument "${positionals[0]}"`);
  if (values.interval !== undefined && values.count === undefined) {
    throw new UsageError("--interval needs --count");
  }
  const hostname = serverHostname(values.host ?? "127.0.0.1");
  const port = parsePort(values.port, 8080);
  if (port === 0) throw new UsageError(`Invalid --port "0": the server's port is needed`);
  const timeoutMs = parseCount(values.timeout, 1000, "--timeout", { min: 1, max: 600_000 });
  const retries = parseCount(values.retries, 2, "--retries", { min: 0, max: 100 });
  const maxPayload = hostname.includes(":") ? MAX_UDP_PAYLOAD_IPV6 : MAX_UDP_PAYLOAD_IPV4;
  const reporter = createReporter("udp/client", { json: values.json, explain: values.explain });
  const trace = reporter.explaining ? explainTrace(reporter) : undefined;

  using signal = interruptSignal();
  if (values.count !== undefined) {
    const count = parseCount(values.count, 1, "--count", { min: 1, max: 100_000 });
    const intervalMs = parseCount(values.interval, 1000, "--interval", { min: 0, max: 60_000 });
    return await probeMode(
      hostname,
      port,
      { count, intervalMs, timeoutMs, signal, trace },
      reporter,
    );
  }

  using client = new DatagramClient(hostname, port, { timeoutMs, retries, trace });
  signal.addEventListener("abort", () => client.close(), { once: true });
  const interactive = Deno.stdin.isTerminal();
  const prompt = () => {
    if (interactive && !values.json) Deno.stdout.writeSync(encoder.encode(">>>: "));
  };
  const rtts: number[] = [];
  let retransmissions = 0;

  prompt();
  try {
    for await (const raw of readLines(Deno.stdin.readable, { signal })) {
      // Like seed 001's `message.lower() == 'quit'`: stop without sending it.
      if (raw.trim().toLowerCase() === "quit") break;
      // A person's stray spaces are trimmed (seed 000's `.strip()`); piped lines go as they are.
      const payload = encoder.encode(interactive ? raw.trim() : raw);
      if (payload.length > maxPayload) {
        throw new CliError(
          `Line is ${payload.length} bytes: the largest UDP datagram here is ${maxPayload} bytes`,
        );
      }
      const { reply, tries, rttMs } = await client.request(payload);
      reporter.info(lenientUtf8.decode(reply), "received", {
        bytes: reply.length,
        ...(values.stats ? { rttMs, tries } : {}),
      });
      if (values.stats) {
        rtts.push(rttMs);
        retransmissions += tries - 1;
        reporter.info(
          `  rtt ${formatMs(rttMs)} ms (${reply.length} bytes${tries > 1 ? `, try ${tries}` : ""})`,
          "stats",
          { index: rtts.length, rttMs, bytes: reply.length, tries },
        );
      }
      prompt();
    }
  } catch (error) {
    if (signal.aborted && (isClosedError(error) || error instanceof TypeError)) {
      throw signal.reason;
    }
    throw error;
  }
  if (signal.aborted) throw signal.reason;
  if (interactive && !values.json) printLine(""); // end the prompt line after Ctrl-D or quit
  if (values.stats) {
    const where = formatHostPort(hostname, port);
    reporter.info(
      `--- ${where} udp statistics: ${rtts.length} ${
        rtts.length === 1 ? "message" : "messages"
      }, ` +
        `${retransmissions} sent again ---`,
      "stats",
      { messages: rtts.length, retransmissions },
    );
    reporter.info(formatSummary(summarize(rtts)), "stats", { rtt: summarize(rtts) });
  }
  return 0;
}

if (import.meta.main) await runMain(USAGE, main);
