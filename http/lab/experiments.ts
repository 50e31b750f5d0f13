/**
 * The lab's experiments: a fixed list, each a few netlab lesson scripts started with fixed,
 * bounded arguments on loopback (`--json` for the events, `--explain` for the annotated bytes),
 * and the command that shows the same thing in a terminal. The page names an experiment by its
 * id; nothing it sends is ever part of a command line.
 */
import type { LabRun } from "./runs.ts";

/** One experiment. */
export interface Experiment {
  id: string;
  title: string;
  /** One paragraph: what happens and what to look for. */
  summary: string;
  /** What to type in a terminal to see the same (one line per terminal when several). */
  commands: string[];
  /** What the diagram cannot show as read, said plainly on the page. */
  caveats: string[];
  /** Starts the processes through `run` and resolves when the experiment is over. */
  start(run: LabRun): Promise<void>;
}

/** The port in a `listening` event (`port`, or the end of `address`). */
export function listeningPort(event: Record<string, unknown>): number {
  if (typeof event.port === "number") return event.port;
  const port = Number(/:(\d+)$/.exec(String(event.address ?? ""))?.[1]);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`No port in the listening event: ${JSON.stringify(event).slice(0, 200)}`);
  }
  return port;
}

/** The broadcast experiment's message. */
const BROADCAST_MESSAGE = "hello, everyone";

/** Every experiment, in the order the page lists them. */
export const EXPERIMENTS: readonly Experiment[] = [
  {
    id: "open-url",
    title: "Open a URL",
    summary: "What a browser does for http://www.cnblogs.com/linhaifeng/articles/6817679.html, " +
      "on an offline copy of the Internet: it asks the local DNS server, which asks the root, " +
      "is referred to com., then to cnblogs.com., and answers 127.0.0.5; the browser connects " +
      "over TCP, sends the request and reads the response, then asks for the name again and " +
      "gets it from the local server's cache. Click a DNS arrow for the query or reply byte by " +
      "byte, or the request and the response for their head field by field.",
    commands: ["deno task demo --explain"],
    caveats: [
      "The handshake arrow is what connect() did: the kernels exchanged SYN, SYN+ACK and ACK; " +
      "the program sees only the call return, not the segments.",
    ],
    async start(run) {
      await run.spawn("demo", "http/demo.ts", ["--json", "--explain"]).done;
    },
  },
  {
    id: "sticky",
    title: "粘包: four writes, one read",
    summary: "TCP carries bytes, not messages. Four write() calls reach a reader that is slow to " +
      "read as one read(): the messages are glued. Then the seed's fixes: an end marker ## " +
      'breaks on a payload that contains ## ("3##5" comes out as "3" and "5"), a 4-byte ' +
      "length header recovers every message, and sleeping between sends does not help a slow " +
      "reader. Click a write for its bytes (each frame annotated), a read for what arrived.",
    commands: ["deno task tcp:sticky --explain"],
    caveats: [
      "The middle lane is the kernels' buffers: a write's arrow ends when write() returned, a " +
      "read's arrow starts when read() returned; TCP segments are not captured.",
    ],
    async start(run) {
      await run.spawn("sticky", "tcp/sticky.ts", ["--json", "--explain"]).done;
    },
  },
  {
    id: "tcp-lifecycle",
    title: "TCP life cycle: connect, exchange, half-close, close",
    summary: "One connection from LISTEN to TIME_WAIT. After every call the kernel's state of " +
      "each socket is read from /proc/net/tcp: ESTABLISHED after the handshake, FIN_WAIT1 or " +
      "FIN_WAIT2 and CLOSE_WAIT after the client's half-close, TIME_WAIT for the side that " +
      "sent the first FIN. The server still writes its reply after the client's FIN.",
    commands: ["deno task tcp:lifecycle --explain"],
    caveats: [
      "States in solid boxes are read from /proc/net/tcp; a dashed box with a question mark " +
      "is inferred (no /proc/net/tcp on this system) and grey CLOSED means the socket is no " +
      "longer in the kernel's table.",
      "SYN_SENT, SYN_RECV and LAST_ACK last one loopback round trip, too short to be read " +
      "between two calls; FIN arrows and the handshake are the kernels' segments, inferred " +
      "from the calls that cause them.",
    ],
    async start(run) {
      await run.spawn("lifecycle", "tcp/lifecycle.ts", ["--json", "--explain"]).done;
    },
  },
  {
    id: "udp-truncate",
    title: "UDP: 5000 bytes into a 1024-byte buffer",
    summary: "One 5000-byte datagram and one 17-byte datagram wait whole in the receiving " +
      "socket's queue; a recvfrom() with a 1024-byte buffer returns the first 1024 bytes and " +
      "the other 3976 are gone; the next recvfrom() returns the next datagram, not the rest. " +
      "Then the same bytes over TCP arrive whole, and the largest datagram loopback accepts.",
    commands: ["deno task udp:truncate --explain"],
    caveats: [],
    async start(run) {
      await run.spawn("truncate", "udp/truncate.ts", ["--json", "--explain"]).done;
    },
  },
  {
    id: "udp-broadcast",
    title: "UDP: one broadcast, two listeners",
    summary: "Two listener processes bind 127.255.255.255 on the same port (SO_REUSEADDR); " +
      "one sendto() to the loopback broadcast address reaches both: one datagram, a copy for " +
      "every socket bound to that address and port.",
    commands: [
      "deno task udp:broadcast listen --host 127.255.255.255 --port 9999 --count 1 --explain",
      "deno task udp:broadcast listen --host 127.255.255.255 --port 9999 --count 1 --explain",
      `deno task udp:broadcast send --port 9999 --explain ${BROADCAST_MESSAGE}`,
    ],
    caveats: [
      "Run the three commands in three terminals, the listeners first. The lab binds the " +
      "listeners to 127.255.255.255 (not 0.0.0.0), so nothing listens beyond loopback.",
      "Times are when each process reported its event: a listener may print its copy a " +
      "moment before the sender prints its send, so the arrows follow cause and effect and " +
      "the times need not increase.",
    ],
    async start(run) {
      const listen = ["listen", "--host", "127.255.255.255", "--count", "1", "--json", "--explain"];
      const first = run.spawn("listener-1", "udp/broadcast.ts", [...listen, "--port", "0"]);
      const port = String(listeningPort(await first.waitFor("listening")));
      const second = run.spawn("listener-2", "udp/broadcast.ts", [...listen, "--port", port]);
      await second.waitFor("listening");
      const send = ["send", "--port", port, "--json", "--explain", BROADCAST_MESSAGE];
      await run.spawn("sender", "udp/broadcast.ts", send).done;
      await Promise.all([first.done, second.done]);
    },
  },
  {
    id: "dns-trace",
    title: "DNS +trace: from the root down",
    summary: "dns/query.ts +trace resolves www.cnblogs.com on the offline mini-Internet (root " +
      "on 127.0.0.2, com. on 127.0.0.3, cnblogs.com. on 127.0.0.4): first the root's own " +
      "name servers, then one referral per level. Each query says how the resolver knew the " +
      "server's address: the root given with --root, the cache, glue in the referral, or a " +
      "separate lookup when a referral came without glue (glueless).",
    commands: [
      "deno task dns:internet --port 5300",
      "deno task dns:query +trace --root 127.0.0.2 -p 5300 www.cnblogs.com --explain",
    ],
    caveats: [
      "Every delegation of the mini-Internet carries glue, so no glueless step appears in " +
      "this run; a glueless referral is marked in orange and followed by the lookup of its " +
      "name server.",
    ],
    async start(run) {
      const internet = run.spawn("internet", "dns/internet.ts", ["--port", "0", "--json"]);
      try {
        const port = String(listeningPort(await internet.waitFor("listening")));
        const trace = ["+trace", "--root", "127.0.0.2", "-p", port, "www.cnblogs.com"];
        await run.spawn("query", "dns/query.ts", [...trace, "--json", "--explain"]).done;
      } finally {
        internet.stop();
        await internet.done;
      }
    },
  },
];
