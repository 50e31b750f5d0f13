/**
 * tcp/core/tcp_table.ts: /proc/net/tcp parsed by hand-made lines (IPv4, IPv6, a mapped address,
 * a TIME_WAIT timer, a listener's queue), then the live table for sockets this test opens.
 */
import assert from "node:assert/strict";
import {
  acceptQueueLength,
  connectionState,
  parseProcAddress,
  parseTcpTable,
  readTcpTable,
} from "../../tcp/core/tcp_table.ts";

const linuxOnly = Deno.build.os !== "linux";

Deno.test("parseProcAddress reads little-endian IPv4 and IPv6 words", () => {
  assert.deepEqual(parseProcAddress("0100007F:1F90"), { hostname: "127.0.0.1", port: 8080 });
  assert.deepEqual(parseProcAddress("00000000000000000000000001000000:0035"), {
    hostname: "::1",
    port: 53,
  });
  assert.deepEqual(parseProcAddress("0000000000000000FFFF00000100007F:0050"), {
    hostname: "::ffff:127.0.0.1",
    port: 80,
  });
  assert.deepEqual(parseProcAddress("B80D0120000000000000000001000000:0001"), {
    hostname: "2001:db8::1",
    port: 1,
  });
});

Deno.test("parseTcpTable: states, queues, a listener's accept queue, a TIME_WAIT timer", () => {
  const text = [
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
    "   0: 0100007F:1F90 00000000:0000 0A 00000080:00000002 00:00000000 00000000     0        0 1 1",
    "   1: 0100007F:1F90 0100007F:C350 06 00000000:00000000 03:00001770 00000000     0        0 0 3",
    "   2: 0100007F:C350 0100007F:1F90 01 0000FFFF:00000010 01:00000014 00000000     0        0 2 1",
    "   garbage",
  ].join("\n");
  const rows = parseTcpTable(text);
  assert.equal(rows.length, 3);
  assert.deepEqual(rows.map((r) => r.state), ["LISTEN", "TIME_WAIT", "ESTABLISHED"]);
  assert.equal(rows[0].rxQueue, 2);
  assert.equal(rows[1].timerSeconds, 60);
  assert.equal(rows[2].remote.port, 8080);
  assert.equal(rows[2].txQueue, 65535);
});

Deno.test({
  name: "readTcpTable sees this test's listener, its queue, and a connection's state",
  ignore: linuxOnly,
  async fn() {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0, tcpBacklog: 7 });
    const port = listener.addr.port;
    const client = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      // Not accepted yet: the handshake is done, the connection waits in the accept queue.
      assert.equal(acceptQueueLength(port), 1);
      const accepted = await listener.accept();
      assert.equal(acceptQueueLength(port), 0);
      assert.equal(connectionState(client.localAddr.port, port), "ESTABLISHED");
      accepted.close();
      assert.equal(await client.read(new Uint8Array(1)), null); // the server's FIN
      assert.equal(connectionState(client.localAddr.port, port), "CLOSE_WAIT");
      assert.ok(readTcpTable({ localPort: port }).some((r) => r.state === "FIN_WAIT2"));
    } finally {
      client.close();
      listener.close();
    }
  },
});
