/**
 * A seeded, bounded fuzz test of the HTTP parser (http/core/). Valid requests and responses are mutated a few
 * bytes at a time (flips to the bytes the grammar cares about, insertions, deletions, repeated
 * slices, long runs that reach the limits, CRLF turned into LF or CR, truncation) and fed to the
 * parsers. Properties:
 * - nothing is thrown but `HttpError`;
 * - the verdict (events, error status and message, bytes left over) is the same whole, one byte
 *   at a time and cut at random points — with and without the connection closing after it;
 * - parse(serialize(m)) = m for random messages, and the serializer refuses (TypeError) what
 *   it cannot write faithfully.
 * The seeds are fixed, so a failure repeats; each loop stops at a count or a time budget,
 * whichever comes first, and says how many cases it ran.
 */
import assert from "node:assert/strict";
import type { HeaderList } from "../../http/core/events.ts";
import { KNOWN_METHODS } from "../../http/core/parser.ts";
import { RequestParser } from "../../http/core/request_parser.ts";
import { ResponseParser } from "../../http/core/response_parser.ts";
import {
  encodeChunk,
  encodeLastChunk,
  serializeRequest,
  serializeResponse,
} from "../../http/core/serialize.ts";
import { encodeLatin1, latin1 } from "../../http/core/syntax.ts";
import {
  type Outcome,
  type Parser,
  randomSplits,
  requests,
  responses,
  run,
  seededRandom,
} from "../_http_parse.ts";

const REQUEST_SEEDS = [
  "GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: fuzz\r\nAccept: */*\r\n\r\n",
  "POST /echo HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nContent-Type: text/plain\r\n" +
  "Content-Length: 5\r\n\r\nhello",
  "PUT /upload/a.txt HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
  '5;name=value;q="a \\"b\\""\r\nhello\r\n00A\r\n0123456789\r\n0\r\nX-Sum: 1\r\n\r\n',
  "GET /a?b=c HTTP/1.1\r\nHost: [::1]:80\r\n\r\nHEAD /b HTTP/1.1\r\nHost: h\r\n" +
  "Connection: close\r\n\r\n",
  "POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
  "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
  "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
  "GET http://h/x HTTP/1.1\r\nHost: h\r\nRange: bytes=0-9\r\n" +
  "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n",
  "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
  "Sec-WebSocket-Version: 13\r\n\r\n",
];

const RESPONSE_SEEDS = [
  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n0\r\nT: 1\r\n\r\n",
  "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
  'HTTP/1.1 304 Not Modified\r\nETag: "1"\r\n\r\n',
  "HTTP/1.0 200 OK\r\nServer: old\r\n\r\nuntil the close",
];

/** Bytes the grammar decides on: line ends, separators, quotes, digits, controls, obs-text. */
const INTERESTING = [
  0x0d,
  0x0a,
  0x20,
  0x09,
  0x3a,
  0x3b,
  0x2c,
  0x3d,
  0x22,
  0x5c,
  0x23,
  0x2f,
  0x40,
  0x5b,
  0x5d,
  0x30,
  0x31,
  0x39,
  0x41,
  0x66,
  0x2d,
  0x00,
  0x0b,
  0x7f,
  0x80,
  0xa0,
  0xff,
];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)];
}

/** One to four mutations of `base`. */
function mutate(base: Uint8Array, random: () => number): Uint8Array {
  let bytes = Array.from(base);
  const mutations = 1 + Math.floor(random() * 4);
  for (let m = 0; m < mutations; m++) {
    const at = Math.floor(random() * (bytes.length + 1));
    switch (Math.floor(random() * 8)) {
      case 0: // overwrite a byte
        if (bytes.length) {
          bytes[Math.min(at, bytes.length - 1)] = random() < 0.8
            ? pick(random, INTERESTING)
            : Math.floor(random() * 256);
        }
        break;
      case 1: // insert one to three interesting bytes
        bytes.splice(
          at,
          0,
          ...Array.from({ length: 1 + Math.floor(random() * 3) }, () => pick(random, INTERESTING)),
        );
        break;
      case 2: // delete a few bytes
        bytes.splice(at, 1 + Math.floor(random() * 8));
        break;
      case 3: { // repeat a slice (a field line, a chunk…)
        const from = Math.floor(random() * bytes.length);
        const slice = bytes.slice(from, from + 1 + Math.floor(random() * 40));
        bytes.splice(at, 0, ...slice);
        break;
      }
      case 4: { // a long run: reaches the line, field and section limits
        const length = pick(random, [100, 1100, 8200, 9000]);
        bytes.splice(at, 0, ...new Array(length).fill(pick(random, [0x20, 0x61, 0x30, 0x09])));
        break;
      }
      case 5: { // CRLF → LF or CR
        const text = latin1(Uint8Array.from(bytes));
        const crlf = text.indexOf("\r\n", at);
        if (crlf >= 0) bytes.splice(crlf + (random() < 0.5 ? 0 : 1), 1);
        break;
      }
      case 6: // truncate
        bytes = bytes.slice(0, at);
        break;
      default: // swap two bytes
        if (bytes.length > 1) {
          const other = Math.floor(random() * bytes.length);
          const i = Math.min(at, bytes.length - 1);
          [bytes[i], bytes[other]] = [bytes[other], bytes[i]];
        }
    }
  }
  return Uint8Array.from(bytes);
}

/** Runs `input` whole, byte by byte and cut three random ways; all must agree. */
function sameEveryWay(
  make: () => Parser,
  input: Uint8Array,
  eof: boolean,
  random: () => number,
): Outcome {
  const whole = run(make, [input], eof);
  const ways = [Array.from(input, (_, i) => input.subarray(i, i + 1))];
  ways.push(...randomSplits(input, random, 3));
  for (const way of ways) {
    const outcome = run(make, way, eof);
    if (JSON.stringify(outcome) !== JSON.stringify(whole)) {
      assert.deepStrictEqual(
        outcome,
        whole,
        `${JSON.stringify(latin1(input).slice(0, 300))} in ${way.length} pieces, eof ${eof}`,
      );
    }
  }
  return whole;
}

/** Mutation rounds over `seeds` until `count` cases or `budgetMs`, whichever comes first. */
function fuzz(
  make: () => Parser,
  seeds: string[],
  { seed, count, budgetMs }: { seed: number; count: number; budgetMs: number },
): { cases: number; statuses: Map<number | "ok", number> } {
  const random = seededRandom(seed);
  const bases = seeds.map((text) => encodeLatin1(text));
  const statuses = new Map<number | "ok", number>();
  const deadline = performance.now() + budgetMs;
  let cases = 0;
  while (cases < count && performance.now() < deadline) {
    const input = mutate(pick(random, bases), random);
    // `run` rethrows anything that is not an HttpError: that fails the test here.
    const outcome = sameEveryWay(make, input, random() < 0.5, random);
    const status = outcome.error?.status ?? "ok";
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    cases++;
  }
  return { cases, statuses };
}

Deno.test("fuzz: mutated requests give one verdict however they are split, and only HttpError", () => {
  const { cases, statuses } = fuzz(requests(), REQUEST_SEEDS, {
    seed: 0x13a7f00d,
    count: 3000,
    budgetMs: 6000,
  });
  // The mutations reach the interesting verdicts, not just one kind of error.
  assert.ok(cases >= 500, `only ${cases} cases ran`);
  for (const status of ["ok", 400, 431] as const) {
    assert.ok(statuses.has(status), `no case gave ${status}: ${JSON.stringify([...statuses])}`);
  }
});

Deno.test("fuzz: mutated responses give one verdict however they are split, and only HttpError", () => {
  const { cases, statuses } = fuzz(responses("GET", "GET", "GET"), RESPONSE_SEEDS, {
    seed: 0x5eed0013,
    count: 1000,
    budgetMs: 3000,
  });
  assert.ok(cases >= 200, `only ${cases} cases ran`);
  assert.ok(statuses.has("ok") && statuses.has(502), JSON.stringify([...statuses]));
});

const TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
/** Field names the parser interprets: a random message leaves them out. */
const MEANINGFUL = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "content-type",
  "expect",
  "upgrade",
  "sec-websocket-version",
  "connection",
]);

function randomToken(random: () => number, max: number): string {
  let out = "";
  const length = 1 + Math.floor(random() * max);
  for (let i = 0; i < length; i++) out += pick(random, [...TOKEN_CHARS]);
  return out;
}

/** A field value from every character a value may hold — or, now and then, one it may not. */
function randomValue(random: () => number): string {
  let out = "";
  const length = Math.floor(random() * 24);
  for (let i = 0; i < length; i++) {
    const r = random();
    out += String.fromCharCode(
      r < 0.1
        ? pick(random, [0x20, 0x09])
        : r < 0.8
        ? 0x21 + Math.floor(random() * 94)
        : r < 0.98
        ? 0x80 + Math.floor(random() * 128)
        : pick(random, [0x00, 0x0d, 0x0a, 0x7f]),
    );
  }
  return out;
}

function randomHeaders(random: () => number): HeaderList {
  const headers: HeaderList = [];
  const count = Math.floor(random() * 6);
  while (headers.length < count) {
    const name = randomToken(random, 12);
    if (!MEANINGFUL.has(name.toLowerCase())) headers.push([name, randomValue(random)]);
  }
  return headers;
}

function randomBytes(random: () => number, max: number): Uint8Array {
  return Uint8Array.from({ length: Math.floor(random() * max) }, () => Math.floor(random() * 256));
}

/** The message one parse produced: head fields, the body and the trailers. */
function parsedMessage(parser: Parser, bytes: Uint8Array) {
  parser.feed(bytes);
  parser.feedEof();
  let head: Record<string, unknown> | undefined;
  const body: number[] = [];
  let trailers: HeaderList = [];
  for (let event = parser.next(); event && event.kind !== "closed"; event = parser.next()) {
    if (event.kind === "request") {
      head = { method: event.method, target: event.target, headers: event.headers };
    } else if (event.kind === "response") {
      head = { status: event.status, reason: event.reason, headers: event.headers };
    } else if (event.kind === "data") body.push(...event.data);
    else if (event.kind === "end") trailers = event.trailers;
  }
  return { head, body: Uint8Array.from(body), trailers };
}

const lower = (headers: HeaderList): HeaderList => headers.map(([n, v]) => [n.toLowerCase(), v]);

Deno.test("fuzz: parse(serialize(m)) = m, and the serializer refuses what would not round-trip", () => {
  const random = seededRandom(0x00c0ffee);
  const methods = [...KNOWN_METHODS];
  const targetChars = [...Array(94)].map((_, i) => String.fromCharCode(0x21 + i))
    .filter((c) => c !== "#");
  const statuses = [200, 201, 206, 301, 404, 418, 500, 599];
  // What a parser could not give back: a control character, or whitespace at either end of a
  // value (it is OWS, and dropped).
  const hasControl = (text: string) =>
    [...text].some((c) => c !== "\t" && (c < " " || c === "\x7f"));
  const unwritable = (value: string) =>
    hasControl(value) || /^[ \t]/.test(value) || /[ \t]$/.test(value);
  let written = 0;
  let refused = 0;
  const deadline = performance.now() + 5000;
  for (let i = 0; i < 3000 && performance.now() < deadline; i++) {
    const headers = randomHeaders(random);
    const body = randomBytes(random, 40);
    const chunked = random() < 0.3;
    const framing: HeaderList = chunked ? [["Transfer-Encoding", "chunked"]] : [];
    const asRequest = random() < 0.6;
    const method = pick(random, methods);
    const target = "/" +
      Array.from({ length: Math.floor(random() * 20) }, () => pick(random, targetChars)).join("");
    const status = pick(random, statuses);
    const reason = randomValue(random);
    const head = asRequest
      ? { method, target, headers: [["host", "example.com:8080"], ...lower(headers)] }
      : { status, reason, headers: lower(headers) };
    let bytes: Uint8Array;
    try {
      const start = asRequest
        ? serializeRequest({
          method,
          target,
          headers: [["Host", "example.com:8080"], ...headers, ...framing],
          body: chunked ? undefined : body,
        })
        : serializeResponse({
          status,
          reason,
          headers: [...headers, ...framing],
          body: chunked ? undefined : body,
        });
      bytes = chunked ? concat(start, encodeChunk(body), encodeLastChunk(headers)) : start;
    } catch (error) {
      assert.ok(error instanceof TypeError, String(error));
      assert.ok(
        headers.some(([, v]) => unwritable(v)) ||
          (!asRequest && hasControl(reason)),
        `refused a writable message: ${(error as Error).message}`,
      );
      refused++;
      continue;
    }
    assert.ok(!headers.some(([, v]) => unwritable(v)), `wrote ${JSON.stringify(headers)}`);
    written++;
    const parsed = parsedMessage(asRequest ? new RequestParser() : new ResponseParser(), bytes);
    const sentFraming = chunked ? lower(framing) : [["content-length", String(body.length)]];
    assert.deepStrictEqual(
      parsed.head,
      { ...head, headers: [...head.headers, ...sentFraming] },
      latin1(bytes),
    );
    assert.deepStrictEqual(parsed.body, body);
    assert.deepStrictEqual(parsed.trailers, chunked ? lower(headers) : []);
  }
  assert.ok(written > 300 && refused > 30, `written ${written}, refused ${refused}`);
});

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
