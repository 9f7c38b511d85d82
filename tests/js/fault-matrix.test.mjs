// The fault matrix: for each provider × each fault class of docs/providers.md 5, run
// generateImages (the built package) against the mock provider server with
// the provider as primary and the mock provider as fallback, and check the
// error code, whether it retried, whether it fell back, the recorded delays,
// and that no image from calls that succeeded is lost. Prints the matrix.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync, mkdirSync } from "node:fs";
import { generateImages } from "imagegen";
import { startMockServer } from "../mock-server/server.mjs";

let mock;
before(async () => {
  mock = await startMockServer();
});
after(async () => {
  await mock.close();
});

// The fault to inject, per provider (null: the provider has no such fault).
const retryAfter = { "retry-after": "1", "content-type": "application/json" };
const FAULTS = [
  { name: "401 auth", code: "auth", retry: false, fallback: true,
    step: { openai: { fixture: "openai/invalid_api_key" }, gemini: { status: 401, body: { error: { code: 401, message: "Request had invalid authentication credentials.", status: "UNAUTHENTICATED" } } }, stability: { fixture: "stability/unauthorized" } } },
  { name: "400 invalid key", code: "auth", retry: false, fallback: true,
    step: { openai: null, gemini: { fixture: "gemini/api_key_invalid" }, stability: null } },
  { name: "402 payment", code: "quota", retry: false, fallback: true,
    step: { openai: { fixture: "openai/billing_hard_limit" }, gemini: null, stability: { fixture: "stability/payment_required" } } },
  { name: "403 permission", code: "permission", retry: false, fallback: true,
    step: { openai: { fixture: "openai/org_not_verified" }, gemini: { fixture: "gemini/service_disabled" }, stability: { fixture: "stability/permission_denied" } } },
  { name: "429 + Retry-After", code: "rate_limited", retry: true, fallback: false, once: true, delays: [1000],
    step: {
      openai: { status: 429, headers: retryAfter, body: { error: { message: "Rate limit reached for images per min.", type: "requests", param: null, code: "rate_limit_exceeded" } } },
      gemini: { status: 429, headers: retryAfter, body: { error: { code: 429, message: "Resource has been exhausted (e.g. check quota).", status: "RESOURCE_EXHAUSTED" } } },
      stability: { status: 429, headers: retryAfter, body: { id: "a1", name: "rate_limit_exceeded", errors: ["You have exceeded the rate limit."] } },
    } },
  { name: "429 quota exhausted", code: "quota", retry: false, fallback: true,
    step: { openai: { fixture: "openai/insufficient_quota" }, gemini: { fixture: "gemini/quota_per_day" }, stability: null } },
  { name: "400 content policy", code: "content_policy", retry: false, fallback: false,
    step: { openai: { fixture: "openai/moderation_blocked" }, gemini: { fixture: "gemini/prompt_blocked" }, stability: { fixture: "stability/content_moderation" } } },
  { name: "400 invalid request", code: "invalid_request", retry: false, fallback: true, warning: "provider_rejected_request",
    step: { openai: { fixture: "openai/invalid_size" }, gemini: { fixture: "gemini/unknown_field" }, stability: { fixture: "stability/bad_request" } } },
  { name: "500 + x-should-retry: false", code: "provider_error", retry: false, fallback: true,
    step: { openai: { fixture: "openai/server_error_should_not_retry" }, gemini: null, stability: null } },
  { name: "404 model", code: "not_found", retry: false, fallback: true,
    step: { openai: { fixture: "openai/model_not_found" }, gemini: { fixture: "gemini/model_not_found" }, stability: { fixture: "stability/not_found" } } },
  { name: "500", code: "provider_error", retry: true, fallback: true,
    step: { openai: { fixture: "openai/server_error" }, gemini: { fixture: "gemini/internal" }, stability: { fixture: "stability/internal_error" } } },
  { name: "503", code: "provider_error", retry: true, fallback: true,
    step: { openai: { fixture: "openai/overloaded" }, gemini: { fixture: "gemini/unavailable" }, stability: { status: 503, body: { id: "b2", name: "service_unavailable", errors: ["Service temporarily unavailable."] } } } },
  { name: "slow past timeout", code: "timeout", retry: true, fallback: true,
    step: { openai: { delayMs: 1500 }, gemini: { delayMs: 1500 }, stability: { delayMs: 1500 } } },
  { name: "connection reset", code: "network", retry: true, fallback: true,
    step: { openai: { drop: true }, gemini: { drop: true }, stability: { drop: true } } },
  { name: "malformed JSON", code: "bad_response", retry: true, fallback: true,
    step: { openai: { malformed: true }, gemini: { malformed: true }, stability: { malformed: true } } },
  { name: "2xx without image", code: "bad_response", retry: true, fallback: true,
    step: { openai: { noImage: true }, gemini: { noImage: true }, stability: { noImage: true } } },
  { name: "filtered result", code: "content_policy", retry: false, fallback: false,
    step: { openai: null, gemini: { fixture: "gemini/image_safety" }, stability: { fixture: "stability/content_filtered" } } },
];
const PROVIDERS = ["openai", "gemini", "stability"];
let n = 0;

async function script(key, body) {
  const r = await fetch(`${mock.url}/__mock/script`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ key, ...body }),
  });
  assert.equal(r.status, 200, await r.text());
}

/** Runs one cell; returns what happened. */
async function runCell(provider, fault) {
  const step = fault.step[provider];
  const key = `sk-matrix-${provider}-${++n}-000000000000`;
  // OpenAI makes both images in one call; the others one per call, and their
  // first call succeeds, so "no image lost" is checked for a finished part.
  const onePerCall = provider !== "openai";
  const steps = [...(onePerCall ? [{ success: true }] : []), ...(fault.once ? [step] : [])];
  await script(key, fault.once ? { steps } : { steps, after: step });
  const events = [];
  let result;
  let error;
  try {
    result = await generateImages({
      prompt: "fault matrix",
      count: 2,
      concurrency: 1,
      timeoutMs: 400,
      retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
      providers: [{ provider, apiKey: key, baseUrl: mock.url }, { provider: "mock" }],
      onEvent: (e) => events.push(e),
    });
  } catch (e) {
    error = e;
  }
  const attempts = (result ?? error).attempts;
  const failedPart = onePerCall ? 1 : 0;
  const onP = attempts.filter((a) => a.provider === provider && a.part === failedPart);
  return {
    result,
    error,
    attempts,
    code: onP.find((a) => a.outcome !== "ok")?.outcome ?? "none",
    retried: onP.length > 1,
    fellBack: events.some((e) => e.type === "fallback" && e.part === failedPart),
    delays: events.filter((e) => e.type === "retry_scheduled" && e.part === failedPart).map((e) => e.delayMs),
    images: result?.images ?? error?.images ?? [],
    onePerCall,
  };
}

const rows = [];

for (const fault of FAULTS) {
  test(`fault: ${fault.name}`, async () => {
    const row = { fault: fault.name };
    for (const provider of PROVIDERS) {
      if (!fault.step[provider]) {
        row[provider] = "n/a";
        continue;
      }
      const cell = await runCell(provider, fault);
      const where = `${provider} × ${fault.name}`;
      assert.equal(cell.code, fault.code, `${where}: attempts ${JSON.stringify(cell.attempts.map((a) => [a.provider, a.part, a.outcome]))}`);
      assert.equal(cell.retried, fault.retry, `${where}: retried`);
      assert.equal(cell.fellBack, fault.fallback, `${where}: fell back`);
      if (fault.code === "bad_response") {
        const n = cell.attempts.filter((a) => a.provider === provider && a.outcome === "bad_response").length;
        assert.equal(n, 2, `${where}: bad_response is retried exactly once`);
      }
      if (fault.warning) {
        const w = (cell.result?.warnings ?? []).find((x) => x.code === fault.warning && x.provider === provider);
        assert.ok(w, `${where}: a ${fault.warning} warning`);
      }
      if (fault.delays) assert.deepEqual(cell.delays, fault.delays, `${where}: the delay is the Retry-After`);
      if (fault.retry && !fault.delays) {
        assert.ok(cell.delays.every((d) => d >= 0 && d <= 20), `${where}: jittered delays within the cap: ${cell.delays}`);
      }
      // No image is lost: the part that succeeded keeps its image(s), and a
      // recovered part (retry or fallback) delivers its image too.
      const recovered = fault.fallback || fault.once;
      const expected = (cell.onePerCall ? 1 : 0) + (recovered ? (cell.onePerCall ? 1 : 2) : 0);
      assert.equal(cell.images.length, expected, `${where}: images delivered`);
      if (cell.onePerCall) {
        assert.ok(cell.images.some((i) => i.provider === provider), `${where}: the successful call's image is kept`);
      }
      if (expected === 0) {
        assert.equal(cell.error?.code, fault.code, `${where}: rejects with the code`);
      } else if (!recovered) {
        assert.equal(cell.result.errors[0]?.code, fault.code, `${where}: the failed part is reported`);
      }
      const tries = cell.attempts.filter((a) => a.provider === provider && a.part === (cell.onePerCall ? 1 : 0)).length;
      const then = cell.fellBack ? "fallback" : cell.retried ? "ok" : "stop";
      const waits = fault.delays ? ` after ${cell.delays.join("/")} ms` : "";
      row[provider] = `${fault.code} · ${tries} ${tries === 1 ? "try" : "tries"}${waits} → ${then} · ${cell.images.length}/2 img`;
    }
    rows.push(row);
  });
}

test("print the matrix", () => {
  assert.equal(rows.length, FAULTS.length);
  const header = `| fault | ${PROVIDERS.join(" | ")} |\n|---|${PROVIDERS.map(() => "---").join("|")}|`;
  const lines = rows.map((r) => `| ${r.fault} | ${PROVIDERS.map((p) => r[p]).join(" | ")} |`);
  const table = [header, ...lines].join("\n");
  console.log(`\nFault matrix (provider × fault → code · what happened · images of 2):\n${table}\n`);
  mkdirSync(new URL("../../target/", import.meta.url), { recursive: true });
  writeFileSync(new URL("../../target/fault-matrix.md", import.meta.url), table + "\n");
});
