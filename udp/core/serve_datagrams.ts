/**
 * The one datagram server loop: receive a datagram, let the handler answer it, send the answer
 * back to where it came from — until the handler says stop or the socket is closed. Every UDP
 * server in netlab (udp/server.ts, and the DNS server's UDP side) runs its answers through it.
 *
 *   for (;;) { [query, from] = await conn.receive(buffer); n = answer(query, buffer, from);
 *              if (n >= 0) await conn.send(buffer.subarray(0, n), from); }
 *
 * That plain loop is `receiveLoop` below: one receive and one send, each one of Deno's async ops,
 * per datagram. With `batch`, on Linux with FFI, `serveDatagrams` runs the same loop in batches
 * instead (`batchLoop`): after Deno's receive returns the first datagram, whatever already queued
 * up behind it is taken with one recvmmsg(2), and all the answers leave with one sendmmsg(2)
 * (tcp/linux/mmsg.ts) — still one answer per datagram, in order, to each sender, but a fraction
 * of the system calls (NSD and Knot do the same). The choice is made once, at start-up; the
 * handler never learns which loop called it.
 */
import { DatagramBatch } from "../../tcp/linux/mmsg.ts";
import { isClosedLocally } from "../../tcp/core/net_errors.ts";

/** The largest datagram, and so the size of every receive buffer: nothing is ever truncated. */
const MAX_DATAGRAM = 65536;

/** Where a datagram came from (decoded only when asked: the batched loop holds raw addresses). */
export interface DatagramSource {
  readonly addr: Deno.Addr;
}

/** A server's part in `serveDatagrams`: its answers, and its policy for errors and stopping. */
export interface DatagramHandler {
  /**
   * Writes the answer to `query` (from `from`) into `out` and returns its length, or -1 for no
   * answer. `out` is the 64 KiB buffer that holds `query` at its start, so an answer may be built
   * in place (and `query` is only valid until this returns).
   */
  answer(query: Uint8Array, out: Uint8Array, from: DatagramSource): number;
  /** An answer was sent to `to` (`reply` and `to` are valid only during the call). */
  replied?(reply: Uint8Array, to: DatagramSource): void;
  /**
   * A receive failed: true goes on, false stops the loop, or throw. Default: stop when the
   * socket was closed here, go on after a reported ICMP error (an earlier answer's "port
   * unreachable" shows up as ConnectionReset/Refused on the next receive), throw anything else.
   */
  receiveFailed?(error: unknown): boolean;
  /** Sending an answer failed: true goes on, false stops. Default: stop only when closed here. */
  sendFailed?(error: unknown, to: Deno.Addr): boolean;
  /** Checked before each wait for a datagram: true stops the loop. */
  stopped?(): boolean;
}

/** Options for `serveDatagrams`. */
export interface ServeDatagramsOptions {
  /** Move datagrams in batches (recvmmsg/sendmmsg) where the system allows it (default false). */
  batch?: boolean;
  /**
   * Plain loops run side by side on the socket (default 1): while one waits for its send, the
   * others keep receives pending. The batched loop is always one.
   */
  loops?: number;
}

/**
 * Serves datagrams on `conn` with `handler` until it stops (or the socket is closed); the socket
 * stays the caller's to close. Resolves with the number of answers sent.
 */
export async function serveDatagrams(
  conn: Deno.DatagramConn,
  handler: DatagramHandler,
  options: ServeDatagramsOptions = {},
): Promise<number> {
  const policy = withDefaults(handler);
  const batch = options.batch ? DatagramBatch.open(conn) : null;
  if (batch) return await batchLoop(conn, batch, policy);
  const loops = Array.from({ length: options.loops ?? 1 }, () => receiveLoop(conn, policy));
  return (await Promise.all(loops)).reduce((sum, n) => sum + n, 0);
}

/** The plain loop: one receive, one answer, one send per datagram. */
async function receiveLoop(conn: Deno.DatagramConn, handler: Required<DatagramHandler>) {
  const buffer = new Uint8Array(MAX_DATAGRAM);
  const source = { addr: undefined as unknown as Deno.Addr };
  let answered = 0;
  while (!handler.stopped()) {
    let query: Uint8Array;
    try {
      [query, source.addr] = await conn.receive(buffer);
    } catch (error) {
      if (handler.receiveFailed(error)) continue;
      break;
    }
    const to = source.addr;
    const length = handler.answer(query, buffer, source);
    if (length < 0) continue;
    const reply = buffer.subarray(0, length);
    try {
      await conn.send(reply, to);
    } catch (error) {
      if (handler.sendFailed(error, to)) continue;
      break;
    }
    answered++;
    handler.replied(reply, source);
  }
  return answered;
}

/**
 * The batched loop: waits for a datagram through Deno (so closing the socket ends the wait as
 * usual), takes whatever queued up behind it with one recvmmsg, answers each, and sends every
 * answer with one sendmmsg. Answers the kernel refused (and a first datagram whose sender has a
 * scope id) go through Deno's `send`, which reports the error or waits for buffer space.
 */
async function batchLoop(
  conn: Deno.DatagramConn,
  batch: DatagramBatch,
  handler: Required<DatagramHandler>,
): Promise<number> {
  const lengths = new Int32Array(batch.capacity);
  // Slot i's sender, decoded only if the handler asks (slot 0 comes from Deno, already decoded).
  const sources = Array.from({ length: batch.capacity }, (_, slot) => new SlotSource(batch, slot));
  let answered = 0;
  while (!handler.stopped()) {
    let first: Uint8Array;
    let from: Deno.Addr;
    try {
      [first, from] = await conn.receive(batch.buffers[0]);
    } catch (error) {
      if (handler.receiveFailed(error)) continue;
      break;
    }
    sources[0].known = from;
    const batched = batch.setPeer(0, from as Deno.NetAddr);
    const count = batched ? 1 + batch.receiveQueued(1) : 1;
    for (let i = 0; i < count; i++) {
      const query = i === 0 ? first : batch.datagram(i);
      lengths[i] = handler.answer(query, batch.buffers[i], sources[i]);
    }
    const done = batched ? batch.reply(lengths, count) : 0;
    // Without a `replied` hook nothing is sliced for what the kernel sent.
    const tell = handler.replied === NO_REPLY_HOOK ? undefined : handler.replied;
    for (let i = 0; i < done; i++) {
      if (lengths[i] < 0) continue;
      answered++;
      tell?.(batch.buffers[i].subarray(0, lengths[i]), sources[i]);
    }
    for (let i = done; i < count; i++) {
      if (lengths[i] < 0) continue;
      const to = sources[i].addr;
      const reply = batch.buffers[i].subarray(0, lengths[i]);
      try {
        await conn.send(reply, to);
      } catch (error) {
        if (!handler.sendFailed(error, to)) return answered;
        continue;
      }
      answered++;
      handler.replied(reply, sources[i]);
    }
  }
  return answered;
}

/** A batch slot's sender: decoded from the slot's raw address on first use. */
class SlotSource implements DatagramSource {
  known: Deno.Addr | undefined;
  constructor(readonly batch: DatagramBatch, readonly slot: number) {}
  get addr(): Deno.Addr {
    return this.slot === 0 && this.known ? this.known : this.batch.peer(this.slot);
  }
}

const NO_REPLY_HOOK = () => {};

/** The handler with every optional hook filled in (the defaults documented on the interface). */
function withDefaults(handler: DatagramHandler): Required<DatagramHandler> {
  return {
    answer: (query, out, from) => handler.answer(query, out, from),
    replied: handler.replied?.bind(handler) ?? NO_REPLY_HOOK,
    stopped: handler.stopped?.bind(handler) ?? (() => false),
    receiveFailed: handler.receiveFailed?.bind(handler) ?? defaultReceiveFailed,
    sendFailed: handler.sendFailed?.bind(handler) ?? ((error) => !isClosedLocally(error)),
  };
}

/** Stop when closed here; go on after an ICMP error report; throw anything else. */
function defaultReceiveFailed(error: unknown): boolean {
  if (isClosedLocally(error)) return false;
  if (error instanceof Deno.errors.ConnectionReset) return true;
  if (error instanceof Deno.errors.ConnectionRefused) return true;
  throw error;
}
