/**
 * Seed 002's SO_REUSEADDR story (「在bind前加」) and seed 004's TIME_WAIT (2 MSL): a server that
 * closes its connections first leaves them in TIME_WAIT on its own port; Deno.listen sets
 * SO_REUSEADDR, so the restarted server can bind that port at once. A Python socket without
 * SO_REUSEADDR cannot, which shows the option is what makes the difference.
 */
import assert from "node:assert/strict";
import { hasCommand, runCommand } from "../_helpers.ts";
import { runReuseAddr } from "../../tcp/reuseaddr.ts";
import { runBackpressure } from "../../tcp/backpressure.ts";

const TCP_TIME_WAIT = "06";

/** Sockets in TIME_WAIT whose local port is `port` (/proc/net/tcp, IPv4). */
function timeWaitCount(port: number): number {
  const portHex = port.toString(16).toUpperCase().padStart(4, "0");
  return Deno.readTextFileSync("/proc/net/tcp").split("\n").slice(1).filter((line) => {
    const fields = line.trim().split(/\s+/);
    return fields[1]?.endsWith(`:${portHex}`) && fields[3] === TCP_TIME_WAIT;
  }).length;
}

/**
 * Serves `count` connections on a fresh listener, closing each from the server side first (the
 * side that closes first is the one that waits in TIME_WAIT), then closes the listener.
 * Returns the port.
 */
async function serverClosesFirst(count: number): Promise<number> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  try {
    for (let i = 0; i < count; i++) {
      const [client, accepted] = await Promise.all([
        Deno.connect({ hostname: "127.0.0.1", port }),
        listener.accept(),
      ]);
      accepted.close();
      // The client sees the server's FIN, then closes too, which completes the teardown.
      assert.equal(await client.read(new Uint8Array(1)), null);
      client.close();
    }
  } finally {
    listener.close();
  }
  return port;
}

/** Tries to listen on `port` from Python, with or without SO_REUSEADDR. */
async function pythonBind(port: number, reuseAddress: boolean): Promise<string> {
  const script = [
    "import socket, sys",
    "s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)",
    reuseAddress ? "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)" : "",
    "try:",
    `    s.bind(("127.0.0.1", ${port})); s.listen(); print("bound")`,
    "except OSError as e:",
    "    print(e.strerror)",
    "s.close()",
  ].join("\n");
  const r = await runCommand("python3", ["-c", script]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

Deno.test({
  name: "a server restarts at once on its port while old connections sit in TIME_WAIT",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const port = await serverClosesFirst(3);
    assert.ok(timeWaitCount(port) >= 1, `no TIME_WAIT socket on port ${port}`);
    // Deno.listen sets SO_REUSEADDR, so the restart is not refused.
    const restarted = Deno.listen({ hostname: "127.0.0.1", port });
    try {
      assert.equal(restarted.addr.port, port);
      // The restarted server works.
      const [client, accepted] = await Promise.all([
        Deno.connect({ hostname: "127.0.0.1", port }),
        restarted.accept(),
      ]);
      await client.write(new TextEncoder().encode("hi"));
      const got = new Uint8Array(2);
      assert.equal(await accepted.read(got), 2);
      client.close();
      accepted.close();
    } finally {
      restarted.close();
    }
  },
});

Deno.test({
  name: "without SO_REUSEADDR (python3) the same restart fails with EADDRINUSE",
  ignore: Deno.build.os !== "linux" || !hasCommand("python3"),
  async fn() {
    const port = await serverClosesFirst(1);
    assert.ok(timeWaitCount(port) >= 1, `no TIME_WAIT socket on port ${port}`);
    assert.equal(await pythonBind(port, false), "Address already in use");
    assert.equal(await pythonBind(port, true), "bound");
  },
});

Deno.test("SO_REUSEADDR does not let two servers listen on one port at once", () => {
  const first = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    assert.throws(
      () => Deno.listen({ hostname: "127.0.0.1", port: first.addr.port }),
      Deno.errors.AddrInUse,
    );
  } finally {
    first.close();
  }
});

Deno.test({
  name: "the listen backlog is tcpBacklog: connections complete before accept is called",
  async fn() {
    // Seed 004's 半连接池: the kernel finishes handshakes and queues them until accept().
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0, tcpBacklog: 4 });
    const clients: Deno.TcpConn[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        clients.push(await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }));
      }
      // All three connected although nobody accepted yet; now they are accepted in order.
      for (const client of clients) {
        const accepted = await listener.accept();
        assert.equal(accepted.remoteAddr.port, client.localAddr.port);
        accepted.close();
      }
    } finally {
      for (const c of clients) c.close();
      listener.close();
    }
  },
});

/** A reporter that keeps every line (text and fields) for the assertions. */
function captureReporter() {
  const lines: { text: string; event?: string; fields?: Record<string, unknown> }[] = [];
  return {
    lines,
    info(text: string, event?: string, fields?: Record<string, unknown>) {
      lines.push({ text, event, fields });
    },
    warn(text: string, event?: string, fields?: Record<string, unknown>) {
      lines.push({ text, event, fields });
    },
    explaining: false,
    explain() {},
  };
}

Deno.test({
  name:
    "tcp/reuseaddr.ts lesson: TIME_WAIT sockets listed, a plain bind refused, Deno.listen bound",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const out = captureReporter();
    const report = await runReuseAddr(out, { connections: 4 });
    assert.equal(report.timeWait.length, 4);
    assert.ok(report.timeWait.every((row) => row.local.port === report.port));
    assert.equal(report.plainBind, "address in use");
    assert.equal(report.reused, true);
    assert.match(out.lines.map((l) => l.text).join("\n"), /Address already in use \(EADDRINUSE\)/);
  },
});

Deno.test({
  name: "tcp/backpressure.ts lesson: a write waits while the reader stops, then every byte arrives",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const out = captureReporter();
    const report = await runBackpressure(out, { bytes: 8 * 1024 * 1024, stallMs: 600 });
    assert.equal(report.read, report.written);
    assert.ok(report.blockedWrite !== undefined, "one write waited for the reader");
    assert.ok((report.blockedMs ?? 0) >= 200);
    assert.ok((report.sendQueue ?? 0) + (report.receiveQueue ?? 0) > 64 * 1024);
  },
});
