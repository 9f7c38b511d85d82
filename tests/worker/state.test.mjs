// The per-user Durable Object (USER_STATE, worker/js/state.js): idempotency
// claimed atomically (concurrent duplicates pay once), large results kept in
// R2 and a failing R2 never losing paid images, the rate limit kept there,
// the faults when the object is missing, and async jobs (Prefer:
// respond-async, GET /v1/jobs/<id>) that finish after the client has gone.

import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import { encodePng } from "../mock-server/server.mjs";
import {
  ALLOWED_ORIGINS,
  PNG_1X1_BASE64,
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

const withKey = (key) => ({ headers: { "idempotency-key": key } });
const images = (res) => res.json.data.map((d) => d.b64_json);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A user with an OpenAI key (pointed at the mock) and a chain of just OpenAI. */
async function newUser(worker, tag) {
  const token = devToken(uid(tag));
  const key = fakeKey(tag, "openai");
  await storeKey(worker, token, "openai", key);
  await storeConfig(worker, token, [{ provider: "openai" }]);
  return { token, key };
}

describe("idempotency in the Durable Object", () => {
  let mock;
  let worker;
  before(async () => {
    // 600 KB images: two of them make a result over the object's 1 MiB inline limit.
    mock = await startMockServer({ imageBytes: 600_000 });
    worker = await startWorker({ mockUrl: mock.url });
  });
  after(async () => {
    await worker?.close();
    await mock?.close();
  });

  test("identical requests at the same moment pay once and end with the same images", async () => {
    const { token, key } = await newUser(worker, "idem-race");
    await scriptKey(mock, key, [{ delayMs: 600 }]);
    const body = { prompt: "five at once", n: 1 };
    const answers = await Promise.all(Array.from({ length: 5 }, () => generate(worker, token, body, withKey("race-1"))));
    assert.equal(generationRequests(mock, key).length, 1, "exactly one provider call");
    const ok = answers.filter((a) => a.status === 200);
    const busy = answers.filter((a) => a.status === 409);
    assert.equal(ok.length, 1, `one ran: ${answers.map((a) => a.status)}`);
    assert.equal(busy.length, 4, `the others were told it is in flight: ${answers.map((a) => a.status)}`);
    for (const b of busy) expectError(b, { status: 409, code: "idempotency_key_in_use", retryable: true });
    // Each duplicate retries (as told by Retry-After) and gets the very same images.
    for (let i = 0; i < busy.length; i++) {
      const again = await generate(worker, token, body, withKey("race-1"));
      expectStatus(again, 200);
      assert.equal(again.headers.get("idempotent-replayed"), "true");
      assert.deepEqual(images(again), images(ok[0]));
    }
    assert.equal(generationRequests(mock, key).length, 1, "still one provider call");
  });

  test("a result over the inline limit is kept in R2 and replayed from there", async () => {
    const { token, key } = await newUser(worker, "idem-big");
    const body = { prompt: "two large images", n: 2 };
    const first = await generate(worker, token, body, withKey("big-1"));
    expectStatus(first, 200);
    assert.ok(first.text.length > 1024 * 1024, `result of ${first.text.length} characters`);
    const objects = await (await worker.mf.getR2Bucket("IMAGES")).list({ prefix: "idem/" });
    assert.ok(objects.objects.length >= 1, "the record's result is in R2");
    const again = await generate(worker, token, body, withKey("big-1"));
    expectStatus(again, 200);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(images(again), images(first));
    assert.equal(generationRequests(mock, key).length, 1);
  });

  test("rate limit: counted in the object, per user", async () => {
    const limited = await startWorker({ mockUrl: mock.url, bindings: { RATE_LIMIT_PER_MINUTE: "3" } });
    try {
      const token = devToken(uid("rl"));
      for (let i = 0; i < 3; i++) {
        expectStatus(await limited.request("/v1/config", { method: "PUT", token, json: { providers: [{ provider: "openai" }] } }), 200);
      }
      const over = await limited.request("/v1/config", { method: "PUT", token, json: { providers: [{ provider: "openai" }] } });
      expectError(over, { status: 429, code: "rate_limit_exceeded" });
      assert.ok(Number(over.headers.get("retry-after")) >= 1);
      assert.doesNotMatch(limited.logs(), /unreachable/, "the object answered, no fallback");
      const other = await limited.request("/v1/config", { method: "PUT", token: devToken(uid("rl2")), json: { providers: [{ provider: "openai" }] } });
      expectStatus(other, 200);
    } finally {
      await limited.close();
    }
  });
});

describe("faults", () => {
  let mock;
  before(async () => {
    mock = await startMockServer({ imageBytes: 600_000 });
  });
  after(async () => mock?.close());

  test("R2 failing: the large result is returned, the key marked done (410 on replay, no second payment)", async () => {
    const worker = await startWorker({ mockUrl: mock.url, miniflare: { r2Buckets: [] } });
    try {
      const { token, key } = await newUser(worker, "no-r2");
      const body = { prompt: "large and unkept", n: 2 };
      const first = await generate(worker, token, body, withKey("lost-r2"));
      expectStatus(first, 200);
      assert.equal(first.json.data.length, 2, "the paid images are returned");
      const again = await generate(worker, token, body, withKey("lost-r2"));
      expectError(again, { status: 410, code: "idempotency_result_not_kept" });
      assert.equal(generationRequests(mock, key).length, 1);
    } finally {
      await worker.close();
    }
  });

  test("no Durable Object: a keyed request is refused before paying, the rate limit falls back", async () => {
    const worker = await startWorker({
      mockUrl: mock.url,
      bindings: { RATE_LIMIT_PER_MINUTE: "5" },
      miniflare: { durableObjects: {} },
    });
    try {
      const { token, key } = await newUser(worker, "no-do");
      const keyed = await generate(worker, token, { prompt: "keyed" }, withKey("no-do-1"));
      expectError(keyed, { status: 503, code: "state_unavailable", retryable: true });
      assert.equal(generationRequests(mock, key).length, 0, "nothing paid");
      const plain = await generate(worker, token, { prompt: "plain" });
      expectStatus(plain, 200);
      const job = await generate(worker, token, { prompt: "job" }, { headers: { prefer: "respond-async" } });
      expectError(job, { status: 503, code: "state_unavailable" });
      // Five requests counted in this isolate (key, config, three generations): the next is 429.
      const over = await generate(worker, token, { prompt: "over" });
      expectError(over, { status: 429, code: "rate_limit_exceeded" });
    } finally {
      await worker.close();
    }
  });
});

describe("async jobs", () => {
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

  /** Polls a job until it is done (or `ms` passed); every status seen, in order. */
  async function poll(token, id, ms = 10_000) {
    const seen = [];
    const until = Date.now() + ms;
    for (;;) {
      const res = await worker.request(`/v1/jobs/${id}`, { token });
      expectStatus(res, 200);
      if (seen.at(-1) !== res.json.status) seen.push(res.json.status);
      if (["succeeded", "failed"].includes(res.json.status) || Date.now() > until) return { job: res.json, seen };
      await sleep(100);
    }
  }

  /** POSTs a job over node:http and drops the connection as soon as the status line is in. */
  function startAndDrop(token, body) {
    return new Promise((resolve, reject) => {
      const req = http.request(`${worker.url}/v1/images/generations`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", prefer: "respond-async" },
      });
      req.on("response", (res) => {
        const location = res.headers.location;
        const status = res.statusCode;
        res.socket.destroy();
        resolve({ status, location });
      });
      req.on("error", reject);
      req.end(JSON.stringify(body));
    });
  }

  test("a job runs on after the client dropped the connection; its result is there to fetch", async () => {
    const { token, key } = await newUser(worker, "job");
    await scriptKey(mock, key, [{ delayMs: 800 }]);
    const started = await startAndDrop(token, { prompt: "a slow lighthouse", n: 2 });
    assert.equal(started.status, 202);
    assert.match(started.location, /^\/v1\/jobs\/job_[0-9a-f]{32}$/);
    const id = started.location.split("/").pop();
    const { job, seen } = await poll(token, id);
    assert.equal(job.status, "succeeded", JSON.stringify(job));
    assert.equal(job.id, id);
    assert.equal(seen.at(0) === "queued" || seen.at(0) === "running", true, `seen ${seen}`);
    assert.equal(job.result.data.length, 2);
    assert.equal(generationRequests(mock, key).length, 1, "one provider call");
    // The result is links; they serve the provider's bytes.
    for (const d of job.result.data) {
      assert.equal(d.b64_json, undefined);
      assert.match(d.url, /\/v1\/files\/[0-9a-f]{32}\?exp=\d+&sig=/);
      const file = await fetch(d.url);
      assert.equal(file.status, 200);
      assert.deepEqual(Buffer.from(await file.arrayBuffer()), Buffer.from(PNG_1X1_BASE64, "base64"));
    }
    // Another user cannot see it.
    const other = await worker.request(`/v1/jobs/${id}`, { token: devToken(uid("job-other")) });
    expectError(other, { status: 404 });
  });

  test("202 body and headers; a failing job reports the usual error", async () => {
    const { token, key } = await newUser(worker, "job-fail");
    await scriptKey(mock, key, [], { after: { fixture: "openai/moderation_blocked" } });
    const res = await generate(worker, token, { prompt: "blocked" }, { headers: { prefer: "respond-async" } });
    expectStatus(res, 202);
    assert.equal(res.json.status, "queued");
    assert.equal(res.headers.get("location"), `/v1/jobs/${res.json.id}`);
    assert.equal(res.headers.get("preference-applied"), "respond-async");
    const { job } = await poll(token, res.json.id);
    assert.equal(job.status, "failed");
    assert.equal(job.error.code, "content_policy");
    assert.equal(typeof job.error.message, "string");
    assert.equal(job.result, undefined);
  });

  test("an edit as a job", async () => {
    const { token } = await newUser(worker, "job-edit");
    const form = new FormData();
    form.append("prompt", "make it blue");
    form.append("image", new Blob([encodePng(16, 16, { colorType: 2 })], { type: "image/png" }), "in.png");
    const res = await worker.request("/v1/images/edits", { method: "POST", token, body: form, headers: { prefer: "respond-async" } });
    expectStatus(res, 202);
    const { job } = await poll(token, res.json.id);
    assert.equal(job.status, "succeeded", JSON.stringify(job));
    assert.equal(job.kind, "edit");
    assert.equal(job.result.data.length, 1);
    const file = await fetch(job.result.data[0].url);
    assert.deepEqual(Buffer.from(await file.arrayBuffer()), Buffer.from(PNG_1X1_BASE64, "base64"));
  });

  test("a streamed request cannot be a job: it fails before any provider call", async () => {
    const { token, key } = await newUser(worker, "job-stream");
    const res = await generate(worker, token, { prompt: "streamed", stream: true }, { headers: { prefer: "respond-async" } });
    expectStatus(res, 202);
    const { job } = await poll(token, res.json.id);
    assert.equal(job.status, "failed");
    assert.equal(job.error.param, "stream");
    assert.equal(generationRequests(mock, key).length, 0);
  });

  test("a web app may send Prefer and read Location (CORS)", async () => {
    const origin = ALLOWED_ORIGINS[0];
    const pre = await worker.request("/v1/images/generations", {
      method: "OPTIONS",
      origin,
      headers: { "access-control-request-method": "POST", "access-control-request-headers": "prefer, authorization" },
    });
    expectStatus(pre, 204);
    assert.match(pre.headers.get("access-control-allow-headers"), /(^|, )prefer(,|$)/);
    const { token } = await newUser(worker, "job-cors");
    const res = await generate(worker, token, { prompt: "cors" }, { origin, headers: { prefer: "respond-async" } });
    expectStatus(res, 202);
    assert.match(res.headers.get("access-control-expose-headers"), /(^|, )location(,|$)/);
    await poll(token, res.json.id);
  });

  test("unknown and malformed job ids are 404; jobs need a token", async () => {
    const token = devToken(uid("job-none"));
    expectError(await worker.request(`/v1/jobs/job_${"0".repeat(32)}`, { token }), { status: 404 });
    expectError(await worker.request("/v1/jobs/nope", { token }), { status: 404 });
    expectError(await worker.request(`/v1/jobs/job_${"0".repeat(32)}`, {}), { status: 401 });
  });
});
