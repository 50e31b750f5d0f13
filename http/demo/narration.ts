/**
 * How the demo tells seed 000's story: the numbered steps it prints, one method per step, each
 * line both human text and a `--json` event (the shared schema of tcp/kit/report.ts).
 *
 * Theory of operation: every line goes through `say(text, event, fields)`, which hands it to the
 * reporter — as text, or as an event carrying the fields; narration is the `log` event. Blank
 * lines only space out the text form and are left out of `--json`. A lookup is told from two
 * sides: what the browser asked and got (http/client's events, ./browser.ts) and what the local
 * DNS server did meanwhile (its own `--json` events, ./stage.ts), indented under the question.
 * Under `--explain` the annotated bytes follow the step they belong to.
 */
import { formatAddr, formatHostPort } from "../../tcp/kit/cli.ts";
import type { Fields, Reporter } from "../../tcp/kit/report.ts";
import type { Resolution } from "../../dns/resolver/stub.ts";
import { formatRecord, type ResourceRecord } from "../../dns/wire/rdata.ts";
import { eventJson, explainDnsStep } from "../client/output.ts";
import { getHeader } from "../client/types.ts";
import { describeUrl, domainLevels, type HttpUrl, parseUrl } from "../core/url.ts";
import type { Visit } from "./browser.ts";
import type { LocalDnsEvent, LookupStory, Stage } from "./stage.ts";

/** Where the local DNS server listens. */
type DnsServerAddress = { host: string; port: number };

/** What the demo prints, step by step, through one reporter. */
export class Narrator {
  constructor(readonly reporter: Reporter, readonly options: { json?: boolean } = {}) {}

  /** One line (or several joined by newlines) as text or as one `--json` event. */
  say(text: string, event = "log", fields: Fields = {}): void {
    if (text === "" && this.options.json) return; // blank lines only space out the text form
    this.reporter.info(text, event, fields);
  }

  /** The title: which URL, and the two halves of the story. */
  intro(seedUrl: string): void {
    this.say(`What happens when you open ${seedUrl}`);
    this.say(
      "(seed 000: a) UDP to the local DNS server, which asks from the root down; " +
        "b) TCP to the web server — all on loopback)",
    );
    this.say("");
  }

  /** Each server of the stage and where it listens. */
  setup({ internet, localDns, web }: Stage): void {
    for (const s of internet.servers) {
      this.say(
        `setup: DNS server for ${s.zone === "." ? '"." (root)' : s.zone} on ${s.host}:${s.port}`,
        "listening",
        { zone: s.zone, address: formatHostPort(s.host, s.port), host: s.host, port: s.port },
      );
    }
    const dnsAddress = formatHostPort(localDns.host, localDns.port);
    this.say(
      `setup: local DNS server (本地DNS) dns/resolver_server.ts on ${dnsAddress}, ` +
        `walking from the root ${internet.roots[0]}`,
      "listening",
      { role: "local DNS", address: dnsAddress, host: localDns.host, port: localDns.port },
    );
    this.say(
      `setup: web server http/server.ts on ${web.host}:${web.port}` +
        (web.port === 80 ? "" : " (port 80 needs root, so a free port; the URL names it)"),
      "listening",
      { address: formatHostPort(web.host, web.port), host: web.host, port: web.port },
    );
    this.say("");
  }

  /** Step 1: the seed's URL taken apart, and the URL the demo really opens (`url`). */
  url(seedUrl: string, url: HttpUrl): void {
    this.say("1. The URL, taken apart");
    this.say(
      describeUrl(parseUrl(seedUrl)).slice(1).map((line) => `   ${line.trim()}`).join("\n"),
      "log",
      { url: seedUrl, scheme: url.scheme, host: url.host, port: url.port, path: url.path },
    );
    if (url.portExplicit) this.say(`   (this demo's server is on port ${url.port}: ${url.href})`);
    const levels = domainLevels(url.host).reverse();
    this.say(`   levels: ${levels.map((l) => `${l.label} (${l.level})`).join(" < ")}`, "log", {
      levels: levels.map((l) => l.label),
    });
    this.say("");
  }

  /** Step 2: the browser's lookup of `host`, and the local DNS server's walk from the root. */
  firstLookup(localDns: DnsServerAddress, host: string, visit: Visit, walk: LookupStory): void {
    this.say(
      "2. (a) DNS over UDP: the browser asks the local DNS server, which asks from the root down",
    );
    this.#lookup(localDns, host, walk, visit.dnsAnswers, visit.dnsMs);
    for (const view of visit.dnsViews) this.reporter.explain(view, { protocol: "dns" });
    this.say(`   => ${host} is ${visit.response.address}`, "log", {
      host,
      address: visit.response.address,
      queries: Number(walk.answer?.queries ?? 0),
    });
    this.say("");
  }

  /** Step 3: the TCP connection to the web server. */
  connection({ connect }: Visit): void {
    this.say("3. (b) TCP: the browser's client socket connects to the web server's socket");
    this.say(
      connect
        ? `   connected ${formatAddr(connect.local)} -> ${formatAddr(connect.remote)} ` +
          `(three-way handshake done in ${connect.ms.toFixed(1)} ms)`
        : "",
      "connected",
      connect ? eventJson(connect).fields : {},
    );
    this.say("");
  }

  /** Step 4: the request for `url` as written, line by line. */
  request(url: HttpUrl, visit: Visit): void {
    const { request, wire } = visit;
    const lines = request ? request.head.replace(/\r\n\r\n$/, "").split("\r\n") : [];
    this.say("4. HTTP request: request line, headers, blank line");
    this.say([...lines, ""].map((line) => `   > ${line}`.trimEnd()).join("\n"), "request", {
      ...(request ? eventJson(request).fields : {}),
      url: url.href,
    });
    if (this.reporter.explaining) {
      const remote = remoteOf(visit);
      this.reporter.explain(wire.explainRequest(remote), { direction: "request", remote });
    }
    this.say("");
  }

  /** Step 5: the response head and the body. */
  response(visit: Visit): void {
    const { head, body, request, response, wire } = visit;
    const lines = head
      ? [
        `HTTP/${head.head.version} ${head.head.status} ${head.head.reason}`,
        ...head.head.headers.map(([n, v]) => `${n}: ${v}`),
      ]
      : [];
    this.say("5. HTTP response: status line, headers, blank line, body");
    this.say(
      [...lines, ""].map((line) => `   < ${line}`.trimEnd()).join("\n"),
      "response",
      head ? eventJson(head).fields : {},
    );
    if (this.reporter.explaining) {
      const remote = remoteOf(visit);
      const method = request ? request.head.slice(0, request.head.indexOf(" ")) : "GET";
      this.reporter.explain(wire.explainResponse(remote, method), {
        direction: "response",
        remote,
      });
    }
    const html = new TextDecoder().decode(response.body);
    const title = /<title>([^<]*)<\/title>/i.exec(html)?.[1]?.trim();
    this.say(
      `   body: ${response.bodyBytes} bytes of ${getHeader(response, "content-type") ?? "data"}` +
        ` (${framingText(body)})${title ? `, <title>${title}</title>` : ""}`,
      "received",
      { bytes: response.bodyBytes, framing: response.framing, title },
    );
  }

  /** Step 5 ends with the web server's own access-log line for the request, if it came. */
  accessLog(line: string | undefined): void {
    if (line) this.say(`   the server's access log: ${line}`, "log", { accessLog: line });
    this.say("");
  }

  /** Step 6 begins: the same name asked again. */
  secondVisit(): void {
    this.say("6. The same name again: the local DNS server answers from its cache");
  }

  /** Step 6: the second lookup, answered from the local DNS server's cache. */
  cachedLookup(
    localDns: DnsServerAddress,
    host: string,
    again: Resolution,
    story: LookupStory,
  ): void {
    this.#lookup(localDns, host, story, again.answers, again.exchange?.elapsedMs ?? 0);
    if (this.reporter.explaining && again.exchange) {
      for (const view of explainDnsStep({ kind: "stub-answer", resolution: again })) {
        this.reporter.explain(view, { protocol: "dns" });
      }
    }
    this.say("");
  }

  /** Step 7: everything stopped, and how long it all took. */
  done(ms: number): void {
    this.say(
      `7. Done: the connection is closed (Connection: close) and the servers are stopped, ${
        (ms / 1000).toFixed(2)
      } s in all`,
      "disconnected",
      { seconds: Math.round(ms) / 1000 },
    );
  }

  /**
   * One lookup through the local DNS server: the browser's question, the server's walk (when it
   * had to walk), and the answer the browser got (`records`, after `ms`).
   */
  #lookup(
    localDns: DnsServerAddress,
    host: string,
    story: LookupStory,
    records: ResourceRecord[],
    ms: number,
  ): void {
    const dnsAddress = formatHostPort(localDns.host, localDns.port);
    const name = host.endsWith(".") ? host : `${host}.`;
    this.say(`   ask ${dnsAddress} (the local DNS server) over UDP: ${name} A?`, "query", {
      server: dnsAddress,
      name,
      type: "A",
    });
    if (story.steps.length > 0) {
      this.say(
        "     not in its cache: the local DNS server walks from the root, asking each server only " +
          "what it needs (QNAME minimisation)",
      );
    }
    for (const step of story.steps) {
      // The step keeps its fields; `ts` and `tool` become the demo's own.
      const { text: _text, event, ts: _ts, tool: _tool, ...fields } = step;
      if (event === "explain") {
        // The local server's annotated bytes of this upstream exchange (shown with --explain).
        if (this.reporter.explaining) {
          this.reporter.explain(String(step.text), { ...fields, walk: true, protocol: "dns" });
        }
        continue;
      }
      this.say(formatWalkStep(step).map((line) => `       ${line}`).join("\n"), event, {
        ...fields,
        walk: true,
      });
    }
    const answer = story.answer;
    if (!answer) return;
    const how = answer.cache === "hit"
      ? "from its cache: nobody else asked, and the TTL it gives counts down"
      : `it walked for us: ${answer.queries} queries`;
    const lines = records.map((rr) => formatRecord(rr).replaceAll("\t", " "));
    this.say(
      [
        `   answer from the local DNS server (RA set; ${how}; ${ms.toFixed(1)} ms in all)`,
        ...lines.map((line) => `     ${line}`),
      ].join("\n"),
      "answer",
      {
        server: dnsAddress,
        name: answer.name,
        rcode: answer.rcode,
        cache: answer.cache,
        queries: answer.queries,
        ms: Math.round(ms * 1000) / 1000,
        records: lines,
      },
    );
  }
}

/** One step of the local DNS server's walk, the way the demo prints it. */
export function formatWalkStep(e: LocalDnsEvent): string[] {
  const zone = (z: unknown) => (z === "." ? ". (root)" : String(z));
  const records = (list: unknown) =>
    ((list ?? []) as { name: string; ttl: number; class: string; type: string; data: string }[])
      .map((r) => `    ${r.name} ${r.ttl} ${r.class} ${r.type} ${r.data}`);
  const ms = `${Number(e.elapsed_ms ?? 0).toFixed(1)} ms`;
  if (e.event === "query") {
    const server = String(e.server).replace("#", ":");
    const minimised = e.question ? ` — only what it needs, not ${e.question}` : "";
    return [
      `ask ${server} (server for ${zone(e.zone)}) over UDP: ${e.name} ${e.type}?${minimised}`,
    ];
  }
  if (e.event === "referral") {
    return [
      `  referral: ${zone(e.zone)} does not know, ask ${e.referral} (${ms})`,
      ...records(e.records),
      ...records(e.additional),
    ];
  }
  if (e.event === "answer") {
    return [`  ${e.outcome} from ${zone(e.zone)} (${ms})`, ...records(e.records)];
  }
  return [`  ${e.text}`];
}

/** How the body's end was found, in the words of step 5. */
function framingText(body: Visit["body"]): string {
  switch (body?.framing) {
    case "content-length":
      return "its length came in Content-Length";
    case "chunked":
      return "sent in chunks";
    case "close":
      return "ended by the server closing the connection";
    case "none":
      return "no body";
    default:
      return "";
  }
}

/** The web server's address as the browser connected to it (empty if it never connected). */
function remoteOf({ connect }: Visit): string {
  return connect ? formatAddr(connect.remote) : "";
}
