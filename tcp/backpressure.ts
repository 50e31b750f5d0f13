/**
 * A write blocks when the buffers are full: watch the writer stall while the reader stops reading.
 *
 * Seed idea (003, recv/send traits): 「当缓冲区为满则堵塞」 — send() does not put bytes on the
 * wire, it copies them into the kernel's send buffer; when that buffer and the peer's receive
 * buffer are full (the peer is not reading), send() waits. TCP's flow control reaches the writer
 * as a write that does not finish, so a fast writer can never bury a slow reader in data.
 *
 * A reader (server) reads the first part, then stops reading for a while; a writer (client)
 * writes in 64 KiB pieces and reports the one write that waits, with the bytes the kernel holds
 * meanwhile (the writer's send queue and the reader's receive queue, as `ss -tn` shows them).
 * When the reader reads again, the write finishes and the rest flows.
 *
 * Run:   deno task tcp:backpressure                 (= deno run -A tcp/backpressure.ts)
 *        deno task tcp:backpressure --stall-ms 3000 --bytes 33554432 --json
 * Poke:  `ss -tn` while the writer waits: Send-Q and Recv-Q are the two queues below.
 */
import {
  formatAddr,
  listenTcp,
  parseCli,
  parseCount,
  parsePort,
  resolveHostArgument,
  runMain,
} from "./kit/cli.ts";
import { createReporter, type Reporter } from "./kit/report.ts";
import { readTcpTable } from "./core/tcp_table.ts";

export const USAGE = `Usage: deno task tcp:backpressure [options]

A writer sends --bytes in 64 KiB writes to a reader that stops reading after the first MiB for
--stall-ms; the writer's next write waits until the reader reads again.

Options:
  --host HOST        address to listen on (default 127.0.0.1)
  --port PORT        the reader's port (default 0 = any free port)
  --bytes N          bytes to send (default 16777216 = 16 MiB, at most 268435456)
  --stall-ms MS      how long the reader stops reading (default 2000, at most 10000)
  --json             newline-delimited JSON events instead of text
  -h, --help         show this help`;

const WRITE_SIZE = 64 * 1024;
/** The reader reads this much before it stops. */
const READ_BEFORE_STALL = 1024 * 1024;
/** A write still pending after this long is reported as blocked. */
const BLOCKED_AFTER_MS = 200;

const MiB = 1024 * 1024;
function size(bytes: number): string {
  return bytes >= MiB ? `${(bytes / MiB).toFixed(1)} MiB` : `${Math.round(bytes / 1024)} KiB`;
}

/** What the lesson measured. */
export interface BackpressureReport {
  written: number;
  read: number;
  /** The write that waited for the reader (its number, 1-based), if any. */
  blockedWrite?: number;
  /** How long it waited, in ms. */
  blockedMs?: number;
  /** Bytes held by the kernel while it waited: writer's send queue + reader's receive queue. */
  sendQueue?: number;
  receiveQueue?: number;
}

/** The reader: reads the first MiB, stops for `stallMs`, then reads to EOF. */
async function reader(conn: Deno.Conn, stallMs: number, out: Reporter): Promise<number> {
  const buffer = new Uint8Array(256 * 1024);
  let read = 0;
  let stalled = false;
  while (true) {
    const n = await conn.read(buffer);
    if (n === null) break;
    read += n;
    if (!stalled && read >= READ_BEFORE_STALL) {
      stalled = true;
      out.info(`reader: read ${size(read)}, now stops reading for ${stallMs} ms`, "log");
      await new Promise((resolve) => setTimeout(resolve, stallMs));
      out.info("reader: reads again", "log");
    }
  }
  conn.close();
  return read;
}

/** Runs the writer against a reader on `hostname:port` and reports through `out`. */
export async function runBackpressure(
  out: Reporter,
  { hostname = "127.0.0.1", port = 0, bytes = 16 * MiB, stallMs = 2000 } = {},
): Promise<BackpressureReport> {
  const listener = listenTcp({ hostname, port });
  const where = formatAddr(listener.addr);
  out.info(`listening on ${where} (the reader)`, "listening", { address: where });
  const accepted = listener.accept();
  const writer = await Deno.connect({ hostname, port: listener.addr.port });
  const readerConn = await accepted;
  listener.close();
  const reading = reader(readerConn, stallMs, out);
  out.info(`writer: connected; writing ${size(bytes)} in ${size(WRITE_SIZE)} writes`, "connected");
  const report: BackpressureReport = { written: 0, read: 0 };
  const piece = new Uint8Array(WRITE_SIZE).fill(0x61);
  try {
    for (let index = 1; report.written < bytes; index++) {
      const chunk = piece.subarray(0, Math.min(WRITE_SIZE, bytes - report.written));
      const started = performance.now();
      let done = false;
      const writing = (async () => {
        let sent = 0;
        while (sent < chunk.length) sent += await writer.write(chunk.subarray(sent));
        done = true;
      })();
      if (report.blockedWrite === undefined) {
        const timer = new Promise((resolve) => setTimeout(resolve, BLOCKED_AFTER_MS));
        await Promise.race([writing, timer]);
        if (!done) {
          const ends = { writer: writer.localAddr.port, reader: listener.addr.port };
          const row = (localPort: number, remotePort: number) =>
            readTcpTable({ localPort, remotePort }).find((r) => r.state === "ESTABLISHED");
          const sendQueue = row(ends.writer, ends.reader)?.txQueue ?? 0;
          const receiveQueue = row(ends.reader, ends.writer)?.rxQueue ?? 0;
          Object.assign(report, { blockedWrite: index, sendQueue, receiveQueue });
          out.info(
            `writer: write #${index} is blocked (${BLOCKED_AFTER_MS} ms and waiting) after ` +
              `${size(report.written)}: the kernel holds ${size(sendQueue + receiveQueue)} — ` +
              `${size(sendQueue)} in the writer's send queue, ${size(receiveQueue)} in the ` +
              `reader's receive queue`,
            "result",
            { write: index, written: report.written, sendQueue, receiveQueue },
          );
        }
      }
      await writing;
      if (report.blockedWrite === index) {
        report.blockedMs = Math.round(performance.now() - started);
        out.info(`writer: write #${index} finished after ${report.blockedMs} ms`, "result", {
          write: index,
          ms: report.blockedMs,
        });
      }
      report.written += chunk.length;
    }
    await writer.closeWrite();
  } finally {
    report.read = await reading;
    writer.close();
  }
  out.info(
    `writer: all ${size(report.written)} written; the reader got ${size(report.read)}`,
    "result",
    { written: report.written, read: report.read },
  );
  return report;
}

/** `deno task tcp:backpressure …`. */
export async function main(args: string[]): Promise<number> {
  const { values } = parseCli(args, {
    host: { type: "string" },
    port: { type: "string" },
    bytes: { type: "string" },
    "stall-ms": { type: "string" },
    json: { type: "boolean" },
  });
  const out = createReporter("tcp/backpressure", { json: values.json });
  const port = parsePort(values.port, 0);
  const bytes = parseCount(values.bytes, 16 * MiB, "--bytes", { min: 2 * MiB, max: 256 * MiB });
  const stallMs = parseCount(values["stall-ms"], 2000, "--stall-ms", { min: 500, max: 10_000 });
  const hostname = await resolveHostArgument(values.host ?? "127.0.0.1");
  const report = await runBackpressure(out, { hostname, port, bytes, stallMs });
  return report.read === report.written ? 0 : 1;
}

if (import.meta.main) await runMain(USAGE, main);
