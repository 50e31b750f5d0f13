/**
 * tcp/linux/descriptor.ts: finding the kernel descriptor behind a Deno socket, on real loopback
 * connections — the two ends of one connection apart, a number reused by a new connection, a
 * closed connection never answered for, accepted connections found without a probe.
 */
import assert from "node:assert/strict";
import { streamDescriptor, streamLookups } from "../../tcp/linux/descriptor.ts";
import { withTempDir } from "../_file_peers.ts";

const linuxOnly = Deno.build.os !== "linux";

/** A connected pair over loopback: `[client, server]`. */
async function connectedPair(hostname = "127.0.0.1"): Promise<[Deno.TcpConn, Deno.TcpConn]> {
  using listener = Deno.listen({ hostname, port: 0 });
  const [client, server] = await Promise.all([
    Deno.connect({ hostname, port: listener.addr.port }),
    listener.accept(),
  ]);
  return [client, server];
}

Deno.test({
  name: "streamDescriptor tells the two ends of one loopback connection apart",
  ignore: linuxOnly,
  fn: async () => {
    for (const hostname of ["127.0.0.1", "::1"]) {
      const [client, server] = await connectedPair(hostname);
      try {
        const a = streamDescriptor(client);
        const b = streamDescriptor(server);
        assert.ok(a !== null && b !== null, `both ends found (${hostname})`);
        assert.notEqual(a, b);
      } finally {
        client.close();
        server.close();
      }
    }
  },
});

Deno.test({
  name: "streamDescriptor finds a connection on a number that was a file at the last lookup",
  ignore: linuxOnly,
  fn: async () => {
    await withTempDir(async (dir) => {
      // The lookup remembers numbers that were not connections; a file's number, once closed,
      // goes to the next connection (the lowest free number), which must still be found.
      const file = await Deno.open(`${dir}/x`, { write: true, create: true });
      const [a, b] = await connectedPair();
      try {
        assert.ok(streamDescriptor(b) !== null);
      } finally {
        a.close();
        b.close();
      }
      file.close();
      const [client, server] = await connectedPair();
      try {
        const s = streamDescriptor(server);
        const c = streamDescriptor(client);
        assert.ok(s !== null && c !== null);
        assert.notEqual(s, c);
      } finally {
        client.close();
        server.close();
      }
    });
  },
});

Deno.test({
  name: "streamDescriptor never answers for a closed connection whose number was reused",
  ignore: linuxOnly,
  fn: async () => {
    const [oldClient, oldServer] = await connectedPair();
    const old = streamDescriptor(oldServer);
    assert.notEqual(old, null);
    oldServer.close();
    oldClient.close();
    // The lowest free numbers go to the next sockets: the old ones are reused here.
    const [client, server] = await connectedPair();
    try {
      // Asked first, while the lookup still remembers the old connection's number.
      assert.equal(streamDescriptor(oldServer), null);
      const reused = [streamDescriptor(client), streamDescriptor(server)];
      assert.ok(reused.includes(old), "the kernel reused the number (precondition)");
    } finally {
      client.close();
      server.close();
    }
  },
});

Deno.test({
  name: "streamDescriptor finds accepted connections without probing, however many are open",
  ignore: linuxOnly,
  fn: async () => {
    // A probe walks the open numbers; one per lookup made 600 sendfile answers cost seconds.
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const pairs: [Deno.TcpConn, Deno.TcpConn][] = [];
    try {
      for (let i = 0; i < 100; i++) {
        const [client, server] = await Promise.all([
          Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
          listener.accept(),
        ]);
        pairs.push([client, server]);
      }
      const probed = streamLookups.probed;
      const found = new Set(pairs.map(([, server]) => streamDescriptor(server)));
      assert.equal(streamLookups.probed, probed, "no probe for an accepted connection");
      assert.equal(found.size, pairs.length);
      assert.ok(!found.has(null));
    } finally {
      for (const [client, server] of pairs) {
        client.close();
        server.close();
      }
    }
  },
});
