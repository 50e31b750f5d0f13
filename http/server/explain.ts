/**
 * `--explain` on the server: each request as it came (head and body framing, from the bytes its
 * connection received) and each response head as written, annotated field by field by the same
 * describer the client uses (http/core/describe.ts).
 */
import { formatAddr } from "../../tcp/kit/cli.ts";
import type { Reporter } from "../../tcp/kit/report.ts";
import { describeHttp, explainHttp } from "../core/describe.ts";

/** Longest stretch of received bytes kept per connection for --explain. */
const EXPLAIN_WIRE_BYTES = 1024 * 1024;

/**
 * The bytes one connection received, for --explain: `next()` returns the next complete message
 * (found with `describeHttp`, which knows the framing) and drops it. Over the cap the record
 * stops (the views say so) instead of holding a big upload in memory twice.
 */
export class RequestWire {
  #bytes = new Uint8Array(0);
  #overflow = false;

  add(chunk: Uint8Array): void {
    if (this.#overflow) return;
    if (this.#bytes.length + chunk.length > EXPLAIN_WIRE_BYTES) {
      this.#overflow = true;
      this.#bytes = new Uint8Array(0);
      return;
    }
    const grown = new Uint8Array(this.#bytes.length + chunk.length);
    grown.set(this.#bytes);
    grown.set(chunk, this.#bytes.length);
    this.#bytes = grown;
  }

  /** The next message's bytes (up to its end, or all there is when it is broken). */
  next(): Uint8Array | undefined {
    if (this.#overflow || this.#bytes.length === 0) return undefined;
    const described = describeHttp(this.#bytes, { kind: "request" });
    const end = described.end > 0 ? described.end : this.#bytes.length;
    const message = this.#bytes.subarray(0, end);
    this.#bytes = this.#bytes.slice(end);
    return message;
  }
}

/**
 * Prints one exchange: the next request `wire` holds and the `response` bytes (head and an
 * in-memory body) written for it; `streamed` when a file body follows separately.
 */
export function explainExchange(
  reporter: Reporter,
  wire: RequestWire,
  remote: Deno.NetAddr,
  response: Uint8Array,
  method: string | undefined,
  streamed = false,
): void {
  const peer = formatAddr(remote);
  const request = wire.next();
  if (request) {
    reporter.explain(
      explainHttp(request, { kind: "request", title: `HTTP request, from ${peer}` }),
      { direction: "request", remote: peer },
    );
  }
  const shown = streamed ? " (the file body follows, streamed)" : "";
  reporter.explain(
    explainHttp(response, {
      kind: "response",
      requestMethod: method,
      partial: streamed,
      title: `HTTP response, ${response.length} bytes, to ${peer}${shown}`,
    }),
    { direction: "response", remote: peer, bytes: response.length },
  );
}
