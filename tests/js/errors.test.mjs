// The package's error class: every error the package throws or rejects with
// is an `ImageGenError` instance with the documented fields;
// `isImageGenError` also recognises errors of another copy or realm, and not
// the plain objects of `GenerateResult.errors`.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import vm from "node:vm";
import * as imagegen from "imagegen";

const {
  ImageGenError,
  isImageGenError,
  generateImages,
  validateApiKey,
  createClient,
  createImageService,
  OpenAIService,
  MockService,
} = imagegen;

const mock = (params = {}) => ({ provider: "mock", params });

/** Asserts that `e` is one of the package's errors with the given code. */
function assertPackageError(e, code, where) {
  assert.ok(e instanceof ImageGenError, `${where}: not an ImageGenError instance: ${e}`);
  assert.ok(e instanceof Error, where);
  assert.equal(isImageGenError(e), true, where);
  assert.equal(e.name, "ImageGenError", where);
  assert.equal(e.code, code, `${where}: ${e.message}`);
  assert.equal(typeof e.message, "string", where);
  assert.equal(typeof e.retryable, "boolean", where);
  assert.ok(Array.isArray(e.attempts), where);
  assert.ok(Array.isArray(e.images), where);
  assert.match(String(e.stack), /^ImageGenError: /, where);
}

const rejection = (promise) =>
  promise.then(
    () => assert.fail("expected a rejection"),
    (e) => e,
  );
const thrown = (fn) => {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return assert.fail("expected a throw");
};

test("the main entry exports the class and the guard, and no init function", () => {
  assert.equal(typeof ImageGenError, "function");
  assert.equal(typeof isImageGenError, "function");
  assert.equal("initSync" in imagegen, false);
  assert.equal("default" in imagegen, false);
});

test("every way the package fails gives an ImageGenError instance", async () => {
  const cases = [
    ["generateImages: invalid request", "invalid_request", rejection(generateImages({ prompt: " ", providers: [mock()] }))],
    ["generateImages: not an object", "invalid_request", rejection(generateImages(42))],
    [
      "generateImages: every provider failed",
      "auth",
      rejection(generateImages({ prompt: "x", providers: [mock({ failFirst: 5, failCode: "auth" })] })),
    ],
    [
      "generateImages: aborted",
      "aborted",
      rejection(generateImages({ prompt: "x", providers: [mock({ latencyMs: 5000 })], signal: AbortSignal.abort() })),
    ],
    ["validateApiKey: unsupported provider", "invalid_request", rejection(validateApiKey("dalle", "k"))],
    ["createImageService: unsupported provider", "invalid_request", thrown(() => createImageService("dalle", "k"))],
    ["createClient: bad options", "invalid_request", thrown(() => createClient({ retryBudget: { ratio: -1 } }))],
    ["service constructor: bad key type", "invalid_request", thrown(() => new OpenAIService(42))],
    ["service generateImages: bad prompt", "invalid_request", rejection(new MockService("").generateImages(42))],
    ["client generateImages: invalid request", "invalid_request", rejection(createClient().generateImages({ prompt: "" }))],
  ];
  for (const [where, code, pending] of cases) assertPackageError(await pending, code, where);
});

test("the fields are own properties, as before: JSON and spreading keep them", async () => {
  const e = await rejection(generateImages({ prompt: "x", providers: [mock({ failFirst: 5, failCode: "rate_limited", retryAfterMs: 1 })], retry: { maxAttempts: 1 } }));
  assertPackageError(e, "rate_limited", "rate limited");
  assert.deepEqual(Object.keys(e).slice(0, 2), ["name", "code"]);
  assert.equal(e.provider, "mock");
  assert.equal(e.retryable, true);
  assert.equal(e.attempts.length, 1);
  const json = JSON.parse(JSON.stringify(e));
  assert.equal(json.name, "ImageGenError");
  assert.equal(json.code, "rate_limited");
  assert.equal(json.retryable, true);
  const invalid = await rejection(generateImages({ prompt: "", providers: [mock()] }));
  assert.equal(invalid.param, "prompt");
  assert.deepEqual({ ...invalid }.param, "prompt");
});

test("partial results' errors stay plain objects, which the guard does not take for errors", async () => {
  const result = await generateImages({
    prompt: "x",
    count: 2,
    concurrency: 1,
    providers: [mock({ maxImagesPerCall: 1, failFirst: 1, failCode: "content_policy" })],
  });
  assert.equal(result.images.length, 1);
  assert.equal(result.errors.length, 1);
  const entry = result.errors[0];
  assert.equal(Object.getPrototypeOf(entry), Object.prototype);
  assert.equal(entry.name, "ImageGenError");
  assert.equal(entry.code, "content_policy");
  assert.equal(entry instanceof ImageGenError, false);
  assert.equal(isImageGenError(entry), false);
});

test("isImageGenError: errors of another realm or another copy of the package", async () => {
  const otherRealm = vm.runInNewContext('Object.assign(new Error("x"), { name: "ImageGenError", code: "timeout" })');
  assert.equal(otherRealm instanceof Error, false);
  assert.equal(isImageGenError(otherRealm), true);

  // A second copy of the installed package: its own class and its own wasm instance.
  const installed = path.dirname(createRequire(import.meta.url).resolve("imagegen/package.json"));
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), "imagegen-copy-"));
  try {
    fs.cpSync(installed, copy, { recursive: true });
    const other = await import(path.join(copy, "index.node.mjs"));
    assert.notEqual(other.ImageGenError, ImageGenError);
    const e = await rejection(other.generateImages({ prompt: "", providers: [mock()] }));
    assert.ok(e instanceof other.ImageGenError);
    assert.equal(e instanceof ImageGenError, false);
    assert.equal(isImageGenError(e), true);
    assert.equal(other.isImageGenError(await rejection(generateImages({ prompt: "", providers: [mock()] }))), true);
  } finally {
    fs.rmSync(copy, { recursive: true, force: true });
  }

  for (const value of [
    undefined,
    null,
    "ImageGenError",
    new Error("plain"),
    Object.assign(new Error("no code"), { name: "ImageGenError" }),
    { name: "ImageGenError", code: "timeout", message: "an object, not an error" },
  ]) {
    assert.equal(isImageGenError(value), false, String(value?.message ?? value));
  }
});

test("users can build one, e.g. for a test double", () => {
  const e = new ImageGenError("slow", { code: "timeout", retryable: true, provider: "openai" });
  assertPackageError(e, "timeout", "constructed");
  assert.equal(e.message, "slow");
  assert.equal(e.provider, "openai");
  assert.equal(e.retryable, true);
  assert.deepEqual(e.attempts, []);
  assert.deepEqual(e.images, []);
  assert.equal("status" in e, false);
});
