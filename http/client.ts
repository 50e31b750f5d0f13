/**
 * The curl of netlab: fetch one `http://` URL over a raw TCP socket and show every step.
 *
 * Seed 000 says that opening a URL in a browser is (a) the browser's client socket asking a DNS
 * server over UDP to turn the domain name into an IP, then (b) a TCP connection to the web server
 * that downloads the file. This client does exactly that with netlab's own pieces: the URL is
 * taken apart by `http/url.ts`, the name resolved by `dns/resolver/iterative.ts` (never the OS resolver),
 * the socket opened with `Deno.connect`, the request written and the response read through
 * `http/core/ (parser, serialize)` (Content-Length, chunked and close-delimited bodies). `-v` prints each step
 * on stderr: URL anatomy → DNS query over UDP → TCP connect → request bytes → status and headers.
 *
 *   deno task http:get http://127.0.0.1:8000/                     # body on stdout
 *   deno task http:get -v http://www.cnblogs.com:8080/ --dns 127.0.0.4:5353
 *   deno task http:get -i -X POST -d 'hello' http://127.0.0.1:8000/echo
 *   deno task http:get -L -o page.html http://127.0.0.1:8000/old
 *   deno task http:get -v --trace-dns --root 127.0.0.2 --dns-port 5353 http://www.cnblogs.com/
 *   deno task http:get --explain -w http://127.0.0.1:8000/     # annotated wire view, timings
 *   deno task http:get --offline -d hi http://127.0.0.1:8000/echo | od -c   # bytes, not sent
 *   deno task http:get --json http://127.0.0.1:8000/          # NDJSON events (README schema)
 *
 * Exit codes follow curl's: 1 unsupported protocol (https), 3 malformed URL, 6 could not resolve
 * host, 7 could not connect, 8 weird server reply, 18 body shorter than announced, 23 cannot
 * write output, 28 timeout, 47 too many redirects, 52 empty reply, 56 receive failure.
 * Compare with `curl -v http://127.0.0.1:8000/`.
 */
import { quoteInput } from "../tcp/core/printable.ts";
import { writeAll } from "../tcp/core/io.ts";
import { CliError, parseCli, printError, runMain, UsageError } from "../tcp/kit/cli.ts";
import { createReporter, type ReportSink } from "../tcp/kit/report.ts";
import { explainHttp } from "./core/describe.ts";
import { latin1 } from "./core/syntax.ts";
import { fetchUrl } from "./client/fetch.ts";
import { buildRequestBytes } from "./client/request.ts";
import { errorMessage } from "./client/save.ts";
import { MAX_REDIRECTS } from "./client/types.ts";

// What http/demo.ts takes from this lesson (it lives in http/client/ now).
export { eventJson, explainDnsStep, formatResolverEvent, WireRecorder } from "./client/output.ts";
export { httpRequest } from "./client/request.ts";
export { getHeader } from "./client/types.ts";
const USAGE = `Usage: deno task http:get URL [options]
Fetch an http:// URL over a raw TCP socket (netlab's curl).

  -v, --verbose           show each step on stderr: URL anatomy, DNS, TCP connect, request, response
  -i, --include           print the response headers before the body
  -I, --head              send HEAD and print only the headers
  -X, --request METHOD    request method (GET, POST, HEAD, PUT, DELETE, OPTIONS, TRACE, CONNECT, …)
  -d, --data DATA         send DATA as the body (POST unless -X); @FILE reads a file
  -H, --header 'N: v'     add a header field (repeatable); 'N:' removes a default one
  -o, --output FILE       write the body to FILE (temp file, renamed when complete; a device
                          such as /dev/null is written in place; - is stdout)
  -s, --silent            no progress bar (errors are still printed, as curl -sS)
  -f, --fail              on an HTTP error (status >= 400) print no body and exit 22
  -L, --location          follow redirects (at most ${MAX_REDIRECTS})
      --max-time S        give up after S seconds (exit 28)
      --dns HOST[:PORT]   DNS server to ask (default: first nameserver in /etc/resolv.conf)
      --dns-port P        DNS port (default 53)
      --trace-dns         resolve iteratively from the root servers and print each referral
      --root ADDR[,ADDR]  root server addresses for --trace-dns
      --trust-anchor FILE validate the address with DNSSEC from this trust anchor (DS and/or
                          DNSKEY records; deno task dns:internet --dnssec --anchor FILE writes
                          one); a bogus answer is refused (exit 6). With --dns the server is
                          asked with DO and CD set and the client judges, as delv does
      --explain           annotate the request bytes sent and the response head and chunk
                          framing received, field by field (on stderr)
  -w, --write-out         after the body: timing breakdown (DNS, connect, request sent, first
                          byte, total) and a one-line waterfall
      --offline           print the exact request bytes and exit: no DNS, no connection
      --json              newline-delimited JSON events on stdout (the body goes into the
                          "received" event, or to -o FILE)
  -h, --help              show this help

IP literals and localhost skip DNS. Exit codes (as curl): 1 https/unsupported, 3 bad URL,
6 cannot resolve, 7 cannot connect, 8 bad reply, 18 short body, 23 write error, 28 timeout,
47 too many redirects, 52 empty reply, 56 receive error.`;

/** Parses `-H 'Name: value'`; `Name:` with nothing after it removes a default header. */
export function parseHeaderFlag(text: string): [string, string] {
  const colon = text.indexOf(":");
  const name = colon < 0 ? "" : text.slice(0, colon);
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
    throw new UsageError(`Invalid -H ${quoteInput(text)}: expected 'Name: value'`);
  }
  const value = text.slice(colon + 1).trim();
  // deno-lint-ignore no-control-regex
  if (/[\x00\r\n]/.test(value)) {
    throw new UsageError(`Invalid -H ${quoteInput(text)}: CR, LF or NUL in the value`);
  }
  return [name, value];
}

function parseSeconds(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(seconds > 0) || seconds > 86_400) {
    throw new UsageError(`Invalid ${flag} ${quoteInput(value)}: expected seconds, more than 0`);
  }
  return Math.round(seconds * 1000);
}

/** Diagnostics of the text mode (`-v`, `--explain`) go to stderr: stdout is the body's. */
const STDERR_SINK: ReportSink = { out: printError, err: printError };

export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCli(args, {
    verbose: { type: "boolean", short: "v" },
    include: { type: "boolean", short: "i" },
    head: { type: "boolean", short: "I" },
    request: { type: "string", short: "X" },
    data: { type: "string", short: "d" },
    header: { type: "string", short: "H", multiple: true },
    output: { type: "string", short: "o" },
    silent: { type: "boolean", short: "s" },
    fail: { type: "boolean", short: "f" },
    location: { type: "boolean", short: "L" },
    "max-time": { type: "string" },
    dns: { type: "string" },
    "dns-port": { type: "string" },
    "trace-dns": { type: "boolean" },
    root: { type: "string" },
    "trust-anchor": { type: "string" },
    json: { type: "boolean" },
    explain: { type: "boolean" },
    "write-out": { type: "boolean", short: "w" },
    offline: { type: "boolean" },
  });
  if (positionals.length !== 1) throw new UsageError("Expected exactly one URL");
  const method = values.request ?? (values.head ? "HEAD" : undefined);
  if (method !== undefined && !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(method)) {
    throw new UsageError(`Invalid -X ${quoteInput(method)}: not an HTTP method token`);
  }
  const headers = (values.header ?? []).map(parseHeaderFlag);
  const maxTimeMs = parseSeconds(values["max-time"], "--max-time");
  const body = values.data === undefined
    ? undefined
    : values.data.startsWith("@")
    ? await readDataFile(values.data.slice(1))
    : new TextEncoder().encode(values.data);
  const json = values.json === true;
  const reporter = createReporter("http/client", {
    json,
    explain: values.explain,
    sink: json ? undefined : STDERR_SINK,
  });

  try {
    if (values.offline) {
      // The exact bytes, nothing sent: no DNS, no connection.
      const bytes = buildRequestBytes(positionals[0], { method, headers, body });
      if (reporter.explaining) {
        reporter.explain(
          explainHttp(bytes, { kind: "request", title: `HTTP request, ${bytes.length} bytes` }),
          { direction: "request", bytes: bytes.length },
        );
      }
      if (json) {
        const line = latin1(bytes.subarray(0, Math.max(0, bytes.indexOf(0x0d))));
        reporter.info(line, "request", { offline: true, bytes: bytes.length, raw: latin1(bytes) });
      } else {
        await writeAll(Deno.stdout, bytes);
      }
      return 0;
    }
    return await fetchUrl(positionals[0], values, { method, headers, body, maxTimeMs }, reporter);
  } catch (error) {
    // Under --json the failure is an event too, so stdout stays pure NDJSON.
    if (json && error instanceof CliError) {
      reporter.warn(error.message, "error", { exitCode: error.exitCode });
      return error.exitCode;
    }
    throw error;
  }
}

async function readDataFile(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (error) {
    throw new UsageError(`Cannot read -d @${path}: ${errorMessage(error)}`);
  }
}

if (import.meta.main) await runMain(USAGE, main);
