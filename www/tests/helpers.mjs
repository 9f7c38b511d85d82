// Shared helpers of the demo's end-to-end tests: `next start` on a free port
// (started from the test, stopped after), headless Debian Chromium through
// playwright-core, and small page helpers. The app must be built first
// (`npm test` runs `next build` before the tests).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const WWW = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const ROOT = path.resolve(WWW, "..");
export const RESULTS = path.join(WWW, "test-results");
export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

fs.mkdirSync(RESULTS, { recursive: true });

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const BASE_ENV_DROP = [
  "OPENAI_API_KEY",
  "GEMINI_API_KEY",
  "STABILITY_API_KEY",
  "OPENAI_BASE_URL",
  "GEMINI_BASE_URL",
  "STABILITY_BASE_URL",
  "JWT_SECRET",
  "IMAGEGEN_DEV_LOGIN",
];

/**
 * Starts `next start` on a free port with exactly the given provider/auth env
 * (the caller's own keys, if any, are removed: tests never reach real providers).
 * Returns {url, port, logs(), stop()}.
 */
export async function startNext(env = {}) {
  if (!fs.existsSync(path.join(WWW, ".next", "BUILD_ID"))) {
    throw new Error("www/.next is missing: run `npm run build` (or `npm test`, which builds first)");
  }
  const port = await freePort();
  const childEnv = { ...process.env };
  for (const k of BASE_ENV_DROP) delete childEnv[k];
  Object.assign(childEnv, { NEXT_TELEMETRY_DISABLED: "1", NODE_ENV: "production", ...env });
  const child = spawn(
    process.execPath,
    [path.join(WWW, "node_modules/next/dist/bin/next"), "start", "-p", String(port), "-H", "127.0.0.1"],
    { cwd: WWW, env: childEnv, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout.on("data", (c) => (output += c));
  child.stderr.on("data", (c) => (output += c));
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`next start exited early:\n${output}`);
    try {
      const r = await fetch(`${url}/api/generate-image`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      process.kill(-child.pid, "SIGKILL");
      throw new Error(`next start did not answer within 30 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  return {
    url,
    port,
    logs: () => output,
    async stop() {
      if (child.exitCode !== null) return;
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // gone
        }
      }, 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Headless Chromium (Debian's) with its own temp dir, removed on close. */
export async function launchBrowser() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "www-e2e-"));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    env: { ...process.env, TMPDIR: tmp },
    args: [
      "--no-sandbox",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
      "--disable-gpu",
      "--disable-dev-shm-usage",
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/**
 * A new page whose requests may only go to 127.0.0.1/localhost (anything else
 * is aborted and recorded: the demo must never reach a real provider), with
 * console errors collected.
 */
export async function newPage(browser, { viewport = { width: 1280, height: 1000 } } = {}) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const blocked = [];
  const consoleErrors = [];
  await context.route("**/*", (route) => {
    const u = new URL(route.request().url());
    const local = u.protocol === "data:" || u.hostname === "127.0.0.1" || u.hostname === "localhost";
    if (local) return route.continue();
    blocked.push(route.request().url());
    return route.abort();
  });
  const page = await context.newPage();
  page.on("console", (msg) => {
    if (msg.type() === "error") consoleErrors.push(msg.text());
  });
  page.on("pageerror", (err) => consoleErrors.push(String(err)));
  return { context, page, blocked, consoleErrors };
}

/** Fills the form and (unless `click: false`) clicks Generate. */
export async function fillAndGenerate(page, { mode, prompt, count, fault, target, latency, shape, workerUrl, click = true } = {}) {
  if (mode) await page.getByLabel(mode, { exact: true }).check();
  if (prompt !== undefined) await page.getByLabel("Prompt").fill(prompt);
  if (count !== undefined) await page.getByLabel("Images", { exact: true }).fill(String(count));
  if (shape !== undefined) await page.getByLabel("Size or aspect ratio").selectOption(shape);
  if (fault !== undefined) await page.getByLabel("Failure").selectOption(fault);
  if (target !== undefined) await page.getByLabel("On", { exact: true }).selectOption(target);
  if (latency !== undefined) await setRange(page.getByLabel(/Latency per call/), latency);
  if (workerUrl !== undefined) await page.getByLabel("Worker URL").fill(workerUrl);
  if (click) await clickGenerate(page);
}

export async function clickGenerate(page) {
  await page.getByRole("button", { name: "Generate" }).click();
}

/** Sets an <input type=range> the way a user's drag would (React sees an input event). */
export async function setRange(locator, value) {
  await locator.evaluate((input, v) => {
    const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set;
    setter.call(input, String(v));
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }, value);
}

/** Waits until the run ends (done, error or cancelled) and returns the status. */
export async function waitForRunEnd(page, timeout = 30_000) {
  await page.waitForFunction(
    () => {
      const s = document.querySelector("section.results")?.getAttribute("data-status");
      return s === "done" || s === "error" || s === "cancelled";
    },
    null,
    { timeout },
  );
  return page.locator("section.results").getAttribute("data-status");
}

/** Images in the results that really decoded (naturalWidth > 0). */
export function renderedImages(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll('[data-testid="images"] img')].filter((img) => img.complete && img.naturalWidth > 0)
      .length,
  );
}

/** Waits for `n` decoded images. */
export async function waitForImages(page, n, timeout = 30_000) {
  await page.waitForFunction(
    (n) =>
      [...document.querySelectorAll('[data-testid="images"] img')].filter((img) => img.complete && img.naturalWidth > 0)
        .length >= n,
    n,
    { timeout },
  );
}

/** The timeline as [{kind, text}]. */
export function timeline(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll('[data-testid="timeline"] li')].map((li) => ({
      kind: li.getAttribute("data-kind"),
      text: li.textContent ?? "",
    })),
  );
}

/** Records a measured number (written to test-results/metrics.json and printed). */
export function recordMetric(name, value) {
  const file = path.join(RESULTS, "metrics.json");
  let all = {};
  try {
    all = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    // first metric
  }
  all[name] = value;
  fs.writeFileSync(file, JSON.stringify(all, null, 2) + "\n");
  console.log(`# metric ${name} = ${JSON.stringify(value)}`);
}

export { assert };
