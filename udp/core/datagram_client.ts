/**
 * The UDP client's side (udp/client.ts): one unconnected socket that sends a request to one
 * server and waits for the reply with a deadline and retries — seed 001's `sendto` / `recvfrom`,
 * without the hang on a lost datagram (「如果发生丢包,信息即丢失」) — plus ping-style probes
 * matched to their replies by sequence number, and stdin split into lines.
 *
 * An unconnected UDP socket never hears the ICMP "port unreachable" a closed port sends back, so
 * nobody listening looks exactly like loss: after the last try `request` says both. Datagrams
 * from any other address than the server are ignored (anyone can send to our port).
 */
import { formatHostPort } from "../../tcp/core/ip_address.ts";
import { type ReplyKind, type SequenceSummary, SequenceTracker } from "../../tcp/kit/stats.ts";
import { MAX_UDP_PAYLOAD_IPV4 } from "./datagram.ts";
import { onAbort } from "../../tcp/core/abort.ts";

const encoder = new TextEncoder();
const lenientUtf8 = new TextDecoder();

/** No reply came from the server after every try. */
export class NoReplyError extends Error {
  override name = "NoReplyError";
}

/** An input line longer than the caller's limit (in characters). */
export class TextLineTooLongError extends RangeError {
  override name = "TextLineTooLongError";
}

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
   * `retries` times; then throws `NoReplyError` (`no reply from HOST:PORT after N tries`).
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
    throw new NoReplyError(
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
 * `maxChars` characters throws `TextLineTooLongError` instead of growing without bound.
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
        throw new TextLineTooLongError(`Input line is longer than ${maxChars} characters`);
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
  /** Called as each probe goes out. */
  onSent?: (seq: number) => void;
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
  const { count, intervalMs, timeoutMs, signal, onSent, onReply, trace } = options;
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
  onAbort(signal, stop);

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
      onSent?.(seq);
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
