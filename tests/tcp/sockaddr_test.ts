/**
 * tcp/linux/sockaddr.ts: `struct sockaddr_in`/`sockaddr_in6` bytes for Deno's addresses, byte
 * vectors checked, and what it refuses (a scope id, a bad address).
 */
import assert from "node:assert/strict";
import { encodeSockaddr } from "../../tcp/linux/sockaddr.ts";

Deno.test("encodeSockaddr writes sockaddr_in and sockaddr_in6 bytes, and refuses what it can't", () => {
  const name = new Uint8Array(32).fill(0xee);
  assert.equal(encodeSockaddr({ transport: "udp", hostname: "127.0.0.1", port: 8080 }, name), 16);
  // AF_INET = 2 (host order), port 8080 = 0x1f90 (network order), 127.0.0.1, zero padding.
  assert.deepEqual([...name.subarray(0, 16)], [
    2,
    0,
    0x1f,
    0x90,
    127,
    0,
    0,
    1,
    ...Array(8).fill(0),
  ]);
  assert.equal(encodeSockaddr({ transport: "udp", hostname: "::1", port: 53 }, name), 28);
  // AF_INET6 = 10, port 53, flowinfo 0, ::1, scope id 0.
  assert.deepEqual(
    [...name.subarray(0, 28)],
    [10, 0, 0, 53, 0, 0, 0, 0, ...Array(15).fill(0), 1, 0, 0, 0, 0],
  );
  assert.equal(encodeSockaddr({ transport: "udp", hostname: "fe80::1%eth0", port: 1 }, name), 0);
  assert.equal(encodeSockaddr({ transport: "udp", hostname: "300.1.1.1", port: 1 }, name), 0);
});
