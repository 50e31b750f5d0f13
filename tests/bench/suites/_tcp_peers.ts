/**
 * Helper processes for the `tcp` benchmark suite (run as subprocesses so that each side of a
 * measurement gets its own process, like the reference tools do). Not a suite: the runner skips
 * `_`-prefixed files.
 *
 *   deno run -A tests/bench/suites/_tcp_peers.ts sink
 *       listens on 127.0.0.1:0, prints `listening on …`, reads one connection to EOF with a
 *       256 KiB buffer, answers one byte (so the sender can time the whole transfer) and exits.
 *   deno run -A tests/bench/suites/_tcp_peers.ts many PORT COUNT
 *       opens COUNT connections to PORT (all held open at once), then every connection echoes one
 *       message; prints one JSON line {opened, answered, wrong, connectMs, echoMs}.
 */
import { parseCli, parseCount, parsePort, runMain, UsageError } from "../../../tcp/kit/cli.ts";
import { readExactly, writeAll } from "../../../tcp/core/io.ts";

const USAGE = `Usage: _tcp_peers.ts sink | many PORT COUNT`;

/** How many connects are in flight at once (stays under the listen backlog). */
const CONNECT_BATCH = 500;
/** How many echo round trips are in flight at once. */
const ECHO_BATCH = 2_000;

async function sink(): Promise<void> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  console.log(`listening on 127.0.0.1:${(listener.addr as Deno.NetAddr).port}`);
  using conn = await listener.accept();
  const buffer = new Uint8Array(256 * 1024);
  let total = 0;
  while (true) {
    const n = await conn.read(buffer);
    if (n === null) break;
    total += n;
  }
  await writeAll(conn, new Uint8Array([1]));
  console.error(`received ${total} bytes`);
}

async function many(port: number, count: number): Promise<void> {
  const conns: Deno.Conn[] = [];
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const connectStart = performance.now();
  try {
    for (let i = 0; i < count; i += CONNECT_BATCH) {
      const batch = Math.min(CONNECT_BATCH, count - i);
      conns.push(
        ...await Promise.all(
          Array.from({ length: batch }, () => Deno.connect({ hostname: "127.0.0.1", port })),
        ),
      );
    }
    const connectMs = performance.now() - connectStart;
    const echoStart = performance.now();
    let answered = 0;
    let wrong = 0;
    for (let i = 0; i < conns.length; i += ECHO_BATCH) {
      await Promise.all(
        conns.slice(i, i + ECHO_BATCH).map(async (conn, j) => {
          const message = `message ${i + j}`;
          await writeAll(conn, encoder.encode(message));
          const reply = decoder.decode(await readExactly(conn, message.length));
          if (reply === message.toUpperCase()) answered++;
          else wrong++;
        }),
      );
    }
    const echoMs = performance.now() - echoStart;
    console.log(JSON.stringify({ opened: conns.length, answered, wrong, connectMs, echoMs }));
  } finally {
    for (const conn of conns) conn.close();
  }
}

async function main(args: string[]): Promise<number> {
  const { positionals } = parseCli(args, {});
  const [command, port, count] = positionals;
  if (command === "sink") await sink();
  else if (command === "many") {
    await many(
      parsePort(port, 0),
      parseCount(count, 10_000, "COUNT", { max: 60_000 }),
    );
  } else throw new UsageError(`Unknown command "${command ?? ""}"`);
  return 0;
}

if (import.meta.main) await runMain(USAGE, main);
