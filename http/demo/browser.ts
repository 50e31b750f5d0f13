/**
 * The browser's side of the demo: one page fetched with netlab's HTTP client (http/client/),
 * whose host name goes to the local DNS server — seed 000's (a) DNS over UDP, then (b) TCP and
 * HTTP — and, for the second visit, the same name looked up on its own.
 *
 * Theory of operation: `httpRequest` reports each step as it happens (`onEvent`). The demo tells
 * the story only after the page has arrived — the local DNS server's side of the lookup is known
 * only once it has answered — so this module keeps the events the narration prints: the DNS
 * answer and how long the lookup took, the TCP connection, the request head, the response head
 * and how its body was framed. Under `--explain` it also keeps the DNS views and the raw HTTP bytes
 * (`WireRecorder`); without it, nothing is recorded that would not be printed.
 */
import { type Resolution, StubResolver } from "../../dns/resolver/stub.ts";
import { TYPE } from "../../dns/wire/constants.ts";
import type { ResourceRecord } from "../../dns/wire/rdata.ts";
import { explainDnsStep, WireRecorder } from "../client/output.ts";
import { httpRequest } from "../client/request.ts";
import type { ClientEvent, HttpResponse } from "../client/types.ts";
import type { HttpUrl } from "../core/url.ts";

/** One kind of the client's events. */
type EventOf<T extends ClientEvent["type"]> = Extract<ClientEvent, { type: T }>;

/** What the browser saw while it fetched one page. */
export interface Visit {
  response: HttpResponse;
  /** From the start of the request until the name was resolved, in milliseconds. */
  dnsMs: number;
  /** The records the local DNS server answered with. */
  dnsAnswers: ResourceRecord[];
  /** The DNS query and reply as annotated views (`--explain` only). */
  dnsViews: string[];
  connect?: EventOf<"connect">;
  request?: EventOf<"request">;
  head?: EventOf<"response">;
  body?: EventOf<"body">;
  /** The request and response bytes (recorded under `--explain` only). */
  wire: WireRecorder;
}

/** Options for `visitPage`. */
export interface VisitOptions {
  signal?: AbortSignal;
  /** Keep what `--explain` shows: the DNS views and the HTTP bytes. */
  explaining?: boolean;
}

/** Fetches `url`, asking the DNS server at `dns` for its host name. */
export async function visitPage(
  url: HttpUrl,
  dns: { host: string; port: number },
  { signal, explaining = false }: VisitOptions = {},
): Promise<Visit> {
  const wire = new WireRecorder();
  const seen: Omit<Visit, "response"> = { dnsMs: 0, dnsAnswers: [], dnsViews: [], wire };
  let dnsStarted = 0;
  const response = await httpRequest(url, {
    dns: { server: dns.host, port: dns.port },
    signal,
    onWire: explaining ? (direction, bytes) => wire.record(direction, bytes) : undefined,
    onEvent(event) {
      switch (event.type) {
        case "url":
          dnsStarted = performance.now();
          break;
        case "dns":
          if (event.step.kind === "stub-answer") seen.dnsAnswers = event.step.resolution.answers;
          if (explaining) seen.dnsViews.push(...explainDnsStep(event.step));
          break;
        case "resolved":
          seen.dnsMs = performance.now() - dnsStarted;
          break;
        case "connect":
          seen.connect = event;
          break;
        case "request":
          seen.request = event;
          break;
        case "response":
          seen.head = event;
          break;
        case "body":
          seen.body = event;
          break;
      }
    },
  });
  return { ...seen, response };
}

/** Asks the DNS server at `dns` for the A records of `host`, as the browser does on its next visit. */
export async function lookUp(
  host: string,
  dns: { host: string; port: number },
  { signal }: { signal?: AbortSignal } = {},
): Promise<Resolution> {
  return await new StubResolver(dns.host, { port: dns.port }).resolve(host, TYPE.A, { signal });
}
