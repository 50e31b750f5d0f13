/**
 * No silent waits in http:get: a DNS server's closed port is one `error: …connection refused`
 * line in a round trip (the ICMP port unreachable a connected UDP socket hears), and a wait that
 * passes 2 s — for the DNS server, or for the web server's response — is said on stderr while
 * it lasts (not with -s).
 */
import assert from "node:assert/strict";
import { runScript } from "../_helpers.ts";
import { bind, closedPort, portOf } from "../udp/_udp.ts";

const GET = "http/client.ts";

Deno.test({
  name: "http:get reports a closed DNS port as connection refused at once, in one line",
  // Connected UDP sockets come from the Linux layer; elsewhere it is a timeout.
  ignore: Deno.build.os !== "linux",
  async fn() {
    const port = closedPort();
    const started = performance.now();
    const result = await runScript(GET, ["--dns", `127.0.0.1:${port}`, "http://www.cnblogs.com/"]);
    const elapsed = performance.now() - started;
    assert.equal(result.code, 6, result.stderr);
    assert.equal(
      result.stderr,
      `error: Could not resolve host "www.cnblogs.com": No reply from 127.0.0.1:${port}: ` +
        "connection refused\n",
    );
    assert.ok(elapsed < 2000, `took ${Math.round(elapsed)} ms`);
  },
});

Deno.test("http:get says what it waits for once a wait passes 2 s (DNS, the response)", async () => {
  // A DNS server that reads and drops every query, and a web server that accepts and says nothing.
  using dns = bind();
  const drained = (async () => {
    try {
      for await (const _ of dns) { /* dropped */ }
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  })();
  const web = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of web) held.push(conn);
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  })();
  try {
    const viaDns = ["--max-time", "2.5", "--dns", `127.0.0.1:${portOf(dns)}`];
    const [waitingDns, silent, waitingResponse] = await Promise.all([
      runScript(GET, [...viaDns, "http://www.cnblogs.com/"]),
      runScript(GET, [...viaDns, "-s", "http://www.cnblogs.com/"]),
      runScript(GET, ["--max-time", "2.5", `http://127.0.0.1:${web.addr.port}/`]),
    ]);
    for (const result of [waitingDns, silent, waitingResponse]) {
      assert.equal(result.code, 28, result.stderr);
    }
    assert.equal(
      waitingDns.stderr,
      `* waiting for the DNS server 127.0.0.1:${portOf(dns)} (try 1 of 3)…\n` +
        "error: Operation timed out after 2500 milliseconds\n",
    );
    assert.equal(silent.stderr, "error: Operation timed out after 2500 milliseconds\n");
    assert.equal(
      waitingResponse.stderr,
      `* waiting for the response from 127.0.0.1:${web.addr.port}…\n` +
        "error: Operation timed out after 2500 milliseconds\n",
    );
  } finally {
    dns.close();
    web.close();
    await Promise.all([drained, accepting]);
    for (const conn of held) conn.close();
  }
});
