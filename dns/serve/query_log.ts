/**
 * The authoritative server's query log: one line per answer, `client -> name type rcode`
 * (`127.0.0.1:40000 -> www.cnblogs.com. A NOERROR`); with `--json` a `query` and an `answer`
 * event; with `--explain` the query and the reply as annotated hex dumps.
 *
 * A busy server answers a hundred thousand queries a second, so a line must cost little next to
 * the answer itself: no object, no JSON and no clock unless `--json` asks for them, the client's
 * text reused while the same client keeps asking, and the lines written through the batched
 * reporter (`tcp/kit/log.ts`: one write per 64 KiB or per 20 ms, flushed at exit).
 */
import type { Reporter } from "../../tcp/kit/report.ts";
import { rcodeName, typeName } from "../wire/constants.ts";
import { explainMessage } from "../wire/describe.ts";
import { ClientNames } from "../../tcp/kit/client_names.ts";

/** What the log says about one answer (the authoritative server's `Response`). */
export interface LoggedAnswer {
  name: string;
  type: number;
  rcode: number;
  /** Set when an internal error turned the answer into SERVFAIL. */
  error?: string;
}

/** The query log of `dns/server.ts` (see the module comment). */
export class QueryLog {
  readonly #reporter: Reporter;
  /** Lines are logged (not `--quiet`). */
  readonly active: boolean;
  readonly #quiet: boolean;
  readonly #json: boolean;
  readonly #explaining: boolean;
  readonly #clients = new ClientNames();

  constructor(reporter: Reporter, options: { json?: boolean; quiet?: boolean } = {}) {
    this.#reporter = reporter;
    this.#quiet = options.quiet ?? false;
    this.active = !this.#quiet;
    this.#json = options.json ?? false;
    // `--explain` shows nothing with `--quiet`.
    this.#explaining = reporter.explaining && !this.#quiet;
  }

  /** One answer to `client` over `transport`: `reply` is exactly what is sent. */
  answered(
    client: Deno.Addr,
    transport: "udp" | "tcp",
    answer: LoggedAnswer,
    query: Uint8Array,
    reply: Uint8Array,
  ): void {
    if (answer.error) {
      this.#reporter.warn(
        `Internal error answering ${this.#clients.text(client)}: ${answer.error}`,
      );
    }
    if (this.#quiet) return;
    const from = this.#clients.text(client);
    const type = answer.type ? typeName(answer.type) : "-";
    const rcode = rcodeName(answer.rcode);
    if (this.#json) this.#events(from, transport, answer, type, rcode, query.length, reply.length);
    else this.#reporter.info(`${from} -> ${answer.name} ${type} ${rcode}`);
    if (this.#explaining) this.#explain(from, transport, query, reply);
  }

  #events(
    from: string,
    transport: string,
    answer: LoggedAnswer,
    type: string,
    rcode: string,
    querySize: number,
    replySize: number,
  ): void {
    const { name } = answer;
    const asked = `${from} -> ${name} ${type}`;
    this.#reporter.info(asked, "query", { client: from, transport, name, type, size: querySize });
    this.#reporter.info(`${asked} ${rcode}`, "answer", {
      client: from,
      transport,
      name,
      type,
      rcode,
      size: replySize,
    });
  }

  /** The query as received and the reply exactly as sent, every field named. */
  #explain(from: string, transport: string, query: Uint8Array, reply: Uint8Array): void {
    const fields = { client: from, transport };
    this.#reporter.explain(
      explainMessage(query, `;; query from ${from} over ${transport}, ${query.length} bytes:`),
      { ...fields, direction: "received", size: query.length },
    );
    this.#reporter.explain(
      explainMessage(reply, `;; reply to ${from} over ${transport}, ${reply.length} bytes:`),
      { ...fields, direction: "sent", size: reply.length },
    );
  }
}
