/**
 * HTTP Basic authentication (RFC 7617), decoded once per request: the access log takes the user
 * name from it and /private/ checks the password against it.
 *
 * The password is never compared as text: the server keeps a SHA-256 digest of `user:password`
 * and compares digests in constant time, so the answer takes as long whether the first byte or
 * the last one differs.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { getHeader } from "../core/headers.ts";
import type { HeaderList } from "../core/events.ts";

/** The decoded `Authorization: Basic <token68>` of one request. */
export interface BasicCredentials {
  /** The user name as the access log shows it: printable ASCII, anything else as `?`. */
  logName: string;
  /** `user:password` decoded as UTF-8, or undefined when the token is not valid base64. */
  pair?: string;
}

/** The digest `credentialsMatch` compares against, made once at start-up. */
export function credentialsDigest(user: string, password: string): Uint8Array {
  return sha256(`${user}:${password}`);
}

/** The request's Basic credentials, or undefined when it sent none (or another scheme). */
export function basicCredentials(headers: HeaderList): BasicCredentials | undefined {
  const token = basicToken(getHeader(headers, "authorization"));
  if (token === undefined) return undefined;
  let binary: string;
  try {
    binary = atob(token);
  } catch {
    return { logName: "-" };
  }
  let pair: string | undefined;
  try {
    pair = new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
  } catch {
    pair = undefined;
  }
  return { logName: binary.split(":")[0].replace(/[^\x21-\x7e]/g, "?") || "-", pair };
}

/** Whether `credentials` are the ones whose digest is `digest` (constant time). */
export function credentialsMatch(
  credentials: BasicCredentials | undefined,
  digest: Uint8Array,
): boolean {
  if (credentials?.pair === undefined) return false;
  return timingSafeEqual(sha256(credentials.pair), digest);
}

function sha256(text: string): Uint8Array {
  return createHash("sha256").update(text).digest();
}

/**
 * The credentials of `Authorization: Basic <token68>` (RFC 7617), or undefined: a scan, not a
 * regex, since the value can be kilobytes long.
 */
function basicToken(value: string | undefined): string | undefined {
  if (value === undefined || value.length < 7) return undefined;
  if (value.slice(0, 5).toLowerCase() !== "basic") return undefined;
  let at = 5;
  const blank = (c: string) => c === " " || c === "\t";
  if (!blank(value[at])) return undefined;
  while (at < value.length && blank(value[at])) at++;
  const start = at;
  while (at < value.length && BASE64_CHAR.has(value[at])) at++;
  const end = at;
  while (at < value.length && blank(value[at])) at++;
  return end > start && at === value.length ? value.slice(start, end) : undefined;
}

const BASE64_CHAR = new Set(
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=",
);
