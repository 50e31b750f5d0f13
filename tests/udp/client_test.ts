/**
 * udp/client.ts: `--host` checking, and the script as a subprocess when nobody listens.
 */
import assert from "node:assert/strict";
import { runScript } from "../_helpers.ts";
import { serverHostname } from "../../udp/client.ts";
import { UsageError } from "../../tcp/kit/cli.ts";

/** A UDP socket that `using` closes (DatagramConn has no `Symbol.dispose` of its own). */
function bind(
  hostname = "127.0.0.1",
  port = 0,
  reuseAddress = false,
): Deno.DatagramConn & Disposable {
  const conn = Deno.listenDatagram({ transport: "udp", hostname, port, reuseAddress });
  return Object.assign(conn, {
    [Symbol.dispose]() {
      try {
        conn.close();
      } catch (error) {
        if (!(error instanceof Deno.errors.BadResource)) throw error;
      }
    },
  });
}

function portOf(conn: Deno.DatagramConn): number {
  return (conn.addr as Deno.NetAddr).port;
}

/** A port nobody listens on right now (bound, read, closed). */
function closedPort(): number {
  const conn = bind();
  const port = portOf(conn);
  conn.close();
  return port;
}

Deno.test("serverHostname accepts IP literals and localhost, refuses names and bad addresses", () => {
  assert.equal(serverHostname("127.0.0.1"), "127.0.0.1");
  assert.equal(serverHostname("localhost"), "127.0.0.1");
  assert.equal(serverHostname("::1"), "::1");
  assert.equal(serverHostname("[0:0::1]"), "::1");
  assert.throws(() => serverHostname("300.1.1.1"), (e: Error) => {
    assert.ok(e instanceof UsageError);
    assert.equal(
      e.message,
      'Invalid --host "300.1.1.1": Invalid IPv4 address "300.1.1.1": octet 300 is greater than 255',
    );
    return true;
  });
  assert.throws(() => serverHostname("example.com"), UsageError);
  assert.throws(() => serverHostname("::zz"), UsageError);
});

Deno.test("udp/client.ts with nobody listening: exit 1 and 'no reply from HOST:PORT after N tries'", async () => {
  const port = closedPort();
  const result = await runScript(
    "udp/client.ts",
    ["--port", String(port), "--timeout", "100", "--retries", "1"],
    { stdin: "hello\n" },
  );
  assert.equal(result.code, 1);
  assert.equal(result.stdout, "");
  assert.match(
    result.stderr,
    new RegExp(
      `^error: no reply from 127\\.0\\.0\\.1:${port} after 2 tries \\(100 ms each\\):.*\\n$`,
    ),
  );
});
