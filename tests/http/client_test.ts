/**
 * http/url.ts and http/client.ts: URL anatomy (seed 000), the request the client writes (seed
 * 003), and real exchanges over loopback — against `Deno.serve` (Content-Length, chunked, HEAD,
 * redirects, POST), against raw `Deno.listen` servers that misbehave on purpose (close-delimited
 * bodies, truncation, empty and weird replies, silence), against an in-test DNS server built on
 * `dns/message.ts`, and the CLI as a subprocess (exit codes, -i, -I, -o, -v).
 */
import assert from "node:assert/strict";
import { parseHeaderFlag } from "../../http/client.ts";
import { parseDnsServer } from "../../http/client/fetch.ts";
import { formatEvent, responseHeadText } from "../../http/client/output.ts";
import { buildRequestHead, httpRequest } from "../../http/client/request.ts";
import { EXIT, HttpClientError, type HttpRequestOptions } from "../../http/client/types.ts";
import { ResponseParser } from "../../http/core/response_parser.ts";
import {
  describeUrl,
  domainLevels,
  isIpv6,
  parseUrl,
  resolveUrl,
  UrlError,
} from "../../http/core/url.ts";
import { CLASS, RCODE, TYPE } from "../../dns/wire/constants.ts";
import { decodeMessage, encodeMessage, type Message } from "../../dns/wire/message.ts";
import { assertNdjson, hasCommand, runCommand, runScript, startScript } from "../_helpers.ts";
import { UsageError } from "../../tcp/kit/cli.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const SEED_URL = "http://www.cnblogs.com/linhaifeng/articles/6817679.html";

// ---------------------------------------------------------------------------------------------
// URL anatomy

Deno.test("parseUrl splits seed 000's URL into scheme, host, implied port 80 and path", () => {
  const url = parseUrl(SEED_URL);
  assert.equal(url.scheme, "http");
  assert.equal(url.host, "www.cnblogs.com");
  assert.equal(url.hostKind, "name");
  assert.equal(url.port, 80);
  assert.equal(url.portExplicit, false);
  assert.equal(url.path, "/linhaifeng/articles/6817679.html");
  assert.equal(url.query, undefined);
  assert.equal(url.target, "/linhaifeng/articles/6817679.html");
  assert.equal(url.authority, "www.cnblogs.com");
  const text = describeUrl(url).join("\n");
  assert.match(text, /port\s+80 \(implied\)/);
  assert.match(text, /host\s+www\.cnblogs\.com\s+domain name: DNS/);
});

Deno.test("parseUrl handles ports, IPv6 literals, queries, fragments and credentials", () => {
  const cases: [string, Partial<ReturnType<typeof parseUrl>>][] = [
    ["http://127.0.0.1:8080/a?b=1", {
      host: "127.0.0.1",
      hostKind: "ipv4",
      port: 8080,
      portExplicit: true,
      target: "/a?b=1",
      query: "b=1",
      authority: "127.0.0.1:8080",
    }],
    ["http://[::1]:8000", {
      host: "::1",
      hostKind: "ipv6",
      port: 8000,
      path: "/",
      authority: "[::1]:8000",
    }],
    ["HTTP://WWW.Example.COM/x#top", {
      scheme: "http",
      host: "www.example.com",
      fragment: "top",
      target: "/x",
    }],
    ["https://example.com/", { scheme: "https", port: 443, authority: "example.com" }],
    ["localhost:3000/x", { scheme: "http", host: "localhost", port: 3000, target: "/x" }],
    ["http://u:p%40ss@h.test/", { username: "u", password: "p@ss", host: "h.test" }],
    ["http://h.test/ü/<x>?q=中", { path: "/%C3%BC/%3Cx%3E", query: "q=%E4%B8%AD" }],
    ["http://h.test:80/", { port: 80, authority: "h.test", href: "http://h.test/" }],
  ];
  for (const [input, expected] of cases) {
    const url = parseUrl(input);
    for (const [key, value] of Object.entries(expected)) {
      assert.deepEqual(url[key as keyof typeof url], value, `${input}: ${key}`);
    }
  }
});

Deno.test("parseUrl rejects malformed URLs with a one-line reason", () => {
  const cases: [string, RegExp][] = [
    ["", /empty/],
    ["ftp://example.com/", /Unsupported scheme "ftp".*only http/],
    ["http://", /no host/],
    ["http://a b/", /whitespace/],
    ["http://example.com:0/", /Invalid port "0"/],
    ["http://example.com:65536/", /Invalid port "65536"/],
    ["http://example.com:8o/", /Invalid port "8o"/],
    ["http://[::1/", /without "\]"/],
    ["http://[1:2:3]/", /Invalid IPv6 address "1:2:3"/],
    ["http://300.1.1.1/", /Invalid IPv4 address "300.1.1.1"/],
    ["http://a..b/", /bad label ""/],
    ["http://-a.com/", /bad label "-a"/],
    [`http://${"a".repeat(64)}.com/`, /label longer than 63/],
    ["mailto:someone@example.com", /expected http:\/\/HOST/],
    [`http://h/${"x".repeat(9000)}`, /longer than 8192/],
  ];
  for (const [input, message] of cases) {
    assert.throws(
      () => parseUrl(input),
      (e: unknown) => e instanceof UrlError && message.test(e.message),
      input,
    );
  }
});

Deno.test("isIpv6 accepts the RFC 4291 text forms and nothing else", () => {
  for (
    const ok of [
      "::",
      "::1",
      "1::",
      "fe80::1",
      "1:2:3:4:5:6:7:8",
      "::ffff:1.2.3.4",
      "1:2:3:4:5:6:1.2.3.4",
    ]
  ) {
    assert.equal(isIpv6(ok), true, ok);
  }
  for (
    const bad of ["", ":1", "1:2:3", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "::1.2.3", "g::1"]
  ) {
    assert.equal(isIpv6(bad), false, bad);
  }
});

Deno.test("resolveUrl resolves redirect locations against the current URL", () => {
  const base = parseUrl("http://a.test:81/x/y?z");
  assert.equal(resolveUrl(base, "../q").href, "http://a.test:81/q");
  assert.equal(resolveUrl(base, "/root").href, "http://a.test:81/root");
  assert.equal(resolveUrl(base, "//b.test/z").href, "http://b.test/z");
  assert.equal(resolveUrl(base, "http://c.test:90/").href, "http://c.test:90/");
});

Deno.test("domainLevels names root, top-level, second-level and host (seed 000)", () => {
  assert.deepEqual(domainLevels("www.cnblogs.com."), [
    { label: ".", level: "root domain" },
    { label: "com", level: "top-level domain" },
    { label: "cnblogs", level: "second-level domain" },
    { label: "www", level: "host name" },
  ]);
});

// ---------------------------------------------------------------------------------------------
// The request the client writes

Deno.test("buildRequestHead writes seed 003's request line without its stray slash", () => {
  const head = buildRequestHead(parseUrl("http://127.0.0.1:8000/index.html"), "GET", undefined, []);
  assert.ok(head.startsWith("GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"), head);
  assert.ok(head.endsWith("Connection: close\r\n\r\n"));
});

Deno.test("buildRequestHead lets -H replace or remove defaults and sizes the body", () => {
  const url = parseUrl("http://u:pw@h.test/echo");
  const head = buildRequestHead(url, "POST", encoder.encode("héllo"), [
    ["user-agent", "test/1"],
    ["Accept", ""],
    ["X-Extra", "1"],
  ]);
  assert.match(head, /^POST \/echo HTTP\/1\.1\r\n/);
  assert.match(head, /\r\nuser-agent: test\/1\r\n/);
  assert.doesNotMatch(head, /User-Agent: netlab/);
  assert.doesNotMatch(head, /Accept:/);
  assert.match(head, /\r\nContent-Length: 6\r\n/);
  assert.match(head, /\r\nAuthorization: Basic dTpwdw==\r\n/);
  assert.match(head, /\r\nX-Extra: 1\r\n\r\n$/);
});

Deno.test("parseHeaderFlag and parseDnsServer read curl-style flag values", () => {
  assert.deepEqual(parseHeaderFlag("X-A:  b c "), ["X-A", "b c"]);
  assert.deepEqual(parseHeaderFlag("Accept:"), ["Accept", ""]);
  assert.throws(() => parseHeaderFlag("no colon"), UsageError);
  assert.throws(() => parseHeaderFlag("Bad Name: x"), UsageError);
  assert.deepEqual(parseDnsServer("127.0.0.1:5353"), { server: "127.0.0.1", port: 5353 });
  assert.deepEqual(parseDnsServer("127.0.0.1"), { server: "127.0.0.1", port: undefined });
  assert.deepEqual(parseDnsServer("[::1]:53"), { server: "::1", port: 53 });
  assert.deepEqual(parseDnsServer("::1"), { server: "::1" });
  assert.throws(() => parseDnsServer("h:99999"), UsageError);
});

// ---------------------------------------------------------------------------------------------
// Exchanges with Deno.serve

/** Runs `fn` with a Deno.serve reference server on 127.0.0.1:0. */
async function withDenoServe(fn: (base: string) => Promise<void>): Promise<void> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    switch (url.pathname) {
      case "/hello":
        return new Response("hello netlab\n", { headers: { "content-type": "text/plain" } });
      case "/chunked":
        return new Response(
          new ReadableStream({
            start(controller) {
              for (const part of ["one ", "two ", "three"]) {
                controller.enqueue(encoder.encode(part));
              }
              controller.close();
            },
          }),
        );
      case "/echo":
        return new Response(`${req.method} ${await req.text()}`);
      case "/redirect":
        return new Response(null, { status: 302, headers: { location: "/hello" } });
      case "/see-other":
        return new Response(null, { status: 303, headers: { location: "/echo" } });
      case "/temporary":
        return new Response(null, { status: 307, headers: { location: "/echo" } });
      case "/loop":
        return new Response(null, { status: 301, headers: { location: "/loop" } });
      case "/empty":
        return new Response(null, { status: 204 });
      default:
        return new Response("not found\n", { status: 404 });
    }
  });
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    await server.shutdown();
  }
}

Deno.test("httpRequest reads a Content-Length body and reports each step", async () => {
  await withDenoServe(async (base) => {
    const steps: string[] = [];
    const res = await httpRequest(`${base}/hello`, { onEvent: (e) => steps.push(e.type) });
    assert.equal(res.status, 200);
    assert.equal(res.reason, "OK");
    assert.equal(res.version, "1.1");
    assert.equal(res.framing, "content-length");
    assert.equal(decoder.decode(res.body), "hello netlab\n");
    assert.deepEqual(steps, ["url", "resolved", "connect", "request", "response", "body"]);
  });
});

Deno.test("httpRequest reassembles a chunked body", async () => {
  await withDenoServe(async (base) => {
    const res = await httpRequest(`${base}/chunked`);
    assert.equal(res.framing, "chunked");
    assert.equal(decoder.decode(res.body), "one two three");
  });
});

Deno.test("httpRequest streams the body to onBody instead of buffering it", async () => {
  await withDenoServe(async (base) => {
    const chunks: string[] = [];
    const res = await httpRequest(`${base}/hello`, {
      onBody: (c) => void chunks.push(decoder.decode(c)),
    });
    assert.equal(chunks.join(""), "hello netlab\n");
    assert.equal(res.body.length, 0);
    assert.equal(res.bodyBytes, 13);
  });
});

Deno.test("httpRequest HEAD gets the headers and no body; 204 has none either", async () => {
  await withDenoServe(async (base) => {
    const head = await httpRequest(`${base}/hello`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(head.framing, "none");
    const empty = await httpRequest(`${base}/empty`);
    assert.equal(empty.status, 204);
    assert.equal(empty.body.length, 0);
  });
});

Deno.test("httpRequest POSTs a body (-d) and sends any method (-X)", async () => {
  await withDenoServe(async (base) => {
    const post = await httpRequest(`${base}/echo`, { body: "a=1&b=2" });
    assert.equal(decoder.decode(post.body), "POST a=1&b=2");
    const put = await httpRequest(`${base}/echo`, { method: "PUT", body: "x" });
    assert.equal(decoder.decode(put.body), "PUT x");
    const options = await httpRequest(`${base}/echo`, { method: "OPTIONS" });
    assert.equal(decoder.decode(options.body), "OPTIONS ");
  });
});

Deno.test("httpRequest follows redirects only with followRedirects, the browser way", async () => {
  await withDenoServe(async (base) => {
    const plain = await httpRequest(`${base}/redirect`);
    assert.equal(plain.status, 302);
    const followed = await httpRequest(`${base}/redirect`, { followRedirects: true });
    assert.equal(followed.status, 200);
    assert.equal(followed.url, `${base}/hello`);
    assert.deepEqual(followed.redirects.map((r) => r.status), [302]);
    assert.equal(decoder.decode(followed.body), "hello netlab\n");
    // 303 turns POST into GET without a body; 307 repeats the POST and its body.
    const seeOther = await httpRequest(`${base}/see-other`, { body: "x", followRedirects: true });
    assert.equal(decoder.decode(seeOther.body), "GET ");
    const temporary = await httpRequest(`${base}/temporary`, { body: "x", followRedirects: true });
    assert.equal(decoder.decode(temporary.body), "POST x");
  });
});

Deno.test("httpRequest gives up after the redirect limit (curl exit 47)", async () => {
  await withDenoServe(async (base) => {
    let hops = 0;
    await assert.rejects(
      httpRequest(`${base}/loop`, {
        followRedirects: true,
        onEvent: (e) => void (e.type === "redirect" && hops++),
      }),
      (e: unknown) =>
        e instanceof HttpClientError && e.exitCode === EXIT.TOO_MANY_REDIRECTS &&
        /Maximum \(10\) redirects/.test(e.message),
    );
    assert.equal(hops, 10);
    await assert.rejects(
      httpRequest(`${base}/loop`, { followRedirects: true, maxRedirects: 2 }),
      /Maximum \(2\) redirects/,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Raw servers that reply exactly the bytes a test wants

/**
 * Serves one connection on 127.0.0.1:0: reads the request head, writes `reply`, then closes
 * (or, with `hold`, keeps the connection open and silent until the client goes away).
 */
async function withRawServer(
  reply: string | Uint8Array,
  fn: (base: string) => Promise<void>,
  { hold = false } = {},
): Promise<string> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let request = "";
  const served = (async () => {
    const conn = await listener.accept();
    try {
      const buf = new Uint8Array(4096);
      while (!request.includes("\r\n\r\n")) {
        const n = await conn.read(buf);
        if (n === null) return;
        request += decoder.decode(buf.subarray(0, n));
      }
      const bytes = typeof reply === "string" ? encoder.encode(reply) : reply;
      if (bytes.length > 0) await conn.write(bytes);
      if (hold) { while ((await conn.read(buf)) !== null) { /* wait for the client to close */ } }
    } catch (error) {
      if (
        !(error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.BrokenPipe)
      ) throw error;
    } finally {
      conn.close();
    }
  })();
  try {
    await fn(`http://127.0.0.1:${listener.addr.port}`);
  } finally {
    await served;
    listener.close();
  }
  return request;
}

async function rejectsWithExit(promise: Promise<unknown>, code: number, message: RegExp) {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof HttpClientError, String(e));
    assert.equal(e.exitCode, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}

Deno.test("httpRequest reads a close-delimited body until the server closes", async () => {
  const request = await withRawServer(
    "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nno length, the close ends me",
    async (base) => {
      const res = await httpRequest(`${base}/old`);
      assert.equal(res.version, "1.0");
      assert.equal(res.framing, "close");
      assert.equal(decoder.decode(res.body), "no length, the close ends me");
    },
  );
  assert.match(request, /^GET \/old HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\n/);
});

Deno.test("httpRequest skips 100 Continue and reads the real response", async () => {
  await withRawServer(
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    async (base) => {
      const res = await httpRequest(base);
      assert.equal(res.status, 200);
      assert.equal(decoder.decode(res.body), "ok");
    },
  );
});

Deno.test("httpRequest reports a body cut short (exit 18), an empty reply (52), garbage (8)", async () => {
  await withRawServer("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this", async (base) => {
    await rejectsWithExit(httpRequest(base), EXIT.PARTIAL_FILE, /body incomplete \(9 bytes/);
  });
  await withRawServer(
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
    async (base) => {
      await rejectsWithExit(httpRequest(base), EXIT.PARTIAL_FILE, /body incomplete/);
    },
  );
  await withRawServer("", async (base) => {
    await rejectsWithExit(httpRequest(base), EXIT.GOT_NOTHING, /^Empty reply from server$/);
  });
  await withRawServer("SSH-2.0-OpenSSH_9.2\r\n\r\n", async (base) => {
    await rejectsWithExit(
      httpRequest(base),
      EXIT.WEIRD_SERVER_REPLY,
      /Weird server reply: Malformed status line/,
    );
  });
});

Deno.test("httpRequest stops at --max-time when the server stays silent (exit 28)", async () => {
  await withRawServer("", async (base) => {
    await rejectsWithExit(
      httpRequest(base, { maxTimeMs: 200 }),
      EXIT.OPERATION_TIMEDOUT,
      /timed out after 200 milliseconds/,
    );
  }, { hold: true });
});

Deno.test("httpRequest reports a refused connection (exit 7) and refuses https (exit 1)", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close(); // nobody listens there now: the kernel answers the SYN with RST
  await rejectsWithExit(
    httpRequest(`http://127.0.0.1:${port}/`),
    EXIT.COULDNT_CONNECT,
    /Failed to connect to 127\.0\.0\.1:\d+: connection refused/,
  );
  await rejectsWithExit(
    httpRequest("https://127.0.0.1/"),
    EXIT.UNSUPPORTED_PROTOCOL,
    /"https" not supported/,
  );
  await rejectsWithExit(
    httpRequest("gopher://x/"),
    EXIT.UNSUPPORTED_PROTOCOL,
    /Unsupported scheme "gopher"/,
  );
  await rejectsWithExit(httpRequest("http://bad host/"), EXIT.URL_MALFORMED, /whitespace/);
});

// ---------------------------------------------------------------------------------------------
// Name resolution through a DNS server on loopback (never the machine's resolver)

/**
 * A tiny authoritative DNS server for the tests, built on `dns/message.ts`: `NAME A` answers
 * from `records`, everything else NXDOMAIN. Counts the queries it answered.
 */
async function withDnsServer(
  records: Record<string, string>,
  fn: (port: number, queries: () => number) => Promise<void>,
): Promise<void> {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  let queries = 0;
  const serving = (async () => {
    try {
      while (true) {
        const [bytes, from] = await socket.receive();
        const query = decodeMessage(bytes);
        const question = query.questions[0];
        const address = records[question.name.toLowerCase()];
        const answers = address && question.type === TYPE.A
          ? [{
            name: question.name,
            type: TYPE.A,
            class: CLASS.IN,
            ttl: 60,
            data: { kind: "A" as const, address },
          }]
          : [];
        const reply: Message = {
          id: query.id,
          flags: {
            ...query.flags,
            qr: true,
            aa: true,
            ra: false,
            rcode: address ? RCODE.NOERROR : RCODE.NXDOMAIN,
          },
          questions: query.questions,
          answers,
          authorities: [],
          additionals: [],
        };
        queries++;
        await socket.send(encodeMessage(reply), from);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted)) {
        throw error;
      }
    }
  })();
  try {
    await fn((socket.addr as Deno.NetAddr).port, () => queries);
  } finally {
    socket.close();
    await serving;
  }
}

Deno.test("httpRequest resolves a name through the given DNS server over UDP", async () => {
  await withDenoServe(async (base) => {
    const port = new URL(base).port;
    await withDnsServer({ "www.netlab.test.": "127.0.0.1" }, async (dnsPort, queries) => {
      const lines: string[] = [];
      const options: HttpRequestOptions = {
        dns: { server: "127.0.0.1", port: dnsPort },
        onEvent: (e) => lines.push(...formatEvent(e)),
      };
      const res = await httpRequest(`http://www.netlab.test:${port}/hello`, options);
      assert.equal(decoder.decode(res.body), "hello netlab\n");
      assert.equal(res.address, "127.0.0.1");
      assert.equal(queries(), 1);
      const text = lines.join("\n");
      assert.match(
        text,
        new RegExp(`DNS query over UDP to 127\\.0\\.0\\.1:${dnsPort}: www\\.netlab\\.test\\. A\\?`),
      );
      assert.match(text, /www\.netlab\.test\.\s+60\s+IN\s+A\s+127\.0\.0\.1/);
      assert.match(text, /TCP connected 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+/);
      assert.match(text, /^> Host: www\.netlab\.test:\d+$/m);

      await rejectsWithExit(
        httpRequest(`http://nowhere.netlab.test:${port}/`, {
          dns: { server: "127.0.0.1", port: dnsPort },
        }),
        EXIT.COULDNT_RESOLVE_HOST,
        /Could not resolve host "nowhere\.netlab\.test": no such name \(NXDOMAIN\)/,
      );
    });
  });
});

Deno.test("httpRequest never asks DNS for IP literals or localhost", async () => {
  await withDenoServe(async (base) => {
    const port = new URL(base).port;
    const vias: string[] = [];
    const onEvent: HttpRequestOptions["onEvent"] = (e) =>
      void (e.type === "resolved" && vias.push(e.via));
    await httpRequest(`http://localhost:${port}/hello`, { onEvent });
    await httpRequest(`http://127.0.0.1:${port}/hello`, { onEvent });
    assert.deepEqual(vias, ["localhost", "literal"]);
    await rejectsWithExit(
      httpRequest(`http://www.netlab.test:${port}/`),
      EXIT.COULDNT_RESOLVE_HOST,
      /no DNS server/,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// The CLI as a subprocess

Deno.test("http:get --help, a bad flag, a bad URL, https, and a refused connection", async () => {
  const help = await runScript("http/client.ts", ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: deno task http:get URL/);
  const badFlag = await runScript("http/client.ts", ["--nope", "http://127.0.0.1/"]);
  assert.equal(badFlag.code, 2);
  assert.equal(badFlag.stderr, "error: unknown option --nope (see --help)\n");
  const badUrl = await runScript("http/client.ts", ["http://[::1/"]);
  assert.equal(badUrl.code, EXIT.URL_MALFORMED);
  assert.equal(badUrl.stderr.trim().split("\n").length, 1);
  const https = await runScript("http/client.ts", ["https://www.cnblogs.com/"]);
  assert.equal(https.code, EXIT.UNSUPPORTED_PROTOCOL);
  assert.equal(
    https.stderr.trim(),
    'error: Protocol "https" not supported: netlab speaks plain HTTP only (no TLS), use http://',
  );
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const refused = await runScript("http/client.ts", [`http://127.0.0.1:${port}/`]);
  assert.equal(refused.code, EXIT.COULDNT_CONNECT);
  assert.match(
    refused.stderr,
    /^error: Failed to connect to 127\.0\.0\.1:\d+: connection refused\n$/,
  );
});

Deno.test("http:get prints the body, -i the head too, -I only the head", async () => {
  await withDenoServe(async (base) => {
    const body = await runScript("http/client.ts", [`${base}/hello`]);
    assert.equal(body.code, 0, body.stderr);
    assert.equal(body.stdout, "hello netlab\n");
    const include = await runScript("http/client.ts", ["-i", "-L", `${base}/redirect`]);
    assert.equal(include.code, 0, include.stderr);
    assert.match(
      include.stdout,
      /^HTTP\/1\.1 302 Found\r\nlocation: \/hello\r\n[^]*\r\n\r\nHTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nhello netlab\n$/,
    );
    const head = await runScript("http/client.ts", ["-I", `${base}/hello`]);
    assert.equal(head.code, 0, head.stderr);
    assert.match(head.stdout, /^HTTP\/1\.1 200 OK\r\n[^]*content-length: 13\r\n[^]*\r\n\r\n$/);
    const post = await runScript("http/client.ts", [
      "-X",
      "PUT",
      "-d",
      "data",
      "-H",
      "X-Test: 1",
      `${base}/echo`,
    ]);
    assert.equal(post.stdout, "PUT data");
  });
});

Deno.test("http:get -v shows DNS over UDP, TCP connect, request and response on stderr", async () => {
  await withDenoServe(async (base) => {
    const port = new URL(base).port;
    await withDnsServer({ "www.netlab.test.": "127.0.0.1" }, async (dnsPort) => {
      const res = await runScript("http/client.ts", [
        "-v",
        "--dns",
        `127.0.0.1:${dnsPort}`,
        `http://www.netlab.test:${port}/hello`,
      ]);
      assert.equal(res.code, 0, res.stderr);
      assert.equal(res.stdout, "hello netlab\n");
      const steps = [
        /^\* URL http:\/\/www\.netlab\.test:\d+\/hello$/m,
        /^\*\s+port\s+\d+\s+named in the URL$/m,
        /^\* \(a\) DNS query over UDP to 127\.0\.0\.1:\d+: www\.netlab\.test\. A\?$/m,
        /^\* \(a\) www\.netlab\.test is 127\.0\.0\.1 \(DNS over UDP via 127\.0\.0\.1:\d+, [\d.]+ ms\)$/m,
        /^\* \(b\) TCP connected 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+/m,
        /^> GET \/hello HTTP\/1\.1$/m,
        /^< HTTP\/1\.1 200 OK$/m,
        /^\* body 13 bytes \(Content-Length\), connection closed$/m,
      ];
      let at = 0;
      for (const step of steps) {
        const match = step.exec(res.stderr.slice(at));
        assert.ok(match, `missing or out of order: ${step}\n${res.stderr}`);
        at += match.index + match[0].length;
      }
    });
  });
});

Deno.test("http:get -o writes the file via a temp file; --max-time exits 28", async () => {
  const dir = await Deno.makeTempDir({ prefix: "netlab-http-client-" });
  try {
    await withDenoServe(async (base) => {
      const out = `${dir}/page.txt`;
      const res = await runScript("http/client.ts", ["-o", out, `${base}/chunked`]);
      assert.equal(res.code, 0, res.stderr);
      assert.equal(res.stdout, "");
      assert.equal(await Deno.readTextFile(out), "one two three");
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["page.txt"]);
    });
    await withRawServer("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", async (base) => {
      const res = await runScript("http/client.ts", [
        "-o",
        `${dir}/partial.txt`,
        "--max-time",
        "0.3",
        base,
      ]);
      assert.equal(res.code, EXIT.OPERATION_TIMEDOUT);
      assert.match(res.stderr, /^error: Operation timed out after 300 milliseconds\n$/);
    }, { hold: true });
    // The interrupted download left nothing behind: no partial file, no temp file.
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["page.txt"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "http:get -o into a FIFO or through a symlink writes in place: neither is replaced",
  // The FIFO stands in for /dev/null (`-o /dev/null` is a common idiom): renaming a temp file
  // over a device would turn it into a regular file. A FIFO shows the same thing without
  // touching the machine's devices.
  ignore: !hasCommand("mkfifo"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "netlab-http-client-" });
    try {
      await withDenoServe(async (base) => {
        const fifo = `${dir}/pipe`;
        await runCommand("mkfifo", [fifo]);
        // A separate reader process, so a broken client (that never opens the FIFO) fails the
        // test instead of leaving a read blocked forever.
        const reader = new Deno.Command("cat", { args: [fifo], stdout: "piped" }).spawn();
        const res = await runScript("http/client.ts", ["-o", fifo, `${base}/chunked`]);
        if (!(await Deno.lstat(fifo)).isFifo) {
          reader.kill();
          await reader.output();
          assert.fail("the FIFO was replaced by a regular file");
        }
        assert.equal(res.code, 0, res.stderr);
        assert.equal(new TextDecoder().decode((await reader.output()).stdout), "one two three");

        await Deno.writeTextFile(`${dir}/real.txt`, "old");
        await Deno.symlink(`${dir}/real.txt`, `${dir}/link.txt`);
        const viaLink = await runScript("http/client.ts", [
          "-o",
          `${dir}/link.txt`,
          `${base}/chunked`,
        ]);
        assert.equal(viaLink.code, 0, viaLink.stderr);
        assert.ok((await Deno.lstat(`${dir}/link.txt`)).isSymlink, "still a symlink");
        assert.equal(await Deno.readTextFile(`${dir}/real.txt`), "one two three");
        assert.deepEqual(
          [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
          ["link.txt", "pipe", "real.txt"],
        );

        const intoDir = await runScript("http/client.ts", ["-o", dir, `${base}/chunked`]);
        assert.equal(intoDir.code, EXIT.WRITE_ERROR);
        assert.match(intoDir.stderr, /Cannot write ".*": it is a directory/);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("http:get curl idioms: -o - is stdout, -f fails with 22 and writes nothing, -s", async () => {
  const dir = await Deno.makeTempDir({ prefix: "netlab-http-client-" });
  try {
    await withDenoServe(async (base) => {
      const dash = await runScript("http/client.ts", ["-s", "-o", "-", `${base}/chunked`]);
      assert.equal(dash.code, 0, dash.stderr);
      assert.equal(dash.stdout, "one two three");
      assert.deepEqual([...Deno.readDirSync(dir)], []);

      const failed = await runScript("http/client.ts", ["-f", "-i", `${base}/missing`]);
      assert.equal(failed.code, EXIT.HTTP_RETURNED_ERROR);
      assert.equal(failed.stdout, "");
      assert.equal(failed.stderr, "error: The requested URL returned error: 404\n");
      const toFile = await runScript("http/client.ts", ["-f", "-o", `${dir}/x`, `${base}/missing`]);
      assert.equal(toFile.code, EXIT.HTTP_RETURNED_ERROR);
      assert.deepEqual([...Deno.readDirSync(dir)], [], "no file, no temp file");
      // Without -f an error page is a body like any other; -f -L judges the final response.
      const page = await runScript("http/client.ts", [`${base}/missing`]);
      assert.equal(page.code, 0);
      assert.equal(page.stdout, "not found\n");
      const followed = await runScript("http/client.ts", ["-f", "-L", `${base}/redirect`]);
      assert.equal(followed.code, 0, followed.stderr);
      assert.equal(followed.stdout, "hello netlab\n");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// Against netlab's own server

Deno.test("http:get fetches the demo page, a 404 and HEAD from http/server.ts", async () => {
  await using server = await startScript("http/server.ts", ["--port", "0"]);
  const base = `http://${server.host}:${server.port}`;
  const page = await httpRequest(`${base}/linhaifeng/articles/6817679.html`);
  assert.equal(page.status, 200);
  assert.match(decoder.decode(page.body), /<html/i);
  const missing = await httpRequest(`${base}/no/such/page`);
  assert.equal(missing.status, 404);
  const head = await httpRequest(`${base}/linhaifeng/articles/6817679.html`, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
  const cli = await runScript("http/client.ts", ["-i", `${base}/linhaifeng/articles/6817679.html`]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /^HTTP\/1\.1 200 OK\r\n/);
});

Deno.test("http:get --json reports the DNS query and answer over UDP before the TCP connection", async () => {
  await withDenoServe(async (base) => {
    const port = new URL(base).port;
    await withDnsServer({ "www.netlab.test.": "127.0.0.1" }, async (dnsPort) => {
      const res = await runScript("http/client.ts", [
        "--json",
        "--dns",
        `127.0.0.1:${dnsPort}`,
        `http://www.netlab.test:${port}/hello`,
      ]);
      assert.equal(res.code, 0, res.stderr);
      const events = assertNdjson(res.stdout, "http/client");
      const names = events.map((e) => e.event).filter((n) => n !== "log");
      assert.deepEqual(names, ["query", "answer", "connected", "request", "response", "received"]);
      const [query, answer] = events.filter((e) => e.event === "query" || e.event === "answer");
      assert.deepEqual([query.server, query.name, query.type], [
        `127.0.0.1:${dnsPort}`,
        "www.netlab.test.",
        "A",
      ]);
      assert.equal(answer.rcode, "NOERROR");
      assert.match(
        String((answer.records as string[])[0]),
        /^www\.netlab\.test\. 60 IN A 127\.0\.0\.1$/,
      );
      assert.equal(events.at(-1)!.body, "hello netlab\n");
    });
  });
});

Deno.test("-i prints header names as the server spelled them (the parser keeps them lower-case)", () => {
  const parser = new ResponseParser();
  parser.feed(
    new TextEncoder().encode(
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Custom-THING:  1 \r\netag: "a"\r\n' +
        "Content-Length: 0\r\n\r\n",
    ),
  );
  const event = parser.next();
  assert.ok(event && event.kind === "response");
  assert.deepEqual(event.headers.map(([name]) => name), [
    "content-type",
    "x-custom-thing",
    "etag",
    "content-length",
  ]);
  assert.equal(
    responseHeadText(event),
    'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Custom-THING: 1\r\netag: "a"\r\n' +
      "Content-Length: 0\r\n\r\n",
  );
});
