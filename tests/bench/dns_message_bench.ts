/**
 * `deno bench tests/bench/dns_message_bench.ts`: encode and decode of a typical response (one
 * question, a CNAME and two A records, an OPT) with dns/wire/message.ts. Target: 100k+ ops/s each.
 */
import { decodeMessage, encodeMessage, type Message } from "../../dns/wire/message.ts";
import { makeOpt } from "../../dns/wire/edns.ts";
import { TYPE } from "../../dns/wire/constants.ts";

const response: Message = {
  id: 0xbeef,
  flags: {
    qr: true,
    opcode: 0,
    aa: true,
    tc: false,
    rd: true,
    ra: false,
    ad: false,
    cd: false,
    rcode: 0,
  },
  questions: [{ name: "web.cnblogs.com.", type: TYPE.A, class: 1 }],
  answers: [
    {
      name: "web.cnblogs.com.",
      type: TYPE.CNAME,
      class: 1,
      ttl: 600,
      data: { kind: "CNAME", target: "www.cnblogs.com." },
    },
    {
      name: "www.cnblogs.com.",
      type: TYPE.A,
      class: 1,
      ttl: 600,
      data: { kind: "A", address: "127.0.0.5" },
    },
    {
      name: "www.cnblogs.com.",
      type: TYPE.A,
      class: 1,
      ttl: 600,
      data: { kind: "A", address: "127.0.0.9" },
    },
  ],
  authorities: [],
  additionals: [makeOpt({ udpSize: 1232 })],
};
const bytes = encodeMessage(response);

Deno.bench("encodeMessage: 3-answer response", { group: "dns codec" }, () => {
  encodeMessage(response);
});

Deno.bench("decodeMessage: 3-answer response", { group: "dns codec" }, () => {
  decodeMessage(bytes);
});
