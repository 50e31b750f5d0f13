/**
 * Fake DNS servers that live inside a test: a tiny authoritative function per loopback address
 * (one shared port, UDP and optionally TCP), so every referral, missing glue, CNAME, loop, forged
 * or junk reply is exactly what the test says it is. Each server counts what it was asked.
 */
import { CLASS, RCODE, TYPE } from "../dns/wire/constants.ts";
import { decodeMessage, encodeMessage, type Message } from "../dns/wire/message.ts";
import { isSubdomain, namesEqual } from "../dns/wire/names.ts";
import { type ResourceRecord } from "../dns/wire/rdata.ts";
import { encodeLengthPrefixed, LengthPrefixDecoder } from "../tcp/core/framing.ts";
import { writeAll } from "../tcp/core/io.ts";

// ---------------------------------------------------------------------------------------------
// Records.

export const rr = (
  name: string,
  ttl: number,
  data: ResourceRecord["data"],
  type: number,
): ResourceRecord => ({ name, type, class: CLASS.IN, ttl, data });
export const a = (name: string, address: string, ttl = 300): ResourceRecord =>
  rr(name, ttl, { kind: "A", address }, TYPE.A);
export const ns = (name: string, target: string, ttl = 3600): ResourceRecord =>
  rr(name, ttl, { kind: "NS", target }, TYPE.NS);
export const cname = (name: string, target: string, ttl = 300): ResourceRecord =>
  rr(name, ttl, { kind: "CNAME", target }, TYPE.CNAME);
export const txt = (name: string, text: string, ttl = 300): ResourceRecord =>
  rr(name, ttl, { kind: "TXT", strings: [new TextEncoder().encode(text)] }, TYPE.TXT);
export const soa = (zone: string, minimum = 60, ttl = 300): ResourceRecord =>
  rr(zone, ttl, {
    kind: "SOA",
    mname: `ns.${zone}`,
    rname: `hostmaster.${zone}`,
    serial: 1,
    refresh: 3600,
    retry: 900,
    expire: 604800,
    minimum,
  }, TYPE.SOA);

/** A reply to `query` with the given sections (AA and rcode optional). */
export function response(
  query: Message,
  parts: Partial<Message> & { aa?: boolean; rcode?: number },
): Message {
  return {
    id: query.id,
    flags: { ...query.flags, qr: true, aa: parts.aa ?? false, ra: false, rcode: parts.rcode ?? 0 },
    questions: query.questions,
    answers: parts.answers ?? [],
    authorities: parts.authorities ?? [],
    additionals: parts.additionals ?? [],
  };
}

/**
 * A minimal authoritative server for `zone`: exact answers (AA), CNAME, referrals for NS records
 * below the apex (glue only from this zone's own records), NXDOMAIN/NODATA with the SOA.
 */
export function authority(zone: string, records: ResourceRecord[]): Handler {
  return (query) => {
    const q = query.questions[0];
    if (!isSubdomain(q.name, zone)) return response(query, { rcode: RCODE.REFUSED });
    // A delegation point between the apex and the name wins over anything below it.
    const cut = records.find((r) =>
      r.type === TYPE.NS && !namesEqual(r.name, zone) && isSubdomain(q.name, r.name)
    );
    if (cut) {
      const nsSet = records.filter((r) => r.type === TYPE.NS && namesEqual(r.name, cut.name));
      const glue = records.filter((r) =>
        r.type === TYPE.A &&
        nsSet.some((n) => n.data.kind === "NS" && namesEqual(n.data.target, r.name))
      );
      return response(query, { authorities: nsSet, additionals: glue });
    }
    const atName = records.filter((r) => namesEqual(r.name, q.name));
    const exact = atName.filter((r) => r.type === q.type);
    if (exact.length) return response(query, { aa: true, answers: exact });
    const alias = atName.find((r) => r.type === TYPE.CNAME);
    if (alias) return response(query, { aa: true, answers: [alias] });
    const exists = records.some((r) => isSubdomain(r.name, q.name));
    return response(query, {
      aa: true,
      rcode: exists ? RCODE.NOERROR : RCODE.NXDOMAIN,
      authorities: [records.find((r) => r.type === TYPE.SOA) ?? soa(zone)],
    });
  };
}

// ---------------------------------------------------------------------------------------------
// Servers.

/** What a fake server saw of one query. */
export interface Seen {
  host: string;
  name: string;
  type: number;
  id: number;
  /** The client's source port. */
  port: number;
  transport: "udp" | "tcp";
  query: Message;
}

/**
 * Answers one query: a message (encoded for you), raw bytes (sent as they are), an array of
 * either (each sent in turn), or undefined (silence). May be async (to hold a reply back).
 */
export type Handler = (
  query: Message,
  seen: Seen,
) =>
  | Message
  | Uint8Array
  | (Message | Uint8Array)[]
  | undefined
  | Promise<Message | Uint8Array | (Message | Uint8Array)[] | undefined>;

/** Fake servers on loopback addresses sharing one port. */
export interface FakeNet extends AsyncDisposable {
  port: number;
  /** Every query received, as `host name type`. */
  log: string[];
  /** Every query received, in detail. */
  seen: Seen[];
  /** The UDP socket of each host (to send forged datagrams from the right address). */
  sockets: Map<string, Deno.DatagramConn>;
}

function bindAll(hosts: string[], tcp: boolean): [Deno.DatagramConn[], Deno.TcpListener[]] {
  for (let attempt = 0; attempt < 20; attempt++) {
    const first = Deno.listenDatagram({ transport: "udp", hostname: hosts[0], port: 0 });
    const port = (first.addr as Deno.NetAddr).port;
    const sockets = [first];
    const listeners: Deno.TcpListener[] = [];
    try {
      for (const hostname of hosts.slice(1)) {
        sockets.push(Deno.listenDatagram({ transport: "udp", hostname, port }));
      }
      if (tcp) { for (const hostname of hosts) listeners.push(Deno.listen({ hostname, port })); }
      return [sockets, listeners];
    } catch (error) {
      for (const s of [...sockets, ...listeners]) s.close();
      if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    }
  }
  throw new Error("no shared port");
}

function toWire(reply: Message | Uint8Array): Uint8Array {
  return reply instanceof Uint8Array ? reply : encodeMessage(reply);
}

function closedError(error: unknown): boolean {
  return error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted ||
    error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.BrokenPipe;
}

/** Starts one fake server per key of `handlers` (a loopback address), all on one port. */
export function startFakeNet(
  handlers: Record<string, Handler>,
  { tcp = false }: { tcp?: boolean } = {},
): FakeNet {
  const hosts = Object.keys(handlers);
  const [sockets, listeners] = bindAll(hosts, tcp);
  const log: string[] = [];
  const seen: Seen[] = [];
  const record = (host: string, query: Message, port: number, transport: "udp" | "tcp"): Seen => {
    const q = query.questions[0];
    log.push(`${host} ${q?.name} ${q?.type}`);
    const entry = { host, name: q?.name, type: q?.type, id: query.id, port, transport, query };
    seen.push(entry);
    return entry;
  };
  const tasks: Promise<unknown>[] = [];
  const udpLoops = sockets.map(async (socket, i) => {
    const host = hosts[i];
    try {
      for await (const [data, from] of socket) {
        let query: Message;
        try {
          query = decodeMessage(data);
        } catch {
          continue;
        }
        const entry = record(host, query, (from as Deno.NetAddr).port, "udp");
        const task = (async () => {
          const reply = await handlers[host](query, entry);
          for (const one of reply === undefined ? [] : Array.isArray(reply) ? reply : [reply]) {
            await socket.send(toWire(one), from);
          }
        })().catch((error) => {
          if (!closedError(error)) throw error;
        });
        tasks.push(task);
      }
    } catch (error) {
      if (!closedError(error)) throw error;
    }
  });
  const conns = new Set<Deno.Conn>();
  const tcpLoops = listeners.map(async (listener, i) => {
    const host = hosts[i];
    try {
      for await (const conn of listener) {
        conns.add(conn);
        tasks.push(
          (async () => {
            const decoder = new LengthPrefixDecoder({ prefixBytes: 2 });
            const buf = new Uint8Array(4096);
            try {
              while (true) {
                const n = await conn.read(buf);
                if (n === null) break;
                for (const frame of decoder.push(buf.subarray(0, n))) {
                  const query = decodeMessage(frame);
                  const entry = record(host, query, (conn.remoteAddr as Deno.NetAddr).port, "tcp");
                  const reply = await handlers[host](query, entry);
                  for (
                    const one of reply === undefined ? [] : Array.isArray(reply) ? reply : [reply]
                  ) {
                    await writeAll(conn, encodeLengthPrefixed(toWire(one), { prefixBytes: 2 }));
                  }
                }
              }
            } catch (error) {
              if (!closedError(error)) throw error;
            } finally {
              conns.delete(conn);
              try {
                conn.close();
              } catch { /* closed */ }
            }
          })(),
        );
      }
    } catch (error) {
      if (!closedError(error)) throw error;
    }
  });
  return {
    port: (sockets[0].addr as Deno.NetAddr).port,
    log,
    seen,
    sockets: new Map(hosts.map((h, i) => [h, sockets[i]])),
    async [Symbol.asyncDispose]() {
      for (const s of [...sockets, ...listeners, ...conns]) {
        try {
          s.close();
        } catch { /* closed */ }
      }
      await Promise.all([...udpLoops, ...tcpLoops]);
      await Promise.allSettled(tasks);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// A fake Internet.

/** Where `fakeHierarchy`'s four servers listen. */
export const HIERARCHY = {
  root: "127.0.0.11",
  tld: "127.0.0.12",
  example: "127.0.0.13",
  other: "127.0.0.14",
} as const;

/** `.` → `test.` → `example.test.` with glue; `noglue.test.` served by a name in example.test. */
export function fakeHierarchy(): FakeNet {
  return startFakeNet({
    [HIERARCHY.root]: authority(".", [
      ns(".", "ns.root."),
      ns("test.", "ns.test."),
      a("ns.test.", HIERARCHY.tld),
    ]),
    [HIERARCHY.tld]: authority("test.", [
      ns("test.", "ns.test."),
      a("ns.test.", HIERARCHY.tld),
      ns("example.test.", "ns1.example.test."),
      a("ns1.example.test.", HIERARCHY.example),
      // No glue: the name server lives in another zone, so its address must be looked up.
      ns("noglue.test.", "ns.example.test."),
      // Each zone's server is named inside the other zone: neither can ever be reached.
      ns("loop1.test.", "ns.loop2.test."),
      ns("loop2.test.", "ns.loop1.test."),
    ]),
    [HIERARCHY.example]: authority("example.test.", [
      ns("example.test.", "ns1.example.test."),
      a("ns1.example.test.", HIERARCHY.example),
      a("ns.example.test.", HIERARCHY.other),
      a("www.example.test.", "192.0.2.1", 120),
      cname("alias.example.test.", "www.noglue.test."),
    ]),
    [HIERARCHY.other]: authority("noglue.test.", [
      ns("noglue.test.", "ns.example.test."),
      a("www.noglue.test.", "192.0.2.2"),
    ]),
  });
}
