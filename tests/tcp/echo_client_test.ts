/**
 * tcp/core/echo_client.ts: stdin split into lines as bytes, whole, byte by byte and with limits.
 * The exchange itself runs in the client's and the server's tests.
 */
import assert from "node:assert/strict";
import { byteLines } from "../../tcp/core/echo_client.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(chunks);
}

async function collectLines(chunks: Uint8Array[], maxLine?: number): Promise<string[]> {
  const out: string[] = [];
  for await (const line of byteLines(streamOf(chunks), { maxLine })) out.push(decoder.decode(line));
  return out;
}

Deno.test("byteLines splits whole, byte by byte, with \\r\\n and a last line without newline", async () => {
  const input = encoder.encode("hello\r\n你好\n\nlast");
  const expected = ["hello", "你好", "", "last"];
  assert.deepEqual(await collectLines([input]), expected);
  assert.deepEqual(await collectLines([...input].map((b) => Uint8Array.of(b))), expected);
  for (let split = 0; split <= input.length; split++) {
    assert.deepEqual(
      await collectLines([input.slice(0, split), input.slice(split)]),
      expected,
      `split at ${split}`,
    );
  }
});

Deno.test("byteLines rejects a line longer than maxLine", async () => {
  await assert.rejects(
    collectLines([encoder.encode("0123456789"), encoder.encode("abc\n")], 8),
    /input line longer than 8 bytes/,
  );
  assert.deepEqual(await collectLines([encoder.encode("12345678\n")], 8), ["12345678"]);
});
