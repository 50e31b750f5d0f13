/**
 * The offline mini-Internet: three authoritative servers on three loopback addresses, one per
 * level of seed 000's hierarchy — the root `.` on 127.0.0.2, `com.` on 127.0.0.3 and
 * `cnblogs.com.` on 127.0.0.4 (which says www.cnblogs.com is 127.0.0.5).
 *
 * Seed idea (000): 「从根DNS服务器逐级问下来(迭代查询)」 and 「二级域名需去顶级域名中买」 — the root
 * only knows who runs `com.`, `com.` only knows who runs `cnblogs.com.` (the name bought from the
 * TLD), and only `cnblogs.com.`'s own server knows `www`. `+trace` shows the walk.
 *
 * Run it:
 *   deno task dns:internet                # port 53 when root and free, else a shared high port
 *   deno task dns:internet --port 5300
 *   deno task dns:internet --port 0 --json            # NDJSON events: listening, log
 *   deno task dns:internet --dnssec --anchor root.anchor   # signed; the trust anchor in a file
 * then, in another terminal, the commands it prints, e.g.
 *   deno task dns:query +trace --root 127.0.0.2 -p PORT www.cnblogs.com
 *   dig @127.0.0.2 -p PORT www.cnblogs.com +norecurse      # the root's referral to com.
 *
 * The servers are started and stopped by `dns/internet/servers.ts`, signed by
 * `dns/internet/signing.ts`; this script prints what to try and waits for Ctrl-C.
 */
import {
  CliError,
  interruptSignal,
  parseCli,
  parsePort,
  runMain,
  UsageError,
  userPath,
} from "../tcp/kit/cli.ts";
import { createReporter, type Reporter } from "../tcp/kit/report.ts";
import { type Breakage, BREAKAGES } from "./internet/signing.ts";
import { type MiniInternet, startMiniInternet } from "./internet/servers.ts";
import { formatRecord } from "./wire/rdata.ts";

export const USAGE =
  `Usage: deno task dns:internet [--port PORT] [--dnssec [--anchor FILE] [--break HOW]] [--json]

Starts the offline mini-Internet: dns/server.ts for the root "." on 127.0.0.2, "com." on
127.0.0.3 and "cnblogs.com." on 127.0.0.4, all on one port (53 when run as root and free,
else a free high port), prints the commands to try, and runs until Ctrl-C.

  --port PORT   port for all three servers (default: 53 if possible, else a free one;
                0: a free high port)
  --dnssec      sign the three zones at start-up (root, com., cnblogs.com.; DS at each cut)
                and print the root's trust anchor and the file holding it
  --anchor FILE with --dnssec, also write the root's trust anchor to FILE (the format
                dns:query --trust-anchor reads), so the commands printed name FILE
  --break HOW   with --dnssec, spoil one link to see a validator catch it: flip (a byte of
                www.cnblogs.com's signature), expired (cnblogs.com's signatures), no-ds
                (com. drops cnblogs.com's DS)
  --json        newline-delimited JSON events (listening, log) instead of text
  -h, --help    show this help`;

/** Starts the mini-Internet, prints what to try, and waits for Ctrl-C. */
export async function main(args: string[]): Promise<void> {
  const { values } = parseCli(args, {
    port: { type: "string", short: "p" },
    json: { type: "boolean" },
    dnssec: { type: "boolean" },
    anchor: { type: "string" },
    break: { type: "string" },
  });
  const breakWith = values.break as Breakage | undefined;
  if (breakWith !== undefined && !BREAKAGES.includes(breakWith)) {
    throw new UsageError(`Invalid --break "${values.break}": use ${BREAKAGES.join(", ")}`);
  }
  if (breakWith && !values.dnssec) throw new UsageError("--break needs --dnssec");
  if (values.anchor !== undefined && !values.dnssec) {
    throw new UsageError("--anchor needs --dnssec");
  }
  if (values.anchor === "") throw new UsageError(`Invalid --anchor "": expected a file name`);
  const port = values.port === undefined ? undefined : parsePort(values.port, 0);
  using interrupted = interruptSignal();
  const report = createReporter("dns/internet", { json: values.json });
  const net = await startMiniInternet({
    port,
    signal: interrupted,
    onLog: (zone, line) => report.info(`[${zone}] ${line}`, "log", { zone }),
    dnssec: values.dnssec,
    breakWith,
  });
  try {
    if (values.anchor !== undefined) await writeAnchor(net, values.anchor);
  } catch (error) {
    await net.stop();
    throw error;
  }
  announce(report, net, values.anchor);
  report.info("\nTry:", "log");
  for (const command of tryCommands(net, values.anchor)) {
    report.info(`  ${command}`, "log", { command });
  }
  report.info("Ctrl-C stops the servers.", "log");
  await new Promise<void>((resolve) => {
    if (interrupted.aborted) resolve();
    else interrupted.addEventListener("abort", () => resolve(), { once: true });
  });
  await net.stop();
  report.info("mini-Internet stopped", "log");
}

/** `--anchor FILE`: the root's trust anchor copied to where the user asked. */
async function writeAnchor(net: MiniInternet, file: string): Promise<void> {
  try {
    await Deno.copyFile(net.dnssec!.anchorFile, userPath(file));
  } catch (error) {
    throw new CliError(`Cannot write the trust anchor to "${file}": ${(error as Error).message}`);
  }
}

/** The listening lines, one per server, and with `--dnssec` the root's trust anchor. */
function announce(report: Reporter, net: MiniInternet, anchorFile: string | undefined): void {
  const p = net.port;
  report.info(
    `listening on ${net.roots[0]}:${p} (udp+tcp; root of the mini-Internet)`,
    "listening",
    { address: `${net.roots[0]}:${p}`, port: p, roots: net.roots },
  );
  for (const server of net.servers) {
    report.info(
      `  ${server.zone.padEnd(14)} served by ${server.host}:${server.port}`,
      "listening",
      { zone: server.zone, address: `${server.host}:${server.port}` },
    );
  }
  const signed = net.dnssec;
  if (!signed) return;
  const tag = signed.anchorDs.data.kind === "DS" ? signed.anchorDs.data.keyTag : "";
  const file = anchorFile ?? signed.anchorFile;
  report.info(
    `\nSigned. The root's trust anchor (KSK ${tag}), in ${file}:`,
    "log",
    { anchorFile: file, bindAnchorFile: signed.bindAnchorFile },
  );
  report.info(`  ${formatRecord(signed.anchorDs)}`, "log", { ds: formatRecord(signed.anchorDs) });
}

/** The commands to try against this mini-Internet (its port, its trust anchor). */
function tryCommands(net: MiniInternet, anchorFile: string | undefined): string[] {
  const root = net.roots[0];
  const portFlag = net.port === 53 ? "" : ` -p ${net.port}`;
  const anchor = anchorFile ?? net.dnssec?.anchorFile;
  return [
    ...(net.dnssec
      ? [
        `deno task dns:query +trace +validate --trust-anchor ${anchor} --root ${root}${portFlag} www.cnblogs.com`,
      ]
      : []),
    `deno task dns:query +trace --root ${root}${portFlag} www.cnblogs.com`,
    `deno task dns:query --root ${root}${portFlag} www.cnblogs.com AAAA`,
    `deno task dns:query @127.0.0.2${portFlag} +norecurse www.cnblogs.com   # referral`,
    `deno task dns:query @127.0.0.4${portFlag} cnblogs.com MX`,
    `dig @127.0.0.3${portFlag} www.cnblogs.com +norecurse`,
  ];
}

if (import.meta.main) await runMain(USAGE, main);
