/**
 * The online path of `http:get`: choose how names are resolved, run the request, and send
 * every step where the flags say — the body to stdout or `-o FILE`, `-i` headers, `-v` lines,
 * `--json` events, `--explain` views, the progress bar and `-w` timings.
 */
import { type ByteWriter, concatBytes, writeAll } from "../../tcp/core/io.ts";
import { quoteInput } from "../../tcp/core/printable.ts";
import {
  formatAddr,
  interruptSignal,
  parsePort,
  printError,
  UsageError,
  userPath,
} from "../../tcp/kit/cli.ts";
import { createProgressBar, type ProgressBar } from "../../tcp/kit/progress.ts";
import { WaitNotice } from "../../tcp/kit/wait_notice.ts";
import { openFreshSockets } from "../../udp/core/fresh_sockets.ts";
import type { Fields, Reporter } from "../../tcp/kit/report.ts";
import { systemNameserver } from "../../dns/resolver/stub.ts";
import { parseTrustAnchor } from "../../dns/dnssec/validator.ts";
import type { TrustAnchor } from "../../dns/dnssec/validate.ts";
import { encodeLatin1 } from "../core/syntax.ts";
import {
  eventJson,
  explainDnsStep,
  formatEvent,
  formatTimings,
  JSON_BODY_BYTES,
  JSON_PROGRESS_BYTES,
  responseHeadText,
  WireRecorder,
} from "./output.ts";
import { httpRequest, willFollow } from "./request.ts";
import { errorMessage, openOutput } from "./save.ts";
import {
  type DnsOptions,
  EXIT,
  getHeader,
  HttpClientError,
  type HttpResponse,
  type ResponseHead,
} from "./types.ts";

export interface FetchFlags {
  verbose?: boolean;
  include?: boolean;
  head?: boolean;
  output?: string;
  silent?: boolean;
  fail?: boolean;
  location?: boolean;
  dns?: string;
  "dns-port"?: string;
  "trace-dns"?: boolean;
  root?: string;
  "trust-anchor"?: string;
  json?: boolean;
  "write-out"?: boolean;
}

/** What `main` asks for besides the flags. */
export interface FetchRequest {
  method?: string;
  headers: [string, string][];
  body?: Uint8Array;
  maxTimeMs?: number;
}

/** The online path of `main`: resolve, connect, request, print or save, report. */
export async function fetchUrl(
  url: string,
  values: FetchFlags,
  request: FetchRequest,
  reporter: Reporter,
): Promise<number> {
  // Chosen once: connected UDP sockets for DNS where the system has them (see
  // dns/resolver/transport.ts), so a closed DNS port is refused at once.
  const sockets = openFreshSockets({ connected: true });
  try {
    const dns = { ...await dnsFrom(values), sockets };
    return await fetchWithDns(url, values, request, reporter, dns);
  } finally {
    await sockets?.close();
  }
}

async function fetchWithDns(
  url: string,
  values: FetchFlags,
  request: FetchRequest,
  reporter: Reporter,
  dns: DnsOptions,
): Promise<number> {
  const json = values.json === true;

  // Everything for stdout goes through one chain so headers, bodies and files stay in order.
  const headOnly = values.head === true;
  const include = values.include === true || headOnly;
  // curl's `-o -` is stdout.
  const outputPath = values.output === "-" ? undefined : values.output;
  const output = outputPath === undefined ? undefined : await openOutput(outputPath);
  const sink: ByteWriter = output?.file ?? Deno.stdout;
  let pending: Promise<void> = Promise.resolve();
  const emit = (bytes: Uint8Array) => {
    pending = pending.then(() => writeAll(sink, bytes));
    return pending;
  };
  // The progress bar draws only when stderr is a terminal (it is a no-op otherwise).
  let progress: ProgressBar | undefined;
  let received = 0;
  let nextProgress = JSON_PROGRESS_BYTES;
  let expected: number | undefined;
  // --fail: the final response's error status; nothing of that response is written.
  let failedWith: number | undefined;

  // --explain: each exchange's request as written and the start of its response as read.
  let requestMethod = "GET";
  let remote = "";
  const wire = new WireRecorder();
  // --json without -o: the body goes into the final `received` event (bounded).
  const jsonBody = new JsonBody();

  const started = performance.now();
  using interrupt = interruptSignal();
  // No silent waits: a wait over 2 s (DNS, connect, response) is said on stderr (not with -s).
  using notice = new WaitNotice((what) =>
    reporter.warn(`* waiting for ${what}…`, "log", { waiting: what })
  );
  try {
    const response = await httpRequest(url, {
      waits: values.silent ? undefined : notice,
      method: request.method,
      headers: request.headers,
      body: request.body,
      followRedirects: values.location,
      dns,
      maxTimeMs: request.maxTimeMs,
      signal: interrupt,
      onWire(direction, bytes) {
        if (!reporter.explaining) return;
        wire.record(direction, bytes);
        if (direction === "sent") {
          reporter.explain(wire.explainRequest(remote), {
            direction: "request",
            bytes: bytes.length,
            remote,
          });
        }
      },
      onEvent(event) {
        if (json) {
          const { event: name, fields } = eventJson(event);
          if (event.type === "body") jsonBody.addTo(fields, received);
          reporter.info(formatEvent(event).join("\n"), name, fields);
        } else if (values.verbose) {
          for (const line of formatEvent(event)) printError(line);
        }
        if (event.type === "dns" && reporter.explaining) {
          for (const view of explainDnsStep(event.step)) {
            reporter.explain(view, { protocol: "dns" });
          }
        }
        if (event.type === "connect") remote = formatAddr(event.remote);
        if (event.type === "request") requestMethod = event.head.slice(0, event.head.indexOf(" "));
        if (event.type === "body" && reporter.explaining) {
          reporter.explain(wire.explainResponse(remote, requestMethod), {
            direction: "response",
            bytes: wire.received,
            remote,
          });
        }
        if (
          event.type === "response" && values.fail && event.head.status >= 400 &&
          !(values.location && willFollow(event.head))
        ) {
          failedWith = event.head.status;
        }
        if (event.type === "response" && include && !json && failedWith === undefined) {
          // A failed write surfaces when `pending` is awaited below.
          emit(encodeLatin1(responseHeadText(event.head))).catch(() => {});
        }
        if (event.type === "response" && output && !(values.location && willFollow(event.head))) {
          expected = contentLength(event.head);
          if (!json && !values.silent && failedWith === undefined) {
            progress = createProgressBar(outputPath!, expected);
          }
        }
      },
      onBody(chunk) {
        if (headOnly || failedWith !== undefined) return;
        received += chunk.length;
        progress?.update(received);
        if (json && output && received >= nextProgress) {
          nextProgress = received + JSON_PROGRESS_BYTES;
          reporter.info(`${received} bytes received`, "progress", {
            bytes: received,
            ...(expected === undefined ? {} : { total: expected }),
          });
        }
        if (json && !output) return jsonBody.keep(chunk);
        return emit(chunk).catch((error) => {
          throw new HttpClientError(
            `Failed writing body: ${errorMessage(error)}`,
            EXIT.WRITE_ERROR,
          );
        });
      },
    });
    await pending;
    progress?.finish();
    if (failedWith !== undefined) {
      throw new HttpClientError(
        `The requested URL returned error: ${failedWith}`,
        EXIT.HTTP_RETURNED_ERROR,
      );
    }
    await output?.commit();
    if (output && json) {
      reporter.info(`saved ${response.bodyBytes} bytes to ${outputPath}`, "saved", {
        path: outputPath,
        bytes: response.bodyBytes,
      });
    }
    if (values["write-out"]) await writeOut(response, started, json, reporter);
    return 0;
  } catch (error) {
    progress?.finish();
    await output?.discard();
    throw error;
  }
}

/** Under --json without -o: the start of the body, for the `received` event. */
class JsonBody {
  #parts: Uint8Array[] = [];
  #bytes = 0;

  /** Keeps what still fits of `chunk` (at most `JSON_BODY_BYTES` in all). */
  keep(chunk: Uint8Array): void {
    const keep = Math.min(chunk.length, JSON_BODY_BYTES - this.#bytes);
    if (keep <= 0) return;
    this.#parts.push(chunk.slice(0, keep));
    this.#bytes += keep;
  }

  /** Puts the kept text into an event's `fields` (and says if `received` was more), then forgets it. */
  addTo(fields: Fields, received: number): void {
    if (this.#bytes === 0) return;
    fields.body = new TextDecoder().decode(concatBytes(this.#parts, this.#bytes));
    if (received > JSON_BODY_BYTES) fields.bodyTruncated = true;
    this.#parts = [];
    this.#bytes = 0;
  }
}

/** `-w`: the timing breakdown and waterfall after the body (curl prints it on stdout). */
async function writeOut(
  response: HttpResponse,
  started: number,
  json: boolean,
  reporter: Reporter,
): Promise<void> {
  // curl prints -w after the body, on stdout.
  const redirectMs = response.redirects.length > 0
    ? Math.max(0, performance.now() - started - response.timings.total)
    : 0;
  const text = formatTimings(response.timings, { redirectMs, bodyBytes: response.bodyBytes });
  if (json) {
    const timings = eventJson({ ...response, type: "body", bytes: 0 }).fields.timings;
    reporter.info(text.trimEnd(), "stats", { timings, redirectMs: Math.round(redirectMs) });
  } else {
    await writeAll(Deno.stdout, new TextEncoder().encode(text));
  }
}

/**
 * Name resolution: iterative from the roots, a named server, or the system's first nameserver;
 * with `--trust-anchor FILE`, validated with DNSSEC.
 */
async function dnsFrom(values: FetchFlags): Promise<DnsOptions> {
  const dnsPort = values["dns-port"] === undefined
    ? undefined
    : parsePort(values["dns-port"], 53, "--dns-port");
  const anchors = await trustAnchorsFrom(values["trust-anchor"]);
  if (values["trace-dns"]) {
    const roots = (values.root ?? "").split(",").map((r) => r.trim()).filter((r) => r !== "");
    if (roots.length === 0) throw new UsageError("--trace-dns needs --root ADDR[,ADDR]");
    return { roots, port: dnsPort, anchors };
  }
  if (values.root !== undefined) throw new UsageError("--root only makes sense with --trace-dns");
  if (values.dns !== undefined) {
    const { server, port } = parseDnsServer(values.dns);
    return { server, port: dnsPort ?? port, anchors };
  }
  return { server: await systemNameserver(), port: dnsPort, anchors };
}

/** `--trust-anchor FILE`: DS and/or DNSKEY records, as `dns:query --trust-anchor` reads them. */
async function trustAnchorsFrom(file: string | undefined): Promise<TrustAnchor[] | undefined> {
  if (file === undefined) return undefined;
  try {
    return [parseTrustAnchor(await Deno.readTextFile(userPath(file)), file)];
  } catch (error) {
    throw new UsageError(`Cannot use --trust-anchor ${quoteInput(file)}: ${errorMessage(error)}`);
  }
}

function contentLength(head: ResponseHead): number | undefined {
  const value = getHeader(head, "content-length");
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

/** Splits `--dns HOST[:PORT]` (`[::1]:53`, `::1`, `127.0.0.1:5353`). */
export function parseDnsServer(value: string): { server: string; port?: number } {
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (bracket) {
    return {
      server: bracket[1],
      port: bracket[2] ? parsePort(bracket[2], 53, "--dns") : undefined,
    };
  }
  if ((value.match(/:/g) ?? []).length > 1) return { server: value };
  const [server, port] = value.split(":");
  if (!server) throw new UsageError(`Invalid --dns ${quoteInput(value)}: expected HOST[:PORT]`);
  return { server, port: port === undefined ? undefined : parsePort(port, 53, "--dns") };
}
