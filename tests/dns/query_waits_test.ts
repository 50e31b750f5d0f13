/**
 * No silent waits in dns:query: a closed UDP port is `connection refused` in a round trip, as
 * dig says it (the ICMP port unreachable a connected socket hears), not three timeouts; a server
 * that never answers gets dig's line per try and, once the wait passes 2 s, a line saying what
 * it waits for. Also the exchange underneath: refused with connected sockets, a timeout with
 * Deno's unconnected ones (the portable path).
 */
import assert from "node:assert/strict";
import { exchange, NoReplyError, type TryProgress } from "../../dns/resolver/transport.ts";
import { makeQuery } from "../../dns/wire/message.ts";
import { TYPE } from "../../dns/wire/constants.ts";
import { openFreshSockets } from "../../udp/core/fresh_sockets.ts";
import { runScript, type ScriptResult } from "../_helpers.ts";
import { bind, closedPort, portOf } from "../udp/_udp.ts";

const QUERY = "dns/query.ts";
/** Connected sockets come from the Linux layer; elsewhere a closed port is a timeout. */
const LINUX = Deno.build.os === "linux";

function assertExit(result: ScriptResult, code: number): void {
  assert.equal(result.code, code, `exit ${result.code}\n${result.stdout}\n${result.stderr}`);
}

/** A DNS "server" that reads every query and never answers. */
async function withSilentServer(run: (port: number) => Promise<void>): Promise<void> {
  using socket = bind();
  const drained = (async () => {
    try {
      for await (const _ of socket) { /* dropped */ }
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  })();
  try {
    await run(portOf(socket));
  } finally {
    socket.close();
    await drained;
  }
}

Deno.test({
  name: "dns:query reports a closed UDP port as connection refused at once, like dig",
  ignore: !LINUX,
  async fn() {
    const port = closedPort();
    const started = performance.now();
    // dig's defaults (3 tries of 5 s): a timeout would take 15 s.
    const result = await runScript(QUERY, ["@127.0.0.1", "-p", String(port), "x.test"]);
    const elapsed = performance.now() - started;
    assertExit(result, 9);
    const refused = `;; communications error to 127.0.0.1#${port}: connection refused\n`;
    assert.equal(result.stderr, refused.repeat(3) + ";; no servers could be reached\n");
    assert.ok(elapsed < 2000, `took ${Math.round(elapsed)} ms`);
    // +short keeps stdout clean: the lines are on stderr.
    const short = await runScript(QUERY, ["@127.0.0.1", "-p", String(port), "x.test", "+short"]);
    assertExit(short, 9);
    assert.equal(short.stdout, "");
    assert.match(short.stderr, /connection refused\n;; no servers could be reached\n$/);
  },
});

Deno.test("dns:query says what it waits for once a wait passes 2 s, and each try's end", async () => {
  await withSilentServer(async (port) => {
    const args = ["@127.0.0.1", "-p", String(port), "x.test", "+time=1", "+tries=3"];
    const [text, json] = await Promise.all([
      runScript(QUERY, args),
      runScript(QUERY, [...args, "--json"]),
    ]);
    for (const result of [text, json]) {
      assertExit(result, 9);
      const lines = result.stderr.trimEnd().split("\n");
      const at = `127\\.0\\.0\\.1#${port}`;
      assert.equal(
        lines.filter((line) =>
          new RegExp(`^;; communications error to ${at}: timed out$`).test(line)
        )
          .length,
        3,
        result.stderr,
      );
      assert.ok(
        lines.some((line) => new RegExp(`^;; waiting for ${at} \\(try [23] of 3\\)…$`).test(line)),
        result.stderr,
      );
      assert.equal(lines.at(-1), ";; no servers could be reached");
    }
    // --json: stdout holds no human lines, only what the JSON mode prints (nothing, here).
    assert.equal(json.stdout, "");
  });
});

Deno.test("dns:query +time, +tries and +retry count as dig's do", async () => {
  await withSilentServer(async (port) => {
    const at = ["@127.0.0.1", "-p", String(port), "x.test"];
    // dig: a time under 1 s is 1 s, fewer than one try is one; +retry=N is N + 1 tries.
    const cases: [string[], number][] = [
      [["+time=0", "+tries=0"], 1],
      [["+time=1", "+retry=1"], 2],
      [["+timeout=1", "+tries=2"], 2],
    ];
    const results = await Promise.all(
      cases.map(([options]) => runScript(QUERY, [...at, ...options])),
    );
    for (const [i, result] of results.entries()) {
      assertExit(result, 9);
      const tries = result.stderr.split("\n").filter((line) => line.endsWith(": timed out"));
      assert.equal(tries.length, cases[i][1], `${cases[i][0].join(" ")}:\n${result.stderr}`);
    }
  });
});

Deno.test({
  name: "exchange over connected sockets: a closed port ends each try at once",
  ignore: !LINUX,
  async fn() {
    const sockets = openFreshSockets({ connected: true });
    assert.ok(sockets, "the Linux layer should be available under -A");
    const port = closedPort();
    const progress: TryProgress[] = [];
    const started = performance.now();
    try {
      await assert.rejects(
        exchange(makeQuery("x.test", TYPE.A), "127.0.0.1", {
          port,
          sockets,
          timeoutMs: 5000,
          tries: 2,
          onProgress: (p) => progress.push(p),
        }),
        (error: unknown) => {
          assert.ok(error instanceof NoReplyError);
          assert.equal(error.reason, "connection refused");
          return true;
        },
      );
    } finally {
      await sockets.close();
    }
    assert.ok(performance.now() - started < 2000);
    assert.deepEqual(
      progress.map((p) => p.kind === "sent" ? `sent ${p.attempt}/${p.tries}` : p.reason),
      ["sent 1/2", "connection refused", "sent 2/2", "connection refused"],
    );
  },
});

Deno.test({
  name: "exchange over Deno's sockets: a closed port is silence until the timeout",
  // Windows reports the ICMP error even on an unconnected socket (then it is refused too).
  ignore: Deno.build.os === "windows",
  fn: portableTimeout,
});

async function portableTimeout(): Promise<void> {
  const port = closedPort();
  const progress: TryProgress[] = [];
  await assert.rejects(
    exchange(makeQuery("x.test", TYPE.A), "127.0.0.1", {
      port,
      sockets: null,
      timeoutMs: 100,
      tries: 1,
      onProgress: (p) => progress.push(p),
    }),
    /timed out after 1 × 100 ms over UDP/,
  );
  assert.deepEqual(progress.map((p) => p.kind), ["sent", "failed"]);
}
