/**
 * URL anatomy, pure (no I/O): seed 000 takes `http://www.cnblogs.com/linhaifeng/articles/6817679.html`
 * apart into the protocol the browser's client socket speaks (`http`), the domain name DNS turns
 * into an IP (`www.cnblogs.com`), the port (implied: 80, the web server's default) and the path
 * of the file to fetch. `parseUrl` does exactly that split, with limits and one-line errors;
 * `describeUrl` prints it the way the seed does; `domainLevels` names the levels of the host
 * (`.` root → `com` top-level → `cnblogs` second-level → `www` host).
 *
 * Only `http:` is fetched. `https:` is recognised (port 443) so the client can refuse it with a
 * clear message instead of calling it malformed. A URL without a scheme is taken as `http:`,
 * like curl does. The fragment (`#…`) is kept for display but never sent.
 */

import { quoteInput } from "../../tcp/core/printable.ts";

/** Longest URL accepted (the server side refuses request lines over 8 KiB with 414). */
export const MAX_URL_LENGTH = 8192;
/** Longest host name (RFC 1035: 255 octets on the wire, 253 characters in text). */
export const MAX_HOST_LENGTH = 253;
/** Longest label in a host name. */
export const MAX_LABEL_LENGTH = 63;
/** Default server ports by scheme (seed 000: "一般服务端端口默认为80"). */
export const DEFAULT_PORTS = { http: 80, https: 443 } as const;

/** The schemes `parseUrl` knows. */
export type Scheme = keyof typeof DEFAULT_PORTS;

/** The kind of host a URL names: a name needs DNS, a literal does not. */
export type HostKind = "name" | "ipv4" | "ipv6";

/** A URL taken apart. */
export interface HttpUrl {
  /** The URL as given (trimmed). */
  input: string;
  scheme: Scheme;
  /** User name and password from `user:pass@host`, percent-decoded; empty when absent. */
  username: string;
  password: string;
  /** Host, lower-cased, IPv6 without brackets. */
  host: string;
  hostKind: HostKind;
  port: number;
  /** True when the URL named the port; false when it is the scheme's default. */
  portExplicit: boolean;
  /** Path starting with `/`, percent-encoding kept (non-ASCII bytes encoded as UTF-8). */
  path: string;
  /** Query without the `?`; `undefined` when the URL has no `?`. */
  query: string | undefined;
  /** Fragment without the `#`; never sent to the server. */
  fragment: string | undefined;
  /** What goes on the request line: path plus `?query`. */
  target: string;
  /** The `Host:` header value: host, bracketed if IPv6, plus `:port` when not the default. */
  authority: string;
  /** The normalised URL (without credentials and fragment). */
  href: string;
}

/** A URL that cannot be parsed (curl's exit code 3); `message` says what and where. */
export class UrlError extends TypeError {
  override name = "UrlError";
}

const SCHEME_RE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;
const HOST_LABEL_RE = /^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$/;
const encoder = new TextEncoder();

/**
 * Takes an absolute URL apart. Throws `UrlError` for anything malformed and for schemes other
 * than `http:`/`https:` (the caller refuses `https:` itself, so it can say why).
 */
export function parseUrl(text: string): HttpUrl {
  const input = text.trim();
  if (input.length === 0) throw new UrlError('Invalid URL "": empty');
  if (input.length > MAX_URL_LENGTH) {
    throw new UrlError(`Invalid URL: longer than ${MAX_URL_LENGTH} characters`);
  }
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x20\x7f]/.test(input)) {
    throw new UrlError(
      `Invalid URL ${quoteInput(input)}: contains whitespace or a control character`,
    );
  }

  let scheme: Scheme = "http";
  let rest = input;
  const schemeMatch = SCHEME_RE.exec(input);
  if (schemeMatch) {
    const name = schemeMatch[1].toLowerCase();
    if (name !== "http" && name !== "https") {
      throw new UrlError(`Unsupported scheme "${name}" in "${input}": only http is supported`);
    }
    scheme = name;
    rest = input.slice(schemeMatch[0].length);
  } else if (/^[A-Za-z][A-Za-z0-9+.-]*:(?!\d)/.test(input) && !input.includes("://")) {
    // "mailto:x" or "ftp:foo" — a scheme without "//" is not something we can fetch.
    throw new UrlError(`Invalid URL "${input}": expected http://HOST[:PORT]/PATH`);
  }

  // Authority runs to the first "/", "?" or "#".
  const authorityEnd = rest.search(/[/?#]/);
  const authorityText = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
  const afterAuthority = authorityEnd < 0 ? "" : rest.slice(authorityEnd);

  let username = "";
  let password = "";
  let hostPort = authorityText;
  const at = authorityText.lastIndexOf("@");
  if (at >= 0) {
    const userinfo = authorityText.slice(0, at);
    hostPort = authorityText.slice(at + 1);
    const colon = userinfo.indexOf(":");
    username = decodeComponent(colon < 0 ? userinfo : userinfo.slice(0, colon), input);
    password = colon < 0 ? "" : decodeComponent(userinfo.slice(colon + 1), input);
  }

  const { host, hostKind, portText } = splitHostPort(hostPort, input);
  const defaultPort = DEFAULT_PORTS[scheme];
  let port: number = defaultPort;
  let portExplicit = false;
  if (portText !== undefined && portText !== "") {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw new UrlError(`Invalid port "${portText}" in "${input}": expected 1 to 65535`);
    }
    port = Number(portText);
    portExplicit = true;
  }

  // Path, query and fragment, in that order.
  let fragment: string | undefined;
  let beforeFragment = afterAuthority;
  const hash = afterAuthority.indexOf("#");
  if (hash >= 0) {
    fragment = afterAuthority.slice(hash + 1);
    beforeFragment = afterAuthority.slice(0, hash);
  }
  let query: string | undefined;
  let pathText = beforeFragment;
  const q = beforeFragment.indexOf("?");
  if (q >= 0) {
    query = encodeUnsafe(beforeFragment.slice(q + 1));
    pathText = beforeFragment.slice(0, q);
  }
  const path = pathText === "" ? "/" : encodeUnsafe(pathText);
  const target = query === undefined ? path : `${path}?${query}`;
  const bracketed = hostKind === "ipv6" ? `[${host}]` : host;
  const authority = port === defaultPort ? bracketed : `${bracketed}:${port}`;
  return {
    input,
    scheme,
    username,
    password,
    host,
    hostKind,
    port,
    portExplicit,
    path,
    query,
    fragment,
    target,
    authority,
    href: `${scheme}://${authority}${target}`,
  };
}

/**
 * Resolves a redirect's `Location` against the URL that returned it (RFC 3986 reference
 * resolution, done by the built-in WHATWG `URL`), then takes the result apart with `parseUrl`.
 */
export function resolveUrl(base: HttpUrl, reference: string): HttpUrl {
  let resolved: string;
  try {
    resolved = new URL(reference, base.href).href;
  } catch {
    throw new UrlError(`Invalid redirect location "${reference}"`);
  }
  return parseUrl(resolved);
}

/** One line of `describeUrl`: which part, its value, and what it is for. */
export interface UrlPart {
  part: string;
  value: string;
  note: string;
}

/** The URL's anatomy as seed 000 explains it, one part per entry. */
export function urlAnatomy(url: HttpUrl): UrlPart[] {
  const hostNote = url.hostKind === "name"
    ? "domain name: DNS (UDP, port 53) turns it into an IP address"
    : `${url.hostKind === "ipv4" ? "IPv4" : "IPv6"} address: no DNS needed`;
  const parts: UrlPart[] = [
    { part: "scheme", value: url.scheme, note: "the protocol the browser's client socket speaks" },
    { part: "host", value: url.host, note: hostNote },
    {
      part: "port",
      value: url.portExplicit ? String(url.port) : `${url.port} (implied)`,
      note: url.portExplicit
        ? "named in the URL"
        : `omitted, so the ${url.scheme} default: web servers listen on ${url.port}`,
    },
    { part: "path", value: url.path, note: "the file or resource on that server" },
  ];
  if (url.query !== undefined) {
    parts.push({ part: "query", value: url.query, note: "parameters, sent after the path" });
  }
  if (url.fragment !== undefined) {
    parts.push({ part: "fragment", value: url.fragment, note: "stays in the browser, never sent" });
  }
  return parts;
}

/** `urlAnatomy` as aligned text lines, e.g. `  port    80 (implied)   omitted, so …`. */
export function describeUrl(url: HttpUrl): string[] {
  const parts = urlAnatomy(url);
  const valueWidth = Math.max(...parts.map((p) => p.value.length));
  return [
    `URL ${url.input}`,
    ...parts.map((p) => `  ${p.part.padEnd(8)} ${p.value.padEnd(valueWidth)}  ${p.note}`),
  ];
}

/** One level of a domain name, from the root down. */
export interface DomainLevel {
  label: string;
  level: string;
}

/**
 * The levels of a domain name (seed 000, E9): `www.cnblogs.com` → `.` root, `com` top-level
 * domain, `cnblogs` second-level domain, `www` host name inside it (deeper labels are
 * "third-level", … subdomains).
 */
export function domainLevels(name: string): DomainLevel[] {
  const labels = name.replace(/\.$/, "").split(".").filter((l) => l !== "");
  const levels: DomainLevel[] = [{ label: ".", level: "root domain" }];
  labels.reverse().forEach((label, i) => {
    const isLast = i === labels.length - 1 && labels.length > 2;
    const level = i === 0
      ? "top-level domain"
      : i === 1
      ? "second-level domain"
      : isLast
      ? "host name"
      : `level-${i + 1} domain`;
    levels.push({ label, level });
  });
  return levels;
}

function splitHostPort(
  hostPort: string,
  input: string,
): { host: string; hostKind: HostKind; portText: string | undefined } {
  if (hostPort.startsWith("[")) {
    const close = hostPort.indexOf("]");
    if (close < 0) throw new UrlError(`Invalid URL "${input}": "[" without "]" in the host`);
    const host = hostPort.slice(1, close).toLowerCase();
    if (!isIpv6(host)) throw new UrlError(`Invalid IPv6 address "${host}" in "${input}"`);
    const after = hostPort.slice(close + 1);
    if (after !== "" && !after.startsWith(":")) {
      throw new UrlError(`Invalid URL "${input}": unexpected "${after}" after the IPv6 address`);
    }
    return { host, hostKind: "ipv6", portText: after === "" ? undefined : after.slice(1) };
  }
  const colon = hostPort.indexOf(":");
  const host = (colon < 0 ? hostPort : hostPort.slice(0, colon)).toLowerCase();
  const portText = colon < 0 ? undefined : hostPort.slice(colon + 1);
  if (host === "") throw new UrlError(`Invalid URL "${input}": no host`);
  if (isIpv4(host)) return { host, hostKind: "ipv4", portText };
  checkHostName(host, input);
  return { host: host.replace(/\.$/, ""), hostKind: "name", portText };
}

function checkHostName(host: string, input: string): void {
  if (host.length > MAX_HOST_LENGTH) {
    throw new UrlError(`Invalid host in "${input}": longer than ${MAX_HOST_LENGTH} characters`);
  }
  const labels = host.replace(/\.$/, "").split(".");
  for (const label of labels) {
    if (label.length > MAX_LABEL_LENGTH) {
      throw new UrlError(
        `Invalid host "${host}" in "${input}": label longer than ${MAX_LABEL_LENGTH} characters`,
      );
    }
    if (!HOST_LABEL_RE.test(label)) {
      throw new UrlError(`Invalid host "${host}" in "${input}": bad label "${label}"`);
    }
  }
  // All-numeric names that are not a valid IPv4 address (e.g. "300.1.1.1") are mistakes.
  if (/^[\d.]+$/.test(host)) {
    throw new UrlError(`Invalid IPv4 address "${host}" in "${input}"`);
  }
}

/** True for a dotted-quad IPv4 address (four decimal parts 0–255, no leading zeros). */
export function isIpv4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 &&
    parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255);
}

/** True for an IPv6 address in text form (RFC 4291 §2.2, including `::` and an IPv4 tail). */
export function isIpv6(text: string): boolean {
  if (text.length === 0 || text.length > 45) return false;
  let groups = text;
  let tailGroups = 0;
  const lastColon = text.lastIndexOf(":");
  if (lastColon >= 0 && text.slice(lastColon + 1).includes(".")) {
    if (!isIpv4(text.slice(lastColon + 1))) return false;
    groups = text.slice(0, lastColon + 1) + "0"; // stand-in group so the split stays regular
    tailGroups = 1; // the IPv4 tail is two groups; the stand-in counts one
  }
  const halves = groups.split("::");
  if (halves.length > 2) return false;
  const isGroup = (g: string) => /^[0-9a-f]{1,4}$/i.test(g);
  const count = (half: string) => half === "" ? [] : half.split(":");
  if (halves.length === 1) {
    const parts = count(halves[0]);
    return parts.length + tailGroups === 8 && parts.every(isGroup);
  }
  const left = count(halves[0]);
  const right = count(halves[1]);
  return left.length + right.length + tailGroups <= 7 && [...left, ...right].every(isGroup);
}

function decodeComponent(text: string, input: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new UrlError(`Invalid URL "${input}": bad percent-encoding in "${text}"`);
  }
}

/** Percent-encodes what may not appear raw on a request line (non-ASCII, `"`, `<`, `>`, …). */
function encodeUnsafe(text: string): string {
  let out = "";
  for (const ch of text) {
    if (/^[\x21-\x7e]$/.test(ch) && !/["<>\\^`{|}]/.test(ch)) {
      out += ch;
    } else {
      for (const b of encoder.encode(ch)) {
        out += `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
      }
    }
  }
  return out;
}
