/**
 * tcp/file_recv.ts's folder, checked before any byte moves: created when missing (like `curl
 * --create-dirs`), refused in one line naming it and the cause when it cannot be written — before
 * a connection is even tried (nothing arrives in the accept queue of a listener waiting for it).
 */
import assert from "node:assert/strict";
import { hasCommand, isRoot, runCommand, runScript, startScript } from "../_helpers.ts";
import { listDir, withTempDir } from "../_file_peers.ts";
import { acceptQueueLength, tcpTableAvailable } from "../../tcp/core/tcp_table.ts";

const RECV = "tcp/file_recv.ts";

function isFolder(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

Deno.test("file_recv.ts --dir creates a missing folder (and its parents) and saves into it", async () => {
  await withTempDir(async (root) => {
    await Deno.writeTextFile(`${root}/a.txt`, "hello\n");
    await using sender = await startScript("tcp/file_send.ts", [
      `${root}/a.txt`,
      "--port",
      "0",
      "--once",
    ]);
    const result = await runScript(RECV, ["--port", String(sender.port), "--dir", `${root}/x/y`]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^saved a\.txt {2}6 bytes /);
    assert.deepEqual(listDir(`${root}/x/y`), ["a.txt"]);
    await sender.waitForLine(/: done, /);
  });
});

/**
 * Runs `file_recv.ts --dir DIR` (or `command` around it) against a listener that never accepts,
 * and checks the one-line refusal and that no connection reached the listener.
 */
async function refusedBeforeConnecting(
  run: (port: number) => Promise<{ code: number; stdout: string; stderr: string }>,
  expected: string,
): Promise<void> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const result = await run(listener.addr.port);
  assert.equal(result.code, 1, result.stderr);
  assert.equal(result.stdout, "");
  assert.equal(result.stderr, `error: ${expected}\n`);
  if (tcpTableAvailable()) assert.equal(acceptQueueLength(listener.addr.port), 0);
}

Deno.test({
  name:
    "file_recv.ts --dir /sys/kernel: one line naming the folder and the cause, before connecting",
  ignore: !isFolder("/sys/kernel"),
  async fn() {
    await refusedBeforeConnecting(
      (port) => runScript(RECV, ["--port", String(port), "--dir", "/sys/kernel"]),
      'Cannot save into "/sys/kernel": the folder is not writable: permission denied',
    );
  },
});

Deno.test("file_recv.ts --dir under a file: one line, before connecting", async () => {
  await refusedBeforeConnecting(
    (port) => runScript(RECV, ["--port", String(port), "--dir", "deno.json/inside"]),
    'Cannot save into "deno.json/inside": cannot create it: a part of the path is not a folder',
  );
});

Deno.test({
  name: "file_recv.ts --dir on a read-only mount (and a folder it would create there): one line",
  // root ignores file modes, so the folder is made read-only by a bind mount in a private mount
  // namespace (nothing changes outside this one command).
  ignore: Deno.build.os !== "linux" || !isRoot() || !hasCommand("unshare"),
  async fn() {
    await withTempDir(async (root) => {
      const readOnly = (dir: string, port: number) =>
        runCommand("unshare", [
          "-m",
          "sh",
          "-c",
          'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"',
          "sh",
          root,
          Deno.execPath(),
          "run",
          "-A",
          "--quiet",
          RECV,
          "--port",
          String(port),
          "--dir",
          dir,
        ]);
      await refusedBeforeConnecting(
        (port) => readOnly(root, port),
        `Cannot save into ${
          JSON.stringify(root)
        }: the folder is not writable: read-only file system`,
      );
      await refusedBeforeConnecting(
        (port) => readOnly(`${root}/new`, port),
        `Cannot save into ${
          JSON.stringify(`${root}/new`)
        }: cannot create it: read-only file system`,
      );
      assert.deepEqual(listDir(root), []);
    });
  },
});

Deno.test({
  name: "file_recv.ts --dir in a folder without write permission (not root): one line",
  ignore: isRoot(),
  async fn() {
    await withTempDir(async (root) => {
      await Deno.chmod(root, 0o555);
      try {
        await refusedBeforeConnecting(
          (port) => runScript(RECV, ["--port", String(port), "--dir", root]),
          `Cannot save into ${JSON.stringify(root)}: the folder is not writable: permission denied`,
        );
      } finally {
        await Deno.chmod(root, 0o755);
      }
    });
  },
});
