// Tests of the mock provider server itself: node --test tests/mock-server/server.test.mjs
// Built-ins only (node:test, node:assert, global fetch/FormData).

import { test, describe, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import net from "node:net";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";
import {
  startMockServer,
  loadFixtures,
  parseMultipart,
  parseMultipartParts,
  mulberry32,
  crc32,
  makePaddedPngBase64,
  makePngOfSize,
  encodePng,
  makeJpegHeader,
  makeWebpHeader,
  imageInfo,
  describeMask,
  decodePng,
  pngChunk,
  DEFAULT_LIMITS,
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
      "html_502", "empty_data", "malformed_json", "models_list", "unsupported_file_mimetype",
    ],
    gemini: [
      "success", "thought_parts", "api_key_invalid", "unregistered_caller", "service_disabled", "unknown_field",
      "model_not_found", "rate_limited", "quota_per_day", "quota_limit_zero", "bare_429", "internal",
      "unavailable", "deadline_exceeded", "failed_precondition", "image_safety", "prompt_blocked", "no_image",
      "text_only_stop", "models_list", "unsupported_mime_type", "payload_too_large", "unprocessable_image",
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

/** Runs server.mjs on a free port; resolves once it printed its URL line. */
async function startCli(args) {
  const child = spawn(process.execPath, [SERVER_PATH, "--port", "0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  const line = await new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      if (out.includes("\n")) resolve(out);
    });
    child.on("exit", () => reject(new Error(`exited early: ${out}`)));
  });
  return { child, exited, line };
}

describe("CLI", () => {
  test("prints one JSON line with the url, serves, exits on SIGTERM", async () => {
    const { child, exited, line } = await startCli(["--image-bytes", "5000"]);
    try {
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

// =============================================================================================
// Image inputs, edits and streams (docs/providers.md sections 8 and 9)
// =============================================================================================

const sha256 = (buffer) => crypto.createHash("sha256").update(buffer).digest("hex");
const fixtureBody = (name) => loadFixtures().get(name).body;

// Inputs: real PNGs (decodable), header-only JPEG/WebP (recognisable, with dimensions).
const PNG_64 = encodePng(64, 64, { colorType: 2, pixel: (x, y) => [x * 4, y * 4, 100] });
const PNG_64_RGBA = encodePng(64, 64, { colorType: 6, pixel: (x, y) => [x * 4, y * 4, 100, 255] });
const JPEG_64 = makeJpegHeader(64, 64);
const WEBP_64 = makeWebpHeader(64, 64);
/** OpenAI convention: alpha 0 = change; here the left half. */
const OPENAI_MASK_64 = encodePng(64, 64, { colorType: 6, pixel: (x) => [0, 0, 0, x < 32 ? 0 : 255] });
/** Stability convention: 8-bit grayscale, white = change; here the top quarter rows. */
const STABILITY_MASK_64 = encodePng(64, 64, { colorType: 0, pixel: (x, y) => [y < 16 ? 255 : 0] });

const blob = (bytes, type) => new Blob([bytes], type === undefined ? {} : { type });

/** POST /v1/images/edits with a FormData built from [name, value, filename?] entries. */
function openaiEdit(entries, { key = "sk-edit" } = {}) {
  const form = new FormData();
  for (const [name, value, filename] of entries) {
    if (filename === undefined) form.append(name, value);
    else form.append(name, value, filename);
  }
  const headers = key ? { authorization: `Bearer ${key}` } : {};
  return call("/v1/images/edits", { method: "POST", headers, body: form });
}

/**
 * A multipart body built byte by byte: parts [{name, filename?, type?, data}]; `type: null`
 * leaves the part's Content-Type header out.
 */
function rawMultipart(parts, boundary = "mockBoundary7MA4YWxk") {
  const chunks = [];
  for (const part of parts) {
    let head = `--${boundary}\r\ncontent-disposition: form-data; name="${part.name}"`;
    if (part.filename !== undefined) head += `; filename="${part.filename}"`;
    head += "\r\n";
    if (part.type) head += `content-type: ${part.type}\r\n`;
    chunks.push(Buffer.from(`${head}\r\n`), Buffer.from(part.data), Buffer.from("\r\n"));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

function postRaw(route, { body, contentType }, key = "sk-raw", extraHeaders = {}) {
  return call(route, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": contentType, ...extraHeaders }, body });
}

const editBase = (extra = []) => [["model", "gpt-image-1.5"], ["prompt", "make it blue"], ...extra];

function assertOpenaiError(res, status, code, param) {
  assert.equal(res.status, status, res.text);
  assert.deepEqual(Object.keys(res.json.error).sort(), ["code", "message", "param", "type"]);
  assert.equal(res.json.error.code, code, res.text);
  if (param !== undefined) assert.equal(res.json.error.param, param, res.text);
}

/** Splits an SSE text into [{event, data}] (data JSON-parsed when it parses, else the raw text). */
function parseSse(text) {
  const events = [];
  for (const block of text.split("\n\n")) {
    if (block.trim() === "") continue;
    let event = null;
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event: ")) event = line.slice(7);
      else if (line.startsWith("data: ")) data.push(line.slice(6));
    }
    const joined = data.join("\n");
    let parsed;
    try {
      parsed = JSON.parse(joined);
    } catch {
      parsed = joined;
    }
    events.push({ event, data: parsed });
  }
  return events;
}

/** Every chunk's CRC must check out and the chunk list must end with IEND. */
function assertValidPng(base64) {
  const types = pngChunks(Buffer.from(base64, "base64"));
  assert.equal(types[0], "IHDR");
  assert.equal(types.at(-1), "IEND");
}

// ---------- OpenAI edits ----------

describe("openai edits: what arrives is recorded", () => {
  test("one image as `image`: 200, the generations response, and the part recorded", async () => {
    const res = await openaiEdit(editBase([["image", blob(PNG_64, "image/png"), "in.png"], ["n", "2"], ["size", "1024x1536"]]));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.data.length, 2);
    assert.equal(res.json.size, "1024x1536");
    assert.equal(res.json.data[0].b64_json, PNG_1X1_BASE64);
    assert.deepEqual(res.json.usage.input_tokens_details, { text_tokens: 18, image_tokens: 1280 });

    const [entry] = mock.requests("sk-edit");
    assert.equal(entry.route, "edit");
    assert.equal(entry.bodyKind, "multipart");
    assert.deepEqual(entry.body.image, { filename: "in.png", contentType: "image/png", size: PNG_64.length });
    assert.equal(entry.inputs.count, 1);
    assert.equal(entry.inputs.imageField, "image");
    assert.deepEqual(entry.inputs.fieldNames, ["model", "prompt", "image", "n", "size"]);
    assert.equal(entry.inputs.mask, null);
    const [image] = entry.inputs.images;
    assert.deepEqual(
      { field: image.field, contentType: image.contentType, bytes: image.bytes, sha256: image.sha256, format: image.format, width: image.width, height: image.height },
      { field: "image", contentType: "image/png", bytes: PNG_64.length, sha256: sha256(PNG_64), format: "png", width: 64, height: 64 },
    );
  });

  test("three images as `image[]` (png, jpeg, webp) plus a mask: order, types, hashes and the mask's area", async () => {
    const res = await openaiEdit(editBase([
      ["image[]", blob(PNG_64, "image/png"), "a.png"],
      ["image[]", blob(JPEG_64, "image/jpeg"), "b.jpg"],
      ["image[]", blob(WEBP_64, "image/webp"), "c.webp"],
      ["mask", blob(OPENAI_MASK_64, "image/png"), "mask.png"],
    ]));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.usage.input_tokens_details.image_tokens, 3 * 1280);
    const { inputs } = mock.requests("sk-edit")[0];
    assert.equal(inputs.count, 3);
    assert.equal(inputs.imageField, "image[]");
    assert.deepEqual(inputs.images.map((i) => [i.field, i.contentType, i.format, i.bytes, i.sha256]), [
      ["image[]", "image/png", "png", PNG_64.length, sha256(PNG_64)],
      ["image[]", "image/jpeg", "jpeg", JPEG_64.length, sha256(JPEG_64)],
      ["image[]", "image/webp", "webp", WEBP_64.length, sha256(WEBP_64)],
    ]);
    const { mask } = inputs;
    assert.equal(mask.contentType, "image/png");
    assert.equal(mask.sha256, sha256(OPENAI_MASK_64));
    assert.deepEqual([mask.width, mask.height, mask.hasAlpha], [64, 64, true]);
    assert.equal(mask.transparentFraction, 0.5);
    assert.deepEqual(mask.transparentBox, { x: 0, y: 0, width: 32, height: 64 });
  });

  test("a refused request is recorded too (what arrived, whatever the answer)", async () => {
    const res = await openaiEdit(editBase([["image", blob(PNG_64, "application/octet-stream"), "x.png"]]));
    assert.equal(res.status, 400);
    const { inputs } = mock.requests("sk-edit")[0];
    assert.equal(inputs.images[0].contentType, "application/octet-stream");
    assert.equal(inputs.images[0].format, "png");
  });

  test("the official SDK's encodings: `image` for one file, `image[]` for several, in the caller's order", async () => {
    // Raw bodies as openai-node / vercel/ai produce them (docs/providers.md 8.1).
    const raw = rawMultipart([
      { name: "model", data: "gpt-image-2" },
      { name: "prompt", data: "merge" },
      { name: "image[]", filename: "2.png", type: "image/png", data: PNG_64_RGBA },
      { name: "image[]", filename: "1.png", type: "image/png", data: PNG_64 },
    ]);
    const res = await postRaw("/v1/images/edits", raw, "sk-order");
    assert.equal(res.status, 200, res.text);
    const { inputs } = mock.requests("sk-order")[0];
    assert.deepEqual(inputs.images.map((i) => i.sha256), [sha256(PNG_64_RGBA), sha256(PNG_64)]);
  });
});

describe("openai edits: validation like the real API", () => {
  test("a part declared application/octet-stream gets the exact documented 400", async () => {
    const raw = rawMultipart([
      { name: "model", data: "gpt-image-1.5" },
      { name: "prompt", data: "x" },
      { name: "image", filename: "photo.png", type: "application/octet-stream", data: PNG_64 },
    ]);
    const res = await postRaw("/v1/images/edits", raw);
    assert.equal(res.status, 400);
    assert.deepEqual(res.json, {
      error: {
        message: "Invalid file 'image': unsupported mimetype ('application/octet-stream'). Supported file formats are 'image/jpeg', 'image/png', and 'image/webp'.",
        type: "invalid_request_error",
        param: "image",
        code: "unsupported_file_mimetype",
      },
    });
    assert.deepEqual(res.json, fixtureBody("openai/unsupported_file_mimetype"));
  });

  test("a file part without a Content-Type header is application/octet-stream (RFC 7578) and refused", async () => {
    const raw = rawMultipart([
      { name: "model", data: "gpt-image-1.5" },
      { name: "prompt", data: "x" },
      { name: "image", filename: "photo.png", type: null, data: PNG_64 },
    ]);
    const res = await postRaw("/v1/images/edits", raw);
    assertOpenaiError(res, 400, "unsupported_file_mimetype", "image");
  });

  test("other declared types: gif, image/jpg; the mask's type too", async () => {
    for (const type of ["image/gif", "image/jpg", "text/plain"]) {
      const res = await openaiEdit(editBase([["image", blob(PNG_64, type), "a"]]));
      assertOpenaiError(res, 400, "unsupported_file_mimetype", "image");
      assert.match(res.json.error.message, new RegExp(`\\('${type.replace("/", "\\/")}'\\)`));
    }
    const mask = await openaiEdit(editBase([["image", blob(PNG_64, "image/png"), "a"], ["mask", blob(OPENAI_MASK_64, "application/octet-stream"), "m"]]));
    assertOpenaiError(mask, 400, "unsupported_file_mimetype", "mask");
    assert.match(mask.json.error.message, /Invalid file 'mask'/);
  });

  test("magic bytes must match the declared type", async () => {
    const cases = [
      [JPEG_64, "image/png"], // a JPEG labelled PNG
      [PNG_64, "image/webp"],
      [Buffer.from("GIF89a-not-allowed"), "image/png"],
      [Buffer.from("just some text"), "image/jpeg"],
      [PNG_64.subarray(0, 20), "image/png"], // truncated before the size
    ];
    for (const [bytes, type] of cases) {
      const res = await openaiEdit(editBase([["image", blob(bytes, type), "a"]]));
      assertOpenaiError(res, 400, "invalid_image_file", "image");
    }
    const second = await openaiEdit(editBase([["image[]", blob(PNG_64, "image/png"), "a"], ["image[]", blob(JPEG_64, "image/webp"), "b"]]));
    assertOpenaiError(second, 400, "invalid_image_file", "image");
    assert.match(second.json.error.message, /image 2/);
  });

  test("unknown fields (moderation included), response_format, JSON-only names", async () => {
    const image = ["image", blob(PNG_64, "image/png"), "a.png"];
    for (const name of ["moderation", "images", "image[0]", "mask[]", "seed", "aspect_ratio"]) {
      const res = await openaiEdit(editBase([image, [name, "x"]]));
      assertOpenaiError(res, 400, "unknown_parameter", name);
      assert.equal(res.json.error.message, `Unknown parameter: '${name}'.`);
    }
    const rf = await openaiEdit(editBase([image, ["response_format", "b64_json"]]));
    assert.deepEqual(rf.json, fixtureBody("openai/unknown_parameter"));
  });

  test("image count: none, mixed names, repeated `image`, more than 16", async () => {
    assertOpenaiError(await openaiEdit(editBase()), 400, "missing_required_parameter", "image");
    const png = () => ["image[]", blob(PNG_64, "image/png"), "a.png"];
    const mixed = await openaiEdit(editBase([["image", blob(PNG_64, "image/png"), "a.png"], png()]));
    assertOpenaiError(mixed, 400, "invalid_value", "image");
    const repeated = await openaiEdit(editBase([["image", blob(PNG_64, "image/png"), "a.png"], ["image", blob(PNG_64, "image/png"), "b.png"]]));
    assertOpenaiError(repeated, 400, "duplicate_parameter", "image");
    assert.match(repeated.json.error.message, /image\[\]/);
    const sixteen = await openaiEdit(editBase(Array.from({ length: 16 }, png)));
    assert.equal(sixteen.status, 200, sixteen.text);
    const seventeen = await openaiEdit(editBase(Array.from({ length: 17 }, png)));
    assertOpenaiError(seventeen, 400, "array_above_max_length", "image");
    assert.match(seventeen.json.error.message, /maximum length 16, but got an array with length 17/);
    assert.equal(mock.requests("sk-edit").at(-1).inputs.count, 17);
  });

  test("file vs text fields, duplicates, missing model/prompt, wrong content types", async () => {
    const image = ["image", blob(PNG_64, "image/png"), "a.png"];
    assertOpenaiError(await openaiEdit(editBase([["image", "not a file"]])), 400, "invalid_type", "image");
    assertOpenaiError(await openaiEdit(editBase([image, ["mask", "nope"]])), 400, "invalid_type", "mask");
    assertOpenaiError(await openaiEdit([["model", "gpt-image-1.5"], ["prompt", blob("x", "text/plain"), "p.txt"], image]), 400, "invalid_type", "prompt");
    assertOpenaiError(await openaiEdit([...editBase([image]), ["prompt", "again"]]), 400, "duplicate_parameter", "prompt");
    assertOpenaiError(await openaiEdit([["prompt", "x"], image]), 400, "missing_required_parameter", "model");
    assertOpenaiError(await openaiEdit([["model", "gpt-image-1.5"], image]), 400, "missing_required_parameter", "prompt");
    assertOpenaiError(await openaiEdit([["model", "gpt-image-1.5"], ["prompt", "x".repeat(32001)], image]), 400, "string_above_max_length", "prompt");

    const json = await call("/v1/images/edits", {
      method: "POST",
      headers: { authorization: "Bearer sk", "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-image-2", prompt: "x", images: [{ image_url: "data:image/png;base64,AAAA" }] }),
    });
    assertOpenaiError(json, 400, "unsupported_by_mock");
    const text = await call("/v1/images/edits", { method: "POST", headers: { authorization: "Bearer sk", "content-type": "text/plain" }, body: "x" });
    assertOpenaiError(text, 400, "unsupported_content_type");
    const broken = await call("/v1/images/edits", {
      method: "POST", headers: { authorization: "Bearer sk", "content-type": "multipart/form-data; boundary=zz" }, body: "--zz\r\nbroken",
    });
    assertOpenaiError(broken, 400, "invalid_multipart_body");
  });

  test("retired and unknown models are 404 model_not_found, as for generations", async () => {
    for (const model of ["gpt-image-1", "dall-e-2", "gpt-image-2.5"]) {
      const res = await openaiEdit([["model", model], ["prompt", "x"], ["image", blob(PNG_64, "image/png"), "a.png"]]);
      assertOpenaiError(res, 404, "model_not_found");
      assert.match(res.json.error.message, new RegExp(`\`${model.replace(/\./g, "\\.")}\``));
    }
  });

  test("mask: PNG only, with an alpha channel, the first image's dimensions", async () => {
    const image = ["image[]", blob(PNG_64, "image/png"), "a.png"];
    const jpegMask = await openaiEdit(editBase([image, ["mask", blob(JPEG_64, "image/jpeg"), "m.jpg"]]));
    assert.equal(jpegMask.status, 400);
    assert.equal(jpegMask.json.error.code, "invalid_mask_image_format");
    assert.equal(jpegMask.json.error.type, "image_generation_user_error");

    const noAlpha = await openaiEdit(editBase([image, ["mask", blob(encodePng(64, 64, { colorType: 0 }), "image/png"), "m.png"]]));
    assert.equal(noAlpha.status, 400);
    assert.deepEqual(noAlpha.json.error, {
      message: "Invalid mask image format - mask image missing alpha channel",
      type: "image_generation_user_error",
      param: null,
      code: "invalid_mask_image_format",
    });

    const small = await openaiEdit(editBase([image, ["mask", blob(encodePng(32, 64), "image/png"), "m.png"]]));
    assertOpenaiError(small, 400, "invalid_value", "mask");
    assert.match(small.json.error.message, /32x64.*64x64/);

    // Dimensions are compared with the first image, whatever its format.
    const jpegFirst = await openaiEdit(editBase([["image[]", blob(makeJpegHeader(48, 80), "image/jpeg"), "a.jpg"], image, ["mask", blob(encodePng(48, 80), "image/png"), "m.png"]]));
    assert.equal(jpegFirst.status, 200, jpegFirst.text);
    const tRNS = encodePngWithTrns(64, 64);
    const paletteLike = await openaiEdit(editBase([image, ["mask", blob(tRNS, "image/png"), "m.png"]]));
    assert.equal(paletteLike.status, 200, "a tRNS chunk is an alpha channel too");
    const trnsMask = mock.requests("sk-edit").at(-1).inputs.mask;
    assert.equal(trnsMask.hasAlpha, true);
    assert.equal(trnsMask.transparentFraction, 0.5, "tRNS transparency is decoded");
  });

  test("input_fidelity: refused on gpt-image-2 models, only 'low' on gpt-image-1-mini, both on 1.5", async () => {
    const image = ["image", blob(PNG_64, "image/png"), "a.png"];
    for (const model of ["gpt-image-2", "gpt-image-2-2026-04-21", "gpt-image-2.5-flare"]) {
      const res = await openaiEdit([["model", model], ["prompt", "x"], image, ["input_fidelity", "low"]]);
      assertOpenaiError(res, 400, "unsupported_parameter", "input_fidelity");
    }
    const mini = await openaiEdit([["model", "gpt-image-1-mini"], ["prompt", "x"], image, ["input_fidelity", "high"]]);
    assertOpenaiError(mini, 400, "unsupported_value", "input_fidelity");
    assert.equal((await openaiEdit([["model", "gpt-image-1-mini"], ["prompt", "x"], image, ["input_fidelity", "low"]])).status, 200);
    assert.equal((await openaiEdit([["model", "gpt-image-1.5"], ["prompt", "x"], image, ["input_fidelity", "high"]])).status, 200);
    assertOpenaiError(await openaiEdit([["model", "gpt-image-1.5"], ["prompt", "x"], image, ["input_fidelity", "max"]]), 400, "invalid_value", "input_fidelity");
  });

  test("options arrive as strings and are checked like generations'", async () => {
    const image = ["image", blob(PNG_64, "image/png"), "a.png"];
    const cases = [
      [[["n", "11"]], "integer_above_max_value", "n"],
      [[["n", "0"]], "integer_below_min_value", "n"],
      [[["n", "two"]], "invalid_type", "n"],
      [[["size", "512x512"]], "invalid_value", "size"],
      [[["quality", "xhigh"]], "invalid_value", "quality"],
      [[["output_format", "gif"]], "invalid_value", "output_format"],
      [[["background", "clear"]], "invalid_value", "background"],
      [[["output_compression", "101"]], "integer_above_max_value", "output_compression"],
      [[["stream", "yes"]], "invalid_type", "stream"],
      [[["stream", "true"], ["partial_images", "4"]], "integer_above_max_value", "partial_images"],
      [[["stream", "true"], ["n", "2"]], "invalid_value", "n"],
    ];
    for (const [extra, code, param] of cases) {
      assertOpenaiError(await openaiEdit(editBase([image, ...extra])), 400, code, param);
    }
    const custom = await openaiEdit([["model", "gpt-image-2"], ["prompt", "x"], image, ["size", "2048x1152"], ["quality", "high"], ["output_format", "webp"], ["background", "opaque"], ["output_compression", "80"], ["safety_identifier", "user-1"]]);
    assert.equal(custom.status, 200, custom.text);
    assert.deepEqual([custom.json.size, custom.json.quality, custom.json.output_format], ["2048x1152", "high", "webp"]);
  });

  test("markup: 2.5 models only, never with a mask", async () => {
    const image = ["image", blob(PNG_64, "image/png"), "a.png"];
    const markup = ["markup", blob(PNG_64_RGBA, "image/png"), "markup.png"];
    assert.equal((await openaiEdit([["model", "gpt-image-2.5-sunburst"], ["prompt", "x"], image, markup])).status, 200);
    assertOpenaiError(await openaiEdit([["model", "gpt-image-2"], ["prompt", "x"], image, markup]), 400, "unsupported_parameter", "markup");
    const both = await openaiEdit([["model", "gpt-image-2.5-flare"], ["prompt", "x"], image, markup, ["mask", blob(OPENAI_MASK_64, "image/png"), "m.png"]]);
    assertOpenaiError(both, 400, "invalid_value", "markup");
    assert.equal(mock.requests("sk-edit")[0].inputs.markup.sha256, sha256(PNG_64_RGBA));
  });

  test("per-image size limit (adjustable) and auth before validation", async () => {
    mock.setLimits({ openaiMaxImageBytes: 1000 });
    const big = makePngOfSize(1500);
    const res = await openaiEdit(editBase([["image", blob(big, "image/png"), "big.png"]]));
    assertOpenaiError(res, 400, "file_too_large", "image");
    assert.equal((await openaiEdit(editBase([["image", blob(makePngOfSize(999), "image/png"), "ok.png"]]))).status, 200);
    const unauthorised = await openaiEdit(editBase([["image", blob(big, "image/png"), "big.png"]]), { key: null });
    assert.deepEqual(unauthorised.json, fixtureBody("openai/invalid_api_key"));
  });

  test("faults are scripted per key as for generations", async () => {
    await script({ key: "sk-edit-faults", steps: [{ fixture: "openai/rate_limit" }, { noImage: true }, { malformed: true }, { status: 500, body: { error: { message: "boom", type: "server_error", param: null, code: null } } }] });
    const body = editBase([["image", blob(PNG_64, "image/png"), "a.png"]]);
    const limited = await openaiEdit(body, { key: "sk-edit-faults" });
    assert.equal(limited.status, 429);
    assert.deepEqual(limited.json, fixtureBody("openai/rate_limit"));
    const noImage = await openaiEdit(body, { key: "sk-edit-faults" });
    assert.deepEqual(noImage.json.data, []);
    const malformed = await openaiEdit(body, { key: "sk-edit-faults" });
    assert.equal(malformed.json, undefined);
    assert.ok(malformed.text.startsWith('{"created":'));
    assert.equal((await openaiEdit(body, { key: "sk-edit-faults" })).status, 500);
    assert.equal((await openaiEdit(body, { key: "sk-edit-faults" })).status, 200);
    assert.equal(mock.requests("sk-edit-faults").length, 5);
    assert.ok(mock.requests("sk-edit-faults").every((r) => r.inputs.count === 1), "scripted requests are recorded with their inputs");
  });
});

/** A grey PNG with a tRNS chunk (transparency without an alpha channel colour type). */
function encodePngWithTrns(width, height) {
  const png = encodePng(width, height, { colorType: 0, pixel: (x) => [x < width / 2 ? 0 : 255] });
  // tRNS (grey value 0 is transparent) goes between IHDR, which ends at byte 33, and IDAT.
  return Buffer.concat([png.subarray(0, 33), pngChunk("tRNS", Buffer.from([0, 0])), png.subarray(33)]);
}

// ---------- Gemini image inputs ----------

const inline = (bytes, mimeType) => ({ inlineData: { mimeType, data: Buffer.from(bytes).toString("base64") } });
const geminiInputBody = (parts, extra = {}) => ({
  contents: [{ role: "user", parts }],
  generationConfig: { responseModalities: ["IMAGE"], ...extra },
});

describe("gemini image inputs", () => {
  test("inline images are decoded and recorded; the log keeps no base64", async () => {
    const body = geminiInputBody([{ text: "put the cat on the sofa" }, inline(PNG_64, "image/png"), inline(JPEG_64, "image/jpeg"), inline(WEBP_64, "image/webp")], { imageConfig: { aspectRatio: "4:3" } });
    const res = await gemini("gemini-3-pro-image", body, "AIza-in");
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json.usageMetadata.promptTokensDetails, [{ modality: "TEXT", tokenCount: 12 }, { modality: "IMAGE", tokenCount: 3 * 560 }]);
    const [entry] = mock.requests("AIza-in");
    assert.equal(entry.inputs.count, 3);
    assert.equal(entry.inputs.mask, null);
    assert.deepEqual(entry.inputs.partKinds, [["text", "inlineData", "inlineData", "inlineData"]]);
    assert.deepEqual(entry.inputs.images.map((i) => [i.part, i.mimeType, i.bytes, i.sha256, i.format, i.width, i.height]), [
      [1, "image/png", PNG_64.length, sha256(PNG_64), "png", 64, 64],
      [2, "image/jpeg", JPEG_64.length, sha256(JPEG_64), "jpeg", 64, 64],
      [3, "image/webp", WEBP_64.length, sha256(WEBP_64), "webp", 64, 64],
    ]);
    assert.equal(entry.inputs.images[0].base64Chars, body.contents[0].parts[1].inlineData.data.length);
    assert.equal(entry.body.contents[0].parts[1].inlineData.data, `[${entry.inputs.images[0].base64Chars} base64 characters]`);
    assert.equal(entry.body.contents[0].parts[0].text, "put the cat on the sofa");
    assert.ok(!JSON.stringify(entry).includes(body.contents[0].parts[1].inlineData.data), "no base64 in the log");
  });

  test("images before the text, snake_case, HEIC and fileData are accepted", async () => {
    const heic = Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from("ftypheic"), Buffer.alloc(16)]);
    const res = await gemini("gemini-3.1-flash-image", {
      contents: [{ parts: [
        { inline_data: { mime_type: "image/png", data: PNG_64.toString("base64url") } },
        { inlineData: { mimeType: "image/heic", data: heic.toString("base64") } },
        { fileData: { mimeType: "image/png", fileUri: "https://generativelanguage.googleapis.com/v1beta/files/abc123" } },
        { text: "combine" },
      ] }],
      generation_config: { response_modalities: ["IMAGE"] },
    }, "AIza-order");
    assert.equal(res.status, 200, res.text);
    const { inputs } = mock.requests("AIza-order")[0];
    assert.deepEqual(inputs.images.map((i) => i.source), ["inlineData", "inlineData", "fileData"]);
    assert.equal(inputs.images[0].sha256, sha256(PNG_64), "URL-safe base64 decodes to the same bytes");
    assert.equal(inputs.images[1].format, "heic");
    assert.equal(inputs.images[2].fileUri, "https://generativelanguage.googleapis.com/v1beta/files/abc123");
  });

  test("unsupported MIME types get Gemini's own 400 (gif, the non-standard image/jpg)", async () => {
    for (const type of ["image/gif", "image/jpg", "application/octet-stream", "image/svg+xml"]) {
      const res = await gemini("gemini-3-pro-image", geminiInputBody([{ text: "x" }, inline(PNG_64, type)]));
      assert.equal(res.status, 400, type);
      assert.deepEqual(res.json, { error: { code: 400, message: `Unsupported MIME type: ${type}`, status: "INVALID_ARGUMENT" } });
    }
    assert.deepEqual((await gemini("gemini-3-pro-image", geminiInputBody([{ text: "x" }, inline(PNG_64, "image/gif")]))).json, fixtureBody("gemini/unsupported_mime_type"));
  });

  test("bytes that are not the declared type, bad base64, a data: URL as data", async () => {
    const wrong = await gemini("gemini-3-pro-image", geminiInputBody([{ text: "x" }, inline(JPEG_64, "image/png")]));
    assert.equal(wrong.status, 400);
    assert.deepEqual(wrong.json, fixtureBody("gemini/unprocessable_image"));
    const garbage = await gemini("gemini-3-pro-image", geminiInputBody([{ text: "x" }, inline(Buffer.from("hello"), "image/png")]));
    assert.deepEqual(garbage.json, fixtureBody("gemini/unprocessable_image"));

    const dataUrl = await gemini("gemini-3-pro-image", geminiInputBody([{ text: "x" }, { inlineData: { mimeType: "image/png", data: `data:image/png;base64,${PNG_64.toString("base64")}` } }]));
    assert.equal(dataUrl.status, 400);
    const message = "Invalid value at 'contents[0].parts[1].inline_data.data' (TYPE_BYTES), Base64 decoding failed for \"data:image/png;base64\"";
    assert.equal(dataUrl.json.error.message, message);
    assert.deepEqual(dataUrl.json.error.details, [{ "@type": "type.googleapis.com/google.rpc.BadRequest", fieldViolations: [{ field: "contents[0].parts[1].inline_data.data", description: message }] }]);
    const missingType = await gemini("gemini-3-pro-image", geminiInputBody([{ text: "x" }, { inlineData: { data: PNG_64.toString("base64") } }]));
    assert.equal(missingType.status, 400);
    assert.match(missingType.json.error.message, /inline_data\.mime_type/);
  });

  test("there is no mask: mask-like fields anywhere are unknown names", async () => {
    const image = inline(PNG_64, "image/png");
    const cases = [
      [{ ...geminiInputBody([{ text: "x" }, image]), mask: inline(OPENAI_MASK_64, "image/png") }, /Unknown name "mask": Cannot find field/],
      [geminiInputBody([{ text: "x" }, { ...image, mask: true }]), /Unknown name "mask" at 'contents\[0\]\.parts\[1\]'/],
      [geminiInputBody([{ text: "x" }, { inlineData: { ...image.inlineData, mask: "AAAA" } }]), /Unknown name "mask" at 'contents\[0\]\.parts\[1\]\.inline_data'/],
      [geminiInputBody([{ text: "x" }, { maskData: image.inlineData }]), /Unknown name "maskData" at 'contents\[0\]\.parts\[1\]'/],
      [geminiInputBody([{ text: "x" }, image], { mask: { mode: "inpaint" } }), /Unknown name "mask" at 'generation_config'/],
      [geminiInputBody([{ text: "x" }, image], { imageConfig: { maskMode: "foreground" } }), /Unknown name "maskMode" at 'generation_config\.image_config'/],
      [{ contents: [{ role: "user", parts: [{ text: "x" }], mask: image }] }, /Unknown name "mask" at 'contents\[0\]'/],
    ];
    for (const [body, message] of cases) {
      const res = await gemini("gemini-3-pro-image", body);
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 200));
      assert.equal(res.json.error.status, "INVALID_ARGUMENT");
      assert.match(res.json.error.message, message);
    }
  });

  test("a part holds exactly one data field", async () => {
    const two = await gemini("gemini-3-pro-image", geminiInputBody([{ text: "x", ...inline(PNG_64, "image/png") }]));
    assert.equal(two.status, 400);
    assert.match(two.json.error.message, /oneof field 'data' is already set/);
    const none = await gemini("gemini-3-pro-image", geminiInputBody([{ text: "x" }, { thought: true }]));
    assert.equal(none.status, 400);
    assert.match(none.json.error.message, /required oneof field 'data'/);
    const textOnly = await gemini("gemini-3-pro-image", geminiInputBody([inline(PNG_64, "image/png")]));
    assert.equal(textOnly.status, 400, "a prompt text is required next to the images");
  });

  test("at most 14 input images on 3.x models; 2.5 Flash has no stated limit", async () => {
    const parts = (n) => [{ text: "x" }, ...Array.from({ length: n }, () => inline(PNG_64, "image/png"))];
    assert.equal((await gemini("gemini-nano-banana-2.1", geminiInputBody(parts(14)))).status, 200);
    const fifteen = await gemini("gemini-nano-banana-2.1", geminiInputBody(parts(15)));
    assert.equal(fifteen.status, 400);
    assert.match(fifteen.json.error.message, /at most 14/);
    assert.equal((await gemini("gemini-2.5-flash-image", geminiInputBody(parts(15)))).status, 200);
  });

  test("the request-size limit: 100 MiB by default, lowered through /__mock/config, restored by reset", async () => {
    const defaults = await call("/__mock/config");
    assert.equal(defaults.json.limits.geminiMaxRequestBytes, 104857600);
    assert.deepEqual(defaults.json.limits, { ...DEFAULT_LIMITS });

    const set = await call("/__mock/config", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ limits: { geminiMaxRequestBytes: 2000 } }) });
    assert.equal(set.status, 200);
    assert.equal(set.json.limits.geminiMaxRequestBytes, 2000);
    const body = geminiInputBody([{ text: "x" }, inline(makePngOfSize(2000), "image/png")]);
    const res = await gemini("gemini-3-pro-image", body);
    assert.equal(res.status, 400);
    assert.deepEqual(res.json, { error: { code: 400, message: "Request payload size exceeds the limit: 2000 bytes.", status: "INVALID_ARGUMENT" } });
    assert.equal(mock.requests().at(-1).bodyBytes, JSON.stringify(body).length);
    const small = await gemini("gemini-3-pro-image", geminiInputBody([{ text: "x" }, inline(encodePng(64, 64, { colorType: 0 }), "image/png")]));
    assert.equal(small.status, 200, "below the limit");

    await call("/__mock/reset", { method: "POST" });
    assert.equal((await call("/__mock/config")).json.limits.geminiMaxRequestBytes, 104857600);
    assert.equal((await gemini("gemini-3-pro-image", body)).status, 200);
  });

  test("a body above the buffer size is drained and refused with the limit in force", async () => {
    const server = await startMockServer({ limits: { geminiMaxRequestBytes: 4096 } });
    try {
      // 40 MiB: above the 32 MiB the mock buffers by default, so it is drained, not parsed.
      const body = JSON.stringify(geminiInputBody([{ text: "x" }, { inlineData: { mimeType: "image/png", data: "A".repeat(40 * 1024 * 1024) } }]));
      const res = await fetch(`${server.url}/v1beta/models/gemini-3-pro-image:generateContent`, {
        method: "POST", headers: { "x-goog-api-key": "AIza", "content-type": "application/json" }, body,
      });
      assert.equal(res.status, 400);
      assert.equal((await res.json()).error.message, "Request payload size exceeds the limit: 4096 bytes.");
      assert.equal(server.requests()[0].bodyBytes, body.length);
    } finally {
      await server.close();
    }
  });

  test("config is validated", async () => {
    for (const bad of [{ limits: { nope: 1 } }, { limits: { geminiMaxRequestBytes: -1 } }, { limits: { stabilityMaxRequestBytes: "10" } }, []]) {
      const res = await call("/__mock/config", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(bad) });
      assert.equal(res.status, 400, JSON.stringify(bad));
      assert.equal(res.json.error.type, "mock_error");
    }
    await assert.rejects(startMockServer({ limits: { bogus: 1 } }), /unknown limit bogus/);
  });

  test("scripted faults apply to image requests; the inputs are still recorded", async () => {
    await script({ key: "AIza-f", steps: [{ fixture: "gemini/rate_limited" }] });
    const res = await gemini("gemini-3-pro-image", geminiInputBody([{ text: "x" }, inline(PNG_64, "image/png")]), "AIza-f");
    assert.equal(res.status, 429);
    assert.equal(mock.requests("AIza-f")[0].inputs.images[0].sha256, sha256(PNG_64));
  });
});

// ---------- Stability edits and image-to-image ----------

function stabilityForm(path, entries, { key = "sk-stab-edit", accept = "image/*" } = {}) {
  const form = new FormData();
  for (const [name, value, filename] of entries) {
    if (filename === undefined) form.append(name, value);
    else form.append(name, value, filename);
  }
  const headers = { accept };
  if (key) headers.authorization = `Bearer ${key}`;
  return call(`/v2beta/stable-image/${path}`, { method: "POST", headers, body: form });
}

function assertBadRequest(res, pattern) {
  assert.equal(res.status, 400, res.text);
  assert.equal(res.json.name, "bad_request");
  assert.match(res.json.id, /^[0-9a-f]{32}$/);
  assert.match(res.json.errors[0], pattern);
}

// Stability reads bytes, not the declared type: files go as octet-stream here, as curl sends them.
const stabImage = (bytes = PNG_64) => ["image", blob(bytes, "application/octet-stream"), "image.png"];
const stabMask = (bytes = STABILITY_MASK_64) => ["mask", blob(bytes, "image/png"), "mask.png"];

describe("stability edit/inpaint", () => {
  test("image + 8-bit grayscale mask: 200 bytes, and both recorded with the mask's white area", async () => {
    const res = await stabilityForm("edit/inpaint", [["prompt", "a red door"], stabImage(), stabMask(), ["grow_mask", "10"], ["seed", "77"]]);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get("content-type"), "image/png");
    assert.equal(res.headers.get("finish-reason"), "SUCCESS");
    assert.equal(res.headers.get("seed"), "77");
    assert.deepEqual(res.bytes, Buffer.from(PNG_1X1_BASE64, "base64"));
    const [entry] = mock.requests("sk-stab-edit");
    assert.equal(entry.route, "edit");
    assert.equal(entry.path, "/v2beta/stable-image/edit/inpaint");
    const { inputs } = entry;
    assert.equal(inputs.count, 1);
    assert.deepEqual(inputs.fieldNames, ["prompt", "image", "mask", "grow_mask", "seed"]);
    assert.equal(inputs.images[0].sha256, sha256(PNG_64));
    assert.equal(inputs.images[0].contentType, "application/octet-stream");
    assert.deepEqual([inputs.mask.format, inputs.mask.colorType, inputs.mask.bitDepth, inputs.mask.width, inputs.mask.height], ["png", 0, 8, 64, 64]);
    assert.equal(inputs.mask.sha256, sha256(STABILITY_MASK_64));
    assert.equal(inputs.mask.whiteFraction, 0.25);
    assert.deepEqual(inputs.mask.whiteBox, { x: 0, y: 0, width: 64, height: 16 });
  });

  test("JSON answer with Accept: application/json", async () => {
    const res = await stabilityForm("edit/inpaint", [["prompt", "x"], stabImage(JPEG_64), stabMask(), ["output_format", "webp"]], { accept: "application/json" });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get("content-type"), "application/json; type=image/webp");
    assert.deepEqual(res.json, { image: PNG_1X1_BASE64, finish_reason: "SUCCESS", seed: 742048682 });
  });

  test("the mask must be an 8-bit grayscale PNG of the image's size", async () => {
    assertBadRequest(await stabilityForm("edit/inpaint", [["prompt", "x"], stabImage(), stabMask(OPENAI_MASK_64)]), /mask: must be an 8-bit grayscale PNG.*colour type 6/);
    assertBadRequest(await stabilityForm("edit/inpaint", [["prompt", "x"], stabImage(), stabMask(encodePng(64, 64, { colorType: 2 }))]), /colour type 2/);
    assertBadRequest(await stabilityForm("edit/inpaint", [["prompt", "x"], stabImage(), stabMask(makeJpegHeader(64, 64))]), /mask: must be a PNG/);
    assertBadRequest(await stabilityForm("edit/inpaint", [["prompt", "x"], stabImage(), stabMask(encodePng(64, 128, { colorType: 0 }))]), /mask: dimensions 64x128 differ from the image's 64x64/);
    assertBadRequest(await stabilityForm("edit/inpaint", [["prompt", "x"], stabImage(), stabMask(), stabMask()]), /mask: expected exactly one file/);
  });

  test("without a mask the image's alpha channel is the mask; an opaque image cannot do without", async () => {
    assertBadRequest(await stabilityForm("edit/inpaint", [["prompt", "x"], stabImage(PNG_64)]), /mask: required when the image has no alpha channel/);
    assert.equal((await stabilityForm("edit/inpaint", [["prompt", "x"], stabImage(PNG_64_RGBA)])).status, 200);
    assert.equal((await stabilityForm("edit/inpaint", [["prompt", "x"], stabImage(makeWebpHeader(64, 64, { alpha: true }))])).status, 200);
  });

  test("input image rules: format by bytes, sides >= 64, 4,096..9,437,184 pixels", async () => {
    const cases = [
      [Buffer.from("GIF89a......"), /image: unsupported image format 'gif'; expected jpeg, png or webp/],
      [Buffer.from("plain text"), /image: unsupported image format; expected/],
      [PNG_64.subarray(0, 16), /image: the image could not be decoded/],
      [encodePng(63, 100, { colorType: 0 }), /at least 64 pixels, got 63x100/],
      [makeJpegHeader(4000, 4000), /between 4096 and 9437184, got 16000000/],
    ];
    for (const [bytes, message] of cases) {
      assertBadRequest(await stabilityForm("edit/inpaint", [["prompt", "x"], stabImage(bytes), stabMask()]), message);
    }
    assert.equal((await stabilityForm("edit/inpaint", [["prompt", "x"], stabImage(makeJpegHeader(3072, 3072)), stabMask(encodePng(3072, 3072, { colorType: 0 }))])).status, 200, "9,437,184 pixels exactly");
    assertBadRequest(await stabilityForm("edit/inpaint", [["prompt", "x"], stabMask()]), /image: is required/);
    assertBadRequest(await stabilityForm("edit/inpaint", [["prompt", "x"], ["image", "text"], stabMask()]), /image: must be a file/);
    assertBadRequest(await stabilityForm("edit/inpaint", [stabImage(), stabMask()]), /prompt: cannot be empty/);
    assertBadRequest(await stabilityForm("edit/inpaint", [["prompt", "x"], stabImage(), stabMask(), ["grow_mask", "101"]]), /grow_mask/);
  });

  test("10 MiB request limit -> 413 payload_too_large (adjustable)", async () => {
    const big = await stabilityForm("edit/inpaint", [["prompt", "x"], stabImage(makePngOfSize(10 * 1024 * 1024 + 1)), stabMask()]);
    assert.equal(big.status, 413);
    assert.deepEqual(big.json, fixtureBody("stability/payload_too_large"));
    mock.setLimits({ stabilityMaxRequestBytes: 4096 });
    const lowered = await stabilityForm("generate/ultra", [["prompt", "x"], stabImage(makePngOfSize(5000)), ["strength", "0.5"]]);
    assert.equal(lowered.status, 413);
    assert.equal(lowered.json.name, "payload_too_large");
  });

  test("faults are scripted per key", async () => {
    await script({ key: "sk-inpaint", steps: [{ fixture: "stability/content_moderation" }, { noImage: true }] });
    const moderated = await stabilityForm("edit/inpaint", [["prompt", "x"], stabImage(), stabMask()], { key: "sk-inpaint" });
    assert.equal(moderated.status, 403);
    assert.deepEqual(moderated.json, fixtureBody("stability/content_moderation"));
    const noImage = await stabilityForm("edit/inpaint", [["prompt", "x"], stabImage(), stabMask()], { key: "sk-inpaint", accept: "application/json" });
    assert.deepEqual(noImage.json, { finish_reason: "SUCCESS", seed: 742048682 });
    assert.equal(mock.requests("sk-inpaint")[0].inputs.mask.whiteFraction, 0.25);
  });

  test("other edit endpoints are not mocked (404)", async () => {
    assert.equal((await stabilityForm("edit/erase", [stabImage()])).status, 404);
  });
});

describe("stability image-to-image on the generate routes", () => {
  test("sd3: mode=image-to-image with image and strength", async () => {
    const res = await stabilityForm("generate/sd3", [["prompt", "x"], ["mode", "image-to-image"], stabImage(), ["strength", "0.7"], ["model", "sd3.5-flash"]]);
    assert.equal(res.status, 200, res.text);
    const { inputs } = mock.requests("sk-stab-edit")[0];
    assert.deepEqual([inputs.count, inputs.mode, inputs.strength, inputs.mask], [1, "image-to-image", "0.7", null]);
    assert.equal(inputs.images[0].sha256, sha256(PNG_64));
  });

  test("sd3 refusals: no image, no or bad strength, aspect_ratio, image in text-to-image, bad mode", async () => {
    const i2i = [["prompt", "x"], ["mode", "image-to-image"]];
    assertBadRequest(await stabilityForm("generate/sd3", [...i2i, ["strength", "0.5"]]), /image: is required/);
    assertBadRequest(await stabilityForm("generate/sd3", [...i2i, stabImage()]), /strength: is required/);
    for (const strength of ["1.5", "-0.1", "abc", ""]) {
      assertBadRequest(await stabilityForm("generate/sd3", [...i2i, stabImage(), ["strength", strength]]), /strength: must be a number between 0 and 1/);
    }
    for (const strength of ["0", "1", "0.95", ".5", "1.0"]) {
      assert.equal((await stabilityForm("generate/sd3", [...i2i, stabImage(), ["strength", strength]])).status, 200, strength);
    }
    assertBadRequest(await stabilityForm("generate/sd3", [...i2i, stabImage(), ["strength", "0.5"], ["aspect_ratio", "16:9"]]), /aspect_ratio: not allowed when mode is image-to-image/);
    assertBadRequest(await stabilityForm("generate/sd3", [["prompt", "x"], stabImage(), ["strength", "0.5"]]), /image: only allowed when mode is image-to-image/);
    assertBadRequest(await stabilityForm("generate/sd3", [["prompt", "x"], ["mode", "inpaint"]]), /mode: invalid enum value/);
    assertBadRequest(await stabilityForm("generate/sd3", [...i2i, stabImage(encodePng(32, 32, { colorType: 0 })), ["strength", "0.5"]]), /at least 64 pixels/);
    assertBadRequest(await stabilityForm("generate/sd3", [...i2i, stabImage(), ["strength", "0.5"], stabMask()]), /mask: generate\/sd3 takes no mask/);
  });

  test("ultra: image + strength; its own size rules", async () => {
    assert.equal((await stabilityForm("generate/ultra", [["prompt", "x"], stabImage(JPEG_64), ["strength", "0.3"]])).status, 200);
    assertBadRequest(await stabilityForm("generate/ultra", [["prompt", "x"], stabImage()]), /strength: is required when an image is provided/);
    assert.equal((await stabilityForm("generate/ultra", [["prompt", "x"], stabImage(makeJpegHeader(16384, 1024)), ["strength", "0.3"]])).status, 200, "ultra has no 9.4 MP cap");
    assertBadRequest(await stabilityForm("generate/ultra", [["prompt", "x"], stabImage(makeJpegHeader(16385, 64)), ["strength", "0.3"]]), /at most 16384 pixels/);
    assert.equal((await stabilityForm("generate/ultra", [["prompt", "x"], ["strength", "0.3"]])).status, 200, "a stray strength without an image is ignored");
  });

  test("core takes no image", async () => {
    assertBadRequest(await stabilityForm("generate/core", [["prompt", "x"], stabImage()]), /image: generate\/core does not accept an input image/);
  });
});

// ---------- OpenAI streaming ----------

async function openaiStream(body, key = "sk-stream") {
  const res = await fetch(`${mock.url}/v1/images/generations`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-image-2", prompt: "a lighthouse", ...body }),
  });
  return res;
}

const streamBody = (partialImages) => ({ stream: true, partial_images: partialImages });

/** Reads a streamed body chunk by chunk, noting when each SSE event completed. */
async function readEvents(res) {
  const decoder = new TextDecoder();
  const reader = res.body.getReader();
  const arrivals = [];
  let text = "";
  let scanned = 0;
  let error = null;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      // Note the time each event's blank line arrives (scan only what is new).
      for (let at = text.indexOf("\n\n", scanned); at >= 0; at = text.indexOf("\n\n", scanned)) {
        arrivals.push(Date.now());
        scanned = at + 2;
      }
      scanned = Math.max(scanned, text.length - 1);
    }
  } catch (e) {
    error = e;
  }
  return { text, events: parseSse(text), arrivals, error };
}

describe("openai streaming", () => {
  test("generations: text/event-stream, previews then completed, event name = type, valid distinct images", async () => {
    const res = await openaiStream({ ...streamBody(3), size: "1536x1024", quality: "high" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    const { events, error, text } = await readEvents(res);
    assert.equal(error, null);
    assert.ok(text.endsWith("\n\n"));
    assert.deepEqual(events.map((e) => e.event), [
      "image_generation.partial_image", "image_generation.partial_image", "image_generation.partial_image", "image_generation.completed",
    ]);
    for (const { event, data } of events) {
      assert.equal(data.type, event);
      assert.equal(data.size, "1536x1024");
      assert.equal(data.quality, "high");
      assert.equal(data.background, "opaque");
      assert.equal(data.output_format, "png");
      assert.ok(Number.isInteger(data.created_at));
      assertValidPng(data.b64_json);
    }
    assert.deepEqual(events.slice(0, 3).map((e) => e.data.partial_image_index), [0, 1, 2]);
    const completed = events[3].data;
    assert.equal(completed.partial_image_index, undefined);
    assert.equal(completed.b64_json, PNG_1X1_BASE64);
    assert.deepEqual(completed.usage, { total_tokens: 1374, input_tokens: 18, output_tokens: 1356, input_tokens_details: { text_tokens: 18, image_tokens: 0 } });
    assert.equal(new Set(events.map((e) => e.data.b64_json)).size, 4, "every preview differs from the others and from the final image");

    const [entry] = mock.requests("sk-stream");
    assert.deepEqual(entry.stream, { partialImages: 3, partials: 3, events: events.map((e) => e.event), outcome: "completed" });
  });

  test("partial_images 0 (or absent) gives only the completed event", async () => {
    for (const body of [streamBody(0), { stream: true }]) {
      const { events } = await readEvents(await openaiStream(body));
      assert.deepEqual(events.map((e) => e.event), ["image_generation.completed"]);
    }
    const plain = await openai({ model: "gpt-image-2", prompt: "x", stream: false, partial_images: 2 });
    assert.equal(plain.status, 200);
    assert.match(plain.headers.get("content-type"), /^application\/json/);
  });

  test("edits: multipart stream=true gives image_edit.* events", async () => {
    const res = await fetch(`${mock.url}/v1/images/edits`, {
      method: "POST",
      headers: { authorization: "Bearer sk-stream-edit" },
      body: (() => {
        const form = new FormData();
        for (const [k, v] of [["model", "gpt-image-1.5"], ["prompt", "x"], ["stream", "true"], ["partial_images", "2"]]) form.append(k, v);
        form.append("image", blob(PNG_64, "image/png"), "a.png");
        return form;
      })(),
    });
    assert.equal(res.status, 200);
    const { events } = await readEvents(res);
    assert.deepEqual(events.map((e) => e.event), ["image_edit.partial_image", "image_edit.partial_image", "image_edit.completed"]);
    assert.deepEqual(events.map((e) => e.data.type), events.map((e) => e.event));
    assert.deepEqual(events[2].data.usage.input_tokens_details, { text_tokens: 18, image_tokens: 1280 });
    const [entry] = mock.requests("sk-stream-edit");
    assert.equal(entry.inputs.count, 1);
    assert.equal(entry.stream.outcome, "completed");
  });

  test("the mock's streams have the fixtures' events, keys and key order", async () => {
    const shape = (events) => events.map(({ event, data }) => [event, typeof data === "string" ? data : JSON.stringify(data, (k, v) => (typeof v === "object" && v !== null ? v : typeof v))]);
    const read = (name) => parseSse(fs.readFileSync(path.join(FIXTURE_DIR, "openai-stream", name), "utf8"));

    const generated = await readEvents(await openaiStream({ ...streamBody(2), size: "1024x1024", quality: "medium" }));
    assert.deepEqual(shape(generated.events), shape(read("image_generation.sse")));

    const form = new FormData();
    for (const [k, v] of [["model", "gpt-image-1.5"], ["prompt", "x"], ["size", "1024x1536"], ["quality", "high"], ["stream", "true"], ["partial_images", "1"]]) form.append(k, v);
    form.append("image", blob(PNG_64, "image/png"), "a.png");
    const edit = await readEvents(await fetch(`${mock.url}/v1/images/edits`, { method: "POST", headers: { authorization: "Bearer sk" }, body: form }));
    assert.deepEqual(shape(edit.events), shape(read("image_edit.sse")));
    assert.deepEqual(edit.events[1].data.usage, read("image_edit.sse")[1].data.usage);

    await script({ key: "sk-shape", steps: [{ stream: { errorAfter: 1 } }, { stream: { done: true } }] });
    const failed = await readEvents(await openaiStream(streamBody(2), "sk-shape"));
    assert.deepEqual(failed.events, [failed.events[0], read("error_midstream.sse")[1]]);
    assert.deepEqual(shape(failed.events), shape(read("error_midstream.sse")));
    const done = await readEvents(await openaiStream(streamBody(0), "sk-shape"));
    assert.deepEqual(shape(done.events), shape(read("completed_then_done.sse")));
    assert.ok(done.text.endsWith("data: [DONE]\n\n"));
  });

  test("scripted previews: more or fewer than asked", async () => {
    await script({ key: "sk-few", steps: [{ stream: { partials: 1 } }, { stream: { partials: 0 } }] });
    const one = await readEvents(await openaiStream(streamBody(3), "sk-few"));
    assert.deepEqual(one.events.map((e) => e.event), ["image_generation.partial_image", "image_generation.completed"]);
    assert.equal(one.events[1].data.usage.output_tokens, 1056 + 100);
    const none = await readEvents(await openaiStream(streamBody(3), "sk-few"));
    assert.deepEqual(none.events.map((e) => e.event), ["image_generation.completed"]);
    assert.deepEqual(mock.requests("sk-few").map((r) => [r.stream.partialImages, r.stream.partials]), [[3, 1], [3, 0]]);
  });

  test("delays: headers come at once, then the stream stays silent as scripted", async () => {
    await script({ key: "sk-slow", steps: [{ stream: { delaysMs: [0, 400] } }] });
    const started = Date.now();
    const res = await openaiStream(streamBody(1), "sk-slow");
    assert.equal(res.status, 200);
    assert.ok(Date.now() - started < 300, "status and headers before the silence");
    const { events, arrivals } = await readEvents(res);
    assert.equal(events.length, 2);
    assert.ok(arrivals[1] - arrivals[0] >= 350, `the final event came ${arrivals[1] - arrivals[0]} ms after the preview`);

    await script({ key: "sk-slow", steps: [{ stream: { eventDelayMs: 120 } }] });
    const begun = Date.now();
    const all = await readEvents(await openaiStream(streamBody(2), "sk-slow"));
    assert.equal(all.events.length, 3);
    assert.ok(Date.now() - begun >= 3 * 110, "eventDelayMs applies before every event");
  });

  test("a mid-stream error event: {error: {...}} from a body or a fixture, then the end", async () => {
    const error = { message: "The server had an error while processing your request.", type: "server_error", param: null, code: "server_error" };
    await script({ key: "sk-err", steps: [{ stream: { errorAfter: 1, errorBody: { error } } }, { stream: { errorAfter: 0, errorFixture: "openai/rate_limit" } }, { stream: { errorAfter: 9 } }] });
    const first = await readEvents(await openaiStream(streamBody(3), "sk-err"));
    assert.equal(first.error, null, "the stream ends cleanly");
    assert.deepEqual(first.events.map((e) => e.event), ["image_generation.partial_image", "error"]);
    assert.deepEqual(first.events[1].data, { error });
    assert.ok(first.text.includes(`event: error\ndata: ${JSON.stringify({ error })}\n\n`));

    const second = await readEvents(await openaiStream(streamBody(3), "sk-err"));
    assert.deepEqual(second.events, [{ event: "error", data: fixtureBody("openai/rate_limit") }]);
    const late = await readEvents(await openaiStream(streamBody(2), "sk-err"));
    assert.deepEqual(late.events.map((e) => e.event), ["image_generation.partial_image", "image_generation.partial_image", "error"], "an index past the previews replaces the final event");
    assert.deepEqual(mock.requests("sk-err").map((r) => r.stream.outcome), ["error", "error", "error"]);
  });

  test("a cut stream: some events, then the connection closes without a final event", async () => {
    await script({ key: "sk-cut", steps: [{ stream: { cutAfter: 2 } }, { dropAfterHeaders: true }] });
    const res = await openaiStream(streamBody(3), "sk-cut");
    assert.equal(res.status, 200);
    const { events, error } = await readEvents(res);
    assert.ok(error instanceof Error, "reading the body fails");
    assert.deepEqual(events.map((e) => e.event), ["image_generation.partial_image", "image_generation.partial_image"]);
    const headersOnly = await readEvents(await openaiStream(streamBody(3), "sk-cut"));
    assert.ok(headersOnly.error instanceof Error);
    assert.deepEqual(headersOnly.events, []);
    assert.deepEqual(mock.requests("sk-cut").map((r) => r.stream.outcome), ["cut", "cut"]);
  });

  test("a clean end without the final event (endAfter, noImage); a malformed event", async () => {
    await script({ key: "sk-end", steps: [{ stream: { endAfter: 1 } }, { noImage: true }, { malformed: true }] });
    const ended = await readEvents(await openaiStream(streamBody(2), "sk-end"));
    assert.equal(ended.error, null);
    assert.deepEqual(ended.events.map((e) => e.event), ["image_generation.partial_image"]);
    const empty = await readEvents(await openaiStream(streamBody(2), "sk-end"));
    assert.equal(empty.error, null);
    assert.equal(empty.text, "");
    const malformed = await readEvents(await openaiStream(streamBody(2), "sk-end"));
    assert.equal(malformed.events.length, 1);
    assert.equal(typeof malformed.events[0].data, "string", "its JSON does not parse");
    assert.ok(malformed.events[0].data.startsWith('{"type":"image_generation.partial_image"'));
    assert.deepEqual(mock.requests("sk-end").map((r) => r.stream.outcome), ["ended", "ended", "malformed"]);
  });

  test("sizes: previews of exactly N bytes (2 MiB here) and a final image of M bytes, all valid PNGs", async () => {
    const previewBytes = 2 * 1024 * 1024;
    await script({ key: "sk-big", after: { imageBytes: 300000, stream: { previewBytes } } });
    const { events } = await readEvents(await openaiStream(streamBody(3), "sk-big"));
    assert.equal(events.length, 4);
    for (const { data } of events.slice(0, 3)) {
      assert.equal(Buffer.from(data.b64_json, "base64").length, previewBytes);
      assertValidPng(data.b64_json);
    }
    assert.equal(Buffer.from(events[3].data.b64_json, "base64").length, 300000);
    assertValidPng(events[3].data.b64_json);
    assert.equal(new Set(events.map((e) => e.data.b64_json)).size, 4);
    // imageBytes applies to non-streamed answers too.
    const plain = await openai({ model: "gpt-image-2", prompt: "x" }, "sk-big");
    assert.equal(Buffer.from(plain.json.data[0].b64_json, "base64").length, 300000);
  });

  test("a client that goes away mid-stream is noticed (outcome client_closed)", async () => {
    await script({ key: "sk-abort", steps: [{ stream: { delaysMs: [0, 5000] } }] });
    const controller = new AbortController();
    const res = await fetch(`${mock.url}/v1/images/generations`, {
      method: "POST",
      headers: { authorization: "Bearer sk-abort", "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-image-2", prompt: "x", ...streamBody(1) }),
      signal: controller.signal,
    });
    const reader = res.body.getReader();
    const first = await reader.read();
    assert.match(new TextDecoder().decode(first.value), /^event: image_generation\.partial_image\n/);
    controller.abort();
    await assert.rejects(reader.read());
    for (let i = 0; i < 50 && mock.requests("sk-abort")[0].stream.outcome !== "client_closed"; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(mock.requests("sk-abort")[0].stream.outcome, "client_closed");
    assert.deepEqual(mock.requests("sk-abort")[0].stream.events, ["image_generation.partial_image"]);
  });

  test("errors before the stream starts are ordinary JSON answers", async () => {
    const cases = [
      [{ stream: "true" }, "invalid_type", "stream"],
      [{ stream: true, partial_images: 4 }, "integer_above_max_value", "partial_images"],
      [{ stream: true, partial_images: -1 }, "integer_below_min_value", "partial_images"],
      [{ stream: true, partial_images: "2" }, "invalid_type", "partial_images"],
      [{ stream: true, n: 2 }, "invalid_value", "n"],
    ];
    for (const [extra, code, param] of cases) {
      const res = await openai({ model: "gpt-image-2", prompt: "x", ...extra });
      assertOpenaiError(res, 400, code, param);
    }
    await script({ key: "sk-pre", steps: [{ fixture: "openai/rate_limit" }] });
    const limited = await openaiStream(streamBody(2), "sk-pre");
    assert.equal(limited.status, 429);
    assert.match(limited.headers.get("content-type"), /^application\/json/);
    const retired = await openaiStream({ ...streamBody(2), model: "gpt-image-1" });
    assert.equal(retired.status, 404);
  });

  test("stream scripts are checked when posted", async () => {
    const bad = [
      { stream: { previews: 2 } },
      { stream: { partials: -1 } },
      { stream: { delaysMs: [10, "x"] } },
      { stream: { errorAfter: 1, cutAfter: 1 } },
      { stream: { errorFixture: "openai/rate_limit" } },
      { stream: { errorAfter: 0, errorFixture: "openai/nope" } },
      { stream: "yes" },
      { imageBytes: -5 },
      { imageBytes: 100 },
      { stream: { previewBytes: 50 } },
    ];
    for (const step of bad) {
      const res = await call("/__mock/script", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ key: "k", steps: [step] }) });
      assert.equal(res.status, 400, JSON.stringify(step));
      assert.equal(res.json.error.type, "mock_error");
    }
  });

  test("stream options on a non-streaming request change nothing", async () => {
    await script({ key: "sk-nostream", after: { stream: { partials: 2, cutAfter: 0 } } });
    const res = await openai({ model: "gpt-image-2", prompt: "x" }, "sk-nostream");
    assert.equal(res.status, 200);
    assert.equal(res.json.data.length, 1);
  });

  test("previewBytes as a server option (and --preview-bytes) sizes every preview", async () => {
    const server = await startMockServer({ previewBytes: 5000 });
    try {
      const res = await fetch(`${server.url}/v1/images/generations`, {
        method: "POST",
        headers: { authorization: "Bearer sk", "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-image-2", prompt: "x", ...streamBody(2) }),
      });
      const { events } = await readEvents(res);
      assert.deepEqual(events.slice(0, 2).map((e) => Buffer.from(e.data.b64_json, "base64").length), [5000, 5000]);
      assert.equal(events[2].data.b64_json, PNG_1X1_BASE64);
    } finally {
      await server.close();
    }
  });
});

// ---------- units: images and multipart parts ----------

describe("image helpers", () => {
  test("imageInfo reads formats and sizes from headers", () => {
    assert.deepEqual(pick(imageInfo(PNG_64_RGBA), ["format", "mimeType", "width", "height", "hasAlpha", "colorType", "bitDepth"]), { format: "png", mimeType: "image/png", width: 64, height: 64, hasAlpha: true, colorType: 6, bitDepth: 8 });
    assert.deepEqual(pick(imageInfo(makeJpegHeader(640, 480)), ["format", "width", "height"]), { format: "jpeg", width: 640, height: 480 });
    assert.deepEqual(pick(imageInfo(makeWebpHeader(300, 200, { alpha: true })), ["format", "width", "height", "hasAlpha"]), { format: "webp", width: 300, height: 200, hasAlpha: true });
    // VP8 (lossy) and VP8L (lossless) headers as encoders write them.
    const vp8 = Buffer.alloc(30);
    vp8.write("RIFF", 0, "latin1");
    vp8.write("WEBPVP8 ", 8, "latin1");
    vp8.set([0x9d, 0x01, 0x2a], 23);
    vp8.writeUInt16LE(400, 26);
    vp8.writeUInt16LE(225, 28);
    assert.deepEqual(pick(imageInfo(vp8), ["format", "width", "height"]), { format: "webp", width: 400, height: 225 });
    const vp8l = Buffer.alloc(25);
    vp8l.write("RIFF", 0, "latin1");
    vp8l.write("WEBPVP8L", 8, "latin1");
    vp8l[20] = 0x2f;
    vp8l.writeUInt32LE((99 & 0x3fff) | ((49 & 0x3fff) << 14) | (1 << 28), 21);
    assert.deepEqual(pick(imageInfo(vp8l), ["width", "height", "hasAlpha"]), { width: 100, height: 50, hasAlpha: true });
    assert.equal(imageInfo(Buffer.from("GIF89a")).format, "gif");
    assert.equal(imageInfo(Buffer.from("hello world")).format, null);
    assert.equal(imageInfo(PNG_64.subarray(0, 20)).width, null);
    assert.equal(imageInfo(Buffer.alloc(0)).format, null);
  });

  test("decodePng undoes every filter type; describeMask measures both conventions", () => {
    const width = 5;
    const height = 5;
    const pixel = (x, y) => [(x * 37 + y * 11) & 0xff, (x * 5 + y * 90) & 0xff, (x * y * 7) & 0xff, x === 0 ? 0 : 255];
    const png = encodeFilteredPng(width, height, pixel);
    const decoded = decodePng(png);
    assert.ok(decoded);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) assert.deepEqual([...decoded.rgba.subarray((y * width + x) * 4, (y * width + x) * 4 + 4)], pixel(x, y), `${x},${y}`);
    }
    const stats = describeMask(OPENAI_MASK_64);
    assert.deepEqual(stats, { transparentFraction: 0.5, transparentBox: { x: 0, y: 0, width: 32, height: 64 }, whiteFraction: 0, whiteBox: null });
    assert.deepEqual(describeMask(STABILITY_MASK_64).whiteBox, { x: 0, y: 0, width: 64, height: 16 });
    assert.equal(describeMask(makeJpegHeader(8, 8)), null);
    assert.equal(describeMask(Buffer.from("junk")), null);
  });

  test("makePngOfSize: exact sizes, valid, deterministic, labels make images differ", () => {
    assert.equal(makePngOfSize(128, { label: "preview 10" }).length, 128, "the documented minimum is exact");
    for (const size of [200, 4096, 1000003]) {
      const png = makePngOfSize(size);
      assert.equal(png.length, size);
      assertValidPng(png.toString("base64"));
    }
    assert.deepEqual(makePngOfSize(5000, { label: "a" }), makePngOfSize(5000, { label: "a" }));
    assert.notDeepEqual(makePngOfSize(5000, { label: "a" }), makePngOfSize(5000, { label: "b" }));
    assert.notDeepEqual(makePngOfSize(undefined, { label: "preview 0" }), Buffer.from(PNG_1X1_BASE64, "base64"));
  });

  test("parseMultipartParts keeps bytes, names and declared types in order", async () => {
    const form = new FormData();
    form.append("image[]", blob(PNG_64, "image/png"), "a.png");
    form.append("prompt", "p");
    form.append("image[]", blob(JPEG_64), "b.jpg");
    const request = new Request("http://x/", { method: "POST", body: form });
    const parts = parseMultipartParts(Buffer.from(await request.arrayBuffer()), request.headers.get("content-type"));
    assert.deepEqual(parts.map((p) => [p.name, p.filename, p.contentType]), [["image[]", "a.png", "image/png"], ["prompt", undefined, undefined], ["image[]", "b.jpg", "application/octet-stream"]]);
    assert.deepEqual(parts[0].data, PNG_64);
    assert.deepEqual(parts[2].data, JPEG_64);
  });
});

function pick(object, keys) {
  return Object.fromEntries(keys.map((k) => [k, object[k]]));
}

/** An RGBA PNG whose rows use filters 0..4 in turn (encodePng only writes filter 0). */
function encodeFilteredPng(width, height, pixel) {
  const bpp = 4;
  const stride = width * bpp;
  const rows = [];
  for (let y = 0; y < height; y++) rows.push(Buffer.from(Array.from({ length: width }, (_, x) => pixel(x, y)).flat()));
  const raw = [];
  for (let y = 0; y < height; y++) {
    const filter = y % 5;
    const out = Buffer.alloc(stride + 1);
    out[0] = filter;
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? rows[y][i - bpp] : 0;
      const b = y > 0 ? rows[y - 1][i] : 0;
      const c = i >= bpp && y > 0 ? rows[y - 1][i - bpp] : 0;
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const predictor = [0, a, b, (a + b) >> 1, paeth][filter];
      out[i + 1] = (rows[y][i] - predictor) & 0xff;
    }
    raw.push(out);
  }
  const reference = encodePng(width, height, { colorType: 6, pixel });
  // Same header and end as a filter-0 PNG; only the IDAT differs.
  return Buffer.concat([reference.subarray(0, 33), pngChunk("IDAT", zlib.deflateSync(Buffer.concat(raw))), pngChunk("IEND", Buffer.alloc(0))]);
}

describe("CLI limits", () => {
  test("--limit and --preview-bytes are applied", async () => {
    const { child, exited, line } = await startCli(["--limit", "geminiMaxRequestBytes=1234", "--limit=stabilityMaxRequestBytes=99999", "--preview-bytes", "777"]);
    try {
      const { url } = JSON.parse(line);
      const config = await (await fetch(`${url}/__mock/config`)).json();
      assert.equal(config.limits.geminiMaxRequestBytes, 1234);
      assert.equal(config.limits.stabilityMaxRequestBytes, 99999);
      const res = await fetch(`${url}/v1/images/generations`, {
        method: "POST",
        headers: { authorization: "Bearer sk", "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-image-2", prompt: "x", stream: true, partial_images: 1 }),
      });
      const events = parseSse(await res.text());
      assert.equal(Buffer.from(events[0].data.b64_json, "base64").length, 777);
    } finally {
      child.kill("SIGTERM");
    }
    assert.deepEqual(await exited, { code: 0, signal: null });
  });
});
