/**
 * tcp/kit/log.ts: the batched log writer writes exactly the bytes, in the order, that writing
 * each line on its own would, in fewer writes; a batch is written once it is full, or
 * LOG_FLUSH_MS after its first line (not at the end of each event-loop turn); flushLogs() writes
 * what is pending.
 */
import assert from "node:assert/strict";
import { flushLogs, LOG_FLUSH_MS, LogWriter, type SyncWriter } from "../../tcp/kit/log.ts";
import { createReporter } from "../../tcp/kit/report.ts";
import { prng } from "../_prng.ts";

/** A writer that records every write, and may take only part of a write (as a pipe can). */
function recorder(
  maxPerWrite = Infinity,
): SyncWriter & { writes: Uint8Array[]; text(): string; firstWrite: Promise<number> } {
  const writes: Uint8Array[] = [];
  let wrote!: (at: number) => void;
  return {
    writes,
    firstWrite: new Promise((resolve) => wrote = resolve),
    writeSync(bytes) {
      const n = Math.min(bytes.length, maxPerWrite);
      writes.push(bytes.slice(0, n));
      wrote(performance.now());
      return n;
    },
    text: () => new TextDecoder().decode(new Uint8Array(writes.flatMap((w) => [...w]))),
  };
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("LogWriter: the same bytes in the same order as line-by-line, in one write a little later", async () => {
  const target = recorder();
  const log = new LogWriter(target);
  const started = performance.now();
  const lines = Array.from({ length: 500 }, (_, i) => `line ${i} 你好 ${"x".repeat(i % 7)}`);
  for (const line of lines.slice(0, 250)) log.line(line);
  await nextTurn();
  assert.equal(target.writes.length, 0, "not written at the end of each event-loop turn");
  for (const line of lines.slice(250)) log.line(line);
  const at = await target.firstWrite;
  assert.ok(at - started >= LOG_FLUSH_MS - 1, `written after ${at - started} ms`);
  assert.equal(target.writes.length, 1);
  assert.equal(target.text(), lines.map((l) => l + "\n").join(""));
});

Deno.test("LogWriter writes a batch as soon as the next line would not fit, and finishes short writes", () => {
  const target = recorder(1000);
  const log = new LogWriter(target, 4096);
  const line = "y".repeat(99); // 100 bytes with the newline
  for (let i = 0; i < 41; i++) log.line(line); // the 41st line does not fit in 4,096
  assert.equal(target.text(), (line + "\n").repeat(40));
  assert.ok(target.writes.length >= 4, "a short write is continued, not dropped");
  log.line("tail");
  flushLogs();
  assert.equal(target.text(), (line + "\n").repeat(41) + "tail\n");
});

Deno.test("LogWriter: lines of text and of bytes, short and longer than a batch, in order", () => {
  const target = recorder(777);
  const log = new LogWriter(target, 256);
  const encoder = new TextEncoder();
  const expected: string[] = [];
  const random = prng(0x10a);
  const pieces = ["a", "你", "😀", " ", "\t", "é", "z".repeat(40)];
  for (let i = 0; i < 400; i++) {
    let text = "";
    const length = Math.floor(random() * (random() < 0.1 ? 120 : 12));
    for (let j = 0; j < length; j++) text += pieces[Math.floor(random() * pieces.length)];
    if (random() < 0.5) {
      log.line(text);
    } else {
      const chars = [...text]; // cut between characters, never inside a surrogate pair
      const cut = Math.floor(random() * (chars.length + 1));
      const [head, body] = [chars.slice(0, cut).join(""), chars.slice(cut).join("")];
      log.lineOfBytes(encoder.encode(head), encoder.encode(body));
    }
    expected.push(text + "\n");
  }
  flushLogs();
  assert.equal(target.text(), expected.join(""));
  assert.ok(target.writes.every((w) => w.length <= 777));
});

Deno.test("a batched reporter prints what an unbatched one prints, JSON included", async () => {
  const direct: string[] = [];
  const plain = createReporter("test", {
    json: true,
    sink: { out: (l) => direct.push(l), err: () => {} },
  });
  const target = recorder();
  const log = new LogWriter(target);
  const batched = createReporter("test", {
    json: true,
    sink: { out: (l) => log.line(l), err: () => {} },
  });
  for (let i = 0; i < 100; i++) {
    plain.info(`request ${i}`, "request", { i });
    batched.info(`request ${i}`, "request", { i });
  }
  await target.firstWrite;
  const strip = (line: string) => line.replace(/"ts":"[^"]*",/, "");
  assert.deepEqual(target.text().trimEnd().split("\n").map(strip), direct.map(strip));
});
