/**
 * `struct sockaddr_in` / `sockaddr_in6` bytes for Deno's `NetAddr`s (Linux layout), for the libc
 * calls that take or return socket addresses: getsockname/getpeername when finding a socket's
 * descriptor, and the per-datagram addresses of recvmmsg/sendmmsg.
 *
 * Layout: family (2 bytes, host order), port (2, network order), then the IPv4 address at
 * offset 4, or flow info at 4 and the IPv6 address at 8 (28 bytes in all).
 */
import { formatIPv6, parseIPv4, parseIPv6 } from "../core/ip_address.ts";

/** Room for any sockaddr the fast paths use (a sockaddr_in6 is 28 bytes), rounded up. */
export const SOCKADDR_SIZE = 32;
const SOCKADDR_IN_SIZE = 16;
const SOCKADDR_IN6_SIZE = 28;
const AF_INET = 2;
const AF_INET6 = 10;

/** Writes `addr` into `name`; returns its length, or 0 when it can't (a name, a scope id). */
export function encodeSockaddr(addr: Deno.NetAddr, name: Uint8Array): number {
  const view = new DataView(name.buffer, name.byteOffset, name.byteLength);
  name.fill(0, 0, SOCKADDR_IN6_SIZE);
  try {
    if (!addr.hostname.includes(":")) {
      view.setUint16(0, AF_INET, true);
      view.setUint16(2, addr.port, false);
      view.setUint32(4, parseIPv4(addr.hostname), false);
      return SOCKADDR_IN_SIZE;
    }
    if (addr.hostname.includes("%")) return 0; // a scope id: leave it to Deno's own calls
    const value = parseIPv6(addr.hostname);
    view.setUint16(0, AF_INET6, true);
    view.setUint16(2, addr.port, false);
    view.setBigUint64(8, value >> 64n, false);
    view.setBigUint64(16, value & 0xffff_ffff_ffff_ffffn, false);
    return SOCKADDR_IN6_SIZE;
  } catch {
    return 0;
  }
}

/** The address in `name` (as recvmmsg filled it in). */
export function decodeSockaddr(name: Uint8Array, transport: "tcp" | "udp"): Deno.NetAddr {
  const port = (name[2] << 8) | name[3];
  if ((name[0] | (name[1] << 8)) === AF_INET) {
    return { transport, hostname: `${name[4]}.${name[5]}.${name[6]}.${name[7]}`, port };
  }
  const view = new DataView(name.buffer, name.byteOffset + 8, 16);
  const value = (view.getBigUint64(0, false) << 64n) | view.getBigUint64(8, false);
  return { transport, hostname: formatIPv6(value), port };
}

/** Same family, port and address: the same end (padding and IPv6 flow labels aside). */
export function sameSockaddr(a: Uint8Array, b: Uint8Array): boolean {
  if (a[0] !== b[0] || a[1] !== b[1] || a[2] !== b[2] || a[3] !== b[3]) return false;
  const [from, to] = (a[0] | (a[1] << 8)) === AF_INET6 ? [8, 24] : [4, 8];
  for (let i = from; i < to; i++) if (a[i] !== b[i]) return false;
  return true;
}
