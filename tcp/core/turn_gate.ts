/**
 * Fair scheduling of many connections on Deno's own I/O ops (the portable I/O backend; the epoll
 * backend needs none: epoll's ready list is first come, first served by itself).
 *
 * Why it exists: every pending `conn.read` is completed by one runtime task (deno_core's op
 * driver), and tokio lets one task complete at most 128 I/O operations per poll (its cooperative
 * budget). When more than 128 reads become ready in one reactor turn, the surplus is put back and
 * lands behind the reads that become ready in the next turn — so under steady overload the
 * connections answered last turn (whose clients reply at once) keep jumping the queue and the
 * others starve. A 20-line `Deno.listen` responder at 1,000 connections shows it: median latency
 * 1.5 ms, p99 1–2 s, with requests sitting in sockets whose reads are pending; capping the reads
 * per turn under the budget makes it fair (p99 17 ms).
 *
 * What it does: a connection calls `enter()` after each read. While fewer than `perTurn`
 * connections entered in the current event-loop iteration it goes on at once (a light load never
 * waits). Beyond that it queues, and queued connections are released first-come first-served,
 * `perTurn` per *reactor* turn. A reactor turn is detected with a self-connection on loopback: one
 * byte written to it is read back only after the runtime polled the kernel for I/O again (timers
 * are too slow, and `setImmediate` or `MessageChannel` turns do not wait for the reactor).
 */
import { setImmediate } from "node:timers";

/**
 * Most connections that answer per I/O turn of the runtime once the server is saturated; the
 * rest wait in `TurnGate`'s queue. It must stay below 128, tokio's cooperative budget (see
 * `TurnGate`), with room for the reads that are still waiting from earlier turns.
 */
export const ANSWERS_PER_TURN = 96;
/** Released entries at the head of `TurnGate`'s queue before it is compacted. */
const COMPACT_AFTER = 1024;

/** At most `perTurn` connections go on per reactor turn; the rest wait in order. */
export class TurnGate {
  #entered = 0;
  #resetQueued = false;
  #queue: (() => void)[] = [];
  #queueHead = 0;
  #turnPending = false;
  #turn: Promise<void> | undefined;
  #ticker: Promise<Ticker | undefined> | undefined;
  #closed = false;

  constructor(readonly perTurn: number) {}

  /** Resolves when the caller may answer; `undefined` means "go on now" (no await needed). */
  enter(): Promise<void> | undefined {
    if (this.#closed) return undefined;
    if (this.#queueHead === this.#queue.length && this.#entered < this.perTurn) {
      this.#entered++;
      if (!this.#resetQueued) {
        this.#resetQueued = true;
        // The ungated count is per event-loop iteration: setImmediate runs once per iteration
        // and costs no system call, unlike the ticker.
        setImmediate(this.#resetCount);
      }
      return undefined;
    }
    const wait = new Promise<void>((resolve) => this.#queue.push(resolve));
    this.#armTurn();
    return wait;
  }

  /** Releases every waiter and closes the ticker. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#releaseAll();
    const ticker = await this.#ticker;
    ticker?.close();
    // Closing cancels the ticker's pending read; wait for it so no op outlives the server.
    await this.#turn;
  }

  #resetCount = () => {
    this.#resetQueued = false;
    this.#entered = 0;
  };

  #armTurn(): void {
    if (this.#turnPending || this.#closed) return;
    this.#turnPending = true;
    this.#ticker ??= openTicker();
    this.#turn = this.#ticker.then((ticker) => ticker ? ticker.nextTurn() : fallbackTurn()).then(
      this.#onTurn,
      () => {
        // A broken ticker (it should not happen on loopback): go on with timer turns.
        this.#ticker = Promise.resolve(undefined);
        this.#onTurn();
      },
    );
  }

  #onTurn = () => {
    this.#turnPending = false;
    if (this.#closed) return this.#releaseAll();
    let released = 0;
    while (released < this.perTurn && this.#queueHead < this.#queue.length) {
      this.#queue[this.#queueHead++]();
      released++;
    }
    if (this.#queueHead === this.#queue.length) {
      this.#queue = [];
      this.#queueHead = 0;
    } else {
      // Under steady overload the queue never drains, so the released head is dropped now and
      // then: without it the array (and every released resolver in it) grew for as long as the
      // load lasted — RSS +280 MB in 15 s of wrk at 1,000 connections.
      if (this.#queueHead >= COMPACT_AFTER) {
        this.#queue = this.#queue.slice(this.#queueHead);
        this.#queueHead = 0;
      }
      this.#armTurn();
    }
    this.#entered = released;
  };

  #releaseAll(): void {
    const waiting = this.#queue.slice(this.#queueHead);
    this.#queue = [];
    this.#queueHead = 0;
    for (const resolve of waiting) resolve();
  }
}

/** A loopback connection to ourselves: a read on it completes one reactor turn after a write. */
interface Ticker {
  nextTurn(): Promise<void>;
  close(): void;
}

const TICK = new Uint8Array([0x2e]);

async function openTicker(): Promise<Ticker | undefined> {
  let listener: Deno.Listener | undefined;
  let writer: Deno.TcpConn | undefined;
  try {
    listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    const connecting = Deno.connect({ hostname: "127.0.0.1", port });
    const reader = await listener.accept();
    writer = await connecting;
    writer.setNoDelay(true);
    const sink = new Uint8Array(64);
    const w = writer;
    return {
      async nextTurn() {
        await w.write(TICK);
        await reader.read(sink);
      },
      close() {
        for (const conn of [w, reader]) {
          try {
            conn.close();
          } catch { /* already closed */ }
        }
      },
    };
  } catch {
    // No loopback (e.g. a namespace without lo): timer turns are slower but still fair.
    writer?.close();
    return undefined;
  } finally {
    listener?.close();
  }
}

function fallbackTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
