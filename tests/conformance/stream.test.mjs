// Streamed previews against the openai SDK: the package's streaming requests (generations
// JSON, edits multipart) carry the same method, path, content type and body fields as the
// SDK's `images.generate/edit({..., stream: true, partial_images: 2})`; and the package reads
// each transcript of tests/fixtures/openai-stream/ as the SDK's own stream parser does (the
// same previews in the same order with the same data, the same final image, an error where
// the SDK throws one).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import OpenAI, { toFile } from "openai";
import { startCaptureServer } from "./capture.mjs";
import { generateImages } from "imagegen";
import { encodePng } from "../mock-server/server.mjs";

let capture;
before(async () => {
  capture = await startCaptureServer();
});
after(() => capture.close());

const PROMPT = "A lighthouse at dusk, oil painting.";
const transcript = (name) => readFileSync(new URL(`../fixtures/openai-stream/${name}`, import.meta.url), "utf8");
const sse = (name) => ({ status: 200, headers: { "content-type": "text/event-stream" }, bodyText: transcript(name) });
const sdk = (apiKey) => new OpenAI({ apiKey, baseURL: `${capture.url}/v1`, maxRetries: 0 });

/** The package's call with previews; its events are collected. */
function viaPackage(extra, answers) {
  const events = [];
  return capture
    .run(
      "pkg",
      (apiKey) =>
        generateImages({
          prompt: PROMPT,
          partialImages: 2,
          providers: [{ provider: "openai", apiKey, baseUrl: capture.url, model: "gpt-image-2" }],
          retry: { maxAttempts: 1 },
          onEvent: (e) => events.push(e),
          ...extra,
        }),
      { answers },
    )
    .then((run) => ({ ...run, events }));
}

/** Iterates the SDK's stream, collecting its events; a thrown error ends it. */
async function drain(stream) {
  const events = [];
  try {
    for await (const e of stream) events.push(e);
  } catch (error) {
    return { events, error };
  }
  return { events };
}

const view = (req) => ({
  method: req.method,
  path: req.path,
  contentType: (req.headers["content-type"] ?? "").replace(/;.*$/, ""),
});

describe("streaming requests", () => {
  test("generations: the same JSON body as images.generate({stream: true, partial_images: 2})", async () => {
    const pkg = await viaPackage({}, [sse("image_generation.sse")]);
    if (pkg.error) assert.fail(`the package failed: ${pkg.error.stack ?? pkg.error}`);
    const ref = await capture.run(
      "openai-sdk",
      async (apiKey) =>
        drain(
          await sdk(apiKey).images.generate({
            model: "gpt-image-2",
            prompt: PROMPT,
            n: 1,
            // The package's documented default (README: OpenAI `quality: "medium"`).
            quality: "medium",
            stream: true,
            partial_images: 2,
          }),
        ),
      { answers: [sse("image_generation.sse")] },
    );
    if (ref.error) assert.fail(`the SDK failed: ${ref.error.stack ?? ref.error}`);
    assert.deepEqual(view(pkg.requests[0]), view(ref.requests[0]));
    assert.deepEqual(pkg.requests[0].json, ref.requests[0].json);
    assert.equal(pkg.requests[0].json.stream, true);
  });

  test("edits: the same multipart fields as images.edit({stream: true, partial_images: 2})", async () => {
    const image = encodePng(48, 32, { colorType: 2 });
    const pkg = await viaPackage({ images: [new Uint8Array(image)] }, [sse("image_edit.sse")]);
    if (pkg.error) assert.fail(`the package failed: ${pkg.error.stack ?? pkg.error}`);
    const ref = await capture.run(
      "openai-sdk",
      async (apiKey) =>
        drain(
          await sdk(apiKey).images.edit({
            model: "gpt-image-2",
            prompt: PROMPT,
            image: await toFile(image, "photo.png", { type: "image/png" }),
            n: 1,
            quality: "medium",
            stream: true,
            partial_images: 2,
          }),
        ),
      { answers: [sse("image_edit.sse")] },
    );
    if (ref.error) assert.fail(`the SDK failed: ${ref.error.stack ?? ref.error}`);
    const fields = (req) => Object.fromEntries(req.parts.filter((p) => p.filename === undefined).map((p) => [p.name, p.value]));
    const files = (req) => req.parts.filter((p) => p.filename !== undefined).map((p) => [p.name, p.contentType, p.size]);
    assert.deepEqual(view(pkg.requests[0]), view(ref.requests[0]));
    assert.deepEqual(fields(pkg.requests[0]), fields(ref.requests[0]));
    assert.deepEqual(files(pkg.requests[0]), files(ref.requests[0]));
    assert.equal(fields(pkg.requests[0]).stream, "true");
  });
});

describe("the package reads the stream transcripts as the SDK's parser does", () => {
  const PREVIEWS = { "image_generation.sse": 2, "image_edit.sse": 1, "completed_then_done.sse": 0, "error_midstream.sse": 1 };
  for (const [name, count] of Object.entries(PREVIEWS)) {
    test(name, async () => {
      const ref = await capture.run(
        "openai-sdk",
        async (apiKey) =>
          drain(await sdk(apiKey).images.generate({ model: "gpt-image-2", prompt: PROMPT, stream: true, partial_images: 2 })),
        { answers: [sse(name)] },
      );
      if (ref.error) assert.fail(`the SDK failed before streaming: ${ref.error.stack ?? ref.error}`);
      const sdkEvents = ref.result.events;
      const pkg = await viaPackage({}, [sse(name)]);

      const sdkPreviews = sdkEvents
        .filter((e) => e.type.endsWith(".partial_image"))
        .map((e) => ({ index: e.partial_image_index, base64: e.b64_json }));
      const pkgPreviews = pkg.events
        .filter((e) => e.type === "partial_image")
        .map((e) => ({ index: e.index, base64: e.image.base64 }));
      assert.equal(sdkPreviews.length, count);
      assert.deepEqual(pkgPreviews, sdkPreviews);
      const completed = sdkEvents.find((e) => e.type.endsWith(".completed"));
      if (ref.result.error) {
        // The SDK throws on the error event; the package fails the attempt.
        assert.equal(completed, undefined);
        assert.ok(pkg.error, "the package should have failed");
        assert.equal(pkg.error.code, "provider_error");
        assert.equal(pkg.error.status, ref.result.error.status ?? 500);
      } else {
        if (pkg.error) assert.fail(`the package failed: ${pkg.error.stack ?? pkg.error}`);
        assert.ok(completed, "the SDK saw a final event");
        assert.equal(pkg.result.images.length, 1);
        assert.equal(pkg.result.images[0].base64, completed.b64_json);
        assert.equal(pkg.result.images[0].mimeType, `image/${completed.output_format}`);
      }
    });
  }
});
