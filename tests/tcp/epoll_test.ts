/**
 * tcp/linux/epoll.ts: Deno's own sockets read and written through one epoll set and recv/send via FFI.
 * Real loopback connections; the other end is a plain `Deno.Conn`, so every byte is checked
 * against what was sent. No sleeps: every wait is for bytes, an end of stream or a rejection.
 */
import assert from "node:assert/strict";
import { type EpollConn, EpollReactor } from "../../tcp/linux/epoll.ts";
import { readAll, readExactly, writeAll } from "../_helpers.ts";

const linuxOnly = Deno.build.os !== "linux";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `count` connected loopback pairs: `[client, server]` each. */
async function pairs(count: number): Promise<[Deno.TcpConn, Deno.TcpConn][]> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const out: [Deno.TcpConn, Deno.TcpConn][] = [];
  for (let i = 0; i < count; i++) {
    const [client, server] = await Promise.all([
      Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
      listener.accept(),
    ]);
    out.push([client, server]);
  }
  return out;
}

/** `promise`, or a failure after 10 s: a broken reactor fails the test instead of hanging it. */
async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within 10 s`)), 10_000);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function openReactor(): EpollReactor {
  const reactor = EpollReactor.open();
  assert.ok(reactor, "the reactor opens on Linux with FFI allowed");
  return reactor;
}

function attach(reactor: EpollReactor, conn: Deno.Conn): EpollConn {
  const attached = reactor.attach(conn);
  assert.ok(attached, "the accepted socket's descriptor is found and added");
  return attached;
}

Deno.test({
  name: "EpollConn reads, writes and sees the end of the stream",
  ignore: linuxOnly,
  fn: async () => {
    const reactor = openReactor();
    const [[client, server]] = await pairs(1);
    const conn = attach(reactor, server);
    try {
      const buffer = new Uint8Array(64);
      const reading = conn.read(buffer); // parks: nothing has arrived yet
      await writeAll(client, encoder.encode("ping"));
      const n = await within(reading, "a parked read");
      assert.equal(decoder.decode(buffer.subarray(0, n ?? 0)), "ping");
      assert.equal(await conn.write(encoder.encode("pong")), 4);
      assert.equal(decoder.decode(await readExactly(client, 4)), "pong");
      client.close();
      assert.equal(await conn.read(buffer), null);
    } finally {
      conn.close();
      await reactor.close();
    }
  },
});

Deno.test({
  name: "EpollReactor wakes each of 64 parked readers with its own bytes",
  ignore: linuxOnly,
  fn: async () => {
    const reactor = openReactor();
    const all = await pairs(64);
    const conns = all.map(([, server]) => attach(reactor, server));
    try {
      assert.equal(reactor.size, 64);
      const reads = conns.map(async (conn) => {
        const buffer = new Uint8Array(64);
        const n = await conn.read(buffer);
        return decoder.decode(buffer.subarray(0, n ?? 0));
      });
      // Written in reverse, so readiness order differs from the order of attaching.
      for (let i = all.length - 1; i >= 0; i--) {
        await writeAll(all[i][0], encoder.encode(`hello ${i}`));
      }
      assert.deepEqual(
        await within(Promise.all(reads), "64 parked reads"),
        all.map((_, i) => `hello ${i}`),
      );
    } finally {
      for (const conn of conns) conn.close();
      for (const [client] of all) client.close();
      await reactor.close();
    }
    assert.equal(reactor.size, 0, "closing detaches");
  },
});

Deno.test({
  name: "EpollReactor takes a connection that is not reading out of the set, and no byte is lost",
  ignore: linuxOnly,
  fn: async () => {
    const reactor = openReactor();
    const [[busyClient, busyServer], [probeClient, probeServer]] = await pairs(2);
    const busy = attach(reactor, busyServer);
    const probe = attach(reactor, probeServer);
    try {
      const probing = probe.read(new Uint8Array(16));
      // busy is readable with nobody waiting; probe's bytes come later, so by the time its read
      // completes the set has reported busy too (epoll's ready list is first come first served).
      await writeAll(busyClient, encoder.encode("queued"));
      await writeAll(probeClient, encoder.encode("x"));
      assert.equal(await within(probing, "the probe's read"), 1);
      assert.equal(busy.armed, false, "a ready socket without a reader leaves the set");
      const buffer = new Uint8Array(16);
      const n = await within(busy.read(buffer), "reading again");
      assert.equal(busy.armed, true, "reading again puts it back");
      assert.equal(decoder.decode(buffer.subarray(0, n ?? 0)), "queued");
    } finally {
      busy.close();
      probe.close();
      busyClient.close();
      probeClient.close();
      await reactor.close();
    }
  },
});

Deno.test({
  name: "EpollConn writes past a full socket buffer by waiting in Deno's own write",
  ignore: linuxOnly,
  fn: async () => {
    const reactor = openReactor();
    const [[client, server]] = await pairs(1);
    const conn = attach(reactor, server);
    const big = new Uint8Array(8 * 1024 * 1024).map((_, i) => (i * 7 + (i >> 12)) & 0xff);
    try {
      const first = conn.writeNow(big);
      assert.ok(first > 0 && first < big.length, "one send cannot take 8 MiB on loopback");
      // The rest through write(), which must wait for the reader to make room.
      const writing = (async () => {
        await writeAll(conn, big.subarray(first));
        await conn.closeWrite();
      })();
      const got = await readAll(client, { maxBytes: 32 * 1024 * 1024 });
      await writing;
      assert.equal(got.length, big.length);
      assert.deepEqual(got, big);
    } finally {
      conn.close();
      client.close();
      await reactor.close();
    }
  },
});

Deno.test({
  name: "closing a connection or the reactor rejects a parked read instead of leaving it hanging",
  ignore: linuxOnly,
  fn: async () => {
    const reactor = openReactor();
    const [[clientA, serverA], [clientB, serverB]] = await pairs(2);
    const a = attach(reactor, serverA);
    const b = attach(reactor, serverB);
    try {
      const parkedA = a.read(new Uint8Array(8));
      a.close();
      await assert.rejects(parkedA, Deno.errors.BadResource);
      const parkedB = b.read(new Uint8Array(8));
      await reactor.close();
      await assert.rejects(parkedB, Deno.errors.Interrupted);
      await assert.rejects(b.read(new Uint8Array(8)), Deno.errors.Interrupted);
    } finally {
      b.close();
      clientA.close();
      clientB.close();
    }
  },
});

Deno.test({
  name: "EpollConn.whenWritable waits in the set while the client reads nothing, reading on",
  ignore: linuxOnly,
  fn: async () => {
    const reactor = openReactor();
    const [[client, server]] = await pairs(1);
    const conn = attach(reactor, server);
    const chunk = new Uint8Array(64 * 1024).fill(0x61);
    try {
      let queued = 0;
      for (let n; (n = conn.writeNow(chunk)) > 0;) queued += n;
      // Full: the wait is in the set, and the connection still reads meanwhile.
      let room = false;
      const waiting = conn.whenWritable().then(() => room = true);
      const reading = conn.read(new Uint8Array(16));
      await writeAll(client, encoder.encode("ping"));
      assert.equal(await within(reading, "read while waiting for room"), 4);
      assert.equal(room, false, "no room while the client reads nothing");
      // The client drains what was queued: the writer wakes up, and the socket takes more.
      await readExactly(client, queued);
      await within(waiting, "room after the client read");
      assert.ok(conn.writeNow(chunk) > 0);
      // A writer waiting when the connection closes is told so.
      for (let n; (n = conn.writeNow(chunk)) > 0;) queued += n;
      const closed = conn.whenWritable();
      conn.close();
      await assert.rejects(closed, Deno.errors.BadResource);
    } finally {
      client.close();
      await reactor.close();
    }
  },
});

Deno.test({
  name: "EpollConn.readLent asks for its buffer only once bytes are there",
  ignore: linuxOnly,
  fn: async () => {
    const reactor = openReactor();
    const [[client, server]] = await pairs(1);
    const conn = attach(reactor, server);
    const lent: Uint8Array[] = [];
    const lender = { lendReadBuffer: () => lent[lent.push(new Uint8Array(64)) - 1] };
    try {
      const reading = conn.readLent(lender);
      // A round trip on the same connection: the parked read has seen the reactor meanwhile.
      const echo = conn.write(encoder.encode("ready"));
      await readExactly(client, 5);
      await echo;
      assert.equal(lent.length, 0, "no buffer while nothing arrived");
      await writeAll(client, encoder.encode("hello"));
      const n = await within(reading, "lent read");
      assert.equal(lent.length, 1);
      assert.equal(decoder.decode(lent[0].subarray(0, n!)), "hello");
    } finally {
      conn.close();
      client.close();
      await reactor.close();
    }
  },
});
