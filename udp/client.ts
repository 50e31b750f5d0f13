/**
 * UDP client for `udp/server.ts`: each line becomes one datagram, each reply is printed on its own
 * line. On a terminal it shows the seeds' `>>>: ` prompt and `quit` exits (seed 001); with stdin
 * a pipe it sends one datagram per line and exits 0 at end of input.
 *
 * Seed idea (000 §二, 001 UDP 客户端): no connect() — every datagram is `sendto(data, (host,
 * port))` and the reply comes from `recvfrom`. What the seeds get wrong, and this fixes: their
 * `recvfrom` has no timeout, so one lost datagram (「如果发生丢包,信息即丢失」) hangs the client
 * forever, and seed 000's client never leaves its loop. Here every wait has a deadline
 * (`--timeout`), a lost datagram is sent again (`--retries`), and after the last try the client
 * says so and exits 1. It cannot say *why*: an unconnected UDP socket never hears the ICMP "port
 * unreachable" that a closed port sends back, so nobody listening looks exactly like loss.
 * Datagrams from any other address than the server are ignored (anyone can send to our port).
 *
 * Run:  deno task udp:client                         (talks to 127.0.0.1:8080)
 *       printf 'hello\n你好\n' | deno run -A udp/client.ts --port 8080
 * Poke: nc -u -l 127.0.0.1 8080   is a server you type the replies into (like seed 000's)
 */
import {
  CliError,
  formatHostPort,
  interruptSignal,
  parseCli,
  parseCount,
  parsePort,
  printLine,
  runMain,
  UsageError,
} from "../tcp/cli.ts";
import { parseIPv4 } from "./subnet.ts";
import { isClosedError, MAX_UDP_PAYLOAD_IPV4, MAX_UDP_PAYLOAD_IPV6 } from "./datagram.ts";

const USAGE = `Usage: deno task udp:client [--host HOST] [--port PORT] [--timeout MS] [--retries N]

Sends each line of stdin as one UDP datagram and prints each reply on its own line.
On a terminal: prompt ">>>: ", "quit" exits. From a pipe: exit 0 at end of input.
  --host HOST     server address: an IPv4/IPv6 literal or localhost (default 127.0.0.1)
  --port PORT     server port (default 8080)
  --timeout MS    how long to wait for each reply (default 1000)
  --retries N     how many times to send again when no reply came (default 2)`;

const encoder = new TextEncoder();
const lenientUtf8 = new TextDecoder();

/** Options for `DatagramClient`. */
export interface DatagramClientOptions {
  /** Wait this long for each reply (default 1000 ms). */
  timeoutMs?: number;
  /** Send again this many times after a timeout (default 2: three tries in all). */
  retries?: number;
}

/** What `DatagramClient.request` returns. */
export interface DatagramReply {
  reply: Uint8Array;
  /** Which try got the reply (1 = the first send). */
  tries: number;
  /** Datagrams from other addresses that were ignored meanwhile. */
  ignored: number;
}

/**
 * Turns `--host` into the address datagrams are sent to: IP literals as given (IPv6 canonical,
 * without brackets) and `localhost` as 127.0.0.1. Other names are refused: resolving them would
 * mean asking the machine's DNS resolver, and the reply's source must compare equal to it.
 */
export function serverHostname(host: string): string {
  if (host === "localhost") return "127.0.0.1";
  const bare = host.replace(/^\[(.*)\]$/, "$1");
  if (bare.includes(":")) {
    try {
      return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
    } catch {
      throw new UsageError(`Invalid --host "${host}": not an IPv6 address`);
    }
  }
  try {
    parseIPv4(bare);
  } catch (error) {
    throw new UsageError(`Invalid --host "${host}": ${(error as Error).message}`);
  }
  return bare;
}

/** True when `hostname` (as `serverHostname` returns it) is a loopback address. */
function isLoopback(hostname: string): boolean {
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
  #conn: Deno.DatagramConn;
  #pending: Promise<[Uint8Array, Deno.Addr]> | undefined;
  #closed = false;

  constructor(hostname: string, port: number, options: DatagramClientOptions = {}) {
    this.server = { transport: "udp", hostname, port };
    this.timeoutMs = options.timeoutMs ?? 1000;
    this.retries = options.retries ?? 2;
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
   * `retries` times; then throws `CliError` with `no reply from HOST:PORT after N tries`.
   */
  async request(payload: Uint8Array): Promise<DatagramReply> {
    const tries = this.retries + 1;
    let ignored = 0;
    for (let attempt = 1; attempt <= tries; attempt++) {
      await this.#conn.send(payload, this.server);
      const deadline = performance.now() + this.timeoutMs;
      while (true) {
        const remaining = deadline - performance.now();
        if (remaining <= 0) break;
        const got = await this.#receiveWithin(remaining);
        if (got === "timeout") break;
        if (got === "refused") break; // ICMP port unreachable (connected-socket systems): retry
        const [data, from] = got;
        if (this.#isServer(from)) return { reply: data, tries: attempt, ignored };
        ignored++; // Anyone can send to our port; only the server's datagram is a reply.
      }
    }
    const where = formatHostPort(this.server.hostname, this.server.port);
    throw new CliError(
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
 * `maxChars` characters throws `CliError` instead of growing without bound.
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
        throw new CliError(`Input line is longer than ${maxChars} characters`);
      }
    }
    if (pending.length) yield pending.replace(/\r$/, "");
  } finally {
    signal?.removeEventListener("abort", cancel);
    reader.releaseLock();
  }
}

/** `deno run -A udp/client.ts [flags]`. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args, {
    host: { type: "string" },
    port: { type: "string" },
    timeout: { type: "string" },
    retries: { type: "string" },
  });
  if (positionals.length) throw new UsageError(`Unexpected argument "${positionals[0]}"`);
  const hostname = serverHostname(values.host ?? "127.0.0.1");
  const port = parsePort(values.port, 8080);
  const timeoutMs = parseCount(values.timeout, 1000, "--timeout", { min: 1, max: 600_000 });
  const retries = parseCount(values.retries, 2, "--retries", { min: 0, max: 100 });
  const maxPayload = hostname.includes(":") ? MAX_UDP_PAYLOAD_IPV6 : MAX_UDP_PAYLOAD_IPV4;

  using signal = interruptSignal();
  using client = new DatagramClient(hostname, port, { timeoutMs, retries });
  signal.addEventListener("abort", () => client.close(), { once: true });
  const interactive = Deno.stdin.isTerminal();
  const prompt = () => {
    if (interactive) Deno.stdout.writeSync(encoder.encode(">>>: "));
  };

  prompt();
  try {
    for await (const raw of readLines(Deno.stdin.readable, { signal })) {
      // Like seed 001's `message.lower() == 'quit'`: stop without sending it.
      if (raw.trim().toLowerCase() === "quit") break;
      // A person's stray spaces are trimmed (seed 000's `.strip()`); piped lines go as they are.
      const payload = encoder.encode(interactive ? raw.trim() : raw);
      if (payload.length > maxPayload) {
        throw new CliError(
          `Line is ${payload.length} bytes: the largest UDP datagram here is ${maxPayload} bytes`,
        );
      }
      const { reply } = await client.request(payload);
      printLine(lenientUtf8.decode(reply));
      prompt();
    }
  } catch (error) {
    if (signal.aborted && (isClosedError(error) || error instanceof TypeError)) {
      throw signal.reason;
    }
    throw error;
  }
  if (signal.aborted) throw signal.reason;
  if (interactive) printLine(""); // end the prompt line after Ctrl-D or quit
  return 0;
}

if (import.meta.main) await runMain(USAGE, main);
