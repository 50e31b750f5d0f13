/**
 * dns/wire/edns.ts: the OPT record's fixed fields (UDP size, extended rcode, version, DO) and its
 * options, both ways.
 */
import assert from "node:assert/strict";
import { decodeMessage, encodeMessage } from "../../dns/wire/message.ts";
import { getEdns, makeOpt } from "../../dns/wire/edns.ts";

const te = new TextEncoder();

/** Bytes from a mix of hex strings ("c0 0c"), numbers, and `n("www.cnblogs.com")` arrays. */
function b(...parts: (string | number | number[])[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === "number") out.push(p);
    else if (Array.isArray(p)) out.push(...p);
    else for (const h of p.split(/\s+/).filter(Boolean)) out.push(parseInt(h, 16));
  }
  return new Uint8Array(out);
}

/** A name in uncompressed wire form. */
function n(name: string): number[] {
  const out: number[] = [];
  for (const label of name.split(".").filter(Boolean)) {
    out.push(label.length, ...te.encode(label));
  }
  out.push(0);
  return out;
}

function u16(v: number): number[] {
  return [v >> 8, v & 0xff];
}

/** Header: id 0x1234, the given flags word and counts. */
function header(flags: number, qd: number, an: number, ns = 0, ar = 0): number[] {
  return [0x12, 0x34, ...u16(flags), ...u16(qd), ...u16(an), ...u16(ns), ...u16(ar)];
}

Deno.test("OPT record carries UDP size, extended rcode, version, DO bit and options", () => {
  const cookie = b("01 02 03 04 05 06 07 08");
  const wire = b(
    header(0x0100, 1, 0, 0, 1),
    n("example.com"),
    u16(1),
    u16(1),
    0, // root owner
    u16(41),
    u16(1232),
    "01 00 80 00", // extended rcode 1, version 0, DO
    u16(12),
    u16(10),
    u16(8),
    [...cookie],
  );
  const msg = decodeMessage(wire);
  assert.deepEqual(getEdns(msg), {
    udpSize: 1232,
    extendedRcode: 1,
    version: 0,
    dnssecOk: true,
    options: [{ code: 10, data: cookie }],
  });
  assert.deepEqual(encodeMessage(msg), wire);
  const opt = makeOpt({ udpSize: 4096, dnssecOk: true, extendedRcode: 1 });
  assert.equal(opt.class, 4096);
  assert.equal(opt.ttl, 0x01008000);
});

// -------------------------------------------------------------------------------------------
// Malformed messages: each rejection and its message.

// -------------------------------------------------------------------------------------------
// Encoding, truncation, round trips.

// -------------------------------------------------------------------------------------------
// Names, types, presentation.
