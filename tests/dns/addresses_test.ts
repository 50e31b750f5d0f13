/**
 * dns/wire/addresses.ts: reverse names for IPv4 and IPv6, and IPv6 text in RFC 5952 form.
 */
import assert from "node:assert/strict";
import { formatIPv6Bytes, ipv6Bytes, reverseName } from "../../dns/wire/addresses.ts";

// -------------------------------------------------------------------------------------------
// Malformed messages: each rejection and its message.

// -------------------------------------------------------------------------------------------
// Encoding, truncation, round trips.

// -------------------------------------------------------------------------------------------
// Names, types, presentation.

Deno.test("reverseName for IPv4 and IPv6, and RFC 5952 IPv6 text", () => {
  assert.equal(reverseName("1.2.3.4"), "4.3.2.1.in-addr.arpa.");
  assert.equal(
    reverseName("2001:db8::567:89ab"),
    "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
  );
  assert.throws(() => reverseName("1.2.3"), /Invalid IPv4 address "1.2.3"/);
  assert.throws(() => reverseName("1.2.3.256"), RangeError);
  assert.throws(() => reverseName("::g"), /Invalid IPv6 address "::g"/);
  const cases: [string, string][] = [
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // the first of equal runs
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // one zero group stays
    ["0:0:0:0:0:0:0:0", "::"],
    ["::ffff:192.0.2.1", "::ffff:192.0.2.1"],
    ["FE80::1", "fe80::1"],
  ];
  for (const [input, expected] of cases) assert.equal(formatIPv6Bytes(ipv6Bytes(input)), expected);
});
