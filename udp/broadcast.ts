/**
 * UDP broadcast: one `send` to a broadcast address, every `listen`er on that port in the subnet
 * receives it. Plus `calc`, the subnet arithmetic that says which address is the broadcast one.
 *
 * Seed ideas: 003 「udp套接字应用--->广播 一点发送多点接收 目标地址:广播地址 172.18.32.255」 and
 * 002 「子网掩码 & ip地址 得到网段」/「IP地址是一个32位的二进制数」.
 *
 * What is measured here (Linux, Deno 2.9):
 * - Several listeners share one port with `reuseAddress: true` (SO_REUSEADDR), bound to 0.0.0.0;
 *   one broadcast reaches all of them. A socket bound to 127.0.0.1 does NOT receive a datagram
 *   sent to 127.255.255.255: the destination is not its address.
 * - Deno turns SO_BROADCAST on for every UDP socket, so sending to a broadcast address just works
 *   (Python refuses the same `sendto` with EACCES until `setsockopt(SO_BROADCAST, 1)`).
 * - On the machine's own network only 127.255.255.255 (loopback's broadcast address) is used:
 *   255.255.255.255 or a LAN broadcast address would put the datagram on the real network, so
 *   `send` refuses any address outside 127.0.0.0/8 unless `--allow-lan` is given — which the
 *   tests use only inside network namespaces they create (tests/udp/broadcast_netns_test.ts).
 *
 * Run:  deno task udp:broadcast listen --port 9999          (in two terminals)
 *       deno task udp:broadcast send --port 9999 hello all   (both listeners print it)
 *       deno task udp:broadcast calc 192.168.1.37/24
 * Poke: echo -n hi | nc -u -b -w1 127.255.255.255 9999
 */
import {
  CliError,
  datagramListeningLine,
  formatAddr,
  formatHostPort,
  interruptSignal,
  listenUdp,
  parseCli,
  parseCount,
  parsePort,
  resolveHostArgument,
  runMain,
  UsageError,
} from "../tcp/kit/cli.ts";
import { createReporter } from "../tcp/kit/report.ts";
import { chunkView } from "../tcp/kit/explain.ts";
import { isClosedLocally } from "../tcp/core/net_errors.ts";
import { parseIPv4 } from "../tcp/core/ip_address.ts";
import { describeDatagram, MAX_UDP_PAYLOAD_IPV4 } from "./core/datagram.ts";
import { calcResult } from "./core/subnet_math.ts";
import { onAbort } from "../tcp/core/abort.ts";

/** Loopback's broadcast address: the only one `send` uses without `--allow-lan`. */
export const LOOPBACK_BROADCAST = "127.255.255.255";

/** The port `listen` and `send` use by default. */
export const DEFAULT_BROADCAST_PORT = 9999;

/**
 * Checks where `send` may go: any address in 127.0.0.0/8 (loopback never leaves the machine);
 * anything else only with `allowLan`. Returns the address; throws `CliError` with the reason.
 */
export function checkSendTarget(to: string, allowLan: boolean): string {
  try {
    parseIPv4(to);
  } catch (error) {
    throw new CliError(`Invalid --to: ${(error as Error).message} (broadcast is IPv4 only)`);
  }
  if (to.startsWith("127.") || allowLan) return to;
  throw new CliError(
    `Refusing to send to "${to}": it would leave this machine; use ${LOOPBACK_BROADCAST}, ` +
      `or --allow-lan inside a network namespace you created`,
  );
}

/** `listen`: prints each datagram as `HOST:PORT -> text` until interrupted or `count` is reached. */
async function listen(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args, {
    host: { type: "string" },
    port: { type: "string" },
    count: { type: "string" },
    json: { type: "boolean" },
    explain: { type: "boolean" },
  });
  if (positionals.length) throw new UsageError(`Unexpected argument "${positionals[0]}"`);
  const port = parsePort(values.port, DEFAULT_BROADCAST_PORT);
  const count = parseCount(values.count, Infinity, "--count");
  const host = await resolveHostArgument(values.host ?? "0.0.0.0");
  const reporter = createReporter("udp/broadcast", {
    json: values.json,
    explain: values.explain,
  });

  using signal = interruptSignal();
  const conn = listenUdp(host, port, { reuseAddress: true });
  const close = () => conn.close();
  onAbort(signal, close);
  reporter.info(datagramListeningLine(conn.addr), "listening", {
    address: formatAddr(conn.addr),
    transport: "udp",
  });
  const buffer = new Uint8Array(MAX_UDP_PAYLOAD_IPV4 + 1);
  let seen = 0;
  try {
    while (seen < count) {
      const [datagram, from] = await conn.receive(buffer);
      seen++;
      reporter.info(`${formatAddr(from)} -> ${describeDatagram(datagram)}`, "received", {
        from: formatAddr(from),
        bytes: datagram.length,
      });
      if (reporter.explaining) {
        reporter.explain(
          chunkView(
            `recvfrom #${seen}: one datagram of ${datagram.length} bytes from ${formatAddr(from)}`,
            datagram,
          ),
          { index: seen, from: formatAddr(from), bytes: datagram.length },
        );
      }
    }
  } catch (error) {
    if (!(signal.aborted && isClosedLocally(error))) throw error;
  } finally {
    signal.removeEventListener("abort", close);
    if (!signal.aborted) conn.close();
  }
  return 0;
}

/** `send`: one datagram to `--to` (checked by `checkSendTarget`). */
async function send(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args, {
    to: { type: "string" },
    port: { type: "string" },
    "allow-lan": { type: "boolean" },
    json: { type: "boolean" },
    explain: { type: "boolean" },
  });
  const reporter = createReporter("udp/broadcast", {
    json: values.json,
    explain: values.explain,
  });
  if (!positionals.length) throw new UsageError("Missing MESSAGE for send");
  // A name (`--to localhost`) is resolved first; addresses are checked as typed.
  const typed = values.to ?? LOOPBACK_BROADCAST;
  const address = /^[\d.]+$/.test(typed) ? typed : await resolveHostArgument(typed, "--to");
  const to = checkSendTarget(address, values["allow-lan"] ?? false);
  const port = parsePort(values.port, DEFAULT_BROADCAST_PORT);
  if (port === 0) throw new UsageError(`Invalid --port "0": send needs the listeners' port`);
  const payload = new TextEncoder().encode(positionals.join(" "));
  if (payload.length > MAX_UDP_PAYLOAD_IPV4) {
    throw new CliError(
      `Message is ${payload.length} bytes: the largest UDP datagram is ${MAX_UDP_PAYLOAD_IPV4}`,
    );
  }
  // Loopback traffic leaves from 127.0.0.1; elsewhere let the routing table pick the source.
  const conn = listenUdp(to.startsWith("127.") ? "127.0.0.1" : "0.0.0.0", 0);
  try {
    const sent = await conn.send(payload, { transport: "udp", hostname: to, port });
    const target = formatHostPort(to, port);
    reporter.info(`sent ${sent} bytes to ${target} from ${formatAddr(conn.addr)}`, "sent", {
      to: target,
      from: formatAddr(conn.addr),
      bytes: sent,
    });
    reporter.explain(
      chunkView(`sendto: one datagram of ${sent} bytes to ${target}`, payload),
      { to: target, bytes: sent },
    );
  } catch (error) {
    if (
      error instanceof Deno.errors.PermissionDenied ||
      error instanceof Deno.errors.NetworkUnreachable
    ) {
      throw new CliError(`Cannot send to ${formatHostPort(to, port)}: ${error.message}`);
    }
    throw error;
  } finally {
    conn.close();
  }
  return 0;
}

/** `calc CIDR`: the subnet table — the very `calcResult` that `deno task subnet calc` prints. */
function calc(args: string[]): number {
  const { values, positionals } = parseCli(args, { json: { type: "boolean" } });
  if (positionals.length !== 1) {
    throw new UsageError(`calc takes one CIDR, e.g. 192.168.1.37/24 (got ${positionals.length})`);
  }
  let result: ReturnType<typeof calcResult>;
  try {
    result = calcResult(positionals[0]);
  } catch (error) {
    if (error instanceof SyntaxError || error instanceof RangeError) {
      throw new CliError(error.message);
    }
    throw error;
  }
  createReporter("udp/broadcast", { json: values.json }).info(result.text, "result", result.fields);
  return 0;
}

/** `deno run -A udp/broadcast.ts listen|send|calc …`. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case "listen":
      return await listen(rest);
    case "send":
      return await send(rest);
    case "calc":
      return calc(rest);
    case undefined:
      throw new UsageError("Missing command: listen, send or calc");
    default:
      throw new UsageError(
        command.startsWith("-")
          ? `unknown option ${command}`
          : `Unknown command "${command}": expected listen, send or calc`,
      );
  }
}

const USAGE = `Usage: deno task udp:broadcast <command> …

  listen [--port PORT] [--host HOST] [--count N] [--json] [--explain]
      Prints every datagram with its sender. Binds HOST (default 0.0.0.0: a socket bound to
      127.0.0.1 does not receive broadcasts) with SO_REUSEADDR, so several listeners share PORT
      (default 9999; 0 = ephemeral). --count N: exit after N datagrams.
  send [--to ADDR] [--port PORT] [--allow-lan] [--json] [--explain] MESSAGE…
      Sends MESSAGE as one datagram to ADDR:PORT (default 127.255.255.255:9999). Addresses
      outside 127.0.0.0/8 (255.255.255.255, a LAN broadcast) leave this machine and are refused
      unless --allow-lan (meant for network namespaces you created).
  calc CIDR
      Address, mask, network (address & mask), broadcast (network | ~mask), first/last host and
      host count in dotted decimal and binary, e.g. calc 192.168.1.37/24 or 10.0.0.1/255.0.0.0.
      The same as deno task subnet calc (which also plans subnets; IPv6, --json).

Options (listen and send):
  --json          newline-delimited JSON events instead of text
  --explain       show every datagram received or sent (hexdump)
  -h, --help      show this help

HOST and ADDR may be names (localhost); they are resolved before the socket is bound.`;

if (import.meta.main) await runMain(USAGE, main);
