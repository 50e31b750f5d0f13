/**
 * tcp/linux/mmsg.ts: recvmmsg/sendmmsg on the socket behind a Deno.DatagramConn, on real loopback
 * sockets, and the descriptor lookup it needs. No sleeps: every wait is for a datagram.
 */
import assert from "node:assert/strict";
import { DatagramBatch } from "../../tcp/linux/mmsg.ts";
import { datagramDescriptor } from "../../tcp/linux/descriptor.ts";

const encoder = new TextEncoder();
const linuxOnly = Deno.build.os !== "linux";

function bind(hostname = "127.0.0.1", port = 0, reuseAddress = false) {
  return Deno.listenDatagram({ transport: "udp", hostname, port, reuseAddress });
}

Deno.test({
  name: "DatagramBatch drains every queued datagram in one call and replies to each sender",
  ignore: linuxOnly,
  fn: async () => {
    for (const hostname of ["127.0.0.1", "::1"]) {
      const server = bind(hostname);
      const clients = [bind(hostname), bind(hostname)];
      try {
        const batch = DatagramBatch.open(server, 8);
        assert.ok(batch, "batching is available on Linux with --allow-ffi");
        // Five datagrams from two senders queue up before the server looks.
        for (let i = 0; i < 5; i++) {
          await clients[i % 2].send(encoder.encode(`d${i}`), server.addr);
        }
        const [first, from] = await server.receive(batch.buffers[0]);
        assert.equal(new TextDecoder().decode(first), "d0");
        assert.ok(batch.setPeer(0, from as Deno.NetAddr));
        assert.equal(batch.receiveQueued(1), 4, "the four queued behind the first, in one call");
        assert.deepEqual(
          [1, 2, 3, 4].map((i) => new TextDecoder().decode(batch.datagram(i))),
          ["d1", "d2", "d3", "d4"],
        );
        assert.deepEqual(batch.peer(1), { ...clients[1].addr });
        assert.deepEqual(batch.peer(2), { ...clients[0].addr });
        assert.equal(batch.receiveQueued(1), 0, "nothing more queued: no waiting");
        // Reply with the first byte of each datagram ("d"), plus the digit for the even ones.
        const lengths = [2, 1, 2, 1, 2];
        assert.equal(batch.reply(lengths, 5), 5);
        const got: string[][] = [[], []];
        for (let i = 0; i < 5; i++) {
          const [reply] = await clients[i % 2].receive();
          got[i % 2].push(new TextDecoder().decode(reply));
        }
        assert.deepEqual(got, [["d0", "d2", "d4"], ["d", "d"]]);
        // Skipped slots (negative lengths): still one sendmmsg for all the others.
        for (let i = 0; i < 5; i++) {
          await clients[i % 2].send(encoder.encode(`e${i}`), server.addr);
        }
        const [, again] = await server.receive(batch.buffers[0]);
        assert.ok(batch.setPeer(0, again as Deno.NetAddr));
        assert.equal(batch.receiveQueued(1), 4);
        assert.equal(batch.reply([2, -1, 2, -1, 2], 5), 5, "every slot done by the kernel call");
        const echoed = [];
        for (let i = 0; i < 3; i++) {
          echoed.push(new TextDecoder().decode((await clients[0].receive())[0]));
        }
        assert.deepEqual(echoed, ["e0", "e2", "e4"]);
      } finally {
        server.close();
        clients.forEach((c) => c.close());
      }
    }
  },
});

Deno.test({
  name: "datagramDescriptor refuses to guess when two sockets share the port (SO_REUSEADDR)",
  ignore: linuxOnly,
  fn: () => {
    const a = bind("127.0.0.1", 0, true);
    const b = bind("127.0.0.1", (a.addr as Deno.NetAddr).port, true);
    try {
      assert.equal(datagramDescriptor(a), null);
      assert.equal(DatagramBatch.open(b), null);
    } finally {
      a.close();
      b.close();
    }
    const alone = bind();
    try {
      assert.equal(typeof datagramDescriptor(alone), "number");
    } finally {
      alone.close();
    }
  },
});
