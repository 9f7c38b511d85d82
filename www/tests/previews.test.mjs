// Streamed previews in the demo page (headless Chromium against `next start`),
// in every mode: the Node and Edge routes (the server's OpenAI key, pointed at
// the repository's mock provider server), the package in the browser (a typed
// key and base URL pointing at the same mock) and the Worker (workerd via
// Miniflare, the user's key stored in it). The mock's scripted streams hold the
// final event back, so the test can look at the page while only previews have
// arrived: a preview is on screen before the final image, the final image then
// takes the preview's place (the same <img> element), and the timeline lists
// when each preview came.
import { after, before, describe, test } from "node:test";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { RESULTS, ROOT, assert, launchBrowser, newPage, startNext, timeline, waitForRunEnd } from "./helpers.mjs";

const { startMockServer, encodePng } = await import(pathToFileURL(path.join(ROOT, "tests/mock-server/server.mjs")).href);
const workerHelpers = await import(pathToFileURL(path.join(ROOT, "tests/worker/helpers.mjs")).href);

const SERVER_KEY = "sk-previews-server-0123456789abcdef";
const BROWSER_KEY = "sk-previews-browser-0123456789abcdef";
const WORKER_KEY = "sk-previews-worker-0123456789abcdef";
/** The final event waits this long after the last preview: the page is checked in between. */
const FINAL_DELAY_MS = 2500;
const SLOW_STREAM = { stream: { delaysMs: [50, 400, FINAL_DELAY_MS] } };
// A final image that is more than one pixel, so the screenshot shows something.
const FINAL_PNG = encodePng(64, 64, { colorType: 2, pixel: (x, y) => [x * 4, 90 + y * 2, 200 - x * 2] });

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
  next = await startNext({
    OPENAI_API_KEY: SERVER_KEY,
    OPENAI_BASE_URL: mock.url,
    JWT_SECRET: workerHelpers.JWT_SECRET,
    IMAGEGEN_DEV_LOGIN: "1",
  });
  // Keep-alive comments every 500 ms (15 s in production), so some arrive while the final event waits.
  worker = await workerHelpers.startWorker({ mockUrl: mock.url, bindings: { ALLOWED_ORIGINS: next.url, STREAM_KEEPALIVE_MS: "500" } });
  chrome = await launchBrowser();
});

after(async () => {
  await chrome?.close();
  await worker?.close();
  await next?.stop();
  await mock?.close();
});

async function script(key, body) {
  const r = await fetch(`${mock.url}/__mock/script`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ key, ...body }),
  });
  assert.equal(r.status, 200, await r.text());
}

/** The streamed requests the mock got for a key (their `stream` log entries). */
async function streams(key) {
  const r = await fetch(`${mock.url}/__mock/requests?key=${encodeURIComponent(key)}`);
  return (await r.json()).requests.filter((q) => q.stream).map((q) => q.stream);
}

async function waitFor(check, timeoutMs = 5000) {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    assert.ok(Date.now() < until, "timed out waiting");
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function open() {
  const p = await newPage(chrome.browser);
  await p.page.goto(next.url);
  await p.page.getByTestId("server-info").filter({ hasText: "keys for openai" }).waitFor();
  return p;
}

/** What the images list shows right now. */
function imagesState(page) {
  return page.evaluate(() => {
    const imgs = [...document.querySelectorAll('[data-testid="images"] img')];
    const decoded = (i) => i.complete && i.naturalWidth > 0;
    return {
      status: document.querySelector("section.results")?.getAttribute("data-status"),
      previews: imgs.filter((i) => i.dataset.kind === "preview" && decoded(i)).length,
      stalePreviews: imgs.filter((i) => i.dataset.kind === "preview" && i.dataset.stale === "true").length,
      finals: imgs.filter((i) => i.dataset.kind === "final").length,
      decodedFinals: imgs.filter((i) => i.dataset.kind === "final" && decoded(i)).length,
      // Set on the preview's element below: still there means React kept the element.
      marked: imgs.filter((i) => i.dataset.marked === "1").map((i) => i.dataset.kind),
    };
  });
}

/** Waits for a decoded preview, checks that no final image is there yet, and marks the preview's element. */
async function previewBeforeFinal(page, previewIndex = 0) {
  await page.waitForFunction(
    (n) =>
      [...document.querySelectorAll('[data-testid="images"] img[data-kind="preview"]')].some(
        (i) => i.complete && i.naturalWidth > 0 && Number(i.dataset.previewIndex) >= n,
      ),
    previewIndex,
    { timeout: 30_000 },
  );
  const state = await imagesState(page);
  assert.equal(state.status, "running", "the run is still going");
  assert.equal(state.finals, 0, "no final image yet");
  assert.equal(state.previews, 1, "one preview on screen, in its image's slot");
  await page.evaluate(() => {
    document.querySelector('[data-testid="images"] img[data-kind="preview"]').dataset.marked = "1";
  });
}

/** After the run: the final image took the preview's place, no preview is left, the timeline has the preview times. */
async function finalReplacedPreview(page, previews) {
  assert.equal(await waitForRunEnd(page), "done", await page.getByTestId("status").textContent());
  await page.waitForFunction(() => document.querySelector('[data-testid="images"] img[data-kind="final"]')?.naturalWidth > 0);
  // The blur fades out: the final image ends sharp.
  await page.waitForFunction(() => getComputedStyle(document.querySelector('[data-testid="images"] img[data-kind="final"]')).filter === "none");
  const state = await imagesState(page);
  assert.equal(state.previews, 0, "no preview is left once the image is there");
  assert.equal(state.decodedFinals, 1);
  assert.deepEqual(state.marked, ["final"], "the preview's <img> element now shows the final image");
  const entries = await timeline(page);
  const time = (e) => Number(e.text.match(/^\+(\d+\.\d\d) s/)?.[1]);
  const shown = entries.filter((e) => e.kind === "preview");
  assert.equal(shown.length, previews, JSON.stringify(entries));
  shown.forEach((e, i) => assert.match(e.text, new RegExp(`preview ${i + 1} from openai/`)));
  const image = entries.find((e) => e.kind === "image");
  assert.ok(image, JSON.stringify(entries));
  const times = [...shown.map(time), time(image)];
  for (const t of times) assert.ok(Number.isFinite(t), JSON.stringify(entries));
  for (let i = 1; i < times.length; i++) assert.ok(times[i] >= times[i - 1], `in order: ${times}`);
  assert.ok(time(image) - time(shown[0]) >= (FINAL_DELAY_MS - 300) / 1000, `the final image came later: ${times}`);
  const first = Number(await page.locator("section.results").getAttribute("data-first-preview-ms"));
  const final = Number(await page.locator("section.results").getAttribute("data-first-image-ms"));
  assert.ok(first > 0 && final > first, `preview on screen at ${first} ms, image at ${final} ms`);
  assert.match(await page.getByTestId("status").textContent(), /^1 image in \d+\.\d\d s · first preview after \d+\.\d\d s · first image on screen after/);
  return entries;
}

async function serverRoute(mode) {
  await script(SERVER_KEY, { after: SLOW_STREAM });
  const { page, context, blocked, consoleErrors } = await open();
  await page.getByLabel(mode, { exact: true }).check();
  await page.getByLabel("Provider first in the chain").selectOption("openai");
  await page.getByLabel("Images", { exact: true }).fill("1");
  await page.getByLabel("Previews").selectOption("2");
  await page.getByRole("button", { name: "Generate" }).click();
  await previewBeforeFinal(page);
  return { page, context, blocked, consoleErrors };
}

describe("streamed previews", () => {
  test("Node route: a preview is on screen before the final image, which then takes its place", async () => {
    const { page, context, blocked, consoleErrors } = await serverRoute("Server (Node route)");
    await previewBeforeFinal(page, 1);
    await page.screenshot({ path: path.join(RESULTS, "previews-streaming.png"), fullPage: true });
    await finalReplacedPreview(page, 2);
    await page.screenshot({ path: path.join(RESULTS, "previews-done.png"), fullPage: true });
    const sent = await streams(SERVER_KEY);
    assert.equal(sent.at(-1).partialImages, 2, "the provider was asked for 2 previews");
    assert.deepEqual(blocked, []);
    assert.deepEqual(consoleErrors, []);
    await context.close();
  });

  test("Edge route: the same", async () => {
    const { page, context, blocked, consoleErrors } = await serverRoute("Server (Edge route)");
    await finalReplacedPreview(page, 2);
    assert.deepEqual(blocked, []);
    assert.deepEqual(consoleErrors, []);
    await context.close();
  });

  test("a failed attempt's preview is gone when the retry starts; only the retry's image is a result", async () => {
    await script(SERVER_KEY, {
      steps: [{ stream: { delaysMs: [50, 600], errorAfter: 1, errorFixture: "openai/server_error" } }],
      after: SLOW_STREAM,
    });
    const { page, context } = await open();
    await page.getByLabel("Server (Node route)", { exact: true }).check();
    await page.getByLabel("Provider first in the chain").selectOption("openai");
    await page.getByLabel("Images", { exact: true }).fill("1");
    await page.getByLabel("Previews").selectOption("2");
    await page.getByRole("button", { name: "Generate" }).click();
    await previewBeforeFinal(page);
    // The retry's first preview: the failed attempt's one was removed when it started.
    await page.locator('[data-testid="timeline"] li[data-kind="start"]').nth(1).waitFor({ timeout: 30_000 });
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="timeline"] li[data-kind="preview"]').length >= 2);
    const during = await imagesState(page);
    assert.equal(during.finals, 0);
    assert.equal(during.stalePreviews, 0, "no preview of the failed attempt is shown");
    assert.ok(during.previews <= 1);
    assert.equal(await waitForRunEnd(page), "done");
    const state = await imagesState(page);
    assert.equal(state.previews, 0);
    assert.equal(state.finals, 1);
    const entries = await timeline(page);
    assert.ok(entries.some((e) => e.kind === "fail" && /provider_error/.test(e.text)), JSON.stringify(entries));
    assert.equal(entries.filter((e) => e.kind === "preview").length, 3, "1 preview of the failed attempt, 2 of the retry");
    await context.close();
  });

  test("Cancel while previews are on screen: the run stops and the previews go", async () => {
    const { page, context } = await serverRoute("Server (Node route)");
    await page.getByRole("button", { name: "Cancel" }).click();
    assert.equal(await waitForRunEnd(page, 5000), "cancelled");
    const state = await imagesState(page);
    assert.equal(state.previews + state.finals, 0, "nothing is left on screen");
    // The route saw the client go and cancelled the provider's stream.
    await waitFor(async () => (await streams(SERVER_KEY)).at(-1).outcome === "client_closed");
    await context.close();
  });

  test("in the browser (own key): previews from the package itself", async () => {
    await script(BROWSER_KEY, { after: SLOW_STREAM });
    const { page, context, blocked, consoleErrors } = await open();
    const posts = [];
    page.on("request", (r) => r.method() === "POST" && posts.push(r.url()));
    await page.getByLabel("In your browser (bring your own key)", { exact: true }).check();
    await page.getByLabel("Provider 1").selectOption("openai");
    await page.getByLabel("API key of provider 1 (openai)").fill(BROWSER_KEY);
    await page.getByLabel("Base URL of provider 1 (openai)").fill(mock.url);
    await page.getByLabel("Images", { exact: true }).fill("1");
    await page.getByLabel("Previews").selectOption("2");
    await page.getByRole("button", { name: "Generate" }).click();
    await previewBeforeFinal(page);
    await finalReplacedPreview(page, 2);
    assert.deepEqual(posts, [`${mock.url}/v1/images/generations`], "the browser called the provider itself");
    assert.equal((await streams(BROWSER_KEY)).at(-1).partialImages, 2);
    assert.deepEqual(blocked, []);
    assert.deepEqual(consoleErrors, []);
    await context.close();
  });

  test("Worker mode: the page reads the Worker's event stream, for a generation and an edit", async () => {
    await script(WORKER_KEY, { after: SLOW_STREAM });
    const { page, context, blocked, consoleErrors } = await open();
    await page.getByLabel("Worker", { exact: true }).check();
    await page.getByLabel("Worker URL").fill(worker.url);
    await page.getByLabel("Images", { exact: true }).fill("1");
    // A first run on the Worker's mock signs the page in; its user then stores an OpenAI key.
    const login = page.waitForResponse((r) => r.url().endsWith("/api/dev-login"));
    await page.getByRole("button", { name: "Generate" }).click();
    const { token } = await (await login).json();
    assert.equal(await waitForRunEnd(page), "done", await page.getByTestId("status").textContent());
    const put = await worker.request("/v1/keys/openai?validate=false", { method: "PUT", token, json: { apiKey: WORKER_KEY } });
    assert.equal(put.status, 200, put.text);

    const sse = [];
    page.on("response", (r) => r.url().endsWith("/v1/images/generations") && sse.push(r.headers()["content-type"]));
    await page.getByLabel("Model").fill("openai");
    await page.getByLabel("Previews").selectOption("2");
    await page.getByRole("button", { name: "Generate" }).click();
    await previewBeforeFinal(page);
    await finalReplacedPreview(page, 2);
    assert.match(sse.at(-1) ?? "", /^text\/event-stream/);
    // The `: keep-alive` comments sent while the provider was silent were read as such (one note per run).
    assert.equal((await timeline(page)).filter((e) => /keep-alive/.test(e.text)).length, 1);
    assert.equal((await streams(WORKER_KEY)).at(-1).partialImages, 2);
    const entries = await timeline(page);
    assert.ok(entries.some((e) => e.kind === "ok" && /openai\/\S+: attempt 1 succeeded/.test(e.text)), JSON.stringify(entries));

    // An edit streams too: multipart `stream=true` to /v1/images/edits, `image_edit.*` events.
    await page.getByLabel("Image to edit").setInputFiles({ name: "photo.png", mimeType: "image/png", buffer: FINAL_PNG });
    await page.getByTestId("edit-source").filter({ hasText: "64×64" }).waitFor();
    await page.getByRole("button", { name: "Edit image" }).click();
    await previewBeforeFinal(page);
    await finalReplacedPreview(page, 2);
    const edit = (await streams(WORKER_KEY)).at(-1);
    assert.equal(edit.partialImages, 2);
    assert.ok(edit.events.every((name) => name.startsWith("image_edit.")), JSON.stringify(edit.events));
    assert.deepEqual(blocked, []);
    assert.deepEqual(consoleErrors, []);
    await context.close();
  });
});
