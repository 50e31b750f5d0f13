/**
 * tcp/sendfile.ts: sendfile(2) on the socket behind a Deno.Conn. Real loopback connections and
 * temporary files; the receiving side is plain `conn.read`, so every byte is checked against the
 * file. No sleeps: waits are for bytes or for the end of the stream.
 */
import assert from "node:assert/strict";
import { FileShrankError, sendFileRange } from "../../tcp/linux/sendfile.ts";
import { streamDescriptor } from "../../tcp/linux/descriptor.ts";
import { randomBytes, sha256, withTempDir } from "../_file_peers.ts";

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

/** Reads until EOF; returns everything. */
async function readToEnd(conn: Deno.Conn): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buffer = new Uint8Array(256 * 1024);
  let total = 0;
  while (true) {
    const got = await conn.read(buffer);
    if (got === null) break;
    parts.push(buffer.slice(0, got));
    total += got;
  }
  const all = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return all;
}

const open = { closed: () => false, progress: () => {} };

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
  name: "sendFileRange sends exactly the asked range, more than the socket buffers hold",
  ignore: linuxOnly,
  fn: async () => {
    await withTempDir(async (dir) => {
      // 8 MiB cannot fit in loopback's socket buffers, so sendfile meets a full socket and
      // has to wait for the reader (the poll path) before it finishes.
      const bytes = randomBytes(8 * 1024 * 1024 + 12345);
      const path = `${dir}/data.bin`;
      await Deno.writeFile(path, bytes);
      for (const [offset, count] of [[0, bytes.length], [777, bytes.length - 777 - 5], [9, 0]]) {
        const [client, server] = await connectedPair();
        const reports: number[] = [];
        const received = readToEnd(client);
        try {
          const sent = await sendFileRange(server, path, offset, count, {
            closed: () => false,
            progress: (moved) => reports.push(moved),
          });
          assert.equal(sent, true);
        } finally {
          server.close();
        }
        try {
          // Compared by digest: a failing deepEqual of 8 MiB would spend minutes on its diff.
          const got = await received;
          assert.equal(got.length, count);
          assert.equal(sha256(got), sha256(bytes.subarray(offset, offset + count)));
        } finally {
          client.close();
        }
        if (count > 0) assert.equal(reports.at(-1), count);
        assert.deepEqual(reports, [...reports].sort((x, y) => x - y), "progress only grows");
      }
    });
  },
});

Deno.test({
  name: "sendFileRange reads past 4 GiB: a 64-bit file offset (sparse file, no disk used)",
  ignore: linuxOnly,
  fn: async () => {
    await withTempDir(async (dir) => {
      const path = `${dir}/sparse.bin`;
      const at = 2 ** 32 + 100;
      const tail = randomBytes(300_000);
      {
        using file = await Deno.open(path, { write: true, createNew: true });
        await file.seek(at, Deno.SeekMode.Start);
        let written = 0;
        while (written < tail.length) written += await file.write(tail.subarray(written));
      }
      const [client, server] = await connectedPair();
      const received = readToEnd(client);
      try {
        // From 10 bytes of the hole before the data through to the file's end.
        assert.equal(await sendFileRange(server, path, at - 10, tail.length + 10, open), true);
      } finally {
        server.close();
      }
      const got = await received;
      client.close();
      assert.equal(got.length, tail.length + 10);
      assert.deepEqual([...got.subarray(0, 10)], Array(10).fill(0));
      assert.equal(sha256(got.subarray(10)), sha256(tail));
    });
  },
});

Deno.test({
  name: "sendFileRange: a file shorter than promised is FileShrankError after what it had",
  ignore: linuxOnly,
  fn: async () => {
    await withTempDir(async (dir) => {
      const path = `${dir}/short.bin`;
      await Deno.writeFile(path, randomBytes(1000));
      const [client, server] = await connectedPair();
      const received = readToEnd(client);
      try {
        await assert.rejects(
          sendFileRange(server, path, 100, 5000, open),
          (error) => error instanceof FileShrankError && error.sent === 900,
        );
      } finally {
        server.close();
      }
      assert.equal((await received).length, 900);
      client.close();
    });
  },
});

Deno.test({
  name: "sendFileRange fails like a write when the peer is gone, and stops when told to",
  ignore: linuxOnly,
  fn: async () => {
    await withTempDir(async (dir) => {
      const path = `${dir}/big.bin`;
      await Deno.writeFile(path, randomBytes(16 * 1024 * 1024));
      // The peer closes without reading: the kernel resets the connection.
      {
        const [client, server] = await connectedPair();
        client.close();
        try {
          await assert.rejects(
            sendFileRange(server, path, 0, 16 * 1024 * 1024, open),
            (error) =>
              error instanceof Deno.errors.ConnectionReset ||
              error instanceof Deno.errors.BrokenPipe,
          );
        } finally {
          server.close();
        }
      }
      // A peer that never reads: the sender stops once the caller says the connection is over.
      {
        const [client, server] = await connectedPair();
        let over = false;
        try {
          await assert.rejects(
            sendFileRange(server, path, 0, 16 * 1024 * 1024, {
              closed: () => over,
              progress: () => {
                over = true;
              },
            }),
            Deno.errors.BadResource,
          );
        } finally {
          server.close();
          client.close();
        }
      }
    });
  },
});

Deno.test({
  name: "sendFileRange returns false (sends nothing) for what sendfile cannot read: a directory",
  ignore: linuxOnly,
  fn: async () => {
    await withTempDir(async (dir) => {
      const [client, server] = await connectedPair();
      try {
        // open(2) accepts a directory read-only; sendfile then fails with EINVAL.
        assert.equal(await sendFileRange(server, dir, 0, 10, open), false);
      } finally {
        server.close();
      }
      assert.equal((await readToEnd(client)).length, 0);
      client.close();
    });
  },
});

Deno.test({
  name: "sendFileRange returns false (sends nothing) for a file it cannot open",
  ignore: linuxOnly,
  fn: async () => {
    const [client, server] = await connectedPair();
    try {
      assert.equal(await sendFileRange(server, "/nonexistent/netlab", 0, 10, open), false);
    } finally {
      server.close();
    }
    assert.equal((await readToEnd(client)).length, 0);
    client.close();
  },
});
