// Edits through the installed package: every input type, each provider's
// edit request as the mock provider server received it, fallback that skips
// entries that cannot take the inputs, the checks before any call, the
// services' editImages, and input bytes that stay out of wasm memory.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { generateImages, createImageService, isImageGenError } from "imagegen";
import { initSync } from "imagegen/web";
import { startMockServer, makePngOfSize, encodePng } from "../mock-server/server.mjs";

let mock;
before(async () => {
  mock = await startMockServer();
});
after(async () => {
  await mock.close();
});

const memory = () => initSync({ module: new Uint8Array() }).memory.buffer.byteLength;
const png = (w, h) => new Uint8Array(encodePng(w, h, { colorType: 2 }));
// An RGBA mask of w×h: the left half transparent (the area to change).
const mask = (w, h) =>
  new Uint8Array(encodePng(w, h, { colorType: 6, pixel: (x) => [10, 20, 30, x < w / 2 ? 0 : 255] }));
const b64 = (bytes) => Buffer.from(bytes).toString("base64");
const svgOf = (img) => Buffer.from(img.base64, "base64").toString("utf8");
const requestsOf = async (key) =>
  (await (await fetch(`${mock.url}/__mock/requests?key=${encodeURIComponent(key)}`)).json()).requests;

async function rejection(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail("expected a rejection");
}

test("every input type reaches the mock provider, with the mask", async () => {
  const bytes = png(32, 32);
  const inputs = [
    bytes,
    bytes.buffer.slice(0),
    new Blob([bytes], { type: "application/octet-stream" }),
    { base64: b64(bytes), mimeType: "image/png" },
    `data:image/png;base64,${b64(bytes)}`,
  ];
  const result = await generateImages({
    prompt: "a hat",
    images: inputs,
    mask: mask(32, 32),
    providers: [{ provider: "mock" }],
  });
  assert.equal(result.images.length, 1);
  assert.match(svgOf(result.images[0]), /inputs=5 mask=yes/);
});

test("OpenAI gets image[] parts with their real types and the mask as sent", async () => {
  const key = "sk-edits-openai-000000000001";
  const jpegAsBlob = new Blob([png(64, 64)], { type: "application/octet-stream" });
  await generateImages({
    prompt: "a hat",
    images: [png(64, 64), jpegAsBlob],
    mask: mask(64, 64),
    providers: [{ provider: "openai", apiKey: key, baseUrl: mock.url }],
  });
  const [r] = await requestsOf(key);
  assert.equal(r.path, "/v1/images/edits");
  assert.equal(r.inputs.count, 2);
  assert.equal(r.inputs.imageField, "image[]");
  assert.deepEqual(r.inputs.images.map((i) => i.contentType), ["image/png", "image/png"]);
  assert.equal(r.inputs.mask.contentType, "image/png");
  assert.equal(r.inputs.mask.transparentFraction, 0.5);
  assert.deepEqual(r.inputs.fieldNames.slice(-3), ["image[]", "image[]", "mask"]);
});

test("Gemini gets inline parts after the prompt, in order", async () => {
  const key = "gm-edits-000000000000000002";
  await generateImages({
    prompt: "swap the sofa",
    images: [png(40, 30), png(30, 40)],
    providers: [{ provider: "gemini", apiKey: key, baseUrl: mock.url }],
  });
  const [r] = await requestsOf(key);
  assert.equal(r.inputs.count, 2);
  assert.deepEqual(r.inputs.partKinds, [["text", "inlineData", "inlineData"]]);
  assert.deepEqual(r.inputs.images.map((i) => [i.width, i.height]), [[40, 30], [30, 40]]);
});

test("Stability inpaints with the mask turned to white-is-change grayscale", async () => {
  const key = "sk-edits-stability-00000003";
  const result = await generateImages({
    prompt: "a hat",
    images: [png(64, 64)],
    mask: mask(64, 64),
    providers: [{ provider: "stability", apiKey: key, baseUrl: mock.url, model: "sd3.5-large" }],
  });
  assert.equal(result.images[0].provider, "stability");
  const [r] = await requestsOf(key);
  assert.equal(r.path, "/v2beta/stable-image/edit/inpaint");
  assert.equal(r.inputs.mask.whiteFraction, 0.5);
  assert.equal(r.inputs.mask.hasAlpha, false);
});

test("fallback skips entries that cannot take the inputs, records and warns", async () => {
  const key = "gm-never-called-00000000004";
  const result = await generateImages({
    prompt: "a hat",
    images: [png(32, 32)],
    mask: mask(32, 32),
    providers: [{ provider: "gemini", apiKey: key, baseUrl: mock.url }, { provider: "mock" }],
  });
  assert.equal(result.images[0].provider, "mock");
  assert.equal((await requestsOf(key)).length, 0, "Gemini (no masks) was never called");
  assert.deepEqual(
    result.attempts.map((a) => [a.provider, a.outcome, !!a.skipped]),
    [["gemini", "unsupported", true], ["mock", "ok", false]],
  );
  assert.ok(result.warnings.some((w) => w.code === "input_unsupported" && /mask/.test(w.message)));
});

test("bad inputs are refused before any call, naming the field", async () => {
  const key = "sk-edits-refused-000000005";
  const providers = [{ provider: "openai", apiKey: key, baseUrl: mock.url }];
  const cases = [
    [{ images: ["https://example.com/cat.png"] }, "images[0]", /remote URL/],
    [{ images: [png(8, 8), new Uint8Array([71, 73, 70, 56, 57, 97, 1, 0])] }, "images[1]", /PNG, JPEG or WebP/],
    [{ images: [] }, "images", /empty/],
    [{ images: Array(17).fill(png(8, 8)) }, "images", /at most 16/],
    [{ mask: mask(8, 8) }, "mask", /needs at least one image/],
    [{ images: [png(8, 8)], mask: mask(8, 4) }, "mask", /8x4/],
    [{ images: [png(8, 8)], mask: png(8, 8) }, "mask", /transparen/],
    [{ images: [42] }, "images[0]", /Blob, ArrayBuffer/],
    [{ images: ["data:image/png;base64,!!!"] }, "images[0]", /base64/],
  ];
  for (const [fields, param, message] of cases) {
    const e = await rejection(generateImages({ prompt: "x", providers, ...fields }));
    assert.ok(isImageGenError(e), String(e));
    assert.equal(e.code, "invalid_request", `${param}: ${e.message}`);
    assert.equal(e.param, param, e.message);
    assert.match(e.message, message);
  }
  assert.equal((await requestsOf(key)).length, 0);
});

test("no entry can take the inputs: unsupported before any call, every entry listed", async () => {
  const key = "sk-edits-none-0000000000006";
  const e = await rejection(generateImages({
    prompt: "x",
    images: [png(64, 64), png(64, 64)],
    providers: [
      { provider: "stability", apiKey: key, baseUrl: mock.url, model: "sd3.5-large" },
      { provider: "openai", apiKey: key, baseUrl: mock.url, model: "dall-e-3" },
    ],
  }));
  assert.equal(e.code, "unsupported");
  assert.deepEqual(e.attempts.map((a) => [a.provider, a.outcome, !!a.skipped]), [
    ["stability", "unsupported", true],
    ["openai", "unsupported", true],
  ]);
  assert.equal((await requestsOf(key)).length, 0);
});

test("services: editImages resolves with data: URLs", async () => {
  const service = createImageService("mock", "");
  const urls = await service.editImages("a hat", [png(16, 16)], { mask: mask(16, 16) });
  assert.equal(urls.length, 1);
  assert.match(urls[0], /^data:image\/svg\+xml;base64,/);
  assert.match(Buffer.from(urls[0].split(",")[1], "base64").toString(), /inputs=1 mask=yes/);
});

test("20 edits with 4 MiB inputs leave wasm memory flat", async () => {
  // A valid PNG of 4 MiB (a comment chunk makes up the size).
  const big = new Uint8Array(makePngOfSize(4 * 1024 * 1024));
  const providers = [{ provider: "openai", apiKey: "sk-edits-memory-00000000007", baseUrl: mock.url }];
  // The warm-up uses a small input: a copy of one 4 MiB input would show as growth.
  await generateImages({ prompt: "warm", images: [new Uint8Array(makePngOfSize(4096))], providers });
  const start = memory();
  for (let i = 0; i < 20; i++) {
    const r = await generateImages({ prompt: "big", images: [big], providers });
    assert.equal(r.images.length, 1);
  }
  const growth = memory() - start;
  assert.ok(growth <= 1024 * 1024, `wasm memory grew by ${growth} bytes over 20 edits of 4 MiB`);
});
