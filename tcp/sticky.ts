/**
 * 粘包 ("sticky packets") happening on loopback, then seed 003's three fixes side by side.
 *
 * Seed idea (003): TCP sends a byte stream, 「消息之间没有边界」, and 「粘包是因为接受速度没有传输
 * 速度快」: a slow reader gets several sends glued into one read, and one big send comes out of
 * several reads. The seed's cures are 「追加一个结尾标志」 (an end marker), sending a 「数据结构」 (a
 * header that carries the length) and 「每次发送有一个时间间隔」 (sleeping between sends) — this
 * script shows the first breaking on a payload that contains the marker, the second recovering
 * every message (binary and Chinese included), and the third failing with a slow receiver.
 *
 * The script is its own client and server, so it can control who waits for whom: a "slow reader"
 * here is one that does not read until the writer says it has written everything (a promise, not
 * a sleep), which makes the result the same on every run.
 *
 * Run:   deno task tcp:sticky                  (= deno run -A tcp/sticky.ts)
 *        deno run -A tcp/sticky.ts --gap-ms 50 --big-write 1048576 --json
 * Poke:  glue two sends by hand with two netcats:
 *        nc -l 127.0.0.1 9000 | xxd              # receiver
 *        (printf hello; printf world) | nc -N 127.0.0.1 9000
 *        the receiver sees `helloworld` and cannot tell where `hello` ended.
 *
 * Size: five experiments and the report that explains each one, kept side by side in one file
 * so that every printed explanation stands next to the code that produced what it explains.
 */
import {
  CliError,
  formatAddr,
  interruptSignal,
  listeningLine,
  listenTcp,
  parseCli,
  parseCount,
  parsePort,
  resolveHostArgument,
  runMain,
  UsageError,
  userPath,
} from "./kit/cli.ts";
import { closeQuietly, writeAll } from "./core/io.ts";
import { quoteInput } from "./core/printable.ts";
import {
  chunkView,
  describeBytes as quoteBytes,
  explainBytes,
  type ExplainField,
  stickyView,
} from "./kit/explain.ts";
import { createReporter, type Reporter } from "./kit/report.ts";
import { type TimelinePanel, timelineSvg } from "./kit/svg.ts";
import {
  delimitedFrames,
  encodeDelimited,
  encodeLengthPrefixed,
  lengthPrefixedFrames,
} from "./core/framing.ts";
import { describeDelimited, describeLengthPrefixed } from "./core/framing_view.ts";
import { onAbort } from "./core/abort.ts";

/** The seed's end marker (its file transfer ends with `##` too). */
export const END_MARKER = "##";

const encoder = new TextEncoder();

/** Messages written one `write` each for the gluing demo. */
export const SMALL_MESSAGES: readonly string[] = ["hello", "world", "你好", "q"];

/** Messages for the fixes: Chinese, a payload containing the end marker, binary bytes. */
export const FIX_MESSAGES: readonly Uint8Array[] = [
  encoder.encode("hello"),
  encoder.encode("你好,服务器!"),
  encoder.encode("3##5"),
  Uint8Array.of(0x00, 0x01, 0xfe, 0xff),
  encoder.encode("q"),
];

/** Two ends of one loopback TCP connection; disposing closes both. */
export interface ConnPair extends Disposable {
  client: Deno.TcpConn;
  server: Deno.TcpConn;
}

/** Connects to `listener` and accepts that same connection. */
export async function connectedPair(listener: Deno.TcpListener): Promise<ConnPair> {
  const { hostname, port } = listener.addr;
  const [client, server] = await Promise.all([
    Deno.connect({ hostname, port }),
    listener.accept(),
  ]);
  return {
    client,
    server,
    [Symbol.dispose]() {
      closeQuietly(client);
      closeQuietly(server);
    },
  };
}

/** Milliseconds since `start` (a `performance.now()` reading), to the microsecond. */
function since(start: number): number {
  return Math.round((performance.now() - start) * 1000) / 1000;
}

/**
 * Reads raw chunks until EOF, one entry per `read()` call that returned data; `times` gets when
 * each read returned (ms since `start`).
 */
async function readChunks(
  conn: Deno.Conn,
  bufferSize = 64 * 1024,
  clock?: { start: number; times: number[] },
): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(bufferSize);
  for (let n; (n = await conn.read(buffer)) !== null;) {
    chunks.push(buffer.slice(0, n));
    clock?.times.push(since(clock.start));
  }
  return chunks;
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const frame of stream) out.push(frame);
  return out;
}

/** What the gluing demo saw: the writes made and the reads that came out. */
export interface GlueObservation {
  writes: Uint8Array[];
  reads: Uint8Array[];
  /** When each write returned and each read returned, in ms since the connection was made. */
  writeMs?: number[];
  readMs?: number[];
}

/**
 * Writes each message with its own `write`, then half-closes. The reader is slow: it waits until
 * the writer has finished before its first read, so the messages sit together in its receive
 * buffer and come out glued.
 */
export async function observeSmallWrites(
  listener: Deno.TcpListener,
  messages: readonly string[] = SMALL_MESSAGES,
): Promise<GlueObservation> {
  using pair = await connectedPair(listener);
  const start = performance.now();
  const writes = messages.map((m) => encoder.encode(m));
  const writeMs: number[] = [];
  for (const bytes of writes) {
    await writeAll(pair.client, bytes);
    writeMs.push(since(start));
  }
  await pair.client.closeWrite();
  // Only now does the reader start: everything written is already waiting for it.
  const readMs: number[] = [];
  const reads = await readChunks(pair.server, undefined, { start, times: readMs });
  return { writes, reads, writeMs, readMs };
}

/** What the big-write demo saw. */
export interface SplitObservation {
  size: number;
  readBufferSize: number;
  /** Bytes returned by each `read()`. */
  reads: number[];
}

/**
 * One big write, read by a reader whose buffer could hold all of it: the reads still come in
 * pieces, because the bytes arrive as the sender pushes them through the socket buffers.
 */
export async function observeBigWrite(
  listener: Deno.TcpListener,
  size = 4 * 1024 * 1024,
): Promise<SplitObservation> {
  using pair = await connectedPair(listener);
  const payload = Uint8Array.from({ length: size }, (_, i) => i & 0xff);
  // The reader is already waiting when the write starts.
  const reading = readChunks(pair.server, size);
  await writeAll(pair.client, payload);
  await pair.client.closeWrite();
  const reads = (await reading).map((chunk) => chunk.length);
  return { size, readBufferSize: size, reads };
}

/** What a framing experiment sent and what the receiver made of it. */
export interface FramingObservation {
  /** The messages. */
  sent: Uint8Array[];
  /** What the receiver's decoder made of the stream. */
  received: Uint8Array[];
  /** The framed bytes, one `write` each, and the raw chunks the receiver's reads returned. */
  writes: Uint8Array[];
  reads: Uint8Array[];
  /** When each write and each read returned, in ms since the connection was made. */
  writeMs: number[];
  readMs: number[];
}

/**
 * Writes each frame, half-closes, and only then lets the receiver read through `decoder`: the
 * worst case, every message glued into the receive buffer. The raw reads are recorded on the way
 * to the decoder.
 */
async function exchange(
  listener: Deno.TcpListener,
  messages: readonly Uint8Array[],
  frames: Uint8Array[],
  decoder: TransformStream<Uint8Array, Uint8Array>,
): Promise<FramingObservation> {
  using pair = await connectedPair(listener);
  const start = performance.now();
  const writeMs: number[] = [];
  for (const frame of frames) {
    await writeAll(pair.client, frame);
    writeMs.push(since(start));
  }
  await pair.client.closeWrite();
  const reads: Uint8Array[] = [];
  const readMs: number[] = [];
  const recordReads = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      reads.push(chunk.slice());
      readMs.push(since(start));
      controller.enqueue(chunk);
    },
  });
  const received = await collect(
    pair.server.readable.pipeThrough(recordReads).pipeThrough(decoder),
  );
  return { sent: [...messages], received, writes: frames, reads, writeMs, readMs };
}

/** Fix 1, done naively: append the end marker to each message without checking the payload. */
export async function sendWithEndMarker(
  listener: Deno.TcpListener,
  messages: readonly Uint8Array[] = FIX_MESSAGES,
  marker = END_MARKER,
): Promise<FramingObservation> {
  const markerBytes = encoder.encode(marker);
  const frames = messages.map((m) => {
    const framed = new Uint8Array(m.length + markerBytes.length);
    framed.set(m);
    framed.set(markerBytes, m.length);
    return framed;
  });
  return await exchange(listener, messages, frames, delimitedFrames(marker));
}

/** Which messages `encodeDelimited` refuses to frame with `marker`, and why. */
export function refusedByEndMarker(
  messages: readonly Uint8Array[] = FIX_MESSAGES,
  marker = END_MARKER,
): { message: Uint8Array; reason: string }[] {
  const refused: { message: Uint8Array; reason: string }[] = [];
  for (const message of messages) {
    try {
      encodeDelimited(message, marker);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      refused.push({ message, reason: error.message });
    }
  }
  return refused;
}

/** Fix 2: a 4-byte length header before each message (the seed's 「数据结构」). */
export async function sendWithLengthPrefix(
  listener: Deno.TcpListener,
  messages: readonly Uint8Array[] = FIX_MESSAGES,
): Promise<FramingObservation> {
  const frames = messages.map((m) => encodeLengthPrefixed(m));
  return await exchange(listener, messages, frames, lengthPrefixedFrames());
}

/** Options for `sendWithGaps`. */
export interface GapOptions {
  /** Sleep between sends, in milliseconds. */
  gapMs?: number;
  /** A slow reader starts reading only after the writer has finished. */
  slowReader?: boolean;
}

/**
 * Fix 3, the fragile one: raw messages with a sleep between sends. A reader that keeps up sees
 * one read per message (this time); a slow reader still gets them glued.
 */
export async function sendWithGaps(
  listener: Deno.TcpListener,
  messages: readonly Uint8Array[] = FIX_MESSAGES,
  { gapMs = 20, slowReader = false }: GapOptions = {},
): Promise<GlueObservation> {
  using pair = await connectedPair(listener);
  const writer = (async () => {
    for (const [i, m] of messages.entries()) {
      await writeAll(pair.client, m);
      // The "fix" under test: hoping the receiver reads before the next send arrives.
      if (i < messages.length - 1) await new Promise((r) => setTimeout(r, gapMs));
    }
    await pair.client.closeWrite();
  })();
  if (slowReader) await writer;
  const reads = await readChunks(pair.server);
  await writer;
  return { writes: [...messages], reads };
}

/** Everything the demo observed, in the order it prints it. */
export interface StickyReport {
  address: string;
  smallWrites: GlueObservation;
  bigWrite: SplitObservation;
  endMarker: FramingObservation & { refused: { message: Uint8Array; reason: string }[] };
  lengthPrefix: FramingObservation;
  gapMs: number;
  gapsFastReader: GlueObservation;
  gapsSlowReader: GlueObservation;
}

/** Options for `runStickyDemo`. */
export interface StickyOptions {
  hostname?: string;
  port?: number;
  gapMs?: number;
  bigWriteBytes?: number;
  /** Called with the listener's address before the experiments start. */
  onListening?: (addr: Deno.NetAddr) => void;
  signal?: AbortSignal;
}

/** Runs every experiment on one loopback listener and returns what happened. */
export async function runStickyDemo(options: StickyOptions = {}): Promise<StickyReport> {
  const { hostname = "127.0.0.1", port = 0, gapMs = 20, bigWriteBytes = 4 * 1024 * 1024 } = options;
  const listener = listenTcp({ hostname, port });
  options.onListening?.(listener.addr);
  // Ctrl-C closes the listener, which makes a pending accept fail and ends the demo.
  const stop = () => listener.close();
  onAbort(options.signal, stop);
  try {
    const smallWrites = await observeSmallWrites(listener);
    const bigWrite = await observeBigWrite(listener, bigWriteBytes);
    const endMarker = {
      ...await sendWithEndMarker(listener),
      refused: refusedByEndMarker(),
    };
    const lengthPrefix = await sendWithLengthPrefix(listener);
    const gapsFastReader = await sendWithGaps(listener, FIX_MESSAGES, { gapMs });
    const gapsSlowReader = await sendWithGaps(listener, FIX_MESSAGES, {
      gapMs,
      slowReader: true,
    });
    return {
      address: formatAddr(listener.addr),
      smallWrites,
      bigWrite,
      endMarker,
      lengthPrefix,
      gapMs,
      gapsFastReader,
      gapsSlowReader,
    };
  } finally {
    options.signal?.removeEventListener("abort", stop);
    closeQuietly(listener);
  }
}

/**
 * Bytes as a quoted string: printable UTF-8 as itself, every other byte as `\xNN`
 * (`"hello\x00\xff你好"`), so glued binary and text stay readable (tcp/kit/explain.ts does the work).
 */
export function describeBytes(bytes: Uint8Array): string {
  return quoteBytes(bytes);
}

function sameMessages(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  return a.length === b.length &&
    a.every((m, i) => m.length === b[i].length && m.every((byte, j) => byte === b[i][j]));
}

const list = (items: readonly Uint8Array[]) => items.map((bytes) => describeBytes(bytes)).join(" ");

/** Prints the report as the teaching transcript (or JSON events). */
export function printReport(report: StickyReport, out: Reporter): void {
  const { smallWrites, bigWrite, endMarker, lengthPrefix } = report;

  const glued = smallWrites.reads.length < smallWrites.writes.length;
  out.info("1. 粘包: several small writes, a slow reader", "log", { part: "glue" });
  out.info(
    `   wrote ${smallWrites.writes.length} times: ${list(smallWrites.writes)}`,
    "sent",
    {
      part: "glue",
      sizes: smallWrites.writes.map((w) => w.length),
      writes: described(smallWrites.writes),
      timesMs: smallWrites.writeMs,
    },
  );
  explainEach(out, smallWrites.writes, "write", { part: "glue" });
  out.info(
    `   read ${smallWrites.reads.length} time(s): ${list(smallWrites.reads)}`,
    "received",
    {
      part: "glue",
      sizes: smallWrites.reads.map((r) => r.length),
      glued,
      reads: described(smallWrites.reads),
      timesMs: smallWrites.readMs,
    },
  );
  explainEach(out, smallWrites.reads, "read", { part: "glue" });
  out.info(
    glued
      ? "   -> the messages were glued together: the reader cannot tell where one ended"
      : "   -> no gluing this time (the reader was not slow enough)",
    "result",
    { part: "glue", glued },
  );
  out.explain(indent(stickyView(smallWrites.writes, smallWrites.reads)), { part: "glue" });

  const shown = bigWrite.reads.slice(0, 6).join(", ");
  const more = bigWrite.reads.length > 6 ? ", …" : "";
  out.info("2. One big write, a reader with a buffer big enough for all of it", "log", {
    part: "split",
  });
  out.info(
    `   wrote ${bigWrite.size} bytes in one writeAll; read them in ${bigWrite.reads.length} pieces (${shown}${more} bytes)`,
    "received",
    { part: "split", size: bigWrite.size, reads: bigWrite.reads },
  );
  out.explain(indent(stickyView([bigWrite.size], bigWrite.reads, { maxReads: 6 })), {
    part: "split",
  });

  out.info(
    `3. Seed 003's fixes, sending ${FIX_MESSAGES.length} messages: ${list(FIX_MESSAGES)}`,
    "log",
    { part: "fixes" },
  );
  const markerOk = sameMessages(endMarker.sent, endMarker.received);
  reportFramedExchange(out, `a) end marker "${END_MARKER}"`, "end-marker", endMarker);
  out.info(
    `      received ${endMarker.received.length}: ${list(endMarker.received)} -> ${
      markerOk ? "intact" : "BROKEN: a payload contained the marker"
    }`,
    "result",
    {
      fix: "end-marker",
      intact: markerOk,
      received: endMarker.received.map((bytes) => describeBytes(bytes)),
    },
  );
  for (const { message, reason } of endMarker.refused) {
    out.info(`      encodeDelimited refuses ${describeBytes(message)}: ${reason}`, "result", {
      fix: "end-marker",
      refused: reason,
    });
  }
  const prefixOk = sameMessages(lengthPrefix.sent, lengthPrefix.received);
  reportFramedExchange(out, "b) 4-byte length header", "length-prefix", lengthPrefix);
  out.info(
    `      received ${lengthPrefix.received.length}: ${list(lengthPrefix.received)} -> ${
      prefixOk ? "intact" : "BROKEN"
    }`,
    "result",
    {
      fix: "length-prefix",
      intact: prefixOk,
      received: lengthPrefix.received.map((bytes) => describeBytes(bytes)),
    },
  );
  const fast = report.gapsFastReader.reads.length;
  const slow = report.gapsSlowReader.reads.length;
  out.info(
    `   c) sleep ${report.gapMs} ms between sends: a reader that keeps up made ${fast} read(s)${
      fast === FIX_MESSAGES.length ? " (it happened to work)" : ""
    }; a slow reader made ${slow} read(s): ${list(report.gapsSlowReader.reads)}`,
    "result",
    { fix: "sleep", gapMs: report.gapMs, fastReads: fast, slowReads: slow },
  );
  out.info(
    `      -> ${
      slow < FIX_MESSAGES.length ? "glued again" : "not glued this time"
    }: sleeping only helps if the receiver is fast, so it is not a fix`,
    "result",
    { fix: "sleep", glued: slow < FIX_MESSAGES.length },
  );
  out.explain(
    indent(
      stickyView(report.gapsFastReader.writes, report.gapsFastReader.reads, {
        title: "粘包 view, sleeping, a reader that keeps up",
      }),
    ),
    { fix: "sleep", reader: "fast" },
  );
  out.explain(
    indent(
      stickyView(report.gapsSlowReader.writes, report.gapsSlowReader.reads, {
        title: "粘包 view, sleeping, a slow reader",
      }),
    ),
    { fix: "sleep", reader: "slow" },
  );
}

const described = (items: readonly Uint8Array[]) => items.map((bytes) => describeBytes(bytes));

/** Under --explain: every write's or read's bytes (hexdump), one `explain` event each. */
function explainEach(
  out: Reporter,
  chunks: readonly Uint8Array[],
  direction: "write" | "read",
  fields: Record<string, unknown>,
  annotate?: (bytes: Uint8Array) => ExplainField[],
): void {
  if (!out.explaining) return;
  chunks.forEach((bytes, i) => {
    const heading = `${direction} #${i + 1}: ${bytes.length} bytes`;
    const view = annotate
      ? explainBytes(bytes, annotate(bytes), { title: heading })
      : chunkView(heading, bytes);
    out.explain(indent(view), { ...fields, direction, index: i + 1, bytes: bytes.length });
  });
}

/** A framing fix's writes (each frame annotated under --explain) and the reads they became. */
function reportFramedExchange(
  out: Reporter,
  title: string,
  fix: "end-marker" | "length-prefix",
  seen: FramingObservation,
): void {
  out.info(`   ${title}: wrote ${seen.writes.length} times: ${list(seen.writes)}`, "sent", {
    fix,
    sizes: seen.writes.map((w) => w.length),
    writes: described(seen.writes),
    timesMs: seen.writeMs,
  });
  explainEach(
    out,
    seen.writes,
    "write",
    { fix },
    (frame) =>
      fix === "end-marker" ? describeDelimited(frame, END_MARKER) : describeLengthPrefixed(frame),
  );
  out.info(`      read ${seen.reads.length} time(s): ${list(seen.reads)}`, "received", {
    fix,
    sizes: seen.reads.map((r) => r.length),
    reads: described(seen.reads),
    timesMs: seen.readMs,
  });
  explainEach(out, seen.reads, "read", { fix });
}

function indent(view: string): string {
  return view.split("\n").map((line) => `   ${line}`).join("\n");
}

/** A timeline panel from observed writes and reads (bytes or sizes). */
export function timelinePanel(
  title: string,
  writes: readonly (Uint8Array | number)[],
  reads: readonly (Uint8Array | number)[],
): TimelinePanel {
  const item = (x: Uint8Array | number) =>
    typeof x === "number"
      ? { size: x }
      : { size: x.length, label: quoteBytes(x, { maxBytes: 32 }) };
  return { title, writes: writes.map(item), reads: reads.map(item) };
}

/** The `--svg` picture: writes vs reads of the gluing, the big write and the sleep "fix". */
export function stickySvg(report: StickyReport): string {
  return timelineSvg([
    timelinePanel(
      "1. small writes, a slow reader (glued)",
      report.smallWrites.writes,
      report.smallWrites.reads,
    ),
    timelinePanel("2. one big write (split)", [report.bigWrite.size], report.bigWrite.reads),
    timelinePanel(
      `3c. sleep ${report.gapMs} ms between sends, a reader that keeps up`,
      report.gapsFastReader.writes,
      report.gapsFastReader.reads,
    ),
    timelinePanel(
      `3c. sleep ${report.gapMs} ms between sends, a slow reader`,
      report.gapsSlowReader.writes,
      report.gapsSlowReader.reads,
    ),
  ], { title: "TCP 粘包: writes (top) vs reads (bottom), by stream byte offset" });
}

/** The command line: flags → `runStickyDemo` → transcript. */
export async function main(args: string[]): Promise<number> {
  const { values } = parseCli(args, {
    host: { type: "string" },
    port: { type: "string" },
    "gap-ms": { type: "string" },
    "big-write": { type: "string" },
    json: { type: "boolean" },
    explain: { type: "boolean" },
    svg: { type: "string" },
  });
  if (values.svg === "") throw new UsageError(`Invalid --svg "": expected a file name`);
  const out = createReporter("tcp/sticky", { json: values.json, explain: values.explain });
  using signal = interruptSignal();
  try {
    const report = await runStickyDemo({
      hostname: await resolveHostArgument(values.host ?? "127.0.0.1"),
      port: parsePort(values.port, 0),
      gapMs: parseCount(values["gap-ms"], 20, "--gap-ms", { min: 0, max: 1000 }),
      bigWriteBytes: parseCount(values["big-write"], 4 * 1024 * 1024, "--big-write", {
        max: 64 * 1024 * 1024,
      }),
      onListening: (addr) =>
        out.info(listeningLine(addr), "listening", { address: formatAddr(addr) }),
      signal,
    });
    printReport(report, out);
    if (values.svg !== undefined) {
      try {
        // The path is taken from where the user ran `deno task`, shown as typed.
        await Deno.writeTextFile(userPath(values.svg), stickySvg(report));
      } catch (error) {
        throw new CliError(`Cannot write ${quoteInput(values.svg)}: ${(error as Error).message}`);
      }
      out.info(`wrote the timeline to ${values.svg}`, "saved", { file: values.svg });
    }
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw error;
  }
  return 0;
}

export const USAGE = `Usage: deno task tcp:sticky [options]

Shows TCP 粘包 on loopback (small writes glued into one read, one big write read in pieces),
then seed 003's fixes side by side: end marker, length header, sleep between sends.

Options:
  --host HOST       address to listen on (default 127.0.0.1)
  --port PORT       port to listen on (default 0 = any free port)
  --gap-ms N        sleep between sends in the "time interval" fix (default 20, max 1000)
  --big-write N     bytes in the one big write (default 4194304, max 67108864)
  --json            newline-delimited JSON events instead of text
  --explain         the bytes of every write and read of parts 1 and 3a-b (each frame
                    annotated), and after each experiment the 粘包 view: which write ended
                    up in which read
  --svg FILE        draw the writes-vs-reads timelines as an SVG picture into FILE
  -h, --help        show this help`;

if (import.meta.main) await runMain(USAGE, main);
