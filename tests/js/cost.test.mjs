// Cost through the installed package: usage priced from the mock server's
// OpenAI `usage` (plain and streamed), prices on createClient and on the
// call, and maxCostUsd skipping an expensive entry without a request.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { generateImages, createClient, ImageGenError } from "imagegen";
import { startMockServer } from "../mock-server/server.mjs";

let mock;
before(async () => {
  mock = await startMockServer();
});
after(async () => {
  await mock.close();
});

let keys = 0;
const newKey = () => `sk-cost-test-${++keys}-000000000000`;
const openai = (key, extra = {}) => ({ provider: "openai", apiKey: key, baseUrl: mock.url, model: "gpt-image-2", ...extra });
const requestsOf = async (key) =>
  (await (await fetch(`${mock.url}/__mock/requests?key=${encodeURIComponent(key)}`)).json()).requests;
const close = (a, b) => Math.abs(a - b) < 1e-9;

test("OpenAI usage is priced per token kind on the attempt, the image, the event and the total", async () => {
  const events = [];
  const result = await generateImages({
    prompt: "a lighthouse",
    providers: [openai(newKey())],
    onEvent: (e) => events.push(e),
  });
  // The mock reports 18 text tokens in and 1056 image tokens out: $5 and $30 per 1M.
  const want = (18 * 5 + 1056 * 30) / 1e6;
  assert.ok(close(result.usage.costUsd, want), JSON.stringify(result.usage));
  assert.ok(close(result.attempts[0].costUsd, want));
  assert.ok(close(result.images[0].costUsd, want));
  const end = events.find((e) => e.type === "attempt_end");
  assert.ok(close(end.costUsd, want));
  assert.deepEqual(result.usage.byProvider.map((r) => [r.provider, r.model, r.images]), [["openai", "gpt-image-2", 1]]);
});

test("streamed previews are priced from the final usage, not added twice", async () => {
  const result = await generateImages({ prompt: "a fox", partialImages: 2, providers: [openai(newKey())] });
  // The mock's final usage already holds the 2 × 100 preview tokens.
  const want = (18 * 5 + (1056 + 200) * 30) / 1e6;
  assert.ok(close(result.usage.costUsd, want), JSON.stringify(result.usage));
});

test("prices on createClient, replaced by prices on the call", async () => {
  const client = createClient({ prices: [{ provider: "mock", model: "mock-svg", imageUsd: 0.02 }] });
  const r1 = await client.generateImages({ prompt: "x", count: 2, providers: [{ provider: "mock" }] });
  assert.ok(close(r1.usage.costUsd, 0.04), JSON.stringify(r1.usage));
  const r2 = await client.generateImages({
    prompt: "x",
    providers: [{ provider: "mock" }],
    prices: [{ provider: "mock", model: "mock-svg", imageUsd: 0.5 }],
  });
  assert.ok(close(r2.usage.costUsd, 0.5));
  assert.throws(() => createClient({ prices: [{ provider: "mock", model: "mock-svg", imageUsd: -1 }] }), ImageGenError);
});

test("maxCostUsd skips an entry over the cap without a request, and rejects when nothing fits", async () => {
  const key = newKey();
  const result = await generateImages({
    prompt: "x",
    maxCostUsd: 0.1,
    providers: [openai(key, { params: { quality: "high" } }), { provider: "mock" }],
  });
  assert.deepEqual((await requestsOf(key)).length, 0);
  assert.equal(result.attempts[0].outcome, "budget_exceeded");
  assert.equal(result.attempts[0].skipped, true);
  assert.equal(result.images[0].provider, "mock");
  assert.equal(result.usage.costUsd, 0);

  const err = await generateImages({ prompt: "x", maxCostUsd: 0.001, providers: [openai(newKey())] }).then(
    () => assert.fail("expected a rejection"),
    (e) => e,
  );
  assert.ok(err instanceof ImageGenError);
  assert.equal(err.code, "budget_exceeded");
  assert.equal(err.retryable, false);
});
