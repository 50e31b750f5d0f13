/**
 * Reading header fields once parsed: a field's value or values, list members (RFC 9110 §5.6.1),
 * tokens in a list, and the syntax of Host (RFC 9110 §7.2).
 */
import type { HeaderList } from "./events.ts";
import { HOST_CHAR, isHexDigit, isOws, quoted, trimOws } from "./syntax.ts";

/** The members of a comma-separated list (RFC 9110 §5.6.1), OWS trimmed, empty ones dropped. */
export function listItems(value: string): string[] {
  const items: string[] = [];
  for (const item of value.split(",")) {
    const trimmed = trimOws(item);
    if (trimmed) items.push(trimmed);
  }
  return items;
}

/**
 * What is wrong with a Host value, or undefined: Host = uri-host [ ":" port ] (RFC 9110 §7.2),
 * where uri-host is an IP literal in brackets, an IPv4 address or a reg-name. Refused: an empty
 * host, userinfo (`user@`), a path, a comma (a list: two hosts, which one counts?), a port of
 * more than five digits.
 */
export function hostProblem(value: string): string | undefined {
  let at = 0;
  const n = value.length;
  if (value.includes("@")) return "userinfo (user@) is not allowed";
  if (value.charCodeAt(0) === 0x5b) {
    // IP-literal: "[" IPv6address "]" (checked for its characters) or "[v1.…]" (IPvFuture).
    const close = value.indexOf("]");
    if (close < 0) return "an IP literal without its closing bracket";
    const inside = value.slice(1, close);
    if (!isIpLiteral(inside)) return "not an IPv6 address in brackets";
    at = close + 1;
  } else {
    while (at < n) {
      const c = value.charCodeAt(at);
      if (c < 0x80 && HOST_CHAR[c]) at++;
      else if (
        c === 0x25 && at + 2 < n && isHexDigit(value.charCodeAt(at + 1)) &&
        isHexDigit(value.charCodeAt(at + 2))
      ) at += 3;
      else break;
    }
    if (n === 0) return "empty";
    if (at === 0 && value.charCodeAt(0) === 0x3a) return "no host name before the port";
  }
  if (at === n) return undefined;
  if (value.charCodeAt(at) === 0x3a) {
    const portStart = ++at;
    while (at < n && value.charCodeAt(at) >= 0x30 && value.charCodeAt(at) <= 0x39) at++;
    if (at === n) return at - portStart > 5 ? "a port has at most five digits" : undefined;
  }
  const c = value.charCodeAt(at);
  if (c === 0x2f || c === 0x3f || c === 0x23) return "only a host and a port, no path";
  if (c === 0x2c || isOws(c)) return "one host, not a list";
  return `unexpected character ${quoted(value[at])}`;
}

/** The inside of `[…]`: an IPv6 address (hex digits, colons, dots) or an IPvFuture. */
function isIpLiteral(inside: string): boolean {
  if (inside.length === 0) return false;
  const first = inside.charCodeAt(0);
  if (first === 0x76 || first === 0x56) {
    // IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
    const dot = inside.indexOf(".");
    if (dot < 2) return false;
    for (let i = 1; i < dot; i++) if (!isHexDigit(inside.charCodeAt(i))) return false;
    if (dot === inside.length - 1) return false;
    for (let i = dot + 1; i < inside.length; i++) {
      const c = inside.charCodeAt(i);
      if (!(c === 0x3a || (c < 0x80 && HOST_CHAR[c]))) return false;
    }
    return true;
  }
  let colons = 0;
  for (let i = 0; i < inside.length; i++) {
    const c = inside.charCodeAt(i);
    if (c === 0x3a) colons++;
    else if (c !== 0x2e && !isHexDigit(c)) return false;
  }
  return colons >= 2;
}

/** All values of header `name` (lower-case), in order. */
export function getHeaderValues(headers: HeaderList, name: string): string[] {
  const out: string[] = [];
  for (const [n, v] of headers) if (n === name) out.push(v);
  return out;
}

/** The value of header `name` (lower-case); repeated fields are joined with ", ". */
export function getHeader(headers: HeaderList, name: string): string | undefined {
  let out: string | undefined;
  for (const [n, v] of headers) {
    if (n === name) out = out === undefined ? v : `${out}, ${v}`;
  }
  return out;
}

/** Whether the comma-separated header `name` lists `token` (case-insensitive). */
export function headerHasToken(headers: HeaderList, name: string, token: string): boolean {
  for (const [n, v] of headers) {
    if (n !== name) continue;
    for (const item of v.split(",")) if (trimOws(item).toLowerCase() === token) return true;
  }
  return false;
}
