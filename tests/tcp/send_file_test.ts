/**
 * tcp/core/send_file.ts: `sendFileRange`, the one way netlab sends part of a file — sendfile(2)
 * where possible, the copy loop otherwise — on real loopback connections and temporary files.
 * Every case runs in both modes; the receiving side is plain `conn.read`, so every byte is
 * checked against the file. No sleeps: waits are for bytes, for the end of the stream, or for a
 * write the sender could not avoid.
 */
import assert from "node:assert/strict";
import { FileShrankError, PIECE_SIZE, sendFileRange } from "../../tcp/core/send_file.ts";
import { EpollReactor } from "../../tcp/linux/epoll.ts";
import { randomBytes, sha256, withTempDir } from "../_file_peers.ts";
import { readAll, readExactly } from "../_helpers.ts";

const linuxOnly = Deno.build.os !== "linux";
const MODES = [{ zeroCopy: true }, { zeroCopy: false }];

/** A connected pair over loopback: `[client, server]`. */
async function connectedPair(): Promise<[Deno.TcpConn, Deno.TcpConn]> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [client, server] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    listener.accept(),
  ]);
  return [client, server];
}

/** Reads until EOF (up to 64 MiB); everything that arrived. */
function readToEnd(conn: Deno.Conn): Promise<Uint8Array> {
  return readAll(conn, { maxBytes: 64 * 1024 * 1024 });
}

Deno.test("sendFileRange sends exactly the asked range, more than the socket buffers hold", async () => {
  await withTempDir(async (dir) => {
    // 8 MiB cannot fit in loopback's socket buffers, so the sender meets a full socket.
    const bytes = randomBytes(8 * 1024 * 1024 + 12345);
    const path = `${dir}/data.bin`;
    await Deno.writeFile(path, bytes);
    for (const mode of MODES) {
      for (const [start, length] of [[0, bytes.length], [777, bytes.length - 777 - 5], [9, 0]]) {
        const [client, server] = await connectedPair();
        const reports: number[] = [];
        const received = readToEnd(client);
        try {
          await sendFileRange(server, { path, start, length }, {
            ...mode,
            onProgress: (sent) => reports.push(sent),
          });
        } finally {
          server.close();
        }
        try {
          // Compared by digest: a failing deepEqual of 8 MiB would spend minutes on its diff.
          const got = await received;
          assert.equal(got.length, length, JSON.stringify(mode));
          assert.equal(sha256(got), sha256(bytes.subarray(start, start + length)));
        } finally {
          client.close();
        }
        if (length > 0) assert.equal(reports.at(-1), length);
        assert.deepEqual(reports, [...reports].sort((x, y) => x - y), "progress only grows");
      }
    }
  });
});

Deno.test("sendFileRange reads past 4 GiB: a 64-bit file offset (sparse file, no disk used)", async () => {
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
    for (const mode of MODES) {
      const [client, server] = await connectedPair();
      const received = readToEnd(client);
      try {
        // From 10 bytes of the hole before the data through to the file's end.
        await sendFileRange(server, { path, start: at - 10, length: tail.length + 10 }, mode);
      } finally {
        server.close();
      }
      const got = await received;
      client.close();
      assert.equal(got.length, tail.length + 10);
      assert.deepEqual([...got.subarray(0, 10)], Array(10).fill(0));
      assert.equal(sha256(got.subarray(10)), sha256(tail));
    }
  });
});

Deno.test("sendFileRange: a file shorter than promised is FileShrankError after what it had", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/short.bin`;
    await Deno.writeFile(path, randomBytes(1000));
    for (const mode of MODES) {
      const [client, server] = await connectedPair();
      const received = readToEnd(client);
      try {
        await assert.rejects(
          sendFileRange(server, { path, start: 100, length: 5000 }, mode),
          (error) =>
            error instanceof FileShrankError && error.sent === 900 && error.expected === 5000,
        );
      } finally {
        server.close();
      }
      assert.equal((await received).length, 900);
      client.close();
    }
  });
});

Deno.test("sendFileRange fails like a write when the peer is gone, and stops when told to", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/big.bin`;
    const size = 16 * 1024 * 1024;
    await Deno.writeFile(path, randomBytes(size));
    for (const mode of MODES) {
      // The peer closes without reading: the kernel resets the connection.
      {
        const [client, server] = await connectedPair();
        client.close();
        try {
          await assert.rejects(
            sendFileRange(server, { path, start: 0, length: size }, mode),
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
            sendFileRange(server, { path, start: 0, length: size }, {
              ...mode,
              closed: () => over,
              onProgress: () => {
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
    }
  });
});

Deno.test("sendFileRange: a directory or a missing file is an error, and nothing is sent", async () => {
  await withTempDir(async (dir) => {
    for (const mode of MODES) {
      for (const path of [dir, `${dir}/missing`]) {
        const [client, server] = await connectedPair();
        try {
          await assert.rejects(sendFileRange(server, { path, start: 0, length: 10 }, mode));
        } finally {
          server.close();
        }
        assert.equal((await readToEnd(client)).length, 0, path);
        client.close();
      }
    }
  });
});

/**
 * A writer that passes everything to `conn` and counts its calls; `firstWrite` resolves at the
 * first one (for sendfile: the first time the socket was full).
 */
function countingWriter(conn: Deno.Conn) {
  let wrote!: () => void;
  const writer = {
    calls: 0,
    bytes: 0,
    firstWrite: new Promise<void>((resolve) => wrote = resolve),
    write(p: Uint8Array): Promise<number> {
      writer.calls++;
      wrote();
      return conn.write(p).then((n) => {
        writer.bytes += n;
        return n;
      });
    },
  };
  return writer;
}

Deno.test({
  name: "sendFileRange waits out a full socket by writing a piece through the writer, in order",
  ignore: linuxOnly,
  fn: async () => {
    await withTempDir(async (dir) => {
      const bytes = randomBytes(32 * 1024 * 1024);
      const path = `${dir}/big.bin`;
      await Deno.writeFile(path, bytes);
      const [client, server] = await connectedPair();
      const writer = countingWriter(server);
      const sending = sendFileRange(server, { path, start: 0, length: bytes.length }, { writer });
      // The reader starts only once the socket was full: the sender had to wait for room.
      await writer.firstWrite;
      const received = readToEnd(client);
      try {
        await sending;
      } finally {
        server.close();
      }
      const got = await received;
      client.close();
      assert.equal(got.length, bytes.length);
      assert.equal(sha256(got), sha256(bytes));
      // Pieces, not the file: sendfile moved almost everything.
      assert.ok(writer.bytes >= 1 && writer.bytes % PIECE_SIZE === 0, `${writer.bytes}`);
      assert.ok(writer.bytes <= bytes.length / 4, `${writer.bytes} of ${bytes.length} copied`);
    });
  },
});

Deno.test({
  name: "sendFileRange waits for room in the writer's own reactor where it has one: no piece",
  ignore: linuxOnly,
  fn: async () => {
    await withTempDir(async (dir) => {
      const bytes = randomBytes(16 * 1024 * 1024);
      const path = `${dir}/big.bin`;
      await Deno.writeFile(path, bytes);
      const reactor = EpollReactor.open()!;
      const [client, server] = await connectedPair();
      const conn = reactor.attach(server)!;
      let waits = 0;
      let waiting!: () => void;
      const firstWait = new Promise<void>((resolve) => waiting = resolve);
      const writer = countingWriter(server);
      const epollWriter = {
        write: (p: Uint8Array) => writer.write(p),
        whenWritable: () => {
          waits++;
          waiting();
          return conn.whenWritable();
        },
      };
      const length = bytes.length;
      const sending = sendFileRange(server, { path, start: 0, length }, { writer: epollWriter });
      try {
        // The client reads only once the socket was full: the sender had to wait for room (in
        // the reactor, or — the wrong way for this writer — in a write of a piece).
        await Promise.race([firstWait, writer.firstWrite]);
        const received = readExactly(client, length);
        await sending;
        assert.equal(sha256(await received), sha256(bytes));
        // The reactor said when there was room again; no byte went through a write to wait.
        assert.ok(waits >= 1);
        assert.equal(writer.calls, 0, `${writer.bytes} bytes written as pieces`);
      } finally {
        conn.close();
        client.close();
        await reactor.close();
      }
    });
  },
});

/** Resolves to "timeout" if `promise` has not settled within `ms` (the timer is always cleared). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) =>
    timer = setTimeout(() => resolve("timeout"), ms)
  );
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Threads of this process blocked in poll(2)/ppoll(2) right now (Linux /proc). */
function threadsInPoll(): number {
  // x86-64: poll = 7, ppoll = 271; aarch64 has only ppoll = 73.
  const calls = Deno.build.arch === "x86_64" ? ["7", "271"] : ["73"];
  let count = 0;
  for (const task of Deno.readDirSync("/proc/self/task")) {
    try {
      const call = Deno.readTextFileSync(`/proc/self/task/${task.name}/syscall`).split(" ")[0];
      if (calls.includes(call)) count++;
    } catch {
      // The thread ended while we looked.
    }
  }
  return count;
}

Deno.test({
  name: "64 readers that never read hold no thread, and another transfer completes meanwhile",
  ignore: linuxOnly,
  fn: async () => {
    await withTempDir(async (dir) => {
      const big = `${dir}/big.bin`;
      await Deno.writeFile(big, randomBytes(32 * 1024 * 1024));
      const small = randomBytes(4 * 1024 * 1024);
      await Deno.writeFile(`${dir}/small.bin`, small);
      const before = threadsInPoll();
      const stuck: { client: Deno.TcpConn; server: Deno.TcpConn; sending: Promise<void> }[] = [];
      const full: Promise<void>[] = [];
      try {
        for (let i = 0; i < 64; i++) {
          const [client, server] = await connectedPair();
          const writer = countingWriter(server);
          const sending = sendFileRange(server, { path: big, start: 0, length: 32 << 20 }, {
            writer,
          });
          sending.catch(() => {}); // rejected when the test closes it
          stuck.push({ client, server, sending });
          full.push(writer.firstWrite);
        }
        // Every sender meets a full socket and waits for room that never comes (bounded, so a
        // sender that waits some other way fails the assertions below instead of hanging).
        const waited = await within(Promise.all(full), 10_000);
        // Waiting costs no thread: nothing of ours sits in poll(2) for them.
        assert.ok(threadsInPoll() - before < 8, `${threadsInPoll()} threads in poll(2)`);
        assert.notEqual(waited, "timeout", "every sender waits in a write of its own");
        // And everyone else is served as usual.
        const [client, server] = await connectedPair();
        const received = readToEnd(client);
        try {
          await sendFileRange(server, { path: `${dir}/small.bin`, start: 0, length: small.length });
        } finally {
          server.close();
        }
        const got = await received;
        client.close();
        assert.equal(sha256(got), sha256(small));
      } finally {
        for (const { client, server } of stuck) {
          server.close();
          client.close();
        }
        await Promise.allSettled(stuck.map((s) => s.sending));
      }
    });
  },
});
