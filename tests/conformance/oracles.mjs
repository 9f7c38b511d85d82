// The sides of each comparison, all pointed at the capture server: the built package, the
// providers' official SDKs, the Vercel AI SDK (a second opinion), and Stability's documented
// multipart form (Stability has no official JS SDK).

import OpenAI from "openai";
import { GoogleGenAI } from "@google/genai";
import { generateImage } from "ai";
import { createOpenAI } from "@ai-sdk/openai";
import { createGoogleGenerativeAI } from "@ai-sdk/google";
import { generateImages } from "imagegen";

// The AI SDK prints its warnings (e.g. "seed is not supported") to the console by default.
globalThis.AI_SDK_LOG_WARNINGS = false;

/** The package: generateImages with one chain entry pointed at the capture server. */
export function viaPackage(capture, provider, { model, request, params }) {
  return capture.run("pkg", (apiKey) =>
    generateImages({
      ...request,
      providers: [{ provider, apiKey, baseUrl: capture.url, ...(model ? { model } : {}), ...(params ? { params } : {}) }],
      retry: { maxAttempts: 1 },
    }),
  );
}

// OpenAI ----------------------------------------------------------------------------------------

/** The official openai SDK's images.generate, `calls` times. */
export function viaOpenAI(capture, params, calls = 1) {
  return capture.run("openai-sdk", async (apiKey) => {
    const client = new OpenAI({ apiKey, baseURL: `${capture.url}/v1`, maxRetries: 0 });
    const out = [];
    for (let i = 0; i < calls; i++) out.push(await client.images.generate(params));
    return out;
  });
}

/** The same OpenAI request through the AI SDK: generateImage with @ai-sdk/openai. */
export function viaAiSdkOpenAI(capture, params) {
  const { model, prompt, n, size, quality, output_format: outputFormat, ...rest } = params;
  if (Object.keys(rest).length > 0) throw new Error(`no AI SDK mapping for ${Object.keys(rest)}`);
  const openai = { ...(quality ? { quality } : {}), ...(outputFormat ? { outputFormat } : {}) };
  return capture.run("ai-sdk", (apiKey) =>
    generateImage({
      model: createOpenAI({ apiKey, baseURL: `${capture.url}/v1` }).image(model),
      prompt,
      n: n ?? 1,
      ...(size ? { size } : {}),
      providerOptions: { openai },
      maxRetries: 0,
    }),
  );
}

// Gemini ----------------------------------------------------------------------------------------

/**
 * The official @google/genai SDK's models.generateContent on the Gemini Developer API.
 * apiVersion: @google/genai 3.3.0 defaults to the stable `v1`; the package, @ai-sdk/google and
 * Google's REST examples for image generation use `v1beta`, so the SDK is set to it here.
 */
export function viaGenAI(capture, params, calls = 1) {
  return capture.run("genai-sdk", async (apiKey) => {
    const ai = new GoogleGenAI({ apiKey, apiVersion: "v1beta", httpOptions: { baseUrl: capture.url } });
    const out = [];
    for (let i = 0; i < calls; i++) out.push(await ai.models.generateContent(params));
    return out;
  });
}

/**
 * Feeds a captured generateContent body (wire JSON) through @google/genai's Developer-API
 * request converter (generateContentParametersToMldev, run by models.generateContent): the wire
 * body becomes SDK parameters again (generationConfig and the request-level fields go into
 * `config`, as the SDK's GenerateContentConfig has them), the SDK converts and sends them.
 * Returns {error} when the converter refuses a field, else {body}: what the SDK sent, to be
 * compared with the input (a field the converter does not know is dropped on the way).
 */
export async function throughGenAIConverter(capture, model, wireBody) {
  const { contents, generationConfig, safetySettings, systemInstruction, tools, toolConfig, cachedContent, ...unknown } = wireBody;
  if (Object.keys(unknown).length > 0) {
    return { error: new Error(`no GenerateContentParameters field for top-level ${Object.keys(unknown).join(", ")}`) };
  }
  const config = { ...generationConfig };
  for (const [k, v] of Object.entries({ safetySettings, systemInstruction, tools, toolConfig, cachedContent })) {
    if (v !== undefined) config[k] = v;
  }
  const run = await viaGenAI(capture, { model, contents, config });
  if (run.error) return { error: run.error };
  return { body: run.requests[0]?.json, requests: run.requests };
}

/** The same Gemini request through the AI SDK: generateImage with @ai-sdk/google. */
export function viaAiSdkGoogle(capture, params, n = 1) {
  const { model, contents, config = {} } = params;
  const { responseModalities, seed, imageConfig = {}, safetySettings, ...rest } = config;
  if (Object.keys(rest).length > 0) throw new Error(`no AI SDK mapping for config ${Object.keys(rest)}`);
  const { aspectRatio, ...otherImageConfig } = imageConfig;
  const google = {
    ...(Object.keys(otherImageConfig).length > 0 ? { imageConfig: otherImageConfig } : {}),
    ...(safetySettings ? { safetySettings } : {}),
  };
  return capture.run("ai-sdk", (apiKey) =>
    generateImage({
      model: createGoogleGenerativeAI({ apiKey, baseURL: `${capture.url}/v1beta` }).image(model),
      prompt: contents,
      n,
      ...(aspectRatio ? { aspectRatio } : {}),
      ...(seed !== undefined ? { seed } : {}),
      providerOptions: { google },
      maxRetries: 0,
    }),
  );
}

/**
 * A captured generateContent body through the AI SDK: prompt, aspect ratio and seed as
 * generateImage's own options, the rest of imageConfig and the safety settings as
 * providerOptions.google. The AI SDK strips what "the Gemini API rejects" (Vertex-only
 * imageConfig fields) and validates safetySettings against its enums.
 */
export function throughAiSdkGoogle(capture, model, wireBody) {
  const { contents, generationConfig = {}, safetySettings, ...otherTop } = wireBody;
  const { responseModalities, seed, imageConfig, ...otherGeneration } = generationConfig;
  const unmapped = [...Object.keys(otherTop), ...Object.keys(otherGeneration).map((k) => `generationConfig.${k}`)];
  if (unmapped.length > 0) return Promise.resolve({ error: new Error(`no AI SDK option for ${unmapped.join(", ")}`) });
  const prompt = contents?.[0]?.parts?.[0]?.text;
  return viaAiSdkGoogle(capture, { model, contents: prompt, config: { seed, imageConfig, safetySettings } });
}

// Stability ---------------------------------------------------------------------------------------

/**
 * Stability's v2beta generate form, as its API reference documents it (fields per endpoint,
 * with type, allowed values and default), transcribed with its evidence in docs/providers.md
 * 3.1 and 3.2. The reference's pages:
 *   https://platform.stability.ai/docs/api-reference#tag/Generate/paths/~1v2beta~1stable-image~1generate~1core/post
 *   https://platform.stability.ai/docs/api-reference#tag/Generate/paths/~1v2beta~1stable-image~1generate~1ultra/post
 *   https://platform.stability.ai/docs/api-reference#tag/Generate/paths/~1v2beta~1stable-image~1generate~1sd3/post
 * Request: POST, `authorization: Bearer <key>`, `content-type: multipart/form-data`, `accept:
 * image/*` (raw bytes) or `application/json` (base64 in JSON); every field is a text part
 * except `image` (a file).
 */
const RATIOS = ["16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21"];
const STYLE_PRESETS = [
  "3d-model", "analog-film", "anime", "cinematic", "comic-book", "digital-art", "enhance", "fantasy-art", "isometric",
  "line-art", "low-poly", "modeling-compound", "neon-punk", "origami", "photographic", "pixel-art", "tile-texture",
];
const common = {
  prompt: { type: "string", required: true, minLength: 1, maxLength: 10000 },
  negative_prompt: { type: "string", maxLength: 10000 },
  aspect_ratio: { enum: RATIOS, default: "1:1" },
  seed: { type: "integer", min: 0, max: 4294967294, default: "0" },
  output_format: { enum: ["png", "jpeg", "webp"], default: "png" },
  style_preset: { enum: STYLE_PRESETS },
};
export const STABILITY_FORM = {
  core: { ...common },
  ultra: { ...common, image: { type: "file" }, strength: { type: "number", min: 0, max: 1 } },
  sd3: {
    ...common,
    model: { enum: ["sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium", "sd3.5-flash"], default: "sd3.5-large" },
    mode: { enum: ["text-to-image", "image-to-image"], default: "text-to-image" },
    // Default 4 for sd3.5-large and -medium, 1 for the distilled -turbo and -flash.
    cfg_scale: { type: "number", min: 1, max: 10 },
    image: { type: "file" },
    strength: { type: "number", min: 0, max: 1 },
  },
};
export const STABILITY_ACCEPT = ["image/*", "application/json"];

/** What is wrong with `fields` (name → text value) for `endpoint` per the documented form. */
export function stabilityFormProblems(endpoint, fields) {
  const spec = STABILITY_FORM[endpoint];
  if (!spec) return [`no documented endpoint generate/${endpoint}`];
  const problems = [];
  for (const [name, rule] of Object.entries(spec)) {
    if (rule.required && fields[name] === undefined) problems.push(`${name}: required`);
  }
  for (const [name, value] of Object.entries(fields)) {
    const rule = spec[name];
    if (!rule) {
      problems.push(`${name}: not a field of generate/${endpoint}`);
      continue;
    }
    if (rule.type === "file") {
      if (typeof value !== "object") problems.push(`${name}: must be a file part`);
      continue;
    }
    if (typeof value !== "string") {
      problems.push(`${name}: must be a text part`);
      continue;
    }
    if (rule.enum && !rule.enum.includes(value)) problems.push(`${name}: ${JSON.stringify(value)} is not one of ${rule.enum.join(" | ")}`);
    if (rule.type === "integer" && !/^\d+$/.test(value)) problems.push(`${name}: ${JSON.stringify(value)} is not an integer`);
    if (rule.type === "number" && !/^\d+(\.\d+)?$/.test(value)) problems.push(`${name}: ${JSON.stringify(value)} is not a number`);
    if ((rule.type === "integer" || rule.type === "number") && (Number(value) < rule.min || Number(value) > rule.max)) {
      problems.push(`${name}: ${value} is outside ${rule.min}..${rule.max}`);
    }
    if (rule.minLength !== undefined && value.length < rule.minLength) problems.push(`${name}: shorter than ${rule.minLength}`);
    if (rule.maxLength !== undefined && value.length > rule.maxLength) problems.push(`${name}: longer than ${rule.maxLength}`);
  }
  return problems;
}

/**
 * The documented request, sent with the platform's fetch and FormData (as Stability's own
 * JavaScript examples build it), `calls` times.
 */
export function viaStabilityForm(capture, { endpoint, fields, accept = "application/json" }, calls = 1) {
  const problems = stabilityFormProblems(endpoint, fields);
  if (problems.length > 0) throw new Error(`the test's reference form is not the documented one: ${problems.join("; ")}`);
  return capture.run("documented-form", async (apiKey) => {
    const out = [];
    for (let i = 0; i < calls; i++) {
      const form = new FormData();
      for (const [name, value] of Object.entries(fields)) form.append(name, value);
      const res = await fetch(`${capture.url}/v2beta/stable-image/generate/${endpoint}`, {
        method: "POST",
        headers: { authorization: `Bearer ${apiKey}`, accept },
        body: form,
      });
      out.push(await res.json());
    }
    return out;
  });
}
