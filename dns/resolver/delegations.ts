/**
 * Where to ask next: the servers of a zone, from the record cache. A zone's servers are its NS
 * names' addresses; decoding those records for every cold name under a known zone would cost
 * more than the walk's other work, so the decoded server lists of zones met lately are
 * remembered here — valid until the cache stores another NS or address RRset (its `generation`)
 * or the shortest TTL among them ends.
 */
import { TYPE } from "../wire/constants.ts";
import { ancestors } from "../wire/names.ts";
import type { CachedRRset, RecordCache } from "./cache.ts";
import { nsTargets } from "./cached_answers.ts";
import type { ServerRef } from "./trace.ts";

/** A zone and the servers to ask for it. */
export interface ZoneServers {
  zone: string;
  servers: ServerRef[];
}

/** Decoded server lists remembered at most (then the memory starts afresh). */
const MAX_REMEMBERED = 10_000;

/** The decoded servers of zones met lately (see the module comment). */
export class Delegations {
  readonly #known = new Map<string, ZoneServers & { expiresAt: number; generation: number }>();

  constructor(
    readonly cache: RecordCache,
    readonly port: number,
    readonly now: () => number,
  ) {}

  /** The remembered servers of `zone`, while still valid. */
  remembered(zone: string): ZoneServers | undefined {
    const known = this.#known.get(zone.toLowerCase());
    if (known && known.generation === this.cache.generation && known.expiresAt > this.now()) {
      return known;
    }
    return undefined;
  }

  /**
   * The closest zone above `name` whose decoded servers are remembered; undefined when a closer
   * zone has NS records in the cache that are not decoded yet.
   */
  closestRemembered(name: string): ZoneServers | undefined {
    for (const zone of ancestors(name)) {
      const known = this.remembered(zone);
      if (known) return known;
      if (this.cache.peek(zone, TYPE.NS)) return undefined;
    }
    return undefined;
  }

  /**
   * The servers of `zone` whose addresses the cache holds, from its cached NS records (then
   * remembered); undefined when the cache has no NS records for it, an empty list when it has
   * no address for any of them.
   */
  fromCache(zone: string): (ZoneServers & { names: string[] }) | undefined {
    const ns = this.cache.get(zone, TYPE.NS);
    if (!ns) return undefined;
    const names = nsTargets(ns.records);
    const servers = this.addresses(names);
    if (servers.length > 0) {
      const ttl = Math.min(ns.ttl, ...servers.map((s) => s.ttl ?? ns.ttl));
      if (this.#known.size >= MAX_REMEMBERED) this.#known.clear();
      this.#known.set(zone.toLowerCase(), {
        zone: ns.name,
        servers,
        expiresAt: this.now() + ttl * 1000,
        generation: this.cache.generation,
      });
    }
    return { zone: ns.name, servers, names };
  }

  /** The cached IPv4 addresses of the name servers `nsNames`, as servers to ask. */
  addresses(nsNames: string[]): (ServerRef & { ttl?: number })[] {
    return nsNames.flatMap((nsName) => {
      const entry: CachedRRset | undefined = this.cache.get(nsName, TYPE.A);
      return (entry?.records ?? []).flatMap((rr) =>
        rr.data.kind === "A"
          ? [{
            name: nsName,
            address: rr.data.address,
            port: this.port,
            source: "cache" as const,
            via: entry?.zone,
            ttl: entry?.ttl,
          }]
          : []
      );
    });
  }
}
