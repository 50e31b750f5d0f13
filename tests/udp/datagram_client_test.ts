/**
 * udp/core/datagram_client.ts: stdin split into lines, and the client socket's timeout, retry and
 * foreign datagrams, against real loopback sockets. No sleeps: every wait is for a datagram.
 */
import assert from "node:assert/strict";
import { upperAscii } from "../../udp/core/datagram.ts";
import {
  DatagramClient,
  NoReplyError,
  readLines,
  TextLineTooLongError,
} from "../../udp/core/datagram_client.ts";
import { bind, closedPort, portOf } from "./_udp.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const text = (bytes: Uint8Array) => decoder.decode(bytes);

Deno.test("readLines splits across chunks, strips CR, keeps empty lines and an unterminated last line", async () => {
  const bytes = encoder.encode("one\r\n\n你好\nlast");
  // Feed one byte at a time: a Chinese character is split across chunks.
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const b of bytes) controller.enqueue(new Uint8Array([b]));
      controller.close();
    },
  });
  const lines: string[] = [];
  for await (const line of readLines(stream)) lines.push(line);
  assert.deepEqual(lines, ["one", "", "你好", "last"]);
});

Deno.test("readLines refuses a line longer than its limit", async () => {
  const stream = ReadableStream.from([encoder.encode("x".repeat(20))]);
  await assert.rejects(
    async () => {
      for await (const _ of readLines(stream, { maxChars: 10 })) { /* nothing */ }
    },
    (e: Error) =>
      e instanceof TextLineTooLongError && e.message === "Input line is longer than 10 characters",
  );
});

Deno.test("DatagramClient retries after a lost datagram (server drops the first one)", async () => {
  using server = bind();
  const serving = (async () => {
    const [, firstFrom] = await server.receive(); // dropped: no reply, like a lost datagram
    const [data, from] = await server.receive();
    assert.deepEqual(from, firstFrom);
    await server.send(upperAscii(data), from);
  })();
  await using client = new DatagramClient("127.0.0.1", portOf(server), {
    timeoutMs: 200,
    retries: 2,
  });
  const { reply, tries } = await client.request(encoder.encode("retry me"));
  await serving;
  assert.equal(text(reply), "RETRY ME");
  assert.equal(tries, 2);
});

Deno.test("DatagramClient ignores datagrams from other addresses than the server", async () => {
  using server = bind();
  using stranger = bind();
  const serving = (async () => {
    const [data, from] = await server.receive();
    // The stranger's datagram reaches the client first; it must not be taken as the reply.
    await stranger.send(encoder.encode("not from the server"), from);
    await server.send(upperAscii(data), from);
  })();
  await using client = new DatagramClient("127.0.0.1", portOf(server), { timeoutMs: 5000 });
  const { reply, ignored, tries } = await client.request(encoder.encode("hi"));
  await serving;
  assert.equal(text(reply), "HI");
  assert.equal(ignored, 1);
  assert.equal(tries, 1);
});

Deno.test("DatagramClient gives up after 1 + retries tries when nobody listens", async () => {
  await using client = new DatagramClient("127.0.0.1", closedPort(), {
    timeoutMs: 100,
    retries: 1,
  });
  await assert.rejects(() => client.request(encoder.encode("anyone?")), (e: Error) => {
    assert.ok(e instanceof NoReplyError);
    assert.match(e.message, /^no reply from 127\.0\.0\.1:\d+ after 2 tries \(100 ms each\)/);
    assert.match(e.message, /nobody is listening/);
    return true;
  });
});
