/**
 * How a server reads and writes its connections: one interface, two backends, chosen once at
 * start-up — as nginx picks its I/O function table when it starts, so no caller asks which one
 * it got.
 *
 * - `deno`: Deno's own ops (`conn.read`, `conn.write`), portable; under overload a `TurnGate`
 *   keeps the reads completed per reactor turn under tokio's budget, so every connection gets
 *   its turn (see tcp/core/turn_gate.ts).
 * - `epoll` (Linux with FFI): one epoll set and recv/send system calls on the same sockets
 *   (tcp/linux/epoll.ts); a batch of ready sockets per wait, synchronous sends, bytes consumed
 *   synchronously as they arrive (`syncReader`), and waits for room in the set (`whenWritable`).
 *
 * A connection the epoll set cannot take (its descriptor not found) is served by the `deno`
 * backend instead, so `attach` always succeeds.
 */
import { type BufferLender, EpollReactor, type SyncReader } from "../linux/epoll.ts";
import { ANSWERS_PER_TURN, TurnGate } from "./turn_gate.ts";

export type { BufferLender, SyncReader };

/** One connection as a server reads and writes it. */
export interface StreamConn {
  readonly localAddr: Deno.Addr;
  readonly remoteAddr: Deno.Addr;
  /** The Deno socket underneath (sendfile finds its descriptor through it). */
  readonly socket: Deno.Conn;
  read(p: Uint8Array): Promise<number | null>;
  /**
   * Reads into the buffer `lender.lendReadBuffer()` returns. The epoll backend asks for it only
   * once bytes are there, so a connection waiting for its client holds no read buffer; Deno's
   * ops pin a buffer for the whole wait, so they ask at once, saying so (`waiting`: the lender
   * then lends an idle connection a small slot). The count read, null at the end.
   */
  readLent(lender: BufferLender): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  /**
   * Sends what fits in the socket's buffer now, without waiting: the count sent. 0 means "it
   * would wait" — or this backend cannot send without waiting — and the caller uses `write`.
   */
  writeNow(p: Uint8Array): number;
  /**
   * Optional: resolves once the socket has room to send, for a writer that moves bytes by other
   * means (sendfile). The epoll backend waits in its set; Deno's ops can only wait inside a
   * `write`, so they leave it out and such a writer writes its next bytes instead.
   */
  whenWritable?(): Promise<void>;
  /**
   * Optional: takes arriving bytes synchronously while a read is pending (`bytesArrived`, called
   * with the read's buffer and the count received into it). True means consumed (the read stays
   * pending for the next bytes); false completes the read as usual. Backends that cannot run code
   * at that moment (Deno's ops) never call it, and the read returns the bytes instead.
   */
  syncReader: SyncReader | undefined;
  closeWrite(): Promise<void>;
  close(): void;
}

/** Where a server's connections are read and written. */
export interface IoBackend {
  readonly name: "epoll" | "deno";
  /** Connections its own reactor serves now (the epoll set's; 0 on Deno's ops). */
  readonly reactorSize: number;
  /** The connection through this backend; close the result instead of `conn`. */
  attach(conn: Deno.Conn): StreamConn;
  /** Stops the backend (after the server's connections are closed). */
  close(): Promise<void>;
}

/** A connection on Deno's own ops, with the turn gate after each read. */
class DenoStream implements StreamConn {
  syncReader: SyncReader | undefined;

  constructor(
    readonly socket: Deno.Conn,
    readonly afterRead: (n: number | null) => number | null | Promise<number | null>,
  ) {}

  get localAddr(): Deno.Addr {
    return this.socket.localAddr;
  }

  get remoteAddr(): Deno.Addr {
    return this.socket.remoteAddr;
  }

  read(p: Uint8Array): Promise<number | null> {
    // A plain `then` rather than an async function: a pending read is what an idle connection
    // holds, and a suspended async call costs several times its promise.
    return this.socket.read(p).then(this.afterRead);
  }

  readLent(lender: BufferLender): Promise<number | null> {
    return this.read(lender.lendReadBuffer(true));
  }

  write(p: Uint8Array): Promise<number> {
    return this.socket.write(p);
  }

  writeNow(): number {
    return 0;
  }

  closeWrite(): Promise<void> {
    return this.socket.closeWrite();
  }

  close(): void {
    this.socket.close();
  }
}

class DenoBackend implements IoBackend {
  readonly name: "epoll" | "deno" = "deno";
  readonly gate = new TurnGate(ANSWERS_PER_TURN);

  get reactorSize(): number {
    return 0;
  }

  attach(conn: Deno.Conn): StreamConn {
    return new DenoStream(conn, this.#afterRead);
  }

  /** After every read of every connection: its place in the turn gate. */
  readonly #afterRead = (n: number | null): number | null | Promise<number | null> => {
    const turn = this.gate.enter();
    return turn ? turn.then(() => n) : n;
  };

  close(): Promise<void> {
    return this.gate.close();
  }
}

class EpollBackend extends DenoBackend {
  override readonly name = "epoll";

  constructor(readonly reactor: EpollReactor) {
    super();
  }

  override get reactorSize(): number {
    return this.reactor.size;
  }

  override attach(conn: Deno.Conn): StreamConn {
    return this.reactor.attach(conn) ?? super.attach(conn);
  }

  override async close(): Promise<void> {
    await this.reactor.close();
    await super.close();
  }
}

/**
 * The backend for a server: the epoll set where it is available and `epoll` is not false, else
 * Deno's own ops.
 */
export function openIoBackend({ epoll = true }: { epoll?: boolean } = {}): IoBackend {
  const reactor = epoll ? EpollReactor.open() : null;
  return reactor ? new EpollBackend(reactor) : new DenoBackend();
}
