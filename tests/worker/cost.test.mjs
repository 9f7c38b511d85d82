// Cost in the Worker's OpenAI-compatible responses: OpenAI's `usage` plus
// `cost_usd`, `cost_by_provider` and each attempt's `cost_usd`; the
// `max_cost_usd` extension (a skipped entry, 402 budget_exceeded, 400 when
// it is not a number of USD). Against the built Worker in Miniflare and the
// mock provider server.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  devToken,
  expectError,
  expectStatus,
  fakeKey,
  generate,
  generationRequests,
  scriptKey,
  show,
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

const close = (a, b) => Math.abs(a - b) < 1e-9;

describe("cost in responses", () => {
  const sub = uid("cost");
  const token = devToken(sub);
  const openaiKey = fakeKey("cost", "openai");

  before(async () => {
    await storeKey(worker, token, "openai", openaiKey);
    await storeConfig(worker, token, [{ provider: "openai", model: "gpt-image-2" }, { provider: "mock" }]);
  });

  test("usage in OpenAI's shape, cost_usd, cost_by_provider and each attempt's cost", async () => {
    await scriptKey(mock, openaiKey, []);
    const res = await generate(worker, token, { prompt: "a lighthouse", n: 2 });
    expectStatus(res, 200, "generation");
    const body = res.json;
    // The mock reports 18 text tokens in, 1056 image tokens out per image.
    assert.equal(body.usage.input_tokens, 18, show(res));
    assert.deepEqual(body.usage.input_tokens_details, { text_tokens: 18, image_tokens: 0 });
    assert.equal(body.usage.output_tokens, 2112);
    assert.equal(body.usage.total_tokens, 2130);
    const want = (18 * 5 + 2112 * 30) / 1e6;
    assert.ok(close(body.cost_usd, want), show(res));
    assert.ok(close(body.attempts[0].cost_usd, want));
    assert.equal(body.cost_by_provider.length, 1);
    assert.deepEqual(
      [body.cost_by_provider[0].provider, body.cost_by_provider[0].model, body.cost_by_provider[0].images],
      ["openai", "gpt-image-2", 2],
    );
  });

  test("max_cost_usd skips an entry over the cap without calling it", async () => {
    const before = generationRequests(mock, openaiKey).length;
    const res = await generate(worker, token, { prompt: "a fox", max_cost_usd: 0.01 });
    expectStatus(res, 200, "the mock fits under the cap");
    assert.equal(generationRequests(mock, openaiKey).length, before, "OpenAI not called");
    assert.deepEqual(
      res.json.attempts.map((a) => [a.provider, a.outcome, a.skipped === true]),
      [["openai", "budget_exceeded", true], ["mock", "ok", false]],
    );
    assert.equal(res.json.cost_usd, 0);
    assert.equal(res.json.usage, undefined, "the mock reports no tokens");
  });

  test("402 budget_exceeded when no entry fits; 400 for a cap that is not USD", async () => {
    // A user whose chain is OpenAI alone (the free mock would fit any cap).
    const alone = devToken(uid("cost-alone"));
    await storeKey(worker, alone, "openai", openaiKey);
    await storeConfig(worker, alone, [{ provider: "openai", model: "gpt-image-2" }]);
    const before = generationRequests(mock, openaiKey).length;
    const refused = await generate(worker, alone, { prompt: "a fox", max_cost_usd: 0.001 });
    const error = expectError(refused, { status: 402 }, "over the cap");
    assert.equal(error.code, "budget_exceeded");
    assert.equal(error.retryable, false);
    assert.equal(generationRequests(mock, openaiKey).length, before, "no provider call");
    const bad = await generate(worker, alone, { prompt: "a fox", max_cost_usd: -1 });
    assert.equal(expectError(bad, { status: 400 }, "negative cap").param, "max_cost_usd");
  });
});
