import assert from "node:assert/strict";
import { onAbort } from "../../tcp/core/abort.ts";

Deno.test("onAbort runs the stop hook for a signal that aborted before it was installed", () => {
  const controller = new AbortController();
  controller.abort();
  let stops = 0;
  onAbort(controller.signal, () => stops++);
  assert.equal(stops, 1);
});

Deno.test("onAbort runs the stop hook once, when the signal aborts later", () => {
  const controller = new AbortController();
  let stops = 0;
  onAbort(controller.signal, () => stops++);
  assert.equal(stops, 0);
  controller.abort();
  controller.abort();
  assert.equal(stops, 1);
  onAbort(undefined, () => stops++);
  assert.equal(stops, 1);
});
