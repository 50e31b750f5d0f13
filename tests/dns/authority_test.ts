/**
 * dns/authority/authority.ts: every rule of the authoritative answer against the pure module —
 * zone choice, referrals with glue, CNAME chains, wildcards, empty non-terminals, NXDOMAIN and
 * NODATA with the SOA, additional addresses, minimal ANY.
 */
import assert from "node:assert/strict";
import { Authority } from "../../dns/authority/authority.ts";
import { respond } from "../../dns/authority/respond.ts";
import { decodeMessage, encodeMessage, makeQuery } from "../../dns/wire/message.ts";
import { RCODE, TYPE } from "../../dns/wire/constants.ts";
import { parseZone } from "../../dns/zone/parse.ts";
import { ask, authority, cnblogs, com, records, root } from "./_authority.ts";

Deno.test("authority: an authoritative answer sets AA and echoes the question's case", () => {
  const r = ask("WWW.CnBlogs.COM", TYPE.A);
  assert.equal(r.flags.rcode, RCODE.NOERROR);
  assert.equal(r.flags.aa, true);
  assert.equal(r.flags.ra, false);
  assert.deepEqual(r.questions[0].name, "WWW.CnBlogs.COM.");
  assert.deepEqual(records(r.answers), ["WWW.CnBlogs.COM.\t600\tIN\tA\t127.0.0.5"]);
  assert.deepEqual(records(ask("www.cnblogs.com", TYPE.AAAA).answers), [
    "www.cnblogs.com.\t600\tIN\tAAAA\t::1",
  ]);
});

Deno.test("authority: NXDOMAIN and NODATA carry the SOA (negative TTL) in AUTHORITY", () => {
  const nx = ask("nope.cnblogs.com", TYPE.A);
  assert.equal(nx.flags.rcode, RCODE.NXDOMAIN);
  assert.equal(nx.flags.aa, true);
  assert.equal(nx.answers.length, 0);
  assert.deepEqual(records(nx.authorities), [
    "cnblogs.com.\t300\tIN\tSOA\tns1.cnblogs.com. hostmaster.cnblogs.com. 2024010101 3600 900 604800 300",
  ]);
  const nodata = ask("www.cnblogs.com", TYPE.MX);
  assert.equal(nodata.flags.rcode, RCODE.NOERROR);
  assert.equal(nodata.answers.length, 0);
  assert.equal(nodata.authorities[0].type, TYPE.SOA);
});

Deno.test("authority: empty non-terminals are NODATA, not NXDOMAIN", () => {
  const r = ask("ENT.cnblogs.com", TYPE.A);
  assert.equal(r.flags.rcode, RCODE.NOERROR);
  assert.equal(r.answers.length, 0);
  assert.equal(r.authorities[0].type, TYPE.SOA);
  assert.equal(ask("x.ent.cnblogs.com", TYPE.A).answers.length, 1);
  assert.equal(ask("y.ent.cnblogs.com", TYPE.A).flags.rcode, RCODE.NXDOMAIN);
});

Deno.test("authority: wildcards synthesise answers with the question's name (RFC 4592)", () => {
  assert.deepEqual(records(ask("Foo.wild.cnblogs.com", TYPE.TXT).answers), [
    'Foo.wild.cnblogs.com.\t600\tIN\tTXT\t"wildcard answer"',
  ]);
  assert.equal(ask("a.b.wild.cnblogs.com", TYPE.TXT).answers.length, 1);
  const nodata = ask("foo.wild.cnblogs.com", TYPE.A);
  assert.equal(nodata.flags.rcode, RCODE.NOERROR);
  assert.equal(nodata.answers.length, 0);
  // The wildcard's parent exists only as an empty non-terminal: NODATA, not the wildcard.
  assert.equal(ask("wild.cnblogs.com", TYPE.TXT).answers.length, 0);
  assert.equal(ask("wild.cnblogs.com", TYPE.TXT).flags.rcode, RCODE.NOERROR);
});

Deno.test("authority: CNAMEs are chased inside the zone", () => {
  const r = ask("web.cnblogs.com", TYPE.A);
  assert.equal(r.flags.aa, true);
  assert.deepEqual(records(r.answers), [
    "web.cnblogs.com.\t600\tIN\tCNAME\twww.cnblogs.com.",
    "www.cnblogs.com.\t600\tIN\tA\t127.0.0.5",
  ]);
  assert.deepEqual(records(ask("web.cnblogs.com", TYPE.CNAME).answers), [
    "web.cnblogs.com.\t600\tIN\tCNAME\twww.cnblogs.com.",
  ]);
  // A loop and an out-of-zone target stop after the CNAMEs we hold.
  const loop = new Authority([
    parseZone(
      "$ORIGIN l.test.\n@ SOA ns h 1 2 3 4 5\na CNAME b\nb CNAME a\nc CNAME www.example.org.\n",
    ),
  ]);
  assert.equal(ask("a.l.test", TYPE.A, { auth: loop }).answers.length, 2);
  assert.deepEqual(records(ask("c.l.test", TYPE.A, { auth: loop }).answers), [
    "c.l.test.\t5\tIN\tCNAME\twww.example.org.", // no $TTL: the SOA minimum
  ]);
});

Deno.test("authority: delegated subzones get a referral with glue and AA clear", () => {
  for (const name of ["sub.cnblogs.com", "deep.x.sub.cnblogs.com", "ns.sub.cnblogs.com"]) {
    const r = ask(name, TYPE.A);
    assert.equal(r.flags.rcode, RCODE.NOERROR, name);
    assert.equal(r.flags.aa, false, name);
    assert.equal(r.answers.length, 0, name);
    assert.deepEqual(records(r.authorities), [
      "sub.cnblogs.com.\t600\tIN\tNS\tns.sub.cnblogs.com.",
    ]);
    assert.deepEqual(records(r.additionals), ["ns.sub.cnblogs.com.\t600\tIN\tA\t127.0.0.8"]);
  }
  // The root knows only the way to com., exactly as seed 000 describes.
  const rootOnly = new Authority([root]);
  const r = ask("www.cnblogs.com", TYPE.A, { auth: rootOnly });
  assert.equal(r.flags.aa, false);
  assert.deepEqual(records(r.authorities), ["com.\t172800\tIN\tNS\ta.gtld-servers.net."]);
  assert.deepEqual(records(r.additionals), ["a.gtld-servers.net.\t172800\tIN\tA\t127.0.0.3"]);
  const fromCom = ask("www.cnblogs.com", TYPE.A, { auth: new Authority([com]) });
  assert.deepEqual(records(fromCom.additionals), ["ns1.cnblogs.com.\t172800\tIN\tA\t127.0.0.4"]);
});

Deno.test("authority: the deepest zone answers when one server holds parent and child", () => {
  const all = new Authority([root, com, cnblogs]);
  const r = ask("www.cnblogs.com", TYPE.A, { auth: all });
  assert.equal(r.flags.aa, true);
  assert.equal(r.answers.length, 1);
  assert.equal(ask("cnblogs.com", TYPE.NS, { auth: all }).flags.aa, true);
  assert.equal(ask("example.org", TYPE.A, { auth: all }).flags.rcode, RCODE.NXDOMAIN);
  assert.throws(() => new Authority([com, com]), /Zone "com." is loaded twice/);
});

Deno.test("authority: REFUSED outside our zones and for other classes", () => {
  const r = ask("example.org", TYPE.A);
  assert.equal(r.flags.rcode, RCODE.REFUSED);
  assert.equal(r.flags.aa, false);
  assert.equal(r.answers.length + r.authorities.length, 0);
  const chaos = makeQuery("version.bind", TYPE.TXT, { id: 1, edns: false });
  chaos.questions[0].class = 3;
  const reply = decodeMessage(respond(authority, encodeMessage(chaos), { udp: true })!.bytes);
  assert.equal(reply.flags.rcode, RCODE.REFUSED);
  assert.equal(ask("cnblogs.com", 252).flags.rcode, RCODE.REFUSED); // AXFR is not offered
});

Deno.test("authority: additional A/AAAA for NS, MX and SRV targets", () => {
  assert.deepEqual(records(ask("cnblogs.com", TYPE.MX).additionals), [
    "mail.cnblogs.com.\t600\tIN\tA\t127.0.0.6",
  ]);
  assert.deepEqual(records(ask("cnblogs.com", TYPE.NS).additionals), [
    "ns1.cnblogs.com.\t600\tIN\tA\t127.0.0.4",
  ]);
  assert.deepEqual(records(ask("_http._tcp.cnblogs.com", TYPE.SRV).additionals), [
    "www.cnblogs.com.\t600\tIN\tA\t127.0.0.5",
    "www.cnblogs.com.\t600\tIN\tAAAA\t::1",
  ]);
});

Deno.test("authority: ANY is answered minimally with one RRset (RFC 8482)", () => {
  const r = ask("cnblogs.com", TYPE.ANY);
  assert.equal(r.flags.rcode, RCODE.NOERROR);
  assert.equal(r.answers.length, 1);
  assert.equal(r.answers[0].type, TYPE.SOA);
  assert.deepEqual(records(ask("www.cnblogs.com", TYPE.ANY).answers), [
    "www.cnblogs.com.\t600\tIN\tA\t127.0.0.5",
  ]);
});

// -------------------------------------------------------------------------------------------
// The real server.
