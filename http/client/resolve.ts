/**
 * Which IP the client connects to: an IP literal as it is, `localhost` as 127.0.0.1 (RFC 6761),
 * any other name through netlab's own resolver (dns/resolver/iterative.ts) — a stub query to a recursive
 * server, or the walk down from the root servers — never the operating system's.
 */
import { formatHostPort } from "../../tcp/kit/cli.ts";
import { IterativeResolver } from "../../dns/resolver/iterative.ts";
import { type Resolution, ResolveError, StubResolver } from "../../dns/resolver/stub.ts";
import { DNS_PORT, NoReplyError, type TryProgress } from "../../dns/resolver/transport.ts";
import { DnsFormatError } from "../../dns/wire/primitives.ts";
import { normalizeName } from "../../dns/wire/names.ts";
import { RCODE, rcodeName, TYPE } from "../../dns/wire/constants.ts";
import type { HttpUrl } from "../core/url.ts";
import { type DnsStep, EXIT, HttpClientError, type HttpRequestOptions } from "./types.ts";

/** Picks the IP to connect to: literals as they are, `localhost` as 127.0.0.1, names via DNS. */
export async function resolveAddress(
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
  // Every query is a wait for one server; its tries are the same wait going on.
  const onProgress = options.waits && ((progress: TryProgress) => {
    if (progress.kind !== "sent") return;
    const tries = progress.tries > 1 ? ` (try ${progress.attempt} of ${progress.tries})` : "";
    options.waits!.waiting(
      `the DNS server ${formatHostPort(progress.server, progress.port)}${tries}`,
      { continues: progress.attempt > 1 },
    );
  });
  const sending = { port, sockets: dns.sockets, onProgress };
  let resolver: { resolve(n: string, t: number, o: { signal?: AbortSignal }): Promise<Resolution> };
  if (dns.roots?.length) {
    resolver = new IterativeResolver({
      roots: dns.roots,
      ...sending,
      onEvent: (event) => emit({ kind: "iterative", event }),
    });
  } else if (dns.server) {
    const stub = new StubResolver(dns.server, sending);
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
  } finally {
    options.waits?.done();
  }
  throw new HttpClientError(
    `Could not resolve host "${host}": no address records`,
    EXIT.COULDNT_RESOLVE_HOST,
  );
}
