// The monthly budget per user (usage/budget.rs, usage/hold.rs, the ledger in
// worker/js/state.js): `GET /v1/usage`, `monthlyBudgetUsd` in the config and
// the deployment's `MONTHLY_BUDGET_USD`, 402 `budget_exceeded` before any
// provider call when it is spent, and concurrent requests that together would
// exceed it. Against the built Worker in Miniflare and the mock provider
// server (OpenAI's gpt-image-2 is priced; the in-process mock is free).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  devToken,
  expectError,
  expectStatus,
  fakeKey,
  generate,
  generationRequests,
  putConfig,
  scriptKey,
  show,
  startMockServer,
  startWorker,
  storeConfig,
  storeKey,
  uid,
  PNG_1X1_BASE64,
} from "./helpers.mjs";
import { openStream } from "./stream-helpers.mjs";

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

const close = (a, b, eps = 1e-7) => Math.abs(a - b) < eps;
const usage = (w, token, query = "") => w.request(`/v1/usage${query}`, { token });
const thisMonth = () => new Date().toISOString().slice(0, 7);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A user with a stored OpenAI key (gpt-image-2) and `extra` in the config. */
async function newUser(w, tag, extra = {}, chain = [{ provider: "openai", model: "gpt-image-2" }]) {
  const sub = uid(tag);
  const token = devToken(sub);
  const key = fakeKey(tag, "openai");
  await storeKey(w, token, "openai", key);
  await storeConfig(w, token, chain, extra);
  return { token, key };
}

/** What one default gpt-image-2 request holds: read off `held_usd` while it is in flight. */
async function holdOfOneRequest() {
  const { token, key } = await newUser(worker, "probe");
  await scriptKey(mock, key, [{ delayMs: 1500 }]);
  const pending = generate(worker, token, { prompt: "probe" });
  let held = 0;
  for (let i = 0; i < 100 && held === 0; i++) {
    await sleep(20);
    held = (await usage(worker, token)).json.held_usd;
  }
  const res = await pending;
  expectStatus(res, 200, "probe");
  assert.ok(held > 0, "the request in flight holds its estimate");
  return { held, cost: res.json.cost_usd };
}

describe("GET /v1/usage", () => {
  test("a new user: this month, nothing spent, no budget", async () => {
    const token = devToken(uid("fresh"));
    const res = await usage(worker, token);
    expectStatus(res, 200, "usage");
    assert.deepEqual(res.json, {
      object: "imagegen.usage",
      month: thisMonth(),
      budget_usd: null,
      spent_usd: 0,
      held_usd: 0,
      left_usd: null,
      unsettled_usd: 0,
      by_provider: [],
    });
    expectError(await worker.request("/v1/usage"), { status: 401 });
    expectError(await usage(worker, token, "?month=2026-13"), { status: 400, param: "month" });
    const earlier = await usage(worker, token, "?month=2020-01");
    expectStatus(earlier, 200);
    assert.equal(earlier.json.month, "2020-01");
  });

  test("month to date per provider and model equals what the responses cost", async () => {
    const { token, key } = await newUser(worker, "mtd", {}, [
      { provider: "openai", model: "gpt-image-2" },
      { provider: "mock" },
    ]);
    const one = await generate(worker, token, { prompt: "one", n: 2 });
    expectStatus(one, 200, "first");
    // A failure OpenAI does not bill, then the free mock.
    await scriptKey(mock, key, [{ fixture: "openai/server_error" }], { after: { fixture: "openai/server_error" } });
    const two = await generate(worker, token, { prompt: "two" });
    expectStatus(two, 200, "second");
    assert.equal(two.json.cost_usd, 0, show(two));
    const res = await usage(worker, token);
    expectStatus(res, 200);
    const u = res.json;
    assert.ok(close(u.spent_usd, one.json.cost_usd + two.json.cost_usd), show(res));
    assert.equal(u.held_usd, 0, "every hold settled");
    const openai = u.by_provider.find((r) => r.provider === "openai");
    const mockRow = u.by_provider.find((r) => r.provider === "mock");
    assert.equal(openai.model, "gpt-image-2");
    assert.equal(openai.images, 2);
    assert.equal(openai.calls, 1 + two.json.attempts.filter((a) => a.provider === "openai").length);
    assert.ok(close(openai.cost_usd, one.json.cost_usd));
    assert.deepEqual([mockRow.images, mockRow.calls, mockRow.cost_usd], [1, 1, 0]);
  });
});

describe("budgets", () => {
  test("monthlyBudgetUsd in the config: stored, echoed, checked", async () => {
    const { token } = await newUser(worker, "cfg", { monthlyBudgetUsd: 2.5 });
    const got = await worker.request("/v1/config", { token });
    expectStatus(got, 200);
    assert.equal(got.json.monthlyBudgetUsd, 2.5);
    assert.equal((await usage(worker, token)).json.budget_usd, 2.5);
    for (const bad of [-0.01, "5", true, { usd: 5 }]) {
      const res = await putConfig(worker, token, { providers: [{ provider: "openai" }], monthlyBudgetUsd: bad });
      expectError(res, { status: 400, code: "invalid_request", param: "monthlyBudgetUsd" }, `budget ${bad}`);
    }
  });

  test("spent: 402 budget_exceeded before any provider call, for every way in", async () => {
    // Room for exactly one request's hold.
    const { held } = await holdOfOneRequest();
    const { token, key } = await newUser(worker, "spent", { monthlyBudgetUsd: held });
    const first = await generate(worker, token, { prompt: "paid" });
    expectStatus(first, 200, "the first fits");
    assert.ok(first.json.cost_usd > 0 && first.json.cost_usd <= held, show(first));
    // What is left cannot pay for the entry: skipped by the engine's cap, not called.
    const second = await generate(worker, token, { prompt: "over" });
    expectError(second, { status: 402, code: "budget_exceeded" }, "left < one image");
    // A job is accepted while something is left, and fails when it runs.
    const job = await generate(worker, token, { prompt: "job" }, { headers: { prefer: "respond-async" } });
    expectStatus(job, 202, "a job starts");
    let status;
    for (let i = 0; i < 100; i++) {
      status = await worker.request(`/v1/jobs/${job.json.id}`, { token });
      if (["succeeded", "failed"].includes(status.json.status)) break;
      await sleep(50);
    }
    assert.equal(status.json.status, "failed", show(status));
    assert.equal(status.json.error.code, "budget_exceeded");
    assert.equal(generationRequests(mock, key).length, 1, "one provider call in all");
    // Spend the rest exactly: then every request is refused by the ledger itself.
    const res = await putConfig(worker, token, {
      providers: [{ provider: "openai", model: "gpt-image-2" }],
      monthlyBudgetUsd: first.json.cost_usd,
    });
    expectStatus(res, 200);
    const refused = await generate(worker, token, { prompt: "refused" });
    expectError(refused, { status: 402, code: "budget_exceeded" });
    assert.match(refused.json.error.message, /monthly budget/);
    assert.equal(refused.json.error.retryable, false);
    const streamed = await openStream(worker.url, "/v1/images/generations", {
      token,
      json: { prompt: "streamed", stream: true, partial_images: 1 },
    });
    assert.equal(streamed.status, 402, "a stream is refused as JSON before it starts");
    assert.match(streamed.headers.get("content-type") ?? "", /application\/json/);
    // Nothing left: a job is refused before it is accepted.
    const refusedJob = await generate(worker, token, { prompt: "job" }, { headers: { prefer: "respond-async" } });
    expectError(refusedJob, { status: 402, code: "budget_exceeded" }, "a job when nothing is left");
    assert.equal(generationRequests(mock, key).length, 1, "still one provider call");
    const u = (await usage(worker, token)).json;
    assert.equal(u.left_usd, 0);
    assert.ok(u.spent_usd <= u.budget_usd + 1e-9);
  });

  test("a stream and an edit under a budget are charged once they end", async () => {
    const { token } = await newUser(worker, "streamed", { monthlyBudgetUsd: 10 });
    const streamed = await openStream(worker.url, "/v1/images/generations", {
      token,
      json: { prompt: "streamed", stream: true, partial_images: 1 },
    });
    assert.equal(streamed.status, 200);
    assert.ok(streamed.ended, "the stream ended");
    const done = streamed.events.filter((e) => e.event === "image_generation.completed");
    assert.equal(done.length, 1, streamed.text.slice(0, 300));
    let u = (await usage(worker, token)).json;
    assert.equal(u.held_usd, 0, "settled before the stream ended");
    assert.ok(u.spent_usd > 0, JSON.stringify(u));
    assert.deepEqual(
      u.by_provider.map((r) => [r.provider, r.images, r.calls]),
      [["openai", 1, 1]],
    );
    const spentBefore = u.spent_usd;
    const form = new FormData();
    form.append("prompt", "an edit");
    form.append("image", new Blob([Buffer.from(PNG_1X1_BASE64, "base64")], { type: "image/png" }), "in.png");
    const edit = await worker.request("/v1/images/edits", { method: "POST", token, body: form });
    expectStatus(edit, 200, "edit");
    u = (await usage(worker, token)).json;
    assert.ok(close(u.spent_usd, spentBefore + edit.json.cost_usd), JSON.stringify(u));
    assert.equal(u.by_provider[0].calls, 2);
  });

  test("concurrent requests that together would exceed the budget do not", async () => {
    const { held } = await holdOfOneRequest();
    // Room for two holds and half of a third.
    const budget = held * 2.5;
    const { token, key } = await newUser(worker, "race", { monthlyBudgetUsd: budget });
    await scriptKey(mock, key, [], { after: { delayMs: 2500 } });
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => generate(worker, token, { prompt: `race ${i}` })),
    );
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 200, 402, 402, 402, 402], results.map(show).join("\n"));
    assert.equal(generationRequests(mock, key).length, 2, "two provider calls");
    const u = (await usage(worker, token)).json;
    const paid = results.filter((r) => r.status === 200).reduce((t, r) => t + r.json.cost_usd, 0);
    assert.ok(close(u.spent_usd, paid), `${u.spent_usd} vs ${paid}`);
    assert.ok(u.spent_usd <= budget, "within the budget");
    assert.equal(u.held_usd, 0);
  });
});

describe("the deployment's default", () => {
  test("MONTHLY_BUDGET_USD applies, the user's own wins, a bad value refuses", async () => {
    const w = await startWorker({ mockUrl: mock.url, bindings: { MONTHLY_BUDGET_USD: "0" } });
    try {
      const { token, key } = await newUser(w, "dflt");
      const u = (await usage(w, token)).json;
      assert.deepEqual([u.budget_usd, u.left_usd], [0, 0]);
      expectError(await generate(w, token, { prompt: "x" }), { status: 402, code: "budget_exceeded" });
      assert.equal(generationRequests(mock, key).length, 0);
      const own = await newUser(w, "own", { monthlyBudgetUsd: 10 });
      expectStatus(await generate(w, own.token, { prompt: "mine" }), 200, "the user's budget wins");
    } finally {
      await w.close();
    }
    const typo = await startWorker({ mockUrl: mock.url, bindings: { MONTHLY_BUDGET_USD: "5 dollars" } });
    try {
      const { token } = await newUser(typo, "typo");
      expectError(await generate(typo, token, { prompt: "x" }), { status: 402, code: "budget_exceeded" });
    } finally {
      await typo.close();
    }
  });

  test("no Durable Object: with a budget 503 before paying; without, generations still run", async () => {
    const w = await startWorker({
      mockUrl: mock.url,
      bindings: { MONTHLY_BUDGET_USD: "5" },
      miniflare: { durableObjects: {} },
    });
    try {
      const { token, key } = await newUser(w, "nodo");
      expectError(await generate(w, token, { prompt: "x" }), { status: 503, code: "state_unavailable" });
      assert.equal(generationRequests(mock, key).length, 0, "nothing paid");
      expectError(await usage(w, token), { status: 503, code: "state_unavailable" });
    } finally {
      await w.close();
    }
    const free = await startWorker({ mockUrl: mock.url, miniflare: { durableObjects: {} } });
    try {
      const { token } = await newUser(free, "nodo-free");
      expectStatus(await generate(free, token, { prompt: "x" }), 200, "no budget, no ledger: still served");
    } finally {
      await free.close();
    }
  });
});

describe("a hold never settled", () => {
  test("counts at its full amount once it expires, into the current month only, and never twice", async () => {
    // Development switch: holds expire after 50 ms instead of 30 minutes.
    const w = await startWorker({ mockUrl: mock.url, bindings: { BUDGET_HOLD_TTL_MS: "50" } });
    try {
      const { token, key } = await newUser(w, "expire");
      await scriptKey(mock, key, [{ delayMs: 2000 }]);
      const pending = generate(w, token, { prompt: "slow" });
      // The provider is called after the hold is taken.
      for (let i = 0; i < 200 && generationRequests(mock, key).length === 0; i++) await sleep(10);
      assert.equal(generationRequests(mock, key).length, 1, "the provider call started");
      await sleep(100);
      const past = (await usage(w, token, "?month=2020-01")).json;
      assert.equal(past.unsettled_usd, 0, "an earlier month read back never takes an expired hold");
      const now = (await usage(w, token)).json;
      assert.ok(now.unsettled_usd > 0, JSON.stringify(now));
      assert.equal(now.held_usd, 0, "no longer held");
      assert.equal(now.spent_usd, now.unsettled_usd);
      const res = await pending;
      expectStatus(res, 200, "the run itself is served");
      const after = (await usage(w, token)).json;
      assert.equal(after.spent_usd, now.unsettled_usd, "its late settle does not count it again");
      assert.deepEqual(after.by_provider, []);
    } finally {
      await w.close();
    }
  });
});
