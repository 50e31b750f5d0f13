/**
 * netlab's one progress bar (file transfer, HTTP downloads): bytes, percent, rate and ETA on one
 * stderr line, redrawn at most ~10 times a second, and only when stderr is a terminal — piped or
 * redirected output never sees it.
 *
 * `formatProgress` is pure (tested on its own); `createProgressBar` adds the clock and the
 * terminal.
 */

/** Redraw at most this often (ms): ~10×/s is smooth to the eye and costs nothing. */
export const PROGRESS_INTERVAL_MS = 100;

const BAR_WIDTH = 20;
const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** `0 B`, `1023 B`, `1.5 KiB`, `12.3 MiB`, `4.00 GiB` (binary units, 3 significant digits). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 1024) return `${Math.max(0, Math.round(bytes || 0))} B`;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** `0:07`, `12:34`, `1:02:03`; `--:--` when unknown (no rate yet). */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** What one progress line shows. */
export interface ProgressState {
  /** Shown first, e.g. the file name. */
  label: string;
  /** Bytes done so far. */
  done: number;
  /** Bytes expected in all, or `undefined` when unknown (no percent, bar or ETA then). */
  total?: number;
  /** Milliseconds since the transfer started. */
  elapsedMs: number;
  /** Bytes already done when it started (a resumed file): they do not count toward the rate. */
  from?: number;
}

/**
 * One progress line, e.g.
 * `photo.jpg [########------------]  40%  40.0 MiB / 100 MiB  120 MiB/s  ETA 0:01`.
 */
export function formatProgress(
  { label, done, total, elapsedMs, from = 0 }: ProgressState,
): string {
  const seconds = elapsedMs / 1000;
  const rate = seconds > 0 ? Math.max(0, done - from) / seconds : 0;
  const rateText = seconds > 0 ? `${formatBytes(rate)}/s` : "-- B/s";
  if (total === undefined) return `${label}  ${formatBytes(done)}  ${rateText}`;
  const fraction = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(fraction * BAR_WIDTH);
  const bar = "#".repeat(filled) + "-".repeat(BAR_WIDTH - filled);
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  const eta = done >= total ? 0 : rate > 0 ? (total - done) / rate : Number.NaN;
  return `${label} [${bar}] ${percent}  ${formatBytes(done)} / ${
    formatBytes(total)
  }  ${rateText}  ETA ${formatDuration(eta)}`;
}

/** A live progress bar; every method is a no-op when stderr is not a terminal. */
export interface ProgressBar {
  /** Reports bytes done; redraws if the last redraw is more than ~100 ms old. */
  update(done: number): void;
  /** Clears the line (call before printing the result line, and on failure). */
  finish(): void;
}

const noProgress: ProgressBar = { update() {}, finish() {} };
const encoder = new TextEncoder();

function writeStderr(text: string): void {
  const bytes = encoder.encode(text);
  for (let at = 0; at < bytes.length;) at += Deno.stderr.writeSync(bytes.subarray(at));
}

/** Options for `createProgressBar`. */
export interface ProgressOptions {
  /** Force drawing on or off; default: only when stderr is a terminal. */
  enabled?: boolean;
  /** Bytes already done before this run (a resumed transfer; see `ProgressState.from`). */
  from?: number;
}

/** Starts a progress bar for `label` (`total` bytes, if known) on stderr. */
export function createProgressBar(
  label: string,
  total: number | undefined,
  options: ProgressOptions = {},
): ProgressBar {
  if (!(options.enabled ?? Deno.stderr.isTerminal())) return noProgress;
  const started = performance.now();
  let lastDraw = 0;
  let drawn = false;
  const draw = (line: string) => {
    // \r + clear-to-end-of-line: redraw in place without scrolling.
    writeStderr(`\r\x1b[K${line}`);
    drawn = true;
  };
  return {
    update(done) {
      const now = performance.now();
      if (now - lastDraw < PROGRESS_INTERVAL_MS) return;
      lastDraw = now;
      draw(formatProgress({ label, done, total, elapsedMs: now - started, from: options.from }));
    },
    finish() {
      if (drawn) writeStderr("\r\x1b[K");
      drawn = false;
    },
  };
}

/** `--json` progress events at most this often (ms): ~2/s keeps an event stream readable. */
export const PROGRESS_EVENT_INTERVAL_MS = 500;

/** One progress sample for a `--json` `progress` event. */
export interface ProgressSample {
  label: string;
  done: number;
  total: number | undefined;
  elapsedMs: number;
  /** `formatProgress`'s line for the same state (the event's `text`). */
  text: string;
}

/** Options for `createEventProgress`. */
export interface EventProgressOptions {
  /** Minimum time between samples (default `PROGRESS_EVENT_INTERVAL_MS`). */
  intervalMs?: number;
  /** The clock (tests pass a fake one). */
  now?: () => number;
  /** Bytes already done before this run (see `ProgressState.from`). */
  from?: number;
}

/**
 * A progress "bar" for `--json`: instead of drawing, calls `emit` with a sample at most every
 * `intervalMs` (the first after one interval, so short transfers emit none). `finish` emits
 * nothing: the caller's result event (`saved`, `sent`) follows.
 */
export function createEventProgress(
  label: string,
  total: number | undefined,
  emit: (sample: ProgressSample) => void,
  options: EventProgressOptions = {},
): ProgressBar {
  const intervalMs = options.intervalMs ?? PROGRESS_EVENT_INTERVAL_MS;
  const now = options.now ?? (() => performance.now());
  const started = now();
  let last = started;
  return {
    update(done) {
      const at = now();
      if (at - last < intervalMs) return;
      last = at;
      const elapsedMs = at - started;
      emit({
        label,
        done,
        total,
        elapsedMs,
        text: formatProgress({ label, done, total, elapsedMs, from: options.from }),
      });
    },
    finish() {},
  };
}
