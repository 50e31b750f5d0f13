/**
 * `http:get --trust-anchor FILE` (http/client/resolve.ts): the address the client connects to is
 * validated with DNSSEC first — walking from the signed mini-Internet's root (`--trace-dns`), or
 * through a recursive server asked with DO and CD set (`--dns`, delv's way) — and a Bogus one is
 * refused with one line naming the host and the reason (exit 6), before any connection.
 */
import assert from "node:assert/strict";
import { startMiniInternet } from "../../dns/internet/servers.ts";
import { startResolverServer } from "../../dns/resolver_server.ts";
import { runScript } from "../_helpers.ts";

/** An HTTP server where the mini-Internet says www.cnblogs.com is: 127.0.0.5. */
function serveWww(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve(
    { hostname: "127.0.0.5", port: 0, onListen: () => {} },
    () => new Response("hello from www\n"),
  );
}

Deno.test("http:get --trust-anchor: a Secure address is connected to, with the verdict in -v", async () => {
  await using net = await startMiniInternet({ port: 0, dnssec: true });
  await using web = serveWww();
  const url = `http://www.cnblogs.com:${web.addr.port}/`;
  const walked = await runScript("http/client.ts", [
    "-v",
    "--trace-dns",
    "--root",
    net.roots[0],
    "--dns-port",
    String(net.port),
    "--trust-anchor",
    net.dnssec!.anchorFile,
    url,
  ]);
  assert.equal(walked.code, 0, walked.stderr);
  assert.equal(walked.stdout, "hello from www\n");
  assert.match(walked.stderr, /^\* \(a\) DNSSEC for www\.cnblogs\.com\. A: ; fully validated$/m);
  // Through a recursive server (here netlab's own, not validating): DO and CD, we judge.
  await using resolver = startResolverServer({
    port: 0,
    roots: net.roots,
    upstreamPort: net.port,
  });
  const stub = await runScript("http/client.ts", [
    "-v",
    "--dns",
    `127.0.0.1:${resolver.addr.port}`,
    "--trust-anchor",
    net.dnssec!.anchorFile,
    url,
  ]);
  assert.equal(stub.code, 0, stub.stderr);
  assert.match(stub.stderr, /DNSSEC for www\.cnblogs\.com\. A: ; fully validated$/m);
  const badFile = await runScript("http/client.ts", ["--trust-anchor", "/nonexistent", url]);
  assert.equal(badFile.code, 2);
  assert.match(badFile.stderr, /^error: Cannot use --trust-anchor "?\/nonexistent"?: /);
});

Deno.test("http:get --trust-anchor refuses a Bogus address with one line: the host and why (exit 6)", async () => {
  await using net = await startMiniInternet({ port: 0, dnssec: true, breakWith: "flip" });
  await using web = serveWww();
  const url = `http://www.cnblogs.com:${web.addr.port}/`;
  const anchor = ["--trust-anchor", net.dnssec!.anchorFile];
  const walked = await runScript("http/client.ts", [
    "--trace-dns",
    "--root",
    net.roots[0],
    "--dns-port",
    String(net.port),
    ...anchor,
    url,
  ]);
  assert.equal(walked.code, 6, walked.stderr);
  assert.equal(walked.stdout, "");
  assert.match(
    walked.stderr,
    /^error: Could not resolve host "www\.cnblogs\.com": DNSSEC says the answer is bogus: www\.cnblogs\.com\. A: RRSIG A by cnblogs\.com\. key \d+ does not verify: the signature does not match the data\n$/,
  );
  // Through a recursive server that does not validate, the client still catches it.
  await using resolver = startResolverServer({
    port: 0,
    roots: net.roots,
    upstreamPort: net.port,
  });
  const stub = await runScript("http/client.ts", [
    "--dns",
    `127.0.0.1:${resolver.addr.port}`,
    ...anchor,
    url,
  ]);
  assert.equal(stub.code, 6, stub.stderr);
  assert.match(
    stub.stderr,
    /^error: Could not resolve host "www\.cnblogs\.com": DNSSEC says the answer is bogus: /,
  );
  // Without the anchor the forged answer is believed: that is what validation is for.
  const trusting = await runScript("http/client.ts", [
    "--dns",
    `127.0.0.1:${resolver.addr.port}`,
    url,
  ]);
  assert.equal(trusting.code, 0, trusting.stderr);
  assert.equal(trusting.stdout, "hello from www\n");
});
