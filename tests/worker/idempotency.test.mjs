// Idempotency-Key on POST /v1/images/generations: a repeated key (per user,
// same body) returns the stored result without calling the provider again;
// a concurrent duplicate gets 409; the key with another body gets 422; a
// failed request leaves the key free for a retry.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  devToken,
  expectError,
  expectStatus,
  fakeKey,
  generate,
  generationRequests,
  scriptKey,
  startMockServer,
  startWorker,
  storeConfig,
  storeKey,
  uid,
} from "./helpers.mjs";

let mock;
let worker;
const sub = uid("idem");
const token = devToken(sub);
const openaiKey = fakeKey("idem", "openai");

before(async () => {
  mock = await startMockServer();
  worker = await startWorker({ mockUrl: mock.url });
  await storeKey(worker, token, "openai", openaiKey);
  await storeConfig(worker, token, [{ provider: "openai" }]);
});

after(async () => {
  await worker?.close();
  await mock?.close();
});

const withKey = (key) => ({ headers: { "idempotency-key": key } });

test("a repeated key replays the stored result without paying again", async () => {
  const body = { prompt: "idempotent lighthouse", n: 2 };
  const first = await generate(worker, token, body, withKey("order-123"));
  expectStatus(first, 200);
  assert.equal(first.json.data.length, 2);
  assert.equal(first.headers.get("idempotent-replayed"), null);
  const calls = generationRequests(mock, openaiKey).length;
  assert.equal(calls, 1);

  const again = await generate(worker, token, body, withKey("order-123"));
  expectStatus(again, 200);
  assert.equal(again.headers.get("idempotent-replayed"), "true");
  assert.deepEqual(again.json, first.json, "the very same result");
  assert.equal(generationRequests(mock, openaiKey).length, calls, "the provider was not called again");

  // Another key is a new request.
  const other = await generate(worker, token, body, withKey("order-124"));
  expectStatus(other, 200);
  assert.equal(generationRequests(mock, openaiKey).length, calls + 1);
});

test("keys are per user", async () => {
  const otherToken = devToken(uid("idem-other"));
  const res = await generate(worker, otherToken, { prompt: "idempotent lighthouse", n: 2 }, withKey("order-123"));
  // User B has no provider configured: the key of user A is not replayed to B.
  expectError(res, { status: 409, code: "no_provider_configured" });
});

test("the same key with a different body is refused", async () => {
  await generate(worker, token, { prompt: "first body", model: "mock" }, withKey("reuse-1"));
  const res = await generate(worker, token, { prompt: "second body", model: "mock" }, withKey("reuse-1"));
  expectError(res, { status: 422, code: "idempotency_key_reused", param: "Idempotency-Key" });
});

test("a concurrent duplicate gets 409 while the first is running", async () => {
  await scriptKey(mock, openaiKey, [{ delayMs: 1500 }]);
  const body = { prompt: "slow and idempotent" };
  const first = generate(worker, token, body, withKey("concurrent-1"));
  await new Promise((r) => setTimeout(r, 300));
  const duplicate = await generate(worker, token, body, withKey("concurrent-1"));
  expectError(duplicate, { status: 409, code: "idempotency_key_in_use", retryable: true });
  assert.ok(duplicate.headers.get("retry-after"));
  const done = await first;
  expectStatus(done, 200);
  const replay = await generate(worker, token, body, withKey("concurrent-1"));
  expectStatus(replay, 200);
  assert.equal(replay.headers.get("idempotent-replayed"), "true");
});

test("a failed request frees the key for a retry", async () => {
  await scriptKey(mock, openaiKey, [], { after: { fixture: "openai/moderation_blocked" } });
  const body = { prompt: "fails first" };
  const failed = await generate(worker, token, body, withKey("retry-after-fail"));
  expectError(failed, { status: 400, code: "content_policy" });
  await scriptKey(mock, openaiKey, []);
  const ok = await generate(worker, token, body, withKey("retry-after-fail"));
  expectStatus(ok, 200);
  assert.equal(ok.headers.get("idempotent-replayed"), null, "ran again, not replayed");
});

test("malformed keys are refused", async () => {
  const res = await generate(worker, token, { prompt: "x", model: "mock" }, withKey("x".repeat(300)));
  expectError(res, { status: 400, param: "Idempotency-Key" });
});
