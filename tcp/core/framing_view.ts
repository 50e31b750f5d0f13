/**
 * How the framing code describes its own frames for `--explain`: the fields of a length-prefixed
 * or an end-marker frame, laid out by tcp/kit/explain.ts `explainBytes` (the 粘包 lesson and the
 * lab show each frame this way).
 */
import { describeBytes, type ExplainField } from "../kit/explain.ts";
import {
  delimiterBytes,
  indexOfDelimiter,
  type LengthPrefixOptions,
  prefixSettings,
  readLength,
} from "./framing.ts";

/**
 * The fields of one length-prefixed frame (prefix, then payload) for `--explain`
 * (tcp/explain.ts `explainBytes` lays them out); a frame shorter than its prefix announces is
 * described as far as it goes.
 */
export function describeLengthPrefixed(
  frame: Uint8Array,
  options?: LengthPrefixOptions,
): ExplainField[] {
  const { prefixBytes } = prefixSettings(options);
  if (frame.length < prefixBytes) return [];
  const length = readLength(frame, 0, prefixBytes);
  const payload = frame.subarray(prefixBytes, prefixBytes + length);
  return [
    {
      offset: 0,
      length: prefixBytes,
      name: "length",
      value: `${length}: the payload's size, ${prefixBytes} bytes big-endian`,
    },
    {
      offset: prefixBytes,
      length: payload.length,
      name: "payload",
      value: `${describeBytes(payload, { maxBytes: 48 })}${
        payload.length < length ? ` (${payload.length} of ${length} bytes)` : ""
      }`,
    },
  ];
}

/**
 * The fields of one end-marker frame as its writer made it: the payload, then the delimiter at
 * the end. A delimiter inside the payload is pointed out: the reader will cut the frame there.
 */
export function describeDelimited(
  frame: Uint8Array,
  delimiter: Uint8Array | string,
): ExplainField[] {
  const marker = delimiterBytes(delimiter);
  const end = frame.length - marker.length;
  const endsWithMarker = end >= 0 && marker.every((b, i) => frame[end + i] === b);
  const payloadEnd = endsWithMarker ? end : frame.length;
  const payload = frame.subarray(0, payloadEnd);
  const early = indexOfDelimiter(frame, marker);
  const fields: ExplainField[] = [{
    offset: 0,
    length: payloadEnd,
    name: "payload",
    value: `${describeBytes(payload, { maxBytes: 48 })}${
      early >= 0 && early < payloadEnd
        ? ` — holds the delimiter at offset ${early}: the reader cuts the frame there`
        : ""
    }`,
  }];
  if (endsWithMarker) {
    fields.push({
      offset: end,
      length: marker.length,
      name: "delimiter",
      value: `${describeBytes(marker)}: the end of the message`,
    });
  }
  return fields;
}
