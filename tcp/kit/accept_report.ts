/**
 * What a server says about its accept loop (tcp/core/accept.ts), the same in every netlab
 * server: a failed accept as one warning (the loop retries), and an episode of running out of
 * file descriptors as two lines — when it starts, and when accepting works again, with the count
 * of failed tries — never one line per try.
 */
import type { AcceptOptions } from "../core/accept.ts";
import type { Reporter } from "./report.ts";

/** The `onError`/`onExhausted`/`onRecovered` hooks of `acceptLoop`, reporting to `reporter`. */
export function acceptReports(
  reporter: Reporter | undefined,
): Pick<AcceptOptions, "onError" | "onExhausted" | "onRecovered"> {
  return {
    onError: (error) => reporter?.warn(`accept failed: ${error.message}`, "error"),
    onExhausted: (error) =>
      reporter?.warn(
        `accept paused: out of file descriptors (${error.message}); retrying with back-off`,
        "error",
        { accept: "paused" },
      ),
    onRecovered: (failures, pausedMs) =>
      reporter?.warn(
        `accept resumed after ${failures} failed ${
          failures === 1 ? "try" : "tries"
        } in ${pausedMs} ms (out of file descriptors)`,
        "log",
        { accept: "resumed", failures, pausedMs },
      ),
  };
}
