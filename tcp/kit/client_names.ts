/**
 * A peer's address as every log line shows it (`127.0.0.1:40000`, `[::1]:40000`), made once
 * per client rather than once per query: a client that asks many questions usually asks from
 * one address and port, so the last few texts are kept and found again by comparing two fields.
 */
import { formatAddr } from "./cli.ts";

/** How many recent clients are remembered. */
const REMEMBERED = 8;

/** The texts of the last few client addresses (see the module comment). */
export class ClientNames {
  readonly #hosts: string[] = [];
  readonly #ports: number[] = [];
  readonly #texts: string[] = [];
  #next = 0;

  /** `addr` as `formatAddr` writes it. */
  text(addr: Deno.Addr): string {
    if (!("hostname" in addr)) return formatAddr(addr);
    const { hostname, port } = addr;
    for (let i = 0; i < this.#texts.length; i++) {
      if (this.#ports[i] === port && this.#hosts[i] === hostname) return this.#texts[i];
    }
    const text = formatAddr(addr);
    const slot = this.#next;
    this.#next = (slot + 1) % REMEMBERED;
    this.#hosts[slot] = hostname;
    this.#ports[slot] = port;
    this.#texts[slot] = text;
    return text;
  }
}
