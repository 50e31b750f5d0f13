/**
 * The local DNS server's log: one line per client question, `client -> name type rcode (how)`
 * (`127.0.0.1:40000 -> www.cnblogs.com. A NOERROR (from the cache)`, `…; secure)` when it
 * validates); with `--json` a `query` and an `answer` event; with `--explain` the question's
 * whole story — cache hit or miss, then the walk step by step (the hop lines of `dns:query
 * +trace`), then the DNSSEC verdict in `+validate`'s words (`; fully validated`, `;; validation
 * failed: bogus: …`) after the chain of trust it built — and with `--json` every upstream
 * exchange's bytes annotated.
 *
 * As in the authoritative server's log (`serve/query_log.ts`), a line costs no object, JSON or
 * clock unless asked for, and goes out through the batched reporter.
 */
import type { Reporter } from "../../tcp/kit/report.ts";
import { rcodeName, typeName } from "../wire/constants.ts";
import { explainMessage } from "../wire/describe.ts";
import { decodeMessage } from "../wire/message.ts";
import { formatRecord } from "../wire/rdata.ts";
import {
  type AnswerVerdict,
  BOGUS_REPLY_TTL,
  type ClientReply,
  peekQuestion,
} from "../resolver/responder.ts";
import { verdictLine } from "../dnssec/validator.ts";
import { type ResolverEvent, traceStep } from "../resolver/trace.ts";
import { ClientNames } from "../../tcp/kit/client_names.ts";

/** The log of `dns/resolver_server.ts` (see the module comment). */
export class ResolverLog {
  readonly reporter: Reporter;
  /** Nothing per question (`--quiet`). */
  readonly quiet: boolean;
  /** Per-question stories are told (`--explain`, never with `--quiet`). */
  readonly explaining: boolean;
  readonly #json: boolean;
  readonly #clients = new ClientNames();
  #questions = 0;

  constructor(reporter: Reporter, options: { json?: boolean; quiet?: boolean } = {}) {
    this.reporter = reporter;
    this.quiet = options.quiet ?? false;
    this.#json = options.json ?? false;
    this.explaining = reporter.explaining && !this.quiet;
  }

  /** A question as it arrives (a `query` event; only with `--json`). */
  asked(client: Deno.Addr, transport: string, query: Uint8Array): void {
    if (this.quiet || !this.#json) return;
    const q = peekQuestion(query);
    const from = this.#clients.text(client);
    const name = q?.name ?? "-";
    const type = q ? typeName(q.type) : "-";
    this.reporter.info(`${from} -> ${name} ${type}`, "query", {
      client: from,
      transport,
      name,
      type,
      size: query.length,
    });
  }

  /** An answer from the encoded-answer cache (the hot path: nothing decoded but the question). */
  hit(client: Deno.Addr, transport: string, query: Uint8Array, reply: Uint8Array): void {
    if (this.quiet) return;
    const q = peekQuestion(query);
    const rcode = reply[3] & 0x0f;
    const answer: ClientReply = {
      bytes: reply,
      name: q?.name ?? "-",
      type: q?.type ?? 0,
      rcode,
      source: "cache",
      queries: 0,
    };
    this.answered(client, transport, answer, 0, []);
  }

  /** One answer, `ms` after the question arrived; `steps` are the walk's (for `--explain`). */
  answered(
    client: Deno.Addr,
    transport: string,
    reply: ClientReply,
    ms: number,
    steps: ResolverEvent[],
  ): void {
    if (this.quiet) return;
    const seq = ++this.#questions;
    const from = this.#clients.text(client);
    const type = reply.type ? typeName(reply.type) : "-";
    const asked = `${reply.name} ${type}`;
    const how = describeSource(reply, ms);
    const rcode = rcodeName(reply.rcode);
    if (this.explaining) {
      if (this.#json) this.#stepEvents(from, seq, steps);
      else this.#story(from, seq, `${asked} over ${transport.toUpperCase()}: ${how}`, reply, steps);
    }
    const text = `${from} -> ${asked} ${rcode} (${how})`;
    if (!this.#json) {
      this.reporter.info(text);
      return;
    }
    this.reporter.info(text, "answer", {
      client: from,
      transport,
      name: reply.name,
      type,
      rcode,
      cache: reply.source === "cache" ? "hit" : reply.source === "resolved" ? "miss" : reply.source,
      source: reply.source,
      queries: reply.queries,
      ms: Math.round(ms * 1000) / 1000,
      size: reply.bytes.length,
      seq,
      ...(reply.reason ? { reason: reply.reason } : {}),
      ...(reply.validation ? verdictFields(reply.validation) : {}),
    });
  }

  /** `--explain`: the question, whether the cache answered, the walk, and the answer. */
  #story(from: string, seq: number, asked: string, reply: ClientReply, steps: ResolverEvent[]) {
    const story = [`;; ${from} asks ${asked}`];
    for (const step of steps) story.push(traceStep(step, { explain: true }).text.trimEnd());
    if (reply.validation) story.push(...verdictLines(reply.validation));
    story.push(...answerLines(reply));
    this.reporter.explain(story.join("\n"), { client: from, seq });
  }

  /** `--explain --json`: each step as its own event, each upstream exchange's bytes annotated. */
  #stepEvents(from: string, seq: number, steps: ResolverEvent[]): void {
    for (const step of steps) {
      const shown = traceStep(step);
      this.reporter.info(shown.text.trimEnd(), shown.event, { ...shown.fields, client: from, seq });
      if (step.kind !== "response") continue;
      const { exchange } = step;
      const at = `${exchange.server}#${exchange.port} over ${exchange.protocol}`;
      for (
        const [direction, bytes, title] of [
          ["sent", exchange.queryBytes, `DNS query, ${exchange.queryBytes.length} bytes, to`],
          ["received", exchange.bytes, `DNS reply, ${exchange.bytes.length} bytes, from`],
        ] as const
      ) {
        this.reporter.explain(explainMessage(bytes, `${title} ${at}`), {
          client: from,
          seq,
          zone: step.zone,
          direction,
        });
      }
    }
  }
}

/** The DNSSEC verdict as `--json` fields. */
function verdictFields(v: AnswerVerdict): Record<string, unknown> {
  return {
    verdict: v.verdict,
    ...(v.reason ? { verdict_reason: v.reason } : {}),
    ...(v.ede !== undefined ? { ede: v.ede } : {}),
    ...(v.remembered ? { remembered: true } : {}),
  };
}

/** `--explain`: the chain of trust built for this answer, then the verdict as `+validate` says it. */
function verdictLines(v: AnswerVerdict): string[] {
  const lines = v.steps.length
    ? [";; Chain of trust:", ...v.steps.map((step) => `;;   ${step}`)]
    : [];
  lines.push(
    v.remembered
      ? `${
        verdictLine(v)
      } (remembered: Bogus answers are not checked again for ${BOGUS_REPLY_TTL} s)`
      : verdictLine(v),
  );
  return lines;
}

/** How a question was answered, and the DNSSEC verdict, in a few words for the log. */
function describeSource(reply: ClientReply, ms: number): string {
  const how = describeHow(reply, ms);
  const v = reply.validation;
  if (!v) return how;
  const remembered = v.remembered ? " (remembered)" : "";
  return `${how}; ${v.verdict}${remembered}${v.verdict === "bogus" ? `: ${v.reason}` : ""}`;
}

function describeHow(reply: ClientReply, ms: number): string {
  const took = `${ms.toFixed(1)} ms`;
  switch (reply.source) {
    case "cache":
      return "from the cache";
    case "resolved":
      return `resolved: ${reply.queries} ${reply.queries === 1 ? "query" : "queries"}, ${took}`;
    case "coalesced":
      return `joined the same question in flight, ${took}`;
    case "norecurse":
      return "RD clear: from the cache only";
    case "refused":
      return `refused: ${reply.reason}`;
    case "rejected":
      return `rejected: ${reply.reason}`;
    case "failed":
      return `failed: ${reply.reason}`;
  }
}

/** The records of a reply as `;; answer: …` lines (for --explain). */
function answerLines(reply: ClientReply): string[] {
  try {
    const msg = decodeMessage(reply.bytes);
    const records = [...msg.answers, ...msg.authorities];
    return [
      `;; answer: ${rcodeName(reply.rcode)}, ${msg.answers.length} record${
        msg.answers.length === 1 ? "" : "s"
      }`,
      ...records.map((rr) => formatRecord(rr)),
    ];
  } catch {
    return [`;; answer: ${rcodeName(reply.rcode)}`];
  }
}
