// Tests of the mock provider server itself: node --test tests/mock-server/server.test.mjs
// Built-ins only (node:test, node:assert, global fetch/FormData).

import { test, describe, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  startMockServer,
  loadFixtures,
  parseMultipart,
  mulberry32,
  crc32,
  makePaddedPngBase64,
  PNG_1X1_BASE64,
  FIXTURE_DIR,
} from "./server.mjs";

const SERVER_PATH = fileURLToPath(new URL("./server.mjs", import.meta.url));
const ERROR_CODES = [
  "invalid_request", "unsupported", "auth", "permission", "quota", "rate_limited", "content_policy",
  "not_found", "provider_error", "timeout", "network", "bad_response", "aborted",
];

let mock;
before(async () => {
  mock = await startMockServer();
});
after(async () => {
  await mock.close();
});
beforeEach(() => mock.reset());

// ---------- helpers ----------

async function call(route, { method = "GET", headers = {}, body } = {}) {
  const res = await fetch(mock.url + route, { method, headers, body });
  const bytes = Buffer.from(await res.arrayBuffer());
  let json;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, bytes, text: bytes.toString("utf8"), json };
}

function openai(body, key = "sk-test") {
  const headers = { "content-type": "application/json" };
  if (key) headers.authorization = `Bearer ${key}`;
  return call("/v1/images/generations", { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });
}

function gemini(model, body, key = "AIza-test") {
  const headers = { "content-type": "application/json" };
  if (key) headers["x-goog-api-key"] = key;
  return call(`/v1beta/models/${model}:generateContent`, { method: "POST", headers, body: JSON.stringify(body) });
}

const geminiBody = (imageConfig, extra = {}) => ({
  contents: [{ role: "user", parts: [{ text: "a lighthouse at dusk" }] }],
  generationConfig: { responseModalities: ["IMAGE"], ...(imageConfig ? { imageConfig } : {}), ...extra },
});

function stability(endpoint, fields, { key = "sk-stab", accept = "image/*" } = {}) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  const headers = { accept };
  if (key) headers.authorization = `Bearer ${key}`;
  return call(`/v2beta/stable-image/generate/${endpoint}`, { method: "POST", headers, body: form });
}

async function script(definition) {
  const res = await call("/__mock/script", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(definition),
  });
  assert.equal(res.status, 200, res.text);
}

// ---------- fixtures ----------

describe("fixtures", () => {
  const expected = {
    openai: [
      "success", "success_two", "invalid_api_key", "org_not_verified", "insufficient_quota", "rate_limit",
      "rate_limit_retry_after_ms", "billing_hard_limit", "moderation_blocked", "content_policy_violation",
      "invalid_size", "unknown_parameter", "n_above_max", "model_not_found", "server_error", "overloaded",
      "html_502", "empty_data", "malformed_json", "models_list",
    ],
    gemini: [
      "success", "thought_parts", "api_key_invalid", "unregistered_caller", "service_disabled", "unknown_field",
      "model_not_found", "rate_limited", "quota_per_day", "quota_limit_zero", "bare_429", "internal",
      "unavailable", "deadline_exceeded", "failed_precondition", "image_safety", "prompt_blocked", "no_image",
      "text_only_stop", "models_list",
    ],
    stability: [
      "success_json", "success_png", "content_filtered", "bad_request", "unauthorized", "payment_required",
      "content_moderation", "permission_denied", "not_found", "payload_too_large", "invalid_language",
      "rate_limit", "internal_error", "balance", "unauthorized_v1",
    ],
  };

  test("every required fixture exists", () => {
    for (const [provider, names] of Object.entries(expected)) {
      for (const name of names) {
        assert.ok(fs.existsSync(path.join(FIXTURE_DIR, provider, `${name}.json`)), `${provider}/${name}.json`);
      }
    }
  });

  test("every fixture file parses and is well-formed", () => {
    const providers = fs.readdirSync(FIXTURE_DIR, { withFileTypes: true }).filter((e) => e.isDirectory());
    for (const { name: provider } of providers) {
      for (const file of fs.readdirSync(path.join(FIXTURE_DIR, provider)).filter((f) => f.endsWith(".json"))) {
        const where = `${provider}/${file}`;
        const fixture = JSON.parse(fs.readFileSync(path.join(FIXTURE_DIR, provider, file), "utf8"));
        assert.equal(typeof fixture.description, "string", where);
        assert.ok(Number.isInteger(fixture.status) && fixture.status >= 100 && fixture.status < 600, where);
        const bodies = ["body", "bodyText", "bodyBase64"].filter((k) => fixture[k] !== undefined);
        assert.equal(bodies.length, 1, `${where}: exactly one of body/bodyText/bodyBase64`);
        for (const name of Object.keys(fixture.headers ?? {})) assert.equal(name, name.toLowerCase(), where);
        assert.ok(fixture.expect && typeof fixture.expect === "object", `${where}: expect`);
        const e = fixture.expect;
        if ("code" in e) {
          assert.ok(ERROR_CODES.includes(e.code), `${where}: code ${e.code}`);
          assert.ok(fixture.status >= 400 || ["content_policy", "bad_response"].includes(e.code), where);
        } else if ("images" in e) {
          assert.ok(e.images >= 1 && /^image\//.test(e.mimeType), where);
        } else {
          assert.deepEqual(e, { valid: true }, where);
        }
      }
    }
  });

  test("images in fixtures are the shared 1x1 PNG", () => {
    const fixtures = loadFixtures();
    for (const [name, fixture] of fixtures) {
      const text = JSON.stringify(fixture.body ?? "");
      for (const match of text.matchAll(/"(?:b64_json|data|image)":"([^"]+)"/g)) {
        if (match[1].startsWith("iVBOR")) assert.equal(match[1], PNG_1X1_BASE64, name);
      }
    }
    assert.equal(fixtures.get("stability/success_png").bodyBase64, PNG_1X1_BASE64);
  });
});

// ---------- OpenAI ----------

describe("openai", () => {
  test("success echoes n and output_format", async () => {
    const res = await openai({ model: "gpt-image-1.5", prompt: "a cat", n: 2, output_format: "webp", size: "1536x1024" });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^application\/json/);
    assert.equal(res.json.data.length, 2);
    assert.equal(res.json.output_format, "webp");
    assert.equal(res.json.size, "1536x1024");
    for (const item of res.json.data) assert.equal(item.b64_json, PNG_1X1_BASE64);
    assert.ok(Number.isInteger(res.json.created));
  });

  test("defaults: one png image", async () => {
    const res = await openai({ model: "gpt-image-1.5", prompt: "a cat" });
    assert.equal(res.status, 200);
    assert.equal(res.json.data.length, 1);
    assert.equal(res.json.output_format, "png");
  });

  test("GET /v1/models validates the key", async () => {
    const ok = await call("/v1/models", { headers: { authorization: "Bearer sk-good" } });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.object, "list");
    const bad = await call("/v1/models", { headers: { authorization: "Bearer invalid-key" } });
    assert.equal(bad.status, 401);
    assert.equal(bad.json.error.code, "invalid_api_key");
  });

  test("preset models reject other sizes with the invalid_size shape", async () => {
    const res = await openai({ model: "gpt-image-1-mini", prompt: "x", size: "512x512" });
    assert.equal(res.status, 400);
    assert.equal(res.json.error.code, "invalid_value");
    assert.equal(res.json.error.param, "size");
    assert.match(res.json.error.message, /'512x512'/);
  });

  test("gpt-image-2 arbitrary size rules", async () => {
    const cases = {
      auto: 200, "2048x1152": 200, "1024x1024": 200, "3840x2160": 200,
      "1000x1000": 400, // not multiples of 16
      "4096x2048": 400, // edge > 3840
      "3840x1024": 400, // ratio > 3
      "640x640": 400, // fewer than 655360 pixels
      "big": 400,
    };
    for (const [size, status] of Object.entries(cases)) {
      const res = await openai({ model: "gpt-image-2", prompt: "x", size });
      assert.equal(res.status, status, `size ${size}: ${res.text}`);
      if (status === 400) assert.equal(res.json.error.param, "size");
    }
  });

  test("n, response_format, unknown fields, unknown models", async () => {
    const n = await openai({ model: "gpt-image-1.5", prompt: "x", n: 11 });
    assert.equal(n.status, 400);
    assert.equal(n.json.error.code, "integer_above_max_value");
    assert.equal(n.json.error.param, "n");

    const rf = await openai({ model: "gpt-image-1.5", prompt: "x", response_format: "b64_json" });
    assert.equal(rf.status, 400);
    assert.deepEqual(rf.json, loadFixtures().get("openai/unknown_parameter").body);

    const seed = await openai({ model: "gpt-image-1.5", prompt: "x", seed: 3 });
    assert.equal(seed.status, 400);
    assert.equal(seed.json.error.code, "unknown_parameter");
    assert.equal(seed.json.error.param, "seed");

    for (const model of ["dall-e-3", "gpt-image-2.5", "nonsense"]) {
      const res = await openai({ model, prompt: "x" });
      assert.equal(res.status, 404, model);
      assert.equal(res.json.error.code, "model_not_found");
      assert.match(res.json.error.message, new RegExp(model.replace(".", "\\.")));
    }
    const flare = await openai({ model: "gpt-image-2.5-flare", prompt: "x", quality: "xhigh", size: "1536x864" });
    assert.equal(flare.status, 200, flare.text);
  });

  test("missing prompt/model, bad JSON and wrong content type are 400 envelopes", async () => {
    for (const body of [{ model: "gpt-image-1.5" }, { model: "gpt-image-1.5", prompt: "  " }, { prompt: "x" }, "{not json", "[]"]) {
      const res = await openai(body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.deepEqual(Object.keys(res.json.error).sort(), ["code", "message", "param", "type"]);
    }
    const text = await call("/v1/images/generations", {
      method: "POST", headers: { authorization: "Bearer k", "content-type": "text/plain" }, body: "hi",
    });
    assert.equal(text.status, 400);
  });
});

// ---------- Gemini ----------

describe("gemini", () => {
  test("success: exactly one image part", async () => {
    const res = await gemini("gemini-2.5-flash-image", geminiBody({ aspectRatio: "16:9" }));
    assert.equal(res.status, 200, res.text);
    const parts = res.json.candidates[0].content.parts;
    assert.equal(parts.length, 1);
    assert.deepEqual(parts[0].inlineData, { mimeType: "image/png", data: PNG_1X1_BASE64 });
    assert.equal(res.json.candidates[0].finishReason, "STOP");
    assert.equal(res.json.modelVersion, "gemini-2.5-flash-image");
  });

  test("TEXT+IMAGE adds a caption before the one image part", async () => {
    const res = await gemini("gemini-3-pro-image", geminiBody(null, { responseModalities: ["TEXT", "IMAGE"] }));
    const parts = res.json.candidates[0].content.parts;
    assert.equal(parts.filter((p) => p.inlineData).length, 1);
    assert.ok(parts[0].text);
  });

  test("GET /v1beta/models", async () => {
    const res = await call("/v1beta/models?pageSize=50", { headers: { "x-goog-api-key": "AIza-ok" } });
    assert.equal(res.status, 200);
    assert.ok(Array.isArray(res.json.models));
  });

  test("aspect ratio lists per model", async () => {
    assert.equal((await gemini("gemini-3.1-flash-image", geminiBody({ aspectRatio: "1:8" }))).status, 200);
    const bad = await gemini("gemini-2.5-flash-image", geminiBody({ aspectRatio: "1:8" }));
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.status, "INVALID_ARGUMENT");
    assert.equal((await gemini("gemini-3-pro-image", geminiBody({ aspectRatio: "4:1" }))).status, 400);
  });

  test("imageSize: uppercase K, per model, and none on 2.5 Flash", async () => {
    assert.equal((await gemini("gemini-3.1-flash-image", geminiBody({ imageSize: "512" }))).status, 200);
    assert.equal((await gemini("gemini-3-pro-image", geminiBody({ imageSize: "4K" }))).status, 200);
    assert.equal((await gemini("gemini-3-pro-image", geminiBody({ imageSize: "512" }))).status, 400);
    const lower = await gemini("gemini-3.1-flash-image", geminiBody({ imageSize: "1k" }));
    assert.equal(lower.status, 400);
    const flash = await gemini("gemini-2.5-flash-image", geminiBody({ imageSize: "1K" }));
    assert.equal(flash.status, 400);
    assert.equal(flash.json.error.status, "INVALID_ARGUMENT");
    assert.match(flash.json.error.message, /Image size is not supported/);
  });

  test("snake_case proto-JSON is accepted; Vertex-only and unknown fields are not", async () => {
    const snake = await gemini("gemini-3-pro-image", {
      contents: [{ parts: [{ text: "x" }] }],
      generation_config: { response_modalities: ["IMAGE"], image_config: { aspect_ratio: "3:2", image_size: "2K" } },
    });
    assert.equal(snake.status, 200, snake.text);
    const vertex = await gemini("gemini-3-pro-image", geminiBody({ outputMimeType: "image/jpeg" }));
    assert.equal(vertex.status, 400);
    assert.match(vertex.json.error.message, /Unknown name "outputMimeType"/);
    const top = await gemini("gemini-3-pro-image", { ...geminiBody(), n: 2 });
    assert.equal(top.status, 400);
  });

  test("retired and unknown models are 404 NOT_FOUND", async () => {
    for (const model of ["gemini-3-pro-image-preview", "imagen-4.0-generate-001", "gemini-9"]) {
      const res = await gemini(model, geminiBody());
      assert.equal(res.status, 404, model);
      assert.equal(res.json.error.status, "NOT_FOUND");
      assert.match(res.json.error.message, new RegExp(`models/${model.replace(/\./g, "\\.")}`));
    }
  });

  test("missing prompt text is 400", async () => {
    const res = await gemini("gemini-2.5-flash-image", { contents: [] });
    assert.equal(res.status, 400);
    assert.equal(res.json.error.code, 400);
  });

  test("responseModalities without IMAGE yields a text-only answer", async () => {
    const res = await gemini("gemini-2.5-flash-image", geminiBody(null, { responseModalities: ["TEXT"] }));
    assert.equal(res.status, 200);
    assert.ok(res.json.candidates[0].content.parts.every((p) => !p.inlineData));
  });
});

// ---------- Stability ----------

describe("stability", () => {
  test("Accept: application/json gives the JSON form and echoes the seed", async () => {
    const res = await stability("core", { prompt: "a fox", seed: "1234", aspect_ratio: "16:9" }, { accept: "application/json" });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get("content-type"), "application/json; type=image/png");
    assert.deepEqual(res.json, { image: PNG_1X1_BASE64, finish_reason: "SUCCESS", seed: 1234 });
  });

  test("Accept: image/* gives raw bytes with finish-reason and seed headers", async () => {
    const res = await stability("ultra", { prompt: "a fox", output_format: "jpeg", seed: "0" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "image/jpeg");
    assert.equal(res.headers.get("finish-reason"), "SUCCESS");
    assert.equal(res.headers.get("seed"), "742048682");
    assert.deepEqual(res.bytes, Buffer.from(PNG_1X1_BASE64, "base64"));
  });

  test("validation: aspect_ratio enum, prompt, output_format, sd3 model, JSON body", async () => {
    const ratio = await stability("core", { prompt: "x", aspect_ratio: "4:3" });
    assert.equal(ratio.status, 400);
    assert.equal(ratio.json.name, "bad_request");
    assert.match(ratio.json.errors[0], /received '4:3'/);
    assert.match(ratio.json.id, /^[0-9a-f]{32}$/);
    assert.equal((await stability("core", { prompt: "" })).status, 400);
    assert.equal((await stability("core", { prompt: "x", output_format: "gif" })).status, 400);
    assert.equal((await stability("sd3", { prompt: "x", model: "sd3-turbo" })).status, 400);
    assert.equal((await stability("sd3", { prompt: "x", model: "sd3-large" })).status, 200, "SD3.0 ids are re-routed to 3.5");
    assert.equal((await stability("sd3", { prompt: "x", model: "sd3.5-flash" })).status, 200);
    // Unknown form fields are ignored like the real API.
    assert.equal((await stability("core", { prompt: "x", steps: "30", strength: "0.4" })).status, 200);

    const json = await call("/v2beta/stable-image/generate/core", {
      method: "POST",
      headers: { authorization: "Bearer sk", "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ prompt: "x" }),
    });
    assert.equal(json.status, 400);
    assert.equal(json.json.name, "bad_request");
  });

  test("balance and account", async () => {
    const balance = await call("/v1/user/balance", { headers: { authorization: "Bearer sk" } });
    assert.deepEqual(balance.json, { credits: 412.5 });
    const account = await call("/v1/user/account", { headers: { authorization: "Bearer sk" } });
    assert.equal(account.status, 200);
    assert.equal(account.json.id, "user-1234");
  });

  test("multipart fields are logged, files summarised", async () => {
    const form = new FormData();
    form.append("prompt", "a fox, ünïcode");
    form.append("image", new Blob([Buffer.alloc(10, 1)], { type: "image/png" }), "init.png");
    form.append("none", "");
    await call("/v2beta/stable-image/generate/core", { method: "POST", headers: { authorization: "Bearer sk-log" }, body: form });
    const [entry] = mock.requests("sk-log");
    assert.equal(entry.bodyKind, "multipart");
    assert.deepEqual(entry.body, {
      prompt: "a fox, ünïcode",
      image: { filename: "init.png", contentType: "image/png", size: 10 },
      none: "",
    });
  });
});

// ---------- auth ----------

describe("auth per provider", () => {
  const fixtures = loadFixtures();
  const cases = [
    ["openai missing", () => openai({ model: "gpt-image-1.5", prompt: "x" }, null), 401, "openai/invalid_api_key"],
    ["openai invalid", () => openai({ model: "gpt-image-1.5", prompt: "x" }, "invalid-123"), 401, "openai/invalid_api_key"],
    ["gemini missing", () => gemini("gemini-2.5-flash-image", geminiBody(), null), 403, "gemini/unregistered_caller"],
    ["gemini invalid", () => gemini("gemini-2.5-flash-image", geminiBody(), "invalidKey"), 400, "gemini/api_key_invalid"],
    ["gemini bearer instead of x-goog-api-key", () => call("/v1beta/models", { headers: { authorization: "Bearer AIza" } }), 403, "gemini/unregistered_caller"],
    ["stability missing", () => stability("core", { prompt: "x" }, { key: null }), 401, "stability/unauthorized"],
    ["stability invalid", () => stability("core", { prompt: "x" }, { key: "invalid" }), 401, "stability/unauthorized"],
    ["stability v1 missing", () => call("/v1/user/balance"), 401, "stability/unauthorized_v1"],
  ];
  for (const [name, send, status, fixture] of cases) {
    test(name, async () => {
      const res = await send();
      assert.equal(res.status, status);
      assert.deepEqual(res.json, fixtures.get(fixture).body);
    });
  }

  test("auth is checked before validation", async () => {
    const res = await openai({ model: "dall-e-3", prompt: "" }, "invalid");
    assert.equal(res.status, 401);
  });
});

// ---------- scripts ----------

describe("scripted faults", () => {
  test("fixture, delay, drop, malformed, noImage, then after", async () => {
    await script({
      key: "sk-script",
      steps: [
        { fixture: "openai/rate_limit" },
        { delayMs: 150, fixture: "openai/rate_limit_retry_after_ms" },
        { drop: true },
        { malformed: true },
        { noImage: true },
        { status: 503, headers: { "retry-after": "3" }, bodyText: "Slow Down" },
        { delayMs: 20 },
      ],
      after: { fixture: "openai/server_error.json" },
      ignoredField: true,
    });
    const body = { model: "gpt-image-1.5", prompt: "x" };
    const fixtures = loadFixtures();

    const first = await openai(body, "sk-script");
    assert.equal(first.status, 429);
    assert.deepEqual(first.json, fixtures.get("openai/rate_limit").body);

    const started = Date.now();
    const second = await openai(body, "sk-script");
    assert.ok(Date.now() - started >= 140, "delay applied");
    assert.equal(second.status, 429);
    assert.equal(second.headers.get("retry-after-ms"), "1500");
    assert.equal(second.headers.get("retry-after"), "2");

    await assert.rejects(openai(body, "sk-script"), TypeError, "drop resets the connection");

    const malformed = await openai(body, "sk-script");
    assert.equal(malformed.status, 200);
    assert.match(malformed.headers.get("content-type"), /application\/json/);
    assert.equal(malformed.json, undefined, "body must not parse");
    assert.ok(malformed.text.startsWith('{"created":'));

    const noImage = await openai(body, "sk-script");
    assert.equal(noImage.status, 200);
    assert.deepEqual(noImage.json.data, []);

    const literal = await openai(body, "sk-script");
    assert.equal(literal.status, 503);
    assert.equal(literal.text, "Slow Down");
    assert.equal(literal.headers.get("retry-after"), "3");

    const delayedSuccess = await openai(body, "sk-script");
    assert.equal(delayedSuccess.status, 200);
    assert.equal(delayedSuccess.json.data.length, 1);

    for (let i = 0; i < 2; i++) assert.equal((await openai(body, "sk-script")).status, 500, "after applies");
    assert.equal((await openai(body, "sk-other")).status, 200, "other keys unaffected");
  });

  test("steps apply to any provider route of that key; default after is success", async () => {
    await script({ key: "shared", steps: [{ fixture: "gemini/unavailable" }, { noImage: true }] });
    const list = await call("/v1beta/models", { headers: { "x-goog-api-key": "shared" } });
    assert.equal(list.status, 503);
    const noImage = await gemini("gemini-2.5-flash-image", geminiBody(), "shared");
    assert.deepEqual(noImage.json, loadFixtures().get("gemini/text_only_stop").body);
    assert.equal((await gemini("gemini-2.5-flash-image", geminiBody(), "shared")).status, 200);
  });

  test("stability noImage and malformed", async () => {
    await script({ key: "sk-s", steps: [{ noImage: true }, { malformed: true }] });
    const noImage = await stability("core", { prompt: "x", seed: "9" }, { key: "sk-s" });
    assert.deepEqual(noImage.json, { finish_reason: "SUCCESS", seed: 9 });
    const malformed = await stability("core", { prompt: "x" }, { key: "sk-s" });
    assert.equal(malformed.status, 200);
    assert.equal(malformed.json, undefined);
  });

  test("dropAfterHeaders: 200 headers arrive, then the body is cut", async () => {
    await script({ key: "sk-dah", steps: [{ dropAfterHeaders: true }] });
    const res = await fetch(`${mock.url}/v1/images/generations`, {
      method: "POST",
      headers: { authorization: "Bearer sk-dah", "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-image-1.5", prompt: "x" }),
    });
    assert.equal(res.status, 200);
    await assert.rejects(res.text());
  });

  test("a pending delay does not block other requests", async () => {
    await script({ key: "slow", steps: [{ delayMs: 400 }] });
    const finished = [];
    const slow = openai({ model: "gpt-image-1.5", prompt: "x" }, "slow").then(() => finished.push("slow"));
    await new Promise((r) => setTimeout(r, 20));
    const fast = openai({ model: "gpt-image-1.5", prompt: "x" }, "fast").then(() => finished.push("fast"));
    await Promise.all([slow, fast]);
    assert.deepEqual(finished, ["fast", "slow"]);
  });

  test("invalid scripts are refused", async () => {
    for (const bad of [{ steps: [] }, { key: "k", steps: [{ fixture: "openai/nope" }] }, { key: "k", steps: {} }, { key: "k", faultRate: 2 }]) {
      const res = await call("/__mock/script", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(bad) });
      assert.equal(res.status, 400, JSON.stringify(bad));
      assert.equal(res.json.error.type, "mock_error");
    }
  });

  test("reset clears scripts", async () => {
    await script({ key: "sk-r", after: { fixture: "openai/overloaded" } });
    assert.equal((await openai({ model: "gpt-image-1.5", prompt: "x" }, "sk-r")).status, 503);
    await call("/__mock/reset", { method: "POST" });
    assert.equal((await openai({ model: "gpt-image-1.5", prompt: "x" }, "sk-r")).status, 200);
  });

  test("faultRate is deterministic for a seed", async () => {
    const run = async () => {
      await script({ key: "flaky", faultRate: 0.5, fault: { fixture: "openai/overloaded" }, seed: 42 });
      const statuses = [];
      for (let i = 0; i < 20; i++) statuses.push((await openai({ model: "gpt-image-1.5", prompt: "x" }, "flaky")).status);
      return statuses;
    };
    const first = await run();
    const second = await run(); // posting the script again restarts its PRNG
    assert.deepEqual(first, second);
    const random = mulberry32(42);
    assert.deepEqual(first, Array.from({ length: 20 }, () => (random() < 0.5 ? 503 : 200)));
    assert.ok(first.includes(200) && first.includes(503));
  });
});

// ---------- log, CORS, robustness ----------

describe("request log", () => {
  test("records method, path, query, headers and parsed body; filters by key", async () => {
    await openai({ model: "gpt-image-1.5", prompt: "logged" }, "sk-a");
    await call("/v1beta/models?pageSize=50", { headers: { "x-goog-api-key": "g-b" } });
    const all = await call("/__mock/requests");
    assert.equal(all.json.requests.length, 2);
    const onlyB = await call("/__mock/requests?key=g-b");
    assert.equal(onlyB.json.requests.length, 1);
    const [entry] = onlyB.json.requests;
    assert.equal(entry.method, "GET");
    assert.equal(entry.path, "/v1beta/models");
    assert.deepEqual(entry.query, { pageSize: "50" });
    assert.equal(entry.headers["x-goog-api-key"], "g-b");
    assert.equal(entry.provider, "gemini");
    const [a] = mock.requests("sk-a");
    assert.deepEqual(a.body, { model: "gpt-image-1.5", prompt: "logged" });
    await call("/__mock/reset", { method: "POST" });
    assert.equal((await call("/__mock/requests")).json.requests.length, 0);
  });
});

describe("CORS", () => {
  test("preflight", async () => {
    const res = await call("/v1/images/generations", {
      method: "OPTIONS",
      headers: { origin: "http://localhost:3000", "access-control-request-method": "POST" },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    assert.equal(res.headers.get("access-control-allow-methods"), "GET, POST, OPTIONS");
    assert.match(res.headers.get("access-control-allow-headers"), /x-goog-api-key/);
    assert.match(res.headers.get("access-control-allow-headers"), /stability-client-version/);
    assert.equal(res.headers.get("access-control-max-age"), "600");
    assert.equal(mock.requests().length, 0, "preflights are not logged");
  });

  test("every response carries CORS headers, errors and fixtures included", async () => {
    await script({ key: "cors", steps: [{ fixture: "openai/rate_limit_retry_after_ms" }] });
    for (const res of [
      await openai({ model: "gpt-image-1.5", prompt: "x" }, "cors"),
      await openai({ model: "gpt-image-1.5", prompt: "x" }, null),
      await call("/nope"),
    ]) {
      assert.equal(res.headers.get("access-control-allow-origin"), "*");
      assert.equal(
        res.headers.get("access-control-expose-headers"),
        "retry-after, retry-after-ms, x-should-retry, finish-reason, seed, x-request-id, content-type",
      );
      assert.ok(res.headers.get("x-request-id"));
    }
  });
});

describe("robustness", () => {
  test("unknown route 404 and wrong method 405, both JSON", async () => {
    const unknown = await call("/v1/generation/stable-diffusion-xl-1024-v1-0/text-to-image", { method: "POST" });
    assert.equal(unknown.status, 404);
    assert.ok(unknown.json.error.message);
    const method = await call("/v1/images/generations");
    assert.equal(method.status, 405);
    assert.ok(method.json.error);
  });

  test("20 MB bodies are handled; Stability enforces its 10 MiB limit", async () => {
    const huge = JSON.stringify({ model: "gpt-image-1.5", prompt: "x".repeat(20 * 1024 * 1024) });
    const res = await openai(huge);
    assert.equal(res.status, 400);
    assert.equal(res.json.error.param, "prompt");
    const big = await stability("core", { prompt: "x", image: new Blob([Buffer.alloc(11 * 1024 * 1024)]) });
    assert.equal(big.status, 413);
    assert.equal(big.json.name, "payload_too_large");
    assert.equal((await openai({ model: "gpt-image-1.5", prompt: "still alive" })).status, 200);
  });

  test("garbage multipart is a 400, not a crash", async () => {
    const res = await call("/v2beta/stable-image/generate/core", {
      method: "POST",
      headers: { authorization: "Bearer sk", "content-type": "multipart/form-data; boundary=xyz" },
      body: "--xyz\r\nno end",
    });
    assert.equal(res.status, 400);
    assert.equal(res.json.name, "bad_request");
  });
});

// ---------- units ----------

describe("parseMultipart", () => {
  test("parses what fetch's FormData produces", async () => {
    const form = new FormData();
    form.append("prompt", "line one\r\nline two");
    form.append("tag", "a");
    form.append("tag", "b");
    form.append("file", new Blob(["--not-a-boundary\r\n"]), "x.bin");
    const request = new Request("http://x/", { method: "POST", body: form });
    const buffer = Buffer.from(await request.arrayBuffer());
    const fields = parseMultipart(buffer, request.headers.get("content-type"));
    assert.deepEqual(fields, {
      prompt: "line one\r\nline two",
      tag: ["a", "b"],
      file: { filename: "x.bin", contentType: "application/octet-stream", size: 18 },
    });
  });

  test("quoted boundary, missing boundary, truncated body", () => {
    const body = Buffer.from('--b\r\ncontent-disposition: form-data; name="a"\r\n\r\n1\r\n--b--\r\n');
    assert.deepEqual(parseMultipart(body, 'multipart/form-data; boundary="b"'), { a: "1" });
    assert.equal(parseMultipart(body, "multipart/form-data"), null);
    assert.equal(parseMultipart(body.subarray(0, 30), "multipart/form-data; boundary=b"), null);
  });
});

/** Walks PNG chunks and checks every CRC; returns the chunk types. */
function pngChunks(buffer) {
  assert.deepEqual(buffer.subarray(0, 8), Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]));
  const types = [];
  for (let pos = 8; pos < buffer.length; ) {
    const length = buffer.readUInt32BE(pos);
    const typeAndData = buffer.subarray(pos + 4, pos + 8 + length);
    assert.equal(buffer.readUInt32BE(pos + 8 + length), crc32(typeAndData));
    types.push(typeAndData.subarray(0, 4).toString("latin1"));
    pos += 12 + length;
  }
  return types;
}

describe("images", () => {
  test("padded benchmark PNG is valid and about the requested size", () => {
    assert.deepEqual(pngChunks(Buffer.from(PNG_1X1_BASE64, "base64")), ["IHDR", "IDAT", "IEND"]);
    const padded = makePaddedPngBase64(100000);
    assert.ok(Math.abs(padded.length - 100000) <= 8, String(padded.length));
    assert.deepEqual(pngChunks(Buffer.from(padded, "base64")), ["IHDR", "IDAT", "tEXt", "IEND"]);
    assert.equal(makePaddedPngBase64(100000), padded, "deterministic");
  });

  test("imageBase64 option replaces the image everywhere", async () => {
    const custom = makePaddedPngBase64(4000);
    const other = await startMockServer({ imageBase64: custom });
    try {
      const res = await fetch(`${other.url}/v2beta/stable-image/generate/core`, {
        method: "POST",
        headers: { authorization: "Bearer sk", accept: "application/json" },
        body: (() => {
          const f = new FormData();
          f.append("prompt", "x");
          return f;
        })(),
      });
      assert.equal((await res.json()).image, custom);
    } finally {
      await other.close();
    }
  });
});

describe("CLI", () => {
  test("prints one JSON line with the url, serves, exits on SIGTERM", async () => {
    const child = spawn(process.execPath, [SERVER_PATH, "--port", "0", "--image-bytes", "5000"], { stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
    try {
      const line = await new Promise((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (chunk) => {
          out += chunk;
          if (out.includes("\n")) resolve(out);
        });
        child.on("exit", () => reject(new Error(`exited early: ${out}`)));
      });
      assert.match(line, /^\{"url":"http:\/\/127\.0\.0\.1:\d+"\}\n$/);
      const { url } = JSON.parse(line);
      const res = await fetch(`${url}/v1/images/generations`, {
        method: "POST",
        headers: { authorization: "Bearer sk", "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-image-1.5", prompt: "x" }),
      });
      const b64 = (await res.json()).data[0].b64_json;
      assert.ok(Math.abs(b64.length - 5000) <= 8);
      pngChunks(Buffer.from(b64, "base64"));
    } finally {
      child.kill("SIGTERM");
    }
    assert.deepEqual(await exited, { code: 0, signal: null });
  });
});
