// The Node route with provider keys in the server's environment, the providers
// pointed at the repository's mock provider server (tests/mock-server) through
// the development-only *_BASE_URL variables: the chain order, the requested
// provider moved first, the "key was refused" mapping, and no key in any
// response or in the server's logs.
import { after, before, describe, test } from "node:test";
import crypto from "node:crypto";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, assert, startNext } from "./helpers.mjs";

const { startMockServer } = await import(pathToFileURL(path.join(ROOT, "tests/mock-server/server.mjs")).href);

// The mock server answers 401 to OpenAI keys starting with "invalid".
const OPENAI_KEY = `invalid-SECRET-openai-${crypto.randomBytes(8).toString("hex")}`;
const GEMINI_KEY = `sk-SECRET-gemini-${crypto.randomBytes(8).toString("hex")}`;
const SECRETS = [OPENAI_KEY, GEMINI_KEY, "SECRET-"];

let mock;
let next;

before(async () => {
  mock = await startMockServer();
  next = await startNext({
    OPENAI_API_KEY: OPENAI_KEY,
    GEMINI_API_KEY: GEMINI_KEY,
    OPENAI_BASE_URL: mock.url,
    GEMINI_BASE_URL: mock.url,
  });
});

after(async () => {
  await next?.stop();
  await mock?.close();
});

function assertNoKeys(text, where) {
  for (const s of SECRETS) assert.ok(!text.includes(s), `a key (${s.slice(0, 12)}…) leaked in ${where}`);
}

async function post(body, { stream = false } = {}) {
  const response = await fetch(`${next.url}/api/generate-image`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(stream ? { accept: "application/x-ndjson" } : {}) },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  assertNoKeys(text, "a response body");
  for (const [k, v] of response.headers) assertNoKeys(`${k}: ${v}`, "a response header");
  return { status: response.status, text, json: stream ? undefined : JSON.parse(text) };
}

async function scriptKey(key, script) {
  const r = await fetch(`${mock.url}/__mock/script`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ key, ...script }),
  });
  assert.equal(r.status, 200, await r.text());
}

describe("server with provider keys", () => {
  test("GET lists the providers that have keys (names only)", async () => {
    const r = await fetch(`${next.url}/api/generate-image`);
    const text = await r.text();
    assertNoKeys(text, "GET");
    assert.deepEqual(JSON.parse(text), { providers: ["openai", "gemini"], mockOnly: false, runtime: "nodejs" });
  });

  test("chain in env order: the refused OpenAI key falls back to Gemini", async () => {
    const res = await post({ prompt: "a lighthouse", count: 1 });
    assert.equal(res.status, 200, res.text);
    const { images, attempts } = res.json;
    assert.deepEqual(
      attempts.map((a) => [a.provider, a.outcome, a.status]),
      [
        ["openai", "auth", 401],
        ["gemini", "ok", 200],
      ],
    );
    assert.equal(images.length, 1);
    assert.equal(images[0].provider, "gemini");
    assert.equal(images[0].mimeType, "image/png");
    // The keys went to the mock provider in the provider's own header.
    assert.ok(mock.requests(GEMINI_KEY).some((r) => r.route === "generate"));
  });

  test("the requested provider is moved first", async () => {
    const res = await post({ prompt: "a lighthouse", provider: "gemini" });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(
      res.json.attempts.map((a) => a.provider),
      ["gemini"],
    );
  });

  test("every key refused → 502 saying the server's key was refused", async () => {
    await scriptKey(GEMINI_KEY, { steps: [], after: { fixture: "gemini/api_key_invalid" } });
    try {
      const res = await post({ prompt: "a lighthouse", provider: "gemini" });
      assert.equal(res.status, 502, res.text);
      const e = res.json.error;
      assert.equal(e.code, "auth");
      assert.equal(e.provider, "openai", "the last error is OpenAI's (gemini first, then openai)");
      assert.match(e.message, /^The server's openai key was refused \(auth\): /);
      assert.equal(e.retryable, false);
      assert.deepEqual(
        e.attempts.map((a) => [a.provider, a.outcome]),
        [
          ["gemini", "auth"],
          ["openai", "auth"],
        ],
      );
      const streamed = await post({ prompt: "a lighthouse" }, { stream: true });
      const last = JSON.parse(streamed.text.trim().split("\n").at(-1));
      assert.equal(last.status, 502);
      assert.equal(last.error.code, "auth");
      assert.match(last.error.message, /^The server's gemini key was refused \(auth\): /);
    } finally {
      await fetch(`${mock.url}/__mock/reset`, { method: "POST" });
    }
  });

  test("a provider without a key, or faults outside the mock, are refused (400)", async () => {
    let res = await post({ prompt: "x", provider: "stability" });
    assert.equal(res.status, 400);
    assert.equal(res.json.error.param, "provider");
    assert.match(res.json.error.message, /no stability key/);
    res = await post({ prompt: "x", simulate: { failFirst: 1 } });
    assert.equal(res.status, 400);
    assert.equal(res.json.error.param, "simulate");
  });

  test("provider mock runs the offline demo chain: no provider is called", async () => {
    const before = mock.requests().length;
    const res = await post({ prompt: "x", provider: "mock", count: 2, simulate: { failFirst: 100, latencyMs: 0 } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(
      [...new Set(res.json.attempts.map((a) => `${a.provider}/${a.model}`))],
      ["mock/primary", "mock/fallback"],
    );
    assert.equal(mock.requests().length, before);
  });

  test("the server's logs hold no key", () => {
    const logs = next.logs();
    assert.match(logs, /\[generate-image\/nodejs\] 502 code=auth/, "failures are logged (codes only)");
    assertNoKeys(logs, "the server's logs");
  });
});
