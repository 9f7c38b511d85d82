// Wrong types, huge strings and deep objects passed to every exported
// function: each gives a typed ImageGenError (or a plain false/true where the
// API says so), never a crash, and the wasm instance keeps working after.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as imagegen from "imagegen";

const { generateImages, validateApiKey, createImageService, createClient, OpenAIService, MockService } = imagegen;

function deepObject(levels) {
  const root = {};
  let cur = root;
  for (let i = 0; i < levels; i++) {
    cur.a = {};
    cur = cur.a;
  }
  return root;
}

function deepArray(levels) {
  let v = [];
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}

const HUGE = "x".repeat(5_000_000);
const WEIRD = [
  undefined, null, 0, -1, 1.5, NaN, Infinity, true, "", "  ", HUGE, [], [1, 2], {}, () => 1,
  Symbol("s"), 10n, new Date(0), /re/, new Map(), deepObject(10_000), deepArray(10_000),
];

async function settle(fn) {
  try {
    return { value: await fn() };
  } catch (error) {
    return { error };
  }
}

function assertTyped(outcome, where) {
  if ("error" in outcome) {
    const e = outcome.error;
    assert.ok(e instanceof Error, `${where}: threw a non-Error ${String(e)}`);
    assert.equal(e.name, "ImageGenError", `${where}: ${e.name}: ${e.message}`);
    assert.equal(typeof e.code, "string", where);
    assert.equal(typeof e.retryable, "boolean", where);
    assert.ok(e.message.length < 2000, `${where}: message is bounded`);
  }
}

async function stillAlive() {
  const r = await generateImages({ prompt: "still alive", providers: [{ provider: "mock" }] });
  assert.equal(r.images.length, 1);
}

test("generateImages: every field given every wrong kind of value", async () => {
  const fields = ["prompt", "count", "size", "aspectRatio", "seed", "negativePrompt", "outputFormat", "providers",
    "retry", "fallbackOn", "timeoutMs", "deadlineMs", "concurrency", "signal", "onEvent"];
  let rejected = 0;
  for (const field of fields) {
    for (const value of WEIRD) {
      const req = { prompt: "x", providers: [{ provider: "mock" }], [field]: value };
      const outcome = await settle(() => generateImages(req));
      assertTyped(outcome, `${field}=${typeof value}`);
      if ("error" in outcome) {
        rejected++;
        if (outcome.error.code === "invalid_request") assert.ok(outcome.error.param, `${field}: param named`);
      }
    }
  }
  assert.ok(rejected > fields.length * 10, `${rejected} rejections`);
  await stillAlive();
});

test("generateImages: provider entries and params given wrong values", async () => {
  for (const key of ["provider", "apiKey", "model", "baseUrl", "params"]) {
    for (const value of WEIRD) {
      const outcome = await settle(() => generateImages({ prompt: "x", providers: [{ provider: "mock", [key]: value }] }));
      assertTyped(outcome, `providers[0].${key}=${typeof value}`);
    }
  }
  for (const value of WEIRD) {
    assertTyped(await settle(() => generateImages({ prompt: "x", providers: [value] })), `providers[0]=${typeof value}`);
    assertTyped(await settle(() => generateImages(value)), `request=${typeof value}`);
  }
  // The deep objects are refused by name, not by crashing the instance.
  const deep = await settle(() => generateImages({ prompt: "x", providers: [{ provider: "mock", params: deepObject(100_000) }] }));
  assert.equal(deep.error.code, "invalid_request");
  assert.equal(deep.error.param, "providers[0].params");
  const huge = await settle(() => generateImages({ prompt: HUGE, providers: [{ provider: "mock" }] }));
  assert.equal(huge.error.param, "prompt");
  await stillAlive();
});

test("validateApiKey, createImageService, services and createClient with wrong values", async () => {
  for (const a of WEIRD) {
    for (const b of [undefined, "k", 42, HUGE]) {
      assertTyped(await settle(() => validateApiKey(a, b)), `validateApiKey(${typeof a}, ${typeof b})`);
      assertTyped(await settle(() => validateApiKey("mock", a, b)), `validateApiKey(mock, ${typeof a})`);
      assertTyped(await settle(() => createImageService(a, b)), `createImageService(${typeof a})`);
    }
    assertTyped(await settle(() => createClient(a)), `createClient(${typeof a})`);
    assertTyped(await settle(() => new OpenAIService(a, a)), `new OpenAIService(${typeof a})`);
    const mock = new MockService("");
    assertTyped(await settle(() => mock.generateImages(a, a)), `MockService.generateImages(${typeof a})`);
    assertTyped(await settle(() => mock.generateImages("x", { additionalParams: a })), `additionalParams=${typeof a}`);
    assertTyped(await settle(() => mock.validateApiKey(a)), `MockService.validateApiKey(${typeof a})`);
  }
  const client = createClient();
  for (const a of WEIRD) assertTyped(await settle(() => client.generateImages(a)), `client.generateImages(${typeof a})`);
  await stillAlive();
});
