// The official OpenAI clients (JS and Python) read data[i].url from the Worker as they do from
// OpenAI's own URL responses ("response_format": "url"), and the links they get serve the exact
// image bytes without a token. The Python client comes from `bash scripts/setup.sh` (a venv in
// .tools/py); without it this test fails, it never skips.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import { makePngOfSize } from "../mock-server/images.mjs";
import {
  ROOT,
  URL_SIGNING_KEY,
  assertNoSecrets,
  devToken,
  fakeKey,
  registerSecret,
  scanningFetch,
  startMockServer,
  startWorker,
  storeConfig,
  storeKey,
  uid,
} from "./helpers.mjs";

const run = promisify(execFile);
const venv = path.join(ROOT, ".tools/py/bin/python");
const python = process.env.IMAGEGEN_PYTHON ?? (fs.existsSync(venv) ? venv : "python3");
const sha256 = (bytes) => crypto.createHash("sha256").update(bytes).digest("hex");
const IMAGE = makePngOfSize(12_000, { label: `sdk links ${crypto.randomBytes(8).toString("hex")}` });
registerSecret(URL_SIGNING_KEY);

let mock;
let worker;
let token;
let dir;

before(async () => {
  mock = await startMockServer({ imageBase64: IMAGE.toString("base64") });
  worker = await startWorker({ mockUrl: mock.url });
  token = devToken(uid("sdk-links"));
  await storeKey(worker, token, "openai", fakeKey("sdk-links", "openai"));
  await storeConfig(worker, token, [{ provider: "openai" }]);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "imagegen-links-"));
});

after(async () => {
  await worker?.close();
  await mock?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test("OpenAI JS SDK: images.generate and images.edit with response_format url", async () => {
  const openai = new OpenAI({ apiKey: token, baseURL: `${worker.url}/v1`, fetch: scanningFetch, maxRetries: 0 });
  const generated = await openai.images.generate({ prompt: "links from js", n: 2, response_format: "url" });
  const edited = await openai.images.edit({
    image: new File([IMAGE], "in.png", { type: "image/png" }),
    prompt: "edit as a link",
    response_format: "url",
  });
  for (const image of [...generated.data, ...edited.data]) {
    assert.equal(image.b64_json, undefined);
    assert.match(image.url, new RegExp(`^${worker.url}/v1/files/`));
    const res = await scanningFetch(image.url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "image/png");
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(IMAGE));
  }
  assert.equal(generated.data.length, 2);
});

test("OpenAI Python client: images.generate and images.edit with response_format url", async () => {
  const version = await run(python, ["-c", "import openai; print(openai.__version__)"]).catch((e) => e);
  assert.ok(
    typeof version.stdout === "string" && version.stdout.trim(),
    `the Python client is missing (${python}): run bash scripts/setup.sh. ${version.stderr ?? version.message ?? ""}`,
  );
  const file = path.join(dir, "in.png");
  fs.writeFileSync(file, IMAGE);
  const { stdout } = await run(python, [path.join(ROOT, "tests/worker/python/openai_links.py"), `${worker.url}/v1`, token, file], {
    timeout: 120_000,
  });
  assertNoSecrets(stdout, "the Python client's results");
  const out = JSON.parse(stdout);
  assert.equal(out.generate.length, 2);
  assert.equal(out.edit.length, 1);
  for (const image of [...out.generate, ...out.edit]) {
    assert.equal(image.b64_json, null, "no base64 next to the link");
    assert.match(image.url, /\/v1\/files\/[0-9a-f]{32}\?exp=\d+&sig=/);
    assert.deepEqual(
      [image.status, image.content_type, image.bytes, image.sha256],
      [200, "image/png", IMAGE.length, sha256(IMAGE)],
    );
  }
});
