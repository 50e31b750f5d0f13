/**
 * The `--json` events the lab (http/lab.ts) draws, straight from the scripts that make them: one
 * `sent`/`received` event per write, read or datagram, with the addresses or bytes a diagram
 * needs, and under `--explain` one view per message (tcp/sticky.ts, udp/truncate.ts), the server
 * source behind every +trace query (dns/query.ts), and the frame descriptions of tcp/core/framing_view.ts.
 */
import assert from "node:assert/strict";
import { assertNdjson, runScript, startScript } from "../_helpers.ts";
import { EVENT_NAMES } from "../../tcp/kit/report.ts";
import { explainBytes } from "../../tcp/kit/explain.ts";
import { encodeLengthPrefixed } from "../../tcp/core/framing.ts";
import { describeDelimited, describeLengthPrefixed } from "../../tcp/core/framing_view.ts";

const encoder = new TextEncoder();

function schema(stdout: string, tool: string) {
  const events = assertNdjson(stdout, tool);
  for (const e of events) assert.ok(EVENT_NAMES.includes(e.event), `"${e.event}" in ${tool}`);
  return events;
}

Deno.test("describeLengthPrefixed names the prefix and the payload", () => {
  const frame = encodeLengthPrefixed(encoder.encode("hi 你"));
  assert.equal(
    explainBytes(frame, describeLengthPrefixed(frame)),
    [
      "  0000  00 00 00 06              length               6: the payload's size, 4 bytes big-endian",
      '  0004  68 69 20 e4 bd a0        payload              "hi 你"',
    ].join("\n"),
  );
  // A cut frame is described as far as it goes; two bytes of a 4-byte prefix are not a frame.
  const cut = frame.subarray(0, 6);
  assert.match(explainBytes(cut, describeLengthPrefixed(cut)), /"hi" \(2 of 6 bytes\)$/);
  assert.deepEqual(describeLengthPrefixed(frame.subarray(0, 2)), []);
});

Deno.test("describeDelimited points at a delimiter inside the payload", () => {
  const frame = encoder.encode("3##5##");
  assert.equal(
    explainBytes(frame, describeDelimited(frame, "##")),
    [
      '  0000  33 23 23 35              payload              "3##5" — holds the delimiter at offset 1: the reader cuts the frame there',
      '  0004  23 23                    delimiter            "##": the end of the message',
    ].join("\n"),
  );
  const unterminated = encoder.encode("abc");
  assert.deepEqual(describeDelimited(unterminated, "##").map((f) => f.name), ["payload"]);
});

Deno.test("tcp/sticky.ts --json --explain: every write and read of the glue and the two fixes", async () => {
  const r = await runScript("tcp/sticky.ts", [
    "--json",
    "--explain",
    "--big-write",
    "65536",
    "--gap-ms",
    "1",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const events = schema(r.stdout, "tcp/sticky");
  const glueSent = events.find((e) => e.part === "glue" && e.event === "sent")!;
  assert.deepEqual(glueSent.writes, ['"hello"', '"world"', '"你好"', '"q"']);
  assert.deepEqual(glueSent.sizes, [5, 5, 6, 1]);
  const glueRead = events.find((e) => e.part === "glue" && e.event === "received")!;
  assert.deepEqual(glueRead.reads, ['"helloworld你好q"']);
  // The reader is slow: its one read returns after the last write.
  const writeTimes = glueSent.timesMs as number[];
  const readTimes = glueRead.timesMs as number[];
  assert.equal(writeTimes.length, 4);
  assert.ok(readTimes[0] >= writeTimes[3], `${readTimes} after ${writeTimes}`);
  const glueViews = events.filter((e) => e.event === "explain" && e.part === "glue" && e.index);
  assert.deepEqual(glueViews.map((e) => `${e.direction} ${e.index}`), [
    "write 1",
    "write 2",
    "write 3",
    "write 4",
    "read 1",
  ]);

  for (const fix of ["end-marker", "length-prefix"]) {
    const mine = events.filter((e) => e.fix === fix);
    // Causal order: the writes, their views, the reads, their views, then what was decoded.
    const order = mine.map((e) => e.event === "explain" ? `explain ${e.direction}` : e.event);
    const firstResult = order.indexOf("result");
    assert.deepEqual(
      [...new Set(order.slice(0, firstResult))],
      ["sent", "explain write", "received", "explain read"],
      fix,
    );
    const sent = mine.find((e) => e.event === "sent")!;
    assert.equal((sent.writes as string[]).length, 5);
    assert.equal((sent.timesMs as number[]).length, 5);
  }
  const marker = events.filter((e) => e.fix === "end-marker");
  assert.ok(marker.some((e) => e.event === "result" && e.intact === false));
  assert.match(
    String(marker.find((e) => e.event === "explain" && e.index === 3)?.text),
    /"3##5" — holds the delimiter at offset 1/,
  );
  const prefix = events.filter((e) => e.fix === "length-prefix");
  assert.ok(prefix.some((e) => e.event === "result" && e.intact === true));
  assert.match(
    String(prefix.find((e) => e.event === "explain" && e.index === 1)?.text),
    /00 00 00 05 +length +5: the payload's size/,
  );
});

Deno.test("udp/truncate.ts --json --explain: each datagram sent and received, with its view", async () => {
  const r = await runScript("udp/truncate.ts", ["--json", "--explain"]);
  assert.equal(r.code, 0, r.stderr);
  const events = schema(r.stdout, "udp/truncate").filter((e) => e.part === "truncation");
  const steps = events.filter((e) => e.event === "sent" || e.event === "received");
  assert.deepEqual(steps.map((e) => `${e.event} ${e.bytes}`), [
    "sent 5000",
    "sent 17",
    "received 1024",
    "received 17",
  ]);
  const [{ from, to }] = steps;
  assert.match(String(from), /^127\.0\.0\.1:\d+$/);
  for (const e of steps) assert.deepEqual([e.from, e.to], [from, to]);
  assert.equal(steps[2].dropped, 3976);
  // Each datagram's view follows it.
  const order = events.map((e) => e.event === "explain" ? `view ${e.direction}` : e.event);
  assert.deepEqual(order.filter((e) => e !== "result"), [
    "sent",
    "view sent",
    "sent",
    "view sent",
    "received",
    "view received",
    "received",
    "view received",
  ]);
});

Deno.test("dns/query.ts +trace --json says how each server's address was known", async () => {
  await using internet = await startScript("dns/internet.ts", ["--port", "0", "--json"]);
  const r = await runScript("dns/query.ts", [
    "+trace",
    "--root",
    "127.0.0.2",
    "-p",
    String(internet.port),
    "www.cnblogs.com",
    "--json",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const queries = schema(r.stdout, "dns/query").filter((e) => e.event === "query");
  assert.deepEqual(queries.map((e) => `${e.zone} ${e.source}`), [
    ". root-option",
    ". cache",
    "com. glue",
    "cnblogs.com. glue",
  ]);
});
