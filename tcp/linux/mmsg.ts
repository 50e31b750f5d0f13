/**
 * Batched datagram I/O on Linux: recvmmsg(2) and sendmmsg(2) through Deno's built-in FFI, on the
 * very socket behind a `Deno.DatagramConn`.
 *
 * Why: a UDP echo costs one recvfrom and one sendto per datagram, and each is a system call plus
 * one of Deno's async ops (a promise). Under load most of that is fixed per-call overhead, so
 * busy servers (DNS servers such as NSD and Knot, QUIC stacks) move many datagrams per call. The
 * loop that uses this (and its portable one-datagram twin) is udp/core/serve_datagrams.ts; this
 * module is the fast path it takes when it can (Linux, `--allow-ffi`, glibc, and the descriptor
 * found in /proc/self/fd).
 *
 * The socket stays Deno's: waiting for the first datagram is still `conn.receive()` (so closing
 * the connection and errors behave as always), and only what is already queued behind it is
 * drained with one recvmmsg(MSG_DONTWAIT); all replies then leave in one sendmmsg.
 */
import { type Libc, libc } from "./libc.ts";
import { datagramDescriptor } from "./descriptor.ts";
import { decodeSockaddr, encodeSockaddr, SOCKADDR_SIZE } from "./sockaddr.ts";

/** Linux x86-64/aarch64 layouts (LP64): struct mmsghdr is a 56-byte msghdr plus msg_len. */
const MMSGHDR_SIZE = 64;
const MSG_NAME = 0;
const MSG_NAMELEN = 8;
const MSG_IOV = 16;
const MSG_IOVLEN = 24;
const MSG_LEN = 56;
const IOVEC_SIZE = 16;
const NAME_SIZE = SOCKADDR_SIZE;
const MSG_DONTWAIT = 0x40;

/**
 * A set of datagram slots for one socket, each with its own buffer and source address. Receive
 * fills slots; a reply sends slot i's buffer (changed in place) back to slot i's source.
 */
export class DatagramBatch {
  /** One buffer per slot, each big enough for any datagram so none is ever truncated. */
  readonly buffers: Uint8Array[];
  readonly #lib: Libc;
  readonly #fd: number;
  readonly #headers: Uint8Array;
  readonly #header: DataView;
  readonly #iovecs: DataView;
  readonly #names: Uint8Array;
  /** `reply`'s scratch: the slots that send, and their headers packed when some are skipped. */
  readonly #order: Int32Array;
  readonly #compacted: Uint8Array;

  private constructor(lib: Libc, fd: number, capacity: number, slotSize: number) {
    this.#lib = lib;
    this.#fd = fd;
    this.buffers = Array.from({ length: capacity }, () => new Uint8Array(slotSize));
    this.#headers = new Uint8Array(capacity * MMSGHDR_SIZE);
    this.#header = new DataView(this.#headers.buffer);
    const iovecs = new Uint8Array(capacity * IOVEC_SIZE);
    this.#iovecs = new DataView(iovecs.buffer);
    this.#names = new Uint8Array(capacity * NAME_SIZE);
    this.#order = new Int32Array(capacity);
    this.#compacted = new Uint8Array(capacity * MMSGHDR_SIZE);
    // The kernel reads these pointers long after this call: the arrays live as long as `this`.
    const pointer = (bytes: Uint8Array, offset: number) =>
      BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes))) + BigInt(offset);
    for (let i = 0; i < capacity; i++) {
      const header = i * MMSGHDR_SIZE;
      this.#header.setBigUint64(header + MSG_NAME, pointer(this.#names, i * NAME_SIZE), true);
      this.#header.setBigUint64(header + MSG_IOV, pointer(iovecs, i * IOVEC_SIZE), true);
      this.#header.setBigUint64(header + MSG_IOVLEN, 1n, true);
      this.#iovecs.setBigUint64(i * IOVEC_SIZE, pointer(this.buffers[i], 0), true);
    }
  }

  /** A batch for `conn`'s socket, or null where batching is unavailable (see module doc). */
  static open(conn: Deno.DatagramConn, capacity = 32, slotSize = 65536): DatagramBatch | null {
    const lib = libc();
    const fd = lib ? datagramDescriptor(conn) : null;
    return lib && fd !== null ? new DatagramBatch(lib, fd, capacity, slotSize) : null;
  }

  get capacity(): number {
    return this.buffers.length;
  }

  /**
   * Takes the datagrams already queued on the socket into slots `first`… without waiting;
   * returns how many arrived (0 when none were queued or the call failed, e.g. a pending ICMP
   * error, which this call clears).
   */
  receiveQueued(first = 0): number {
    const count = this.capacity - first;
    if (count <= 0) return 0;
    for (let i = first; i < this.capacity; i++) {
      this.#header.setUint32(i * MMSGHDR_SIZE + MSG_NAMELEN, NAME_SIZE, true);
      this.#iovecs.setUint32(i * IOVEC_SIZE + 8, this.buffers[i].length, true);
    }
    const headers = this.#headers.subarray(first * MMSGHDR_SIZE);
    const received = this.#lib.symbols.recvmmsg(this.#fd, headers, count, MSG_DONTWAIT, null);
    return received > 0 ? received : 0;
  }

  /** The datagram in slot `i` after a receive. */
  datagram(i: number): Uint8Array {
    return this.buffers[i].subarray(0, this.#header.getUint32(i * MMSGHDR_SIZE + MSG_LEN, true));
  }

  /** Slot `i`'s peer address after a receive (for a reply that has to go through Deno). */
  peer(i: number): Deno.NetAddr {
    return decodeSockaddr(this.#names.subarray(i * NAME_SIZE, (i + 1) * NAME_SIZE), "udp");
  }

  /** Sets slot `i`'s peer address (for a datagram that arrived through Deno); false if it can't. */
  setPeer(i: number, addr: Deno.NetAddr): boolean {
    const length = encodeSockaddr(addr, this.#names.subarray(i * NAME_SIZE, (i + 1) * NAME_SIZE));
    this.#header.setUint32(i * MMSGHDR_SIZE + MSG_NAMELEN, length, true);
    return length > 0;
  }

  /**
   * Sends slots 0…count-1 (`lengths[i]` bytes of slot i; a negative length sends nothing) back to
   * each slot's peer in one sendmmsg. Returns how many leading slots are done (sent or skipped)
   * before the first failure; the caller retries the rest through Deno, which reports the error
   * or waits for buffer space.
   */
  reply(lengths: ArrayLike<number>, count = lengths.length): number {
    // Slots that send, in order; their headers are copied together when some slot is skipped.
    const order = this.#order;
    let sending = 0;
    for (let i = 0; i < count; i++) {
      if (lengths[i] < 0) continue;
      this.#iovecs.setUint32(i * IOVEC_SIZE + 8, lengths[i], true);
      order[sending++] = i;
    }
    if (sending === 0) return count;
    let headers = this.#headers;
    if (sending < count) {
      headers = this.#compacted;
      for (let j = 0; j < sending; j++) {
        const from = order[j] * MMSGHDR_SIZE;
        headers.set(this.#headers.subarray(from, from + MMSGHDR_SIZE), j * MMSGHDR_SIZE);
      }
    }
    const sent = Math.max(0, this.#lib.symbols.sendmmsg(this.#fd, headers, sending, MSG_DONTWAIT));
    return sent === sending ? count : order[sent];
  }
}
