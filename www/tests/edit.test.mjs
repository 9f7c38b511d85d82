// Editing in the demo page (headless Chromium against `next start`, no provider
// keys: the server routes run the mock provider): an image chosen through the
// file input or dropped, a mask painted with the mouse, the edit through the
// Node route, the Edge route and the package in the browser, and a chain entry
// that cannot take the inputs shown as skipped.
import { after, before, describe, test } from "node:test";
import path from "node:path";
import {
  RESULTS,
  assert,
  fillAndGenerate,
  launchBrowser,
  newPage,
  renderedImages,
  startNext,
  timeline,
  waitForRunEnd,
} from "./helpers.mjs";
import { decodePng, makePng } from "./png.mjs";

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

const W = 96;
const H = 64;
const PHOTO = { name: "photo.png", mimeType: "image/png", buffer: makePng(W, H) };

async function open() {
  const p = await newPage(chrome.browser);
  const posts = [];
  p.page.on("request", (r) => {
    if (r.method() === "POST" && r.url().includes("/api/generate-image")) posts.push(r);
  });
  await p.page.goto(next.url);
  await p.page.getByTestId("server-info").filter({ hasText: "mock provider" }).waitFor();
  return { ...p, posts };
}

async function upload(page) {
  await page.getByLabel("Image to edit").setInputFiles(PHOTO);
  await page.getByTestId("edit-source").filter({ hasText: `photo.png · ${W}×${H}` }).waitFor();
}

/** Drags the mouse across the middle of the mask canvas (left 30% to 70%, at half height). */
async function paintMask(page) {
  const canvas = page.getByTestId("mask-canvas");
  const box = await canvas.boundingBox();
  assert.ok(box && box.width > 50, `the mask canvas is on screen: ${JSON.stringify(box)}`);
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width * 0.3, y);
  await page.mouse.down();
  for (let i = 1; i <= 8; i++) await page.mouse.move(box.x + box.width * (0.3 + 0.05 * i), y);
  await page.mouse.up();
  await page.getByTestId("edit-source").filter({ hasText: "mask painted" }).waitFor();
}

async function clickEdit(page) {
  await page.getByRole("button", { name: "Edit image" }).click();
}

/** The SVG text of every result image. */
async function resultSvgs(page) {
  const srcs = await page.locator('[data-testid="images"] img').evaluateAll((imgs) => imgs.map((i) => i.src));
  return srcs.map((src) => Buffer.from(src.split(",")[1], "base64").toString("utf8"));
}

describe("editing in the demo page", () => {
  test("Node route: file input, painted mask, the mock's edit rendered", async () => {
    const { page, context, blocked, consoleErrors, posts } = await open();
    await fillAndGenerate(page, { mode: "Server (Node route)", count: 1, fault: "none", latency: 0, click: false });
    await upload(page);
    await paintMask(page);
    await fillAndGenerate(page, { prompt: "put a red hat on the dog", click: false });
    await page.screenshot({ path: path.join(RESULTS, "edit.png"), fullPage: true });
    await clickEdit(page);
    assert.equal(await waitForRunEnd(page), "done", await page.getByTestId("status").textContent());
    assert.equal(await renderedImages(page), 1);
    const [svg] = await resultSvgs(page);
    assert.match(svg, /inputs=1 mask=yes/);
    assert.match(svg, /put a red hat on the/, "the prompt is drawn (wrapped over two lines)");

    // What the route received: the uploaded bytes as they were, and a mask of the image's size
    // whose painted stroke is alpha 0 and the rest opaque.
    assert.equal(posts.length, 1);
    const body = JSON.parse(posts[0].postData());
    assert.equal(posts[0].url(), `${next.url}/api/generate-image`);
    assert.equal(body.images.length, 1);
    assert.equal(body.images[0].mimeType, "image/png");
    assert.ok(Buffer.from(body.images[0].base64, "base64").equals(PHOTO.buffer), "the image is sent unchanged");
    assert.equal(body.mask.mimeType, "image/png");
    const mask = decodePng(Buffer.from(body.mask.base64, "base64"));
    assert.equal(mask.width, W);
    assert.equal(mask.height, H);
    const alpha = (x, y) => mask.rgba[(Math.round(y) * W + Math.round(x)) * 4 + 3];
    const values = new Set();
    for (let i = 3; i < mask.rgba.length; i += 4) values.add(mask.rgba[i]);
    assert.deepEqual([...values].sort((a, b) => a - b), [0, 255], "the mask is fully transparent or opaque");
    assert.equal(alpha(W / 2, H / 2), 0, "the middle of the stroke is the area to change");
    assert.equal(alpha(W * 0.45, H / 2), 0);
    assert.equal(alpha(1, 1), 255, "a corner far from the stroke is kept");
    assert.equal(alpha(W - 2, H - 2), 255);
    assert.equal(alpha(W / 2, 1), 255);

    const entries = await timeline(page);
    assert.ok(entries.some((e) => e.kind === "ok" && e.text.includes("mock/primary")), JSON.stringify(entries));
    assert.deepEqual(blocked, []);
    assert.deepEqual(consoleErrors, []);
    await context.close();
  });

  test("Edge route: a dropped image, no mask; Clear mask and Remove image", async () => {
    const { page, context, blocked, consoleErrors, posts } = await open();
    await fillAndGenerate(page, { mode: "Server (Edge route)", count: 2, fault: "none", latency: 0, click: false });
    // Drop the file on the drop zone, as a drag from the desktop would.
    await page.getByTestId("dropzone").evaluate((zone, bytes) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], "photo.png", { type: "image/png" }));
      zone.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, [...PHOTO.buffer]);
    await page.getByTestId("edit-source").filter({ hasText: `photo.png · ${W}×${H}` }).waitFor();
    // A mask painted then cleared is not sent.
    await paintMask(page);
    await page.getByRole("button", { name: "Clear mask" }).click();
    await page.getByTestId("edit-source").filter({ hasText: "paint on the image" }).waitFor();
    await clickEdit(page);
    assert.equal(await waitForRunEnd(page), "done", await page.getByTestId("status").textContent());
    assert.equal(await renderedImages(page), 2);
    for (const svg of await resultSvgs(page)) assert.match(svg, /inputs=1 mask=no/);
    assert.equal(posts.length, 1);
    assert.equal(posts[0].url(), `${next.url}/api/generate-image-edge`);
    assert.equal(JSON.parse(posts[0].postData()).mask, undefined);

    // Without the image the page generates again.
    await page.getByRole("button", { name: "Remove image" }).click();
    await page.getByRole("button", { name: "Generate" }).click();
    assert.equal(await waitForRunEnd(page), "done");
    for (const svg of await resultSvgs(page)) assert.doesNotMatch(svg, /inputs=/);
    assert.equal(JSON.parse(posts[1].postData()).images, undefined);
    assert.deepEqual(blocked, []);
    assert.deepEqual(consoleErrors, []);
    await context.close();
  });

  test("in the browser (BYOK): Gemini cannot take a mask, is skipped without a call, the mock edits", async () => {
    const { page, context, blocked, consoleErrors, posts } = await open();
    await page.getByLabel("In your browser (bring your own key)", { exact: true }).check();
    await page.getByLabel("Provider 1").selectOption("gemini");
    await page.getByLabel("API key of provider 1 (gemini)").fill("test-key-never-sent");
    await fillAndGenerate(page, { count: 1, fault: "none", latency: 0, click: false });
    await upload(page);
    await paintMask(page);
    await clickEdit(page);
    assert.equal(await waitForRunEnd(page), "done", await page.getByTestId("status").textContent());
    assert.equal(await renderedImages(page), 1);
    const [svg] = await resultSvgs(page);
    assert.match(svg, /inputs=1 mask=yes/);
    const entries = await timeline(page);
    const skipped = entries.filter((e) => e.kind === "skip");
    assert.equal(skipped.length, 1, JSON.stringify(entries));
    assert.match(skipped[0].text, /gemini\/\S+: skipped without a call \(unsupported\)/);
    assert.match(skipped[0].text, /· input_unsupported: \S+ cannot take a mask$/);
    assert.ok(!entries.some((e) => e.kind === "start" && e.text.includes("gemini")), "no attempt started on Gemini");
    assert.equal(entries.filter((e) => e.kind === "fail").length, 0, "the skip is not shown as a failure");
    assert.ok(entries.some((e) => e.kind === "fallback" && e.text.includes("mock/fallback")), JSON.stringify(entries));
    assert.ok(entries.some((e) => e.kind === "ok" && e.text.includes("mock/fallback")));
    assert.match(await page.getByTestId("summary").textContent(), /1 skipped/);
    assert.match(await page.getByTestId("warnings").textContent(), /input_unsupported/);
    assert.equal(posts.length, 0, "the browser mode does not use the server routes");
    assert.deepEqual(blocked, [], "Gemini was never called");
    assert.deepEqual(consoleErrors, []);
    await context.close();
  });

  test("in the browser (BYOK): no entry can take the mask: unsupported before any call, the skip in the timeline", async () => {
    const { page, context, blocked, consoleErrors } = await open();
    await page.getByLabel("In your browser (bring your own key)", { exact: true }).check();
    await page.getByLabel("Provider 1").selectOption("gemini");
    await page.getByLabel("API key of provider 1 (gemini)").fill("test-key-never-sent");
    await page.getByRole("button", { name: "Remove fallback" }).click();
    await fillAndGenerate(page, { count: 1, click: false });
    await upload(page);
    await paintMask(page);
    await clickEdit(page);
    assert.equal(await waitForRunEnd(page), "error");
    const error = page.getByTestId("error");
    assert.equal(await error.getAttribute("data-code"), "unsupported");
    assert.match(await error.textContent(), /mask/);
    const entries = await timeline(page);
    const skipped = entries.filter((e) => e.kind === "skip");
    assert.equal(skipped.length, 1, JSON.stringify(entries));
    assert.match(skipped[0].text, /^.*gemini\/\S+: skipped without a call \(unsupported\)/);
    assert.equal(entries.filter((e) => e.kind === "fail").length, 0);
    assert.equal(await page.locator('[data-testid="images"] img').count(), 0);
    assert.deepEqual(blocked, [], "Gemini was never called");
    assert.deepEqual(consoleErrors, []);
    await context.close();
  });

  test("the routes take images as base64 in their JSON and check them", async () => {
    const image = { base64: PHOTO.buffer.toString("base64"), mimeType: "image/png" };
    for (const route of ["/api/generate-image", "/api/generate-image-edge"]) {
      const post = (body) =>
        fetch(`${next.url}${route}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      const ok = await post({ prompt: "edit me", count: 1, images: [image, image] });
      assert.equal(ok.status, 200, route);
      const result = await ok.json();
      assert.match(Buffer.from(result.images[0].base64, "base64").toString("utf8"), /inputs=2 mask=no/);
      const bad = await post({ prompt: "x", images: [{ base64: 3 }] });
      assert.equal(bad.status, 400);
      assert.equal((await bad.json()).error.param, "images[0]");
      const notImage = await post({ prompt: "x", images: [{ base64: Buffer.from("hello").toString("base64"), mimeType: "image/png" }] });
      assert.equal(notImage.status, 400, route);
      assert.equal((await notImage.json()).error.code, "invalid_request");
      // A large body is refused unless it carries images.
      const big = await post({ prompt: "x".repeat(70 * 1024) });
      assert.equal(big.status, 413);
    }
  });
});
