// The official OpenAI clients' streaming against the Worker, unchanged: the JS SDK's
// `images.generate({stream: true, partial_images})` and `images.edit({..., stream: true})`
// iterate our events, and an `error` event raises; the same with the Python client
// (python/openai_stream.py, from the venv `bash scripts/setup.sh` makes; never skipped).

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";
import OpenAI, { toFile } from "openai";
import { ROOT, assertNoSecrets, devToken, fakeKey, scanningFetch, scriptKey, startMockServer, startWorker, storeConfig, storeKey, uid } from "./helpers.mjs";
import { encodePng } from "../mock-server/server.mjs";

const run = promisify(execFile);
const venv = path.join(ROOT, ".tools/py/bin/python");
const python = process.env.IMAGEGEN_PYTHON ?? (fs.existsSync(venv) ? venv : "python3");

let mock;
let worker;

before(async () => {
  mock = await startMockServer();
  worker = await startWorker({ mockUrl: mock.url });
});

after(async () => {
  await worker?.close();
  await mock?.close();
});

const client = (token) => new OpenAI({ apiKey: token, baseURL: `${worker.url}/v1`, fetch: scanningFetch, maxRetries: 0, timeout: 60_000 });
const isPng = (b64) => Buffer.from(b64, "base64").subarray(1, 4).toString() === "PNG";

async function openaiUser() {
  const token = devToken(uid("sdk-sse"));
  const key = fakeKey("sdk-sse", "openai");
  await storeKey(worker, token, "openai", key);
  await storeConfig(worker, token, [{ provider: "openai", model: "gpt-image-2" }]);
  return { token, key };
}

describe("OpenAI JS SDK streaming", () => {
  test("images.generate({stream: true, partial_images: 2}) yields two previews, then the image", async () => {
    const { token, key } = await openaiUser();
    await scriptKey(mock, key, [{ stream: { partials: 2 } }]);
    const stream = await client(token).images.generate({ prompt: "a lighthouse", stream: true, partial_images: 2 });
    const seen = [];
    for await (const event of stream) seen.push(event);
    assert.deepEqual(
      seen.map((e) => [e.type, e.partial_image_index]),
      [
        ["image_generation.partial_image", 0],
        ["image_generation.partial_image", 1],
        ["image_generation.completed", undefined],
      ],
    );
    assert.ok(seen.every((e) => isPng(e.b64_json)));
    assert.equal(seen.at(-1).provider, "openai");
  });

  test("images.edit({..., stream: true}) yields image_edit events", async () => {
    const { token, key } = await openaiUser();
    await scriptKey(mock, key, [{ stream: { partials: 1 } }]);
    const image = await toFile(encodePng(32, 32, { colorType: 2 }), "a.png", { type: "image/png" });
    const stream = await client(token).images.edit({ image, prompt: "make it blue", stream: true, partial_images: 1 });
    const seen = [];
    for await (const event of stream) seen.push(event.type);
    assert.deepEqual(seen, ["image_edit.partial_image", "image_edit.completed"]);
    assert.equal(mock.requests(key).filter((r) => r.route === "edit").at(-1).body.stream, "true");
  });

  test("an error event raises an APIError carrying our code", async () => {
    const { token, key } = await openaiUser();
    await scriptKey(mock, key, [{ fixture: "openai/content_policy_violation" }]);
    const stream = await client(token).images.generate({ prompt: "refused", stream: true });
    const seen = [];
    await assert.rejects(
      (async () => {
        for await (const event of stream) seen.push(event.type);
      })(),
      (error) => {
        assert.ok(error instanceof OpenAI.APIError, `${error?.constructor?.name}: ${error?.message}`);
        assert.equal(error.code, "content_policy");
        assert.equal(error.type, "invalid_request_error");
        return true;
      },
    );
    assert.deepEqual(seen, []);
  });
});

describe("OpenAI Python client streaming", () => {
  test("generate and edit streams iterate; an error event raises APIError", async () => {
    const version = await run(python, ["-c", "import openai; print(openai.__version__)"]).catch((e) => e);
    assert.ok(typeof version.stdout === "string" && version.stdout.trim(), `the Python client is missing (${python}): run bash scripts/setup.sh`);
    const { token, key } = await openaiUser();
    await scriptKey(mock, key, [{ stream: { partials: 2 } }, { stream: { partials: 1 } }, { fixture: "openai/content_policy_violation" }]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imagegen-py-sse-"));
    try {
      const image = path.join(dir, "a.png");
      fs.writeFileSync(image, encodePng(32, 32, { colorType: 2 }));
      const { stdout } = await run(python, [path.join(ROOT, "tests/worker/python/openai_stream.py"), `${worker.url}/v1`, token, image], { timeout: 120_000 });
      assertNoSecrets(stdout, "the Python client's events");
      const out = JSON.parse(stdout);
      assert.deepEqual(
        out.generate.map((e) => [e.type, e.index]),
        [
          ["image_generation.partial_image", 0],
          ["image_generation.partial_image", 1],
          ["image_generation.completed", null],
        ],
      );
      assert.ok(out.generate.every((e) => isPng(e.b64)));
      assert.equal(out.generate.at(-1).provider, "openai");
      assert.deepEqual(
        out.edit.map((e) => e.type),
        ["image_edit.partial_image", "image_edit.completed"],
      );
      assert.deepEqual(out.error, { code: "content_policy", type: "invalid_request_error", seen: [], message: out.error.message });
      assert.ok(out.error.message.length > 0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
