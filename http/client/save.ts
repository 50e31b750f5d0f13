/**
 * Where `-o FILE` writes: a temporary file beside FILE, renamed over it once the body is
 * complete (an interrupted download never leaves half a file under the real name), or — for a
 * device or FIFO such as /dev/null — the file itself.
 */
import { quoteInput } from "../../tcp/core/printable.ts";
import { EXIT, HttpClientError } from "./types.ts";

/**
 * `-o FILE`: the body goes to a temp file beside FILE, renamed over it only when complete. A FILE
 * that exists and is not a regular file (`/dev/null`, a FIFO, a terminal) is written in place, as
 * curl does: renaming over it would replace the device with a regular file. A symlink is followed,
 * so the link stays and its target gets the body.
 */
export interface Output {
  file: Deno.FsFile;
  commit(): Promise<void>;
  discard(): Promise<void>;
}

export async function openOutput(path: string): Promise<Output> {
  let info: Deno.FileInfo | undefined;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      throw new HttpClientError(
        `Cannot write ${quoteInput(path)}: ${errorMessage(error)}`,
        EXIT.WRITE_ERROR,
      );
    }
  }
  if (info && !info.isFile) return await openInPlace(path, info);
  const target = info ? await Deno.realPath(path) : path;
  // A hidden sibling: same directory, so the final rename is atomic and never crosses devices.
  const slash = target.lastIndexOf("/");
  const dir = slash < 0 ? "." : target.slice(0, slash) || "/";
  const base = slash < 0 ? target : target.slice(slash + 1);
  const tempPath = `${dir}/.${base}.${crypto.randomUUID().slice(0, 8)}.part`;
  const { file, close } = await openForOutput(
    path,
    tempPath,
    { write: true, createNew: true, mode: 0o666 },
  );
  return {
    file,
    async commit() {
      close();
      await Deno.rename(tempPath, target);
    },
    async discard() {
      close();
      await Deno.remove(tempPath).catch(() => {});
    },
  };
}

/** Opens `at` (for `-o path`) with a close that may be called twice; a one-line error if not. */
async function openForOutput(
  path: string,
  at: string,
  options: Deno.OpenOptions,
): Promise<{ file: Deno.FsFile; close: () => void }> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(at, options);
  } catch (error) {
    throw new HttpClientError(
      `Cannot write ${quoteInput(path)}: ${errorMessage(error)}`,
      EXIT.WRITE_ERROR,
    );
  }
  let closed = false;
  return {
    file,
    close() {
      if (!closed) file.close();
      closed = true;
    },
  };
}

/** A device, FIFO or other non-regular file: written directly; there is nothing to rename. */
async function openInPlace(path: string, info: Deno.FileInfo): Promise<Output> {
  if (info.isDirectory) {
    throw new HttpClientError(
      `Cannot write ${quoteInput(path)}: it is a directory`,
      EXIT.WRITE_ERROR,
    );
  }
  const { file, close } = await openForOutput(path, path, { write: true });
  return {
    file,
    commit: () => Promise.resolve(close()),
    discard: () => Promise.resolve(close()),
  };
}

/** The message of anything thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
