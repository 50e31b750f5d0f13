/**
 * udp/subnet.ts as a planner: VLSM (including Debian ipcalc 0.42's failure cases — 50 hosts in a
 * /24 must get a /26, every 31–62-host request a /26), equal split, deaggregation, IPv6, and the
 * CLI as a subprocess (`--help`, one-line errors with exit 1, `--json` lines that parse, and
 * `udp/broadcast.ts calc` printing exactly what `subnet.ts calc` prints).
 */
import assert from "node:assert/strict";
import { assertNdjson, hasCommand, runCommand, runScript } from "../_helpers.ts";
import {
  blockLast,
  blockSize,
  deaggregate,
  describeIPv4,
  describeMac,
  describeSubnet6,
  expandIPv6,
  formatIPv4,
  formatIPv4View,
  formatIPv6,
  formatMac,
  formatPrefix,
  formatSubnet6,
  type IpPrefix,
  parseCidr6,
  parseHostRequests,
  parseIPv4,
  parseIPv4Either,
  parseIPv6,
  parseMac,
  parseNetwork,
  parseRange,
  planVlsm,
  prefixForHosts,
  splitPrefix,
  usableHosts,
  type VlsmPlan,
} from "../../udp/subnet.ts";
import { prng } from "../_prng.ts";

const SCRIPT = "udp/subnet.ts";

/** `[name, cidr, requested, usable, waste]` per allocation, then the free CIDRs. */
function summarize(plan: VlsmPlan): { subnets: (string | number)[][]; free: string[] } {
  return {
    subnets: plan.allocations.map((a) => [
      a.request.name,
      `${formatIPv4(a.subnet.network)}/${a.subnet.prefix}`,
      a.request.hosts,
      a.subnet.hostCount,
      a.waste,
    ]),
    free: plan.free.map(formatPrefix),
  };
}

function plan(cidr: string, hosts: string, pointToPoint = false): VlsmPlan {
  const parent = parseNetwork(cidr);
  return planVlsm(Number(parent.network), parent.prefix, parseHostRequests(hosts), {
    pointToPoint,
  });
}

/** Blocks must be aligned, in order, back to back, and exactly cover first…last. */
function assertExactCover(blocks: IpPrefix[], first: bigint, last: bigint, label: string) {
  let next = first;
  for (const block of blocks) {
    const size = blockSize(block.family, block.prefix);
    assert.equal(block.network, next, `${label}: gap or overlap at ${formatPrefix(block)}`);
    assert.equal(block.network % size, 0n, `${label}: ${formatPrefix(block)} is not aligned`);
    next = blockLast(block) + 1n;
  }
  assert.equal(next, last + 1n, `${label}: cover ends early`);
}

Deno.test("prefixForHosts: the longest prefix with 2^(32-p) - 2 >= hosts, at every boundary", () => {
  const vectors: [number, number][] = [
    [1, 30],
    [2, 30],
    [3, 29],
    [6, 29],
    [7, 28],
    [14, 28],
    [15, 27],
    [30, 27],
    [31, 26],
    [50, 26],
    [62, 26],
    [63, 25],
    [126, 25],
    [127, 24],
    [254, 24],
    [255, 23],
    [4294967294, 0],
  ];
  for (const [hosts, prefix] of vectors) assert.equal(prefixForHosts(hosts), prefix, `${hosts}`);
  for (let p = 1; p <= 30; p++) {
    assert.equal(prefixForHosts(usableHosts(p)), p, `exactly /${p}`);
    assert.equal(prefixForHosts(usableHosts(p) + 1), p - 1, `one more than /${p}`);
  }
  assert.equal(prefixForHosts(1, { pointToPoint: true }), 31);
  assert.equal(prefixForHosts(2, { pointToPoint: true }), 31);
  assert.equal(prefixForHosts(3, { pointToPoint: true }), 29);
  assert.equal(usableHosts(31), 2);
  assert.equal(usableHosts(32), 1);
  assert.throws(() => prefixForHosts(0), /Invalid host count 0: expected 1 to 4294967294/);
  assert.throws(() => prefixForHosts(2 ** 32 - 1), /Invalid host count 4294967295/);
});

Deno.test("planVlsm: 50,20,10 in a /24 → /26, /27, /28 (ipcalc 0.42 gives the 50 a /27)", () => {
  assert.deepEqual(summarize(plan("192.168.1.0/24", "50,20,10")), {
    subnets: [
      ["#1", "192.168.1.0/26", 50, 62, 12],
      ["#2", "192.168.1.64/27", 20, 30, 10],
      ["#3", "192.168.1.96/28", 10, 14, 4],
    ],
    free: ["192.168.1.112/28", "192.168.1.128/25"],
  });
  // Input order does not matter, names survive the sort, equal sizes keep their order.
  assert.deepEqual(summarize(plan("10.1.0.0/16", "a=10,b=500,c=62,d=31,e=2")), {
    subnets: [
      ["b", "10.1.0.0/23", 500, 510, 10],
      ["c", "10.1.2.0/26", 62, 62, 0],
      ["d", "10.1.2.64/26", 31, 62, 31],
      ["a", "10.1.2.128/28", 10, 14, 4],
      ["e", "10.1.2.144/30", 2, 2, 0],
    ],
    free: [
      "10.1.2.148/30",
      "10.1.2.152/29",
      "10.1.2.160/27",
      "10.1.2.192/26",
      "10.1.3.0/24",
      "10.1.4.0/22",
      "10.1.8.0/21",
      "10.1.16.0/20",
      "10.1.32.0/19",
      "10.1.64.0/18",
      "10.1.128.0/17",
    ],
  });
  // The host bits of the given address are ignored: the plan starts at the network.
  assert.deepEqual(summarize(plan("192.168.1.37/24", "50")).subnets, [
    ["#1", "192.168.1.0/26", 50, 62, 12],
  ]);
});

Deno.test("planVlsm: every request of 31–62 hosts gets a /26 with enough hosts", () => {
  for (let hosts = 31; hosts <= 62; hosts++) {
    const [allocation] = plan("192.168.1.0/24", String(hosts)).allocations;
    assert.equal(allocation.subnet.prefix, 26, `${hosts} hosts`);
    assert.ok(allocation.subnet.hostCount >= hosts);
    assert.equal(allocation.waste, 62 - hosts);
  }
  // ipcalc 0.42's other wrong ranges: 7–14 → /28, 127–254 → /24.
  assert.equal(plan("10.0.0.0/16", "7").allocations[0].subnet.prefix, 28);
  assert.equal(plan("10.0.0.0/16", "14").allocations[0].subnet.prefix, 28);
  assert.equal(plan("10.0.0.0/16", "200").allocations[0].subnet.prefix, 24);
});

Deno.test("planVlsm: exact fits, /31 with --rfc3021, and the whole space", () => {
  assert.deepEqual(summarize(plan("10.0.0.0/24", "126,126")), {
    subnets: [["#1", "10.0.0.0/25", 126, 126, 0], ["#2", "10.0.0.128/25", 126, 126, 0]],
    free: [],
  });
  assert.deepEqual(summarize(plan("10.0.0.0/30", "2")).subnets, [["#1", "10.0.0.0/30", 2, 2, 0]]);
  const p2p = plan("10.0.0.0/29", "2,2,1", true);
  assert.deepEqual(summarize(p2p), {
    subnets: [
      ["#1", "10.0.0.0/31", 2, 2, 0],
      ["#2", "10.0.0.2/31", 2, 2, 0],
      ["#3", "10.0.0.4/31", 1, 2, 1],
    ],
    free: ["10.0.0.6/31"],
  });
  assert.equal(p2p.allocations[0].subnet.broadcast, null);
  assert.deepEqual(summarize(plan("0.0.0.0/0", "4294967294")).subnets, [
    ["#1", "0.0.0.0/0", 4294967294, 4294967294, 0],
  ]);
});

Deno.test("planVlsm: random plans are aligned, disjoint, inside the network, and minimal", () => {
  const next = prng(7);
  for (let round = 0; round < 300; round++) {
    const prefix = 16 + Math.floor(next() * 13);
    const network = (Math.floor(next() * 2 ** 32) & (0xffffffff << (32 - prefix))) >>> 0;
    const requests = Array.from(
      { length: 1 + Math.floor(next() * 8) },
      () => 1 + Math.floor(next() * 2 ** (32 - prefix) / 4),
    );
    let result: VlsmPlan;
    try {
      result = planVlsm(network, prefix, requests.map((hosts, i) => ({ name: `r${i}`, hosts })));
    } catch (error) {
      assert.ok(error instanceof RangeError);
      const needed = requests.reduce((sum, h) => sum + 2 ** (32 - prefixForHosts(h)), 0);
      assert.ok(needed > 2 ** (32 - prefix), `${error.message} but ${needed} fit`);
      continue;
    }
    const blocks: IpPrefix[] = [
      ...result.allocations.map((a) => ({
        family: 4 as const,
        network: BigInt(a.subnet.network),
        prefix: a.subnet.prefix,
      })),
      ...result.free,
    ];
    const first = BigInt(network);
    assertExactCover(blocks, first, first + BigInt(2 ** (32 - prefix)) - 1n, `round ${round}`);
    for (const { request, subnet } of result.allocations) {
      assert.ok(subnet.hostCount >= request.hosts, "too small");
      assert.ok(subnet.prefix === 30 || usableHosts(subnet.prefix + 1) < request.hosts, "too big");
    }
  }
});

Deno.test("planVlsm and parseHostRequests reject what does not fit or does not parse", () => {
  const cases: [() => unknown, string][] = [
    [
      () => plan("192.168.1.0/24", "300"),
      'Request "#1" for 300 hosts needs a /23 (510 usable), larger than 192.168.1.0/24',
    ],
    [
      () => plan("192.168.1.0/24", "100,100,50"),
      "Requests do not fit in 192.168.1.0/24: they need 2 × /25 + 1 × /26 = 320 addresses, it has 256",
    ],
    [
      () => plan("10.0.0.0/31", "1"),
      'Request "#1" for 1 hosts needs a /30 (2 usable), larger than 10.0.0.0/31',
    ],
    [() => parseHostRequests(""), 'Invalid host request "": expected a host count or NAME=COUNT'],
    [() => parseHostRequests("50,,10"), 'Invalid host request ""'],
    [() => parseHostRequests("-5"), 'Invalid host request "-5"'],
    [() => parseHostRequests("0"), 'Invalid host request "0": expected 1 to 4294967294 hosts'],
    [() => parseHostRequests("4294967295"), 'Invalid host request "4294967295"'],
    [() => parseHostRequests("a=1,a=2"), 'Invalid host requests: "a" appears twice'],
    [() => parseHostRequests(Array(1025).fill("1").join(",")), "Too many host requests: 1025"],
    [() => parseHostRequests("1,".repeat(20000)), "too long"],
  ];
  for (const [run, message] of cases) {
    assert.throws(run, (e: Error) => {
      assert.ok(e instanceof SyntaxError || e instanceof RangeError, e.message);
      assert.ok(e.message.includes(message), `${e.message} lacks ${message}`);
      return true;
    });
  }
  assert.deepEqual(parseHostRequests(" lan=50 , 20 "), [
    { name: "lan", hosts: 50 },
    { name: "#2", hosts: 20 },
  ]);
});

Deno.test("splitPrefix: equal subnets, the row limit, /31 and /32, IPv6", () => {
  const quarters = splitPrefix(parseNetwork("10.0.0.77/24"), 26);
  assert.equal(quarters.total, 4n);
  assert.deepEqual(quarters.subnets.map(formatPrefix), [
    "10.0.0.0/26",
    "10.0.0.64/26",
    "10.0.0.128/26",
    "10.0.0.192/26",
  ]);
  assert.deepEqual(splitPrefix(parseNetwork("10.0.0.0/24"), 24).subnets.map(formatPrefix), [
    "10.0.0.0/24",
  ]);
  assert.deepEqual(
    splitPrefix(parseNetwork("10.0.0.0/30"), 31).subnets.map(formatPrefix),
    ["10.0.0.0/31", "10.0.0.2/31"],
  );
  assert.equal(splitPrefix(parseNetwork("10.0.0.0/30"), 32).subnets.length, 4);
  const many = splitPrefix(parseNetwork("0.0.0.0/0"), 32, { limit: 3 });
  assert.equal(many.total, 2n ** 32n);
  assert.deepEqual(many.subnets.map(formatPrefix), ["0.0.0.0/32", "0.0.0.1/32", "0.0.0.2/32"]);
  const v6 = splitPrefix(parseNetwork("2001:db8::/32"), 48, { limit: 2 });
  assert.equal(v6.total, 65536n);
  assert.deepEqual(v6.subnets.map(formatPrefix), ["2001:db8::/48", "2001:db8:1::/48"]);
  assert.equal(splitPrefix(parseNetwork("::/0"), 128, { limit: 1 }).total, 2n ** 128n);
  assert.throws(
    () => splitPrefix(parseNetwork("10.0.0.0/24"), 20),
    /^RangeError: Cannot split 10\.0\.0\.0\/24 into \/20 subnets: a \/20 is larger than the \/24 itself$/,
  );
  assert.throws(() => splitPrefix(parseNetwork("10.0.0.0/24"), 33), /"\/33": expected a number/);
  assert.throws(() => splitPrefix(parseNetwork("::/0"), 129), /"\/129": .* from 0 to 128/);
  assert.throws(() => splitPrefix(parseNetwork("::/0"), 64, { limit: 65537 }), /Invalid limit/);
});

Deno.test("deaggregate: vectors — single address, whole spaces, odd ranges", () => {
  const cidrs = (text: string) => {
    const range = parseRange(text);
    return deaggregate(range.family, range.first, range.last).map(formatPrefix);
  };
  assert.deepEqual(cidrs("10.0.0.0 - 10.0.0.200"), [
    "10.0.0.0/25",
    "10.0.0.128/26",
    "10.0.0.192/29",
    "10.0.0.200/32",
  ]);
  assert.deepEqual(cidrs("10.0.0.0-10.0.0.200"), cidrs("10.0.0.0 - 10.0.0.200"));
  assert.deepEqual(cidrs("192.0.2.7-192.0.2.7"), ["192.0.2.7/32"]);
  assert.deepEqual(cidrs("0.0.0.0 - 255.255.255.255"), ["0.0.0.0/0"]);
  assert.deepEqual(cidrs("10.0.0.0 - 10.0.0.255"), ["10.0.0.0/24"]);
  assert.deepEqual(cidrs("10.0.0.1 - 10.0.0.254"), [
    "10.0.0.1/32",
    "10.0.0.2/31",
    "10.0.0.4/30",
    "10.0.0.8/29",
    "10.0.0.16/28",
    "10.0.0.32/27",
    "10.0.0.64/26",
    "10.0.0.128/26",
    "10.0.0.192/27",
    "10.0.0.224/28",
    "10.0.0.240/29",
    "10.0.0.248/30",
    "10.0.0.252/31",
    "10.0.0.254/32",
  ]);
  assert.deepEqual(cidrs("10.0.0.255 - 10.0.1.0"), ["10.0.0.255/32", "10.0.1.0/32"]);
  assert.deepEqual(cidrs("255.255.255.255-255.255.255.255"), ["255.255.255.255/32"]);
  // The worst case is 2 × bits − 2 blocks.
  assert.equal(cidrs("0.0.0.1 - 255.255.255.254").length, 62);
  assert.deepEqual(cidrs(":: - ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), ["::/0"]);
  assert.equal(cidrs("::1 - ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe").length, 254);
  assert.deepEqual(cidrs("2001:db8::ffff - 2001:db8::1:0"), [
    "2001:db8::ffff/128",
    "2001:db8::1:0/128",
  ]);
});

Deno.test("deaggregate: random ranges are covered exactly by the fewest blocks", () => {
  const next = prng(11);
  for (let round = 0; round < 500; round++) {
    const a = BigInt(Math.floor(next() * 2 ** 32));
    const b = BigInt(Math.floor(next() * 2 ** (1 + Math.floor(next() * 32))));
    const first = a;
    const last = a + b > 0xffffffffn ? 0xffffffffn : a + b;
    const blocks = deaggregate(4, first, last);
    assertExactCover(blocks, first, last, `${first}-${last}`);
    // Minimal: no two neighbours are buddies that would merge into one aligned block.
    for (let i = 1; i < blocks.length; i++) {
      const [left, right] = [blocks[i - 1], blocks[i]];
      const merged = blockSize(4, left.prefix) * 2n;
      assert.ok(
        !(left.prefix === right.prefix && left.network % merged === 0n),
        `${formatPrefix(left)} + ${formatPrefix(right)} should be one block`,
      );
    }
  }
});

Deno.test("parseRange rejects reversed, mixed and malformed ranges", () => {
  const cases: [string, string][] = [
    [
      "10.0.0.200 - 10.0.0.1",
      'Invalid range "10.0.0.200 - 10.0.0.1": the end 10.0.0.1 is before the start 10.0.0.200',
    ],
    ["10.0.0.1 - ::1", 'Invalid range "10.0.0.1 - ::1": both ends must be IPv4 or both IPv6'],
    ["10.0.0.1", 'Invalid range "10.0.0.1": expected FIRST - LAST, e.g. 10.0.0.0 - 10.0.0.200'],
    ["1-2-3", 'Invalid range "1-2-3": expected FIRST - LAST'],
    ["10.0.0.1 - 10.0.0.256", 'Invalid IPv4 address "10.0.0.256": octet 256 is greater than 255'],
    ["1".repeat(200), "too long"],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseRange(text), (e: Error) => {
      assert.ok(e.message.includes(message), `${e.message} lacks ${message}`);
      return true;
    });
  }
});

Deno.test("IPv6: parse, RFC 5952 compressed and expanded forms", () => {
  const vectors: [string, string, string][] = [
    ["::", "::", "0000:0000:0000:0000:0000:0000:0000:0000"],
    ["::1", "::1", "0000:0000:0000:0000:0000:0000:0000:0001"],
    ["2001:0DB8::0001", "2001:db8::1", "2001:0db8:0000:0000:0000:0000:0000:0001"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1", "2001:0db8:0000:0000:0001:0000:0000:0001"],
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1", "2001:0000:0000:0001:0000:0000:0000:0001"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1", "2001:0db8:0000:0001:0001:0001:0001:0001"],
    ["fe80::1:0:0:0", "fe80::1:0:0:0", "fe80:0000:0000:0000:0001:0000:0000:0000"],
    ["1:0:0:2:0:0:0:3", "1:0:0:2::3", "0001:0000:0000:0002:0000:0000:0000:0003"],
    ["1:0:0:2:3:0:0:4", "1::2:3:0:0:4", "0001:0000:0000:0002:0003:0000:0000:0004"],
    ["::ffff:192.0.2.1", "::ffff:192.0.2.1", "0000:0000:0000:0000:0000:ffff:c000:0201"],
    ["64:ff9b::192.0.2.33", "64:ff9b::c000:221", "0064:ff9b:0000:0000:0000:0000:c000:0221"],
    [
      "FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF",
      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    ],
  ];
  for (const [text, compressed, expanded] of vectors) {
    const value = parseIPv6(text);
    assert.equal(formatIPv6(value), compressed, text);
    assert.equal(expandIPv6(value), expanded, text);
    assert.equal(parseIPv6(compressed), value, `${compressed} round trip`);
  }
  assert.equal(parseIPv6("::1"), 1n);
  assert.equal(parseIPv6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), 2n ** 128n - 1n);
});

Deno.test("IPv6: every malformed address and prefix is refused with its reason", () => {
  const cases: [string, string][] = [
    ["1::2::3", 'Invalid IPv6 address "1::2::3": "::" may appear only once'],
    [
      "1:2:3:4:5:6:7:8:9",
      'Invalid IPv6 address "1:2:3:4:5:6:7:8:9": expected 8 groups of hex digits (or "::"), got 9',
    ],
    ["1:2:3:4:5:6:7", "expected 8 groups of hex digits"],
    [
      "1:2:3:4::5:6:7:8",
      '"::" must stand for at least one zero group, but 8 groups are given',
    ],
    ["12345::", 'Invalid IPv6 address "12345::": group "12345" is not 1-4 hex digits'],
    ["g::1", 'group "g" is not 1-4 hex digits'],
    [":1::", 'group "" is not 1-4 hex digits'],
    ["1:::2", 'group "" is not 1-4 hex digits'],
    ["::1.2.3", 'Invalid IPv6 address "::1.2.3": embedded IPv4 "1.2.3": expected 4 dotted'],
    ["::1.2.3.4:5", 'group "1.2.3.4" is not 1-4 hex digits'],
    ["fe80::1%eth0", 'a zone index ("%…") is not part of an address or prefix'],
    ["", "expected 8 groups"],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseIPv6(text), (e: Error) => {
      assert.ok(e instanceof SyntaxError, text);
      assert.ok(e.message.includes(message), `${e.message} lacks ${message}`);
      return true;
    });
  }
  assert.throws(() => parseCidr6("2001:db8::/129"), (e: Error) => {
    assert.ok(e instanceof RangeError);
    assert.equal(e.message, 'Invalid prefix length "/129": expected a number from 0 to 128');
    return true;
  });
  assert.throws(
    () => parseCidr6("2001:db8::"),
    /missing "\/PREFIX" \(for example 2001:db8::\/64\)/,
  );
  assert.throws(() => parseCidr6("::/x"), /Invalid prefix length "\/x"/);
});

Deno.test("describeSubnet6 / formatSubnet6: /64, /0, /127, /128", () => {
  const info = describeSubnet6(parseIPv6("2001:db8::1"), 64);
  assert.equal(formatIPv6(info.network), "2001:db8::");
  assert.equal(formatIPv6(info.lastAddress), "2001:db8::ffff:ffff:ffff:ffff");
  assert.equal(info.addressCount, 2n ** 64n);
  assert.deepEqual(formatSubnet6(info), [
    "address    2001:db8::1                    2001:0db8:0000:0000:0000:0000:0000:0001",
    "mask       ffff:ffff:ffff:ffff::          ffff:ffff:ffff:ffff:0000:0000:0000:0000  /64: 64 one-bits",
    "network    2001:db8::                     2001:0db8:0000:0000:0000:0000:0000:0000  address & mask",
    "first      2001:db8::                     2001:0db8:0000:0000:0000:0000:0000:0000",
    "last       2001:db8::ffff:ffff:ffff:ffff  2001:0db8:0000:0000:ffff:ffff:ffff:ffff  network | ~mask",
    "addresses  18446744073709551616 (2^64)",
    "broadcast  none: IPv6 has no broadcast (all-nodes multicast ff02::1 does that job)",
  ]);
  const all = describeSubnet6(parseIPv6("2001:db8::1"), 0);
  assert.equal(all.network, 0n);
  assert.equal(all.lastAddress, 2n ** 128n - 1n);
  assert.equal(all.addressCount, 2n ** 128n);
  assert.ok(formatSubnet6(all).includes("/64 nets   2^64"));
  const p2p = describeSubnet6(parseIPv6("2001:db8::3"), 127);
  assert.equal(formatIPv6(p2p.network), "2001:db8::2");
  assert.ok(formatSubnet6(p2p).includes("addresses  2 (/127 is a point-to-point link, RFC 6164)"));
  const one = describeSubnet6(parseIPv6("2001:db8::3"), 128);
  assert.equal(one.network, one.lastAddress);
  assert.ok(formatSubnet6(one).includes("addresses  1 (/128 is a single address)"));
});

Deno.test("subnet.ts CLI: split --hosts prints the plan table and the free rest", async () => {
  const result = await runScript(SCRIPT, ["split", "192.168.1.0/24", "--hosts", "50,20,10"]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(
    result.stdout,
    `192.168.1.0/24: 3 requests for 80 hosts, largest first (usable = 2^(32-p) - 2)
name  hosts  subnet           first - last host             broadcast      usable  waste
#1       50  192.168.1.0/26   192.168.1.1 - 192.168.1.62    192.168.1.63       62     12
#2       20  192.168.1.64/27  192.168.1.65 - 192.168.1.94   192.168.1.95       30     10
#3       10  192.168.1.96/28  192.168.1.97 - 192.168.1.110  192.168.1.111      14      4

free              first - last                   addresses
192.168.1.112/28  192.168.1.112 - 192.168.1.127         16
192.168.1.128/25  192.168.1.128 - 192.168.1.255        128
used 112 of 256 addresses (80 hosts requested, 26 usable to spare); 144 free in 2 blocks
`,
  );
});

Deno.test("subnet.ts CLI: split --prefix lists the first N and counts the rest", async () => {
  const result = await runScript(SCRIPT, [
    "split",
    "2001:db8::/32",
    "--prefix",
    "/48",
    "--limit=2",
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(
    result.stdout,
    `2001:db8::/32 = 65536 × /48 (2^80 addresses each)
subnet           first - last
2001:db8::/48    2001:db8:: - 2001:db8:0:ffff:ffff:ffff:ffff:ffff
2001:db8:1::/48  2001:db8:1:: - 2001:db8:1:ffff:ffff:ffff:ffff:ffff
… 65534 more /48 subnets not shown (65536 in all; --limit N shows up to 65536)
`,
  );
  const v4 = await runScript(SCRIPT, ["split", "10.0.0.0/30", "--prefix", "31"]);
  assert.equal(
    v4.stdout,
    `10.0.0.0/30 = 2 × /31 (2 addresses, 2 usable hosts each)
subnet       first - last host    broadcast
10.0.0.0/31  10.0.0.0 - 10.0.0.1  none
10.0.0.2/31  10.0.0.2 - 10.0.0.3  none
`,
  );
});

Deno.test("subnet.ts CLI: deaggregate takes A-B as one argument or three", async () => {
  const spaced = await runScript(SCRIPT, ["deaggregate", "10.0.0.0", "-", "10.0.0.200"]);
  const joined = await runScript(SCRIPT, ["deaggregate", "10.0.0.0-10.0.0.200"]);
  assert.equal(spaced.code, 0, spaced.stderr);
  assert.equal(spaced.stdout, joined.stdout);
  assert.equal(
    spaced.stdout,
    `10.0.0.0 - 10.0.0.200: 201 addresses in 4 CIDRs
cidr           first - last             addresses
10.0.0.0/25    10.0.0.0 - 10.0.0.127          128
10.0.0.128/26  10.0.0.128 - 10.0.0.191         64
10.0.0.192/29  10.0.0.192 - 10.0.0.199          8
10.0.0.200/32  10.0.0.200 - 10.0.0.200          1
`,
  );
});

Deno.test("subnet.ts CLI: --help, and invalid input as one line with exit 1", async () => {
  const help = await runScript(SCRIPT, ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: deno task subnet <command>/);
  assert.match(help.stdout, /split CIDR --hosts/);

  const bad: [string[], string][] = [
    [["calc", "300.1.1.1/24"], 'Invalid IPv4 address "300.1.1.1": octet 300 is greater than 255'],
    [["calc", "1.2.3.4/33"], 'Invalid prefix length "/33": expected a number from 0 to 32'],
    [["calc", "1.2.3"], 'Invalid IPv4 address "1.2.3": expected 4 dotted decimal octets, got 3'],
    [
      ["calc", "2001:db8::/129"],
      'Invalid prefix length "/129": expected a number from 0 to 128',
    ],
    [
      ["split", "192.168.1.0/24", "--hosts", "100,100,50"],
      "Requests do not fit in 192.168.1.0/24: they need 2 × /25 + 1 × /26 = 320 addresses, it has 256",
    ],
    [
      ["split", "192.168.1.0/24", "--hosts", "300"],
      'Request "#1" for 300 hosts needs a /23 (510 usable), larger than 192.168.1.0/24',
    ],
    [
      ["split", "2001:db8::/48", "--hosts", "5"],
      "--hosts plans IPv4 subnets; IPv6 subnets are /64 whatever the host count: use --prefix /64",
    ],
    [
      ["split", "10.0.0.0/24", "--prefix", "/20"],
      "Cannot split 10.0.0.0/24 into /20 subnets: a /20 is larger than the /24 itself",
    ],
    [
      ["deaggregate", "10.0.0.200", "-", "10.0.0.1"],
      'Invalid range "10.0.0.200 - 10.0.0.1": the end 10.0.0.1 is before the start 10.0.0.200',
    ],
  ];
  for (const [args, message] of bad) {
    const result = await runScript(SCRIPT, args);
    assert.equal(result.code, 1, args.join(" "));
    assert.equal(result.stdout, "", args.join(" "));
    assert.equal(result.stderr, `error: ${message}\n`);
  }
  const usage: [string[], RegExp][] = [
    [
      ["split", "10.0.0.0/24"],
      /^error: split needs exactly one of --hosts N,… or --prefix \/P \(see --help\)\n$/,
    ],
    [
      ["frob"],
      /^error: Unknown command "frob": expected calc, split, deaggregate, ip or mac \(see --help\)\n$/,
    ],
    [
      ["split", "10.0.0.0/8", "--prefix", "/24", "--limit", "0"],
      /^error: --limit must be an integer from 1 to .*, got 0 \(see --help\)\n$/,
    ],
  ];
  for (const [args, pattern] of usage) {
    const result = await runScript(SCRIPT, args);
    assert.equal(result.code, 2);
    assert.match(result.stderr, pattern);
  }
});

Deno.test("subnet.ts CLI: --json on every command is pure NDJSON with result events", async () => {
  const runs: [string[], number][] = [
    [["calc", "192.168.1.37/24", "--json"], 1],
    [["calc", "2001:db8::1/64", "--json"], 1],
    [["split", "192.168.1.0/24", "--hosts", "lan=50,20,10", "--json"], 3 + 2],
    [["split", "10.0.0.0/8", "--prefix", "/24", "--limit", "5", "--json"], 5],
    [["deaggregate", "10.0.0.0 - 10.0.0.200", "--json"], 4],
  ];
  for (const [args, subnets] of runs) {
    const result = await runScript(SCRIPT, args);
    assert.equal(result.code, 0, result.stderr);
    const events = assertNdjson(result.stdout, "udp/subnet");
    assert.equal(events.filter((e) => e.event === "result").length, subnets, args.join(" "));
    for (const e of events) {
      assert.ok(["result", "log"].includes(e.event));
      assert.equal(typeof e.text, "string");
    }
  }
  const calc = assertNdjson(
    (await runScript(SCRIPT, ["calc", "10.0.0.7/31", "--json"])).stdout,
    "udp/subnet",
  );
  assert.deepEqual(
    { ...calc[0], ts: undefined, text: undefined },
    {
      ts: undefined,
      tool: "udp/subnet",
      event: "result",
      role: "calc",
      address: "10.0.0.7",
      family: 4,
      cidr: "10.0.0.6/31",
      network: "10.0.0.6",
      prefix: 31,
      mask: "255.255.255.254",
      wildcard: "0.0.0.1",
      broadcast: null,
      first: "10.0.0.6",
      last: "10.0.0.7",
      hosts: 2,
      kind: "point-to-point",
      text: undefined,
    },
  );
  const plan = assertNdjson(
    (await runScript(SCRIPT, ["split", "192.168.1.0/24", "--hosts", "lan=50", "--json"])).stdout,
    "udp/subnet",
  );
  const lan = plan.find((e) => e.name === "lan");
  assert.equal(lan?.cidr, "192.168.1.0/26");
  assert.equal(lan?.requested, 50);
  assert.equal(lan?.hosts, 62);
  assert.equal(lan?.waste, 12);
  assert.deepEqual(plan.filter((e) => e.role === "free").map((e) => e.cidr), [
    "192.168.1.64/26",
    "192.168.1.128/25",
  ]);
  const v6 = assertNdjson(
    (await runScript(SCRIPT, ["calc", "2001:db8::1/64", "--json"])).stdout,
    "udp/subnet",
  );
  assert.equal(v6[0].addresses, "18446744073709551616");
  assert.equal(v6[0].expanded, "2001:0db8:0000:0000:0000:0000:0000:0000");
});

Deno.test("udp/broadcast.ts calc prints exactly what subnet.ts calc prints", async () => {
  for (const cidr of ["192.168.1.37/24", "10.0.0.7/31", "10.0.0.7/32", "8.8.8.8/0"]) {
    const [broadcast, subnet] = await Promise.all([
      runScript("udp/broadcast.ts", ["calc", cidr]),
      runScript(SCRIPT, ["calc", cidr]),
    ]);
    assert.equal(broadcast.code, 0, broadcast.stderr);
    assert.equal(broadcast.stdout, subnet.stdout, cidr);
    assert.match(broadcast.stdout, /^address {4}/);
  }
});

Deno.test({
  name: "interop: ipcalc agrees on network, host range, broadcast and host count",
  ignore: !hasCommand("ipcalc"),
  async fn() {
    for (const cidr of ["192.168.1.37/24", "10.20.30.40/13", "172.16.5.4/30", "1.2.3.4/0"]) {
      const result = await runCommand("ipcalc", ["-n", "-b", cidr]);
      assert.equal(result.code, 0, result.stderr);
      const field = (name: string) =>
        new RegExp(`^${name}:\\s+(\\S+)`, "m").exec(result.stdout)?.[1];
      const ours = (await runScript(SCRIPT, ["calc", cidr, "--json"])).stdout;
      const [event] = assertNdjson(ours, "udp/subnet");
      assert.equal(field("Network"), event.cidr, cidr);
      assert.equal(field("HostMin"), event.first, cidr);
      assert.equal(field("HostMax"), event.last, cidr);
      assert.equal(field("Broadcast"), event.broadcast, cidr);
      assert.equal(Number(field("Hosts/Net")), event.hosts, cidr);
    }
  },
});

Deno.test({
  name: "interop: sipcalc agrees on IPv6 expanded/compressed forms and the network range",
  ignore: !hasCommand("sipcalc"),
  async fn() {
    for (const cidr of ["2001:db8::1/64", "2001:db8:0:0:1:0:0:1/100", "fe80::1/10"]) {
      const result = await runCommand("sipcalc", [cidr]);
      assert.equal(result.code, 0, result.stderr);
      const field = (name: string) =>
        new RegExp(`^${name}\\s+- (\\S+)`, "m").exec(result.stdout)?.[1];
      const range = /Network range\s+- (\S+) -\s+(\S+)/.exec(result.stdout);
      const { address, prefix } = parseCidr6(cidr);
      const info = describeSubnet6(address, prefix);
      assert.equal(field("Expanded Address"), expandIPv6(address), cidr);
      assert.equal(field("Compressed address"), formatIPv6(address), cidr);
      assert.equal(range?.[1], expandIPv6(info.network), cidr);
      assert.equal(range?.[2], expandIPv6(info.lastAddress), cidr);
    }
  },
});

Deno.test("parseIPv4: the one-pass fast path agrees with the strict rules", () => {
  const good: [string, number][] = [
    ["0.0.0.0", 0],
    ["255.255.255.255", 0xffffffff],
    ["127.0.0.1", 0x7f000001],
    ["10.0.0.255", 0x0a0000ff],
    ["100.20.3.0", 0x64140300],
  ];
  for (const [text, value] of good) assert.equal(parseIPv4(text), value, text);
  const bad: [string, RegExp][] = [
    ["01.2.3.4", /leading zero/],
    ["0.0.0.00", /leading zero/],
    ["1.2.3", /expected 4 dotted decimal octets, got 3/],
    ["1.2.3.4.5", /got 5/],
    ["1..2.3", /octet "" is not a decimal number/],
    ["", /got 1/],
    ["1.2.3.4 ", /octet "4 " is not/],
    ["1.2.3.-4", /octet "-4" is not/],
    ["1.2.3.1000", /octet "1000" is not/],
    ["256.1.1.1", /octet 256 is greater than 255/],
  ];
  for (const [text, message] of bad) assert.throws(() => parseIPv4(text), message, text);
});

Deno.test("parseIPv4 round trip through the planner's bigint blocks", () => {
  const block = parseNetwork("203.0.113.77/27");
  assert.equal(formatPrefix(block), "203.0.113.64/27");
  assert.equal(block.address, BigInt(parseIPv4("203.0.113.77")));
  assert.equal(formatIPv4(Number(blockLast(block))), "203.0.113.95");
});

Deno.test("parseMac: the three notations give the same 6 bytes (seed 004: 12 hex digits)", () => {
  const expected = new Uint8Array([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
  for (
    const text of ["AA:BB:CC:DD:EE:FF", "aa:bb:cc:dd:ee:ff", "aa-bb-cc-dd-ee-ff", "aabb.ccdd.eeff"]
  ) {
    assert.deepEqual(parseMac(text), expected, text);
  }
  const info = describeMac(parseMac("AA:BB:CC:DD:EE:FF"));
  assert.equal(info.hex, "AABBCCDDEEFF");
  assert.equal(info.oui, "AABBCC");
  assert.equal(info.serial, "DDEEFF");
  assert.equal(info.colon, "aa:bb:cc:dd:ee:ff");
  assert.equal(info.dash, "aa-bb-cc-dd-ee-ff");
  assert.equal(info.cisco, "aabb.ccdd.eeff");
  // Seed 004's 「12位编号」 are hex digits: 12 × 4 = 48 bits.
  assert.equal(info.binary, "10101010 10111011 11001100 11011101 11101110 11111111");
  assert.equal(info.binary.replaceAll(" ", "").length, 48);
});

Deno.test("describeMac: the I/G bit (unicast, multicast, broadcast) and the U/L bit", () => {
  const cases: [string, number, number, string, string][] = [
    ["00:1a:2b:3c:4d:5e", 0, 0, "unicast", "global"],
    ["01:00:5e:00:00:01", 1, 0, "multicast", "global"], // IPv4 multicast 224.0.0.1
    ["02:42:ac:11:00:02", 0, 1, "unicast", "local"], // a Docker container
    ["33:33:00:00:00:01", 1, 1, "multicast", "local"], // IPv6 multicast ff02::1
    ["aa:bb:cc:dd:ee:ff", 0, 1, "unicast", "local"],
    ["ff:ff:ff:ff:ff:ff", 1, 1, "broadcast", "local"],
    ["ff:ff:ff:ff:ff:fe", 1, 1, "multicast", "local"],
  ];
  for (const [text, groupBit, localBit, cast, administration] of cases) {
    const info = describeMac(parseMac(text));
    assert.deepEqual(
      [info.groupBit, info.localBit, info.cast, info.administration],
      [groupBit, localBit, cast, administration],
      text,
    );
  }
  assert.deepEqual(formatMac(describeMac(parseMac("00-1A-2B-3C-4D-5E"))), [
    "mac       00:1A:2B:3C:4D:5E  00-1a-2b-3c-4d-5e  001a.2b3c.4d5e",
    "hex       001A2B3C4D5E  12 hex digits = 48 bits",
    "bits      00000000 00011010 00101011 00111100 01001101 01011110",
    "OUI       001A2B  first 6 hex digits: vendor number (IEEE-assigned OUI)",
    "serial    3C4D5E  last 6 hex digits: the vendor's serial number",
    "I/G bit   0  bit 0 of byte 0: unicast (one interface)",
    "U/L bit   0  bit 1 of byte 0: globally unique (burned in; the OUI is the vendor's)",
  ]);
  assert.throws(() => describeMac(new Uint8Array(5)), RangeError);
});

Deno.test("parseMac rejects every malformed address with a one-line reason", () => {
  const cases: [string, string][] = [
    ["aa:bb:cc", "expected 12 hex digits (48 bits), got 6"],
    ["aa:bb:cc:dd:ee:ff:00", "expected 12 hex digits (48 bits), got 14"],
    ["zz:bb:cc:dd:ee:ff", '"z" is not a hex digit'],
    ["aa:bb-cc:dd:ee:ff", "expected AA:BB:CC:DD:EE:FF, aa-bb-cc-dd-ee-ff or aabb.ccdd.eeff"],
    ["a:bb:cc:dd:ee:fff", "expected AA:BB:CC:DD:EE:FF, aa-bb-cc-dd-ee-ff or aabb.ccdd.eeff"],
    ["aabbccddeeff", "expected AA:BB:CC:DD:EE:FF, aa-bb-cc-dd-ee-ff or aabb.ccdd.eeff"],
    ["aabb.ccdd.eeff.", "expected AA:BB:CC:DD:EE:FF, aa-bb-cc-dd-ee-ff or aabb.ccdd.eeff"],
    ["", "expected 12 hex digits (48 bits), got 0"],
  ];
  for (const [text, why] of cases) {
    assert.throws(() => parseMac(text), {
      name: "SyntaxError",
      message: `Invalid MAC address "${text}": ${why}`,
    }, text);
  }
  assert.throws(() => parseMac("a".repeat(65)), { name: "SyntaxError", message: /too long$/ });
});

Deno.test("ip view: 100.4.5.6 ↔ 01100100.00000100.00000101.00000110 both ways (seed 002)", () => {
  assert.equal(parseIPv4Either("01100100.00000100.00000101.00000110"), parseIPv4("100.4.5.6"));
  assert.equal(parseIPv4Either("11111111.11111111.11111111.11111111"), 0xffffffff);
  assert.equal(parseIPv4Either("00000000.00000000.00000000.00000000"), 0);
  const view = describeIPv4(parseIPv4Either("100.4.5.6"));
  assert.deepEqual(view.octets, [100, 4, 5, 6]);
  assert.equal(view.value, 100 * 2 ** 24 + 4 * 2 ** 16 + 5 * 2 ** 8 + 6);
  assert.equal(view.hex, "0x64040506");
  assert.equal(
    formatIPv4View(view)[0],
    "address  100.4.5.6  ↔  01100100.00000100.00000101.00000110",
  );
  assert.equal(
    formatIPv4View(view)[1],
    "octets   100 = 01100100   4 = 00000100   5 = 00000101   6 = 00000110",
  );
  // 256 does not fit in 8 bits; a 7-bit or 9-bit group is neither notation.
  assert.throws(() => parseIPv4Either("256.4.5.6"), {
    name: "RangeError",
    message: 'Invalid IPv4 address "256.4.5.6": octet 256 is greater than 255',
  });
  assert.throws(() => parseIPv4Either("0110010.00000100.00000101.00000110"), SyntaxError);
  assert.throws(() => parseIPv4Either("101100100.00000100.00000101.00000110"), SyntaxError);
});

Deno.test("subnet.ts CLI: ip and mac print their view, --json one result, bad input one line", async () => {
  const ip = await runScript(SCRIPT, ["ip", "100.4.5.6"]);
  assert.equal(ip.code, 0, ip.stderr);
  assert.match(
    ip.stdout,
    /^address {2}100\.4\.5\.6 {2}↔ {2}01100100\.00000100\.00000101\.00000110\n/,
  );
  const ip6 = await runScript(SCRIPT, ["ip", "2001:db8::1"]);
  assert.match(ip6.stdout, /^expanded {2}2001:0db8:0000:0000:0000:0000:0000:0001 /m);

  const mac = await runScript(SCRIPT, ["mac", "AA:BB:CC:DD:EE:FF"]);
  assert.equal(mac.code, 0, mac.stderr);
  assert.match(mac.stdout, /^OUI {7}AABBCC {2}first 6 hex digits/m);
  assert.match(mac.stdout, /^serial {4}DDEEFF {2}last 6 hex digits/m);
  assert.match(mac.stdout, /^hex {7}AABBCCDDEEFF {2}12 hex digits = 48 bits$/m);
  assert.match(mac.stdout, /^I\/G bit {3}0 .*unicast/m);
  assert.match(mac.stdout, /^U\/L bit {3}1 .*locally administered/m);
  const broadcast = await runScript(SCRIPT, ["mac", "ffff.ffff.ffff"]);
  assert.match(broadcast.stdout, /^I\/G bit {3}1 .*broadcast/m);

  const [event] = assertNdjson(
    (await runScript(SCRIPT, ["mac", "00-1a-2b-3c-4d-5e", "--json"])).stdout,
    "udp/subnet",
  );
  assert.deepEqual({ ...event, ts: undefined, text: undefined }, {
    ts: undefined,
    tool: "udp/subnet",
    event: "result",
    mac: "00:1a:2b:3c:4d:5e",
    hex: "001A2B3C4D5E",
    bits: "00000000 00011010 00101011 00111100 01001101 01011110",
    oui: "001A2B",
    serial: "3C4D5E",
    ig: 0,
    ul: 0,
    cast: "unicast",
    administration: "global",
    text: undefined,
  });
  const ipEvents = assertNdjson(
    (await runScript(SCRIPT, ["ip", "100.4.5.6", "--json"])).stdout,
    "udp/subnet",
  );
  assert.equal(ipEvents.length, 1);
  assert.equal(ipEvents[0].event, "result");
  assert.equal(ipEvents[0].binary, "01100100.00000100.00000101.00000110");
  assert.deepEqual(ipEvents[0].octets, [100, 4, 5, 6]);

  const bad: [string[], string][] = [
    [["ip", "256.4.5.6"], 'Invalid IPv4 address "256.4.5.6": octet 256 is greater than 255'],
    [
      ["mac", "aa:bb:cc"],
      'Invalid MAC address "aa:bb:cc": expected 12 hex digits (48 bits), got 6',
    ],
    [
      ["mac", "gg:bb:cc:dd:ee:ff"],
      'Invalid MAC address "gg:bb:cc:dd:ee:ff": "g" is not a hex digit',
    ],
  ];
  for (const [args, message] of bad) {
    const result = await runScript(SCRIPT, args);
    assert.equal(result.code, 1, args.join(" "));
    assert.equal(result.stdout, "");
    assert.equal(result.stderr, `error: ${message}\n`);
  }
  const missing = await runScript(SCRIPT, ["mac"]);
  assert.equal(missing.code, 2);
  assert.match(
    missing.stderr,
    /^error: mac takes one address, e\.g\. AA:BB:CC:DD:EE:FF \(got 0\) \(see --help\)\n$/,
  );
});

Deno.test("subnet.ts CLI: control characters in arguments are echoed escaped, on one line", async () => {
  const cases: [string[], string][] = [
    [
      ["calc", "10.0.0.1\n/24"],
      'Invalid IPv4 address "10.0.0.1\\n": octet "1\\n" is not a decimal number 0-255',
    ],
    [
      ["calc", "10.0.0.1/2\u001b[2J4"],
      'Invalid prefix length "/2\\u001b[2J4": expected a number from 0 to 32',
    ],
    [
      ["split", "10.0.0.0/24", "--hosts", "5\r\n0"],
      'Invalid host request "5\\r\\n0": expected a host count or NAME=COUNT, e.g. lan=50',
    ],
    [
      ["deaggregate", "10.0.0.1\u0085-10.0.0.9"],
      'Invalid IPv4 address "10.0.0.1\\u0085": octet "1\\u0085" is not a decimal number 0-255',
    ],
    [
      ["mac", "aa:bb:cc:dd:ee:f\n"],
      'Invalid MAC address "aa:bb:cc:dd:ee:f\\n": "\\n" is not a hex digit',
    ],
  ];
  for (const [args, message] of cases) {
    const result = await runScript(SCRIPT, args);
    assert.equal(result.code, 1, JSON.stringify(args));
    assert.equal(result.stderr, `error: ${message}\n`);
  }
  const usage = await runScript(SCRIPT, ["split", "10.0.0.0/8", "--prefix", "/2\n4"]);
  assert.equal(
    usage.stderr.split("\n")[0],
    'error: Invalid --prefix "/2\\n4": expected /P, e.g. /26 (see --help)',
  );
  const unknown = await runScript(SCRIPT, ["fr\u0085ob"]);
  assert.equal(
    unknown.stderr.split("\n")[0],
    'error: Unknown command "fr\\u0085ob": expected calc, split, deaggregate, ip or mac (see --help)',
  );
});
