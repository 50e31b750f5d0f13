/**
 * The access log: one line per response in the common log format (as Apache and nginx write
 * it), or with `--json` a `response` event — plus a `request` event per request head.
 *
 *   127.0.0.1 - alice [10/Oct/2000:13:55:36 +0000] "GET /private/ HTTP/1.1" 200 1234
 *
 * A busy server writes tens of thousands of these a second, so a line must be cheap: the
 * date text is made once per second, and the lines go through the batched reporter
 * (tcp/kit/log.ts), which writes one buffer per 64 KiB or per 20 ms instead of one per line.
 */
import { formatAddr } from "../../tcp/kit/cli.ts";
import type { Reporter } from "../../tcp/kit/report.ts";
import type { RequestHead } from "../core/events.ts";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** The parts of a request line a log line shows. */
type LoggedHead = Pick<RequestHead, "method" | "target" | "version">;

let clfSecond = -1;
let clfText = "";
/** `[10/Oct/2000:13:55:36 +0000]` for the common log format, made once per second. */
export function clfDate(now = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== clfSecond) {
    clfSecond = second;
    const date = new Date(second * 1000);
    const p = (n: number) => String(n).padStart(2, "0");
    clfText = `[${p(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:${
      p(date.getUTCHours())
    }:${p(date.getUTCMinutes())}:${p(date.getUTCSeconds())} +0000]`;
  }
  return clfText;
}

/** Where a server's access lines and request events go. */
export class AccessLog {
  /** Access lines on. */
  readonly lines: boolean;
  /** `request` events on (the `--json` log). */
  readonly requests: boolean;

  constructor(
    readonly reporter: Reporter | undefined,
    { lines = true, requests = false }: { lines?: boolean; requests?: boolean } = {},
  ) {
    this.lines = reporter !== undefined && lines;
    this.requests = reporter !== undefined && requests;
  }

  /** The request head as a `request` event (the access line is the `response`). */
  request(remote: Deno.NetAddr, head: RequestHead): void {
    if (!this.requests) return;
    this.reporter!.info(`${head.method} ${head.target} HTTP/${head.version}`, "request", {
      remote: formatAddr(remote),
      method: head.method,
      target: head.target,
      version: head.version,
      headers: head.headers,
    });
  }

  /** One response: `bytes` of body sent, `user` from Basic auth ("-" without). */
  response(
    remote: Deno.NetAddr,
    head: LoggedHead | undefined,
    status: number,
    bytes: number,
    user = "-",
  ): void {
    if (!this.lines) return;
    const line = head ? `"${head.method} ${head.target} HTTP/${head.version}"` : '"-"';
    this.reporter!.info(
      `${remote.hostname} - ${user} ${clfDate()} ${line} ${status} ${bytes || "-"}`,
      "response",
      { remote: formatAddr(remote), method: head?.method, target: head?.target, status, bytes },
    );
  }
}
