// The official OpenAI Python client's images.edit(...) against the Worker: one and several
// images, with and without a mask (python/openai_edit.py makes the calls; this file checks
// what the mock providers received). The client comes from `bash scripts/setup.sh` (a venv
// in .tools/py with the pinned `openai` package); without it this test fails, it never skips.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { after, before, test } from "node:test";
import { PNG_1X1_BASE64, ROOT, assertNoSecrets, devToken, fakeKey, startMockServer, startWorker, storeConfig, storeKey, uid } from "./helpers.mjs";
import { encodePng } from "../mock-server/server.mjs";

const run = promisify(execFile);
const venv = path.join(ROOT, ".tools/py/bin/python");
const python = process.env.IMAGEGEN_PYTHON ?? (fs.existsSync(venv) ? venv : "python3");
const sha256 = (bytes) => crypto.createHash("sha256").update(bytes).digest("hex");

let mock;
let worker;
let dir;

before(async () => {
  mock = await startMockServer();
  worker = await startWorker({ mockUrl: mock.url });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "imagegen-py-"));
});

after(async () => {
  await worker?.close();
  await mock?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test("OpenAI Python client: images.edit with one and several images, with and without a mask", async () => {
  const version = await run(python, ["-c", "import openai; print(openai.__version__)"]).catch((e) => e);
  assert.ok(
    typeof version.stdout === "string" && version.stdout.trim(),
    `the Python client is missing (${python}): run bash scripts/setup.sh. ${version.stderr ?? version.message ?? ""}`,
  );
  const token = devToken(uid("py"));
  const key = fakeKey("py", "openai");
  await storeKey(worker, token, "openai", key);
  await storeConfig(worker, token, [{ provider: "openai" }]);
  const images = [encodePng(40, 40, { colorType: 2 }), encodePng(41, 41, { colorType: 2 }), encodePng(42, 42, { colorType: 2 })];
  const mask = encodePng(40, 40, { colorType: 6, pixel: (x) => [0, 0, 0, x < 20 ? 0 : 255] });
  const files = ["a.png", "b.png", "c.png", "mask.png", "small-mask.png"].map((n) => path.join(dir, n));
  [...images, mask, encodePng(8, 8, { colorType: 6 })].forEach((bytes, i) => fs.writeFileSync(files[i], bytes));

  const { stdout } = await run(python, [path.join(ROOT, "tests/worker/python/openai_edit.py"), `${worker.url}/v1`, token, ...files], {
    timeout: 120_000,
  });
  assertNoSecrets(stdout, "the Python client's results");
  const out = JSON.parse(stdout);
  assert.deepEqual(
    ["one", "one_mask", "several", "several_mask"].map((k) => [out[k].images, out[k].providers[0]]),
    [
      [1, "openai"],
      [2, "openai"],
      [1, "openai"],
      [1, "openai"],
    ],
  );
  assert.ok(out.one.b64.every((b) => b === PNG_1X1_BASE64));
  assert.deepEqual(out.error, { status: 400, param: "mask", code: "invalid_request" });

  const sent = mock.requests(key).filter((r) => r.route === "edit");
  assert.deepEqual(
    sent.map((r) => [
      r.inputs.count,
      r.inputs.imageField,
      r.inputs.images.map((i) => `${i.contentType} ${i.sha256}`).join(),
      r.inputs.mask ? `${r.inputs.mask.contentType} ${r.inputs.mask.sha256}` : null,
    ]),
    [
      [1, "image", `image/png ${sha256(images[0])}`, null],
      [1, "image", `image/png ${sha256(images[0])}`, `image/png ${sha256(mask)}`],
      [3, "image[]", images.map((b) => `image/png ${sha256(b)}`).join(), null],
      [3, "image[]", images.map((b) => `image/png ${sha256(b)}`).join(), `image/png ${sha256(mask)}`],
    ],
    "every edit reached the provider with its images in order and each part typed image/png",
  );
});
