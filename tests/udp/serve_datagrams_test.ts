/**
 * udp/core/serve_datagrams.ts: the one datagram loop, batched (recvmmsg/sendmmsg, Linux) and
 * plain, with the same handler; and the echo server's batched path (`--quiet`) and its portable
 * twin without FFI. Real loopback sockets; no sleeps: every wait is for a datagram.
 */
import assert from "node:assert/strict";
import { type DatagramHandler, serveDatagrams } from "../../udp/core/serve_datagrams.ts";
import { formatAddr } from "../../tcp/kit/cli.ts";
import { serveUdp } from "../../udp/server.ts";
import { MAX_UDP_PAYLOAD_IPV4, upperAscii } from "../../udp/core/datagram.ts";
import { startCommand } from "../_helpers.ts";

const encoder = new TextEncoder();
const linuxOnly = Deno.build.os !== "linux";

function bind(hostname = "127.0.0.1", port = 0, reuseAddress = false) {
  return Deno.listenDatagram({ transport: "udp", hostname, port, reuseAddress });
}

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

Deno.test({
  name: "serveDatagrams, batched: one reply per answered datagram, in order; -1 sends nothing",
  ignore: linuxOnly,
  fn: async () => {
    const server = bind();
    const client = bind();
    let stop = false;
    const decoder = new TextDecoder();
    // Queued before the server runs, so they arrive as one batch with skipped slots in it.
    for (const word of ["a1", "drop1", "a2", "drop2", "drop3", "a3", "end"]) {
      await client.send(encoder.encode(word), server.addr);
    }
    const serving = serveDatagrams(server, {
      answer(query, out) {
        const text = decoder.decode(query);
        if (text.startsWith("drop")) return -1;
        return encoder.encodeInto(`re:${text}`, out).written;
      },
      receiveFailed: () => false,
      sendFailed: () => false,
      stopped: () => stop,
    }, { batch: true });
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

const decoder = new TextDecoder();

/**
 * A handler that answers `re:<query>` (and nothing to `drop…`), noting where each answer went and
 * stopping after `stopAfter` answers.
 */
function recordingHandler(stopAfter: number) {
  const replied: string[] = [];
  const sources: string[] = [];
  const handler: DatagramHandler = {
    answer(query, out, from) {
      const text = decoder.decode(query);
      sources.push(formatAddr(from.addr));
      if (text.startsWith("drop")) return -1;
      // Built in place: `out` holds the query at its start.
      assert.equal(out.subarray(0, query.length).join(), query.join());
      return encoder.encodeInto(`re:${text}`, out).written;
    },
    replied(reply, to) {
      replied.push(`${decoder.decode(reply)} -> ${formatAddr(to.addr)}`);
    },
    stopped: () => replied.length >= stopAfter,
  };
  return { handler, replied, sources };
}

for (const batch of [false, true]) {
  Deno.test(`serveDatagrams (batch: ${batch}): one answer per datagram, in order, to its sender`, async () => {
    const server = bind();
    const clients = [bind(), bind()];
    const { handler, replied, sources } = recordingHandler(4);
    // Queued before the loop runs, so the batched loop takes them in one go.
    const words = ["a1", "drop1", "b1", "a2", "drop2", "b2"];
    for (const word of words) {
      await clients[word.endsWith("1") ? 0 : 1].send(encoder.encode(word), server.addr);
    }
    const serving = serveDatagrams(server, handler, { batch });
    try {
      const got: string[][] = [[], []];
      for (const [i, client] of clients.entries()) {
        for (let n = 0; n < 2; n++) {
          const [reply, from] = await receiveWithin(client);
          assert.deepEqual({ ...from }, { ...server.addr });
          got[i].push(decoder.decode(reply));
        }
      }
      assert.deepEqual(got, [["re:a1", "re:b1"], ["re:a2", "re:b2"]]);
      assert.equal(await serving, 4);
      const [a, b] = clients.map((c) => formatAddr(c.addr));
      assert.deepEqual(replied, [
        `re:a1 -> ${a}`,
        `re:b1 -> ${a}`,
        `re:a2 -> ${b}`,
        `re:b2 -> ${b}`,
      ]);
      assert.deepEqual(sources, [a, a, a, b, b, b], "every sender, dropped ones too");
    } finally {
      server.close();
      clients.forEach((c) => c.close());
    }
  });
}

Deno.test("serveDatagrams: closing the socket ends every loop; several plain loops share it", async () => {
  for (const options of [{ batch: true }, { loops: 3 }]) {
    const server = bind();
    const client = bind();
    let answered = 0;
    const serving = serveDatagrams(server, {
      answer: (query) => query.length,
      replied: () => answered++,
    }, options);
    try {
      for (let i = 0; i < 5; i++) await client.send(encoder.encode(`x${i}`), server.addr);
      for (let i = 0; i < 5; i++) await receiveWithin(client);
    } finally {
      server.close();
      client.close();
    }
    // The pending receive(s) fail with BadResource: the default policy stops, without throwing.
    assert.equal(await serving, 5, JSON.stringify(options));
    assert.equal(answered, 5);
  }
});

Deno.test("serveDatagrams: an unexpected receive failure is thrown, unless the handler keeps going", async () => {
  const failing = {
    receive: () => Promise.reject(new Deno.errors.PermissionDenied("not allowed")),
  } as unknown as Deno.DatagramConn;
  await assert.rejects(serveDatagrams(failing, { answer: () => -1 }), Deno.errors.PermissionDenied);
  let tries = 0;
  const answered = await serveDatagrams(failing, {
    answer: () => -1,
    receiveFailed: () => ++tries < 3,
  });
  assert.equal(answered, 0);
  assert.equal(tries, 3);
});
