/**
 * What `dns:query` prints: the reply the way dig prints it (`;; Got answer:` … `;; MSG SIZE`),
 * `+short`'s rdata lines, seed 000's levels of a name for `+trace`, and the reporters a run writes
 * through — human text, the `--json` object or NDJSON events, and `--explain`'s annotated bytes.
 */
import type { QueryRequest } from "./args.ts";
import { formatQuestion, type Message } from "../wire/message.ts";
import { formatRdata, formatRecord, type ResourceRecord } from "../wire/rdata.ts";
import { fullRcode, getEdns } from "../wire/edns.ts";
import { opcodeName, rcodeName } from "../wire/constants.ts";
import { type DnsExchange, type NoReplyError, type TryProgress } from "../resolver/transport.ts";
import { WaitNotice } from "../../tcp/kit/wait_notice.ts";
import { createReporter, type Fields, type Reporter } from "../../tcp/kit/report.ts";
import { explainMessage } from "../wire/describe.ts";
import { flagList, withoutOpt } from "../resolver/trace.ts";
import { printError } from "../../tcp/kit/cli.ts";
import { formatEde, readEde } from "../wire/ede.ts";

/** `Sat Jun 07 12:00:00 UTC 2025`, the way dig prints WHEN (in UTC). */
export function formatWhen(date: Date): string {
  // toUTCString(): "Sat, 07 Jun 2025 12:00:00 GMT"
  const [weekday, day, month, year, time] = date.toUTCString().replace(",", "").split(" ");
  return `${weekday} ${month} ${day} ${time} UTC ${year}`;
}

/** The reply as dig prints it, from `;; Got answer:` to `;; MSG SIZE  rcvd: N`. */
export function formatReply(result: DnsExchange, when: Date = new Date()): string[] {
  const msg = result.reply;
  const out: string[] = [";; Got answer:"];
  out.push(
    `;; ->>HEADER<<- opcode: ${opcodeName(msg.flags.opcode)}, status: ${
      rcodeName(fullRcode(msg))
    }, id: ${msg.id}`,
  );
  out.push(
    `;; flags: ${
      flagList(msg).join(" ")
    }; QUERY: ${msg.questions.length}, ANSWER: ${msg.answers.length}, AUTHORITY: ${msg.authorities.length}, ADDITIONAL: ${msg.additionals.length}`,
  );
  if (result.query.flags.rd && !msg.flags.ra) {
    out.push(";; WARNING: recursion requested but not available");
  }
  out.push("");
  const edns = getEdns(msg);
  if (edns) {
    out.push(";; OPT PSEUDOSECTION:");
    out.push(
      `; EDNS: version: ${edns.version}, flags:${edns.dnssecOk ? " do" : ""}; udp: ${edns.udpSize}`,
    );
    for (const ede of readEde(edns.options)) out.push(`; EDE: ${formatEde(ede)}`);
  }
  if (msg.questions.length > 0) {
    out.push(";; QUESTION SECTION:", ...msg.questions.map(formatQuestion), "");
  }
  const sections: [string, ResourceRecord[]][] = [
    ["ANSWER", msg.answers],
    ["AUTHORITY", msg.authorities],
    ["ADDITIONAL", withoutOpt(msg.additionals)],
  ];
  for (const [title, records] of sections) {
    if (records.length > 0) out.push(`;; ${title} SECTION:`, ...records.map(formatRecord), "");
  }
  out.push(`;; Query time: ${Math.round(result.elapsedMs)} msec`);
  out.push(
    `;; SERVER: ${result.server}#${result.port}(${result.server}) (${result.protocol})`,
  );
  out.push(`;; WHEN: ${formatWhen(when)}`);
  out.push(`;; MSG SIZE  rcvd: ${result.bytes.length}`, "");
  return out;
}

/** `+short`: just the rdata of the answer section, one per line. */
export function formatShort(message: Message): string[] {
  return message.answers.map(formatRdata);
}

/**
 * Where a run's output goes. `report` carries everything on stdout (NDJSON events with
 * `+trace --json`); `explainer` prints the annotated views — on stderr when stdout must stay the
 * single `--json` object.
 */
export interface QueryOutput {
  request: QueryRequest;
  report: Reporter;
  explainer: Reporter;
  /** dig's human text (not with `+short` or `--json`). */
  verbose: boolean;
}

/** Builds the reporters for a request. */
export function createOutput(request: QueryRequest): QueryOutput {
  const streaming = request.json && request.trace;
  const report = createReporter("dns/query", { json: streaming, explain: request.explain });
  const explainer = request.json && !streaming
    ? createReporter("dns/query", {
      explain: request.explain,
      sink: { out: printError, err: printError },
    })
    : report;
  return { request, report, explainer, verbose: !request.short && !request.json };
}

/** Prints dig's human lines (nothing with `+short` or `--json`). */
export function say(out: QueryOutput, lines: string[]): void {
  if (out.verbose) out.report.info(lines.join("\n"));
}

/** `127.0.0.1#53`, the way dig names a server. */
export function serverText(result: DnsExchange): string {
  return `${result.server}#${result.port}`;
}

/** `--explain`: the query as sent and the reply as received, every field named. */
export function explainDnsExchange(
  reporter: Reporter,
  result: DnsExchange,
  fields: Fields = {},
): void {
  if (!reporter.explaining) return;
  const at = serverText(result);
  const common = { ...fields, server: at, protocol: result.protocol };
  reporter.explain(
    explainMessage(
      result.queryBytes,
      `;; query sent to ${at} over ${result.protocol}, ${result.queryBytes.length} bytes:`,
    ),
    { ...common, direction: "sent", size: result.queryBytes.length },
  );
  reporter.explain(
    explainMessage(
      result.bytes,
      `;; reply from ${at} over ${result.protocol}, ${result.bytes.length} bytes, ${
        Math.round(result.elapsedMs)
      } ms:`,
    ),
    { ...common, direction: "received", size: result.bytes.length },
  );
}

/**
 * Seed 000's levels of a name: `'.' (root) → com. (top-level) → cnblogs.com. (second-level) →
 * www.cnblogs.com. (host)`.
 */
export function describeLevels(name: string): string {
  const labels = name === "." ? [] : name.replace(/\.$/, "").split(".");
  const parts = ["'.' (root)"];
  for (let level = 1; level <= labels.length; level++) {
    const zone = labels.slice(labels.length - level).join(".") + ".";
    const role = level === labels.length && level >= 3
      ? "host"
      : level === 1
      ? "top-level"
      : level === 2
      ? "second-level"
      : `level ${level}`;
    parts.push(`${zone} (${role})`);
  }
  return parts.join(" → ");
}

/**
 * dig's lines about the tries of a query to one server, on stderr: `;; communications error to
 * 127.0.0.9#53: connection refused` (or `timed out`) for each try that got no reply, and — no
 * silent waits — `;; waiting for 127.0.0.9#53 (try 2 of 3)…` once a query has waited 2 s, then
 * for each try after that. Pass `onProgress` to the exchange; `done()` when it is over.
 */
export class TryLines implements Disposable {
  readonly #report: Reporter;
  readonly #notice: WaitNotice;
  /** The last try's failure is printed already (the closing line need not repeat it). */
  #failureShown = false;

  constructor(report: Reporter) {
    this.#report = report;
    this.#notice = new WaitNotice((what) =>
      report.warn(`;; waiting for ${what}…`, "log", { waiting: what })
    );
  }

  readonly onProgress = (progress: TryProgress): void => {
    const at = `${progress.server}#${progress.port}`;
    if (progress.kind === "sent") {
      this.#failureShown = false;
      const which = progress.protocol === "TCP"
        ? " over TCP"
        : progress.tries > 1
        ? ` (try ${progress.attempt} of ${progress.tries})`
        : "";
      this.#notice.waiting(`${at}${which}`, { continues: progress.attempt > 1 });
      return;
    }
    this.#failureShown = true;
    this.#report.warn(`;; communications error to ${at}: ${progress.reason}`, "error", {
      server: at,
      reason: progress.reason,
      try: progress.attempt,
    });
  };

  /** dig's closing lines for a query without a usable reply (exit 9). */
  noReplyText(error: NoReplyError): string {
    const failure = this.#failureShown
      ? []
      : [`;; communications error to ${error.server}#${error.port}: ${error.reason}`];
    return [...failure, ";; no servers could be reached"].join("\n");
  }

  /** The query is over: no more waiting notices. */
  done(): void {
    this.#notice.done();
  }

  [Symbol.dispose](): void {
    this.done();
  }
}
