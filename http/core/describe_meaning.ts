/**
 * What the parts of an HTTP message mean, in words: each method (seed 003's 请求方法), the
 * common header fields (above all those that decide framing), the target's form and the version.
 * The `--explain` views (describe.ts) print these beside the bytes.
 */

/** What each method asks for (seed 003's 请求方法). */
export const METHOD_MEANING: Record<string, string> = {
  GET: "fetch the resource",
  HEAD: "like GET, but the head only: the response has no body",
  POST: "send the body to the resource for processing",
  PUT: "store the body at this URL",
  DELETE: "remove the resource",
  CONNECT: "open a tunnel to host:port (proxies)",
  OPTIONS: "ask which methods the resource allows",
  TRACE: "echo the request back (loop-back test)",
  PATCH: "apply a partial change",
};

/** What a header field does; framing headers get their own, value-dependent text. */
export const HEADER_MEANING: Record<string, string> = {
  "host": "which site on this address (required in HTTP/1.1: one IP, many sites)",
  "user-agent": "the client software",
  "accept": "media types the client takes",
  "accept-encoding": "content codings the client can decode",
  "accept-language": "languages the client prefers",
  "accept-ranges": "the server can send byte ranges (Range → 206)",
  "age": "seconds the response spent in a cache",
  "allow": "the methods this resource accepts",
  "authorization": "credentials (Basic: base64 of user:pass — encoded, not encrypted)",
  "cache-control": "caching rules",
  "content-encoding": "the body is compressed with this coding",
  "content-range": "which bytes of the whole this partial body is (206/416)",
  "content-type": "what the body is (media type, charset)",
  "cookie": "state the client stored for this site",
  "date": "when the message was made",
  "etag": "a version tag of the resource: If-None-Match with it → 304",
  "expect": "100-continue: the client waits for an interim 100 before sending the body",
  "expires": "when the response goes stale",
  "if-match": "only if the resource still has this ETag",
  "if-modified-since": "conditional: 304 Not Modified unless changed since this date",
  "if-none-match": "conditional: 304 Not Modified if the ETag still matches",
  "if-range": "send the range only if the resource is unchanged, else all of it",
  "keep-alive": "hints for a persistent connection (timeout, max)",
  "last-modified": "when the resource last changed: If-Modified-Since with it → 304",
  "location": "where to go instead (3xx redirect) or what was created (201)",
  "origin": "the page's site that made this (cross-origin) request",
  "range": "only these bytes of the resource → 206 Partial Content",
  "referer": "the page that linked here",
  "retry-after": "when to try again (503, 429)",
  "server": "the server software",
  "set-cookie": "state for the client to send back in Cookie",
  "te": "transfer codings the client accepts (trailers)",
  "trailer": "these fields come after the chunked body",
  "upgrade": "switch this connection to another protocol (101)",
  "vary": "which request headers chose this response (for caches)",
  "via": "proxies on the way",
  "www-authenticate": "how to authenticate (401): send Authorization",
  "access-control-allow-origin": "CORS: which other sites' scripts may read this response",
  "access-control-allow-methods": "CORS preflight: the methods allowed cross-origin",
  "access-control-allow-headers": "CORS preflight: the request headers allowed cross-origin",
  "access-control-request-method": "CORS preflight: the method the real request will use",
  "access-control-request-headers": "CORS preflight: the headers the real request will send",
  "access-control-max-age": "CORS preflight: seconds the browser may cache this answer",
  "x-netlab-explain": "netlab: which rule produced this status, and which file",
};

/** `n word(s)`. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** What header `name` (any case) with `value` does, or undefined for a field we do not know. */
export function headerMeaning(name: string, value: string): string | undefined {
  const lower = name.toLowerCase();
  switch (lower) {
    case "content-length":
      return /^\d+$/.test(value.trim())
        ? `the body is exactly ${plural(Number(value.trim()), "byte")}`
        : "the body length (this value is not a number: rejected)";
    case "transfer-encoding": {
      const codings = value.split(",").map((c) => c.trim().toLowerCase());
      if (codings.at(-1) === "chunked") {
        return "the body comes in chunks, each with a hex size line, ending with 0" +
          (codings.length > 1 ? ` (first decoded: ${codings.slice(0, -1).join(", ")})` : "");
      }
      return "a transfer coding without chunked: the body ends when the connection closes";
    }
    case "connection": {
      const tokens = value.split(",").map((t) => t.trim().toLowerCase());
      if (tokens.includes("close")) return "close the connection after this message";
      if (tokens.includes("keep-alive")) {
        return "keep the connection open for another message (HTTP/1.0's opt-in)";
      }
      if (tokens.includes("upgrade")) return "the Upgrade field is for this hop";
      return "fields meant for this hop only";
    }
    default:
      return HEADER_MEANING[lower];
  }
}

/** The target's form (RFC 9112 §3.2). */
export function targetMeaning(method: string, target: string): string {
  if (target === "*") return "asterisk-form: the server as a whole (OPTIONS)";
  if (method === "CONNECT") return "authority-form: host:port to tunnel to";
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) return "absolute-form: a full URL (to a proxy)";
  const q = target.indexOf("?");
  return q < 0
    ? "origin-form: the path of the resource"
    : `origin-form: path ${target.slice(0, q)} and query ${target.slice(q + 1)}`;
}

export function versionMeaning(version: string): string {
  if (version === "1.1") return `HTTP/1.1: the connection stays open unless "Connection: close"`;
  if (version === "1.0") {
    return `HTTP/1.0: the connection closes after the response unless "Connection: keep-alive"`;
  }
  return `HTTP/${version}: not supported (only 1.0 and 1.1)`;
}
