/**
 * The curl of netlab: fetch one `http://` URL over a raw TCP socket and show every step.
 *
 * Seed 000 says that opening a URL in a browser is (a) the browser's client socket asking a DNS
 * server over UDP to turn the domain name into an IP, then (b) a TCP connection to the web server
 * that downloads the file. This client does exactly that with netlab's own pieces: the URL is
 * taken apart by `http/url.ts`, the name resolved by `dns/resolver.ts` (never the OS resolver),
 * the socket opened with `Deno.connect`, the request written and the response read through
 * `http/message.ts` (Content-Length, chunked and close-delimited bodies). `-v` prints each step
 * on stderr: URL anatomy → DNS query over UDP → TCP connect → request bytes → status and headers.
 *
 *   deno task http:get http://127.0.0.1:8000/                     # body on stdout
 *   deno task http:get -v http://www.cnblogs.com:8080/ --dns 127.0.0.4:5353
 *   deno task http:get -i -X POST -d 'hello' http://127.0.0.1:8000/echo
 *   deno task http:get -L -o page.html http://127.0.0.1:8000/old
 *   deno task http:get -v --trace-dns --root 127.0.0.2 --dns-port 5353 http://www.cnblogs.com/
 *
 * Exit codes follow curl's: 1 unsupported protocol (https), 3 malformed URL, 6 could not resolve
 * host, 7 could not connect, 8 weird server reply, 18 body shorter than announced, 23 cannot
 * write output, 28 timeout, 47 too many redirects, 52 empty reply, 56 receive failure.
 * Compare with `curl -v http://127.0.0.1:8000/`.
 */
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
} from "../tcp/cli.ts";
import { type ByteWriter, concatBytes, writeAll } from "../tcp/io.ts";
import {
  type BodyKind,
  encodeLatin1,
  formatRequestHead,
  HttpError,
  joinHeadAndBody,
  ResponseParser,
} from "./message.ts";
import { createProgressBar, type ProgressBar } from "../tcp/progress.ts";
import {
  DnsFormatError,
  formatRecord,
  normalizeName,
  RCODE,
  rcodeName,
  TYPE,
  typeName,
} from "../dns/message.ts";
import {
  IterativeResolver,
  type Resolution,
  ResolveError,
  type ResolverEvent,
  StubResolver,
  systemNameserver,
} from "../dns/resolver.ts";
import { DNS_PORT, NoReplyError } from "../dns/transport.ts";
import { describeUrl, type HttpUrl, parseUrl, resolveUrl, UrlError } from "./url.ts";

/** curl-compatible exit codes for the failures this client can meet. */
export const EXIT = {
  UNSUPPORTED_PROTOCOL: 1,
  URL_MALFORMED: 3,
  COULDNT_RESOLVE_HOST: 6,
  COULDNT_CONNECT: 7,
  WEIRD_SERVER_REPLY: 8,
  PARTIAL_FILE: 18,
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
  | { type: "body"; bytes: number; framing: BodyFraming }
  | { type: "redirect"; status: number; from: string; to: string; method: string };

/** One DNS step: a stub query and its answer, or a step of iterative resolution. */
export type DnsStep =
  | { kind: "stub-query"; server: string; port: number; name: string; qtype: number }
  | { kind: "stub-answer"; resolution: Resolution }
  | { kind: "iterative"; event: ResolverEvent };

/** How the end of a response body was found. */
export type BodyFraming = "content-length" | "chunked" | "close" | "none";

/** The status line and headers of a response. */
export interface ResponseHead {
  version: string;
  status: number;
  reason: string;
  /** Header fields in wire order, names as the server sent them. */
  headers: [string, string][];
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
  options.onEvent?.({ type: "url", url });
  const address = await resolveAddress(url, options, signal);
  signal?.throwIfAborted();
  const conn = await connect(address, url.port, options, signal);
  try {
    // Closing the socket is what wakes a pending read when the deadline passes.
    const onAbort = () => closeQuietly(conn);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const head = buildRequestHead(url, method, body, options.headers ?? []);
      options.onEvent?.({ type: "request", head, bodyBytes: body?.length ?? 0 });
      // Head and body leave in one write (one segment for small requests).
      await writeAll(conn, joinHeadAndBody(head, body));
      return await readResponse(conn, url, method, address, options);
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
        received += n;
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
        options.onEvent?.({ type: "body", bytes: bodyBytes, framing });
        return {
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
  -o, --output FILE       write the body to FILE (temp file, renamed when complete)
  -L, --location          follow redirects (at most ${MAX_REDIRECTS})
      --max-time S        give up after S seconds (exit 28)
      --dns HOST[:PORT]   DNS server to ask (default: first nameserver in /etc/resolv.conf)
      --dns-port P        DNS port (default 53)
      --trace-dns         resolve iteratively from the root servers and print each referral
      --root ADDR[,ADDR]  root server addresses for --trace-dns
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
  if (!server) throw new UsageError(`Invalid --dns "${value}": expected HOST[:PORT]`);
  return { server, port: port === undefined ? undefined : parsePort(port, 53, "--dns") };
}

/** Parses `-H 'Name: value'`; `Name:` with nothing after it removes a default header. */
export function parseHeaderFlag(text: string): [string, string] {
  const colon = text.indexOf(":");
  const name = colon < 0 ? "" : text.slice(0, colon);
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
    throw new UsageError(`Invalid -H "${text}": expected 'Name: value'`);
  }
  const value = text.slice(colon + 1).trim();
  // deno-lint-ignore no-control-regex
  if (/[\x00\r\n]/.test(value)) {
    throw new UsageError(`Invalid -H "${text}": CR, LF or NUL in the value`);
  }
  return [name, value];
}

function parseSeconds(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(seconds > 0) || seconds > 86_400) {
    throw new UsageError(`Invalid ${flag} "${value}": expected seconds, more than 0`);
  }
  return Math.round(seconds * 1000);
}

export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args, {
    verbose: { type: "boolean", short: "v" },
    include: { type: "boolean", short: "i" },
    head: { type: "boolean", short: "I" },
    request: { type: "string", short: "X" },
    data: { type: "string", short: "d" },
    header: { type: "string", short: "H", multiple: true },
    output: { type: "string", short: "o" },
    location: { type: "boolean", short: "L" },
    "max-time": { type: "string" },
    dns: { type: "string" },
    "dns-port": { type: "string" },
    "trace-dns": { type: "boolean" },
    root: { type: "string" },
  });
  if (positionals.length !== 1) throw new UsageError("Expected exactly one URL");
  const method = values.request ?? (values.head ? "HEAD" : undefined);
  if (method !== undefined && !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(method)) {
    throw new UsageError(`Invalid -X "${method}": not an HTTP method token`);
  }
  const headers = (values.header ?? []).map(parseHeaderFlag);
  const maxTimeMs = parseSeconds(values["max-time"], "--max-time");
  const body = values.data === undefined
    ? undefined
    : values.data.startsWith("@")
    ? await readDataFile(values.data.slice(1))
    : new TextEncoder().encode(values.data);

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
  const output = values.output === undefined ? undefined : await openOutput(values.output);
  const sink: ByteWriter = output?.file ?? Deno.stdout;
  let pending: Promise<void> = Promise.resolve();
  const emit = (bytes: Uint8Array) => {
    pending = pending.then(() => writeAll(sink, bytes));
    return pending;
  };
  // The progress bar draws only when stderr is a terminal (it is a no-op otherwise).
  let progress: ProgressBar | undefined;
  let received = 0;

  using interrupt = interruptSignal();
  try {
    await httpRequest(positionals[0], {
      method,
      headers,
      body,
      followRedirects: values.location,
      dns,
      maxTimeMs,
      signal: interrupt,
      onEvent(event) {
        if (values.verbose) { for (const line of formatEvent(event)) printError(line); }
        if (event.type === "response" && include) {
          // A failed write surfaces when `pending` is awaited below.
          emit(encodeLatin1(responseHeadText(event.head))).catch(() => {});
        }
        if (event.type === "response" && output && !(values.location && willFollow(event.head))) {
          progress = createProgressBar(values.output!, contentLength(event.head));
        }
      },
      onBody(chunk) {
        if (headOnly) return;
        received += chunk.length;
        progress?.update(received);
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
    await output?.commit();
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
  for (const [name, value] of head.headers) lines.push(`${name}: ${value}`);
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

/** `-o FILE`: the body goes to a temp file beside FILE, renamed over it only when complete. */
interface Output {
  file: Deno.FsFile;
  commit(): Promise<void>;
  discard(): Promise<void>;
}

async function openOutput(path: string): Promise<Output> {
  // A hidden sibling: same directory, so the final rename is atomic and never crosses devices.
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "." : path.slice(0, slash) || "/";
  const base = slash < 0 ? path : path.slice(slash + 1);
  const tempPath = `${dir}/.${base}.${crypto.randomUUID().slice(0, 8)}.part`;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(tempPath, { write: true, createNew: true, mode: 0o666 });
  } catch (error) {
    throw new HttpClientError(`Cannot write "${path}": ${errorMessage(error)}`, EXIT.WRITE_ERROR);
  }
  let closed = false;
  const close = () => {
    if (!closed) file.close();
    closed = true;
  };
  return {
    file,
    async commit() {
      close();
      await Deno.rename(tempPath, path);
    },
    async discard() {
      close();
      await Deno.remove(tempPath).catch(() => {});
    },
  };
}

if (import.meta.main) await runMain(USAGE, main);
