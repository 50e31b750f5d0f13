/**
 * tcp/kit/child_script.ts: a child's output read line by line whatever the chunking, a line over
 * the bound ends the reading with a note instead of growing without end, and a bounded stderr tail.
 */
import assert from "node:assert/strict";
import {
  forwardLines,
  MAX_CHILD_LINE_BYTES,
  STDERR_TAIL_CHARS,
  stderrTail,
} from "../../tcp/kit/child_script.ts";

const encoder = new TextEncoder();
const streamOf = (...chunks: string[]) => ReadableStream.from(chunks.map((c) => encoder.encode(c)));

Deno.test("forwardLines: the same lines however the output is cut, the last one without a newline", async () => {
  const lines: string[] = [];
  await forwardLines(
    streamOf("listen", "ing on 1\nsec", "ond\n\nthird 你", "好"),
    (l) => lines.push(l),
  );
  assert.deepEqual(lines, ["listening on 1", "second", "", "third 你好"]);
});

Deno.test("forwardLines: a line longer than the bound is dropped with a note, not kept", async () => {
  const lines: string[] = [];
  const long = "x".repeat(MAX_CHILD_LINE_BYTES + 1);
  await forwardLines(streamOf("first\n", long, "\nafter\n"), (l) => lines.push(l));
  assert.equal(lines[0], "first");
  assert.match(lines[1], /^\(a line longer than \d+ bytes was dropped; the rest too\)$/);
  assert.equal(lines.length, 2);
});

Deno.test("stderrTail keeps only the tail, and its last non-empty line", async () => {
  const tail = stderrTail(streamOf("a".repeat(STDERR_TAIL_CHARS), "\nfirst\n", "why it failed\n"));
  await tail.done;
  assert.equal(tail.text().length, STDERR_TAIL_CHARS);
  assert.equal(tail.lastLine(), "why it failed");
  const empty = stderrTail(streamOf());
  await empty.done;
  assert.equal(empty.lastLine(), "");
});
