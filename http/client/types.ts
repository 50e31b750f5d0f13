/**
 * What the HTTP client's modules share and its callers see: the curl exit codes, the request
 * options, the response, and the events of each step (URL, DNS, connect, request, response,
 * body, redirect) that `-v`, `--json`, `--explain` and the demo print.
 */
import { CliError } from "../../tcp/kit/cli.ts";
import type { Resolution } from "../../dns/resolver/stub.ts";
import type { ResolverEvent } from "../../dns/resolver/trace.ts";
import type { TrustAnchor } from "../../dns/dnssec/validate.ts";
import type { Validation } from "../../dns/dnssec/validator.ts";
import type { HttpUrl } from "../core/url.ts";
import type { FreshSockets } from "../../udp/core/fresh_sockets.ts";
import type { WaitListener } from "../../tcp/kit/wait_notice.ts";

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
  /**
   * Where the DNS queries' UDP sockets come from: the Linux layer's connected sockets (a closed
   * port is refused at once) or null, Deno's own (silence until the timeout); see
   * dns/resolver/transport.ts.
   */
  sockets?: FreshSockets | null;
  /**
   * Validate the address with DNSSEC from these trust anchors (`--trust-anchor FILE`): a Bogus
   * answer is refused (exit 6) instead of connected to.
   */
  anchors?: TrustAnchor[];
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
  | { kind: "iterative"; event: ResolverEvent }
  | { kind: "validated"; name: string; qtype: number; validation: Validation };

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
  /** Header fields in wire order (names lower-cased by the parser; --explain shows them raw). */
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
  /** Told what the request waits for (DNS, the connection, the response) as each wait begins. */
  waits?: WaitListener;
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

/** One exchange's response as read (before redirects are followed). */
export interface Exchange extends ResponseHead {
  head: ResponseHead;
  url: string;
  body: Uint8Array;
  bodyBytes: number;
  framing: BodyFraming;
  address: string;
  timings: Timings;
}

/** The moments an exchange has passed so far (performance.now() values). */
export interface Marks {
  start: number;
  dns: number;
  connect: number;
  sent: number;
  firstByte: number;
}
