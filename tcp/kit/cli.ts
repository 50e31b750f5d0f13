/**
 * The one command-line convention every netlab script follows, written once:
 * - `-h`/`--help`: the usage on stdout, exit 0. Its shape: `Usage: deno task NAME …`, what the
 *   tool does, its options (`-h, --help` among them), and the exit codes — `runMain` adds the
 *   standard ones when the usage does not list its own.
 * - A usage mistake (unknown flag, missing or bad value): one line on stderr,
 *   `error: --port must be 0-65535, got -1 (see --help)`, exit 2 — never the whole usage.
 * - Any other failure: one line, `error: <what>: <cause>`, plus a hint where one helps; exit 1
 *   (or the code a `CliError` carries). No stack trace (NETLAB_DEBUG=1 prints it).
 * - Ctrl-C (SIGINT) or SIGTERM: every tool stops cleanly — a server prints `stopped`, a counting
 *   mode its summary — and exits 130.
 * - Paths the user typed are resolved against the directory `deno task` was started from
 *   (`INIT_CWD`), not the project root where deno runs the task (`userPath`).
 *
 * It lives in `tcp/` because TCP is the lowest layer every other topic builds on.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { flushLogs } from "./log.ts";
import { quoteInput } from "../core/printable.ts";
import { formatHostPort } from "../core/ip_address.ts";
import { HostLookupError, HostNameError, resolveHost } from "../core/host_name.ts";
import { ConnectError, type ConnectTarget, connectWithin } from "../core/connect.ts";

// Shared with the library (tcp/core), which prints nothing; part of the kit's API too.
export { formatHostPort } from "../core/ip_address.ts";
export { pause } from "../core/io.ts";

/** A mistake in how the program was called: one line with `(see --help)`, exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * A failure the user should read as one line (no stack trace), with a chosen exit code. It is
 * printed as `error: message`, or exactly as given with `verbatim` (a tool that mimics another's
 * output, as dns/query.ts does dig's `;; connection timed out…`).
 */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode = 1,
    readonly options: { verbatim?: boolean } = {},
  ) {
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

/** Exit codes every tool shares (a tool may add its own, e.g. dns/query.ts's 9). */
export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

/** The exit-code lines `--help` ends with when a usage does not list its own. */
export const STANDARD_EXIT_CODES =
  "Exit codes: 0 ok, 1 failure, 2 usage error, 130 interrupted (Ctrl-C or SIGTERM).";

/**
 * A value that starts with `-` (`--port -1`, `--count -5`) is still the flag's value when it looks
 * like a number, so that the flag's own check can say what is wrong with it; node:util would call
 * it "ambiguous".
 */
function joinNegativeValues(args: string[], options: Options): string[] {
  const takesValue = new Set<string>();
  for (const [name, option] of Object.entries(options)) {
    if (option.type !== "string") continue;
    takesValue.add(`--${name}`);
    if (option.short) takesValue.add(`-${option.short}`);
  }
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--") {
      out.push(...args.slice(i));
      break;
    }
    if (takesValue.has(args[i]) && i + 1 < args.length && /^-[\d.]/.test(args[i + 1])) {
      out.push(args[i].startsWith("--") ? `${args[i]}=${args[i + 1]}` : args[i] + args[i + 1]);
      i++;
    } else {
      out.push(args[i]);
    }
  }
  return out;
}

/** node:util's parse errors as one line in the convention's words. */
function usageErrorOf(error: TypeError & { code?: string }): UsageError {
  const quoted = /'(-[^' <]*)/.exec(error.message)?.[1];
  switch (error.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return new UsageError(`unknown option ${quoteInput(quoted ?? "?").slice(1, -1)}`);
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return new UsageError(
        /does not take an argument/.test(error.message)
          ? `${quoted} takes no value`
          : `${quoted} needs a value`,
      );
    default:
      return new UsageError(error.message.split("\n")[0]);
  }
}

/**
 * Parses `args` against `options` (plus `--help`/`-h`). Unknown flags and missing values throw
 * `UsageError`; `--help` is reported as `values.help === true` for `runMain` to handle.
 */
export function parseCli<O extends Options>(args: string[], options: O): Parsed<O> {
  const config: Config<O> = {
    args: joinNegativeValues(args, options),
    options: { ...options, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
    strict: true,
  };
  try {
    return parseArgs(config);
  } catch (error) {
    if (error instanceof TypeError) throw usageErrorOf(error);
    throw error;
  }
}

/** A flag value as an error message shows it: bare when it is a plain token, else quoted. */
export function shownValue(value: string): string {
  return /^[\x21-\x7e]{1,40}$/.test(value) && !value.includes('"') ? value : quoteInput(value);
}

/** Parses a port flag: an integer 0–65535 (0 asks the kernel for an ephemeral port). */
export function parsePort(value: string | undefined, fallback: number, flag = "--port"): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) {
    throw new UsageError(`${flag} must be 0–65535, got ${shownValue(value)}`);
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
    throw new UsageError(
      `${flag} must be an integer from ${min} to ${max.toLocaleString("en-US")}, got ${
        shownValue(value)
      }`,
    );
  }
  return n;
}

/**
 * An environment variable, or undefined when it is unset or the program may not read it (run with
 * fewer permissions than `-A`, e.g. `--allow-net --allow-read`): asking would stop it with
 * "Requires env access".
 */
function readEnv(name: string): string | undefined {
  const { state } = Deno.permissions.querySync({ name: "env", variable: name });
  return state === "granted" ? Deno.env.get(name) : undefined;
}

/**
 * A path the user typed, resolved against the directory they ran `deno task` from: deno runs a
 * task in the project root and keeps the user's directory in `INIT_CWD`. Absolute paths and runs
 * without `deno task` are left alone.
 */
export function userPath(path: string): string {
  const from = readEnv("INIT_CWD");
  if (!from || path.startsWith("/") || path === "-") return path;
  return from.endsWith("/") ? from + path : `${from}/${path}`;
}

/**
 * A host flag's value as an address: IP literals as they are, names resolved by the system's
 * resolver (tcp/core/host_name.ts). Malformed text is a usage error (`Invalid --host "my host":
 * …`), a name that does not resolve one line naming it (`Cannot resolve host "x": no such host`).
 */
export async function resolveHostArgument(value: string, flag = "--host"): Promise<string> {
  try {
    return await resolveHost(value);
  } catch (error) {
    if (error instanceof HostNameError) {
      throw new UsageError(`Invalid ${flag} ${quoteInput(error.host)}: ${error.reason}`);
    }
    if (error instanceof HostLookupError) throw new CliError(error.message);
    throw error;
  }
}

/**
 * Connects to a server for a client script: a failure is the script's one line (`Cannot connect
 * to 127.0.0.1:8080: connection refused (is the other side running?)`), and a connect still
 * pending after 2 s says so through `say` (stderr by default).
 */
export async function connectOrFail(
  target: ConnectTarget,
  { timeoutMs, say = printError }: { timeoutMs?: number; say?: (line: string) => void } = {},
): Promise<Deno.Conn> {
  try {
    return await connectWithin(target, { timeoutMs, onSlow: say });
  } catch (error) {
    if (error instanceof ConnectError) throw new CliError(error.message);
    throw error;
  }
}

/**
 * Makes sure the program can save into `dir` before any byte moves: the folder is created when
 * it is missing (with its parents, like `curl --create-dirs`), then a temporary file is created
 * in it and removed — the one test that answers for permissions, read-only mounts and folders
 * such as /sys that refuse new files. Failures are one line naming the folder as the user typed
 * it (`shownAs`) and the cause.
 */
export async function checkWritableFolder(dir: string, shownAs = dir): Promise<void> {
  const fail = (why: string) => new CliError(`Cannot save into ${quoteInput(shownAs)}: ${why}`);
  const cause = (error: unknown) => {
    if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
    if (error instanceof Deno.errors.NotADirectory) return "a part of the path is not a folder";
    // `Read-only file system (os error 30): tmpfile` → `read-only file system`
    const text = String(error instanceof Error ? error.message : error).split(" (os error")[0];
    return text.charAt(0).toLowerCase() + text.slice(1);
  };
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) throw fail("it exists and is not a folder");
    throw fail(`cannot create it: ${cause(error)}`);
  }
  let probe: string;
  try {
    probe = await Deno.makeTempFile({ dir, prefix: ".netlab-write-check-" });
  } catch (error) {
    throw fail(`the folder is not writable: ${cause(error)}`);
  }
  await Deno.remove(probe);
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

/** Set once Ctrl-C or SIGTERM stopped the program: `runMain` then exits 130. */
let interrupted = false;

/**
 * An AbortSignal that fires on Ctrl-C (SIGINT) or SIGTERM. Dispose it to remove the handlers.
 */
export function interruptSignal(): AbortSignal & Disposable {
  const controller = new AbortController();
  const stop = () => {
    interrupted = true;
    controller.abort(new CliError("interrupted", EXIT.interrupted));
  };
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
 * A message without the details Deno adds to a system error — `No such file or directory (os
 * error 2): readfile '/x/y'` becomes `No such file or directory` — because the program's own
 * message already names the thing (`Cannot read key "/x/y": …`).
 */
export function tidyMessage(message: string): string {
  const line = message.split("\n")[0];
  return line.replace(/ \(os error \d+\)(: [a-z_]+ '[^']*'( -> '[^']*')?)?/g, "");
}

/** The usage as `--help` prints it: the standard exit codes added when it lists none. */
export function helpText(usage: string): string {
  const text = usage.trimEnd();
  return /^Exit codes:/m.test(text) ? text : `${text}\n\n${STANDARD_EXIT_CODES}`;
}

/**
 * Runs a script's `main(args)` under the convention above: `--help` prints the usage (exit 0),
 * `UsageError` one line with `(see --help)` (exit 2), `CliError` its message (its exit code),
 * anything else `error: message` (exit 1; NETLAB_DEBUG=1 for the stack); a run stopped by
 * Ctrl-C or SIGTERM exits 130. Never returns.
 */
export async function runMain(
  usage: string,
  main: (args: string[]) => Promise<number | void> | number | void,
  args: string[] = Deno.args,
): Promise<never> {
  let code: number = EXIT.ok;
  try {
    if (args.includes("--help") || args.includes("-h")) {
      printLine(helpText(usage));
    } else {
      code = (await main(args)) ?? EXIT.ok;
    }
  } catch (error) {
    flushLogs(); // what the program logged comes before why it stopped
    if (error instanceof UsageError) {
      printError(`error: ${tidyMessage(error.message)} (see --help)`);
      code = EXIT.usage;
    } else if (error instanceof CliError) {
      printError(error.options.verbatim ? error.message : `error: ${tidyMessage(error.message)}`);
      code = error.exitCode;
    } else {
      printError(`error: ${tidyMessage(error instanceof Error ? error.message : String(error))}`);
      if (readEnv("NETLAB_DEBUG")) console.error(error);
      code = EXIT.failure;
    }
  }
  if (interrupted && code === EXIT.ok) code = EXIT.interrupted;
  flushLogs();
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
    throw new UsageError(
      `Invalid ${flag} ${quoteInput(value)}: expected HOST:PORT, e.g. 127.0.0.1:8888`,
    );
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
