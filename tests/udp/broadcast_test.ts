/**
 * udp/broadcast.ts on loopback: where `send` may go, one datagram reaching several listeners (and
 * not a 127.0.0.1-bound one), why Deno's SO_BROADCAST default matters, and the script as
 * subprocesses. (Across a real bridge: tests/udp/broadcast_netns_test.ts.)
 */
import assert from "node:assert/strict";
import { bind, portOf } from "./_udp.ts";
import { hasCommand, runCommand, type RunningScript, runScript, startScript } from "../_helpers.ts";
import { exitedByItself } from "../_helpers.ts";
import { checkSendTarget, LOOPBACK_BROADCAST } from "../../udp/broadcast.ts";
import { CliError } from "../../tcp/kit/cli.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const text = (bytes: Uint8Array) => decoder.decode(bytes);

Deno.test("checkSendTarget allows loopback, refuses 255.255.255.255 and LAN unless --allow-lan", () => {
  assert.equal(checkSendTarget(LOOPBACK_BROADCAST, false), "127.255.255.255");
  assert.equal(checkSendTarget("127.0.0.1", false), "127.0.0.1");
  for (const to of ["255.255.255.255", "192.168.1.255", "10.231.0.255"]) {
    assert.throws(() => checkSendTarget(to, false), (e: Error) => {
      assert.ok(e instanceof CliError);
      assert.match(
        e.message,
        new RegExp(`^Refusing to send to "${to.replaceAll(".", "\\.")}"`),
      );
      return true;
    });
    assert.equal(checkSendTarget(to, true), to);
  }
  assert.throws(
    () => checkSendTarget("1.2.3", true),
    /^CliError: Invalid --to: Invalid IPv4 address "1\.2\.3"/,
  );
});

Deno.test("one datagram to 127.255.255.255 reaches two 0.0.0.0 listeners; a 127.0.0.1 one misses it", async () => {
  using first = bind("0.0.0.0", 0, true);
  const port = portOf(first);
  using second = bind("0.0.0.0", port, true);
  using loopbackOnly = bind("127.0.0.1", port, true);
  using sender = bind();
  // Succeeds only because Deno sets SO_BROADCAST on every UDP socket (see the python3 test).
  const sent = await sender.send(encoder.encode("to everyone"), {
    transport: "udp",
    hostname: LOOPBACK_BROADCAST,
    port,
  });
  assert.equal(sent, 11);
  for (const listener of [first, second]) {
    const [data, from] = await listener.receive();
    assert.equal(text(data), "to everyone");
    assert.deepEqual(from, sender.addr);
  }
  // A unicast marker to 127.0.0.1 goes to the most specific socket: the 127.0.0.1-bound one. If
  // the broadcast had reached it, the broadcast would come out first.
  await sender.send(encoder.encode("marker"), { transport: "udp", hostname: "127.0.0.1", port });
  const [data] = await loopbackOnly.receive();
  assert.equal(text(data), "marker");
});

Deno.test({
  name:
    "python3 without SO_BROADCAST gets EACCES sending to 127.255.255.255 (why Deno's default matters)",
  ignore: !hasCommand("python3"),
  async fn() {
    using listener = bind("0.0.0.0", 0, true);
    const port = portOf(listener);
    const script = `
import socket, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.sendto(b"x", ("127.255.255.255", port))
    print("sent without SO_BROADCAST")
except PermissionError:
    print("EACCES")
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.sendto(b"with SO_BROADCAST", ("127.255.255.255", port))
print("sent")
`;
    const result = await runCommand("python3", ["-c", script, String(port)]);
    assert.equal(result.stdout, "EACCES\nsent\n", result.stderr);
    const [data] = await listener.receive();
    assert.equal(text(data), "with SO_BROADCAST");
  },
});

Deno.test("udp/broadcast.ts: one send to 127.255.255.255 reaches two listen processes", async () => {
  const first = await startScript("udp/broadcast.ts", ["listen", "--port", "0", "--count", "1"]);
  let second: RunningScript | undefined;
  try {
    assert.match(first.firstLine, /^listening on udp 0\.0\.0\.0:\d+$/);
    second = await startScript("udp/broadcast.ts", [
      "listen",
      "--port",
      String(first.port),
      "--count",
      "1",
    ]);
    const sent = await runScript("udp/broadcast.ts", [
      "send",
      "--port",
      String(first.port),
      "hello",
      "everyone",
    ]);
    assert.equal(sent.code, 0, sent.stderr);
    const from = /^sent 14 bytes to 127\.255\.255\.255:\d+ from (127\.0\.0\.1:\d+)\n$/.exec(
      sent.stdout,
    );
    assert.ok(from, sent.stdout);
    for (const listener of [first, second]) {
      assert.equal(await listener.waitForLine("->"), `${from[1]} -> hello everyone`);
    }
  } finally {
    // Each listener ends by itself after its one datagram (--count 1).
    await exitedByItself(first);
    if (second) await exitedByItself(second);
  }
});

Deno.test("udp/broadcast.ts send refuses 255.255.255.255 and a LAN broadcast without --allow-lan", async () => {
  for (const to of ["255.255.255.255", "192.168.1.255"]) {
    const result = await runScript("udp/broadcast.ts", ["send", "--to", to, "--port", "9", "x"]);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      new RegExp(`^error: Refusing to send to "${to.replaceAll(".", "\\.")}"`),
    );
    assert.equal(result.stderr.split("\n").length, 2, result.stderr); // one line
  }
});
