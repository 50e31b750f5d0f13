/**
 * The authoritative side under test without a socket: the mini-Internet's zones parsed from
 * dns/zones/, `ask` (encode a query, run it through `respond`, decode the reply), and the seeded
 * junk and mutated queries the fuzz tests feed the server.
 */
import assert from "node:assert/strict";
import { Authority } from "../../dns/authority/authority.ts";
import { respond } from "../../dns/authority/respond.ts";
import { decodeMessage, encodeMessage, makeQuery, type Message } from "../../dns/wire/message.ts";
import { formatRecord } from "../../dns/wire/rdata.ts";
import { makeOpt } from "../../dns/wire/edns.ts";
import { parseZone, type Zone } from "../../dns/zone/parse.ts";
import { ROOT } from "../_helpers.ts";
import { prng } from "../_prng.ts";

/** A zone file from dns/zones/, parsed. */
export function zone(file: string): Zone {
  return parseZone(Deno.readTextFileSync(`${ROOT}dns/zones/${file}`), { file });
}

export const cnblogs = zone("cnblogs.com.zone");
export const root = zone("root.zone");
export const com = zone("com.zone");
/** The server for cnblogs.com. alone. */
export const authority = new Authority([cnblogs]);

/** Bytes from hex text; blanks are ignored. */
export function hex(text: string): Uint8Array {
  const digits = text.replace(/\s+/g, "");
  assert.equal(digits.length % 2, 0, `odd hex: ${text}`);
  return Uint8Array.from(digits.match(/../g) ?? [], (h) => parseInt(h, 16));
}

export interface AskOptions {
  udp?: boolean;
  edns?: Parameters<typeof makeOpt>[0] | false;
  auth?: Authority;
}

/** Encodes a query, runs it through `respond`, decodes the reply. */
export function ask(
  name: string,
  type: number,
  options: AskOptions = {},
): Message & { size: number } {
  const query = makeQuery(name, type, { id: 0x4242, rd: false, edns: options.edns ?? false });
  const r = respond(options.auth ?? authority, encodeMessage(query), { udp: options.udp ?? true });
  assert.ok(r, "expected a response");
  const msg = decodeMessage(r.bytes);
  assert.equal(msg.id, 0x4242);
  assert.equal(msg.flags.qr, true);
  return { ...msg, size: r.bytes.length };
}

/** Records printed the way dig prints them. */
export const records = (rrs: Message["answers"]) => rrs.map(formatRecord);

/** `count` inputs from `seed`: every other one random bytes, the rest queries with bytes flipped. */
export function fuzzInputs(count: number, seed: number): Uint8Array[] {
  const random = prng(seed);
  const names = ["www.cnblogs.com", "big.cnblogs.com", "a.wild.cnblogs.com", "x.sub.cnblogs.com"];
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    if (i % 2 === 0) {
      const junk = new Uint8Array(Math.floor(random() * 80));
      for (let j = 0; j < junk.length; j++) junk[j] = random() * 256;
      if (junk.length > 2 && random() < 0.8) junk[2] &= 0x7f; // mostly "queries"
      out.push(junk);
    } else {
      const q = makeQuery(names[i % names.length], [1, 16, 28, 255][i % 4], {
        id: i & 0xffff,
        edns: random() < 0.5 ? false : { udpSize: 512 + Math.floor(random() * 4000) },
      });
      const bytes = encodeMessage(q);
      for (let flips = 1 + Math.floor(random() * 4); flips > 0; flips--) {
        bytes[Math.floor(random() * bytes.length)] = random() * 256;
      }
      const cut = random() < 0.2 ? Math.floor(random() * bytes.length) : bytes.length;
      out.push(bytes.subarray(0, cut));
    }
  }
  return out;
}
