/**
 * How a step of an iterative resolution is shown: the hop lines of `dig +trace` (what
 * `query.ts +trace` prints and the local DNS server's `--explain` repeats per client question)
 * and the same step as a `--json` event in the shared schema of `tcp/kit/report.ts`. Pure: events
 * of `dns/resolver/iterative.ts` in, text and fields out.
 */
import { className, opcodeName, rcodeName, TYPE, typeName } from "../wire/constants.ts";
import { formatRdata, formatRecord, type ResourceRecord } from "../wire/rdata.ts";
import { fullRcode } from "../wire/edns.ts";
import { type Message } from "../wire/message.ts";
import type { DnsExchange } from "./transport.ts";

// ---------------------------------------------------------------------------------------------
// The steps of a resolution (what dns/resolver/iterative.ts reports).

/** A server the resolver talks to: its NS name (or address) and address. */
export interface ServerRef {
  name: string;
  address: string;
  port: number;
  /**
   * How the resolver came to know this server's address — the reason it is asked: a built-in
   * root hint, a root given with `--root`, glue in the referral just received, an earlier reply
   * (cached), a separate resolution of an NS name that came without glue, or `--forward`.
   */
  source?: ServerSource;
  /** The zone whose server told us about it (the referring zone, or who sent the cached data). */
  via?: string;
}

/** See `ServerRef.source`. */
export type ServerSource =
  | "root-hint"
  | "root-option"
  | "glue"
  | "cache"
  | "resolved"
  | "forwarder";

/**
 * Why `server` is asked about `zone`, in one sentence (what `+trace --explain` prints before
 * each query). `attempt` > 0 means the servers before it gave no usable reply.
 */
export function serverReason(zone: string, server: ServerRef, attempt = 0): string {
  const zoneText = zone === "." ? `"." (the root)` : `"${zone}"`;
  const via = server.via === "." ? `"." (the root)` : `"${server.via}"`;
  let reason: string;
  switch (server.source) {
    case "root-hint":
      reason =
        `${zoneText} is where every lookup starts: ${server.name} (${server.address}) is one of the 13 built-in root hints`;
      break;
    case "root-option":
      reason =
        `${zoneText} is where every lookup starts: ${server.address} is the root server given (--root)`;
      break;
    case "glue":
      reason =
        `the referral from ${via} named ${server.name} as a name server of ${zoneText} and carried its address ${server.address} (glue)`;
      break;
    case "resolved":
      reason =
        `the referral from ${via} named ${server.name} as a name server of ${zoneText} without glue; its address ${server.address} was resolved separately`;
      break;
    case "cache":
      reason =
        `${server.name} serves ${zoneText}; its address ${server.address} is cached from an earlier reply${
          server.via ? ` of a server for ${via}` : ""
        }`;
      break;
    case "forwarder":
      reason =
        `${server.address} is the forwarder given (--forward): it resolves the whole question for us`;
      break;
    default:
      reason = `${server.name} (${server.address}) serves ${zoneText}`;
  }
  return attempt > 0
    ? `${reason}; the server${attempt > 1 ? "s" : ""} before gave no usable reply`
    : reason;
}

/** What came back from one server, classified. */
export type Outcome = "priming" | "referral" | "answer" | "nxdomain" | "nodata" | "lame";

/** One step of an iterative resolution, for `+trace`, `--json` and `--explain`. */
export type ResolverEvent =
  | {
    kind: "query";
    zone: string;
    server: ServerRef;
    /** What this server is asked (with QNAME minimisation, only the labels it needs). */
    name: string;
    type: number;
    /** Under QNAME minimisation: the full question, which this server does not see. */
    question?: { name: string; type: number };
    /** Why this server: see `serverReason`. */
    reason: string;
    elapsedMs: number;
  }
  | {
    kind: "response";
    zone: string;
    server: ServerRef;
    outcome: Outcome;
    /** For a referral: the child zone we were sent to. */
    referral?: string;
    /** For a referral: the child's name servers (NS targets) and the glue addresses it carried. */
    nameservers?: string[];
    glue?: { name: string; address: string }[];
    /** Records the bailiwick check threw away, each with the reason. */
    dropped?: { record: ResourceRecord; reason: string }[];
    /** For a lame reply: what was wrong with it. */
    problem?: string;
    exchange: DnsExchange;
    elapsedMs: number;
  }
  | { kind: "no-reply"; zone: string; server: ServerRef; reason: string; elapsedMs: number }
  | { kind: "ns-lookup"; zone: string; nameserver: string; elapsedMs: number }
  | {
    kind: "cname";
    from: string;
    to: string;
    /**
     * The target's records when they came with the alias (the same reply or the cache); absent
     * when the target is looked up next.
     */
    answered?: ResourceRecord[];
    elapsedMs: number;
  }
  | {
    kind: "cache";
    name: string;
    type: number;
    /** The cached records (for a negative answer, the SOA). */
    records: ResourceRecord[];
    /** Set when the cache says "no": NXDOMAIN or NODATA (RFC 2308). */
    negative?: "NXDOMAIN" | "NODATA";
    /** The cached RRSIGs over these records (for a validator). */
    signatures?: ResourceRecord[];
    elapsedMs: number;
  };

// ---------------------------------------------------------------------------------------------
// How they are shown.

const FLAG_ORDER = ["qr", "aa", "tc", "rd", "ra", "ad", "cd"] as const;

/** The header flags that are set, in dig's order: `["qr", "aa", "rd"]`. */
export function flagList(message: Message): string[] {
  return FLAG_ORDER.filter((flag) => message.flags[flag]);
}

/** The records without the OPT pseudo-record (EDNS), which is not a record to print. */
export function withoutOpt(records: ResourceRecord[]): ResourceRecord[] {
  return records.filter((rr) => rr.type !== TYPE.OPT);
}

/** One record in the `--json` schema. */
export interface JsonRecord {
  name: string;
  type: string;
  class: string;
  ttl: number;
  data: string;
}

/** The `--json` object of one reply. */
export interface JsonReply {
  id: number;
  opcode: string;
  rcode: string;
  flags: string[];
  question: { name: string; type: string; class: string }[];
  answer: JsonRecord[];
  authority: JsonRecord[];
  additional: JsonRecord[];
  server: string;
  elapsed_ms: number;
  size: number;
}

/** A record as a `--json` object. */
export function jsonRecord(rr: ResourceRecord): JsonRecord {
  return {
    name: rr.name,
    type: typeName(rr.type),
    class: className(rr.class),
    ttl: rr.ttl,
    data: formatRdata(rr),
  };
}

/** The reply as the `--json` object (the OPT pseudo-record is not a record, so it is left out). */
export function toJson(result: DnsExchange): JsonReply {
  const msg = result.reply;
  return {
    id: msg.id,
    opcode: opcodeName(msg.flags.opcode),
    rcode: rcodeName(fullRcode(msg)),
    flags: flagList(msg),
    question: msg.questions.map((q) => ({
      name: q.name,
      type: typeName(q.type),
      class: className(q.class),
    })),
    answer: msg.answers.map(jsonRecord),
    authority: msg.authorities.map(jsonRecord),
    additional: withoutOpt(msg.additionals).map(jsonRecord),
    server: `${result.server}#${result.port}`,
    elapsed_ms: Math.round(result.elapsedMs * 1000) / 1000,
    size: result.bytes.length,
  };
}

/**
 * One `+trace` step the way dig prints it: the records, then `;; Received N bytes from …`, then
 * what the reply was — and what the bailiwick check threw away, if anything.
 */
export function formatTraceStep(event: Extract<ResolverEvent, { kind: "response" }>): string[] {
  const { exchange: result, server } = event;
  const msg = result.reply;
  const shown = msg.answers.length > 0 ? msg.answers : msg.authorities;
  const out = [...shown.map(formatRecord)];
  const via = server.name === server.address ? server.address : server.name.replace(/\.$/, "");
  out.push(
    `;; Received ${result.bytes.length} bytes from ${server.address}#${server.port}(${via}) in ${
      Math.round(result.elapsedMs)
    } ms`,
  );
  const glue = withoutOpt(msg.additionals).filter((rr) =>
    rr.type === TYPE.A || rr.type === TYPE.AAAA
  );
  const what: Record<Outcome, string> = {
    priming: `the root zone's name servers`,
    referral: `referral from "${event.zone}" to "${event.referral}"${
      glue.length
        ? ` with glue ${glue.map((rr) => `${rr.name} ${formatRdata(rr)}`).join(", ")}`
        : " (no glue)"
    }`,
    answer: `answer from "${event.zone}"${msg.flags.aa ? " (authoritative)" : ""}`,
    nxdomain: `"${msg.questions[0]?.name}" does not exist (NXDOMAIN from "${event.zone}")`,
    nodata: `no ${typeName(msg.questions[0]?.type ?? 0)} records (NODATA from "${event.zone}")`,
    lame: `unusable reply (${rcodeName(fullRcode(msg))}) from "${event.zone}"${
      event.problem ? `: ${event.problem}` : ""
    }`,
  };
  out.push(`;; ${what[event.outcome]}`);
  for (const { record, reason } of event.dropped ?? []) {
    out.push(`;; dropped ${formatRecord(record).replaceAll("\t", " ")}: ${reason}`);
  }
  out.push("");
  return out;
}

/** The `--json` event name of a step's outcome. */
function outcomeEvent(outcome: Outcome): string {
  return outcome === "referral" ? "referral" : outcome === "lame" ? "error" : "answer";
}

/** A step as one reported line: the text, the schema's event name and the fields. */
export interface TraceStep {
  text: string;
  event: string;
  fields: Record<string, unknown>;
}

/**
 * One resolver step as `+trace` shows it (`explain` adds why each server was chosen) and as a
 * `--json` event: `query`, `referral`, `answer`, `error` (lame, no reply) or `log`.
 */
export function traceStep(event: ResolverEvent, { explain = false } = {}): TraceStep {
  const at = { at_ms: Math.round(event.elapsedMs * 1000) / 1000 };
  switch (event.kind) {
    case "query": {
      const asked = `${event.name} ${typeName(event.type)}`;
      const minimised = event.question
        ? ` (QNAME minimisation: only what this server needs, not ${event.question.name} ${
          typeName(event.question.type)
        })`
        : "";
      const text =
        `;; zone "${event.zone}": asking ${event.server.name} (${event.server.address}#${event.server.port}) for ${asked}${minimised}`;
      return {
        text: explain ? `${text}\n;; why this server: ${event.reason}` : text,
        event: "query",
        fields: {
          zone: event.zone,
          server: `${event.server.address}#${event.server.port}`,
          server_name: event.server.name,
          // How the address was known (glue, a separate lookup when glueless, …): see `reason`.
          ...(event.server.source ? { source: event.server.source } : {}),
          name: event.name,
          type: typeName(event.type),
          ...(event.question
            ? { question: `${event.question.name} ${typeName(event.question.type)}` }
            : {}),
          reason: event.reason,
          ...at,
        },
      };
    }
    case "response": {
      const msg = event.exchange.reply;
      const shown = msg.answers.length > 0 ? msg.answers : msg.authorities;
      const fields: Record<string, unknown> = {
        ...toJson(event.exchange),
        zone: event.zone,
        outcome: event.outcome,
        protocol: event.exchange.protocol,
        records: shown.map(jsonRecord),
        ...at,
      };
      if (event.referral) fields.referral = event.referral;
      if (event.nameservers) fields.nameservers = event.nameservers;
      if (event.glue) fields.glue = event.glue;
      if (event.problem) fields.problem = event.problem;
      if (event.dropped) {
        fields.dropped = event.dropped.map((d) => ({ ...jsonRecord(d.record), reason: d.reason }));
      }
      return {
        text: formatTraceStep(event).join("\n"),
        event: outcomeEvent(event.outcome),
        fields,
      };
    }
    case "no-reply":
      return {
        text: `;; no reply from ${event.server.address}#${event.server.port}: ${event.reason}`,
        event: "error",
        fields: {
          zone: event.zone,
          server: `${event.server.address}#${event.server.port}`,
          reason: event.reason,
          ...at,
        },
      };
    case "ns-lookup":
      return {
        text:
          `;; "${event.zone}" came without glue: resolving its name server ${event.nameserver} first`,
        event: "log",
        fields: { zone: event.zone, nameserver: event.nameserver, ...at },
      };
    case "cname": {
      const alias = `;; ${event.from} is an alias (CNAME) for ${event.to}`;
      if (!event.answered) {
        return {
          text: `${alias}: following it`,
          event: "log",
          fields: { from: event.from, to: event.to, ...at },
        };
      }
      // Nothing more to ask: the story ends with the records the alias leads to.
      return {
        text: [`${alias}, whose records came with it:`, ...event.answered.map(formatRecord)]
          .join("\n"),
        event: "log",
        fields: { from: event.from, to: event.to, records: event.answered.map(jsonRecord), ...at },
      };
    }
    case "cache": {
      const what = event.negative
        ? `"no" (${event.negative}) from the cache, ${event.records[0]?.ttl ?? 0} s left`
        : `from the cache, ${event.records[0]?.ttl ?? 0} s left`;
      return {
        text: `;; ${event.name} ${typeName(event.type)} ${what}`,
        event: "log",
        fields: {
          name: event.name,
          type: typeName(event.type),
          ...(event.negative ? { negative: event.negative } : {}),
          records: event.records.map(jsonRecord),
          ...at,
        },
      };
    }
  }
}
