/**
 * Shows what happens when a UDP datagram is larger than the receiver's buffer: the receiver gets
 * the first bytes, the rest of *that* datagram is gone, and the next receive returns the *next*
 * datagram. Then the same bytes over TCP arrive whole, and the largest datagram loopback accepts.
 *
 * Seed ideas: 003 「recvfrom每次接受一个报文…若数据超出接收方接受范围则丢掉所有超出范围的内容」
 * and 000 「如果发hello,但收一个字符…在linunx系统中不报错,只接收h」 (Windows raises WSAEMSGSIZE
 * instead); 000/003 「UDP没有粘包问题,收与发一一对应」 against TCP's byte stream. And the size
 * limit behind seed 000's 「保持UDP稳定(丢包少)的最大接受字节为512」: a datagram may be up to
 * 65507 bytes over IPv4 (65535 − 20-byte IP header − 8-byte UDP header), but anything larger
 * than the path MTU is fragmented and losing one fragment loses the whole datagram. Every IPv4
 * host must accept a 576-byte datagram (RFC 791), so 512 bytes of payload (DNS's classic limit,
 * RFC 1035) is safe everywhere — the seeds' "stable" size.
 *
 * Everything happens on loopback with ephemeral ports; nothing leaves the machine.
 *
 * Run:  deno task udp:truncate
 *       deno run -A udp/truncate.ts --size 5000 --buffer 1024
 * Poke: python3 -c "import socket;s=socket.socket(2,2);s.bind(('127.0.0.1',9999));print(s.recvfrom(4))"
 *       then  echo -n hello-world | nc -u -w1 127.0.0.1 9999   → b'hell'
 */
import {
  CliError,
  formatAddr,
  parseCli,
  parseCount,
  resolveHostArgument,
  runMain,
  UsageError,
} from "../tcp/kit/cli.ts";
import { createReporter, type Reporter } from "../tcp/kit/report.ts";
import { chunkView, stickyView } from "../tcp/kit/explain.ts";
import { writeAll } from "../tcp/core/io.ts";
import { quoteInput } from "../tcp/core/printable.ts";
import { MAX_UDP_PAYLOAD_IPV4 } from "./core/datagram.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A pattern that shows where the cut happened: byte i is i mod 251 (a prime, so no 256-cycle). */
export function patternBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = i % 251;
  return out;
}

/** What one oversized datagram into a small buffer looked like. */
export interface TruncationObservation {
  sent: number;
  bufferSize: number;
  /** How many bytes the receive returned. */
  received: number;
  /** The received bytes are exactly the first `received` bytes of what was sent. */
  receivedIsPrefix: boolean;
  /** Bytes of that datagram that no receive will ever return. */
  dropped: number;
  /** What the next receive (same small buffer) returned: the following datagram, whole. */
  next: string;
  /** The sender's and the receiver's addresses (`127.0.0.1:41234`). */
  from: string;
  to: string;
}

/** Options shared by the observations. */
export interface ObserveOptions {
  /** Loopback address to bind (default 127.0.0.1). */
  hostname?: string;
}

function pair(hostname: string): [Deno.DatagramConn, Deno.DatagramConn] {
  const receiver = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
  try {
    const sender = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
    return [receiver, sender];
  } catch (error) {
    receiver.close();
    throw error;
  }
}

/**
 * Sends a `size`-byte datagram followed by a short one, and receives both with a
 * `bufferSize`-byte buffer: the first receive is cut, the second is the short datagram — the
 * rest of the first one is gone for good.
 */
export async function observeTruncation(
  size = 5000,
  { bufferSize = 1024, hostname = "127.0.0.1" }: ObserveOptions & { bufferSize?: number } = {},
): Promise<TruncationObservation> {
  const [receiver, sender] = pair(hostname);
  try {
    const payload = patternBytes(size);
    const nextText = "the next datagram";
    const sent = await sender.send(payload, receiver.addr);
    await sender.send(encoder.encode(nextText), receiver.addr);
    const buffer = new Uint8Array(bufferSize);
    const [first] = await receiver.receive(buffer);
    const received = first.length;
    const receivedIsPrefix = first.every((b, i) => b === payload[i]);
    const [second] = await receiver.receive(buffer);
    return {
      sent,
      bufferSize,
      received,
      receivedIsPrefix,
      dropped: sent - received,
      next: decoder.decode(second),
      from: formatAddr(sender.addr),
      to: formatAddr(receiver.addr),
    };
  } finally {
    sender.close();
    receiver.close();
  }
}

/** Seed 000's case: "hello" into a 1-byte buffer. Returns what arrived, as text ("h" on Linux). */
export async function observeOneByteBuffer(
  text = "hello",
  { hostname = "127.0.0.1" }: ObserveOptions = {},
): Promise<string> {
  const [receiver, sender] = pair(hostname);
  try {
    await sender.send(encoder.encode(text), receiver.addr);
    const [got] = await receiver.receive(new Uint8Array(1));
    return decoder.decode(got);
  } finally {
    sender.close();
    receiver.close();
  }
}

/** What the same bytes looked like over TCP. */
export interface StreamObservation {
  sent: number;
  bufferSize: number;
  /** The byte count of every read (how the stream happened to be cut; varies run to run). */
  reads: number[];
  received: number;
  /** Every byte arrived, in order. */
  intact: boolean;
}

/**
 * Sends `size` bytes over a loopback TCP connection and reads them with a `bufferSize` buffer
 * until EOF: a stream loses nothing, it just hands the bytes over in as many reads as it takes.
 */
export async function observeTcp(
  size = 5000,
  { bufferSize = 1024, hostname = "127.0.0.1" }: ObserveOptions & { bufferSize?: number } = {},
): Promise<StreamObservation> {
  const payload = patternBytes(size);
  using listener = Deno.listen({ transport: "tcp", hostname, port: 0 });
  const accepting = listener.accept();
  const sending = (async () => {
    using conn = await Deno.connect({ hostname, port: listener.addr.port });
    await writeAll(conn, payload);
  })();
  using conn = await accepting;
  const buffer = new Uint8Array(bufferSize);
  const reads: number[] = [];
  const received = new Uint8Array(size);
  let at = 0;
  let intact = true;
  while (true) {
    const n = await conn.read(buffer);
    if (n === null) break;
    reads.push(n);
    if (at + n > size) {
      intact = false;
      break;
    }
    received.set(buffer.subarray(0, n), at);
    at += n;
  }
  await sending;
  intact &&= at === size && received.every((b, i) => b === payload[i]);
  return { sent: size, bufferSize, reads, received: at, intact };
}

/** The largest datagram loopback accepts, found by trying, and what one byte more does. */
export interface MaxDatagramObservation {
  /** The largest size `send` accepted. */
  max: number;
  /** It arrived whole. */
  receivedWhole: boolean;
  /** The error for `max + 1` bytes, e.g. `Message too long (os error 90)`. */
  errorForOneMore: string;
  /** The error's Deno class name, e.g. `Error` with code `EMSGSIZE`. */
  errorCode: string;
}

/**
 * Binary-searches the largest datagram `send` accepts on loopback (65507 over IPv4), checks that
 * it arrives whole, and records the error for one byte more (EMSGSIZE on Linux).
 */
export async function observeMaxDatagram(
  { hostname = "127.0.0.1" }: ObserveOptions = {},
): Promise<MaxDatagramObservation> {
  const [receiver, sender] = pair(hostname);
  try {
    const sendError = async (size: number): Promise<Error | null> => {
      try {
        await sender.send(new Uint8Array(size), receiver.addr);
        return null;
      } catch (error) {
        if (error instanceof Error) return error;
        throw error;
      }
    };
    // Invariant: `low` was accepted, `high` was refused. 70000 is above every UDP limit.
    let low = 0;
    let high = 70_000;
    if (await sendError(high) === null) throw new Error(`A ${high}-byte datagram was accepted`);
    while (high - low > 1) {
      const mid = Math.floor((low + high) / 2);
      if (await sendError(mid) === null) low = mid;
      else high = mid;
    }
    const error = await sendError(low + 1);
    if (error === null) throw new Error(`A ${low + 1}-byte datagram was accepted on retry`);

    // The accepted probes are queued at the receiver; a fresh pair proves the maximum arrives.
    const [r2, s2] = pair(hostname);
    let receivedWhole: boolean;
    try {
      await s2.send(patternBytes(low), r2.addr);
      const [got] = await r2.receive(new Uint8Array(low + 1024));
      receivedWhole = got.length === low;
    } finally {
      s2.close();
      r2.close();
    }
    const code = (error as Error & { code?: string }).code;
    return {
      max: low,
      receivedWhole,
      errorForOneMore: error.message,
      errorCode: code ?? error.name,
    };
  } finally {
    sender.close();
    receiver.close();
  }
}

/**
 * The truncation experiment's lines: one `sent` and one `received` event per datagram with both
 * addresses (the lab draws them), and with `--explain` the bytes that arrived and the ones lost.
 */
function printTruncation(out: Reporter, udp: TruncationObservation): void {
  out.info(
    `UDP: one ${udp.sent}-byte datagram into a ${udp.bufferSize}-byte receive buffer`,
    "result",
    {
      part: "truncation",
      sent: udp.sent,
      bufferSize: udp.bufferSize,
    },
  );
  // One `sent` and one `received` event per datagram, with both addresses (the lab draws them).
  const route = { part: "truncation", from: udp.from, to: udp.to };
  const sentBytes = patternBytes(udp.sent);
  const nextBytes = encoder.encode(udp.next);
  out.info(`  sendto: ${udp.sent} bytes, ${udp.from} → ${udp.to}`, "sent", {
    ...route,
    bytes: udp.sent,
  });
  if (out.explaining) {
    out.explain(
      chunkView(`  sendto: one datagram of ${udp.sent} bytes`, sentBytes, { maxBytes: 48 }),
      { ...route, direction: "sent", bytes: udp.sent },
    );
  }
  out.info(`  sendto: ${nextBytes.length} bytes, the next datagram "${udp.next}"`, "sent", {
    ...route,
    bytes: nextBytes.length,
  });
  if (out.explaining) {
    out.explain(chunkView(`  sendto: one datagram of ${nextBytes.length} bytes`, nextBytes), {
      ...route,
      direction: "sent",
      bytes: nextBytes.length,
    });
  }
  out.info(
    `  received ${udp.received} bytes${
      udp.receivedIsPrefix ? ` (exactly the first ${udp.received})` : " (NOT a prefix!)"
    }, ${udp.dropped} bytes dropped without an error (Linux; Windows raises WSAEMSGSIZE)`,
    "received",
    {
      ...route,
      bytes: udp.received,
      datagram: udp.sent,
      bufferSize: udp.bufferSize,
      received: udp.received,
      dropped: udp.dropped,
    },
  );
  if (out.explaining) {
    // The received bytes were checked to be exactly the first ones sent (receivedIsPrefix).
    out.explain(
      chunkView(
        `  recvfrom returned ${udp.received} bytes (offsets 0..${
          udp.received - 1
        } of the datagram); ` +
          `offsets ${udp.received}..${udp.sent - 1} are gone`,
        sentBytes.subarray(0, udp.received),
        { maxBytes: 48 },
      ),
      { ...route, direction: "received", received: udp.received },
    );
  }
  out.info(
    `  the next receive returned the NEXT datagram: "${udp.next}" — not the rest`,
    "received",
    {
      ...route,
      bytes: nextBytes.length,
      next: udp.next,
    },
  );
  if (out.explaining) {
    out.explain(chunkView(`  recvfrom returned ${nextBytes.length} bytes`, nextBytes), {
      ...route,
      direction: "received",
      bytes: nextBytes.length,
    });
  }
}

/** `deno run -A udp/truncate.ts [flags]`. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args, {
    size: { type: "string" },
    buffer: { type: "string" },
    host: { type: "string" },
    json: { type: "boolean" },
    explain: { type: "boolean" },
  });
  if (positionals.length) throw new UsageError(`Unexpected argument "${positionals[0]}"`);
  const size = parseCount(values.size, 5000, "--size", { min: 1, max: MAX_UDP_PAYLOAD_IPV4 });
  const bufferSize = parseCount(values.buffer, 1024, "--buffer", { min: 1, max: 1 << 20 });
  const hostname = await resolveHostArgument(values.host ?? "127.0.0.1");
  if (!hostname.startsWith("127.") && hostname !== "::1") {
    throw new UsageError(
      `Invalid --host ${quoteInput(values.host ?? "")}: expected a loopback address` +
        (hostname === values.host ? "" : ` (it is ${hostname})`),
    );
  }
  const options = { hostname, bufferSize };
  const out = createReporter("udp/truncate", { json: values.json, explain: values.explain });
  const printLine = (text: string, fields: Record<string, unknown> = {}) =>
    out.info(text, "result", fields);

  let udp: TruncationObservation;
  try {
    udp = await observeTruncation(size, options);
  } catch (error) {
    if (error instanceof Deno.errors.AddrNotAvailable) {
      throw new CliError(`Cannot bind ${hostname}: ${error.message}`);
    }
    throw error;
  }
  printTruncation(out, udp);

  const h = await observeOneByteBuffer("hello", options);
  printLine(`UDP: "hello" into a 1-byte buffer → "${h}" (seed 000: 只接收h)`, {
    part: "one-byte",
    received: h,
  });

  const tcp = await observeTcp(size, options);
  printLine(`TCP: the same ${tcp.sent} bytes with the same ${tcp.bufferSize}-byte buffer`, {
    part: "tcp",
    sent: tcp.sent,
    bufferSize: tcp.bufferSize,
  });
  const reads = tcp.reads.length <= 8
    ? `${tcp.reads.length} reads (${tcp.reads.join(" + ")})`
    : `${tcp.reads.length} reads of at most ${Math.max(...tcp.reads)} bytes`;
  printLine(
    `  ${reads} = ${tcp.received} bytes, ${
      tcp.intact ? "all intact and in order" : "NOT intact!"
    }: a stream has no message boundaries and drops nothing`,
    { part: "tcp", reads: tcp.reads, received: tcp.received, intact: tcp.intact },
  );
  out.explain(stickyView([tcp.sent], tcp.reads, { title: "  TCP 粘包 view", maxReads: 6 }), {
    part: "tcp",
  });

  const max = await observeMaxDatagram(options);
  const ipv6 = hostname.includes(":");
  printLine(
    `Largest datagram ${hostname} accepts: ${max.max} bytes (${
      ipv6
        ? "65535 − 8-byte UDP header; the IPv6 header is outside the payload length"
        : "65535 − 20-byte IP header − 8-byte UDP header"
    }), ${max.receivedWhole ? "received whole" : "NOT received whole"}`,
    { part: "max", max: max.max, receivedWhole: max.receivedWhole },
  );
  printLine(`  ${max.max + 1} bytes → ${max.errorCode}: ${max.errorForOneMore}`, {
    part: "max",
    errorCode: max.errorCode,
    error: max.errorForOneMore,
  });
  if (!ipv6) {
    printLine(
      `  512 bytes is the seeds' "stable" size: every IPv4 host must accept a 576-byte datagram`,
    );
  }
  return udp.receivedIsPrefix && tcp.intact && max.receivedWhole ? 0 : 1;
}

const USAGE =
  `Usage: deno task udp:truncate [--size BYTES] [--buffer BYTES] [--host HOST] [--json] [--explain]

Sends one datagram larger than the receiver's buffer and shows what arrives (UDP truncates and
drops the rest), then the same bytes over TCP (they arrive whole), then the largest datagram
loopback accepts and the error for one byte more.

Options:
  --size BYTES     the datagram (default 5000, at most 65507)
  --buffer BYTES   the receiver's buffer (default 1024)
  --host HOST      loopback address or name to run on (default 127.0.0.1)
  --json           newline-delimited JSON events instead of text
  --explain        show the bytes that arrived and where the cut was (hexdump), and the TCP
                   reads of the same bytes
  -h, --help       show this help`;

if (import.meta.main) await runMain(USAGE, main);
