/**
 * `deno task bench udp [--quick]`: the UDP echo server against a minimal Node `dgram` echo server,
 * same machine, same run, same Deno client.
 *
 * 1. Round trips: 64-byte datagrams, 32 outstanding (each reply sends the next datagram), through
 *    `udp/server.ts --quiet` and `node -e` dgram echo; best of three interleaved rounds. Also the
 *    server process's CPU time per round trip (from /proc), which a busy machine disturbs less.
 *    The client must outrun both servers, or it measures itself: on Linux it reflects each burst
 *    of replies with one recvmmsg + one sendmmsg (`tcp/linux/mmsg.ts`, through udp/core/serve_datagrams.ts); a per-datagram Deno client
 *    tops out near Node's server rate (~125k rt/s here), which hid any server difference.
 * 2. One-way receive rate before loss starts: a Deno sender offers 64-byte datagrams at rising
 *    paced rates to a counting sink (Deno `listenDatagram` vs Node `dgram`); the highest rate the
 *    sink received without loss (≤ 0.1 %) is reported.
 *
 * Bounded: every phase has a datagram count and a time limit; all traffic is on 127.0.0.1.
 */
import type { BenchContext, BenchRow, BenchSuite } from "../_bench.ts";
import { DatagramBatch } from "../../../tcp/linux/mmsg.ts";
import { hasCommand, type RunningScript, startCommand, startScript } from "../../_helpers.ts";

const PAYLOAD_BYTES = 64;
const OUTSTANDING = 32;
const ROUNDS = 3;
/** Datagrams sent back to back at most, when pacing the one-way load. */
const MAX_BURST = 16;

const NODE_ECHO = `const s = require("dgram").createSocket("udp4");
s.on("message", (m, r) => s.send(m, r.port, r.address));
s.bind(0, "127.0.0.1", () => console.log("listening on udp 127.0.0.1:" + s.address().port));
process.on("SIGINT", () => process.exit(0));`;

/**
 * Counts datagrams; a 1-byte datagram (a tag) asks for the running total (reply: "TAG TOTAL").
 * The total never resets and replies carry the question's tag, so a question or an answer lost
 * in a flood is simply asked again: nothing is miscounted.
 */
const DENO_SINK =
  `const conn = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
console.log("listening on udp 127.0.0.1:" + conn.addr.port);
Deno.addSignalListener("SIGINT", () => Deno.exit(0));
const buffer = new Uint8Array(2048);
let count = 0;
while (true) {
  const [data, from] = await conn.receive(buffer);
  if (data.length !== 1) { count++; continue; }
  await conn.send(new TextEncoder().encode(data[0] + " " + count), from);
}`;

const NODE_SINK = `const s = require("dgram").createSocket("udp4");
let count = 0;
s.on("message", (m, r) => {
  if (m.length !== 1) { count++; return; }
  s.send(m[0] + " " + count, r.port, r.address);
});
s.bind(0, "127.0.0.1", () => console.log("listening on udp 127.0.0.1:" + s.address().port));
process.on("SIGINT", () => process.exit(0));`;

/** CPU time (user + system) a process has used so far, in seconds, from /proc (Linux). */
function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

interface RoundTripResult {
  perSecond: number;
  /** Server CPU microseconds per round trip, when /proc is readable. */
  cpuMicros?: number;
}

/**
 * Keeps `OUTSTANDING` 64-byte datagrams in flight to `port` until `count` replies have arrived or
 * `timeLimitMs` passed. A stall (a lost datagram leaves the window short) re-fills the window.
 */
export async function roundTrips(
  port: number,
  serverPid: number,
  { count, timeLimitMs }: { count: number; timeLimitMs: number },
): Promise<RoundTripResult> {
  const target: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port };
  const conn = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const payload = new Uint8Array(PAYLOAD_BYTES).fill(0x61);
  let received = 0;
  let done = false;
  let lastSeen = -1;
  const refill = setInterval(() => {
    if (received === lastSeen) { for (let i = 0; i < OUTSTANDING; i++) conn.send(payload, target); }
    lastSeen = received;
  }, 100);
  const cpuBefore = cpuSeconds(serverPid);
  const started = performance.now();
  const deadline = started + timeLimitMs;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => finish = resolve);
  // Several receives pending at once: one event-loop turn completes many of them.
  const loop = async () => {
    const buffer = new Uint8Array(2048);
    while (!done) {
      await conn.receive(buffer);
      received++;
      if (received >= count || (received % 1024 === 0 && performance.now() > deadline)) {
        done = true;
        finish();
        return;
      }
      conn.send(payload, target).catch(() => {});
    }
  };
  // The load generator must outrun both servers: on Linux it reflects every reply it finds queued
  // in one recvmmsg/sendmmsg (tcp/linux/mmsg.ts), so a server sees bursts, as a busy one would.
  const reflect = async (batch: DatagramBatch) => {
    const lengths = new Uint32Array(batch.capacity);
    while (!done) {
      const [first, from] = await conn.receive(batch.buffers[0]);
      batch.setPeer(0, from as Deno.NetAddr);
      const arrived = 1 + batch.receiveQueued(1);
      received += arrived;
      if (received >= count || performance.now() > deadline) {
        done = true;
        finish();
        return;
      }
      for (let i = 0; i < arrived; i++) {
        lengths[i] = i === 0 ? first.length : batch.datagram(i).length;
      }
      batch.reply(lengths, arrived);
    }
  };
  for (let i = 0; i < OUTSTANDING; i++) conn.send(payload, target).catch(() => {});
  const batch = DatagramBatch.open(conn);
  const loops = batch
    ? [reflect(batch).catch(() => {})]
    : Array.from({ length: 4 }, () => loop().catch(() => {}));
  const watchdog = setTimeout(() => {
    done = true;
    finish();
  }, timeLimitMs + 2000);
  await finished;
  const seconds = (performance.now() - started) / 1000;
  const cpuAfter = cpuSeconds(serverPid);
  clearTimeout(watchdog);
  clearInterval(refill);
  conn.close();
  await Promise.all(loops);
  return {
    perSecond: received / seconds,
    cpuMicros: cpuBefore === undefined || cpuAfter === undefined
      ? undefined
      : (cpuAfter - cpuBefore) * 1e6 / received,
  };
}

/** Asks a sink for its running total, again (up to 5 times) while question or answer is lost. */
class SinkCounter {
  #pending?: Promise<[Uint8Array, Deno.Addr]>;
  #tag = 0;
  constructor(readonly conn: Deno.DatagramConn, readonly sink: Deno.NetAddr) {}

  async total(): Promise<number> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const tag = this.#tag = (this.#tag + 1) % 256;
      await this.conn.send(new Uint8Array([tag]), this.sink);
      const deadline = performance.now() + 1000;
      for (let reply; (reply = await this.#receiveUntil(deadline));) {
        const [replyTag, total] = new TextDecoder().decode(reply).split(" ").map(Number);
        if (replyTag === tag) return total;
      }
    }
    throw new Error("the sink did not answer 5 times");
  }

  /** The next datagram, or undefined at `deadline`; a receive still pending is reused. */
  async #receiveUntil(deadline: number): Promise<Uint8Array | undefined> {
    const pending = this.#pending ??= this.conn.receive();
    pending.catch(() => {}); // closed at the end while pending
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - performance.now()));
    });
    try {
      const result = await Promise.race([pending, late]);
      if (!result) return undefined;
      this.#pending = undefined;
      return result[0];
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Offers `rate` datagrams/s for `stepMs` in small paced bursts; returns what the sink counted. */
async function offer(
  counter: SinkCounter,
  payload: Uint8Array,
  rate: number,
  stepMs: number,
): Promise<{ sent: number; got: number; seconds: number }> {
  const { conn, sink } = counter;
  const before = await counter.total();
  let sent = 0;
  const started = performance.now();
  while (performance.now() - started < stepMs) {
    const due = Math.floor(rate * (performance.now() - started) / 1000);
    if (sent >= due) {
      await new Promise((resolve) => setTimeout(resolve, 1)); // ahead of schedule: pace
      continue;
    }
    // Small bursts: a large one would overflow the sink's socket buffer at any rate.
    const burst: Promise<number>[] = [];
    for (const end = Math.min(due, sent + MAX_BURST); sent < end; sent++) {
      burst.push(conn.send(payload, sink));
    }
    await Promise.all(burst);
  }
  const seconds = (performance.now() - started) / 1000;
  return { sent, got: (await counter.total()) - before, seconds };
}

/**
 * Offers datagrams at rising rates (paced in 1 ms bursts for `stepMs` each) and returns the highest
 * rate the sink received with at most 0.1 % loss, and the rate it actually received at the first
 * lossy step.
 */
async function receiveRateBeforeLoss(
  port: number,
  { rates, stepMs }: { rates: number[]; stepMs: number },
): Promise<{ lossless: number; saturated?: number }> {
  const sink: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port };
  const conn = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const payload = new Uint8Array(PAYLOAD_BYTES).fill(0x61);
  let lossless = 0;
  let saturated: number | undefined;
  try {
    const counter = new SinkCounter(conn, sink);
    for (const rate of rates) {
      // Two tries per step: one scheduling hiccup on a shared machine should not end the climb.
      let best = 0;
      let sentRate = 0;
      for (let attempt = 0; attempt < 2 && best < 0.999; attempt++) {
        const { sent, got, seconds } = await offer(counter, payload, rate, stepMs);
        if (got / sent > best) {
          best = got / sent;
          sentRate = sent / seconds;
          saturated = got / seconds;
        }
      }
      if (best < 0.999) break;
      lossless = sentRate;
      saturated = undefined;
    }
  } finally {
    conn.close();
  }
  return { lossless, saturated };
}

async function stopAll(processes: (RunningScript | undefined)[]): Promise<void> {
  for (const p of processes) await p?.stop();
}

async function runRoundTrips(ctx: BenchContext): Promise<BenchRow[]> {
  const count = ctx.quick ? 60_000 : 400_000;
  const timeLimitMs = ctx.quick ? 2_000 : 8_000;
  const ours = await startScript("udp/server.ts", ["--port", "0", "--quiet"]);
  const node = hasCommand("node") ? await startCommand("node", ["-e", NODE_ECHO]) : undefined;
  const best = { ours: 0, node: 0, oursCpu: Infinity, nodeCpu: Infinity };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const a = await roundTrips(ours.port, ours.child.pid, { count, timeLimitMs });
      best.ours = Math.max(best.ours, a.perSecond);
      best.oursCpu = Math.min(best.oursCpu, a.cpuMicros ?? Infinity);
      let line = `round ${round + 1}: udp/server.ts ${Math.round(a.perSecond)} rt/s`;
      if (node) {
        const b = await roundTrips(node.port, node.child.pid, { count, timeLimitMs });
        best.node = Math.max(best.node, b.perSecond);
        best.nodeCpu = Math.min(best.nodeCpu, b.cpuMicros ?? Infinity);
        line += `, node dgram ${Math.round(b.perSecond)} rt/s`;
      }
      ctx.log(line);
    }
  } finally {
    await stopAll([ours, node]);
  }
  const capability = "UDP echo (udp/server.ts --quiet), 64 B, 32 outstanding";
  if (!node) {
    return [{
      capability,
      metric: "round trips",
      ours: best.ours,
      referenceName: "Node dgram",
      unit: "rt/s",
      target: "≥ 1.2×",
      skipped: "node not installed",
    }];
  }
  const rows: BenchRow[] = [{
    capability,
    metric: "round trips",
    ours: best.ours,
    reference: best.node,
    referenceName: "Node dgram",
    unit: "rt/s",
    target: "≥ 1.2×",
  }];
  if (Number.isFinite(best.oursCpu) && Number.isFinite(best.nodeCpu)) {
    rows.push({
      capability,
      metric: "server CPU per round trip",
      ours: best.oursCpu,
      reference: best.nodeCpu,
      referenceName: "Node dgram",
      unit: "µs",
      lowerIsBetter: true,
    });
  }
  return rows;
}

async function runOneWay(ctx: BenchContext): Promise<BenchRow[]> {
  const rates = ctx.quick
    ? [10_000, 25_000, 50_000, 75_000, 100_000, 150_000, 200_000]
    : [10_000, 25_000, 50_000, 75_000, 100_000, 125_000, 150_000, 200_000, 250_000, 300_000];
  const stepMs = ctx.quick ? 300 : 1_000;
  const deno = await startCommand(Deno.execPath(), ["eval", DENO_SINK]);
  const node = hasCommand("node") ? await startCommand("node", ["-e", NODE_SINK]) : undefined;
  try {
    const a = await receiveRateBeforeLoss(deno.port, { rates, stepMs });
    const describe = (r: { lossless: number; saturated?: number }) =>
      `lossless up to ${Math.round(r.lossless)}/s, then received ${
        r.saturated === undefined ? "everything offered" : `${Math.round(r.saturated)}/s`
      }`;
    ctx.log(`deno sink: ${describe(a)}`);
    const b = node ? await receiveRateBeforeLoss(node.port, { rates, stepMs }) : undefined;
    if (b) {
      ctx.log(`node sink: ${describe(b)}`);
    }
    return [{
      capability: "UDP one-way receive (Deno listenDatagram sink), 64 B",
      metric: "rate before loss",
      ours: a.lossless,
      reference: b?.lossless,
      referenceName: "Node dgram sink",
      unit: "dgram/s",
      ...(node ? {} : { skipped: "node not installed" }),
    }];
  } finally {
    await stopAll([deno, node]);
  }
}

export const suite: BenchSuite = {
  name: "udp",
  description: "UDP echo round trips and one-way receive rate vs Node dgram",
  async run(ctx) {
    return [...await runRoundTrips(ctx), ...await runOneWay(ctx)];
  },
};
