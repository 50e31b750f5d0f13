/**
 * A streamed body (a handler answered with a `ReadableStream`, e.g. Server-Sent Events): each
 * chunk goes out as soon as the stream yields it (one HTTP/1.1 chunk, so events reach the client
 * one by one), then the last chunk and a FIN. Meanwhile one read watches the socket: the client
 * closing it cancels the stream, so its producer stops instead of writing into the void. The
 * connection ends with the body.
 */
import { writeAll } from "../../tcp/core/io.ts";
import { isPeerGone } from "../../tcp/core/net_errors.ts";
import type { StreamConn } from "../../tcp/core/stream_io.ts";
import type { Reporter } from "../../tcp/kit/report.ts";
import { encodeChunk, encodeLastChunk } from "../core/serialize.ts";
import { DISCARDED, LINGER_BYTES, LINGER_MS } from "./deadlines.ts";

const LAST_CHUNK = encodeLastChunk();

/** The connection a body is streamed on. */
export interface StreamTarget {
  readonly io: StreamConn;
  readonly closed: boolean;
  writingSince: number;
  lastActive: number;
  close(): void;
}

/** Writes `body` on `target` and ends the connection; returns the body bytes sent. */
export async function streamBody(
  target: StreamTarget,
  body: ReadableStream<Uint8Array>,
  chunked: boolean,
  reporter: Reporter | undefined,
): Promise<number> {
  const reader = body.getReader();
  let left = false;
  const watching = (async () => {
    // Nothing the client sends now means anything (the response says Connection: close).
    let drained = 0;
    try {
      for (let n; drained < LINGER_BYTES && (n = await target.io.read(DISCARDED)) !== null;) {
        drained += n;
      }
    } catch (error) {
      if (!isPeerGone(error)) throw error;
    } finally {
      left = true;
      reader.cancel().catch(() => {});
    }
  })();
  let sent = 0;
  let complete = false;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done || left || target.closed) break;
      if (value.length === 0) continue; // An empty chunk would end a chunked body.
      target.writingSince = Date.now();
      await writeAll(target.io, chunked ? encodeChunk(value) : value);
      target.writingSince = 0;
      target.lastActive = Date.now();
      sent += value.length;
    }
    if (!left && !target.closed) {
      if (chunked) await writeAll(target.io, LAST_CHUNK);
      await target.io.closeWrite();
      complete = true;
    }
  } catch (error) {
    // The client left mid-write, or the producer failed: either way the body stops here.
    if (!isPeerGone(error)) {
      reporter?.warn(`streamed body failed: ${(error as Error).message}`, "error", {
        kind: "stream",
      });
    }
  } finally {
    target.writingSince = 0;
    reader.cancel().catch(() => {});
    // After a complete body the client closes its end; give it a moment, as lingering does.
    if (!complete) target.close();
    const timer = setTimeout(() => target.close(), LINGER_MS);
    await watching.catch(() => {});
    clearTimeout(timer);
    target.close();
  }
  return sent;
}
