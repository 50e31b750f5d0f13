/**
 * http/server.ts streamed bodies (`body: ReadableStream<Uint8Array>`, what the lab's
 * Server-Sent Events use), in both I/O modes: each chunk leaves as soon as the stream yields it
 * (the client reads one before the next exists), the body is chunked and the connection closes
 * after it, a client that leaves cancels the stream, HTTP/1.0 gets the raw bytes and HEAD none.
 */
import assert from "node:assert/strict";
import { writeAll } from "../tcp/io.ts";
import { type HttpServer, serveHttp } from "../http/server.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const SITE = new URL("../http/site/", import.meta.url).pathname;

const IO_MODES = [
  { suffix: " (epoll)", epoll: true },
  { suffix: " (Deno's reads)", epoll: false },
];

/** A stream the test feeds by hand, and a promise that settles when the server cancels it. */
function handFedStream() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let cancelled!: () => void;
  const cancel = new Promise<void>((resolve) => (cancelled = resolve));
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    cancel() {
      cancelled();
    },
  });
  return {
    stream,
    push: (text: string) => controller.enqueue(encoder.encode(text)),
    end: () => controller.close(),
    cancel,
  };
}

async function startWith(epoll: boolean, stream: ReadableStream<Uint8Array>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return await serveHttp(listener, {
    root: SITE,
    epoll,
    handler: (request) =>
      request.path === "/events"
        ? { status: 200, headers: [["Content-Type", "text/event-stream"]], body: stream }
        : undefined,
  });
}

/** Reads from `conn` until the text so far contains `wanted` (or EOF); fails after 5 s. */
async function readUntil(conn: Deno.Conn, seen: { text: string }, wanted: string | null) {
  const buffer = new Uint8Array(4096);
  const timer = setTimeout(() => conn.close(), 5000);
  try {
    while (wanted === null || !seen.text.includes(wanted)) {
      const n = await conn.read(buffer);
      if (n === null) {
        if (wanted === null) return;
        throw new Error(`EOF before ${JSON.stringify(wanted)}; got ${JSON.stringify(seen.text)}`);
      }
      seen.text += decoder.decode(buffer.subarray(0, n), { stream: true });
    }
  } finally {
    clearTimeout(timer);
  }
}

function within<T>(promise: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function stopped(server: HttpServer) {
  await server.close();
}

for (const io of IO_MODES) {
  Deno.test(`a streamed body leaves chunk by chunk, then the last chunk and a close${io.suffix}`, async () => {
    const feed = handFedStream();
    const server = await startWith(io.epoll, feed.stream);
    try {
      if (io.epoll && Deno.build.os === "linux") assert.equal(server.io, "epoll");
      if (!io.epoll) assert.equal(server.io, "deno");
      using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
      await writeAll(conn, encoder.encode("GET /events HTTP/1.1\r\nHost: x\r\n\r\n"));
      const seen = { text: "" };
      feed.push("data: one\n\n");
      // The first event reaches the client while the producer has not made the second yet.
      await readUntil(conn, seen, "data: one\n\n\r\n");
      const [head] = seen.text.split("\r\n\r\n");
      assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(head, /\r\nTransfer-Encoding: chunked(\r\n|$)/i);
      assert.match(head, /\r\nConnection: close(\r\n|$)/i);
      assert.doesNotMatch(head, /Content-Length/i);
      assert.ok(seen.text.endsWith("\r\n\r\nb\r\ndata: one\n\n\r\n"), JSON.stringify(seen.text));
      feed.push("");
      feed.push("data: two\n\n");
      await readUntil(conn, seen, "data: two\n\n\r\n");
      feed.end();
      await readUntil(conn, seen, null); // the server closes after the last chunk
      assert.ok(seen.text.endsWith("b\r\ndata: two\n\n\r\n0\r\n\r\n"), JSON.stringify(seen.text));
    } finally {
      await stopped(server);
    }
  });

  Deno.test(`a client that leaves cancels the streamed body${io.suffix}`, async () => {
    const feed = handFedStream();
    const server = await startWith(io.epoll, feed.stream);
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
      try {
        await writeAll(conn, encoder.encode("GET /events HTTP/1.1\r\nHost: x\r\n\r\n"));
        feed.push("data: one\n\n");
        await readUntil(conn, { text: "" }, "data: one");
        assert.equal(server.connections, 1);
      } finally {
        conn.close();
      }
      // Nothing more is pushed: only the server's watch on the socket can notice the close.
      await within(feed.cancel, "the stream to be cancelled");
      await within(
        (async () => {
          while (server.connections > 0) await new Promise((r) => setTimeout(r, 10));
        })(),
        "the connection to be closed",
      );
    } finally {
      await stopped(server);
    }
  });
}

Deno.test("a streamed body to HTTP/1.0 is the raw bytes ended by the close; HEAD cancels it", async () => {
  const feed = handFedStream();
  const server = await startWith(false, feed.stream);
  try {
    {
      using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
      await writeAll(conn, encoder.encode("GET /events HTTP/1.0\r\n\r\n"));
      feed.push("data: raw\n\n");
      feed.end();
      const seen = { text: "" };
      await readUntil(conn, seen, null);
      assert.doesNotMatch(seen.text, /Transfer-Encoding/i);
      assert.ok(seen.text.endsWith("\r\n\r\ndata: raw\n\n"), JSON.stringify(seen.text));
    }
    const head = handFedStream();
    const other = await startWith(false, head.stream);
    try {
      using conn = await Deno.connect({ hostname: "127.0.0.1", port: other.addr.port });
      await writeAll(conn, encoder.encode("HEAD /events HTTP/1.1\r\nHost: x\r\n\r\n"));
      const seen = { text: "" };
      await readUntil(conn, seen, null);
      assert.match(seen.text, /^HTTP\/1\.1 200 OK\r\n/);
      assert.ok(seen.text.endsWith("\r\n\r\n"), "no body after the head");
      await within(head.cancel, "HEAD's stream to be cancelled");
    } finally {
      await stopped(other);
    }
  } finally {
    await stopped(server);
  }
});
