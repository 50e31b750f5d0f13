/**
 * Where a received body lands before it gets its name: a temporary file in DEST
 * (`.netlab-partial-<random>`) that becomes the target only through `commit`, and is removed
 * otherwise — or, with `--resume`, the resumable partial file (`.NAME.netlab-partial-<16 hex>`,
 * derived from the file's name and digest) that a cut transfer leaves behind. Next time its bytes
 * are hashed (streamed) and the sender is asked only for the rest, so the digest check at the end
 * still covers the whole file. A partial longer than announced starts over; a digest mismatch
 * removes it, so a wrong file never gets the final name.
 */
import type { createHash } from "node:crypto";
import { posix } from "node:path";
import { quoteName, resumablePartialName } from "../file_protocol.ts";
import { writeAll } from "../io.ts";
import { CHUNK_SIZE, type FileSummary, TransferError } from "./wire.ts";

/** Prefix of temporary files in DEST; they never carry a final name. */
export const PARTIAL_PREFIX = ".netlab-partial-";

/** What the receiver decided about a resumable partial file before the body. */
export interface ResumeNote {
  name: string;
  size: number;
  /** Bytes kept and hashed; the body starts here. */
  offset: number;
  /** The partial file's path. */
  path: string;
  /** Why it did not resume (when `offset` is 0 though a partial existed), for humans. */
  note?: string;
}

export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

export function alreadyExists(name: string, dir: string): string {
  return `File ${quoteName(name)} already exists in ${quoteName(dir)} (use --force to overwrite)`;
}

async function removeQuietly(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/**
 * A temporary file in DEST that becomes `target` only through `commit`. Disposing it removes
 * whatever was not committed — unless it is resumable, then a cut transfer's bytes stay for the
 * next run.
 */
export class PartialFile implements AsyncDisposable {
  readonly path: string;
  #file: Deno.FsFile | undefined;
  #committed = false;
  #keep: boolean;

  private constructor(file: Deno.FsFile, path: string, keep: boolean) {
    this.path = path;
    this.#file = file;
    this.#keep = keep;
  }

  static async create(dir: string): Promise<PartialFile> {
    const random = Array.from(
      crypto.getRandomValues(new Uint8Array(8)),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    const path = posix.join(dir, `${PARTIAL_PREFIX}${random}`);
    const file = await Deno.open(path, { write: true, createNew: true });
    return new PartialFile(file, path, false);
  }

  /**
   * Opens (or creates) the resumable partial file for one announced file. With `useBytes`, the
   * bytes already in it are fed to `hash` (streamed in `CHUNK_SIZE` pieces, `kick`ed per piece)
   * and writing continues after them; otherwise, or if it holds more than `size` bytes, it is
   * emptied. A path that is not a regular file (a symlink planted there) is refused.
   */
  static async openResumable(
    dir: string,
    header: FileSummary,
    useBytes: boolean,
    hash: ReturnType<typeof createHash>,
    kick: () => void,
  ): Promise<{ partial: PartialFile; offset: number; note?: string }> {
    const path = posix.join(dir, resumablePartialName(header.name, header.sha256));
    let info: Deno.FileInfo | undefined;
    try {
      info = await Deno.lstat(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    if (!info) {
      const file = await Deno.open(path, { write: true, createNew: true });
      return { partial: new PartialFile(file, path, true), offset: 0 };
    }
    if (!info.isFile) {
      throw new TransferError(`${JSON.stringify(path)} is not a regular file: remove it and retry`);
    }
    const file = await Deno.open(path, { read: true, write: true });
    const partial = new PartialFile(file, path, true);
    let note: string | undefined;
    if (info.size > header.size) {
      note = `partial file holds ${info.size} bytes, more than the ${header.size} announced: ` +
        "starting over";
    } else if (!useBytes && info.size > 0) {
      note = "the sender does not offer resume (start it with --resume): starting over";
    }
    if (note !== undefined || !useBytes || info.size === 0) {
      await file.truncate(0);
      return { partial, offset: 0, note };
    }
    try {
      const buffer = new Uint8Array(CHUNK_SIZE);
      let offset = 0;
      while (offset < info.size) {
        const got = await file.read(buffer.subarray(0, Math.min(CHUNK_SIZE, info.size - offset)));
        if (got === null) break;
        hash.update(buffer.subarray(0, got));
        offset += got;
        kick();
      }
      await file.seek(offset, Deno.SeekMode.Start);
      return { partial, offset };
    } catch (error) {
      file.close();
      throw error;
    }
  }

  async write(chunk: Uint8Array): Promise<void> {
    await writeAll(this.#file!, chunk);
  }

  #closeFile(): void {
    this.#file?.close();
    this.#file = undefined;
  }

  /** Removes it even if resumable (its bytes proved wrong). */
  discard(): void {
    this.#keep = false;
  }

  /**
   * Gives the data its final name. Without `force` a hard link is made (it fails instead of
   * replacing a file that appeared meanwhile); with `force` a rename replaces atomically.
   */
  async commit(target: string, force: boolean): Promise<void> {
    this.#closeFile();
    if (force) {
      await Deno.rename(this.path, target);
    } else {
      try {
        await Deno.link(this.path, target);
      } catch (error) {
        if (error instanceof Deno.errors.AlreadyExists) throw error;
        // File systems without hard links: check, then rename (a small race, no silent loss).
        if (await exists(target)) throw new Deno.errors.AlreadyExists(target);
        await Deno.rename(this.path, target);
        this.#committed = true;
        return;
      }
      await Deno.remove(this.path);
    }
    this.#committed = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#closeFile();
    if (!this.#committed && !this.#keep) await removeQuietly(this.path);
  }
}
