/**
 * Headless Chromium driven over the Chrome DevTools Protocol (a WebSocket, from Deno: no
 * packages): start it with a throwaway profile, open a page, evaluate JavaScript in it, click and
 * type like a user (real input events), wait for a condition inside the page, take screenshots.
 * Tests that use it are ignored when `chromium` is not installed (see `hasCommand`).
 */
import { ROOT } from "./_helpers.ts";

/** Flags for a quiet, offline, throwaway headless Chromium (no sandbox: tests may run as root). */
function chromiumArgs(profileDir: string, width: number, height: number): string[] {
  return [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
    `--user-data-dir=${profileDir}`,
    `--window-size=${width},${height}`,
    "about:blank",
  ];
}

/** A DevTools result or event payload. */
type Json = Record<string, unknown>;

/** One page of a running headless Chromium. */
export interface Browser extends AsyncDisposable {
  /** Sends a DevTools command to the page and returns its result. */
  send(method: string, params?: Json): Promise<Json>;
  /** Opens `url` and waits for its load event. */
  open(url: string): Promise<void>;
  /** The value of `expression` in the page (promises are awaited). */
  evaluate<T = unknown>(expression: string): Promise<T>;
  /** Waits until `condition` (a JS expression) is true in the page; fails after `timeoutMs`. */
  waitFor(condition: string, timeoutMs?: number): Promise<void>;
  /** A real mouse click in the middle of the first element matching `selector`. */
  click(selector: string): Promise<void>;
  /** A real key press (`Enter`, `Tab`, `ArrowDown`) to whatever has the focus. */
  press(key: "Enter" | "Tab" | "ArrowDown" | "ArrowUp"): Promise<void>;
  /** The viewport size (CSS px) and whether it is a phone. */
  resize(width: number, height: number, mobile?: boolean): Promise<void>;
  /** A PNG of the viewport (or of the whole page with `full`). */
  screenshot(path: string, full?: boolean): Promise<void>;
}

const KEYS = {
  Enter: { code: "Enter", keyCode: 13, text: "\r" },
  Tab: { code: "Tab", keyCode: 9, text: "" },
  ArrowDown: { code: "ArrowDown", keyCode: 40, text: "" },
  ArrowUp: { code: "ArrowUp", keyCode: 38, text: "" },
};

/** Starts headless Chromium with a `width`×`height` window and connects to its page. */
export async function launchChromium({ width = 1280, height = 800 } = {}): Promise<Browser> {
  const profile = await Deno.makeTempDir({ prefix: "netlab-chromium-" });
  const child = new Deno.Command("chromium", {
    args: chromiumArgs(profile, width, height),
    cwd: ROOT,
    env: { HOME: profile },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let socket: WebSocket | undefined;
  const closeAll = async () => {
    try {
      socket?.close();
    } catch { /* closed */ }
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status;
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  };
  try {
    // Chromium prints `DevTools listening on ws://127.0.0.1:PORT/devtools/browser/…` on stderr.
    const port = await devToolsPort(child.stderr);
    const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as Json[];
    const page = targets.find((t) => t.type === "page");
    if (!page) throw new Error("Chromium has no page target");
    socket = new WebSocket(String(page.webSocketDebuggerUrl));
    await new Promise((resolve, reject) => {
      socket!.onopen = resolve;
      socket!.onerror = () => reject(new Error("Cannot connect to Chromium's DevTools socket"));
    });
    return connect(socket, closeAll);
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** Reads Chromium's stderr until the DevTools line, then keeps draining it in the background. */
async function devToolsPort(stderr: ReadableStream<Uint8Array>): Promise<number> {
  const reader = stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const timer = setTimeout(() => reader.cancel(), 30_000);
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`Chromium did not start DevTools:\n${seen.slice(-2000)}`);
      seen += value;
      const m = /DevTools listening on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(seen);
      if (m) {
        // Keep reading so that Chromium never blocks on a full pipe.
        (async () => {
          try {
            while (!(await reader.read()).done) { /* drain */ }
          } catch { /* cancelled at exit */ }
        })();
        return Number(m[1]);
      }
    }
  } finally {
    clearTimeout(timer);
  }
}

function connect(socket: WebSocket, closeAll: () => Promise<void>): Browser {
  let nextId = 1;
  const pending = new Map<number, { resolve(v: Json): void; reject(e: Error): void }>();
  const listeners = new Set<(method: string, params: Json) => void>();
  socket.onmessage = (message) => {
    const data = JSON.parse(String(message.data));
    if (typeof data.id === "number") {
      const call = pending.get(data.id);
      pending.delete(data.id);
      if (data.error) call?.reject(new Error(`${data.error.message} (${data.error.code})`));
      else call?.resolve(data.result ?? {});
    } else if (data.method) {
      for (const listen of listeners) listen(data.method, data.params ?? {});
    }
  };
  socket.onclose = () => {
    for (const call of pending.values()) call.reject(new Error("DevTools socket closed"));
    pending.clear();
  };

  const send = (method: string, params: Json = {}) =>
    new Promise<Json>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      socket.send(JSON.stringify({ id, method, params }));
    });

  const evaluate = async <T>(expression: string): Promise<T> => {
    const result = await send("Runtime.evaluate", {
      expression,
      awaitPromise: true,
      returnByValue: true,
    });
    const details = result.exceptionDetails as Json | undefined;
    if (details) {
      const exception = details.exception as Json | undefined;
      throw new Error(`In the page: ${exception?.description ?? details.text}`);
    }
    return (result.result as Json).value as T;
  };

  const browser: Browser = {
    send,
    evaluate,
    async open(url) {
      await send("Page.enable");
      const loaded = new Promise<void>((resolve) => {
        const listen = (method: string) => {
          if (method === "Page.loadEventFired") {
            listeners.delete(listen);
            resolve();
          }
        };
        listeners.add(listen);
      });
      await send("Page.navigate", { url });
      await loaded;
    },
    async waitFor(condition, timeoutMs = 10_000) {
      // Checked in the page on every frame: no sleep, and it fails with the condition's text.
      const ok = await evaluate<boolean>(`new Promise((resolve) => {
        const until = performance.now() + ${timeoutMs};
        const check = () => {
          let value = false;
          try { value = Boolean(${condition}); } catch { value = false; }
          if (value) resolve(true);
          else if (performance.now() > until) resolve(false);
          else requestAnimationFrame(check);
        };
        check();
      })`);
      if (!ok) throw new Error(`Timed out in the page waiting for: ${condition}`);
    },
    async click(selector) {
      const box = await evaluate<{ x: number; y: number } | null>(`(() => {
        const el = document.querySelector(${JSON.stringify(selector)});
        if (!el) return null;
        el.scrollIntoView({ block: "center", inline: "center" });
        const r = el.getBoundingClientRect();
        return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
      })()`);
      if (!box) throw new Error(`Nothing to click: ${selector}`);
      for (const type of ["mouseMoved", "mousePressed", "mouseReleased"]) {
        await send("Input.dispatchMouseEvent", {
          type,
          x: box.x,
          y: box.y,
          button: "left",
          clickCount: 1,
        });
      }
    },
    async press(key) {
      const k = KEYS[key];
      const common = { key, code: k.code, windowsVirtualKeyCode: k.keyCode };
      await send("Input.dispatchKeyEvent", { type: "keyDown", ...common, text: k.text });
      await send("Input.dispatchKeyEvent", { type: "keyUp", ...common });
    },
    async resize(width, height, mobile = false) {
      await send("Emulation.setDeviceMetricsOverride", {
        width,
        height,
        deviceScaleFactor: 1,
        mobile,
      });
    },
    async screenshot(path, full = false) {
      const { data } = await send("Page.captureScreenshot", {
        format: "png",
        captureBeyondViewport: full,
      }) as { data: string };
      await Deno.writeFile(path, Uint8Array.from(atob(data), (c) => c.charCodeAt(0)));
    },
    async [Symbol.asyncDispose]() {
      await send("Browser.close").catch(() => {});
      await closeAll();
    },
  };
  return browser;
}
