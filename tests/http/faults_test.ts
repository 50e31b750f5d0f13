/**
 * The HTTP server under faults: out of file descriptors, clients that never read,
 * many idle connections, TCP keepalive, and the access log's batching. Timings here are generous
 * bounds on things that were off by orders of magnitude (a spinning accept loop, a GET stuck for
 * seconds); the numbers themselves are benchmarks (`deno task bench faults`).
 */
import assert from "node:assert/strict";
import { hasCommand, ROOT, startCommand, startScript, writeAll } from "../_helpers.ts";
import { IO_MODES, makeTree, readReplies, startInProcess } from "../_http_server.ts";
import { LogWriter } from "../../tcp/kit/log.ts";
import { UNSENT_LIMIT_BYTES } from "../../http/server/serve.ts";
import { READ_SLOT_BYTES } from "../../http/server/connection.ts";
import { createReporter } from "../../tcp/kit/report.ts";

const encoder = new TextEncoder();
const linux = Deno.build.os === "linux";

/** CPU seconds (user + system) used by `pid` so far (Linux /proc). */
function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Resident memory of `pid` in KiB (Linux /proc). */
function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`))![1]);
}

function get(path = "/hello.txt"): Uint8Array {
  return encoder.encode(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
}

/** Opens `count` connections to `port` in waves; `ask` sends one GET on each and reads it. */
async function openMany(port: number, count: number, ask: boolean): Promise<Deno.Conn[]> {
  const conns: Deno.Conn[] = [];
  for (let i = 0; i < count; i += 100) {
    conns.push(
      ...await Promise.all(Array.from({ length: Math.min(100, count - i) }, async () => {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        if (ask) {
          await writeAll(conn, get());
          assert.equal((await readReplies(conn, 1)).replies[0].status, 200);
        }
        return conn;
      })),
    );
  }
  return conns;
}

/** The Send-Q of every established socket of the server on `port` (ss). */
async function sendQueues(port: number): Promise<number[]> {
  const { stdout } = await new Deno.Command("ss", {
    args: ["-tnH", "state", "established", `( sport = :${port} )`],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(stdout).split("\n").filter((line) => line.trim())
    .map((line) => Number(line.trim().split(/\s+/)[1]));
}

/** A new client's GET is answered, within a generous bound. */
async function expectServed(port: number): Promise<void> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const started = performance.now();
  await writeAll(conn, get());
  const { replies } = await readReplies(conn, 1);
  assert.equal(replies[0]?.status, 200);
  assert.ok(performance.now() - started < 2000, "served within 2 s");
}

function closeAll(conns: Deno.Conn[]): void {
  for (const conn of conns) {
    try {
      conn.close();
    } catch { /* closed by the server */ }
  }
}

Deno.test({
  name:
    "http/server.ts out of descriptors (ulimit -n 64): no spinning, few log lines, serves again",
  ignore: !linux || !hasCommand("bash"),
  async fn() {
    const { base, root } = await makeTree();
    await using server = await startCommand("bash", [
      "-c",
      'ulimit -n 64; exec "$@"',
      "bash",
      Deno.execPath(),
      "run",
      "-A",
      "--quiet",
      "http/server.ts",
      "--root",
      root,
      "--port",
      "0",
    ], { cwd: ROOT });
    // More clients than the server has descriptors, each in the middle of a request head (so
    // none is idle): the kernel queues the rest, and the server stays out of descriptors.
    const busy = await openMany(server.port, 120, false);
    const idle: Deno.Conn[] = [];
    try {
      await Promise.all(busy.map((conn) => writeAll(conn, encoder.encode("GET / HTTP/1.1\r\n"))));
      while (!server.stderr().includes("Too many open files")) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // Exhausted, the accept loop waits instead of retrying at once (it burnt a core before).
      const before = cpuSeconds(server.child.pid);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const cpu = cpuSeconds(server.child.pid) - before;
      assert.ok(cpu < 0.5, `server CPU while out of descriptors: ${cpu} s in 1 s`);
      // Descriptors free up (these clients leave): the server accepts and serves again.
      closeAll(busy.splice(0));
      await expectServed(server.port);
      // Out of descriptors again, this time with idle connections only: the server closes some
      // of them to make room for the client that wants something.
      idle.push(...await openMany(server.port, 120, false));
      await expectServed(server.port);
    } finally {
      closeAll(busy);
      closeAll(idle);
    }
    const { stderr } = await server.stop();
    // One line when an episode starts, one when it ends — never one per failed accept.
    const starts = stderr.split("\n").filter((line) => line.startsWith("accept failed")).length;
    const ends = stderr.split("\n").filter((line) => line.startsWith("accepting again")).length;
    assert.ok(starts >= 1 && starts <= ends + 1 && starts < 20, stderr);
    await Deno.remove(base, { recursive: true });
  },
});

for (const io of IO_MODES) {
  Deno.test({
    name: `serveHttp: 64 clients that never read a big file do not delay a normal GET${io.suffix}`,
    async fn() {
      const { base, root } = await makeTree();
      {
        using big = await Deno.open(`${root}/big.bin`, { write: true, createNew: true });
        const mib = new Uint8Array(1024 * 1024);
        for (let i = 0; i < 16; i++) await writeAll(big, mib);
      }
      await using server = await startInProcess({ ...io.options, root });
      const port = server.addr.port;
      // Each stuck client reads the response head, then never reads again: its answer fills
      // the socket buffers and the server's write for it waits.
      const stuck = await Promise.all(Array.from({ length: 64 }, async () => {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        await writeAll(conn, get("/big.bin"));
        const buf = new Uint8Array(1024);
        let head = "";
        while (!head.includes("\r\n\r\n")) {
          const n = await conn.read(buf);
          if (n === null) throw new Error("closed before the head");
          head += new TextDecoder().decode(buf.subarray(0, n));
        }
        return conn;
      }));
      try {
        // Each stuck answer holds at most the server's cap of unsent bytes in the kernel (plus
        // the packet being built), not the 4 MiB Linux grows a send buffer to by itself.
        if (linux && hasCommand("ss")) {
          const queued = await sendQueues(port);
          assert.equal(queued.length, 64, "one server socket per stuck client");
          const most = Math.max(...queued);
          assert.ok(most <= UNSENT_LIMIT_BYTES + 64 * 1024, `${most} bytes queued unsent`);
        }
        using conn = await Deno.connect({ hostname: "127.0.0.1", port });
        let slowest = 0;
        for (let i = 0; i < 50; i++) {
          const started = performance.now();
          await writeAll(conn, get());
          assert.equal((await readReplies(conn, 1)).replies[0].body, "hello");
          slowest = Math.max(slowest, performance.now() - started);
        }
        // Waiting on a runtime thread per stuck client (sendfile's poll) took seconds here.
        assert.ok(slowest < 600, `slowest normal GET: ${slowest.toFixed(0)} ms`);
      } finally {
        closeAll(stuck);
      }
      await Deno.remove(base, { recursive: true });
    },
  });
}

for (const io of IO_MODES) {
  Deno.test({
    name: `serveHttp: read buffers are lent per read, none to an idle connection${io.suffix}`,
    async fn() {
      const { base, root } = await makeTree();
      await using server = await startInProcess({ ...io.options, root });
      const idle = await openMany(server.addr.port, 200, true);
      try {
        assert.equal(server.connections, 200);
        // On epoll a read asks for its buffer once bytes are there; Deno's pending read pins
        // what it reads into for the whole wait: a slot of a shared slab, not a buffer.
        assert.equal(server.readBuffersLent, 0);
        assert.equal(server.readBytesHeld, server.io === "epoll" ? 0 : 200 * READ_SLOT_BYTES);
      } finally {
        closeAll(idle);
      }
      // Every buffer goes back when the connections end.
      for (let i = 0; i < 500 && server.connections > 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.equal(server.connections, 0);
      assert.equal(server.readBuffersLent, 0);
      assert.equal(server.readBytesHeld, 0);
      await Deno.remove(base, { recursive: true });
    },
  });
}

Deno.test({
  name: "http/server.ts holds little memory per idle keep-alive connection",
  ignore: !linux,
  async fn() {
    const { base, root } = await makeTree();
    await using server = await startScript("http/server.ts", [
      "--root",
      root,
      "--port",
      "0",
      "--quiet",
      "--max-conns",
      "5000",
    ]);
    const warm = await openMany(server.port, 50, true);
    closeAll(warm);
    const baseline = rssKiB(server.child.pid);
    const count = 2000;
    const idle = await openMany(server.port, count, true);
    try {
      const perConnection = (rssKiB(server.child.pid) - baseline) / count;
      // A generous bound (RSS moves with V8's young generation); the benchmark has the number.
      assert.ok(perConnection < 18, `RSS per idle connection: ${perConnection.toFixed(1)} KiB`);
    } finally {
      closeAll(idle);
    }
    await Deno.remove(base, { recursive: true });
  },
});

Deno.test({
  name: "serveHttp sets TCP keepalive on accepted connections (--keepalive), or none with 0",
  ignore: !linux || !hasCommand("ss"),
  async fn() {
    const { base, root } = await makeTree();
    for (const seconds of [7, 0]) {
      await using server = await startInProcess({ root, keepaliveSeconds: seconds });
      using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
      await writeAll(conn, get());
      await readReplies(conn, 1);
      const { stdout } = await new Deno.Command("ss", {
        args: ["-tno", "state", "established", `( sport = :${server.addr.port} )`],
        stdout: "piped",
      }).output();
      const shown = new TextDecoder().decode(stdout);
      // The idle timer of 7 s, just started (ss prints it as `6sec`, or `6.980ms` on some versions).
      if (seconds) assert.match(shown, /timer:\(keepalive,[4-7](\.\d+)?(sec|ms|s),0\)/, shown);
      else assert.doesNotMatch(shown, /keepalive/, shown);
    }
    await Deno.remove(base, { recursive: true });
  },
});

Deno.test("http/server.ts --explain says how keepalive is set, and --keepalive is checked", async () => {
  const { base, root } = await makeTree();
  await using server = await startScript("http/server.ts", [
    "--root",
    root,
    "--port",
    "0",
    "--explain",
    "--keepalive",
    "12",
  ]);
  const line = await server.waitForLine("TCP keepalive");
  assert.match(line, /after 12 s of silence the kernel probes every 4 s/);
  const bad = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "http/server.ts", "--keepalive=-1"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.notEqual(bad.code, 0);
  assert.match(
    new TextDecoder().decode(bad.stderr),
    /^error: --keepalive must be an integer from 0 to .*, got -1 \(see --help\)\n$/,
  );
  await Deno.remove(base, { recursive: true });
});

Deno.test("http/server.ts batches its access log and loses no line on Ctrl-C", async () => {
  const { base, root } = await makeTree();
  for (const json of [false, true]) {
    const server = await startScript("http/server.ts", [
      "--root",
      root,
      "--port",
      "0",
      ...(json ? ["--json"] : []),
    ]);
    // Pipelined: the lines of one batch are written together, at the end of the turn.
    using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const paths = ["/hello.txt", "/missing", "/dir/", "/hello.txt?x=1", "/hello.txt"];
    await writeAll(
      conn,
      encoder.encode(paths.map((p) => new TextDecoder().decode(get(p))).join("")),
    );
    const { replies } = await readReplies(conn, paths.length);
    const { stdout, code } = await server.stop("SIGINT");
    assert.equal(code, 130);
    // The listening line first, the `stopped` line (or event) last: the access log between.
    const lines = stdout.split("\n").slice(1).filter((line) => line !== "" && line !== "stopped");
    if (json) {
      const responses = lines.map((line) => JSON.parse(line)).filter((e) => e.event === "response");
      assert.deepStrictEqual(
        responses.map((e) => [e.target, e.status]),
        paths.map((p, i) => [p, replies[i].status]),
      );
    } else {
      // Exactly the lines written one by one would give, in order.
      assert.equal(lines.length, paths.length, stdout);
      lines.forEach((line, i) =>
        assert.match(
          line,
          new RegExp(
            `^127\\.0\\.0\\.1 - - \\[\\d{2}/[A-Z][a-z]{2}/\\d{4}:\\d{2}:\\d{2}:\\d{2} \\+0000\\] "GET ${
              paths[i].replace(/[?.]/g, "\\$&")
            } HTTP/1\\.1" ${replies[i].status} (\\d+|-)$`,
          ),
        )
      );
    }
  }
  await Deno.remove(base, { recursive: true });
});

Deno.test("serveHttp's access log: the same bytes written in batches as line by line", async () => {
  const { base, root } = await makeTree();
  const direct: string[] = [];
  const batchedBytes: Uint8Array[] = [];
  const batched = new LogWriter({
    writeSync(bytes) {
      batchedBytes.push(bytes.slice());
      return bytes.length;
    },
  });
  const reporter = createReporter("http/server", {
    sink: {
      out(line) {
        direct.push(line + "\n");
        batched.line(line);
      },
      err() {},
    },
  });
  {
    await using server = await startInProcess({ root, reporter, requestEvents: false });
    using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    const paths = ["/hello.txt", "/hello.txt", "/nope", "/dir/", "/dir"];
    await writeAll(
      conn,
      encoder.encode(paths.map((p) => new TextDecoder().decode(get(p))).join("")),
    );
    await readReplies(conn, paths.length);
  }
  batched.flush();
  const joined = new TextDecoder().decode(
    batchedBytes.reduce((all, bytes) => new Uint8Array([...all, ...bytes]), new Uint8Array()),
  );
  assert.equal(direct.length, 5);
  assert.equal(joined, direct.join(""));
  // Five lines of one pipelined turn left in fewer writes than lines.
  assert.ok(batchedBytes.length < direct.length, `${batchedBytes.length} writes`);
  await Deno.remove(base, { recursive: true });
});

Deno.test('serveHttp\'s access log: a request that cannot be parsed is logged as "-", never as the one before', async () => {
  const { base, root } = await makeTree();
  const lines: string[] = [];
  const reporter = createReporter("http/server", {
    sink: { out: (line) => lines.push(line), err() {} },
  });
  {
    await using server = await startInProcess({ root, reporter, requestEvents: false });
    using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    // A good request, then a broken one on the same connection (answered 400, then closed).
    await writeAll(conn, get());
    await readReplies(conn, 1);
    await writeAll(conn, encoder.encode("GET /x HTTP/1.1\r\nBad header\r\n\r\n"));
    assert.equal((await readReplies(conn, 1)).replies[0].status, 400);
  }
  assert.equal(lines.length, 2, lines.join("\n"));
  assert.match(lines[0], /"GET \/hello\.txt HTTP\/1\.1" 200 /);
  assert.match(lines[1], /"-" 400 -$/);
  await Deno.remove(base, { recursive: true });
});

for (const io of IO_MODES) {
  Deno.test({
    name:
      `serveHttp: clients gone mid-request leave no connection, buffer or epoll entry${io.suffix}`,
    async fn() {
      const { base, root } = await makeTree();
      await Deno.writeFile(`${root}/big.bin`, new Uint8Array(8 * 1024 * 1024));
      await using server = await startInProcess({ ...io.options, root });
      const port = server.addr.port;
      const clients = await Promise.all(Array.from({ length: 90 }, async (_, i) => {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        if (i % 3 === 0) {
          // Part of a head, or a head and part of a large body (the large buffers' path).
          await writeAll(conn, encoder.encode("GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-Pad: aaaa"));
        } else if (i % 3 === 1) {
          const head = "PUT /upload/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n";
          await writeAll(conn, encoder.encode(head + "b".repeat(20_000)));
        } else {
          // A download begun and never read on.
          await writeAll(conn, get("/big.bin"));
          await conn.read(new Uint8Array(1024));
        }
        return conn;
      }));
      assert.equal(server.connections, 90);
      // Gone: unread bytes make the kernel send a reset, the others a FIN mid-request.
      closeAll(clients);
      for (let i = 0; i < 500 && server.connections > 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.equal(server.connections, 0);
      assert.equal(server.readBuffersLent, 0);
      assert.equal(server.readBytesHeld, 0);
      assert.equal(server.epollConnections, 0);
      await Deno.remove(base, { recursive: true });
    },
  });
}
