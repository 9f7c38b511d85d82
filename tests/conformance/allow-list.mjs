// The only differences allowed between the package's request and a reference request (an
// official SDK's, the Vercel AI SDK's, or Stability's documented form). Anything else that
// differs fails the test that found it. Policy (README.md next to this file):
//
//   1. Headers that describe the client, not the request: User-Agent and SDK telemetry.
//   2. Transport details with no meaning to the API: header order and multipart part order
//      (never compared: wireView keeps headers and form fields as maps), the multipart
//      boundary (compared as <BOUNDARY>), Content-Length (follows from the body, which is
//      compared field by field), and `Accept` where the answer is JSON either way.
//   3. A default the package writes out that equals the API's documented default: the request
//      means the same with or without it. Each entry cites where the default is documented.
//   4. A default of the package's own that differs from the API's: only when the SDKs accept
//      it, it is a deliberate choice written down in the repository's README.md (checked by
//      allow-list.test.mjs), and a caller can remove it with `params` (`null` deletes a key).
//
// Each entry: id, providers, oracles (default: all), path (string or RegExp
// over compare.mjs paths), when(pkgValue, refValue) narrowing the values allowed, reason,
// source (where the fact comes from), readme (kind 4 only: a RegExp README.md must match).

import { isDeepStrictEqual } from "node:util";

const absent = (v) => v === undefined;

/** The safety settings the package sends by default (kept from the original design). */
export const DEFAULT_SAFETY_SETTINGS = [
  "HARM_CATEGORY_HARASSMENT",
  "HARM_CATEGORY_HATE_SPEECH",
  "HARM_CATEGORY_SEXUALLY_EXPLICIT",
  "HARM_CATEGORY_DANGEROUS_CONTENT",
].map((category) => ({ category, threshold: "BLOCK_MEDIUM_AND_ABOVE" }));

export const ALLOWED = [
  // 1. Client identification ---------------------------------------------------------------
  {
    id: "user-agent",
    kind: "client",
    providers: ["openai", "gemini"],
    path: "header.user-agent",
    reason: "names the client library (OpenAI/JS, google-genai-sdk, ai-sdk, or the platform's fetch for the package)",
  },
  {
    id: "sdk-telemetry",
    kind: "client",
    providers: ["openai", "gemini"],
    path: /^header\.(x-stainless-[a-z-]+|x-goog-api-client)$/,
    when: (pkg) => absent(pkg),
    reason: "SDK telemetry headers (openai's x-stainless-*: OS, runtime, retry count; google-genai's x-goog-api-client); the package sends none",
    source: "openai@7.59.0 client.js defaultHeaders/getPlatformHeaders; @google/genai@3.3.0 getDefaultHeaders",
  },

  // 2. Transport details ---------------------------------------------------------------------
  {
    id: "content-length",
    kind: "transport",
    providers: ["openai", "gemini", "stability"],
    path: "header.content-length",
    reason: "the byte length follows from the body, which is compared field by field (key order and part order differ)",
  },
  {
    id: "openai-accept-json",
    kind: "transport",
    providers: ["openai"],
    path: "header.accept",
    when: (pkg, ref) => pkg === "*/*" && ref === "application/json",
    reason: "the openai SDK asks for application/json; the package leaves fetch's default */*, which accepts the same JSON answer",
    source: "openai@7.59.0 client.js buildHeaders (Accept: application/json)",
  },

  // 3. Defaults written out that equal the API's ----------------------------------------------
  {
    id: "openai-n-1",
    kind: "api-default",
    providers: ["openai"],
    path: "body.n",
    when: (pkg, ref) => pkg === 1 && absent(ref),
    reason: "the package always states n; 1 is the API's default",
    source: "docs/providers.md 1.3 (n: integer 1–10, default 1; OpenAI API reference, Create image)",
  },
  {
    id: "gemini-aspect-1-1",
    kind: "api-default",
    providers: ["gemini"],
    path: "body.generationConfig.imageConfig.aspectRatio",
    when: (pkg, ref) => pkg === "1:1" && absent(ref),
    reason: "without input images the model makes square images; the package states 1:1",
    source: "docs/providers.md 8.3: the output follows the input image's shape, else 1:1 (Gemini image generation guide, https://ai.google.dev/gemini-api/docs/image-generation)",
  },
  {
    id: "stability-aspect-1-1",
    kind: "api-default",
    providers: ["stability"],
    path: "form.aspect_ratio",
    when: (pkg, ref) => pkg === "1:1" && absent(ref),
    reason: "aspect_ratio defaults to 1:1 on every v2beta generate endpoint",
    source: "docs/providers.md 3.2: aspect_ratio default 1:1 on core, ultra and sd3 (Stability API reference, https://platform.stability.ai/docs/api-reference#tag/Generate)",
  },
  {
    id: "stability-png",
    kind: "api-default",
    providers: ["stability"],
    path: "form.output_format",
    when: (pkg, ref) => pkg === "png" && absent(ref),
    reason: "output_format defaults to png on every v2beta generate endpoint",
    source: "docs/providers.md 3.2: output_format png (default), jpeg, webp (Stability API reference, https://platform.stability.ai/docs/api-reference#tag/Generate)",
  },

  // 4. The package's own defaults, documented in README.md -----------------------------------
  {
    id: "openai-quality-medium",
    kind: "library-default",
    providers: ["openai"],
    path: "body.quality",
    when: (pkg, ref) => pkg === "medium" && absent(ref),
    reason:
      "the original design's 'standard' quality; the API's default is auto. Valid for every GPT image model (ImageGenerateParamsBase.quality); params {quality: null} removes it",
    source: "openai@7.59.0 resources/images.d.ts ImageGenerateParamsBase.quality",
    readme: /`quality: "medium"`/,
  },
  {
    id: "gemini-safety-settings",
    kind: "library-default",
    providers: ["gemini"],
    path: "body.safetySettings",
    when: (pkg, ref) => isDeepStrictEqual(pkg, DEFAULT_SAFETY_SETTINGS) && absent(ref),
    reason:
      "the original design's 'block some' filter: BLOCK_MEDIUM_AND_ABOVE for the four configurable harm categories. Both SDKs send it to the Developer API unchanged (safetySettingToMldev, @ai-sdk/google's safetySettings option); params {safetySettings: null} removes it",
    source: "@google/genai@3.3.0 HarmCategory/HarmBlockThreshold; @ai-sdk/google@4.0.121 configurableSafetySettingCategories",
    readme: /`safetySettings` at `BLOCK_MEDIUM_AND_ABOVE`/,
  },
];
