/**
 * tcp/kit/wait_notice.ts: a wait is said once it passes its threshold, a wait that goes on under
 * a new description is said again at once, and a wait that ends in time says nothing.
 */
import assert from "node:assert/strict";
import { WaitNotice } from "../../tcp/kit/wait_notice.ts";

/** A notice whose lines are collected; `next()` resolves with the next line printed. */
function collecting(afterMs: number) {
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  const notice = new WaitNotice((what) => {
    lines.push(what);
    wake?.();
  }, { afterMs });
  const next = () => new Promise<void>((resolve) => (wake = resolve));
  return { notice, lines, next };
}

Deno.test("WaitNotice says a wait once it passes the threshold, then each new try at once", async () => {
  const { notice, lines, next } = collecting(20);
  using _ = notice;
  const printed = next();
  notice.waiting("127.0.0.9#53 (try 1 of 3)");
  assert.deepEqual(lines, []); // not before the threshold
  await printed;
  assert.deepEqual(lines, ["127.0.0.9#53 (try 1 of 3)"]);
  notice.waiting("127.0.0.9#53 (try 2 of 3)", { continues: true });
  assert.deepEqual(lines.at(-1), "127.0.0.9#53 (try 2 of 3)");
  // A new wait starts silent again.
  notice.waiting("the response from 127.0.0.1:8000");
  assert.equal(lines.length, 2);
  notice.done();
});

Deno.test("WaitNotice says nothing about a wait that ends in time", async () => {
  const quick = collecting(10);
  quick.notice.waiting("a quick answer");
  quick.notice.done();
  // A later, longer wait fires after the quick one's threshold would have: still nothing there.
  const slow = collecting(30);
  const printed = slow.next();
  slow.notice.waiting("a slow answer");
  await printed;
  slow.notice.done();
  assert.deepEqual(quick.lines, []);
  assert.deepEqual(slow.lines, ["a slow answer"]);
});
