/**
 * tcp/core/file_protocol.ts (the file-transfer wire format, pure) and tcp/kit/progress.ts's formatting:
 * frames round-trip, decoders are strict about every field, the safe-name rule refuses every
 * traversal form, the resume handshake's frames and partial names, and the progress line shows
 * bytes, percent, rate and ETA (and `--json` progress events stay at ~2/s).
 */
import assert from "node:assert/strict";
import {
  decodeLengthPrefixed,
  FrameTooLargeError,
  LengthPrefixDecoder,
} from "../../tcp/core/framing.ts";
import {
  checkSafeName,
  decodeAck,
  decodeHeader,
  decodeResumeAnswer,
  encodeAck,
  encodeEndHeader,
  encodeFileHeader,
  encodeResume,
  FileProtocolError,
  HEADER_FRAMING,
  isSeedEndMarker,
  MAX_HEADER_FRAME_SIZE,
  MAX_NAME_BYTES,
  pathInside,
  resumablePartialName,
  UnsafeNameError,
} from "../../tcp/core/file_protocol.ts";
import {
  createEventProgress,
  formatBytes,
  formatDuration,
  formatProgress,
  type ProgressSample,
} from "../../tcp/kit/progress.ts";

const encoder = new TextEncoder();
const json = (value: unknown) => encoder.encode(JSON.stringify(value));
const SHA = "ab".repeat(32);

/** The payload of a frame produced by an encoder (and proof the prefix is 4-byte big-endian). */
function payloadOf(frame: Uint8Array): Uint8Array {
  const length = new DataView(frame.buffer, frame.byteOffset).getUint32(0);
  assert.equal(length, frame.length - 4);
  const decoded = decodeLengthPrefixed(frame, 0, HEADER_FRAMING);
  assert.ok(decoded);
  return decoded.frame;
}

Deno.test("encodeFileHeader round-trips through decodeHeader, Chinese names and 2^53-1 included", () => {
  for (
    const header of [
      { name: "a.txt", size: 0, sha256: SHA },
      { name: "照片 2024.jpg", size: 1, sha256: SHA },
      { name: "big.iso", size: 5 * 1024 ** 3, sha256: SHA },
      { name: "max", size: Number.MAX_SAFE_INTEGER, sha256: SHA },
    ]
  ) {
    assert.deepEqual(decodeHeader(payloadOf(encodeFileHeader(header))), {
      type: "file",
      ...header,
    });
  }
  assert.deepEqual(decodeHeader(payloadOf(encodeEndHeader())), { type: "end" });
});

Deno.test("the wire bytes are exactly the documented format", () => {
  const frame = encodeFileHeader({ name: "a", size: 3, sha256: SHA.toUpperCase() });
  const body = `{"name":"a","size":3,"sha256":"${SHA}"}`;
  assert.deepEqual(frame.subarray(0, 4), Uint8Array.of(0, 0, 0, body.length));
  assert.equal(new TextDecoder().decode(frame.subarray(4)), body);
  assert.equal(new TextDecoder().decode(payloadOf(encodeEndHeader())), `{"end":true}`);
});

Deno.test("header frames survive a byte-by-byte stream with trailing bytes left alone", () => {
  const stream = [
    ...encodeFileHeader({ name: "x", size: 2, sha256: SHA }),
    ...encodeEndHeader(),
    0,
    0,
  ];
  const decoder = new LengthPrefixDecoder(HEADER_FRAMING);
  const frames: Uint8Array[] = [];
  for (const byte of stream) frames.push(...decoder.push(Uint8Array.of(byte)));
  assert.deepEqual(frames.map(decodeHeader), [
    { type: "file", name: "x", size: 2, sha256: SHA },
    { type: "end" },
  ]);
  assert.equal(decoder.pending, 2);
});

Deno.test("encodeAck and decodeAck round-trip; long errors are cut", () => {
  assert.deepEqual(decodeAck(payloadOf(encodeAck({ ok: true, sha256: SHA }))), {
    ok: true,
    sha256: SHA,
  });
  assert.deepEqual(decodeAck(payloadOf(encodeAck({ ok: false, error: "nope" }))), {
    ok: false,
    error: "nope",
  });
  const long = decodeAck(payloadOf(encodeAck({ ok: false, error: "x".repeat(100_000) })));
  assert.equal(long.ok, false);
  assert.equal(!long.ok && long.error.length, 1000);
});

Deno.test("decodeHeader rejects every malformed header with its reason", () => {
  const cases: [Uint8Array, RegExp][] = [
    [Uint8Array.of(0xff, 0xfe), /not UTF-8/],
    [encoder.encode("{nope"), /not JSON/],
    [json([1, 2]), /expected a JSON object/],
    [json(null), /expected a JSON object/],
    [json({ end: false }), /"end" must be true/],
    [json({ end: true, name: "a" }), /"end" together with file fields/],
    [json({ size: 1, sha256: SHA }), /"name" must be a string/],
    [json({ name: 5, size: 1, sha256: SHA }), /"name" must be a string/],
    [json({ name: "a", size: "1", sha256: SHA }), /"size" must be an integer/],
    [json({ name: "a", size: -1, sha256: SHA }), /"size" must be an integer/],
    [json({ name: "a", size: 1.5, sha256: SHA }), /"size" must be an integer/],
    [json({ name: "a", size: 2 ** 53, sha256: SHA }), /"size" must be an integer/],
    [json({ name: "a", sha256: SHA }), /"size" must be an integer .* got nothing/],
    [json({ name: "a", size: 1, sha256: "abc" }), /"sha256" must be 64 hex digits/],
    [json({ name: "a", size: 1, sha256: "g".repeat(64) }), /"sha256" must be 64 hex digits/],
    [json({ name: "a", size: 1 }), /"sha256" must be 64 hex digits/],
    [new Uint8Array(MAX_HEADER_FRAME_SIZE + 1), /exceeds the maximum/],
  ];
  for (const [payload, message] of cases) {
    assert.throws(() => decodeHeader(payload), (error: Error) => {
      assert.ok(error instanceof FileProtocolError, String(error));
      assert.match(error.message, message);
      return true;
    });
  }
  // Unknown extra keys are ignored, so the format can grow.
  assert.equal(decodeHeader(json({ name: "a", size: 1, sha256: SHA, mode: 420 })).type, "file");
});

Deno.test("decodeAck rejects malformed acks", () => {
  for (
    const [value, message] of [
      [{ ok: "yes" }, /"ok" must be true or false/],
      [{ ok: true }, /"sha256" must be 64 hex digits/],
      [{ ok: false }, /"error" must be a string/],
    ] as const
  ) {
    assert.throws(() => decodeAck(json(value)), message);
  }
});

Deno.test("a header frame announcing more than 64 KiB is refused at the prefix", () => {
  const prefix = Uint8Array.of(0, 1, 0, 1); // announces 65,537 bytes
  assert.throws(() => decodeLengthPrefixed(prefix, 0, HEADER_FRAMING), FrameTooLargeError);
  // The largest frames the encoders can produce stay far below the cap.
  const worst = encodeAck({ ok: false, error: "\u{1f600}".repeat(2000) });
  assert.ok(worst.length < MAX_HEADER_FRAME_SIZE);
});

Deno.test("checkSafeName refuses every way out of DEST and accepts ordinary names", () => {
  const refused: [string, RegExp][] = [
    ["", /it is empty/],
    [".", /names a directory/],
    ["..", /names a directory/],
    ["../etc/passwd", /path separator/],
    ["../../x", /path separator/],
    ["/etc/passwd", /absolute path/],
    ["\\windows\\system32", /absolute path/],
    ["C:evil.txt", /drive letter/],
    ["a/b", /path separator/],
    ["a\\..\\..\\b", /path separator/],
    ["x\0.txt", /NUL character/],
    ["line\nbreak", /control character/],
    ["\u001b[31mred", /control character/],
    ["\ud800bad", /not well-formed Unicode/],
    ["a".repeat(256), /256 bytes long \(at most 255\)/],
    ["中".repeat(86), /258 bytes long/],
  ];
  for (const [name, message] of refused) {
    assert.throws(() => checkSafeName(name), (error: Error) => {
      assert.ok(error instanceof UnsafeNameError);
      assert.match(error.message, /^Unsafe file name /);
      assert.match(error.message, message);
      return true;
    });
    assert.throws(() => pathInside("dest", name), UnsafeNameError);
  }
  for (const name of ["a.txt", "照片.jpg", "...", ".hidden", "a b", "-rf", "a".repeat(255)]) {
    checkSafeName(name);
  }
  assert.equal(pathInside("dest", "照片.jpg"), "dest/照片.jpg");
  assert.equal(pathInside("dest/", "a"), "dest/a");
  assert.equal(pathInside("/", "a"), "/a");
  assert.equal(pathInside(".", "a"), "a");
});

Deno.test("encodeFileHeader refuses to put an unsafe or invalid header on the wire", () => {
  assert.throws(() => encodeFileHeader({ name: "../x", size: 1, sha256: SHA }), UnsafeNameError);
  assert.throws(() => encodeFileHeader({ name: "x", size: -1, sha256: SHA }), RangeError);
  assert.throws(() => encodeFileHeader({ name: "x", size: 1, sha256: "zz" }), TypeError);
});

Deno.test("isSeedEndMarker matches a read of exactly ##", () => {
  assert.equal(isSeedEndMarker(encoder.encode("##")), true);
  assert.equal(isSeedEndMarker(encoder.encode("###")), false);
  assert.equal(isSeedEndMarker(encoder.encode("data##")), false);
});

Deno.test("formatBytes and formatDuration", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(1023), "1023 B");
  assert.equal(formatBytes(1536), "1.50 KiB");
  assert.equal(formatBytes(10 * 1024 * 1024), "10.0 MiB");
  assert.equal(formatBytes(300 * 1024 ** 3), "300 GiB");
  assert.equal(formatBytes(2 ** 53 - 1), "8.00 PiB");
  assert.equal(formatDuration(7), "0:07");
  assert.equal(formatDuration(754), "12:34");
  assert.equal(formatDuration(3723), "1:02:03");
  assert.equal(formatDuration(Number.NaN), "--:--");
});

Deno.test("formatProgress shows bytes, percent, rate and ETA", () => {
  const mib = 1024 * 1024;
  assert.equal(
    formatProgress({ label: "a.bin", done: 40 * mib, total: 100 * mib, elapsedMs: 2000 }),
    "a.bin [########------------]  40%  40.0 MiB / 100 MiB  20.0 MiB/s  ETA 0:03",
  );
  assert.equal(
    formatProgress({ label: "a.bin", done: 100 * mib, total: 100 * mib, elapsedMs: 1000 }),
    "a.bin [####################] 100%  100 MiB / 100 MiB  100 MiB/s  ETA 0:00",
  );
  assert.equal(
    formatProgress({ label: "empty", done: 0, total: 0, elapsedMs: 0 }),
    "empty [####################] 100%  0 B / 0 B  -- B/s  ETA 0:00",
  );
  assert.equal(
    formatProgress({ label: "s", done: 0, total: 10, elapsedMs: 0 }),
    "s [--------------------]   0%  0 B / 10 B  -- B/s  ETA --:--",
  );
  assert.equal(
    formatProgress({ label: "seed", done: 2048, elapsedMs: 1000 }),
    "seed  2.00 KiB  2.00 KiB/s",
  );
  // A resumed file: 60 MiB were on disk; 20 MiB came in 2 s, so 10 MiB/s and 2 s to go.
  assert.equal(
    formatProgress({
      label: "r",
      done: 80 * mib,
      total: 100 * mib,
      elapsedMs: 2000,
      from: 60 * mib,
    }),
    "r [################----]  80%  80.0 MiB / 100 MiB  10.0 MiB/s  ETA 0:02",
  );
});

Deno.test("resume offer: the header gains exactly one key, and only when offered", () => {
  const plain = new TextDecoder().decode(
    payloadOf(encodeFileHeader({ name: "a", size: 3, sha256: SHA })),
  );
  assert.equal(plain.includes("resume"), false); // the fixed format is byte-identical
  const offered = encodeFileHeader({ name: "a", size: 3, sha256: SHA, resume: true });
  assert.equal(
    new TextDecoder().decode(payloadOf(offered)),
    `{"name":"a","size":3,"sha256":"${SHA}","resume":true}`,
  );
  assert.deepEqual(decodeHeader(payloadOf(offered)), {
    type: "file",
    name: "a",
    size: 3,
    sha256: SHA,
    resume: true,
  });
  // `false` means no offer; anything else is a protocol error (the key is no longer unknown).
  assert.equal(
    "resume" in decodeHeader(json({ name: "a", size: 1, sha256: SHA, resume: false })),
    false,
  );
  assert.throws(
    () => decodeHeader(json({ name: "a", size: 1, sha256: SHA, resume: 1 })),
    /"resume" must be true or false/,
  );
});

Deno.test("resume answer: {resume: OFFSET} within the size, or an error ack", () => {
  assert.equal(new TextDecoder().decode(payloadOf(encodeResume(1234))), `{"resume":1234}`);
  for (const offset of [0, 1, 99, 100]) {
    assert.deepEqual(decodeResumeAnswer(payloadOf(encodeResume(offset)), 100), {
      type: "resume",
      offset,
    });
  }
  // Past 4 GiB and up to 2^53 - 1: no 32-bit offsets.
  for (const offset of [2 ** 32 + 50, Number.MAX_SAFE_INTEGER]) {
    assert.deepEqual(
      decodeResumeAnswer(payloadOf(encodeResume(offset)), Number.MAX_SAFE_INTEGER),
      { type: "resume", offset },
    );
  }
  assert.deepEqual(decodeResumeAnswer(payloadOf(encodeAck({ ok: false, error: "no" })), 100), {
    type: "refused",
    error: "no",
  });
  const bad: [unknown, RegExp][] = [
    [{ resume: 101 }, /from 0 to 100, got 101/],
    [{ resume: -1 }, /from 0 to 100, got -1/],
    [{ resume: "5" }, /from 0 to 100, got "5"/],
    [{ resume: 1.5 }, /from 0 to 100/],
    [{ ok: true, sha256: SHA }, /expected \{"resume": OFFSET\}/],
    [{ ok: false }, /"error" must be a string/],
    [{}, /expected \{"resume": OFFSET\}/],
  ];
  for (const [value, message] of bad) {
    assert.throws(() => decodeResumeAnswer(json(value), 100), (error: Error) => {
      assert.ok(error instanceof FileProtocolError, String(error));
      assert.match(error.message, message);
      return true;
    });
  }
  assert.throws(() => encodeResume(-1), RangeError);
});

Deno.test("resumablePartialName is deterministic, hidden, and fits in 255 bytes", () => {
  const sha = "0123456789abcdef" + "f".repeat(48);
  assert.equal(resumablePartialName("a.bin", sha), ".a.bin.netlab-partial-0123456789abcdef");
  assert.equal(
    resumablePartialName("a.bin", sha.toUpperCase()),
    resumablePartialName("a.bin", sha),
  );
  assert.notEqual(
    resumablePartialName("a.bin", "1" + sha.slice(1)),
    resumablePartialName("a.bin", sha),
  );
  for (const name of ["a".repeat(255), "中".repeat(85), "x" + "😀".repeat(63)]) {
    const partial = resumablePartialName(name, sha);
    const bytes = new TextEncoder().encode(partial).length;
    assert.ok(bytes <= MAX_NAME_BYTES, `${bytes} bytes`);
    assert.ok(partial.endsWith(".netlab-partial-0123456789abcdef"));
    assert.ok(partial.isWellFormed()); // cut at whole characters
    checkSafeName(partial);
  }
});

Deno.test("--json progress events: at most one per interval, none for a short transfer", () => {
  let clock = 1000;
  const samples: ProgressSample[] = [];
  const bar = createEventProgress("a.bin", 1000, (s) => samples.push(s), { now: () => clock });
  for (let done = 0; done <= 1000; done += 10) {
    bar.update(done);
    clock += 7; // 100 updates over 700 ms
  }
  bar.finish();
  assert.equal(samples.length, 1);
  assert.equal(samples[0].label, "a.bin");
  assert.equal(samples[0].elapsedMs, 504);
  assert.equal(samples[0].done, 720);
  assert.match(samples[0].text, /^a\.bin \[#+-*\] {2}72% {2}720 B \/ 1000 B/);
  const quick: ProgressSample[] = [];
  const short = createEventProgress("b", 5, (s) => quick.push(s), { now: () => clock });
  short.update(5);
  short.finish();
  assert.deepEqual(quick, []);
});
