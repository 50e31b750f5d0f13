/**
 * Seed 003's file-transfer protocol, for interoperability with the tutorial's Python programs
 * only: the name, sleep(0.1), the file in 1024-byte writes, sleep(0.1), `##`, then the ack text
 * 接收完成. It frames by timing, so it cannot tell a `##` chunk from the end marker
 * (`SEED_PROTOCOL_WARNING`); the receiver here is made safe otherwise (a checked name, a
 * temporary file renamed only at `##`, EOF before `##` an error instead of a spin).
 */
import { createHash } from "node:crypto";
import {
  FRAMED_SENDER_HINT,
  isSeedEndMarker,
  looksLikeFramedHeader,
  pathInside,
  quoteName,
  SEED_ACK,
  SEED_CHUNK_SIZE,
  UnsafeNameError,
} from "../file_protocol.ts";
import { pause, writeAll } from "../io.ts";
import { alreadyExists, exists, PartialFile } from "./resume.ts";
import type { ReceivedFile, ReceiveOptions } from "./receive.ts";
import type { OfferedFile } from "./send.ts";
import {
  ConnGuard,
  DEFAULT_IDLE_TIMEOUT_MS,
  type FileSummary,
  readUpTo,
  TransferError,
  type TransferOptions,
} from "./wire.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Seed 003's pause between the name, the data and `##` (it frames by timing — see warning). */
export const SEED_PAUSE_MS = 100;

/**
 * Seed 003's sender: the name, sleep(0.1), the file in 1024-byte writes, sleep(0.1), `##`, then
 * the receiver's ack text (read until it closes, at most 1024 bytes, as its `recv(1024)`).
 * Closes `conn`.
 */
export async function sendSeedProtocol(
  conn: Deno.Conn,
  file: OfferedFile,
  options: TransferOptions = {},
): Promise<{ summary: FileSummary; ack: string }> {
  using guard = new ConnGuard(
    conn,
    options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    options.signal,
    options.onWaiting,
  );
  try {
    const summary = await file.describe();
    await writeAll(conn, encoder.encode(file.name));
    await pause(SEED_PAUSE_MS, options.signal);
    using source = await Deno.open(file.path, { read: true });
    const chunk = new Uint8Array(SEED_CHUNK_SIZE);
    while (true) {
      const got = await source.read(chunk);
      if (got === null) break;
      await writeAll(conn, chunk.subarray(0, got));
      guard.kick();
    }
    await pause(SEED_PAUSE_MS, options.signal);
    await writeAll(conn, encoder.encode("##"));
    guard.kick();
    guard.waitingFor = `the receiver's ack (${SEED_ACK})`;
    const ack = decoder.decode(await readUpTo(conn, SEED_CHUNK_SIZE));
    return { summary, ack };
  } catch (error) {
    throw guard.explain(error);
  }
}

/**
 * Seed 003's receiver, made safe: the first read (≤ 1024 bytes) is the name, which must pass
 * `checkSafeName`; then reads of ≤ 1024 bytes are data until one equals `##`; EOF before that
 * is an error (the seed spun forever). Data goes to a temporary file that is renamed at `##`;
 * then `接收完成` is sent. Closes `conn`.
 */
export async function receiveSeedProtocol(
  conn: Deno.Conn,
  options: Omit<ReceiveOptions, "onFile" | "onRefused"> = {},
): Promise<ReceivedFile> {
  const dir = options.dir ?? ".";
  using guard = new ConnGuard(
    conn,
    options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    options.signal,
    options.onWaiting,
  );
  try {
    const chunk = new Uint8Array(SEED_CHUNK_SIZE);
    guard.waitingFor = "the sender's file name";
    const first = await conn.read(chunk);
    guard.waitingFor = undefined;
    if (first === null) throw new TransferError("connection closed before the file name arrived");
    if (looksLikeFramedHeader(chunk.subarray(0, first))) {
      throw new TransferError(FRAMED_SENDER_HINT);
    }
    const started = performance.now();
    let name: string;
    try {
      name = new TextDecoder("utf-8", { fatal: true }).decode(chunk.subarray(0, first));
    } catch {
      throw new UnsafeNameError("Unsafe file name: the first read is not UTF-8 text");
    }
    const target = pathInside(dir, name);
    if (!options.force && await exists(target)) throw new TransferError(alreadyExists(name, dir));
    await using partial = await PartialFile.create(dir);
    const hash = createHash("sha256");
    const progress = options.progress?.(name, undefined);
    let size = 0;
    try {
      while (true) {
        const got = await conn.read(chunk);
        if (got === null) {
          throw new TransferError(
            `connection closed before the "##" end marker (${size} bytes of ${
              quoteName(name)
            } arrived): nothing saved`,
          );
        }
        guard.kick();
        const data = chunk.subarray(0, got);
        if (isSeedEndMarker(data)) break;
        hash.update(data);
        await partial.write(data);
        size += got;
        progress?.update(size);
      }
    } finally {
      progress?.finish();
    }
    try {
      await partial.commit(target, options.force ?? false);
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) {
        throw new TransferError(alreadyExists(name, dir));
      }
      throw error;
    }
    await writeAll(conn, encoder.encode(SEED_ACK));
    return {
      name,
      size,
      sha256: hash.digest("hex"),
      path: target,
      elapsedMs: performance.now() - started,
      resumedFrom: 0,
    };
  } catch (error) {
    throw guard.explain(error);
  }
}
