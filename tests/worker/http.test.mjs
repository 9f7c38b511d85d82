// HTTP-level behaviour: routes and methods, body size and content type limits, CORS,
// x-request-id, /healthz, the per-user rate limit, and (through the helpers' scanner, applied to
// every response) that stored keys never appear in a response body or header.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  ALLOWED_ORIGINS,
  assertNoSecrets,
  devToken,
  expectAuthError,
  expectError,
  expectStatus,
  fakeKey,
  generate,
  scanStats,
  show,
  startMockServer,
  startWorker,
  storeConfig,
  storeKey,
  uid,
} from "./helpers.mjs";

const MiB = 1024 * 1024;

let mock;
let worker;
const sub = uid("http");
const token = devToken(sub);
const openaiKey = fakeKey("http", "openai");
const geminiKey = fakeKey("http", "gemini");
const stabilityKey = fakeKey("http", "stability");

before(async () => {
  mock = await startMockServer();
  worker = await startWorker({ mockUrl: mock.url });
  // Stored keys that the scanner looks for in every response of this file.
  await storeKey(worker, token, "openai", openaiKey);
  await storeKey(worker, token, "gemini", geminiKey);
  await storeKey(worker, token, "stability", stabilityKey, { validate: false });
  await storeConfig(worker, token, [{ provider: "openai" }, { provider: "gemini" }]);
});

after(async () => {
  await worker?.close();
  await mock?.close();
});

/** A JSON generation body of about `bytes` bytes (padding in an ignored field). */
function paddedBody(bytes) {
  const skeleton = JSON.stringify({ prompt: "padded", model: "mock", padding: "" });
  return JSON.stringify({ prompt: "padded", model: "mock", padding: "a".repeat(bytes - skeleton.length) });
}

/** A ReadableStream of `total` bytes in 64 KiB chunks (sent chunked, no Content-Length). */
function streamOf(text) {
  const bytes = Buffer.from(text);
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) {
        controller.close();
        return;
      }
      controller.enqueue(new Uint8Array(bytes.subarray(offset, offset + 65536)));
      offset += 65536;
    },
  });
}

describe("routes", () => {
  test("GET /healthz is 200 {status: ok, wasmMemoryBytes} without auth", async () => {
    const res = await worker.request("/healthz");
    expectStatus(res, 200, "healthz");
    assert.deepEqual(Object.keys(res.json).sort(), ["status", "wasmMemoryBytes"]);
    assert.equal(res.json.status, "ok");
    assert.ok(Number.isInteger(res.json.wasmMemoryBytes) && res.json.wasmMemoryBytes % 65536 === 0 && res.json.wasmMemoryBytes > 0);
    assert.ok(res.headers.get("x-request-id"));
  });

  test("unknown routes are 404", async () => {
    for (const path of ["/", "/nope", "/v1", "/v1/images", "/v1/images/generations/extra", "/v1/keys/openai/extra", "/v2/images/generations", "/healthz/x"]) {
      const res = await worker.request(path, { token });
      expectError(res, { status: 404 }, `GET ${path}`);
    }
  });

  test("wrong methods on known routes are 405", async () => {
    const cases = [
      ["GET", "/v1/images/generations"],
      ["PUT", "/v1/images/generations"],
      ["DELETE", "/v1/images/generations"],
      ["POST", "/v1/keys"],
      ["DELETE", "/v1/keys"],
      ["POST", "/v1/keys/openai"],
      ["PATCH", "/v1/keys/openai"],
      ["GET", "/v1/keys/openai"],
      ["POST", "/v1/config"],
      ["DELETE", "/v1/config"],
      ["POST", "/healthz"],
      ["DELETE", "/healthz"],
    ];
    for (const [method, path] of cases) {
      const withBody = ["POST", "PUT", "PATCH"].includes(method);
      const res = await worker.request(path, { method, token, ...(withBody ? { json: {} } : {}) });
      expectError(res, { status: 405 }, `${method} ${path}`);
    }
  });
});

describe("request bodies", () => {
  test("a body just under 1 MiB is accepted", async () => {
    const body = paddedBody(MiB - 1024);
    const res = await worker.request("/v1/images/generations", {
      method: "POST",
      token,
      body,
      headers: { "content-type": "application/json" },
    });
    expectStatus(res, 200, "just under 1 MiB");
    assert.equal(res.json.data[0].provider, "mock");
  });

  test("over 1 MiB with Content-Length is 413", async () => {
    for (const path of ["/v1/images/generations", "/v1/config"]) {
      const res = await worker.request(path, {
        method: path === "/v1/config" ? "PUT" : "POST",
        token,
        body: paddedBody(MiB + 1024),
        headers: { "content-type": "application/json" },
      });
      expectError(res, { status: 413 }, `${path} over 1 MiB`);
    }
    const key = await worker.request("/v1/keys/openai", {
      method: "PUT",
      token,
      body: JSON.stringify({ apiKey: "x".repeat(MiB + 10) }),
      headers: { "content-type": "application/json" },
    });
    expectError(key, { status: 413 }, "PUT /v1/keys over 1 MiB");
  });

  test("over 1 MiB chunked (no Content-Length) is 413", async () => {
    const res = await worker.request("/v1/images/generations", {
      method: "POST",
      token,
      body: streamOf(paddedBody(MiB + 4096)),
      duplex: "half",
      headers: { "content-type": "application/json" },
    });
    expectError(res, { status: 413 }, "chunked over 1 MiB");
  });

  test("a 4 MiB chunked body is 413 too", async () => {
    const res = await worker.request("/v1/images/generations", {
      method: "POST",
      token,
      body: streamOf(paddedBody(4 * MiB)),
      duplex: "half",
      headers: { "content-type": "application/json" },
    });
    expectError(res, { status: 413 }, "chunked 4 MiB");
  });

  test("a small chunked body is accepted", async () => {
    const res = await worker.request("/v1/images/generations", {
      method: "POST",
      token,
      body: streamOf(JSON.stringify({ prompt: "chunked", model: "mock" })),
      duplex: "half",
      headers: { "content-type": "application/json" },
    });
    expectStatus(res, 200, "small chunked body");
  });

  test("a content type other than application/json is 415", async () => {
    const body = JSON.stringify({ prompt: "x", model: "mock" });
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonp", "application/json-patch+json"]) {
      const res = await worker.request("/v1/images/generations", { method: "POST", token, body, headers: { "content-type": type } });
      expectError(res, { status: 415 }, `content type ${type}`);
    }
    const noType = await worker.request("/v1/images/generations", { method: "POST", token, body: Buffer.from(body) });
    expectError(noType, { status: 415 }, "no content type");
    const config = await worker.request("/v1/config", {
      method: "PUT",
      token,
      body: JSON.stringify({ providers: [{ provider: "mock" }] }),
      headers: { "content-type": "text/plain" },
    });
    expectError(config, { status: 415 }, "PUT /v1/config text/plain");
    const keys = await worker.request("/v1/keys/openai", {
      method: "PUT",
      token,
      body: JSON.stringify({ apiKey: fakeKey("http", "openai") }),
      headers: { "content-type": "text/plain" },
    });
    expectError(keys, { status: 415 }, "PUT /v1/keys text/plain");
  });

  test("application/json with parameters, any case, is accepted", async () => {
    const body = JSON.stringify({ prompt: "x", model: "mock" });
    for (const type of ["application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8", "Application/JSON"]) {
      const res = await worker.request("/v1/images/generations", { method: "POST", token, body, headers: { "content-type": type } });
      expectStatus(res, 200, `content type ${type}`);
    }
  });
});

describe("CORS", () => {
  const preflight = (origin, method = "POST") =>
    worker.request("/v1/images/generations", {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": method,
        "access-control-request-headers": "authorization, content-type",
      },
    });

  test("preflight from an allowed origin: 204, that origin, methods and headers", async () => {
    for (const origin of ALLOWED_ORIGINS) {
      const res = await preflight(origin);
      expectStatus(res, 204, `preflight ${origin}`);
      assert.equal(res.headers.get("access-control-allow-origin"), origin, show(res));
      const methods = (res.headers.get("access-control-allow-methods") ?? "").toUpperCase();
      for (const m of ["POST", "GET", "PUT", "DELETE"]) assert.ok(methods.includes(m), `allow-methods lacks ${m}: ${show(res)}`);
      const headers = (res.headers.get("access-control-allow-headers") ?? "").toLowerCase();
      for (const h of ["authorization", "content-type"]) assert.ok(headers.includes(h), `allow-headers lacks ${h}: ${show(res)}`);
      assert.ok(res.headers.get("x-request-id"), "x-request-id on preflight");
    }
  });

  test("preflight on other routes works the same way", async () => {
    for (const path of ["/v1/keys/openai", "/v1/config", "/v1/keys"]) {
      const res = await worker.request(path, {
        method: "OPTIONS",
        headers: { origin: ALLOWED_ORIGINS[0], "access-control-request-method": "PUT" },
      });
      expectStatus(res, 204, `preflight ${path}`);
      assert.equal(res.headers.get("access-control-allow-origin"), ALLOWED_ORIGINS[0]);
    }
  });

  test("preflight from other origins: 403 and no Access-Control-Allow-Origin", async () => {
    for (const origin of [
      "https://evil.example",
      "null",
      "http://localhost:3001",
      "https://localhost:3000",
      "http://localhost:3000.evil.example",
      "https://app.example.evil.example",
      "https://evil-app.example",
      "HTTP://LOCALHOST:3000x",
    ]) {
      const res = await preflight(origin);
      expectStatus(res, 403, `preflight ${origin}`);
      assert.equal(res.headers.get("access-control-allow-origin"), null, `${origin}: ${show(res)}`);
      assert.ok(res.headers.get("x-request-id"), "x-request-id on refused preflight");
    }
  });

  test("normal responses to an allowed origin carry that origin, never *", async () => {
    const origin = ALLOWED_ORIGINS[1];
    const ok = await worker.request("/v1/keys", { token, origin });
    expectStatus(ok, 200);
    assert.equal(ok.headers.get("access-control-allow-origin"), origin, show(ok));
    const gen = await generate(worker, token, { prompt: "cors", model: "mock" }, { origin });
    expectStatus(gen, 200);
    assert.equal(gen.headers.get("access-control-allow-origin"), origin);
    const unauthorized = await worker.request("/v1/keys", { origin });
    expectAuthError(unauthorized, "no token, allowed origin");
    assert.equal(unauthorized.headers.get("access-control-allow-origin"), origin, `401 must be readable by the app: ${show(unauthorized)}`);
    const notFound = await worker.request("/v1/nope", { token, origin });
    assert.equal(notFound.headers.get("access-control-allow-origin"), origin, show(notFound));
  });

  test("normal responses to other origins carry no Access-Control-Allow-Origin", async () => {
    const res = await worker.request("/v1/keys", { token, origin: "https://evil.example" });
    assert.equal(res.headers.get("access-control-allow-origin"), null, show(res));
    const noOrigin = await worker.request("/v1/keys", { token });
    assert.notEqual(noOrigin.headers.get("access-control-allow-origin"), "*", show(noOrigin));
  });
});

describe("x-request-id", () => {
  test("present and distinct on every kind of response", async () => {
    const responses = [
      await worker.request("/healthz"),
      await worker.request("/v1/keys", { token }),
      await worker.request("/v1/keys"),
      await worker.request("/v1/nope", { token }),
      await worker.request("/v1/config", { method: "DELETE", token }),
      await worker.request("/v1/config", { token }),
      await worker.request("/v1/keys/mock", { method: "PUT", token, json: { apiKey: "x" } }),
      await generate(worker, token, { prompt: "" }),
      await generate(worker, token, { prompt: "id", model: "mock" }),
      await worker.request("/v1/images/generations", { method: "POST", token, body: "x", headers: { "content-type": "text/plain" } }),
      await worker.request("/v1/keys", { method: "OPTIONS", headers: { origin: ALLOWED_ORIGINS[0], "access-control-request-method": "GET" } }),
      await worker.request("/v1/keys", { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "GET" } }),
    ];
    const ids = responses.map((r) => r.headers.get("x-request-id"));
    responses.forEach((r, i) => assert.ok(ids[i], `response ${i} without x-request-id: ${show(r)}`));
    assert.equal(new Set(ids).size, ids.length, `request ids repeat: ${ids.join(", ")}`);
  });
});

describe("keys never leave the Worker", () => {
  test("keys are not echoed by any key, config or generation endpoint", async () => {
    // Each response goes through the scanner; these are the likeliest places for a leak.
    await worker.request("/v1/keys", { token });
    await worker.request("/v1/keys/openai", { method: "PUT", token, json: { apiKey: openaiKey } });
    await worker.request("/v1/keys/openai?validate=false", { method: "PUT", token, json: { apiKey: openaiKey } });
    await worker.request("/v1/config", { token });
    await generate(worker, token, { prompt: "leak check" });
    await generate(worker, token, { prompt: "leak check", model: "stability" });
    const bad = fakeKey("http", "openai").replace("sk-", "invalid-sk-");
    const rejected = await worker.request("/v1/keys/openai", { method: "PUT", token, json: { apiKey: bad } });
    expectError(rejected, { status: 400 }, "invalid key");
    const res = await worker.request("/v1/keys", { token });
    assert.ok(!JSON.stringify(res.json).includes("sk-"), show(res));
  });

  test("provider error bodies that echo the key are not passed through", async () => {
    const U = uid("http-echo");
    const t = devToken(U);
    const key = fakeKey("http", "openai");
    await storeKey(worker, t, "openai", key);
    await storeConfig(worker, t, [{ provider: "openai" }]);
    const echo = {
      status: 401,
      body: { error: { message: `Incorrect API key provided: ${key}. Header: Bearer ${key}`, type: "invalid_request_error", param: null, code: "invalid_api_key" } },
    };
    const scriptRes = await fetch(`${mock.url}/__mock/script`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ key, steps: [], after: echo }),
    });
    assert.equal(scriptRes.status, 200);
    const res = await generate(worker, t, { prompt: "echo" });
    expectError(res, { status: 502, code: "auth" }, "echoing provider");
  });

  test("the scanner ran on every response and the Worker logs hold no key", () => {
    assert.ok(scanStats.responses > 50, `only ${scanStats.responses} responses scanned`);
    assertNoSecrets(worker.logs(), "Worker logs");
  });
});

describe("per-user rate limit", () => {
  let limited;
  before(async () => {
    limited = await startWorker({ mockUrl: mock.url, bindings: { RATE_LIMIT_PER_MINUTE: "3" } });
  });
  after(async () => {
    await limited?.close();
  });

  test("over RATE_LIMIT_PER_MINUTE generations: 429 rate_limit_error with Retry-After, per user", async () => {
    const a = devToken(uid("rl-a"));
    const statuses = [];
    let refused;
    for (let i = 0; i < 6; i++) {
      const res = await generate(limited, a, { prompt: `rl ${i}`, model: "mock" });
      statuses.push(res.status);
      if (res.status === 429 && !refused) refused = res;
    }
    assert.deepEqual(statuses.slice(0, 3), [200, 200, 200], `first three allowed: ${statuses}`);
    assert.ok(refused, `no 429 after the limit: ${statuses}`);
    expectError(refused, { status: 429, type: "rate_limit_error" }, "rate limited");
    const retryAfter = refused.headers.get("retry-after");
    assert.match(retryAfter ?? "", /^\d+$/, `Retry-After: ${show(refused)}`);
    assert.ok(Number(retryAfter) >= 1 && Number(retryAfter) <= 60, `Retry-After ${retryAfter}`);

    const b = devToken(uid("rl-b"));
    const other = await generate(limited, b, { prompt: "another user", model: "mock" });
    expectStatus(other, 200, "another user is not limited by A's usage");
  });
});
