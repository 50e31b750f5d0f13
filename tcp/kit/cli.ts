/**
 * The one command-line pattern every netlab script uses: flags through `parseArgs` from
 * `node:util`, `--help` on stdout, a bad flag as one line plus usage on stderr (exit 1), port
 * checks, how addresses print, `listening on …`, and a clean stop on Ctrl-C.
 *
 * It lives in `tcp/` because TCP is the lowest layer every other topic builds on.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { formatHostPort } from "../core/ip_address.ts";

// Shared with the library (tcp/core), which prints nothing; part of the kit's API too.
export { formatHostPort } from "../core/ip_address.ts";
export { pause } from "../core/io.ts";

/** A mistake in how the program was called: printed with the usage, exit 1. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A failure the user should read as one line (no stack trace), with a chosen exit code. */
export class CliError extends Error {
  override name = "CliError";
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

type Options = NonNullable<ParseArgsConfig["options"]>;
type Config<O extends Options> = {
  args: string[];
  options: O & { help: { type: "boolean"; short: "h" } };
  allowPositionals: true;
  strict: true;
};

/** The result of `parseCli`: typed flag values and the positionals. */
export type Parsed<O extends Options> = ReturnType<typeof parseArgs<Config<O>>>;

/**
 * Parses `args` against `options` (plus `--help`/`-h`). Unknown flags and missing values throw
 * `UsageError`; `--help` is reported as `values.help === true` for `runMain` to handle.
 */
export function parseCli<O extends Options>(args: string[], options: O): Parsed<O> {
  const config: Config<O> = {
    args,
    options: { ...options, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
    strict: true,
  };
  try {
    return parseArgs(config);
  } catch (error) {
    // node:util spreads some messages over several lines (`--port -1` is "ambiguous"); a usage
    // error is one line, followed by the usage.
    if (error instanceof TypeError) throw new UsageError(error.message.replace(/\s*\n\s*/g, " "));
    throw error;
  }
}

/** Parses a port flag: an integer 0–65535 (0 asks the kernel for an ephemeral port). */
export function parsePort(value: string | undefined, fallback: number, flag = "--port"): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) {
    throw new UsageError(`Invalid ${flag} "${value}": expected an integer from 0 to 65535`);
  }
  return Number(value);
}

/** Parses a positive integer flag with an upper bound. */
export function parseCount(
  value: string | undefined,
  fallback: number,
  flag: string,
  { min = 1, max = Number.MAX_SAFE_INTEGER } = {},
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`Invalid ${flag} "${value}": expected an integer from ${min} to ${max}`);
  }
  return n;
}

/** `127.0.0.1:8080`, `[::1]:8080` or `unix:/tmp/sock` — how every tool prints an address. */
export function formatAddr(addr: Deno.Addr): string {
  if ("path" in addr) return `unix:${addr.path}`;
  if ("hostname" in addr) return formatHostPort(addr.hostname, addr.port);
  return `vsock:${addr.cid}:${addr.port}`;
}

/** A listener's first stdout line; tests and other tools wait for exactly this prefix. */
export function listeningLine(addr: Deno.Addr, suffix = ""): string {
  return `listening on ${formatAddr(addr)}${suffix}`;
}

/**
 * An AbortSignal that fires on Ctrl-C (SIGINT) or SIGTERM. Dispose it to remove the handlers.
 */
export function interruptSignal(): AbortSignal & Disposable {
  const controller = new AbortController();
  const stop = () => controller.abort(new CliError("interrupted", 130));
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const sig of signals) Deno.addSignalListener(sig, stop);
  return Object.assign(controller.signal, {
    [Symbol.dispose]() {
      for (const sig of signals) Deno.removeSignalListener(sig, stop);
    },
  });
}

/** Writes a line to stdout without the cost of console formatting. */
export function printLine(text: string): void {
  console.log(text);
}

/** Writes a line to stderr. */
export function printError(text: string): void {
  console.error(text);
}

/**
 * Runs a script's `main(args)`: `--help` prints `usage` (exit 0), `UsageError` prints one line and
 * the usage on stderr (exit 1), `CliError` prints its message (its exit code), anything else
 * prints `error: message` (exit 1; set NETLAB_DEBUG=1 for the stack). Never returns.
 */
export async function runMain(
  usage: string,
  main: (args: string[]) => Promise<number | void> | number | void,
  args: string[] = Deno.args,
): Promise<never> {
  let code = 0;
  try {
    if (args.includes("--help") || args.includes("-h")) {
      printLine(usage.trimEnd());
    } else {
      code = (await main(args)) ?? 0;
    }
  } catch (error) {
    if (error instanceof UsageError) {
      printError(error.message);
      printError(usage.trimEnd());
      code = 1;
    } else if (error instanceof CliError) {
      printError(error.message);
      code = error.exitCode;
    } else {
      printError(`error: ${error instanceof Error ? error.message : String(error)}`);
      if (Deno.env.get("NETLAB_DEBUG")) console.error(error);
      code = 1;
    }
  }
  Deno.exit(code);
}

/** A UDP server's first stdout line: `listening on udp 127.0.0.1:8080` (tests skip the `udp`). */
export function datagramListeningLine(addr: Deno.Addr): string {
  return `listening on udp ${formatAddr(addr)}`;
}

/** Parses a `HOST:PORT` flag value (`127.0.0.1:8888`, `[::1]:8888`, `localhost:8888`). */
export function parseHostPort(value: string, flag: string): { hostname: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(value);
  if (!m || Number(m[3]) > 65535 || Number(m[3]) === 0) {
    throw new UsageError(`Invalid ${flag} "${value}": expected HOST:PORT, e.g. 127.0.0.1:8888`);
  }
  return { hostname: m[1] ?? m[2], port: Number(m[3]) };
}

/**
 * `Deno.listen` for a TCP server, with the common failures as one clear line
 * (`Cannot listen on 127.0.0.1:8080: address already in use`) instead of a stack trace.
 */
export function listenTcp(
  options: { hostname: string; port: number; tcpBacklog?: number },
): Deno.TcpListener {
  try {
    return Deno.listen({ transport: "tcp", ...options });
  } catch (error) {
    const where = formatHostPort(options.hostname, options.port);
    if (error instanceof Deno.errors.AddrInUse) {
      throw new CliError(`Cannot listen on ${where}: address already in use`);
    }
    if (error instanceof Deno.errors.AddrNotAvailable) {
      throw new CliError(`Cannot listen on ${where}: address not available on this machine`);
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new CliError(
        `Cannot listen on ${where}: permission denied (ports below 1024 need root)`,
      );
    }
    throw error;
  }
}

/**
 * `Deno.listenDatagram` for a UDP socket, with the common failures as one clear line
 * (`Cannot listen on udp 127.0.0.1:8080: address already in use`).
 */
export function listenUdp(
  hostname: string,
  port: number,
  options: { reuseAddress?: boolean } = {},
): Deno.DatagramConn {
  try {
    return Deno.listenDatagram({ transport: "udp", hostname, port, ...options });
  } catch (error) {
    const where = formatHostPort(hostname, port);
    if (error instanceof Deno.errors.AddrInUse) {
      throw new CliError(`Cannot listen on udp ${where}: address already in use`);
    }
    if (
      error instanceof Deno.errors.AddrNotAvailable || error instanceof Deno.errors.PermissionDenied
    ) {
      throw new CliError(`Cannot listen on udp ${where}: ${(error as Error).message}`);
    }
    throw error;
  }
}
