/**
 * `resolveHost`: what an HTTP client needs from DNS — a host name's addresses, IPv4 first. IP
 * literals come back as they are and `localhost` is answered locally; any other name is asked of
 * a recursive server (the stub resolver, `resolver/stub.ts`), or resolved from the root
 * (`resolver/iterative.ts`) when asked to.
 */
import { RCODE, rcodeName, TYPE } from "../wire/constants.ts";
import { isIpAddress } from "../wire/addresses.ts";
import {
  type QueryOptions,
  type Resolution,
  ResolveError,
  StubResolver,
  systemNameserver,
} from "./stub.ts";
import { IterativeResolver } from "./iterative.ts";

/** Options for `resolveHost`. */
export interface ResolveHostOptions extends QueryOptions {
  /** Recursive server to ask (default: the first nameserver in /etc/resolv.conf). */
  server?: string;
  /** Resolve from the root instead of asking a recursive server. */
  iterative?: boolean;
  /** Root server addresses for `iterative` (default: the 13 real roots). */
  roots?: string[];
  /** Reuse a resolver (and its cache) across calls. */
  resolver?: IterativeResolver;
  signal?: AbortSignal;
}

/**
 * A host name's addresses (IPv4 first, then IPv6). IP literals are returned as they are and
 * `localhost` is answered locally. Throws `ResolveError` when the name has no address.
 */
export async function resolveHost(
  name: string,
  options: ResolveHostOptions = {},
): Promise<string[]> {
  const bare = name.replace(/^\[(.*)\]$/, "$1");
  if (isIpAddress(bare)) return [bare];
  if (/^localhost\.?$/i.test(bare)) return ["127.0.0.1", "::1"];
  const resolver: {
    resolve(n: string, t: number, o: { signal?: AbortSignal }): Promise<Resolution>;
  } = options.iterative || options.roots
    ? options.resolver ?? new IterativeResolver(options)
    : new StubResolver(options.server ?? await systemNameserver(), options);
  const [v4, v6] = await Promise.all(
    [TYPE.A, TYPE.AAAA].map((type) => resolver.resolve(bare, type, { signal: options.signal })),
  );
  const addresses = [...v4.answers, ...v6.answers].flatMap((rr) =>
    rr.data.kind === "A" || rr.data.kind === "AAAA" ? [rr.data.address] : []
  );
  if (addresses.length === 0) {
    const why = v4.rcode === RCODE.NXDOMAIN
      ? "no such name (NXDOMAIN)"
      : v4.rcode === RCODE.NOERROR
      ? "no address records (NODATA)"
      : `the server answered ${rcodeName(v4.rcode)}`;
    throw new ResolveError(`Cannot resolve "${bare}": ${why}`);
  }
  return addresses;
}
