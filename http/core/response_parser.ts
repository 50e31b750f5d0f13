/**
 * The response side of the parser: the status line, 1xx responses, and the framing rules that
 * depend on the request (HEAD, CONNECT) — how a client reads what a server sent.
 */
import {
  type BodyKind,
  HttpError,
  type HttpEvent,
  type HttpVersion,
  type InformationalHead,
  type ResponseHead,
} from "./events.ts";
import { isPersistent, parseContentLength, parseTransferCodings } from "./framing.ts";
import { getHeaderValues } from "./headers.ts";
import {
  MAX_HEADER_SECTION_BYTES,
  MessageParser,
  type ParserOptions,
  type Section,
} from "./parser.ts";
import { latin1, SP, VALUE_CHAR } from "./syntax.ts";

export interface ResponseParserOptions extends ParserOptions {
  /** Return 1xx responses as `informational` events instead of skipping them silently. */
  emitInformational?: boolean;
}

/**
 * Parses responses on a client connection. Tell it each request's method with `expect(method)`
 * before the response arrives (HEAD and CONNECT change whether a body follows); without a call
 * it assumes GET.
 */
export class ResponseParser extends MessageParser<ResponseHead> {
  protected readonly errorStatus = 502;
  private readonly methods: string[] = [];
  private readonly emitInformational: boolean;

  constructor(options: ResponseParserOptions = {}) {
    // As a client, take what real servers send (a long Content-Security-Policy, a big cookie):
    // one field line may fill the whole section, as curl allows 100 KB.
    super(options, Infinity, MAX_HEADER_SECTION_BYTES);
    this.emitInformational = options.emitInformational ?? false;
  }

  /** Queues the method of a request whose response will be parsed next. */
  expect(method: string): void {
    this.methods.push(method);
  }

  /** Like `RequestParser.next`; 1xx heads are skipped unless `emitInformational` is set. */
  override next(): HttpEvent<ResponseHead> | InformationalHead | null {
    while (true) {
      const event = super.next();
      if (event?.kind !== "informational" || this.emitInformational) return event;
    }
  }

  protected parseHead(section: Section): ResponseHead | InformationalHead {
    const buf = this.buf;
    const start = section.lineStarts[0];
    const end = section.lineEnds[0];
    const badLine = () =>
      new HttpError(
        `Malformed status line "${latin1(buf, start, Math.min(end, start + 60))}"`,
        502,
      );
    if (end - start < 12 || buf[start + 8] !== SP) throw badLine();
    const versionText = this.parseVersion(start, start + 8);
    if (versionText === null) throw badLine();
    let status = 0;
    for (let at = start + 9; at < start + 12; at++) {
      if (buf[at] < 0x30 || buf[at] > 0x39) throw badLine();
      status = status * 10 + buf[at] - 0x30;
    }
    if (status < 100) throw badLine();
    // A missing SP before an empty reason phrase is tolerated (RFC 9112 §4).
    if (end > start + 12 && buf[start + 12] !== SP) throw badLine();
    for (let at = start + 13; at < end; at++) if (!VALUE_CHAR[buf[at]]) throw badLine();
    const reason = end > start + 13 ? latin1(buf, start + 13, end) : "";
    const fieldNames: string[] = [];
    const headers = this.parseFields(section, 1, fieldNames);
    if (versionText !== "1.1" && versionText !== "1.0") {
      throw new HttpError(`HTTP version "${versionText}" is not supported`, 502);
    }
    const version = versionText as HttpVersion;

    if (status < 200 && status !== 101) {
      // 1xx: an interim response (100 Continue, 103 Early Hints); the real one follows.
      return { kind: "informational", status, reason, headers };
    }
    const requestMethod = this.methods.shift() ?? "GET";
    let keepAlive = isPersistent(version, headers);
    let bodyKind: BodyKind = "none";
    let contentLength = -1;
    const teValues = getHeaderValues(headers, "transfer-encoding");
    const clValues = getHeaderValues(headers, "content-length");
    if (status === 101 || (requestMethod === "CONNECT" && status < 300)) {
      keepAlive = false; // The connection now speaks another protocol (or is a tunnel).
    } else if (requestMethod === "HEAD" || status === 204 || status === 304) {
      // No body, whatever the fields say; Content-Length describes the GET answer.
      if (clValues.length) contentLength = parseContentLength(clValues, this.errorStatus);
    } else if (teValues.length > 0) {
      if (clValues.length > 0) {
        throw new HttpError("Transfer-Encoding together with Content-Length", 502);
      }
      const codings = parseTransferCodings(teValues, this.errorStatus);
      if (codings[codings.length - 1] === "chunked") {
        if (codings.length > 1) {
          throw new HttpError(`Transfer-Encoding "${teValues.join(", ")}" is not supported`, 502);
        }
        bodyKind = "chunked";
      } else {
        bodyKind = "close";
        keepAlive = false;
      }
    } else if (clValues.length > 0) {
      contentLength = parseContentLength(clValues, this.errorStatus);
      if (contentLength > this.maxBodyBytes) throw this.tooLarge();
      bodyKind = contentLength > 0 ? "length" : "none";
    } else {
      bodyKind = "close";
      keepAlive = false;
    }
    return {
      kind: "response",
      status,
      reason,
      version,
      headers,
      keepAlive,
      bodyKind,
      contentLength,
      headBytes: section.end - start,
      requestMethod,
      fieldNames,
    };
  }
}
