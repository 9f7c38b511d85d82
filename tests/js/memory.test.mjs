// Large base64 images must not be copied into wasm linear memory: they are
// parsed by the platform's JSON.parse and handed back as the same JS strings.
// If they were copied, 20 × 4 MB images would grow memory by tens of MB
// (linear memory never shrinks); the bound below is 1 MiB.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { generateImages } from "imagegen";
import { initSync } from "imagegen/web";
import { startMockServer } from "../mock-server/server.mjs";

const IMAGE_CHARS = 4_000_000;
let mock;

before(async () => {
  mock = await startMockServer({ imageBytes: IMAGE_CHARS });
});
after(async () => {
  await mock.close();
});

// Already initialised by the "imagegen" import: returns the same instance.
const memory = () => initSync({ module: new Uint8Array() }).memory.buffer.byteLength;

test("20 images of 4 MB leave wasm memory flat", async () => {
  const providers = [{ provider: "openai", apiKey: "sk-memory-test-0000000000", baseUrl: mock.url }];
  // Warm up: first-call allocations are not what is measured.
  const warm = await generateImages({ prompt: "warm up", count: 2, providers });
  assert.ok(warm.images[0].base64.length >= IMAGE_CHARS * 0.95, `${warm.images[0].base64.length}`);
  const before = memory();
  let total = 0;
  for (let i = 0; i < 2; i++) {
    const result = await generateImages({ prompt: "big", count: 10, providers });
    assert.equal(result.images.length, 10);
    total += result.images.reduce((n, img) => n + img.base64.length, 0);
  }
  const growth = memory() - before;
  assert.ok(total >= 20 * IMAGE_CHARS * 0.95, `${total} chars delivered`);
  assert.ok(growth <= 1024 * 1024, `wasm memory grew by ${growth} bytes for ${total} chars of images`);
});

test("gemini and stability JSON images stay out of wasm memory too", async () => {
  const before = memory();
  for (const provider of ["gemini", "stability"]) {
    const result = await generateImages({
      prompt: "big",
      count: 4,
      providers: [{ provider, apiKey: "sk-memory-test-0000000000", baseUrl: mock.url }],
    });
    assert.equal(result.images.length, 4);
    assert.ok(result.images[0].base64.length >= IMAGE_CHARS * 0.95);
  }
  const growth = memory() - before;
  assert.ok(growth <= 1024 * 1024, `wasm memory grew by ${growth} bytes`);
});

test("50 streamed generations with 3 previews of 2 MiB leave wasm memory flat", async () => {
  const PREVIEW_BYTES = 2 * 1024 * 1024;
  const streaming = await startMockServer({ previewBytes: PREVIEW_BYTES });
  try {
    const providers = [{ provider: "openai", apiKey: "sk-memory-test-0000000000", baseUrl: streaming.url }];
    let previewChars = 0;
    const onEvent = (e) => {
      if (e.type === "partial_image") previewChars += e.image.base64.length;
    };
    // Warm up with small previews (the first server's): a single copy of one
    // big preview into wasm memory would then show as growth below.
    const small = [{ ...providers[0], baseUrl: mock.url }];
    await generateImages({ prompt: "warm up", partialImages: 3, providers: small, onEvent });
    const before = memory();
    previewChars = 0;
    for (let i = 0; i < 50; i++) {
      const result = await generateImages({ prompt: `stream ${i}`, partialImages: 3, providers, onEvent });
      assert.equal(result.images.length, 1);
    }
    const growth = memory() - before;
    // 150 previews of 2 MiB each (base64: 4/3 of that) reached onEvent.
    assert.ok(previewChars >= 150 * PREVIEW_BYTES * 1.33, `${previewChars} preview chars delivered`);
    assert.ok(growth <= 1024 * 1024, `wasm memory grew by ${growth} bytes for ${previewChars} chars of previews`);
  } finally {
    await streaming.close();
  }
});
