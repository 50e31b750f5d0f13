/**
 * The HTTP instruments: the annotated wire view of `http/describe.ts` (golden dumps of fixed messages,
 * malformed input described without throwing, parity with the parser), and the client's
 * instruments as a subprocess — `--explain`, `-w`, `--offline` and `--json` (the shared NDJSON
 * schema) against raw loopback servers that send exactly the bytes a test wants.
 */
import assert from "node:assert/strict";
import { describeHttp, explainHttp, headerMeaning } from "../../http/core/describe.ts";
import { formatTimings, formatWaterfall } from "../../http/client/output.ts";
import { buildRequestBytes, httpRequest } from "../../http/client/request.ts";
import { EXIT, getHeader, type Timings } from "../../http/client/types.ts";
import { HttpError } from "../../http/core/events.ts";
import { RequestParser } from "../../http/core/request_parser.ts";
import { ResponseParser } from "../../http/core/response_parser.ts";
import { EVENT_NAMES } from "../../tcp/kit/report.ts";
import { assertNdjson, runScript, startScript } from "../_helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** RFC 9112's chunked example, with a chunk extension and a trailer. */
const CHUNKED_RESPONSE = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" +
  "Transfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n6;x=1\r\npedia \r\n0\r\nExpires: never\r\n\r\n";

const CHUNKED_VIEW = `HTTP response, 118 bytes
  0000                           status line          HTTP/1.1 200 OK
  0000  48 54 54 50 2f 31 2e 31    version            HTTP/1.1: the connection stays open unless "Connection: close"
  0008  20 32 30 30                status code        200: 2xx Successful: request received, understood and accepted
  000c  20 4f 4b 0d 0a             reason             "OK": for humans only
  0011  43 6f 6e 74 65 6e 74 2d  Content-Type         "text/plain": what the body is (media type, charset)
  0019  54 79 70 65 3a 20 74 65
  0021  78 74 2f 70 6c 61 69 6e
  0029  0d 0a
  002b  54 72 61 6e 73 66 65 72  Transfer-Encoding    "chunked": the body comes in chunks, each with a hex size line, ending with 0
  0033  2d 45 6e 63 6f 64 69 6e
  003b  67 3a 20 63 68 75 6e 6b
  0043  65 64 0d 0a
  0047  0d 0a                    blank line           end of the head: body in chunks (Transfer-Encoding: chunked); the connection stays open (HTTP/1.1 default)
  0049                           chunk 1              4 bytes
  0049  34 0d 0a                   size line          "4" hex = 4 bytes of data follow
  004c  57 69 6b 69                data               "Wiki"
  0050  0d 0a                      CRLF               end of the chunk
  0052                           chunk 2              6 bytes
  0052  36 3b 78 3d 31 0d 0a       size line          "6" hex = 6 bytes of data follow with extension ";x=1"
  0059  70 65 64 69 61 20          data               "pedia "
  005f  0d 0a                      CRLF               end of the chunk
  0061  30 0d 0a                 last chunk           "0" = size 0: no more data; trailer fields may follow
  0064  45 78 70 69 72 65 73 3a  Expires (trailer)    "never": when the response goes stale
  006c  20 6e 65 76 65 72 0d 0a
  0074  0d 0a                    blank line           end of the chunked body (10 bytes in 2 chunks) and of the message`;

/** An HTTP/1.0 request with a Content-Length body (the connection closes by default). */
const POST_REQUEST =
  "POST /echo HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 11\r\n\r\nhello, wire";

const POST_VIEW = `HTTP request
  0000                           request line         POST /echo HTTP/1.0
  0000  50 4f 53 54 20             method             POST: send the body to the resource for processing
  0005  2f 65 63 68 6f 20          target             /echo: origin-form: the path of the resource
  000b  48 54 54 50 2f 31 2e 30    version            HTTP/1.0: the connection closes after the response unless "Connection: keep-alive"
  0013  0d 0a
  0015  48 6f 73 74 3a 20 31 32  Host                 "127.0.0.1": which site on this address (required in HTTP/1.1: one IP, many sites)
  001d  37 2e 30 2e 30 2e 31 0d
  0025  0a
  0026  43 6f 6e 74 65 6e 74 2d  Content-Length       "11": the body is exactly 11 bytes
  002e  4c 65 6e 67 74 68 3a 20
  0036  31 31 0d 0a
  003a  0d 0a                    blank line           end of the head: body of exactly 11 bytes (Content-Length); the connection closes after it (HTTP/1.0 default)
  003c  68 65 6c 6c 6f 2c 20 77  body                 11 bytes (Content-Length): "hello, wire"
  0044  69 72 65`;

// ---------------------------------------------------------------------------------------------
// describeHttp: golden views

Deno.test("explainHttp annotates a chunked response: head, chunk sizes, last chunk, trailer", () => {
  const bytes = encoder.encode(CHUNKED_RESPONSE);
  assert.equal(explainHttp(bytes, { title: `HTTP response, ${bytes.length} bytes` }), CHUNKED_VIEW);
  const described = describeHttp(bytes);
  assert.equal(described.kind, "response");
  assert.equal(described.bodyKind, "chunked");
  assert.equal(described.keepAlive, true);
  assert.equal(described.end, bytes.length);
  assert.equal(described.headBytes, 0x49);
  assert.equal(described.error, undefined);
});

Deno.test("explainHttp annotates a request with a Content-Length body (HTTP/1.0 closes)", () => {
  const bytes = encoder.encode(POST_REQUEST);
  assert.equal(explainHttp(bytes, { title: "HTTP request" }), POST_VIEW);
  const described = describeHttp(bytes);
  assert.deepEqual(
    [described.kind, described.bodyKind, described.contentLength, described.keepAlive],
    ["request", "length", 11, false],
  );
});

Deno.test("describeHttp follows the framing rules: HEAD, 204, 304, close-delimited, 1xx, keep-alive", () => {
  const cases: [string, string | undefined, string, boolean, RegExp][] = [
    [
      "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n",
      "HEAD",
      "none",
      true,
      /no body \(an answer to HEAD never has a body/,
    ],
    ['HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n', "GET", "none", true, /304 never/],
    ["HTTP/1.1 204\r\n\r\n", "GET", "none", true, /204 never has a body/],
    ["HTTP/1.0 200 OK\r\n\r\nabc", "GET", "close", false, /until the server closes/],
    [
      "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
      "GET",
      "none",
      true,
      /stays open \(Connection: keep-alive\)/,
    ],
    [
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
      "POST",
      "length",
      true,
      /end of an interim 100 response[^]*exactly 2 bytes/,
    ],
    [
      "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
      undefined,
      "none",
      false,
      /Connection: close/,
    ],
  ];
  for (const [message, requestMethod, bodyKind, keepAlive, pattern] of cases) {
    const bytes = encoder.encode(message);
    const described = describeHttp(bytes, { requestMethod });
    assert.equal(described.error, undefined, message);
    assert.equal(described.bodyKind, bodyKind, message);
    assert.equal(described.keepAlive, keepAlive, message);
    assert.equal(described.end, bytes.length, message);
    assert.match(explainHttp(bytes, { requestMethod }), pattern, message);
  }
});

Deno.test("describeHttp marks pipelined bytes after a message instead of hiding them", () => {
  const bytes = encoder.encode("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n");
  const described = describeHttp(bytes);
  assert.equal(described.end, 28);
  assert.match(
    explainHttp(bytes),
    /\(after the message\)\s+17 bytes: the next \(pipelined\) message/,
  );
});

Deno.test("headerMeaning explains framing headers by their value", () => {
  assert.equal(headerMeaning("content-length", "13"), "the body is exactly 13 bytes");
  assert.match(headerMeaning("Transfer-Encoding", "gzip, chunked")!, /chunks.*first decoded: gzip/);
  assert.match(headerMeaning("Connection", "Keep-Alive")!, /HTTP\/1\.0's opt-in/);
  assert.match(headerMeaning("CONNECTION", "close")!, /close the connection/);
  assert.equal(headerMeaning("X-Unknown", "1"), undefined);
});

// ---------------------------------------------------------------------------------------------
// describeHttp: malformed input is described, never thrown

/** Messages the parser refuses, and what describeHttp must say about each. */
const MALFORMED: [kind: "request" | "response", message: string, says: RegExp][] = [
  ["request", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", /whitespace before the colon/],
  ["request", "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", /obs-fold/],
  ["request", "GET / HTTP/1.1\r\nHost: x\r\nnocolon\r\n\r\n", /without a colon/],
  ["request", "GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n", /control character 0x00/],
  ["request", "GET / HTTP/1.1\nHost: x\r\n\r\n", /bare LF/],
  ["request", "GET /\r\n\r\n", /Malformed request line/],
  ["request", "GET / HTTP/1.1\r\n\r\n", /without a Host header/],
  ["request", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", /version "2\.0" is not supported/],
  [
    "request",
    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
    /together with Content-Length/,
  ],
  [
    "request",
    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    /Duplicate Content-Length/,
  ],
  [
    "request",
    "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    /Invalid chunk size "zz"/,
  ],
  [
    "request",
    "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
    /not followed by CRLF/,
  ],
  ["response", "HTTP/1.1 20 OK\r\n\r\n", /Malformed status line/],
  ["response", "HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", /Invalid Content-Length "ten"/],
];

Deno.test("describeHttp describes malformed messages up to the fault and names it, as the parser does", () => {
  for (const [kind, message, says] of MALFORMED) {
    const bytes = encoder.encode(message);
    const described = describeHttp(bytes, { kind });
    assert.match(described.error ?? "", says, message);
    const malformed = described.fields.filter((f) => f.name === "(malformed)");
    assert.equal(malformed.length, 1, message);
    assert.equal(malformed[0].offset + malformed[0].length, bytes.length, message);
    assert.doesNotMatch(explainHttp(bytes, { kind }), /\(unexplained\)/, message);
    // The parser refuses the same bytes.
    const parser = kind === "request" ? new RequestParser() : new ResponseParser();
    parser.feed(bytes);
    parser.feedEof();
    assert.throws(
      () => {
        while (parser.next()?.kind !== "closed") { /* until it throws */ }
      },
      HttpError,
      message,
    );
  }
});

Deno.test("describeHttp never throws: every prefix, and every byte replaced by each of a few", () => {
  const messages = [CHUNKED_RESPONSE, POST_REQUEST];
  for (const message of messages) {
    const bytes = encoder.encode(message);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const prefix = bytes.subarray(0, cut);
      const described = describeHttp(prefix, {
        kind: message.startsWith("HTTP") ? "response" : "request",
      });
      for (const field of described.fields) {
        assert.ok(field.offset >= 0 && field.offset + field.length <= cut, `${cut}: ${field.name}`);
      }
      // A prefix is either the whole message or says it is incomplete; a capture stops quietly.
      if (cut < bytes.length) {
        assert.ok(described.error, `prefix ${cut} has no error`);
        const partial = describeHttp(prefix, { kind: described.kind, partial: true });
        assert.ok(partial.fields.every((f) => f.name !== "(malformed)"), `partial prefix ${cut}`);
      }
    }
    for (let at = 0; at < bytes.length; at++) {
      for (const replacement of [0x00, 0x0a, 0x20, 0x3a, 0xff]) {
        const mutated = bytes.slice();
        mutated[at] = replacement;
        const view = explainHttp(mutated);
        assert.ok(view.length > 0);
      }
    }
  }
});

// ---------------------------------------------------------------------------------------------
// -w timings

const TIMINGS: Timings = { dns: 2, connect: 3, sent: 3.25, firstByte: 7.25, total: 9.25 };

Deno.test("formatTimings prints curl's timing variables and a waterfall in proportion", () => {
  assert.equal(
    formatTimings(TIMINGS, { bodyBytes: 13 }),
    `    dns lookup:     2.0 ms   at     2.0 ms  (time_namelookup)
   tcp connect:     1.0 ms   at     3.0 ms  (time_connect)
  request sent:     0.3 ms   at     3.3 ms  (time_pretransfer)
    first byte:     4.0 ms   at     7.3 ms  (time_starttransfer)
  rest of body:     2.0 ms   at     9.3 ms  (time_total)
         total:     9.3 ms   13 body bytes
dns ████████▋ connect ████▍ send █▏ wait █████████████████▎ receive ████████▋
`,
  );
  // 40 cells split 2 : 1 : 0.25 : 4 : 2 (of 9.25).
  assert.equal(
    formatWaterfall({ dns: 0, connect: 0, sent: 0, firstByte: 0, total: 0 }),
    "dns ▏ connect ▏ send ▏ wait ▏ receive ▏",
  );
  assert.equal(
    formatWaterfall({ dns: 0, connect: 1, sent: 1, firstByte: 3, total: 4 }, 8),
    "dns ▏ connect ██ send ▏ wait ████ receive ██",
  );
  assert.match(
    formatTimings(TIMINGS, { redirectMs: 5 }),
    /^ {5}redirects: {5}5\.0 ms\n[^]*total: {4}14\.3 ms\n/,
  );
});

// ---------------------------------------------------------------------------------------------
// The client CLI's instruments against raw servers

/**
 * Serves `connections` connections on 127.0.0.1:0, each answered with the next reply after its
 * request head; returns the request bytes each connection sent.
 */
async function withRawServer(
  replies: string[],
  fn: (base: string) => Promise<void>,
): Promise<Uint8Array[]> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const requests: Uint8Array[] = [];
  const served = (async () => {
    for (const reply of replies) {
      const conn = await listener.accept();
      try {
        const buf = new Uint8Array(4096);
        let request = new Uint8Array(0);
        while (!decoder.decode(request).includes("\r\n\r\n")) {
          const n = await conn.read(buf);
          if (n === null) break;
          const grown = new Uint8Array(request.length + n);
          grown.set(request);
          grown.set(buf.subarray(0, n), request.length);
          request = grown;
        }
        requests.push(request);
        await conn.write(encoder.encode(reply));
      } finally {
        conn.close();
      }
    }
  })();
  try {
    await fn(`http://127.0.0.1:${listener.addr.port}`);
  } finally {
    await served;
    listener.close();
  }
  return requests;
}

Deno.test("http:get --offline prints the exact request bytes without DNS or a connection", async () => {
  // A name no resolver knows and a DNS server that does not exist: offline needs neither.
  const result = await runScript("http/client.ts", [
    "--offline",
    "--dns",
    "127.0.0.1:9",
    "-d",
    "a=1",
    "-H",
    "X-Trace: yes",
    "http://www.netlab.test:8080/form?x=%20",
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, "");
  const expected = "POST /form?x=%20 HTTP/1.1\r\nHost: www.netlab.test:8080\r\n" +
    "User-Agent: netlab-http/1.0\r\nAccept: */*\r\n" +
    "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n" +
    "Connection: close\r\nX-Trace: yes\r\n\r\na=1";
  assert.equal(result.stdout, expected);
  assert.deepEqual(
    buildRequestBytes("http://www.netlab.test:8080/form?x=%20", {
      body: "a=1",
      headers: [["X-Trace", "yes"]],
    }),
    encoder.encode(expected),
  );
  // The bytes sent online are the same bytes.
  let offline = "";
  const [sent] = await withRawServer(["HTTP/1.1 204 No Content\r\n\r\n"], async (base) => {
    const online = await runScript("http/client.ts", ["-d", "a=1", `${base}/form?x=%20`]);
    assert.equal(online.code, 0, online.stderr);
    offline = (await runScript("http/client.ts", ["--offline", "-d", "a=1", `${base}/form?x=%20`]))
      .stdout;
  });
  assert.match(offline, /^POST \/form\?x=%20 HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\n/);
  assert.equal(decoder.decode(sent), offline);
  const https = await runScript("http/client.ts", ["--offline", "https://example.com/"]);
  assert.equal(https.code, EXIT.UNSUPPORTED_PROTOCOL);
});

Deno.test("http:get --explain annotates the request sent and the chunked response, stdout keeps the body", async () => {
  await withRawServer([CHUNKED_RESPONSE], async (base) => {
    const result = await runScript("http/client.ts", ["--explain", `${base}/wiki`]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "Wikipedia ");
    const port = new URL(base).port;
    assert.match(
      result.stderr,
      new RegExp(
        `^HTTP request, \\d+ bytes, sent to 127\\.0\\.0\\.1:${port}\\n  0000 {27}request line {9}GET /wiki HTTP/1\\.1\\n`,
      ),
    );
    assert.match(result.stderr, /Connection {11}"close": close the connection after this message/);
    // The response view is the golden one, under a title naming the server.
    const at = result.stderr.indexOf("HTTP response, 118 bytes, from 127.0.0.1:");
    assert.ok(at > 0, result.stderr);
    const view = result.stderr.slice(result.stderr.indexOf("\n", at) + 1).trimEnd();
    assert.equal(view, CHUNKED_VIEW.slice(CHUNKED_VIEW.indexOf("\n") + 1));
  });
});

Deno.test("http:get -w prints the timing breakdown and waterfall after the body", async () => {
  await withRawServer(["HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello\n"], async (base) => {
    const result = await runScript("http/client.ts", ["-w", `${base}/`]);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split("\n");
    assert.equal(lines[0], "hello");
    const shapes = [
      /^ {4}dns lookup: +\d+\.\d ms {3}at +\d+\.\d ms {2}\(time_namelookup\)$/,
      /^ {3}tcp connect: +\d+\.\d ms {3}at +\d+\.\d ms {2}\(time_connect\)$/,
      /^ {2}request sent: +\d+\.\d ms {3}at +\d+\.\d ms {2}\(time_pretransfer\)$/,
      /^ {4}first byte: +\d+\.\d ms {3}at +\d+\.\d ms {2}\(time_starttransfer\)$/,
      /^ {2}rest of body: +\d+\.\d ms {3}at +\d+\.\d ms {2}\(time_total\)$/,
      /^ {9}total: +\d+\.\d ms {3}6 body bytes$/,
      /^dns [█▉▊▋▌▍▎▏]+ connect [█▉▊▋▌▍▎▏]+ send [█▉▊▋▌▍▎▏]+ wait [█▉▊▋▌▍▎▏]+ receive [█▉▊▋▌▍▎▏]+$/,
      /^$/,
    ];
    assert.equal(lines.length, 1 + shapes.length, result.stdout);
    shapes.forEach((shape, i) => assert.match(lines[i + 1], shape));
    // The cumulative times never go backwards.
    const at = lines.slice(1, 6).map((l) => Number(/at +([\d.]+) ms/.exec(l)![1]));
    assert.deepEqual(at, [...at].sort((a, b) => a - b));
  });
});

Deno.test("http:get --json streams schema events: connected, request, response, received, saved, stats", async () => {
  const dir = await Deno.makeTempDir({ prefix: "netlab-instruments-http-" });
  try {
    await withRawServer([
      "HTTP/1.1 302 Found\r\nLocation: /final\r\nContent-Length: 0\r\n\r\n",
      CHUNKED_RESPONSE,
      CHUNKED_RESPONSE,
    ], async (base) => {
      const result = await runScript("http/client.ts", [
        "--json",
        "-L",
        "-w",
        "--explain",
        `${base}/start`,
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr, "");
      const events = assertNdjson(result.stdout, "http/client");
      for (const e of events) assert.ok(EVENT_NAMES.includes(e.event), e.event);
      const names = events.map((e) => e.event).filter((n) => n !== "log");
      // The order: per exchange connected → request → response → received; stats last.
      const order = names.filter((n) => n !== "explain");
      assert.deepEqual(order, [
        "connected",
        "request",
        "response",
        "received",
        "connected",
        "request",
        "response",
        "received",
        "stats",
      ]);
      assert.equal(names.filter((n) => n === "explain").length, 4);
      const request = events.find((e) => e.event === "request")!;
      assert.equal(request.method, "GET");
      assert.equal(request.target, "/start");
      assert.match(
        String(events.find((e) => e.event === "connected")!.remote),
        /^127\.0\.0\.1:\d+$/,
      );
      const received = events.filter((e) => e.event === "received");
      assert.equal(received[1].body, "Wikipedia ");
      assert.equal(received[1].framing, "chunked");
      const timings = received[1].timings as Record<string, number>;
      assert.ok(timings.dns <= timings.connect && timings.connect <= timings.total);
      const stats = events.at(-1)!;
      assert.equal(stats.event, "stats");
      assert.match(String(stats.text), /time_total/);

      const file = `${dir}/wiki.txt`;
      const saved = await runScript("http/client.ts", ["--json", "-o", file, `${base}/final`]);
      assert.equal(saved.code, 0, saved.stderr);
      const savedEvents = assertNdjson(saved.stdout, "http/client");
      const last = savedEvents.at(-1)!;
      assert.deepEqual([last.event, last.path, last.bytes], ["saved", file, 10]);
      assert.equal(savedEvents.find((e) => e.event === "received")!.body, undefined);
      assert.equal(await Deno.readTextFile(file), "Wikipedia ");
    });
    // A failure is an `error` event on stdout (nothing on stderr) with curl's exit code.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port;
    listener.close();
    const refused = await runScript("http/client.ts", ["--json", `http://127.0.0.1:${port}/`]);
    assert.equal(refused.code, EXIT.COULDNT_CONNECT);
    assert.equal(refused.stderr, "");
    const error = assertNdjson(refused.stdout, "http/client").at(-1)!;
    assert.equal(error.event, "error");
    assert.equal(error.exitCode, EXIT.COULDNT_CONNECT);
    assert.match(String(error.text), /connection refused/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// http/server.ts: --spa, --cors, --explain-header, --explain, --json

/** A site with an index page and one stylesheet, in a fresh temporary directory. */
async function makeSite(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "netlab-instruments-site-" });
  await Deno.writeTextFile(`${dir}/index.html`, "<!doctype html><title>app</title>\n");
  await Deno.writeTextFile(`${dir}/app.css`, "body{}\n");
  return dir;
}

const HTML = ["Accept", "text/html,application/xhtml+xml,*/*;q=0.8"] as [string, string];

Deno.test("http:server --spa serves /index.html for unknown extension-less HTML routes only", async () => {
  const site = await makeSite();
  try {
    {
      await using server = await startScript("http/server.ts", [
        "--port",
        "0",
        "--root",
        site,
        "--spa",
      ]);
      const base = `http://${server.host}:${server.port}`;
      const route = await httpRequest(`${base}/app/settings`, { headers: [HTML] });
      assert.equal(route.status, 200);
      assert.equal(decoder.decode(route.body), "<!doctype html><title>app</title>\n");
      assert.equal(getHeader(route, "content-type"), "text/html; charset=utf-8");
      // A missing asset stays a 404 (an HTML page would break the script or style that wanted it),
      // and so does a client that does not ask for HTML.
      assert.equal((await httpRequest(`${base}/app/main.js`, { headers: [HTML] })).status, 404);
      assert.equal((await httpRequest(`${base}/app/settings`)).status, 404);
      assert.equal((await httpRequest(`${base}/app.css`)).status, 200);
    }
    // Off by default.
    await using plain = await startScript("http/server.ts", ["--port", "0", "--root", site]);
    const missing = await httpRequest(`http://${plain.host}:${plain.port}/app/settings`, {
      headers: [HTML],
    });
    assert.equal(missing.status, 404);
  } finally {
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test("http:server --cors allows any origin and answers preflights; off by default", async () => {
  const site = await makeSite();
  try {
    const preflight: [string, string][] = [
      ["Origin", "http://app.test"],
      ["Access-Control-Request-Method", "POST"],
      ["Access-Control-Request-Headers", "content-type, x-token"],
    ];
    {
      await using server = await startScript("http/server.ts", [
        "--port",
        "0",
        "--root",
        site,
        "--cors",
      ]);
      const base = `http://${server.host}:${server.port}`;
      const page = await httpRequest(`${base}/app.css`, {
        headers: [["Origin", "http://app.test"]],
      });
      assert.equal(getHeader(page, "access-control-allow-origin"), "*");
      const answer = await httpRequest(`${base}/echo`, { method: "OPTIONS", headers: preflight });
      assert.equal(answer.status, 204);
      assert.equal(getHeader(answer, "access-control-allow-origin"), "*");
      assert.equal(getHeader(answer, "access-control-allow-methods"), "POST, OPTIONS");
      assert.equal(getHeader(answer, "access-control-allow-headers"), "content-type, x-token");
      assert.equal(getHeader(answer, "access-control-max-age"), "600");
      // A plain OPTIONS (no preflight headers) is still the Allow answer.
      const options = await httpRequest(`${base}/echo`, { method: "OPTIONS" });
      assert.equal(getHeader(options, "allow"), "POST, OPTIONS");
      assert.equal(getHeader(options, "access-control-allow-methods"), undefined);
    }
    await using plain = await startScript("http/server.ts", ["--port", "0", "--root", site]);
    const base = `http://${plain.host}:${plain.port}`;
    assert.equal(
      getHeader(await httpRequest(`${base}/app.css`), "access-control-allow-origin"),
      undefined,
    );
    const options = await httpRequest(`${base}/echo`, { method: "OPTIONS", headers: preflight });
    assert.equal(getHeader(options, "access-control-allow-methods"), undefined);
  } finally {
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test("http:server --explain-header says which rule produced each status and which file", async () => {
  const site = await makeSite();
  try {
    await using server = await startScript("http/server.ts", [
      "--port",
      "0",
      "--root",
      site,
      "--auth",
      "alice:secret",
      "--explain-header",
    ]);
    const base = `http://${server.host}:${server.port}`;
    const why = async (path: string, headers: [string, string][] = [], method = "GET") => {
      const response = await httpRequest(`${base}${path}`, { headers, method });
      return `${response.status} | ${getHeader(response, "x-netlab-explain")}`;
    };
    const css = await httpRequest(`${base}/app.css`);
    const etag = getHeader(css, "etag")!;
    assert.equal(getHeader(css, "x-netlab-explain"), "static file /app.css");
    assert.equal(await why("/"), "200 | static file /index.html for /");
    assert.equal(
      await why("/app.css", [["If-None-Match", etag]]),
      `304 | 304: If-None-Match matched ETag ${etag}, file /app.css`,
    );
    assert.equal(
      await why("/app.css", [["Range", "bytes=5000-"]]),
      "416 | 416: range 5000- beyond size 7, file /app.css",
    );
    assert.equal(
      await why("/app.css", [["Range", "bytes=0-2"]]),
      "206 | 206: Range bytes=0-2 of 7 bytes, file /app.css",
    );
    assert.equal(await why("/private/x"), "401 | 401: /private/ needs Basic auth");
    assert.equal(await why("/nope"), "404 | 404: no file for /nope under the root");
    assert.equal(await why("/old"), "301 | 301: /old moved to /");
    assert.equal(await why("/", [], "DELETE"), "405 | 405: DELETE is not allowed on /");
    // Without the flag the header is absent.
    await using plain = await startScript("http/server.ts", ["--port", "0", "--root", site]);
    const plainCss = await httpRequest(`http://${plain.host}:${plain.port}/app.css`);
    assert.equal(getHeader(plainCss, "x-netlab-explain"), undefined);
  } finally {
    await Deno.remove(site, { recursive: true });
  }
});

Deno.test("http:server --explain annotates each request as received and each response head", async () => {
  await using server = await startScript("http/server.ts", ["--port", "0", "--explain"]);
  const base = `http://${server.host}:${server.port}`;
  const echo = await httpRequest(`${base}/echo`, { body: "hello" });
  assert.equal(decoder.decode(echo.body), "hello");
  await server.waitForLine(/"POST \/echo HTTP\/1\.1" 200 5$/);
  const { stdout } = await server.stop();
  assert.match(stdout, /^HTTP request, from 127\.0\.0\.1:\d+$/m);
  assert.match(stdout, /^ {2}0000 {27}request line {9}POST \/echo HTTP\/1\.1$/m);
  assert.match(stdout, /Content-Length {7}"5": the body is exactly 5 bytes$/m);
  assert.match(stdout, /body {17}5 bytes \(Content-Length\): "hello"$/m);
  assert.match(stdout, /^HTTP response, \d+ bytes, to 127\.0\.0\.1:\d+$/m);
  assert.match(stdout, /status line {10}HTTP\/1\.1 200 OK$/m);
  assert.doesNotMatch(stdout, /\(unexplained\)|\(malformed\)/);
});

Deno.test("http:server --json logs the listening address, then request and response events", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "http/server.ts", "--port", "0", "--json"],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await lines.read();
    if (done) break;
    text += value;
  }
  try {
    const listening = JSON.parse(text.slice(0, text.indexOf("\n")));
    assert.equal(listening.event, "listening");
    const base = `http://${listening.address}`;
    assert.equal((await httpRequest(`${base}/linhaifeng/articles/6817679.html`)).status, 200);
    assert.equal((await httpRequest(`${base}/nope`)).status, 404);
  } finally {
    child.kill("SIGTERM");
    while (true) {
      const { value, done } = await lines.read();
      if (done) break;
      text += value;
    }
    await child.stderr.cancel();
    await child.status;
  }
  const events = assertNdjson(text, "http/server");
  for (const e of events) assert.ok(EVENT_NAMES.includes(e.event), e.event);
  // Stopped by SIGTERM: the last event says so.
  assert.deepEqual(events.map((e) => e.event), [
    "listening",
    "request",
    "response",
    "request",
    "response",
    "log",
  ]);
  assert.equal(events.at(-1)!.text, "stopped");
  const [, request, response, , notFound] = events;
  assert.deepEqual([request.method, request.target], ["GET", "/linhaifeng/articles/6817679.html"]);
  assert.deepEqual([response.status, notFound.status], [200, 404]);
  assert.match(
    String(response.text),
    /"GET \/linhaifeng\/articles\/6817679\.html HTTP\/1\.1" 200 \d+$/,
  );
});

Deno.test("http:get --json -o reports progress every MiB and the saved file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "netlab-instruments-progress-" });
  try {
    const size = 2 * 1024 * 1024 + 512 * 1024;
    const reply = `HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\n\r\n${"x".repeat(size)}`;
    await withRawServer([reply], async (base) => {
      const file = `${dir}/big.bin`;
      const result = await runScript("http/client.ts", ["--json", "-o", file, `${base}/big`]);
      assert.equal(result.code, 0, result.stderr);
      const events = assertNdjson(result.stdout, "http/client");
      const progress = events.filter((e) => e.event === "progress");
      assert.equal(progress.length, 2, JSON.stringify(progress));
      for (const e of progress) assert.equal(e.total, size);
      assert.ok((progress[1].bytes as number) >= 2 * 1024 * 1024);
      assert.deepEqual([events.at(-1)!.event, events.at(-1)!.bytes], ["saved", size]);
      assert.equal((await Deno.stat(file)).size, size);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
