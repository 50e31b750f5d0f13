/**
 * UDP client for `udp/server.ts`: each line becomes one datagram, each reply is printed on its own
 * line. On a terminal it shows the seeds' `>>>: ` prompt and `quit` exits (seed 001); with stdin
 * a pipe it sends one datagram per line and exits 0 at end of input.
 *
 * Seed idea (000 §二, 001 UDP 客户端): no connect() — every datagram is `sendto(data, (host,
 * port))` and the reply comes from `recvfrom`. The seeds' `recvfrom` has no timeout, so one lost
 * datagram (「如果发生丢包,信息即丢失」) hangs them forever; here every wait has a deadline
 * (`--timeout`), a lost datagram is sent again (`--retries`), and after the last try the client
 * says so and exits 1 (udp/core/datagram_client.ts does the waiting). `--count N` is ping over
 * UDP.
 *
 * Run:  deno task udp:client                         (talks to 127.0.0.1:8080)
 *       printf 'hello\n你好\n' | deno run -A udp/client.ts --port 8080
 * Poke: nc -u -l 127.0.0.1 8080   is a server you type the replies into (like seed 000's)
 */
import {
  CliError,
  EXIT,
  formatHostPort,
  interruptSignal,
  parseCli,
  parseCount,
  parsePort,
  printLine,
  resolveHostArgument,
  runMain,
  UsageError,
} from "../tcp/kit/cli.ts";
import { noticeIfSlow, SLOW_WAIT_MS } from "../tcp/core/io.ts";
import { isClosedLocally } from "../tcp/core/net_errors.ts";
import { createReporter, type Reporter } from "../tcp/kit/report.ts";
import { chunkView } from "../tcp/kit/explain.ts";
import { formatMs, formatSequenceSummary, formatSummary, summarize } from "../tcp/kit/stats.ts";
import { MAX_UDP_PAYLOAD_IPV4, MAX_UDP_PAYLOAD_IPV6 } from "./core/datagram.ts";
import {
  DatagramClient,
  type DatagramReply,
  type DatagramTrace,
  NoReplyError,
  type ProbeOptions,
  readLines,
  runProbes,
  TextLineTooLongError,
} from "./core/datagram_client.ts";
import { onAbort } from "../tcp/core/abort.ts";

const encoder = new TextEncoder();
const lenientUtf8 = new TextDecoder();

/** What `sendLines` counted: round-trip times, datagrams sent again, lines lost. */
interface LinesSent {
  rtts: number[];
  retransmissions: number;
  lost: number;
}

/**
 * The client: each line of stdin → one datagram to the server → its reply printed (with its
 * round-trip time under `--stats`), until end of input, `quit` or Ctrl-C. A line that got no
 * reply after every try ends a piped run (exit 1); on a terminal it is reported as lost and the
 * next line is read, as a person would want. Returns what it counted, also when interrupted.
 */
async function sendLines(
  client: DatagramClient,
  reporter: Reporter,
  { stats, interactive, json, signal }: {
    stats: boolean;
    interactive: boolean;
    json: boolean;
    signal: AbortSignal;
  },
): Promise<LinesSent> {
  const maxPayload = client.server.hostname.includes(":")
    ? MAX_UDP_PAYLOAD_IPV6
    : MAX_UDP_PAYLOAD_IPV4;
  const where = formatHostPort(client.server.hostname, client.server.port);
  const prompt = () => {
    if (interactive && !json) Deno.stdout.writeSync(encoder.encode(">>>: "));
  };
  const sent: LinesSent = { rtts: [], retransmissions: 0, lost: 0 };
  if (interactive && !json) {
    reporter.warn(`sending to ${where}: type a line to send it, quit to leave`, "log");
  }
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
      let answer: DatagramReply;
      try {
        answer = await noticeIfSlow(client.request(payload), () =>
          reporter.warn(
            `still waiting for the reply from ${where} after ${SLOW_WAIT_MS / 1000} s ` +
              `(${client.retries + 1} ${client.retries === 0 ? "try" : "tries"} of ` +
              `${client.timeoutMs} ms each)`,
            "log",
          ));
      } catch (error) {
        if (!(error instanceof NoReplyError) || !interactive) throw error;
        sent.lost++;
        reporter.warn(`lost: ${error.message}`, "error", { lost: sent.lost });
        prompt();
        continue;
      }
      const { reply, tries, rttMs } = answer;
      reporter.info(lenientUtf8.decode(reply), "received", {
        bytes: reply.length,
        ...(stats ? { rttMs, tries } : {}),
      });
      if (stats) {
        sent.rtts.push(rttMs);
        sent.retransmissions += tries - 1;
        reporter.info(
          `  rtt ${formatMs(rttMs)} ms (${reply.length} bytes${tries > 1 ? `, try ${tries}` : ""})`,
          "stats",
          { index: sent.rtts.length, rttMs, bytes: reply.length, tries },
        );
      }
      prompt();
    }
  } catch (error) {
    // Ctrl-C closed the socket (or stdin) under a pending wait: what was counted still counts.
    if (!(signal.aborted && (isClosedLocally(error) || error instanceof TypeError))) throw error;
  }
  return sent;
}

/** `deno task udp:client [flags]`. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args, {
    host: { type: "string" },
    port: { type: "string" },
    timeout: { type: "string" },
    retries: { type: "string" },
    json: { type: "boolean" },
    explain: { type: "boolean" },
    stats: { type: "boolean" },
    count: { type: "string" },
    interval: { type: "string" },
  });
  if (positionals.length) throw new UsageError(`Unexpected argument "${positionals[0]}"`);
  if (values.interval !== undefined && values.count === undefined) {
    throw new UsageError("--interval needs --count");
  }
  const port = parsePort(values.port, 8080);
  if (port === 0) throw new UsageError(`Invalid --port "0": the server's port is needed`);
  const timeoutMs = parseCount(values.timeout, 1000, "--timeout", { min: 1, max: 600_000 });
  const retries = parseCount(values.retries, 2, "--retries", { min: 0, max: 100 });
  const probes = values.count === undefined ? undefined : {
    count: parseCount(values.count, 1, "--count", { min: 1, max: 100_000 }),
    intervalMs: parseCount(values.interval, 1000, "--interval", { min: 0, max: 60_000 }),
  };
  // A name is resolved by the system's resolver (localhost from /etc/hosts): the replies must
  // come from exactly the address the datagrams go to.
  const hostname = await resolveHostArgument(values.host ?? "127.0.0.1");
  const reporter = createReporter("udp/client", { json: values.json, explain: values.explain });
  const trace = reporter.explaining ? explainTrace(reporter) : undefined;

  using signal = interruptSignal();
  if (probes) {
    return await probeMode(hostname, port, { ...probes, timeoutMs, signal, trace }, reporter);
  }

  using client = new DatagramClient(hostname, port, { timeoutMs, retries, trace });
  onAbort(signal, () => client.close());
  const interactive = Deno.stdin.isTerminal();
  let sent: LinesSent;
  try {
    sent = await sendLines(client, reporter, {
      stats: values.stats ?? false,
      interactive,
      json: values.json ?? false,
      signal,
    });
  } catch (error) {
    if (error instanceof NoReplyError || error instanceof TextLineTooLongError) {
      throw new CliError(error.message);
    }
    throw error;
  }
  if (interactive && !values.json) printLine(""); // end the prompt line after Ctrl-D or quit
  const { rtts, retransmissions, lost } = sent;
  // The summary comes first, also after Ctrl-C (as ping's does); then the exit code says 130.
  if (values.stats) {
    const where = formatHostPort(hostname, port);
    reporter.info(
      `--- ${where} udp statistics: ${rtts.length} ${rtts.length === 1 ? "message" : "messages"}, ${
        lost > 0 ? `${lost} lost, ` : ""
      }${retransmissions} sent again ---`,
      "stats",
      { messages: rtts.length, retransmissions, lost },
    );
    reporter.info(formatSummary(summarize(rtts)), "stats", { rtt: summarize(rtts) });
  }
  return signal.aborted ? EXIT.interrupted : 0;
}

/** `--explain`: every datagram sent and received as a hexdump. */
function explainTrace(reporter: Reporter): DatagramTrace {
  let sent = 0;
  let received = 0;
  return {
    sent(payload, to, attempt) {
      sent++;
      reporter.explain(
        chunkView(
          `sendto #${sent}: one datagram of ${payload.length} bytes to ${
            formatHostPort(to.hostname, to.port)
          }${attempt > 1 ? ` (try ${attempt}: no reply in time, sent again)` : ""}`,
          payload,
        ),
        { direction: "sendto", index: sent, bytes: payload.length, attempt },
      );
    },
    received(data, from, fromServer) {
      received++;
      const address = "hostname" in from ? formatHostPort(from.hostname, from.port) : "?";
      reporter.explain(
        chunkView(
          `recvfrom #${received}: one datagram of ${data.length} bytes from ${address}` +
            (fromServer ? "" : " — not the server: ignored"),
          data,
        ),
        { direction: "recvfrom", index: received, bytes: data.length, from: address, fromServer },
      );
    },
  };
}

/** Probe mode (`--count`): prints each reply and ping's summary; 1 when nothing came back. */
async function probeMode(
  hostname: string,
  port: number,
  options: Omit<ProbeOptions, "onReply">,
  reporter: Reporter,
): Promise<number> {
  const where = formatHostPort(hostname, port);
  reporter.info(
    `PROBE ${where} (udp): ${options.count} probes "seq=N", one every ${options.intervalMs} ms`,
    "log",
    { server: where, count: options.count, intervalMs: options.intervalMs },
  );
  // ping stays silent while replies are missing; here a probe unanswered for 2 s is said once
  // (again only after the next reply, so a dead server gets one line, not one per probe).
  let sent = 0;
  let replies = 0;
  let silence: ReturnType<typeof setTimeout> | undefined;
  const waitFor = () => {
    clearTimeout(silence);
    silence = setTimeout(() =>
      reporter.warn(
        `no reply from ${where} for ${SLOW_WAIT_MS / 1000} s (${sent} of ${options.count} ` +
          `probes sent, ${replies} answered): still waiting, up to ${options.timeoutMs} ms ` +
          "after the last probe",
        "log",
        { sent, replies },
      ), SLOW_WAIT_MS);
  };
  const summary = await runProbes(hostname, port, {
    ...options,
    onSent: () => {
      if (++sent - replies === 1) waitFor();
    },
    onReply: ({ seq, kind, rttMs, bytes }) => {
      if (sent > ++replies) waitFor();
      else clearTimeout(silence);
      const note = kind === "ok" ? "" : ` (${kind})`;
      const time = rttMs === undefined ? "" : ` rtt=${formatMs(rttMs)} ms`;
      reporter.info(`reply seq=${seq}${time} ${bytes} bytes${note}`, "received", {
        seq,
        kind,
        rttMs,
        bytes,
      });
    },
  }).finally(() => clearTimeout(silence));
  // After Ctrl-C the summary still comes first (as ping's does), then exit 130.
  reporter.info(`--- ${where} udp statistics ---`, "stats", { server: where });
  reporter.info(formatSequenceSummary(summary), "stats", {
    sent: summary.sent,
    received: summary.received,
    lost: summary.lost,
    lossPercent: summary.lossPercent,
    duplicates: summary.duplicates,
    reordered: summary.reordered,
    unknown: summary.unknown,
  });
  reporter.info(formatSummary(summary.rtt), "stats", { rtt: summary.rtt });
  if (options.signal?.aborted) return EXIT.interrupted;
  return summary.received > 0 ? 0 : 1;
}

const USAGE = `Usage: deno task udp:client [--host HOST] [--port PORT] [--timeout MS] [--retries N]
       deno task udp:client --stats --count N [--interval MS] [--host HOST] [--port PORT]

Sends each line of stdin as one UDP datagram and prints each reply on its own line.
On a terminal: prompt ">>>: ", "quit" exits, a line that got no reply is reported as lost and
the next one is read. From a pipe: exit 0 at end of input, exit 1 at the first lost line.

Options:
  --host HOST     server address or host name (default 127.0.0.1; localhost works)
  --port PORT     server port (default 8080)
  --timeout MS    how long to wait for each reply (default 1000)
  --retries N     how many times to send again when no reply came (default 2)
  --json          newline-delimited JSON events instead of text
  --explain       show every datagram sent and received (hexdump)
  --stats         print each reply's round-trip time and, at the end, count, min, median, p99
                  and max
  --count N       like ping: send N numbered probes "seq=1" … "seq=N" (no stdin), match the
                  replies by sequence number, report loss, duplicates and reordering; exit 1
                  when no probe was answered
  --interval MS   time between probes with --count (default 1000)
  -h, --help      show this help

With --count, --timeout is how long to wait for replies after the last probe. A wait longer
than 2 s is announced on stderr. Ctrl-C prints the --stats/--count summary, then exits 130.`;

if (import.meta.main) await runMain(USAGE, main);
