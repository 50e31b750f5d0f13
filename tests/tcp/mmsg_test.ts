/**
 * tcp/linux/mmsg.ts: recvmmsg/sendmmsg on the socket behind a Deno.DatagramConn, and the echo server's
 * batched path that uses it (any `--quiet` server on Linux). Byte vectors for the sockaddr codec;
 * real loopback sockets for the rest. No sleeps: every wait is for a datagram.
 */
import assert from "node:assert/strict";
import { DatagramBatch } from "../../tcp/linux/mmsg.ts";
import { serveInBatches } from "../../udp/core/serve_datagrams.ts";
import { datagramDescriptor } from "../../tcp/linux/descriptor.ts";
import { encodeSockaddr } from "../../tcp/linux/sockaddr.ts";
import { serveUdp } from "../../udp/server.ts";
import { MAX_UDP_PAYLOAD_IPV4, upperAscii } from "../../udp/core/datagram.ts";
import { startCommand } from "../_helpers.ts";

const encoder = new TextEncoder();
const linuxOnly = Deno.build.os !== "linux";

function bind(hostname = "127.0.0.1", port = 0, reuseAddress = false) {
  return Deno.listenDatagram({ transport: "udp", hostname, port, reuseAddress });
}

Deno.test("encodeSockaddr writes sockaddr_in and sockaddr_in6 bytes, and refuses what it can't", () => {
  const name = new Uint8Array(32).fill(0xee);
  assert.equal(encodeSockaddr({ transport: "udp", hostname: "127.0.0.1", port: 8080 }, name), 16);
  // AF_INET = 2 (host order), port 8080 = 0x1f90 (network order), 127.0.0.1, zero padding.
  assert.deepEqual([...name.subarray(0, 16)], [
    2,
    0,
    0x1f,
    0x90,
    127,
    0,
    0,
    1,
    ...Array(8).fill(0),
  ]);
  assert.equal(encodeSockaddr({ transport: "udp", hostname: "::1", port: 53 }, name), 28);
  // AF_INET6 = 10, port 53, flowinfo 0, ::1, scope id 0.
  assert.deepEqual(
    [...name.subarray(0, 28)],
    [10, 0, 0, 53, 0, 0, 0, 0, ...Array(15).fill(0), 1, 0, 0, 0, 0],
  );
  assert.equal(encodeSockaddr({ transport: "udp", hostname: "fe80::1%eth0", port: 1 }, name), 0);
  assert.equal(encodeSockaddr({ transport: "udp", hostname: "300.1.1.1", port: 1 }, name), 0);
});

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
  name: "serveInBatches: one reply per answered datagram, in order; -1 sends nothing",
  ignore: linuxOnly,
  fn: async () => {
    const server = bind();
    const client = bind();
    const batch = DatagramBatch.open(server, 8)!;
    let stop = false;
    const decoder = new TextDecoder();
    // Queued before the server runs, so they arrive as one batch with skipped slots in it.
    for (const word of ["a1", "drop1", "a2", "drop2", "drop3", "a3", "end"]) {
      await client.send(encoder.encode(word), server.addr);
    }
    const serving = serveInBatches(server, batch, {
      answer(query, out) {
        const text = decoder.decode(query);
        if (text.startsWith("drop")) return -1;
        return encoder.encodeInto(`re:${text}`, out).written;
      },
      receiveFailed: () => false,
      sendFailed: () => false,
      stopped: () => stop,
    });
    try {
      const got: string[] = [];
      while (got[got.length - 1] !== "re:end") {
        got.push(decoder.decode((await receiveWithin(client))[0]));
      }
      assert.deepEqual(got, ["re:a1", "re:a2", "re:a3", "re:end"]);
    } finally {
      stop = true;
      server.close();
      client.close();
    }
    assert.equal(await serving, 4);
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

/** The next datagram on `conn`, or a failed test after 5 s (a lost datagram must not hang). */
async function receiveWithin(conn: Deno.DatagramConn): Promise<[Uint8Array, Deno.Addr]> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("no reply within 5 s")), 5000);
  });
  try {
    return await Promise.race([conn.receive(new Uint8Array(65536)), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("the quiet (batched) server answers bursts in order and whole, up to the largest datagram", async () => {
  const conn = bind();
  const controller = new AbortController();
  const serving = serveUdp(conn, { signal: controller.signal, quiet: true });
  const client = bind();
  try {
    // Each burst fits the client's default receive buffer (~208 KiB), so nothing is dropped.
    const bursts = [[0, 1, 64, 1500, 7, 9000], [MAX_UDP_PAYLOAD_IPV4, MAX_UDP_PAYLOAD_IPV4]];
    for (const [round, sizes] of [bursts[0], bursts[0], bursts[0], bursts[1]].entries()) {
      const sent = sizes.map((size, i) => {
        const datagram = new Uint8Array(size).fill(0x61 + ((round + i) % 26));
        datagram.set(encoder.encode(`你好 ${i} `).subarray(0, size));
        return datagram;
      });
      // All sent before any reply is read, so the server finds them queued.
      for (const datagram of sent) await client.send(datagram, conn.addr);
      for (const datagram of sent) {
        const [reply, from] = await receiveWithin(client);
        assert.deepEqual({ ...from }, { ...conn.addr });
        assert.deepEqual(reply, upperAscii(datagram));
      }
    }
  } finally {
    client.close();
    controller.abort();
    await serving;
  }
});

Deno.test("without --allow-ffi the quiet server answers through the portable one-datagram loop", async () => {
  // No FFI permission: DatagramBatch.open is null and nothing is printed about it.
  await using server = await startCommand(Deno.execPath(), [
    "run",
    "--allow-net",
    "udp/server.ts",
    "--port",
    "0",
    "--quiet",
  ]);
  const client = bind();
  try {
    const target: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port: server.port };
    for (const word of ["one", "two", "three"]) await client.send(encoder.encode(word), target);
    const got = [];
    for (let i = 0; i < 3; i++) {
      got.push(new TextDecoder().decode((await receiveWithin(client))[0]));
    }
    assert.deepEqual(got, ["ONE", "TWO", "THREE"]);
  } finally {
    client.close();
  }
  const result = await server.stop();
  assert.equal(result.stderr, "");
});
