// The Worker's per-isolate engine client with default settings: the retry
// budget caps retries to a failing provider across requests, and the circuit
// breaker skips a provider (per stored key) after repeated failures.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  devToken,
  expectError,
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

before(async () => {
  mock = await startMockServer();
  // Library defaults for the budget (20% over 10 s, floor 3); breaker after 5 failures.
  worker = await startWorker({ mockUrl: mock.url, bindings: { RETRY_BUDGET_MIN_RETRIES: undefined } });
});

after(async () => {
  await worker?.close();
  await mock?.close();
});

test("an outage does not multiply load: retries are budgeted, then the circuit opens", async () => {
  const token = devToken(uid("outage"));
  const key = fakeKey("outage", "stability");
  await storeKey(worker, token, "stability", key, { validate: false });
  await storeConfig(worker, token, [{ provider: "stability" }]);
  await scriptKey(mock, key, [], { after: { status: 503, body: { id: "x", name: "service_unavailable", errors: ["down"] } } });
  const requests = 8;
  const codes = [];
  for (let i = 0; i < requests; i++) {
    const res = await generate(worker, token, { prompt: `outage ${i}` });
    codes.push(expectError(res, { status: 502, provider: "stability" }).code);
  }
  const calls = generationRequests(mock, key).length;
  // Stateless: 3 attempts per request = 24 calls. Budgeted: at most 3 retries in
  // the window, and after 5 consecutive failures the circuit opens.
  assert.ok(calls <= 5 + 3, `${calls} provider calls for ${requests} requests`);
  assert.ok(calls < requests * 3);
  assert.ok(codes.every((c) => c === "provider_error"), codes.join());
  const last = await generate(worker, token, { prompt: "while open" });
  const error = expectError(last, { status: 502, code: "provider_error" });
  assert.match(error.message, /circuit open/);
  assert.equal(generationRequests(mock, key).length, calls, "skipped without a call");
});

test("another user's key for the same provider is not affected by that circuit", async () => {
  const token = devToken(uid("healthy"));
  const key = fakeKey("healthy", "stability");
  await storeKey(worker, token, "stability", key, { validate: false });
  await storeConfig(worker, token, [{ provider: "stability" }]);
  await scriptKey(mock, key, []);
  const res = await generate(worker, token, { prompt: "fine" });
  assert.equal(res.status, 200, res.text);
  assert.equal(generationRequests(mock, key).length, 1);
});
