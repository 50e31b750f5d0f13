/**
 * HTTP/1.1 conformance (RFC 9110 / RFC 9112), table by table: wire bytes in, exact status out.
 * Every parser case is fed whole, one byte at a time and cut in two at every point (sampled for
 * the large ones); all ways must agree. The server cases go to the real server over loopback, in
 * both I/O modes. Covers Host, chunk extensions, fragments, Content-Length and
 * Content-Type, long methods, Expect, Upgrade, the order of limits and line-ending rules, the
 * serializer's whitespace, file-system errors of a lookup, If-Modified-Since in the future, and
 * header values that once made a regex backtrack.
 */
import assert from "node:assert/strict";
import {
  MAX_FIELD_LINE_BYTES,
  MAX_HEADER_SECTION_BYTES,
  MAX_START_LINE_BYTES,
} from "../../http/core/parser.ts";
import { formatFields, formatRequestHead } from "../../http/core/serialize.ts";
import { encodeLatin1 } from "../../http/core/syntax.ts";
import { lookupFailure } from "../../http/server/static_files.ts";
import { createReporter } from "../../tcp/kit/report.ts";
import {
  exchange,
  header,
  IO_MODES,
  makeTree,
  readReplies,
  startInProcess,
} from "../_http_server.ts";
import { writeAll } from "../../tcp/core/io.ts";
import { parseAll, requests, responses } from "../_http_parse.ts";
import { runScript, startScript } from "../_helpers.ts";

/** A request status: the HttpError's, or "ok" when the request parses. */
type Verdict = number | "ok";

/** Runs `input` every way (they must agree) and returns the status, or "ok". */
function verdict(input: string): { status: Verdict; message: string } {
  const out = parseAll(requests(), encodeLatin1(input));
  return out.error
    ? { status: out.error.status, message: out.error.message }
    : { status: "ok", message: JSON.stringify(out.events[0]) };
}

function check(table: [string, string, Verdict, RegExp?][]): void {
  for (const [name, input, status, pattern] of table) {
    const got = verdict(input);
    assert.equal(got.status, status, `${name}: ${got.message}`);
    if (pattern) assert.match(got.message, pattern, name);
  }
}

const get = (fields: string) => `GET / HTTP/1.1\r\n${fields}\r\n`;
const withHost = (host: string) => get(`Host: ${host}\r\n`);

Deno.test('Host must be uri-host [":" port]: empty, a path, userinfo or a list is 400', () => {
  check([
    ["empty", withHost(""), 400, /Invalid Host "": empty/],
    ["a path", withHost("h:8080/path"), 400, /no path/],
    ["a path without a port", withHost("h/path"), 400, /no path/],
    ["userinfo", withHost("user@h:8080"), 400, /userinfo/],
    ["userinfo with a password", withHost("user:pw@h"), 400, /userinfo/],
    ["a comma list", withHost("h:8080, other.example.com"), 400, /not a list/],
    ["a comma list without spaces", withHost("a,b"), 400, /not a list/],
    ["two names", withHost("h h"), 400, /not a list/],
    ["a query", withHost("h?x"), 400, /no path/],
    ["no name before the port", withHost(":80"), 400, /no host name/],
    ["a port of six digits", withHost("h:123456"), 400, /five digits/],
    ["a port with letters", withHost("h:80x"), 400, /unexpected character/],
    ["an unclosed IP literal", withHost("[::1"), 400, /closing bracket/],
    ["an IP literal that is not IPv6", withHost("[zz]:80"), 400, /IPv6/],
    ["HTTP/1.0 with a bad Host", "GET / HTTP/1.0\r\nHost: a/b\r\n\r\n", 400, /no path/],
    ["a name", withHost("example.com"), "ok"],
    ["a name and a port", withHost("h:8080"), "ok"],
    ["IPv4", withHost("127.0.0.1:80"), "ok"],
    ["IPv6", withHost("[::1]:8000"), "ok"],
    ["IPv4 in IPv6", withHost("[::ffff:127.0.0.1]"), "ok"],
    ["IPvFuture", withHost("[v1.fe:x]"), "ok"],
    ["percent-encoded", withHost("a%41b"), "ok"],
    ["sub-delims", withHost("a!$&'()*+;=b"), "ok"],
    ["an empty port (port = *DIGIT)", withHost("h:"), "ok"],
  ]);
});

Deno.test("a request target with a fragment (#) is 400", () => {
  check([
    ["origin-form", "GET /path#frag HTTP/1.1\r\nHost: h\r\n\r\n", 400, /fragment/],
    ["an empty fragment", "GET /# HTTP/1.1\r\nHost: h\r\n\r\n", 400, /fragment/],
    ["after a query", "GET /a?b#c HTTP/1.1\r\nHost: h\r\n\r\n", 400, /fragment/],
    ["absolute-form", "GET http://h/#x HTTP/1.1\r\nHost: h\r\n\r\n", 400, /fragment/],
    ["%23 is just a byte", "GET /a%23b HTTP/1.1\r\nHost: h\r\n\r\n", "ok"],
  ]);
});

const chunked = (sizeLine: string) =>
  `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n${sizeLine}\r\nhello\r\n0\r\n\r\n`;

Deno.test('chunk-size lines follow chunk-size *( BWS ";" BWS token [ BWS "=" BWS value ] )', () => {
  check([
    ["a bare semicolon", chunked("5;"), 400, /needs a token as its name/],
    ["a name that is not a token", chunked("5;bad[=x"), 400, /unexpected character/],
    ["a space after the size", chunked("5 "), 400, /whitespace at the end/],
    ["a tab after the size", chunked("5\t"), 400, /whitespace at the end/],
    ["a space after an extension", chunked("5;a "), 400, /whitespace at the end/],
    ["an empty value", chunked("5;a="), 400, /token or a quoted string/],
    ["no name before =", chunked("5;=x"), 400, /needs a token/],
    ["an unterminated quoted string", chunked('5;a="x'), 400, /quoted string/],
    ["a control character in a quoted string", chunked('5;a="\x01"'), 400, /quoted string/],
    ["two values", chunked("5;a=b c"), 400, /unexpected character/],
    ["a name then junk", chunked("5;a b"), 400, /unexpected character/],
    ["junk after a quoted string", chunked('5;a="x"y'), 400, /unexpected character/],
    ["13 significant hex digits", chunked("1000000000000"), 400, /1 to 12 hex digits/],
    ["a name", chunked("5;a"), "ok"],
    ["BWS before the semicolon", chunked("5 ;a"), "ok"],
    ["a token value", chunked("5;a=b"), "ok"],
    ["BWS everywhere", chunked("5 ; a = b"), "ok"],
    ["a quoted value with a quoted-pair", chunked('5;a="q \\" s"'), "ok"],
    ["several extensions", chunked('5;a;b=c;d="e"'), "ok"],
    ["leading zeros", chunked("0005"), "ok"],
    ["leading zeros beyond twelve digits", chunked("00000000000000000005"), "ok"],
  ]);
});

const post = (fields: string) => `POST / HTTP/1.1\r\nHost: h\r\n${fields}\r\n`;

Deno.test("Content-Length is 1*DIGIT without leading zeros; Content-Type comes once", () => {
  check([
    ["005", post("Content-Length: 005\r\n") + "hello", 400, /Invalid Content-Length "005"/],
    ["00", post("Content-Length: 00\r\n"), 400, /Invalid Content-Length/],
    ["0200", post("Content-Length: 0200\r\n"), 400, /Invalid Content-Length/],
    ["NBSP after (not OWS)", post("Content-Length: 5\xa0\r\n") + "hello", 400, /Invalid/],
    ["NBSP before (not OWS)", post("Content-Length: \xa05\r\n") + "hello", 400, /Invalid/],
    ["an empty list member", post("Content-Length: 5,,5\r\n") + "hello", 400, /Invalid/],
    ["a trailing comma", post("Content-Length: 5,\r\n") + "hello", 400, /Invalid/],
    ["two numbers", post("Content-Length: 5 5\r\n") + "hello", 400, /Invalid/],
    ["different list members", post("Content-Length: 5, 6\r\n") + "hello", 400, /Duplicate/],
    ["0", post("Content-Length: 0\r\n"), "ok"],
    ["OWS", post("Content-Length: \t5 \r\n") + "hello", "ok"],
    ["the same value twice", post("Content-Length: 5 , 5\r\n") + "hello", "ok"],
    [
      "Content-Type twice",
      post("Content-Type: text/plain\r\nContent-Type: text/plain\r\n"),
      400,
      /More than one Content-Type/,
    ],
    ["Content-Type twice, case apart", post("content-type: a/b\r\nCONTENT-TYPE: a/b\r\n"), 400],
    ["Transfer-Encoding with NBSP", post("Transfer-Encoding: chunked\xa0\r\n"), 400, /Invalid/],
    ["chunked twice", post("Transfer-Encoding: chunked, chunked\r\n"), 400, /chunked twice/],
    ["chunked with a parameter", post("Transfer-Encoding: chunked;x=1\r\n"), 400, /Invalid/],
  ]);
});

Deno.test("a method longer than any we know is 501 (400 when not a token), not 414", () => {
  const huge = "A".repeat(100_000);
  check([
    ["a 100 KB method", `${huge} / HTTP/1.1\r\nHost: h\r\n\r\n`, 501, /Method "AAAA/],
    ["a 100 KB method, never ended", huge, 501, /not implemented/],
    ["an unknown method of 8 letters", "POSTPOST / HTTP/1.1\r\nHost: h\r\n\r\n", 501],
    ["a long method with a control byte", `G\x01T${huge}`, 400, /Malformed request line/],
    ["a known method, a long target", `BREW /${"a".repeat(9000)}`, 414, /Request line longer/],
  ]);
});

Deno.test("Expect: anything but 100-continue is 417", () => {
  check([
    ["200-ok", get("Host: h\r\nExpect: 200-ok\r\n"), 417, /Expectation "200-ok" cannot be met/],
    ["a list with an unknown member", post("Expect: 100-continue, x\r\n"), 417],
    ["100-continue with a parameter", post("Expect: 100-continue;a=b\r\n"), 417],
    ["100-continue", post("Expect: 100-continue\r\nContent-Length: 1\r\n") + "x", "ok"],
    ["case-insensitive", post("Expect: 100-Continue\r\nContent-Length: 1\r\n") + "x", "ok"],
  ]);
  const out = verdict(post("Expect: 100-Continue\r\nContent-Length: 1\r\n") + "x");
  assert.match(out.message, /"expectContinue":true/);
});

const upgrade = (fields: string) =>
  get(`Host: h\r\nConnection: Upgrade\r\n${fields}Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n`);

Deno.test("Upgrade: a valid one is ignored, an invalid one (WebSocket version ≠ 13) is 400", () => {
  check([
    [
      "WebSocket version 99",
      upgrade("Upgrade: websocket\r\nSec-WebSocket-Version: 99\r\n"),
      400,
      /Sec-WebSocket-Version "99"/,
    ],
    ["WebSocket without a version", upgrade("Upgrade: websocket\r\n"), 400, /missing/],
    ["a protocol with an empty version", upgrade("Upgrade: h2c/\r\n"), 400, /Invalid Upgrade/],
    ["not a list of tokens", upgrade("Upgrade: a b\r\n"), 400, /Invalid Upgrade/],
    ["WebSocket 13", upgrade("Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"), "ok"],
    ["an unknown protocol", upgrade("Upgrade: totally-made-up/1.0\r\n"), "ok"],
    ["a list", upgrade("Upgrade: HTTP/2.0, h2c\r\n"), "ok"],
  ]);
});

Deno.test("limits come before line-ending rules, so the status does not depend on the split", () => {
  const requestLine = (length: number) => {
    const line = `GET /${"a".repeat(length - 14)} HTTP/1.1`;
    assert.equal(line.length, length);
    return line;
  };
  const field = (length: number) => `X: ${"v".repeat(length - 3)}`;
  const section = (lines: number, last: string) =>
    `GET / HTTP/1.1\r\nHost: h\r\n${`${field(1000)}\r\n`.repeat(lines)}${last}`;
  const pad = 66; // enough 1000-byte lines to pass the section limit
  assert.ok(pad * 1002 > MAX_HEADER_SECTION_BYTES);
  check([
    ["A×8194 then LF", "A".repeat(8194) + "\n", 501],
    ["a request line at the limit, bare LF", requestLine(MAX_START_LINE_BYTES) + "\n", 400, /LF/],
    ["a request line over the limit, bare LF", requestLine(MAX_START_LINE_BYTES + 1) + "\n", 414],
    [
      "a field line at the limit",
      get(`Host: h\r\n${field(MAX_FIELD_LINE_BYTES)}\r\n`),
      "ok",
    ],
    [
      "a field line over the limit, bare LF",
      get(`Host: h\r\n${field(MAX_FIELD_LINE_BYTES + 1)}\n`),
      431,
      /Header line longer than 8192 bytes/,
    ],
    [
      "a field line over the limit, then more",
      get(`Host: h\r\n${field(MAX_FIELD_LINE_BYTES + 500)}\r\n`),
      431,
      /Header line longer/,
    ],
    [
      "a section over the limit, its last line ended by a bare LF",
      section(pad, `${field(1000)}\n\r\n`),
      431,
      /Header section larger/,
    ],
    [
      "a chunk-size line over the limit, bare LF",
      post("Transfer-Encoding: chunked\r\n") + `5;${"e".repeat(1100)}\nhello\r\n0\r\n\r\n`,
      400,
      /Chunk-size line longer/,
    ],
    [
      "a chunk-size line at the limit, bare LF",
      post("Transfer-Encoding: chunked\r\n") + `5;${"e".repeat(1022)}\nhello\r\n0\r\n\r\n`,
      400,
      /does not end with CRLF/,
    ],
  ]);
});

Deno.test("a response may use the whole header section for one field line", () => {
  const long = `HTTP/1.1 200 OK\r\nContent-Security-Policy: ${"p".repeat(20_000)}\r\n` +
    "Content-Length: 0\r\n\r\n";
  assert.equal(parseAll(responses(), long).error, undefined);
  const tooLong = `HTTP/1.1 200 OK\r\nX: ${"p".repeat(MAX_HEADER_SECTION_BYTES)}\r\n\r\n`;
  assert.equal(parseAll(responses(), tooLong).error?.status, 502);
});

Deno.test("the serializer refuses what the parser would not give back", () => {
  for (const value of [" v", "v ", "\tv", "v\t", " "]) {
    assert.throws(
      () => formatFields([["X", value]]),
      /Invalid value for header "X": leading or trailing whitespace would be lost/,
      JSON.stringify(value),
    );
  }
  assert.equal(formatFields([["X", ""], ["Y", "a  b"]]), "X: \r\nY: a  b\r\n");
  assert.throws(() => formatRequestHead("GET", "/a#b"), /no fragment/);
});

/** Non-conforming requests and the status the server must answer (then it closes). */
const SERVER_CASES: [string, string, number][] = [
  ["empty Host", "GET /hello.txt HTTP/1.1\r\nHost: \r\n\r\n", 400],
  ["Host with a path", "GET /hello.txt HTTP/1.1\r\nHost: h:8080/path\r\n\r\n", 400],
  ["Host with userinfo", "GET /hello.txt HTTP/1.1\r\nHost: user@h:8080\r\n\r\n", 400],
  ["Host list", "GET /hello.txt HTTP/1.1\r\nHost: h:8080, other.example.com\r\n\r\n", 400],
  ["fragment", "GET /hello.txt#top HTTP/1.1\r\nHost: h\r\n\r\n", 400],
  ["Content-Length 005", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 005\r\n\r\nhello", 400],
  [
    "Content-Type twice",
    "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Type: a/b\r\nContent-Type: a/b\r\n" +
    "Content-Length: 2\r\n\r\nhi",
    400,
  ],
  [
    "bare ; in a chunk",
    "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;\r\n",
    400,
  ],
  ["100 KB method", `${"A".repeat(100_000)} / HTTP/1.1\r\nHost: h\r\n\r\n`, 501],
  ["Expect: 200-ok", "GET /hello.txt HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n", 417],
  ["WebSocket 99", upgrade("Upgrade: websocket\r\nSec-WebSocket-Version: 99\r\n"), 400],
  ["A×8194 LF", "A".repeat(8194) + "\n", 501],
  ["long field line", get(`Host: h\r\nX: ${"a".repeat(9000)}\n`), 431],
];

for (const io of IO_MODES) {
  Deno.test(`the server answers each non-conforming request with its exact status${io.suffix}`, async () => {
    const { base, root } = await makeTree();
    await using server = await startInProcess({ ...io.options, root });
    for (const [name, request, status] of SERVER_CASES) {
      const { replies, closed } = await exchange(server, request);
      assert.deepStrictEqual(replies.map((r) => r.status), [status], name);
      assert.equal(header(replies[0], "connection"), "close", name);
      assert.equal(closed, true, name);
    }
    // Valid, and served: a WebSocket handshake we do not do is ignored (RFC 9110 §7.8).
    const ws = await exchange(
      server,
      upgrade("Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n").replace(
        "GET /",
        "GET /hello.txt",
      ),
      { count: 1 },
    );
    assert.deepStrictEqual(ws.replies.map((r) => [r.status, r.body]), [[200, "hello"]]);
    await Deno.remove(base, { recursive: true });
  });
}

for (const io of IO_MODES) {
  Deno.test(`If-Modified-Since counts only as a valid HTTP-date no later than now${io.suffix}`, async () => {
    const { base, root } = await makeTree();
    await using server = await startInProcess({ ...io.options, root });
    const status = async (since: string) => {
      const request = `GET /hello.txt HTTP/1.1\r\nHost: h\r\nIf-Modified-Since: ${since}\r\n\r\n`;
      return (await exchange(server, request, { count: 1 })).replies[0].status;
    };
    const now = new Date();
    // The three forms RFC 9110 §5.6.7 says a recipient must accept, all of them "now".
    for (const form of httpDateForms(now)) assert.equal(await status(form), 304, form);
    const future = new Date(Date.now() + 86_400_000).toUTCString();
    assert.equal(await status(future), 200, "a date in the future is ignored");
    assert.equal(await status("1"), 200, "not an HTTP-date (Date.parse would take it)");
    assert.equal(await status(`${now.toUTCString()}, ${now.toUTCString()}`), 200, "a list");
    assert.equal(await status(now.toUTCString().toLowerCase()), 200, "names are case-sensitive");
    await Deno.remove(base, { recursive: true });
  });
}

/** `date` as an IMF-fixdate, an rfc850-date and an asctime-date. */
function httpDateForms(date: Date): string[] {
  const imf = date.toUTCString(); // "Sun, 06 Nov 1994 08:49:37 GMT"
  const [day, dd, month, year, time] = imf.slice(0, -4).split(/[ ,]+/);
  const long = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"][
    date.getUTCDay()
  ];
  return [
    imf,
    `${long}, ${dd}-${month}-${year.slice(2)} ${time} GMT`,
    `${day} ${month} ${dd.replace(/^0/, " ")} ${time} ${year}`,
  ];
}

/** A tree with the names a file system refuses or cannot resolve. */
async function makeHostileTree() {
  const tree = await makeTree();
  await Deno.symlink("loop-b", `${tree.root}/loop-a`);
  await Deno.symlink("loop-a", `${tree.root}/loop-b`);
  return tree;
}

const LOOKUP_CASES: [string, string, number][] = [
  ["a 300-byte segment (ENAMETOOLONG)", `GET /${"n".repeat(300)} HTTP/1.1`, 404],
  ["a 300-byte segment, percent-encoded", `GET /${"%41".repeat(300)} HTTP/1.1`, 404],
  ["a path over PATH_MAX", `GET /${"d/".repeat(2100)}x HTTP/1.1`, 404],
  ["a file used as a directory (ENOTDIR)", "GET /hello.txt/x HTTP/1.1", 404],
  ["a symlink loop (ELOOP)", "GET /loop-a HTTP/1.1", 404],
  ["a symlink loop, below", "GET /loop-a/x HTTP/1.1", 404],
  ["PUT of a 300-byte name (ENAMETOOLONG)", `PUT /upload/${"n".repeat(300)} HTTP/1.1`, 414],
  ["PUT under a file (ENOTDIR)", "PUT /upload/note.txt/x HTTP/1.1", 409],
  ["PUT of a 250-byte name (fits NAME_MAX)", `PUT /upload/${"m".repeat(250)} HTTP/1.1`, 201],
  ["DELETE of a 300-byte name", `DELETE /upload/${"n".repeat(300)} HTTP/1.1`, 414],
];

for (const io of IO_MODES) {
  Deno.test(`every file-system error of a lookup is a status, never a 500 or a warning${io.suffix}`, async () => {
    const { base, root } = await makeHostileTree();
    const uploads = `${base}/uploads`;
    await Deno.mkdir(uploads);
    await Deno.writeTextFile(`${uploads}/note.txt`, "note");
    const warnings: string[] = [];
    const reporter = createReporter("test", {
      quiet: true,
      sink: { out: () => {}, err: (line) => warnings.push(line) },
    });
    await using server = await startInProcess({
      ...io.options,
      root,
      uploadDir: uploads,
      reporter,
    });
    for (const [name, line, status] of LOOKUP_CASES) {
      const body = line.startsWith("PUT") ? "Content-Length: 1\r\n\r\nx" : "\r\n";
      const { replies } = await exchange(server, `${line}\r\nHost: h\r\n${body}`, { count: 1 });
      assert.equal(replies[0]?.status, status, name);
    }
    assert.deepStrictEqual(warnings, []);
    await Deno.remove(base, { recursive: true });
  });
}

Deno.test("http/server.ts --quiet prints nothing on stderr for names the file system refuses", async () => {
  const { base, root } = await makeHostileTree();
  await using server = await startScript("http/server.ts", [
    "--root",
    root,
    "--port",
    "0",
    "--quiet",
  ]);
  {
    using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const batch = LOOKUP_CASES.filter(([, line]) => line.startsWith("GET"))
      .map(([, line]) => `${line}\r\nHost: h\r\n\r\n`).join("");
    await writeAll(conn, encodeLatin1(batch));
    const { replies } = await readReplies(conn, 6);
    assert.deepStrictEqual(replies.map((r) => r.status), [404, 404, 404, 404, 404, 404]);
  }
  const stopped = await server.stop();
  assert.equal(stopped.stderr, "");
  await Deno.remove(base, { recursive: true });
});

Deno.test("http/server.ts --help documents the body limits, and refuses a bad one", async () => {
  const help = await runScript("http/server.ts", ["--help"]);
  assert.match(help.stdout, /--body-timeout-ms MS +close a connection whose request body stops/);
  assert.match(help.stdout, /--body-min-rate BYTES +bytes per second at least/);
  const bad = await runScript("http/server.ts", ["--body-min-rate", "fast"]);
  assert.notEqual(bad.code, 0);
  assert.match(
    bad.stderr,
    /^error: --body-min-rate must be an integer .*, got fast \(see --help\)\n$/,
  );
});

Deno.test("header values that once made a regex backtrack are read in linear time", async () => {
  // In a worker with a deadline: a quadratic reader would take minutes on these inputs (the
  // Range regex took 2 s for 60,000 spaces; these are 1,000,000), a linear one milliseconds.
  const url = (path: string) => new URL(path, import.meta.url).href;
  const source = `
    import { notModified, parseHttpDate, parseRange } from "${
    url("../../http/server/static_files.ts")
  }";
    import { hostProblem, listItems } from "${url("../../http/core/headers.ts")}";
    import { RequestParser } from "${url("../../http/core/request_parser.ts")}";
    import { describeHttp } from "${url("../../http/core/describe.ts")}";
    self.onmessage = () => {
      const spaces = " ".repeat(1_000_000);
      const results = [
        parseRange("bytes=" + spaces + "x", 100),
        parseRange("bytes=0" + spaces + "-" + spaces + "x", 100),
        parseHttpDate(spaces),
        notModified({ etag: '"1"', mtimeMs: 0 }, ",".repeat(1_000_000) + "x", undefined),
        hostProblem("a".repeat(1_000_000) + "@"),
        listItems(" ,".repeat(500_000)).length,
      ];
      const value = "a" + " ".repeat(60_000) + "b";
      const head = "GET / HTTP/1.1\\r\\nHost: h\\r\\nX: " + value + "\\r\\n\\r\\n";
      const bytes = new TextEncoder().encode(head);
      for (let i = 0; i < 5; i++) results.push(describeHttp(bytes, { kind: "request" }).headBytes);
      const parser = new RequestParser();
      parser.feed(new TextEncoder().encode("GET / HTTP/1.1\\r\\nHost: h\\r\\nRange: bytes=" +
        " ".repeat(8000) + "x\\r\\n\\r\\n"));
      results.push(parser.next().kind);
      self.postMessage(results);
    };
    self.postMessage("ready");
  `;
  const blob = URL.createObjectURL(new Blob([source], { type: "application/javascript" }));
  const worker = new Worker(blob, { type: "module" });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const messages: unknown[] = [];
    let wake = () => {};
    worker.onmessage = (event) => {
      messages.push(event.data);
      wake();
    };
    const next = () =>
      new Promise<unknown>((resolve, reject) => {
        if (messages.length) return resolve(messages.shift());
        wake = () => resolve(messages.shift());
        worker.onerror = (event) => {
          event.preventDefault();
          reject(new Error(event.message));
        };
      });
    assert.equal(await next(), "ready"); // Loading and compiling are not timed.
    worker.postMessage("go");
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("still reading after 5 s: not linear")), 5000);
    });
    const results = await Promise.race([next(), deadline]);
    assert.deepStrictEqual(results, [
      null,
      null,
      undefined,
      false,
      "userinfo (user@) is not allowed",
      0,
      60_034,
      60_034,
      60_034,
      60_034,
      60_034,
      "request",
    ]);
  } finally {
    clearTimeout(timer);
    worker.terminate();
    URL.revokeObjectURL(blob);
  }
});

Deno.test("lookupFailure maps every file-system error to a status and rethrows the rest", () => {
  // Tests run as root here, where EACCES never happens: the mapping is checked directly.
  const withCode = (code: string) => Object.assign(new Error(`${code} (os error)`), { code });
  const cases: [Error, string][] = [
    [new Deno.errors.NotFound("gone"), "not-found"],
    [withCode("ENOTDIR"), "not-found ENOTDIR"],
    [withCode("ENAMETOOLONG"), "not-found ENAMETOOLONG"],
    [withCode("ELOOP"), "not-found ELOOP"],
    [new Deno.errors.PermissionDenied("no"), "failed 403 EACCES"],
    [withCode("EPERM"), "failed 403 EPERM"],
    [withCode("EMFILE"), "failed 503 EMFILE"],
    [withCode("EIO"), "failed 500 EIO"],
  ];
  for (const [error, expected] of cases) {
    const found = lookupFailure(error);
    const got = found.kind === "failed"
      ? `failed ${found.status} ${found.why}`
      : found.kind === "not-found"
      ? `not-found${found.why ? ` ${found.why}` : ""}`
      : found.kind;
    assert.equal(got, expected, error.message);
  }
  assert.throws(() => lookupFailure(new TypeError("a bug")), TypeError);
});
