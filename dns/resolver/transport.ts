/**
 * Sending one DNS query and getting its reply — the I/O half of `dig`, shared by `dns/query.ts`
 * and `dns/resolver/iterative.ts`.
 *
 * Seed 000 says the browser asks the DNS server over UDP, port 53. What a careful client adds:
 *
 * - Every query goes out from a fresh socket on a random source port (`port: 0` lets the kernel
 *   pick) with a random 16-bit id, so an off-path attacker has to guess both (RFC 5452).
 * - A datagram only counts as the reply when it comes from the address and port we asked, carries
 *   our id and echoes our question. Anything else is reported through `onIgnored` and we keep
 *   waiting until the deadline — a forged or stray packet cannot end the wait early.
 * - No reply within `timeoutMs` → the same query is sent again, `tries` times in all (UDP may
 *   lose packets); then `NoReplyError`.
 * - A closed port answers with ICMP "port unreachable". Only a connected UDP socket hears it (as
 *   ECONNREFUSED); `Deno.listenDatagram` sockets are unconnected, and `node:dgram`'s connect()
 *   in Deno does not report the error either. So the sockets come through one seam,
 *   `options.sockets`, chosen once at start-up by the program: the Linux layer's
 *   (udp/core/fresh_sockets.ts) — opened `connected` by the one-server clients (dns:query,
 *   http:get), where a refused try ends at once, dig's `connection refused` in a round trip;
 *   unconnected by the resolver server, whose upstream queries skip the extra connect() — or
 *   null, Deno's own, where a closed port is silence until the timeout. The same code runs on
 *   all of them; each try's fate goes to `onProgress`, so a client can say what it waits for.
 * - A reply with TC (truncated: it did not fit the UDP size) is retried over TCP, where each
 *   message carries a 2-byte length prefix (RFC 1035 §4.2.2; `tcp/core/framing.ts`), as dig does.
 *
 * Every wait has a deadline and honours the caller's `AbortSignal`.
 */
import {
  decodeMessage,
  decodeMessageHeader,
  encodeMessage,
  type Message,
  type Question,
  randomId,
} from "../wire/message.ts";
import { DnsFormatError } from "../wire/primitives.ts";
import { namesEqual } from "../wire/names.ts";
import { MAX_MESSAGE_SIZE, TYPE } from "../wire/constants.ts";
import { encodeLengthPrefixed, LengthPrefixDecoder } from "../../tcp/core/framing.ts";
import { writeAll } from "../../tcp/core/io.ts";
import { formatHostPort } from "../../tcp/core/ip_address.ts";
import type { FreshSocket, FreshSockets } from "../../udp/core/fresh_sockets.ts";
import { NoReplyError as DatagramNoReplyError } from "../../udp/core/datagram_client.ts";

/** The DNS port (seed 000: 「其默认端口53」). */
export const DNS_PORT = 53;
/** dig's defaults: 5 s per try, 3 tries over UDP. */
export const DEFAULT_TIMEOUT_MS = 5000;
export const DEFAULT_TRIES = 3;

/** The protocol a reply came over, spelled the way dig prints it. */
export type Protocol = "UDP" | "TCP";

/**
 * No reply arrived from the server within the deadline of every try (dig exits 9): the datagram
 * client's error (udp/core/datagram_client.ts), with the server and the reason.
 */
export class NoReplyError extends DatagramNoReplyError {
  override name = "NoReplyError";
  constructor(readonly server: string, readonly port: number, readonly reason: string) {
    super(`No reply from ${formatHostPort(server, port)}: ${reason}`);
  }
}

/** Options for `exchange`. */
export interface ExchangeOptions {
  /** Server port (default 53). */
  port?: number;
  /** How long to wait for each try, in milliseconds (default 5000). */
  timeoutMs?: number;
  /** How many times to send the query over UDP before giving up (default 3). */
  tries?: number;
  /** Use TCP from the start (`+tcp`). */
  tcp?: boolean;
  /** Keep a truncated UDP reply instead of retrying over TCP (`+ignore`). */
  ignoreTruncation?: boolean;
  signal?: AbortSignal;
  /** Called for each datagram that is not our reply (wrong source, id or question). */
  onIgnored?: (reason: string) => void;
  /** Called with the truncated UDP exchange when a reply has TC set, just before the TCP retry. */
  onTruncated?: (truncated: DnsExchange) => void;
  /** Where fresh UDP sockets come from (udp/core/fresh_sockets.ts); default `Deno.listenDatagram`. */
  sockets?: FreshSockets | null;
  /** Called as each try goes out and when a UDP try ends without a reply (see `TryProgress`). */
  onProgress?: (progress: TryProgress) => void;
}

/**
 * One try of an exchange with `server`: `sent` as it goes out (`attempt` 1 = the first; the TCP
 * retry after a truncated reply is a try of its own), `failed` when a UDP try ends without a
 * reply — `reason` is `timed out` (with what was ignored meanwhile) or `connection refused`, as
 * dig says.
 */
export type TryProgress =
  & { server: string; port: number; attempt: number; tries: number }
  & ({ kind: "sent"; protocol: Protocol; timeoutMs: number } | { kind: "failed"; reason: string });

/** A reply and how it was obtained. */
export interface DnsExchange {
  query: Message;
  /** The query's wire bytes as sent (for `--explain`). */
  queryBytes: Uint8Array;
  reply: Message;
  /** The reply's wire bytes (`size` is `bytes.length`). */
  bytes: Uint8Array;
  protocol: Protocol;
  server: string;
  port: number;
  /** Time from sending the (last) query to receiving its reply. */
  elapsedMs: number;
}

/**
 * Why `reply` is not the answer to `query`, or `undefined` when it is: the id must match, and the
 * question section must echo ours (name compared case-insensitively). Servers answering FORMERR
 * or NOTIMP may leave the question out, so an empty question section is accepted with an error
 * rcode only.
 */
export function replyMismatch(query: Message, reply: Message): string | undefined {
  if (!reply.flags.qr) return "not a response (QR clear)";
  if (reply.id !== query.id) return `ID mismatch: expected ID ${query.id}, got ${reply.id}`;
  if (reply.questions.length === 0 && reply.flags.rcode !== 0) return undefined;
  if (reply.questions.length !== query.questions.length) return "question section mismatch";
  for (let i = 0; i < query.questions.length; i++) {
    if (!sameQuestion(query.questions[i], reply.questions[i])) {
      return "question section mismatch";
    }
  }
  return undefined;
}

function sameQuestion(a: Question, b: Question): boolean {
  return a.type === b.type && a.class === b.class && namesEqual(a.name, b.name);
}

/**
 * Sends `query` to `server` and returns the matching reply: over UDP (random id and source port,
 * retries, TC → TCP) or, with `tcp`, over TCP directly. Throws the abort reason when `signal`
 * fires, and `NoReplyError` when no usable reply arrives: silence until the deadline, a refused
 * or closed connection, or a reply that cannot be decoded or does not match the query. Over UDP
 * such a datagram is ignored like a forged one and the wait goes on; over TCP the one reply is
 * all there is, so it ends the exchange at once, with the same error.
 */
export async function exchange(
  query: Message,
  server: string,
  options: ExchangeOptions = {},
): Promise<DnsExchange> {
  const port = options.port ?? DNS_PORT;
  const withId: Message = { ...query, id: randomId() };
  if (options.tcp) return await exchangeTcp(withId, server, port, options);
  const udp = await exchangeUdp(withId, server, port, options);
  if (!udp.reply.flags.tc || options.ignoreTruncation) return udp;
  options.onTruncated?.(udp);
  return await exchangeTcp({ ...query, id: randomId() }, server, port, options);
}

/** `0.0.0.0` or `::`: the wildcard address of the server's family, for the client socket. */
function wildcardFor(server: string): string {
  return server.includes(":") ? "::" : "0.0.0.0";
}

/** Compares addresses as printed by Deno (IPv6 case-insensitively). */
function sameHost(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

type Raced<T> = { ok: true; value: T } | { ok: false };

/**
 * Waits for `promise` at most `ms` milliseconds. The timer is always cleared and the abort
 * listener removed; an abort rejects with the signal's reason.
 */
async function withDeadline<T>(
  promise: Promise<T>,
  ms: number,
  signal?: AbortSignal,
): Promise<Raced<T>> {
  signal?.throwIfAborted();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const expired = new Promise<Raced<T>>((resolve, reject) => {
    timer = setTimeout(() => resolve({ ok: false }), Math.max(0, ms));
    if (signal) {
      onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
    }
  });
  try {
    return await Promise.race([promise.then((value): Raced<T> => ({ ok: true, value })), expired]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }
}

async function exchangeUdp(
  query: Message,
  server: string,
  port: number,
  options: ExchangeOptions,
): Promise<DnsExchange> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const tries = Math.max(1, options.tries ?? DEFAULT_TRIES);
  const wire = encodeMessage(query);
  // A fresh socket, so a fresh random source port: from the epoll set when the caller has one,
  // else from Deno. Room for the largest reply we invited: the EDNS size we advertised.
  const socket = options.sockets?.socket(server) ??
    denoSocket(server, query.additionals.find((rr) => rr.type === TYPE.OPT)?.class ?? 512);
  const to: Deno.NetAddr = { transport: "udp", hostname: server, port };
  let ignored = 0;
  let lastIgnored = "";
  let refused: string | undefined;
  const ignoring: ExchangeOptions = {
    ...options,
    onIgnored: (reason) => {
      ignored++;
      lastIgnored = reason;
      options.onIgnored?.(reason);
    },
  };
  const ignoredText = () =>
    ignored === 0
      ? ""
      : ` (ignored ${ignored} unusable ${
        ignored === 1 ? "reply" : "replies"
      }, the last: ${lastIgnored})`;
  try {
    for (let attempt = 1; attempt <= tries; attempt++) {
      options.onProgress?.({
        kind: "sent",
        server,
        port,
        attempt,
        tries,
        protocol: "UDP",
        timeoutMs,
      });
      const sentAt = performance.now();
      refused = undefined;
      try {
        await socket.send(wire, to);
        const deadline = sentAt + timeoutMs;
        while (true) {
          const got = await socket.receive(deadline, options.signal);
          if (!got) break;
          const elapsedMs = performance.now() - sentAt;
          const reply = acceptDatagram(query, got.data, got.from, server, port, ignoring);
          if (reply) {
            return {
              query,
              queryBytes: wire,
              reply,
              bytes: got.data,
              protocol: "UDP",
              server,
              port,
              elapsedMs,
            };
          }
        }
      } catch (error) {
        // ICMP said nobody listens there (or the host cannot be reached): this try is over.
        if (!isIcmpError(error) || options.signal?.aborted) throw error;
        refused = icmpReason(error);
      }
      const reason = refused ?? `timed out${ignoredText()}`;
      options.onProgress?.({ kind: "failed", server, port, attempt, tries, reason });
    }
    throw new NoReplyError(
      server,
      port,
      refused ?? `timed out after ${tries} × ${timeoutMs} ms over UDP${ignoredText()}`,
    );
  } finally {
    socket.close();
  }
}

/** The errors a socket reports for an ICMP error: port unreachable, host or net unreachable. */
function isIcmpError(error: unknown): error is Error {
  return error instanceof Deno.errors.ConnectionRefused ||
    error instanceof Deno.errors.NetworkUnreachable;
}

/** dig's words for it: `connection refused`, `network unreachable`, `host unreachable`. */
function icmpReason(error: Error): string {
  if (error instanceof Deno.errors.ConnectionRefused) return "connection refused";
  return error.message.replace(/ \(os error \d+\)$/, "").toLowerCase();
}

/**
 * The portable fresh socket: `Deno.listenDatagram` on port 0 (the kernel picks a random port).
 * One receive is outstanding at a time; a try that times out leaves it pending for the next try
 * (the reply to the first send may still come), and closing the socket settles it. Unconnected,
 * it hears no ICMP error on Linux; where the system reports one anyway (Windows, as a reset),
 * it becomes `ConnectionRefused` like the connected sockets'.
 */
function denoSocket(server: string, replySize: number): FreshSocket {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: wildcardFor(server), port: 0 });
  const buffer = takeBuffer(replySize);
  let pending: Promise<[Uint8Array, Deno.Addr]> | undefined;
  return {
    async send(bytes, to) {
      await socket.send(bytes, to);
    },
    async receive(deadline, signal) {
      pending ??= socket.receive(buffer);
      let got: Raced<[Uint8Array, Deno.Addr]>;
      try {
        got = await withDeadline(pending, deadline - performance.now(), signal);
      } catch (error) {
        if (signal?.aborted) throw error;
        pending = undefined;
        if (error instanceof Deno.errors.ConnectionReset) {
          throw new Deno.errors.ConnectionRefused("connection refused");
        }
        throw error;
      }
      if (!got.ok) return null;
      pending = undefined;
      const [data, from] = got.value;
      return { data: data.slice(), from: from as Deno.NetAddr };
    },
    close() {
      socket.close();
      // The buffer goes back once no receive can write into it any more.
      if (pending) pending.catch(() => {}).finally(() => giveBuffer(buffer));
      else giveBuffer(buffer);
    },
  };
}

/**
 * Receive buffers for `exchangeUdp`. A fresh 64 KiB buffer per query costs an allocation, zeroing
 * and page faults — on loopback as much as the round trip itself — so a reply that can be at most
 * the size we advertised (1232 with EDNS, 512 without) gets a reused 4 KiB buffer; only a larger
 * advertised size (`+bufsize`) gets its own. A buffer goes back only once no receive can write
 * into it any more (its socket closed, the receive settled). A datagram longer than its buffer
 * arrives cut short, fails to decode and is ignored like any malformed one.
 */
const SMALL_BUFFER = 4096;
const spareBuffers: Uint8Array[] = [];
const MAX_SPARE_BUFFERS = 512;

function takeBuffer(size: number): Uint8Array {
  if (size > SMALL_BUFFER) return new Uint8Array(Math.min(size, MAX_MESSAGE_SIZE));
  return spareBuffers.pop() ?? new Uint8Array(SMALL_BUFFER);
}

function giveBuffer(buffer: Uint8Array): void {
  if (buffer.length === SMALL_BUFFER && spareBuffers.length < MAX_SPARE_BUFFERS) {
    spareBuffers.push(buffer);
  }
}

/** The decoded reply if the datagram is ours; otherwise reports why and returns undefined. */
function acceptDatagram(
  query: Message,
  bytes: Uint8Array,
  from: Deno.Addr,
  server: string,
  port: number,
  options: ExchangeOptions,
): Message | undefined {
  const ignore = (reason: string) => {
    options.onIgnored?.(reason);
    return undefined;
  };
  if (from.transport !== "udp" || !sameHost(from.hostname, server) || from.port !== port) {
    const source = "hostname" in from ? formatHostPort(from.hostname, from.port) : "?";
    return ignore(`reply from unexpected source ${source}`);
  }
  const header = decodeMessageHeader(bytes);
  if (!header) return ignore(`reply too short (${bytes.length} bytes)`);
  if (header.id !== query.id) {
    return ignore(`ID mismatch: expected ID ${query.id}, got ${header.id}`);
  }
  let reply: Message;
  try {
    reply = decodeMessage(bytes);
  } catch (error) {
    // A truncated reply may end mid-record; dig still honours TC from the header.
    if (header.flags.tc && header.flags.qr) {
      return {
        id: header.id,
        flags: header.flags,
        questions: query.questions,
        answers: [],
        authorities: [],
        additionals: [],
      };
    }
    return ignore(`malformed reply: ${error instanceof Error ? error.message : String(error)}`);
  }
  const mismatch = replyMismatch(query, reply);
  return mismatch ? ignore(mismatch) : reply;
}

async function exchangeTcp(
  query: Message,
  server: string,
  port: number,
  options: ExchangeOptions,
): Promise<DnsExchange> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  options.onProgress?.({
    kind: "sent",
    server,
    port,
    attempt: 1,
    tries: 1,
    protocol: "TCP",
    timeoutMs,
  });
  const timeout = new AbortController();
  const timer = setTimeout(
    () => timeout.abort(new NoReplyError(server, port, `timed out after ${timeoutMs} ms over TCP`)),
    timeoutMs,
  );
  const signal = options.signal
    ? AbortSignal.any([options.signal, timeout.signal])
    : timeout.signal;
  const sentAt = performance.now();
  let conn: Deno.TcpConn | undefined;
  let closed = false;
  const close = () => {
    if (conn && !closed) conn.close();
    closed = true;
  };
  try {
    try {
      conn = await Deno.connect({ hostname: server, port, signal });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (error instanceof Deno.errors.ConnectionRefused) {
        throw new NoReplyError(server, port, "connection refused over TCP");
      }
      throw error;
    }
    const open = conn;
    // Closing the connection is what interrupts a pending read when the deadline passes.
    signal.addEventListener("abort", close, { once: true });
    try {
      const queryBytes = encodeMessage(query);
      await writeAll(open, encodeLengthPrefixed(queryBytes, { prefixBytes: 2 }));
      const bytes = await readOneFrame(open, server, port);
      let reply: Message;
      try {
        reply = decodeMessage(bytes);
      } catch (error) {
        if (!(error instanceof DnsFormatError)) throw error;
        throw new NoReplyError(server, port, `malformed reply over TCP: ${error.message}`);
      }
      const mismatch = replyMismatch(query, reply);
      if (mismatch) throw new NoReplyError(server, port, `bad reply over TCP: ${mismatch}`);
      const elapsedMs = performance.now() - sentAt;
      return { query, queryBytes, reply, bytes, protocol: "TCP", server, port, elapsedMs };
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw error;
    } finally {
      signal.removeEventListener("abort", close);
    }
  } finally {
    clearTimeout(timer);
    close();
  }
}

/** Reads one 2-byte-length-prefixed message; the server closing early is "no reply". */
async function readOneFrame(conn: Deno.TcpConn, server: string, port: number): Promise<Uint8Array> {
  const decoder = new LengthPrefixDecoder({ prefixBytes: 2, maxFrameSize: MAX_MESSAGE_SIZE });
  const chunk = new Uint8Array(16 * 1024);
  while (true) {
    let got: number | null;
    try {
      got = await conn.read(chunk);
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionReset) {
        throw new NoReplyError(server, port, "connection reset over TCP");
      }
      throw error;
    }
    if (got === null) throw new NoReplyError(server, port, "connection closed before a reply");
    const frames = decoder.push(chunk.subarray(0, got));
    if (frames.length > 0) return frames[0];
  }
}
