// Helpers of the install checks: the packed package (`npm pack` of pkg/, or
// the tarball named by IMAGEGEN_TARBALL), fresh projects in a temporary
// folder that install it with npm as a user would, a static file server and
// headless Chromium (Debian's, through playwright-core).
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, "../..");
export const TOOLS = path.join(HERE, "node_modules");
/** The repository's own dev dependencies (wrangler, miniflare). */
export const ROOT_TOOLS = path.join(ROOT, "node_modules");
export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

const made = [];
process.on("exit", () => {
  if (process.env.KEEP_INSTALL_PROJECTS) return;
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

let packed;
/** The package tarball: IMAGEGEN_TARBALL, or `npm pack` of pkg/ (once per process). */
export async function tarball() {
  if (process.env.IMAGEGEN_TARBALL) return path.resolve(process.env.IMAGEGEN_TARBALL);
  if (!packed) {
    packed = (async () => {
      assert.ok(fs.existsSync(path.join(ROOT, "pkg/package.json")), "pkg/ is not built: run bash scripts/build-pkg.sh");
      const dest = tempDir("imagegen-pack-");
      const { stdout } = await run("npm", ["pack", path.join(ROOT, "pkg"), "--pack-destination", dest, "--json", "--loglevel=error"]);
      return path.join(dest, JSON.parse(stdout)[0].filename);
    })();
  }
  return packed;
}

/**
 * A fresh project in a temporary folder: writes `files` (path → text), runs
 * `npm install <tarball>` in it (offline: the tarball has no dependencies),
 * then links the named tools (vite, vitest, ...) from this folder's
 * node_modules (`rootTools`: the repository's) into the project's, where the
 * project's own code finds them.
 */
export async function project(name, { files = {}, tools = [], rootTools = [], packageJson = {} } = {}) {
  const dir = tempDir(`imagegen-${name}-`);
  fs.writeFileSync(
    path.join(dir, "package.json"),
    JSON.stringify({ name: `check-${name}`, private: true, ...packageJson }, null, 2),
  );
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), text);
  }
  await run("npm", ["install", "--offline", "--no-audit", "--no-fund", "--loglevel=error", await tarball()], { cwd: dir });
  assert.ok(fs.existsSync(path.join(dir, "node_modules/imagegen/package.json")), "imagegen was not installed");
  const link = (from, tool) => {
    const target = path.join(dir, "node_modules", tool);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.symlinkSync(path.join(from, tool), target, "dir");
  };
  tools.forEach((tool) => link(TOOLS, tool));
  rootTools.forEach((tool) => link(ROOT_TOOLS, tool));
  return dir;
}

/** The probe every runtime runs (fixtures/probe.mjs), as source text. */
export const PROBE = fs.readFileSync(path.join(HERE, "fixtures/probe.mjs"), "utf8");

/** What the probe reports when the package works. */
export const PROBE_OK = {
  images: 2,
  mimeType: "image/svg+xml",
  provider: "mock",
  errorName: "ImageGenError",
  errorCode: "invalid_request",
  errorParam: "prompt",
  errorIsInstance: true,
  errorGuard: true,
  errorFromOtherCopyGuard: true,
  plainObjectGuard: false,
  exportsInitSync: false,
};

/** Runs a command; resolves with {code, stdout, stderr} (never rejects on a non-zero exit). */
export function exec(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], ...opts });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** The last line of stdout, parsed as JSON (what a probe script prints). */
export function lastJson(stdout) {
  const line = stdout.trim().split("\n").at(-1);
  return JSON.parse(line);
}

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
};

/** Serves a folder on 127.0.0.1 (a free port); resolves with {url, close()}. */
export async function serve(root) {
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url, "http://x").pathname);
    const file = path.join(root, rel.endsWith("/") ? `${rel}index.html` : rel);
    if (!file.startsWith(root) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream" });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** Headless Chromium; resolves with {browser, close()}. */
export async function launchChromium() {
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  return { browser, close: () => browser.close() };
}

/**
 * Opens `url` and waits for `window.__probe` (set by the page when its checks
 * finish); resolves with it. Page errors and console errors are reported.
 */
export async function probePage(browser, url, timeoutMs = 30_000) {
  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  try {
    await page.goto(url);
    await page.waitForFunction(() => window.__probe !== undefined, null, { timeout: timeoutMs });
    const result = await page.evaluate(() => window.__probe);
    return { result, problems };
  } catch (e) {
    throw new Error(`${url}: ${e.message}\n${problems.join("\n")}`);
  } finally {
    await page.close();
  }
}
