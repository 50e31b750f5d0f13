/**
 * tcp/info.ts: socket attributes read back from the kernel for IPv4, IPv6 and Unix sockets, the
 * keepalive timings, and the script as a subprocess.
 */
import assert from "node:assert/strict";
import { runScript } from "../_helpers.ts";
import { inspectTcp, inspectUnix, readKeepaliveSettings, SEED_KEEPALIVE } from "../../tcp/info.ts";
import { readSocketOptions } from "../../tcp/core/socket_options.ts";

function ipv6Available(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

Deno.test("info: TCP/IPv4 shows getsockname, getpeername and options read back", async () => {
  const report = await inspectTcp("127.0.0.1");
  assert.ok(report);
  assert.equal(report.family, "AF_INET");
  const [listener, client, accepted] = report.rows;
  assert.match(listener.local, /^127\.0\.0\.1:[1-9]\d*$/);
  assert.equal(listener.peer, null);
  assert.equal(client.peer, listener.local);
  assert.equal(accepted.local, listener.local);
  assert.equal(accepted.peer, client.local);
  for (const r of report.rows) assert.ok(r.fd === null || r.fd > 2, `fd ${r.fd}`);
  if (Deno.build.os === "linux") {
    assert.equal(listener.options?.SO_REUSEADDR, 1, "Deno.listen sets SO_REUSEADDR");
    assert.equal(listener.options?.SO_ACCEPTCONN, 1);
    assert.equal(client.options?.SO_DOMAIN, 2);
    assert.equal(client.options?.SO_TYPE, 1);
    assert.equal(client.optionsBefore?.SO_KEEPALIVE, 0);
    assert.equal(client.options?.SO_KEEPALIVE, 1);
    assert.equal(client.options?.TCP_NODELAY, 1);
  }
});

Deno.test({
  name: "info: TCP/IPv6 on ::1",
  ignore: !ipv6Available(),
  async fn() {
    const report = await inspectTcp("::1");
    assert.ok(report);
    assert.equal(report.family, "AF_INET6");
    assert.match(report.rows[0].local, /^\[::1\]:\d+$/);
    if (Deno.build.os === "linux") assert.equal(report.rows[1].options?.SO_DOMAIN, 10);
  },
});

Deno.test("info: Unix socket has a path on the server side and none on the client", async () => {
  const report = await inspectUnix();
  const [listener, client, accepted] = report.rows;
  assert.equal(report.family, "AF_UNIX");
  assert.match(listener.local, /^unix:.*info\.sock$/);
  assert.equal(client.local, "(unnamed)");
  assert.equal(client.peer, listener.local);
  assert.equal(accepted.peer, "(unnamed)");
  if (Deno.build.os === "linux") assert.equal(accepted.options?.SO_DOMAIN, 1);
});

Deno.test({
  name: "info: keepalive timings are read from /proc",
  ignore: Deno.build.os !== "linux",
  fn() {
    const k = readKeepaliveSettings();
    assert.ok(k.timeSeconds !== null && k.timeSeconds > 0);
    assert.ok(k.intervalSeconds !== null && k.intervalSeconds > 0);
    assert.ok(k.probes !== null && k.probes > 0);
    assert.equal(SEED_KEEPALIVE.probes, 10);
    // A descriptor that is not open: every getsockopt fails, so nothing is reported.
    assert.deepEqual(readSocketOptions(-1), {});
  },
});

Deno.test("tcp/info.ts prints all three families and the keepalive timings", async () => {
  const r = await runScript("tcp/info.ts");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /TCP over IPv4 \(127\.0\.0\.1\): family AF_INET \(2\)/);
  assert.match(r.stdout, /TCP over IPv6 \(::1\): (family AF_INET6 \(10\)|skipped)/);
  assert.match(r.stdout, /Unix-domain socket .*: family AF_UNIX \(1\)/);
  assert.match(r.stdout, /0 = stdin/);
  assert.match(r.stdout, /Keepalive \(seed 004: idle 2 h = 7200 s, every 75 s, 10 probes\)/);
});
