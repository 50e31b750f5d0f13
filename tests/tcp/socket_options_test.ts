/**
 * tcp/core/socket_options.ts: keepalive and the cap on unsent bytes for every accepted
 * connection, set once on the listener (Linux copies a listener's options to the connections it
 * accepts) — read back from the kernel on the accepted sockets.
 */
import assert from "node:assert/strict";
import {
  keepaliveFor,
  limitUnsentBytes,
  readSocketOptions,
  readUnsentLimit,
} from "../../tcp/core/socket_options.ts";
import { listenerDescriptor, streamDescriptor } from "../../tcp/linux/descriptor.ts";

const linuxOnly = Deno.build.os !== "linux";

Deno.test({
  name: "keepaliveFor: every accepted connection has SO_KEEPALIVE and the listener's timers",
  ignore: linuxOnly,
  fn: async () => {
    for (const hostname of ["127.0.0.1", "::1"]) {
      using listener = Deno.listen({ hostname, port: 0 });
      const perConnection = keepaliveFor(listener, {
        idleSeconds: 7,
        intervalSeconds: 3,
        probes: 4,
      });
      for (let i = 0; i < 2; i++) {
        const [client, server] = await Promise.all([
          Deno.connect({ hostname, port: listener.addr.port }),
          listener.accept(),
        ]);
        try {
          perConnection(server);
          const options = readSocketOptions(streamDescriptor(server)!);
          assert.equal(options?.SO_KEEPALIVE, 1, hostname);
          assert.equal(options?.TCP_KEEPIDLE, 7);
          assert.equal(options?.TCP_KEEPINTVL, 3);
          assert.equal(options?.TCP_KEEPCNT, 4);
          // The client side is untouched.
          assert.equal(readSocketOptions(streamDescriptor(client)!)?.SO_KEEPALIVE, 0);
        } finally {
          client.close();
          server.close();
        }
      }
    }
  },
});

Deno.test({
  name: "listenerDescriptor finds the listening socket, not a connection on the same address",
  ignore: linuxOnly,
  fn: async () => {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const [client, server] = await Promise.all([
      Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
      listener.accept(),
    ]);
    try {
      const fd = listenerDescriptor(listener);
      assert.notEqual(fd, null);
      assert.equal(readSocketOptions(fd!)?.SO_ACCEPTCONN, 1);
      assert.notEqual(fd, streamDescriptor(server));
    } finally {
      client.close();
      server.close();
    }
  },
});

Deno.test({
  name: "limitUnsentBytes: every accepted connection has the listener's TCP_NOTSENT_LOWAT",
  ignore: linuxOnly,
  fn: async () => {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const unlimited = readUnsentLimit(listenerDescriptor(listener)!);
    assert.equal(limitUnsentBytes(listener, 96 * 1024), true);
    const [client, server] = await Promise.all([
      Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
      listener.accept(),
    ]);
    try {
      assert.equal(readUnsentLimit(streamDescriptor(server)!), 96 * 1024);
      // The client side keeps the system's setting.
      assert.equal(readUnsentLimit(streamDescriptor(client)!), unlimited);
    } finally {
      client.close();
      server.close();
    }
  },
});
