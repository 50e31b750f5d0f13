/**
 * tcp/core/upper.ts: seed 000's `bytes.upper()` on bytes, byte for byte — every byte value at every
 * alignment, the SIMD path on bulk chunks, and UTF-8 split between two reads left intact.
 */
import assert from "node:assert/strict";
import { upperAsciiInPlace } from "../../tcp/core/upper.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** seed 000's bytes.upper(): a–z → A–Z, every other byte unchanged. */
function referenceUpper(bytes: Uint8Array): Uint8Array {
  return bytes.map((b) => (b >= 0x61 && b <= 0x7a ? b - 0x20 : b));
}

Deno.test("upperAsciiInPlace matches bytes.upper() for every byte value at every alignment", () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  // 4 × 256 + a tail, so every byte value sits in every lane of the 4-byte words.
  const source = new Uint8Array(4 * 256 + 7);
  for (let i = 0; i < source.length; i++) source[i] = all[(i * 5 + (i >> 8)) & 0xff];
  for (let offset = 0; offset < 4; offset++) {
    for (const length of [0, 1, 3, 4, 5, 63, 64, 65, 200, source.length - offset]) {
      const slice = source.slice(offset, offset + length);
      const backing = new Uint8Array(length + 8);
      const view = backing.subarray(offset, offset + length);
      view.set(slice);
      upperAsciiInPlace(view);
      assert.deepEqual(view, referenceUpper(slice), `offset ${offset}, length ${length}`);
      assert.ok(backing.subarray(0, offset).every((b) => b === 0), "bytes before untouched");
      assert.ok(backing.subarray(offset + length).every((b) => b === 0), "bytes after untouched");
    }
  }
});

Deno.test("upperAsciiInPlace agrees with bytes.upper() on bulk chunks (the SIMD path)", () => {
  const source = Uint8Array.from({ length: 600_003 }, (_, i) => (i * 131 + (i >> 9)) & 0xff);
  for (const [start, end] of [[0, 4096], [1, 70_001], [3, 600_003], [16, 262_160]]) {
    const chunk = source.slice(start, end);
    const expected = referenceUpper(chunk);
    upperAsciiInPlace(chunk);
    assert.deepEqual(chunk, expected, `bytes ${start}..${end}`);
    // In place inside a larger buffer at an odd offset, neighbours untouched.
    const backing = source.slice();
    upperAsciiInPlace(backing.subarray(start + 1, end));
    assert.deepEqual(
      backing.subarray(start + 1, end),
      referenceUpper(source.subarray(start + 1, end)),
    );
    assert.deepEqual(backing.subarray(0, start + 1), source.subarray(0, start + 1));
    assert.deepEqual(backing.subarray(end), source.subarray(end));
  }
});

Deno.test("upperAsciiInPlace leaves é and Chinese alone however a read splits them", () => {
  const text = "héllo 你好 ß q";
  const bytes = encoder.encode(text);
  for (let split = 0; split <= bytes.length; split++) {
    const copy = bytes.slice();
    upperAsciiInPlace(copy.subarray(0, split));
    upperAsciiInPlace(copy.subarray(split));
    assert.equal(decoder.decode(copy), "HéLLO 你好 ß Q", `split at ${split}`);
  }
});
