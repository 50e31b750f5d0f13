/**
 * What the client prints about a transfer: the `-v` lines (curl's `*`, `>`, `<` markers), the
 * `--json` events, the `--explain` wire views, and the `-w` timings with their waterfall.
 */
import { concatBytes } from "../../tcp/core/io.ts";
import { formatAddr, formatHostPort } from "../../tcp/kit/cli.ts";
import type { Fields } from "../../tcp/kit/report.ts";
import { explainMessage } from "../../dns/wire/describe.ts";
import type { ResolverEvent } from "../../dns/resolver/trace.ts";
import { formatRecord, type ResourceRecord } from "../../dns/wire/rdata.ts";
import { rcodeName, typeName } from "../../dns/wire/constants.ts";
import { verdictLine } from "../../dns/dnssec/validator.ts";
import { explainHttp } from "../core/describe.ts";
import { describeUrl } from "../core/url.ts";
import type { BodyFraming, ClientEvent, DnsStep, ResponseHead, Timings } from "./types.ts";

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
    case "validated":
      return [`DNSSEC for ${step.name} ${typeName(step.qtype)}: ${verdictLine(step.validation)}`];
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

/** Keep at most this much of each response for the `--explain` view (head, framing, preview). */
export const EXPLAIN_CAPTURE_BYTES = 64 * 1024;
/** Under `--json`, a body up to this size is included as text in the `received` event. */
export const JSON_BODY_BYTES = 64 * 1024;
/** Under `--json` with `-o`, a `progress` event every this many bytes. */
export const JSON_PROGRESS_BYTES = 1024 * 1024;
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
 * The DNS messages of one resolution step as annotated views (`dns/wire/describe.ts`): the query as
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
    case "validated":
      return {
        event: "log",
        fields: {
          name: step.name,
          type: typeName(step.qtype),
          verdict: step.validation.verdict,
          ...(step.validation.reason ? { reason: step.validation.reason } : {}),
          ...(step.validation.ede !== undefined ? { ede: step.validation.ede } : {}),
        },
      };
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
