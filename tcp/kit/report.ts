/**
 * One small reporter per script instead of scattered `console.log` calls. Every human line
 * carries an event name and structured fields, so the same call prints human text, a `--json`
 * event or, with `--explain`, the annotated wire view as well.
 *
 * The `--json` schema, shared by every tool: one JSON object per line with
 * - `ts`: ISO 8601 time, `tool`: the script (`tcp/server`, `dns/query`, …),
 * - `event`: what happened — `listening`, `connected`, `disconnected`, `sent`, `received`,
 *   `query`, `answer`, `referral`, `request`, `response`, `progress`, `saved`, `explain`,
 *   `stats` (a measurement summary, e.g. RTT min/median/p99/max), `result` (what an experiment
 *   or a calculation found), `error`, `log` (anything else),
 * - `text`: the line a human would have seen,
 * - then the event's own fields (addresses as `"127.0.0.1:8080"`, sizes in bytes, times in ms).
 */
import { type LogWriter, stdoutLog } from "./log.ts";

/** Every event name the schema allows (tests check `--json` output against it). */
export const EVENT_NAMES: readonly string[] = [
  "listening",
  "connected",
  "disconnected",
  "sent",
  "received",
  "query",
  "answer",
  "referral",
  "request",
  "response",
  "progress",
  "saved",
  "explain",
  "stats",
  "result",
  "error",
  "log",
];

/** Structured detail attached to a reported line. */
export type Fields = Record<string, unknown>;

/** Where a reporter writes; tests pass arrays to capture output. */
export interface ReportSink {
  out(line: string): void;
  err(line: string): void;
}

/** What a script reports through. */
export interface Reporter {
  /** A normal line on stdout, e.g. `info("listening on 127.0.0.1:8080", "listening", {…})`. */
  info(text: string, event?: string, fields?: Fields): void;
  /** A warning or per-connection failure on stderr; the program goes on. */
  warn(text: string, event?: string, fields?: Fields): void;
  /** True when `--explain` was given: callers build the annotated view only then. */
  readonly explaining: boolean;
  /** An annotated wire view (from `tcp/kit/explain.ts`); printed only under `--explain`. */
  explain(view: string, fields?: Fields): void;
  /**
   * The batched writer behind `info` when it prints plain lines to stdout (not JSON, not quiet):
   * a busy server with a line's bytes at hand writes them there without making a string.
   */
  readonly lineWriter?: LogWriter;
}

/** Options for `createReporter`. */
export interface ReporterOptions {
  /** Print newline-delimited JSON events instead of human text. */
  json?: boolean;
  /** Print nothing on stdout (e.g. `--quiet` for benchmarks); warnings still go to stderr. */
  quiet?: boolean;
  /** Print the annotated wire views passed to `explain`. */
  explain?: boolean;
  /**
   * Write stdout lines in batches (tcp/kit/log.ts): one write per 64 KiB or 20 ms instead of one
   * per line. For servers' per-request logs; the bytes and their order are the same.
   */
  batched?: boolean;
  sink?: ReportSink;
}

const consoleSink: ReportSink = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
};

/**
 * stdout through the process's batched log writer; stderr (rare warnings) stays direct, after
 * the stdout lines written before it.
 */
function batchedSink(): ReportSink {
  const log = stdoutLog();
  return {
    out: (line) => log.line(line),
    err: (line) => {
      log.flush();
      console.error(line);
    },
  };
}

/** Creates the reporter for `tool` (the script's name, e.g. `tcp/server`). */
export function createReporter(tool: string, options: ReporterOptions = {}): Reporter {
  const sink = options.sink ?? (options.batched ? batchedSink() : consoleSink);
  const emit = (to: "out" | "err", text: string, event = "log", fields: Fields = {}) => {
    if (options.json) {
      sink.out(JSON.stringify({ ts: new Date().toISOString(), tool, event, ...fields, text }));
    } else {
      sink[to](text);
    }
  };
  return {
    info(text, event, fields) {
      if (!options.quiet) emit("out", text, event, fields);
    },
    warn(text, event = "error", fields) {
      emit("err", text, event, fields);
    },
    explaining: options.explain ?? false,
    lineWriter: options.batched && !options.sink && !options.json && !options.quiet
      ? stdoutLog()
      : undefined,
    explain(view, fields) {
      if (options.explain) emit("out", view, "explain", fields);
    },
  };
}
