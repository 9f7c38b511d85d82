// The official OpenAI JS SDK against the Worker as a drop-in image gateway: the SDK's "API key"
// is the user's JWT, its baseURL the Worker's /v1. Every response passes the secret scanner.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import OpenAI from "openai";
import {
  PNG_1X1_BASE64,
  devToken,
  fakeKey,
  scanningFetch,
  scriptKey,
  signJwt,
  claims,
  startMockServer,
  startWorker,
  storeConfig,
  storeKey,
  uid,
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

function client(apiKey) {
  return new OpenAI({ apiKey, baseURL: `${worker.url}/v1`, fetch: scanningFetch, maxRetries: 0, timeout: 60_000 });
}

describe("OpenAI SDK", () => {
  test('images.generate with model "mock" returns b64_json images', async () => {
    const openai = client(devToken(uid("sdk")));
    const result = await openai.images.generate({ prompt: "a watercolor owl", n: 2, model: "mock" });
    assert.equal(result.data.length, 2);
    for (const image of result.data) {
      assert.equal(typeof image.b64_json, "string");
      assert.match(Buffer.from(image.b64_json, "base64").toString("utf8"), /^<svg/);
      assert.equal(image.provider, "mock");
    }
    assert.ok(Number.isInteger(result.created));
    assert.equal(typeof result._request_id, "string", "the SDK picks up x-request-id");
    assert.ok(result._request_id.length > 0);
  });

  test("images.generate with the configured chain (no model) uses the primary", async () => {
    const sub = uid("sdk");
    const token = devToken(sub);
    const openaiKey = fakeKey("sdk", "openai");
    const geminiKey = fakeKey("sdk", "gemini");
    await storeKey(worker, token, "openai", openaiKey);
    await storeKey(worker, token, "gemini", geminiKey);
    await storeConfig(worker, token, [{ provider: "openai" }, { provider: "gemini" }]);

    const openai = client(token);
    const result = await openai.images.generate({ prompt: "a paper boat", n: 2 });
    assert.equal(result.data.length, 2);
    for (const image of result.data) {
      assert.equal(image.b64_json, PNG_1X1_BASE64);
      assert.equal(image.provider, "openai");
    }

    // And the fallback is invisible to the SDK: primary refuses the key, Gemini answers.
    await scriptKey(mock, openaiKey, [{ fixture: "openai/invalid_api_key" }]);
    const fallback = await openai.images.generate({ prompt: "a paper boat", n: 2, size: "1024x1024" });
    assert.equal(fallback.data.length, 2);
    assert.ok(fallback.data.every((d) => d.provider === "gemini" && d.b64_json === PNG_1X1_BASE64));
    assert.deepEqual(
      fallback.attempts.map((a) => a.provider),
      ["openai", ...fallback.attempts.slice(1).map(() => "gemini")],
    );
  });

  test("a bad JWT raises AuthenticationError (401)", async () => {
    const badTokens = [
      "not-a-jwt",
      signJwt(claims(uid("sdk")), { secret: "some-other-secret-0123456789abcdef" }),
      devToken(uid("sdk"), { exp: Math.floor(Date.now() / 1000) - 3600 }),
    ];
    for (const token of badTokens) {
      await assert.rejects(
        client(token).images.generate({ prompt: "x", model: "mock" }),
        (error) => {
          assert.ok(error instanceof OpenAI.AuthenticationError, `expected AuthenticationError, got ${error?.constructor?.name}: ${error?.message}`);
          assert.equal(error.status, 401);
          assert.equal(error.type, "authentication_error");
          assert.equal(typeof error.code, "string");
          assert.ok(error.requestID, "x-request-id on the error");
          return true;
        },
      );
    }
  });

  test("no provider configured raises ConflictError (409), not AuthenticationError", async () => {
    await assert.rejects(client(devToken(uid("sdk"))).images.generate({ prompt: "x" }), (error) => {
      assert.ok(error instanceof OpenAI.ConflictError, `expected ConflictError, got ${error?.constructor?.name}: ${error?.message}`);
      assert.equal(error.status, 409);
      assert.equal(error.code, "no_provider_configured");
      return true;
    });
  });

  test("invalid fields raise BadRequestError with param", async () => {
    const openai = client(devToken(uid("sdk")));
    await assert.rejects(openai.images.generate({ prompt: "x", n: 11, model: "mock" }), (error) => {
      assert.ok(error instanceof OpenAI.BadRequestError, `expected BadRequestError, got ${error?.constructor?.name}`);
      assert.equal(error.status, 400);
      assert.equal(error.param, "n");
      assert.equal(error.type, "invalid_request_error");
      return true;
    });
    await assert.rejects(openai.images.generate({ prompt: "", model: "mock" }), (error) => {
      assert.ok(error instanceof OpenAI.BadRequestError);
      assert.equal(error.param, "prompt");
      return true;
    });
  });

  test("every provider failing raises an APIError carrying the library code", async () => {
    const token = devToken(uid("sdk"));
    const key = fakeKey("sdk", "openai");
    await storeKey(worker, token, "openai", key);
    await storeConfig(worker, token, [{ provider: "openai" }]);
    await scriptKey(mock, key, [], { after: { fixture: "openai/invalid_api_key" } });
    await assert.rejects(client(token).images.generate({ prompt: "x" }), (error) => {
      assert.ok(error instanceof OpenAI.InternalServerError, `expected InternalServerError (502), got ${error?.constructor?.name}`);
      assert.equal(error.status, 502);
      assert.equal(error.code, "auth");
      assert.equal(error.error?.provider, "openai");
      assert.equal(error.error?.retryable, false);
      return true;
    });
  });
});
