// What the page costs: bytes transferred on first load (as Chromium received
// them from `next start`, compressed) and the wasm loaded only in BYOK mode;
// time to first image in the browser. The numbers are recorded in
// test-results/metrics.json (no timing assertions); the test asserts only
// that the first load carries no wasm and that BYOK loads it once.
import { after, before, describe, test } from "node:test";
import zlib from "node:zlib";
import {
  assert,
  clickGenerate,
  fillAndGenerate,
  launchBrowser,
  newPage,
  recordMetric,
  startNext,
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

/** Records each finished response: url, type, encoded (on the wire) and decoded sizes, encoding. */
function recorder(page) {
  const seen = [];
  page.on("requestfinished", async (request) => {
    try {
      const response = await request.response();
      const sizes = await request.sizes();
      const body = await response.body().catch(() => Buffer.alloc(0));
      const url = new URL(request.url());
      seen.push({
        path: url.pathname,
        type: request.resourceType(),
        encoded: sizes.responseBodySize,
        decoded: body.length,
        gzip9: body.length ? zlib.gzipSync(body, { level: 9 }).length : 0,
        encoding: (await response.headerValue("content-encoding")) ?? "identity",
      });
    } catch {
      // the page went away
    }
  });
  return seen;
}

const sum = (rows, key) => rows.reduce((n, r) => n + r[key], 0);

describe("page weight and speed", () => {
  test("first load: JS and CSS transferred, no wasm until BYOK; then the wasm once", async () => {
    const { page, context } = await newPage(chrome.browser);
    const seen = recorder(page);
    await page.goto(next.url, { waitUntil: "networkidle" });
    await page.getByTestId("server-info").filter({ hasText: "mock provider" }).waitFor();
    await page.waitForTimeout(300);
    const first = [...seen];
    const js = first.filter((r) => r.type === "script");
    const css = first.filter((r) => r.type === "stylesheet");
    const doc = first.filter((r) => r.type === "document");
    assert.ok(js.length > 0, "the page loads scripts");
    assert.equal(first.filter((r) => r.path.endsWith(".wasm")).length, 0, "no wasm on first load");
    recordMetric("firstLoad", {
      jsFiles: js.length,
      jsTransferredBytes: sum(js, "encoded"),
      jsDecodedBytes: sum(js, "decoded"),
      jsGzip9Bytes: sum(js, "gzip9"),
      jsEncodings: [...new Set(js.map((r) => r.encoding))],
      cssTransferredBytes: sum(css, "encoded"),
      htmlTransferredBytes: sum(doc, "encoded"),
      totalTransferredBytes: sum(first, "encoded"),
    });

    // BYOK: the package (glue JS + wasm) arrives now, once.
    await page.getByLabel("In your browser (bring your own key)", { exact: true }).check();
    await fillAndGenerate(page, { count: 1, fault: "none", latency: 0, click: false });
    const clicked = Date.now();
    await clickGenerate(page);
    await waitForImages(page, 1);
    const coldWallMs = Date.now() - clicked;
    assert.equal(await waitForRunEnd(page), "done");
    const coldPageMs = Number(await page.locator("section.results").getAttribute("data-first-image-ms"));
    await page.waitForTimeout(300);
    const later = seen.slice(first.length);
    const wasm = later.filter((r) => r.path.endsWith(".wasm"));
    assert.equal(wasm.length, 1, `one wasm fetch: ${JSON.stringify(later)}`);
    const laterJs = later.filter((r) => r.type === "script");
    recordMetric("byokOnDemand", {
      wasmTransferredBytes: wasm[0].encoded,
      wasmDecodedBytes: wasm[0].decoded,
      wasmGzip9Bytes: wasm[0].gzip9,
      wasmEncoding: wasm[0].encoding,
      extraJsTransferredBytes: sum(laterJs, "encoded"),
      extraJsGzip9Bytes: sum(laterJs, "gzip9"),
    });

    // A second BYOK run: the package is already loaded.
    await fillAndGenerate(page, { count: 1 });
    assert.equal(await waitForRunEnd(page), "done");
    const warmPageMs = Number(await page.locator("section.results").getAttribute("data-first-image-ms"));
    assert.equal(seen.filter((r) => r.path.endsWith(".wasm")).length, 1, "the wasm is not fetched again");
    recordMetric("timeToFirstImage.byok.mock", { coldPageMs, coldWallMs, warmPageMs });
    await context.close();
  });

  test("time to first image, server routes (mock, no injected latency)", async () => {
    const { page, context } = await newPage(chrome.browser);
    await page.goto(next.url, { waitUntil: "networkidle" });
    const out = {};
    for (const [mode, key] of [
      ["Server (Node route)", "node"],
      ["Server (Edge route)", "edge"],
    ]) {
      const runs = [];
      for (let i = 0; i < 3; i++) {
        await fillAndGenerate(page, { mode, count: 2, fault: "none", latency: 0 });
        assert.equal(await waitForRunEnd(page), "done");
        await waitForImages(page, 2);
        runs.push(Number(await page.locator("section.results").getAttribute("data-first-image-ms")));
      }
      assert.ok(runs.every((ms) => ms > 0));
      out[key] = { firstRunMs: runs[0], nextRunsMs: runs.slice(1) };
    }
    recordMetric("timeToFirstImage.serverRoutes.mock", out);
    await context.close();
  });
});
