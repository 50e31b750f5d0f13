/**
 * The encoder's buffer: every message and every rdata is written into one reusable 64 KiB
 * scratch buffer (plus slack for one name past the limit) and copied out at the end, so encoding
 * allocates only its result. Names are compressed against the suffixes written earlier
 * (case-sensitively, so every name keeps its case), and `rollback` forgets everything written
 * after a point — how the encoder drops an RRset that does not fit. Pure.
 */
import { MAX_LABEL_LENGTH, MAX_MESSAGE_SIZE, MAX_NAME_LENGTH } from "./constants.ts";
import { printableText } from "./primitives.ts";

const SCRATCH = new Uint8Array(MAX_MESSAGE_SIZE + 512);

/** Bytes being written into the scratch buffer, with the names written so far for compression. */
export class Writer {
  buf = SCRATCH;
  pos = 0;
  /** Compression targets: suffix text → offset; `log` lists them in order for rollback. */
  names: Map<string, number> | null;
  log: [string, number][] = [];
  constructor(compress: boolean) {
    this.names = compress ? new Map() : null;
  }
  ensure(n: number): void {
    if (this.pos + n > MAX_MESSAGE_SIZE) {
      throw new RangeError(`Cannot encode message: it exceeds ${MAX_MESSAGE_SIZE} bytes`);
    }
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }
  u16(v: number): void {
    this.ensure(2);
    this.buf[this.pos++] = v >> 8;
    this.buf[this.pos++] = v & 0xff;
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf[this.pos++] = v >>> 24;
    this.buf[this.pos++] = (v >>> 16) & 0xff;
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  characterString(b: Uint8Array, what: string): void {
    if (b.length > 255) {
      throw new RangeError(`Cannot encode ${what}: string of ${b.length} bytes exceeds 255`);
    }
    this.u8(b.length);
    this.bytes(b);
  }
  /** Forgets compression targets written at or after `pos` (after a rollback). */
  rollback(pos: number): void {
    this.pos = pos;
    while (this.log.length && this.log[this.log.length - 1][1] >= pos) {
      this.names?.delete(this.log.pop()![0]);
    }
  }
  /** Writes a name, pointing at an earlier copy of a suffix when `compress` allows. */
  name(name: string, compress: boolean): void {
    // The scratch buffer has 512 bytes of slack past the limit, so one name always fits
    // before the size check at the end.
    if (this.pos > MAX_MESSAGE_SIZE) this.ensure(1);
    if (name === "") throw new RangeError(`Cannot encode name "": empty`);
    if (name === ".") {
      this.buf[this.pos++] = 0;
      return;
    }
    const buf = this.buf;
    const names = this.names;
    const n = name.length;
    const start = this.pos;
    let i = 0;
    while (i < n) {
      if (names !== null) {
        const key = i === 0 ? name : name.slice(i);
        const ptr = names.get(key);
        if (ptr !== undefined && compress) {
          buf[this.pos++] = 0xc0 | (ptr >> 8);
          buf[this.pos++] = ptr & 0xff;
          this.ensure(0);
          return;
        }
        if (ptr === undefined && this.pos < 0x4000) {
          names.set(key, this.pos);
          this.log.push([key, this.pos]);
        }
      }
      const lengthAt = this.pos++;
      let len = 0;
      while (i < n) {
        let c = name.charCodeAt(i);
        if (c === 46) break;
        if (c === 92) {
          const d0 = name.charCodeAt(i + 1) - 48;
          const d1 = name.charCodeAt(i + 2) - 48;
          const d2 = name.charCodeAt(i + 3) - 48;
          if (d0 >= 0 && d0 <= 9 && d1 >= 0 && d1 <= 9 && d2 >= 0 && d2 <= 9) {
            c = d0 * 100 + d1 * 10 + d2;
            i += 4;
          } else if (i + 1 < n) {
            c = name.charCodeAt(i + 1);
            i += 2;
          } else {
            this.rollback(start);
            throw new RangeError(`Cannot encode name "${printableText(name)}": dangling backslash`);
          }
        } else {
          if (c > 0x7e) {
            this.rollback(start);
            throw new RangeError(
              `Cannot encode name "${printableText(name)}": non-ASCII character (use punycode)`,
            );
          }
          i++;
        }
        if (c > 255) {
          this.rollback(start);
          throw new RangeError(`Cannot encode name "${printableText(name)}": escape exceeds 255`);
        }
        if (++len > MAX_LABEL_LENGTH) {
          this.rollback(start);
          throw new RangeError(
            `Cannot encode name "${
              printableText(name)
            }": label longer than ${MAX_LABEL_LENGTH} bytes`,
          );
        }
        buf[this.pos++] = c;
      }
      if (len === 0) {
        this.rollback(start);
        throw new RangeError(`Cannot encode name "${printableText(name)}": empty label`);
      }
      buf[lengthAt] = len;
      i++; // the dot
      if (this.pos - start + 1 > MAX_NAME_LENGTH) {
        this.rollback(start);
        throw new RangeError(
          `Cannot encode name "${printableText(name)}": longer than ${MAX_NAME_LENGTH} bytes`,
        );
      }
    }
    buf[this.pos++] = 0;
    this.ensure(0);
  }
}

/** `v` when it is an integer 0–65535; else a RangeError naming `what`. */
export function u16Value(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) {
    throw new RangeError(`Cannot encode ${what} "${v}": expected an integer from 0 to 65535`);
  }
  return v;
}

/** `v` when it is an integer 0–4294967295; else a RangeError naming `what`. */
export function u32Value(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new RangeError(`Cannot encode ${what} "${v}": expected an integer from 0 to 4294967295`);
  }
  return v;
}
