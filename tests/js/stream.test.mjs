// Streamed previews (`partialImages`) through the installed package against
// the mock provider server's OpenAI streams over HTTP: event order, error
// events, cut and malformed streams, abort and deadline mid-stream, edits.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { generateImages } from "imagegen";
import { startMockServer, encodePng } from "../mock-server/server.mjs";

let mock;
before(async () => {
  mock = await startMockServer();
});
after(async () => {
  await mock.close();
});

let keys = 0;
const newKey = () => `sk-stream-test-${++keys}-000000000000`;
const openai = (key) => ({ provider: "openai", apiKey: key, baseUrl: mock.url });
const fast = { baseDelayMs: 10, maxDelayMs: 10 };

async function script(body) {
  const r = await fetch(`${mock.url}/__mock/script`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(r.status, 200, await r.text());
}

const requestsOf = async (key) =>
  (await (await fetch(`${mock.url}/__mock/requests?key=${encodeURIComponent(key)}`)).json()).requests;

async function run(request) {
  const events = [];
  const result = await generateImages({ retry: fast, ...request, onEvent: (e) => events.push(e) });
  return { result, events };
}

async function rejection(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail("expected a rejection");
}

const kinds = (events) => events.map((e) => e.type);
const previews = (events) => events.filter((e) => e.type === "partial_image");

test("previews arrive as partial_image events before the final image", async () => {
  const key = newKey();
  const { result, events } = await run({ prompt: "a lighthouse", partialImages: 2, providers: [openai(key)] });
  assert.deepEqual(kinds(events), ["attempt_start", "partial_image", "partial_image", "attempt_end", "image"]);
  const [p0, p1] = previews(events);
  assert.deepEqual([p0.index, p1.index], [0, 1]);
  for (const p of [p0, p1]) {
    assert.equal(p.provider, "openai");
    assert.equal(p.part, 0);
    assert.equal(typeof p.model, "string");
    assert.equal(p.image.mimeType, "image/png");
    assert.ok(Buffer.from(p.image.base64, "base64").subarray(1, 4).toString() === "PNG");
  }
  assert.notEqual(p0.image.base64, p1.image.base64);
  assert.equal(result.images.length, 1);
  assert.notEqual(result.images[0].base64, p1.image.base64);
  const [req] = await requestsOf(key);
  assert.equal(req.body.stream, true);
  assert.equal(req.body.partial_images, 2);
  assert.equal(req.body.n, 1);
  assert.equal(req.stream.outcome, "completed");
});

test("a count of 3 with previews is three one-image streams", async () => {
  const key = newKey();
  const { result, events } = await run({ prompt: "three", count: 3, partialImages: 1, providers: [openai(key)] });
  assert.equal(result.images.length, 3);
  assert.equal(previews(events).length, 3);
  const reqs = await requestsOf(key);
  assert.deepEqual(reqs.map((r) => r.body.n), [1, 1, 1]);
});

test("an error event mid-stream is retried; its previews are not results", async () => {
  const key = newKey();
  await script({ key, steps: [{ stream: { errorAfter: 1 } }] });
  const { result, events } = await run({ prompt: "retry me", partialImages: 2, providers: [openai(key)] });
  assert.deepEqual(result.attempts.map((a) => a.outcome), ["provider_error", "ok"]);
  assert.equal(result.images.length, 1);
  assert.equal(previews(events).length, 3);
  assert.ok(kinds(events).indexOf("retry_scheduled") > kinds(events).indexOf("partial_image"));
  const reqs = await requestsOf(key);
  assert.deepEqual(reqs.map((r) => r.stream.outcome), ["error", "completed"]);
});

test("a rate-limit error event is retried like a 429, a quota one falls back", async () => {
  const key = newKey();
  const limited = { error: { message: "Rate limit reached for images per min.", type: "requests", param: null, code: "rate_limit_exceeded" } };
  await script({ key, steps: [{ stream: { errorAfter: 0, errorBody: limited } }] });
  const first = await run({ prompt: "rate", partialImages: 1, providers: [openai(key)] });
  assert.deepEqual(first.result.attempts.map((a) => a.outcome), ["rate_limited", "ok"]);

  const quota = newKey();
  await script({ key: quota, steps: [{ stream: { errorAfter: 1, errorFixture: "openai/insufficient_quota" } }] });
  const { result, events } = await run({
    prompt: "fall back",
    partialImages: 2,
    providers: [openai(quota), { provider: "mock", params: { latencyMs: 30 } }],
  });
  assert.deepEqual(result.attempts.map((a) => a.outcome), ["quota", "ok"]);
  assert.equal(result.images[0].provider, "mock");
  assert.ok(kinds(events).includes("fallback"));
  const mockPreviews = previews(events).filter((e) => e.provider === "mock");
  assert.equal(mockPreviews.length, 2);
  assert.equal(mockPreviews[0].image.mimeType, "image/svg+xml");
  assert.match(Buffer.from(mockPreviews[1].image.base64, "base64").toString(), /preview 2/);
});

test("a cut stream is a network error and is retried", async () => {
  const key = newKey();
  await script({ key, steps: [{ stream: { cutAfter: 1 } }] });
  const { result } = await run({ prompt: "cut", partialImages: 2, providers: [openai(key)] });
  assert.deepEqual(result.attempts.map((a) => a.outcome), ["network", "ok"]);
  const ended = newKey();
  await script({ key: ended, steps: [{ stream: { endAfter: 2 } }] });
  const second = await run({ prompt: "ended", partialImages: 2, providers: [openai(ended)] });
  assert.deepEqual(second.result.attempts.map((a) => a.outcome), ["network", "ok"]);
});

test("a malformed event is a bad response", async () => {
  const key = newKey();
  await script({ key, steps: [{ malformed: true }] });
  const { result } = await run({ prompt: "malformed", partialImages: 1, providers: [openai(key)] });
  assert.deepEqual(result.attempts.map((a) => a.outcome), ["bad_response", "ok"]);
  assert.equal(result.images.length, 1);
});

async function outcomeOf(key, want) {
  for (let i = 0; i < 100; i++) {
    const [req] = await requestsOf(key);
    if (req?.stream?.outcome === want) return want;
    await new Promise((r) => setTimeout(r, 20));
  }
  return (await requestsOf(key))[0]?.stream?.outcome;
}

test("aborting mid-stream rejects at once and closes the connection", async () => {
  const key = newKey();
  await script({ key, steps: [{ stream: { delaysMs: [0, 5000] } }] });
  const controller = new AbortController();
  const seen = [];
  const started = Date.now();
  const e = await rejection(
    generateImages({
      prompt: "abort",
      partialImages: 2,
      providers: [openai(key)],
      signal: controller.signal,
      onEvent: (ev) => {
        seen.push(ev.type);
        if (ev.type === "partial_image") controller.abort();
      },
    }),
  );
  assert.equal(e.code, "aborted");
  assert.ok(Date.now() - started < 3000);
  assert.ok(seen.includes("partial_image"));
  assert.equal(await outcomeOf(key, "client_closed"), "client_closed");
});

test("the deadline cuts a stream that is too slow", async () => {
  const key = newKey();
  await script({ key, steps: [{ stream: { delaysMs: [0, 5000] } }] });
  const events = [];
  const started = Date.now();
  const e = await rejection(
    generateImages({
      prompt: "deadline",
      partialImages: 2,
      deadlineMs: 500,
      providers: [openai(key)],
      onEvent: (ev) => events.push(ev),
    }),
  );
  assert.equal(e.code, "timeout");
  assert.ok(Date.now() - started < 3000);
  assert.equal(previews(events).length, 1);
  assert.equal(await outcomeOf(key, "client_closed"), "client_closed");
});

test("the per-attempt timeout cuts a silent stream, and the retry succeeds", async () => {
  const key = newKey();
  await script({ key, steps: [{ stream: { delaysMs: [0, 5000] } }] });
  const { result } = await run({ prompt: "slow", partialImages: 1, timeoutMs: 400, providers: [openai(key)] });
  assert.deepEqual(result.attempts.map((a) => a.outcome), ["timeout", "ok"]);
});

test("edits stream too (image_edit.* events)", async () => {
  const key = newKey();
  const image = new Uint8Array(encodePng(32, 32, { colorType: 2 }));
  const { result, events } = await run({
    prompt: "edit it",
    images: [image],
    partialImages: 1,
    providers: [openai(key)],
  });
  assert.equal(result.images.length, 1);
  assert.equal(previews(events).length, 1);
  const [req] = await requestsOf(key);
  assert.equal(req.route, "edit");
  assert.equal(req.body.stream, "true");
  assert.equal(req.body.partial_images, "1");
  assert.deepEqual(req.stream.events, ["image_edit.partial_image", "image_edit.completed"]);
});

test("providers that cannot stream warn and answer whole", async () => {
  const key = newKey();
  const { result, events } = await run({
    prompt: "no previews",
    partialImages: 3,
    providers: [{ provider: "gemini", apiKey: key, baseUrl: mock.url }],
  });
  assert.equal(result.images.length, 1);
  assert.equal(previews(events).length, 0);
  const w = result.warnings.filter((w) => w.code === "unsupported_option");
  assert.equal(w.length, 1);
  assert.match(w[0].message, /partialImages/);
});

test("partialImages outside 0..3 is an invalid request", async () => {
  for (const bad of [4, -1, 1.5, "2"]) {
    const e = await rejection(generateImages({ prompt: "x", partialImages: bad, providers: [{ provider: "mock" }] }));
    assert.equal(e.code, "invalid_request");
    assert.equal(e.param, "partialImages");
  }
});

test("a model that refuses to stream is asked once more without streaming", async () => {
  const key = newKey();
  const refusal = {
    error: { message: "Streaming is not supported for this model.", type: "invalid_request_error", param: "stream", code: "unsupported_value" },
  };
  await script({ key, steps: [{ status: 400, body: refusal }] });
  const { result, events } = await run({ prompt: "no stream", partialImages: 2, providers: [openai(key)] });
  assert.equal(result.images.length, 1);
  assert.deepEqual(result.attempts.map((a) => a.outcome), ["invalid_request", "ok"]);
  assert.equal(previews(events).length, 0);
  assert.ok(result.warnings.some((w) => w.code === "unsupported_option" && /refused streaming/.test(w.message)));
  const reqs = await requestsOf(key);
  assert.equal(reqs[0].body.stream, true);
  assert.equal(reqs[1].body.stream, undefined);
  assert.equal(reqs[1].body.partial_images, undefined);
});
