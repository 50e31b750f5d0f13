/**
 * Hand-written file-transfer peers shared by the file tests: a frame reader over a raw
 * connection, a one-connection peer on an ephemeral port, and the receiver run as a subprocess.
 */
import { LengthPrefixDecoder } from "../tcp/framing.ts";
import { HEADER_FRAMING } from "../tcp/file_protocol.ts";
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
