/**
 * Vectors for the HTTP parser and serializer (http/core/). Every input is fed whole, one byte at a time and split at every
 * point (sampled for the large ones), from a read buffer that is scribbled over after each
 * drain; all ways must give the same events, the same error and the same untouched trailing bytes.
 */
import assert from "node:assert/strict";
import { HttpError } from "../../http/core/events.ts";
import { getHeader } from "../../http/core/headers.ts";
import { MAX_HEADER_SECTION_BYTES, MAX_START_LINE_BYTES } from "../../http/core/parser.ts";
import { RequestParser } from "../../http/core/request_parser.ts";
import { ResponseParser } from "../../http/core/response_parser.ts";
import {
  encodeChunk,
  encodeLastChunk,
  formatRequestHead,
  formatResponseHead,
  serializeRequest,
  serializeResponse,
} from "../../http/core/serialize.ts";
import { reasonPhrase, statusClass } from "../../http/core/status.ts";
import { encodeLatin1, latin1 } from "../../http/core/syntax.ts";
import { parseAll, requests, responses } from "../_http_parse.ts";

const encoder = new TextEncoder();

Deno.test("RequestParser reads a GET with case-insensitive, repeated headers", () => {
  const out = parseAll(
    requests(),
    "GET /index.html?q=1 HTTP/1.1\r\nHost: example\r\nAccept:text/html\r\nX-A: 1 \r\nx-a:\t2\r\n\r\n",
  );
  assert.equal(out.error, undefined);
  assert.deepStrictEqual(out.events, [
    {
      kind: "request",
      method: "GET",
      target: "/index.html?q=1",
      version: "1.1",
      headers: [["host", "example"], ["accept", "text/html"], ["x-a", "1"], ["x-a", "2"]],
      keepAlive: true,
      bodyKind: "none",
      contentLength: -1,
      expectContinue: false,
    },
    { kind: "end", trailers: [] },
  ]);
  assert.equal(getHeader(out.events[0].headers as [string, string][], "x-a"), "1, 2");
});

Deno.test("RequestParser reads pipelined requests and leaves trailing bytes untouched", () => {
  const input = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n" +
    "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello" +
    "\r\n" + // a stray CRLF between requests is ignored (RFC 9112 §2.2)
    "PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
    "3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-Sum: 9\r\n\r\n" +
    "GET /last HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n" +
    "GET /never HTTP/1.1\r\nHo";
  const out = parseAll(requests(), input);
  assert.equal(out.error, undefined);
  const summary = out.events.map((e) =>
    e.kind === "request"
      ? `${e.method} ${e.target} ${e.bodyKind} keepAlive=${e.keepAlive}`
      : e.kind === "data"
      ? `data ${e.data}`
      : `${e.kind} ${JSON.stringify(e.trailers ?? null)}`
  );
  assert.deepStrictEqual(summary, [
    "GET /a none keepAlive=true",
    "end []",
    "POST /echo length keepAlive=true",
    "data hello",
    "end []",
    "PUT /c chunked keepAlive=true",
    "data abc0123456789abcdef",
    'end [["x-sum","9"]]',
    "GET /last none keepAlive=false",
    "end []",
  ]);
  assert.equal(out.remaining, "GET /never HTTP/1.1\r\nHo");
});

Deno.test("RequestParser reuses a repeated target or value, never a stale one", () => {
  // Same lengths, different bytes (including latin1 above 0x7f): each must be decoded anew.
  const head = (target: string, agent: string) =>
    `GET ${target} HTTP/1.1\r\nHost: h\r\nUser-Agent: ${agent}\r\n\r\n`;
  const input = head("/a", "x\xe9y") + head("/a", "x\xe9y") + head("/b", "x\xeay") +
    head("/b", "xey") + head("/bb", "x\xeay");
  const out = parseAll(requests(), encodeLatin1(input));
  assert.equal(out.error, undefined);
  const seen = out.events.filter((e) => e.kind === "request").map((e) =>
    `${e.target} ${getHeader(e.headers as [string, string][], "user-agent")}`
  );
  assert.deepStrictEqual(seen, ["/a x\xe9y", "/a x\xe9y", "/b x\xeay", "/b xey", "/bb x\xeay"]);
});

Deno.test("RequestParser applies the HTTP/1.0 and 1.1 persistence rules", () => {
  const cases: [string, boolean][] = [
    ["GET / HTTP/1.0\r\n\r\n", false],
    ["GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true],
    ["GET / HTTP/1.1\r\nHost: h\r\n\r\n", true],
    ["GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, close\r\n\r\n", false],
  ];
  for (const [input, keepAlive] of cases) {
    const out = parseAll(requests(), input + "XYZ");
    assert.equal(out.events[0].keepAlive, keepAlive, input);
    assert.equal(out.remaining, "XYZ", input);
  }
});

Deno.test("RequestParser reports a clean close between messages and Expect: 100-continue", () => {
  const out = parseAll(
    requests(),
    "POST /u HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
    true,
  );
  assert.equal(out.events[0].expectContinue, true);
  assert.deepStrictEqual(out.events.slice(1), [
    { kind: "data", data: "ok" },
    { kind: "end", trailers: [] },
    { kind: "closed" },
  ]);
});

/** [name, input, status, message pattern, options] — each must fail the same way every split. */
const BAD_REQUESTS: [string, string, number, RegExp, { maxBodyBytes?: number }?][] = [
  ["HTTP/0.9 request line", "GET /\r\n\r\n", 400, /Malformed request line/],
  ["double space", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400, /Malformed request line/],
  ["seed 003 typo /HTTP/1.1", "GET /index.html /HTTP/1.1\r\nHost: h\r\n\r\n", 400, /Malformed/],
  ["space in target", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400, /Malformed request line/],
  ["control char in method", "G\x01T / HTTP/1.1\r\nHost: h\r\n\r\n", 400, /Malformed/],
  ["short version", "GET / HTTP/1\r\nHost: h\r\n\r\n", 400, /Malformed request line/],
  ["bare LF", "GET / HTTP/1.1\nHost: h\n\n", 400, /bare LF/],
  ["header without colon", "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400, /without a colon/],
  ["space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400, /whitespace before the colon/],
  ["empty name", "GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", 400, /empty name/],
  ["obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n  b\r\n\r\n", 400, /obs-fold/],
  ["NUL in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", 400, /control character 0x00/],
  ["CR in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400, /control character 0x0d/],
  ["no Host in 1.1", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400, /without a Host/],
  ["two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, /More than one Host/],
  [
    "CL + TE (smuggling)",
    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    400,
    /Transfer-Encoding together with Content-Length/,
  ],
  [
    "duplicate Content-Length",
    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    400,
    /Duplicate Content-Length/,
  ],
  ["CL list", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 2\r\n\r\nab", 400, /Duplicate/],
  ["CL sign", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n", 400, /Invalid Content/],
  ["CL hex", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\n", 400, /Invalid Content/],
  ["TE not chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 400, /does/],
  [
    "TE in HTTP/1.0",
    "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    400,
    /HTTP\/1.0/,
  ],
  [
    "TE gzip, chunked",
    "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    501,
    /not implemented/,
  ],
  ...[
    ["zz", /Invalid chunk size/],
    ["0x5", /Invalid chunk size/],
    ["-1", /Invalid chunk size/],
    [
      "1000000000000",
      /1 to 12 hex digits/,
    ],
    ["5 x", /unexpected character/],
    ["", /Invalid chunk size/],
  ].map((
    [size, pattern],
  ): [string, string, number, RegExp] => [
    `chunk size "${size}"`,
    `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n${size}\r\nhello\r\n0\r\n\r\n`,
    400,
    pattern as RegExp,
  ]),
  [
    "chunk without CRLF",
    "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
    400,
    /not followed by CRLF/,
  ],
  [
    "chunk extension with a control character",
    "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;a=\x01\r\nabc\r\n0\r\n\r\n",
    400,
    /chunk extension/,
  ],
  [
    "chunk-size line too long",
    `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;${"e".repeat(2000)}`,
    400,
    /Chunk-size line longer/,
  ],
  ["unknown method", "BREW /pot HTTP/1.1\r\nHost: h\r\n\r\n", 501, /Method "BREW"/],
  ["lower-case method", "get / HTTP/1.1\r\nHost: h\r\n\r\n", 501, /Method "get"/],
  ["HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505, /version "2.0"/],
  ["HTTP/1.2", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505, /version "1.2"/],
  ["HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, /version "2.0"/],
  [
    "Content-Length over the limit",
    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n",
    413,
    /Body larger than the limit of 10/,
    { maxBodyBytes: 10 },
  ],
  [
    "chunked body over the limit",
    "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nghijkl\r\n",
    413,
    /Body larger than the limit of 10/,
    { maxBodyBytes: 10 },
  ],
];

Deno.test("RequestParser rejects every malformed request the same way however it is split", () => {
  for (const [name, input, status, pattern, options] of BAD_REQUESTS) {
    const out = parseAll(requests(options), input);
    assert.ok(out.error, `${name}: expected an error, got ${JSON.stringify(out.events)}`);
    assert.equal(out.error.status, status, `${name}: ${out.error.message}`);
    assert.match(out.error.message, pattern, name);
    assert.equal(out.error.peerFault, status === 400, name);
  }
});

Deno.test("RequestParser stays failed after an error and refuses further events", () => {
  const parser = new RequestParser();
  parser.feed(
    encoder.encode("GET / HTTP/1.1\r\nHost : h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"),
  );
  assert.throws(() => parser.next(), HttpError);
  assert.throws(() => parser.next(), /whitespace before the colon/);
});

Deno.test("RequestParser enforces the start-line limit (414), complete or not", () => {
  const long = `GET /${"a".repeat(MAX_START_LINE_BYTES)} HTTP/1.1\r\nHost: h\r\n\r\n`;
  for (const input of [long, long.slice(0, MAX_START_LINE_BYTES + 10)]) {
    const out = parseAll(requests(), input);
    assert.equal(out.error?.status, 414);
    assert.match(out.error.message, /Request line longer than 8192 bytes/);
  }
  // Exactly at the limit is fine.
  const fits = `GET /${"a".repeat(MAX_START_LINE_BYTES - 14)} HTTP/1.1\r\nHost: h\r\n\r\n`;
  assert.equal(parseAll(requests(), fits).error, undefined);
});

Deno.test("RequestParser enforces the header-section limits (431)", () => {
  const field = `X-Pad: ${"p".repeat(1000)}\r\n`;
  const many = "GET / HTTP/1.1\r\nHost: h\r\n" + field.repeat(70) + "\r\n";
  assert.ok(many.length > MAX_HEADER_SECTION_BYTES);
  for (const input of [many, many.slice(0, MAX_HEADER_SECTION_BYTES + 100)]) {
    const out = parseAll(requests(), input);
    assert.equal(out.error?.status, 431);
    assert.match(out.error.message, /Header section larger than 65536 bytes/);
  }
  const tooMany = "GET / HTTP/1.1\r\nHost: h\r\n" + "A: b\r\n".repeat(300) + "\r\n";
  assert.equal(parseAll(requests(), tooMany).error?.status, 431);
  // A big but allowed section is accepted.
  const fits = "GET / HTTP/1.1\r\nHost: h\r\n" + field.repeat(60) + "\r\n";
  assert.equal(parseAll(requests(), fits).error, undefined);
});

Deno.test("RequestParser: a connection closed mid-message is an error, between messages not", () => {
  const cases: [string, RegExp | null][] = [
    ["GET / HTTP/1.1\r\nHost: h\r\n", /middle of a message head/],
    ["POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nab", /body was complete/],
    ["POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", /body was/],
    ["GET / HTTP/1.1\r\nHost: h\r\n\r\n", null],
  ];
  for (const [input, pattern] of cases) {
    const out = parseAll(requests(), input, true);
    if (pattern === null) {
      assert.equal(out.error, undefined);
      assert.deepStrictEqual(out.events.at(-1), { kind: "closed" });
    } else {
      assert.equal(out.error?.status, 400, input);
      assert.match(out.error.message, pattern);
    }
  }
});

Deno.test("ResponseParser reads Content-Length, chunked with trailers, HEAD, 204, 304 and 1xx", () => {
  const input = "HTTP/1.1 100 Continue\r\n\r\n" +
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" +
    "HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n" + // answers HEAD: no body
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\nX-T: 1\r\n\r\n" +
    "HTTP/1.1 204 No Content\r\n\r\n" +
    "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n" +
    "HTTP/1.1 200\r\nContent-Length: 0\r\nConnection: close\r\n\r\nHTTP/1.1 junk";
  const out = parseAll(responses("GET", "HEAD", "GET", "GET", "GET", "GET"), input);
  assert.equal(out.error, undefined);
  const summary = out.events.map((e) =>
    e.kind === "response"
      ? `${e.status} ${e.reason} ${e.bodyKind} ${e.contentLength} keepAlive=${e.keepAlive}`
      : e.kind === "data"
      ? `data ${e.data}`
      : `${e.kind} ${JSON.stringify(e.trailers ?? null)}`
  );
  assert.deepStrictEqual(summary, [
    "200 OK length 5 keepAlive=true",
    "data hello",
    "end []",
    "200 OK none 999 keepAlive=true",
    "end []",
    "200 OK chunked -1 keepAlive=true",
    "data ab",
    'end [["x-t","1"]]',
    "204 No Content none -1 keepAlive=true",
    "end []",
    "304 Not Modified none 10 keepAlive=true",
    "end []",
    "200  none 0 keepAlive=false",
    "end []",
  ]);
  assert.equal(out.remaining, "HTTP/1.1 junk");
});

Deno.test("ResponseParser reads a close-delimited body until EOF", () => {
  const out = parseAll(responses(), "HTTP/1.0 200 OK\r\nServer: old\r\n\r\nall of this\r\n", true);
  assert.deepStrictEqual(out.events.slice(1), [
    { kind: "data", data: "all of this\r\n" },
    { kind: "end", trailers: [] },
    { kind: "closed" },
  ]);
  assert.equal(out.events[0].bodyKind, "close");
  assert.equal(out.events[0].keepAlive, false);
});

Deno.test("ResponseParser can report 1xx responses", () => {
  const parser = new ResponseParser({ emitInformational: true });
  parser.feed(
    encoder.encode("HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 204 \r\n\r\n"),
  );
  assert.deepStrictEqual(parser.next(), {
    kind: "informational",
    status: 103,
    reason: "Early Hints",
    headers: [["link", "</s.css>"]],
  });
  assert.equal((parser.next() as { status: number }).status, 204);
});

Deno.test("ResponseParser rejects broken responses with 502", () => {
  const cases: [string, RegExp][] = [
    ["HTTP/1.1 20 OK\r\n\r\n", /Malformed status line/], // seed 003's typo
    ["HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", /together/],
    ["HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", /Duplicate/],
    ["HTTP/2 200 OK\r\n\r\n", /Malformed status line/],
    ["HTTP/1.1 200 OK\r\nX: a\0\r\n\r\n", /control character/],
  ];
  for (const [input, pattern] of cases) {
    const out = parseAll(responses(), input);
    assert.equal(out.error?.status, 502, input);
    assert.match(out.error.message, pattern);
  }
});

Deno.test("serializeRequest and serializeResponse round-trip through the parsers", () => {
  const request = serializeRequest({
    method: "POST",
    target: "/echo",
    headers: [["Host", "127.0.0.1:8000"], ["X-Name", "caf\u00e9"]],
    body: "你好",
  });
  const req = parseAll(requests(), request);
  assert.equal(req.events[0].method, "POST");
  assert.deepStrictEqual(req.events[0].headers, [
    ["host", "127.0.0.1:8000"],
    ["x-name", "caf\u00e9"],
    ["content-length", "6"],
  ]);
  assert.equal(
    new TextDecoder().decode(Uint8Array.from(req.events[1].data as string, (c) => c.charCodeAt(0))),
    "你好",
  );

  const response = serializeResponse({ status: 404, headers: { "Content-Type": "text/plain" } });
  assert.equal(latin1(response), "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n\r\n");
  const chunked = new Uint8Array([
    ...serializeResponse({ status: 200, headers: [["Transfer-Encoding", "chunked"]] }),
    ...encodeChunk(encoder.encode("hello, ")),
    ...encodeChunk(new Uint8Array(0)),
    ...encodeChunk(encoder.encode("world")),
    ...encodeLastChunk([["X-Done", "yes"]]),
  ]);
  const res = parseAll(responses(), chunked);
  assert.deepStrictEqual(res.events.slice(1), [
    { kind: "data", data: "hello, world" },
    { kind: "end", trailers: [["x-done", "yes"]] },
  ]);
});

Deno.test("the serializer writes correct start lines and refuses header injection", () => {
  assert.equal(formatRequestHead("GET", "/index.html", []), "GET /index.html HTTP/1.1\r\n\r\n");
  assert.equal(formatResponseHead(200), "HTTP/1.1 200 OK\r\n\r\n");
  assert.throws(() => formatResponseHead(20), /Invalid status code "20"/);
  assert.throws(() => formatRequestHead("GET", "/a b"), /Invalid request target/);
  assert.throws(() => formatRequestHead("G T", "/"), /Invalid method/);
  assert.throws(
    () => formatResponseHead(200, [["X", "a\r\nSet-Cookie: evil"]]),
    /control characters are not allowed/,
  );
  assert.throws(() => formatResponseHead(200, [["Bad Name", "v"]]), /Invalid header name/);
  assert.throws(() => formatResponseHead(200, [["X", "\u4f60"]]).length, TypeError);
  assert.throws(() => serializeResponse({ status: 200, headers: [["X", "\u4f60"]] }), TypeError);
});

Deno.test("reasonPhrase and statusClass explain the seed's status codes", () => {
  assert.equal(reasonPhrase(200), "OK");
  assert.equal(reasonPhrase(404), "Not Found");
  assert.equal(reasonPhrase(401), "Unauthorized");
  assert.equal(reasonPhrase(500), "Internal Server Error");
  assert.equal(reasonPhrase(503), "Service Unavailable");
  assert.equal(reasonPhrase(599), "");
  assert.match(statusClass(101), /^Informational/);
  assert.match(statusClass(204), /^Successful/);
  assert.match(statusClass(301), /^Redirection/);
  assert.match(statusClass(404), /^Client error/);
  assert.match(statusClass(503), /^Server error/);
  assert.throws(() => statusClass(600), RangeError);
  assert.throws(() => statusClass(99), /Invalid status code "99"/);
});
