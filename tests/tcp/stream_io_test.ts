/**
 * tcp/core/stream_io.ts: both I/O backends carry every byte both ways through the same interface;
 * the epoll backend is chosen on Linux with FFI, Deno's ops otherwise or when asked.
 */
import assert from "node:assert/strict";
import { openIoBackend } from "../../tcp/core/stream_io.ts";
import { readExactly, writeAll } from "../_helpers.ts";

for (const epoll of [true, false]) {
  Deno.test(`openIoBackend({ epoll: ${epoll} }) echoes 1 MiB both ways through attach()`, async () => {
    const backend = openIoBackend({ epoll });
    assert.equal(backend.name, epoll && Deno.build.os === "linux" ? "epoll" : "deno");
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    const conn = backend.attach(await listener.accept());
    listener.close();
    try {
      const payload = new Uint8Array(1024 * 1024).map((_, i) => (i * 7) % 251);
      const echo = (async () => {
        const buffer = new Uint8Array(16 * 1024);
        while (true) {
          const n = await conn.read(buffer);
          if (n === null) break;
          const chunk = buffer.subarray(0, n);
          const now = conn.writeNow(chunk);
          if (now < n) await writeAll(conn, chunk.subarray(now));
        }
        await conn.closeWrite();
      })();
      const [, back] = await Promise.all([
        writeAll(client, payload).then(() => client.closeWrite()),
        readExactly(client, payload.length),
      ]);
      await echo;
      assert.deepEqual(back, payload);
      assert.equal(await client.read(new Uint8Array(1)), null);
      assert.equal(conn.socket.remoteAddr.transport, "tcp");
    } finally {
      conn.close();
      client.close();
      await backend.close();
    }
  });
}
