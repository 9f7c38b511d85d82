// Edits: the package's edit requests against the official SDKs' (openai's images.edit,
// @google/genai's generateContent with inlineData parts), both pointed at the capture server.
// Multipart bodies are compared part by part: the file parts of each field in order (the
// order of the images is the caller's; the order of fields is not compared, as elsewhere in
// this suite), each with its content type and size, and each text field's value; file names
// are not compared (the API reads a part's type and bytes, not its name: docs/providers.md).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import OpenAI, { toFile } from "openai";
import { startCaptureServer } from "./capture.mjs";
import { throughGenAIConverter, viaGenAI } from "./oracles.mjs";
import { assertUnchanged } from "./harness.mjs";
import { generateImages } from "imagegen";
import { encodePng } from "../mock-server/server.mjs";

let capture;
before(async () => {
  capture = await startCaptureServer();
});
after(() => capture.close());

const PROMPT = "Put a red knitted hat on the dog; keep everything else unchanged.";
const photo = (w, h, shade) => encodePng(w, h, { colorType: 2, pixel: (x, y) => [shade, (x * 7) & 255, (y * 5) & 255] });
const maskPng = (w, h) => encodePng(w, h, { colorType: 6, pixel: (x) => [0, 0, 0, x < w / 2 ? 0 : 255] });

/** The package's edit with one chain entry pointed at the capture server. */
function viaPackage(provider, model, images, mask) {
  return capture.run("pkg", (apiKey) =>
    generateImages({
      prompt: PROMPT,
      images: images.map((b) => new Uint8Array(b)),
      ...(mask ? { mask: new Uint8Array(mask) } : {}),
      providers: [{ provider, apiKey, baseUrl: capture.url, model }],
      retry: { maxAttempts: 1 },
    }),
  );
}

/** What is compared of a multipart request: path, auth form, and the parts in order. */
function multipartView(req) {
  assert.equal(req.kind, "multipart", `expected a multipart body, got ${req.kind}`);
  return {
    method: req.method,
    path: req.path,
    auth: (req.headers.authorization ?? "").replace(req.key, "<KEY>"),
    contentType: req.headers["content-type"].replace(/;.*$/, ""),
    files: req.parts
      .filter((p) => p.filename !== undefined)
      .map((p) => ({ name: p.name, contentType: p.contentType, size: p.size }))
      // A stable sort by field name keeps the order within each field.
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    fields: Object.fromEntries(req.parts.filter((p) => p.filename === undefined).map((p) => [p.name, p.value])),
  };
}

const OPENAI_EDITS = [
  { name: "one image", images: [photo(64, 48, 10)], mask: null },
  { name: "one image and a mask", images: [photo(64, 48, 20)], mask: maskPng(64, 48) },
  { name: "three images (image[] in order) and a mask", images: [photo(64, 64, 30), photo(32, 48, 40), photo(48, 32, 50)], mask: maskPng(64, 64) },
];

for (const c of OPENAI_EDITS) {
  describe(`openai edits: ${c.name}`, () => {
    test("same parts as the openai SDK's images.edit", async () => {
      const pkg = await viaPackage("openai", "gpt-image-2", c.images, c.mask);
      if (pkg.error) assert.fail(`the package failed: ${pkg.error.stack ?? pkg.error}`);
      assert.equal(pkg.requests.length, 1);
      const ref = await capture.run("openai-sdk", async (apiKey) => {
        const client = new OpenAI({ apiKey, baseURL: `${capture.url}/v1`, maxRetries: 0 });
        const files = await Promise.all(c.images.map((b, i) => toFile(b, `photo-${i}.png`, { type: "image/png" })));
        return client.images.edit({
          model: "gpt-image-2",
          prompt: PROMPT,
          image: files.length === 1 ? files[0] : files,
          ...(c.mask ? { mask: await toFile(c.mask, "mask.png", { type: "image/png" }) } : {}),
          n: 1,
          // The package's documented default (README: OpenAI `quality: "medium"`).
          quality: "medium",
        });
      });
      if (ref.error) assert.fail(`the SDK failed: ${ref.error.stack ?? ref.error}`);
      assert.deepEqual(multipartView(pkg.requests[0]), multipartView(ref.requests[0]));
      // And the bytes of each file part are the caller's, in the caller's order.
      const sizes = pkg.requests[0].parts.filter((p) => p.name !== "mask" && p.filename).map((p) => p.size);
      assert.deepEqual(sizes, c.images.map((b) => b.length));
    });
  });
}

describe("gemini edits: two images, no mask", () => {
  const images = [photo(64, 48, 60), photo(48, 64, 70)];
  let pkg;
  before(async () => {
    pkg = await viaPackage("gemini", "gemini-nano-banana-2.1", images, null);
  });

  test("same contents as @google/genai's generateContent with inlineData parts", async () => {
    if (pkg.error) assert.fail(`the package failed: ${pkg.error.stack ?? pkg.error}`);
    const contents = [
      {
        role: "user",
        parts: [{ text: PROMPT }, ...images.map((b) => ({ inlineData: { mimeType: "image/png", data: b.toString("base64") } }))],
      },
    ];
    const ref = await viaGenAI(capture, { model: "gemini-nano-banana-2.1", contents, config: { responseModalities: ["IMAGE"] } });
    if (ref.error) assert.fail(`the SDK failed: ${ref.error.stack ?? ref.error}`);
    assert.equal(pkg.requests[0].path, ref.requests[0].path);
    assert.deepEqual(pkg.requests[0].json.contents, ref.requests[0].json.contents);
    // An edit keeps its input's shape unless asked: no aspectRatio is sent.
    assert.equal(pkg.requests[0].json.generationConfig.imageConfig?.aspectRatio, undefined);
  });

  test("@google/genai's Developer-API converter takes the package's body unchanged", async () => {
    const out = await throughGenAIConverter(capture, "gemini-nano-banana-2.1", pkg.requests[0].json);
    if (out.error) assert.fail(`the converter refused the body: ${out.error.message}`);
    assertUnchanged(pkg.requests[0].json, out.body, "@google/genai 3.3.0");
  });
});
