/**
 * The UDP echo server's log: one line per datagram received, `127.0.0.1:40000 -> hello`; with
 * `--json` a `received` event with the sender and the size.
 *
 * A busy server receives hundreds of thousands of datagrams a second, and the line must cost
 * little next to the answer: the sender's text is made once per sender (ClientNames), and a
 * datagram of printable ASCII — what most are — goes into the log as its own bytes, behind the
 * sender's text kept as bytes too, straight into the batched log writer: no string is made.
 * Anything else is shown as `describeDatagram` says (escaped text or a hex preview).
 */
import { ClientNames } from "../../tcp/kit/client_names.ts";
import type { Reporter } from "../../tcp/kit/report.ts";
import { describeDatagram, isPrintableAscii } from "./datagram.ts";

const encoder = new TextEncoder();

/** The per-datagram log of `udp/server.ts` (see the module comment). */
export class DatagramLog {
  readonly #names = new ClientNames();
  /** The last sender's text, and `${text} -> ` as bytes. */
  #sender = "";
  #head = new Uint8Array(0);

  /** `lines`: where plain lines of bytes go (the reporter's batched writer, or a test's). */
  constructor(readonly reporter: Reporter, readonly lines = reporter.lineWriter) {}

  /** `datagram` arrived from `from` (copied out at once: the buffer may be reused after). */
  received(datagram: Uint8Array, from: Deno.Addr): void {
    const sender = this.#names.text(from);
    const lines = this.lines;
    if (lines && datagram.length > 0 && isPrintableAscii(datagram)) {
      if (sender !== this.#sender) {
        this.#sender = sender;
        this.#head = encoder.encode(`${sender} -> `);
      }
      lines.lineOfBytes(this.#head, datagram);
      return;
    }
    this.reporter.info(`${sender} -> ${describeDatagram(datagram)}`, "received", {
      from: sender,
      bytes: datagram.length,
    });
  }
}
