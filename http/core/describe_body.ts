/**
 * The body of a message as `--explain` shows it (describe.ts): Content-Length bytes with a
 * preview, each chunk's hex size line with its decoded size, the last chunk and the trailers, or
 * the bytes up to the close.
 */
import { CR, latin1, LF } from "./syntax.ts";
import { MAX_CHUNK_LINE_BYTES } from "./parser.ts";
import { plural } from "./describe_meaning.ts";
import {
  bodyPreview,
  describeFields,
  fail,
  type HttpDescription,
  incompleteOrBad,
  lineEnd,
  notCaptured,
  preview,
  type Walk,
} from "./describe_walk.ts";

/** Chunks described one by one; the rest of a long chunked body is summarised. */
export const MAX_DESCRIBED_CHUNKS = 64;

/** The body after the head, by its framing. */
export function describeBody(walk: Walk, result: HttpDescription): void {
  const { bytes, fields } = walk;
  const available = bytes.length - walk.pos;
  switch (result.bodyKind) {
    case "none":
      result.end = walk.pos;
      break;
    case "length": {
      const length = result.contentLength;
      const present = Math.min(length, available);
      fields.push({
        offset: walk.pos,
        length: present,
        name: "body",
        value: `${plural(length, "byte")} (Content-Length): ${
          bodyPreview(bytes.subarray(walk.pos, walk.pos + present))
        }`,
      });
      walk.pos += present;
      if (present < length) {
        if (walk.partial) notCaptured(walk, `${length - present} more body bytes`);
        else result.error = fail(walk, `Body incomplete: ${present} of ${length} bytes`);
        return;
      }
      result.end = walk.pos;
      break;
    }
    case "close":
      fields.push({
        offset: walk.pos,
        length: available,
        name: "body",
        value: `${plural(available, "byte")} (until the connection closed): ${
          bodyPreview(bytes.subarray(walk.pos))
        }`,
      });
      walk.pos = bytes.length;
      result.end = walk.pos;
      return;
    case "chunked":
      if (!describeChunks(walk, result)) return;
      result.end = walk.pos;
      break;
    default:
      return;
  }
  if (walk.pos < bytes.length) {
    fields.push({
      offset: walk.pos,
      length: bytes.length - walk.pos,
      name: "(after the message)",
      value: result.keepAlive
        ? `${plural(bytes.length - walk.pos, "byte")}: the next (pipelined) message`
        : `${plural(bytes.length - walk.pos, "byte")} the peer should not have sent`,
    });
  }
}

/** Each chunk: size line (hex) with its decoded size, data, CRLF; last chunk; trailers. */
function describeChunks(walk: Walk, result: HttpDescription): boolean {
  const { bytes, fields } = walk;
  let total = 0;
  for (let index = 1;; index++) {
    if (index > MAX_DESCRIBED_CHUNKS) {
      fields.push({
        offset: walk.pos,
        length: bytes.length - walk.pos,
        name: "(more chunks)",
        value: `${plural(bytes.length - walk.pos, "byte")} of further chunks, not described`,
      });
      walk.pos = bytes.length;
      return false;
    }
    const start = walk.pos;
    if (start >= bytes.length && walk.partial) {
      notCaptured(walk, `the rest of the chunked body (${plural(total, "byte")} so far)`);
      return false;
    }
    const end = lineEnd(walk, MAX_CHUNK_LINE_BYTES);
    if (typeof end !== "number") {
      result.error = incompleteOrBad(walk, end, "chunk-size line");
      return false;
    }
    const line = latin1(bytes, start, end);
    const match = /^([0-9a-fA-F]{1,12})[ \t]*(;.*)?$/.exec(line);
    if (!match) {
      result.error = fail(
        walk,
        `Invalid chunk size ${preview(line, 40)}: expected 1 to 12 hex digits`,
      );
      return false;
    }
    const size = parseInt(match[1], 16);
    const extension = match[2] ? ` with extension ${preview(match[2], 30)}` : "";
    if (size === 0) {
      fields.push({
        offset: start,
        length: end + 2 - start,
        name: "last chunk",
        value: `"${match[1]}" = size 0${extension}: no more data; trailer fields may follow`,
      });
      walk.pos = end + 2;
      const trailers = describeFields(walk, result, "trailer");
      if (!trailers) return false;
      fields.push({
        offset: walk.pos - 2,
        length: 2,
        name: "blank line",
        value: `end of the chunked body (${plural(total, "byte")} in ${
          plural(index - 1, "chunk")
        }) and of the message`,
      });
      return true;
    }
    const dataStart = end + 2;
    const present = Math.min(size, bytes.length - dataStart);
    const complete = present === size && bytes.length >= dataStart + size + 2;
    fields.push({
      offset: start,
      length: (complete ? dataStart + size + 2 : dataStart + present) - start,
      name: `chunk ${index}`,
      value: `${plural(size, "byte")}`,
    });
    fields.push({
      offset: start,
      length: end + 2 - start,
      name: "size line",
      value: `"${match[1]}" hex = ${plural(size, "byte")} of data follow${extension}`,
      depth: 1,
    });
    fields.push({
      offset: dataStart,
      length: present,
      name: "data",
      value: bodyPreview(bytes.subarray(dataStart, dataStart + present)),
      depth: 1,
    });
    walk.pos = dataStart + present;
    total += present;
    if (present < size) {
      if (walk.partial) notCaptured(walk, `${size - present} more bytes of chunk ${index}`);
      else result.error = fail(walk, `Chunk ${index} incomplete: ${present} of ${size} bytes`);
      return false;
    }
    if (bytes.length < walk.pos + 2) {
      if (walk.partial && (bytes.length === walk.pos || bytes[walk.pos] === CR)) {
        notCaptured(walk, `the CRLF after chunk ${index}`);
      } else {
        result.error = fail(walk, `Chunk ${index} is not followed by CRLF`);
      }
      return false;
    }
    if (bytes[walk.pos] !== CR || bytes[walk.pos + 1] !== LF) {
      result.error = fail(walk, "Chunk data is not followed by CRLF");
      return false;
    }
    fields.push({ offset: walk.pos, length: 2, name: "CRLF", value: "end of the chunk", depth: 1 });
    walk.pos += 2;
  }
}
