// Responses and errors in the shapes the SDKs' own types describe, served to the built package:
// successes must give the right images (and nothing else), errors the code, `retryable`,
// `retryAfterMs`, retry and fallback behaviour that the README's error table gives. Every
// success payload is type-checked against the SDK's response type, every error payload is
// also served to the SDK, which must read the same status and fields from it: so the shapes
// are the SDKs' and not only our reading of the documentation.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import { ApiError, BlockedReason, FinishReason, GoogleGenAI } from "@google/genai";
import { generateImage, generateText } from "ai";
import { createGoogleGenerativeAI } from "@ai-sdk/google";
import { generateImages } from "imagegen";
import { makePaddedPngBase64 } from "../mock-server/server.mjs";
import { fixture, startCaptureServer } from "./capture.mjs";
import { typeCheck } from "./typecheck.mjs";

globalThis.AI_SDK_LOG_WARNINGS = false;
const here = path.dirname(fileURLToPath(import.meta.url));
const PNG = fixture("openai/success").body.data[0].b64_json;
// Another valid PNG, to tell an interim (thought) image from the final one.
const OTHER_PNG = makePaddedPngBase64(400);
const MODEL = { openai: "gpt-image-2", gemini: "gemini-nano-banana-2.1" };

let capture;
before(async () => {
  capture = await startCaptureServer();
});
after(() => capture.close());

// ---------------------------------------------------------------------------------------------
// The README's error table, read from the README itself: code → {retry, fallback}.

function readmeErrorTable() {
  const readme = fs.readFileSync(path.join(here, "../../README.md"), "utf8");
  const section = readme.split("## Error codes and what the library does about them")[1];
  assert.ok(section, "README.md has the error table section");
  const table = {};
  for (const line of section.split("\n")) {
    const m = /^\| `([a-z_]+)` \| (.*?) \| (.*?) \| (.*?) \|$/.exec(line.trim());
    if (m) table[m[1]] = { meaning: m[2], retry: m[3], fallback: m[4] };
  }
  return table;
}
const TABLE = readmeErrorTable();

/** What the README says for a provider-side error of `code`. */
function policy(code) {
  const row = TABLE[code];
  assert.ok(row, `README's error table has a row for ${code}`);
  // "yes", "yes, when exhausted", or for invalid_request the provider-side case ("… a
  // provider's: yes, with a … warning"); "no (opt in with `fallbackOn`)" is a no.
  const fallback = /\byes\b/.test(row.fallback);
  return {
    retry: /^yes/.test(row.retry),
    fallback,
    fallbackAtOnce: fallback && !/when exhausted/.test(row.fallback),
  };
}

test("the README's error table has every code the package can report", () => {
  for (const code of ["invalid_request", "unsupported", "auth", "permission", "quota", "rate_limited", "content_policy", "not_found", "provider_error", "timeout", "network", "bad_response", "aborted"]) {
    assert.ok(TABLE[code], `row for ${code}`);
  }
});

// ---------------------------------------------------------------------------------------------
// Running the package against one scripted answer.

/**
 * Serves `answer` to the first call of `provider` and normal successes after it. `chain`:
 * alone (the rejection shows code, retryable, retryAfterMs) or with the mock provider after it
 * and two attempts allowed (shows retry and fallback). Retry-After hints above 100 ms count as
 * too long, so they move on at once instead of making the test wait.
 */
function serve(provider, answer, { chain = "alone", request = {} } = {}) {
  return capture.run(
    "pkg",
    (apiKey) =>
      generateImages({
        prompt: "a lighthouse",
        ...request,
        providers: [{ provider, apiKey, baseUrl: capture.url, model: MODEL[provider] }, ...(chain === "alone" ? [] : [{ provider: "mock" }])],
        retry: { maxAttempts: chain === "alone" ? 1 : 2, baseDelayMs: 1, maxDelayMs: 1, maxRetryAfterMs: 100 },
      }),
    { answers: [answer] },
  );
}

/** Checks what the package did with an error answer against the README's table. */
async function assertClassified(provider, answer, expect) {
  const alone = await serve(provider, answer);
  assert.ok(alone.error, `an error answer (HTTP ${answer.status}) must reject, got ${JSON.stringify(alone.result?.images?.length)} images`);
  const e = alone.error;
  assert.equal(e.name, "ImageGenError");
  assert.equal(e.code, expect.code, `code (${e.message})`);
  assert.equal(e.status, answer.status, "status");
  assert.equal(e.provider, provider);
  const rule = policy(expect.code);
  // The README's column, unless the provider said otherwise (OpenAI's x-should-retry).
  const retryable = expect.retryable ?? rule.retry;
  assert.equal(e.retryable, retryable, `retryable of ${expect.code} per the README`);
  assert.equal(e.retryAfterMs, expect.retryAfterMs, "retryAfterMs");
  if (expect.param !== undefined) assert.equal(e.param, expect.param, "param");

  const chained = await serve(provider, answer, { chain: "with-fallback" });
  const attempts = (chained.result ?? chained.error).attempts;
  const tries = attempts.filter((a) => a.provider === provider);
  const usedMock = attempts.some((a) => a.provider === "mock");
  const hintTooLong = expect.retryAfterMs !== undefined && expect.retryAfterMs > 100;
  if (retryable && !hintTooLong) {
    assert.deepEqual(tries.map((a) => a.outcome), [expect.code, "ok"], "retried on the same provider, per the README");
    assert.equal(usedMock, false);
  } else if (rule.fallback) {
    assert.deepEqual(tries.map((a) => a.outcome), [expect.code], "not retried on the same provider");
    assert.ok(usedMock, `fell back to the next provider, per the README (${chained.error?.message ?? "resolved"})`);
    assert.ok(chained.result, "and the call resolved with its images");
  } else {
    assert.deepEqual(tries.map((a) => a.outcome), [expect.code], "not retried");
    assert.equal(usedMock, false, "no fallback, per the README");
    assert.equal(chained.error?.code, expect.code, "the call rejects with the code");
  }
  return { alone, chained };
}

// ---------------------------------------------------------------------------------------------
// OpenAI

// ImagesResponse (openai@7.59.0 resources/images.d.ts), every field filled: usage with
// input_tokens_details and output_tokens_details, revised_prompt on one image, output_format.
const IMAGES_RESPONSE = {
  created: 1794000000,
  background: "transparent",
  output_format: "webp",
  quality: "high",
  size: "1536x864",
  data: [{ b64_json: PNG, revised_prompt: "a lighthouse on a cliff at dusk, in watercolour" }, { b64_json: PNG }],
  usage: {
    input_tokens: 22,
    input_tokens_details: { image_tokens: 0, text_tokens: 22 },
    output_tokens: 2112,
    output_tokens_details: { image_tokens: 2112, text_tokens: 0 },
    total_tokens: 2134,
  },
};
const IMAGES_RESPONSE_JPEG = { created: 1794000000, output_format: "jpeg", data: [{ b64_json: PNG }] };

// GenerateContentResponse (@google/genai@3.3.0 genai.d.ts): a Gemini 3 answer with a thought
// text part, an interim thought image, a text part and the final image, both signed
// (Part.thought, Part.thoughtSignature), finishReason STOP, usageMetadata with thoughts.
const GEMINI_THINKING_RESPONSE = {
  candidates: [
    {
      content: {
        role: "model",
        parts: [
          { text: "Composing a lighthouse at dusk.", thought: true },
          { inlineData: { mimeType: "image/png", data: OTHER_PNG }, thought: true },
          { text: "Here is your lighthouse.", thoughtSignature: "c2lnbmF0dXJlLXRleHQ=" },
          { inlineData: { mimeType: "image/jpeg", data: PNG }, thoughtSignature: "c2lnbmF0dXJlLWltYWdl" },
        ],
      },
      finishReason: "STOP",
      index: 0,
    },
  ],
  usageMetadata: {
    promptTokenCount: 12,
    candidatesTokenCount: 1120,
    thoughtsTokenCount: 312,
    totalTokenCount: 1444,
    promptTokensDetails: [{ modality: "TEXT", tokenCount: 12 }],
    candidatesTokensDetails: [{ modality: "IMAGE", tokenCount: 1120 }],
  },
  modelVersion: "gemini-nano-banana-2.1",
  responseId: "conformance-0001",
};
const geminiNoImage = (finishReason) => ({
  candidates: [{ content: { role: "model", parts: [{ text: "I could not draw that." }] }, finishReason, index: 0 }],
  modelVersion: "gemini-nano-banana-2.1",
});
const geminiBlockedPrompt = (blockReason) => ({ promptFeedback: { blockReason }, modelVersion: "gemini-nano-banana-2.1" });

test("every success payload served here has the SDKs' response types", () => {
  // Enums are string enums in @google/genai; `${E}` turns them into their wire strings.
  const problems = typeCheck(
    [
      'import type { ImagesResponse } from "openai/resources/images";',
      'import type { GenerateContentResponse } from "@google/genai";',
      "type Wire<T> = T extends string ? `${T}` : T extends (infer U)[] ? Wire<U>[] : T extends object ? { [K in keyof T]: Wire<T[K]> } : T;",
      'type GeminiResponse = Wire<Pick<GenerateContentResponse, "candidates" | "promptFeedback" | "usageMetadata" | "modelVersion" | "responseId">>;',
    ],
    [
      { name: "IMAGES_RESPONSE", type: "ImagesResponse", value: IMAGES_RESPONSE },
      { name: "IMAGES_RESPONSE_JPEG", type: "ImagesResponse", value: IMAGES_RESPONSE_JPEG },
      { name: "openai/success fixture", type: "ImagesResponse", value: fixture("openai/success").body },
      { name: "GEMINI_THINKING_RESPONSE", type: "GeminiResponse", value: GEMINI_THINKING_RESPONSE },
      { name: "gemini/success fixture", type: "GeminiResponse", value: fixture("gemini/success").body },
      { name: "finishReason IMAGE_SAFETY", type: "GeminiResponse", value: geminiNoImage("IMAGE_SAFETY") },
      { name: "blockReason PROHIBITED_CONTENT", type: "GeminiResponse", value: geminiBlockedPrompt("PROHIBITED_CONTENT") },
      { name: "planted: misspelt field", type: "ImagesResponse", value: { created: 1, data: [{ b64json: PNG }] } },
    ],
  );
  const planted = problems.filter((p) => p.startsWith("planted"));
  assert.equal(planted.length, 1, "the check can fail");
  assert.deepEqual(problems.filter((p) => !p.startsWith("planted")), []);
});

describe("openai responses", () => {
  test("ImagesResponse: every image, its revised_prompt, the type from output_format", async () => {
    const run = await serve("openai", { status: 200, body: IMAGES_RESPONSE }, { request: { count: 2 } });
    assert.ifError(run.error);
    const images = run.result.images;
    assert.equal(images.length, 2);
    assert.deepEqual(images.map((i) => i.mimeType), ["image/webp", "image/webp"], "output_format webp in the response");
    assert.deepEqual(images.map((i) => i.revisedPrompt), [IMAGES_RESPONSE.data[0].revised_prompt, undefined]);
    assert.deepEqual(images.map((i) => i.seed), [undefined, undefined], "OpenAI reports no seed");
    assert.ok(images.every((i) => i.base64 === PNG && i.provider === "openai" && i.model === MODEL.openai));
  });

  test("ImagesResponse: output_format jpeg gives image/jpeg", async () => {
    const run = await serve("openai", { status: 200, body: IMAGES_RESPONSE_JPEG });
    assert.ifError(run.error);
    assert.equal(run.result.images[0].mimeType, "image/jpeg");
  });

  test("the openai SDK reads the same payload: usage, revised_prompt, output_format", async () => {
    const run = await capture.run(
      "openai-sdk",
      (apiKey) => new OpenAI({ apiKey, baseURL: `${capture.url}/v1`, maxRetries: 0 }).images.generate({ model: MODEL.openai, prompt: "x", n: 2 }),
      { answers: [{ status: 200, body: IMAGES_RESPONSE }] },
    );
    assert.ifError(run.error);
    assert.equal(run.result.usage.total_tokens, 2134);
    assert.equal(run.result.output_format, "webp");
    assert.equal(run.result.data[0].revised_prompt, IMAGES_RESPONSE.data[0].revised_prompt);
  });

  // Each error fixture, with the class the openai SDK raises for its status (core/error.d.ts:
  // APIError reads `error.code`, `error.param`, `error.type` from the envelope).
  const OPENAI_ERRORS = [
    ["openai/invalid_api_key", "AuthenticationError"],
    ["openai/org_not_verified", "PermissionDeniedError"],
    ["openai/insufficient_quota", "RateLimitError"],
    ["openai/rate_limit", "RateLimitError"],
    ["openai/rate_limit_retry_after_ms", "RateLimitError"],
    ["openai/billing_hard_limit", "BadRequestError"],
    ["openai/moderation_blocked", "BadRequestError"],
    ["openai/content_policy_violation", "BadRequestError"],
    ["openai/invalid_size", "BadRequestError"],
    ["openai/unknown_parameter", "BadRequestError"],
    ["openai/n_above_max", "BadRequestError"],
    ["openai/model_not_found", "NotFoundError"],
    ["openai/server_error", "InternalServerError"],
    ["openai/server_error_should_not_retry", "InternalServerError"],
    ["openai/overloaded", "InternalServerError"],
    ["openai/overloaded_retry_after", "InternalServerError"],
  ];
  for (const [name, sdkClass] of OPENAI_ERRORS) {
    test(`${name}: classified as the README says; the SDK raises ${sdkClass} with the same fields`, async () => {
      const answer = fixture(name);
      const envelope = answer.body.error;
      await assertClassified("openai", answer, answer.expect);

      const sdk = await capture.run(
        "openai-sdk",
        (apiKey) => new OpenAI({ apiKey, baseURL: `${capture.url}/v1`, maxRetries: 0 }).images.generate({ model: MODEL.openai, prompt: "x" }),
        { answers: [answer] },
      );
      assert.ok(sdk.error instanceof OpenAI[sdkClass], `the SDK raised ${sdk.error?.constructor?.name}`);
      assert.equal(sdk.error.status, answer.status);
      assert.deepEqual([sdk.error.code, sdk.error.type, sdk.error.param], [envelope.code, envelope.type, envelope.param]);
    });
  }
});

// `x-should-retry` (openai@7.59.0 client.js shouldRetry: "If the server explicitly says whether
// or not to retry, obey", checked before the status). The package must take the same decision
// on retrying the same provider as the SDK for each of these answers.
describe("openai x-should-retry: the package retries exactly when the openai SDK does", () => {
  const withHeader = (name, value) => {
    const answer = fixture(name);
    if (value !== undefined) answer.headers["x-should-retry"] = value;
    return answer;
  };
  const CASES = [
    ["openai/server_error", undefined],
    ["openai/server_error", "false"],
    ["openai/overloaded", "false"],
    ["openai/rate_limit_retry_after_ms", "false"],
    ["openai/invalid_size", undefined],
    ["openai/invalid_size", "true"],
    ["openai/org_not_verified", "true"],
    ["openai/model_not_found", undefined],
  ];
  for (const [name, header] of CASES) {
    test(`${name} with ${header === undefined ? "no x-should-retry" : `x-should-retry: ${header}`}`, async () => {
      const answer = withHeader(name, header);
      // The SDK's retry honours retry-after-ms; keep its wait short without changing the decision.
      const sdkAnswer = structuredClone(answer);
      sdkAnswer.headers["retry-after-ms"] = "5";
      const sdk = await capture.run(
        "openai-sdk",
        (apiKey) => new OpenAI({ apiKey, baseURL: `${capture.url}/v1`, maxRetries: 1 }).images.generate({ model: MODEL.openai, prompt: "x" }),
        { answers: [sdkAnswer] },
      );
      const sdkRetried = sdk.requests.length === 2;

      const pkg = await serve("openai", answer, { chain: "with-fallback" });
      const tries = (pkg.result ?? pkg.error).attempts.filter((a) => a.provider === "openai" && !a.skipped);
      // A Retry-After hint above the test's maxRetryAfterMs moves on at once whatever the header.
      const hintTooLong = answer.expect.retryAfterMs > 100;
      const pkgRetried = tries.length === 2;
      assert.equal(pkgRetried, sdkRetried && !hintTooLong, `the SDK ${sdkRetried ? "retried" : "did not retry"}; the package made ${tries.length} tries`);
      if (header === "false") {
        const alone = await serve("openai", answer);
        assert.equal(alone.error?.retryable, false, "x-should-retry: false makes the error not retryable");
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Gemini

describe("gemini responses", () => {
  test("thought parts, text parts and thoughtSignature: only the final image, no seed", async () => {
    const run = await serve("gemini", { status: 200, body: GEMINI_THINKING_RESPONSE }, { request: { seed: 42 } });
    assert.ifError(run.error);
    assert.equal(run.result.images.length, 1, "interim thought images are not results");
    const [image] = run.result.images;
    assert.equal(image.mimeType, "image/jpeg", "the type of the final image part");
    assert.equal(image.base64, PNG);
    assert.equal(image.revisedPrompt, undefined);
    assert.equal(image.seed, undefined, "Gemini reports no seed: the requested one is not an image's seed");
  });

  test("the AI SDK also takes one image from it (second opinion)", async () => {
    const run = await capture.run(
      "ai-sdk",
      (apiKey) =>
        generateImage({
          model: createGoogleGenerativeAI({ apiKey, baseURL: `${capture.url}/v1beta` }).image(MODEL.gemini),
          prompt: "a lighthouse",
          maxRetries: 0,
        }),
      { answers: [{ status: 200, body: GEMINI_THINKING_RESPONSE }] },
    );
    assert.ifError(run.error);
    assert.equal(run.result.images.length, 1);
    assert.equal(run.result.image.base64, PNG, "the final image, not the thought image");
  });

  // Every FinishReason of @google/genai 3.3.0 on a candidate without an image. Blocks of the
  // output are content_policy (no retry, no fallback); any other reason is a generation that
  // produced no image: bad_response (retried once, then fallback). A value added to the SDK's
  // enum fails the completeness check below until it is classified here.
  const FINISH = {
    FINISH_REASON_UNSPECIFIED: "bad_response",
    STOP: "bad_response",
    MAX_TOKENS: "bad_response",
    SAFETY: "content_policy",
    RECITATION: "content_policy",
    LANGUAGE: "bad_response",
    OTHER: "bad_response",
    BLOCKLIST: "content_policy",
    PROHIBITED_CONTENT: "content_policy",
    SPII: "content_policy",
    MALFORMED_FUNCTION_CALL: "bad_response",
    IMAGE_SAFETY: "content_policy",
    IMAGE_PROHIBITED_CONTENT: "content_policy",
    IMAGE_OTHER: "bad_response",
    NO_IMAGE: "bad_response",
    IMAGE_RECITATION: "content_policy",
    UNEXPECTED_TOOL_CALL: "bad_response",
    TOO_MANY_TOOL_CALLS: "bad_response",
    MISSING_THOUGHT_SIGNATURE: "bad_response",
    MALFORMED_RESPONSE: "bad_response",
    // "filtered by an escalation rule", "account limited … Prohibited Use Policy", "blocked by
    // Model Armor" (Vertex-only): the package has no block rule for them; @ai-sdk/google maps
    // all three to "other", not "content-filter".
    ESCALATION: "bad_response",
    PUP_LIMITED_DISABLED: "bad_response",
    CONTINUATION: "bad_response",
    MODEL_ARMOR: "bad_response",
  };

  test("every FinishReason value of the SDK is classified here", () => {
    assert.deepEqual(Object.values(FinishReason).sort(), Object.keys(FINISH).sort());
  });

  for (const [reason, code] of Object.entries(FINISH)) {
    test(`finishReason ${reason} without an image → ${code}`, async () => {
      await assertClassified("gemini", { status: 200, body: geminiNoImage(reason) }, { code });
    });
  }

  test("whatever @ai-sdk/google calls a content filter, the package calls content_policy (second opinion)", async () => {
    const filtered = [];
    for (const reason of Object.values(FinishReason)) {
      const run = await capture.run(
        "ai-sdk",
        (apiKey) =>
          generateText({
            model: createGoogleGenerativeAI({ apiKey, baseURL: `${capture.url}/v1beta` })(MODEL.gemini),
            prompt: "a lighthouse",
            maxRetries: 0,
          }),
        { answers: [{ status: 200, body: geminiNoImage(reason) }] },
      );
      assert.ifError(run.error);
      if (run.result.finishReason === "content-filter") filtered.push(reason);
    }
    assert.ok(filtered.length >= 5, `the AI SDK filters ${filtered}`);
    assert.deepEqual(filtered.filter((r) => FINISH[r] !== "content_policy"), []);
  });

  test("every BlockedReason of the SDK in promptFeedback → content_policy", async () => {
    for (const reason of Object.values(BlockedReason)) {
      await assertClassified("gemini", { status: 200, body: geminiBlockedPrompt(reason) }, { code: "content_policy" });
    }
  });

  // The error envelope {error: {code, message, status, details}} (@ai-sdk/google's
  // googleErrorDataSchema; @google/genai's ApiError carries the HTTP status and the body), with
  // google.rpc details: ErrorInfo.reason, QuotaFailure.violations[].quotaId, RetryInfo.retryDelay.
  const GEMINI_ERRORS = [
    "gemini/api_key_invalid",
    "gemini/unregistered_caller",
    "gemini/service_disabled",
    "gemini/failed_precondition",
    "gemini/rate_limited",
    "gemini/quota_per_day",
    "gemini/quota_limit_zero",
    "gemini/model_not_found",
    "gemini/unknown_field",
    "gemini/internal",
    "gemini/unavailable",
    "gemini/deadline_exceeded",
  ];
  for (const name of GEMINI_ERRORS) {
    test(`${name}: classified as the README says; both SDKs read the same envelope`, async () => {
      const answer = fixture(name);
      await assertClassified("gemini", answer, answer.expect);

      const genai = await capture.run(
        "genai-sdk",
        (apiKey) =>
          new GoogleGenAI({ apiKey, apiVersion: "v1beta", httpOptions: { baseUrl: capture.url } }).models.generateContent({
            model: MODEL.gemini,
            contents: "x",
          }),
        { answers: [answer] },
      );
      assert.ok(genai.error instanceof ApiError, `@google/genai raised ${genai.error}`);
      assert.equal(genai.error.status, answer.status);
      assert.deepEqual(JSON.parse(genai.error.message), answer.body, "ApiError carries the envelope");

      const aisdk = await capture.run(
        "ai-sdk",
        (apiKey) =>
          generateImage({
            model: createGoogleGenerativeAI({ apiKey, baseURL: `${capture.url}/v1beta` }).image(MODEL.gemini),
            prompt: "x",
            maxRetries: 0,
          }),
        { answers: [answer] },
      );
      assert.equal(aisdk.error?.statusCode, answer.status, `@ai-sdk/google raised ${aisdk.error}`);
      assert.deepEqual(aisdk.error.data?.error?.status, answer.body.error.status, "googleErrorDataSchema accepted the envelope");
    });
  }

  test("gemini/bare_429: the bare {code, message, status} body older APIs sent (no envelope) is still rate_limited", async () => {
    const answer = fixture("gemini/bare_429");
    assert.equal(answer.body.error, undefined, "not the envelope");
    await assertClassified("gemini", answer, answer.expect);
  });

  test("RetryInfo.retryDelay with fractional seconds (google.protobuf.Duration JSON)", async () => {
    const answer = fixture("gemini/rate_limited");
    const retryInfo = answer.body.error.details.find((d) => d["@type"].endsWith("RetryInfo"));
    retryInfo.retryDelay = "2.500s";
    answer.body.error.message = "Resource has been exhausted.";
    await assertClassified("gemini", answer, { code: "rate_limited", retryAfterMs: 2500 });
  });
});

// ---------------------------------------------------------------------------------------------
// A 400 the provider sends for a request that passed the package's own validation.

describe("provider-side 400", () => {
  for (const [provider, name] of [
    ["openai", "openai/unknown_parameter"],
    ["gemini", "gemini/unknown_field"],
  ]) {
    test(`${name}: falls back with a provider_rejected_request warning carrying the provider's message`, async () => {
      const answer = fixture(name);
      const run = await serve(provider, answer, { chain: "with-fallback" });
      assert.ifError(run.error);
      assert.equal(run.result.images[0].provider, "mock");
      const warning = run.result.warnings.find((w) => w.code === "provider_rejected_request");
      assert.ok(warning, `a provider_rejected_request warning in ${JSON.stringify(run.result.warnings)}`);
      assert.equal(warning.provider, provider);
      const providerMessage = answer.body.error.message;
      assert.ok(warning.message.includes(providerMessage.slice(0, 40)), `the warning quotes the provider: ${warning.message}`);
      assert.deepEqual(run.result.attempts.map((a) => a.outcome), ["invalid_request", "ok"]);
    });
  }
});
