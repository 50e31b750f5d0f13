/**
 * The machinery behind http/demo.ts, piece by piece: a child script's lines (http/demo/child.ts),
 * the stage cleaning up after a server that fails to start (http/demo/stage.ts), and the
 * narration's walk steps and blank lines (http/demo/narration.ts). The whole demo is driven end
 * to end in demo_test.ts.
 */
import assert from "node:assert/strict";
import { createReporter } from "../../tcp/kit/report.ts";
import { spawnScript } from "../../http/demo/child.ts";
import { startStage } from "../../http/demo/stage.ts";
import { formatWalkStep, Narrator } from "../../http/demo/narration.ts";

/** Writes `source` to a temporary script; removed by the caller. */
async function tempScript(source: string): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: "netlab-demo-child-", suffix: ".ts" });
  await Deno.writeTextFile(path, source);
  return path;
}

Deno.test("spawnScript: a line printed before the wait counts; a timeout or SIGTERM ends it", async () => {
  const script = await tempScript(`
    Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
    console.log("first");
    console.log("second");
    setInterval(() => {}, 1000);
  `);
  try {
    const child = spawnScript(script, []);
    try {
      assert.equal(await child.waitFor((line) => line === "second", 30_000), "second");
      // "first" came before this wait began: it is found from the start.
      assert.equal(await child.waitFor((line) => line.startsWith("fir"), 30_000), "first");
      assert.equal(await child.waitFor((line) => line === "never", 50), undefined);
      assert.deepEqual(child.lines, ["first", "second"]);
    } finally {
      await child.stop();
    }
  } finally {
    await Deno.remove(script);
  }
});

Deno.test("spawnScript: a child that exits ends the wait, and its last stderr line says why", async () => {
  const script = await tempScript(`
    console.error("starting");
    console.error("Cannot bind 127.0.0.5:80: permission denied");
    Deno.exit(1);
  `);
  try {
    const child = spawnScript(script, []);
    try {
      const started = performance.now();
      assert.equal(await child.waitFor(() => true, 60_000), undefined);
      // Bounded by the exit, not by the 60 s given.
      assert.ok(performance.now() - started < 30_000, "the wait outlived the child");
      await child.stop(); // already exited: stopping is still fine
      assert.equal(child.lastError(), "Cannot bind 127.0.0.5:80: permission denied");
    } finally {
      await child.stop();
    }
  } finally {
    await Deno.remove(script);
  }
});

/** The processes whose parent is this one (Linux: read from /proc). */
function childProcesses(): number[] {
  const children: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      // pid (comm) state ppid …: the command name may hold spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === Deno.pid) children.push(Number(entry.name));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error; // it exited meanwhile
    }
  }
  return children;
}

Deno.test({
  name: "startStage: when the web server cannot start, the DNS servers already up are stopped",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const before = new Set(childProcesses()); // what other tests may have left is theirs
    // 192.0.2.1 (TEST-NET-1) is no address of this machine: binding it fails before any packet
    // is sent, while the mini-Internet's three servers start.
    await assert.rejects(startStage("192.0.2.1"), Deno.errors.AddrNotAvailable);
    const left = childProcesses().filter((pid) => !before.has(pid));
    assert.deepEqual(left, [], "a server of the stage is still running");
  },
});

Deno.test("formatWalkStep: a query, a referral with its glue, an answer, anything else", () => {
  const record = (name: string, type: string, data: string) => ({
    name,
    ttl: 172800,
    class: "IN",
    type,
    data,
  });
  assert.deepEqual(
    formatWalkStep({
      event: "query",
      text: "",
      server: "127.0.0.2#53",
      zone: ".",
      name: "com.",
      type: "A",
      question: "www.cnblogs.com. A",
    }),
    ["ask 127.0.0.2:53 (server for . (root)) over UDP: com. A? — only what it needs, not www.cnblogs.com. A"],
  );
  assert.deepEqual(
    formatWalkStep({
      event: "referral",
      text: "",
      zone: "com.",
      referral: "cnblogs.com.",
      elapsed_ms: 4.94,
      records: [record("cnblogs.com.", "NS", "ns1.cnblogs.com.")],
      additional: [record("ns1.cnblogs.com.", "A", "127.0.0.4")],
    }),
    [
      "  referral: com. does not know, ask cnblogs.com. (4.9 ms)",
      "    cnblogs.com. 172800 IN NS ns1.cnblogs.com.",
      "    ns1.cnblogs.com. 172800 IN A 127.0.0.4",
    ],
  );
  assert.deepEqual(
    formatWalkStep({ event: "answer", text: "", outcome: "answer", zone: "cnblogs.com." }),
    ["  answer from cnblogs.com. (0.0 ms)"],
  );
  assert.deepEqual(formatWalkStep({ event: "log", text: "retrying" }), ["  retrying"]);
});

Deno.test("Narrator: blank lines space out the text form and are left out of --json", () => {
  for (const json of [false, true]) {
    const out: string[] = [];
    const sink = { out: (line: string) => out.push(line), err: (line: string) => out.push(line) };
    const tell = new Narrator(createReporter("http/demo", { json, sink }), { json });
    tell.intro("http://www.cnblogs.com/");
    if (!json) {
      assert.deepEqual(out.at(-1), "");
      assert.equal(out.length, 3);
      continue;
    }
    assert.equal(out.length, 2);
    for (const line of out) assert.equal(JSON.parse(line).event, "log");
  }
});
