/**
 * dns/internet.ts (the lesson) and dns/internet/servers.ts: the mini-Internet starts on one port
 * shared by its three addresses, prints the `deno task dns:query` commands to try, writes the
 * signed root's trust anchor where `--anchor` says, and frees its port on SIGINT.
 */
import assert from "node:assert/strict";
import { MINI_ZONES, portFreeOnAll } from "../../dns/internet/servers.ts";
import { parseTrustAnchor } from "../../dns/dnssec/validator.ts";
import { ROOT, runScript, startScript } from "../_helpers.ts";

Deno.test("dns/internet.ts prints its address and the commands to try, and stops on SIGINT", async () => {
  const internet = await startScript("dns/internet.ts", ["--port", "0"]);
  const port = internet.port;
  try {
    assert.equal(internet.address, `127.0.0.2:${port}`);
    assert.notEqual(port, 53);
    await internet.waitForLine("Ctrl-C");
    assert.ok(
      internet.lines.some((l) =>
        l === `  deno task dns:query +trace --root 127.0.0.2 -p ${port} www.cnblogs.com`
      ),
      internet.lines.join("\n"),
    );
    // Every command to try is one a reader can type: a task, or dig.
    const tries = internet.lines.slice(internet.lines.indexOf("Try:") + 1, -1);
    assert.ok(tries.length >= 5);
    for (const line of tries) assert.match(line, /^ {2}(deno task dns:query|dig) /);
  } finally {
    const stopped = await internet.stop();
    assert.equal(stopped.code, 130, stopped.stderr);
  }
  // Stopped means the port is free again on all three addresses.
  assert.ok(portFreeOnAll(port, MINI_ZONES.map((z) => z.host)));
});

Deno.test("dns/internet.ts --dnssec --anchor FILE writes the root's trust anchor to FILE, relative to where the task was started", async () => {
  const dir = await Deno.makeTempDir({ prefix: "netlab-anchor-" });
  // deno task runs scripts in the project root and keeps the user's directory in INIT_CWD.
  const internet = await startScript(
    "dns/internet.ts",
    ["--port", "0", "--dnssec", "--anchor", "root.anchor"],
    { env: { INIT_CWD: dir }, timeoutMs: 60_000 },
  );
  try {
    await internet.waitForLine("Ctrl-C");
    const anchor = parseTrustAnchor(await Deno.readTextFile(`${dir}/root.anchor`));
    assert.equal(anchor.zone, ".");
    assert.ok(anchor.ds.length > 0 || anchor.keys.length > 0);
    assert.ok(
      internet.lines.some((l) => l.includes("trust anchor") && l.endsWith("in root.anchor:")),
    );
    assert.ok(
      internet.lines.some((l) =>
        l.startsWith("  deno task dns:query +trace +validate --trust-anchor root.anchor --root ")
      ),
      internet.lines.join("\n"),
    );
  } finally {
    const stopped = await internet.stop();
    assert.equal(stopped.code, 130, stopped.stderr);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dns/internet.ts refuses --anchor without --dnssec, and an anchor it cannot write", async () => {
  const alone = await runScript("dns/internet.ts", ["--port", "0", "--anchor", "x.anchor"]);
  assert.equal(alone.code, 2);
  assert.equal(alone.stderr, "error: --anchor needs --dnssec (see --help)\n");
  const nowhere = await runScript("dns/internet.ts", [
    "--port",
    "0",
    "--dnssec",
    "--anchor",
    `${ROOT}no/such/dir/root.anchor`,
  ], { timeoutMs: 60_000 });
  assert.equal(nowhere.code, 1, nowhere.stderr);
  assert.match(
    nowhere.stderr,
    /^error: Cannot write the trust anchor to ".*no\/such\/dir\/root\.anchor": /,
  );
});
