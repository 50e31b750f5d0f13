/** Every tcp/ script's `--help` in the one shape (tests/_help_shape.ts). */
import assert from "node:assert/strict";
import { assertHelpShape, lessonScripts } from "../_help_shape.ts";

Deno.test("--help of every tcp/ script: Usage: deno task NAME, -h, --help, exit codes", async () => {
  const scripts = lessonScripts("tcp");
  assert.ok(scripts.length >= 11, scripts.join(" "));
  await Promise.all(scripts.map(assertHelpShape));
});
