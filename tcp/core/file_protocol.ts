/**
 * The netlab file-transfer wire format, without I/O: header and acknowledgement frames, their
 * strict validation, and the rule for which file names a receiver may write.
 *
 * Seed 003 (文件传输示例) sends a bare file name, sleeps, sends 1024-byte chunks, sleeps and sends
 * `##`; the receiver stops at the first read that equals `##` and writes to
 * `'/home/tarena/' + filename`. A file containing `##` is cut short, a late reader glues the name
 * to the data, and the sender chooses where the receiver writes. This format announces sizes
 * instead of using markers, so no content and no timing can be mistaken for a boundary.
 *
 * Theory of operation. Every frame is a 4-byte big-endian length N and N bytes of UTF-8 JSON
 * (`tcp/core/framing.ts`), at most 64 KiB:
 *
 *     sender → receiver   {"name": "照片.jpg", "size": 1048576, "sha256": "<64 hex>"}
 *                         exactly `size` raw bytes (not framed: the header said how many)
 *     receiver → sender   {"ok": true, "sha256": "<64 hex>"}  or  {"ok": false, "error": "…"}
 *                         … the next file …
 *     sender → receiver   {"end": true}
 *
 * `size` is a JSON number, so sizes up to 2^53-1 (`Number.MAX_SAFE_INTEGER`) fit — there is no
 * 32-bit field anywhere. Unknown extra keys in a frame are ignored so the format can grow.
 *
 * Resume (an extension old peers never see). A sender that offers it adds `"resume": true` to a
 * header and then waits for one answer frame before the body:
 *
 *     sender → receiver   {"name": …, "size": …, "sha256": …, "resume": true}
 *     receiver → sender   {"resume": OFFSET}       (0 ≤ OFFSET ≤ size: bytes it already holds)
 *                         or an error ack {"ok": false, "error": "…"} (refused: no body follows)
 *     sender → receiver   bytes OFFSET … size-1    (size − OFFSET raw bytes)
 *     receiver → sender   the ack, for the SHA-256 of the whole file
 *
 * Only the sender can offer, because the receiver never speaks before a body in the fixed format
 * (an old sender would read its frame as a broken ack), and an old receiver never answers (a
 * sender that waited would wait forever). So the offer is opt-in on the sender
 * (`file_send.ts --resume`); without it the bytes are exactly the fixed format.
 */
import type { ExplainField } from "../kit/explain.ts";
import { posix } from "node:path";
import { encodeLengthPrefixed, type LengthPrefixOptions } from "./framing.ts";

/** Largest header or ack frame payload; anything larger is a protocol error. */
export const MAX_HEADER_FRAME_SIZE = 64 * 1024;

/** Framing options for every header and ack frame: 4-byte big-endian prefix, 64 KiB cap. */
export const HEADER_FRAMING: LengthPrefixOptions = {
  prefixBytes: 4,
  maxFrameSize: MAX_HEADER_FRAME_SIZE,
};

/** Largest file size the format carries: 2^53-1 bytes. */
export const MAX_FILE_SIZE = Number.MAX_SAFE_INTEGER;

/** Longest file name in UTF-8 bytes (the usual file-system limit, NAME_MAX). */
export const MAX_NAME_BYTES = 255;

/** Longest error text put into an ack (keeps every ack far below the frame cap). */
export const MAX_ACK_ERROR_LENGTH = 1000;

/** A file about to be sent: its name (one path component), size and SHA-256 in hex. */
export interface FileHeader {
  name: string;
  size: number;
  sha256: string;
  /** The sender offers resume: it waits for a `{"resume": OFFSET}` answer before the body. */
  resume?: true;
}

/** A decoded header frame: a file follows, or the sender has no more files. */
export type HeaderFrame = ({ type: "file" } & FileHeader) | { type: "end" };

/** The receiver's verdict on one file. */
export type Ack = { ok: true; sha256: string } | { ok: false; error: string };

/** The receiver's answer to a resume offer: send from `offset`, or the file is refused. */
export type ResumeAnswer = { type: "resume"; offset: number } | { type: "refused"; error: string };

/** The peer broke the wire format (bad JSON, wrong types, oversized frame): drop the connection. */
export class FileProtocolError extends Error {
  override name = "FileProtocolError";
}

/** A file name the receiver must not write (the seed's path traversal). */
export class UnsafeNameError extends Error {
  override name = "UnsafeNameError";
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });
const SHA256_HEX = /^[0-9a-f]{64}$/i;

function encodeJsonFrame(value: unknown): Uint8Array {
  return encodeLengthPrefixed(encoder.encode(JSON.stringify(value)), HEADER_FRAMING);
}

/** `"name"` for messages: JSON-quoted (control characters visible) and cut to 80 characters. */
export function quoteName(name: string): string {
  return JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
}

/**
 * Throws `UnsafeNameError` unless `name` is one ordinary path component that stays inside any
 * destination folder: not empty, not `.` or `..`, no `/`, `\`, NUL or other control characters,
 * no drive prefix (`C:`), well-formed Unicode, at most 255 UTF-8 bytes. Chinese names are fine.
 */
export function checkSafeName(name: string): void {
  const refuse = (why: string) => {
    throw new UnsafeNameError(`Unsafe file name ${quoteName(name)}: ${why}`);
  };
  if (name.length === 0) refuse("it is empty");
  if (name === "." || name === "..") refuse("it names a directory, not a file");
  if (name.startsWith("/") || name.startsWith("\\")) refuse("it is an absolute path");
  if (/^[A-Za-z]:/.test(name)) refuse("it starts with a drive letter");
  if (name.includes("/") || name.includes("\\")) refuse("it contains a path separator");
  if (name.includes("\0")) refuse("it contains a NUL character");
  // deno-lint-ignore no-control-regex
  if (/[\u0001-\u001f\u007f]/.test(name)) refuse("it contains a control character");
  if (!name.isWellFormed()) refuse("it is not well-formed Unicode");
  const bytes = encoder.encode(name).length;
  if (bytes > MAX_NAME_BYTES) refuse(`it is ${bytes} bytes long (at most ${MAX_NAME_BYTES})`);
}

/**
 * Joins `dir` and a checked `name`, and verifies (string-wise, like `path.resolve`) that the
 * result is directly inside `dir` — a second line of defence behind `checkSafeName`.
 */
export function pathInside(dir: string, name: string): string {
  checkSafeName(name);
  const base = posix.normalize(dir);
  const joined = posix.join(base, name);
  if (
    posix.dirname(joined) !== posix.normalize(posix.join(base, ".")) ||
    posix.basename(joined) !== name
  ) {
    throw new UnsafeNameError(`Unsafe file name ${quoteName(name)}: it leaves ${quoteName(dir)}`);
  }
  return joined;
}

function checkSize(size: unknown): size is number {
  return typeof size === "number" && Number.isSafeInteger(size) && size >= 0;
}

/** Encodes the header frame for one file (validated: a bad header is never put on the wire). */
export function encodeFileHeader(header: FileHeader): Uint8Array {
  checkSafeName(header.name);
  if (!checkSize(header.size)) {
    throw new RangeError(`Invalid size "${header.size}": expected an integer from 0 to 2^53-1`);
  }
  if (!SHA256_HEX.test(header.sha256)) {
    throw new TypeError(`Invalid sha256 "${header.sha256}": expected 64 hex digits`);
  }
  return encodeJsonFrame({
    name: header.name,
    size: header.size,
    sha256: header.sha256.toLowerCase(),
    ...(header.resume ? { resume: true } : {}),
  });
}

/** Encodes the receiver's answer to a resume offer: it already holds `offset` bytes. */
export function encodeResume(offset: number): Uint8Array {
  if (!checkSize(offset)) {
    throw new RangeError(`Invalid resume offset "${offset}": expected an integer from 0 to 2^53-1`);
  }
  return encodeJsonFrame({ resume: offset });
}

/** Encodes the `{"end": true}` frame that follows the last file. */
export function encodeEndHeader(): Uint8Array {
  return encodeJsonFrame({ end: true });
}

/** Encodes an ack frame; error texts are cut to `MAX_ACK_ERROR_LENGTH` characters. */
export function encodeAck(ack: Ack): Uint8Array {
  if (ack.ok) {
    if (!SHA256_HEX.test(ack.sha256)) {
      throw new TypeError(`Invalid sha256 "${ack.sha256}": expected 64 hex digits`);
    }
    return encodeJsonFrame({ ok: true, sha256: ack.sha256.toLowerCase() });
  }
  return encodeJsonFrame({ ok: false, error: ack.error.slice(0, MAX_ACK_ERROR_LENGTH) });
}

/** Parses a frame payload as a JSON object, or throws `FileProtocolError` naming `what`. */
function decodeJsonObject(payload: Uint8Array, what: string): Record<string, unknown> {
  if (payload.length > MAX_HEADER_FRAME_SIZE) {
    throw new FileProtocolError(
      `Invalid ${what} frame: ${payload.length} bytes exceeds the maximum of ${MAX_HEADER_FRAME_SIZE}`,
    );
  }
  let text: string;
  try {
    text = strictDecoder.decode(payload);
  } catch {
    throw new FileProtocolError(`Invalid ${what} frame: not UTF-8`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new FileProtocolError(
      `Invalid ${what} frame: not JSON: ${JSON.stringify(text.slice(0, 60))}`,
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new FileProtocolError(`Invalid ${what} frame: expected a JSON object`);
  }
  return value as Record<string, unknown>;
}

/**
 * Decodes and validates a header frame payload. The name's safety is not judged here (the
 * receiver refuses an unsafe name with an ack and stays in step); everything else is strict:
 * `name` a string, `size` an integer 0…2^53-1, `sha256` 64 hex digits (returned lower-case), or
 * exactly `end: true` without file fields.
 */
export function decodeHeader(payload: Uint8Array): HeaderFrame {
  const obj = decodeJsonObject(payload, "header");
  if ("end" in obj) {
    if (obj.end !== true) throw new FileProtocolError(`Invalid header frame: "end" must be true`);
    if ("name" in obj || "size" in obj || "sha256" in obj) {
      throw new FileProtocolError(`Invalid header frame: "end" together with file fields`);
    }
    return { type: "end" };
  }
  const { name, size, sha256 } = obj;
  if (typeof name !== "string") {
    throw new FileProtocolError(`Invalid header frame: "name" must be a string`);
  }
  if (!checkSize(size)) {
    throw new FileProtocolError(
      `Invalid header frame: "size" must be an integer from 0 to 2^53-1, got ${
        JSON.stringify(size) ?? "nothing"
      }`,
    );
  }
  if (typeof sha256 !== "string" || !SHA256_HEX.test(sha256)) {
    throw new FileProtocolError(`Invalid header frame: "sha256" must be 64 hex digits`);
  }
  if ("resume" in obj && typeof obj.resume !== "boolean") {
    throw new FileProtocolError(`Invalid header frame: "resume" must be true or false`);
  }
  const header: HeaderFrame = { type: "file", name, size, sha256: sha256.toLowerCase() };
  if (obj.resume === true) header.resume = true;
  return header;
}

/**
 * Decodes the answer to a resume offer for a file of `size` bytes: `{"resume": OFFSET}` with
 * 0 ≤ OFFSET ≤ size, or an error ack (the receiver refused the file; no body follows).
 */
export function decodeResumeAnswer(payload: Uint8Array, size: number): ResumeAnswer {
  const obj = decodeJsonObject(payload, "resume answer");
  if ("resume" in obj) {
    const offset = obj.resume;
    if (!checkSize(offset) || offset > size) {
      throw new FileProtocolError(
        `Invalid resume answer: "resume" must be an integer from 0 to ${size}, got ${
          JSON.stringify(offset) ?? "nothing"
        }`,
      );
    }
    return { type: "resume", offset };
  }
  if (obj.ok === false) {
    const ack = decodeAck(payload);
    return { type: "refused", error: ack.ok ? "" : ack.error };
  }
  throw new FileProtocolError(
    `Invalid resume answer: expected {"resume": OFFSET} or {"ok": false, "error": …}`,
  );
}

/**
 * The deterministic name of a resumable partial file, `.NAME.netlab-partial-<16 hex>` (the first
 * 16 hex digits of the SHA-256), so a rerun for the same file finds it. A long NAME is shortened
 * (whole characters) to keep the result within 255 UTF-8 bytes.
 */
export function resumablePartialName(name: string, sha256: string): string {
  const suffix = `.netlab-partial-${sha256.toLowerCase().slice(0, 16)}`;
  const room = MAX_NAME_BYTES - 1 - suffix.length;
  let kept = "";
  let bytes = 0;
  for (const char of name) {
    const size = encoder.encode(char).length;
    if (bytes + size > room) break;
    kept += char;
    bytes += size;
  }
  return `.${kept}${suffix}`;
}

/** Decodes and validates an ack frame payload. */
export function decodeAck(payload: Uint8Array): Ack {
  const obj = decodeJsonObject(payload, "ack");
  if (obj.ok === true) {
    if (typeof obj.sha256 !== "string" || !SHA256_HEX.test(obj.sha256)) {
      throw new FileProtocolError(`Invalid ack frame: "sha256" must be 64 hex digits`);
    }
    return { ok: true, sha256: obj.sha256.toLowerCase() };
  }
  if (obj.ok === false) {
    if (typeof obj.error !== "string") {
      throw new FileProtocolError(`Invalid ack frame: "error" must be a string`);
    }
    return { ok: false, error: obj.error };
  }
  throw new FileProtocolError(`Invalid ack frame: "ok" must be true or false`);
}

// ---------------------------------------------------------------------------------------------
// Seed 003's own protocol, kept only to talk to the tutorial's Python programs.

/** Seed 003's end marker: a read that equals these two bytes ends the file. */
export const SEED_END_MARKER = encoder.encode("##");

/** Seed 003's chunk size for both `f.read(1024)` and `recv(1024)`. */
export const SEED_CHUNK_SIZE = 1024;

/** Seed 003's acknowledgement text. */
export const SEED_ACK = "接收完成";

/** The warning both programs print in `--seed-protocol` mode. */
export const SEED_PROTOCOL_WARNING =
  'warning: --seed-protocol cannot tell a chunk that is exactly "##" from the end marker, ' +
  "and relies on sleep(0.1) for boundaries: files may be cut short or corrupted";

/** True when a read of exactly these bytes is seed 003's end marker. */
export function isSeedEndMarker(chunk: Uint8Array): boolean {
  return chunk.length === 2 && chunk[0] === SEED_END_MARKER[0] && chunk[1] === SEED_END_MARKER[1];
}

/**
 * True when the first bytes from a peer are a header frame of this format — a 4-byte length
 * within the frame cap, then `{` — not a seed 003 file name: a seed receiver met a framed sender.
 */
export function looksLikeFramedHeader(first: Uint8Array): boolean {
  if (first.length < 5 || first[4] !== 0x7b) return false;
  const length = new DataView(first.buffer, first.byteOffset, 4).getUint32(0);
  return length >= 2 && length <= MAX_HEADER_FRAME_SIZE;
}

/**
 * True when a frame's 4 length bytes are printable ASCII (`phot` of `photo.jpg`): a framed
 * receiver is reading a seed 003 sender's bare file name as a length.
 */
export function looksLikeSeedFileName(prefix: Uint8Array): boolean {
  return prefix.length >= 4 && prefix.subarray(0, 4).every((b) => b >= 0x20 && b < 0x7f);
}

/** What a seed receiver says to a framed sender, and a framed receiver to a seed sender. */
export const FRAMED_SENDER_HINT =
  "the sender speaks netlab's framed protocol: drop --seed-protocol";
export const SEED_SENDER_HINT =
  "the sender seems to speak seed 003's protocol (it began with text, not a frame length): " +
  "add --seed-protocol";

// ---------------------------------------------------------------------------------------------
// The annotated view of a frame (`--explain`).

const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

/** One top-level member of a JSON object: the bytes from its key to its value's end. */
interface JsonMember {
  key: string;
  start: number;
  end: number;
  value: unknown;
}

/**
 * Finds the top-level members of the JSON object in `text` (byte offsets into `bytes`), or
 * `undefined` if it is not one well-formed object. Structural characters are ASCII, so scanning
 * bytes is exact even with multi-byte UTF-8 inside strings.
 */
function scanJsonObject(bytes: Uint8Array): JsonMember[] | undefined {
  let at = 0;
  const skipSpace = () => {
    while (at < bytes.length && WHITESPACE.has(bytes[at])) at++;
  };
  const skipString = (): boolean => {
    if (bytes[at] !== 0x22) return false;
    for (at++; at < bytes.length; at++) {
      if (bytes[at] === 0x5c) at++;
      else if (bytes[at] === 0x22) {
        at++;
        return true;
      }
    }
    return false;
  };
  // A value ends at the first `,` or `}` outside strings and nested brackets.
  const skipValue = (): boolean => {
    let depth = 0;
    while (at < bytes.length) {
      const b = bytes[at];
      if (b === 0x22) {
        if (!skipString()) return false;
        continue;
      }
      if (depth === 0 && (b === 0x2c || b === 0x7d)) return true;
      if (b === 0x7b || b === 0x5b) depth++;
      else if (b === 0x7d || b === 0x5d) depth--;
      at++;
    }
    return false;
  };
  const text = (from: number, to: number) => strictDecoder.decode(bytes.subarray(from, to));
  try {
    const members: JsonMember[] = [];
    skipSpace();
    if (bytes[at] !== 0x7b) return undefined;
    at++;
    skipSpace();
    if (bytes[at] === 0x7d) return members;
    while (at < bytes.length) {
      skipSpace();
      const start = at;
      if (!skipString()) return undefined;
      const key = JSON.parse(text(start, at));
      skipSpace();
      if (bytes[at] !== 0x3a) return undefined;
      at++;
      skipSpace();
      const valueStart = at;
      if (!skipValue()) return undefined;
      let valueEnd = at;
      while (valueEnd > valueStart && WHITESPACE.has(bytes[valueEnd - 1])) valueEnd--;
      members.push({ key, start, end: valueEnd, value: JSON.parse(text(valueStart, valueEnd)) });
      skipSpace();
      if (bytes[at] === 0x2c) {
        at++;
        continue;
      }
      if (bytes[at] === 0x7d) return members;
      return undefined;
    }
  } catch {
    // Invalid UTF-8 or JSON: described as one opaque payload.
  }
  return undefined;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** What a frame is, judged by its keys (the same rules the decoders apply). */
function frameKind(members: JsonMember[]): string {
  const value = (key: string) => members.find((m) => m.key === key)?.value;
  if (value("end") === true) return "end of files: the sender has no more files";
  if (typeof value("name") === "string") {
    return value("resume") === true
      ? "file header: a file follows once the receiver answers the resume offer"
      : "file header: the file's raw bytes follow";
  }
  if (value("ok") === true) return "ack: the file arrived intact and got its name";
  if (value("ok") === false) return "ack: the receiver refused the file";
  if (typeof value("resume") === "number") return "resume answer: where the body should start";
  return "unknown frame";
}

/** What one member means, for the right-hand column. */
function memberMeaning(member: JsonMember, members: JsonMember[]): string {
  const { key, value } = member;
  const shown = JSON.stringify(value);
  const isHeader = members.some((m) => m.key === "name");
  switch (key) {
    case "name":
      return typeof value === "string"
        ? `${quoteName(value)}: saved under this name if it is one safe path component`
        : `${shown}: not a string`;
    case "size":
      return typeof value === "number"
        ? `${plural(value, "byte")} of raw file data follow this frame`
        : `${shown}: not a number`;
    case "sha256": {
      const digest = typeof value === "string" ? `${value.slice(0, 12)}…` : shown;
      return isHeader
        ? `${digest}: the whole file's SHA-256, checked before the file gets its name`
        : `${digest}: the SHA-256 the receiver computed over the whole file`;
    }
    case "resume":
      if (isHeader) {
        return value === true
          ? `true: the sender waits for {"resume": OFFSET} and sends from OFFSET`
          : `${shown}: no resume`;
      }
      return typeof value === "number"
        ? `${value}: the receiver already holds ${
          plural(value, "byte")
        }; send the rest from offset ${value}`
        : `${shown}: not a number`;
    case "end":
      return `${shown}: no more files, the session ends`;
    case "ok":
      return value === true ? "true: verified (size and SHA-256) and saved" : `${shown}: refused`;
    case "error":
      return typeof value === "string" ? quoteName(value) : shown;
    default:
      return `${shown.length > 40 ? `${shown.slice(0, 40)}…` : shown}: unknown key, ignored`;
  }
}

/**
 * Describes one header, ack or resume frame (4-byte length prefix + JSON) for
 * `explainBytes`: the prefix, then the JSON object with one row per member (each row's bytes run
 * up to the next member, so braces and commas are shown too). Never throws: a payload that is
 * not a JSON object is one `JSON` row.
 */
export function describeFrame(frame: Uint8Array): ExplainField[] {
  const fields: ExplainField[] = [];
  if (frame.length < 4) {
    return [{ offset: 0, length: frame.length, name: "(truncated)", value: "less than a prefix" }];
  }
  const length = new DataView(frame.buffer, frame.byteOffset, 4).getUint32(0);
  fields.push({
    offset: 0,
    length: 4,
    name: "length",
    value: `${length}: a JSON frame of ${plural(length, "byte")} follows (big-endian, at most ${
      MAX_HEADER_FRAME_SIZE / 1024
    } KiB)`,
  });
  const payload = frame.subarray(4, 4 + length);
  const members = scanJsonObject(payload);
  if (!members || members.length === 0) {
    fields.push({
      offset: 4,
      length: payload.length,
      name: "JSON",
      value: members ? "{}: an empty object" : "not a JSON object",
    });
    return fields;
  }
  fields.push({ offset: 4, length: payload.length, name: "JSON", value: frameKind(members) });
  members.forEach((member, i) => {
    const from = i === 0 ? 0 : member.start;
    const to = i + 1 < members.length ? members[i + 1].start : payload.length;
    fields.push({
      offset: 4 + from,
      length: to - from,
      name: JSON.stringify(member.key),
      value: memberMeaning(member, members),
      depth: 1,
    });
  });
  return fields;
}
