/**
 * What the parsers hand out (h11's events): a request or response head, body data, the end of a
 * message, the peer closing cleanly — and `HttpError`, the one error a malformed message gives.
 */

/**
 * A message the parser refuses. `status` is the response a server should send (400, 413, 414,
 * 431, 501, 505; 502 for a broken response); `peerFault` says whether the peer broke the protocol
 * (true) or merely went beyond what we accept (false). Either way the connection must close.
 */
export class HttpError extends Error {
  override name = "HttpError";
  constructor(message: string, readonly status = 400, readonly peerFault = true) {
    super(message);
  }
}

/** The two versions spoken here. */
export type HttpVersion = "1.0" | "1.1";

/** Header fields in order, names lower-cased, values as received (latin1, OWS trimmed). */
export type HeaderList = [name: string, value: string][];

/** How a message's body is delimited. */
export type BodyKind = "none" | "length" | "chunked" | "close";

interface HeadCommon {
  version: HttpVersion;
  headers: HeaderList;
  /** Whether the connection stays open after this message (RFC 9112 §9.3). */
  keepAlive: boolean;
  bodyKind: BodyKind;
  /** The Content-Length, or -1 when the body is not length-delimited. */
  contentLength: number;
  /** Bytes the head took on the wire (start line, fields, blank line). */
  headBytes: number;
}

/** A parsed request line and header section. */
export interface RequestHead extends HeadCommon {
  kind: "request";
  method: string;
  target: string;
  /** `Expect: 100-continue` was sent (HTTP/1.1): the client waits before sending the body. */
  expectContinue: boolean;
  /**
   * TRACE only (its echo repeats the request): each field name as the client spelled it, in
   * `headers` order. Other requests skip the copy.
   */
  fieldNames?: string[];
}

/** A parsed status line and header section. */
export interface ResponseHead extends HeadCommon {
  kind: "response";
  status: number;
  reason: string;
  /** The method of the request this answers (it decides whether a body follows). */
  requestMethod: string;
  /** Each field name as the server spelled it, in `headers` order (`headers` are lower-case). */
  fieldNames: string[];
}

/** A 1xx response, reported only with `emitInformational`. */
export interface InformationalHead {
  kind: "informational";
  status: number;
  reason: string;
  headers: HeaderList;
}

/** Body bytes: a view valid until the next `feed()`. */
export interface BodyData {
  kind: "data";
  data: Uint8Array;
}

/** The message is complete; `trailers` holds chunked trailer fields (usually none). */
export interface MessageEnd {
  kind: "end";
  trailers: HeaderList;
}

/** The peer closed the connection cleanly between messages. */
export interface ConnectionClosed {
  kind: "closed";
}

/** What `next()` returns besides `null`. */
export type HttpEvent<Head> = Head | BodyData | MessageEnd | ConnectionClosed;
