/**
 * Hand-made DNS wire bytes for the codec tests (tests/dns/*_test.ts): `b(…)` joins hex text,
 * numbers and byte arrays; `n(…)` spells a name uncompressed; `header(…)` is the 12-byte header
 * with id 0x1234; and one response that holds a record of most types, for round trips.
 */
import { CLASS, TYPE } from "../../dns/wire/constants.ts";
import { type Message } from "../../dns/wire/message.ts";
import { type RData, type ResourceRecord } from "../../dns/wire/rdata.ts";
import { makeOpt } from "../../dns/wire/edns.ts";

export const te = new TextEncoder();

/** Bytes from a mix of hex strings ("c0 0c"), numbers, and `n("www.cnblogs.com")` arrays. */
export function b(...parts: (string | number | number[])[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === "number") out.push(p);
    else if (Array.isArray(p)) out.push(...p);
    else for (const h of p.split(/\s+/).filter(Boolean)) out.push(parseInt(h, 16));
  }
  return new Uint8Array(out);
}

/** A name in uncompressed wire form. */
export function n(name: string): number[] {
  const out: number[] = [];
  for (const label of name.split(".").filter(Boolean)) {
    out.push(label.length, ...te.encode(label));
  }
  out.push(0);
  return out;
}

/** A 16-bit value, big-endian. */
export function u16(v: number): number[] {
  return [v >> 8, v & 0xff];
}

/** Header: id 0x1234, the given flags word and counts. */
export function header(flags: number, qd: number, an: number, ns = 0, ar = 0): number[] {
  return [0x12, 0x34, ...u16(flags), ...u16(qd), ...u16(an), ...u16(ns), ...u16(ar)];
}

/** A response with one question and one answer of `type` carrying `rdata` (no compression). */
export function oneAnswer(
  type: number,
  rdata: number[] | Uint8Array,
  owner = "x.example",
): Uint8Array {
  return b(
    header(0x8400, 1, 1),
    n(owner),
    u16(type),
    u16(1),
    n(owner),
    u16(type),
    u16(1),
    "00 00 0e 10",
    u16(rdata.length),
    [...rdata],
  );
}

/** A record of class IN (TTL 600 unless given). */
export function record(name: string, type: number, data: RData, ttl = 600): ResourceRecord {
  return { name, type, class: CLASS.IN, ttl, data };
}

/** An authoritative response to `cnblogs.com. ANY` with a record of most types in it and an OPT. */
export const sampleResponse: Message = {
  id: 7,
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
  questions: [{ name: "cnblogs.com.", type: TYPE.ANY, class: CLASS.IN }],
  answers: [
    record("cnblogs.com.", TYPE.SOA, {
      kind: "SOA",
      mname: "ns1.cnblogs.com.",
      rname: "hostmaster.cnblogs.com.",
      serial: 1,
      refresh: 2,
      retry: 3,
      expire: 4,
      minimum: 5,
    }),
    record("cnblogs.com.", TYPE.MX, { kind: "MX", preference: 10, exchange: "mail.cnblogs.com." }),
    record("cnblogs.com.", TYPE.TXT, {
      kind: "TXT",
      strings: [te.encode("v=spf1"), new Uint8Array(0)],
    }),
    record("cnblogs.com.", TYPE.CAA, {
      kind: "CAA",
      flags: 128,
      tag: "iodef",
      value: te.encode("mailto:a@b"),
    }),
    record("_x._tcp.cnblogs.com.", TYPE.SRV, {
      kind: "SRV",
      priority: 0,
      weight: 5,
      port: 80,
      target: "www.cnblogs.com.",
    }),
    record("4.0.0.127.in-addr.arpa.", TYPE.PTR, { kind: "PTR", target: "ns1.cnblogs.com." }),
    record("www.cnblogs.com.", TYPE.AAAA, { kind: "AAAA", address: "::1" }),
  ],
  authorities: [record("cnblogs.com.", TYPE.NS, { kind: "NS", target: "ns1.cnblogs.com." })],
  additionals: [
    record("ns1.cnblogs.com.", TYPE.A, { kind: "A", address: "127.0.0.4" }),
    record("odd.cnblogs.com.", 99, { kind: "UNKNOWN", bytes: b("00 ff") }),
    makeOpt({ udpSize: 1232, options: [{ code: 10, data: b("01 02") }] }),
  ],
};
