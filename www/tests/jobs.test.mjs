// Async jobs in the demo page's Worker mode (headless Chromium against `next
// start`, the Worker in workerd via Miniflare, providers mocked): with "Async
// job" checked the page sends `Prefer: respond-async`, gets 202 and the job's
// id, polls `GET /v1/jobs/<id>` showing each status it sees in the timeline
// (queued, running, succeeded), then loads the images from the result's signed
// links and shows them.
import { after, before, test } from "node:test";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, assert, launchBrowser, newPage, startNext, timeline, waitForImages, waitForRunEnd } from "./helpers.mjs";

const { startMockServer, encodePng } = await import(pathToFileURL(path.join(ROOT, "tests/mock-server/server.mjs")).href);
const workerHelpers = await import(pathToFileURL(path.join(ROOT, "tests/worker/helpers.mjs")).href);

const WORKER_KEY = "sk-jobs-worker-0123456789abcdef";
const FINAL_PNG = encodePng(48, 48, { colorType: 2, pixel: (x, y) => [x * 5, 100 + y * 2, 180] });

let mock;
let next;
let worker;
let chrome;

before(async () => {
  if (!fs.existsSync(path.join(ROOT, "worker/build/index.js"))) {
    const r = spawnSync("bash", ["scripts/build-worker.sh"], { cwd: ROOT, stdio: "inherit" });
    assert.equal(r.status, 0, "scripts/build-worker.sh failed");
  }
  mock = await startMockServer({ imageBase64: FINAL_PNG.toString("base64") });
  next = await startNext({ JWT_SECRET: workerHelpers.JWT_SECRET, IMAGEGEN_DEV_LOGIN: "1" });
  worker = await workerHelpers.startWorker({ mockUrl: mock.url, bindings: { ALLOWED_ORIGINS: next.url } });
  chrome = await launchBrowser();
});

after(async () => {
  await chrome?.close();
  await worker?.close();
  await next?.stop();
  await mock?.close();
});

test("Worker mode, async job: the page shows the job's statuses as it polls, then the images from the links", async () => {
  const { page, context, blocked, consoleErrors } = await newPage(chrome.browser);
  await page.goto(next.url);
  await page.getByLabel("Worker", { exact: true }).check();
  await page.getByLabel("Worker URL").fill(worker.url);
  await page.getByLabel("Images", { exact: true }).fill("1");
  // A first (plain) run on the Worker's mock signs the page in; its user then stores an OpenAI key.
  const login = page.waitForResponse((r) => r.url().endsWith("/api/dev-login"));
  await page.getByRole("button", { name: "Generate" }).click();
  const { token } = await (await login).json();
  assert.equal(await waitForRunEnd(page), "done");
  const put = await worker.request("/v1/keys/openai?validate=false", { method: "PUT", token, json: { apiKey: WORKER_KEY } });
  assert.equal(put.status, 200, put.text);

  // The provider takes 1.5 s: long enough for the page to see the job running.
  const script = await fetch(`${mock.url}/__mock/script`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ key: WORKER_KEY, steps: [{ delayMs: 1500 }] }),
  });
  assert.equal(script.status, 200);
  const seen = [];
  page.on("response", (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith("/v1/")) seen.push(`${r.request().method()} ${u.pathname.replace(/[0-9a-f]{32}/, "<id>")} ${r.status()}`);
  });
  await page.getByLabel("Model").fill("openai");
  await page.getByLabel("Images", { exact: true }).fill("2");
  await page.getByLabel("Async job").check();
  await page.getByRole("button", { name: "Generate" }).click();
  assert.equal(await waitForRunEnd(page), "done");
  await waitForImages(page, 2);

  const notes = (await timeline(page)).map((e) => e.text).filter((t) => /job job_/.test(t));
  assert.match(notes[0], /: queued \(202, polling \/v1\/jobs\/job_[0-9a-f]{32}\)/);
  assert.ok(notes.some((t) => /: running$/.test(t)), JSON.stringify(notes));
  assert.ok(notes.some((t) => /: succeeded$/.test(t)), JSON.stringify(notes));
  assert.ok(notes.some((t) => /2 image\(s\) loaded from their links/.test(t)), JSON.stringify(notes));
  assert.ok(seen.includes("POST /v1/images/generations 202"), JSON.stringify(seen));
  assert.ok(seen.includes("GET /v1/jobs/job_<id> 200"), JSON.stringify(seen));
  assert.equal(seen.filter((s) => s === "GET /v1/files/<id> 200").length, 2, JSON.stringify(seen));
  // The images on the page are the provider's bytes.
  const srcs = await page.evaluate(() => [...document.querySelectorAll('[data-testid="images"] img')].map((i) => i.src));
  assert.ok(srcs.every((s) => s.endsWith(FINAL_PNG.toString("base64"))), srcs.map((s) => s.slice(0, 60)).join(", "));
  assert.deepEqual(blocked, []);
  assert.deepEqual(consoleErrors, []);
  await context.close();
});
