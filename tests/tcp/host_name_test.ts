/**
 * tcp/core/host_name.ts: literals without a lookup, names through the resolver (a stand-in here,
 * so no test ever asks a DNS server), malformed text refused with the rule it broke.
 */
import assert from "node:assert/strict";
import {
  addressLiteral,
  HostLookupError,
  HostNameError,
  resolveHost,
} from "../../tcp/core/host_name.ts";

/** A resolver that must not be asked (literals and malformed text never reach it). */
const noLookup = () => Promise.reject(new Error("the resolver was asked"));

Deno.test("addressLiteral: IPv4 and IPv6 literals in their canonical form, names undefined", () => {
  assert.equal(addressLiteral("127.0.0.1"), "127.0.0.1");
  assert.equal(addressLiteral("::1"), "::1");
  assert.equal(addressLiteral("[0:0::1]"), "::1");
  assert.equal(addressLiteral("2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
  assert.equal(addressLiteral("localhost"), undefined);
  assert.equal(addressLiteral("example.com"), undefined);
});

Deno.test("resolveHost returns literals without asking the resolver", async () => {
  for (const [host, address] of [["127.0.0.1", "127.0.0.1"], ["[::1]", "::1"]]) {
    assert.equal(await resolveHost(host, { lookup: noLookup }), address);
  }
});

Deno.test("resolveHost takes a name's first IPv4 address, else its first address", async () => {
  const both = () =>
    Promise.resolve([{ address: "::1", family: 6 }, { address: "127.0.0.2", family: 4 }]);
  assert.equal(await resolveHost("example.test", { lookup: both }), "127.0.0.2");
  const only6 = () => Promise.resolve([{ address: "fe80::1", family: 6 }]);
  assert.equal(await resolveHost("six.test", { lookup: only6 }), "fe80::1");
});

Deno.test("resolveHost: a name that does not resolve is a HostLookupError naming it", async () => {
  const cases: [unknown, string][] = [
    [Object.assign(new Error("getaddrinfo ENOTFOUND x"), { code: "ENOTFOUND" }), "no such host"],
    [
      Object.assign(new Error("getaddrinfo EAI_AGAIN x"), { code: "EAI_AGAIN" }),
      "temporary failure in name resolution (no DNS server answered)",
    ],
  ];
  for (const [failure, reason] of cases) {
    await assert.rejects(
      resolveHost("nowhere.test", { lookup: () => Promise.reject(failure) }),
      (error: Error) => {
        assert.ok(error instanceof HostLookupError);
        assert.equal(error.message, `Cannot resolve host "nowhere.test": ${reason}`);
        return true;
      },
    );
  }
  await assert.rejects(
    resolveHost("empty.test", { lookup: () => Promise.resolve([]) }),
    /^HostLookupError: Cannot resolve host "empty\.test": the name has no address$/,
  );
});

Deno.test("resolveHost refuses malformed text before any lookup, saying which rule it broke", async () => {
  const cases: [string, RegExp][] = [
    ["my host", /only letters, digits, hyphens and dots/],
    ["a..b", /an empty label/],
    ["", /it is empty/],
    ["-leading.example", /only letters, digits, hyphens and dots/],
    ["x".repeat(64) + ".example", /only letters, digits, hyphens and dots/],
    ["a\nb", /only letters/],
    ["300.1.1.1", /octet 300 is greater than 255/],
    ["1.2.3", /expected 4 dotted decimal octets/],
    ["::zz", /not 1-4 hex digits/],
  ];
  for (const [host, reason] of cases) {
    await assert.rejects(resolveHost(host, { lookup: noLookup }), (error: Error) => {
      assert.ok(error instanceof HostNameError, `${JSON.stringify(host)}: ${error.message}`);
      assert.match(error.reason, reason);
      assert.ok(!error.message.includes("\n"), "one line");
      return true;
    });
  }
});
