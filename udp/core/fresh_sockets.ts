/**
 * A fresh UDP socket per question — the socket-per-query pattern of DNS resolvers, so that each
 * upstream query leaves from its own random source port (RFC 5452) — chosen once: one epoll set
 * and plain system calls on Linux (tcp/linux/fresh_sockets.ts), or null, and the caller uses
 * `Deno.listenDatagram` per query (dns/resolver/transport.ts).
 */
import { type Arrival, type FreshSocket, FreshSockets } from "../../tcp/linux/fresh_sockets.ts";
import { DatagramBatch } from "../../tcp/linux/mmsg.ts";

export type { Arrival, FreshSocket, FreshSockets };

/**
 * The fast source of fresh sockets where the system offers one, else null. `connected` (for
 * clients asking one server): a closed port is refused at once instead of timing out, at a few
 * µs of CPU per query (tcp/linux/fresh_sockets.ts).
 */
export function openFreshSockets(options: { connected?: boolean } = {}): FreshSockets | null {
  return FreshSockets.open(options);
}

/** Late answers sent together at most, and the largest one that is batched (the rest go alone). */
const LATE_BATCH = 32;
const LATE_SLOT = 4096;

/**
 * How a server sends a late answer (one resolved aside) from its socket `conn`. Where `sockets`
 * is the fast path, the answers that become ready in one go — those finished by one burst of
 * upstream replies — leave together with one sendmmsg (tcp/linux/mmsg.ts) at the end of the
 * current job, instead of one sendto each; otherwise, and for whatever the kernel does not take
 * at once, Deno's send, which waits for room or reports the error.
 */
export function lateSender(
  conn: Deno.DatagramConn,
  sockets: FreshSockets | null,
): (bytes: Uint8Array, to: Deno.NetAddr) => Promise<void> {
  const batch = sockets ? DatagramBatch.open(conn, LATE_BATCH, LATE_SLOT) : null;
  if (!batch) return (bytes, to) => conn.send(bytes, to).then(sent);
  const lengths = new Int32Array(LATE_BATCH);
  const queued: PromiseWithResolvers<void>[] = [];
  const flush = () => {
    const count = queued.length;
    if (count === 0) return;
    const sent = batch.reply(lengths, count);
    const answers = queued.splice(0, count);
    for (let i = 0; i < count; i++) {
      if (i < sent) {
        answers[i].resolve();
        continue;
      }
      const bytes = batch.buffers[i].slice(0, lengths[i]);
      conn.send(bytes, batch.peer(i)).then(() => answers[i].resolve(), answers[i].reject);
    }
  };
  return (bytes, to) => {
    if (queued.length === LATE_BATCH) flush();
    const slot = queued.length;
    if (bytes.length > LATE_SLOT || !batch.setPeer(slot, to)) {
      return conn.send(bytes, to).then(sent);
    }
    batch.buffers[slot].set(bytes);
    lengths[slot] = bytes.length;
    const answer = Promise.withResolvers<void>();
    queued.push(answer);
    if (slot === 0) queueMicrotask(flush);
    return answer.promise;
  };
}

function sent(): void {}
