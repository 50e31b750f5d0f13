/**
 * udp/subnet.ts's IPv4 arithmetic (udp/core/subnet_math.ts, re-exported by udp/subnet.ts) and
 * `udp/broadcast.ts calc`: table-driven vectors including the edges /0, /31 (RFC 3021) and /32,
 * and every rejection with its message. The planner (VLSM, split, deaggregate, IPv6) is tested in
 * tests/udp/subnet_plan_test.ts.
 */
import assert from "node:assert/strict";
import { assertNdjson, runScript } from "../_helpers.ts";
import {
  calcSubnet,
  describeSubnet,
  formatBinary,
  formatIPv4,
  formatSubnet,
  maskToPrefix,
  parseCidr,
  parseIPv4,
  prefixToMask,
} from "../../udp/subnet.ts";
import { parseHostRequests, parseNetwork, parseRange } from "../../udp/core/subnet_plan.ts";
import { parseMac } from "../../udp/core/mac.ts";

Deno.test("parseIPv4/formatIPv4/formatBinary: seed 002's 100.4.5.6 example and the extremes", () => {
  assert.equal(formatBinary(parseIPv4("100.4.5.6")), "01100100.00000100.00000101.00000110");
  assert.equal(parseIPv4("0.0.0.0"), 0);
  assert.equal(parseIPv4("255.255.255.255"), 0xffffffff);
  assert.equal(parseIPv4("192.168.1.37"), 0xc0a80125);
  for (const address of ["0.0.0.0", "1.2.3.4", "127.255.255.255", "255.255.255.255", "10.0.0.1"]) {
    assert.equal(formatIPv4(parseIPv4(address)), address);
  }
  assert.equal(formatBinary(0xffffffff), "11111111.11111111.11111111.11111111");
});

Deno.test("parseIPv4 rejects malformed and out-of-range addresses with one-line messages", () => {
  const cases: [string, typeof SyntaxError | typeof RangeError, string][] = [
    ["300.1.1.1", RangeError, 'Invalid IPv4 address "300.1.1.1": octet 300 is greater than 255'],
    ["256.0.0.0", RangeError, 'Invalid IPv4 address "256.0.0.0": octet 256 is greater than 255'],
    [
      "1.2.3",
      SyntaxError,
      'Invalid IPv4 address "1.2.3": expected 4 dotted decimal octets, got 3',
    ],
    [
      "1.2.3.4.5",
      SyntaxError,
      'Invalid IPv4 address "1.2.3.4.5": expected 4 dotted decimal octets, got 5',
    ],
    [
      "1.2..4",
      SyntaxError,
      'Invalid IPv4 address "1.2..4": octet "" is not a decimal number 0-255',
    ],
    [
      "1.2.3.x",
      SyntaxError,
      'Invalid IPv4 address "1.2.3.x": octet "x" is not a decimal number 0-255',
    ],
    [
      "1.2.3.-4",
      SyntaxError,
      'Invalid IPv4 address "1.2.3.-4": octet "-4" is not a decimal number 0-255',
    ],
    [
      " 1.2.3.4",
      SyntaxError,
      'Invalid IPv4 address " 1.2.3.4": octet " 1" is not a decimal number 0-255',
    ],
    [
      "1.2.3.1000",
      SyntaxError,
      'Invalid IPv4 address "1.2.3.1000": octet "1000" is not a decimal number 0-255',
    ],
    [
      "010.0.0.1",
      SyntaxError,
      'Invalid IPv4 address "010.0.0.1": octet "010" has a leading zero (octal or decimal?)',
    ],
    ["", SyntaxError, 'Invalid IPv4 address "": expected 4 dotted decimal octets, got 1'],
    ["1".repeat(100), SyntaxError, `Invalid IPv4 address "${"1".repeat(40)}…": too long`],
  ];
  for (const [text, type, message] of cases) {
    assert.throws(() => parseIPv4(text), (e: Error) => {
      assert.ok(e instanceof type, `${text}: ${e.constructor.name}`);
      assert.equal(e.message, message);
      return true;
    });
  }
});

Deno.test("prefixToMask and maskToPrefix agree for every prefix 0-32", () => {
  assert.equal(prefixToMask(0), 0);
  assert.equal(prefixToMask(1), 0x80000000);
  assert.equal(formatIPv4(prefixToMask(24)), "255.255.255.0");
  assert.equal(prefixToMask(32), 0xffffffff);
  for (let prefix = 0; prefix <= 32; prefix++) {
    assert.equal(maskToPrefix(prefixToMask(prefix)), prefix);
  }
  assert.throws(
    () => prefixToMask(33),
    /Invalid prefix length "\/33": expected a number from 0 to 32/,
  );
  assert.throws(() => maskToPrefix(parseIPv4("255.0.255.0")), (e: Error) => {
    assert.ok(e instanceof RangeError);
    assert.equal(e.message, 'Invalid subnet mask "255.0.255.0": its one-bits are not contiguous');
    return true;
  });
});

Deno.test("parseCidr accepts /PREFIX and /MASK and rejects the rest", () => {
  assert.deepEqual(parseCidr("192.168.1.37/24"), { address: 0xc0a80125, prefix: 24 });
  assert.deepEqual(parseCidr("192.168.1.37/255.255.255.0"), { address: 0xc0a80125, prefix: 24 });
  assert.deepEqual(parseCidr("0.0.0.0/0"), { address: 0, prefix: 0 });
  const bad: [string, string][] = [
    ["1.2.3.4/33", 'Invalid prefix length "/33": expected a number from 0 to 32'],
    ["1.2.3.4/", 'Invalid prefix length "/": expected a number from 0 to 32'],
    ["1.2.3.4/-1", 'Invalid prefix length "/-1": expected a number from 0 to 32'],
    ["1.2.3.4/24/8", 'Invalid prefix length "/24/8": expected a number from 0 to 32'],
    ["1.2.3.4", 'Invalid CIDR "1.2.3.4": missing "/PREFIX" (for example 1.2.3.4/24)'],
    ["1.2.3/24", 'Invalid IPv4 address "1.2.3": expected 4 dotted decimal octets, got 3'],
    ["300.1.1.1/8", 'Invalid IPv4 address "300.1.1.1": octet 300 is greater than 255'],
    [
      "1.2.3.4/255.255.0.255",
      'Invalid subnet mask "255.255.0.255": its one-bits are not contiguous',
    ],
  ];
  for (const [text, message] of bad) {
    assert.throws(() => parseCidr(text), (e: Error) => {
      assert.ok(e instanceof SyntaxError || e instanceof RangeError);
      assert.equal(e.message, message, text);
      return true;
    });
  }
});

Deno.test("describeSubnet vectors: /24, /0, /8, /30, /31 (RFC 3021), /32", () => {
  const show = (cidr: string) => {
    const s = calcSubnet(cidr);
    return {
      mask: formatIPv4(s.mask),
      network: formatIPv4(s.network),
      broadcast: s.broadcast === null ? null : formatIPv4(s.broadcast),
      first: formatIPv4(s.firstHost),
      last: formatIPv4(s.lastHost),
      hosts: s.hostCount,
      kind: s.kind,
    };
  };
  const vectors: [string, ReturnType<typeof show>][] = [
    ["192.168.1.37/24", {
      mask: "255.255.255.0",
      network: "192.168.1.0",
      broadcast: "192.168.1.255",
      first: "192.168.1.1",
      last: "192.168.1.254",
      hosts: 254,
      kind: "normal",
    }],
    ["172.18.32.9/24", { // seed 003's broadcast address 172.18.32.255
      mask: "255.255.255.0",
      network: "172.18.32.0",
      broadcast: "172.18.32.255",
      first: "172.18.32.1",
      last: "172.18.32.254",
      hosts: 254,
      kind: "normal",
    }],
    ["100.4.5.6/0", {
      mask: "0.0.0.0",
      network: "0.0.0.0",
      broadcast: "255.255.255.255",
      first: "0.0.0.1",
      last: "255.255.255.254",
      hosts: 4294967294,
      kind: "normal",
    }],
    ["127.0.0.1/8", {
      mask: "255.0.0.0",
      network: "127.0.0.0",
      broadcast: "127.255.255.255",
      first: "127.0.0.1",
      last: "127.255.255.254",
      hosts: 16777214,
      kind: "normal",
    }],
    ["10.0.0.6/30", {
      mask: "255.255.255.252",
      network: "10.0.0.4",
      broadcast: "10.0.0.7",
      first: "10.0.0.5",
      last: "10.0.0.6",
      hosts: 2,
      kind: "normal",
    }],
    ["10.0.0.7/31", {
      mask: "255.255.255.254",
      network: "10.0.0.6",
      broadcast: null,
      first: "10.0.0.6",
      last: "10.0.0.7",
      hosts: 2,
      kind: "point-to-point",
    }],
    ["10.0.0.7/32", {
      mask: "255.255.255.255",
      network: "10.0.0.7",
      broadcast: null,
      first: "10.0.0.7",
      last: "10.0.0.7",
      hosts: 1,
      kind: "single-host",
    }],
    ["255.255.255.255/1", {
      mask: "128.0.0.0",
      network: "128.0.0.0",
      broadcast: "255.255.255.255",
      first: "128.0.0.1",
      last: "255.255.255.254",
      hosts: 2147483646,
      kind: "normal",
    }],
  ];
  for (const [cidr, expected] of vectors) assert.deepEqual(show(cidr), expected, cidr);
});

Deno.test("describeSubnet: network = address & mask, broadcast = network | ~mask (seed 002)", () => {
  const s = describeSubnet(parseIPv4("192.168.1.37"), 24);
  assert.equal(s.network, (s.address & s.mask) >>> 0);
  assert.equal(s.broadcast, (s.network | ~s.mask) >>> 0);
  assert.equal(s.wildcard, ~s.mask >>> 0);
});

Deno.test("formatSubnet prints dotted decimal, binary and the formula on each line", () => {
  assert.deepEqual(formatSubnet(calcSubnet("192.168.1.37/24")), [
    "address    192.168.1.37     11000000.10101000.00000001.00100101",
    "mask       255.255.255.0    11111111.11111111.11111111.00000000  /24: 24 one-bits",
    "wildcard   0.0.0.255        00000000.00000000.00000000.11111111  ~mask (host bits)",
    "network    192.168.1.0      11000000.10101000.00000001.00000000  address & mask",
    "broadcast  192.168.1.255    11000000.10101000.00000001.11111111  network | ~mask",
    "first host 192.168.1.1      11000000.10101000.00000001.00000001",
    "last host  192.168.1.254    11000000.10101000.00000001.11111110",
    "hosts      254",
  ]);
  assert.match(
    formatSubnet(calcSubnet("10.0.0.0/31"))[4],
    /^broadcast {2}none +\/31 is a point-to-point link \(RFC 3021\)/,
  );
  assert.match(
    formatSubnet(calcSubnet("10.0.0.0/32"))[4],
    /^broadcast {2}none +\/32 is a single host$/,
  );
});

Deno.test("udp/broadcast.ts calc: output, and invalid input as one line with exit 1", async () => {
  const ok = await runScript("udp/broadcast.ts", ["calc", "192.168.1.37/24"]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, formatSubnet(calcSubnet("192.168.1.37/24")).join("\n") + "\n");

  const bad: [string, string][] = [
    ["300.1.1.1/24", 'Invalid IPv4 address "300.1.1.1": octet 300 is greater than 255'],
    ["1.2.3.4/33", 'Invalid prefix length "/33": expected a number from 0 to 32'],
    ["1.2.3", 'Invalid IPv4 address "1.2.3": expected 4 dotted decimal octets, got 3'],
  ];
  for (const [input, message] of bad) {
    const result = await runScript("udp/broadcast.ts", ["calc", input]);
    assert.equal(result.code, 1, input);
    assert.equal(result.stdout, "");
    assert.equal(result.stderr, `error: ${message}\n`);
  }
  const json = await runScript("udp/broadcast.ts", ["calc", "192.168.1.37/24", "--json"]);
  assert.equal(json.code, 0, json.stderr);
  const [event, ...more] = assertNdjson(json.stdout, "udp/broadcast");
  assert.equal(more.length, 0);
  assert.equal(event.event, "result");
  assert.equal(event.broadcast, "192.168.1.255");
  assert.equal(event.text, formatSubnet(calcSubnet("192.168.1.37/24")).join("\n"));

  const missing = await runScript("udp/broadcast.ts", ["calc"]);
  assert.equal(missing.code, 2);
  assert.match(
    missing.stderr,
    /^error: calc takes one CIDR, e\.g\. 192\.168\.1\.37\/24 \(got 0\) \(see --help\)\n$/,
  );
});

/** Characters that would break a one-line message, or rewrite the terminal, if echoed raw. */
// deno-lint-ignore no-control-regex
const BREAKERS = /[\x00-\x1f\x7f-\x9f\u2028\u2029]/;

Deno.test("subnet parsers echo control characters escaped: every message is one line", () => {
  const cases: [() => unknown, string][] = [
    [
      () => parseIPv4("10.0.0.1\n"),
      'Invalid IPv4 address "10.0.0.1\\n": octet "1\\n" is not a decimal number 0-255',
    ],
    [
      () => parseIPv4("10.0\r.0.1"),
      'Invalid IPv4 address "10.0\\r.0.1": octet "0\\r" is not a decimal number 0-255',
    ],
    [
      () => parseCidr("10.0.0.1/2\u001b[2J"),
      'Invalid prefix length "/2\\u001b[2J": expected a number from 0 to 32',
    ],
    [
      () => parseCidr("10.0.0.1\u2028"),
      'Invalid IPv4 address "10.0.0.1\\u2028": octet "1\\u2028" is not a decimal number 0-255',
    ],
    [
      () => parseNetwork("2001:db8::\u0085/64"),
      'Invalid IPv6 address "2001:db8::\\u0085": group "\\u0085" is not 1-4 hex digits',
    ],
    [
      () => parseRange("10.0.0.1\n-"),
      'Invalid range "10.0.0.1\\n-": expected FIRST - LAST, e.g. 10.0.0.0 - 10.0.0.200',
    ],
    [
      () => parseHostRequests("lan=5\n0"),
      'Invalid host request "lan=5\\n0": expected a host count or NAME=COUNT, e.g. lan=50',
    ],
    [
      () => parseMac("aa:bb:cc:dd:ee:f\n"),
      'Invalid MAC address "aa:bb:cc:dd:ee:f\\n": "\\n" is not a hex digit',
    ],
    [() => parseMac("\x7f".repeat(70)), `Invalid MAC address "${"\\u007f".repeat(20)}…": too long`],
  ];
  for (const [parse, message] of cases) {
    assert.throws(parse, (error: unknown) => {
      assert.ok(error instanceof SyntaxError || error instanceof RangeError);
      assert.equal(error.message, message);
      assert.doesNotMatch(error.message, BREAKERS);
      return true;
    });
  }
});
