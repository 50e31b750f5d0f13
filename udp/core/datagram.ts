/**
 * What every netlab UDP script shares: the datagram size limits, the byte-wise ASCII upper-casing
 * the echo server replies with, and how a datagram is shown in a log line.
 *
 * Why upper-case bytes and not text: seed 001's server does `data.decode('utf-8').upper()`, and a
 * datagram truncated in the middle of a Chinese character (1200 bytes into recvfrom(1024)) raises
 * UnicodeDecodeError and kills it. Changing only the bytes a–z (seed 000's `bytes.upper()`, the
 * same rule as `tcp/server.ts`) cannot fail: Chinese is unchanged, `é` stays `é` (unlike Python's
 * `str.upper()`), and invalid UTF-8 or binary is echoed intact with its length unchanged.
 */
export { upperAscii, upperAsciiInPlace } from "../../tcp/core/upper.ts";

/** Largest UDP payload over IPv4 (65535 − 20-byte IP header − 8-byte UDP header). */
export const MAX_UDP_PAYLOAD_IPV4 = 65507;

/** Largest UDP payload over IPv6 (65535 − 8-byte UDP header; the IPv6 header is not counted). */
export const MAX_UDP_PAYLOAD_IPV6 = 65527;

/** How many bytes of a binary datagram the log line shows in hex. */
const LOG_HEX_BYTES = 32;

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const utf8 = new TextDecoder();

/** Every byte a printable ASCII character (space to `~`). */
export function isPrintableAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] < 0x20 || bytes[i] > 0x7e) return false;
  }
  return true;
}

/**
 * How a datagram appears in the log: its text when it is valid UTF-8 without control characters,
 * the text as a JSON string when it has some (a newline must not split the log line), `(empty)`
 * for an empty datagram, and a hex preview for anything that is not UTF-8.
 */
export function describeDatagram(bytes: Uint8Array): string {
  if (bytes.length === 0) return "(empty)";
  // Printable ASCII, what most datagrams are: shown as is, without the strict decoder's checks
  // and the control-character scan (a third of the cost of a busy server's log line).
  if (isPrintableAscii(bytes)) return utf8.decode(bytes);
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    const hex = Array.from(bytes.subarray(0, LOG_HEX_BYTES), (b) => b.toString(16).padStart(2, "0"))
      .join(" ");
    const more = bytes.length > LOG_HEX_BYTES ? " …" : "";
    return `(${bytes.length} bytes, not UTF-8: ${hex}${more})`;
  }
  // deno-lint-ignore no-control-regex
  return /[\u0000-\u001f\u007f]/.test(text) ? JSON.stringify(text) : text;
}
