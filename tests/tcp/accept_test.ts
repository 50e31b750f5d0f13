/**
 * tcp/core/accept.ts: the one accept loop. In-process with a scripted listener (every failure
 * kind, the back-off, one report per episode), then the real echo server in a child process whose
 * `ulimit -n` is low, run out of descriptors by real connections: it pauses instead of spinning,
 * says so once, keeps serving the clients it has, and serves again as soon as one leaves.
 */
import assert from "node:assert/strict";
import { ACCEPT_PAUSE_MAX_MS, ACCEPT_PAUSE_MIN_MS, acceptLoop } from "../../tcp/core/accept.ts";
import { exchange } from "../../tcp/core/echo_client.ts";
import { hasCommand, startCommand } from "../_helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An error like the one Deno's accept throws when the process is out of descriptors. */
function emfile(): Error {
  return Object.assign(new Error("Too many open files (os error 24)"), { code: "EMFILE" });
}

/** A listener whose accepts follow a script: an error to throw, or a connection to return. */
function scriptedListener(steps: (Error | Deno.Conn)[]): Deno.Listener {
  const listener = {
    accept(): Promise<Deno.Conn> {
      const step = steps.shift() ?? new Deno.errors.BadResource("listener closed");
      return step instanceof Error ? Promise.reject(step) : Promise.resolve(step);
    },
  };
  return listener as unknown as Deno.Listener;
}

const fakeConn = (id: number) => ({ rid: id }) as unknown as Deno.Conn;

Deno.test("acceptLoop reports running out of descriptors once, backs off, and reports the recovery", async () => {
  const handled: Deno.Conn[] = [];
  const reports: string[] = [];
  const started = performance.now();
  await acceptLoop(
    scriptedListener([fakeConn(1), emfile(), emfile(), emfile(), emfile(), fakeConn(2)]),
    (conn) => void handled.push(conn),
    {
      onExhausted: (error) => reports.push(`exhausted: ${error.message}`),
      onRecovered: (failures, pausedMs) => reports.push(`recovered: ${failures} ${pausedMs > 0}`),
      onError: (error) => reports.push(`error: ${error.message}`),
    },
  );
  const elapsed = performance.now() - started;
  assert.deepEqual(handled, [fakeConn(1), fakeConn(2)]);
  assert.deepEqual(reports, [
    "exhausted: Too many open files (os error 24)",
    "recovered: 4 true",
  ]);
  // Four pauses, doubling from the shortest: 5 + 10 + 20 + 40 ms, not a spin.
  const backoff = [0, 1, 2, 3].reduce((sum, i) => sum + ACCEPT_PAUSE_MIN_MS * 2 ** i, 0);
  assert.ok(elapsed >= backoff - 1, `${elapsed} ms`);
});

Deno.test("acceptLoop: other failures are reported and retried, a throwing handler does not stop it", async () => {
  const reports: string[] = [];
  await acceptLoop(
    scriptedListener([new Deno.errors.ConnectionAborted("aborted"), fakeConn(1), fakeConn(2)]),
    (conn) => {
      if ((conn as unknown as { rid: number }).rid === 1) throw new Error("handler failed");
    },
    { onError: (error) => reports.push(error.message), onExhausted: () => reports.push("?") },
  );
  assert.deepEqual(reports, ["aborted", "handler failed"]);
});

Deno.test("acceptLoop: sequential waits for each handler, once stops after the first", async () => {
  const order: string[] = [];
  const slow = async (conn: Deno.Conn) => {
    order.push(`start ${(conn as unknown as { rid: number }).rid}`);
    await Promise.resolve();
    order.push(`end ${(conn as unknown as { rid: number }).rid}`);
  };
  await acceptLoop(scriptedListener([fakeConn(1), fakeConn(2)]), slow, { sequential: true });
  assert.deepEqual(order, ["start 1", "end 1", "start 2", "end 2"]);
  order.length = 0;
  const listener = scriptedListener([fakeConn(1), fakeConn(2)]);
  await acceptLoop(listener, slow, { once: true });
  assert.deepEqual(order, ["start 1", "end 1"]);
});

/** The events of a `--json` server's stdout that say something about accepting. */
function acceptEvents(lines: string[]): { accept: string; failures?: number; pausedMs?: number }[] {
  return lines.filter((line) => line.includes('"accept":')).map((line) => JSON.parse(line));
}

Deno.test({
  name: "out of descriptors (ulimit -n 64): the server pauses, says so once, and serves again",
  ignore: !hasCommand("bash") || Deno.build.os !== "linux",
  async fn() {
    const deno = Deno.execPath();
    await using server = await startCommand("bash", [
      "-c",
      `ulimit -n 64 && exec "${deno}" run -A tcp/server.ts --port 0 --json --quiet`,
    ]);
    const connect = () => Deno.connect({ hostname: server.host, port: server.port });
    const paused = server.waitForLine(/"accept":"paused"/, 30_000);
    paused.catch(() => {});
    // Connect and talk until a client is left waiting: the server could not accept it.
    const served: Deno.Conn[] = [];
    const waiting: { conn: Deno.Conn; reply: Promise<Uint8Array> }[] = [];
    try {
      while (waiting.length === 0 && served.length < 100) {
        const conn = await connect();
        const reply = exchange(conn, encoder.encode("hi"));
        reply.catch(() => {});
        if (await Promise.race([reply.then(() => true), paused.then(() => false)])) {
          served.push(conn);
        } else {
          waiting.push({ conn, reply });
        }
      }
      const ranOutAfter = served.length;
      assert.equal(waiting.length, 1, `the server ran out after ${ranOutAfter} clients`);
      // Two more wait in the backlog behind it.
      for (let i = 0; i < 2; i++) {
        const conn = await connect();
        const reply = exchange(conn, encoder.encode("hi"));
        reply.catch(() => {});
        waiting.push({ conn, reply });
      }
      // Exhausted, it still serves every client it has.
      for (const conn of served) {
        assert.equal(
          decoder.decode(await exchange(conn, encoder.encode("still there?"))),
          "STILL THERE?",
        );
      }
      // Three clients leave: their descriptors free up, and the waiting ones are served.
      const freed = performance.now();
      for (const conn of served.splice(0, 3)) conn.close();
      for (const { reply } of waiting) assert.equal(decoder.decode(await reply), "HI");
      const servedAgainMs = performance.now() - freed;
      // Stopping the server completes its output.
      for (const conn of [...served, ...waiting.map((w) => w.conn)]) conn.close();
      served.length = waiting.length = 0;
      const { stdout, code } = await server.stop();
      assert.equal(code, 130);
      const events = acceptEvents(stdout.split("\n"));
      const episodes = events.filter((e) => e.accept === "paused").length;
      // Each episode is two lines, when it starts and when it ends — never one per failed
      // accept. There is one per freed descriptor at most (each may be taken before the next
      // one frees).
      assert.ok(episodes >= 1 && episodes <= 3, JSON.stringify(events));
      assert.deepEqual(
        events.map((e) => e.accept),
        Array(episodes).fill(["paused", "resumed"]).flat(),
      );
      const resumed = events.filter((e) => e.accept === "resumed");
      const failures = resumed.reduce((sum, e) => sum + (e.failures ?? 0), 0);
      const pausedMs = resumed.reduce((sum, e) => sum + (e.pausedMs ?? 0), 0);
      console.log(
        `out of descriptors after ${ranOutAfter} clients, ${episodes} episode(s): ${failures} failed ` +
          `accepts in ${pausedMs} ms; served again ${servedAgainMs.toFixed(1)} ms after ` +
          "descriptors freed",
      );
      // The back-off: a few tries per ACCEPT_PAUSE_MAX_MS, never a spin.
      assert.ok(
        failures <= 6 * episodes + pausedMs / ACCEPT_PAUSE_MAX_MS,
        `${failures} failed accepts in ${pausedMs} ms`,
      );
      // Served again within the longest pause and a little scheduling, not seconds later.
      assert.ok(servedAgainMs < 250, `served again ${servedAgainMs.toFixed(0)} ms after`);
    } finally {
      for (const conn of served) conn.close();
      for (const { conn } of waiting) conn.close();
    }
  },
});
