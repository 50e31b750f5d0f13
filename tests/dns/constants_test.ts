/**
 * dns/wire/constants.ts: the names of types, classes, rcodes and opcodes, and the fallbacks for
 * numbers without one (RFC 3597).
 */
import assert from "node:assert/strict";
import { opcodeName, parseType, rcodeName, TYPE, typeName } from "../../dns/wire/constants.ts";

// -------------------------------------------------------------------------------------------
// Malformed messages: each rejection and its message.

// -------------------------------------------------------------------------------------------
// Encoding, truncation, round trips.

// -------------------------------------------------------------------------------------------
// Names, types, presentation.

Deno.test("type, rcode and opcode names", () => {
  assert.equal(typeName(TYPE.AAAA), "AAAA");
  assert.equal(typeName(65280), "TYPE65280");
  assert.equal(parseType("mx"), TYPE.MX);
  assert.equal(parseType("TYPE99"), 99);
  assert.equal(parseType("caa"), 257);
  assert.throws(() => parseType("BOGUS"), /Unknown record type "BOGUS"/);
  assert.throws(() => parseType("TYPE70000"), RangeError);
  assert.equal(rcodeName(3), "NXDOMAIN");
  assert.equal(rcodeName(16), "BADVERS");
  assert.equal(rcodeName(12), "RCODE12");
  assert.equal(opcodeName(0), "QUERY");
  assert.equal(opcodeName(3), "RESERVED3");
});
