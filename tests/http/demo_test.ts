/**
 * The README's main command end to end: `deno run -A http/demo.ts` starts the DNS mini-Internet,
 * the local DNS server and the web server on loopback; the browser side asks the local DNS
 * server, which resolves www.cnblogs.com from the root; it connects, fetches seed 000's page, asks
 * again (answered from the cache) and stops everything — exit 0, and again right after (nothing
 * left bound or running). Also the client's own `--trace-dns` against the same mini-Internet.
 */
import assert from "node:assert/strict";
import { assertNdjson, hasCommand, isRoot, runCommand, runScript } from "../_helpers.ts";
import { EVENT_NAMES } from "../../tcp/kit/report.ts";
import { startMiniInternet } from "../../dns/internet/servers.ts";
import { startWebServer } from "../../http/demo/stage.ts";

/** Asserts that every pattern matches, each after the previous one. */
function assertInOrder(text: string, patterns: RegExp[]): void {
  let at = 0;
  for (const pattern of patterns) {
    const match = pattern.exec(text.slice(at));
    assert.ok(match, `missing or out of order: ${pattern}\n--- output ---\n${text}`);
    at += match.index + match[0].length;
  }
}

const DEMO_STEPS = [
  /^What happens when you open http:\/\/www\.cnblogs\.com\/linhaifeng\/articles\/6817679\.html$/m,
  /^setup: DNS server for "\." \(root\) on 127\.0\.0\.2:\d+$/m,
  /^setup: local DNS server \(本地DNS\) dns\/resolver_server\.ts on 127\.0\.0\.1:\d+, walking from the root 127\.0\.0\.2$/m,
  /^setup: web server http\/server\.ts on 127\.0\.0\.5:\d+/m,
  /^1\. The URL, taken apart$/m,
  /^\s+scheme\s+http\b/m,
  /^\s+host\s+www\.cnblogs\.com\b/m,
  /^\s+port\s+80 \(implied\)/m,
  /^\s+path\s+\/linhaifeng\/articles\/6817679\.html/m,
  /^2\. \(a\) DNS over UDP: the browser asks the local DNS server, which asks from the root down$/m,
  /ask 127\.0\.0\.1:\d+ \(the local DNS server\) over UDP: www\.cnblogs\.com\. A\?/,
  /not in its cache: the local DNS server walks from the root/,
  // Three servers, three steps, each asked only what it needs (QNAME minimisation): the root
  // refers to com., com. refers to cnblogs.com., which answers.
  /ask 127\.0\.0\.2:\d+ \(server for \. \(root\)\) over UDP: com\. A\? — only what it needs, not www\.cnblogs\.com\. A/,
  /referral: \. \(root\) does not know, ask com\./,
  /ask 127\.0\.0\.3:\d+ \(server for com\.\) over UDP: cnblogs\.com\. A\?/,
  /referral: com\. does not know, ask cnblogs\.com\./,
  /ask 127\.0\.0\.4:\d+ \(server for cnblogs\.com\.\) over UDP: www\.cnblogs\.com\. A\?$/m,
  /answer from cnblogs\.com\./,
  /www\.cnblogs\.com\.\s+\d+\s+IN\s+A\s+127\.0\.0\.5/,
  /answer from the local DNS server \(RA set; it walked for us: 3 queries;/,
  /=> www\.cnblogs\.com is 127\.0\.0\.5$/m,
  /^3\. \(b\) TCP: /m,
  /connected 127\.0\.0\.1:\d+ -> 127\.0\.0\.5:\d+ \(three-way handshake/,
  /^4\. HTTP request/m,
  /> GET \/linhaifeng\/articles\/6817679\.html HTTP\/1\.1$/m,
  /> Host: www\.cnblogs\.com(:\d+)?$/m,
  /^5\. HTTP response/m,
  /< HTTP\/1\.1 200 OK$/m,
  /body: \d+ bytes of text\/html/,
  /^6\. The same name again: the local DNS server answers from its cache$/m,
  /ask 127\.0\.0\.1:\d+ \(the local DNS server\) over UDP: www\.cnblogs\.com\. A\?/,
  /answer from the local DNS server \(RA set; from its cache: nobody else asked/,
  /www\.cnblogs\.com\. \d+ IN A 127\.0\.0\.5/,
  /^7\. Done: the connection is closed \(Connection: close\) and the servers are stopped/m,
];

Deno.test("the demo resolves www.cnblogs.com from the root and fetches the page, twice in a row", async () => {
  for (let run = 1; run <= 2; run++) {
    const result = await runScript("http/demo.ts", [], { timeoutMs: 60_000 });
    assert.equal(result.code, 0, `run ${run}:\n${result.stdout}\n${result.stderr}`);
    assertInOrder(result.stdout, DEMO_STEPS);
    assert.equal(result.stderr, "", `run ${run} wrote to stderr`);
  }
});

/**
 * Whether uid 65534 can run this very Deno binary, and from it start Deno again (the demo spawns
 * its servers with `Deno.execPath()`). It cannot when Deno came from `npx` into root's private
 * npm cache, and then the non-root demo test is ignored rather than failed. Both steps are
 * probed: some sandboxes let the first exec through and refuse only the second.
 */
async function nobodyCanRunDeno(): Promise<boolean> {
  if (!isRoot() || !hasCommand("setpriv")) return false;
  const probe = await runCommand("setpriv", [
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
    Deno.execPath(),
    "eval",
    "Deno.exit(new Deno.Command(Deno.execPath(), { args: ['--version'] }).outputSync().code)",
  ], { env: { DENO_NO_UPDATE_CHECK: "1" } });
  return probe.code === 0;
}

Deno.test({
  name: "the demo works for a non-root user (no port 53 or 80: free high ports instead)",
  ignore: !(await nobodyCanRunDeno()),
  async fn() {
    // A fresh home, Deno cache and copy of the scripts the unprivileged user can read and write
    // (the checkout itself may sit under a home directory only root can enter).
    const home = await Deno.makeTempDir({ prefix: "netlab-demo-nobody-" });
    try {
      const repo = `${home}/netlab`;
      await Deno.mkdir(repo);
      const copy = await runCommand("cp", ["-r", "deno.json", "tcp", "udp", "dns", "http", repo]);
      assert.equal(copy.code, 0, copy.stderr);
      const chmod = await runCommand("chmod", ["-R", "a+rwX", home]);
      assert.equal(chmod.code, 0, chmod.stderr);
      const result = await runCommand("setpriv", [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        Deno.execPath(),
        "run",
        "-A",
        "--quiet",
        "http/demo.ts",
      ], { cwd: repo, env: { HOME: home, DENO_DIR: `${home}/deno` }, timeoutMs: 60_000 });
      assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
      assertInOrder(result.stdout, [
        /port 80 needs root, so a free port; the URL names it/,
        /referral: \. \(root\) does not know, ask com\./,
        /referral: com\. does not know, ask cnblogs\.com\./,
        /=> www\.cnblogs\.com is 127\.0\.0\.5/,
        /> Host: www\.cnblogs\.com:\d+$/m,
        /< HTTP\/1\.1 200 OK$/m,
      ]);
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  },
});

Deno.test("the demo's --json streams schema events and --explain annotates the HTTP bytes", async () => {
  const json = await runScript("http/demo.ts", ["--json", "--explain"], { timeoutMs: 60_000 });
  assert.equal(json.code, 0, json.stderr);
  const events = assertNdjson(json.stdout, "http/demo");
  for (const e of events) assert.ok(EVENT_NAMES.includes(e.event), e.event);
  // Seed 000's story as events: servers up, DNS from the root down, TCP, HTTP, done.
  const story = events.map((e) => e.event).filter((name) => name !== "log" && name !== "explain");
  assert.deepEqual(story, [
    "listening",
    "listening",
    "listening",
    "listening",
    "listening",
    "query", // the browser asks the local DNS server, which walks:
    "query",
    "referral",
    "query",
    "referral",
    "query",
    "answer",
    "answer", // the local DNS server answers the browser
    "connected",
    "request",
    "response",
    "received",
    "query", // the same name again:
    "answer", // from the cache
    "disconnected",
  ]);
  const lookups = events.filter((e) => e.event === "answer" && e.cache !== undefined);
  assert.deepEqual(lookups.map((e) => [e.cache, e.queries]), [["miss", 3], ["hit", 0]]);
  const minimised = events.filter((e) => e.walk && e.event === "query").map((e) => e.name);
  assert.deepEqual(minimised, ["com.", "cnblogs.com.", "www.cnblogs.com."]);
  const resolved = events.find((e) => e.address === "127.0.0.5" && e.queries === 3);
  assert.ok(resolved, "no event says www.cnblogs.com is 127.0.0.5 after 3 queries");
  assert.deepEqual(
    events.filter((e) => e.event === "referral").map((e) => e.referral),
    ["com.", "cnblogs.com."],
  );
  const request = events.find((e) => e.event === "request")!;
  assert.equal(request.target, "/linhaifeng/articles/6817679.html");
  assert.equal(events.find((e) => e.event === "response")!.status, 200);
  // --explain: the local DNS server's walk (each upstream query and reply), the browser's DNS
  // query and reply to the local DNS server, the HTTP request and response, then the second DNS
  // query and reply (from the cache: no walk).
  const walk = events.filter((e) => e.event === "explain" && e.walk);
  assert.equal(walk.length, 6);
  assert.match(String(walk[0].text), /^DNS query, \d+ bytes, to 127\.0\.0\.2#\d+ over UDP\n/);
  const views = events.filter((e) => e.event === "explain" && !e.walk);
  assert.deepEqual(views.map((e) => e.protocol ?? "http"), [
    "dns",
    "dns",
    "http",
    "http",
    "dns",
    "dns",
  ]);
  assert.match(String(views[0].text), /^DNS query, \d+ bytes, to 127\.0\.0\.1:\d+ over UDP\n/);
  assert.match(String(views[1].text), /^DNS reply, \d+ bytes, from 127\.0\.0\.1:\d+ over UDP\n/);
  const [requestView, responseView] = views.slice(2, 4);
  assert.match(String(requestView.text), /^HTTP request, \d+ bytes, sent to 127\.0\.0\.5:\d+\n/);
  assert.match(String(requestView.text), /Host {17}"www\.cnblogs\.com(:\d+)?": which site/);
  assert.match(String(responseView.text), /^HTTP response, \d+ bytes, from 127\.0\.0\.5:\d+\n/);
  assert.match(
    String(responseView.text),
    /blank line {11}end of the head: body of exactly \d+ bytes/,
  );
  const help = await runScript("http/demo.ts", ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: deno task demo/);
  const bad = await runScript("http/demo.ts", ["--bogus"]);
  assert.equal(bad.code, 2);
});

Deno.test("http:get --trace-dns walks the mini-Internet from the root to the web server", async () => {
  await using net = await startMiniInternet();
  const web = await startWebServer("127.0.0.5");
  try {
    const port = web.port === 80 ? "" : `:${web.port}`;
    const result = await runScript("http/client.ts", [
      "-v",
      "--trace-dns",
      "--root",
      net.roots.join(","),
      "--dns-port",
      String(net.port),
      `http://www.cnblogs.com${port}/linhaifeng/articles/6817679.html`,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /<html/i);
    assertInOrder(result.stderr, [
      /^\* \(a\) ask 127\.0\.0\.2:\d+ \(server for \. \(root\)\)/m,
      /^\* \(a\)\s+referral: \. \(root\) does not know, ask com\./m,
      /^\* \(a\) ask 127\.0\.0\.3:\d+/m,
      /^\* \(a\)\s+referral: com\. does not know, ask cnblogs\.com\./m,
      /^\* \(a\) ask 127\.0\.0\.4:\d+/m,
      /^\* \(a\) www\.cnblogs\.com is 127\.0\.0\.5 \(DNS over UDP via the root 127\.0\.0\.2/m,
      /^\* \(b\) TCP connected 127\.0\.0\.1:\d+ -> 127\.0\.0\.5:\d+/m,
      /^< HTTP\/1\.1 200 OK$/m,
    ]);
    // A name the zones do not have: NXDOMAIN from cnblogs.com.'s server, exit 6.
    const missing = await runScript("http/client.ts", [
      "--trace-dns",
      "--root",
      net.roots[0],
      "--dns-port",
      String(net.port),
      "http://nope.cnblogs.com/",
    ]);
    assert.equal(missing.code, 6);
    assert.match(
      missing.stderr,
      /^error: Could not resolve host "nope\.cnblogs\.com": no such name \(NXDOMAIN\)\n$/,
    );
  } finally {
    await web.stop();
  }
});
