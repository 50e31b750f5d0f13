/**
 * tcp/linux/sendfile.ts: sendfile(2) on the socket behind a Deno.Conn, one call at a time. Real
 * loopback connections and temporary files; every call returns at once (the socket is
 * non-blocking), so a full socket is a result, never a wait.
 */
import assert from "node:assert/strict";
import {
  SENDFILE_UNSUPPORTED,
  SENDFILE_WOULD_BLOCK,
  SendfileChannel,
} from "../../tcp/linux/sendfile.ts";
import { randomBytes, sha256, withTempDir } from "../_file_peers.ts";
import { readExactly } from "../_helpers.ts";

const linuxOnly = Deno.build.os !== "linux";

/** A connected pair over loopback: `[client, server]`. */
async function connectedPair(): Promise<[Deno.TcpConn, Deno.TcpConn]> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [client, server] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    listener.accept(),
  ]);
  return [client, server];
}

Deno.test({
  name: "SendfileChannel fills the socket without waiting, then says it is full",
  ignore: linuxOnly,
  fn: async () => {
    await withTempDir(async (dir) => {
      const bytes = randomBytes(32 * 1024 * 1024);
      const path = `${dir}/big.bin`;
      await Deno.writeFile(path, bytes);
      const [client, server] = await connectedPair();
      try {
        using channel = SendfileChannel.open(server, path);
        assert.ok(channel, "the fast path is available");
        // Nobody reads: the socket buffers fill and the next call reports it, synchronously.
        let sent = 0;
        let result = 0;
        for (let calls = 0; calls < 10_000; calls++) {
          result = channel.send(sent, bytes.length - sent);
          if (result <= 0) break;
          sent += result;
        }
        assert.equal(result, SENDFILE_WOULD_BLOCK);
        assert.ok(sent > 0 && sent < bytes.length, `${sent} bytes fit in the socket buffers`);
        // What went out is the file's beginning, in order.
        const got = await readExactly(client, sent);
        assert.equal(sha256(got), sha256(bytes.subarray(0, sent)));
        // Room again: the next call moves more, from the offset asked for.
        const more = channel.send(sent, bytes.length - sent);
        assert.ok(more > 0);
        assert.equal(
          sha256(await readExactly(client, more)),
          sha256(bytes.subarray(sent, sent + more)),
        );
        // At the end of the file: 0.
        assert.equal(channel.send(bytes.length, 10), 0);
      } finally {
        client.close();
        server.close();
      }
    });
  },
});

Deno.test({
  name: "SendfileChannel: a directory is SENDFILE_UNSUPPORTED before any byte; no file, no channel",
  ignore: linuxOnly,
  fn: async () => {
    await withTempDir(async (dir) => {
      const [client, server] = await connectedPair();
      try {
        // open(2) accepts a directory read-only; sendfile then fails with EINVAL.
        using channel = SendfileChannel.open(server, dir);
        assert.ok(channel);
        assert.equal(channel.send(0, 10), SENDFILE_UNSUPPORTED);
        assert.equal(SendfileChannel.open(server, `${dir}/missing`), null);
      } finally {
        client.close();
        server.close();
      }
    });
  },
});
