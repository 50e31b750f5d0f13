/**
 * tcp/file_send.ts and tcp/file_recv.ts end to end, as real subprocesses: round trips (0 B, 1 B,
 * 1 MiB random, files full of `##`, a Chinese name, several files per session), hostile senders
 * (traversal names, truncated body, wrong digest, oversized frames, a sender killed mid-body),
 * `--force`, concurrent clients, upload, and interop with a python3 port of seed 003's programs.
 */
import assert from "node:assert/strict";
import { handPeer, listDir, randomBytes, receive, sha256, withTempDir } from "../_file_peers.ts";
import { encodeLengthPrefixed } from "../../tcp/core/framing.ts";
import { decodeAck, encodeEndHeader, encodeFileHeader } from "../../tcp/core/file_protocol.ts";
import {
  hasCommand,
  runCommand,
  runScript,
  type ScriptResult,
  startCommand,
  startScript,
  writeAll,
} from "../_helpers.ts";

const SEND = "tcp/file_send.ts";
const RECV = "tcp/file_recv.ts";
const encoder = new TextEncoder();

function stderrLines(result: ScriptResult): string[] {
  return result.stderr.split("\n").filter((line) => line.length > 0);
}

/** Writes `files` (name → bytes) into `dir`, returning their paths. */
async function writeFiles(dir: string, files: Record<string, Uint8Array>): Promise<string[]> {
  const paths: string[] = [];
  for (const [name, bytes] of Object.entries(files)) {
    await Deno.writeFile(`${dir}/${name}`, bytes);
    paths.push(`${dir}/${name}`);
  }
  return paths;
}

/** A header frame with any name at all (encodeFileHeader refuses unsafe ones, as it should). */
function rawHeader(name: string, size: number, sha: string): Uint8Array {
  return encodeLengthPrefixed(encoder.encode(JSON.stringify({ name, size, sha256: sha })));
}

/** Serves `paths` with file_send.ts --once and receives them into `dest`. */
async function transfer(paths: string[], dest: string, ...recvFlags: string[]) {
  await using sender = await startScript(SEND, [...paths, "--port", "0", "--once"]);
  const recv = await receive(sender.port, dest, ...recvFlags);
  await sender.waitForLine(/: done, /);
  return { recv, send: await sender.stop() };
}

const SAVED_LINE =
  /^saved (.+) {2}(\d+) bytes {2}sha256 ([0-9a-f]{64}) {2}\d+\.\d{3} s {2}(\d+\.\d|-) MB\/s$/;

Deno.test("round trip of 0 B, 1 B, 1 MiB random, ## files and a Chinese name in one session", async () => {
  await withTempDir(async (root) => {
    await Deno.mkdir(`${root}/src`);
    await Deno.mkdir(`${root}/dest`);
    const files: Record<string, Uint8Array> = {
      "empty.bin": new Uint8Array(0),
      "one.bin": Uint8Array.of(0x2a),
      "random.bin": randomBytes(1024 * 1024),
      "hashes.txt": encoder.encode("##".repeat(4096)),
      "g7.bin": encoder.encode("a".repeat(1024) + "##"), // 2nd 1024-byte chunk is exactly ##
      "照片 ##.txt": encoder.encode("##"),
    };
    const paths = await writeFiles(`${root}/src`, files);
    const { recv, send } = await transfer(paths, `${root}/dest`);
    assert.equal(recv.code, 0, recv.stderr);
    const lines = recv.stdout.trim().split("\n");
    assert.equal(lines.length, 6);
    for (const [i, [name, bytes]] of Object.entries(files).entries()) {
      const m = SAVED_LINE.exec(lines[i]);
      assert.ok(m, lines[i]);
      assert.deepEqual([m[1], Number(m[2]), m[3]], [name, bytes.length, sha256(bytes)]);
      assert.deepEqual(await Deno.readFile(`${root}/dest/${name}`), bytes);
      assert.match(send.stdout, new RegExp(`sent .*: ack ok sha256 ${sha256(bytes)}`));
    }
    assert.deepEqual(listDir(`${root}/dest`), Object.keys(files).sort()); // no temp files left
    assert.match(send.stdout, /done, 6 of 6 files accepted/);
  });
});

Deno.test("the copying path (--no-sendfile, or no --allow-ffi) delivers the same bytes", async () => {
  await withTempDir(async (root) => {
    await Deno.mkdir(`${root}/src`);
    const files = {
      "random.bin": randomBytes(3 * 1024 * 1024 + 7),
      "hashes.txt": encoder.encode("##"),
    };
    const paths = await writeFiles(`${root}/src`, files);
    const senders: [string, string[]][] = [
      ["--no-sendfile", ["run", "-A", "--quiet", SEND, ...paths, "--no-sendfile"]],
      // Without FFI the sender cannot reach sendfile(2) and must copy, without asking.
      ["no --allow-ffi", ["run", "--allow-net", "--allow-read", "--quiet", SEND, ...paths]],
    ];
    for (const [label, args] of senders) {
      const dest = `${root}/dest-${label.replace(/\W+/g, "")}`;
      await Deno.mkdir(dest);
      await using sender = await startCommand(Deno.execPath(), [...args, "--port", "0", "--once"]);
      const recv = await receive(sender.port, dest);
      assert.equal(recv.code, 0, `${label}: ${recv.stderr}`);
      for (const [name, bytes] of Object.entries(files)) {
        assert.equal(sha256(await Deno.readFile(`${dest}/${name}`)), sha256(bytes), label);
      }
      const send = await sender.stop();
      assert.match(send.stdout, /done, 2 of 2 files accepted/, label);
      assert.equal(send.stderr, "", label);
    }
  });
});

Deno.test("a hostile sender's traversal names are each refused and nothing lands outside DEST", async () => {
  await withTempDir(async (root) => {
    const dest = `${root}/dest`;
    await Deno.mkdir(dest);
    const absolute = `${root}/absolute-evil`;
    const hostile = ["../evil", "../../evil", absolute, "..", ".", "", "sub/evil", "..\\evil"];
    hostile.push("evil\0.txt", "C:evil", "line\nbreak");
    const body = encoder.encode("EVIL");
    const sender = handPeer(async (conn, acks) => {
      const results = [];
      for (const name of [...hostile, "ok.txt"]) {
        await writeAll(conn, rawHeader(name, body.length, sha256(body)));
        await writeAll(conn, body);
        results.push(decodeAck((await acks.next())!));
      }
      await writeAll(conn, encodeEndHeader());
      return results;
    });
    const recv = await receive(sender.port, dest);
    const acks = await sender.done;
    assert.equal(recv.code, 1);
    for (const ack of acks.slice(0, -1)) {
      assert.equal(ack.ok, false);
      assert.match(!ack.ok ? ack.error : "", /^Unsafe file name /);
    }
    assert.deepEqual(acks.at(-1), { ok: true, sha256: sha256(body) });
    const refusals = stderrLines(recv);
    assert.equal(refusals.length, hostile.length);
    for (const line of refusals) assert.match(line, /^refused: Unsafe file name .*: it /);
    assert.deepEqual(listDir(root), ["dest"]);
    assert.deepEqual(listDir(dest), ["ok.txt"]);
  });
});

Deno.test("--seed-protocol still refuses an unsafe name and writes nothing", async () => {
  await withTempDir(async (root) => {
    await Deno.mkdir(`${root}/dest`);
    const sender = handPeer(async (conn) => {
      await writeAll(conn, encoder.encode("../evil"));
      // Give the name its own read the way the seed does: wait for the receiver's reply (none
      // comes; it closes), instead of sleeping.
      return await conn.read(new Uint8Array(16));
    });
    const recv = await receive(sender.port, `${root}/dest`, "--seed-protocol");
    await sender.done;
    assert.equal(recv.code, 1);
    assert.match(recv.stderr, /warning: --seed-protocol cannot tell a chunk that is exactly "##"/);
    assert.match(
      recv.stderr,
      /failed: Unsafe file name "\.\.\/evil": it contains a path separator/,
    );
    assert.deepEqual(listDir(root), ["dest"]);
    assert.deepEqual(listDir(`${root}/dest`), []);
  });
});

Deno.test("broken streams fail with one line and leave no file, not even a temporary one", async () => {
  const data = new Uint8Array(1000);
  const cases: [string, Uint8Array[], RegExp][] = [
    [
      "truncated body",
      [
        encodeFileHeader({ name: "cut.bin", size: 1000, sha256: sha256(data) }),
        data.subarray(0, 500),
      ],
      /^failed: connection closed after 500 of 1000 bytes of "cut\.bin": nothing saved$/,
    ],
    [
      "truncated header",
      [Uint8Array.of(0, 0, 0, 40, 0x7b)],
      /^failed: connection closed inside a frame/,
    ],
    [
      "oversized header",
      [Uint8Array.of(0, 1, 0x11, 0x70), new Uint8Array(100)],
      /^failed: Frame of 70000 bytes exceeds the maximum of 65536 bytes$/,
    ],
    [
      "not JSON",
      [encodeLengthPrefixed(encoder.encode("img.jpg"))],
      /^failed: Invalid header frame: not JSON/,
    ],
    [
      "negative size",
      [encodeLengthPrefixed(encoder.encode(`{"name":"a","size":-5,"sha256":"${"0".repeat(64)}"}`))],
      /"size" must be an integer from 0 to 2\^53-1, got -5/,
    ],
    ["no end frame", [], /^failed: connection closed before the end-of-files frame$/],
  ];
  for (const [label, chunks, message] of cases) {
    await withTempDir(async (dest) => {
      const sender = handPeer(async (conn) => {
        for (const chunk of chunks) await writeAll(conn, chunk);
      });
      const recv = await receive(sender.port, dest);
      await sender.done;
      assert.equal(recv.code, 1, label);
      const lines = stderrLines(recv);
      assert.equal(lines.length, 1, `${label}: ${recv.stderr}`);
      assert.match(lines[0], message, label);
      assert.deepEqual(listDir(dest), [], label);
    });
  }
});

Deno.test("a wrong digest is refused: non-zero exit, error ack, no file", async () => {
  await withTempDir(async (dest) => {
    const body = encoder.encode("the real bytes");
    const claimed = sha256(encoder.encode("other bytes"));
    const sender = handPeer(async (conn, acks) => {
      await writeAll(
        conn,
        encodeFileHeader({ name: "doc.txt", size: body.length, sha256: claimed }),
      );
      await writeAll(conn, body);
      const ack = decodeAck((await acks.next())!);
      await writeAll(conn, encodeEndHeader());
      return ack;
    });
    const recv = await receive(sender.port, dest);
    const ack = await sender.done;
    assert.equal(recv.code, 1);
    const expected = `SHA-256 mismatch for "doc.txt": received ${
      sha256(body)
    }, header announced ${claimed}`;
    assert.deepEqual(ack, { ok: false, error: expected });
    assert.deepEqual(stderrLines(recv), [`refused: ${expected}`]);
    assert.deepEqual(listDir(dest), []);
  });
});

Deno.test("a sender killed mid-transfer leaves no final file and no temporary file", async () => {
  await withTempDir(async (root) => {
    await Deno.mkdir(`${root}/dest`);
    // A stand-in sender process: it sends the header and a quarter of the body, says so, and
    // blocks; the test then kills it with SIGKILL (no chance to close anything cleanly).
    const script = `${root}/half_sender.ts`;
    await Deno.writeTextFile(
      script,
      `import { encodeFileHeader } from "${
        new URL("../../tcp/core/file_protocol.ts", import.meta.url).href
      }";
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log("listening on 127.0.0.1:" + listener.addr.port);
const conn = await listener.accept();
const size = 1024 * 1024;
const header = encodeFileHeader({ name: "big.bin", size, sha256: "0".repeat(64) });
for (const chunk of [header, new Uint8Array(size / 4)]) {
  for (let at = 0; at < chunk.length;) at += await conn.write(chunk.subarray(at));
}
console.log("quarter sent");
await conn.read(new Uint8Array(1)); // never answered: the receiver waits for the rest
`,
    );
    const sender = await startScript(script);
    const recv = receive(sender.port, `${root}/dest`);
    await sender.waitForLine("quarter sent");
    const killed = await sender.stop("SIGKILL");
    assert.equal(killed.signal, "SIGKILL");
    const result = await recv;
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^failed: connection (closed after \d+ of 1048576 bytes of "big\.bin": nothing saved|reset by peer)\n$/,
    );
    assert.deepEqual(listDir(`${root}/dest`), []);
  });
});

Deno.test("Ctrl-C mid-transfer: each side prints one line, exits 130, and saves nothing", async () => {
  await withTempDir(async (dest) => {
    // file_recv.ts connecting to a sender that sends half a body and waits.
    let halfSent!: () => void;
    const half = new Promise<void>((resolve) => halfSent = resolve);
    const sender = handPeer(async (conn) => {
      await writeAll(
        conn,
        encodeFileHeader({ name: "big.bin", size: 2000, sha256: "0".repeat(64) }),
      );
      await writeAll(conn, new Uint8Array(1000));
      halfSent();
      await conn.read(new Uint8Array(1)); // null once the receiver is gone
    });
    const receiver = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", RECV, "--port", String(sender.port), "--dir", dest],
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // The connection exists, so the receiver's Ctrl-C handler is installed.
    await half;
    receiver.kill("SIGINT");
    const recv = await receiver.output();
    await sender.done;
    assert.equal(recv.code, 130);
    assert.equal(new TextDecoder().decode(recv.stderr), "failed: interrupted\n");
    assert.deepEqual(listDir(dest), []);

    // file_send.ts --to (upload) to a receiver in this process that reads and never acks.
    const upload = `${dest}/up.bin`;
    await Deno.writeFile(upload, new Uint8Array(2000));
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const uploader = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", SEND, upload, "--to", `127.0.0.1:${listener.addr.port}`],
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    {
      using conn = await listener.accept();
      listener.close();
      // Its first bytes: it is past its Ctrl-C handler and sending; it will wait for our ack.
      assert.notEqual(await conn.read(new Uint8Array(4096)), null);
      uploader.kill("SIGINT");
      const send = await uploader.output();
      assert.equal(send.code, 130);
      assert.match(
        new TextDecoder().decode(send.stderr),
        /^127\.0\.0\.1:\d+: failed: interrupted\n$/,
      );
    }
  });
});

Deno.test("--force: an existing file survives without it and is replaced with it", async () => {
  await withTempDir(async (root) => {
    await Deno.mkdir(`${root}/src`);
    await Deno.mkdir(`${root}/dest`);
    const [path] = await writeFiles(`${root}/src`, { "a.txt": encoder.encode("new") });
    await Deno.writeTextFile(`${root}/dest/a.txt`, "old");

    const refused = await transfer([path], `${root}/dest`);
    assert.equal(refused.recv.code, 1);
    assert.match(
      refused.recv.stderr,
      /^refused: File "a.txt" already exists in ".*" \(use --force to overwrite\)\n$/,
    );
    assert.match(refused.send.stderr, /refused a\.txt: File "a\.txt" already exists/);
    assert.equal(await Deno.readTextFile(`${root}/dest/a.txt`), "old");

    const forced = await transfer([path], `${root}/dest`, "--force");
    assert.equal(forced.recv.code, 0, forced.recv.stderr);
    assert.equal(await Deno.readTextFile(`${root}/dest/a.txt`), "new");
    assert.deepEqual(listDir(`${root}/dest`), ["a.txt"]);
  });
});

Deno.test("several clients at once: two download while a third stalls", async () => {
  await withTempDir(async (root) => {
    for (const d of ["src", "d1", "d2"]) await Deno.mkdir(`${root}/${d}`);
    const bytes = randomBytes(4 * 1024 * 1024);
    const [path] = await writeFiles(`${root}/src`, { "data.bin": bytes });
    const sender = await startScript(SEND, [path, "--port", "0"]);
    try {
      // A client that reads the header and then never acks: a one-at-a-time server would hang.
      using stalled = await Deno.connect({ hostname: "127.0.0.1", port: sender.port });
      assert.ok((await stalled.read(new Uint8Array(4096))) !== null);
      const [a, b] = await Promise.all([
        receive(sender.port, `${root}/d1`),
        receive(sender.port, `${root}/d2`),
      ]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
      assert.deepEqual(await Deno.readFile(`${root}/d1/data.bin`), bytes);
      assert.deepEqual(await Deno.readFile(`${root}/d2/data.bin`), bytes);
    } finally {
      const stopped = await sender.stop();
      assert.equal(stopped.code, 130);
      assert.equal(stopped.stdout.match(/: done, 1 of 1 files accepted/g)?.length, 2);
    }
  });
});

Deno.test("upload: file_send.ts --to sends to file_recv.ts --listen", async () => {
  await withTempDir(async (root) => {
    await Deno.mkdir(`${root}/src`);
    await Deno.mkdir(`${root}/dest`);
    const bytes = randomBytes(200_000);
    const [path] = await writeFiles(`${root}/src`, { "上传.bin": bytes });
    await using receiver = await startScript(RECV, [
      "--listen",
      "--once",
      "--port",
      "0",
      "--dir",
      `${root}/dest`,
    ]);
    const send = await runScript(SEND, [path, "--to", receiver.address]);
    assert.equal(send.code, 0, send.stderr);
    assert.match(send.stdout, /sent 上传\.bin .*: ack ok/);
    await receiver.waitForLine(/^saved 上传\.bin {2}200000 bytes/);
    assert.deepEqual(await Deno.readFile(`${root}/dest/上传.bin`), bytes);
  });
});

Deno.test("both scripts: --help, bad flags and bad values", async () => {
  const help = await runScript(SEND, ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: deno task file:send FILE\.\.\./);
  assert.match((await runScript(RECV, ["-h"])).stdout, /^Usage: deno task file:recv/);
  const cases: [string, string[], RegExp, number][] = [
    [SEND, [], /^error: Missing FILE: name at least one file to send/, 2],
    [SEND, ["--bogus", "x"], /^error: unknown option --bogus \(see --help\)$/, 2],
    [SEND, ["no-such-file.bin"], /^error: Cannot send "no-such-file.bin": /, 1],
    [SEND, ["tcp"], /^error: Cannot send "tcp": not a regular file/, 1],
    [SEND, ["deno.json", "./deno.json"], /^error: Duplicate file name "deno.json"/, 2],
    [
      SEND,
      ["deno.json", "--to", "nowhere"],
      /^error: Invalid --to "nowhere": expected HOST:PORT/,
      2,
    ],
    [SEND, ["deno.json", "deno.json", "--seed-protocol"], /exactly one FILE/, 2],
    [RECV, ["--port", "70000"], /^error: --port must be 0–65535, got 70000 \(see --help\)$/, 2],
    [
      RECV,
      ["--dir", "deno.json"],
      /^error: Cannot save into "deno.json": it exists and is not a folder$/,
      1,
    ],
    [RECV, ["--once"], /^error: --once only makes sense with --listen/, 2],
  ];
  for (const [script, args, message, code] of cases) {
    const result = await runScript(script, args);
    assert.equal(result.code, code, `${script} ${args.join(" ")}`);
    assert.match(result.stderr.trimEnd(), message);
    assert.equal(result.stderr.split("\n").length, 2, "one line");
  }
});

// ---------------------------------------------------------------------------------------------
// Seed 003.

/**
 * Seed 003's receiving loop, re-implemented: a read equal to `##` ends the file. `reads` are the
 * reads the receiver gets — here the seed's ideal timing, one per 1024-byte send.
 */
function seedReceive(reads: Uint8Array[]): Uint8Array {
  const kept: number[] = [];
  for (const data of reads) {
    if (data.length === 2 && data[0] === 0x23 && data[1] === 0x23) break; // if data == b'##'
    kept.push(...data);
  }
  return Uint8Array.from(kept);
}

/** Seed 003's sending side: 1024-byte chunks, then `##`. */
function seedSend(file: Uint8Array): Uint8Array[] {
  const sends: Uint8Array[] = [];
  for (let at = 0; at < file.length; at += 1024) sends.push(file.subarray(at, at + 1024));
  sends.push(encoder.encode("##"));
  return sends;
}

Deno.test("the seed's ## algorithm corrupts a file that ours transfers intact (G7)", async () => {
  const file = encoder.encode("x".repeat(1024) + "##");
  const seedResult = seedReceive(seedSend(file));
  assert.equal(seedResult.length, 1024); // cut short, and both seed programs report success
  assert.notDeepEqual(seedResult, file);
  await withTempDir(async (root) => {
    await Deno.mkdir(`${root}/dest`);
    const [path] = await writeFiles(root, { "g7.bin": file });
    const { recv } = await transfer([path], `${root}/dest`);
    assert.equal(recv.code, 0, recv.stderr);
    assert.deepEqual(await Deno.readFile(`${root}/dest/g7.bin`), file);
  });
});

/** Seed 003's server and client in Python, as the tutorial wrote them, but with argv. */
const PY_SEED_SENDER = `
from socket import *
from time import sleep
import os, sys

s = socket()
s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(5)
print("listening on %s:%d" % s.getsockname()[:2], flush=True)
c, addr = s.accept()
print("Connect from", addr, flush=True)
f = open(sys.argv[3], 'rb')
# 将文件名称告知对方
c.send(os.path.basename(sys.argv[3]).encode())
sleep(0.1)
while True:
    data = f.read(1024)
    if not data:
        break
    c.send(data)
sleep(0.1)
c.send('##'.encode())
data = c.recv(1024)
print(data.decode(), flush=True)
f.close()
c.close()
s.close()
`;

const PY_SEED_RECEIVER = `
from socket import *
import sys

s = socket()
s.connect((sys.argv[1], int(sys.argv[2])))
filename = s.recv(1024).decode()
f = open(sys.argv[3] + '/' + filename, 'wb')
while True:
    data = s.recv(1024)
    if data == b'##':
        break
    f.write(data)
s.send("接收完成".encode())
f.close()
s.close()
`;

/** Seed-safe test content: random bytes with no `#`, so no read can equal `##`. */
function seedSafeBytes(n: number): Uint8Array {
  return randomBytes(n).map((b) => (b === 0x23 ? 0x24 : b));
}

Deno.test({
  name: "interop: the seed's Python sender → file_recv.ts --seed-protocol",
  ignore: !hasCommand("python3"),
  async fn() {
    await withTempDir(async (root) => {
      await Deno.mkdir(`${root}/dest`);
      const bytes = seedSafeBytes(5000);
      const [path] = await writeFiles(root, { "图片.jpg": bytes });
      await Deno.writeTextFile(`${root}/sender.py`, PY_SEED_SENDER);
      await using python = await startCommand("python3", [
        `${root}/sender.py`,
        "127.0.0.1",
        "0",
        path,
      ]);
      const recv = await receive(python.port, `${root}/dest`, "--seed-protocol");
      assert.equal(recv.code, 0, recv.stderr);
      assert.match(recv.stderr, /^warning: --seed-protocol cannot tell/);
      assert.match(
        recv.stdout,
        new RegExp(`^saved 图片\\.jpg {2}5000 bytes {2}sha256 ${sha256(bytes)}`),
      );
      assert.deepEqual(await Deno.readFile(`${root}/dest/图片.jpg`), bytes);
      await python.waitForLine("接收完成");
    });
  },
});

Deno.test({
  name: "interop: file_send.ts --seed-protocol → the seed's Python receiver",
  ignore: !hasCommand("python3"),
  async fn() {
    await withTempDir(async (root) => {
      await Deno.mkdir(`${root}/dest`);
      const bytes = seedSafeBytes(5000);
      const [path] = await writeFiles(root, { "文档.txt": bytes });
      await Deno.writeTextFile(`${root}/receiver.py`, PY_SEED_RECEIVER);
      await using sender = await startScript(SEND, [
        path,
        "--port",
        "0",
        "--once",
        "--seed-protocol",
      ]);
      const python = await runCommand("python3", [
        `${root}/receiver.py`,
        "127.0.0.1",
        String(sender.port),
        `${root}/dest`,
      ]);
      assert.equal(python.code, 0, python.stderr);
      await sender.waitForLine(/sent 文档\.txt \(5000 bytes\), ack "接收完成"/);
      assert.match(sender.stderr(), /^warning: --seed-protocol cannot tell/);
      assert.deepEqual(await Deno.readFile(`${root}/dest/文档.txt`), bytes);
    });
  },
});

Deno.test("the seed's ## case with both netlab programs: the sender's count shows the 2 lost bytes", async () => {
  await withTempDir(async (root) => {
    await Deno.mkdir(`${root}/dest`);
    const [path] = await writeFiles(root, { "g7.bin": encoder.encode("x".repeat(1024) + "##") });
    await using sender = await startScript(SEND, [
      path,
      "--port",
      "0",
      "--once",
      "--seed-protocol",
    ]);
    const recv = await receive(sender.port, `${root}/dest`, "--seed-protocol");
    assert.equal(recv.code, 0, recv.stderr);
    assert.match(recv.stdout, /^saved g7\.bin {2}1024 bytes /);
    await sender.waitForLine(/: sent g7\.bin \(1026 bytes\), ack "接收完成"$/);
  });
});

Deno.test("file_recv.ts --seed-protocol against a framed sender says to drop --seed-protocol", async () => {
  await withTempDir(async (root) => {
    await Deno.mkdir(`${root}/dest`);
    const [path] = await writeFiles(root, { "a.txt": encoder.encode("hello\n") });
    await using sender = await startScript(SEND, [path, "--port", "0", "--once"]);
    const recv = await receive(sender.port, `${root}/dest`, "--seed-protocol");
    assert.equal(recv.code, 1);
    assert.equal(
      stderrLines(recv).at(-1),
      "failed: the sender speaks netlab's framed protocol: drop --seed-protocol",
    );
    assert.doesNotMatch(recv.stderr, /Unsafe file name|\\u0000/);
    assert.deepEqual(listDir(`${root}/dest`), []);
  });
});

Deno.test("file_recv.ts against a --seed-protocol sender says to add --seed-protocol", async () => {
  await withTempDir(async (root) => {
    await Deno.mkdir(`${root}/dest`);
    const [path] = await writeFiles(root, { "photo.jpg": encoder.encode("not really a photo") });
    await using sender = await startScript(SEND, [
      path,
      "--port",
      "0",
      "--once",
      "--seed-protocol",
    ]);
    const recv = await receive(sender.port, `${root}/dest`);
    assert.equal(recv.code, 1);
    assert.match(
      stderrLines(recv).at(-1) ?? "",
      /^failed: the sender seems to speak seed 003's protocol \(.*\): add --seed-protocol$/,
    );
    assert.deepEqual(listDir(`${root}/dest`), []);
  });
});

Deno.test("a silent sender: the receiver says once what it waits for, then gives up at --timeout", async () => {
  await withTempDir(async (dest) => {
    // Accepts and says nothing; the receiver's deadline closes the connection.
    const sender = handPeer(async (conn) => await conn.read(new Uint8Array(16)));
    const recv = await receive(sender.port, dest, "--timeout", "3");
    await sender.done;
    assert.equal(recv.code, 1);
    assert.deepEqual(stderrLines(recv), [
      "waiting for the sender's first file header: nothing for 2 s (giving up after 3 s)",
      "failed: timed out: nothing moved for 3 s",
    ]);
  });
});
