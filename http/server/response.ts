/**
 * Every response the server sends is rendered here, in one place: the status line, `Date` and
 * `Server` first, the handler's fields, then what the server adds to every answer (CORS,
 * `X-Netlab-Explain`), the body's framing (Content-Length, or chunked for a streamed body) and
 * `Connection`. Answers to requests that could not be parsed, timed out or came past the
 * connection cap are rendered by `renderError`.
 */
import type { HeaderList, RequestHead } from "../core/events.ts";
import { encodeLatin1 } from "../core/syntax.ts";
import { formatResponseHead, joinHeadAndBody } from "../core/serialize.ts";
import { reasonPhrase } from "../core/status.ts";
import type { FileBody, HttpResponse } from "./types.ts";

const encoder = new TextEncoder();

/** What the server adds to every rendered response (from its options). */
export interface RenderOptions {
  /** `Access-Control-Allow-Origin: *` on every response. */
  cors: boolean;
  /** `X-Netlab-Explain: <why>` on every response. */
  explainHeader: boolean;
}

/** What `renderResponse` produced: the bytes to queue, and a body still to be sent after them. */
export interface Rendered {
  bytes: Uint8Array;
  /** Body bytes this response carries (the access log's size). */
  bodyLength: number;
  file?: FileBody;
  stream?: ReadableStream<Uint8Array>;
  /** A streamed body goes out in HTTP/1.1 chunks (HTTP/1.0: raw, ended by the close). */
  chunked?: boolean;
  /** Where the `Date` value starts in `bytes` (hot_cache.ts rewrites it in place). */
  dateAt: number;
}

/** `HTTP/1.1 100 Continue`: the client may send the body it announced with `Expect`. */
export const CONTINUE = encodeLatin1("HTTP/1.1 100 Continue\r\n\r\n");

let dateSecond = -1;
let dateText = "";
/** The Date header value, recomputed once per second. */
export function httpDate(now = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

/** A plain-text answer: `message` and a newline. */
export function text(status: number, message: string, headers: HeaderList = []): HttpResponse {
  return {
    status,
    headers: [["Content-Type", "text/plain; charset=utf-8"], ...headers],
    body: `${message}\n`,
  };
}

/** `response` with the rule that produced it (what `--explain-header` shows). */
export function because(response: HttpResponse, why: string): HttpResponse {
  response.explain = why;
  return response;
}

/** A header value from text that may hold anything: printable ASCII kept, the rest %-encoded. */
export function fieldSafe(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, (c) => encodeURIComponent(c));
}

/** The status line before `Date: `, for the offset of the date in a rendered response. */
function dateOffset(status: number): number {
  return `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\nDate: `.length;
}

/** Serialises `response` to the request `head` (and an in-memory body) for its connection. */
export function renderResponse(
  head: RequestHead,
  response: HttpResponse,
  keepAlive: boolean,
  options: RenderOptions,
): Rendered {
  const status = response.status;
  let body: Uint8Array | undefined;
  let file: FileBody | undefined;
  let stream: ReadableStream<Uint8Array> | undefined;
  let bodyLength = 0;
  if (typeof response.body === "string") body = encoder.encode(response.body);
  else if (response.body instanceof Uint8Array) body = response.body;
  else if (response.body instanceof ReadableStream) {
    stream = response.body;
    keepAlive = false; // The body ends when the connection does (see body_stream.ts).
  } else if (response.body) file = response.body;
  if (body) bodyLength = body.length;
  if (file) bodyLength = file.end - file.start + 1;
  if (response.bodyLength !== undefined) bodyLength = response.bodyLength;
  const noBody = status === 204 || status === 304 || status < 200;
  let fields = `Date: ${httpDate()}\r\nServer: netlab\r\n`;
  for (const [name, value] of response.headers ?? []) fields += `${name}: ${value}\r\n`;
  if (options.cors) fields += "Access-Control-Allow-Origin: *\r\n";
  if (options.explainHeader) {
    fields += `X-Netlab-Explain: ${fieldSafe(response.explain ?? "a request handler")}\r\n`;
  }
  if (stream) {
    // HTTP/1.0 has no chunks: its body simply ends with the connection.
    if (!noBody && head.version === "1.1") fields += "Transfer-Encoding: chunked\r\n";
  } else if (!noBody) fields += `Content-Length: ${bodyLength}\r\n`;
  if (!keepAlive) fields += "Connection: close\r\n";
  else if (head.version === "1.0") fields += "Connection: keep-alive\r\n";
  const headText = `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n${fields}\r\n`;
  const send = head.method !== "HEAD" && !noBody;
  if (stream && !send) stream.cancel().catch(() => {});
  return {
    bytes: joinHeadAndBody(headText, send ? body : undefined),
    bodyLength: send ? bodyLength : 0,
    file: send ? file : undefined,
    stream: send ? stream : undefined,
    chunked: head.version === "1.1",
    dateAt: dateOffset(status),
  };
}

/**
 * The answer to a request the server will not handle (unparseable, timed out, past the
 * connection cap): a plain-text `body`, and the connection closes after it.
 */
export function renderError(status: number, extra: HeaderList = [], body = ""): Uint8Array {
  return encodeLatin1(
    formatResponseHead(status, [
      ["Date", httpDate()],
      ["Server", "netlab"],
      ...extra,
      ["Content-Type", "text/plain; charset=utf-8"],
      ["Content-Length", String(encoder.encode(body).length)],
      ["Connection", "close"],
    ]) + body,
  );
}
