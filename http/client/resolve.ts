/**
 * Which IP the client connects to: an IP literal as it is, `localhost` as 127.0.0.1 (RFC 6761),
 * any other name through netlab's own resolver (dns/resolver/iterative.ts) — a stub query to a recursive
 * server, or the walk down from the root servers — never the operating system's. Given a trust
 * anchor, the address is validated with DNSSEC first (dns/dnssec/) and a Bogus one refused.
 */
import { formatHostPort } from "../../tcp/kit/cli.ts";
import { IterativeResolver } from "../../dns/resolver/iterative.ts";
import {
  type QueryOptions,
  type Resolution,
  ResolveError,
  StubResolver,
} from "../../dns/resolver/stub.ts";
import type { ResolverEvent } from "../../dns/resolver/trace.ts";
import { type Validation, Validator } from "../../dns/dnssec/validator.ts";
import { stubFetch, ValidatingResolver } from "../../dns/dnssec/validating_resolver.ts";
import { DNS_PORT, NoReplyError, type TryProgress } from "../../dns/resolver/transport.ts";
import { DnsFormatError } from "../../dns/wire/primitives.ts";
import { normalizeName } from "../../dns/wire/names.ts";
import { RCODE, rcodeName, TYPE } from "../../dns/wire/constants.ts";
import type { HttpUrl } from "../core/url.ts";
import {
  type DnsOptions,
  type DnsStep,
  EXIT,
  HttpClientError,
  type HttpRequestOptions,
} from "./types.ts";

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

/** One lookup, and its DNSSEC verdict when the client validates. */
interface Lookup {
  resolve(
    name: string,
    type: number,
    options: { signal?: AbortSignal },
  ): Promise<{ resolution: Resolution; validation?: Validation }>;
}

/**
 * How names are looked up: iteratively from `roots`, or by asking `server` (RD set) — with
 * `anchors`, every answer validated: from the root down by the iterative resolver, or through
 * the server with DO and CD set (it hands over the signatures, we judge them: delv's way).
 */
function lookupFor(
  dns: DnsOptions,
  sending: QueryOptions & { port: number },
  emit: (step: DnsStep) => void,
): Lookup | undefined {
  const port = sending.port;
  const anchors = dns.anchors?.length ? dns.anchors : undefined;
  if (dns.roots?.length) {
    const options = {
      roots: dns.roots,
      ...sending,
      onEvent: (event: ResolverEvent) => emit({ kind: "iterative", event }),
    };
    if (anchors) return new ValidatingResolver({ ...options, anchors });
    const iterative = new IterativeResolver(options);
    return { resolve: async (n, t, o) => ({ resolution: await iterative.resolve(n, t, o) }) };
  }
  if (!dns.server) return undefined;
  const server = dns.server;
  const stub = new StubResolver(server, {
    ...sending,
    dnssec: !!anchors,
    checkingDisabled: !!anchors,
  });
  const validator = anchors && new Validator(stubFetch(server, sending), { anchors });
  return {
    async resolve(name, type, opts) {
      emit({ kind: "stub-query", server, port, name: normalizeName(name), qtype: type });
      const resolution = await stub.resolve(name, type, opts);
      emit({ kind: "stub-answer", resolution });
      if (!validator) return { resolution };
      const { rcode, answers, authorities } = resolution;
      const validation = await validator.validate(normalizeName(name), type, {
        rcode,
        answers,
        authorities,
      });
      return { resolution, validation };
    },
  };
}

/** Asks netlab's resolver for the name's first IPv4 address (else IPv6), reporting each step. */
async function lookupWithDns(
  host: string,
  options: HttpRequestOptions,
  signal: AbortSignal | undefined,
): Promise<string> {
  const emit = (step: DnsStep) => options.onEvent?.({ type: "dns", step });
  const dns = options.dns ?? {};
  // Every query is a wait for one server; its tries are the same wait going on.
  const onProgress = options.waits && ((progress: TryProgress) => {
    if (progress.kind !== "sent") return;
    const tries = progress.tries > 1 ? ` (try ${progress.attempt} of ${progress.tries})` : "";
    options.waits!.waiting(
      `the DNS server ${formatHostPort(progress.server, progress.port)}${tries}`,
      { continues: progress.attempt > 1 },
    );
  });
  const sending = { port: dns.port ?? DNS_PORT, sockets: dns.sockets, onProgress };
  const resolver = lookupFor(dns, sending, emit);
  if (!resolver) {
    throw new HttpClientError(
      `Could not resolve host "${host}": no DNS server (use --dns HOST[:PORT])`,
      EXIT.COULDNT_RESOLVE_HOST,
    );
  }
  try {
    // A first (what seed 000's 127.0.0.x world has), AAAA only when there is no A record.
    for (const type of [TYPE.A, TYPE.AAAA]) {
      const { resolution, validation } = await resolver.resolve(host, type, { signal });
      if (validation) {
        emit({ kind: "validated", name: resolution.name, qtype: type, validation });
        if (validation.verdict === "bogus" || validation.verdict === "indeterminate") {
          throw new HttpClientError(
            `Could not resolve host "${host}": DNSSEC says the answer is ${validation.verdict}: ${validation.reason}`,
            EXIT.COULDNT_RESOLVE_HOST,
          );
        }
      }
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
