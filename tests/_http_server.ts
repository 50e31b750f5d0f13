/**
 * What the HTTP server tests share: a temp tree to serve, both I/O modes, an in-process server
 * on an ephemeral port, and a client that reads replies with netlab's own response parser
 * (with a deadline instead of a hang).
 */
import { writeAll } from "../tcp/core/io.ts";
import type { HeaderList, ResponseHead } from "../http/core/events.ts";
import { ResponseParser } from "../http/core/response_parser.ts";
import { type HttpServer, serveHttp, type ServeOptions } from "../http/server.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One response as the tests see it. */
export interface Reply {
  status: number;
  headers: HeaderList;
  body: string;
}

/** A temp tree: root/{hello.txt, dir/index.html, inside-link → hello.txt, escape → outside/}. */
export async function makeTree(): Promise<{ base: string; root: string; outside: string }> {
  const base = await Deno.makeTempDir({ prefix: "netlab-http-" });
  const root = `${base}/root`;
  const outside = `${base}/outside`;
  await Deno.mkdir(`${root}/dir`, { recursive: true });
  await Deno.mkdir(outside);
  await Deno.writeTextFile(`${root}/hello.txt`, "hello");
  await Deno.writeTextFile(`${root}/dir/index.html`, "<p>dir index</p>");
  await Deno.writeTextFile(`${outside}/secret.txt`, "TOP SECRET");
  await Deno.symlink(`${root}/hello.txt`, `${root}/inside-link.txt`);
  await Deno.symlink(outside, `${root}/escape`);
  await Deno.symlink(`${outside}/secret.txt`, `${root}/secret-link.txt`);
  return { base, root, outside };
}

/**
 * Both ways the server does connection I/O: the epoll set (the default on Linux) and Deno's own
 * reads and writes (`--no-epoll`, and every other system).
 */
export const IO_MODES = [
  { suffix: " (epoll)", options: { epoll: true } },
  { suffix: " (Deno's reads)", options: { epoll: false } },
];

export async function startInProcess(options: Partial<ServeOptions> & { root: string }) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return await serveHttp(listener, options);
}

/**
 * Writes `request` on a fresh connection and reads responses with netlab's own parser until the
 * server closes (or `count` responses arrived). Returns them and whether the server closed.
 */
export async function exchange(
  server: HttpServer,
  request: string | Uint8Array,
  { count = Infinity, methods = [] as string[] } = {},
): Promise<{ replies: Reply[]; closed: boolean }> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  await writeAll(conn, typeof request === "string" ? encoder.encode(request) : request);
  return await readReplies(conn, count, methods);
}

/** Reads responses (see `exchange`); fails after 10 s instead of hanging the test run. */
export async function readReplies(
  conn: Deno.Conn,
  count: number,
  methods: string[] = [],
): Promise<{ replies: Reply[]; closed: boolean }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("no reply within 10 s")), 10_000);
  });
  try {
    return await Promise.race([readRepliesUntimed(conn, count, methods), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function readRepliesUntimed(
  conn: Deno.Conn,
  count: number,
  methods: string[],
): Promise<{ replies: Reply[]; closed: boolean }> {
  const parser = new ResponseParser();
  for (const m of methods) parser.expect(m);
  const replies: Reply[] = [];
  let head: ResponseHead | undefined;
  let body: number[] = [];
  const buf = new Uint8Array(64 * 1024);
  while (replies.length < count) {
    const event = parser.next();
    if (event === null) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch (error) {
        if (error instanceof Deno.errors.ConnectionReset) n = null;
        else throw error;
      }
      if (n === null) parser.feedEof();
      else parser.feed(buf.subarray(0, n));
      continue;
    }
    if (event.kind === "response") {
      head = event;
      body = [];
    } else if (event.kind === "data") body.push(...event.data);
    else if (event.kind === "end" && head) {
      replies.push({
        status: head.status,
        headers: head.headers,
        body: decoder.decode(new Uint8Array(body)),
      });
    } else if (event.kind === "closed") return { replies, closed: true };
  }
  return { replies, closed: false };
}

export function header(reply: Reply, name: string): string | undefined {
  return reply.headers.find(([n]) => n === name)?.[1];
}
