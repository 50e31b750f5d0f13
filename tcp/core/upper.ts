/**
 * Seed 000's `bytes.upper()`: ASCII a–z become A–Z, byte for byte, and every other byte —
 * each byte of a multi-byte UTF-8 character, invalid UTF-8, binary — is left alone. So the result
 * has the input's length, and a character split between two reads (or cut off by a short UDP
 * buffer) cannot be damaged: the seeds' `recv(1024).decode()` crash cannot happen. Unlike Python's
 * `str.upper()`, `é` stays `é`. The TCP and UDP echo servers both use this module.
 */

/** Below this many bytes `upperAsciiInPlace` does not bother with 4-byte words. */
const SHORT_CHUNK = 64;

/** Chunks at least this long go through the WebAssembly SIMD kernel (when available). */
const SIMD_MIN_CHUNK = 4096;
/** The kernel's scratch memory: 4 pages of 64 KiB, never grown. */
const SIMD_SCRATCH = 4 * 65536;

/**
 * Upper-cases ASCII a–z in place, byte for byte (seed 000's `bytes.upper()`); every other byte,
 * including every byte of a multi-byte UTF-8 character, is left alone. Bulk chunks use a 16-byte
 * SIMD kernel, the rest four bytes at a time.
 */
export function upperAsciiInPlace(bytes: Uint8Array): Uint8Array {
  let from = 0;
  if (bytes.length >= SIMD_MIN_CHUNK) {
    const simd = simdUpper();
    if (simd) from = simd(bytes);
  }
  upperAsciiWords(from ? bytes.subarray(from) : bytes);
  return bytes;
}

/** Like `upperAsciiInPlace`, into a new array; `bytes` is left alone. */
export function upperAscii(bytes: Uint8Array): Uint8Array {
  return upperAsciiInPlace(bytes.slice());
}

/** The portable path: four bytes per step where aligned, byte by byte around that. */
function upperAsciiWords(bytes: Uint8Array): void {
  const length = bytes.length;
  let i = 0;
  // Bytes before the first 4-byte boundary, one by one.
  while (i < length && ((bytes.byteOffset + i) & 3) !== 0) {
    const b = bytes[i];
    if (((b - 0x61) >>> 0) < 26) bytes[i] = b ^ 0x20;
    i++;
  }
  // Short chunks (typed messages) go byte by byte: a word view is not worth its allocation.
  const words = length < SHORT_CHUNK ? 0 : (length - i) >>> 2;
  if (words > 0) {
    const view = new Uint32Array(bytes.buffer, bytes.byteOffset + i, words);
    for (let w = 0; w < words; w++) {
      const x = view[w];
      // Per byte, without carries between bytes: h ≥ 0x61 sets bit 7 of h + 0x1f, h ≥ 0x7b sets
      // bit 7 of h + 0x05, and a byte with its own bit 7 set is never a letter.
      const h = x & 0x7f7f7f7f;
      const mask = ((h + 0x1f1f1f1f) & ~(h + 0x05050505) & ~x & 0x80808080) >>> 2;
      if (mask !== 0) view[w] = x ^ mask;
    }
    i += words << 2;
  }
  for (; i < length; i++) {
    const b = bytes[i];
    if (((b - 0x61) >>> 0) < 26) bytes[i] = b ^ 0x20;
  }
}

/**
 * A WebAssembly SIMD function `upper(n)`, hand-assembled (no file, no fetch): for each 16 bytes
 * `v` of its memory below `n`, `v ^= (v - 'a' <u 26) & 0x20` per byte — the same rule as
 * `upperAsciiWords`, sixteen bytes per step. About twice as fast as the JavaScript words even
 * with the copy in and out of its memory.
 */
function simdModuleBytes(): Uint8Array<ArrayBuffer> {
  const SIMD = 0xfd;
  const LOCAL_GET = 0x20;
  const splat = (byte: number) => [SIMD, 0x0c, ...new Array<number>(16).fill(byte)]; // v128.const
  const body = [
    [2, 1, 0x7f, 1, 0x7b], // locals: i32 $i (1), v128 $v (2); param 0 is $n
    [0x02, 0x40, 0x03, 0x40], // block, loop
    [LOCAL_GET, 1, LOCAL_GET, 0, 0x4f, 0x0d, 1], // if $i >= $n: break
    [LOCAL_GET, 1, LOCAL_GET, 1, SIMD, 0x00, 4, 0, 0x22, 2], // address; $v = v128.load($i)
    [...splat(0x61), SIMD, 0x71], // $v - 'a', per byte, wrapping
    [...splat(26), SIMD, 0x26], // < 26 unsigned: all ones exactly where a–z
    [...splat(0x20), SIMD, 0x4e], // & 0x20
    [LOCAL_GET, 2, SIMD, 0x51, SIMD, 0x0b, 4, 0], // v128.store($i, $v ^ mask)
    [LOCAL_GET, 1, 0x41, 0x10, 0x6a, 0x21, 1, 0x0c, 0], // $i += 16; continue
    [0x0b, 0x0b, 0x0b], // end loop, block, function
  ].flat();
  const section = (id: number, content: number[]) => [id, content.length, ...content];
  const name = (text: string) => [text.length, ...[...text].map((c) => c.charCodeAt(0))];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0], // "\0asm", version 1
    ...section(1, [1, 0x60, 1, 0x7f, 0]), // type: (i32) -> ()
    ...section(3, [1, 0]), // one function of that type
    ...section(5, [1, 0, SIMD_SCRATCH / 65536]), // memory, fixed size
    ...section(7, [2, ...name("mem"), 2, 0, ...name("upper"), 0, 0]), // exports
    ...section(10, [1, body.length, ...body]), // code
  ]);
}

let simdKernel: ((bytes: Uint8Array) => number) | null | undefined;

/** The SIMD path, built on first use; null where WebAssembly SIMD is unavailable. */
function simdUpper(): ((bytes: Uint8Array) => number) | null {
  if (simdKernel !== undefined) return simdKernel;
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(simdModuleBytes()));
    const memory = new Uint8Array((instance.exports.mem as WebAssembly.Memory).buffer);
    const upper = instance.exports.upper as (n: number) => void;
    // Copies each 16-byte-multiple slice in, transforms it, copies it back; returns how many
    // bytes it handled (the caller finishes the < 16-byte tail).
    simdKernel = (bytes) => {
      const whole = bytes.length & ~15;
      for (let at = 0; at < whole; at += SIMD_SCRATCH) {
        const n = Math.min(SIMD_SCRATCH, whole - at);
        memory.set(n === bytes.length ? bytes : bytes.subarray(at, at + n));
        upper(n);
        bytes.set(n === memory.length ? memory : memory.subarray(0, n), at);
      }
      return whole;
    };
  } catch {
    simdKernel = null;
  }
  return simdKernel;
}
