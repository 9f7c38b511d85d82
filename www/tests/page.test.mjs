// The demo page in headless Chromium against `next start` (no provider keys:
// every server request runs on the built-in mock provider).
import { after, before, describe, test } from "node:test";
import path from "node:path";
import {
  RESULTS,
  assert,
  clickGenerate,
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

let next;
let chrome;

before(async () => {
  next = await startNext();
  chrome = await launchBrowser();
});

after(async () => {
  await chrome?.close();
  await next?.stop();
});

async function open() {
  const p = await newPage(chrome.browser);
  const requests = [];
  p.page.on("request", (r) => requests.push(r));
  await p.page.goto(next.url);
  // The page asks the server which providers it has keys for; wait for the answer.
  await p.page.getByTestId("server-info").filter({ hasText: "mock provider" }).waitFor();
  return { ...p, requests };
}

describe("demo page", () => {
  test("Node route: two mock images are rendered", async () => {
    const { page, blocked, consoleErrors, context } = await open();
    await fillAndGenerate(page, { mode: "Server (Node route)", count: 2, fault: "none", latency: 0, click: false });
    const clicked = Date.now();
    await clickGenerate(page);
    await waitForImages(page, 1);
    const firstImageWallMs = Date.now() - clicked;
    assert.equal(await waitForRunEnd(page), "done");
    assert.equal(await renderedImages(page), 2);
    const captions = await page.locator('[data-testid="images"] .caption').allTextContents();
    assert.equal(captions.length, 2);
    for (const c of captions) assert.match(c, /mock\/primary/);
    const status = await page.getByTestId("status").textContent();
    assert.match(status, /^2 images in \d+\.\d\d s/);
    assert.equal(await page.getByTestId("cost").textContent(), "Cost: $0 (mock/primary $0)");
    const pageMs = Number(await page.locator("section.results").getAttribute("data-first-image-ms"));
    assert.ok(pageMs > 0, "the page measured its first image");
    recordMetric("timeToFirstImage.nodeRoute.mock.pageMs", pageMs);
    recordMetric("timeToFirstImage.nodeRoute.mock.testWallMs", firstImageWallMs);
    assert.deepEqual(blocked, []);
    assert.deepEqual(consoleErrors, []);
    await context.close();
  });

  test("503 on the primary: retries, then a fallback, and the images still render", async () => {
    const { page, blocked, consoleErrors, context } = await open();
    await fillAndGenerate(page, {
      mode: "Server (Node route)",
      prompt: "a lighthouse on a cliff at dusk, watercolor",
      count: 2,
      fault: "503",
      target: "primary",
      latency: 300,
    });
    assert.equal(await waitForRunEnd(page), "done");
    assert.equal(await renderedImages(page), 2);
    const entries = await timeline(page);
    const kinds = entries.map((e) => e.kind);
    const retries = entries.filter((e) => e.kind === "retry");
    const fallbacks = entries.filter((e) => e.kind === "fallback");
    assert.equal(retries.length, 2, `two retries of the primary: ${JSON.stringify(entries)}`);
    for (const r of retries) assert.match(r.text, /retry mock\/primary in \d+ ms \(attempt \d got provider_error\)/);
    assert.equal(fallbacks.length, 1);
    assert.match(fallbacks[0].text, /fallback mock\/primary → mock\/fallback after provider_error/);
    assert.equal(entries.filter((e) => e.kind === "fail").length, 3, "three failed attempts on the primary");
    for (const e of entries.filter((e) => e.kind === "fail")) assert.match(e.text, /HTTP 503/);
    // Order: the fallback comes after the last retry, and the images after the fallback.
    assert.ok(kinds.lastIndexOf("retry") < kinds.indexOf("fallback"));
    assert.ok(kinds.indexOf("fallback") < kinds.indexOf("image"));
    const captions = await page.locator('[data-testid="images"] .caption').allTextContents();
    for (const c of captions) assert.match(c, /mock\/fallback/);
    assert.match(await page.getByTestId("summary").textContent(), /4 attempts · 2 retries · 1 fallback/);
    await page.screenshot({ path: path.join(RESULTS, "demo.png"), fullPage: true });
    assert.deepEqual(blocked, []);
    assert.deepEqual(consoleErrors, []);
    await context.close();
  });

  test("content policy on the primary: the error is shown and there is no fallback", async () => {
    const { page, context } = await open();
    await fillAndGenerate(page, { mode: "Server (Node route)", count: 2, fault: "content_policy", latency: 100 });
    assert.equal(await waitForRunEnd(page), "error");
    const error = page.getByTestId("error");
    await error.waitFor();
    assert.equal(await error.getAttribute("data-code"), "content_policy");
    assert.match(await error.textContent(), /content_policy/);
    assert.equal(await page.getByTestId("error-retryable").textContent(), "no");
    assert.equal(await page.getByTestId("error-provider").textContent(), "mock");
    assert.match(await error.textContent(), /HTTP status400/);
    const entries = await timeline(page);
    assert.equal(entries.filter((e) => e.kind === "fallback").length, 0, JSON.stringify(entries));
    assert.equal(entries.filter((e) => e.kind === "retry").length, 0, JSON.stringify(entries));
    assert.equal(entries.filter((e) => e.kind === "fail").length, 1);
    assert.ok(!entries.some((e) => e.text.includes("mock/fallback")), "the fallback was never called");
    assert.equal(await page.locator('[data-testid="images"] img').count(), 0);
    await context.close();
  });

  test("Edge route: retries on the primary recover, images render", async () => {
    const { page, blocked, consoleErrors, context } = await open();
    await fillAndGenerate(page, { mode: "Server (Edge route)", count: 3, fault: "503x2", latency: 100 });
    assert.equal(await waitForRunEnd(page), "done");
    assert.equal(await renderedImages(page), 3);
    const entries = await timeline(page);
    assert.equal(entries.filter((e) => e.kind === "retry").length, 2);
    assert.equal(entries.filter((e) => e.kind === "fallback").length, 0);
    assert.equal(entries.filter((e) => e.kind === "image").length, 3);
    assert.deepEqual(blocked, []);
    assert.deepEqual(consoleErrors, []);
    await context.close();
  });

  test("Cancel stops a run in flight", async () => {
    const { page, context } = await open();
    await fillAndGenerate(page, { mode: "Server (Node route)", count: 1, fault: "none", latency: 3000 });
    await page.locator('[data-testid="timeline"] li[data-kind="start"]').first().waitFor();
    await page.getByRole("button", { name: "Cancel" }).click();
    assert.equal(await waitForRunEnd(page, 5000), "cancelled");
    assert.match(await page.getByTestId("status").textContent(), /Cancelled/);
    assert.equal(await page.locator('[data-testid="images"] img').count(), 0);
    await context.close();
  });

  test("in the browser (BYOK): the package's browser entry renders mock images; the key stays in the page", async () => {
    const { page, context, blocked, consoleErrors, requests } = await open();
    await page.waitForLoadState("networkidle");
    assert.ok(requests.some((r) => r.url().includes("/_next/static/chunks/")), "the page's scripts were seen");
    assert.ok(!requests.some((r) => r.url().endsWith(".wasm")), "no wasm before BYOK is used");
    await page.getByLabel("In your browser (bring your own key)", { exact: true }).check();
    // A third chain entry with a typed key: never used (the mock primary succeeds), never sent anywhere.
    await page.getByRole("button", { name: "+ Add a fallback" }).click();
    await page.getByLabel("Provider 3").selectOption("openai");
    const secret = "sk-SECRET-byok-0123456789abcdef";
    await page.getByLabel("API key of provider 3 (openai)").fill(secret);
    await fillAndGenerate(page, { count: 2, fault: "none", latency: 0 });
    assert.equal(await waitForRunEnd(page), "done");
    assert.equal(await renderedImages(page), 2);
    const entries = await timeline(page);
    assert.match(entries[0].text, /package loaded \(wasm\)/);
    assert.ok(entries.some((e) => e.kind === "ok" && e.text.includes("mock/primary")));
    const wasm = requests.filter((r) => r.url().endsWith(".wasm"));
    assert.equal(wasm.length, 1, "the wasm is fetched once, on first use");
    // No generation request went to our server, and the key went nowhere.
    assert.ok(!requests.some((r) => r.url().includes("/api/generate-image") && r.method() === "POST"));
    for (const r of requests) {
      const text = `${r.url()} ${JSON.stringify(await r.allHeaders())} ${r.postData() ?? ""}`;
      assert.ok(!text.includes(secret), `the key leaked in ${r.url()}`);
    }
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
    assert.ok(!stored.includes(secret), "the key is not in web storage");
    assert.deepEqual(blocked, [], "nothing outside 127.0.0.1 was requested");
    assert.deepEqual(consoleErrors, []);
    await context.close();
  });

  test("in the browser (BYOK): a typed error from the package is displayed", async () => {
    const { page, context, blocked } = await open();
    await page.getByLabel("In your browser (bring your own key)", { exact: true }).check();
    // An OpenAI primary without a key: the package refuses the request before any network call.
    await page.getByLabel("Provider 1").selectOption("openai");
    await fillAndGenerate(page, { count: 1 });
    assert.equal(await waitForRunEnd(page), "error");
    const error = page.getByTestId("error");
    assert.equal(await error.getAttribute("data-code"), "invalid_request");
    assert.match(await error.textContent(), /providers\[0\]\.apiKey/);
    assert.deepEqual(blocked, [], "no request to the provider was attempted");
    await context.close();
  });
});
