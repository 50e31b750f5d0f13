/**
 * The file tools' instruments: `file_recv.ts --resume` (a cut transfer continues from the partial
 * file's bytes and the whole file's digest is checked), compatibility with peers that do not
 * resume, `file_send.ts` counting its clients (1:N) and its totals on Ctrl-C, the `--json` event
 * stream of both CLIs, and the `--explain` view of header/ack frames (golden).
 */
import assert from "node:assert/strict";
import { handPeer, listDir, randomBytes, receive, sha256, withTempDir } from "../_file_peers.ts";
import {
  decodeAck,
  decodeHeader,
  decodeResumeAnswer,
  describeFrame,
  encodeAck,
  encodeEndHeader,
  encodeFileHeader,
  encodeResume,
  resumablePartialName,
} from "../../tcp/core/file_protocol.ts";
import { explainBytes } from "../../tcp/kit/explain.ts";
import { EVENT_NAMES } from "../../tcp/kit/report.ts";
import {
  assertNdjson,
  type JsonEvent,
  readExactly,
  runScript,
  type ScriptResult,
  startScript,
  writeAll,
} from "../_helpers.ts";

const SEND = "tcp/file_send.ts";
const RECV = "tcp/file_recv.ts";
const encoder = new TextEncoder();

/** Serves `path` with `file_send.ts --once` (plus `sendFlags`) and receives it into `dest`. */
async function transfer(path: string, dest: string, sendFlags: string[], recvFlags: string[]) {
  await using sender = await startScript(SEND, [path, "--port", "0", "--once", ...sendFlags]);
  const recv = await receive(sender.port, dest, ...recvFlags);
  return { recv, send: await sender.stop() };
}

/**
 * A sender cut short: offers resume, reads the receiver's answer, sends `bytes` of the body
 * from the offset it was given, and drops the connection. Returns the answer.
 */
async function cutTransfer(
  dest: string,
  file: { name: string; data: Uint8Array },
  bytes: number,
): Promise<{ answer: unknown; recv: ScriptResult }> {
  const header = { name: file.name, size: file.data.length, sha256: sha256(file.data) };
  const peer = handPeer(async (conn, frames) => {
    await writeAll(conn, encodeFileHeader({ ...header, resume: true }));
    const answer = decodeResumeAnswer((await frames.next())!, header.size);
    const from = answer.type === "resume" ? answer.offset : 0;
    await writeAll(conn, file.data.subarray(from, from + bytes));
    return answer;
  });
  const recv = await receive(peer.port, dest, "--resume");
  return { answer: await peer.done, recv };
}

Deno.test("--resume after a cut at offsets 0, 1, random, size-1 and size: whole digest verified, byte-identical", async () => {
  const size = 300_000;
  const data = randomBytes(size);
  const name = "断点.bin";
  const partialName = resumablePartialName(name, sha256(data));
  const random = 2 + Math.floor(Math.random() * (size - 4));
  for (const offset of [0, 1, random, size - 1, size]) {
    await withTempDir(async (root) => {
      const label = `offset ${offset}`;
      await Deno.mkdir(`${root}/dest`);
      await Deno.writeFile(`${root}/${name}`, data);

      if (offset < size) {
        const cut = await cutTransfer(`${root}/dest`, { name, data }, offset);
        assert.deepEqual(cut.answer, { type: "resume", offset: 0 }, label);
        assert.equal(cut.recv.code, 1, label);
        assert.equal(
          cut.recv.stderr,
          `failed: connection closed after ${offset} of ${size} bytes of "${name}": kept in "${root}/dest/${partialName}", run again with --resume to continue\n`,
          label,
        );
      } else {
        // Every byte arrived but the receiver died before the rename: only the check is left.
        await Deno.writeFile(`${root}/dest/${partialName}`, data);
      }
      assert.deepEqual(listDir(`${root}/dest`), [partialName], label); // nothing final
      assert.deepEqual(
        await Deno.readFile(`${root}/dest/${partialName}`),
        data.subarray(0, offset),
        label,
      );

      const { recv, send } = await transfer(`${root}/${name}`, `${root}/dest`, ["--resume"], [
        "--resume",
      ]);
      assert.equal(recv.code, 0, `${label}: ${recv.stderr}`);
      assert.deepEqual(await Deno.readFile(`${root}/dest/${name}`), data, label);
      assert.deepEqual(listDir(`${root}/dest`), [name], label); // the partial became the file
      const resumed = offset > 0 ? `  resumed at ${offset}` : "";
      assert.match(
        recv.stdout,
        new RegExp(`^saved ${name} {2}${size} bytes {2}sha256 ${sha256(data)} .*MB/s${resumed}\n$`),
        label,
      );
      if (offset > 0) {
        assert.match(recv.stderr, new RegExp(`resuming at ${offset} of ${size} bytes`), label);
        assert.match(send.stdout, new RegExp(`sent ${name} \\(.*; resumed at ${offset}, `));
      }
      assert.match(send.stdout, new RegExp(`served 1 client, 1 file, ${size - offset} bytes?$`));
    });
  }
});

Deno.test("a partial file with a corrupted byte fails the final digest: nothing final, then a plain rerun succeeds", async () => {
  await withTempDir(async (root) => {
    await Deno.mkdir(`${root}/dest`);
    const data = randomBytes(100_000);
    const name = "doc.bin";
    await Deno.writeFile(`${root}/${name}`, data);
    const partial = `${root}/dest/${resumablePartialName(name, sha256(data))}`;
    const cut = await cutTransfer(`${root}/dest`, { name, data }, 40_000);
    assert.equal(cut.recv.code, 1);
    const bytes = await Deno.readFile(partial);
    bytes[12_345] ^= 0xff; // the disk (or anyone) changed one kept byte
    await Deno.writeFile(partial, bytes);

    const resumed = await transfer(`${root}/${name}`, `${root}/dest`, ["--resume"], ["--resume"]);
    assert.equal(resumed.recv.code, 1);
    assert.match(
      resumed.recv.stderr,
      /refused: SHA-256 mismatch for "doc\.bin": received [0-9a-f]{64}, header announced [0-9a-f]{64} \(the first 40000 bytes came from the partial file, now removed/,
    );
    assert.match(resumed.send.stderr, /refused doc\.bin: SHA-256 mismatch/);
    assert.deepEqual(listDir(`${root}/dest`), []); // no final name, and the bad partial is gone

    const plain = await transfer(`${root}/${name}`, `${root}/dest`, [], []);
    assert.equal(plain.recv.code, 0, plain.recv.stderr);
    assert.deepEqual(await Deno.readFile(`${root}/dest/${name}`), data);
    assert.deepEqual(listDir(`${root}/dest`), [name]);
  });
});

Deno.test("a partial longer than announced starts over; one that is not a regular file is refused", async () => {
  await withTempDir(async (root) => {
    await Deno.mkdir(`${root}/dest`);
    const data = randomBytes(5000);
    await Deno.writeFile(`${root}/a.bin`, data);
    const partial = `${root}/dest/${resumablePartialName("a.bin", sha256(data))}`;
    await Deno.writeFile(partial, randomBytes(6000));
    const long = await transfer(`${root}/a.bin`, `${root}/dest`, ["--resume"], ["--resume"]);
    assert.equal(long.recv.code, 0, long.recv.stderr);
    assert.match(long.recv.stderr, /holds 6000 bytes, more than the 5000 announced: starting over/);
    assert.deepEqual(await Deno.readFile(`${root}/dest/a.bin`), data);

    await Deno.remove(`${root}/dest/a.bin`);
    await Deno.symlink(`${root}/a.bin`, partial); // a planted link must not be written through
    const link = await transfer(`${root}/a.bin`, `${root}/dest`, ["--resume"], ["--resume"]);
    assert.equal(link.recv.code, 1);
    assert.match(
      link.recv.stderr,
      /^failed: ".*\.netlab-partial-[0-9a-f]{16}" is not a regular file/,
    );
    assert.deepEqual(await Deno.readFile(`${root}/a.bin`), data);
  });
});

Deno.test("compatibility: --resume against a sender that does not offer it, and offers to a receiver without --resume", async () => {
  await withTempDir(async (root) => {
    await Deno.mkdir(`${root}/dest`);
    const data = randomBytes(50_000);
    await Deno.writeFile(`${root}/c.bin`, data);
    const partialName = resumablePartialName("c.bin", sha256(data));
    await Deno.writeFile(`${root}/dest/${partialName}`, data.subarray(0, 20_000));

    // An issue-3 sender (no offer): the receiver takes the whole body, as before.
    const old = await transfer(`${root}/c.bin`, `${root}/dest`, [], ["--resume"]);
    assert.equal(old.recv.code, 0, old.recv.stderr);
    assert.match(
      old.recv.stderr,
      /does not offer resume \(start it with --resume\): starting over/,
    );
    assert.doesNotMatch(old.recv.stdout, /resumed at/);
    assert.match(old.send.stdout, /served 1 client, 1 file, 50000 bytes/);
    assert.deepEqual(await Deno.readFile(`${root}/dest/c.bin`), data);
    assert.deepEqual(listDir(`${root}/dest`), ["c.bin"]);

    // An offering sender and a receiver without --resume: it answers {"resume": 0}.
    await Deno.remove(`${root}/dest/c.bin`);
    const offered = await transfer(`${root}/c.bin`, `${root}/dest`, ["--resume"], []);
    assert.equal(offered.recv.code, 0, offered.recv.stderr);
    assert.equal(offered.recv.stderr, "");
    assert.deepEqual(await Deno.readFile(`${root}/dest/c.bin`), data);

    // Refusing an offered file costs no body: the error ack answers the offer.
    const exists = await transfer(`${root}/c.bin`, `${root}/dest`, ["--resume"], ["--resume"]);
    assert.equal(exists.recv.code, 1);
    assert.match(exists.recv.stderr, /^refused: File "c\.bin" already exists/);
    assert.match(exists.send.stdout, /served 1 client, 0 files, 0 bytes/);
    assert.deepEqual(listDir(`${root}/dest`), ["c.bin"]);

    // The seed's protocol has no sizes: no resume there.
    for (const script of [SEND, RECV]) {
      const args = script === SEND ? [`${root}/c.bin`] : [];
      const result = await runScript(script, [...args, "--seed-protocol", "--resume"]);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /^error: --resume cannot be combined with --seed-protocol/);
    }
  });
});

Deno.test("an issue-3 receiver (hand-written, strict) still gets the exact fixed format", async () => {
  await withTempDir(async (root) => {
    const data = encoder.encode("fixed format");
    await Deno.writeFile(`${root}/f.txt`, data);
    await using sender = await startScript(SEND, [`${root}/f.txt`, "--port", "0", "--once"]);
    using conn = await Deno.connect({ hostname: "127.0.0.1", port: sender.port });
    const frame = async () => {
      const prefix = await readExactly(conn, 4);
      return await readExactly(conn, new DataView(prefix.buffer).getUint32(0));
    };
    const header = new TextDecoder().decode(await frame());
    assert.equal(header, `{"name":"f.txt","size":12,"sha256":"${sha256(data)}"}`);
    assert.deepEqual(await readExactly(conn, 12), data); // raw body right after the header
    await writeAll(conn, encodeAck({ ok: true, sha256: sha256(data) }));
    assert.deepEqual(decodeHeader(await frame()), { type: "end" });
    await sender.waitForLine(/: done, 1 of 1 files accepted/);
  });
});

Deno.test("file_send.ts serves many receivers: client #N per connection, totals on Ctrl-C", async () => {
  await withTempDir(async (root) => {
    for (const d of ["d1", "d2", "d3", "d4"]) await Deno.mkdir(`${root}/${d}`);
    const data = randomBytes(70_000);
    await Deno.writeFile(`${root}/n.bin`, data);
    await Deno.writeTextFile(`${root}/d4/n.bin`, "already here"); // this one refuses
    const sender = await startScript(SEND, [`${root}/n.bin`, "--port", "0"]);
    let stopped: ScriptResult | undefined;
    try {
      const results = await Promise.all(
        ["d1", "d2", "d3"].map((d) => receive(sender.port, `${root}/${d}`)),
      );
      for (const r of results) assert.equal(r.code, 0, r.stderr);
      const refused = await receive(sender.port, `${root}/d4`);
      assert.equal(refused.code, 1);
      await sender.waitForLine(/\(client #4\)$/);
    } finally {
      stopped = await sender.stop();
    }
    assert.equal(stopped.code, 130);
    const clients = [...stopped.stdout.matchAll(/^127\.0\.0\.1:\d+: connected \(client #(\d)\)$/gm)]
      .map((m) => Number(m[1])).sort();
    assert.deepEqual(clients, [1, 2, 3, 4]);
    // The refused receiver still got the body (no resume offer): bytes count what was sent.
    assert.match(
      stopped.stdout,
      new RegExp(`^served 4 clients, 3 files, ${4 * 70_000} bytes$`, "m"),
    );
    for (const d of ["d1", "d2", "d3"]) {
      assert.deepEqual(await Deno.readFile(`${root}/${d}/n.bin`), data);
    }
  });
});

function eventsOf(result: ScriptResult | string, tool: string): JsonEvent[] {
  const events = assertNdjson(typeof result === "string" ? result : result.stdout, tool);
  for (const e of events) {
    assert.ok(EVENT_NAMES.includes(e.event), `event "${e.event}" is not in the schema`);
    assert.equal(typeof e.text, "string");
  }
  return events;
}

function only(events: JsonEvent[], name: string): JsonEvent[] {
  return events.filter((e) => e.event === name);
}

Deno.test("--json: both CLIs print only schema events (download, refusal, failure, upload)", async () => {
  await withTempDir(async (root) => {
    await Deno.mkdir(`${root}/dest`);
    const data = randomBytes(10_000);
    await Deno.writeFile(`${root}/j.bin`, data);

    // A download with resume on both sides.
    const sender = await startScript(SEND, [`${root}/j.bin`, "--port", "0", "--json", "--resume"]);
    const recv = await receive(sender.port, `${root}/dest`, "--json", "--resume");
    const again = await receive(sender.port, `${root}/dest`, "--json"); // exists: refused
    await sender.waitForLine(/"event":"disconnected".*"client":2/);
    const sent = await sender.stop();
    assert.equal(recv.code, 0, recv.stdout);
    assert.equal(recv.stderr, "");
    const r = eventsOf(recv, "tcp/file_recv");
    assert.deepEqual(r.map((e) => e.event).filter((e) => e !== "progress"), [
      "connected",
      "saved",
      "disconnected",
    ]);
    const saved = only(r, "saved")[0];
    assert.equal(saved.name, "j.bin");
    assert.equal(saved.size, 10_000);
    assert.equal(saved.sha256, sha256(data));
    assert.equal(saved.resumedFrom, 0);
    assert.equal(typeof saved.ms, "number");
    assert.match(String(saved.peer), /^127\.0\.0\.1:\d+$/);

    assert.equal(again.code, 1);
    const a = eventsOf(again, "tcp/file_recv");
    const error = only(a, "error")[0];
    assert.equal(error.refused, true);
    assert.match(String(error.error), /already exists/);
    assert.equal(only(a, "disconnected")[0].ok, false);

    assert.equal(sent.code, 130);
    assert.equal(sent.stderr, "");
    const s = eventsOf(sent, "tcp/file_send");
    assert.equal(s[0].event, "listening");
    assert.match(String(s[0].address), /^127\.0\.0\.1:\d+$/);
    assert.deepEqual(only(s, "connected").map((e) => e.client), [1, 2]);
    const sentEvent = only(s, "sent")[0];
    assert.deepEqual(
      [sentEvent.name, sentEvent.size, sentEvent.bytes, sentEvent.resumedFrom],
      ["j.bin", 10_000, 10_000, 0],
    );
    assert.equal(only(s, "error")[0].refused, true);
    assert.equal(only(s, "disconnected").length, 2);
    const stats = only(s, "stats")[0];
    assert.deepEqual([stats.clients, stats.files, stats.bytes], [2, 1, 10_000]);
    for (const p of only([...r, ...s], "progress")) {
      assert.equal(typeof p.bytes, "number");
      assert.equal(p.size, 10_000);
    }

    // A failure: the stream is cut inside the body.
    const cutter = handPeer(async (conn) => {
      await writeAll(conn, encodeFileHeader({ name: "x.bin", size: 10, sha256: sha256(data) }));
      await writeAll(conn, data.subarray(0, 3));
    });
    const cut = await receive(cutter.port, `${root}/dest`, "--json");
    await cutter.done;
    assert.equal(cut.code, 1);
    assert.equal(cut.stderr, "");
    const c = eventsOf(cut, "tcp/file_recv");
    assert.match(String(only(c, "error")[0].error), /closed after 3 of 10 bytes/);

    // Upload: file_recv --listen --json prints `listening` first; the seed warning is an event.
    await Deno.remove(`${root}/dest/j.bin`);
    const receiver = await startScript(RECV, [
      "--listen",
      "--once",
      "--port",
      "0",
      "--dir",
      `${root}/dest`,
      "--json",
    ]);
    const up = await runScript(SEND, [`${root}/j.bin`, "--to", receiver.address, "--json"]);
    const down = await receiver.stop();
    assert.equal(up.code, 0, up.stdout);
    const u = eventsOf(up, "tcp/file_send");
    assert.deepEqual(u.map((e) => e.event).filter((e) => e !== "progress"), [
      "connected",
      "sent",
      "disconnected",
    ]);
    const l = eventsOf(down, "tcp/file_recv");
    assert.deepEqual(l.map((e) => e.event).filter((e) => e !== "progress"), [
      "listening",
      "connected",
      "saved",
      "disconnected",
    ]);
    const seed = await runScript(SEND, [
      `${root}/j.bin`,
      "--seed-protocol",
      "--to",
      "127.0.0.1:1",
      "--json",
    ]);
    assert.equal(seed.code, 1);
    assert.equal(only(eventsOf(seed, "tcp/file_send"), "log")[0].level, "warning");
  });
});

/** The golden view of a fixed header frame offering resume (`--explain`). */
const GOLDEN_HEADER =
  `  0000  00 00 00 78              length               120: a JSON frame of 120 bytes follows (big-endian, at most 64 KiB)
  0004                           JSON                 file header: a file follows once the receiver answers the resume offer
  0004  7b 22 6e 61 6d 65 22 3a    "name"             "照片.jpg": saved under this name if it is one safe path component
  000c  22 e7 85 a7 e7 89 87 2e
  0014  6a 70 67 22 2c
  0019  22 73 69 7a 65 22 3a 33    "size"             3 bytes of raw file data follow this frame
  0021  2c
  0022  22 73 68 61 32 35 36 22    "sha256"           ba7816bf8f01…: the whole file's SHA-256, checked before the file gets its name
  002a  3a 22 62 61 37 38 31 36
  0032  62 66 38 66 30 31 63 66
        … 52 more bytes
  006e  22 72 65 73 75 6d 65 22    "resume"           true: the sender waits for {"resume": OFFSET} and sends from OFFSET
  0076  3a 74 72 75 65 7d`;

const GOLDEN_RESUME =
  `  0000  00 00 00 0c              length               12: a JSON frame of 12 bytes follows (big-endian, at most 64 KiB)
  0004                           JSON                 resume answer: where the body should start
  0004  7b 22 72 65 73 75 6d 65    "resume"           1: the receiver already holds 1 byte; send the rest from offset 1
  000c  22 3a 31 7d`;

const ABC = encoder.encode("abc");

Deno.test("golden: the annotated header frame and resume answer (describeFrame → explainBytes)", () => {
  const header = encodeFileHeader({ name: "照片.jpg", size: 3, sha256: sha256(ABC), resume: true });
  assert.equal(explainBytes(header, describeFrame(header)), GOLDEN_HEADER);
  const answer = encodeResume(1);
  assert.equal(explainBytes(answer, describeFrame(answer)), GOLDEN_RESUME);
  // Foreign spacing (`{"end": true}` as nc sends it) and a broken payload are still described.
  const spaced = Uint8Array.of(0, 0, 0, 13, ...encoder.encode('{"end": true}'));
  assert.deepEqual(describeFrame(spaced).map((f) => [f.offset, f.length, f.name]), [
    [0, 4, "length"],
    [4, 13, "JSON"],
    [4, 13, '"end"'],
  ]);
  const broken = Uint8Array.of(0, 0, 0, 3, 0x7b, 0x22, 0xff);
  assert.equal(describeFrame(broken)[1].value, "not a JSON object");
});

Deno.test("--explain: each frame sent and received is annotated; the body is summarised, not dumped", async () => {
  await withTempDir(async (dest) => {
    const peer = handPeer(async (conn, frames) => {
      await writeAll(
        conn,
        encodeFileHeader({ name: "照片.jpg", size: 3, sha256: sha256(ABC), resume: true }),
      );
      const answer = decodeResumeAnswer((await frames.next())!, 3);
      await writeAll(conn, ABC);
      const ack = decodeAck((await frames.next())!);
      await writeAll(conn, encodeEndHeader());
      return { answer, ack };
    });
    const recv = await receive(peer.port, dest, "--explain");
    const { answer, ack } = await peer.done;
    assert.deepEqual(answer, { type: "resume", offset: 0 });
    assert.deepEqual(ack, { ok: true, sha256: sha256(ABC) });
    assert.equal(recv.code, 0, recv.stderr);
    const out = recv.stdout;
    assert.match(out, /^frame received from 127\.0\.0\.1:\d+, 124 bytes\n/);
    assert.ok(out.includes(GOLDEN_HEADER), out);
    assert.match(out, /\nframe sent to 127\.0\.0\.1:\d+, 16 bytes\n {2}0000 {2}00 00 00 0c/);
    assert.match(
      out,
      /\nbody received from 127\.0\.0\.1:\d+: 3 raw bytes of "照片\.jpg", bytes 0…2 of 3 — the file itself, not framed and not shown\n/,
    );
    assert.match(out, /JSON {17}ack: the file arrived intact and got its name/);
    assert.match(out, /JSON {17}end of files: the sender has no more files/);
    assert.match(out, /\nsaved 照片\.jpg {2}3 bytes/);
    assert.doesNotMatch(out, /61 62 63/); // "abc", the body, never appears as hex

    // The sender's side, and --explain under --json: views become `explain` events.
    // Outside DEST (the name must be free there), in a folder of its own.
    const srcDir = await Deno.makeTempDir({ prefix: "netlab-explain-" });
    const src = `${srcDir}/explain-src.bin`;
    await Deno.writeFile(src, ABC);
    await Deno.remove(`${dest}/照片.jpg`);
    await using sender = await startScript(SEND, [
      src,
      "--port",
      "0",
      "--once",
      "--explain",
      "--json",
    ]);
    const plain = await receive(sender.port, dest);
    assert.equal(plain.code, 0, plain.stderr);
    const sent = await sender.stop();
    await Deno.remove(srcDir, { recursive: true });
    const events = eventsOf(sent, "tcp/file_send");
    const views = only(events, "explain");
    assert.deepEqual(views.map((e) => e.direction), ["sent", "sent", "received", "sent"]);
    assert.match(String(views[0].text), /file header: the file's raw bytes follow/);
    assert.match(String(views[1].text), /^body sent to .*: 3 raw bytes of "explain-src\.bin"/);
    assert.match(String(views[2].text), /ack: the file arrived intact/);
    assert.match(String(views[3].text), /end of files/);
  });
});
