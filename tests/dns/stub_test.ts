/**
 * dns/resolver/stub.ts and dns/resolver/resolve_host.ts: the stub resolver asks one server with RD
 * set, /etc/resolv.conf's nameservers in order, and resolveHost (IP literals as they are,
 * otherwise iteratively from the root of an in-test fake Internet).
 */
import assert from "node:assert/strict";
import { TYPE } from "../../dns/wire/constants.ts";
import { parseResolvConf, StubResolver } from "../../dns/resolver/stub.ts";
import { resolveHost } from "../../dns/resolver/resolve_host.ts";
import { a, fakeHierarchy, HIERARCHY, response, startFakeNet } from "../_fake_dns.ts";

const { root: ROOT, example: EXAMPLE } = HIERARCHY;

// ---------------------------------------------------------------------------------------------
// Iterative resolver

Deno.test("resolveHost resolves iteratively and returns IP literals as they are", async () => {
  await using net = fakeHierarchy();
  assert.deepEqual(
    await resolveHost("www.example.test", { roots: [ROOT], port: net.port }),
    ["192.0.2.1"],
  );
  assert.deepEqual(await resolveHost("192.0.2.9"), ["192.0.2.9"]);
  assert.deepEqual(await resolveHost("[::1]"), ["::1"]);
  await assert.rejects(
    resolveHost("nope.example.test", { roots: [ROOT], port: net.port }),
    /Cannot resolve "nope\.example\.test": no such name/,
  );
});

// ---------------------------------------------------------------------------------------------
// Stub resolver and transport

Deno.test("stub resolver asks one server with RD set", async () => {
  let rd: boolean | undefined;
  await using net = startFakeNet({
    [EXAMPLE]: (query) => {
      rd = query.flags.rd;
      return response(query, { answers: [a(query.questions[0].name, "192.0.2.7")] });
    },
  });
  const stub = new StubResolver(EXAMPLE, { port: net.port });
  const result = await stub.resolve("host.example.test", TYPE.A);
  assert.equal(rd, true);
  assert.equal(result.exchange?.protocol, "UDP");
  assert.deepEqual(result.answers.map((r) => r.data), [{ kind: "A", address: "192.0.2.7" }]);
});

Deno.test("parseResolvConf takes nameservers in order, ignoring comments", () => {
  const conf = parseResolvConf(
    "# generated\nsearch lan example.org\nnameserver 10.0.0.53 # first\n; x\nnameserver ::1\n",
  );
  assert.deepEqual(conf.nameservers, ["10.0.0.53", "::1"]);
  assert.deepEqual(conf.search, ["lan", "example.org"]);
  assert.deepEqual(parseResolvConf("").nameservers, []);
});
