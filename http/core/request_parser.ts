/**
 * The request side of the parser: the request line (method, target, version), Host, framing,
 * Expect and Upgrade — everything that decides how a server reads what a client sent.
 */
import {
  type BodyKind,
  HttpError,
  type HttpEvent,
  type HttpVersion,
  type RequestHead,
} from "./events.ts";
import { isPersistent, parseContentLength, parseTransferCodings } from "./framing.ts";
import { hostProblem, listItems } from "./headers.ts";
import {
  DEFAULT_MAX_BODY_BYTES,
  KNOWN_METHODS,
  LONGEST_METHOD,
  MAX_FIELD_LINE_BYTES,
  MessageParser,
  type ParserOptions,
  type Section,
} from "./parser.ts";
import {
  COMMON_METHODS,
  HASH,
  isToken,
  latin1,
  quoted,
  SP,
  TARGET_CHAR,
  TOKEN_CHAR,
} from "./syntax.ts";

/** Parses requests on a server connection (pipelined requests one after another). */
export class RequestParser extends MessageParser<RequestHead> {
  protected readonly errorStatus = 400;

  constructor(options: ParserOptions = {}) {
    super(options, DEFAULT_MAX_BODY_BYTES, MAX_FIELD_LINE_BYTES);
  }

  /** The next event, or `null` when more bytes are needed. Throws `HttpError` on bad input. */
  override next(): HttpEvent<RequestHead> | null {
    return super.next() as HttpEvent<RequestHead> | null;
  }

  /** The last Host value found valid (a connection repeats it; checking again is skipped). */
  private validHost: string | undefined;

  protected parseHead(section: Section): RequestHead {
    const buf = this.buf;
    const start = section.lineStarts[0];
    const end = section.lineEnds[0];
    const sp1 = buf.indexOf(SP, start);
    if (sp1 < 0 || sp1 >= end) throw this.badLine();
    for (let at = start; at < sp1; at++) if (!TOKEN_CHAR[buf[at]]) throw this.badLine();
    if (sp1 === start) throw this.badLine();
    let sp2 = sp1 + 1;
    while (sp2 < end && TARGET_CHAR[buf[sp2]]) sp2++;
    if (sp2 < end && buf[sp2] === HASH) {
      // RFC 9112 §3.2: no request-target form has a fragment; it stays in the browser.
      throw new HttpError("Request target with a fragment (#): the fragment is never sent");
    }
    if (sp2 === sp1 + 1 || sp2 >= end || buf[sp2] !== SP) throw this.badLine();
    const versionText = this.parseVersion(sp2 + 1, end);
    if (versionText === null) throw this.badLine();
    const method = COMMON_METHODS.find(buf, start, sp1, false) ?? latin1(buf, start, sp1);
    const fieldNames = method === "TRACE" ? [] : undefined;
    const headers = this.parseFields(section, 1, fieldNames);
    if (versionText !== "1.1" && versionText !== "1.0") {
      throw new HttpError(`HTTP version "${versionText}" is not supported`, 505, false);
    }
    const version = versionText as HttpVersion;
    if (!KNOWN_METHODS.has(method)) {
      throw new HttpError(`Method ${quoted(method)} is not implemented`, 501, false);
    }
    const target = this.recentLatin1(0, sp1 + 1, sp2);

    // One pass over the fields for everything that decides framing and persistence, and for
    // the fields whose value makes the request invalid. Rare fields cost one comparison each.
    let host: string | undefined;
    let hosts = 0;
    let contentTypes = 0;
    let teValues: string[] | undefined;
    let clValues: string[] | undefined;
    let connection: string | undefined;
    let expect: string | undefined;
    let upgrade: string | undefined;
    let webSocketVersion: string | undefined;
    for (const [name, value] of headers) {
      switch (name) {
        case "host":
          hosts++;
          host = value;
          break;
        case "content-type":
          contentTypes++;
          break;
        case "transfer-encoding":
          (teValues ??= []).push(value);
          break;
        case "content-length":
          (clValues ??= []).push(value);
          break;
        case "connection":
          connection = connection === undefined ? value : `${connection},${value}`;
          break;
        case "expect":
          expect = expect === undefined ? value : `${expect},${value}`;
          break;
        case "upgrade":
          upgrade = upgrade === undefined ? value : `${upgrade},${value}`;
          break;
        case "sec-websocket-version":
          webSocketVersion = webSocketVersion === undefined
            ? value
            : `${webSocketVersion},${value}`;
      }
    }
    if (hosts > 1) throw new HttpError("More than one Host header");
    if (host === undefined) {
      if (version === "1.1") throw new HttpError("HTTP/1.1 request without a Host header");
    } else if (host !== this.validHost) {
      const problem = hostProblem(host);
      if (problem) throw new HttpError(`Invalid Host ${quoted(host)}: ${problem}`);
      this.validHost = host;
    }
    // A singleton field sent twice: which one counts is anybody's guess (RFC 9110 §5.3).
    if (contentTypes > 1) throw new HttpError("More than one Content-Type header");

    let bodyKind: BodyKind = "none";
    let contentLength = -1;
    if (teValues) {
      if (clValues) {
        throw new HttpError("Transfer-Encoding together with Content-Length (request smuggling)");
      }
      if (version === "1.0") throw new HttpError("Transfer-Encoding in an HTTP/1.0 request");
      const codings = parseTransferCodings(teValues, this.errorStatus);
      if (codings[codings.length - 1] !== "chunked") {
        throw new HttpError(
          `Transfer-Encoding ${quoted(teValues.join(", "))} does not end in chunked`,
        );
      }
      if (codings.indexOf("chunked") < codings.length - 1) {
        throw new HttpError(`Transfer-Encoding ${quoted(teValues.join(", "))}: chunked twice`);
      }
      if (codings.length > 1) {
        throw new HttpError(
          `Transfer-Encoding ${quoted(teValues.join(", "))} is not implemented`,
          501,
          false,
        );
      }
      bodyKind = "chunked";
    } else if (clValues) {
      contentLength = parseContentLength(clValues, this.errorStatus);
      if (contentLength > this.maxBodyBytes) throw this.tooLarge();
      bodyKind = contentLength > 0 ? "length" : "none";
    }
    let expectContinue = false;
    if (expect !== undefined) {
      // RFC 9110 §10.1.1: 100-continue is the only expectation there is; others cannot be met.
      for (const item of listItems(expect)) {
        if (item.toLowerCase() !== "100-continue") {
          throw new HttpError(`Expectation ${quoted(item)} cannot be met`, 417, false);
        }
        expectContinue = version === "1.1" && bodyKind !== "none";
      }
    }
    if (upgrade !== undefined) this.checkUpgrade(upgrade, webSocketVersion);
    const keepAlive = connection === undefined
      ? version === "1.1"
      : isPersistent(version, [["connection", connection]]);
    return {
      kind: "request",
      method,
      target,
      version,
      headers,
      keepAlive,
      bodyKind,
      contentLength,
      headBytes: section.end - start,
      expectContinue,
      fieldNames,
    };
  }

  /**
   * Upgrade (RFC 9110 §7.8). This parser switches to no other protocol, and a server using it
   * ignores a valid Upgrade, as §7.8 allows ("A server MAY ignore a received Upgrade header
   * field"), answering in HTTP/1.1. An invalid one is refused with 400 like any invalid field:
   * a value that is not a list of `protocol-name ["/" protocol-version]` tokens, or a WebSocket
   * handshake whose Sec-WebSocket-Version is not 13, the only version there is (RFC 6455
   * §4.1; §4.2.1 asks for 400 when a handshake breaks the rules). A 426 listing supported
   * versions (§4.4) would claim a WebSocket support we do not have.
   */
  private checkUpgrade(upgrade: string, webSocketVersion: string | undefined): void {
    let webSocket = false;
    for (const item of listItems(upgrade)) {
      const slash = item.indexOf("/");
      const name = slash < 0 ? item : item.slice(0, slash);
      if (!isToken(name) || (slash >= 0 && !isToken(item.slice(slash + 1)))) {
        throw new HttpError(
          `Invalid Upgrade ${quoted(upgrade)}: expected protocol names with an optional /version`,
        );
      }
      if (name.toLowerCase() === "websocket") webSocket = true;
    }
    if (webSocket && webSocketVersion?.trim() !== "13") {
      throw new HttpError(
        `Invalid WebSocket handshake: Sec-WebSocket-Version ${
          webSocketVersion === undefined ? "missing" : quoted(webSocketVersion)
        }, and 13 is the only version`,
      );
    }
  }

  /** A request line too long: 414, unless it is the method that never ends (501, or 400). */
  protected override startLineTooLong(lineStart: number): HttpError {
    // No SP within the longest known method's length: the method is unknown, whatever follows.
    const buf = this.buf;
    for (let at = lineStart; at <= lineStart + LONGEST_METHOD; at++) {
      if (buf[at] === SP) {
        return new HttpError(
          `Request line longer than ${this.maxStartLineBytes} bytes`,
          414,
          false,
        );
      }
      if (!TOKEN_CHAR[buf[at]]) return this.badLine();
    }
    return new HttpError(
      `Method ${quoted(latin1(buf, lineStart, lineStart + 20))} is not implemented`,
      501,
      false,
    );
  }

  private badLine(): HttpError {
    return new HttpError("Malformed request line: expected METHOD SP TARGET SP HTTP/x.y");
  }
}

/** Options for the response parser. */
