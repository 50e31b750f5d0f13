/**
 * dns/zone/parse.ts: the master-file subset real zones use, every error naming file and line, the
 * limits, and the mini-Internet zones (also checked by NSD's own nsd-checkzone when installed).
 */
import assert from "node:assert/strict";
import { formatRecord } from "../../dns/wire/rdata.ts";
import { TYPE } from "../../dns/wire/constants.ts";
import { parseTtl } from "../../dns/zone/record_text.ts";
import { parseZone, ZoneSyntaxError } from "../../dns/zone/parse.ts";
import { hasCommand, ROOT, runCommand } from "../_helpers.ts";

const te = new TextEncoder();

function lines(text: string, options = {}): string[] {
  return parseZone(text, { file: "t.zone", ...options }).records.map(formatRecord);
}

function fails(text: string, pattern: RegExp, options = {}): void {
  assert.throws(() => parseZone(text, { file: "t.zone", ...options }), (error: unknown) => {
    assert.ok(error instanceof ZoneSyntaxError, `expected ZoneSyntaxError, got ${error}`);
    assert.match(error.message, pattern);
    return true;
  });
}

const SOA = "@ IN SOA ns1 hostmaster 1 3600 900 604800 300\n";

Deno.test("parseZone: $ORIGIN, $TTL, @, relative names, inherited owner, TTL and class", () => {
  const text = `$ORIGIN example.com.
$TTL 1h
${SOA}        NS  ns1          ; owner inherited from the line above
ns1     A   192.0.2.1
www 300 IN  A   192.0.2.2
        IN 60 AAAA 2001:DB8:0:0::1   ; class before TTL, owner inherited
mail.example.com. MX 10 mail
$ORIGIN sub.example.com.
x       CNAME www.example.com.
@       TXT plain words
`;
  assert.deepEqual(lines(text), [
    "example.com.\t3600\tIN\tSOA\tns1.example.com. hostmaster.example.com. 1 3600 900 604800 300",
    "example.com.\t3600\tIN\tNS\tns1.example.com.",
    "ns1.example.com.\t3600\tIN\tA\t192.0.2.1",
    "www.example.com.\t300\tIN\tA\t192.0.2.2",
    "www.example.com.\t60\tIN\tAAAA\t2001:db8::1",
    "mail.example.com.\t3600\tIN\tMX\t10 mail.example.com.",
    "x.sub.example.com.\t3600\tIN\tCNAME\twww.example.com.",
    'sub.example.com.\t3600\tIN\tTXT\t"plain" "words"',
  ]);
});

Deno.test("parseZone: parentheses over lines, comments inside, CRLF line endings", () => {
  const text = "$ORIGIN example.com.\r\n$TTL 600\r\n@ IN SOA ns1.example.com. ( ; primary\r\n" +
    "  admin.example.com.  ; mailbox\r\n  2024010101 ; serial\r\n  1h 15m 1w 5m )\r\n" +
    '@ TXT ( "one"\r\n "two" )\r\n';
  assert.deepEqual(lines(text), [
    "example.com.\t600\tIN\tSOA\tns1.example.com. admin.example.com. 2024010101 3600 900 604800 300",
    'example.com.\t600\tIN\tTXT\t"one" "two"',
  ]);
});

Deno.test("parseZone: quoted TXT with escapes, CAA, SRV, PTR, HINFO, SPF", () => {
  const text = `$ORIGIN example.com.
$TTL 60
${SOA}@ TXT "say \\"hi\\"; not a comment" "back\\\\slash" "\\065\\255" "中"
@ CAA 0 issue "letsencrypt.org"
@ CAA 128 iodef "mailto:sec@example.com"
_sip._tcp SRV 10 60 5060 sip
4.2.0.192.in-addr.arpa.example.com. PTR host
h HINFO "PC" "Linux"
@ SPF "v=spf1 -all"
`;
  const z = parseZone(text, { file: "t.zone" });
  assert.deepEqual(z.records.slice(1).map(formatRecord), [
    'example.com.\t60\tIN\tTXT\t"say \\"hi\\"; not a comment" "back\\\\slash" "A\\255" "\\228\\184\\173"',
    'example.com.\t60\tIN\tCAA\t0 issue "letsencrypt.org"',
    'example.com.\t60\tIN\tCAA\t128 iodef "mailto:sec@example.com"',
    "_sip._tcp.example.com.\t60\tIN\tSRV\t10 60 5060 sip.example.com.",
    "4.2.0.192.in-addr.arpa.example.com.\t60\tIN\tPTR\thost.example.com.",
    "h.example.com.\t60\tIN\tHINFO\t\\# 9 025043054c696e7578",
    "example.com.\t60\tIN\tSPF\t\\# 12 0b763d73706631202d616c6c",
  ]);
  const txt = z.records[1].data;
  assert.equal(txt.kind, "TXT");
  if (txt.kind === "TXT") assert.deepEqual(txt.strings[3], te.encode("中"));
});

Deno.test("parseZone: RFC 3597 generic rdata for known and unknown types", () => {
  const text = `$ORIGIN example.com.
${SOA}a TYPE65280 \\# 4 0A000001
b A \\# 4 c0000201
c TYPE99 \\# 0
`;
  assert.deepEqual(lines(text).slice(1), [
    "a.example.com.\t300\tIN\tTYPE65280\t\\# 4 0a000001",
    "b.example.com.\t300\tIN\tA\t192.0.2.1",
    "c.example.com.\t300\tIN\tSPF\t\\# 0",
  ]);
  fails(`$ORIGIN example.com.\n${SOA}a A \\# 3 c00002`, /^t.zone:3: generic rdata is not valid A/);
  fails(
    `$ORIGIN example.com.\n${SOA}a A \\# 4 c00002`,
    /^t.zone:3: generic rdata length 4 does not match 3 bytes of hex$/,
  );
});

Deno.test("parseZone: TTL units, no $TTL (SOA minimum), duplicates dropped", () => {
  assert.equal(parseTtl("1w2d3h4m5s"), 604800 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5);
  assert.equal(parseTtl("300"), 300);
  assert.throws(() => parseTtl("1x"), /invalid TTL "1x"/);
  assert.throws(() => parseTtl("4294967295"), /exceeds 2147483647/);
  const z = lines(`$ORIGIN example.com.
@ SOA ns1 hostmaster 1 2 3 4 99
a A 192.0.2.1
a A 192.0.2.1
A.example.com. A 192.0.2.1
a 5 A 192.0.2.2
b A 192.0.2.3
`);
  assert.deepEqual(z, [
    "example.com.\t99\tIN\tSOA\tns1.example.com. hostmaster.example.com. 1 2 3 4 99",
    "a.example.com.\t99\tIN\tA\t192.0.2.1",
    "a.example.com.\t5\tIN\tA\t192.0.2.2",
    "b.example.com.\t5\tIN\tA\t192.0.2.3", // RFC 1035: the last TTL given
  ]);
});

Deno.test("parseZone: the origin option acts as the apex, like NSD's zone name", () => {
  const z = parseZone("@ SOA ns1 h 1 2 3 4 5\nwww A 192.0.2.1\n", { origin: "example.org" });
  assert.equal(z.origin, "example.org.");
  assert.equal(z.records[1].name, "www.example.org.");
  assert.deepEqual(z.lines, [1, 2]);
});

Deno.test("parseZone errors name the file and line", () => {
  const head = `$ORIGIN example.com.\n${SOA}`;
  fails(`${head}www A 1.2.3`, /^t.zone:3: Invalid IPv4 address "1.2.3"$/);
  fails(`${head}www BOGUS x`, /^t.zone:3: unknown type "BOGUS"$/);
  fails(`${head}www A 1.2.3.4 5.6.7.8`, /^t.zone:3: A needs 1 rdata field, got 2$/);
  fails(`${head}\n\nwww MX ten mail`, /^t.zone:5: invalid MX preference "ten"/);
  fails(`${head}www TXT "open`, /^t.zone:3: unterminated quoted string$/);
  fails(`${head}www TXT ( "a"\n "b"\n`, /^t.zone:3: unbalanced "\(" opened on line 3$/);
  fails(`${head}www TXT "a" )`, /^t.zone:3: unbalanced "\)"$/);
  fails(`${head}www TXT "${"x".repeat(256)}"`, /^t.zone:3: string of 256 bytes exceeds 255/);
  fails(
    `${head}${"a".repeat(64)} A 1.2.3.4`,
    /^t.zone:3: invalid name ".*": label longer than 63 bytes$/,
  );
  fails(`${head}www SSHFP 1 1 abcd`, /^t.zone:3: type SSHFP has no presentation parser here/);
  fails(`${head}www IN ANY 1.2.3.4`, /^t.zone:3: type ANY cannot appear in a zone file$/);
  fails(`${head}$GENERATE 1-9 a$ A 1.2.3.$`, /^t.zone:3: unsupported directive "\$GENERATE"$/);
  fails(`www A 1.2.3.4`, /^t.zone:1: relative name "www" with no \$ORIGIN$/);
  fails(` A 1.2.3.4`, /^t.zone:1: no owner name before this record$/);
  fails(`$ORIGIN example.com.\nwww A 1.2.3.4\n`, /^t.zone:2: zone has no SOA record$/);
  fails(`${head}@ SOA a b 1 2 3 4 5`, /^t.zone:3: zone has more than one SOA record$/);
  fails(
    `${head}www.example.org. A 1.2.3.4`,
    /^t.zone:3: "www.example.org." is outside the zone "example.com."$/,
  );
  fails(
    `${head}www A 1.2.3.4\nwww CNAME x`,
    /^t.zone:4: CNAME and other data at "www.example.com."$/,
  );
  fails(`${head}www CNAME x\nwww CNAME y`, /^t.zone:4: more than one CNAME at "www.example.com."$/);
  fails(`${head}www CNAME x\nwww A 1.2.3.4`, /^t.zone:4: CNAME and other data/);
  fails(`$ORIGIN example.com.\nwww A 1.2.3.4\n${SOA}`, /^t.zone:3: SOA owner/, {
    origin: "example.net.",
  });
});

Deno.test("parseZone refuses what only queries carry, as NSD does: ANY, NONE, CLASS255, TSIG…", () => {
  const head = `$ORIGIN example.com.\n${SOA}`;
  for (const klass of ["ANY", "any", "NONE", "CLASS255", "CLASS254", "CLASS0"]) {
    fails(
      `${head}www ${klass} A 1.2.3.4`,
      new RegExp(`^t.zone:3: class ${klass} cannot appear in a zone file \\(a query class\\)$`),
    );
    fails(`${head}www 60 ${klass} A 1.2.3.4`, /^t.zone:3: class .* cannot appear in a zone file/);
  }
  const types: [string, string][] = [
    ["ANY", "ANY"],
    ["TYPE255", "ANY"],
    ["AXFR", "AXFR"],
    ["IXFR", "IXFR"],
    ["TSIG", "TSIG"],
    ["TYPE250", "TSIG"],
    ["TKEY", "TKEY"],
    ["OPT", "OPT"],
    ["TYPE253", "TYPE253"],
    ["TYPE254", "TYPE254"],
    ["TYPE0", "TYPE0"],
  ];
  for (const [text, name] of types) {
    fails(
      `${head}www IN ${text} \\# 0`,
      new RegExp(`^t.zone:3: type ${name} cannot appear in a zone file$`),
    );
  }
  // Real classes still load.
  assert.deepEqual(lines(`${head}www CH TXT "x"\nwww CLASS4 TXT "y"`).slice(1), [
    'www.example.com.\t300\tCH\tTXT\t"x"',
    'www.example.com.\t300\tHS\tTXT\t"y"',
  ]);
});

Deno.test("parseZone: a backslash ending a line is an error, not an escape of the origin's dot", () => {
  const head = `$ORIGIN example.com.\n${SOA}`;
  const message = /^t.zone:3: a backslash ends the line: nothing follows it to escape$/;
  fails(`${head}www\\\nwww A 1.2.3.4\n`, message);
  fails(`${head}www\\\r\nwww A 1.2.3.4\r\n`, message);
  fails(`${head}www\\`, message);
  fails(`${head}www A 1.2.3.4 \\\n`, message);
  // An escaped backslash ends a label normally; an escaped blank is part of it.
  assert.deepEqual(lines(`${head}www\\\\ A 1.2.3.4\na\\ b A 1.2.3.5\n`).slice(1), [
    "www\\\\.example.com.\t300\tIN\tA\t1.2.3.4",
    "a\\032b.example.com.\t300\tIN\tA\t1.2.3.5",
  ]);
});

Deno.test("parseZone: bad escapes, labels and names give one line with the line number", () => {
  const head = `$ORIGIN example.com.\n${SOA}`;
  fails(
    `${head}\na\\256 A 1.2.3.4`,
    /^t.zone:4: invalid name "a\\256\.example\.com\.": escape \\256 exceeds 255$/,
  );
  fails(`${head}www TXT "\\999"`, /^t.zone:3: escape \\999 exceeds 255$/);
  fails(
    `${head}${"a".repeat(64)}.b A 1.2.3.4`,
    /^t.zone:3: invalid name "a{64}\.b\..*": label longer than 63 bytes$/,
  );
  fails(
    `${head}${"abcdefgh.".repeat(32)} A 1.2.3.4`,
    /^t.zone:3: invalid name "(abcdefgh\.){32}": longer than 255 bytes$/,
  );
  fails(`${head}www CNAME a..b`, /^t.zone:3: invalid name "a\.\.b\.example\.com\.": empty label$/);
  // Control characters the file holds are echoed escaped: every message is one line.
  const cases: [string, RegExp][] = [
    [`${head}www BO\x0bGUS x`, /^t.zone:3: unknown type "BO\\011GUS"$/],
    [`${head}www MX "1\r0" mail`, /^t.zone:3: unexpected quoted string "1\\0130"$/],
    [`${head}www\x1b[2J A 1.2.3.4 extra`, /^t.zone:3: A needs 1 rdata field, got 2$/],
    [`${head}www A 1.2.3.\x7f`, /^t.zone:3: Invalid IPv4 address "1\.2\.3\.\\127"$/],
    [`${head}www TTL\u2028 A 1.2.3.4`, /^t.zone:3: unknown type "TTL\\u2028"$/],
  ];
  for (const [text, pattern] of cases) fails(text, pattern);
  assert.throws(
    () => parseZone(`${head}www BOGUS x`, { file: "evil\nfile.zone" }),
    { message: `evil\\010file.zone:3: unknown type "BOGUS"` },
  );
});

Deno.test("parseZone limits: line length, record count, $INCLUDE", () => {
  const head = `$ORIGIN example.com.\n${SOA}`;
  fails(`${head}a TXT "${"x".repeat(100)}"`, /^t.zone:3: line longer than 50 characters$/, {
    maxLineLength: 50,
  });
  fails(`${head}a A 1.2.3.4\nb A 1.2.3.4\n`, /^t.zone:4: more than 2 records$/, { maxRecords: 2 });
  fails(`${head}$INCLUDE other.zone`, /^t.zone:3: \$INCLUDE is not allowed here$/);
  const files: Record<string, string> = {
    "hosts.zone": "www A 192.0.2.1\n$INCLUDE deeper.zone sub.example.com.\n",
    "deeper.zone": "x A 192.0.2.9\n",
    "loop.zone": "$INCLUDE loop.zone\n",
    "bad.zone": "\n\noops A 999.1.1.1\n",
  };
  const include = (path: string) => {
    if (!(path in files)) throw new RangeError(`no file "${path}"`);
    return files[path];
  };
  assert.deepEqual(lines(`${head}$INCLUDE hosts.zone\nafter A 192.0.2.2\n`, { include }).slice(1), [
    "www.example.com.\t300\tIN\tA\t192.0.2.1",
    "x.sub.example.com.\t300\tIN\tA\t192.0.2.9",
    "after.example.com.\t300\tIN\tA\t192.0.2.2",
  ]);
  fails(`${head}$INCLUDE loop.zone`, /^loop.zone:1: \$INCLUDE nested deeper than 4$/, { include });
  fails(`${head}$INCLUDE bad.zone`, /^bad.zone:3: Invalid IPv4 address "999.1.1.1"$/, { include });
});

Deno.test("a zone written for BIND loads unchanged", () => {
  const bind = `; BIND-style zone with the usual habits
$TTL 86400	; one day
@	IN	SOA	ns.example.net. hostmaster.example.net. (
				2024052001	; serial
				28800		; refresh (8 hours)
				7200		; retry (2 hours)
				604800		; expire (1 week)
				86400		; minimum (1 day)
				)
	IN	NS	ns.example.net.
	IN	NS	ns2.example.net.
	IN	MX	10 mx1
	IN	MX	20 mx2.example.net.
	IN	TXT	"v=spf1 mx ~all"
mx1	IN	A	192.0.2.25
www	IN	CNAME	@
ftp	300	CNAME	www
*.dyn	IN	A	192.0.2.99
`;
  const z = parseZone(bind, { file: "example.net.zone", origin: "example.net." });
  assert.equal(z.records.length, 10);
  assert.equal(formatRecord(z.records[6]), "mx1.example.net.\t86400\tIN\tA\t192.0.2.25");
  assert.equal(formatRecord(z.records[7]), "www.example.net.\t86400\tIN\tCNAME\texample.net.");
  assert.equal(z.records[9].name, "*.dyn.example.net.");
});

const ZONES: [string, string, number][] = [
  ["root.zone", ".", 5],
  ["com.zone", "com.", 4],
  ["cnblogs.com.zone", "cnblogs.com.", 96],
];

Deno.test("the mini-Internet zones load and hold what seed 000 needs", async () => {
  for (const [file, origin, count] of ZONES) {
    const z = parseZone(await Deno.readTextFile(`${ROOT}dns/zones/${file}`), { file });
    assert.equal(z.origin, origin);
    assert.equal(z.records.length, count, file);
  }
  const cn = parseZone(await Deno.readTextFile(`${ROOT}dns/zones/cnblogs.com.zone`)).records;
  const www = cn.filter((r) => r.name === "www.cnblogs.com.").map(formatRecord);
  assert.deepEqual(www, [
    "www.cnblogs.com.\t600\tIN\tA\t127.0.0.5",
    "www.cnblogs.com.\t600\tIN\tAAAA\t::1",
  ]);
  for (const type of [TYPE.CNAME, TYPE.MX, TYPE.TXT, TYPE.NS, TYPE.SOA, TYPE.CAA, TYPE.SRV]) {
    assert.ok(cn.some((r) => r.type === type), `cnblogs.com zone has ${type}`);
  }
  assert.equal(cn.filter((r) => r.name === "big.cnblogs.com." && r.type === TYPE.A).length, 40);
});

Deno.test({
  name: "interop: nsd-checkzone accepts the mini-Internet zones",
  ignore: !hasCommand("nsd-checkzone"),
  async fn() {
    for (const [file, origin] of ZONES) {
      const r = await runCommand("nsd-checkzone", [origin, `dns/zones/${file}`]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /is ok/);
    }
  },
});
