/**
 * The curl of netlab: fetch one `http://` URL over a raw TCP socket and show every step.
 *
 * Seed 000 says that opening a URL in a browser is (a) the browser's client socket asking a DNS
 * server over UDP to turn the domain name into an IP, then (b) a TCP connection to the web server
 * that downloads the file. This client does exactly that with netlab's own pieces: the URL is
 * taken apart by `http/url.ts`, the name resolved by `dns/resolver.ts` (never the OS resolver),
 * the socket opened with `Deno.connect`, the request written and the response read through
 * `http/core/ (parser, serialize)` (Content-Length, chunked and close-delimited bodies). `-v` prints each step
 * on stderr: URL anatomy → DNS query over UDP → TCP connect → request bytes → status and headers.
 *
 *   deno task http:get http://127.0.0.1:8000/                     # body on stdout
 *   deno task http:get -v http://www.cnblogs.com:8080/ --dns 127.0.0.4:5353
 *   deno task http:get -i -X POST -d 'hello' http://127.0.0.1:8000/echo
 *   deno task http:get -L -o page.html http://127.0.0.1:8000/old
 *   deno task http:get -v --trace-dns --root 127.0.0.2 --dns-port 5353 http://www.cnblogs.com/
 *   deno task http:get --explain -w http://127.0.0.1:8000/     # annotated wire view, timings
 *   deno task http:get --offline -d hi http://127.0.0.1:8000/echo | od -c   # bytes, not sent
 *   deno task http:get --json http://127.0.0.1:8000/          # NDJSON events (README schema)
 *
 * Exit codes follow curl's: 1 unsupported protocol (https), 3 malformed URL, 6 could not resolve
 * host, 7 could not connect, 8 weird server reply, 18 body shorter than announced, 23 cannot
 * write output, 28 timeout, 47 too many redirects, 52 empty reply, 56 receive failure.
 * Compare with `curl -v http://127.0.0.1:8000/`.
 */
import { quoteInput } from "../tcp/core/printable.ts";
import {
  CliError,
  formatAddr,
  formatHostPort,
  interruptSignal,
  parseCli,
  parsePort,
  printError,
  runMain,
  UsageError,
} from "../tcp/kit/cli.ts";
import { type ByteWriter, concatBytes, writeAll } from "../tcp/core/io.ts";
import { createReporter, type Fields, type Reporter, type ReportSink } from "../tcp/kit/report.ts";
import { type BodyKind, HttpError } from "./core/events.ts";
import { ResponseParser } from "./core/response_parser.ts";
import { formatRequestHead, joinHeadAndBody } from "./core/serialize.ts";
import { encodeLatin1, latin1 } from "./core/syntax.ts";
import { explainHttp } from "./core/describe.ts";
import { explainMessage } from "../dns/describe.ts";
import { createProgressBar, type ProgressBar } from "../tcp/kit/progress.ts";
import {
  DnsFormatError,
  formatRecord,
  normalizeName,
  RCODE,
  rcodeName,
  type ResourceRecord,
  TYPE,
  typeName,
} from "../dns/wire/message.ts";
import {
  IterativeResolver,
  type Resolution,
  ResolveError,
  type ResolverEvent,
  StubResolver,
  systemNameserver,
} from "../dns/resolver.ts";
import { DNS_PORT, NoReplyError } from "../dns/transport.ts";
import { describeUrl, type HttpUrl, parseUrl, resolveUrl, UrlError } from "./core/url.ts";

/** curl-compatible exit codes for the failures this client can meet. */
export const EXIT = {
  UNSUPPORTED_PROTOCOL: 1,
  URL_MALFORMED: 3,
  COULDNT_RESOLVE_HOST: 6,
  COULDNT_CONNECT: 7,
  WEIRD_SERVER_REPLY: 8,
  PARTIAL_FILE: 18,
  HTTP_RETURNED_ERROR: 22,
  WRITE_ERROR: 23,
  OPERATION_TIMEDOUT: 28,
  TOO_MANY_REDIRECTS: 47,
  GOT_NOTHING: 52,
  RECV_ERROR: 56,
} as const;

/** How many redirects `-L` follows before giving up (curl's default is 50; browsers use ~20). */
export const MAX_REDIRECTS = 10;
/** Largest body `httpRequest` buffers in memory when no `onBody` sink is given. */
export const MAX_BUFFERED_BODY = 64 * 1024 * 1024;
/** Time allowed for the TCP handshake when no overall `--max-time` is set. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** Time allowed between two reads from the server when no overall `--max-time` is set. */
export const IDLE_TIMEOUT_MS = 60_000;
const USER_AGENT = "netlab-http/1.0";
const READ_SIZE = 64 * 1024;

/** A failure of one request, with the curl exit code that names it. */
export class HttpClientError extends CliError {
  override name = "HttpClientError";
}

/** The DNS server to ask (stub resolution), or root servers to walk down from (iterative). */
export interface DnsOptions {
  /** Stub resolution: a recursive server's address. */
  server?: string;
  /** Port of `server` (or of every server when iterative). Default 53. */
  port?: number;
  /** Resolve iteratively from these root server addresses instead of asking `server`. */
  roots?: string[];
}

/** One step of a request, for `-v` and the demo. */
export type ClientEvent =
  | { type: "url"; url: HttpUrl }
  | { type: "dns"; step: DnsStep }
  | {
    type: "resolved";
    host: string;
    address: string;
    via: "literal" | "localhost" | "dns";
    ms: number;
    server?: string;
  }
  | { type: "connect"; local: Deno.NetAddr; remote: Deno.NetAddr; ms: number }
  | { type: "request"; head: string; bodyBytes: number }
  | { type: "response"; head: ResponseHead }
  | { type: "body"; bytes: number; framing: BodyFraming; timings: Timings }
  | { type: "redirect"; status: number; from: string; to: string; method: string };

/** One DNS step: a stub query and its answer, or a step of iterative resolution. */
export type DnsStep =
  | { kind: "stub-query"; server: string; port: number; name: string; qtype: number }
  | { kind: "stub-answer"; resolution: Resolution }
  | { kind: "iterative"; event: ResolverEvent };

/**
 * When each step of one exchange finished, in milliseconds since the exchange started
 * (cumulative, like curl's `time_namelookup`, `time_connect`, `time_pretransfer`,
 * `time_starttransfer` and `time_total`).
 */
export interface Timings {
  /** The name was resolved (about 0 for IP literals and localhost). */
  dns: number;
  /** The TCP handshake completed. */
  connect: number;
  /** The whole request was written. */
  sent: number;
  /** The first byte of the response arrived. */
  firstByte: number;
  /** The response was complete. */
  total: number;
}

/** How the end of a response body was found. */
export type BodyFraming = "content-length" | "chunked" | "close" | "none";

/** The status line and headers of a response. */
export interface ResponseHead {
  version: string;
  status: number;
  reason: string;
  /** Header fields in wire order (names lower-cased by http/core/ (parser, serialize); --explain shows them raw). */
  headers: [string, string][];
  /** Each field name as the server spelled it, in `headers` order (what `-i` prints). */
  fieldNames?: string[];
}

/** Options for `httpRequest`. */
export interface HttpRequestOptions {
  /** Request method; default GET (POST when `body` is given). */
  method?: string;
  /** Extra header fields; a name given here replaces the default one, `Name:` with no value removes it. */
  headers?: [string, string][];
  body?: Uint8Array | string;
  /** Follow 301/302/303/307/308 (curl `-L`), at most `maxRedirects` times. */
  followRedirects?: boolean;
  maxRedirects?: number;
  /** How to resolve names; names other than `localhost` need it. */
  dns?: DnsOptions;
  /** Overall deadline for the whole transfer (curl `--max-time`), in milliseconds. */
  maxTimeMs?: number;
  signal?: AbortSignal;
  /** Receives the final response's body as it arrives instead of buffering it. */
  onBody?: (chunk: Uint8Array) => void | Promise<void>;
  /** Receives each step (URL anatomy, DNS, connect, request, response, redirects). */
  onEvent?: (event: ClientEvent) => void;
  /** Cap on a buffered body (default `MAX_BUFFERED_BODY`). */
  maxBodyBytes?: number;
  /**
   * Sees the raw bytes of each exchange: the request as written (`sent`, one call) and every
   * read from the socket (`received`), for `--explain`. The bytes are valid during the call only.
   */
  onWire?: (direction: "sent" | "received", bytes: Uint8Array) => void;
}

/** What `httpRequest` returns: the final response (after redirects). */
export interface HttpResponse extends ResponseHead {
  /** The URL that produced this response (differs from the input after redirects). */
  url: string;
  /** The body, unless an `onBody` sink took it. */
  body: Uint8Array;
  bodyBytes: number;
  framing: BodyFraming;
  /** The heads of the redirect responses that were followed, in order. */
  redirects: ResponseHead[];
  /** The IP address that was connected to. */
  address: string;
  /** When each step of the final exchange finished (redirects before it not included). */
  timings: Timings;
}

/** A header's value (first occurrence, name compared case-insensitively). */
export function getHeader(head: ResponseHead, name: string): string | undefined {
  const lower = name.toLowerCase();
  return head.headers.find(([n]) => n.toLowerCase() === lower)?.[1];
}

/**
 * Fetches `url` over a raw TCP connection: resolve, connect, write the request, read the
 * response. Throws `HttpClientError` (with a curl exit code) for every failure.
 */
export async function httpRequest(
  url: string | HttpUrl,
  options: HttpRequestOptions = {},
): Promise<HttpResponse> {
  const deadline = options.maxTimeMs === undefined
    ? undefined
    : AbortSignal.timeout(options.maxTimeMs);
  const signal = anySignal(options.signal, deadline);
  const body = typeof options.body === "string"
    ? new TextEncoder().encode(options.body)
    : options.body;
  let method = (options.method ?? (body ? "POST" : "GET")).toUpperCase();
  let requestBody = body;
  let current = typeof url === "string" ? parseOrThrow(url) : url;
  const redirects: ResponseHead[] = [];
  const maxRedirects = options.maxRedirects ?? MAX_REDIRECTS;
  try {
    while (true) {
      const exchange = await exchangeOnce(current, method, requestBody, options, signal);
      const location = getHeader(exchange.head, "location");
      if (!options.followRedirects || !isRedirect(exchange.head.status) || !location) {
        return { ...exchange, redirects };
      }
      if (redirects.length >= maxRedirects) {
        throw new HttpClientError(
          `Maximum (${maxRedirects}) redirects followed`,
          EXIT.TOO_MANY_REDIRECTS,
        );
      }
      redirects.push(exchange.head);
      const next = resolveOrThrow(current, location);
      // 303 always becomes GET; 301/302 turn a POST into GET (what browsers and curl do);
      // 307/308 repeat the method and body unchanged.
      const status = exchange.head.status;
      if (
        (status === 303 && method !== "HEAD") ||
        ((status === 301 || status === 302) && method === "POST")
      ) {
        method = "GET";
        requestBody = undefined;
      }
      options.onEvent?.({ type: "redirect", status, from: current.href, to: next.href, method });
      current = next;
    }
  } catch (error) {
    throw translateError(error, signal, deadline, options.maxTimeMs);
  }
}

/** True when `-L` would follow this response (a redirect status with a Location). */
export function willFollow(head: ResponseHead): boolean {
  return isRedirect(head.status) && getHeader(head, "location") !== undefined;
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

function parseOrThrow(text: string): HttpUrl {
  try {
    return parseUrl(text);
  } catch (error) {
    if (error instanceof UrlError) {
      const code = /^Unsupported scheme/.test(error.message)
        ? EXIT.UNSUPPORTED_PROTOCOL
        : EXIT.URL_MALFORMED;
      throw new HttpClientError(error.message, code);
    }
    throw error;
  }
}

function resolveOrThrow(base: HttpUrl, location: string): HttpUrl {
  try {
    return resolveUrl(base, location);
  } catch (error) {
    if (error instanceof UrlError) throw new HttpClientError(error.message, EXIT.URL_MALFORMED);
    throw error;
  }
}

/** Combines optional signals into one (or none). */
function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  return present.length === 0
    ? undefined
    : present.length === 1
    ? present[0]
    : AbortSignal.any(present);
}

/** Maps an abort to its cause: curl's timeout error for the deadline, else the signal's reason. */
function translateError(
  error: unknown,
  signal: AbortSignal | undefined,
  deadline: AbortSignal | undefined,
  maxTimeMs: number | undefined,
): unknown {
  if (deadline?.aborted) {
    return new HttpClientError(
      `Operation timed out after ${maxTimeMs} milliseconds`,
      EXIT.OPERATION_TIMEDOUT,
    );
  }
  if (signal?.aborted) return signal.reason;
  return error;
}

interface Exchange extends ResponseHead {
  head: ResponseHead;
  url: string;
  body: Uint8Array;
  bodyBytes: number;
  framing: BodyFraming;
  address: string;
  timings: Timings;
}

/** The moments an exchange has passed so far (performance.now() values). */
interface Marks {
  start: number;
  dns: number;
  connect: number;
  sent: number;
  firstByte: number;
}

/** One request on one connection (`Connection: close`: seed 003's connect, request, respond, close). */
async function exchangeOnce(
  url: HttpUrl,
  method: string,
  body: Uint8Array | undefined,
  options: HttpRequestOptions,
  signal: AbortSignal | undefined,
): Promise<Exchange> {
  if (url.scheme === "https") {
    throw new HttpClientError(
      `Protocol "https" not supported: netlab speaks plain HTTP only (no TLS), use http://`,
      EXIT.UNSUPPORTED_PROTOCOL,
    );
  }
  const marks: Marks = { start: performance.now(), dns: 0, connect: 0, sent: 0, firstByte: 0 };
  options.onEvent?.({ type: "url", url });
  const address = await resolveAddress(url, options, signal);
  marks.dns = performance.now();
  signal?.throwIfAborted();
  const conn = await connect(address, url.port, options, signal);
  marks.connect = performance.now();
  try {
    // Closing the socket is what wakes a pending read when the deadline passes.
    const onAbort = () => closeQuietly(conn);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const head = buildRequestHead(url, method, body, options.headers ?? []);
      options.onEvent?.({ type: "request", head, bodyBytes: body?.length ?? 0 });
      // Head and body leave in one write (one segment for small requests).
      const request = joinHeadAndBody(head, body);
      await writeAll(conn, request);
      marks.sent = performance.now();
      options.onWire?.("sent", request);
      return await readResponse(conn, url, method, address, options, marks);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  } finally {
    closeQuietly(conn);
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch (error) {
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  }
}

/** Picks the IP to connect to: literals as they are, `localhost` as 127.0.0.1, names via DNS. */
async function resolveAddress(
  url: HttpUrl,
  options: HttpRequestOptions,
  signal: AbortSignal | undefined,
): Promise<string> {
  const started = performance.now();
  if (url.hostKind !== "name") {
    options.onEvent?.({
      type: "resolved",
      host: url.host,
      address: url.host,
      via: "literal",
      ms: 0,
    });
    return url.host;
  }
  if (url.host === "localhost" || url.host.endsWith(".localhost")) {
    // RFC 6761: localhost names never leave the machine and never go to DNS.
    options.onEvent?.({
      type: "resolved",
      host: url.host,
      address: "127.0.0.1",
      via: "localhost",
      ms: 0,
    });
    return "127.0.0.1";
  }
  const address = await lookupWithDns(url.host, options, signal);
  const dns = options.dns ?? {};
  options.onEvent?.({
    type: "resolved",
    host: url.host,
    address,
    via: "dns",
    ms: performance.now() - started,
    server: dns.roots?.length
      ? `the root ${dns.roots.join(",")}`
      : formatHostPort(dns.server ?? "", dns.port ?? DNS_PORT),
  });
  return address;
}

/** Asks netlab's resolver for the name's first IPv4 address (else IPv6), reporting each step. */
async function lookupWithDns(
  host: string,
  options: HttpRequestOptions,
  signal: AbortSignal | undefined,
): Promise<string> {
  const dns = options.dns ?? {};
  const emit = (step: DnsStep) => options.onEvent?.({ type: "dns", step });
  const port = dns.port ?? DNS_PORT;
  let resolver: { resolve(n: string, t: number, o: { signal?: AbortSignal }): Promise<Resolution> };
  if (dns.roots?.length) {
    resolver = new IterativeResolver({
      roots: dns.roots,
      port,
      onEvent: (event) => emit({ kind: "iterative", event }),
    });
  } else if (dns.server) {
    const stub = new StubResolver(dns.server, { port });
    resolver = {
      async resolve(name, type, opts) {
        emit({
          kind: "stub-query",
          server: dns.server!,
          port,
          name: normalizeName(name),
          qtype: type,
        });
        const resolution = await stub.resolve(name, type, opts);
        emit({ kind: "stub-answer", resolution });
        return resolution;
      },
    };
  } else {
    throw new HttpClientError(
      `Could not resolve host "${host}": no DNS server (use --dns HOST[:PORT])`,
      EXIT.COULDNT_RESOLVE_HOST,
    );
  }
  try {
    // A first (what seed 000's 127.0.0.x world has), AAAA only when there is no A record.
    for (const type of [TYPE.A, TYPE.AAAA]) {
      const resolution = await resolver.resolve(host, type, { signal });
      const address = resolution.answers.find((rr) => rr.type === type)?.data;
      if (address?.kind === "A" || address?.kind === "AAAA") return address.address;
      if (resolution.rcode === RCODE.NXDOMAIN) {
        throw new HttpClientError(
          `Could not resolve host "${host}": no such name (NXDOMAIN)`,
          EXIT.COULDNT_RESOLVE_HOST,
        );
      }
      if (resolution.rcode !== RCODE.NOERROR) {
        throw new HttpClientError(
          `Could not resolve host "${host}": the DNS server answered ${
            rcodeName(resolution.rcode)
          }`,
          EXIT.COULDNT_RESOLVE_HOST,
        );
      }
    }
  } catch (error) {
    if (signal?.aborted || error instanceof HttpClientError) throw error;
    if (
      error instanceof ResolveError || error instanceof NoReplyError ||
      error instanceof DnsFormatError || error instanceof RangeError ||
      error instanceof Deno.errors.NetworkUnreachable ||
      error instanceof Deno.errors.ConnectionRefused
    ) {
      throw new HttpClientError(
        `Could not resolve host "${host}": ${error.message}`,
        EXIT.COULDNT_RESOLVE_HOST,
      );
    }
    throw error;
  }
  throw new HttpClientError(
    `Could not resolve host "${host}": no address records`,
    EXIT.COULDNT_RESOLVE_HOST,
  );
}

async function connect(
  address: string,
  port: number,
  options: HttpRequestOptions,
  signal: AbortSignal | undefined,
): Promise<Deno.TcpConn> {
  const started = performance.now();
  const connectSignal = anySignal(signal, AbortSignal.timeout(CONNECT_TIMEOUT_MS));
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: address, port, signal: connectSignal });
  } catch (error) {
    if (signal?.aborted) throw error;
    const where = formatHostPort(address, port);
    if (connectSignal?.aborted) {
      throw new HttpClientError(
        `Failed to connect to ${where}: no answer within ${CONNECT_TIMEOUT_MS} ms`,
        EXIT.OPERATION_TIMEDOUT,
      );
    }
    if (error instanceof Deno.errors.ConnectionRefused) {
      throw new HttpClientError(
        `Failed to connect to ${where}: connection refused`,
        EXIT.COULDNT_CONNECT,
      );
    }
    if (
      error instanceof Deno.errors.NetworkUnreachable ||
      error instanceof Deno.errors.AddrNotAvailable ||
      error instanceof Deno.errors.ConnectionReset ||
      error instanceof Deno.errors.PermissionDenied ||
      error instanceof Deno.errors.TimedOut
    ) {
      throw new HttpClientError(
        `Failed to connect to ${where}: ${error.message}`,
        EXIT.COULDNT_CONNECT,
      );
    }
    throw error;
  }
  options.onEvent?.({
    type: "connect",
    local: conn.localAddr,
    remote: conn.remoteAddr,
    ms: performance.now() - started,
  });
  return conn;
}

/**
 * The request head: request line (`GET /path HTTP/1.1`, seed 003's 请求行 without its stray
 * `/` before HTTP), Host, defaults, the caller's fields, blank line.
 */
export function buildRequestHead(
  url: HttpUrl,
  method: string,
  body: Uint8Array | undefined,
  extra: [string, string][],
): string {
  const defaults: [string, string][] = [
    ["Host", url.authority],
    ["User-Agent", USER_AGENT],
    ["Accept", "*/*"],
  ];
  if (url.username || url.password) {
    const credentials = btoa(
      String.fromCharCode(...new TextEncoder().encode(`${url.username}:${url.password}`)),
    );
    defaults.push(["Authorization", `Basic ${credentials}`]);
  }
  if (body !== undefined) {
    defaults.push(["Content-Type", "application/x-www-form-urlencoded"]);
    defaults.push(["Content-Length", String(body.length)]);
  }
  defaults.push(["Connection", "close"]);
  const overridden = new Set(extra.map(([n]) => n.toLowerCase()));
  const fields = [
    ...defaults.filter(([n]) => !overridden.has(n.toLowerCase())),
    ...extra.filter(([, v]) => v !== ""),
  ];
  return formatRequestHead(method, url.target, fields);
}

/**
 * The exact bytes `httpRequest` would write for this request (head and body in one buffer):
 * what `--offline` prints. Throws `HttpClientError` for a malformed URL or https.
 */
export function buildRequestBytes(
  url: string | HttpUrl,
  options: { method?: string; headers?: [string, string][]; body?: Uint8Array | string } = {},
): Uint8Array {
  const parsed = typeof url === "string" ? parseOrThrow(url) : url;
  if (parsed.scheme === "https") {
    throw new HttpClientError(
      `Protocol "https" not supported: netlab speaks plain HTTP only (no TLS), use http://`,
      EXIT.UNSUPPORTED_PROTOCOL,
    );
  }
  const body = typeof options.body === "string"
    ? new TextEncoder().encode(options.body)
    : options.body;
  const method = (options.method ?? (body ? "POST" : "GET")).toUpperCase();
  return joinHeadAndBody(buildRequestHead(parsed, method, body, options.headers ?? []), body);
}

/**
 * Reads one response through `ResponseParser`: the head, then the body in whatever pieces the
 * network delivers, until the parser says the message ended (Content-Length reached, last chunk,
 * or — for a body without a length — the server closing the connection).
 */
async function readResponse(
  conn: Deno.Conn,
  url: HttpUrl,
  method: string,
  address: string,
  options: HttpRequestOptions,
  marks: Marks,
): Promise<Exchange> {
  const parser = new ResponseParser();
  parser.expect(method);
  const buf = new Uint8Array(READ_SIZE);
  const maxBody = options.maxBodyBytes ?? MAX_BUFFERED_BODY;
  const parts: Uint8Array[] = [];
  let head: ResponseHead | undefined;
  let framing: BodyFraming = "none";
  let final = true;
  let bodyBytes = 0;
  let received = 0;
  while (true) {
    let event;
    try {
      event = parser.next();
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      if (received === 0) {
        throw new HttpClientError("Empty reply from server", EXIT.GOT_NOTHING);
      }
      if (head && /before the message body was complete/.test(error.message)) {
        throw new HttpClientError(
          `Transfer closed with the body incomplete (${bodyBytes} bytes received): ${error.message}`,
          EXIT.PARTIAL_FILE,
        );
      }
      throw new HttpClientError(`Weird server reply: ${error.message}`, EXIT.WEIRD_SERVER_REPLY);
    }
    if (event === null) {
      const n = await readWithIdleTimeout(conn, buf);
      if (n === null) parser.feedEof();
      else {
        if (received === 0) marks.firstByte = performance.now();
        received += n;
        options.onWire?.("received", buf.subarray(0, n));
        parser.feed(buf.subarray(0, n));
      }
      continue;
    }
    switch (event.kind) {
      case "response": {
        head = {
          version: event.version,
          status: event.status,
          reason: event.reason,
          headers: event.headers,
          fieldNames: event.fieldNames,
        };
        framing = FRAMING[event.bodyKind];
        final = !(options.followRedirects && willFollow(head));
        options.onEvent?.({ type: "response", head });
        break;
      }
      case "data": {
        bodyBytes += event.data.length;
        if (!final) break; // a redirect's body is read and dropped, like a browser does
        if (options.onBody) {
          await options.onBody(event.data);
        } else {
          if (bodyBytes > maxBody) {
            throw new HttpClientError(
              `Response body larger than ${maxBody} bytes: use -o FILE`,
              EXIT.WRITE_ERROR,
            );
          }
          parts.push(event.data.slice());
        }
        break;
      }
      case "informational":
        break; // 100 Continue and friends: the real response follows
      case "end":
      case "closed": {
        if (!head) throw new HttpClientError("Empty reply from server", EXIT.GOT_NOTHING);
        const since = (mark: number) => Math.max(0, mark - marks.start);
        const timings: Timings = {
          dns: since(marks.dns),
          connect: since(marks.connect),
          sent: since(marks.sent),
          firstByte: since(marks.firstByte),
          total: since(performance.now()),
        };
        options.onEvent?.({ type: "body", bytes: bodyBytes, framing, timings });
        return {
          timings,
          ...head,
          head,
          url: url.href,
          body: concatBytes(parts, options.onBody ? 0 : bodyBytes),
          bodyBytes,
          framing,
          address,
        };
      }
    }
  }
}

const FRAMING: Record<BodyKind, BodyFraming> = {
  none: "none",
  length: "content-length",
  chunked: "chunked",
  close: "close",
};

/** One read with an idle deadline: a server that goes silent for `IDLE_TIMEOUT_MS` is dropped. */
async function readWithIdleTimeout(conn: Deno.Conn, buf: Uint8Array): Promise<number | null> {
  let idle = false;
  const timer = setTimeout(() => {
    idle = true;
    closeQuietly(conn);
  }, IDLE_TIMEOUT_MS);
  try {
    return await conn.read(buf);
  } catch (error) {
    if (idle) {
      throw new HttpClientError(
        `Operation timed out: no data from the server for ${IDLE_TIMEOUT_MS / 1000} s`,
        EXIT.OPERATION_TIMEDOUT,
      );
    }
    if (error instanceof Deno.errors.ConnectionReset) {
      throw new HttpClientError(
        "Failure when receiving data from the peer: connection reset",
        EXIT.RECV_ERROR,
      );
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Command line

const USAGE = `Usage: deno task http:get URL [options]
Fetch an http:// URL over a raw TCP socket (netlab's curl).

  -v, --verbose           show each step on stderr: URL anatomy, DNS, TCP connect, request, response
  -i, --include           print the response headers before the body
  -I, --head              send HEAD and print only the headers
  -X, --request METHOD    request method (GET, POST, HEAD, PUT, DELETE, OPTIONS, TRACE, CONNECT, …)
  -d, --data DATA         send DATA as the body (POST unless -X); @FILE reads a file
  -H, --header 'N: v'     add a header field (repeatable); 'N:' removes a default one
  -o, --output FILE       write the body to FILE (temp file, renamed when complete; a device
                          such as /dev/null is written in place; - is stdout)
  -s, --silent            no progress bar (errors are still printed, as curl -sS)
  -f, --fail              on an HTTP error (status >= 400) print no body and exit 22
  -L, --location          follow redirects (at most ${MAX_REDIRECTS})
      --max-time S        give up after S seconds (exit 28)
      --dns HOST[:PORT]   DNS server to ask (default: first nameserver in /etc/resolv.conf)
      --dns-port P        DNS port (default 53)
      --trace-dns         resolve iteratively from the root servers and print each referral
      --root ADDR[,ADDR]  root server addresses for --trace-dns
      --explain           annotate the request bytes sent and the response head and chunk
                          framing received, field by field (on stderr)
  -w, --write-out         after the body: timing breakdown (DNS, connect, request sent, first
                          byte, total) and a one-line waterfall
      --offline           print the exact request bytes and exit: no DNS, no connection
      --json              newline-delimited JSON events on stdout (the body goes into the
                          "received" event, or to -o FILE)
  -h, --help              show this help

IP literals and localhost skip DNS. Exit codes (as curl): 1 https/unsupported, 3 bad URL,
6 cannot resolve, 7 cannot connect, 8 bad reply, 18 short body, 23 write error, 28 timeout,
47 too many redirects, 52 empty reply, 56 receive error.`;

/** Turns one step into the `-v` lines (curl's markers: `*` info, `>` sent, `<` received). */
export function formatEvent(event: ClientEvent): string[] {
  switch (event.type) {
    case "url":
      return describeUrl(event.url).map((line) => `* ${line}`);
    case "dns":
      return formatDnsStep(event.step).map((line) => `* (a) ${line}`);
    case "resolved": {
      const how = event.via === "literal"
        ? "an IP literal, no DNS query"
        : event.via === "localhost"
        ? "localhost, answered locally without DNS"
        : `DNS over UDP${event.server ? ` via ${event.server}` : ""}, ${event.ms.toFixed(1)} ms`;
      return [`* (a) ${event.host} is ${event.address} (${how})`];
    }
    case "connect":
      return [
        `* (b) TCP connected ${formatAddr(event.local)} -> ${formatAddr(event.remote)} ` +
        `(handshake ${event.ms.toFixed(1)} ms)`,
      ];
    case "request": {
      const lines = event.head.replace(/\r\n$/, "").split("\r\n").map((l) => (l ? `> ${l}` : ">"));
      if (event.bodyBytes > 0) lines.push(`* sent a ${event.bodyBytes}-byte body`);
      return lines;
    }
    case "response":
      return [
        `< HTTP/${event.head.version} ${event.head.status} ${event.head.reason}`,
        ...event.head.headers.map(([n, v]) => `< ${n}: ${v}`),
        "<",
      ];
    case "body":
      return [`* body ${event.bytes} bytes (${framingText(event.framing)}), connection closed`];
    case "redirect":
      return [`* ${event.status} redirect to ${event.to} (${event.method})`];
  }
}

/** One DNS step as text: what was asked of whom, and what came back. */
export function formatDnsStep(step: DnsStep): string[] {
  switch (step.kind) {
    case "stub-query":
      return [
        `DNS query over UDP to ${formatHostPort(step.server, step.port)}: ${step.name} ${
          typeName(step.qtype)
        }?`,
      ];
    case "stub-answer": {
      const ex = step.resolution.exchange;
      const how = ex
        ? ` (${ex.protocol}, ${ex.bytes.length} bytes, ${ex.elapsedMs.toFixed(1)} ms)`
        : "";
      const answers = step.resolution.answers.map((rr) =>
        `  ${formatRecord(rr).replaceAll("\t", " ")}`
      );
      return [`DNS answer ${rcodeName(step.resolution.rcode)}${how}`, ...answers];
    }
    case "iterative":
      return formatResolverEvent(step.event);
  }
}

/** An iterative resolver step: `ask 127.0.0.2:53 (zone .) …`, `referral to com.`, the answer. */
export function formatResolverEvent(event: ResolverEvent): string[] {
  const zone = (z: string) => (z === "." ? ". (root)" : z);
  switch (event.kind) {
    case "query":
      return [
        `ask ${formatHostPort(event.server.address, event.server.port)} (server for ${
          zone(event.zone)
        }) over UDP: ${event.name} ${typeName(event.type)}?`,
      ];
    case "response": {
      const ms = `${event.exchange.elapsedMs.toFixed(1)} ms`;
      if (event.outcome === "referral") {
        const ns = event.exchange.reply.authorities.filter((rr) => rr.data.kind === "NS");
        const glue = event.exchange.reply.additionals.filter(
          (rr) => rr.data.kind === "A" || rr.data.kind === "AAAA",
        );
        return [
          `  referral: ${zone(event.zone)} does not know, ask ${event.referral} (${ms})`,
          ...ns.map((rr) => `    ${formatRecord(rr).replaceAll("\t", " ")}`),
          ...glue.map((rr) => `    ${formatRecord(rr).replaceAll("\t", " ")}`),
        ];
      }
      const answers = event.exchange.reply.answers.map((rr) =>
        `    ${formatRecord(rr).replaceAll("\t", " ")}`
      );
      return [`  ${event.outcome} from ${zone(event.zone)} (${ms})`, ...answers];
    }
    case "no-reply":
      return [`  no reply from ${event.server.address}: ${event.reason}`];
    case "ns-lookup":
      return [`first resolve the name server ${event.nameserver} (no glue)`];
    case "cname":
      return [`${event.from} is an alias (CNAME) for ${event.to}`];
    case "cache":
      return [`cached: ${event.name} ${typeName(event.type)}`];
  }
}

function framingText(framing: BodyFraming): string {
  switch (framing) {
    case "content-length":
      return "Content-Length";
    case "chunked":
      return "chunked";
    case "close":
      return "ended by the server closing the connection";
    case "none":
      return "no body";
  }
}

/** Splits `--dns HOST[:PORT]` (`[::1]:53`, `::1`, `127.0.0.1:5353`). */
export function parseDnsServer(value: string): { server: string; port?: number } {
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (bracket) {
    return {
      server: bracket[1],
      port: bracket[2] ? parsePort(bracket[2], 53, "--dns") : undefined,
    };
  }
  if ((value.match(/:/g) ?? []).length > 1) return { server: value };
  const [server, port] = value.split(":");
  if (!server) throw new UsageError(`Invalid --dns ${quoteInput(value)}: expected HOST[:PORT]`);
  return { server, port: port === undefined ? undefined : parsePort(port, 53, "--dns") };
}

/** Parses `-H 'Name: value'`; `Name:` with nothing after it removes a default header. */
export function parseHeaderFlag(text: string): [string, string] {
  const colon = text.indexOf(":");
  const name = colon < 0 ? "" : text.slice(0, colon);
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
    throw new UsageError(`Invalid -H ${quoteInput(text)}: expected 'Name: value'`);
  }
  const value = text.slice(colon + 1).trim();
  // deno-lint-ignore no-control-regex
  if (/[\x00\r\n]/.test(value)) {
    throw new UsageError(`Invalid -H ${quoteInput(text)}: CR, LF or NUL in the value`);
  }
  return [name, value];
}

function parseSeconds(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(seconds > 0) || seconds > 86_400) {
    throw new UsageError(`Invalid ${flag} ${quoteInput(value)}: expected seconds, more than 0`);
  }
  return Math.round(seconds * 1000);
}

/** Keep at most this much of each response for the `--explain` view (head, framing, preview). */
export const EXPLAIN_CAPTURE_BYTES = 64 * 1024;
/** Under `--json`, a body up to this size is included as text in the `received` event. */
export const JSON_BODY_BYTES = 64 * 1024;
/** Under `--json` with `-o`, a `progress` event every this many bytes. */
const JSON_PROGRESS_BYTES = 1024 * 1024;
/** Width of the `-w` waterfall, in character cells. */
const WATERFALL_CELLS = 40;

/**
 * Keeps what `onWire` shows of one exchange for the `--explain` views: the request as written
 * and the first `cap` bytes of the response as read (a large body is only counted).
 */
export class WireRecorder {
  request: Uint8Array = new Uint8Array(0);
  /** Response bytes read in all (kept or not). */
  received = 0;
  #parts: Uint8Array[] = [];
  #kept = 0;

  constructor(readonly cap = EXPLAIN_CAPTURE_BYTES) {}

  /** The `onWire` callback: a new request starts a new exchange. */
  record(direction: "sent" | "received", bytes: Uint8Array): void {
    if (direction === "sent") {
      this.request = bytes.slice();
      this.#parts = [];
      this.#kept = 0;
      this.received = 0;
      return;
    }
    this.received += bytes.length;
    const keep = Math.min(bytes.length, this.cap - this.#kept);
    if (keep > 0) {
      this.#parts.push(bytes.slice(0, keep));
      this.#kept += keep;
    }
  }

  /** The response bytes kept so far. */
  response(): Uint8Array {
    return concatBytes(this.#parts, this.#kept);
  }

  /** The annotated request view. */
  explainRequest(remote: string): string {
    return explainHttp(this.request, {
      kind: "request",
      title: `HTTP request, ${this.request.length} bytes, sent to ${remote}`,
    });
  }

  /** The annotated response view (head, framing and the start of the body). */
  explainResponse(remote: string, requestMethod: string): string {
    const partial = this.#kept < this.received;
    return explainHttp(this.response(), {
      kind: "response",
      requestMethod,
      partial,
      title: `HTTP response, ${this.received} bytes, from ${remote}` +
        (partial ? ` (the first ${this.#kept} shown)` : ""),
    });
  }
}

/**
 * The DNS messages of one resolution step as annotated views (`dns/describe.ts`): the query as
 * sent and the reply as received. Steps without an exchange give none.
 */
export function explainDnsStep(step: DnsStep): string[] {
  const exchange = step.kind === "stub-answer"
    ? step.resolution.exchange
    : step.kind === "iterative" && step.event.kind === "response"
    ? step.event.exchange
    : undefined;
  if (!exchange) return [];
  const at = `${formatHostPort(exchange.server, exchange.port)} over ${exchange.protocol}`;
  return [
    explainMessage(exchange.queryBytes, `DNS query, ${exchange.queryBytes.length} bytes, to ${at}`),
    explainMessage(exchange.bytes, `DNS reply, ${exchange.bytes.length} bytes, from ${at}`),
  ];
}

/** The phases of one exchange as durations (ms), from cumulative `Timings`. */
export function timingPhases(t: Timings): { name: string; label: string; ms: number }[] {
  return [
    { name: "dns", label: "dns lookup", ms: t.dns },
    { name: "connect", label: "tcp connect", ms: t.connect - t.dns },
    { name: "send", label: "request sent", ms: t.sent - t.connect },
    { name: "wait", label: "first byte", ms: t.firstByte - t.sent },
    { name: "receive", label: "rest of body", ms: t.total - t.firstByte },
  ].map((p) => ({ ...p, ms: Math.max(0, p.ms) }));
}

const EIGHTHS = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];

/**
 * One line: each phase's name and a bar as long as its share of the total, in eighths of a cell
 * (`dns ▏ connect █ send ▏ wait ████ receive ██`). A phase too short to draw gets a thin `▏`.
 */
export function formatWaterfall(t: Timings, cells = WATERFALL_CELLS): string {
  const phases = timingPhases(t);
  const total = phases.reduce((sum, p) => sum + p.ms, 0);
  return phases.map((p) => {
    const eighths = total > 0 ? Math.round((p.ms / total) * cells * 8) : 0;
    const bar = "█".repeat(Math.floor(eighths / 8)) + EIGHTHS[eighths % 8];
    return `${p.name} ${bar || "▏"}`;
  }).join(" ");
}

/**
 * The `-w` block, curl's `--write-out` timing variables as a table: each phase's duration, its
 * cumulative time (curl's time_namelookup … time_total) and the waterfall line.
 */
export function formatTimings(
  t: Timings,
  { redirectMs = 0, bodyBytes }: { redirectMs?: number; bodyBytes?: number } = {},
): string {
  const ms = (n: number) => `${n.toFixed(1).padStart(8)} ms`;
  const cumulative = [t.dns, t.connect, t.sent, t.firstByte, t.total];
  const curlNames = [
    "time_namelookup",
    "time_connect",
    "time_pretransfer",
    "time_starttransfer",
    "time_total",
  ];
  const lines = timingPhases(t).map((p, i) =>
    `${p.label.padStart(14)}:${ms(p.ms)}   at${ms(cumulative[i])}  (${curlNames[i]})`
  );
  if (redirectMs > 0) lines.unshift(`${"redirects".padStart(14)}:${ms(redirectMs)}`);
  lines.push(
    `${"total".padStart(14)}:${ms(t.total + redirectMs)}` +
      (bodyBytes === undefined ? "" : `   ${bodyBytes} body bytes`),
  );
  lines.push(formatWaterfall(t));
  return lines.join("\n") + "\n";
}

/** A client step as a `--json` event: the shared event name and its structured fields. */
export function eventJson(event: ClientEvent): { event: string; fields: Fields } {
  const round = (n: number) => Math.round(n * 1000) / 1000;
  switch (event.type) {
    case "url":
      return {
        event: "log",
        fields: {
          url: event.url.href,
          scheme: event.url.scheme,
          host: event.url.host,
          port: event.url.port,
          target: event.url.target,
        },
      };
    case "dns":
      return dnsStepJson(event.step);
    case "resolved":
      return {
        event: "log",
        fields: {
          host: event.host,
          address: event.address,
          via: event.via,
          ms: round(event.ms),
          ...(event.server ? { server: event.server } : {}),
        },
      };
    case "connect":
      return {
        event: "connected",
        fields: {
          local: formatAddr(event.local),
          remote: formatAddr(event.remote),
          ms: round(event.ms),
        },
      };
    case "request": {
      const [line, ...rest] = event.head.replace(/\r\n\r\n$/, "").split("\r\n");
      const [method, target, version] = line.split(" ");
      return {
        event: "request",
        fields: {
          method,
          target,
          version: version.replace("HTTP/", ""),
          headers: rest.map((field) => {
            const colon = field.indexOf(":");
            return [field.slice(0, colon), field.slice(colon + 1).trim()];
          }),
          bodyBytes: event.bodyBytes,
        },
      };
    }
    case "response":
      return {
        event: "response",
        fields: {
          status: event.head.status,
          reason: event.head.reason,
          version: event.head.version,
          headers: event.head.headers,
        },
      };
    case "body":
      return {
        event: "received",
        fields: {
          bytes: event.bytes,
          framing: event.framing,
          timings: Object.fromEntries(
            Object.entries(event.timings).map(([k, v]) => [k, round(v)]),
          ),
        },
      };
    case "redirect":
      return {
        event: "log",
        fields: { status: event.status, from: event.from, to: event.to, method: event.method },
      };
  }
}

function dnsStepJson(step: DnsStep): { event: string; fields: Fields } {
  const records = (rrs: ResourceRecord[]) =>
    rrs.map((rr) => formatRecord(rr).replaceAll("\t", " "));
  switch (step.kind) {
    case "stub-query":
      return {
        event: "query",
        fields: {
          server: formatHostPort(step.server, step.port),
          name: step.name,
          type: typeName(step.qtype),
        },
      };
    case "stub-answer": {
      const ex = step.resolution.exchange;
      return {
        event: "answer",
        fields: {
          rcode: rcodeName(step.resolution.rcode),
          records: records(step.resolution.answers),
          ...(ex
            ? {
              server: formatHostPort(ex.server, ex.port),
              protocol: ex.protocol,
              bytes: ex.bytes.length,
              ms: Math.round(ex.elapsedMs * 1000) / 1000,
            }
            : {}),
        },
      };
    }
    case "iterative": {
      const e = step.event;
      switch (e.kind) {
        case "query":
          return {
            event: "query",
            fields: {
              server: formatHostPort(e.server.address, e.server.port),
              zone: e.zone,
              name: e.name,
              type: typeName(e.type),
            },
          };
        case "response": {
          const fields = {
            server: formatHostPort(e.server.address, e.server.port),
            zone: e.zone,
            outcome: e.outcome,
            bytes: e.exchange.bytes.length,
            ms: Math.round(e.exchange.elapsedMs * 1000) / 1000,
          };
          return e.outcome === "referral"
            ? {
              event: "referral",
              fields: {
                ...fields,
                referral: e.referral,
                records: records(e.exchange.reply.authorities),
              },
            }
            : {
              event: "answer",
              fields: { ...fields, records: records(e.exchange.reply.answers) },
            };
        }
        case "no-reply":
          return {
            event: "log",
            fields: { server: formatHostPort(e.server.address, e.server.port), reason: e.reason },
          };
        default:
          return { event: "log", fields: { kind: e.kind } };
      }
    }
  }
}

/** Diagnostics of the text mode (`-v`, `--explain`) go to stderr: stdout is the body's. */
const STDERR_SINK: ReportSink = { out: printError, err: printError };

export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args, {
    verbose: { type: "boolean", short: "v" },
    include: { type: "boolean", short: "i" },
    head: { type: "boolean", short: "I" },
    request: { type: "string", short: "X" },
    data: { type: "string", short: "d" },
    header: { type: "string", short: "H", multiple: true },
    output: { type: "string", short: "o" },
    silent: { type: "boolean", short: "s" },
    fail: { type: "boolean", short: "f" },
    location: { type: "boolean", short: "L" },
    "max-time": { type: "string" },
    dns: { type: "string" },
    "dns-port": { type: "string" },
    "trace-dns": { type: "boolean" },
    root: { type: "string" },
    json: { type: "boolean" },
    explain: { type: "boolean" },
    "write-out": { type: "boolean", short: "w" },
    offline: { type: "boolean" },
  });
  if (positionals.length !== 1) throw new UsageError("Expected exactly one URL");
  const method = values.request ?? (values.head ? "HEAD" : undefined);
  if (method !== undefined && !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(method)) {
    throw new UsageError(`Invalid -X ${quoteInput(method)}: not an HTTP method token`);
  }
  const headers = (values.header ?? []).map(parseHeaderFlag);
  const maxTimeMs = parseSeconds(values["max-time"], "--max-time");
  const body = values.data === undefined
    ? undefined
    : values.data.startsWith("@")
    ? await readDataFile(values.data.slice(1))
    : new TextEncoder().encode(values.data);
  const json = values.json === true;
  const reporter = createReporter("http/client", {
    json,
    explain: values.explain,
    sink: json ? undefined : STDERR_SINK,
  });

  try {
    if (values.offline) {
      // The exact bytes, nothing sent: no DNS, no connection.
      const bytes = buildRequestBytes(positionals[0], { method, headers, body });
      if (reporter.explaining) {
        reporter.explain(
          explainHttp(bytes, { kind: "request", title: `HTTP request, ${bytes.length} bytes` }),
          { direction: "request", bytes: bytes.length },
        );
      }
      if (json) {
        const line = latin1(bytes.subarray(0, Math.max(0, bytes.indexOf(0x0d))));
        reporter.info(line, "request", { offline: true, bytes: bytes.length, raw: latin1(bytes) });
      } else {
        await writeAll(Deno.stdout, bytes);
      }
      return 0;
    }
    return await fetchUrl(positionals[0], values, { method, headers, body, maxTimeMs }, reporter);
  } catch (error) {
    // Under --json the failure is an event too, so stdout stays pure NDJSON.
    if (json && error instanceof CliError) {
      reporter.warn(error.message, "error", { exitCode: error.exitCode });
      return error.exitCode;
    }
    throw error;
  }
}

interface FetchFlags {
  verbose?: boolean;
  include?: boolean;
  head?: boolean;
  output?: string;
  silent?: boolean;
  fail?: boolean;
  location?: boolean;
  dns?: string;
  "dns-port"?: string;
  "trace-dns"?: boolean;
  root?: string;
  json?: boolean;
  "write-out"?: boolean;
}

/** The online path of `main`: resolve, connect, request, print or save, report. */
async function fetchUrl(
  url: string,
  values: FetchFlags,
  request: {
    method?: string;
    headers: [string, string][];
    body?: Uint8Array;
    maxTimeMs?: number;
  },
  reporter: Reporter,
): Promise<number> {
  const json = values.json === true;
  // Name resolution: iterative from the roots, a named server, or the system's first nameserver.
  const dnsPort = values["dns-port"] === undefined
    ? undefined
    : parsePort(values["dns-port"], 53, "--dns-port");
  let dns: DnsOptions;
  if (values["trace-dns"]) {
    const roots = (values.root ?? "").split(",").map((r) => r.trim()).filter((r) => r !== "");
    if (roots.length === 0) throw new UsageError("--trace-dns needs --root ADDR[,ADDR]");
    dns = { roots, port: dnsPort };
  } else if (values.root !== undefined) {
    throw new UsageError("--root only makes sense with --trace-dns");
  } else if (values.dns !== undefined) {
    const { server, port } = parseDnsServer(values.dns);
    dns = { server, port: dnsPort ?? port };
  } else {
    dns = { server: await systemNameserver(), port: dnsPort };
  }

  // Everything for stdout goes through one chain so headers, bodies and files stay in order.
  const headOnly = values.head === true;
  const include = values.include === true || headOnly;
  // curl's `-o -` is stdout.
  const outputPath = values.output === "-" ? undefined : values.output;
  const output = outputPath === undefined ? undefined : await openOutput(outputPath);
  const sink: ByteWriter = output?.file ?? Deno.stdout;
  let pending: Promise<void> = Promise.resolve();
  const emit = (bytes: Uint8Array) => {
    pending = pending.then(() => writeAll(sink, bytes));
    return pending;
  };
  // The progress bar draws only when stderr is a terminal (it is a no-op otherwise).
  let progress: ProgressBar | undefined;
  let received = 0;
  let nextProgress = JSON_PROGRESS_BYTES;
  let expected: number | undefined;
  // --fail: the final response's error status; nothing of that response is written.
  let failedWith: number | undefined;

  // --explain: each exchange's request as written and the start of its response as read.
  let requestMethod = "GET";
  let remote = "";
  const wire = new WireRecorder();
  // --json without -o: the body goes into the final `received` event (bounded).
  let jsonBody: Uint8Array[] = [];
  let jsonBodyBytes = 0;

  const started = performance.now();
  using interrupt = interruptSignal();
  try {
    const response = await httpRequest(url, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      followRedirects: values.location,
      dns,
      maxTimeMs: request.maxTimeMs,
      signal: interrupt,
      onWire(direction, bytes) {
        if (!reporter.explaining) return;
        wire.record(direction, bytes);
        if (direction === "sent") {
          reporter.explain(wire.explainRequest(remote), {
            direction: "request",
            bytes: bytes.length,
            remote,
          });
        }
      },
      onEvent(event) {
        if (json) {
          const { event: name, fields } = eventJson(event);
          if (event.type === "body" && jsonBodyBytes > 0) {
            const bytes = concatBytes(jsonBody, jsonBodyBytes);
            fields.body = new TextDecoder().decode(bytes);
            if (received > JSON_BODY_BYTES) fields.bodyTruncated = true;
            jsonBody = [];
            jsonBodyBytes = 0;
          }
          reporter.info(formatEvent(event).join("\n"), name, fields);
        } else if (values.verbose) {
          for (const line of formatEvent(event)) printError(line);
        }
        if (event.type === "dns" && reporter.explaining) {
          for (const view of explainDnsStep(event.step)) {
            reporter.explain(view, { protocol: "dns" });
          }
        }
        if (event.type === "connect") remote = formatAddr(event.remote);
        if (event.type === "request") requestMethod = event.head.slice(0, event.head.indexOf(" "));
        if (event.type === "body" && reporter.explaining) {
          reporter.explain(wire.explainResponse(remote, requestMethod), {
            direction: "response",
            bytes: wire.received,
            remote,
          });
        }
        if (
          event.type === "response" && values.fail && event.head.status >= 400 &&
          !(values.location && willFollow(event.head))
        ) {
          failedWith = event.head.status;
        }
        if (event.type === "response" && include && !json && failedWith === undefined) {
          // A failed write surfaces when `pending` is awaited below.
          emit(encodeLatin1(responseHeadText(event.head))).catch(() => {});
        }
        if (event.type === "response" && output && !(values.location && willFollow(event.head))) {
          expected = contentLength(event.head);
          if (!json && !values.silent && failedWith === undefined) {
            progress = createProgressBar(outputPath!, expected);
          }
        }
      },
      onBody(chunk) {
        if (headOnly || failedWith !== undefined) return;
        received += chunk.length;
        progress?.update(received);
        if (json && output && received >= nextProgress) {
          nextProgress = received + JSON_PROGRESS_BYTES;
          reporter.info(`${received} bytes received`, "progress", {
            bytes: received,
            ...(expected === undefined ? {} : { total: expected }),
          });
        }
        if (json && !output) {
          const keep = Math.min(chunk.length, JSON_BODY_BYTES - jsonBodyBytes);
          if (keep > 0) {
            jsonBody.push(chunk.slice(0, keep));
            jsonBodyBytes += keep;
          }
          return;
        }
        return emit(chunk).catch((error) => {
          throw new HttpClientError(
            `Failed writing body: ${errorMessage(error)}`,
            EXIT.WRITE_ERROR,
          );
        });
      },
    });
    await pending;
    progress?.finish();
    if (failedWith !== undefined) {
      throw new HttpClientError(
        `The requested URL returned error: ${failedWith}`,
        EXIT.HTTP_RETURNED_ERROR,
      );
    }
    await output?.commit();
    if (output && json) {
      reporter.info(`saved ${response.bodyBytes} bytes to ${outputPath}`, "saved", {
        path: outputPath,
        bytes: response.bodyBytes,
      });
    }
    if (values["write-out"]) {
      // curl prints -w after the body, on stdout.
      const redirectMs = response.redirects.length > 0
        ? Math.max(0, performance.now() - started - response.timings.total)
        : 0;
      const text = formatTimings(response.timings, { redirectMs, bodyBytes: response.bodyBytes });
      if (json) {
        const timings = eventJson({ ...response, type: "body", bytes: 0 }).fields.timings;
        reporter.info(text.trimEnd(), "stats", { timings, redirectMs: Math.round(redirectMs) });
      } else {
        await writeAll(Deno.stdout, new TextEncoder().encode(text));
      }
    }
    return 0;
  } catch (error) {
    progress?.finish();
    await output?.discard();
    throw error;
  }
}

/** The status line and headers as they came, for `-i`/`-I`. */
export function responseHeadText(head: ResponseHead): string {
  const lines = [`HTTP/${head.version} ${head.status} ${head.reason}`];
  head.headers.forEach(([name, value], i) =>
    lines.push(`${head.fieldNames?.[i] ?? name}: ${value}`)
  );
  return lines.join("\r\n") + "\r\n\r\n";
}

function contentLength(head: ResponseHead): number | undefined {
  const value = getHeader(head, "content-length");
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function readDataFile(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (error) {
    throw new UsageError(`Cannot read -d @${path}: ${errorMessage(error)}`);
  }
}

/**
 * `-o FILE`: the body goes to a temp file beside FILE, renamed over it only when complete. A FILE
 * that exists and is not a regular file (`/dev/null`, a FIFO, a terminal) is written in place, as
 * curl does: renaming over it would replace the device with a regular file. A symlink is followed,
 * so the link stays and its target gets the body.
 */
interface Output {
  file: Deno.FsFile;
  commit(): Promise<void>;
  discard(): Promise<void>;
}

async function openOutput(path: string): Promise<Output> {
  let info: Deno.FileInfo | undefined;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      throw new HttpClientError(
        `Cannot write ${quoteInput(path)}: ${errorMessage(error)}`,
        EXIT.WRITE_ERROR,
      );
    }
  }
  if (info && !info.isFile) return await openInPlace(path, info);
  const target = info ? await Deno.realPath(path) : path;
  // A hidden sibling: same directory, so the final rename is atomic and never crosses devices.
  const slash = target.lastIndexOf("/");
  const dir = slash < 0 ? "." : target.slice(0, slash) || "/";
  const base = slash < 0 ? target : target.slice(slash + 1);
  const tempPath = `${dir}/.${base}.${crypto.randomUUID().slice(0, 8)}.part`;
  const { file, close } = await openForOutput(
    path,
    tempPath,
    { write: true, createNew: true, mode: 0o666 },
  );
  return {
    file,
    async commit() {
      close();
      await Deno.rename(tempPath, target);
    },
    async discard() {
      close();
      await Deno.remove(tempPath).catch(() => {});
    },
  };
}

/** Opens `at` (for `-o path`) with a close that may be called twice; a one-line error if not. */
async function openForOutput(
  path: string,
  at: string,
  options: Deno.OpenOptions,
): Promise<{ file: Deno.FsFile; close: () => void }> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(at, options);
  } catch (error) {
    throw new HttpClientError(
      `Cannot write ${quoteInput(path)}: ${errorMessage(error)}`,
      EXIT.WRITE_ERROR,
    );
  }
  let closed = false;
  return {
    file,
    close() {
      if (!closed) file.close();
      closed = true;
    },
  };
}

/** A device, FIFO or other non-regular file: written directly; there is nothing to rename. */
async function openInPlace(path: string, info: Deno.FileInfo): Promise<Output> {
  if (info.isDirectory) {
    throw new HttpClientError(
      `Cannot write ${quoteInput(path)}: it is a directory`,
      EXIT.WRITE_ERROR,
    );
  }
  const { file, close } = await openForOutput(path, path, { write: true });
  return {
    file,
    commit: () => Promise.resolve(close()),
    discard: () => Promise.resolve(close()),
  };
}

if (import.meta.main) await runMain(USAGE, main);
