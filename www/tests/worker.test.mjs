// The page's Worker mode against the real Worker: worker/build (built with
// scripts/build-worker.sh when missing) run in workerd through Miniflare 4
// with the repository's own helper (tests/worker/helpers.mjs), CORS allowing
// this page's origin, and the same JWT_SECRET given to the Next server so its
// /api/dev-login tokens are accepted.
import { after, before, describe, test } from "node:test";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import {
  ROOT,
  assert,
  fillAndGenerate,
  launchBrowser,
  newPage,
  recordMetric,
  renderedImages,
  startNext,
  timeline,
  waitForImages,
  waitForRunEnd,
} from "./helpers.mjs";
import { makePng } from "./png.mjs";

const workerHelpers = await import(pathToFileURL(path.join(ROOT, "tests/worker/helpers.mjs")).href);

let mock;
let worker;
let next;
let chrome;

before(async () => {
  if (!fs.existsSync(path.join(ROOT, "worker/build/index.js"))) {
    const r = spawnSync("bash", ["scripts/build-worker.sh"], { cwd: ROOT, stdio: "inherit" });
    assert.equal(r.status, 0, "scripts/build-worker.sh failed");
  }
  next = await startNext({ JWT_SECRET: workerHelpers.JWT_SECRET, IMAGEGEN_DEV_LOGIN: "1" });
  mock = await workerHelpers.startMockServer();
  worker = await workerHelpers.startWorker({ mockUrl: mock.url, bindings: { ALLOWED_ORIGINS: next.url } });
  chrome = await launchBrowser();
});

after(async () => {
  await chrome?.close();
  await worker?.close();
  await mock?.close();
  await next?.stop();
});

const decode = (part) => JSON.parse(Buffer.from(part, "base64url").toString("utf8"));

describe("Worker mode", () => {
  test("/api/dev-login signs an HS256 JWT the Worker accepts", async () => {
    const r = await fetch(`${next.url}/api/dev-login`, { method: "POST" });
    assert.equal(r.status, 200);
    const { token, sub, expiresAt } = await r.json();
    const [header, payload, signature] = token.split(".");
    assert.deepEqual(decode(header), { alg: "HS256", typ: "JWT" });
    const claims = decode(payload);
    assert.equal(claims.sub, sub);
    assert.equal(claims.aud, "authenticated");
    assert.ok(claims.exp * 1000 === expiresAt && expiresAt > Date.now());
    assert.ok(signature.length > 20);
    const ok = await worker.request("/v1/keys", { token });
    assert.equal(ok.status, 200, ok.text);
    const forged = await worker.request("/v1/keys", { token: `${header}.${payload}.${"A".repeat(43)}` });
    assert.equal(forged.status, 401);
  });

  test("the page's Worker mode renders the Worker's mock images", async () => {
    const { page, context, blocked, consoleErrors } = await newPage(chrome.browser);
    await page.goto(next.url);
    await fillAndGenerate(page, { mode: "Worker", count: 2, workerUrl: worker.url, prompt: "a harbour at night" });
    assert.equal(await waitForRunEnd(page), "done", await page.getByTestId("status").textContent());
    assert.equal(await renderedImages(page), 2);
    const firstImageMs = Number(await page.locator("section.results").getAttribute("data-first-image-ms"));
    assert.ok(firstImageMs > 0);
    recordMetric("timeToFirstImage.worker.mock.pageMs", firstImageMs);
    const entries = await timeline(page);
    assert.match(entries[0].text, /signed in with a dev JWT/);
    const attempts = entries.filter((e) => e.kind === "ok" || e.kind === "fail");
    assert.equal(attempts.length, 1, JSON.stringify(entries));
    assert.match(attempts[0].text, /^.*mock\/\S+: attempt 1 made 2 images in \d+ ms · \$0$/);
    assert.match(await page.getByTestId("cost").textContent(), /^Cost: \$0 \(mock\/\S+ \$0\)$/);
    const captions = await page.locator('[data-testid="images"] .caption').allTextContents();
    for (const c of captions) assert.match(c, /^#\d · mock\//);
    const src = await page.locator('[data-testid="images"] img').first().getAttribute("src");
    assert.match(Buffer.from(src.split(",")[1], "base64").toString("utf8"), /a harbour at night/);
    assert.deepEqual(blocked, []);
    assert.deepEqual(consoleErrors, []);
    await context.close();
  });

  test("with Links the page shows the Worker's images from their signed links", async () => {
    const { page, context, blocked, consoleErrors } = await newPage(chrome.browser);
    const posts = [];
    page.on("request", (r) => {
      if (r.url().endsWith("/v1/images/generations")) posts.push(r.postDataJSON());
    });
    await page.goto(next.url);
    await fillAndGenerate(page, { mode: "Worker", count: 2, workerUrl: worker.url, prompt: "a harbour as links", click: false });
    await page.getByLabel("Links", { exact: true }).check();
    await page.getByRole("button", { name: "Generate" }).click();
    assert.equal(await waitForRunEnd(page), "done", await page.getByTestId("status").textContent());
    assert.equal(posts.length, 1);
    assert.equal(posts[0].response_format, "url");
    await waitForImages(page, 2);
    assert.equal(await renderedImages(page), 2, "both images loaded from their links");
    const srcs = await page.locator('[data-testid="images"] img').evaluateAll((imgs) => imgs.map((i) => i.getAttribute("src")));
    assert.equal(srcs.length, 2);
    for (const src of srcs) {
      assert.ok(src.startsWith(`${worker.url}/v1/files/`), src);
      assert.match(src, /\/v1\/files\/[0-9a-f]{32}\?exp=\d+&sig=[\w-]{43}$/);
      // The link serves the Worker's mock image for this prompt (no token needed).
      const file = await fetch(src);
      assert.equal(file.status, 200);
      assert.match(file.headers.get("content-type"), /^image\/svg\+xml/);
      assert.match(await file.text(), /a harbour as links/);
    }
    assert.deepEqual(blocked, []);
    assert.deepEqual(consoleErrors, []);
    await context.close();
  });

  test("an edit with a painted mask goes to the Worker's /v1/images/edits as multipart", async () => {
    const { page, context, blocked, consoleErrors } = await newPage(chrome.browser);
    const edits = [];
    page.on("request", (r) => {
      if (r.url().endsWith("/v1/images/edits")) edits.push(r);
    });
    await page.goto(next.url);
    await fillAndGenerate(page, { mode: "Worker", count: 1, workerUrl: worker.url, prompt: "a boat in the harbour", click: false });
    await page.getByLabel("Image to edit").setInputFiles({ name: "harbour.png", mimeType: "image/png", buffer: makePng(80, 60) });
    await page.getByTestId("edit-source").filter({ hasText: "80×60" }).waitFor();
    const box = await page.getByTestId("mask-canvas").boundingBox();
    await page.mouse.move(box.x + box.width * 0.2, box.y + box.height * 0.5);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.5, { steps: 6 });
    await page.mouse.up();
    await page.getByTestId("edit-source").filter({ hasText: "mask painted" }).waitFor();
    await page.getByRole("button", { name: "Edit image" }).click();
    assert.equal(await waitForRunEnd(page), "done", await page.getByTestId("status").textContent());
    assert.equal(await renderedImages(page), 1);
    const src = await page.locator('[data-testid="images"] img').first().getAttribute("src");
    assert.match(Buffer.from(src.split(",")[1], "base64").toString("utf8"), /inputs=1 mask=yes/);
    assert.equal(edits.length, 1, "one request to /v1/images/edits");
    assert.match(await edits[0].headerValue("content-type"), /^multipart\/form-data; boundary=/);
    const entries = await timeline(page);
    assert.ok(entries.some((e) => e.kind === "ok" && /made 1 image/.test(e.text)), JSON.stringify(entries));
    assert.deepEqual(blocked, []);
    assert.deepEqual(consoleErrors, []);
    await context.close();
  });

  test("a Worker error is shown with its code and HTTP status", async () => {
    const { page, context } = await newPage(chrome.browser);
    await page.goto(next.url);
    await fillAndGenerate(page, { mode: "Worker", count: 1, workerUrl: worker.url, prompt: "   " });
    assert.equal(await waitForRunEnd(page), "error");
    const error = page.getByTestId("error");
    assert.equal(await error.getAttribute("data-code"), "invalid_request");
    const text = await error.textContent();
    assert.match(text, /HTTP status400/);
    assert.match(text, /Fieldprompt/);
    await context.close();
  });
});
