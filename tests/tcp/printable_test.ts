/**
 * tcp/printable.ts and the error messages that echo user input through it: the CLI kit's flag
 * parsers, the HTTP client's URL and flags. A control character typed into an argument is shown
 * escaped, so every message stays one line (the subnet and DNS parsers are checked in their own
 * test files).
 */
import assert from "node:assert/strict";
import { quoteInput } from "../../tcp/core/printable.ts";
import { parseCount, parseHostPort, parsePort } from "../../tcp/kit/cli.ts";
import { parseUrl } from "../../http/core/url.ts";
import { parseHeaderFlag } from "../../http/client.ts";
import { parseDnsServer } from "../../http/client/fetch.ts";
import { runScript } from "../_helpers.ts";

/** Characters that would break a one-line message, or rewrite the terminal, if echoed raw. */
// deno-lint-ignore no-control-regex
const BREAKERS = /[\x00-\x1f\x7f-\x9f\u2028\u2029]/;

Deno.test("quoteInput quotes like JSON and escapes DEL, C1 controls and U+2028/2029 too", () => {
  assert.equal(quoteInput("10.0.0.1"), '"10.0.0.1"');
  assert.equal(quoteInput('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(quoteInput("a\nb\rc\td\x1b[2J"), '"a\\nb\\rc\\td\\u001b[2J"');
  assert.equal(quoteInput("\x7f\x85\x9f\u2028\u2029"), '"\\u007f\\u0085\\u009f\\u2028\\u2029"');
  assert.equal(quoteInput("你好 é"), '"你好 é"'); // printable text is kept as is
  for (let code = 0; code < 0x3000; code++) {
    assert.doesNotMatch(quoteInput(`x${String.fromCharCode(code)}y`), BREAKERS, `U+${code}`);
  }
});

Deno.test("flag and URL errors echo control characters escaped", () => {
  const cases: [() => unknown, string][] = [
    [() => parsePort("8\n0", 0), '--port must be 0–65535, got "8\\n0"'],
    [
      () => parseCount("1\r", 1, "--idle", { max: 9 }),
      '--idle must be an integer from 1 to 9, got "1\\r"',
    ],
    [
      () => parseHostPort("h:1\u2028", "--to"),
      'Invalid --to "h:1\\u2028": expected HOST:PORT, e.g. 127.0.0.1:8888',
    ],
    [
      () => parseUrl("http://exa\nmple.com/"),
      'Invalid URL "http://exa\\nmple.com/": contains whitespace or a control character',
    ],
    [() => parseHeaderFlag("X: a\nb"), 'Invalid -H "X: a\\nb": CR, LF or NUL in the value'],
    [() => parseHeaderFlag("X\x1b: a"), "Invalid -H \"X\\u001b: a\": expected 'Name: value'"],
    [() => parseDnsServer(":\x85"), 'Invalid --dns ":\\u0085": expected HOST[:PORT]'],
  ];
  for (const [parse, message] of cases) {
    assert.throws(parse, (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.equal(error.message, message);
      assert.doesNotMatch(error.message, BREAKERS);
      return true;
    });
  }
});

Deno.test("http/client.ts: a URL with a newline is one line on stderr, exit 3", async () => {
  const result = await runScript("http/client.ts", ["http://exa\nmple.com/"]);
  assert.equal(result.code, 3);
  assert.equal(result.stdout, "");
  assert.equal(result.stderr.trimEnd().split("\n").length, 1, result.stderr);
  assert.match(result.stderr, /"http:\/\/exa\\nmple\.com\/"/);
});
