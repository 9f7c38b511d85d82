// Abuse and hardening: one user cannot spend another's retries; a paid result is never lost
// to storage limits; memory stays bounded whatever model ids callers send; the mock provider
// and memory figures are development switches; keys echoed in other forms are redacted; the
// rate limit covers every route that writes or calls a provider; Vary: Origin; a bad
// RATE_LIMIT_PER_MINUTE; failed JWKS fetches are cached; JWK `use`/`alg` are checked; the
// production config (wrangler.toml) and the development one (.dev.vars).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import {
  ALLOWED_ORIGINS,
  ROOT,
  assertNoSecrets,
  claims,
  defaultBindings,
  devToken,
  expectAuthError,
  expectError,
  expectStatus,
  fakeKey,
  generate,
  generationRequests,
  putConfig,
  putKey,
  scriptKey,
  show,
  signJwt,
  startJwksServer,
  startMockServer,
  startWorker,
  storeConfig,
  storeKey,
  uid,
  validationRequests,
} from "./helpers.mjs";

let mock;

before(async () => {
  mock = await startMockServer();
});

after(async () => {
  await mock?.close();
});

const newUser = (prefix) => {
  const sub = uid(prefix);
  return { sub, token: devToken(sub) };
};

async function pool(n, concurrency, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

describe("retry budget: per key, under a shared cap", () => {
  let worker;
  before(async () => {
    // The library's default budget (20% over 10 s, floor 3 per key).
    worker = await startWorker({ mockUrl: mock.url, bindings: { RETRY_BUDGET_MIN_RETRIES: undefined } });
  });
  after(async () => {
    await worker?.close();
  });

  test("a user whose key always fails does not switch off another user's retries", async () => {
    const A = newUser("budget-a");
    const aKey = fakeKey("budget-a", "openai");
    await storeKey(worker, A.token, "openai", aKey, { validate: false });
    await storeConfig(worker, A.token, [{ provider: "openai" }], { defaults: { maxAttempts: 10 } });
    await scriptKey(mock, aKey, [], { after: { status: 503, body: { error: { message: "overloaded", type: "server_error", param: null, code: null } } } });
    for (let i = 0; i < 3; i++) {
      expectError(await generate(worker, A.token, { prompt: `a ${i}` }), { status: 502, code: "provider_error" });
    }
    const aCalls = generationRequests(mock, aKey).length;
    assert.ok(aCalls <= 3 + 3, `A's retries come out of A's own budget: ${aCalls} calls`);

    // B, same provider and model, moments later: one 503, then success.
    const B = newUser("budget-b");
    const bKey = fakeKey("budget-b", "openai");
    await storeKey(worker, B.token, "openai", bKey, { validate: false });
    await storeConfig(worker, B.token, [{ provider: "openai" }]);
    await scriptKey(mock, bKey, [{ status: 503, body: { error: { message: "overloaded", type: "server_error", param: null, code: null } } }]);
    const res = await generate(worker, B.token, { prompt: "b" });
    expectStatus(res, 200, "B's first 503 is retried");
    assert.deepEqual(res.json.attempts.map((a) => a.outcome), ["provider_error", "ok"]);
  });

  test("the per-attempt timeout in a user's config is at least 10 s", async () => {
    const { token } = newUser("timeout");
    const res = await putConfig(worker, token, { providers: [{ provider: "openai" }], defaults: { timeoutMs: 1, maxAttempts: 10 } });
    expectError(res, { status: 400, param: "defaults.timeoutMs" });
    expectStatus(await putConfig(worker, token, { providers: [{ provider: "openai" }], defaults: { timeoutMs: 10_000 } }), 200);
  });
});

describe("Idempotency-Key with a result over KV's 25 MiB value limit", () => {
  let big;
  let worker;
  before(async () => {
    // Every image ~3 MB of base64: ten of them do not fit one KV value, nor one call
    // to the Durable Object; two are kept in R2.
    big = await startMockServer({ imageBytes: 3_000_000 });
    worker = await startWorker({ mockUrl: big.url });
  });
  after(async () => {
    await worker?.close();
    await big?.close();
  });

  test("the paid images are returned, and a repeat neither pays again nor waits on 409", async () => {
    // 30 MB: more than one call to the Durable Object may carry (Workers RPC: 32 MiB), so
    // the key is only marked done.
    const { token } = newUser("idem-big");
    const key = fakeKey("idem-big", "openai");
    await storeKey(worker, token, "openai", key, { validate: false });
    await storeConfig(worker, token, [{ provider: "openai" }]);
    const body = { prompt: "ten large images", n: 10 };
    const headers = { "idempotency-key": "big-result-1" };
    const first = await generate(worker, token, body, { headers });
    expectStatus(first, 200, "the result that could not be stored");
    assert.equal(first.json.data.length, 10);
    assert.ok(first.json.data.every((d) => d.b64_json.length >= 3_000_000));
    const calls = generationRequests(big, key).length;
    assert.equal(calls, 1);

    const again = await generate(worker, token, body, { headers });
    const error = expectError(again, { status: 410, code: "idempotency_result_not_kept", param: "Idempotency-Key", retryable: false });
    assert.match(error.message, /new Idempotency-Key/);
    assert.equal(again.headers.get("x-should-retry"), "false");
    assert.equal(generationRequests(big, key).length, calls, "not paid again");

    // 8 MB: kept in R2, replayed from there without paying again.
    const two = { prompt: "two large images", n: 2 };
    const kept = await generate(worker, token, two, { headers: { "idempotency-key": "big-result-2" } });
    expectStatus(kept, 200);
    const replay = await generate(worker, token, two, { headers: { "idempotency-key": "big-result-2" } });
    expectStatus(replay, 200);
    assert.equal(replay.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(
      replay.json.data.map((d) => d.b64_json),
      kept.json.data.map((d) => d.b64_json),
    );
    assert.equal(generationRequests(big, key).length, calls + 1, "the replay was not paid");
  });

  test("without R2 the images are still returned, and a repeat gets 410 instead of paying again", async () => {
    const noR2 = await startWorker({ mockUrl: big.url, miniflare: { r2Buckets: [] } });
    try {
      const { token } = newUser("idem-big-no-r2");
      const key = fakeKey("idem-big-no-r2", "openai");
      await storeKey(noR2, token, "openai", key, { validate: false });
      await storeConfig(noR2, token, [{ provider: "openai" }]);
      const body = { prompt: "one large image", n: 1 };
      const headers = { "idempotency-key": "big-result-2" };
      const first = await generate(noR2, token, body, { headers });
      expectStatus(first, 200, "the result that could not be stored");
      assert.ok(first.json.data[0].b64_json.length >= 3_000_000);
      const again = await generate(noR2, token, body, { headers });
      const error = expectError(again, { status: 410, code: "idempotency_result_not_kept", param: "Idempotency-Key", retryable: false });
      assert.match(error.message, /new Idempotency-Key/);
      assert.equal(again.headers.get("x-should-retry"), "false");
      assert.equal(generationRequests(big, key).length, 1, "not paid again");
    } finally {
      await noR2.close();
    }
  });
});

describe("development switches off (production-like bindings)", () => {
  let prod;
  before(async () => {
    prod = await startWorker({ mockUrl: mock.url, bindings: { ENABLE_MOCK_PROVIDER: undefined, EXPOSE_MEMORY_STATS: undefined } });
  });
  after(async () => {
    await prod?.close();
  });

  test("the mock provider is refused unless ENABLE_MOCK_PROVIDER is set", async () => {
    const { token } = newUser("no-mock");
    expectError(await generate(prod, token, { prompt: "x", model: "mock" }), { status: 400, param: "model" });
    expectError(await generate(prod, token, { prompt: "x", model: "mock/mock-svg" }), { status: 400, param: "model" });
    expectError(await putConfig(prod, token, { providers: [{ provider: "openai" }, { provider: "mock" }] }), {
      status: 400,
      param: "providers[1].provider",
    });
  });

  test("/healthz tells nothing about memory unless EXPOSE_MEMORY_STATS is set", async () => {
    const res = await prod.request("/healthz");
    expectStatus(res, 200);
    assert.deepEqual(res.json, { status: "ok" });
  });
});

describe("memory stays bounded with caller-chosen model ids", () => {
  let worker;
  before(async () => {
    worker = await startWorker({ mockUrl: mock.url });
  });
  after(async () => {
    await worker?.close();
  });

  test("thousands of unique 200-character model ids on a failing key do not grow wasm memory", async () => {
    const { token } = newUser("models");
    const key = fakeKey("models", "openai");
    await storeKey(worker, token, "openai", key, { validate: false });
    // Every call fails with 401, which opens a circuit per model (and key) at once.
    await scriptKey(mock, key, [], { after: { fixture: "openai/invalid_api_key" } });
    const memory = async () => (await worker.request("/healthz")).json.wasmMemoryBytes;
    const model = (i) => `openai/${String(i).padStart(8, "0")}-${"m".repeat(182)}`;
    const send = async (i) => {
      const res = await generate(worker, token, { prompt: "x", model: model(i) });
      assert.equal(res.status, 502, show(res));
    };
    // Past the tables' capacity first, so what follows is steady state.
    await pool(1500, 16, send);
    const before = await memory();
    await pool(2500, 16, (i) => send(1500 + i));
    const growth = (await memory()) - before;
    assert.ok(growth <= 256 * 1024, `wasm memory grew by ${growth} bytes over 2,500 new model ids`);
  });
});

describe("keys echoed by a provider in other forms", () => {
  let worker;
  before(async () => {
    worker = await startWorker({ mockUrl: mock.url });
  });
  after(async () => {
    await worker?.close();
  });

  test("uppercased, split, without prefix, base64: redacted from errors, revised prompts and logs", async () => {
    const { token } = newUser("echo");
    const key = fakeKey("echo", "openai");
    await storeKey(worker, token, "openai", key, { validate: false });
    await storeConfig(worker, token, [{ provider: "openai" }]);
    const half = Math.floor(key.length / 2);
    const echoes = [
      key.toUpperCase(),
      `${key.slice(0, half)} and ${key.slice(half)}`,
      key.slice("sk-".length),
      Buffer.from(`Bearer ${key}`).toString("base64"),
      Buffer.from(key).toString("base64url"),
    ];
    for (const [i, echo] of echoes.entries()) {
      await scriptKey(mock, key, [
        { status: 401, body: { error: { message: `Incorrect API key provided: ${echo}.`, type: "invalid_request_error", param: null, code: "invalid_api_key" } } },
      ]);
      // The helpers' scanner fails on any of these forms in a response. (A model of its
      // own each time: a 401 opens the circuit of that model and key.)
      const res = await generate(worker, token, { prompt: "echo", model: `openai/echo-${i}` });
      expectError(res, { status: 502, code: "auth" });
      assert.match(res.json.error.message, /\*\*\*/, show(res));
    }
    for (const echo of echoes) {
      await scriptKey(mock, key, [
        { status: 200, body: { created: 1, data: [{ b64_json: "iVBORw0KGgo=", revised_prompt: `a lighthouse, key ${echo}` }] } },
      ]);
      const res = await generate(worker, token, { prompt: "echo", model: "openai/gpt-image-2" });
      expectStatus(res, 200, "success with an echoing revised prompt");
      assert.match(res.json.data[0].revised_prompt, /^a lighthouse, key .*\*\*\*/, show(res));
    }
    assertNoSecrets(worker.logs(), "Worker logs");
    assert.ok(!worker.logs().includes("Incorrect API key"), "provider messages are not logged verbatim");
  });
});

describe("the per-user rate limit covers every route that writes or calls a provider", () => {
  let limited;
  before(async () => {
    limited = await startWorker({ mockUrl: mock.url, bindings: { RATE_LIMIT_PER_MINUTE: "3" } });
  });
  after(async () => {
    await limited?.close();
  });

  test("validating key PUTs: 60 concurrent ones make at most 3 provider calls", async () => {
    const { token } = newUser("rl-keys");
    const key = fakeKey("rl-keys", "openai");
    const results = await Promise.all(Array.from({ length: 60 }, () => putKey(limited, token, "openai", key)));
    const statuses = results.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 200).length, 3, statuses.join());
    assert.equal(statuses.filter((s) => s === 429).length, 57, statuses.join());
    expectError(results.find((r) => r.status === 429), { status: 429, type: "rate_limit_error" });
    assert.equal(validationRequests(mock, key).length, 3, "provider calls");
  });

  test("config PUTs and key DELETEs count too; reads do not", async () => {
    const { token } = newUser("rl-writes");
    const statuses = [];
    for (let i = 0; i < 2; i++) statuses.push((await putConfig(limited, token, { providers: [{ provider: "openai" }] })).status);
    statuses.push((await limited.request("/v1/keys/gemini", { method: "DELETE", token })).status);
    statuses.push((await limited.request("/v1/keys/gemini", { method: "DELETE", token })).status);
    statuses.push((await putConfig(limited, token, { providers: [{ provider: "openai" }] })).status);
    assert.deepEqual(statuses, [200, 200, 404, 429, 429]);
    expectStatus(await limited.request("/v1/keys", { token }), 200, "GET is not limited");
    expectStatus(await limited.request("/v1/config", { token }), 200, "GET is not limited");
  });
});

describe("HTTP hardening", () => {
  let worker;
  before(async () => {
    worker = await startWorker({ mockUrl: mock.url });
  });
  after(async () => {
    await worker?.close();
  });

  test("Vary: Origin on every response, allowed origin or not", async () => {
    const { token } = newUser("vary");
    const responses = [
      await worker.request("/healthz"),
      await worker.request("/v1/keys", { token }),
      await worker.request("/v1/keys", { token, origin: "https://evil.example" }),
      await worker.request("/v1/keys", { token, origin: ALLOWED_ORIGINS[0] }),
      await worker.request("/v1/keys"),
      await worker.request("/v1/keys", { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "GET" } }),
      await worker.request("/v1/keys", { method: "OPTIONS", headers: { origin: ALLOWED_ORIGINS[0], "access-control-request-method": "GET" } }),
    ];
    for (const res of responses) {
      assert.match(res.headers.get("vary") ?? "", /\bOrigin\b/i, show(res));
    }
  });

  test("a token in a non-canonical encoding is refused (padding)", async () => {
    const token = devToken(uid("pad"));
    const [h, p, s] = token.split(".");
    expectAuthError(await worker.request("/v1/keys", { token: `${h}.${p}.${s}=` }), "padded signature");
    expectAuthError(await worker.request("/v1/keys", { token: `${h}=.${p}.${s}` }), "padded header");
  });
});

describe("an unreadable RATE_LIMIT_PER_MINUTE", () => {
  let worker;
  before(async () => {
    worker = await startWorker({ mockUrl: mock.url, bindings: { RATE_LIMIT_PER_MINUTE: "thirty" } });
  });
  after(async () => {
    await worker?.close();
  });

  test("falls back to 30 per minute and says so in the log", async () => {
    const { token } = newUser("rl-bad");
    const statuses = [];
    for (let i = 0; i < 31; i++) statuses.push((await putConfig(worker, token, { providers: [{ provider: "openai" }] })).status);
    assert.deepEqual(statuses.slice(0, 30), Array(30).fill(200));
    assert.equal(statuses[30], 429, "the 31st write in a minute is refused");
    assert.match(worker.logs(), /RATE_LIMIT_PER_MINUTE is not a whole number; using 30/);
  });
});

describe("JWKS", () => {
  let jwks;
  let worker;
  before(async () => {
    jwks = await startJwksServer();
    worker = await startWorker({ mockUrl: mock.url, bindings: { JWKS_URL: jwks.url } });
  });
  after(async () => {
    await worker?.close();
    await jwks?.close();
  });

  const rs = (key) => signJwt(claims(uid("jwks")), { alg: "RS256", privateKey: key.privateKey, kid: key.kid });

  test("a key published for encryption, or for another algorithm, never verifies a token", async () => {
    expectStatus(await worker.request("/v1/keys", { token: rs(jwks.rsa) }), 200, "the signing key");
    expectAuthError(await worker.request("/v1/keys", { token: rs(jwks.rsaEnc) }), "use: enc");
    expectAuthError(await worker.request("/v1/keys", { token: rs(jwks.rsaOtherAlg) }), "alg: RS384");
  });

  test("a failed JWKS fetch is remembered briefly: forged tokens do not refetch it each time", async () => {
    const fresh = await startWorker({ mockUrl: mock.url, bindings: { JWKS_URL: jwks.url } });
    try {
      jwks.setFailing(true);
      const before = jwks.hits();
      for (let i = 0; i < 5; i++) {
        const res = await fresh.request("/v1/keys", { token: rs(jwks.rsa) });
        expectError(res, { status: 503, code: "auth_unavailable" });
      }
      assert.equal(jwks.hits() - before, 1, "one JWKS fetch for five tokens");
    } finally {
      jwks.setFailing(false);
      await fresh.close();
    }
  });
});

describe("production and development configuration", () => {
  /** The [vars] of wrangler.toml (simple `NAME = "value"` lines). */
  function wranglerVars() {
    const text = fs.readFileSync(path.join(ROOT, "wrangler.toml"), "utf8");
    const section = text.split(/^\[vars\]\s*$/m)[1]?.split(/^\[/m)[0] ?? "";
    return Object.fromEntries([...section.matchAll(/^([A-Z_]+)\s*=\s*"([^"]*)"/gm)].map((m) => [m[1], m[2]]));
  }

  /** .dev.vars as scripts/dev-vars.mjs writes it (into a temporary file). */
  function devVars() {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "devvars-")), ".dev.vars");
    execFileSync(process.execPath, [path.join(ROOT, "scripts/dev-vars.mjs"), mock.url], { env: { ...process.env, DEV_VARS_FILE: file } });
    const vars = Object.fromEntries(
      fs
        .readFileSync(file, "utf8")
        .split("\n")
        .map((l) => l.match(/^([A-Z_]+)=(["'])(.*)\2$/))
        .filter(Boolean)
        .map((m) => [m[1], m[3]]),
    );
    fs.rmSync(path.dirname(file), { recursive: true });
    return vars;
  }

  test("wrangler.toml allows no localhost origin and enables no development switch", () => {
    const vars = wranglerVars();
    assert.ok("ALLOWED_ORIGINS" in vars, JSON.stringify(vars));
    assert.doesNotMatch(vars.ALLOWED_ORIGINS, /localhost|127\.0\.0\.1/);
    for (const name of ["ENABLE_MOCK_PROVIDER", "EXPOSE_MEMORY_STATS", "OPENAI_BASE_URL"]) assert.ok(!(name in vars), name);
  });

  test("with .dev.vars over wrangler.toml (as wrangler dev merges them), the local demo works", async () => {
    const dev = devVars();
    assert.match(dev.ALLOWED_ORIGINS, /http:\/\/127\.0\.0\.1:3000/);
    // Only what wrangler dev would see: none of the test defaults.
    const none = Object.fromEntries(Object.keys(defaultBindings(mock.url)).map((k) => [k, undefined]));
    const worker = await startWorker({ mockUrl: mock.url, bindings: { ...none, ...wranglerVars(), ...dev } });
    try {
      const pre = await worker.request("/v1/images/generations", {
        method: "OPTIONS",
        headers: { origin: "http://127.0.0.1:3000", "access-control-request-method": "POST" },
      });
      expectStatus(pre, 204, "the local web app's preflight");
      const token = signJwt(claims("dev-demo"), { secret: dev.JWT_SECRET });
      expectStatus(await generate(worker, token, { prompt: "demo", model: "mock" }), 200, "the mock provider");
      assert.ok(Number.isInteger((await worker.request("/healthz")).json.wasmMemoryBytes));
    } finally {
      await worker.close();
    }
  });
});
