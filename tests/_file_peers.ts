/**
 * Shared by the file tests: a frame reader over a raw connection, a one-connection peer on an
 * ephemeral port, the receiver run as a subprocess, and small file helpers.
 */
import { createHash } from "node:crypto";
import { LengthPrefixDecoder } from "../tcp/core/framing.ts";
import { HEADER_FRAMING } from "../tcp/core/file_protocol.ts";
import { runScript, type ScriptResult } from "./_helpers.ts";

/** Reads the 4-byte length-prefixed frames a peer sends, one at a time. */
export class FrameReader {
  readonly #decoder = new LengthPrefixDecoder(HEADER_FRAMING);
  readonly #queue: Uint8Array[] = [];
  readonly #buffer = new Uint8Array(4096);
  constructor(readonly conn: Deno.Conn) {}
  async next(): Promise<Uint8Array | null> {
    while (this.#queue.length === 0) {
      const got = await this.conn.read(this.#buffer);
      if (got === null) return null;
      this.#queue.push(...this.#decoder.push(this.#buffer.subarray(0, got)));
    }
    return this.#queue.shift()!;
  }
}

/**
 * A hand-written peer in this process: listens on an ephemeral port, runs `script` for the first
 * client, then closes everything. Returns the port and the script's result.
 */
export function handPeer<T>(
  script: (conn: Deno.Conn, frames: FrameReader) => Promise<T>,
): { port: number; done: Promise<T> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const done = (async () => {
    try {
      using conn = await listener.accept();
      return await script(conn, new FrameReader(conn));
    } finally {
      listener.close();
    }
  })();
  return { port: listener.addr.port, done };
}

/** Runs `tcp/file_recv.ts` against `port`, saving into `dir`. */
export function receive(port: number, dir: string, ...extra: string[]): Promise<ScriptResult> {
  return runScript("tcp/file_recv.ts", ["--port", String(port), "--dir", dir, ...extra]);
}

/** The hex SHA-256 of `bytes`. */
export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** `n` random bytes (getRandomValues takes at most 64 KiB at a time). */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let at = 0; at < n; at += 65536) crypto.getRandomValues(out.subarray(at, at + 65536));
  return out;
}

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
export async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "netlab-file-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The names in `dir`, sorted (to prove nothing else was written). */
export function listDir(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}
