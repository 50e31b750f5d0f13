/**
 * Writing HTTP/1.1 messages: heads validated field by field (no header injection, nothing the
 * parser would read back differently), whole messages with their Content-Length, chunks.
 */
import type { HeaderList, HttpVersion } from "./events.ts";
import { reasonPhrase } from "./status.ts";
import {
  CR,
  EMPTY,
  encodeLatin1,
  isFieldValue,
  isOws,
  isToken,
  LF,
  quoted,
  TARGET_CHAR,
} from "./syntax.ts";

/** Header fields for the serializer: a list (order kept) or a record. */
export type HeaderInit = HeaderList | Record<string, string | number>;

/**
 * `Name: value\r\n` lines, validated: no header injection through CR/LF/NUL, and no leading or
 * trailing whitespace in a value — a parser drops it (it is OWS), so the message read back would
 * not be the one written.
 */
export function formatFields(headers: HeaderInit): string {
  let out = "";
  const entries = Array.isArray(headers) ? headers : Object.entries(headers);
  for (const [name, raw] of entries) {
    const value = String(raw);
    if (!isToken(name)) throw new TypeError(`Invalid header name ${quoted(name)}`);
    if (!isFieldValue(value)) {
      throw new TypeError(`Invalid value for header "${name}": control characters are not allowed`);
    }
    if (value !== "" && (isOws(value.charCodeAt(0)) || isOws(value.charCodeAt(value.length - 1)))) {
      throw new TypeError(
        `Invalid value for header "${name}": leading or trailing whitespace would be lost`,
      );
    }
    out += `${name}: ${value}\r\n`;
  }
  return out;
}

/** A request head as text: `GET /index.html HTTP/1.1` CRLF, fields, CRLF (never seed 003's typo). */
export function formatRequestHead(
  method: string,
  target: string,
  headers: HeaderInit = [],
  version: HttpVersion = "1.1",
): string {
  if (!isToken(method)) throw new TypeError(`Invalid method ${quoted(method)}`);
  let valid = target.length > 0;
  for (let i = 0; valid && i < target.length; i++) {
    const c = target.charCodeAt(i);
    valid = c < 0x80 && TARGET_CHAR[c] === 1;
  }
  if (!valid) {
    throw new TypeError(
      `Invalid request target ${quoted(target)}: expected visible ASCII, no spaces, no fragment`,
    );
  }
  return `${method} ${target} HTTP/${version}\r\n${formatFields(headers)}\r\n`;
}

/** A response head as text: `HTTP/1.1 200 OK` CRLF, fields, CRLF (never seed 003's `20 OK`). */
export function formatResponseHead(
  status: number,
  headers: HeaderInit = [],
  { reason = reasonPhrase(status), version = "1.1" }: { reason?: string; version?: HttpVersion } =
    {},
): string {
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    throw new RangeError(`Invalid status code "${status}": expected 100 to 599`);
  }
  if (!isFieldValue(reason)) throw new TypeError(`Invalid reason phrase "${reason}"`);
  return `HTTP/${version} ${status} ${reason}\r\n${formatFields(headers)}\r\n`;
}

/** An outgoing request for `serializeRequest`. */
export interface OutgoingRequest {
  method: string;
  target: string;
  headers?: HeaderInit;
  version?: HttpVersion;
  /** Sent with a Content-Length (added unless the headers already frame the body). */
  body?: Uint8Array | string;
}

/** An outgoing response for `serializeResponse`. */
export interface OutgoingResponse {
  status: number;
  reason?: string;
  headers?: HeaderInit;
  version?: HttpVersion;
  body?: Uint8Array | string;
}

const textEncoder = new TextEncoder();

function bodyBytes(body: Uint8Array | string | undefined): Uint8Array | undefined {
  return typeof body === "string" ? textEncoder.encode(body) : body;
}

function withLength(headers: HeaderInit, body: Uint8Array | undefined): HeaderList {
  const list: HeaderList = Array.isArray(headers)
    ? [...headers]
    : Object.entries(headers).map(([n, v]) => [n, String(v)]);
  if (body !== undefined) {
    const framed = list.some(([n]) => {
      const lower = n.toLowerCase();
      return lower === "content-length" || lower === "transfer-encoding";
    });
    if (!framed) list.push(["Content-Length", String(body.length)]);
  }
  return list;
}

/** Joins a head and an optional body into one buffer (one `write`). */
export function joinHeadAndBody(head: string, body?: Uint8Array): Uint8Array {
  const out = new Uint8Array(head.length + (body?.length ?? 0));
  if (ASCII_ONLY.test(head)) {
    textEncoder.encodeInto(head, out); // Native and exact for ASCII.
  } else {
    out.set(encodeLatin1(head));
  }
  if (body) out.set(body, head.length);
  return out;
}

const ASCII_ONLY = /^[^\u0080-\uffff]*$/;

/** A whole request as bytes; a body gets a Content-Length unless the headers frame it. */
export function serializeRequest(request: OutgoingRequest): Uint8Array {
  const body = bodyBytes(request.body);
  const head = formatRequestHead(
    request.method,
    request.target,
    withLength(request.headers ?? [], body),
    request.version,
  );
  return joinHeadAndBody(head, body);
}

/** A whole response as bytes; a body gets a Content-Length unless the headers frame it. */
export function serializeResponse(response: OutgoingResponse): Uint8Array {
  const body = bodyBytes(response.body);
  const head = formatResponseHead(response.status, withLength(response.headers ?? [], body), {
    reason: response.reason,
    version: response.version,
  });
  return joinHeadAndBody(head, body);
}

/** One chunk of a chunked body (`size CRLF data CRLF`); empty data yields nothing. */
export function encodeChunk(data: Uint8Array): Uint8Array {
  if (data.length === 0) return EMPTY;
  const size = data.length.toString(16);
  const out = new Uint8Array(size.length + 2 + data.length + 2);
  for (let i = 0; i < size.length; i++) out[i] = size.charCodeAt(i);
  out[size.length] = CR;
  out[size.length + 1] = LF;
  out.set(data, size.length + 2);
  out[out.length - 2] = CR;
  out[out.length - 1] = LF;
  return out;
}

/** The last chunk (`0 CRLF`), optional trailer fields, and the final CRLF. */
export function encodeLastChunk(trailers: HeaderInit = []): Uint8Array {
  return encodeLatin1(`0\r\n${formatFields(trailers)}\r\n`);
}
