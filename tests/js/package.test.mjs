// Tests of the built npm package, imported by name as a user would (installed
// from pkg/ into tests/js/node_modules), against the mock provider server.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import * as imagegen from "imagegen";
import { startMockServer } from "../mock-server/server.mjs";

const {
  generateImages,
  validateApiKey,
  createImageService,
  OpenAIService,
  GeminiService,
  StabilityService,
  MockService,
  errorCodes,
} = imagegen;

let mock;
let keyCounter = 0;
const key = (name) => `sk-${name}-${process.pid}-${++keyCounter}-0123456789`;

async function script(apiKey, steps, extra = {}) {
  const r = await fetch(`${mock.url}/__mock/script`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ key: apiKey, steps, ...extra }),
  });
  assert.equal(r.status, 200, await r.text());
}

const provider = (name, apiKey, more = {}) => ({ provider: name, apiKey, baseUrl: mock.url, ...more });

before(async () => {
  mock = await startMockServer();
});
after(async () => {
  await mock.close();
});
beforeEach(() => mock.reset());

test("exports the documented API and needs no init", () => {
  for (const name of [
    "generateImages",
    "validateApiKey",
    "createImageService",
    "OpenAIService",
    "GeminiService",
    "StabilityService",
    "MockService",
    "errorCodes",
  ]) {
    assert.equal(typeof imagegen[name], "function", name);
  }
  assert.deepEqual(errorCodes(), [
    "invalid_request", "budget_exceeded", "unsupported", "auth", "permission", "quota", "rate_limited", "content_policy",
    "not_found", "provider_error", "timeout", "network", "bad_response", "aborted",
  ]);
});

test("invalid input rejects with invalid_request naming the field, before any network call", async () => {
  const good = { prompt: "a lighthouse", providers: [provider("openai", key("never"))] };
  const cases = [
    [{ ...good, prompt: "" }, "prompt"],
    [{ ...good, prompt: "   " }, "prompt"],
    [{ ...good, prompt: 42 }, "prompt"],
    [{ providers: good.providers }, "prompt"],
    [{ ...good, count: 0 }, "count"],
    [{ ...good, count: 11 }, "count"],
    [{ ...good, count: 1.5 }, "count"],
    [{ ...good, count: "2" }, "count"],
    [{ ...good, size: "abc" }, "size"],
    [{ ...good, aspectRatio: "wide" }, "aspectRatio"],
    [{ ...good, seed: -1 }, "seed"],
    [{ ...good, outputFormat: "gif" }, "outputFormat"],
    [{ ...good, providers: [] }, "providers"],
    [{ prompt: "x" }, "providers"],
    [{ ...good, providers: [{ provider: "dalle", apiKey: "k" }] }, "providers[0].provider"],
    [{ ...good, providers: [{ provider: "openai" }] }, "providers[0].apiKey"],
    [{ ...good, providers: [{ provider: "gemini", apiKey: "  " }] }, "providers[0].apiKey"],
    [{ ...good, providers: [{ provider: "mock" }, { provider: "stability", apiKey: 7 }] }, "providers[1].apiKey"],
    [{ ...good, providers: [provider("openai", "k", { baseUrl: "http://u:p@127.0.0.1:1" })] }, "providers[0].baseUrl"],
    [{ ...good, providers: [provider("openai", "k", { baseUrl: "http://127.0.0.1:1/v1" })] }, "providers[0].baseUrl"],
    [{ ...good, providers: [{ provider: "mock", params: { failCode: "nope" } }] }, "providers[0].params.failCode"],
    [{ ...good, onEvent: 5 }, "onEvent"],
    [{ ...good, onEvent: "function" }, "onEvent"],
    [{ ...good, signal: {} }, "signal"],
    [{ ...good, timeoutMs: -1 }, "timeoutMs"],
    [{ ...good, concurrency: 0 }, "concurrency"],
    [{ ...good, fallbackOn: ["aborted"] }, "fallbackOn"],
    [{ ...good, fallbackOn: ["nope"] }, "fallbackOn[0]"],
    [{ ...good, retry: { maxAttempts: 0 } }, "retry.maxAttempts"],
  ];
  for (const [req, field] of cases) {
    const p = generateImages(req);
    assert.ok(p instanceof Promise, "never throws synchronously");
    await assert.rejects(p, (e) => {
      assert.ok(e instanceof Error);
      assert.equal(e.name, "ImageGenError");
      assert.equal(e.code, "invalid_request", `${field}: ${e.message}`);
      assert.equal(e.param, field, e.message);
      assert.ok(e.message.includes(field), e.message);
      assert.equal(e.retryable, false);
      assert.deepEqual(e.attempts, []);
      return true;
    });
  }
  for (const notAnObject of [undefined, null, "prompt", 42, [1]]) {
    await assert.rejects(generateImages(notAnObject), (e) => e.code === "invalid_request");
  }
  assert.equal(mock.requests().length, 0, "no request reached a provider");
});

test("generates through OpenAI with the documented result shape", async () => {
  const k = key("ok");
  const result = await generateImages({
    prompt: "a lighthouse",
    count: 2,
    size: "1536x1024",
    seed: 5,
    providers: [provider("openai", k)],
  });
  assert.deepEqual(Object.keys(result).sort(), ["attempts", "errors", "images", "usage", "warnings"]);
  // The mock's usage: 18 text tokens in, 1056 image tokens out per image.
  const cost = (18 * 5 + 2 * 1056 * 30) / 1e6;
  assert.ok(Math.abs(result.usage.costUsd - cost) < 1e-9, JSON.stringify(result.usage));
  assert.deepEqual(result.usage.byProvider.map((r) => [r.provider, r.model, r.images]), [["openai", "gpt-image-2", 2]]);
  assert.equal(result.images.length, 2);
  for (const img of result.images) {
    assert.equal(img.mimeType, "image/png");
    assert.equal(img.provider, "openai");
    assert.equal(img.model, "gpt-image-2");
    assert.match(img.base64, /^iVBORw0KGgo/);
  }
  assert.equal(result.attempts.length, 1);
  const a = result.attempts[0];
  assert.equal(a.outcome, "ok");
  assert.equal(a.status, 200);
  assert.equal(a.images, 2);
  assert.equal(a.part, 0);
  assert.equal(a.attempt, 1);
  assert.ok(a.startedAtMs >= 0 && a.durationMs >= 0);
  assert.deepEqual(result.errors, []);
  assert.deepEqual(result.warnings.map((w) => [w.provider, w.code]), [["openai", "unsupported_option"]]);
  const [sent] = mock.requests(k);
  assert.equal(sent.headers.authorization, `Bearer ${k}`);
  assert.deepEqual(sent.body, { model: "gpt-image-2", prompt: "a lighthouse", n: 2, size: "1536x1024", quality: "medium" });
});

test("progress events: per part attempt_start, attempt_end, then retry/fallback/image", async () => {
  const k1 = key("primary");
  const k2 = key("fallback");
  await script(k1, [], { after: { fixture: "gemini/unavailable" } });
  await script(k2, [], { after: { fixture: "openai/invalid_api_key" } });
  const events = [];
  const result = await generateImages({
    prompt: "a lighthouse",
    count: 2,
    concurrency: 1,
    retry: { maxAttempts: 2, baseDelayMs: 5 },
    providers: [provider("gemini", k1), provider("openai", k2), { provider: "mock" }],
    onEvent: (e) => events.push(e),
  });
  assert.equal(result.images.length, 2);
  const byPart = new Map();
  for (const e of events) {
    if (!byPart.has(e.part)) byPart.set(e.part, []);
    byPart.get(e.part).push(e);
  }
  for (const [part, list] of byPart) {
    // Every attempt_start is directly followed (within the part) by its attempt_end.
    for (let i = 0; i < list.length; i++) {
      if (list[i].type === "attempt_start") {
        assert.equal(list[i + 1]?.type, "attempt_end", `part ${part} at ${i}`);
        assert.equal(list[i + 1].attempt, list[i].attempt);
      }
      if (list[i].type === "attempt_end" && list[i].outcome !== "ok") {
        assert.ok(["retry_scheduled", "fallback"].includes(list[i + 1]?.type), `part ${part}: ${list[i + 1]?.type}`);
      }
      if (list[i].type === "attempt_end" && list[i].outcome === "ok") {
        assert.equal(list[i + 1]?.type, "image");
      }
    }
  }
  const part0 = byPart.get(0).map((e) => e.type === "attempt_end" ? `end:${e.provider}:${e.outcome}` : e.type === "fallback" ? `fallback:${e.from}>${e.to}:${e.code}` : e.type === "retry_scheduled" ? `retry:${e.code}` : e.type);
  assert.deepEqual(part0, [
    "attempt_start", "end:gemini:provider_error", "retry:provider_error",
    "attempt_start", "end:gemini:provider_error", "fallback:gemini>openai:provider_error",
    "attempt_start", "end:openai:auth", "fallback:openai>mock:auth",
    "attempt_start", "end:mock:ok", "image",
  ]);
  const images = events.filter((e) => e.type === "image");
  assert.deepEqual(images.map((e) => e.index), [0, 1]);
  assert.equal(images[0].image.base64, result.images[0].base64);
  // A throwing handler does not break the call.
  const r = await generateImages({ prompt: "x", providers: [{ provider: "mock" }], onEvent: () => { throw new Error("boom"); } });
  assert.equal(r.images.length, 1);
});

test("total failure rejects with ImageGenError: last error, all attempts, no key in the message", async () => {
  const k1 = key("quota");
  const k2 = key("auth");
  await script(k1, [{ fixture: "openai/insufficient_quota" }]);
  await script(k2, [{ fixture: "stability/unauthorized" }]);
  const err = await generateImages({
    prompt: "x",
    providers: [provider("openai", k1), provider("stability", k2)],
  }).catch((e) => e);
  assert.ok(err instanceof Error);
  assert.equal(err.name, "ImageGenError");
  assert.equal(err.code, "auth");
  assert.equal(err.provider, "stability");
  assert.equal(err.status, 401);
  assert.equal(err.retryable, false);
  assert.deepEqual(err.attempts.map((a) => `${a.provider}:${a.outcome}:${a.status}`), ["openai:quota:429", "stability:auth:401"]);
  assert.deepEqual(err.images, []);
  for (const k of [k1, k2]) assert.ok(!err.message.includes(k) && !err.stack.includes(k));
  assert.ok(!JSON.stringify(err.attempts).includes(k1));
});

test("partial results keep images and report the failed part as plain JSON", async () => {
  const k = key("partial");
  await script(k, [{ success: true }, { fixture: "gemini/image_safety" }, { success: true }]);
  const result = await generateImages({ prompt: "x", count: 3, concurrency: 1, providers: [provider("gemini", k)] });
  assert.equal(result.images.length, 2);
  assert.equal(result.errors.length, 1);
  const e = JSON.parse(JSON.stringify(result.errors[0]));
  assert.equal(e.name, "ImageGenError");
  assert.equal(e.code, "content_policy");
  assert.equal(e.part, 1);
  assert.equal(e.provider, "gemini");
  assert.equal(e.retryable, false);
  assert.deepEqual(e.attempts.map((a) => a.outcome), ["content_policy"]);
});

test("abort rejects at once and keeps finished images on the error", async () => {
  const k = key("abort");
  await script(k, [{ success: true }, { delayMs: 10_000 }]);
  const controller = new AbortController();
  const started = Date.now();
  const p = generateImages({
    prompt: "x",
    count: 2,
    providers: [provider("stability", k)],
    signal: controller.signal,
    onEvent: (e) => { if (e.type === "image") setTimeout(() => controller.abort(), 50); },
  });
  const err = await p.catch((e) => e);
  assert.ok(Date.now() - started < 5000);
  assert.equal(err.code, "aborted");
  assert.equal(err.images.length, 1);
  assert.deepEqual(err.attempts.map((a) => a.outcome).sort(), ["aborted", "ok"]);
  // An already-aborted signal starts nothing.
  mock.reset();
  const err2 = await generateImages({ prompt: "x", providers: [provider("openai", key("pre"))], signal: AbortSignal.abort() }).catch((e) => e);
  assert.equal(err2.code, "aborted");
  assert.equal(mock.requests().length, 0);
});

test("deadline cancels requests in flight and reports timeout", async () => {
  const k = key("deadline");
  await script(k, [{ delayMs: 10_000 }]);
  const started = Date.now();
  const err = await generateImages({ prompt: "x", deadlineMs: 300, providers: [provider("openai", k)] }).catch((e) => e);
  assert.ok(Date.now() - started < 3000);
  assert.equal(err.code, "timeout");
  assert.match(err.message, /deadline/);
  assert.equal(err.retryable, true);
  assert.deepEqual(err.attempts.map((a) => a.outcome), ["timeout"]);
});

test("seed-compatible services return data URLs and validate keys", async () => {
  for (const [Cls, name] of [[OpenAIService, "openai"], [GeminiService, "gemini"], [StabilityService, "stability"]]) {
    const k = key(name);
    const service = new Cls(k, { baseUrl: mock.url });
    assert.equal(service.provider, name);
    const urls = await service.generateImages("a cat", { count: 2, size: "1024x1024" });
    assert.equal(urls.length, 2, name);
    for (const u of urls) assert.match(u, /^data:image\/png;base64,iVBORw0KGgo/);
    assert.equal(await service.validateApiKey(key("good")), true, name);
    assert.equal(await service.validateApiKey("invalid-key-123456"), false, name);
    assert.equal(await service.validateApiKey(""), false, name);
  }
  const stability = createImageService("stability", key("factory"), { baseUrl: mock.url });
  assert.ok(stability instanceof StabilityService);
  const k = key("params");
  await new StabilityService(k, { baseUrl: mock.url }).generateImages("a cat", { additionalParams: { style_preset: "anime" } });
  assert.equal(mock.requests(k)[0].body.style_preset, "anime");
  assert.ok(createImageService("mock", "") instanceof MockService);
  assert.equal((await new MockService("").generateImages("hi"))[0].slice(0, 26), "data:image/svg+xml;base64,");
  // Unsupported provider: ImageGenError, thrown synchronously, naming it.
  assert.throws(() => createImageService("dalle", "k"), (e) => e.name === "ImageGenError" && e.code === "invalid_request" && e.message.includes("dalle"));
  // Service errors are the same typed errors.
  const bad = await new OpenAIService("invalid-key-0000", { baseUrl: mock.url, retry: { maxAttempts: 1 } }).generateImages("x").catch((e) => e);
  assert.equal(bad.code, "auth");
});

test("validateApiKey: true, false on auth/permission, rejects otherwise", async () => {
  assert.equal(await validateApiKey("openai", key("v"), { baseUrl: mock.url }), true);
  assert.equal(await validateApiKey("gemini", "invalid-abc-123456", { baseUrl: mock.url }), false);
  assert.equal(await validateApiKey("stability", "invalid-abc-123456", { baseUrl: mock.url }), false);
  const k = key("outage");
  await script(k, [{ fixture: "gemini/unavailable" }]);
  await assert.rejects(validateApiKey("gemini", k, { baseUrl: mock.url }), (e) => e.code === "provider_error" && e.retryable === true);
  await assert.rejects(validateApiKey("openai", key("x"), { baseUrl: "http://127.0.0.1:9" }), (e) => e.code === "network");
  assert.equal(await validateApiKey("mock", "anything"), true);
  assert.equal(await validateApiKey("mock", ""), false);
  await assert.rejects(validateApiKey("dalle", "k"), (e) => e.code === "invalid_request" && e.param === "provider");
});

test("mock provider: SVG showing the prompt, fault injection, no network", async () => {
  const result = await generateImages({
    prompt: "a <b>red</b> fox",
    count: 3,
    seed: 7,
    aspectRatio: "16:9",
    retry: { baseDelayMs: 1 },
    providers: [{ provider: "mock", params: { failFirst: 1, maxImagesPerCall: 2 } }],
  });
  assert.equal(result.images.length, 3);
  const svg = Buffer.from(result.images[0].base64, "base64").toString("utf8");
  assert.match(svg, /^<svg /);
  assert.ok(svg.includes("a &lt;b&gt;red&lt;/b&gt; fox"));
  assert.ok(svg.includes('width="1024" height="576"'));
  assert.deepEqual(result.images.map((i) => i.seed).sort(), [7, 7, 8]);
  assert.equal(result.attempts[0].outcome, "provider_error");
  assert.equal(mock.requests().length, 0);
});
