/**
 * The browser as the client (seed 002's B/S architecture: 「Browser浏览器,其实也是一种Client客户端」):
 * headless Chromium loads seed 000's page from `http/server.ts`, fetches its stylesheet and its
 * image over the same raw-socket server, and the test checks the DOM Chromium rendered
 * (`--dump-dom`) and that the server's access log shows the page and every sub-resource with
 * status 200. Reported as ignored when `chromium` (Debian package) is not installed.
 */
import assert from "node:assert/strict";
import { hasCommand, runCommand, startScript } from "../_helpers.ts";

const PAGE = "/linhaifeng/articles/6817679.html";

/** Flags for a quiet, offline, throwaway headless Chromium (no sandbox: tests may run as root). */
function chromiumArgs(profileDir: string, url: string): string[] {
  return [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    `--user-data-dir=${profileDir}`,
    "--dump-dom",
    url,
  ];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

Deno.test({
  name:
    "headless Chromium renders the demo page from http/server.ts with its CSS and image, all 200",
  ignore: !hasCommand("chromium"),
  async fn() {
    await using server = await startScript("http/server.ts", [
      "--host",
      "127.0.0.1",
      "--port",
      "0",
    ]);
    const pageUrl = `http://${server.host}:${server.port}${PAGE}`;
    const profile = await Deno.makeTempDir({ prefix: "netlab-chromium-" });
    try {
      const browser = await runCommand("chromium", chromiumArgs(profile, pageUrl), {
        timeoutMs: 60_000,
        env: { HOME: profile },
      });
      assert.equal(browser.code, 0, browser.stderr.slice(-2000));
      const dom = browser.stdout;

      // The DOM as Chromium built it: a real page about seed 000's URL.
      assert.match(dom, /^<!DOCTYPE html>/i);
      assert.match(dom, /<title>[^<]+<\/title>/i);
      const stylesheet = /<link\b[^>]*\brel="stylesheet"[^>]*>/i.exec(dom)?.[0];
      assert.ok(stylesheet, `no stylesheet link in the DOM:\n${dom}`);
      const cssHref = /\bhref="([^"]+)"/.exec(stylesheet)?.[1];
      const imgSrc = /<img\b[^>]*\bsrc="([^"]+)"/i.exec(dom)?.[1];
      assert.ok(cssHref, "the stylesheet link has no href");
      assert.ok(imgSrc, `no image in the DOM:\n${dom}`);

      // Every resource the browser needed came from our server with 200 (common log format:
      // `… "GET /path HTTP/1.1" 200 …`).
      const paths = [PAGE, new URL(cssHref, pageUrl).pathname, new URL(imgSrc, pageUrl).pathname];
      for (const path of paths) {
        const line = await server.waitForLine(
          new RegExp(`"GET ${escapeRegExp(path)} HTTP/1\\.1" 200 `),
          10_000,
        );
        assert.ok(line.includes(path));
      }
      // And nothing failed: no 4xx/5xx line in the log.
      const failures = server.lines.filter((line) => /" [45]\d\d /.test(line));
      assert.deepEqual(failures.filter((l) => !l.includes("/favicon.ico")), []);
    } finally {
      await Deno.remove(profile, { recursive: true });
    }
  },
});
