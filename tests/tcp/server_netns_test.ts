/**
 * A client that vanishes: the echo server (tcp/server.ts) in one network namespace, its client in
 * another, one veth cable between them (10.232.0.0/24), created and removed by this test. After an
 * exchange the client's side of the cable goes down without a word — no FIN, no RST, as when a
 * cable is pulled or a machine dies — and the server, with short keepalive timers
 * (`--keepalive 1`), must find out and let the connection go, saying why (seed 004).
 *
 * Nothing touches the machine's own network namespace. The test is ignored (with the reason in
 * its name) when not root, when `ip` is missing, or when namespaces cannot be created.
 */
import assert from "node:assert/strict";
import { ip, netnsSkipReason } from "../_netns.ts";
import { runCommand, type RunningScript, startCommand } from "../_helpers.ts";

const TAG = `netlab-ka-${Deno.pid % 100000}`;
const SERVER = { ns: `${TAG}-s`, address: "10.232.0.1" };
const CLIENT = { ns: `${TAG}-c`, address: "10.232.0.2" };

const reason = netnsSkipReason(TAG);

async function createNetwork(): Promise<void> {
  await ip("netns", "add", SERVER.ns);
  await ip("netns", "add", CLIENT.ns);
  await ip(
    "-n",
    SERVER.ns,
    "link",
    "add",
    "eth0",
    "type",
    "veth",
    "peer",
    "name",
    "eth0",
    "netns",
    CLIENT.ns,
  );
  for (const host of [SERVER, CLIENT]) {
    await ip("-n", host.ns, "addr", "add", `${host.address}/24`, "dev", "eth0");
    await ip("-n", host.ns, "link", "set", "eth0", "up");
    await ip("-n", host.ns, "link", "set", "lo", "up");
  }
}

async function removeNetwork(): Promise<void> {
  for (const ns of [SERVER.ns, CLIENT.ns]) await runCommand("ip", ["netns", "del", ns]);
}

/** The client: tcp/client.ts in the client namespace, its stdin kept open (the session lives). */
function startClient(port: number) {
  const child = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      CLIENT.ns,
      Deno.execPath(),
      "run",
      "-A",
      "--quiet",
      "tcp/client.ts",
      "--host",
      SERVER.address,
      "--port",
      String(port),
    ],
    cwd: new URL("../..", import.meta.url).pathname,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  return child;
}

Deno.test({
  name: `tcp/server.ts --keepalive 1 lets go of a client that vanished without a word${
    reason ? ` (skipped: ${reason})` : ""
  }`,
  ignore: reason !== undefined,
  async fn() {
    let server: RunningScript | undefined;
    let client: Deno.ChildProcess | undefined;
    try {
      await createNetwork();
      server = await startCommand("ip", [
        "netns",
        "exec",
        SERVER.ns,
        Deno.execPath(),
        "run",
        "-A",
        "--quiet",
        "tcp/server.ts",
        "--host",
        SERVER.address,
        "--port",
        "0",
        "--keepalive",
        "1",
      ]);
      client = startClient(server.port);
      const stdin = client.stdin.getWriter();
      await stdin.write(new TextEncoder().encode("hello\n"));
      // One exchange: the connection is up and idle.
      const reader = client.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      while (!seen.includes("HELLO\n")) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`client ended early: ${seen}`);
        seen += value;
      }
      await server.waitForLine(/^connected 10\.232\.0\.2:\d+ \(#1\)$/);
      // The cable is pulled on the client's side: from now on the server hears nothing at all.
      await ip("-n", CLIENT.ns, "link", "set", "eth0", "down");
      // Idle 1 s, then 5 probes 1 s apart go unanswered: the kernel gives the connection up.
      const line = await server.waitForLine(/^disconnected 10\.232\.0\.2:\d+ \(#1\)/, 20_000);
      assert.match(line, /^disconnected 10\.232\.0\.2:\d+ \(#1\): timed out, 5 bytes in, 5 out$/);
      reader.releaseLock();
      await stdin.close().catch(() => {});
    } finally {
      try {
        client?.kill("SIGKILL");
      } catch { /* already gone */ }
      await client?.status;
      await client?.stdout.cancel().catch(() => {});
      await server?.stop();
      await removeNetwork();
    }
    const left = await runCommand("ip", ["netns", "list"]);
    assert.ok(!left.stdout.includes(TAG), left.stdout);
  },
});
