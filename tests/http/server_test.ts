/**
 * http/server.ts end to end: `curl` against the real script (GET, HEAD, Range, 304s, keep-alive
 * reuse, POST /echo, auth, upload, redirects, a throwing handler), and a hostile suite on raw
 * sockets against `serveHttp` in-process (smuggling, oversized input, slowloris, traversal and
 * symlink escape, bad methods and versions, the connection cap, pipelining order).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { hasCommand, runCommand, runScript, startScript } from "../_helpers.ts";
import { writeAll } from "../../tcp/core/io.ts";
import { ResponseParser } from "../../http/core/response_parser.ts";
import { latin1 } from "../../http/core/syntax.ts";
import { REQUESTS_PER_TURN } from "../../http/server/connection.ts";
import {
  exchange,
  header,
  IO_MODES,
  makeTree,
  readReplies,
  type Reply,
  startInProcess,
} from "../_http_server.ts";

const encoder = new TextEncoder();
const SITE = new URL("../../http/site/", import.meta.url).pathname;

/** SHA-256 of the concatenated pieces. */
function digestOf(pieces: Uint8Array[]): string {
  const hash = createHash("sha256");
  for (const piece of pieces) hash.update(piece);
  return hash.digest("hex");
}

async function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return await runCommand("curl", ["-s", "--max-time", "10", ...args]);
}

Deno.test("http/server.ts --help prints usage and a bad flag exits 2", async () => {
  const help = await runScript("http/server.ts", ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: deno task http:server/);
  const bad = await runScript("http/server.ts", ["--port", "70000"]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, "error: --port must be 0–65535, got 70000 (see --help)\n");
  const noRoot = await runScript("http/server.ts", ["--root", "/nonexistent/netlab"]);
  assert.equal(noRoot.code, 1);
  assert.match(noRoot.stderr, /Cannot serve --root "\/nonexistent\/netlab": not a directory/);
});

Deno.test({
  name: "http/server.ts serves curl: GET, HEAD, Range, 304s, keep-alive, POST, auth, upload, 500",
  ignore: !hasCommand("curl"),
  async fn(t) {
    const { base, root } = await makeTree();
    const uploads = `${base}/uploads`;
    await using server = await startScript("http/server.ts", [
      "--root",
      root,
      "--port",
      "0",
      "--test-routes",
      "--auth",
      "alice:secret",
      "--upload",
      uploads,
    ]);
    assert.match(server.firstLine, /^listening on http:\/\/127\.0\.0\.1:\d+\/$/);
    const url = `http://127.0.0.1:${server.port}`;

    await t.step("GET and HEAD", async () => {
      const get = await curl(["-i", `${url}/hello.txt`]);
      assert.match(get.stdout, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(get.stdout, /\r\nContent-Type: text\/plain; charset=utf-8\r\n/);
      assert.match(get.stdout, /\r\nContent-Length: 5\r\n/);
      assert.ok(get.stdout.endsWith("\r\n\r\nhello"));
      const head = await curl(["-I", `${url}/hello.txt`]);
      assert.match(head.stdout, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(head.stdout, /\r\nContent-Length: 5\r\n/);
      assert.ok(head.stdout.endsWith("\r\n\r\n"), "HEAD has no body");
      await server.waitForLine(/"HEAD \/hello\.txt HTTP\/1\.1" 200 -$/);
      await server.waitForLine(/^127\.0\.0\.1 - - \[.+\] "GET \/hello\.txt HTTP\/1\.1" 200 5$/);
    });

    await t.step("Range → 206 and 416", async () => {
      const part = await curl(["-i", "-r", "1-3", `${url}/hello.txt`]);
      assert.match(part.stdout, /^HTTP\/1\.1 206 Partial Content\r\n/);
      assert.match(part.stdout, /\r\nContent-Range: bytes 1-3\/5\r\n/);
      assert.ok(part.stdout.endsWith("\r\n\r\nell"));
      const suffix = await curl(["-r", "-2", `${url}/hello.txt`]);
      assert.equal(suffix.stdout, "lo");
      const bad = await curl(["-i", "-r", "10-20", `${url}/hello.txt`]);
      assert.match(bad.stdout, /^HTTP\/1\.1 416 Range Not Satisfiable\r\n/);
      assert.match(bad.stdout, /\r\nContent-Range: bytes \*\/5\r\n/);
    });

    await t.step("ETag and Last-Modified → 304", async () => {
      const first = await curl(["-I", `${url}/hello.txt`]);
      const etag = /\r\nETag: ("[^"]+")\r\n/.exec(first.stdout)?.[1];
      const lastModified = /\r\nLast-Modified: ([^\r]+)\r\n/.exec(first.stdout)?.[1];
      assert.ok(etag && lastModified);
      const byEtag = await curl(["-i", "-H", `If-None-Match: ${etag}`, `${url}/hello.txt`]);
      assert.match(byEtag.stdout, /^HTTP\/1\.1 304 Not Modified\r\n/);
      assert.ok(byEtag.stdout.endsWith("\r\n\r\n"), "304 has no body");
      const byDate = await curl([
        "-i",
        "-H",
        `If-Modified-Since: ${lastModified}`,
        `${url}/hello.txt`,
      ]);
      assert.match(byDate.stdout, /^HTTP\/1\.1 304 /);
      const changed = await curl(["-i", "-H", 'If-None-Match: "other"', `${url}/hello.txt`]);
      assert.match(changed.stdout, /^HTTP\/1\.1 200 /);
    });

    await t.step("two URLs reuse one keep-alive connection", async () => {
      const both = await curl(["-v", `${url}/hello.txt`, `${url}/dir/`]);
      assert.match(both.stderr, /Re-using existing connection/);
      assert.equal(both.stdout, "hello<p>dir index</p>");
    });

    await t.step("POST /echo, OPTIONS, TRACE, redirects, CONNECT", async () => {
      const echo = await curl(["-d", "你好, netlab", `${url}/echo`]);
      assert.equal(echo.stdout, "你好, netlab");
      const options = await curl(["-i", "-X", "OPTIONS", `${url}/`]);
      assert.match(options.stdout, /^HTTP\/1\.1 204 No Content\r\n/);
      assert.match(options.stdout, /\r\nAllow: GET, HEAD, OPTIONS\r\n/);
      const trace = await curl(["-i", "-X", "TRACE", `${url}/`]);
      assert.match(trace.stdout, /^HTTP\/1\.1 405 /);
      const old = await curl(["-i", `${url}/old`]);
      assert.match(old.stdout, /^HTTP\/1\.1 301 Moved Permanently\r\n/);
      assert.match(old.stdout, /\r\nLocation: \/\r\n/);
      const dir = await curl(["-i", `${url}/dir?x=1`]);
      assert.match(dir.stdout, /\r\nLocation: \/dir\/\?x=1\r\n/);
      const missing = await curl(["-i", `${url}/missing.html`]);
      assert.match(missing.stdout, /^HTTP\/1\.1 404 Not Found\r\n/);
    });

    await t.step("/private/ needs Basic auth", async () => {
      await Deno.mkdir(`${root}/private`);
      await Deno.writeTextFile(`${root}/private/index.html`, "secret page");
      const anonymous = await curl(["-i", `${url}/private/`]);
      assert.match(anonymous.stdout, /^HTTP\/1\.1 401 Unauthorized\r\n/);
      assert.match(anonymous.stdout, /\r\nWWW-Authenticate: Basic realm="netlab private"/);
      const wrong = await curl(["-i", "-u", "alice:nope", `${url}/private/`]);
      assert.match(wrong.stdout, /^HTTP\/1\.1 401 /);
      for (let i = 0; i < 2; i++) {
        const right = await curl(["-u", "alice:secret", `${url}/private/`]);
        assert.equal(right.stdout, "secret page");
      }
      // Served once with credentials, still refused without them (no cache shortcut).
      const again = await curl(["-i", `${url}/private/`]);
      assert.match(again.stdout, /^HTTP\/1\.1 401 /);
      await server.waitForLine(/ - alice \[.+\] "GET \/private\/ HTTP\/1\.1" 200 11$/);
    });

    await t.step("PUT and DELETE under /upload/", async () => {
      const put = await curl(["-i", "-T", "-", `${url}/upload/note.txt`]);
      // curl -T sends Expect: 100-continue, so a 100 comes first.
      assert.match(put.stdout, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 201 Created\r\n/);
      const replaced = await runCommand("curl", [
        "-s",
        "-i",
        "--data-binary",
        "@-",
        "-X",
        "PUT",
        `${url}/upload/note.txt`,
      ], { stdin: "uploaded bytes" });
      assert.match(replaced.stdout, /^HTTP\/1\.1 204 /);
      assert.equal(await Deno.readTextFile(`${uploads}/note.txt`), "uploaded bytes");
      assert.equal((await curl([`${url}/upload/note.txt`])).stdout, "uploaded bytes");
      const escape = await curl(["-i", "-X", "PUT", "-d", "x", `${url}/upload/%2e%2e/evil.txt`]);
      assert.match(escape.stdout, /^HTTP\/1\.1 400 /);
      const del = await curl(["-i", "-X", "DELETE", `${url}/upload/note.txt`]);
      assert.match(del.stdout, /^HTTP\/1\.1 204 /);
      const gone = await curl(["-i", "-X", "DELETE", `${url}/upload/note.txt`]);
      assert.match(gone.stdout, /^HTTP\/1\.1 404 /);
      const elsewhere = await curl(["-i", "-X", "PUT", "-d", "x", `${url}/hello.txt`]);
      assert.match(elsewhere.stdout, /^HTTP\/1\.1 405 /);
    });

    await t.step("a handler that throws gives 500 and the server lives on", async () => {
      const boom = await curl(["-i", `${url}/__error`, `${url}/hello.txt`]);
      assert.match(boom.stdout, /^HTTP\/1\.1 500 Internal Server Error\r\n/);
      assert.ok(boom.stdout.endsWith("hello"));
      assert.match(server.stderr(), /handler failed for GET \/__error/);
    });

    const stopped = await server.stop();
    assert.equal(stopped.code, 130);
    await Deno.remove(base, { recursive: true });
  },
});

Deno.test({
  name: "http/server.ts serves the bundled demo site with its sub-resources",
  ignore: !hasCommand("curl"),
  async fn() {
    await using server = await startScript("http/server.ts", ["--port", "0"]);
    const url = `http://127.0.0.1:${server.port}`;
    const page = await curl([`${url}/linhaifeng/articles/6817679.html`]);
    assert.match(page.stdout, /What happens when you open a URL/);
    assert.match(page.stdout, /href="\/style\.css"/);
    assert.match(page.stdout, /src="\/netlab\.svg"/);
    const types = await curl([
      "-s",
      "-o",
      "/dev/null",
      "-o",
      "/dev/null",
      "-w",
      "%{content_type}\n",
      `${url}/style.css`,
      `${url}/netlab.svg`,
    ]);
    assert.equal(types.stdout, "text/css; charset=utf-8\nimage/svg+xml\n");
    assert.equal(await Deno.readTextFile(`${SITE}/index.html`), (await curl([`${url}/`])).stdout);
  },
});

for (const io of IO_MODES) {
  Deno.test(`serveHttp refuses request smuggling and closes the connection${io.suffix}`, async () => {
    const { base, root } = await makeTree();
    await using server = await startInProcess({ ...io.options, root });
    const smuggle = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n" +
      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    const clte = await exchange(server, smuggle);
    assert.deepStrictEqual(clte.replies.map((r) => r.status), [400]);
    assert.match(clte.replies[0].body, /Transfer-Encoding together with Content-Length/);
    assert.equal(clte.closed, true);
    const twoLengths = await exchange(
      server,
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 30\r\n\r\nhello" +
        "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert.deepStrictEqual(twoLengths.replies.map((r) => r.status), [400]);
    assert.match(twoLengths.replies[0].body, /Duplicate Content-Length/);
    assert.equal(twoLengths.closed, true);
    await Deno.remove(base, { recursive: true });
  });
}

for (const io of IO_MODES) {
  Deno.test(`serveHttp answers oversized, malformed and unsupported requests, then closes${io.suffix}`, async () => {
    const { base, root } = await makeTree();
    await using server = await startInProcess({ ...io.options, root, maxBodyBytes: 1024 });
    const cases: [string, string, number][] = [
      ["long line", `GET /${"a".repeat(9000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
      [
        "big headers",
        `GET / HTTP/1.1\r\nHost: x\r\n${`X-P: ${"p".repeat(1000)}\r\n`.repeat(70)}\r\n`,
        431,
      ],
      [
        "big body",
        `POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n${"b".repeat(5000)}`,
        413,
      ],
      ["bad method", "BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", 501],
      ["HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505],
      ["no Host", "GET / HTTP/1.1\r\n\r\n", 400],
      ["obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400],
      ["seed typo", "GET /index.html /HTTP/1.1\r\nHost: x\r\n\r\n", 400],
      ["TLS to plain HTTP", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400],
    ];
    for (const [name, request, status] of cases) {
      const { replies, closed } = await exchange(server, request);
      assert.deepStrictEqual(replies.map((r) => r.status), [status], name);
      assert.equal(header(replies[0], "connection"), "close", name);
      assert.equal(closed, true, name);
    }
    // CONNECT is a known method the server does not do: 501, connection kept.
    const connect = await exchange(
      server,
      "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
      {
        count: 1,
        methods: ["GET"],
      },
    );
    assert.equal(connect.replies[0].status, 501);
    await Deno.remove(base, { recursive: true });
  });
}

Deno.test("serveHttp never serves a file outside the root", async () => {
  const { base, root } = await makeTree();
  await using server = await startInProcess({ root });
  const attempts: [string, number][] = [
    ["/../outside/secret.txt", 400],
    ["/%2e%2e/outside/secret.txt", 400],
    ["/%2E%2E%2Foutside%2Fsecret.txt", 400],
    ["/dir/..%2f..%2foutside/secret.txt", 400],
    ["/hello.txt%00.html", 400],
    ["/..\\outside\\secret.txt", 400],
    ["/%c0%ae%c0%ae/outside/secret.txt", 400],
    ["/escape/secret.txt", 404],
    ["/secret-link.txt", 404],
    ["//escape/secret.txt", 404],
  ];
  for (const [path, status] of attempts) {
    const { replies } = await exchange(
      server,
      `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(replies[0]?.status, status, path);
    assert.doesNotMatch(replies[0].body, /TOP SECRET/, path);
  }
  const inside = await exchange(
    server,
    "GET /inside-link.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  );
  assert.equal(inside.replies[0].body, "hello");
  await Deno.remove(base, { recursive: true });
});

for (const io of IO_MODES) {
  Deno.test(`serveHttp answers pipelined requests in order and survives a throwing handler${io.suffix}`, async () => {
    const { base, root } = await makeTree();
    await using server = await startInProcess({
      ...io.options,
      root,
      handler: (request) => {
        if (request.path === "/boom") throw new Error("boom");
        return undefined;
      },
    });
    const paths = ["/hello.txt", "/boom", "/dir/", "/missing", "/hello.txt"];
    const batch = paths.map((p) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`).join("") +
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n" +
      "HEAD /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    const { replies, closed } = await exchange(server, batch, {
      methods: ["GET", "GET", "GET", "GET", "GET", "POST", "HEAD"],
    });
    assert.deepStrictEqual(replies.map((r) => r.status), [200, 500, 200, 404, 200, 200, 200]);
    assert.deepStrictEqual(replies.map((r) => r.body).filter((b) => b.length < 30), [
      "hello",
      "Internal Server Error\n",
      "<p>dir index</p>",
      "Not Found\n",
      "hello",
      "ok",
      "",
    ]);
    assert.equal(closed, true);
    await Deno.remove(base, { recursive: true });
  });
}

for (const io of IO_MODES) {
  Deno.test(`serveHttp: a hot file (answered from cached wire bytes) still honours every request field${io.suffix}`, async () => {
    const { base, root } = await makeTree();
    await using server = await startInProcess({ ...io.options, root, cacheRevalidateMs: 0 });
    const get = (extra = "") => `GET /hello.txt?x=1 HTTP/1.1\r\nHOST: x\r\n${extra}\r\n`;
    // Three plain GETs make the file hot; then the same path with fields the fast path must not
    // skip, then a change on disk, which must show at once (revalidation every request here).
    const first = await exchange(server, get() + get() + get(), { count: 3 });
    const etag = header(first.replies[0], "etag")!;
    assert.deepStrictEqual(first.replies.map((r) => [r.status, r.body]), [
      [200, "hello"],
      [200, "hello"],
      [200, "hello"],
    ]);
    assert.deepStrictEqual(first.replies[2].headers, first.replies[1].headers);
    const batch = get(`If-None-Match: ${etag}\r\n`) + get("rAnGe: bytes=1-2\r\n") +
      get(`If-Range: "stale"\r\nRange: bytes=1-2\r\n`) + get("Connection: close\r\n");
    const { replies, closed } = await exchange(server, batch);
    assert.deepStrictEqual(replies.map((r) => [r.status, r.body]), [
      [304, ""],
      [206, "el"],
      [200, "hello"],
      [200, "hello"],
    ]);
    assert.equal(header(replies[3], "connection"), "close");
    assert.equal(closed, true);
    await Deno.writeTextFile(`${root}/hello.txt`, "HELLO, again");
    const after = await exchange(server, get() + get(), { count: 2 });
    assert.deepStrictEqual(after.replies.map((r) => r.body), ["HELLO, again", "HELLO, again"]);
    await Deno.remove(base, { recursive: true });
  });
}

for (const io of IO_MODES) {
  Deno.test(`serveHttp: hot GETs mixed with other requests keep their order${io.suffix}`, async () => {
    const { base, root } = await makeTree();
    await using server = await startInProcess({ ...io.options, root });
    using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    const get = (path = "/hello.txt") => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;
    const send = (text: string) => writeAll(conn, encoder.encode(text));
    // Two GETs make /hello.txt hot (the first finds the file, the second caches its wire bytes).
    await send(get() + get());
    assert.deepStrictEqual((await readReplies(conn, 2)).replies.map((r) => r.status), [200, 200]);
    const inPlaceBefore = server.answeredInPlace;
    // One write: hot GETs around a POST with a body and a 404, then a hot GET cut in two.
    await send(
      get() + get() + "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" + get() +
        get("/missing") + get() + "GET /hello.txt HT",
    );
    const first = await readReplies(conn, 6);
    assert.deepStrictEqual(first.replies.map((r) => [r.status, r.body]), [
      [200, "hello"],
      [200, "hello"],
      [200, "abc"],
      [200, "hello"],
      [404, "Not Found\n"],
      [200, "hello"],
    ]);
    await send("TP/1.1\r\nHost: x\r\n\r\n");
    assert.deepStrictEqual((await readReplies(conn, 1)).replies.map((r) => r.body), ["hello"]);
    // More hot GETs in one write than one turn answers (REQUESTS_PER_TURN): none is left behind.
    await send(get().repeat(REQUESTS_PER_TURN + 8));
    const many = await readReplies(conn, REQUESTS_PER_TURN + 8);
    assert.equal(many.replies.filter((r) => r.body === "hello").length, REQUESTS_PER_TURN + 8);
    // Hot GETs, then garbage in the same write: the GETs are answered, then 400 and close.
    await send(get() + get() + "BAD\r\n\r\n");
    const last = await readReplies(conn, Infinity);
    assert.deepStrictEqual(last.replies.map((r) => r.status), [200, 200, 400]);
    assert.equal(last.closed, true);
    const inPlace = server.answeredInPlace - inPlaceBefore;
    if (io.options.epoll && Deno.build.os === "linux") {
      // Epoll answers hot GETs inside its batch; at least the first of each write came that way.
      assert.ok(inPlace >= 3, `answered in place: ${inPlace}`);
    } else assert.equal(inPlace, 0);
    await Deno.remove(base, { recursive: true });
  });
}

for (const io of IO_MODES) {
  Deno.test(`serveHttp: a hot file's cached answer takes the new Date when the second turns${io.suffix}`, async () => {
    const { base, root } = await makeTree();
    await using server = await startInProcess({ ...io.options, root });
    using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    const get = encoder.encode("GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    await writeAll(conn, get);
    await writeAll(conn, get);
    const warm = (await readReplies(conn, 2)).replies[1];
    // Waiting for the clock, not for another task: the Date field has one-second resolution.
    await new Promise((resolve) => setTimeout(resolve, 1020 - (Date.now() % 1000)));
    const before = server.answeredInPlace;
    await writeAll(conn, get);
    const next = (await readReplies(conn, 1)).replies[0];
    assert.equal(next.body, "hello");
    assert.notEqual(header(next, "date"), header(warm, "date"));
    assert.ok(Math.abs(Date.parse(header(next, "date")!) - Date.now()) < 3000);
    const without = (reply: Reply) => reply.headers.filter(([name]) => name !== "date");
    assert.deepStrictEqual(without(next), without(warm));
    if (io.options.epoll && Deno.build.os === "linux") {
      assert.equal(server.answeredInPlace - before, 1, "still answered in place");
    }
    await Deno.remove(base, { recursive: true });
  });
}

for (const io of IO_MODES) {
  Deno.test(`serveHttp: 40 clients, each a random mix of hot, cold, posted and pipelined requests, get every answer in order${io.suffix}`, async () => {
    const { base, root } = await makeTree();
    await using server = await startInProcess({ ...io.options, root });
    // A fixed seed: the same mix every run, different per client.
    let seed = 0x2545f491;
    const random = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 2 ** 32;
    };
    const kinds = [
      { request: "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n", status: 200, body: "hello" },
      { request: "GET /dir/ HTTP/1.1\r\nHost: x\r\n\r\n", status: 200, body: "<p>dir index</p>" },
      { request: "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", status: 404, body: "Not Found\n" },
      {
        request: "GET /hello.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=1-3\r\n\r\n",
        status: 206,
        body: "ell",
      },
    ];
    const client = async (id: number) => {
      using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
      const expected: [number, string][] = [];
      for (let round = 0; round < 6; round++) {
        // 1–4 requests per write (pipelining), sometimes a POST whose body echoes the client.
        let batch = "";
        const count = 1 + Math.floor(random() * 4);
        for (let i = 0; i < count; i++) {
          if (random() < 0.2) {
            const body = `client ${id} round ${round} #${i}`;
            batch +=
              `POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
            expected.push([200, body]);
          } else {
            const kind = kinds[Math.floor(random() * kinds.length)];
            batch += kind.request;
            expected.push([kind.status, kind.body]);
          }
        }
        await writeAll(conn, encoder.encode(batch));
        const { replies } = await readReplies(conn, count);
        const got = replies.map((r): [number, string] => [r.status, r.body]);
        assert.deepStrictEqual(got, expected.slice(-count), `client ${id} round ${round}`);
      }
      return expected.length;
    };
    const answered = await Promise.all(Array.from({ length: 40 }, (_, id) => client(id)));
    assert.ok(answered.reduce((a, b) => a + b, 0) >= 240);
    await Deno.remove(base, { recursive: true });
  });
}

Deno.test("serveHttp --trace echoes the request as it came, header names spelled as sent", async () => {
  const { base, root } = await makeTree();
  await using server = await startInProcess({ root, trace: true });
  const request = "TRACE /x?y=1 HTTP/1.1\r\nHost: x\r\nX-Mixed-CASE: Yes\r\ncookie: a=b\r\n" +
    "Connection: close\r\n\r\n";
  const { replies } = await exchange(server, request);
  assert.equal(replies[0].status, 200);
  assert.equal(header(replies[0], "content-type"), "message/http");
  assert.equal(replies[0].body, request);
  await Deno.remove(base, { recursive: true });
});

for (const io of IO_MODES) {
  Deno.test(`serveHttp drops a slowloris client while serving another${io.suffix}`, async () => {
    const { base, root } = await makeTree();
    await using server = await startInProcess({ ...io.options, root, headerTimeoutMs: 300 });
    using slow = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    await writeAll(slow, encoder.encode("GET /hello.txt HTTP/1.1\r\nHo"));
    // A second client is served at once, while the slow one still holds its half request.
    const other = await exchange(
      server,
      "GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert.equal(other.replies[0].body, "hello");
    // The slow one gets 408 and is disconnected once its head deadline passes.
    const { replies, closed } = await readReplies(slow, Infinity);
    assert.deepStrictEqual(replies.map((r) => r.status), [408]);
    assert.equal(closed, true);
    await Deno.remove(base, { recursive: true });
  });
}

for (const io of IO_MODES) {
  Deno.test(`serveHttp closes idle keep-alive connections and answers 503 beyond the cap${io.suffix}`, async () => {
    const { base, root } = await makeTree();
    await using server = await startInProcess({
      ...io.options,
      root,
      maxConns: 2,
      idleTimeoutMs: 400,
    });
    const request = encoder.encode("GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    using a = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    using b = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    for (const conn of [a, b]) {
      await writeAll(conn, request);
      assert.equal((await readReplies(conn, 1)).replies[0].status, 200);
    }
    assert.equal(server.connections, 2);
    // Each mode really took its path (on Linux the epoll set holds both connections).
    const viaEpoll = io.options.epoll && Deno.build.os === "linux";
    assert.equal(server.io, viaEpoll ? "epoll" : "deno");
    assert.equal(server.epollConnections, viaEpoll ? 2 : 0);
    const third = await exchange(server, request);
    assert.deepStrictEqual(third.replies.map((r) => r.status), [503]);
    assert.equal(third.closed, true);
    // Both kept-alive connections are closed by the idle timeout (read returns EOF).
    for (const conn of [a, b]) assert.equal((await readReplies(conn, 1)).closed, true);
    await Deno.remove(base, { recursive: true });
  });
}

for (const io of IO_MODES) {
  Deno.test(`serveHttp sends 100 Continue before reading an expected body${io.suffix}`, async () => {
    const { base, root } = await makeTree();
    await using server = await startInProcess({ ...io.options, root });
    using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    await writeAll(
      conn,
      encoder.encode(
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
      ),
    );
    const buf = new Uint8Array(100);
    const n = await conn.read(buf);
    assert.equal(latin1(buf.subarray(0, n ?? 0)), "HTTP/1.1 100 Continue\r\n\r\n");
    await writeAll(conn, encoder.encode("abc"));
    const { replies } = await readReplies(conn, 1, ["POST"]);
    assert.equal(replies[0].body, "abc");
    await Deno.remove(base, { recursive: true });
  });
}

for (const io of IO_MODES) {
  Deno.test(`serveHttp streams a file larger than the cache with Range, with and without sendfile${io.suffix}`, async () => {
    const { base, root } = await makeTree();
    const size = 3 * 1024 * 1024 + 17;
    const bytes = new Uint8Array(size).map((_, i) => (i * 31 + (i >> 8)) & 0xff);
    await Deno.writeFile(`${root}/big.bin`, bytes);
    for (const zeroCopy of [true, false]) {
      await using server = await startInProcess({ ...io.options, root, zeroCopy });
      using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
      await writeAll(
        conn,
        encoder.encode(
          "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=3145700-\r\n\r\n",
        ),
      );
      const parser = new ResponseParser();
      const buf = new Uint8Array(64 * 1024);
      const bodies: Uint8Array[][] = [[], []];
      const lengths = [0, 0];
      const statuses: number[] = [];
      while (statuses.length < 2 || lengths[1] < size - 3145700) {
        const event = parser.next();
        if (event === null) {
          const n = await conn.read(buf);
          assert.notEqual(n, null);
          parser.feed(buf.subarray(0, n!));
        } else if (event.kind === "response") statuses.push(event.status);
        else if (event.kind === "data") {
          const i = statuses.length - 1;
          bodies[i].push(event.data.slice());
          lengths[i] += event.data.length;
        }
      }
      assert.deepStrictEqual(statuses, [200, 206]);
      assert.deepStrictEqual(lengths, [size, size - 3145700]);
      // Byte for byte (by digest: a failed deepEqual of 3 MiB would take minutes to print).
      assert.equal(digestOf(bodies[0]), digestOf([bytes]), `full body, zeroCopy ${zeroCopy}`);
      assert.equal(digestOf(bodies[1]), digestOf([bytes.subarray(3145700)]), `range, ${zeroCopy}`);
    }
    await Deno.remove(base, { recursive: true });
  });
}

for (const io of IO_MODES) {
  Deno.test(`serveHttp answers 408 and closes when a request body stops arriving${io.suffix}`, async () => {
    const { base, root } = await makeTree();
    const uploads = `${base}/uploads`;
    await Deno.mkdir(uploads);
    await using server = await startInProcess({
      ...io.options,
      root,
      uploadDir: uploads,
      bodyTimeoutMs: 300,
      headerTimeoutMs: 60_000,
      idleTimeoutMs: 60_000,
    });
    // Each: a head that promises more body than is sent, then silence. Only the body timeout
    // can end these (the head is complete, and the connection is busy, not idle).
    const stalled: [string, string][] = [
      ["Content-Length", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789"],
      [
        "chunked, mid-chunk",
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n9\r\nab",
      ],
      [
        "chunked, in the trailers",
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n",
      ],
      ["an upload", "PUT /upload/a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc"],
      [
        "after 100 Continue",
        "PUT /upload/b.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
      ],
    ];
    const results = await Promise.all(stalled.map(async ([name, request]) => {
      const { replies, closed } = await exchange(server, request, { methods: ["PUT"] });
      return [name, replies.map((r) => [r.status, r.body]), closed];
    }));
    // (The 100 Continue before the last one's 408 is skipped by the response parser.)
    const timedOut = "Request Timeout: the request body stopped arriving or came too slowly\n";
    for (const [name, replies, closed] of results) {
      assert.deepStrictEqual(replies, [[408, timedOut]], String(name));
      assert.equal(closed, true, String(name));
    }
    assert.deepStrictEqual([...Deno.readDirSync(uploads)], [], "no upload was stored");
    await Deno.remove(base, { recursive: true });
  });
}

for (const io of IO_MODES) {
  Deno.test(`serveHttp: a body trickled too slowly is cut off, a steady one is not${io.suffix}`, async () => {
    const { base, root } = await makeTree();
    await using server = await startInProcess({
      ...io.options,
      root,
      bodyTimeoutMs: 300,
      bodyMinRate: 100,
    });
    // One byte every 50 ms never pauses for 300 ms, but averages 20 bytes/s: after the 300 ms
    // grace period it falls behind 100 bytes/s, and the server hangs up long before byte 200.
    using slow = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    await writeAll(
      slow,
      encoder.encode("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n"),
    );
    const reading = readReplies(slow, Infinity);
    let sent = 0;
    try {
      for (; sent < 200; sent++) {
        await new Promise((resolve) => setTimeout(resolve, 50)); // the client's pace
        await writeAll(slow, encoder.encode("x"));
      }
    } catch (error) {
      if (
        !(error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.ConnectionReset)
      ) {
        throw error;
      }
    }
    const { replies, closed } = await reading;
    assert.deepStrictEqual(replies.map((r) => r.status), [408]);
    assert.equal(closed, true);
    assert.ok(sent < 100, `sent ${sent} bytes before the cut`);
    // A body that keeps up with the rate is read to the end.
    using steady = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    await writeAll(
      steady,
      encoder.encode("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n"),
    );
    for (let i = 0; i < 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      await writeAll(steady, encoder.encode("0123456789"));
    }
    const done = await readReplies(steady, 1, ["POST"]);
    assert.deepStrictEqual(done.replies.map((r) => r.body), ["0123456789".repeat(4)]);
    await Deno.remove(base, { recursive: true });
  });
}

Deno.test("http/server.ts: stalled bodies at --max-conns are timed out, then others are served", async () => {
  for (const mode of [[], ["--no-epoll"]]) {
    const { base, root } = await makeTree();
    await using server = await startScript("http/server.ts", [
      "--root",
      root,
      "--port",
      "0",
      "--quiet",
      "--max-conns",
      "2",
      "--body-timeout-ms",
      "400",
      ...mode,
    ]);
    const port = server.port;
    const stalled = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789";
    using a = await Deno.connect({ hostname: "127.0.0.1", port });
    using b = await Deno.connect({ hostname: "127.0.0.1", port });
    for (const conn of [a, b]) await writeAll(conn, encoder.encode(stalled));
    const get = "GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    // Both stalled clients hold the two slots: a third is refused…
    const third = await rawExchange(port, get);
    assert.deepStrictEqual(third.replies.map((r) => r.status), [503], `third ${mode}`);
    // …until the body timeout frees them (408 and close), then everyone is served again.
    for (const conn of [a, b]) {
      const { replies, closed } = await readReplies(conn, Infinity);
      assert.deepStrictEqual(replies.map((r) => r.status), [408]);
      assert.equal(closed, true);
    }
    const fourth = await rawExchange(port, get);
    assert.deepStrictEqual(fourth.replies.map((r) => [r.status, r.body]), [[200, "hello"]]);
    const stopped = await server.stop();
    assert.equal(stopped.stderr, "");
    await Deno.remove(base, { recursive: true });
  }
});

/** `exchange` against a port (a server in another process). */
async function rawExchange(port: number, request: string) {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(conn, encoder.encode(request));
  return await readReplies(conn, Infinity);
}
