/**
 * The kernel's table of TCP sockets, read from /proc/net/tcp and /proc/net/tcp6 (Linux): what
 * `ss -tan` shows. netlab uses it to make invisible state visible — the TIME_WAIT sockets a
 * server leaves behind (seed 004's 2 MSL), the accept queue of a listener (seed 004's 半连接池,
 * the backlog), the bytes waiting in a full send buffer (seed 003), and each socket's state as a
 * connection is opened, half-closed and closed.
 *
 * Each line holds the local and remote address as hex (IPv4 as one little-endian 32-bit word,
 * IPv6 as four), the state as a hex number, and two queue sizes. For a LISTEN socket `rxQueue`
 * means something else: the connections that completed the handshake and wait to be accepted
 * (its limit, the backlog, is only reported through sock_diag, as `ss -ltn` shows it). Where
 * /proc is not there, the table is empty.
 */

/** TCP states by their number in /proc/net/tcp (include/net/tcp_states.h). */
export const TCP_STATES: Readonly<Record<number, string>> = {
  0x01: "ESTABLISHED",
  0x02: "SYN_SENT",
  0x03: "SYN_RECV",
  0x04: "FIN_WAIT1",
  0x05: "FIN_WAIT2",
  0x06: "TIME_WAIT",
  0x07: "CLOSE",
  0x08: "CLOSE_WAIT",
  0x09: "LAST_ACK",
  0x0a: "LISTEN",
  0x0b: "CLOSING",
  0x0c: "NEW_SYN_RECV",
};

/** One socket of the table. */
export interface TcpSocketRow {
  local: { hostname: string; port: number };
  remote: { hostname: string; port: number };
  state: string;
  /** Bytes sent but not yet acknowledged. */
  txQueue: number;
  /** Bytes received but not yet read by the program (LISTEN: connections waiting for accept). */
  rxQueue: number;
  /** Seconds left on a TIME_WAIT socket's timer, when the kernel reports one. */
  timerSeconds?: number;
}

/** Lines read per file at most (a machine with more sockets is cut short, not read forever). */
const MAX_ROWS = 100_000;
/** /proc reports timers in clock ticks of USER_HZ, which is 100 on Linux. */
const USER_HZ = 100;

/** This machine's byte order: /proc prints each 32-bit word of an address in it. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The address bytes of a /proc hex field: 32-bit words, each printed in the machine's order. */
function addressBytes(hex: string, little: boolean): number[] {
  const order = little ? [6, 4, 2, 0] : [0, 2, 4, 6];
  const bytes: number[] = [];
  for (let word = 0; word < hex.length; word += 8) {
    for (const at of order) bytes.push(parseInt(hex.slice(word + at, word + at + 2), 16));
  }
  return bytes;
}

/** IPv6 text for 16 bytes: lower-case groups, the longest run of zero groups as `::`. */
function formatIPv6Bytes(bytes: number[]): string {
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `::ffff:${bytes.slice(12).join(".")}`;
  }
  const groups = Array.from({ length: 8 }, (_, i) => (bytes[2 * i] << 8) | bytes[2 * i + 1]);
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    let end = i;
    while (end < 8 && groups[end] === 0) end++;
    if (end - i > bestLength) [best, bestLength] = [i, end - i];
    i = end > i ? end : i + 1;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLength).join(":")}`;
}

/** `0100007F:1F90` → 127.0.0.1:8080 (little-endian machine); the 32-digit form is IPv6. */
export function parseProcAddress(
  field: string,
  { little = LITTLE_ENDIAN }: { little?: boolean } = {},
): { hostname: string; port: number } {
  const [hex, portHex] = field.split(":");
  const bytes = addressBytes(hex, little);
  const hostname = bytes.length === 4 ? bytes.join(".") : formatIPv6Bytes(bytes);
  return { hostname, port: parseInt(portHex, 16) };
}

/** Which rows to keep, and the byte order to read them in (this machine's by default). */
export interface TcpTableOptions {
  /** Keep only sockets with one of these ports at either end (a busy machine has thousands). */
  ports?: ReadonlySet<number>;
  little?: boolean;
}

const HEX_FIELD = /^[0-9A-Fa-f]+:[0-9A-Fa-f]{4}$/;

/** Parses the text of /proc/net/tcp or /proc/net/tcp6 (the header and junk lines skipped). */
export function parseTcpTable(text: string, options: TcpTableOptions = {}): TcpSocketRow[] {
  const rows: TcpSocketRow[] = [];
  const lines = text.split("\n");
  for (let i = 1; i < lines.length && rows.length < MAX_ROWS; i++) {
    const fields = lines[i].trim().split(/\s+/, 7);
    if (fields.length < 7 || !HEX_FIELD.test(fields[1]) || !HEX_FIELD.test(fields[2])) continue;
    if (options.ports) {
      const local = parseInt(fields[1].slice(-4), 16);
      const remote = parseInt(fields[2].slice(-4), 16);
      if (!options.ports.has(local) && !options.ports.has(remote)) continue;
    }
    const [txHex, rxHex] = fields[4].split(":");
    const [timer, when] = fields[5].split(":");
    const row: TcpSocketRow = {
      local: parseProcAddress(fields[1], options),
      remote: parseProcAddress(fields[2], options),
      state: TCP_STATES[parseInt(fields[3], 16)] ?? `state ${fields[3]}`,
      txQueue: parseInt(txHex, 16),
      rxQueue: parseInt(rxHex, 16),
    };
    if (timer === "03") row.timerSeconds = Math.round(parseInt(when, 16) / USER_HZ);
    rows.push(row);
  }
  return rows;
}

/** Which sockets to return: by local port, remote port, both, or any of `ports` at either end. */
export interface TcpTableFilter {
  localPort?: number;
  remotePort?: number;
  ports?: ReadonlySet<number>;
}

/** True where the kernel's table can be read (Linux with /proc). */
export function tcpTableAvailable(): boolean {
  try {
    Deno.statSync("/proc/net/tcp");
    return true;
  } catch {
    return false;
  }
}

/** The machine's TCP sockets (IPv4 and IPv6), filtered; empty where /proc is not readable. */
export function readTcpTable(filter: TcpTableFilter = {}): TcpSocketRow[] {
  const ports = new Set(filter.ports ?? []);
  for (const port of [filter.localPort, filter.remotePort]) if (port !== undefined) ports.add(port);
  const rows: TcpSocketRow[] = [];
  for (const path of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    try {
      rows.push(...parseTcpTable(Deno.readTextFileSync(path), ports.size ? { ports } : {}));
    } catch {
      // Not Linux, or no IPv6: nothing to add.
    }
  }
  return rows.filter((row) =>
    (filter.localPort === undefined || row.local.port === filter.localPort) &&
    (filter.remotePort === undefined || row.remote.port === filter.remotePort)
  );
}

/** The row of the socket from `local` to `remote` (`"host:port"`; a listener's remote is `0.0.0.0:0`). */
export function findSocket(
  rows: readonly TcpSocketRow[],
  local: string,
  remote = "0.0.0.0:0",
): TcpSocketRow | undefined {
  const text = (end: { hostname: string; port: number }) => `${end.hostname}:${end.port}`;
  return rows.find((row) => text(row.local) === local && text(row.remote) === remote);
}

/** The state of the one connection from `local` to `remote` (ports), or undefined. */
export function connectionState(localPort: number, remotePort: number): string | undefined {
  return readTcpTable({ localPort, remotePort })[0]?.state;
}

/** How many connections wait in the accept queue of the listener on `port` (undefined: none). */
export function acceptQueueLength(port: number): number | undefined {
  return readTcpTable({ localPort: port }).find((r) => r.state === "LISTEN")?.rxQueue;
}
