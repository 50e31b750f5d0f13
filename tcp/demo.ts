/**
 * The TCP round trip in one process: the upper-case echo server's engine (tcp/core/echo.ts, what
 * tcp/server.ts runs) on an ephemeral port and a client (tcp/core/echo_client.ts, what
 * tcp/client.ts runs) that sends ASCII, Chinese and seed 004's `q`, with both sides' view printed
 * along seed 001's five server steps (create → bind → listen → accept → exchange → close).
 *
 *   deno task tcp:demo        (also `deno task demo` for now)
 *   deno run -A tcp/demo.ts
 *
 * To do the same by hand: `deno task tcp:server` in one terminal, then `deno task tcp:client` (or
 * `nc 127.0.0.1 8080`) in another.
 */
import { formatAddr, parseCli, runMain, UsageError } from "./kit/cli.ts";
import { createReporter, type Reporter } from "./kit/report.ts";
import { acceptLoop } from "./core/accept.ts";
import { describeSessionEnd, serveConnection } from "./core/echo.ts";
import { exchange } from "./core/echo_client.ts";
import { peerName, SessionNarrator } from "./kit/echo_explain.ts";

const USAGE = `Usage: deno task tcp:demo [--json] [--explain]

Starts the upper-case echo server on 127.0.0.1 (ephemeral port) and a client in this one process,
sends "hello netlab", "你好" and "q", and prints what each side sees. Exits 0.

Options:
  --json       newline-delimited JSON events instead of text
  --explain    also show the server's every read and write (hexdump) as it happens
  -h, --help   show this help`;

/** How long the whole demo may take before it gives up (it normally needs a few milliseconds). */
const DEMO_DEADLINE_MS = 10_000;

/** Runs the round trip, reporting through `reporter`; resolves once both sides are closed. */
export async function runDemo(reporter: Reporter, messages = ["hello netlab", "你好"]) {
  const say = (side: "server" | "client", text: string, event: string, fields = {}) =>
    reporter.info(`[${side}] ${text}`, event, { side, ...fields });
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();

  // Steps 1–3: Deno.listen creates the socket, binds it (port 0: the kernel picks a free port,
  // SO_REUSEADDR already set) and listens with a backlog, all in one call.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const address = formatAddr(listener.addr);
  say("server", `1-3. create + bind + listen: listening on ${address}`, "listening", { address });

  // Steps 4–6, the server's side: accept one client, echo until it leaves, close.
  const serving = acceptLoop(listener, async (conn) => {
    const peer = peerName(conn);
    say("server", `4. accept: connected ${peer} (#1)`, "connected", { id: 1, peer });
    const trace = reporter.explaining
      ? new SessionNarrator(reporter, "upper", false).accepted(conn, 1)
      : undefined;
    const summary = await serveConnection(conn, {
      trace,
      onData: (chunk) =>
        say(
          "server",
          `5. exchange: received ${chunk.length} bytes, sending them back upper-cased`,
          "received",
          { bytes: chunk.length },
        ),
    });
    trace?.closed(summary);
    const text = `disconnected ${peer} (#1): ${describeSessionEnd(summary)}`;
    if (summary.reason === "error") {
      reporter.warn(`[server] ${text}`, "disconnected", { id: 1, peer, ...summary });
    } else say("server", `6. close: ${text}`, "disconnected", { id: 1, peer, ...summary });
  }, { once: true });

  try {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: (listener.addr as Deno.NetAddr).port,
    });
    try {
      say("client", `connected from ${formatAddr(conn.localAddr)} to ${address}`, "connected");
      for (const message of messages) {
        const bytes = encoder.encode(message);
        say("client", `send ${JSON.stringify(message)} (${bytes.length} bytes)`, "sent", {
          bytes: bytes.length,
        });
        // The client reads until as many bytes as it sent are back: one message, one reply.
        const reply = decoder.decode(await exchange(conn, bytes));
        say("client", `got  ${JSON.stringify(reply)}`, "received", { reply });
      }
      say("client", `send "q" (seed 004: I am leaving; no reply expected)`, "sent", { bytes: 1 });
      await conn.write(encoder.encode("q"));
      // The server ends the session on "q" and closes; the client sees EOF (read → null).
      const eof = await conn.read(new Uint8Array(16));
      say(
        "client",
        eof === null ? "server closed the connection (EOF)" : "unexpected data",
        eof === null ? "disconnected" : "received",
      );
    } finally {
      conn.close();
    }
    await serving;
  } finally {
    listener.close();
  }
  say("server", "listener closed", "log");
}

/** `deno task tcp:demo`. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args, {
    json: { type: "boolean" },
    explain: { type: "boolean" },
  });
  if (positionals.length) throw new UsageError(`Unexpected argument "${positionals[0]}"`);
  const reporter = createReporter("tcp/demo", { json: values.json, explain: values.explain });
  const deadline = setTimeout(() => {
    reporter.warn(`demo did not finish within ${DEMO_DEADLINE_MS} ms`, "error");
    Deno.exit(1);
  }, DEMO_DEADLINE_MS);
  try {
    await runDemo(reporter);
  } finally {
    clearTimeout(deadline);
  }
  return 0;
}

if (import.meta.main) await runMain(USAGE, main);
