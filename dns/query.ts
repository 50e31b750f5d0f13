/**
 * netlab's `dig`: ask a DNS server one question and print the reply the way dig does.
 *
 * Seed idea (000): 「浏览器客户端套接字 –– UDP –– DNS服务端套接字,将域名解析成IP返回」 — a name goes
 * out in one UDP datagram to port 53 and the IP comes back; and 「DNS查询为迭代查询」 — `+trace`
 * walks down from the root servers (`.` → `com.` → `cnblogs.com.`) and prints every referral.
 *
 * Run it:
 *   deno task dns:query www.cnblogs.com                 # asks the first nameserver in /etc/resolv.conf
 *   deno task dns:query @127.0.0.1 -p 1053 www.cnblogs.com MX
 *   deno task dns:query -x 127.0.0.5 @127.0.0.1 -p 1053
 *   deno task dns:query +trace www.cnblogs.com          # from the 13 real roots
 *   deno task dns:internet                              # then, offline:
 *   deno task dns:query +trace --root 127.0.0.2 -p PORT www.cnblogs.com
 * Compare with the real thing: `dig @127.0.0.1 -p 1053 www.cnblogs.com`.
 *
 * `--explain` prints the query sent and the reply received as annotated hex dumps (every header
 * bit, label, compression pointer and record field, `dns/wire/describe.ts`); with `+trace` for
 * every hop, with why each server was chosen. `--json` prints one object for one query and, with
 * `+trace`, one NDJSON event per step. `+validate` judges the answer with DNSSEC the way delv
 * does (`dns/dnssec/validator.ts`), from the real root's KSK 20326 unless `--trust-anchor FILE`
 * names another (`deno task dns:internet --dnssec --anchor FILE` writes the mini-Internet's).
 *
 * The arguments are read by `dns/query/args.ts`, the reply printed by `dns/query/output.ts`; this
 * file runs the question: to one server, iteratively from the root, or with validation.
 *
 * Exit codes (dig's 9 among them): 0 a reply arrived (whatever its rcode), 2 usage error, 9 no
 * usable reply (silence, a refused or closed connection, or replies that cannot be decoded — the
 * same over UDP and TCP), 12 when `+validate` finds the answer bogus or cannot decide.
 */
import { formatRdata } from "./wire/rdata.ts";
import { printableText } from "./wire/primitives.ts";
import { type DnsExchange, exchange, NoReplyError } from "./resolver/transport.ts";
import { type FreshSockets, openFreshSockets } from "../udp/core/fresh_sockets.ts";
import { toJson, traceStep } from "./resolver/trace.ts";
import { buildQuery, type QueryOptions, ResolveError, systemNameserver } from "./resolver/stub.ts";
import { isIpAddress } from "./wire/addresses.ts";
import { IterativeResolver } from "./resolver/iterative.ts";
import { resolveHost } from "./resolver/resolve_host.ts";
import { type ResolverEvent } from "./resolver/trace.ts";
import { CliError, runMain, userPath } from "../tcp/kit/cli.ts";
import { parseTrustAnchor, ROOT_TRUST_ANCHOR, Validator } from "./dnssec/validator.ts";
import type { TrustAnchor } from "./dnssec/validate.ts";
import { stubFetch, ValidatingResolver } from "./dnssec/validating_resolver.ts";
import { reportValidation, validationFields, verdictExitCode } from "./query/validation_report.ts";
import type { Validation } from "./dnssec/validator.ts";
import { parseQueryArgs, type QueryRequest } from "./query/args.ts";
import {
  createOutput,
  describeLevels,
  explainDnsExchange,
  formatReply,
  formatShort,
  type QueryOutput,
  say,
  TryLines,
} from "./query/output.ts";

export const USAGE =
  `Usage: deno task dns:query [@SERVER] [-p PORT] [-t TYPE | TYPE] [-x ADDR] NAME [+options]
                           [--json] [--root ADDR]

Asks a DNS server one question and prints the reply like dig (default server: the first
nameserver in /etc/resolv.conf, port 53).

  @SERVER          server to ask (an IP address, or a host name resolved first)
  -p, --port PORT  server port (default 53)
  -t, --type TYPE  record type: A AAAA NS MX TXT SOA CNAME PTR SRV CAA ANY or TYPEnnn (default A)
  -x, --reverse A  reverse lookup of an IPv4/IPv6 address (PTR under in-addr.arpa / ip6.arpa)
  +short           print only the answer data
  +tcp             use TCP (2-byte length prefix) instead of UDP
  +[no]recurse     set or clear RD (recursion desired; default set)
  +trace           resolve iteratively from the root servers, printing every step
  +time=S          seconds to wait for each try (default 5; 2 per server with +trace);
                   also +timeout=S; a wait over 2 s is said on stderr
  +tries=N         UDP tries (default 3; 1 per server with +trace); +retry=N means N+1
  +bufsize=B       EDNS UDP size to advertise (default 1232; 0 = no EDNS)
  +dnssec          set the DO bit (DNSSEC OK)
  +validate        validate the answer with DNSSEC (implies +dnssec) and print the verdict;
                   with +trace also the chain of trust (with @SERVER: a recursive server)
  --trust-anchor F the trust anchor: DS and/or DNSKEY records of the root (default: the
                   root's KSK 20326)
  +ignore          keep a truncated UDP reply (no TCP retry)
  --json           print the reply as one JSON object; with +trace, one JSON event per line
                   (query, referral, answer, error, log, explain)
  --explain        show the query sent and every reply as an annotated hex dump (each
                   header bit, label, pointer and record field named); with +trace also
                   why each server was chosen
  --root ADDR      root server address(es) for +trace (repeatable or comma-separated);
                   without +trace and @SERVER, resolve iteratively from these roots
  -h, --help       show this help

Exit codes:
  0    a reply arrived, whatever its rcode (NXDOMAIN and SERVFAIL are replies too)
  1    failure (e.g. the server's name cannot be resolved)
  2    usage error: a bad flag, option, name, type or address
  9    no usable reply: the server stayed silent until the last try timed out, refused or
     closed the connection, or sent only replies that cannot be decoded or do not match
     the query (over UDP and TCP alike); with +trace, the resolution failed
  12   +validate: the answer is bogus, or could not be validated
  130  interrupted (Ctrl-C or SIGTERM)`;

// ---------------------------------------------------------------------------------------------
// Running it

/**
 * How every query of a run is sent: `sockets` are the Linux layer's connected UDP sockets, where
 * a closed port is refused at once, or null (Deno's own: silence until the timeout), chosen once
 * in `main` (dns/resolver/transport.ts says why). With `+trace` a refused server is skipped at
 * once too.
 */
function queryOptions(out: QueryOutput, sockets: FreshSockets | null): QueryOptions {
  const request = out.request;
  return {
    sockets,
    port: request.port,
    timeoutMs: request.timeoutMs,
    tries: request.tries,
    tcp: request.tcp,
    bufsize: request.bufsize,
    dnssec: request.dnssec,
    // Warnings go to stderr (or become `error` events), so `+short`/`--json` output stays clean.
    onIgnored: (reason) =>
      out.report.warn(`;; Warning: ${reason}`, "error", { reason, ignored: true }),
  };
}

/** Iterating asks many servers: a dead one should cost seconds, not 3 × 5 s. */
function iterativeQueryOptions(out: QueryOutput, sockets: FreshSockets | null): QueryOptions {
  return {
    ...queryOptions(out, sockets),
    timeoutMs: out.request.timeoutMs ?? 2000,
    tries: out.request.tries ?? 1,
  };
}

/** The server address for `@SERVER` (or resolv.conf's first nameserver). */
async function serverAddress(request: QueryRequest): Promise<string> {
  if (request.server === undefined) return await systemNameserver();
  const bare = request.server.replace(/^\[(.*)\]$/, "$1");
  if (isIpAddress(bare)) return bare;
  try {
    return (await resolveHost(bare, { timeoutMs: request.timeoutMs, tries: request.tries }))[0];
  } catch (error) {
    if (error instanceof ResolveError || error instanceof NoReplyError) {
      throw new CliError(`;; Cannot resolve server "${printableText(bare)}": ${error.message}`, 1, {
        verbatim: true,
      });
    }
    throw error;
  }
}

/** Reports one resolver step: dig +trace's text, or one NDJSON event (`+trace --json`). */
function reportStep(out: QueryOutput, event: ResolverEvent): void {
  const { report, request } = out;
  if (event.kind === "response") explainDnsExchange(report, event.exchange, { zone: event.zone });
  // With +short only the final answer is printed; --json streams every step.
  if (!request.json && request.short) return;
  const step = traceStep(event, { explain: request.explain && !request.json });
  // The blank line after each step is for the eye; the JSON text goes without it.
  report.info(request.json ? step.text.trimEnd() : step.text, step.event, step.fields);
}

/** A failed resolution: an `error` event in the `+trace --json` stream, then exit 9. */
function resolveFailure(out: QueryOutput, error: ResolveError): CliError {
  const text = `;; ${error.message} (SERVFAIL)`;
  if (out.request.json && out.request.trace) {
    out.report.info(text, "error", { rcode: "SERVFAIL", reason: error.message });
  }
  return new CliError(text, 9, { verbatim: true });
}

async function runTrace(out: QueryOutput, sockets: FreshSockets | null): Promise<number> {
  const { request, report } = out;
  if (!request.short) {
    report.info(`;; levels: ${describeLevels(request.name)}${request.json ? "" : "\n"}`, "log", {
      name: request.name,
      levels: describeLevels(request.name),
    });
  }
  const options = {
    ...iterativeQueryOptions(out, sockets),
    roots: request.roots.length ? request.roots : undefined,
    prime: true,
    onEvent: (event: ResolverEvent) => reportStep(out, event),
  };
  try {
    if (request.validate) {
      const validating = new ValidatingResolver({
        ...options,
        anchors: await trustAnchors(request),
      });
      const { validation, resolution } = await validating.resolve(request.name, request.type);
      if (request.short && !request.json) {
        for (const rr of resolution.answers) report.info(formatRdata(rr));
      }
      reportValidation(report, validation, { steps: !request.short, json: request.json });
      return verdictExitCode(validation);
    }
    const resolver = new IterativeResolver(options);
    const result = await resolver.resolve(request.name, request.type);
    if (request.short && !request.json) {
      for (const rr of result.answers) report.info(formatRdata(rr));
    }
    return 0;
  } catch (error) {
    if (error instanceof ResolveError) throw resolveFailure(out, error);
    throw error;
  }
}

/** Iterative resolution printed like a normal reply (`--root` without `+trace`/`@SERVER`). */
async function runIterative(out: QueryOutput, sockets: FreshSockets | null): Promise<number> {
  const { request } = out;
  const options = {
    ...iterativeQueryOptions(out, sockets),
    roots: request.roots,
    onEvent: (event: ResolverEvent) => {
      if (event.kind === "response") explainDnsExchange(out.explainer, event.exchange);
    },
  };
  try {
    if (request.validate) {
      const validating = new ValidatingResolver({
        ...options,
        anchors: await trustAnchors(request),
      });
      const { validation, resolution } = await validating.resolve(request.name, request.type);
      if (resolution.exchange) printResult(out, resolution.exchange, validation);
      if (!request.json) reportValidation(out.report, validation);
      return verdictExitCode(validation);
    }
    const resolver = new IterativeResolver(options);
    const result = await resolver.resolve(request.name, request.type);
    if (result.exchange) printResult(out, result.exchange);
    else if (request.short) { for (const rr of result.answers) out.report.info(formatRdata(rr)); }
    return 0;
  } catch (error) {
    if (error instanceof ResolveError) throw resolveFailure(out, error);
    throw error;
  }
}

function printResult(out: QueryOutput, result: DnsExchange, validation?: Validation): void {
  const { request, report } = out;
  // One query's --json is a single object: printed as the line itself, not an event.
  if (request.json) {
    const json = validation
      ? { ...toJson(result), validation: validationFields(validation) }
      : toJson(result);
    report.info(JSON.stringify(json), "answer");
  } else if (request.short) { for (const line of formatShort(result.reply)) report.info(line); }
  else report.info(formatReply(result).join("\n"), "answer");
}

/** The `; <<>> netlab query <<>> …` banner dig prints first. */
function banner(args: string[], trace: boolean): string[] {
  return [
    "",
    `; <<>> netlab query <<>> ${args.join(" ")}`,
    ...(trace ? [] : ["; (1 server found)"]),
    ";; global options: +cmd",
  ];
}

/** The trust anchors `+validate` uses: `--trust-anchor FILE`, or the real root's. */
async function trustAnchors(request: QueryRequest): Promise<TrustAnchor[]> {
  if (request.trustAnchor === undefined) return [ROOT_TRUST_ANCHOR];
  try {
    const text = await Deno.readTextFile(userPath(request.trustAnchor));
    return [parseTrustAnchor(text, request.trustAnchor)];
  } catch (error) {
    throw new CliError(
      `Cannot use trust anchor "${request.trustAnchor}": ${(error as Error).message}`,
      1,
    );
  }
}

/** Runs one query; returns the exit status (0 reply, 9 no reply, 12 bogus). */
export async function main(args: string[]): Promise<number> {
  const request = parseQueryArgs(args);
  const out = createOutput(request);
  // Chosen once: connected sockets where the system has them, so a closed port is refused at once.
  const sockets = openFreshSockets({ connected: true });
  try {
    if (request.trace || (request.roots.length > 0 && request.server === undefined)) {
      say(out, banner(args, true));
      return request.trace ? await runTrace(out, sockets) : await runIterative(out, sockets);
    }
    return await askServer(out, args, sockets);
  } finally {
    await sockets?.close();
  }
}

/** One question to `@SERVER` (or resolv.conf's first nameserver), printed the way dig does. */
async function askServer(
  out: QueryOutput,
  args: string[],
  sockets: FreshSockets | null,
): Promise<number> {
  const { request } = out;
  const server = await serverAddress(request);
  // Each try said as it fails, and any wait over 2 s said while it lasts (on stderr).
  using tries = new TryLines(out.report);
  const options: QueryOptions = { ...queryOptions(out, sockets), onProgress: tries.onProgress };
  const query = buildQuery(request.name, request.type, request.recurse, options);
  query.questions[0].class = request.qclass;
  // Validating ourselves: the server must hand over what it has, not judge it (CD, as delv).
  if (request.validate) query.flags.cd = true;
  try {
    const result = await exchange(query, server, {
      ...options,
      ignoreTruncation: request.ignoreTruncation,
      onTruncated: (truncated) => {
        explainDnsExchange(out.explainer, truncated);
        say(out, [";; Truncated, retrying in TCP mode."]);
      },
    });
    tries.done();
    // Like dig, the banner comes with the outcome (after any "Truncated" note).
    say(out, banner(args, false));
    explainDnsExchange(out.explainer, result);
    if (!request.validate) {
      printResult(out, result);
      return 0;
    }
    const fetch = stubFetch(server, options);
    const validator = new Validator(fetch, { anchors: await trustAnchors(request) });
    const validation = await validator.validate(request.name, request.type, {
      rcode: result.reply.flags.rcode,
      answers: result.reply.answers,
      authorities: result.reply.authorities,
    });
    printResult(out, result, validation);
    if (!request.json) reportValidation(out.report, validation);
    return verdictExitCode(validation);
  } catch (error) {
    if (error instanceof NoReplyError) {
      say(out, banner(args, false));
      throw new CliError(tries.noReplyText(error), 9, { verbatim: true });
    }
    throw error;
  }
}

if (import.meta.main) await runMain(USAGE, main);
