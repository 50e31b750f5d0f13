/**
 * The receiving side of a file transfer (tcp/file_recv.ts, in both directions): it reads each
 * header, refuses unsafe or existing names (discarding that body so the stream stays in step),
 * and otherwise streams the body into a partial file in DEST (./resume.ts) while hashing it: a
 * chunk is hashed on the main thread while the previous one is being written (Deno's blocking
 * pool), at most one write in flight, so memory stays at two buffers and TCP's window pushes back
 * on a fast sender. Only when size and SHA-256 match does the file get its final name (a hard
 * link, which cannot overwrite, or a rename with `--force`); any failure removes it, except a
 * resumable partial, which stays for the next run.
 */
import { createHash } from "node:crypto";
import {
  decodeHeader,
  encodeAck,
  encodeResume,
  pathInside,
  quoteName,
  UnsafeNameError,
} from "../file_protocol.ts";
import { alreadyExists, exists, PartialFile, type ResumeNote } from "./resume.ts";
import {
  ConnGuard,
  DEFAULT_IDLE_TIMEOUT_MS,
  type FileSummary,
  readFrame,
  TransferError,
  type TransferOptions,
  WireReader,
  writeFrame,
} from "./wire.ts";

/** A file that arrived intact and now has its final name. */
export interface ReceivedFile extends FileSummary {
  /** Where it was saved (DEST joined with the name). */
  path: string;
  elapsedMs: number;
  /** Bytes that were already in the partial file (resume); 0 for a whole transfer. */
  resumedFrom: number;
}

/** A file the receiver refused (unsafe name, exists, digest mismatch); the session went on. */
export interface RefusedFile {
  name: string;
  error: string;
}

/** Options for `receiveFiles`. */
export interface ReceiveOptions extends TransferOptions {
  /** Destination folder (must exist). Default `.`. */
  dir?: string;
  /** Replace an existing file of the same name. */
  force?: boolean;
  /**
   * Keep a cut file's bytes in `.NAME.netlab-partial-<16 hex>` and, when the sender offers
   * resume, continue from them (their digest is part of the final check).
   */
  resume?: boolean;
  onFile?: (file: ReceivedFile) => void;
  onRefused?: (file: RefusedFile) => void;
  /** Called before each body when `resume` is on. */
  onResume?: (note: ResumeNote) => void;
}

/** What one receiving session produced. */
export interface ReceiveResult {
  received: ReceivedFile[];
  refused: RefusedFile[];
}

/**
 * Receives files in the netlab wire format into `options.dir` until the end frame, acking each.
 * Refused files (unsafe or existing name, digest mismatch) are acked with an error and the
 * session goes on; a broken stream throws `TransferError`/`FileProtocolError` and leaves no
 * partial file behind (with `resume`: the resumable partial stays). Closes `conn`.
 */
export async function receiveFiles(
  conn: Deno.Conn,
  options: ReceiveOptions = {},
): Promise<ReceiveResult> {
  const dir = options.dir ?? ".";
  const { wire } = options;
  using guard = new ConnGuard(
    conn,
    options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    options.signal,
    options.onWaiting,
  );
  const reader = new WireReader(conn, guard, { receiving: true });
  const result: ReceiveResult = { received: [], refused: [] };
  const refuse = async (name: string, error: string) => {
    result.refused.push({ name, error });
    options.onRefused?.({ name, error });
    await writeFrame(conn, encodeAck({ ok: false, error }), wire);
  };
  try {
    for (let files = 0;; files++) {
      guard.waitingFor = `the sender's ${files === 0 ? "first" : "next"} file header`;
      const frame = await readFrame(reader, wire);
      guard.waitingFor = undefined; // a body's progress line shows a stall
      if (frame === null) {
        throw new TransferError("connection closed before the end-of-files frame");
      }
      const header = decodeHeader(frame);
      if (header.type === "end") return result;
      const { name, size, sha256 } = header;
      const offered = header.resume === true;
      const started = performance.now();

      let target: string | undefined;
      let refusal: string | undefined;
      try {
        target = pathInside(dir, name);
      } catch (error) {
        if (!(error instanceof UnsafeNameError)) throw error;
        refusal = error.message;
      }
      if (target !== undefined && !options.force && await exists(target)) {
        refusal = alreadyExists(name, dir);
      }
      if (refusal !== undefined || target === undefined) {
        if (!offered) {
          // Skip the body without storing it, so the next header is read in step.
          const skipped = await reader.readBody(size);
          if (skipped < size) throw shortBody(name, skipped, size);
        } // else: the error ack answers the offer, and no body follows.
        await refuse(name, refusal ?? "refused");
        continue;
      }

      const hash = createHash("sha256");
      let offset = 0;
      let partial: PartialFile;
      if (options.resume) {
        const opened = await PartialFile.openResumable(
          dir,
          header,
          offered,
          hash,
          () => guard.kick(),
        );
        ({ partial, offset } = opened);
        options.onResume?.({ name, size, offset, path: partial.path, note: opened.note });
      } else {
        partial = await PartialFile.create(dir);
      }
      await using _partial = partial;
      if (offered) await writeFrame(conn, encodeResume(offset), wire);
      wire?.({ direction: "received", body: { name, bytes: size - offset, offset, size } });
      const progress = options.progress?.(name, size, { from: offset });
      let received = offset;
      try {
        await reader.readBody(size - offset, {
          inspect: (chunk) => {
            hash.update(chunk);
            received += chunk.length;
            progress?.update(received);
          },
          store: (chunk) => partial.write(chunk),
        });
      } finally {
        progress?.finish();
      }
      if (received < size) {
        throw options.resume
          ? new TransferError(
            `connection closed after ${received} of ${size} bytes of ${quoteName(name)}: kept in ${
              JSON.stringify(partial.path)
            }, run again with --resume to continue`,
          )
          : shortBody(name, received, size);
      }
      const digest = hash.digest("hex");
      if (digest !== sha256) {
        partial.discard();
        const kept = offset > 0
          ? ` (the first ${offset} bytes came from the partial file, now removed: ` +
            "run again to transfer it from the start)"
          : "";
        await refuse(
          name,
          `SHA-256 mismatch for ${
            quoteName(name)
          }: received ${digest}, header announced ${sha256}${kept}`,
        );
        continue;
      }
      try {
        await partial.commit(target, options.force ?? false);
      } catch (error) {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
        await refuse(name, alreadyExists(name, dir));
        continue;
      }
      const file = {
        name,
        size,
        sha256,
        path: target,
        elapsedMs: performance.now() - started,
        resumedFrom: offset,
      };
      result.received.push(file);
      options.onFile?.(file);
      await writeFrame(conn, encodeAck({ ok: true, sha256: digest }), wire);
    }
  } catch (error) {
    throw guard.explain(error);
  }
}

function shortBody(name: string, received: number, size: number): TransferError {
  return new TransferError(
    `connection closed after ${received} of ${size} bytes of ${quoteName(name)}: nothing saved`,
  );
}
