/**
 * dns/resolver/transport.ts: one query and its reply — a forged id, question or source port is
 * ignored and the wait goes on, silence ends in NoReplyError after every try, the caller's signal
 * stops the wait, and a truncated UDP reply is asked again over TCP.
 */
import assert from "node:assert/strict";
import { decodeMessage, encodeMessage } from "../../dns/wire/message.ts";
import { RCODE, TYPE } from "../../dns/wire/constants.ts";
import { exchange, NoReplyError, replyMismatch } from "../../dns/resolver/transport.ts";
import { makeQuery } from "../../dns/wire/message.ts";
import { encodeLengthPrefixed, LengthPrefixDecoder } from "../../tcp/core/framing.ts";
import { writeAll } from "../../tcp/core/io.ts";
import { a, response, startFakeNet } from "../_fake_dns.ts";

const EXAMPLE = "127.0.0.13";

// ---------------------------------------------------------------------------------------------
// Iterative resolver

// ---------------------------------------------------------------------------------------------
// Stub resolver and transport

Deno.test("exchange ignores replies with a wrong id or question and keeps waiting", async () => {
  // A plain socket plays the server so the test controls every datagram.
  const server = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.15", port: 0 });
  const port = (server.addr as Deno.NetAddr).port;
  const play = (async () => {
    const [data, from] = await server.receive();
    const query = decodeMessage(data);
    const good = response(query, { answers: [a("www.example.test.", "192.0.2.3")] });
    await server.send(encodeMessage({ ...good, id: (query.id + 1) & 0xffff }), from);
    await server.send(
      encodeMessage({ ...good, questions: [{ ...query.questions[0], name: "evil.test." }] }),
      from,
    );
    await server.send(encodeMessage(good), from);
  })();
  const ignored: string[] = [];
  try {
    const result = await exchange(makeQuery("www.example.test", TYPE.A), "127.0.0.15", {
      port,
      timeoutMs: 5000,
      onIgnored: (reason) => ignored.push(reason),
    });
    assert.equal(result.reply.answers.length, 1);
    assert.equal(ignored.length, 2);
    assert.match(ignored[0], /^ID mismatch: expected ID \d+, got \d+$/);
    assert.equal(ignored[1], "question section mismatch");
  } finally {
    await play;
    server.close();
  }
});

Deno.test("exchange ignores a reply from the wrong source port", async () => {
  const server = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.15", port: 0 });
  const spoofer = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.15", port: 0 });
  const port = (server.addr as Deno.NetAddr).port;
  const play = (async () => {
    const [data, from] = await server.receive();
    const query = decodeMessage(data);
    const good = encodeMessage(response(query, { answers: [a("x.test.", "192.0.2.4")] }));
    await spoofer.send(good, from); // right id and question, wrong source: still ignored
    await server.send(good, from);
  })();
  const ignored: string[] = [];
  try {
    const result = await exchange(makeQuery("x.test", TYPE.A), "127.0.0.15", {
      port,
      onIgnored: (reason) => ignored.push(reason),
    });
    assert.equal(result.reply.answers.length, 1);
    assert.equal(ignored.length, 1);
    assert.match(ignored[0], /^reply from unexpected source 127\.0\.0\.15:\d+$/);
  } finally {
    await play;
    server.close();
    spoofer.close();
  }
});

Deno.test("exchange gives up with NoReplyError after every try timed out", async () => {
  let received = 0;
  await using net = startFakeNet({
    [EXAMPLE]: () => {
      received++;
      return undefined;
    },
  });
  await assert.rejects(
    exchange(makeQuery("x.test", TYPE.A), EXAMPLE, { port: net.port, timeoutMs: 150, tries: 2 }),
    (error: unknown) => {
      assert.ok(error instanceof NoReplyError);
      assert.match(error.message, /timed out after 2 × 150 ms over UDP/);
      return true;
    },
  );
  assert.equal(received, 2);
});

Deno.test("exchange stops waiting when the signal aborts", async () => {
  await using net = startFakeNet({ [EXAMPLE]: () => undefined });
  const controller = new AbortController();
  const pending = exchange(makeQuery("x.test", TYPE.A), EXAMPLE, {
    port: net.port,
    timeoutMs: 60_000,
    signal: controller.signal,
  });
  controller.abort(new Error("stop now"));
  await assert.rejects(pending, /stop now/);
});

Deno.test("exchange retries over TCP when the UDP reply is truncated", async () => {
  await using net = startFakeNet({
    [EXAMPLE]: (query) => ({
      ...response(query, {}),
      flags: { ...response(query, {}).flags, tc: true },
    }),
  });
  const listener = Deno.listen({ hostname: EXAMPLE, port: net.port });
  const serve = (async () => {
    using conn = await listener.accept();
    const decoder = new LengthPrefixDecoder({ prefixBytes: 2 });
    const buf = new Uint8Array(4096);
    let frames: Uint8Array[] = [];
    while (frames.length === 0) {
      const n = await conn.read(buf);
      if (n === null) return;
      frames = decoder.push(buf.subarray(0, n));
    }
    const query = decodeMessage(frames[0]);
    const answers = Array.from({ length: 40 }, (_, i) => a("big.test.", `192.0.2.${i + 1}`));
    await writeAll(
      conn,
      encodeLengthPrefixed(encodeMessage(response(query, { answers })), { prefixBytes: 2 }),
    );
  })();
  let truncated = false;
  try {
    const result = await exchange(makeQuery("big.test", TYPE.A), EXAMPLE, {
      port: net.port,
      onTruncated: () => (truncated = true),
    });
    assert.ok(truncated);
    assert.equal(result.protocol, "TCP");
    assert.equal(result.reply.answers.length, 40);
  } finally {
    await serve;
    listener.close();
  }
});

Deno.test("replyMismatch accepts an error reply without a question section", () => {
  const query = makeQuery("x.test", TYPE.A);
  const formerr = { ...response(query, { rcode: RCODE.FORMERR }), questions: [] };
  assert.equal(replyMismatch(query, formerr), undefined);
  const empty = { ...response(query, {}), questions: [] };
  assert.equal(replyMismatch(query, empty), "question section mismatch");
});
