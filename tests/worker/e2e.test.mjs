// End-to-end: keys, config, generation with retry/fallback, model routing, error statuses,
// key storage format and master-key rotation, against the built Worker in Miniflare and the
// mock provider server.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  KEK,
  PNG_1X1_BASE64,
  assertNoSecrets,
  assertRfc3339,
  assertSnakeCase,
  devToken,
  expectError,
  expectStatus,
  fakeKey,
  generate,
  generationRequests,
  kvConfigName,
  kvKeyName,
  legacyKvConfigName,
  legacyKvKeyName,
  putConfig,
  putKey,
  scriptKey,
  show,
  startMockServer,
  startWorker,
  storeConfig,
  storeKey,
  uid,
  validationRequests,
} from "./helpers.mjs";

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

/** A new user with a token. */
function newUser(prefix = "e2e") {
  const sub = uid(prefix);
  return { sub, token: devToken(sub) };
}

/** Asserts one `attempts[]` entry has the documented snake_case shape. */
function assertAttemptShape(a, where) {
  for (const field of ["provider", "model", "outcome"]) {
    assert.equal(typeof a[field], "string", `${where}.${field} must be a string: ${JSON.stringify(a)}`);
  }
  for (const field of ["part", "attempt", "started_at_ms", "duration_ms", "images"]) {
    assert.ok(Number.isInteger(a[field]) && a[field] >= 0, `${where}.${field} must be an integer: ${JSON.stringify(a)}`);
  }
  assert.ok(a.attempt >= 1, `${where}.attempt is 1-based: ${JSON.stringify(a)}`);
}

/** Asserts the success body shape and returns it. */
function expectImages(res, n, what) {
  expectStatus(res, 200, what);
  const body = res.json;
  assert.ok(Number.isInteger(body.created), `created must be unix seconds: ${show(res)}`);
  assert.ok(Math.abs(body.created - Date.now() / 1000) < 600, `created ${body.created} is not now`);
  assert.ok(Array.isArray(body.data), `data: ${show(res)}`);
  assert.equal(body.data.length, n, `${what}: expected ${n} images: ${show(res)}`);
  for (const image of body.data) {
    assert.equal(typeof image.b64_json, "string", `b64_json: ${show(res)}`);
    assert.ok(image.b64_json.length > 0);
    assert.equal(typeof image.mime_type, "string");
    assert.equal(typeof image.provider, "string");
    assert.equal(typeof image.model, "string");
  }
  assert.ok(Array.isArray(body.attempts) && body.attempts.length >= 1, `attempts: ${show(res)}`);
  body.attempts.forEach((a, i) => assertAttemptShape(a, `attempts[${i}]`));
  assert.ok(Array.isArray(body.warnings), `warnings: ${show(res)}`);
  assert.ok(Array.isArray(body.errors), `errors: ${show(res)}`);
  const { data, ...rest } = body;
  assertSnakeCase(rest, "generation response");
  assertSnakeCase(data.map(({ b64_json, ...meta }) => meta), "data");
  return body;
}

/** Asserts a stored-key response/list entry. */
function assertKeyInfo(info, provider, apiKey, keyVersion) {
  assert.equal(info.provider, provider);
  assert.equal(info.last4, apiKey.slice(-4));
  assert.equal(info.keyVersion, keyVersion);
  assertRfc3339(info.updatedAt, `${provider} updatedAt`);
  assert.ok(Math.abs(Date.parse(info.updatedAt) - Date.now()) < 600_000, `updatedAt ${info.updatedAt} is not now`);
  assert.ok(!("apiKey" in info) && !("api_key" in info) && !("key" in info), `key material returned: ${JSON.stringify(info)}`);
}

/** Asserts the stored KV record format: AES-GCM ciphertext, never the key in clear. */
function assertStoredRecord(raw, apiKey, kid) {
  assert.ok(raw, "KV record missing");
  assert.ok(!raw.includes(apiKey), "API key stored in clear");
  assert.ok(!raw.includes(apiKey.slice(0, -4)), "API key prefix stored in clear");
  assert.ok(!raw.includes(Buffer.from(apiKey).toString("base64").slice(0, 16)), "API key stored as base64");
  const record = JSON.parse(raw);
  assert.equal(record.v, 1, `record.v: ${raw}`);
  assert.equal(record.kid, kid, `record.kid: ${raw}`);
  assert.equal(Buffer.from(record.nonce, "base64").length, 12, `96-bit nonce: ${raw}`);
  assert.equal(Buffer.from(record.ct, "base64").length, Buffer.byteLength(apiKey) + 16, `ciphertext + 16-byte tag: ${raw}`);
  assert.equal(record.last4, apiKey.slice(-4));
  assertRfc3339(record.updatedAt, "record.updatedAt");
  return record;
}

describe("keys", () => {
  test("PUT validates with the provider, stores encrypted; GET lists; DELETE removes", async () => {
    const { sub, token } = newUser();
    const openaiKey = fakeKey("e2e", "openai");
    const geminiKey = fakeKey("e2e", "gemini");

    const putOpenai = await putKey(worker, token, "openai", openaiKey);
    expectStatus(putOpenai, 200, "PUT openai");
    assertKeyInfo(putOpenai.json, "openai", openaiKey, "k1");
    const putGemini = await putKey(worker, token, "gemini", geminiKey);
    expectStatus(putGemini, 200, "PUT gemini");
    assertKeyInfo(putGemini.json, "gemini", geminiKey, "k1");

    // The mock saw exactly one validation request per key, with that key, on that provider.
    const openaiChecks = validationRequests(mock, openaiKey);
    assert.equal(openaiChecks.length, 1, "one OpenAI key validation");
    assert.equal(openaiChecks[0].provider, "openai");
    assert.equal(openaiChecks[0].headers.authorization, `Bearer ${openaiKey}`);
    const geminiChecks = validationRequests(mock, geminiKey);
    assert.equal(geminiChecks.length, 1, "one Gemini key validation");
    assert.equal(geminiChecks[0].provider, "gemini");
    assert.equal(geminiChecks[0].headers["x-goog-api-key"], geminiKey);
    assert.ok(!geminiChecks[0].query?.includes?.("key="), "Gemini key must go in the header, not the query");

    const list = await worker.request("/v1/keys", { token });
    expectStatus(list, 200, "GET /v1/keys");
    assert.ok(Array.isArray(list.json.data), show(list));
    const byProvider = Object.fromEntries(list.json.data.map((e) => [e.provider, e]));
    assert.deepEqual(Object.keys(byProvider).sort(), ["gemini", "openai"], show(list));
    assertKeyInfo(byProvider.openai, "openai", openaiKey, "k1");
    assertKeyInfo(byProvider.gemini, "gemini", geminiKey, "k1");

    const kv = await worker.kv();
    assertStoredRecord(await kv.get(kvKeyName(sub, "openai")), openaiKey, "k1");
    assertStoredRecord(await kv.get(kvKeyName(sub, "gemini")), geminiKey, "k1");

    const del = await worker.request("/v1/keys/openai", { method: "DELETE", token });
    expectStatus(del, 200, "DELETE openai");
    assert.deepEqual(del.json, { provider: "openai", deleted: true });
    assert.equal(await (await worker.kv()).get(kvKeyName(sub, "openai")), null, "KV record removed");
    const again = await worker.request("/v1/keys/openai", { method: "DELETE", token });
    expectError(again, { status: 404 }, "second DELETE");
    const after = await worker.request("/v1/keys", { token });
    expectStatus(after, 200);
    assert.deepEqual(after.json.data.map((e) => e.provider), ["gemini"], show(after));
  });

  test("the same key stored twice gets a fresh nonce and ciphertext", async () => {
    const { sub, token } = newUser();
    const key = fakeKey("e2e", "openai");
    await storeKey(worker, token, "openai", key);
    const first = JSON.parse(await (await worker.kv()).get(kvKeyName(sub, "openai")));
    await storeKey(worker, token, "openai", key);
    const second = JSON.parse(await (await worker.kv()).get(kvKeyName(sub, "openai")));
    assert.notEqual(first.nonce, second.nonce, "nonce reused");
    assert.notEqual(first.ct, second.ct, "ciphertext repeated");
  });

  test("an invalid key is rejected with 400 invalid_api_key and nothing is stored", async () => {
    const { sub, token } = newUser();
    const bad = fakeKey("e2e", "openai").replace("sk-", "invalid-sk-");
    const res = await putKey(worker, token, "openai", bad);
    expectError(res, { status: 400, code: "invalid_api_key", param: "apiKey", type: "invalid_request_error" }, "PUT invalid key");
    assert.equal(validationRequests(mock, bad).length, 1, "the key was checked with the provider");
    assert.equal(await (await worker.kv()).get(kvKeyName(sub, "openai")), null, "nothing stored");
    const list = await worker.request("/v1/keys", { token });
    expectStatus(list, 200);
    assert.deepEqual(list.json.data, []);

    const badGemini = fakeKey("e2e", "gemini").replace("sk-", "invalid-sk-");
    const gem = await putKey(worker, token, "gemini", badGemini);
    expectError(gem, { status: 400, code: "invalid_api_key", param: "apiKey" }, "PUT invalid gemini key");
    assert.equal(await (await worker.kv()).get(kvKeyName(sub, "gemini")), null, "nothing stored");
  });

  test("?validate=false stores without asking the provider", async () => {
    const { token } = newUser();
    const key = fakeKey("e2e", "openai").replace("sk-", "invalid-sk-");
    const res = await putKey(worker, token, "openai", key, { validate: false });
    expectStatus(res, 200, "PUT ?validate=false");
    assertKeyInfo(res.json, "openai", key, "k1");
    assert.equal(mock.requests(key).length, 0, "no provider request");
    const list = await worker.request("/v1/keys", { token });
    assert.deepEqual(list.json.data.map((e) => e.provider), ["openai"], show(list));
  });

  test("bad PUT /v1/keys requests are 400 with param", async () => {
    const { sub, token } = newUser();
    const mockKey = await putKey(worker, token, "mock", fakeKey("e2e", "mock"));
    expectError(mockKey, { status: 400, type: "invalid_request_error" }, "PUT /v1/keys/mock");
    const missing = await worker.request("/v1/keys/openai", { method: "PUT", token, json: {} });
    expectError(missing, { status: 400, param: "apiKey" }, "missing apiKey");
    const empty = await worker.request("/v1/keys/openai", { method: "PUT", token, json: { apiKey: "" } });
    expectError(empty, { status: 400, param: "apiKey" }, "empty apiKey");
    const number = await worker.request("/v1/keys/openai", { method: "PUT", token, json: { apiKey: 1234 } });
    expectError(number, { status: 400, param: "apiKey" }, "numeric apiKey");
    const unknown = await putKey(worker, token, "midjourney", fakeKey("e2e", "x"));
    expectError(unknown, {}, "PUT unknown provider");
    assert.ok([400, 404].includes(unknown.status), show(unknown));
    const kv = await worker.kv();
    for (const prefix of [kvKeyName(sub, ""), legacyKvKeyName(sub, "")]) {
      const { keys } = await kv.list({ prefix });
      assert.deepEqual(keys, [], `nothing stored under ${prefix}`);
    }
  });

  test("DELETE of a key never stored is 404", async () => {
    const { token } = newUser();
    const res = await worker.request("/v1/keys/gemini", { method: "DELETE", token });
    expectError(res, { status: 404 }, "DELETE without key");
  });

  test("KV names come from a hash of the user id, so any sub works (254 '|', 127 'é')", async () => {
    for (const sub of ["|".repeat(254), "é".repeat(127), `e2e user@example.com/ä:${uid("x")}`]) {
      const token = devToken(sub);
      const key = fakeKey("e2e", "openai");
      const put = await putKey(worker, token, "openai", key);
      expectStatus(put, 200, `PUT key, sub ${sub.slice(0, 8)}…`);
      expectStatus(await putConfig(worker, token, { providers: [{ provider: "openai" }] }), 200, "PUT config");
      const gen = await generate(worker, token, { prompt: "long sub" });
      expectStatus(gen, 200, "generation");
      const list = await worker.request("/v1/keys", { token });
      assert.deepEqual(list.json.data.map((e) => e.provider), ["openai"], show(list));
      expectStatus(await worker.request("/v1/config", { token }), 200, "GET config");
      const kv = await worker.kv();
      assert.match(kvKeyName(sub, "openai"), /^key:#[0-9a-f]{64}:openai$/);
      assertStoredRecord(await kv.get(kvKeyName(sub, "openai")), key, "k1");
      assert.ok(await kv.get(kvConfigName(sub)), "config under its hashed name");
      expectStatus(await worker.request("/v1/keys/openai", { method: "DELETE", token }), 200, "DELETE");
      assert.equal(await kv.get(kvKeyName(sub, "openai")), null);
    }
  });

  test("records stored under the old (percent-encoded) names are still found and move on the next write", async () => {
    // Written by an earlier version: the same encryption (bound to the real sub), older names.
    const { sub, token } = newUser("legacy");
    const key = fakeKey("e2e", "openai");
    const kv = await worker.kv();
    // Encrypting for `sub` needs the Worker: store it, then move it to the old names.
    await storeKey(worker, token, "openai", key);
    await storeConfig(worker, token, [{ provider: "openai" }]);
    const record = await kv.get(kvKeyName(sub, "openai"));
    const config = await kv.get(kvConfigName(sub));
    await kv.put(legacyKvKeyName(sub, "openai"), record);
    await kv.put(legacyKvConfigName(sub), config);
    await kv.delete(kvKeyName(sub, "openai"));
    await kv.delete(kvConfigName(sub));

    const list = await worker.request("/v1/keys", { token });
    assert.deepEqual(list.json.data.map((e) => e.provider), ["openai"], `listed from the old name: ${show(list)}`);
    expectStatus(await worker.request("/v1/config", { token }), 200, "config from the old name");
    const before = generationRequests(mock, key).length;
    const gen = await generate(worker, token, { prompt: "from old names" });
    expectStatus(gen, 200, "generation with records under the old names");
    assert.equal(generationRequests(mock, key).length, before + 1);
    assert.equal(await kv.get(kvKeyName(sub, "openai")), null, "reads never write");
    assert.equal(await kv.get(legacyKvKeyName(sub, "openai")), record, "reads never write");

    // A write moves the record: stored under the new name, the old one removed.
    await storeKey(worker, token, "openai", key);
    await storeConfig(worker, token, [{ provider: "openai" }]);
    assert.ok(await kv.get(kvKeyName(sub, "openai")));
    assert.equal(await kv.get(legacyKvKeyName(sub, "openai")), null, "old key name removed");
    assert.equal(await kv.get(legacyKvConfigName(sub)), null, "old config name removed");

    // DELETE removes a record under either name.
    await kv.put(legacyKvKeyName(sub, "gemini"), record);
    const del = await worker.request("/v1/keys/gemini", { method: "DELETE", token });
    expectStatus(del, 200, "DELETE of a record under its old name");
    assert.equal(await kv.get(legacyKvKeyName(sub, "gemini")), null);
  });
});

describe("config", () => {
  test("GET is 404 before anything is stored; PUT returns and GET echoes the config", async () => {
    const { sub, token } = newUser();
    const none = await worker.request("/v1/config", { token });
    expectError(none, { status: 404 }, "GET /v1/config (none)");

    const put = await putConfig(worker, token, {
      providers: [{ provider: "openai", model: "gpt-image-2" }, { provider: "gemini" }],
    });
    expectStatus(put, 200, "PUT /v1/config");
    assert.deepEqual(put.json.providers.map((p) => p.provider), ["openai", "gemini"], show(put));
    assert.equal(put.json.providers[0].model, "gpt-image-2");
    const get = await worker.request("/v1/config", { token });
    expectStatus(get, 200, "GET /v1/config");
    assert.deepEqual(get.json.providers.map((p) => p.provider), ["openai", "gemini"], show(get));
    assert.equal(get.json.providers[0].model, "gpt-image-2");
    assert.ok(await (await worker.kv()).get(kvConfigName(sub)), "config stored in KV under config:<user>");

    const replaced = await putConfig(worker, token, { providers: [{ provider: "mock" }] });
    expectStatus(replaced, 200);
    const get2 = await worker.request("/v1/config", { token });
    assert.deepEqual(get2.json.providers.map((p) => p.provider), ["mock"], show(get2));
  });

  test("four providers (all known names, mock included) are accepted", async () => {
    const { token } = newUser();
    const res = await putConfig(worker, token, {
      providers: [{ provider: "stability" }, { provider: "gemini" }, { provider: "openai" }, { provider: "mock" }],
    });
    expectStatus(res, 200, "PUT 4 providers");
    assert.deepEqual(res.json.providers.map((p) => p.provider), ["stability", "gemini", "openai", "mock"]);
  });

  const invalid = [
    ["no providers field", {}],
    ["providers not an array", { providers: "openai" }],
    ["empty chain", { providers: [] }],
    ["five providers", { providers: ["openai", "gemini", "stability", "mock", "openai"].map((provider) => ({ provider })) }],
    ["unknown provider", { providers: [{ provider: "midjourney" }] }],
    ["duplicate provider", { providers: [{ provider: "openai" }, { provider: "gemini" }, { provider: "openai" }] }],
    ["entry without provider", { providers: [{ model: "gpt-image-2" }] }],
    ["model not a string", { providers: [{ provider: "openai", model: 7 }] }],
  ];
  for (const [name, body] of invalid) {
    test(`PUT /v1/config rejects: ${name}`, async () => {
      const { token } = newUser();
      const res = await putConfig(worker, token, body);
      const error = expectError(res, { status: 400, type: "invalid_request_error" }, name);
      assert.equal(typeof error.param, "string", `param must name the field: ${show(res)}`);
      assert.ok(error.param.startsWith("providers"), `param ${error.param} should point into providers`);
      const get = await worker.request("/v1/config", { token });
      expectError(get, { status: 404 }, "nothing stored after a rejected PUT");
    });
  }
});

describe("generation: fallback, routing, statuses", () => {
  const user = newUser("flow");
  let openaiKey = fakeKey("e2e", "openai");
  const geminiKey = fakeKey("e2e", "gemini");

  before(async () => {
    await storeKey(worker, user.token, "openai", openaiKey);
    await storeKey(worker, user.token, "gemini", geminiKey);
    await storeConfig(worker, user.token, [{ provider: "openai", model: "gpt-image-2" }, { provider: "gemini" }]);
  });

  test("primary succeeds: n=2 from OpenAI in one call, key sent as Bearer to the mock", async () => {
    await scriptKey(mock, openaiKey, []);
    const before = generationRequests(mock, openaiKey).length;
    const res = await generate(worker, user.token, { prompt: "a lighthouse at dawn", n: 2 });
    const body = expectImages(res, 2, "primary ok");
    for (const image of body.data) {
      assert.equal(image.provider, "openai");
      assert.equal(image.model, "gpt-image-2");
      assert.equal(image.b64_json, PNG_1X1_BASE64);
      assert.equal(image.mime_type, "image/png");
    }
    assert.deepEqual(body.attempts.map((a) => [a.provider, a.outcome]), [["openai", "ok"]]);
    assert.equal(body.attempts[0].images, 2);
    assert.deepEqual(body.errors, []);
    const sent = generationRequests(mock, openaiKey).slice(before);
    assert.equal(sent.length, 1, "one provider call");
    assert.equal(sent[0].headers.authorization, `Bearer ${openaiKey}`);
    assert.equal(sent[0].body.prompt, "a lighthouse at dawn");
    assert.equal(sent[0].body.n, 2);
    assert.equal(sent[0].body.model, "gpt-image-2");
  });

  test("primary 401 (invalid_api_key) falls back to Gemini", async () => {
    await scriptKey(mock, openaiKey, [{ fixture: "openai/invalid_api_key" }]);
    const openaiBefore = generationRequests(mock, openaiKey).length;
    const geminiBefore = generationRequests(mock, geminiKey).length;
    const res = await generate(worker, user.token, { prompt: "a red fox in snow", n: 2 });
    const body = expectImages(res, 2, "fallback after 401");
    for (const image of body.data) {
      assert.equal(image.provider, "gemini");
      assert.equal(image.model, "gemini-nano-banana-2.1");
      assert.equal(image.b64_json, PNG_1X1_BASE64);
      assert.equal(image.mime_type, "image/png");
    }
    const [first, ...rest] = body.attempts;
    assert.equal(first.provider, "openai");
    assert.equal(first.outcome, "auth");
    assert.equal(first.status, 401);
    assert.equal(first.attempt, 1);
    assert.equal(first.images, 0);
    assert.ok(rest.length >= 1);
    for (const a of rest) {
      assert.equal(a.provider, "gemini", JSON.stringify(body.attempts));
      assert.equal(a.outcome, "ok", JSON.stringify(body.attempts));
    }
    assert.equal(rest.reduce((sum, a) => sum + a.images, 0), 2);
    assert.deepEqual(body.errors, [], "a recovered failure is not an error");
    assert.equal(generationRequests(mock, openaiKey).length - openaiBefore, 1, "auth is not retried");
    const geminiCalls = generationRequests(mock, geminiKey).slice(geminiBefore);
    assert.equal(geminiCalls.length, 2, "Gemini returns one image per call");
    for (const call of geminiCalls) {
      assert.equal(call.path, "/v1beta/models/gemini-nano-banana-2.1:generateContent");
      assert.equal(call.headers["x-goog-api-key"], geminiKey);
    }
    // The refused key's circuit is now open (per key): the next request skips
    // OpenAI without calling it, until the user stores a new key.
    const skipped = await generate(worker, user.token, { prompt: "after a 401" });
    const skippedBody = expectImages(skipped, 1, "circuit open");
    assert.equal(skippedBody.data[0].provider, "gemini");
    assert.ok(skippedBody.attempts.every((a) => a.provider === "gemini"), JSON.stringify(skippedBody.attempts));
    assert.equal(generationRequests(mock, openaiKey).length - openaiBefore, 1, "OpenAI not called while its circuit is open");
    openaiKey = fakeKey("e2e", "openai");
    await storeKey(worker, user.token, "openai", openaiKey);
  });

  test("primary 503 three times (retried) falls back to Gemini", async () => {
    const overloaded = { fixture: "openai/overloaded" };
    await scriptKey(mock, openaiKey, [overloaded, overloaded, overloaded]);
    const openaiBefore = generationRequests(mock, openaiKey).length;
    const res = await generate(worker, user.token, { prompt: "a red fox in snow", n: 2 });
    const body = expectImages(res, 2, "fallback after 3x503");
    assert.ok(body.data.every((d) => d.provider === "gemini"), JSON.stringify(body.data.map((d) => d.provider)));
    const openaiAttempts = body.attempts.filter((a) => a.provider === "openai");
    assert.deepEqual(openaiAttempts.map((a) => [a.attempt, a.outcome, a.status]), [
      [1, "provider_error", 503],
      [2, "provider_error", 503],
      [3, "provider_error", 503],
    ]);
    const geminiAttempts = body.attempts.filter((a) => a.provider === "gemini");
    assert.ok(geminiAttempts.length >= 1 && geminiAttempts.every((a) => a.outcome === "ok"), JSON.stringify(body.attempts));
    assert.equal(body.attempts.indexOf(geminiAttempts[0]) > body.attempts.indexOf(openaiAttempts[2]), true, "fallback after the last retry");
    assert.equal(generationRequests(mock, openaiKey).length - openaiBefore, 3, "three OpenAI calls");
  });

  test("primary 503 once is retried on the same provider", async () => {
    await scriptKey(mock, openaiKey, [{ fixture: "openai/overloaded" }]);
    const res = await generate(worker, user.token, { prompt: "retry me", n: 1 });
    const body = expectImages(res, 1, "retry then ok");
    assert.equal(body.data[0].provider, "openai");
    assert.deepEqual(body.attempts.map((a) => [a.provider, a.attempt, a.outcome]), [
      ["openai", 1, "provider_error"],
      ["openai", 2, "ok"],
    ]);
    await scriptKey(mock, openaiKey, []);
  });

  test('model "auto" and absent use the configured chain (OpenAI first)', async () => {
    await scriptKey(mock, openaiKey, []);
    for (const model of ["auto", undefined]) {
      const res = await generate(worker, user.token, { prompt: "auto routing", ...(model ? { model } : {}) });
      const body = expectImages(res, 1, `model ${model}`);
      assert.equal(body.data[0].provider, "openai");
      assert.equal(body.attempts[0].provider, "openai");
    }
  });

  test('model "gemini" puts Gemini first', async () => {
    const openaiBefore = generationRequests(mock, openaiKey).length;
    const res = await generate(worker, user.token, { prompt: "gemini first", model: "gemini" });
    const body = expectImages(res, 1, "model gemini");
    assert.equal(body.data[0].provider, "gemini");
    assert.equal(body.data[0].model, "gemini-nano-banana-2.1");
    assert.deepEqual(body.attempts.map((a) => a.provider), ["gemini"]);
    assert.equal(generationRequests(mock, openaiKey).length, openaiBefore, "OpenAI not called");
  });

  test('model "gemini/gemini-3-pro-image" selects that model', async () => {
    const before = generationRequests(mock, geminiKey).length;
    const res = await generate(worker, user.token, { prompt: "pro model", model: "gemini/gemini-3-pro-image" });
    const body = expectImages(res, 1, "model gemini/gemini-3-pro-image");
    assert.equal(body.data[0].provider, "gemini");
    assert.equal(body.data[0].model, "gemini-3-pro-image");
    const calls = generationRequests(mock, geminiKey).slice(before);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].path, "/v1beta/models/gemini-3-pro-image:generateContent");
  });

  test('model "openai/gpt-image-1.5" selects that OpenAI model', async () => {
    const before = generationRequests(mock, openaiKey).length;
    const res = await generate(worker, user.token, { prompt: "newer model", model: "openai/gpt-image-1.5" });
    const body = expectImages(res, 1, "model openai/gpt-image-1.5");
    assert.equal(body.data[0].model, "gpt-image-1.5");
    const calls = generationRequests(mock, openaiKey).slice(before);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].body.model, "gpt-image-1.5");
  });

  test('model "gemini" falls back to the other configured provider', async () => {
    await scriptKey(mock, geminiKey, [{ fixture: "gemini/api_key_invalid" }]);
    await scriptKey(mock, openaiKey, []);
    const res = await generate(worker, user.token, { prompt: "fallback from named", model: "gemini" });
    const body = expectImages(res, 1, "named provider fallback");
    assert.equal(body.data[0].provider, "openai");
    assert.deepEqual(body.attempts.map((a) => [a.provider, a.outcome]), [
      ["gemini", "auth"],
      ["openai", "ok"],
    ]);
    await scriptKey(mock, geminiKey, []);
  });

  test('model "mock" needs no key and calls no provider', async () => {
    const before = mock.requests().length;
    const res = await generate(worker, user.token, { prompt: "mock images", model: "mock", n: 3 });
    const body = expectImages(res, 3, "model mock");
    for (const image of body.data) {
      assert.equal(image.provider, "mock");
      assert.equal(image.mime_type, "image/svg+xml");
      assert.match(Buffer.from(image.b64_json, "base64").toString("utf8"), /^<svg/);
    }
    assert.equal(mock.requests().length, before, "no request to the provider server");
  });

  test("a provider outside the chain without a stored key is refused; with a key it is used", async () => {
    const before = mock.requests().filter((r) => r.provider === "stability").length;
    const refused = await generate(worker, user.token, { prompt: "stability?", model: "stability" });
    expectError(refused, {}, "model stability without key");
    assert.ok([400, 409].includes(refused.status), `expected 400/409: ${show(refused)}`);
    assert.equal(mock.requests().filter((r) => r.provider === "stability").length, before, "no stability request");

    const stabilityKey = fakeKey("e2e", "stability");
    await storeKey(worker, user.token, "stability", stabilityKey);
    const res = await generate(worker, user.token, { prompt: "stability now", model: "stability" });
    const body = expectImages(res, 1, "model stability with key");
    assert.equal(body.data[0].provider, "stability");
    assert.equal(body.attempts[0].provider, "stability");
    const calls = generationRequests(mock, stabilityKey);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].headers.authorization, `Bearer ${stabilityKey}`);
  });

  test("an unknown provider in model is 400 param model", async () => {
    const res = await generate(worker, user.token, { prompt: "x", model: "midjourney" });
    expectError(res, { status: 400, param: "model", type: "invalid_request_error" }, "unknown model provider");
  });

  test("extension fields are accepted and unknown fields ignored", async () => {
    await scriptKey(mock, openaiKey, []);
    const before = generationRequests(mock, openaiKey).length;
    const res = await generate(worker, user.token, {
      prompt: "options",
      n: 1,
      size: "1024x1024",
      quality: "high",
      output_format: "png",
      background: "opaque",
      user: "end-user-1",
      seed: 42,
      negative_prompt: "blur",
      totally_unknown_field: { nested: true },
    });
    const body = expectImages(res, 1, "with options");
    assert.equal(body.data[0].provider, "openai");
    const call = generationRequests(mock, openaiKey).slice(before)[0];
    assert.equal(call.body.size, "1024x1024");
    assert.equal(call.body.quality, "high");
    assert.ok(!("totally_unknown_field" in call.body), "unknown field forwarded");
    // OpenAI cannot take a seed or negative prompt: reported as warnings, not sent.
    assert.ok(!("seed" in call.body) && !("negative_prompt" in call.body), JSON.stringify(call.body));
    assert.ok(body.warnings.length >= 1, `expected unsupported_option warnings: ${show(res)}`);
  });

  const badRequests = [
    ["missing prompt", { n: 1 }, "prompt"],
    ["empty prompt", { prompt: "" }, "prompt"],
    ["blank prompt", { prompt: "   " }, "prompt"],
    ["prompt not a string", { prompt: 42 }, "prompt"],
    ["n = 0", { prompt: "x", n: 0 }, "n"],
    ["n = 11", { prompt: "x", n: 11 }, "n"],
    ["n = 1.5", { prompt: "x", n: 1.5 }, "n"],
    ['n = "2"', { prompt: "x", n: "2" }, "n"],
    ["size not WxH", { prompt: "x", size: "huge" }, "size"],
    ["size 0x0", { prompt: "x", size: "0x0" }, "size"],
  ];
  for (const [name, body, param] of badRequests) {
    test(`generation rejects ${name}: 400 param ${param}`, async () => {
      const before = mock.requests().length;
      const res = await generate(worker, user.token, body);
      expectError(res, { status: 400, param, type: "invalid_request_error" }, name);
      assert.equal(mock.requests().length, before, "no provider request for an invalid request");
    });
  }

  test("a body that is not a JSON object is 400", async () => {
    for (const raw of ["{", "[]", '"prompt"', "null"]) {
      const res = await worker.request("/v1/images/generations", {
        method: "POST",
        token: user.token,
        body: raw,
        headers: { "content-type": "application/json" },
      });
      expectError(res, { status: 400, type: "invalid_request_error" }, `body ${raw}`);
    }
  });
});

describe("generation: key lifecycle and partial results", () => {
  test("a replaced key is used from then on; a deleted key is no longer used", async () => {
    const { token } = newUser("life");
    const first = fakeKey("e2e", "openai");
    const second = fakeKey("e2e", "openai");
    const geminiKey = fakeKey("e2e", "gemini");
    await storeKey(worker, token, "openai", first);
    await storeKey(worker, token, "gemini", geminiKey);
    await storeConfig(worker, token, [{ provider: "openai" }, { provider: "gemini" }]);
    await storeKey(worker, token, "openai", second);
    const res = await generate(worker, token, { prompt: "replaced" });
    expectImages(res, 1, "after replacing the key");
    assert.equal(generationRequests(mock, first).length, 0, "old key not used");
    assert.equal(generationRequests(mock, second).length, 1, "new key used");

    const del = await worker.request("/v1/keys/openai", { method: "DELETE", token });
    expectStatus(del, 200);
    const after = await generate(worker, token, { prompt: "deleted" });
    const body = expectImages(after, 1, "after deleting the primary's key");
    assert.equal(body.data[0].provider, "gemini", "the chain skips (or fails over from) the provider without key");
    assert.equal(generationRequests(mock, second).length, 1, "deleted key not used");
  });

  test("the configured model is used", async () => {
    const { token } = newUser("cfgmodel");
    const key = fakeKey("e2e", "gemini");
    await storeKey(worker, token, "gemini", key);
    await storeConfig(worker, token, [{ provider: "gemini", model: "gemini-3.1-flash-image" }]);
    const res = await generate(worker, token, { prompt: "configured model" });
    const body = expectImages(res, 1, "configured model");
    assert.equal(body.data[0].model, "gemini-3.1-flash-image");
    assert.equal(generationRequests(mock, key)[0].path, "/v1beta/models/gemini-3.1-flash-image:generateContent");
  });

  test("a part that finally fails is reported in errors next to the images of the others", async () => {
    const { token } = newUser("partial");
    const key = fakeKey("e2e", "gemini");
    await storeKey(worker, token, "gemini", key);
    await storeConfig(worker, token, [{ provider: "gemini" }]);
    // Gemini makes one call per image: the first call is refused (auth: no retry, no fallback).
    await scriptKey(mock, key, [{ fixture: "gemini/api_key_invalid" }]);
    const res = await generate(worker, token, { prompt: "partial", n: 2 });
    const body = expectImages(res, 1, "partial result");
    assert.equal(body.data[0].provider, "gemini");
    assert.equal(body.errors.length, 1, `errors: ${show(res)}`);
    const error = body.errors[0];
    assert.equal(error.code, "auth", JSON.stringify(error));
    assert.equal(error.provider, "gemini", JSON.stringify(error));
    assert.equal(typeof error.message, "string");
    assert.ok(!JSON.stringify(body.errors).includes(key));
    assert.equal(generationRequests(mock, key).length, 2);
  });
});

describe("generation: nothing configured", () => {
  test("no config and no model: 409 no_provider_configured (never 401)", async () => {
    const { token } = newUser();
    for (const extra of [{}, { model: "auto" }]) {
      const res = await generate(worker, token, { prompt: "hello", ...extra });
      expectError(res, { status: 409, code: "no_provider_configured" }, `no config ${JSON.stringify(extra)}`);
    }
  });

  test("stored keys alone are not a configured chain: 409", async () => {
    const { token } = newUser();
    const key = fakeKey("e2e", "openai");
    await storeKey(worker, token, "openai", key);
    const res = await generate(worker, token, { prompt: "hello" });
    expectError(res, { status: 409, code: "no_provider_configured" }, "keys, no config");
    assert.equal(generationRequests(mock, key).length, 0);
  });

  test("no config but a named provider with a stored key works", async () => {
    const { token } = newUser();
    const key = fakeKey("e2e", "openai");
    await storeKey(worker, token, "openai", key);
    const res = await generate(worker, token, { prompt: "hello", model: "openai" });
    const body = expectImages(res, 1, "named, no config");
    assert.equal(body.data[0].provider, "openai");
    assert.equal(generationRequests(mock, key).length, 1);
  });

  test("a config [mock] generates without model", async () => {
    const { token } = newUser();
    await storeConfig(worker, token, [{ provider: "mock" }]);
    const res = await generate(worker, token, { prompt: "hello", n: 2 });
    const body = expectImages(res, 2, "config mock");
    assert.ok(body.data.every((d) => d.provider === "mock"));
  });
});

describe("generation: every provider failed", () => {
  const user = newUser("fail");

  before(async () => {
    await storeConfig(worker, user.token, [{ provider: "openai" }]);
  });

  const cases = [
    ["auth (401)", { fixture: "openai/invalid_api_key" }, 502, "auth", false, 1],
    ["quota", { fixture: "openai/insufficient_quota" }, 502, "quota", false, 1],
    ["content_policy", { fixture: "openai/content_policy_violation" }, 400, "content_policy", false, 1],
    ["not_found", { fixture: "openai/model_not_found" }, 502, "not_found", false, 1],
    ["permission", { fixture: "openai/org_not_verified" }, 502, "permission", false, 1],
    [
      "rate_limited",
      { status: 429, headers: { "retry-after-ms": "5" }, body: { error: { message: "Rate limit reached", type: "requests", param: null, code: "rate_limit_exceeded" } } },
      429,
      "rate_limited",
      true,
      3,
    ],
    ["provider_error (503)", { fixture: "openai/overloaded" }, 502, "provider_error", true, 3],
    ["network (connection reset)", { drop: true }, 502, "network", true, 3],
    ["bad_response (truncated JSON, retried once)", { malformed: true }, 502, "bad_response", true, 2],
  ];
  for (const [name, step, status, code, retryable, calls] of cases) {
    test(`${name} → HTTP ${status}, code ${code}`, async () => {
      // A fresh key per case: the Worker's circuit breaker remembers failures per key.
      const key = fakeKey("e2e", "openai");
      await storeKey(worker, user.token, "openai", key);
      await scriptKey(mock, key, [], { after: step });
      const before = generationRequests(mock, key).length;
      const res = await generate(worker, user.token, { prompt: `fail ${name}` });
      expectError(res, { status, code, provider: "openai", retryable }, name);
      assert.equal(generationRequests(mock, key).length - before, calls, `${name}: provider calls`);
      await scriptKey(mock, key, []);
    });
  }
});

describe("master-key rotation", () => {
  let rot;
  const user = newUser("rot");
  const key = fakeKey("e2e", "openai");

  before(async () => {
    rot = await startWorker({ mockUrl: mock.url });
  });
  after(async () => {
    await rot?.close();
  });

  test("a record under k1 still works after k2 becomes active; reads never rewrite it; a PUT moves it to k2", async () => {
    const stored = await storeKey(rot, user.token, "openai", key);
    assert.equal(stored.keyVersion, "k1");
    const name = kvKeyName(user.sub, "openai");
    const original = await (await rot.kv()).get(name);
    assertStoredRecord(original, key, "k1");
    await storeConfig(rot, user.token, [{ provider: "openai" }]);

    await rot.restart({ KEY_ENCRYPTION_KEYS: JSON.stringify({ k1: KEK.k1, k2: KEK.k2 }), KEY_ENCRYPTION_ACTIVE_KID: "k2" });

    const before = generationRequests(mock, key).length;
    const res = await generate(rot, user.token, { prompt: "after rotation" });
    expectStatus(res, 200, "generation after rotation");
    assert.equal(res.json.data[0].provider, "openai");
    const calls = generationRequests(mock, key).slice(before);
    assert.equal(calls.length, 1, "the decrypted key reached the provider");
    assert.equal(calls[0].headers.authorization, `Bearer ${key}`);

    // Neither a listing nor a generation writes: a PUT or DELETE landing in
    // between could otherwise be undone by a stale re-encryption.
    const list = await rot.request("/v1/keys", { token: user.token });
    expectStatus(list, 200);
    assert.equal(list.json.data.length, 1, show(list));
    assert.equal(list.json.data[0].keyVersion, "k1", `listed keyVersion: ${show(list)}`);
    assert.equal(await (await rot.kv()).get(name), original, "the record is unchanged by reads");

    // Storing the key again encrypts it with the active key.
    const again = await storeKey(rot, user.token, "openai", key);
    assert.equal(again.keyVersion, "k2");
    assertStoredRecord(await (await rot.kv()).get(name), key, "k2");

    // With k1 gone entirely, the record (now under k2) keeps working.
    await rot.restart({ KEY_ENCRYPTION_KEYS: JSON.stringify({ k2: KEK.k2 }), KEY_ENCRYPTION_ACTIVE_KID: "k2" });
    const res2 = await generate(rot, user.token, { prompt: "k1 retired" });
    expectStatus(res2, 200, "generation with k1 retired");
    assert.equal(generationRequests(mock, key).length, before + 2);

    const fresh = await storeKey(rot, user.token, "gemini", fakeKey("e2e", "gemini"));
    assert.equal(fresh.keyVersion, "k2", "new records use the active kid");
  });

  test("a DELETE racing with reads of a record under an old kid is never undone", async () => {
    // Before, a read re-encrypted such a record and wrote it back: a DELETE landing
    // between that read and its write was undone. Reads and DELETEs race here for 20 users.
    await rot.restart({ KEY_ENCRYPTION_KEYS: JSON.stringify({ k1: KEK.k1 }), KEY_ENCRYPTION_ACTIVE_KID: "k1" });
    const users = Array.from({ length: 20 }, () => newUser("race"));
    for (const u of users) await storeKey(rot, u.token, "openai", fakeKey("race", "openai"), { validate: false });
    await rot.restart({ KEY_ENCRYPTION_KEYS: JSON.stringify({ k1: KEK.k1, k2: KEK.k2 }), KEY_ENCRYPTION_ACTIVE_KID: "k2" });
    await Promise.all(
      users.map(async (u) => {
        const reads = Array.from({ length: 4 }, () => rot.request("/v1/keys", { token: u.token }));
        const del = rot.request("/v1/keys/openai", { method: "DELETE", token: u.token });
        expectStatus(await del, 200, "DELETE");
        await Promise.all(reads);
      }),
    );
    const kv = await rot.kv();
    const resurrected = [];
    for (const u of users) if ((await kv.get(kvKeyName(u.sub, "openai"))) !== null) resurrected.push(u.sub);
    assert.deepEqual(resurrected, [], "deleted keys came back");
  });

  test("after rotation, GET /v1/keys reports the record's actual key version", async () => {
    const other = newUser("rot");
    const k = fakeKey("e2e", "openai");
    await rot.restart({ KEY_ENCRYPTION_KEYS: JSON.stringify({ k1: KEK.k1 }), KEY_ENCRYPTION_ACTIVE_KID: "k1" });
    await storeKey(rot, other.token, "openai", k);
    await rot.restart({ KEY_ENCRYPTION_KEYS: JSON.stringify({ k1: KEK.k1, k2: KEK.k2 }), KEY_ENCRYPTION_ACTIVE_KID: "k2" });
    const list = await rot.request("/v1/keys", { token: other.token });
    expectStatus(list, 200);
    assert.equal(list.json.data.length, 1, show(list));
    const record = JSON.parse(await (await rot.kv()).get(kvKeyName(other.sub, "openai")));
    assert.equal(list.json.data[0].keyVersion, record.kid, "listed keyVersion matches the record");
    assert.ok(["k1", "k2"].includes(record.kid));
  });

  test("a record naming an unknown kid, or with a tampered ciphertext, is treated as absent", async () => {
    await rot.restart({ KEY_ENCRYPTION_KEYS: JSON.stringify({ k1: KEK.k1, k2: KEK.k2 }), KEY_ENCRYPTION_ACTIVE_KID: "k2" });
    const victim = newUser("rot");
    const k = fakeKey("e2e", "openai");
    await storeKey(rot, victim.token, "openai", k);
    await storeConfig(rot, victim.token, [{ provider: "openai" }]);
    const name = kvKeyName(victim.sub, "openai");
    const original = JSON.parse(await (await rot.kv()).get(name));

    const ct = Buffer.from(original.ct, "base64");
    ct[0] ^= 0x01;
    const variants = [
      ["unknown kid", { ...original, kid: "k-unknown" }],
      ["tampered ciphertext", { ...original, ct: ct.toString("base64") }],
      ["kid swapped to another known key", { ...original, kid: original.kid === "k1" ? "k2" : "k1" }],
    ];
    for (const [what, record] of variants) {
      await (await rot.kv()).put(name, JSON.stringify(record));
      const before = generationRequests(mock, k).length;
      const list = await rot.request("/v1/keys", { token: victim.token });
      expectStatus(list, 200, `${what}: GET /v1/keys`);
      assert.deepEqual(list.json.data, [], `${what}: must not be listed: ${show(list)}`);
      const res = await generate(rot, victim.token, { prompt: what, model: "openai" });
      assert.notEqual(res.status, 200, `${what}: generation must not succeed: ${show(res)}`);
      expectError(res, {}, what);
      assert.equal(generationRequests(mock, k).length, before, `${what}: key must not be used`);
    }

    // Storing the key again repairs it.
    await storeKey(rot, victim.token, "openai", k);
    const res = await generate(rot, victim.token, { prompt: "repaired" });
    expectStatus(res, 200, "after re-storing");
  });
});

test("the Worker's logs never contain a stored key", () => {
  assertNoSecrets(worker.logs(), "Worker logs");
});
