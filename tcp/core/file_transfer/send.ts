/**
 * The sending side of a file transfer (tcp/file_send.ts, in both directions): each file is
 * hashed once (cached until its size or mtime changes), announced in a header frame, streamed —
 * exactly `size` bytes, by sendfile where possible (tcp/core/send_file.ts) — and acknowledged by
 * the receiver before the next file; an end frame closes the session.
 *
 * Resume (tcp/core/file_protocol.ts has the handshake): a sender with `resume` offers it in each
 * header and waits for the receiver's `{"resume": OFFSET}` (or an error ack: no body), then sends
 * from OFFSET.
 */
import { createHash } from "node:crypto";
import { posix } from "node:path";
import {
  type Ack,
  checkSafeName,
  decodeAck,
  decodeResumeAnswer,
  encodeEndHeader,
  encodeFileHeader,
  quoteName,
} from "../file_protocol.ts";
import { FileShrankError, sendFileRange } from "../send_file.ts";
import type { ProgressBar } from "../../kit/progress.ts";
import {
  CHUNK_SIZE,
  ConnGuard,
  DEFAULT_IDLE_TIMEOUT_MS,
  type FileSummary,
  readFrame,
  TransferError,
  type TransferOptions,
  WireReader,
  writeFrame,
} from "./wire.ts";

/** SHA-256 (hex) of a file, streamed in `CHUNK_SIZE` chunks. */
export async function hashFile(path: string): Promise<string> {
  using file = await Deno.open(path, { read: true });
  const hash = createHash("sha256");
  const buffer = new Uint8Array(CHUNK_SIZE);
  while (true) {
    const got = await file.read(buffer);
    if (got === null) break;
    hash.update(buffer.subarray(0, got));
  }
  return hash.digest("hex");
}

/**
 * A file offered by a sender. Its digest is computed once and shared by every client, and
 * recomputed only when the file's size or modification time changes.
 */
export class OfferedFile {
  #cache: { size: number; mtime: number; sha256: Promise<string> } | undefined;

  /** `name` defaults to the path's last component (what the receiver will save it as). */
  constructor(readonly path: string, readonly name = posix.basename(path)) {
    checkSafeName(this.name);
  }

  /** Current size and digest (hashing the file if it is new or changed). */
  async describe(): Promise<FileSummary> {
    const info = await Deno.stat(this.path);
    if (!info.isFile) throw new TransferError(`${quoteName(this.path)} is not a regular file`);
    const mtime = info.mtime?.getTime() ?? 0;
    const cached = this.#cache;
    if (!cached || cached.size !== info.size || cached.mtime !== mtime) {
      const sha256 = hashFile(this.path);
      const entry = { size: info.size, mtime, sha256 };
      this.#cache = entry;
      sha256.catch(() => {
        if (this.#cache === entry) this.#cache = undefined;
      });
    }
    const entry = this.#cache!;
    return { name: this.name, size: entry.size, sha256: await entry.sha256 };
  }
}

/** The receiver's verdict on one sent file. */
export interface SentFile extends FileSummary {
  ack: Ack;
  elapsedMs: number;
  /** Where the body started (the receiver already held this many bytes; 0 without resume). */
  resumedFrom: number;
  /** Body bytes actually sent (`size - resumedFrom`, or 0 when refused before the body). */
  bytesSent: number;
}

/** Options for `sendFiles`. */
export interface SendOptions extends TransferOptions {
  /** Called after each file's ack. */
  onFile?: (sent: SentFile) => void;
  /**
   * Offer resume in every header and wait for the receiver's answer before each body. Only for
   * receivers that speak the handshake: one that does not would wait for the body forever.
   */
  resume?: boolean;
  /** Send bodies with sendfile(2) when possible (default true); false: read/write copies. */
  zeroCopy?: boolean;
}

/**
 * Streams exactly `size - offset` bytes of `path`, from `offset`, to the connection
 * (sendfile(2) where possible, which takes about a third of the CPU; else a copy loop); fails if
 * the file shrank.
 */
async function sendBody(
  conn: Deno.Conn,
  guard: ConnGuard,
  summary: FileSummary,
  path: string,
  progress: ProgressBar | undefined,
  { offset = 0, zeroCopy = true }: { offset?: number; zeroCopy?: boolean } = {},
): Promise<void> {
  try {
    await sendFileRange(conn, { path, start: offset, length: summary.size - offset }, {
      zeroCopy,
      chunkSize: CHUNK_SIZE,
      closed: () => guard.closed,
      onProgress: (sent) => {
        guard.kick();
        progress?.update(offset + sent);
      },
    });
  } catch (error) {
    if (!(error instanceof FileShrankError)) throw error;
    throw new TransferError(
      `${quoteName(path)} shrank while being sent (${
        offset + error.sent
      } of ${summary.size} bytes)`,
    );
  }
}

/**
 * Sends `files` over `conn` in the netlab wire format, waiting for each ack, then the end frame.
 * Returns every file's ack (refusals included); throws on a broken connection. Closes `conn`.
 */
export async function sendFiles(
  conn: Deno.Conn,
  files: OfferedFile[],
  options: SendOptions = {},
): Promise<SentFile[]> {
  using guard = new ConnGuard(
    conn,
    options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    options.signal,
    options.onWaiting,
  );
  const reader = new WireReader(conn, guard);
  const { wire } = options;
  const results: SentFile[] = [];
  const done = (sent: SentFile) => {
    results.push(sent);
    options.onFile?.(sent);
  };
  try {
    for (const file of files) {
      const summary = await file.describe();
      guard.kick();
      const started = performance.now();
      const header = options.resume ? { ...summary, resume: true as const } : summary;
      await writeFrame(conn, encodeFileHeader(header), wire);
      let offset = 0;
      if (options.resume) {
        guard.waitingFor = `the receiver's answer to the resume offer for ${
          quoteName(summary.name)
        }`;
        const payload = await readFrame(reader, wire);
        guard.waitingFor = undefined;
        if (payload === null) {
          throw new TransferError(
            `receiver closed the connection before answering the resume offer for ${
              quoteName(summary.name)
            }`,
          );
        }
        const answer = decodeResumeAnswer(payload, summary.size);
        if (answer.type === "refused") {
          const elapsedMs = performance.now() - started;
          const ack: Ack = { ok: false, error: answer.error };
          done({ ...summary, ack, elapsedMs, resumedFrom: 0, bytesSent: 0 });
          continue;
        }
        offset = answer.offset;
      }
      wire?.({
        direction: "sent",
        body: { name: summary.name, bytes: summary.size - offset, offset, size: summary.size },
      });
      const progress = options.progress?.(summary.name, summary.size, { from: offset });
      try {
        await sendBody(conn, guard, summary, file.path, progress, {
          offset,
          zeroCopy: options.zeroCopy,
        });
      } finally {
        progress?.finish();
      }
      guard.waitingFor = `the receiver's ack of ${quoteName(summary.name)}`;
      const frame = await readFrame(reader, wire);
      guard.waitingFor = undefined;
      if (frame === null) {
        throw new TransferError(
          `receiver closed the connection before acknowledging ${quoteName(summary.name)}`,
        );
      }
      done({
        ...summary,
        ack: decodeAck(frame),
        elapsedMs: performance.now() - started,
        resumedFrom: offset,
        bytesSent: summary.size - offset,
      });
    }
    await writeFrame(conn, encodeEndHeader(), wire);
    return results;
  } catch (error) {
    throw guard.explain(error);
  }
}
