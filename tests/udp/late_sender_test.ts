/**
 * udp/core/fresh_sockets.ts `lateSender`: how the local DNS server sends answers it resolved
 * aside — batched with sendmmsg where the fast paths are on, else through Deno. Real loopback
 * sockets; no sleeps: every wait is for a datagram.
 */
import assert from "node:assert/strict";
import { lateSender, openFreshSockets } from "../../udp/core/fresh_sockets.ts";
import { bind } from "./_udp.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The next datagram on `conn`, or a failed test after 5 s (a lost datagram must not hang). */
async function receiveWithin(conn: Deno.DatagramConn): Promise<Uint8Array> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("no datagram within 5 s")), 5000);
  });
  try {
    return (await Promise.race([conn.receive(new Uint8Array(65536)), timeout]))[0];
  } finally {
    clearTimeout(timer);
  }
}

for (const fast of [true, false]) {
  Deno.test({
    name:
      `lateSender${fast ? " (sendmmsg)" : " (Deno's send)"}: a lone answer, and answers ready ` +
      "in one job — more than one batch of them, and one too big to batch — all arrive intact",
    ignore: fast && Deno.build.os !== "linux",
    fn: async () => {
      using server = bind();
      using client = bind();
      const sockets = fast ? openFreshSockets() : null;
      if (fast) assert.ok(sockets, "the fast path is available here");
      try {
        const send = lateSender(server, sockets);
        const to = client.addr as Deno.NetAddr;
        // One answer by itself leaves at the end of its job, with nothing else to wait for.
        const alone = send(encoder.encode("alone"), to);
        assert.equal(decoder.decode(await receiveWithin(client)), "alone");
        await alone;
        const small = Array.from({ length: 75 }, (_, i) => `answer ${i}`);
        const big = "x".repeat(5000);
        const sending = [
          ...small.slice(0, 40).map((text) => send(encoder.encode(text), to)),
          send(encoder.encode(big), to),
          ...small.slice(40).map((text) => send(encoder.encode(text), to)),
        ];
        const got: string[] = [];
        for (let i = 0; i < small.length + 1; i++) {
          got.push(decoder.decode(await receiveWithin(client)));
        }
        await Promise.all(sending);
        // Each answer is to a client of its own: arriving in order is not promised (Deno's sends
        // complete in any order), arriving once and intact is.
        assert.deepEqual(got.toSorted(), [...small, big].toSorted());
      } finally {
        await sockets?.close();
      }
    },
  });
}
