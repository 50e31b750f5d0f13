/**
 * The benchmark reference for http/server.ts: `Deno.serve` answering every request with the same
 * 5-byte body. Used only by tests/bench/suites/http.ts.
 *
 *   deno run -A tests/bench/http_deno_serve.ts [--port P]   # prints `listening on http://…/`
 */
import { parseCli, parsePort, runMain } from "../../tcp/kit/cli.ts";

const USAGE = "Usage: deno run -A tests/bench/http_deno_serve.ts [--host H] [--port P]";
const BODY = new TextEncoder().encode("hello");

async function main(args: string[]): Promise<number> {
  const { values } = parseCli(args, { host: { type: "string" }, port: { type: "string" } });
  const server = Deno.serve({
    hostname: values.host ?? "127.0.0.1",
    port: parsePort(values.port, 0),
    onListen: ({ hostname, port }) => console.log(`listening on http://${hostname}:${port}/`),
  }, () => new Response(BODY, { headers: { "content-type": "text/plain" } }));
  await server.finished;
  return 0;
}

if (import.meta.main) await runMain(USAGE, main);
