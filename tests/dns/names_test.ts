/**
 * dns/wire/names.ts: names in presentation text — escapes printed the way dig prints them and read
 * back, the trailing dot, and every invalid name refused with its reason.
 */
import assert from "node:assert/strict";
import { decodeMessage, encodeMessage } from "../../dns/wire/message.ts";
import { namesEqual, normalizeName } from "../../dns/wire/names.ts";
import { b, header, te } from "./_wire.ts";

Deno.test("labels with dots, spaces and binary bytes print escaped and round-trip", () => {
  const owner = b(5, "61 2e 62 20 ff", 7, [...te.encode("example")], 0);
  const wire = b(header(0x0000, 1, 0), [...owner], "00 01 00 01");
  const msg = decodeMessage(wire);
  assert.equal(msg.questions[0].name, "a\\.b\\032\\255.example.");
  assert.deepEqual(encodeMessage(msg), wire);
  assert.equal(normalizeName("a\\.b\\032\\255.example"), "a\\.b\\032\\255.example.");
});

// -------------------------------------------------------------------------------------------
// Malformed messages: each rejection and its message.

// -------------------------------------------------------------------------------------------
// Encoding, truncation, round trips.

// -------------------------------------------------------------------------------------------
// Names, types, presentation.

Deno.test("normalizeName adds the dot and rejects bad names", () => {
  assert.equal(normalizeName("www.cnblogs.com"), "www.cnblogs.com.");
  assert.equal(normalizeName("."), ".");
  assert.equal(normalizeName("A.b."), "A.b.");
  assert.throws(() => normalizeName(""), /Invalid name "": empty/);
  assert.throws(() => normalizeName("a..b"), /Invalid name "a..b": empty label/);
  assert.throws(() => normalizeName(`${"x".repeat(64)}.com`), /label longer than 63 bytes/);
  assert.throws(() => normalizeName(`${"abcdefg.".repeat(32)}`), /longer than 255 bytes/);
  assert.throws(() => normalizeName("bücher.de"), /non-ASCII character \(use punycode\)/);
  assert.ok(namesEqual("WWW.CnBlogs.com", "www.cnblogs.com."));
  assert.ok(!namesEqual("www.cnblogs.com", "ww.cnblogs.com"));
});
