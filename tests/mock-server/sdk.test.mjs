// The official clients against the mock server's edit, image-input and streaming routes:
// what they send is accepted and recorded as expected, and what the mock answers (JSON, SSE,
// mid-stream errors, cut streams) is read by them the way the real API's answers are.
// Needs the root devDependencies (npm ci): openai, @google/genai, ai, @ai-sdk/openai, @ai-sdk/google.
//
//   node --test tests/mock-server/sdk.test.mjs

import { test, describe, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import OpenAI, { toFile } from "openai";
import { GoogleGenAI } from "@google/genai";
import { generateImage } from "ai";
import { createOpenAI } from "@ai-sdk/openai";
import { createGoogleGenerativeAI } from "@ai-sdk/google";
import { startMockServer, encodePng, makeJpegHeader, PNG_1X1_BASE64 } from "./server.mjs";

const sha256 = (buffer) => crypto.createHash("sha256").update(buffer).digest("hex");
const PNG = encodePng(64, 64, { colorType: 2, pixel: (x, y) => [x * 4, y * 4, 50] });
const PNG_B = encodePng(64, 64, { colorType: 6, pixel: (x, y) => [y * 4, x * 4, 90, 255] });
const JPEG = makeJpegHeader(64, 64);
const MASK = encodePng(64, 64, { colorType: 6, pixel: (x, y) => [0, 0, 0, y < 16 ? 0 : 255] });

let mock;
before(async () => {
  mock = await startMockServer();
});
after(async () => {
  await mock.close();
});
beforeEach(() => mock.reset());

async function script(definition) {
  const res = await fetch(`${mock.url}/__mock/script`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(definition),
  });
  assert.equal(res.status, 200, await res.text());
}

const openaiClient = (apiKey) => new OpenAI({ apiKey, baseURL: `${mock.url}/v1`, maxRetries: 0 });

describe("openai-node images.edit", () => {
  test("one image goes as `image`; the response parses", async () => {
    const client = openaiClient("sk-sdk-one");
    const result = await client.images.edit({
      model: "gpt-image-1.5",
      prompt: "make it blue",
      image: await toFile(PNG, "in.png", { type: "image/png" }),
      input_fidelity: "high",
    });
    assert.equal(result.data[0].b64_json, PNG_1X1_BASE64);
    assert.equal(result.usage.input_tokens_details.image_tokens, 1280);
    const { inputs, body } = mock.requests("sk-sdk-one")[0];
    assert.equal(inputs.imageField, "image");
    assert.deepEqual(inputs.images.map((i) => [i.contentType, i.sha256]), [["image/png", sha256(PNG)]]);
    assert.equal(body.input_fidelity, "high");
  });

  test("several images go as `image[]` in order, with the mask; the mask's area is recorded", async () => {
    const client = openaiClient("sk-sdk-many");
    await client.images.edit({
      model: "gpt-image-2",
      prompt: "put them together",
      image: [
        await toFile(PNG, "a.png", { type: "image/png" }),
        await toFile(JPEG, "b.jpg", { type: "image/jpeg" }),
        await toFile(PNG_B, "c.png", { type: "image/png" }),
      ],
      mask: await toFile(MASK, "mask.png", { type: "image/png" }),
      size: "1536x1024",
    });
    const { inputs } = mock.requests("sk-sdk-many")[0];
    assert.equal(inputs.imageField, "image[]");
    assert.deepEqual(inputs.images.map((i) => i.sha256), [sha256(PNG), sha256(JPEG), sha256(PNG_B)]);
    assert.equal(inputs.mask.transparentFraction, 0.25);
    assert.deepEqual(inputs.mask.transparentBox, { x: 0, y: 0, width: 64, height: 16 });
  });

  test("a file without a type reaches the mock as application/octet-stream and gets OpenAI's 400", async () => {
    const client = openaiClient("sk-sdk-untyped");
    await assert.rejects(
      client.images.edit({ model: "gpt-image-1.5", prompt: "x", image: await toFile(PNG, "in.png") }),
      (error) => {
        assert.ok(error instanceof OpenAI.BadRequestError);
        assert.equal(error.code, "unsupported_file_mimetype");
        assert.equal(error.param, "image");
        return true;
      },
    );
  });

  test("stream: true on edits yields image_edit events", async () => {
    const client = openaiClient("sk-sdk-edit-stream");
    const stream = await client.images.edit({
      model: "gpt-image-1.5",
      prompt: "x",
      image: await toFile(PNG, "in.png", { type: "image/png" }),
      stream: true,
      partial_images: 2,
    });
    const events = [];
    for await (const event of stream) events.push(event);
    assert.deepEqual(events.map((e) => e.type), ["image_edit.partial_image", "image_edit.partial_image", "image_edit.completed"]);
    assert.deepEqual(events.slice(0, 2).map((e) => e.partial_image_index), [0, 1]);
    assert.equal(events[2].b64_json, PNG_1X1_BASE64);
  });
});

describe("openai-node streaming generations", () => {
  test("previews, then the final image with usage", async () => {
    const client = openaiClient("sk-sdk-stream");
    const stream = await client.images.generate({ model: "gpt-image-2", prompt: "x", stream: true, partial_images: 3 });
    const events = [];
    for await (const event of stream) events.push(event);
    assert.deepEqual(events.map((e) => e.type), [
      "image_generation.partial_image", "image_generation.partial_image", "image_generation.partial_image", "image_generation.completed",
    ]);
    assert.equal(events[3].usage.output_tokens, 1056 + 300);
  });

  test("an error event mid-stream is thrown as an APIError carrying the error's fields", async () => {
    await script({ key: "sk-sdk-err", steps: [{ stream: { errorAfter: 1, errorFixture: "openai/rate_limit" } }] });
    const client = openaiClient("sk-sdk-err");
    const seen = [];
    await assert.rejects(
      (async () => {
        for await (const event of await client.images.generate({ model: "gpt-image-2", prompt: "x", stream: true, partial_images: 2 })) seen.push(event.type);
      })(),
      (error) => {
        assert.ok(error instanceof OpenAI.APIError);
        assert.equal(error.code, "rate_limit_exceeded");
        assert.equal(error.type, "requests");
        return true;
      },
    );
    assert.deepEqual(seen, ["image_generation.partial_image"]);
  });

  test("a cut stream makes the iteration fail after the events that arrived; [DONE] ends it quietly", async () => {
    await script({ key: "sk-sdk-cut", steps: [{ stream: { cutAfter: 1 } }, { stream: { done: true } }] });
    const client = openaiClient("sk-sdk-cut");
    const seen = [];
    await assert.rejects(async () => {
      for await (const event of await client.images.generate({ model: "gpt-image-2", prompt: "x", stream: true, partial_images: 2 })) seen.push(event.type);
    });
    assert.deepEqual(seen, ["image_generation.partial_image"]);
    const done = [];
    for await (const event of await client.images.generate({ model: "gpt-image-2", prompt: "x", stream: true, partial_images: 1 })) done.push(event.type);
    assert.deepEqual(done, ["image_generation.partial_image", "image_generation.completed"]);
  });

  test("leaving the loop early aborts the request, and the mock notices", async () => {
    await script({ key: "sk-sdk-break", steps: [{ stream: { delaysMs: [0, 5000] } }] });
    const client = openaiClient("sk-sdk-break");
    for await (const event of await client.images.generate({ model: "gpt-image-2", prompt: "x", stream: true, partial_images: 1 })) {
      assert.equal(event.type, "image_generation.partial_image");
      break;
    }
    const entry = mock.requests("sk-sdk-break")[0];
    for (let i = 0; i < 50 && entry.stream.outcome !== "client_closed"; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(entry.stream.outcome, "client_closed");
  });
});

describe("@google/genai image inputs", () => {
  const genai = (apiKey) => new GoogleGenAI({ apiKey, apiVersion: "v1beta", httpOptions: { baseUrl: mock.url } });

  test("inlineData parts are accepted and recorded", async () => {
    const response = await genai("AIza-sdk").models.generateContent({
      model: "gemini-3-pro-image",
      contents: [{ role: "user", parts: [
        { text: "blend these" },
        { inlineData: { mimeType: "image/png", data: PNG.toString("base64") } },
        { inlineData: { mimeType: "image/jpeg", data: JPEG.toString("base64") } },
      ] }],
      config: { responseModalities: ["IMAGE"], imageConfig: { aspectRatio: "4:3" } },
    });
    const image = response.candidates[0].content.parts.find((p) => p.inlineData);
    assert.equal(image.inlineData.data, PNG_1X1_BASE64);
    const { inputs } = mock.requests("AIza-sdk")[0];
    assert.deepEqual(inputs.images.map((i) => [i.mimeType, i.sha256]), [["image/png", sha256(PNG)], ["image/jpeg", sha256(JPEG)]]);
  });

  test("an unsupported MIME type is thrown as the SDK's ApiError with status 400", async () => {
    await assert.rejects(
      genai("AIza-sdk").models.generateContent({
        model: "gemini-3-pro-image",
        contents: [{ role: "user", parts: [{ text: "x" }, { inlineData: { mimeType: "image/jpg", data: JPEG.toString("base64") } }] }],
      }),
      (error) => {
        assert.equal(error.status, 400);
        assert.match(error.message, /Unsupported MIME type: image\/jpg/);
        return true;
      },
    );
  });
});

describe("AI SDK generateImage with image inputs", () => {
  test("@ai-sdk/openai: one image as `image`, two as `image[]`, with a mask", async () => {
    const provider = createOpenAI({ apiKey: "sk-aisdk", baseURL: `${mock.url}/v1` });
    const one = await generateImage({ model: provider.image("gpt-image-1.5"), prompt: { text: "x", images: [PNG] }, maxRetries: 0 });
    assert.equal(one.images.length, 1);
    await generateImage({ model: provider.image("gpt-image-1.5"), prompt: { text: "x", images: [PNG, PNG_B], mask: MASK }, maxRetries: 0 });
    const [first, second] = mock.requests("sk-aisdk");
    assert.equal(first.inputs.imageField, "image");
    assert.equal(second.inputs.imageField, "image[]");
    assert.deepEqual(second.inputs.images.map((i) => i.sha256), [sha256(PNG), sha256(PNG_B)]);
    assert.equal(second.inputs.mask.sha256, sha256(MASK));
  });

  test("@ai-sdk/google: images become inlineData parts", async () => {
    const provider = createGoogleGenerativeAI({ apiKey: "AIza-aisdk", baseURL: `${mock.url}/v1beta` });
    const result = await generateImage({ model: provider.image("gemini-3-pro-image"), prompt: { text: "x", images: [PNG] }, maxRetries: 0 });
    assert.equal(result.images.length, 1);
    const { inputs } = mock.requests("AIza-aisdk")[0];
    assert.equal(inputs.count, 1);
    assert.equal(inputs.images[0].sha256, sha256(PNG));
  });
});
