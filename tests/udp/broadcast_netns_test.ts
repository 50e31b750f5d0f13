/**
 * A real broadcast domain: three "hosts" (network namespaces) on one Ethernet bridge (a fourth
 * namespace), 10.231.0.0/24, created and removed by this test. `udp/broadcast.ts send` on host a
 * to the subnet's broadcast address 10.231.0.255 must reach `listen` on hosts b and c — seed 003's
 * 「一点发送多点接收」 across machines, not just loopback.
 *
 * Nothing touches the machine's own network namespace: the bridge and every veth end live in
 * namespaces named `netlab-<pid>-…`, and deleting those namespaces removes them. The test is
 * ignored (with the reason in its name) when not root, when `ip` is missing, or when namespaces
 * cannot be created (e.g. in an unprivileged container).
 */
import assert from "node:assert/strict";
import { ip, netnsSkipReason } from "../_netns.ts";
import { runCommand, type RunningScript, startCommand } from "../_helpers.ts";

const TAG = `netlab-${Deno.pid % 100000}`;
const BRIDGE_NS = `${TAG}-br`;
const HOSTS = [
  { name: "a", ns: `${TAG}-a`, address: "10.231.0.1" },
  { name: "b", ns: `${TAG}-b`, address: "10.231.0.2" },
  { name: "c", ns: `${TAG}-c`, address: "10.231.0.3" },
] as const;
const SUBNET_BROADCAST = "10.231.0.255";
const PORT = "9999";

const reason = netnsSkipReason(TAG);

function inNamespace(ns: string, script: string, args: string[]): [string, string[]] {
  return ["ip", ["netns", "exec", ns, Deno.execPath(), "run", "-A", "--quiet", script, ...args]];
}

async function createNetwork(): Promise<void> {
  await ip("netns", "add", BRIDGE_NS);
  for (const host of HOSTS) await ip("netns", "add", host.ns);
  await ip("-n", BRIDGE_NS, "link", "add", "br0", "type", "bridge");
  await ip("-n", BRIDGE_NS, "link", "set", "br0", "up");
  for (const host of HOSTS) {
    // One cable per host: the `port-x` end plugs into the bridge, `eth0` is the host's NIC.
    const port = `port-${host.name}`;
    await ip(
      "-n",
      BRIDGE_NS,
      "link",
      "add",
      port,
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "netns",
      host.ns,
    );
    await ip("-n", BRIDGE_NS, "link", "set", port, "master", "br0");
    await ip("-n", BRIDGE_NS, "link", "set", port, "up");
    // `brd +` sets the broadcast address to network | ~mask = 10.231.0.255.
    await ip("-n", host.ns, "addr", "add", `${host.address}/24`, "brd", "+", "dev", "eth0");
    await ip("-n", host.ns, "link", "set", "eth0", "up");
    await ip("-n", host.ns, "link", "set", "lo", "up");
  }
}

async function removeNetwork(): Promise<void> {
  for (const ns of [...HOSTS.map((h) => h.ns), BRIDGE_NS]) {
    await runCommand("ip", ["netns", "del", ns]); // best effort: it may not exist
  }
}

Deno.test({
  name: `udp/broadcast.ts send in one namespace reaches listen in two others over a bridge${
    reason ? ` (skipped: ${reason})` : ""
  }`,
  ignore: reason !== undefined,
  async fn() {
    const listeners: RunningScript[] = [];
    try {
      await createNetwork();
      for (const host of HOSTS.slice(1)) {
        const [cmd, args] = inNamespace(host.ns, "udp/broadcast.ts", ["listen", "--port", PORT]);
        const listener = await startCommand(cmd, args);
        listeners.push(listener);
        assert.equal(listener.firstLine, `listening on udp 0.0.0.0:${PORT}`);
      }
      const sender = HOSTS[0];
      const [cmd, args] = inNamespace(sender.ns, "udp/broadcast.ts", [
        "send",
        "--to",
        SUBNET_BROADCAST,
        "--port",
        PORT,
        "--allow-lan",
        "hello from host a",
      ]);
      const sent = await runCommand(cmd, args);
      assert.equal(sent.code, 0, sent.stderr);
      assert.match(sent.stdout, /^sent 17 bytes to 10\.231\.0\.255:9999 from 0\.0\.0\.0:\d+\n$/);
      for (const listener of listeners) {
        const line = await listener.waitForLine("->", 10_000);
        assert.match(line, /^10\.231\.0\.1:\d+ -> hello from host a$/);
      }
    } finally {
      for (const listener of listeners) await listener.stop();
      await removeNetwork();
    }
    // Nothing is left behind.
    const left = await runCommand("ip", ["netns", "list"]);
    assert.ok(!left.stdout.includes(TAG), left.stdout);
  },
});
