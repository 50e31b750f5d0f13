/**
 * Network namespaces for tests that need two hosts on a link (a vanished peer, a LAN broadcast):
 * whether they can be made here, and `ip` run with its own message on failure. Everything a test
 * creates stays inside the namespaces it deletes afterwards.
 */
import assert from "node:assert/strict";
import { hasCommand, isRoot, runCommand } from "./_helpers.ts";

/** Why namespaces cannot be made here (`tag` names the probe), or undefined when they can. */
export function netnsSkipReason(tag: string): string | undefined {
  if (Deno.build.os !== "linux") return "network namespaces are Linux only";
  if (!isRoot()) return "needs root to create network namespaces";
  if (!hasCommand("ip")) return "needs the ip command (iproute2)";
  const probe = `${tag}-probe`;
  const added = new Deno.Command("ip", { args: ["netns", "add", probe], stderr: "piped" })
    .outputSync();
  if (!added.success) {
    const why = new TextDecoder().decode(added.stderr).trim().split("\n")[0];
    return `cannot create a network namespace: ${why}`;
  }
  new Deno.Command("ip", { args: ["netns", "del", probe], stderr: "null" }).outputSync();
  return undefined;
}

/** Runs `ip …`, failing the test with ip's own message. */
export async function ip(...args: string[]): Promise<void> {
  const result = await runCommand("ip", args);
  assert.equal(result.code, 0, `ip ${args.join(" ")}: ${result.stderr}`);
}
