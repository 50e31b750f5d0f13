/**
 * A fresh UDP socket per question, on Linux through Deno's built-in FFI and one epoll set: the
 * socket-per-query pattern of DNS resolvers (unbound does exactly this), at the cost of the
 * system calls alone.
 *
 * Why: a resolver sends every upstream query from a new socket, so that the source port is as
 * unpredictable as the 16-bit ID (RFC 5452; a forged reply must guess both). With Deno's own ops
 * that is `Deno.listenDatagram` (socket, options, bind, registration with tokio's reactor), a
 * send op, a receive op (a try, an epoll round, another try) and a close — a dozen system calls
 * and four promises per query, more than the rest of a cold resolution costs. Here it is
 * socket(), sendto() (which binds a random ephemeral port on the way), an epoll_ctl, one
 * recvfrom() when the set says the reply is there, and close(); one epoll_wait serves every
 * socket waiting at that moment.
 *
 * How it fits Deno: epoll_wait blocks on one of Deno's helper threads (a `nonblocking` FFI call),
 * so the event loop goes on meanwhile; it runs only while some socket waits, and an eventfd in the
 * set wakes it when the last one stops waiting, so an idle process holds no pending call.
 *
 * Opened `connected`, each socket is connected to its one server by its first send (connect(),
 * then send()). A connected UDP socket is the only kind the kernel tells about the ICMP "port
 * unreachable" a closed port answers with: the next receive fails with ECONNREFUSED, so "nobody
 * listens there" takes a round trip instead of a whole timeout — what dig reports as
 * `connection refused` (the kernel also drops datagrams from any other address). The price is
 * one more system call per query, a few µs of CPU: worth it for a client asking one server
 * (dns:query, http:get), not for a resolver's stream of upstream queries, which stays on one
 * sendto() per query and finds a dead server by its timeout.
 *
 * The portable twin is `Deno.listenDatagram` (dns/resolver/transport.ts uses it when udp/core/fresh_sockets.ts
 * finds no fast path: off 64-bit Linux, without glibc, or without FFI permission): its sockets
 * are unconnected, so there a closed port looks like silence until the timeout.
 */
import { ERRNO, lastErrno, type Libc, libc, systemError } from "./libc.ts";
import { decodeSockaddr, encodeSockaddr, SOCKADDR_SIZE } from "./sockaddr.ts";

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const EPOLL_CLOEXEC = 0o2000000;
const EFD_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;
const EPOLL_CTL_ADD = 1;
const EPOLLIN = 0x1;
const MSG_DONTWAIT = 0x40;
/** struct epoll_event is packed (12 bytes) on x86-64 only; aarch64 pads `data` to offset 8. */
const EVENT_SIZE = Deno.build.arch === "x86_64" ? 12 : 16;
const EVENT_DATA = Deno.build.arch === "x86_64" ? 4 : 8;
const MAX_EVENTS = 256;
/** Datagrams kept per socket between two reads (replies beyond are dropped, like a full queue). */
const MAX_QUEUED = 16;
const NAME_SIZE = SOCKADDR_SIZE;

/** One epoll_event for every epoll_ctl call: the kernel copies it, so it is filled anew each time. */
const EVENT = new Uint8Array(EVENT_SIZE);
const EVENT_VIEW = new DataView(EVENT.buffer);

/** `fd`'s epoll_event, with `fd` as its data (valid until the next call). */
function eventFor(fd: number, events: number): Uint8Array {
  EVENT_VIEW.setUint32(0, events, true);
  EVENT_VIEW.setInt32(EVENT_DATA, fd, true);
  return EVENT;
}

/** A datagram that arrived, and where from. */
export interface Arrival {
  data: Uint8Array;
  from: Deno.NetAddr;
}

/**
 * One socket, for one question to one server: send, then take what comes back, then close.
 * Where the socket hears ICMP errors, `receive` (or the next `send`) rejects with
 * `Deno.errors.ConnectionRefused` when the server's port is closed (`NetworkUnreachable` when
 * the host or network is).
 */
export interface FreshSocket {
  /** Sends `bytes` to `to` (the first send picks the random source port). */
  send(bytes: Uint8Array, to: Deno.NetAddr): Promise<void>;
  /** The next datagram, or null once `deadline` (a `performance.now()` time) has passed. */
  receive(deadline: number, signal?: AbortSignal): Promise<Arrival | null>;
  close(): void;
}

/** The ICMP errors a connected socket reports: the try is over, no use waiting it out. */
const REPORTED_ERRORS: ReadonlySet<number> = new Set([
  ERRNO.ECONNREFUSED,
  ERRNO.EHOSTUNREACH,
  ERRNO.ENETUNREACH,
]);

/** Where fresh sockets come from: the epoll set below, or `null` for Deno's own. */
export class FreshSockets {
  readonly #lib: Libc;
  readonly #epoll: number;
  readonly #wake: number;
  /** Every open socket, by descriptor; `#waiting` holds those waiting for a datagram. */
  readonly #sockets = new Map<number, EpollSocket>();
  readonly #waiting = new Set<EpollSocket>();
  /** While epoll_wait blocks: when it will return by itself (a waiter's deadline), or Infinity. */
  #blockedUntil = Infinity;
  readonly #events = new Uint8Array(EVENT_SIZE * MAX_EVENTS);
  readonly #view = new DataView(this.#events.buffer);
  /** One receive buffer for all: each datagram is copied out right after recvfrom. */
  readonly #buffer = new Uint8Array(65536);
  readonly #name = new Uint8Array(NAME_SIZE);
  readonly #sendName = new Uint8Array(NAME_SIZE);
  readonly #nameLength = new Uint32Array(1);
  readonly #connected: boolean;
  #loop: Promise<void> | undefined;
  #blocked = false;
  #closed = false;

  private constructor(lib: Libc, epoll: number, wake: number, connected: boolean) {
    this.#connected = connected;
    this.#lib = lib;
    this.#epoll = epoll;
    this.#wake = wake;
  }

  /**
   * The epoll-backed sockets, or null where this fast path is unavailable. `connected`: each
   * socket is connected to its server, so a closed port is refused at once (module comment).
   */
  static open({ connected = false }: { connected?: boolean } = {}): FreshSockets | null {
    const lib = libc();
    if (!lib) return null;
    const epoll = lib.symbols.epoll_create1(EPOLL_CLOEXEC);
    if (epoll < 0) return null;
    const wake = lib.symbols.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake < 0 || lib.symbols.epoll_ctl(epoll, EPOLL_CTL_ADD, wake, eventFor(wake, EPOLLIN))) {
      if (wake >= 0) lib.symbols.close(wake);
      lib.symbols.close(epoll);
      return null;
    }
    return new FreshSockets(lib, epoll, wake, connected);
  }

  /** A new socket of the family of `host`, or null when none can be had (use Deno's). */
  socket(host: string): FreshSocket | null {
    if (this.#closed) return null;
    const family = host.includes(":") ? AF_INET6 : AF_INET;
    const fd = this.#lib.symbols.socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return null;
    if (this.#lib.symbols.epoll_ctl(this.#epoll, EPOLL_CTL_ADD, fd, eventFor(fd, EPOLLIN))) {
      this.#lib.symbols.close(fd);
      return null;
    }
    const socket = new EpollSocket(this, fd);
    this.#sockets.set(fd, socket);
    return socket;
  }

  /** Stops waiting for good; sockets still open are left to their owners to close. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#wakeUp();
    await this.#loop;
    // Nobody is left waiting for a loop that no longer runs.
    for (const socket of [...this.#waiting]) socket.expire();
    this.#lib.symbols.close(this.#wake);
    this.#lib.symbols.close(this.#epoll);
  }

  /**
   * @internal Sends `bytes` from `socket` to `to`: sendto(), or on a connected set connect()
   * before the `first` datagram and send() for every one.
   */
  sendFrom(fd: number, bytes: Uint8Array, to: Deno.NetAddr, first: boolean): void {
    let sent: number;
    if (this.#connected && !first) {
      sent = this.#lib.symbols.send(fd, bytes, BigInt(bytes.length), 0);
    } else {
      const length = encodeSockaddr(to, this.#sendName);
      if (length === 0) throw new TypeError(`Cannot send to "${to.hostname}": not an IP address`);
      if (this.#connected) {
        if (this.#lib.symbols.connect(fd, this.#sendName, length) < 0) {
          throw systemError(lastErrno(this.#lib), "connect");
        }
        sent = this.#lib.symbols.send(fd, bytes, BigInt(bytes.length), 0);
      } else {
        sent = this.#lib.symbols.sendto(fd, bytes, BigInt(bytes.length), 0, this.#sendName, length);
      }
    }
    if (sent < 0) {
      const errno = lastErrno(this.#lib);
      if (errno === ERRNO.EAGAIN) return; // a full send buffer on a new socket: as good as lost
      throw systemError(errno, "send");
    }
  }

  /**
   * @internal Takes one datagram queued on `socket`. One, not all: the set is level-triggered,
   * so anything left is reported by the next epoll_wait, and the usual single reply costs one
   * recvfrom instead of a second one that only finds the socket empty.
   */
  drain(socket: EpollSocket): void {
    {
      this.#nameLength[0] = NAME_SIZE;
      const n = this.#lib.symbols.recvfrom(
        socket.fd,
        this.#buffer,
        BigInt(this.#buffer.length),
        MSG_DONTWAIT,
        this.#name,
        this.#nameLength,
      );
      if (n < 0) {
        // EAGAIN: nothing after all. An ICMP error (reading it cleared it) ends the wait.
        const errno = lastErrno(this.#lib);
        if (REPORTED_ERRORS.has(errno)) socket.failed(systemError(errno, "recvfrom"));
        return;
      }
      socket.arrived({ data: this.#buffer.slice(0, n), from: decodeSockaddr(this.#name, "udp") });
    }
  }

  /**
   * @internal `socket` waits for a datagram until its deadline (the loop runs while anyone
   * waits). The deadlines are epoll_wait's timeout: no timer per query.
   */
  wait(socket: EpollSocket): void {
    this.#waiting.add(socket);
    if (this.#blocked && socket.deadline < this.#blockedUntil) this.#wakeUp();
    this.#loop ??= this.#run();
  }

  /** @internal `socket` no longer waits. */
  unwait(socket: EpollSocket): void {
    this.#waiting.delete(socket);
    if (this.#waiting.size === 0 && this.#blocked) this.#wakeUp();
  }

  /** @internal closes `fd` (which also takes it out of the set). */
  closeFd(fd: number): void {
    this.#sockets.delete(fd);
    this.#lib.symbols.close(fd);
  }

  #wakeUp(): void {
    this.#lib.symbols.write(this.#wake, new BigUint64Array([1n]), 8n);
  }

  async #run(): Promise<void> {
    try {
      while (!this.#closed && this.#waiting.size > 0) {
        let until = Infinity;
        for (const socket of this.#waiting) until = Math.min(until, socket.deadline);
        const timeout = Math.max(0, Math.ceil(until - performance.now()));
        this.#blocked = true;
        this.#blockedUntil = until;
        const ready = await this.#lib.symbols.epoll_wait(
          this.#epoll,
          this.#events,
          MAX_EVENTS,
          timeout,
        );
        this.#blocked = false;
        for (let i = 0; i < ready; i++) {
          const fd = this.#view.getInt32(i * EVENT_SIZE + EVENT_DATA, true);
          if (fd === this.#wake) {
            this.#lib.symbols.read(this.#wake, new Uint8Array(8), 8n);
            continue;
          }
          const socket = this.#sockets.get(fd);
          if (socket) this.drain(socket);
        }
        const now = performance.now();
        for (const socket of this.#waiting) if (socket.deadline <= now) socket.expire();
      }
    } finally {
      this.#loop = undefined;
      // Someone may have started waiting just as the loop ended.
      if (!this.#closed && this.#waiting.size > 0) this.#loop = this.#run();
    }
  }
}

/** One socket of a `FreshSockets` set. */
class EpollSocket implements FreshSocket {
  readonly #set: FreshSockets;
  readonly fd: number;
  readonly #queue: Arrival[] = [];
  /** An ICMP error that arrived while nobody waited: the next receive reports it. */
  #error: Error | undefined;
  /** The one server this socket talks to (set by the first send). */
  #peer: Deno.NetAddr | undefined;
  #wake: ((outcome: Arrival | null | { error: unknown }) => void) | undefined;
  /** While waiting: until when (a `performance.now()` time). */
  deadline = Infinity;
  #closed = false;

  constructor(set: FreshSockets, fd: number) {
    this.#set = set;
    this.fd = fd;
  }

  send(bytes: Uint8Array, to: Deno.NetAddr): Promise<void> {
    if (this.#closed) return Promise.reject(new Deno.errors.BadResource("socket closed"));
    try {
      const first = this.#peer === undefined;
      if (!first && (to.hostname !== this.#peer!.hostname || to.port !== this.#peer!.port)) {
        throw new TypeError(`Cannot send to "${to.hostname}": the socket talks to one server`);
      }
      this.#set.sendFrom(this.fd, bytes, to, first);
      this.#peer = to;
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  receive(deadline: number, signal?: AbortSignal): Promise<Arrival | null> {
    if (this.#closed) return Promise.reject(new Deno.errors.BadResource("socket closed"));
    signal?.throwIfAborted();
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    const error = this.#error;
    this.#error = undefined;
    if (error) return Promise.reject(error);
    if (deadline <= performance.now()) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const settle = (outcome: Arrival | null | { error: unknown }) => {
        signal?.removeEventListener("abort", onAbort);
        this.#wake = undefined;
        this.#set.unwait(this);
        if (outcome && "error" in outcome) reject(outcome.error);
        else resolve(outcome);
      };
      const onAbort = () => settle({ error: signal!.reason });
      signal?.addEventListener("abort", onAbort, { once: true });
      this.deadline = deadline;
      this.#wake = settle;
      this.#set.wait(this);
    });
  }

  /** The reactor found the deadline passed. */
  expire(): void {
    this.#wake?.(null);
  }

  /** The kernel reported an ICMP error for this socket. */
  failed(error: Error): void {
    if (this.#wake) this.#wake({ error });
    else this.#error = error;
  }

  /** A datagram read off the socket. */
  arrived(arrival: Arrival): void {
    if (this.#wake) this.#wake(arrival);
    else if (this.#queue.length < MAX_QUEUED) this.#queue.push(arrival);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake?.(null);
    this.#set.closeFd(this.fd);
  }
}
