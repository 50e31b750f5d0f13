/**
 * dns/wire/edns.ts: the OPT record's fixed fields (UDP size, extended rcode, version, DO) and its
 * options, both ways.
 */
import assert from "node:assert/strict";
import { decodeMessage, encodeMessage } from "../../dns/wire/message.ts";
import { getEdns, makeOpt } from "../../dns/wire/edns.ts";
import { b, header, n, u16 } from "./_wire.ts";

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
