/**
 * No silent waits: a client that has waited `afterMs` (2 s) for something says what, in one
 * line — `;; waiting for 127.0.0.9#53 (try 2 of 3)…` — instead of looking hung.
 *
 * A wait starts with `waiting(what)` and ends with `done()` or the next `waiting`. A wait that
 * goes on under a new description (the next try of the same query) passes `continues`: it keeps
 * its start time, and once the wait has been announced, each new description is printed at
 * once. Quick waits print nothing. One timer at most, cleared by `done()` (or `using`).
 */

/** How long a wait stays silent (ms). */
export const WAIT_NOTICE_AFTER_MS = 2000;

/** What a library tells about its waits (`WaitNotice` is one listener). */
export interface WaitListener {
  /** A wait for `what` begins; `continues` when it is the same wait going on (the next try). */
  waiting(what: string, options?: { continues?: boolean }): void;
  /** The wait is over. */
  done(): void;
}

/** Says what a client waits for once a wait passes `afterMs` (see the module comment). */
export class WaitNotice implements WaitListener, Disposable {
  readonly #print: (what: string) => void;
  readonly #afterMs: number;
  #what: string | undefined;
  #startedAt = 0;
  #announced = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** `print` gets the description given to `waiting` and writes the line. */
  constructor(print: (what: string) => void, { afterMs = WAIT_NOTICE_AFTER_MS } = {}) {
    this.#print = print;
    this.#afterMs = afterMs;
  }

  /** From now on the client waits for `what`; `continues` when it is the same wait going on. */
  waiting(what: string, { continues = false }: { continues?: boolean } = {}): void {
    const ongoing = continues && this.#what !== undefined;
    this.#what = what;
    if (ongoing && this.#announced) {
      this.#print(what);
      return;
    }
    if (ongoing) return; // the timer already runs for this wait
    this.#clearTimer();
    this.#announced = false;
    this.#startedAt = performance.now();
    this.#arm();
  }

  /** The wait is over. */
  done(): void {
    this.#clearTimer();
    this.#what = undefined;
    this.#announced = false;
  }

  [Symbol.dispose](): void {
    this.done();
  }

  #arm(): void {
    const left = this.#startedAt + this.#afterMs - performance.now();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#what === undefined) return;
      this.#announced = true;
      this.#print(this.#what);
    }, Math.max(0, left));
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
