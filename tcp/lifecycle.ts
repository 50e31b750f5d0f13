/**
 * One TCP connection's whole life on loopback — listen, connect, write, half-close, reply, close —
 * with the state the kernel reports for every socket after each step.
 *
 * Seed ideas: 003/004 「三次握手」 and 「四次挥手」 (connect is the three-way handshake; closing
 * takes a FIN and an ACK in each direction), 004's 「收到对方的FIN报文时,仅仅表示对方不再发送数据了
 * 但是还能接收数据」 (the half-close) and its MSL: the side that sends the first FIN ends in
 * TIME_WAIT for two MSLs (60 s on Linux), long after its program closed the socket. The states are
 * read from /proc/net/tcp (tcp/core/tcp_table.ts), the same table `netstat -tan` and `ss -tan` show;
 * where it cannot be read (not Linux) the textbook state is printed and marked as inferred. The
 * segments themselves (SYN, FIN, ACK) are the kernels' business: the program only sees its calls
 * return, so the lines name the calls and say which segments the kernel sends for them.
 *
 * Run:   deno task tcp:lifecycle                  (= deno run -A tcp/lifecycle.ts)
 *        deno run -A tcp/lifecycle.ts --json --explain
 * Poke:  while a real connection is open, `ss -tan '( sport = :9000 or dport = :9000 )'` shows
 *        the same states; after it closed, the TIME_WAIT line stays for a minute.
 */
import {
  CliError,
  formatAddr,
  interruptSignal,
  listeningLine,
  listenTcp,
  parseCli,
  parsePort,
  resolveHostArgument,
  runMain,
  UsageError,
} from "./kit/cli.ts";
import { writeAll } from "./core/io.ts";
import { quoteInput } from "./core/printable.ts";
import { chunkView } from "./kit/explain.ts";
import { createReporter, type Fields, type Reporter } from "./kit/report.ts";
import {
  findSocket,
  readTcpTable,
  type TcpSocketRow,
  tcpTableAvailable,
} from "./core/tcp_table.ts";
import { upperAscii } from "./core/upper.ts";
import { onAbort } from "./core/abort.ts";

export const USAGE = `Usage: deno task tcp:lifecycle [options]

Walks one TCP connection on loopback through its life (listen, connect, write, half-close,
reply, close) and prints after every step the state the kernel reports for each socket, read
from /proc/net/tcp (Linux; elsewhere the textbook state, marked "inferred").

Options:
  --host HOST       loopback address to listen on (default 127.0.0.1)
  --port PORT       port to listen on (default 0 = any free port)
  --message TEXT    what the client sends (default "hello 你好", at most 4096 bytes)
  --json            newline-delimited JSON events instead of text
  --explain         also show the bytes of each write and read (hexdump)
  -h, --help        show this help`;

/** Longest --message: it must fit the receive buffers, so nobody blocks on a full one. */
export const MAX_MESSAGE_BYTES = 4096;

/** Which socket a state belongs to. */
export type SocketRole = "listener" | "client" | "server";

/** One socket's state after a step. */
export interface SocketState {
  socket: SocketRole;
  /** `127.0.0.1:41234`. */
  local: string;
  /** The peer, `0.0.0.0:0` for the listener. */
  remote: string;
  /** `ESTABLISHED`, `FIN_WAIT2`, … or `CLOSED` (no longer in the kernel's table). */
  state: string;
  /**
   * `proc`: read from /proc/net/tcp; `absent`: no line there any more, so the kernel has
   * forgotten the socket (CLOSED); `inferred`: not read (no /proc/net/tcp), the textbook state.
   */
  source: "proc" | "absent" | "inferred";
  /**
   * The receive queue from /proc/net/tcp (`proc` only): bytes not yet read by the program, plus
   * one for a FIN not yet read (it takes a sequence number too).
   */
  rxQueue?: number;
}

/** States in which the peer's FIN has arrived, so a non-empty receive queue counts it. */
const FIN_RECEIVED = new Set(["CLOSE_WAIT", "LAST_ACK", "CLOSING"]);

/** One step of the life cycle, as it is reported. */
export interface LifecycleStep {
  /** The schema's event name (tcp/report.ts). */
  event: "listening" | "connected" | "sent" | "received" | "disconnected";
  /** Who made the call. */
  actor: SocketRole;
  /** The call and what it did, one line. */
  text: string;
  fields: Fields;
  states: SocketState[];
  /** The bytes written or read, for --explain. */
  bytes?: Uint8Array;
}

interface Tracked {
  socket: SocketRole;
  local: string;
  remote: string;
}

/**
 * The states of `sockets` right now. `expected` is what the textbook says after this step; it is
 * used only when the kernel's table cannot be read (`table: null` pretends so, for tests).
 */
export function socketStates(
  sockets: Tracked[],
  expected: Partial<Record<SocketRole, string>>,
  { table = tcpTableAvailable() ? readTcpTable({ ports: portsOf(sockets) }) : null }: {
    table?: TcpSocketRow[] | null;
  } = {},
): SocketState[] {
  return sockets.map((s) => {
    if (!table) return { ...s, state: expected[s.socket] ?? "unknown", source: "inferred" };
    const row = findSocket(table, s.local, s.remote);
    return row
      ? { ...s, state: row.state, source: "proc", rxQueue: row.rxQueue }
      : { ...s, state: "CLOSED", source: "absent" };
  });
}

function portsOf(sockets: Tracked[]): Set<number> {
  return new Set(sockets.map((s) => Number(s.local.slice(s.local.lastIndexOf(":") + 1))));
}

/** `client FIN_WAIT2, server CLOSE_WAIT (12 bytes unread)` — one step's states in words. */
export function describeStates(states: readonly SocketState[]): string {
  const parts = states.map((s) => {
    const fin = FIN_RECEIVED.has(s.state) && (s.rxQueue ?? 0) > 0;
    const unread = (s.rxQueue ?? 0) - (fin ? 1 : 0);
    const queue = unread > 0
      ? ` (${unread} bytes unread${fin ? " and the FIN" : ""})`
      : fin
      ? " (the FIN unread)"
      : "";
    const how = s.source === "absent"
      ? " (gone from the table)"
      : s.source === "inferred"
      ? " (inferred)"
      : "";
    return `${s.socket} ${s.state}${queue}${how}`;
  });
  const read = states.some((s) => s.source !== "inferred");
  return `${parts.join(", ")}${read ? "" : " — not read: no /proc/net/tcp here"}`;
}

/** Reads until EOF, at most `max` bytes; returns the bytes and the size of every read. */
async function readToEnd(conn: Deno.Conn, max: number) {
  const buffer = new Uint8Array(max + 1);
  let length = 0;
  const reads: number[] = [];
  while (true) {
    const n = await conn.read(buffer.subarray(length));
    if (n === null) break;
    reads.push(n);
    length += n;
    if (length > max) throw new CliError(`Peer sent more than ${max} bytes`);
  }
  return { bytes: buffer.slice(0, length), reads };
}

/** Options for `runLifecycle`. */
export interface LifecycleOptions {
  message: Uint8Array;
  /** Called with each step as soon as it happened (for live output). */
  onStep?: (step: LifecycleStep) => void;
}

/**
 * Runs the life cycle on `listener` (which it closes at the end) and returns every step. The
 * client connects, writes `message`, half-closes; the server reads to EOF, answers in upper case
 * and closes; the client reads the answer and the EOF and closes.
 */
export async function runLifecycle(
  listener: Deno.TcpListener,
  { message, onStep }: LifecycleOptions,
): Promise<LifecycleStep[]> {
  const steps: LifecycleStep[] = [];
  const address = formatAddr(listener.addr);
  const listening: Tracked = { socket: "listener", local: address, remote: "0.0.0.0:0" };
  const step = (s: LifecycleStep) => {
    steps.push(s);
    onStep?.(s);
  };

  step({
    event: "listening",
    actor: "listener",
    text: listeningLine(listener.addr),
    fields: { address },
    states: socketStates([listening], { listener: "LISTEN" }),
  });

  // 1. The handshake: connect() returns once the kernels exchanged SYN, SYN+ACK and ACK.
  const started = performance.now();
  const [client, server] = await Promise.all([
    Deno.connect({ hostname: listener.addr.hostname, port: listener.addr.port }),
    listener.accept(),
  ]);
  try {
    const ms = Math.round((performance.now() - started) * 1000) / 1000;
    const clientAddr = formatAddr(client.localAddr);
    const tracked: Tracked[] = [
      listening,
      { socket: "client", local: clientAddr, remote: address },
      { socket: "server", local: address, remote: clientAddr },
    ];
    const route = (actor: "client" | "server") =>
      actor === "client" ? { from: clientAddr, to: address } : { from: address, to: clientAddr };
    step({
      event: "connected",
      actor: "client",
      text: `client connect() → ${address}: the kernels' three-way handshake (SYN, SYN+ACK, ` +
        `ACK) in ${ms.toFixed(1)} ms; the server's accept() returns the new socket`,
      fields: { local: clientAddr, remote: address, ms, segments: ["SYN", "SYN+ACK", "ACK"] },
      states: socketStates(tracked, { client: "ESTABLISHED", server: "ESTABLISHED" }),
    });

    // 2. Data: the bytes wait in the server's receive queue until it reads them.
    await writeAll(client, message);
    step({
      event: "sent",
      actor: "client",
      text: `client write(): ${message.length} bytes; the server has not read them yet`,
      fields: { ...route("client"), bytes: message.length },
      states: socketStates(tracked, { client: "ESTABLISHED", server: "ESTABLISHED" }),
      bytes: message,
    });

    // 3. Half-close: FIN means "I send no more"; the client can still read.
    await client.closeWrite();
    step({
      event: "sent",
      actor: "client",
      text:
        "client closeWrite() (shutdown SHUT_WR): its kernel sends FIN; the client can still read",
      fields: { ...route("client"), bytes: 0, segment: "FIN", call: "closeWrite" },
      states: socketStates(tracked, { client: "FIN_WAIT2", server: "CLOSE_WAIT" }),
    });

    // 4. The server reads to EOF: read() returns null once the FIN is reached.
    const request = await readToEnd(server, MAX_MESSAGE_BYTES);
    step({
      event: "received",
      actor: "server",
      text: `server read() ×${request.reads.length}: ${request.bytes.length} bytes, then null ` +
        "(EOF: the client's FIN)",
      fields: { ...route("client"), bytes: request.bytes.length, reads: request.reads, eof: true },
      states: socketStates(tracked, { client: "FIN_WAIT2", server: "CLOSE_WAIT" }),
      bytes: request.bytes,
    });

    // 5. The half-closed connection still carries the reply the other way.
    const reply = upperAscii(request.bytes);
    await writeAll(server, reply);
    step({
      event: "sent",
      actor: "server",
      text: `server write(): ${reply.length} bytes of reply on the half-closed connection`,
      fields: { ...route("server"), bytes: reply.length },
      states: socketStates(tracked, { client: "FIN_WAIT2", server: "CLOSE_WAIT" }),
      bytes: reply,
    });

    // 6. The server closes: its kernel sends the second FIN.
    server.close();
    step({
      event: "disconnected",
      actor: "server",
      text: "server close(): its kernel sends FIN; the server's program is done with the socket",
      fields: { ...route("server"), segment: "FIN", call: "close" },
      states: socketStates(tracked, { client: "TIME_WAIT", server: "LAST_ACK" }),
    });

    // 7. The client reads the reply, then null: the server's FIN.
    const answer = await readToEnd(client, MAX_MESSAGE_BYTES);
    step({
      event: "received",
      actor: "client",
      text: `client read() ×${answer.reads.length}: ${answer.bytes.length} bytes, then null ` +
        "(EOF: the server's FIN)",
      fields: { ...route("server"), bytes: answer.bytes.length, reads: answer.reads, eof: true },
      states: socketStates(tracked, { client: "TIME_WAIT", server: "CLOSED" }),
      bytes: answer.bytes,
    });

    // 8. The client closes too; having sent the first FIN, its socket waits in TIME_WAIT.
    client.close();
    listener.close();
    step({
      event: "disconnected",
      actor: "client",
      text: "client close() and the listener's close(): the client sent the first FIN, so its " +
        "socket stays in TIME_WAIT (2×MSL, 60 s on Linux) with no program attached",
      fields: { ...route("client"), call: "close" },
      states: socketStates(tracked, { listener: "CLOSED", client: "TIME_WAIT", server: "CLOSED" }),
    });
    return steps;
  } finally {
    for (const resource of [client, server, listener]) closeQuietly(resource);
  }
}

/** Closes something that may already be closed. */
function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch (error) {
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  }
}

/** Prints one step: its line, its states, and under --explain its bytes. */
export function reportStep(out: Reporter, step: LifecycleStep, index: number): void {
  const label = step.event === "listening" ? step.text : `${index}. ${step.text}`;
  out.info(`${label}\n   states: ${describeStates(step.states)}`, step.event, {
    ...step.fields,
    actor: step.actor,
    states: step.states,
  });
  if (out.explaining && step.bytes?.length) {
    const verb = step.event === "received" ? "read" : "wrote";
    out.explain(
      chunkView(`   ${step.actor} ${verb} ${step.bytes.length} bytes`, step.bytes),
      {
        actor: step.actor,
        direction: step.event === "received" ? "read" : "write",
        bytes: step.bytes.length,
      },
    );
  }
}

/** The command line: flags → `runLifecycle` → one report per step. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args, {
    host: { type: "string" },
    port: { type: "string" },
    message: { type: "string" },
    json: { type: "boolean" },
    explain: { type: "boolean" },
  });
  if (positionals.length) throw new UsageError(`Unexpected argument "${positionals[0]}"`);
  const port = parsePort(values.port, 0);
  const hostname = await resolveHostArgument(values.host ?? "127.0.0.1");
  if (!hostname.startsWith("127.")) {
    throw new UsageError(
      `Invalid --host ${quoteInput(values.host ?? "")}: expected an IPv4 loopback address` +
        (hostname === values.host ? "" : ` (it is ${hostname})`),
    );
  }
  const message = new TextEncoder().encode(values.message ?? "hello 你好");
  if (message.length === 0 || message.length > MAX_MESSAGE_BYTES) {
    throw new UsageError(`Invalid --message: expected 1 to ${MAX_MESSAGE_BYTES} bytes`);
  }
  const out = createReporter("tcp/lifecycle", { json: values.json, explain: values.explain });
  using signal = interruptSignal();
  const listener = listenTcp({ hostname, port });
  onAbort(signal, () => closeQuietly(listener));
  let index = 0;
  try {
    const steps = await runLifecycle(listener, {
      message,
      onStep: (step) => reportStep(out, step, index++),
    });
    const last = steps.at(-1)!.states;
    const waiting = last.find((s) => s.socket === "client")?.state;
    out.info(
      waiting === "TIME_WAIT"
        ? "→ the side that sent the first FIN (the client) waits in TIME_WAIT; the other side is gone"
        : `→ the client's socket ended in ${waiting}`,
      "result",
      { timeWait: waiting === "TIME_WAIT", read: last.some((s) => s.source !== "inferred") },
    );
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw error;
  }
  return 0;
}

if (import.meta.main) await runMain(USAGE, main);
