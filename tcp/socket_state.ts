/**
 * The TCP state the kernel keeps for each IPv4 socket, read from `/proc/net/tcp` (Linux) — what
 * `netstat -tan` and `ss -tan` print: LISTEN, ESTABLISHED, FIN_WAIT1, CLOSE_WAIT, TIME_WAIT, …
 *
 * Each line of the file is one socket: `sl local_address rem_address st tx_queue:rx_queue …`,
 * addresses as `0100007F:1F90` — the IPv4 address as the 32-bit number in the machine's byte
 * order (so 127.0.0.1 reads backwards on little-endian machines) and the port in hex. A socket in
 * TIME_WAIT has no owner any more but still has its line; a socket that is gone (CLOSED) has none.
 *
 * `parseProcNetTcp` is pure (tests feed it text); `readSocketTable` reads the file, and returns
 * undefined where there is none (not Linux, or /proc not mounted or not readable).
 */

/** State numbers of include/net/tcp_states.h, by the names netstat prints. */
export const TCP_STATE_NAMES: Readonly<Record<number, string>> = {
  1: "ESTABLISHED",
  2: "SYN_SENT",
  3: "SYN_RECV",
  4: "FIN_WAIT1",
  5: "FIN_WAIT2",
  6: "TIME_WAIT",
  7: "CLOSE",
  8: "CLOSE_WAIT",
  9: "LAST_ACK",
  10: "LISTEN",
  11: "CLOSING",
  12: "NEW_SYN_RECV",
};

/** One line of /proc/net/tcp. */
export interface SocketRow {
  /** `127.0.0.1:8080`. */
  local: string;
  /** `127.0.0.1:41234`, or `0.0.0.0:0` for a listener. */
  remote: string;
  /** A name from `TCP_STATE_NAMES` (or `UNKNOWN(n)`). */
  state: string;
  /** Bytes sent but not yet acknowledged (ESTABLISHED) — the send queue. */
  txQueue: number;
  /** Bytes received but not yet read by the program — the receive queue. */
  rxQueue: number;
}

/** Rows kept at most (a busy machine has tens of thousands of sockets: filter by `ports`). */
export const MAX_SOCKET_ROWS = 200_000;

/** Options for `parseProcNetTcp` and `readSocketTable`. */
export interface SocketTableOptions {
  /** Keep only sockets with one of these local or remote ports. */
  ports?: ReadonlySet<number>;
  /** The machine's byte order (default: this machine's), for tests. */
  little?: boolean;
}

const ROW =
  /^\s*\d+:\s+([0-9A-Fa-f]{8}):([0-9A-Fa-f]{4})\s+([0-9A-Fa-f]{8}):([0-9A-Fa-f]{4})\s+([0-9A-Fa-f]{2})\s+([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8})\s/;

const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** `0100007F` (little-endian machine) → `127.0.0.1`. */
export function decodeProcIPv4(hex: string, { little = littleEndian } = {}): string {
  const n = parseInt(hex, 16) >>> 0;
  const bytes = [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  return (little ? bytes.reverse() : bytes).join(".");
}

/**
 * The sockets in the text of /proc/net/tcp (the header line and anything unparsable are
 * skipped), at most `MAX_SOCKET_ROWS`.
 */
export function parseProcNetTcp(text: string, options: SocketTableOptions = {}): SocketRow[] {
  const { ports } = options;
  const rows: SocketRow[] = [];
  let start = 0;
  while (start < text.length && rows.length < MAX_SOCKET_ROWS) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    // Lines are ~150 characters; the pattern is anchored and bounded, so a long line is cheap.
    const m = ROW.exec(text.slice(start, Math.min(end, start + 512)));
    start = end + 1;
    if (!m) continue;
    const localPort = parseInt(m[2], 16);
    const remotePort = parseInt(m[4], 16);
    if (ports && !ports.has(localPort) && !ports.has(remotePort)) continue;
    const state = parseInt(m[5], 16);
    rows.push({
      local: `${decodeProcIPv4(m[1], options)}:${localPort}`,
      remote: `${decodeProcIPv4(m[3], options)}:${remotePort}`,
      state: TCP_STATE_NAMES[state] ?? `UNKNOWN(${state})`,
      txQueue: parseInt(m[6], 16),
      rxQueue: parseInt(m[7], 16),
    });
  }
  return rows;
}

/** The IPv4 TCP sockets of this machine (its network namespace), or undefined off Linux. */
export function readSocketTable(
  options: SocketTableOptions & { path?: string } = {},
): SocketRow[] | undefined {
  if (Deno.build.os !== "linux") return undefined;
  try {
    return parseProcNetTcp(Deno.readTextFileSync(options.path ?? "/proc/net/tcp"), options);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.PermissionDenied) {
      return undefined;
    }
    throw error;
  }
}

/** The row of the socket `local` → `remote` (`remote` `0.0.0.0:0` finds a listener). */
export function findSocket(
  rows: readonly SocketRow[],
  local: string,
  remote = "0.0.0.0:0",
): SocketRow | undefined {
  return rows.find((row) => row.local === local && row.remote === remote);
}
