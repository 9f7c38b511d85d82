// Streamed responses (`"stream": true` on generations, `stream=true` on edits): OpenAI's
// server-sent events (`image_generation.*`, `image_edit.*`), previews from an OpenAI chain
// entry, completed-only events from providers that cannot stream, retries and fallback inside
// one stream, error events after the start, JSON errors before it, `imagegen.progress` only
// when asked, keep-alive comments that keep an idle-cutting proxy from dropping a slow
// generation, idempotent replay as a stream. Every byte is scanned for secrets.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import {
  PNG_1X1_BASE64,
  ROOT,
  devToken,
  expectError,
  fakeKey,
  generationRequests,
  scriptKey,
  startMockServer,
  startWorker,
  storeConfig,
  storeKey,
  uid,
} from "./helpers.mjs";
import { assertTypedEvents, openStream, startIdleProxy } from "./stream-helpers.mjs";
import { encodePng } from "../mock-server/server.mjs";

const KEEP_ALIVE_MS = 200;
let mock;
let worker;

before(async () => {
  mock = await startMockServer();
  worker = await startWorker({ mockUrl: mock.url, bindings: { STREAM_KEEPALIVE_MS: String(KEEP_ALIVE_MS) } });
});

after(async () => {
  await worker?.close();
  await mock?.close();
});

const OPENAI_TYPES = ["image_generation.partial_image", "image_generation.completed", "image_edit.partial_image", "image_edit.completed", "error"];
const stream = (body, token, options = {}) => openStream(worker.url, "/v1/images/generations", { token, json: { stream: true, ...body }, ...options });
const names = (res) => res.events.map((e) => e.event);

/** A user with an OpenAI key (its own: circuits are per key) and the given chain. */
async function userWith(chain = [{ provider: "openai", model: "gpt-image-2" }], providers = ["openai"]) {
  const token = devToken(uid("sse"));
  const keys = {};
  for (const p of providers) {
    keys[p] = fakeKey("sse", p);
    await storeKey(worker, token, p, keys[p]);
  }
  await storeConfig(worker, token, chain);
  return { token, keys };
}

function assertStreamHeaders(res) {
  assert.equal(res.status, 200, res.text.slice(0, 500));
  assert.match(res.headers.get("content-type"), /^text\/event-stream/);
  assert.ok(res.headers.get("x-request-id"));
  assert.ok(res.ended, "the stream ends cleanly");
}

describe("event format", () => {
  test("generations: one image_generation.completed per image, OpenAI's fields, then the end", async () => {
    const res = await stream({ prompt: "a fox", model: "mock", n: 2, size: "1024x1024", quality: "high" }, devToken(uid("sse")));
    assertStreamHeaders(res);
    assert.deepEqual(names(res), ["image_generation.completed", "image_generation.completed"]);
    assertTypedEvents(res.events);
    for (const { data } of res.events) {
      assert.deepEqual(
        Object.keys(data).sort(),
        ["type", "b64_json", "created_at", "size", "quality", "background", "output_format", "provider", "model", "part"].sort(),
      );
      assert.match(Buffer.from(data.b64_json, "base64").toString("utf8"), /^<svg/);
      assert.ok(Number.isInteger(data.created_at) && Math.abs(data.created_at - Date.now() / 1000) < 60);
      assert.deepEqual([data.size, data.quality, data.background, data.output_format], ["1024x1024", "high", "auto", "svg"]);
      assert.equal(data.provider, "mock");
    }
    assert.notEqual(res.events[0].data.b64_json, res.events[1].data.b64_json, "two different images");
    assert.ok(res.text.endsWith("\n\n"), "every event is terminated");
  });

  test("edits: stream=true answers image_edit.completed events", async () => {
    const { token, keys } = await userWith();
    const form = new FormData();
    form.append("prompt", "make it blue");
    form.append("stream", "true");
    form.append("image", new Blob([encodePng(32, 32, { colorType: 2 })], { type: "image/png" }), "a.png");
    const res = await openStream(worker.url, "/v1/images/edits", { token, form });
    assertStreamHeaders(res);
    assert.deepEqual(names(res), ["image_edit.completed"]);
    assertTypedEvents(res.events);
    assert.equal(res.events[0].data.b64_json, PNG_1X1_BASE64);
    assert.equal(res.events[0].data.provider, "openai");
    assert.equal(mock.requests(keys.openai).filter((r) => r.route === "edit").length, 1);
  });
});

describe("OpenAI's transcripts", () => {
  // tests/fixtures/openai-stream/*.sse hold OpenAI's events with their keys in OpenAI's order.
  const transcriptKeys = (file) => {
    const text = fs.readFileSync(path.join(ROOT, "tests/fixtures/openai-stream", file), "utf8");
    const keys = {};
    for (const line of text.split("\n")) {
      if (!line.startsWith("data: {")) continue;
      const data = JSON.parse(line.slice(6));
      keys[data.type] = Object.keys(data);
    }
    return keys;
  };
  const OURS = ["provider", "model", "part", "revised_prompt"];

  test("our events have OpenAI's keys in OpenAI's order (usage aside), our own after them", async () => {
    const { token, keys } = await userWith();
    await scriptKey(mock, keys.openai, [{ stream: { partials: 1 } }, { stream: { partials: 1 } }]);
    const generation = await stream({ prompt: "order", partial_images: 1 }, token);
    const form = new FormData();
    form.append("prompt", "order");
    form.append("stream", "true");
    form.append("partial_images", "1");
    form.append("image", new Blob([encodePng(16, 16, { colorType: 2 })], { type: "image/png" }), "a.png");
    const edit = await openStream(worker.url, "/v1/images/edits", { token, form });
    const expected = { ...transcriptKeys("image_generation.sse"), ...transcriptKeys("image_edit.sse") };
    const events = [...generation.events, ...edit.events];
    assert.deepEqual(events.map((e) => e.event).sort(), Object.keys(expected).sort());
    for (const { event, data } of events) {
      const all = Object.keys(data);
      const openai = all.filter((k) => !OURS.includes(k));
      assert.deepEqual(openai, expected[event].filter((k) => k !== "usage"), event);
      assert.deepEqual(all.slice(openai.length), all.filter((k) => OURS.includes(k)), `${event}: our fields come last`);
    }
  });
});

describe("previews", () => {
  test("an OpenAI entry streams its previews, then the image", async () => {
    const { token, keys } = await userWith();
    await scriptKey(mock, keys.openai, [{ stream: { partials: 2 } }]);
    const res = await stream({ prompt: "a lighthouse", partial_images: 2 }, token);
    assertStreamHeaders(res);
    assert.deepEqual(names(res), ["image_generation.partial_image", "image_generation.partial_image", "image_generation.completed"]);
    assertTypedEvents(res.events);
    assert.deepEqual(res.events.slice(0, 2).map((e) => e.data.partial_image_index), [0, 1]);
    const images = res.events.map((e) => e.data.b64_json);
    assert.equal(new Set(images).size, 3, "each preview and the image differ");
    for (const b64 of images) assert.equal(Buffer.from(b64, "base64").subarray(1, 4).toString(), "PNG");
    const sent = generationRequests(mock, keys.openai).at(-1);
    assert.equal(sent.body.stream, true);
    assert.equal(sent.body.partial_images, 2);
  });

  test("n=2 with previews: each image streams on its own, its events carry its part", async () => {
    const { token, keys } = await userWith();
    await scriptKey(mock, keys.openai, [{ stream: { partials: 1 } }, { stream: { partials: 1 } }]);
    const res = await stream({ prompt: "two lighthouses", n: 2, partial_images: 1 }, token);
    assertStreamHeaders(res);
    const byPart = (type) => res.events.filter((e) => e.event === type).map((e) => e.data.part).sort();
    assert.deepEqual(byPart("image_generation.partial_image"), [0, 1]);
    assert.deepEqual(byPart("image_generation.completed"), [0, 1]);
    for (const part of [0, 1]) {
      const preview = res.events.findIndex((e) => e.event === "image_generation.partial_image" && e.data.part === part);
      const done = res.events.findIndex((e) => e.event === "image_generation.completed" && e.data.part === part);
      assert.ok(preview < done, `part ${part}: its preview comes before its image`);
    }
    assert.deepEqual(generationRequests(mock, keys.openai).map((r) => [r.body.n ?? 1, r.body.stream]), [[1, true], [1, true]]);
  });

  test("the built-in mock streams its previews too", async () => {
    const res = await stream({ prompt: "a mock", model: "mock", partial_images: 2 }, devToken(uid("sse")));
    assertStreamHeaders(res);
    assert.deepEqual(names(res), ["image_generation.partial_image", "image_generation.partial_image", "image_generation.completed"]);
    assert.ok(res.events.every((e) => e.data.provider === "mock" && e.data.output_format === "svg"));
  });

  test("a provider that cannot stream sends completed events only", async () => {
    const { token, keys } = await userWith([{ provider: "gemini" }], ["gemini"]);
    const res = await stream({ prompt: "a lighthouse", partial_images: 3, n: 2, imagegen_progress: true }, token);
    assertStreamHeaders(res);
    const images = res.events.filter((e) => e.event !== "imagegen.progress");
    assert.deepEqual(names({ events: images }), ["image_generation.completed", "image_generation.completed"]);
    assert.ok(images.every((e) => e.data.provider === "gemini" && e.data.b64_json === PNG_1X1_BASE64));
    const result = res.events.at(-1).data;
    assert.equal(result.stage, "result");
    assert.equal(generationRequests(mock, keys.gemini).length, 2, "Gemini makes one call per image");
  });
});

describe("retry, fallback and failures inside one stream", () => {
  test("a retried 503 then success: progress shows the retry, one image arrives", async () => {
    const { token, keys } = await userWith();
    await scriptKey(mock, keys.openai, [{ fixture: "openai/overloaded" }]);
    const res = await stream({ prompt: "retry", imagegen_progress: true }, token);
    assertStreamHeaders(res);
    const stages = res.events.filter((e) => e.event === "imagegen.progress").map((e) => e.data.stage);
    assert.deepEqual(stages, ["attempt_start", "attempt_end", "retry_scheduled", "attempt_start", "attempt_end", "result"]);
    assert.deepEqual(names(res).filter((n) => n !== "imagegen.progress"), ["image_generation.completed"]);
    const completedAt = names(res).indexOf("image_generation.completed");
    assert.ok(completedAt > stages.indexOf("retry_scheduled"), "the image comes after the retry");
    assert.equal(generationRequests(mock, keys.openai).length, 2);
  });

  test("fallback to the next provider inside the stream", async () => {
    const { token, keys } = await userWith([{ provider: "openai" }, { provider: "gemini" }], ["openai", "gemini"]);
    await scriptKey(mock, keys.openai, [{ fixture: "openai/invalid_api_key" }]);
    const res = await stream({ prompt: "fallback", imagegen_progress: true }, token);
    assertStreamHeaders(res);
    const fallback = res.events.find((e) => e.data.stage === "fallback");
    assert.deepEqual([fallback.data.from, fallback.data.to, fallback.data.code], ["openai", "gemini", "auth"]);
    const completed = res.events.filter((e) => e.event === "image_generation.completed");
    assert.deepEqual(completed.map((e) => e.data.provider), ["gemini"]);
    const result = res.events.at(-1).data;
    assert.deepEqual(result.attempts.map((a) => [a.provider, a.outcome]), [["openai", "auth"], ["gemini", "ok"]]);
  });

  test("every provider failing after the start: an error event, then the end", async () => {
    const { token, keys } = await userWith();
    await scriptKey(mock, keys.openai, [{ fixture: "openai/content_policy_violation" }]);
    const res = await stream({ prompt: "refused" }, token);
    assertStreamHeaders(res);
    assert.deepEqual(names(res), ["error"]);
    const { error } = res.events[0].data;
    assert.deepEqual(Object.keys(res.events[0].data), ["error"]);
    assert.equal(error.code, "content_policy");
    assert.equal(error.type, "invalid_request_error");
    assert.equal(typeof error.message, "string");
    assert.ok("param" in error);
    assert.equal(error.provider, "openai");
    assert.equal(generationRequests(mock, keys.openai).length, 1);
  });

  test("a provider's mid-stream error event is retried: its previews are not the result", async () => {
    const { token, keys } = await userWith();
    await scriptKey(mock, keys.openai, [{ stream: { partials: 1, errorAfter: 1, errorFixture: "openai/server_error" } }, { stream: { partials: 1 } }]);
    const res = await stream({ prompt: "mid-stream", partial_images: 1, imagegen_progress: true }, token);
    assertStreamHeaders(res);
    const openai = names(res).filter((n) => n !== "imagegen.progress");
    assert.deepEqual(openai, ["image_generation.partial_image", "image_generation.partial_image", "image_generation.completed"]);
    const result = res.events.at(-1).data;
    assert.deepEqual(result.attempts.map((a) => a.outcome), ["provider_error", "ok"]);
  });
});

describe("errors before the stream are JSON", () => {
  test("validation, authentication and missing keys answer as usual", async () => {
    const token = devToken(uid("sse"));
    const bad = await stream({ prompt: "x", model: "mock", partial_images: 4 }, token);
    expectError(bad, { status: 400, code: "invalid_request", param: "partial_images" });
    const badFlag = await openStream(worker.url, "/v1/images/generations", { token, json: { prompt: "x", stream: "yes" } });
    expectError(badFlag, { status: 400, param: "stream" });
    const anonymous = await stream({ prompt: "x", model: "mock" });
    expectError(anonymous, { status: 401, type: "authentication_error" });
    const noKey = await stream({ prompt: "x", model: "openai" }, token);
    assert.ok(noKey.status >= 400 && noKey.status < 500, noKey.text);
    assert.match(noKey.headers.get("content-type"), /^application\/json/);
    const tooLong = await stream({ prompt: "x".repeat(200_000), model: "mock" }, token);
    expectError(tooLong, { status: 400, param: "prompt" });
  });
});

describe("imagegen_progress", () => {
  test("off by default: only OpenAI's event types", async () => {
    const res = await stream({ prompt: "quiet", model: "mock", n: 2 }, devToken(uid("sse")));
    assertStreamHeaders(res);
    assert.ok(res.events.length === 2 && res.events.every((e) => OPENAI_TYPES.includes(e.event)), names(res).join());
  });

  test("on: attempts and the result summary as imagegen.progress events", async () => {
    const res = await stream({ prompt: "chatty", model: "mock", imagegen_progress: true }, devToken(uid("sse")));
    assertStreamHeaders(res);
    assertTypedEvents(res.events);
    assert.deepEqual(names(res), ["imagegen.progress", "imagegen.progress", "image_generation.completed", "imagegen.progress"]);
    const [start, end, , result] = res.events.map((e) => e.data);
    assert.deepEqual([start.stage, start.provider, start.attempt], ["attempt_start", "mock", 1]);
    assert.deepEqual([end.stage, end.outcome], ["attempt_end", "ok"]);
    assert.equal(result.stage, "result");
    assert.equal(result.images, 1);
    assert.deepEqual(result.errors, []);
    assert.equal(result.attempts[0].outcome, "ok");
  });
});

describe("keep-alive", () => {
  test("comments at least every interval while a provider is silent, and the image arrives", async () => {
    const { token, keys } = await userWith();
    await scriptKey(mock, keys.openai, [{ delayMs: 1500 }]);
    const res = await stream({ prompt: "slow" }, token);
    assertStreamHeaders(res);
    assert.deepEqual(names(res), ["image_generation.completed"]);
    const comments = res.comments.filter((c) => c.text === "keep-alive");
    assert.ok(comments.length >= 5, `${comments.length} keep-alive comments in 1.5 s`);
    const times = [0, ...comments.map((c) => c.at), res.events[0].at];
    const slack = 150;
    for (let i = 1; i < times.length; i++) {
      assert.ok(times[i] - times[i - 1] <= KEEP_ALIVE_MS + slack, `gap of ${times[i] - times[i - 1]} ms: ${times.join()}`);
    }
  });

  test("a proxy that cuts idle connections keeps a slow stream (and cuts it without keep-alive)", async () => {
    // Scaled: the platform cuts after 60 s idle -> 800 ms; keep-alive 15 s -> 200 ms; the
    // provider is silent for 2.5x the cut.
    const proxy = await startIdleProxy(worker.url, 800);
    const quiet = await startWorker({ mockUrl: mock.url, bindings: { STREAM_KEEPALIVE_MS: "15000" } });
    const quietProxy = await startIdleProxy(quiet.url, 800);
    try {
      const { token, keys } = await userWith();
      const quietToken = devToken(uid("sse"));
      await storeKey(quiet, quietToken, "openai", keys.openai);
      await storeConfig(quiet, quietToken, [{ provider: "openai" }]);
      // Scripted after the keys were stored: their validation calls would take the steps.
      await scriptKey(mock, keys.openai, [{ delayMs: 2000 }, { delayMs: 2000 }]);
      const kept = await openStream(proxy.url, "/v1/images/generations", { token, json: { prompt: "slow", stream: true } });
      assertStreamHeaders(kept);
      assert.deepEqual(names(kept), ["image_generation.completed"]);
      assert.equal(proxy.cuts(), 0);

      const cut = await openStream(quietProxy.url, "/v1/images/generations", { token: quietToken, json: { prompt: "slow", stream: true } });
      assert.equal(cut.status, 200);
      assert.deepEqual(names(cut), [], "no image reached the client");
      assert.ok(cut.broken || !cut.text.includes("completed"));
      assert.equal(quietProxy.cuts(), 1, "the proxy cut the silent stream");
    } finally {
      await proxy.close();
      await quietProxy.close();
      await quiet.close();
    }
  });
});

describe("Idempotency-Key", () => {
  test("a repeat is replayed as a stream without calling the provider again", async () => {
    const { token, keys } = await userWith();
    const headers = { "idempotency-key": `sse-${uid("k")}` };
    const first = await stream({ prompt: "once", imagegen_progress: true }, token, { headers });
    assertStreamHeaders(first);
    const firstImages = first.events.filter((e) => e.event === "image_generation.completed");
    assert.equal(firstImages.length, 1);
    const again = await stream({ prompt: "once", imagegen_progress: true }, token, { headers });
    assertStreamHeaders(again);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(names(again), ["image_generation.completed", "imagegen.progress"]);
    assert.equal(again.events[0].data.b64_json, firstImages[0].data.b64_json);
    assert.equal(again.events[1].data.attempts.length, 1);
    assert.equal(generationRequests(mock, keys.openai).length, 1, "paid once");
    const other = await stream({ prompt: "another body" }, token, { headers });
    expectError(other, { status: 422, code: "idempotency_key_reused" });
  });

  test("an edit stream is replayed as image_edit events", async () => {
    const { token, keys } = await userWith();
    const headers = { "idempotency-key": `sse-${uid("k")}` };
    const bytes = encodePng(24, 24, { colorType: 2 });
    const form = () => {
      const f = new FormData();
      f.append("prompt", "make it red");
      f.append("stream", "true");
      f.append("quality", "low");
      f.append("image", new Blob([bytes], { type: "image/png" }), "a.png");
      return f;
    };
    const first = await openStream(worker.url, "/v1/images/edits", { token, form: form(), headers });
    assert.deepEqual(names(first), ["image_edit.completed"]);
    const again = await openStream(worker.url, "/v1/images/edits", { token, form: form(), headers });
    assertStreamHeaders(again);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(names(again), ["image_edit.completed"]);
    assert.equal(again.events[0].data.quality, "low");
    assert.equal(again.events[0].data.b64_json, first.events[0].data.b64_json);
    assert.equal(mock.requests(keys.openai).filter((r) => r.route === "edit").length, 1, "paid once");
  });

  test("a failed streamed run frees its key", async () => {
    const { token, keys } = await userWith();
    await scriptKey(mock, keys.openai, [{ fixture: "openai/content_policy_violation" }]);
    const headers = { "idempotency-key": `sse-${uid("k")}` };
    const failed = await stream({ prompt: "twice" }, token, { headers });
    assert.deepEqual(names(failed), ["error"]);
    const retried = await stream({ prompt: "twice" }, token, { headers });
    assert.deepEqual(names(retried), ["image_generation.completed"]);
    assert.equal(retried.headers.get("idempotent-replayed"), null);
    assert.equal(generationRequests(mock, keys.openai).length, 2);
  });
});

describe("failures with images or previews already sent", () => {
  test("previews, then a provider error that is not retried: the error event ends the stream", async () => {
    const { token, keys } = await userWith();
    await scriptKey(mock, keys.openai, [{ stream: { partials: 2, errorAfter: 1, errorFixture: "openai/invalid_api_key" } }]);
    const res = await stream({ prompt: "refused mid-way", partial_images: 2 }, token);
    assertStreamHeaders(res);
    assert.deepEqual(names(res), ["image_generation.partial_image", "error"]);
    const { error } = res.events[1].data;
    assert.equal(error.code, "auth");
    assert.equal(error.provider, "openai");
    assert.equal(generationRequests(mock, keys.openai).length, 1, "auth is not retried");
  });

  test("a partial result: the finished image, then an error event naming the failed part", async () => {
    const { token, keys } = await userWith([{ provider: "gemini" }], ["gemini"]);
    await scriptKey(mock, keys.gemini, [{ success: true }, { fixture: "gemini/prompt_blocked" }]);
    const res = await stream({ prompt: "two please", n: 2, imagegen_progress: true }, token);
    assertStreamHeaders(res);
    const openai = names(res).filter((n) => n !== "imagegen.progress");
    assert.deepEqual(openai, ["image_generation.completed", "error"]);
    const result = res.events.find((e) => e.data.stage === "result").data;
    assert.equal(result.images, 1);
    assert.equal(result.errors.length, 1);
    const { error } = res.events.at(-1).data;
    assert.equal(error.code, result.errors[0].code);
    assert.match(error.message, /1 part\(s\) of the request failed after 1 image\(s\)/);
  });
});

describe("the client going away", () => {
  async function leaveEarly(token, headers = {}) {
    const controller = new AbortController();
    const response = await fetch(`${worker.url}/v1/images/generations`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
      // The same bytes as `stream({prompt})` sends: the fingerprint is of the body.
      body: JSON.stringify({ stream: true, prompt: "left" }),
      signal: controller.signal,
    });
    assert.equal(response.status, 200);
    controller.abort();
    await response.body?.cancel().catch(() => {});
  }

  test("without an Idempotency-Key the run is cancelled: no retry is paid for", async () => {
    const { token, keys } = await userWith();
    await scriptKey(mock, keys.openai, [{ delayMs: 400, fixture: "openai/overloaded" }]);
    await leaveEarly(token);
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(generationRequests(mock, keys.openai).length, 1, "the retry after the 503 was not made");
  });

  test("with an Idempotency-Key the run goes on and its result is kept for the retry", async () => {
    const { token, keys } = await userWith();
    await scriptKey(mock, keys.openai, [{ delayMs: 400, fixture: "openai/overloaded" }]);
    const headers = { "idempotency-key": `sse-${uid("k")}` };
    await leaveEarly(token, headers);
    let replayed;
    for (let i = 0; i < 40 && !replayed; i++) {
      await new Promise((r) => setTimeout(r, 250));
      const res = await stream({ prompt: "left" }, token, { headers });
      if (res.status === 200) replayed = res;
      else assert.equal(res.status, 409, res.text);
    }
    assert.ok(replayed, "the stored result was replayed");
    assert.equal(replayed.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(names(replayed), ["image_generation.completed"]);
    assert.equal(generationRequests(mock, keys.openai).length, 2, "the 503, then the retry; nothing more");
    const json = await worker.request("/v1/images/generations", { method: "POST", token, json: { prompt: "left" }, headers });
    expectError(json, { status: 422, code: "idempotency_key_reused" }, "the same key without stream is another body");
  });
});
