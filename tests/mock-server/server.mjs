// Offline mock of the OpenAI Images, Gemini generateContent and Stability v2beta HTTP APIs.
//
// Serves the JSON fixtures in tests/fixtures/<provider>/<name>.json (the same files the Rust
// native tests classify), validates requests the way the real providers do (so option-mapping
// bugs surface as the provider would report them), and lets a test script faults per API key.
// Contract: docs/providers.md, section 6. Node >= 20, built-in modules only.
//
//   import { startMockServer } from "./tests/mock-server/server.mjs";
//   const mock = await startMockServer();          // { url, port, close(), reset(), ... }
//
//   node tests/mock-server/server.mjs [--port N] [--host H] [--image-bytes N]
//   -> prints {"url":"http://127.0.0.1:N"} once listening; runs until SIGTERM/SIGINT.
//
// Control routes (no auth): GET /__mock/requests[?key=K], POST /__mock/reset,
// POST /__mock/script {"key","steps":[...],"after"?,"faultRate"?,"fault"?,"seed"?}.
// See README.md next to this file for the step format.

import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The verified 1x1 PNG of docs/providers.md 1.4; every successful generation returns it. */
export const PNG_1X1_BASE64 =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

export const FIXTURE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures");

// We buffer bodies up to this size; larger ones are drained and answered 413 (never crash).
const MAX_BODY_BYTES = 32 * 1024 * 1024;
// Stability documents a 10 MiB payload limit (docs/providers.md 3.3, payload_too_large).
const STABILITY_MAX_BODY_BYTES = 10 * 1024 * 1024;
// Seed reported by Stability when the request did not choose one (seed 0 / absent = random).
const DEFAULT_STABILITY_SEED = 742048682;

const CORS_HEADERS = {
  "access-control-allow-origin": "*",
  "access-control-expose-headers": "retry-after, retry-after-ms, x-should-retry, finish-reason, seed, x-request-id, content-type",
};
const PREFLIGHT_HEADERS = {
  "access-control-allow-methods": "GET, POST, OPTIONS",
  "access-control-allow-headers":
    "authorization, content-type, x-goog-api-key, accept, stability-client-id, stability-client-user-id, stability-client-version",
  "access-control-max-age": "600",
};

// ---------------------------------------------------------------------------------------------
// Fixtures and response objects
// ---------------------------------------------------------------------------------------------

/** Reads every tests/fixtures/<provider>/<name>.json into a Map keyed "provider/name". */
export function loadFixtures(dir = FIXTURE_DIR) {
  const fixtures = new Map();
  for (const provider of fs.readdirSync(dir).sort()) {
    const providerDir = path.join(dir, provider);
    if (!fs.statSync(providerDir).isDirectory()) continue;
    for (const file of fs.readdirSync(providerDir).sort()) {
      if (!file.endsWith(".json")) continue;
      const text = fs.readFileSync(path.join(providerDir, file), "utf8");
      fixtures.set(`${provider}/${file.slice(0, -5)}`, JSON.parse(text));
    }
  }
  return fixtures;
}

// Handlers return plain response objects {status, headers, body: Buffer}; one function
// (send) writes them, so scripted faults can reuse or truncate any response.

function jsonResponse(status, value, headers = {}) {
  return {
    status,
    headers: { "content-type": "application/json", ...headers },
    body: Buffer.from(JSON.stringify(value)),
  };
}

function bytesResponse(status, buffer, headers = {}) {
  return { status, headers: { ...headers }, body: buffer };
}

/** A step/fixture-like object {status, headers, body|bodyText|bodyBase64} as a response. */
function literalResponse(spec) {
  const headers = lowercaseKeys(spec.headers ?? {});
  if (spec.body !== undefined) {
    return jsonResponse(spec.status ?? 200, spec.body, headers);
  }
  if (typeof spec.bodyText === "string") {
    return bytesResponse(spec.status ?? 200, Buffer.from(spec.bodyText), { "content-type": "text/plain", ...headers });
  }
  if (typeof spec.bodyBase64 === "string") {
    return bytesResponse(spec.status ?? 200, Buffer.from(spec.bodyBase64, "base64"), {
      "content-type": "application/octet-stream",
      ...headers,
    });
  }
  return bytesResponse(spec.status ?? 200, Buffer.alloc(0), headers);
}

function lowercaseKeys(object) {
  const out = {};
  for (const [k, v] of Object.entries(object)) out[k.toLowerCase()] = String(v);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Deterministic randomness and benchmark images
// ---------------------------------------------------------------------------------------------

/** mulberry32: tiny seeded PRNG, returns floats in [0, 1). Same seed -> same sequence. */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 as used by PNG chunks. */
export function crc32(buffer) {
  let c = 0xffffffff;
  for (const byte of buffer) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * Base64 of a still-valid PNG whose base64 text is about `approxChars` long (for benchmarks):
 * the 1x1 PNG with a deterministic tEXt chunk inserted before IEND, so decoders still accept it.
 */
export function makePaddedPngBase64(approxChars) {
  const png = Buffer.from(PNG_1X1_BASE64, "base64");
  const iend = png.subarray(png.length - 12); // IEND is always the last 12 bytes
  const keyword = Buffer.from("Comment\0", "latin1");
  const targetBytes = Math.floor((approxChars * 3) / 4);
  const textLength = targetBytes - png.length - 12 - keyword.length;
  if (textLength <= 0) return PNG_1X1_BASE64;

  const random = mulberry32(20260901);
  const text = Buffer.alloc(textLength);
  for (let i = 0; i < textLength; i++) text[i] = 97 + Math.floor(random() * 26); // a..z
  const typeAndData = Buffer.concat([Buffer.from("tEXt", "latin1"), keyword, text]);
  const chunk = Buffer.alloc(typeAndData.length + 8);
  chunk.writeUInt32BE(typeAndData.length - 4, 0);
  typeAndData.copy(chunk, 4);
  chunk.writeUInt32BE(crc32(typeAndData), chunk.length - 4);
  return Buffer.concat([png.subarray(0, png.length - 12), chunk, iend]).toString("base64");
}

// ---------------------------------------------------------------------------------------------
// Request parsing
// ---------------------------------------------------------------------------------------------

function multipartBoundary(contentType) {
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? "");
  return match ? (match[1] ?? match[2]) : null;
}

function isMultipart(contentType) {
  return /^\s*multipart\/form-data\b/i.test(contentType ?? "");
}

function isJsonContentType(contentType) {
  return /^\s*application\/json\b/i.test(contentType ?? "");
}

/**
 * Parses a multipart/form-data body into {name: value}. Text parts become strings, file parts
 * {filename, contentType, size}; a repeated name becomes an array. Returns null when the body
 * is not well-formed multipart for the boundary in `contentType`.
 */
export function parseMultipart(buffer, contentType) {
  const boundary = multipartBoundary(contentType);
  if (!boundary) return null;
  const delimiter = Buffer.from(`--${boundary}`);
  const nextDelimiter = Buffer.from(`\r\n--${boundary}`);
  const fields = {};

  let pos = buffer.indexOf(delimiter);
  if (pos < 0) return null;
  for (;;) {
    pos += delimiter.length;
    if (buffer[pos] === 0x2d && buffer[pos + 1] === 0x2d) return fields; // "--": final delimiter
    while (buffer[pos] === 0x20 || buffer[pos] === 0x09) pos++; // transport padding
    if (buffer[pos] !== 0x0d || buffer[pos + 1] !== 0x0a) return null;
    pos += 2;

    // Search from the CRLF we just skipped so a part with no headers at all still parses.
    const headerEnd = buffer.indexOf("\r\n\r\n", pos - 2);
    if (headerEnd < 0) return null;
    const headers = parsePartHeaders(buffer.toString("utf8", pos, headerEnd));
    const contentStart = headerEnd + 4;
    const contentEnd = buffer.indexOf(nextDelimiter, contentStart);
    if (contentEnd < 0) return null;

    addFormField(fields, headers, buffer.subarray(contentStart, contentEnd));
    pos = contentEnd + 2; // now at "--boundary"
  }
}

function parsePartHeaders(text) {
  const headers = {};
  for (const line of text.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

function addFormField(fields, headers, content) {
  const disposition = headers["content-disposition"] ?? "";
  const name = /\bname="([^"]*)"/i.exec(disposition)?.[1];
  if (name === undefined) return; // a part without a name carries no field
  const filename = /\bfilename="([^"]*)"/i.exec(disposition)?.[1];
  const value =
    filename === undefined
      ? content.toString("utf8")
      : { filename, contentType: headers["content-type"] ?? "application/octet-stream", size: content.length };
  if (!(name in fields)) fields[name] = value;
  else if (Array.isArray(fields[name])) fields[name].push(value);
  else fields[name] = [fields[name], value];
}

/** Parses a body by content type: multipart -> fields, otherwise try JSON. Never throws. */
function parseBody(buffer, contentType) {
  if (buffer.length === 0) return { kind: "empty", value: null };
  if (isMultipart(contentType)) {
    const fields = parseMultipart(buffer, contentType);
    return fields ? { kind: "multipart", value: fields } : { kind: "invalid", value: null };
  }
  try {
    return { kind: "json", value: JSON.parse(buffer.toString("utf8")) };
  } catch {
    return { kind: "invalid", value: null };
  }
}

function bearerKey(authorization) {
  const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  return match ? match[1] : null;
}

function isPlainObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Proto-JSON accepts camelCase and snake_case field names (docs/providers.md 2.1). */
function protoField(object, camel, snake) {
  if (!isPlainObject(object)) return undefined;
  return object[camel] !== undefined ? object[camel] : object[snake];
}

// ---------------------------------------------------------------------------------------------
// OpenAI (docs/providers.md section 1)
// ---------------------------------------------------------------------------------------------

const OPENAI_PRESET_SIZES = ["1024x1024", "1536x1024", "1024x1536", "auto"];
const OPENAI_KNOWN_FIELDS = new Set([
  "prompt", "model", "n", "size", "quality", "background", "output_format", "output_compression",
  "moderation", "response_format", "user", "stream", "partial_images",
]);

function openaiError(status, message, { type = "invalid_request_error", param = null, code = null } = {}) {
  return jsonResponse(status, { error: { message, type, param, code } });
}

/** "preset" (gpt-image-1 family), "free" (gpt-image-2), "free25" (2.5 models) or null (404). */
function openaiModelFamily(model) {
  if (/^gpt-image-2\.[56]-(flare|sunburst)(-\d{4}-\d{2}-\d{2})?$/.test(model)) return "free25";
  if (/^gpt-image-2(-\d{4}-\d{2}-\d{2})?$/.test(model)) return "free";
  // gpt-image-1 was shut down on 2026-10-23; 1-mini and 1.5 are deprecated but still answer here.
  if (/^gpt-image-1(\.5|-mini)(-\d{4}-\d{2}-\d{2})?$/.test(model)) return "preset";
  if (model === "chatgpt-image-latest") return "preset"; // behaviour [U]; presets are the safe guess
  return null; // dall-e-* are retired; anything else does not exist
}

/** gpt-image-2 arbitrary-size rules (docs/providers.md 1.2); returns a reason or null. */
function freeSizeProblem(size) {
  if (size === "auto") return null;
  const match = /^(\d+)x(\d+)$/.exec(size);
  if (!match) return "expected 'auto' or WIDTHxHEIGHT";
  const [w, h] = [Number(match[1]), Number(match[2])];
  if (w % 16 !== 0 || h % 16 !== 0) return "width and height must be multiples of 16";
  if (Math.max(w, h) > 3840) return "the longest edge must be at most 3840";
  if (Math.min(w, h) === 0 || Math.max(w, h) / Math.min(w, h) > 3) return "the long:short ratio must be at most 3:1";
  if (w * h < 655360 || w * h > 8294400) return "total pixels must be between 655360 and 8294400";
  return null;
}

function openaiValidate(ctx) {
  if (!isJsonContentType(ctx.headers["content-type"])) {
    return openaiError(400, `Unsupported content type: '${ctx.headers["content-type"] ?? ""}'. This API method only accepts 'application/json' requests.`, { code: "unsupported_content_type" });
  }
  const body = ctx.body;
  if (ctx.bodyKind !== "json" || !isPlainObject(body)) {
    return openaiError(400, "We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.");
  }
  if (body.response_format !== undefined) return ctx.fixture("openai/unknown_parameter");
  const unknown = Object.keys(body).find((field) => !OPENAI_KNOWN_FIELDS.has(field));
  if (unknown) {
    return openaiError(400, `Unknown parameter: '${unknown}'.`, { param: unknown, code: "unknown_parameter" });
  }
  if (typeof body.model !== "string" || body.model === "") {
    return openaiError(400, "Missing required parameter: 'model'.", { param: "model", code: "missing_required_parameter" });
  }
  const family = openaiModelFamily(body.model);
  if (!family) {
    return ctx.fixture("openai/model_not_found", (b) => {
      b.error.message = `The model \`${body.model}\` does not exist or you do not have access to it.`;
    });
  }
  if (typeof body.prompt !== "string" || body.prompt.trim() === "") {
    return body.prompt === undefined
      ? openaiError(400, "Missing required parameter: 'prompt'.", { param: "prompt", code: "missing_required_parameter" })
      : openaiError(400, "Invalid 'prompt': empty string. Expected a string with minimum length 1.", { param: "prompt", code: "empty_string" });
  }
  if (body.prompt.length > 32000) {
    return openaiError(400, "Invalid 'prompt': string too long. Expected a string with maximum length 32000.", { param: "prompt", code: "string_above_max_length" });
  }
  return openaiValidateOptions(ctx, body, family);
}

function openaiValidateOptions(ctx, body, family) {
  if (body.n !== undefined) {
    if (!Number.isInteger(body.n)) {
      return openaiError(400, "Invalid type for 'n': expected an integer.", { param: "n", code: "invalid_type" });
    }
    if (body.n > 10) {
      return ctx.fixture("openai/n_above_max", (b) => {
        b.error.message = `Invalid 'n': integer above maximum value. Expected a value <= 10, but got ${body.n} instead.`;
      });
    }
    if (body.n < 1) {
      return openaiError(400, `Invalid 'n': integer below minimum value. Expected a value >= 1, but got ${body.n} instead.`, { param: "n", code: "integer_below_min_value" });
    }
  }
  if (body.size !== undefined) {
    const size = String(body.size);
    if (family === "preset" && !OPENAI_PRESET_SIZES.includes(size)) {
      return ctx.fixture("openai/invalid_size", (b) => {
        b.error.message = `Invalid value: '${size}'. Supported values are: '1024x1024', '1024x1536', '1536x1024', and 'auto'.`;
      });
    }
    const problem = family !== "preset" && freeSizeProblem(size);
    if (problem) {
      return openaiError(400, `Invalid value: '${size}'. ${problem}.`, { param: "size", code: "invalid_value" });
    }
  }
  const qualities = family === "free25" ? ["low", "medium", "high", "auto", "xhigh", "max"] : ["low", "medium", "high", "auto"];
  const enums = {
    quality: qualities,
    output_format: ["png", "jpeg", "webp"],
    background: ["transparent", "opaque", "auto"],
    moderation: ["auto", "low"],
  };
  for (const [param, allowed] of Object.entries(enums)) {
    if (body[param] !== undefined && !allowed.includes(body[param])) {
      const list = allowed.map((v) => `'${v}'`).join(", ");
      return openaiError(400, `Invalid value: '${body[param]}'. Supported values are: ${list}.`, { param, code: "invalid_value" });
    }
  }
  if (body.stream === true) {
    // SSE streaming is not needed by the client (docs/providers.md 1.1, 9); say so instead of faking it.
    return openaiError(400, "The mock server does not implement stream: true.", { param: "stream", code: "unsupported_by_mock" });
  }
  return null;
}

function openaiSuccessBody(ctx) {
  const body = isPlainObject(ctx.body) ? ctx.body : {};
  const n = Number.isInteger(body.n) ? body.n : 1;
  const size = typeof body.size === "string" && body.size !== "auto" ? body.size : "1024x1024";
  return {
    created: Math.floor(Date.now() / 1000),
    background: body.background === "transparent" ? "transparent" : "opaque",
    output_format: body.output_format ?? "png",
    size,
    quality: ["low", "medium", "high"].includes(body.quality) ? body.quality : "medium",
    data: Array.from({ length: n }, () => ({ b64_json: ctx.state.imageBase64 })),
    usage: {
      input_tokens: 18,
      input_tokens_details: { text_tokens: 18, image_tokens: 0 },
      output_tokens: 1056 * n,
      total_tokens: 18 + 1056 * n,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Gemini (docs/providers.md section 2)
// ---------------------------------------------------------------------------------------------

const GEMINI_BASE_RATIOS = ["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"];
const GEMINI_MODELS = {
  // 2.5 Flash Image has a fixed ~1K output and rejects imageSize altogether.
  "gemini-2.5-flash-image": { ratios: GEMINI_BASE_RATIOS, imageSizes: [] },
  "gemini-3.1-flash-image": { ratios: [...GEMINI_BASE_RATIOS, "1:4", "4:1", "1:8", "8:1"], imageSizes: ["512", "1K", "2K", "4K"] },
  "gemini-3-pro-image": { ratios: GEMINI_BASE_RATIOS, imageSizes: ["1K", "2K", "4K"] },
  "gemini-nano-banana-2.1": { ratios: GEMINI_BASE_RATIOS, imageSizes: ["1K", "2K", "4K"] },
  "gemini-3.1-flash-lite-image": { ratios: GEMINI_BASE_RATIOS, imageSizes: ["1K"] },
};
const GEMINI_KNOWN_TOP_LEVEL = new Set([
  "contents", "generationConfig", "generation_config", "safetySettings", "safety_settings",
  "systemInstruction", "system_instruction", "tools", "toolConfig", "tool_config",
  "cachedContent", "cached_content",
]);
// Vertex-only imageConfig fields (personGeneration, outputMimeType, ...) are rejected by the
// Gemini Developer API (the official SDK refuses to send them there).
const GEMINI_KNOWN_IMAGE_CONFIG = new Set([
  "aspectRatio", "aspect_ratio", "imageSize", "image_size",
]);

function geminiError(code, status, message) {
  return jsonResponse(code, { error: { code, message, status } }, { "content-type": "application/json; charset=UTF-8" });
}

function geminiValidate(ctx) {
  const model = ctx.params.model;
  const capabilities = GEMINI_MODELS[model];
  if (!capabilities) {
    // Retired -preview ids, Imagen (shut down on the Gemini API) and unknown names.
    return ctx.fixture("gemini/model_not_found", (b) => {
      b.error.message = `models/${model} is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.`;
    });
  }
  if (!isJsonContentType(ctx.headers["content-type"])) {
    return geminiError(400, "INVALID_ARGUMENT", `Invalid Content-Type header "${ctx.headers["content-type"] ?? ""}"; expected application/json.`);
  }
  const body = ctx.body;
  if (ctx.bodyKind !== "json" || !isPlainObject(body)) {
    return geminiError(400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unexpected token.");
  }
  const unknown = Object.keys(body).find((field) => !GEMINI_KNOWN_TOP_LEVEL.has(field));
  if (unknown) {
    return geminiError(400, "INVALID_ARGUMENT", `Invalid JSON payload received. Unknown name "${unknown}": Cannot find field.`);
  }
  const text = body.contents?.[0]?.parts?.[0]?.text;
  if (typeof text !== "string" || text.trim() === "") {
    return geminiError(400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents[0].parts[0].text: a non-empty text part is required\n");
  }
  return geminiValidateImageConfig(body, capabilities);
}

function geminiValidateImageConfig(body, capabilities) {
  const generationConfig = protoField(body, "generationConfig", "generation_config");
  const imageConfig = protoField(generationConfig, "imageConfig", "image_config");
  if (imageConfig === undefined) return null;
  const unknown = Object.keys(imageConfig ?? {}).find((field) => !GEMINI_KNOWN_IMAGE_CONFIG.has(field));
  if (unknown) {
    return geminiError(400, "INVALID_ARGUMENT", `Invalid JSON payload received. Unknown name "${unknown}" at 'generation_config.image_config': Cannot find field.`);
  }
  const aspectRatio = protoField(imageConfig, "aspectRatio", "aspect_ratio");
  if (aspectRatio !== undefined && !capabilities.ratios.includes(aspectRatio)) {
    return geminiError(400, "INVALID_ARGUMENT", `Aspect ratio ${aspectRatio} is not supported for this model. Supported values: ${capabilities.ratios.join(", ")}.`);
  }
  const imageSize = protoField(imageConfig, "imageSize", "image_size");
  if (imageSize !== undefined) {
    if (capabilities.imageSizes.length === 0) {
      return geminiError(400, "INVALID_ARGUMENT", "Image size is not supported for this model.");
    }
    if (!capabilities.imageSizes.includes(imageSize)) {
      // Case-sensitive on purpose: "1k" is rejected by the real API (docs/providers.md 2.2).
      return geminiError(400, "INVALID_ARGUMENT", `Image size ${imageSize} is not supported for this model. Supported values: ${capabilities.imageSizes.join(", ")}.`);
    }
  }
  return null;
}

/** Asking only for TEXT gets a text-only answer, as the real model would give. */
function geminiWantsImage(body) {
  const modalities = protoField(protoField(body, "generationConfig", "generation_config"), "responseModalities", "response_modalities");
  return !Array.isArray(modalities) || modalities.includes("IMAGE");
}

function geminiSuccessBody(ctx) {
  if (!geminiWantsImage(ctx.body)) return ctx.fixtureBody("gemini/text_only_stop");
  const modalities = protoField(protoField(ctx.body, "generationConfig", "generation_config"), "responseModalities", "response_modalities");
  const parts = [{ inlineData: { mimeType: "image/png", data: ctx.state.imageBase64 } }];
  // With TEXT+IMAGE the model usually adds a caption; clients must pick the image part.
  if (Array.isArray(modalities) && modalities.includes("TEXT")) parts.unshift({ text: "Here is the image you asked for." });
  return {
    candidates: [{ content: { role: "model", parts }, finishReason: "STOP", index: 0 }],
    usageMetadata: {
      promptTokenCount: 12,
      candidatesTokenCount: 1290,
      totalTokenCount: 1302,
      promptTokensDetails: [{ modality: "TEXT", tokenCount: 12 }],
      candidatesTokensDetails: [{ modality: "IMAGE", tokenCount: 1290 }],
    },
    modelVersion: ctx.params.model,
    responseId: `mock-resp-${String(ctx.seq).padStart(4, "0")}`,
  };
}

// ---------------------------------------------------------------------------------------------
// Stability (docs/providers.md section 3)
// ---------------------------------------------------------------------------------------------

const STABILITY_RATIOS = ["16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21"];
const STABILITY_FORMATS = ["png", "jpeg", "webp"];
// SD3.0 ids are still accepted: Stability re-routes them to 3.5 at the same price.
const STABILITY_SD3_MODELS = ["sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium", "sd3.5-flash", "sd3-large", "sd3-large-turbo", "sd3-medium"];

function stabilityError(ctx, status, name, message) {
  return jsonResponse(status, { id: hexId(ctx.seq), name, errors: [message] });
}

/** Stability error ids are 32 hex characters (docs/providers.md 3.3); derive one from the sequence. */
function hexId(seq) {
  return seq.toString(16).padStart(32, "0");
}

function stabilityValidate(ctx) {
  if (ctx.bodyBytes > STABILITY_MAX_BODY_BYTES) return ctx.fixture("stability/payload_too_large");
  if (!isMultipart(ctx.headers["content-type"]) || !multipartBoundary(ctx.headers["content-type"])) {
    // Sending JSON is an error (docs/providers.md 3.1); the status is [U], 400 is the natural choice.
    return stabilityError(ctx, 400, "bad_request", "content-type: must be multipart/form-data with a boundary");
  }
  if (ctx.bodyKind !== "multipart") {
    return stabilityError(ctx, 400, "bad_request", "body: malformed multipart/form-data");
  }
  const form = ctx.body;
  const accept = ctx.headers.accept;
  if (accept && !/application\/json|image\/|\*\/\*/i.test(accept)) {
    return stabilityError(ctx, 400, "bad_request", "accept: must be image/* or application/json");
  }
  if (typeof form.prompt !== "string" || form.prompt.trim() === "") {
    return stabilityError(ctx, 400, "bad_request", "prompt: cannot be empty");
  }
  if (form.prompt.length > 10000) {
    return stabilityError(ctx, 400, "bad_request", "prompt: must be at most 10000 characters");
  }
  if (form.aspect_ratio !== undefined && !STABILITY_RATIOS.includes(form.aspect_ratio)) {
    return ctx.fixture("stability/bad_request", (b) => {
      b.id = hexId(ctx.seq);
      b.errors = [`aspect_ratio: invalid enum value. Expected '21:9' | '16:9' | '3:2' | '5:4' | '1:1' | '4:5' | '2:3' | '9:16' | '9:21', received '${form.aspect_ratio}'`];
    });
  }
  if (form.output_format !== undefined && !STABILITY_FORMATS.includes(form.output_format)) {
    return stabilityError(ctx, 400, "bad_request", `output_format: invalid enum value. Expected 'png' | 'jpeg' | 'webp', received '${form.output_format}'`);
  }
  if (form.seed !== undefined && (!/^\d+$/.test(form.seed) || Number(form.seed) > 4294967294)) {
    return stabilityError(ctx, 400, "bad_request", "seed: must be an integer between 0 and 4294967294");
  }
  if (ctx.params.endpoint === "sd3" && form.model !== undefined && !STABILITY_SD3_MODELS.includes(form.model)) {
    return stabilityError(ctx, 400, "bad_request", `model: invalid enum value. Expected ${STABILITY_SD3_MODELS.map((m) => `'${m}'`).join(" | ")}, received '${form.model}'`);
  }
  return null; // unknown form fields are silently ignored, like the real API (docs/providers.md 3.1)
}

function stabilitySeed(ctx) {
  const seed = Number(ctx.body?.seed);
  return Number.isInteger(seed) && seed > 0 ? seed : DEFAULT_STABILITY_SEED;
}

function stabilityFormat(ctx) {
  return STABILITY_FORMATS.includes(ctx.body?.output_format) ? ctx.body.output_format : "png";
}

function stabilityWantsJson(ctx) {
  return /application\/json/i.test(ctx.headers.accept ?? "");
}

function stabilitySuccessBody(ctx) {
  return { image: ctx.state.imageBase64, finish_reason: "SUCCESS", seed: stabilitySeed(ctx) };
}

/** Accept: application/json -> JSON form; anything else -> raw bytes plus headers (docs/providers.md 3.1). */
function stabilitySuccess(ctx) {
  const format = stabilityFormat(ctx);
  if (stabilityWantsJson(ctx)) {
    return jsonResponse(200, stabilitySuccessBody(ctx), { "content-type": `application/json; type=image/${format}` });
  }
  return bytesResponse(200, ctx.state.imageBytes, {
    "content-type": `image/${format}`,
    "finish-reason": "SUCCESS",
    seed: String(stabilitySeed(ctx)),
  });
}

// ---------------------------------------------------------------------------------------------
// Route table
// ---------------------------------------------------------------------------------------------

// Per provider: how the key is sent and which fixture answers a missing or invalid key.
const AUTH = {
  openai: {
    key: (headers) => bearerKey(headers.authorization),
    missing: () => "openai/invalid_api_key",
    invalid: () => "openai/invalid_api_key",
  },
  gemini: {
    key: (headers) => (headers["x-goog-api-key"] ?? "").trim() || null,
    missing: () => "gemini/unregistered_caller",
    invalid: () => "gemini/api_key_invalid",
  },
  stability: {
    key: (headers) => bearerKey(headers.authorization),
    // The v1 account endpoints answer with the v1 {id,name,message} body (docs/providers.md 3.4).
    missing: (route) => (route.v1 ? "stability/unauthorized_v1" : "stability/unauthorized"),
    invalid: (route) => (route.v1 ? "stability/unauthorized_v1" : "stability/unauthorized"),
  },
};

// validate(ctx) -> error response or null; successBody(ctx) -> JSON value of a normal success;
// success(ctx) -> response (default: successBody as JSON); noImage(ctx) -> JSON value.
const ROUTES = [
  {
    method: "POST", pattern: /^\/v1\/images\/generations$/, provider: "openai", kind: "generate",
    validate: openaiValidate,
    successBody: openaiSuccessBody,
    noImage: (ctx) => ({ created: Math.floor(Date.now() / 1000), data: [] }),
  },
  {
    method: "GET", pattern: /^\/v1\/models$/, provider: "openai", kind: "validate_key",
    successBody: (ctx) => ctx.fixtureBody("openai/models_list"),
  },
  {
    method: "POST", pattern: /^\/v1beta\/models\/([^/]+):generateContent$/, names: ["model"], provider: "gemini", kind: "generate",
    validate: geminiValidate,
    successBody: geminiSuccessBody,
    headers: { "content-type": "application/json; charset=UTF-8" },
    noImage: (ctx) => ctx.fixtureBody("gemini/text_only_stop"),
  },
  {
    method: "GET", pattern: /^\/v1beta\/models$/, provider: "gemini", kind: "validate_key",
    successBody: (ctx) => ctx.fixtureBody("gemini/models_list"),
    headers: { "content-type": "application/json; charset=UTF-8" },
  },
  {
    method: "POST", pattern: /^\/v2beta\/stable-image\/generate\/(core|ultra|sd3)$/, names: ["endpoint"], provider: "stability", kind: "generate",
    validate: stabilityValidate,
    successBody: stabilitySuccessBody,
    success: stabilitySuccess,
    noImage: (ctx) => ({ finish_reason: "SUCCESS", seed: stabilitySeed(ctx) }),
  },
  {
    method: "GET", pattern: /^\/v1\/user\/balance$/, provider: "stability", kind: "validate_key", v1: true,
    successBody: (ctx) => ctx.fixtureBody("stability/balance"),
  },
  {
    method: "GET", pattern: /^\/v1\/user\/account$/, provider: "stability", kind: "validate_key", v1: true,
    successBody: (ctx) => ctx.fixtureBody("stability/account"),
  },
];

/** Returns {route, params} for a provider route, {methodNotAllowed} or null. */
function matchRoute(method, pathname) {
  let pathMatched = false;
  for (const route of ROUTES) {
    const match = route.pattern.exec(pathname);
    if (!match) continue;
    pathMatched = true;
    if (route.method !== method) continue;
    const params = {};
    (route.names ?? []).forEach((name, i) => {
      params[name] = safeDecode(match[i + 1]);
    });
    return { route, params };
  }
  return pathMatched ? { methodNotAllowed: true } : null;
}

function safeDecode(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function normalSuccess(ctx) {
  if (ctx.route.success) return ctx.route.success(ctx);
  return jsonResponse(200, ctx.route.successBody(ctx), ctx.route.headers);
}

/** What the provider would answer without any script: auth, validation, then success. */
function normalResponse(ctx) {
  const auth = AUTH[ctx.route.provider];
  if (!ctx.key) return ctx.fixture(auth.missing(ctx.route));
  if (ctx.key.startsWith("invalid")) return ctx.fixture(auth.invalid(ctx.route));
  if (ctx.tooLarge) return tooLargeResponse(ctx);
  return ctx.route.validate?.(ctx) ?? normalSuccess(ctx);
}

function tooLargeResponse(ctx) {
  const message = `Request body larger than the mock's ${MAX_BODY_BYTES} byte limit.`;
  if (ctx.route.provider === "stability") return ctx.fixture("stability/payload_too_large");
  if (ctx.route.provider === "gemini") return geminiError(413, "INVALID_ARGUMENT", message);
  return openaiError(413, message);
}

// ---------------------------------------------------------------------------------------------
// Scripts (scripted faults per API key)
// ---------------------------------------------------------------------------------------------

/** Checks a POST /__mock/script body; returns an error message or null. */
function scriptProblem(definition, fixtures) {
  if (!isPlainObject(definition)) return "body must be a JSON object";
  if (typeof definition.key !== "string" || definition.key === "") return "key must be a non-empty string";
  if (definition.steps !== undefined && !Array.isArray(definition.steps)) return "steps must be an array";
  if (definition.faultRate !== undefined && !(typeof definition.faultRate === "number" && definition.faultRate >= 0 && definition.faultRate <= 1)) {
    return "faultRate must be a number between 0 and 1";
  }
  const steps = [...(definition.steps ?? []), definition.after, definition.fault].filter((s) => s !== undefined);
  for (const step of steps) {
    if (!isPlainObject(step)) return "every step must be a JSON object";
    if (step.fixture !== undefined && !fixtures.has(fixtureName(step.fixture))) return `unknown fixture: ${step.fixture}`;
  }
  return null;
}

function fixtureName(name) {
  return String(name).replace(/\.json$/, "");
}

function createScript(definition) {
  return {
    steps: [...(definition.steps ?? [])],
    after: definition.after ?? { success: true },
    faultRate: definition.faultRate ?? 0,
    fault: definition.fault,
    random: mulberry32(Number.isInteger(definition.seed) ? definition.seed : 1),
  };
}

/** Steps first; then faultRate draws (seeded); then `after` (default: normal success). */
function nextStep(script) {
  if (script.steps.length > 0) return script.steps.shift();
  if (script.faultRate > 0 && script.fault) {
    // Draw on every request so the sequence depends only on the seed and the request count.
    return script.random() < script.faultRate ? script.fault : script.after;
  }
  return script.after;
}

/** Executes one step. Precedence: drop, dropAfterHeaders, fixture, status, malformed, noImage. */
async function runStep(step, ctx, res) {
  if (typeof step.delayMs === "number" && step.delayMs > 0) await ctx.state.sleep(step.delayMs);
  if (res.destroyed || res.socket?.destroyed) return; // the client gave up while we waited

  if (step.drop) return resetConnection(res);
  if (step.dropAfterHeaders) return sendThenDrop(ctx, res, normalSuccess(ctx));
  if (step.fixture !== undefined) return send(ctx, res, ctx.fixture(fixtureName(step.fixture)));
  if (step.status !== undefined) return send(ctx, res, literalResponse(step));
  if (step.malformed) {
    const text = JSON.stringify(ctx.route.successBody(ctx));
    return send(ctx, res, bytesResponse(200, Buffer.from(text.slice(0, Math.ceil(text.length / 2))), { "content-type": "application/json" }));
  }
  if (step.noImage && ctx.route.noImage) {
    return send(ctx, res, jsonResponse(200, ctx.route.noImage(ctx), ctx.route.headers));
  }
  return send(ctx, res, normalResponse(ctx)); // {success: true}, {delayMs} alone, or unknown fields
}

// ---------------------------------------------------------------------------------------------
// Writing responses
// ---------------------------------------------------------------------------------------------

function responseHeaders(ctx, response) {
  return {
    ...CORS_HEADERS,
    "x-request-id": `mock-${ctx.seq}`,
    ...response.headers,
    "content-length": String(response.body.length),
  };
}

function send(ctx, res, response) {
  if (res.destroyed || res.headersSent || res.socket?.destroyed) return;
  res.writeHead(response.status, responseHeaders(ctx, response));
  res.end(response.body);
}

/** Connection reset without any response (RST where the platform allows it). */
function resetConnection(res) {
  const socket = res.socket;
  if (!socket) return;
  if (typeof socket.resetAndDestroy === "function") socket.resetAndDestroy();
  else socket.destroy();
}

/** Sends the status line, headers (with the full content-length) and half the body, then drops. */
function sendThenDrop(ctx, res, response) {
  if (res.destroyed) return;
  res.writeHead(response.status, responseHeaders(ctx, response));
  const half = response.body.subarray(0, Math.floor(response.body.length / 2));
  res.write(half, () => res.socket?.destroy());
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

/** Reads the body; keeps at most MAX_BODY_BYTES but always drains the rest. */
function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    let bytes = 0;
    req.on("data", (chunk) => {
      bytes += chunk.length;
      if (bytes <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    const done = () => resolve({ buffer: Buffer.concat(chunks), bytes, tooLarge: bytes > MAX_BODY_BYTES });
    req.on("end", done);
    req.on("error", done);
    req.on("close", done); // client aborted mid-upload: resolve with what arrived (resolve is idempotent)
  });
}

function controlResponse(state, method, url, parsedBody) {
  const route = url.pathname;
  if (method === "GET" && route === "/__mock/requests") {
    const key = url.searchParams.get("key");
    const requests = key === null ? state.requests : state.requests.filter((r) => r.key === key);
    return jsonResponse(200, { requests });
  }
  if (method === "POST" && route === "/__mock/reset") {
    state.reset();
    return jsonResponse(200, { ok: true });
  }
  if (method === "POST" && route === "/__mock/script") {
    const problem = parsedBody.kind === "json" ? scriptProblem(parsedBody.value, state.fixtures) : "body must be JSON";
    if (problem) return jsonResponse(400, { error: { message: `invalid script: ${problem}`, type: "mock_error" } });
    state.scripts.set(parsedBody.value.key, createScript(parsedBody.value));
    return jsonResponse(200, { ok: true, key: parsedBody.value.key, steps: parsedBody.value.steps?.length ?? 0 });
  }
  return jsonResponse(404, { error: { message: `unknown mock control route ${method} ${route}`, type: "mock_error" } });
}

function logEntry(ctx, req, url, parsed, body) {
  return {
    seq: ctx.seq,
    time: new Date().toISOString(),
    method: req.method,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: { ...req.headers },
    provider: ctx.route?.provider ?? null,
    route: ctx.route?.kind ?? null,
    key: ctx.key,
    bodyBytes: body.bytes,
    bodyKind: parsed.kind, // "json" | "multipart" | "empty" | "invalid"
    body: parsed.value,
    // Unparseable bodies are kept (shortened) so a failing test can show what was sent.
    bodyText: parsed.kind === "invalid" ? body.buffer.toString("utf8", 0, 2000) : undefined,
  };
}

async function handleRequest(state, req, res) {
  const url = new URL(req.url ?? "/", "http://mock.invalid");
  if (req.method === "OPTIONS") {
    // CORS preflight: not a provider request, so not logged and never scripted.
    req.resume();
    res.writeHead(204, { ...CORS_HEADERS, ...PREFLIGHT_HEADERS, "content-length": "0" });
    return res.end();
  }

  const body = await readBody(req);
  const parsed = body.tooLarge ? { kind: "invalid", value: null } : parseBody(body.buffer, req.headers["content-type"]);
  const seq = ++state.seq;
  if (url.pathname.startsWith("/__mock/")) {
    return send({ seq }, res, controlResponse(state, req.method, url, parsed));
  }

  const match = matchRoute(req.method, url.pathname);
  const route = match?.route ?? null;
  const ctx = {
    seq,
    state,
    route,
    params: match?.params ?? {},
    headers: req.headers,
    key: route ? AUTH[route.provider].key(req.headers) : null,
    body: parsed.value,
    bodyKind: parsed.kind,
    bodyBytes: body.bytes,
    tooLarge: body.tooLarge,
    fixture: (name, edit) => fixtureResponse(state.fixtures, name, edit),
    fixtureBody: (name) => structuredClone(state.fixtures.get(name).body),
  };
  state.requests.push(logEntry(ctx, req, url, parsed, body));

  if (!route) {
    const status = match?.methodNotAllowed ? 405 : 404;
    const message = `${status === 405 ? "Method not allowed" : "No mock route"}: ${req.method} ${url.pathname}`;
    return send(ctx, res, jsonResponse(status, { error: { message, type: "invalid_request_error", param: null, code: status === 405 ? "method_not_allowed" : "not_found" } }));
  }
  const script = ctx.key ? state.scripts.get(ctx.key) : undefined;
  if (script) return runStep(nextStep(script), ctx, res);
  return send(ctx, res, normalResponse(ctx));
}

/** A fixture as a response; `edit` may adjust a deep copy of its JSON body (e.g. the message). */
function fixtureResponse(fixtures, name, edit) {
  const fixture = fixtures.get(name);
  if (!fixture) throw new Error(`missing fixture ${name}`);
  if (edit && fixture.body !== undefined) {
    const body = structuredClone(fixture.body);
    edit(body);
    return literalResponse({ ...fixture, body });
  }
  return literalResponse(fixture);
}

/**
 * Starts the mock on host:port (port 0 = any free port).
 * imageBase64 replaces the 1x1 PNG; imageBytes generates a PNG whose base64 is ~N characters.
 */
export async function startMockServer({ port = 0, host = "127.0.0.1", imageBase64, imageBytes } = {}) {
  const timers = new Set();
  const image = imageBase64 ?? (imageBytes ? makePaddedPngBase64(imageBytes) : PNG_1X1_BASE64);
  const state = {
    fixtures: loadFixtures(),
    imageBase64: image,
    imageBytes: Buffer.from(image, "base64"),
    requests: [],
    scripts: new Map(),
    seq: 0,
    reset() {
      state.requests = [];
      state.scripts.clear();
    },
    // setTimeout-based, so a delayed request never blocks others; tracked so close() can clear.
    sleep(ms) {
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          timers.delete(timer);
          resolve();
        }, ms);
        timers.add(timer);
      });
    },
  };

  const server = http.createServer((req, res) => {
    res.on("error", () => {}); // writes after a client hung up must not crash the process
    handleRequest(state, req, res).catch((error) => {
      // A bug in the mock must show up as a readable 500, never as a crashed test process.
      send({ seq: state.seq }, res, jsonResponse(500, { error: { message: `mock server error: ${error.message}`, type: "mock_error" } }));
    });
  });
  server.on("clientError", (error, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    else socket.destroy();
  });

  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  const actualPort = server.address().port;
  const urlHost = host.includes(":") ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${actualPort}`,
    port: actualPort,
    reset: () => state.reset(),
    /** In-process access to the request log (same entries as GET /__mock/requests). */
    requests: (key) => (key === undefined ? [...state.requests] : state.requests.filter((r) => r.key === key)),
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // keep-alive sockets would otherwise delay close()
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------

function parseArgs(argv) {
  const options = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split("=", 2);
    const value = inline ?? argv[++i];
    if (flag === "--port") options.port = Number(value);
    else if (flag === "--host") options.host = value;
    else if (flag === "--image-bytes") options.imageBytes = Number(value);
    else throw new Error(`unknown argument ${argv[i]} (use --port N, --host H, --image-bytes N)`);
  }
  return options;
}

async function main() {
  const server = await startMockServer(parseArgs(process.argv.slice(2)));
  process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
  const stop = () => server.close().then(() => process.exit(0));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

const invokedDirectly = process.argv[1] && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href;
if (invokedDirectly) {
  main().catch((error) => {
    process.stderr.write(`mock server: ${error.message}\n`);
    process.exit(1);
  });
}
