/**
 * How the file-transfer scripts (tcp/file_send.ts, tcp/file_recv.ts) show a transfer beyond
 * their result lines: `--explain` annotates every header, ack and resume frame (from the
 * protocol's own descriptions) and names each body by its size; `--json` reports progress as
 * events.
 */
import { explainBytes } from "./explain.ts";
import { createEventProgress } from "./progress.ts";
import type { Reporter } from "./report.ts";
import { describeFrame, quoteName } from "../core/file_protocol.ts";
import type { ProgressFactory, WireEvent } from "../core/file_transfer/wire.ts";

/**
 * The `--explain` view of the wire for one peer: each frame annotated by `describeFrame`, each
 * body as one line (its size, never its bytes). `undefined` unless the reporter is explaining,
 * so nothing is built otherwise.
 */
export function explainWire(
  reporter: Reporter,
  peer: string,
): ((event: WireEvent) => void) | undefined {
  if (!reporter.explaining) return undefined;
  return (event) => {
    const toFrom = event.direction === "sent" ? `sent to ${peer}` : `received from ${peer}`;
    if ("frame" in event) {
      const { frame } = event;
      reporter.explain(
        explainBytes(frame, describeFrame(frame), {
          title: `frame ${toFrom}, ${frame.length} bytes`,
        }),
        { peer, direction: event.direction, bytes: frame.length },
      );
      return;
    }
    const { name, bytes, offset, size } = event.body;
    const range = bytes === 0
      ? "no bytes"
      : `bytes ${offset}…${size - 1} of ${size}${offset > 0 ? ` (resumed at ${offset})` : ""}`;
    reporter.explain(
      `body ${toFrom}: ${bytes} raw bytes of ${quoteName(name)}, ${range} — ` +
        "the file itself, not framed and not shown",
      { peer, direction: event.direction, name, bytes, offset, size },
    );
  };
}

/** `--json` progress: a `progress` event at most ~2/s per file, with `fields` added. */
export function progressEvents(
  reporter: Reporter,
  fields: Record<string, unknown>,
): ProgressFactory {
  return (label, total, options) =>
    createEventProgress(
      label,
      total,
      ({ done, elapsedMs, text }) =>
        reporter.info(text, "progress", {
          ...fields,
          name: label,
          bytes: done,
          size: total,
          ms: Math.round(elapsedMs),
        }),
      { from: options?.from },
    );
}
