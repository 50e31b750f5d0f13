/**
 * Message framing over a byte stream — the cure for 粘包 (seed 003: 「消息之间没有边界」).
 *
 * TCP delivers bytes, not messages: one `write` may arrive in several reads and several writes
 * may arrive in one. A framing layer puts the boundaries back. Two kinds live here:
 *
 * - Length prefix (seed 003's "structured header", 「数据结构」): every frame is a 2- or 4-byte
 *   big-endian length followed by that many payload bytes. Any payload is allowed (binary,
 *   Chinese, empty).
 * - Delimiter (seed 003's "end marker", 「追加一个结尾标志」): frames end with a marker such as
 *   `"\n"` or `"##"`. Simple, but a payload must never contain the marker.
 *
 * Theory of operation: pure code, no I/O. Bytes go in through `push(chunk)` in whatever pieces the
 * network produced; complete frames come out as an array, and "need more bytes" is simply an empty
 * array. Every decoder holds at most one incomplete frame, and every frame has a maximum size
 * (default 16 MiB): a length prefix announcing more, or more than that many bytes without a
 * delimiter, is a `FrameTooLargeError`, raised as soon as it is seen instead of buffering. The
 * frames completed before it are delivered first, however the bytes were split: a `push` that
 * completes frames and then meets the oversized one returns those frames, and the next call
 * (`push` or `finish`) throws; a `push` that completes none throws at once. After the error the
 * stream is out of step and the decoder refuses further input; close the connection.
 *
 * Decoders never rescan or re-concatenate what they already hold: a length-prefix decoder fills one
 * buffer for the frame in progress (growing by doubling up to the announced size), a delimiter
 * decoder holds only the bytes after the last delimiter. Frames they return never alias the
 * caller's chunk (a caller may reuse its read buffer); frames cut from one chunk may share one
 * copy of it (one allocation per chunk, not per frame), so use `frame.byteOffset`/`byteLength`
 * rather than assuming `frame.buffer` holds only that frame.
 */

/** Default largest frame payload a decoder accepts: 16 MiB. */
export const DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024;

/** The largest length each prefix size can express. */
const PREFIX_LIMIT = { 2: 0xffff, 4: 0xffff_ffff } as const;

/** The first allocation for a frame whose payload is still arriving (then it doubles). */
const INITIAL_FRAME_BUFFER = 64 * 1024;

/** A frame is larger than the agreed maximum; the stream cannot be trusted any further. */
export class FrameTooLargeError extends RangeError {
  override name = "FrameTooLargeError";
  /** The announced (length prefix) or at-least (delimiter) size of the frame, in bytes. */
  readonly size: number;
  /** The maximum that was exceeded. */
  readonly max: number;
  constructor(size: number, max: number, message?: string) {
    super(message ?? `Frame too large: ${size} bytes exceeds the maximum of ${max} bytes`);
    this.size = size;
    this.max = max;
  }
}

/** The stream ended inside a frame (a prefix or payload was only partly received). */
export class TruncatedFrameError extends Error {
  override name = "TruncatedFrameError";
}

/** Options for length-prefixed frames. */
export interface LengthPrefixOptions {
  /** Size of the big-endian length prefix: 2 (payloads up to 65,535 bytes) or 4. Default 4. */
  prefixBytes?: 2 | 4;
  /** Largest payload accepted or produced. Default 16 MiB. */
  maxFrameSize?: number;
}

/** Options for delimiter frames. */
export interface DelimiterOptions {
  /** Largest frame (without the delimiter) accepted. Default 16 MiB. */
  maxFrameSize?: number;
}

interface PrefixSettings {
  prefixBytes: 2 | 4;
  maxFrameSize: number;
}

function checkMaxFrameSize(value: number | undefined): number {
  const max = value ?? DEFAULT_MAX_FRAME_SIZE;
  if (!Number.isSafeInteger(max) || max < 0) {
    throw new RangeError(`Invalid maxFrameSize "${max}": expected a non-negative integer`);
  }
  return max;
}

export function prefixSettings(options: LengthPrefixOptions = {}): PrefixSettings {
  const prefixBytes = options.prefixBytes ?? 4;
  if (prefixBytes !== 2 && prefixBytes !== 4) {
    throw new RangeError(`Invalid prefixBytes "${prefixBytes}": expected 2 or 4`);
  }
  // A 2-byte prefix cannot announce more than 65,535 bytes, whatever the option says.
  const maxFrameSize = Math.min(checkMaxFrameSize(options.maxFrameSize), PREFIX_LIMIT[prefixBytes]);
  return { prefixBytes, maxFrameSize };
}

export function readLength(bytes: Uint8Array, at: number, prefixBytes: 2 | 4): number {
  return prefixBytes === 2
    ? (bytes[at] << 8) | bytes[at + 1]
    : ((bytes[at] << 24) >>> 0) + ((bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]);
}

/** Returns `prefix + payload`: the payload's length as a big-endian 2- or 4-byte integer first. */
export function encodeLengthPrefixed(
  payload: Uint8Array,
  options?: LengthPrefixOptions,
): Uint8Array {
  const { prefixBytes, maxFrameSize } = prefixSettings(options);
  if (payload.length > maxFrameSize) throw new FrameTooLargeError(payload.length, maxFrameSize);
  const out = new Uint8Array(prefixBytes + payload.length);
  const view = new DataView(out.buffer);
  if (prefixBytes === 2) view.setUint16(0, payload.length);
  else view.setUint32(0, payload.length);
  out.set(payload, prefixBytes);
  return out;
}

/**
 * Decodes one frame starting at `offset`. Returns the payload (a view into `bytes`, not a copy)
 * and the offset just after it, or `null` when more bytes are needed. Throws
 * `FrameTooLargeError` as soon as the prefix is readable and announces too much.
 */
export function decodeLengthPrefixed(
  bytes: Uint8Array,
  offset = 0,
  options?: LengthPrefixOptions,
): { frame: Uint8Array; next: number } | null {
  return decodeWith(bytes, offset, prefixSettings(options));
}

function decodeWith(
  bytes: Uint8Array,
  offset: number,
  { prefixBytes, maxFrameSize }: PrefixSettings,
): { frame: Uint8Array; next: number } | null {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset > bytes.length) {
    throw new RangeError(`Invalid offset "${offset}": expected 0 to ${bytes.length}`);
  }
  if (bytes.length - offset < prefixBytes) return null;
  const length = readLength(bytes, offset, prefixBytes);
  if (length > maxFrameSize) throw new FrameTooLargeError(length, maxFrameSize);
  const start = offset + prefixBytes;
  if (bytes.length - start < length) return null;
  return { frame: bytes.subarray(start, start + length), next: start + length };
}

/**
 * What both incremental decoders share: `push` delivers the frames a chunk completed before an
 * oversized one, and the error comes at once or with the next call — so the frames and the error
 * are the same however the bytes were split.
 */
abstract class FrameDecoder {
  /** The error a `push` met after delivering frames: thrown by the next `push` or `finish`. */
  protected failure: FrameTooLargeError | undefined;

  /**
   * Feeds a chunk; returns every frame it completed (possibly none). Throws `FrameTooLargeError`
   * when the stream is (or went) bad: at once if this chunk completed no frame before the
   * oversized one, else on the next call, after these frames are returned.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.failure) throw this.failure;
    const frames: Uint8Array[] = [];
    try {
      this.collect(chunk, frames);
    } catch (error) {
      if (!(error instanceof FrameTooLargeError)) throw error;
      this.failure = error;
      if (frames.length === 0) throw error;
    }
    return frames;
  }

  /** Appends the frames `chunk` completes to `frames`; throws at an oversized one. */
  protected abstract collect(chunk: Uint8Array, frames: Uint8Array[]): void;
}

/**
 * Incremental length-prefix decoder: `push` chunks as they arrive, get the complete frames back.
 * Holds at most one incomplete frame (at most `prefixBytes + maxFrameSize` bytes).
 */
export class LengthPrefixDecoder extends FrameDecoder {
  readonly #settings: PrefixSettings;
  /** Prefix bytes of the frame in progress (only while fewer than `prefixBytes` are in). */
  readonly #header: Uint8Array;
  #headerFilled = 0;
  /** Announced payload length of the frame in progress, or -1 while the prefix is incomplete. */
  #length = -1;
  #payload = new Uint8Array(0);
  #payloadFilled = 0;

  constructor(options?: LengthPrefixOptions) {
    super();
    this.#settings = prefixSettings(options);
    this.#header = new Uint8Array(this.#settings.prefixBytes);
  }

  /** Bytes held that do not form a complete frame yet. */
  get pending(): number {
    return this.#headerFilled + this.#payloadFilled;
  }

  protected collect(chunk: Uint8Array, frames: Uint8Array[]): void {
    let pos = 0;
    // 1. Complete the frame in progress with bytes from the front of the chunk.
    while (this.pending > 0 && pos < chunk.length) {
      pos = this.#continueFrame(chunk, pos, frames);
    }
    // 2. Whole frames inside the chunk are cut out directly, without buffering.
    if (this.pending === 0) {
      // Find where the run of whole frames ends, copy that run once, and hand out views of the
      // copy: one allocation per chunk instead of one per frame.
      const { prefixBytes, maxFrameSize } = this.#settings;
      const bounds: number[] = [];
      let end = pos;
      let oversized: FrameTooLargeError | undefined;
      while (chunk.length - end >= prefixBytes) {
        const length = readLength(chunk, end, prefixBytes);
        if (length > maxFrameSize) {
          oversized = new FrameTooLargeError(length, maxFrameSize);
          break;
        }
        if (chunk.length - end - prefixBytes < length) break;
        bounds.push(end + prefixBytes, end + prefixBytes + length);
        end += prefixBytes + length;
      }
      if (bounds.length > 0) {
        const run = chunk.slice(pos, end);
        for (let i = 0; i < bounds.length; i += 2) {
          frames.push(run.subarray(bounds[i] - pos, bounds[i + 1] - pos));
        }
        pos = end;
      }
      if (oversized) throw oversized; // after the frames before it
      // 3. The rest (a partial prefix or payload) starts the next frame.
      while (pos < chunk.length) pos = this.#continueFrame(chunk, pos, frames);
    }
  }

  /** Moves bytes from `chunk[pos…]` into the frame in progress; returns the new position. */
  #continueFrame(chunk: Uint8Array, pos: number, frames: Uint8Array[]): number {
    const { prefixBytes, maxFrameSize } = this.#settings;
    if (this.#length < 0) {
      const take = Math.min(prefixBytes - this.#headerFilled, chunk.length - pos);
      this.#header.set(chunk.subarray(pos, pos + take), this.#headerFilled);
      this.#headerFilled += take;
      pos += take;
      if (this.#headerFilled < prefixBytes) return pos;
      const length = readLength(this.#header, 0, prefixBytes);
      if (length > maxFrameSize) throw new FrameTooLargeError(length, maxFrameSize);
      this.#length = length;
      this.#payload = new Uint8Array(Math.min(length, INITIAL_FRAME_BUFFER));
      this.#payloadFilled = 0;
    }
    const take = Math.min(this.#length - this.#payloadFilled, chunk.length - pos);
    this.#reserve(this.#payloadFilled + take);
    this.#payload.set(chunk.subarray(pos, pos + take), this.#payloadFilled);
    this.#payloadFilled += take;
    pos += take;
    if (this.#payloadFilled === this.#length) {
      frames.push(this.#payload);
      this.#reset();
    }
    return pos;
  }

  /** Grows the payload buffer (doubling, capped at the announced length) to hold `size` bytes. */
  #reserve(size: number): void {
    if (size <= this.#payload.length) return;
    const grown = new Uint8Array(Math.min(this.#length, Math.max(size, this.#payload.length * 2)));
    grown.set(this.#payload.subarray(0, this.#payloadFilled));
    this.#payload = grown;
  }

  #reset(): void {
    this.#headerFilled = 0;
    this.#length = -1;
    this.#payload = new Uint8Array(0);
    this.#payloadFilled = 0;
  }

  /** Removes and returns the buffered bytes that are not (yet) a frame, prefix included. */
  take(): Uint8Array {
    const out = new Uint8Array(this.pending);
    out.set(this.#header.subarray(0, this.#headerFilled));
    out.set(this.#payload.subarray(0, this.#payloadFilled), this.#headerFilled);
    this.#reset();
    return out;
  }

  /**
   * Call at end of stream: throws the `FrameTooLargeError` a `push` left for later, or
   * `TruncatedFrameError` if a partial frame is buffered.
   */
  finish(): void {
    if (this.failure) throw this.failure;
    if (this.pending === 0) return;
    const expected = this.#length < 0
      ? `${this.#settings.prefixBytes}-byte length prefix`
      : `${this.#settings.prefixBytes + this.#length}-byte frame`;
    const got = this.pending;
    this.#reset();
    throw new TruncatedFrameError(
      `Stream ended inside a frame: got ${got} bytes of a ${expected}`,
    );
  }
}

const textEncoder = new TextEncoder();

export function delimiterBytes(delimiter: Uint8Array | string): Uint8Array {
  const bytes = typeof delimiter === "string" ? textEncoder.encode(delimiter) : delimiter.slice();
  if (bytes.length === 0) throw new RangeError("Invalid delimiter: it must not be empty");
  return bytes;
}

/** Index of the first `delimiter` in `bytes` at or after `from`, or -1. */
export function indexOfDelimiter(bytes: Uint8Array, delimiter: Uint8Array, from = 0): number {
  const first = delimiter[0];
  const last = bytes.length - delimiter.length;
  for (let i = bytes.indexOf(first, from); i !== -1 && i <= last; i = bytes.indexOf(first, i + 1)) {
    let j = 1;
    while (j < delimiter.length && bytes[i + j] === delimiter[j]) j++;
    if (j === delimiter.length) return i;
  }
  return -1;
}

/**
 * Returns `payload + delimiter`. Throws `RangeError` if the receiver would cut the message
 * early: the payload contains the delimiter, or its last bytes run into the delimiter (`"a#"`
 * before `"##"` reads as `"a"` then `"#"`) — the weakness of end-marker framing.
 */
export function encodeDelimited(payload: Uint8Array, delimiter: Uint8Array | string): Uint8Array {
  const marker = delimiterBytes(delimiter);
  const out = new Uint8Array(payload.length + marker.length);
  out.set(payload);
  out.set(marker, payload.length);
  const at = indexOfDelimiter(out, marker);
  if (at + marker.length <= payload.length) {
    throw new RangeError(`Cannot frame payload: it contains the delimiter at offset ${at}`);
  }
  if (at < payload.length) {
    throw new RangeError(
      `Cannot frame payload: its end and the delimiter form a delimiter at offset ${at}`,
    );
  }
  return out;
}

/**
 * Incremental delimiter decoder: frames are the bytes between delimiters (the delimiter is
 * removed; empty frames are kept). Holds at most `maxFrameSize + delimiter.length - 1` bytes.
 */
export class DelimiterDecoder extends FrameDecoder {
  readonly #delimiter: Uint8Array;
  readonly #maxFrameSize: number;
  /** Bytes after the last delimiter; never contains a whole delimiter. */
  #buffer = new Uint8Array(0);
  #length = 0;

  constructor(delimiter: Uint8Array | string, options: DelimiterOptions = {}) {
    super();
    this.#delimiter = delimiterBytes(delimiter);
    this.#maxFrameSize = checkMaxFrameSize(options.maxFrameSize);
  }

  /** Bytes held after the last delimiter. */
  get pending(): number {
    return this.#length;
  }

  protected collect(chunk: Uint8Array, frames: Uint8Array[]): void {
    const delimiterLength = this.#delimiter.length;
    let pos = 0;
    if (this.#length > 0) {
      // A delimiter may start in the held bytes and end in this chunk…
      const straddle = this.#findStraddling(chunk);
      // …or lie wholly in the chunk.
      const inChunk = straddle === -1 ? indexOfDelimiter(chunk, this.#delimiter) : -1;
      if (straddle === -1 && inChunk === -1) {
        this.#append(chunk);
        return;
      }
      const frameLength = straddle !== -1 ? straddle : this.#length + inChunk;
      this.#checkSize(frameLength);
      const frame = new Uint8Array(frameLength);
      frame.set(this.#buffer.subarray(0, Math.min(this.#length, frameLength)));
      if (inChunk > 0) frame.set(chunk.subarray(0, inChunk), this.#length);
      frames.push(frame);
      pos = straddle !== -1 ? straddle + delimiterLength - this.#length : inChunk + delimiterLength;
      this.#length = 0;
    }
    // Locate every whole frame first, then copy their run once and hand out views of the copy.
    const bounds: number[] = [];
    let end = pos;
    let oversized = -1; // the length of a frame over the limit, once found
    for (let at; (at = indexOfDelimiter(chunk, this.#delimiter, end)) !== -1;) {
      if (at - end > this.#maxFrameSize) {
        oversized = at - end;
        break;
      }
      bounds.push(end, at);
      end = at + delimiterLength;
    }
    if (bounds.length > 0) {
      const run = chunk.slice(pos, end);
      for (let i = 0; i < bounds.length; i += 2) {
        frames.push(run.subarray(bounds[i] - pos, bounds[i + 1] - pos));
      }
      pos = end;
    }
    this.#checkSize(oversized); // after the frames before it
    this.#append(chunk.subarray(pos));
  }

  /** Start (in the held bytes) of a delimiter completed by the front of `chunk`, or -1. */
  #findStraddling(chunk: Uint8Array): number {
    const d = this.#delimiter;
    for (let start = Math.max(0, this.#length - d.length + 1); start < this.#length; start++) {
      const inBuffer = this.#length - start;
      if (d.length - inBuffer > chunk.length) continue;
      let j = 0;
      while (j < inBuffer && this.#buffer[start + j] === d[j]) j++;
      if (j < inBuffer) continue;
      while (j < d.length && chunk[j - inBuffer] === d[j]) j++;
      if (j === d.length) return start;
    }
    return -1;
  }

  /**
   * Throws when a frame of at least `frameLength` bytes is over the limit. The message is the
   * same whether the delimiter has arrived or not, so it does not depend on how the bytes were
   * split; `size` is what is known so far.
   */
  #checkSize(frameLength: number): void {
    if (frameLength > this.#maxFrameSize) {
      throw new FrameTooLargeError(
        frameLength,
        this.#maxFrameSize,
        `Frame too large: more than ${this.#maxFrameSize} bytes without a delimiter`,
      );
    }
  }

  /** Holds `bytes` (which end the stream so far without a delimiter), enforcing the limit. */
  #append(bytes: Uint8Array): void {
    const total = this.#length + bytes.length;
    // The frame in progress is at least this long even if a delimiter starts in its last bytes.
    this.#checkSize(total - (this.#delimiter.length - 1));
    if (total > this.#buffer.length) {
      const grown = new Uint8Array(Math.max(total, this.#buffer.length * 2, 256));
      grown.set(this.#buffer.subarray(0, this.#length));
      this.#buffer = grown;
    }
    this.#buffer.set(bytes, this.#length);
    this.#length = total;
  }

  /**
   * Call at end of stream: throws the `FrameTooLargeError` a `push` left for later, else removes
   * and returns the unterminated rest, or `null` if none.
   */
  finish(): Uint8Array | null {
    if (this.failure) throw this.failure;
    if (this.#length === 0) return null;
    const rest = this.#buffer.slice(0, this.#length);
    this.#length = 0;
    this.#buffer = new Uint8Array(0);
    return rest;
  }
}

/** An error carried down the pipe after the frames that came before it. */
class Failure {
  constructor(readonly error: unknown) {}
}

/**
 * Chunks → frames, where an error reaches the reader only after every frame before it was
 * read. (A TransformStream that errors drops the chunks still queued on its readable side, so
 * the decoding stage passes the error on as a value, and a second stage raises it when the
 * reader gets there.)
 */
function framesPair(
  push: (chunk: Uint8Array) => Uint8Array[],
  finish: () => Uint8Array | null | void,
): ReadableWritablePair<Uint8Array, Uint8Array> {
  let failed = false;
  const fail = (controller: TransformStreamDefaultController<Uint8Array | Failure>, e: unknown) => {
    failed = true;
    controller.enqueue(new Failure(e));
  };
  const decode = new TransformStream<Uint8Array, Uint8Array | Failure>({
    transform(chunk, controller) {
      if (failed) return; // out of step: the rest of the input means nothing
      let frames: Uint8Array[];
      try {
        frames = push(chunk);
      } catch (error) {
        return fail(controller, error);
      }
      for (const frame of frames) controller.enqueue(frame);
    },
    flush(controller) {
      if (failed) return;
      try {
        const rest = finish();
        if (rest) controller.enqueue(rest);
      } catch (error) {
        fail(controller, error);
      }
    },
  });
  const raise = new TransformStream<Uint8Array | Failure, Uint8Array>({
    transform(item, controller) {
      if (item instanceof Failure) throw item.error;
      controller.enqueue(item);
    },
  });
  return { writable: decode.writable, readable: decode.readable.pipeThrough(raise) };
}

/**
 * A stream of byte chunks → a stream of length-prefixed frame payloads (use with
 * `pipeThrough`). The stream errors with `FrameTooLargeError`, or with `TruncatedFrameError` if
 * it ends inside a frame, after every frame before the problem.
 */
export function lengthPrefixedFrames(
  options?: LengthPrefixOptions,
): ReadableWritablePair<Uint8Array, Uint8Array> {
  const decoder = new LengthPrefixDecoder(options);
  return framesPair((chunk) => decoder.push(chunk), () => decoder.finish());
}

/**
 * A stream of byte chunks → a stream of delimiter-separated frames, delimiter removed (use
 * with `pipeThrough`). An unterminated, non-empty rest at the end is passed on as a last frame,
 * like a final line without a newline. Errors with `FrameTooLargeError` after every frame
 * before it.
 */
export function delimitedFrames(
  delimiter: Uint8Array | string,
  options?: DelimiterOptions,
): ReadableWritablePair<Uint8Array, Uint8Array> {
  const decoder = new DelimiterDecoder(delimiter, options);
  return framesPair((chunk) => decoder.push(chunk), () => decoder.finish());
}

/** A stream of payloads → a stream of length-prefixed frames (one output chunk per payload). */
export function lengthPrefixEncoder(
  options?: LengthPrefixOptions,
): TransformStream<Uint8Array, Uint8Array> {
  const settings: LengthPrefixOptions = prefixSettings(options);
  return new TransformStream({
    transform(payload, controller) {
      controller.enqueue(encodeLengthPrefixed(payload, settings));
    },
  });
}
