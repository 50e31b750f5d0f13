/**
 * netlab scripts run as child processes — the demo's servers, the lab's experiments, the
 * mini-Internet's name servers: one way to start them, and one way to read what they print.
 *
 * A child's pipes are read for its whole life (a full pipe would block a chatty child), line by
 * line with a bound on each line, and only a bounded tail of its stderr is kept: its last line
 * says why a child failed to start.
 */
import { DelimiterDecoder, FrameTooLargeError } from "../core/framing.ts";

const REPO_ROOT = new URL("../..", import.meta.url).pathname;

/** The longest line read from a child; a longer one ends the reading of that pipe. */
export const MAX_CHILD_LINE_BYTES = 256 * 1024;

/** How much of a child's stderr `stderrTail` keeps. */
export const STDERR_TAIL_CHARS = 4000;

/**
 * Starts `deno run -A script args…` from the repository root (`script` relative to it, or
 * absolute), stdin closed, stdout and stderr piped, without colours or update checks.
 */
export function spawnDenoScript(script: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", new URL(script, `file://${REPO_ROOT}`).pathname, ...args],
    cwd: REPO_ROOT,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Calls `onLine` for every line of `stream` (each at most `MAX_CHILD_LINE_BYTES`); ends at EOF. */
export async function forwardLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  const decoder = new DelimiterDecoder("\n", { maxFrameSize: MAX_CHILD_LINE_BYTES });
  const text = new TextDecoder();
  try {
    for await (const chunk of stream) {
      for (const frame of decoder.push(chunk)) onLine(text.decode(frame));
    }
    const rest = decoder.finish();
    if (rest) onLine(text.decode(rest));
  } catch (error) {
    if (!(error instanceof FrameTooLargeError)) throw error;
    onLine(`(a line longer than ${MAX_CHILD_LINE_BYTES} bytes was dropped; the rest too)`);
    await stream.cancel().catch(() => {});
  }
}

/** Reads `stream` to its end, keeping its last `STDERR_TAIL_CHARS` characters. */
export function stderrTail(stream: ReadableStream<Uint8Array>): {
  text(): string;
  /** Its last non-empty line ("" when there is none). */
  lastLine(): string;
  done: Promise<void>;
} {
  let tail = "";
  const done = (async () => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      tail = (tail + chunk).slice(-STDERR_TAIL_CHARS);
    }
  })();
  return { text: () => tail, lastLine: () => tail.trim().split("\n").at(-1) ?? "", done };
}
