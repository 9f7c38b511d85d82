// Offline mock of the OpenAI Images, Gemini generateContent and Stability v2beta HTTP APIs.
//
// Serves the JSON fixtures in tests/fixtures/<provider>/<name>.json (the same files the Rust
// native tests classify), validates requests the way the real providers do (so option-mapping
// bugs surface as the provider would report them), records what arrived (input images, masks),
// streams OpenAI's server-sent events, and lets a test script faults per API key.
// Contract: docs/providers.md, sections 6, 8 and 9. Node >= 20, built-in modules only.
//
//   import { startMockServer } from "./tests/mock-server/server.mjs";
//   const mock = await startMockServer();          // { url, port, close(), reset(), ... }
//
//   node tests/mock-server/server.mjs [--port N] [--host H] [--image-bytes N] [--preview-bytes N]
//                                     [--limit name=value ...]
//   -> prints {"url":"http://127.0.0.1:N"} once listening; runs until SIGTERM/SIGINT.
//
// Control routes (no auth): GET /__mock/requests[?key=K], POST /__mock/reset,
// POST /__mock/script {"key","steps":[...],"after"?,"faultRate"?,"fault"?,"seed"?},
// GET|POST /__mock/config {"limits": {...}}. See README.md next to this file.

import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  PNG_1X1_BASE64,
  crc32,
  mulberry32,
  makePaddedPngBase64,
  makePngOfSize,
  imageInfo,
  describeMask,
  mimeTypeOf,
  sha256Hex,
} from "./images.mjs";
import { isMultipart, multipartBoundary, parseMultipartParts, formFields, parseMultipart } from "./multipart.mjs";
import { streamOptionsProblem, writeEventStream, MIN_IMAGE_BYTES, MAX_IMAGE_BYTES } from "./sse.mjs";

export { PNG_1X1_BASE64, crc32, mulberry32, makePaddedPngBase64, parseMultipart };
export { makePngOfSize, encodePng, makeJpegHeader, makeWebpHeader, imageInfo, describeMask, decodePng, pngChunk } from "./images.mjs";
export { parseMultipartParts } from "./multipart.mjs";

export const FIXTURE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures");

// We buffer bodies up to this size (or a route's larger limit); larger ones are drained and
// answered in the provider's envelope (never crash).
const MAX_BODY_BYTES = 32 * 1024 * 1024;
// Seed reported by Stability when the request did not choose one (seed 0 / absent = random).
const DEFAULT_STABILITY_SEED = 742048682;

/**
 * Request-size limits; all adjustable per server (startMockServer({limits}), --limit, or
 * POST /__mock/config) so tests need not send 100 MB to see the refusal.
 */
export const DEFAULT_LIMITS = Object.freeze({
  // Gemini: 100 MB per request, base64 included (docs/providers.md 8.3, 11.2).
  geminiMaxRequestBytes: 100 * 1024 * 1024,
  // Stability: 10 MiB per request -> 413 payload_too_large (docs/providers.md 8.4).
  stabilityMaxRequestBytes: 10 * 1024 * 1024,
  // OpenAI edits: each image under 50 MB (docs/providers.md 8.1).
  openaiMaxImageBytes: 50 * 1024 * 1024,
  // OpenAI's overall body cap is unknown (11.2); this is the mock's own buffer limit for edits.
  openaiMaxRequestBytes: 128 * 1024 * 1024,
});

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

// Handlers return plain response objects {status, headers, body: Buffer} (or {sse} for a
// stream); one function (send) writes them, so scripted faults can reuse or truncate any response.

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
// Images served (cached: multi-megabyte PNGs are made once)
// ---------------------------------------------------------------------------------------------

function cachedPng(state, key, make) {
  let entry = state.imageCache.get(key);
  if (!entry) {
    const bytes = make();
    entry = { bytes, base64: bytes.toString("base64") };
    if (state.imageCache.size >= 32) state.imageCache.delete(state.imageCache.keys().next().value);
    state.imageCache.set(key, entry);
  }
  return entry;
}

/** The image of a successful answer: the server's image, or one of `step.imageBytes` bytes. */
function successImage(ctx) {
  const size = ctx.step?.imageBytes;
  if (!Number.isInteger(size)) return { base64: ctx.state.imageBase64, bytes: ctx.state.imageBytes };
  return cachedPng(ctx.state, `image:${size}`, () => makePngOfSize(size, { label: "image" }));
}

/** Preview i of a stream: a valid PNG that differs from every other preview and the final image. */
function previewImage(state, index, size) {
  return cachedPng(state, `preview:${index}:${size ?? "-"}`, () =>
    makePngOfSize(size ?? undefined, { label: `preview ${index}`, seed: 7000 + index }),
  );
}

// ---------------------------------------------------------------------------------------------
// Request parsing
// ---------------------------------------------------------------------------------------------

function isJsonContentType(contentType) {
  return /^\s*application\/json\b/i.test(contentType ?? "");
}

/** A part's declared media type without parameters, lowercased; RFC 7578's default when absent. */
function declaredType(part) {
  return (part.contentType ?? "application/octet-stream").split(";")[0].trim().toLowerCase();
}

/** Parses a body by content type: multipart -> fields + parts, otherwise try JSON. Never throws. */
function parseBody(buffer, contentType) {
  if (buffer.length === 0) return { kind: "empty", value: null };
  if (isMultipart(contentType)) {
    const parts = parseMultipartParts(buffer, contentType);
    return parts ? { kind: "multipart", value: formFields(parts), parts } : { kind: "invalid", value: null };
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

/** What arrived in one file part, for the request log (bytes themselves are not kept). */
function describeFilePart(part, { mask = false } = {}) {
  const info = imageInfo(part.data);
  const described = {
    field: part.name,
    filename: part.filename ?? null,
    contentType: part.contentType ?? null,
    bytes: part.data.length,
    sha256: sha256Hex(part.data),
    format: info.format,
    width: info.width,
    height: info.height,
    hasAlpha: info.hasAlpha,
  };
  if (info.format === "png") Object.assign(described, { colorType: info.colorType ?? null, bitDepth: info.bitDepth ?? null });
  if (mask) {
    const stats = info.format === "png" ? describeMask(part.data) : null;
    Object.assign(described, stats ?? { transparentFraction: null, transparentBox: null, whiteFraction: null, whiteBox: null });
  }
  return described;
}

// ---------------------------------------------------------------------------------------------
// OpenAI (docs/providers.md sections 1, 8.1, 9)
// ---------------------------------------------------------------------------------------------

const OPENAI_PRESET_SIZES = ["1024x1024", "1536x1024", "1024x1536", "auto"];
const OPENAI_KNOWN_FIELDS = new Set([
  "prompt", "model", "n", "size", "quality", "background", "output_format", "output_compression",
  "moderation", "response_format", "user", "stream", "partial_images", "safety_identifier", "complexity",
]);
// Edit fields of openai@7.59.0 (docs/providers.md 8.1). `moderation` is absent from both official
// SDKs' edit parameters ([U]), so the mock refuses it like any unknown parameter.
const OPENAI_EDIT_TEXT_FIELDS = new Set([
  "prompt", "model", "n", "size", "quality", "background", "output_format", "output_compression",
  "input_fidelity", "stream", "partial_images", "user", "safety_identifier", "complexity",
]);
const OPENAI_EDIT_FILE_FIELDS = new Set(["image", "image[]", "mask", "markup"]);
const OPENAI_IMAGE_TYPES = ["image/jpeg", "image/png", "image/webp"];
const OPENAI_MAX_INPUT_IMAGES = 16;

function openaiError(status, message, { type = "invalid_request_error", param = null, code = null } = {}) {
  return jsonResponse(status, { error: { message, type, param, code } });
}

/** "preset" (gpt-image-1 family), "free" (gpt-image-2), "free25" (2.5/2.6 models) or null (404). */
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

function modelNotFound(ctx, model) {
  return ctx.fixture("openai/model_not_found", (b) => {
    b.error.message = `The model \`${model}\` does not exist or you do not have access to it.`;
  });
}

function promptProblem(prompt) {
  if (typeof prompt !== "string" || prompt.trim() === "") {
    return prompt === undefined
      ? openaiError(400, "Missing required parameter: 'prompt'.", { param: "prompt", code: "missing_required_parameter" })
      : openaiError(400, "Invalid 'prompt': empty string. Expected a string with minimum length 1.", { param: "prompt", code: "empty_string" });
  }
  if (prompt.length > 32000) {
    return openaiError(400, "Invalid 'prompt': string too long. Expected a string with maximum length 32000.", { param: "prompt", code: "string_above_max_length" });
  }
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
  if (!family) return modelNotFound(ctx, body.model);
  const prompt = promptProblem(body.prompt);
  if (prompt) return prompt;
  for (const [param, type] of [["stream", "boolean"], ["partial_images", "number"]]) {
    if (body[param] !== undefined && typeof body[param] !== type) {
      return openaiError(400, `Invalid type for '${param}': expected ${type === "boolean" ? "a boolean" : "an integer"}, but got ${typeof body[param] === "string" ? "a string" : `a ${typeof body[param]}`} instead.`, { param, code: "invalid_type" });
    }
  }
  return openaiValidateOptions(ctx, body, family);
}

/** Shared by generations (JSON values) and edits (multipart strings converted to numbers/booleans). */
function openaiValidateOptions(ctx, body, family) {
  for (const param of ["n", "output_compression", "partial_images"]) {
    if (body[param] !== undefined && !Number.isInteger(body[param])) {
      return openaiError(400, `Invalid type for '${param}': expected an integer.`, { param, code: "invalid_type" });
    }
  }
  if (body.n !== undefined) {
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
    input_fidelity: ["high", "low"],
    complexity: ["low", "medium", "high"],
  };
  for (const [param, allowed] of Object.entries(enums)) {
    if (body[param] !== undefined && !allowed.includes(body[param])) {
      const list = allowed.map((v) => `'${v}'`).join(", ");
      return openaiError(400, `Invalid value: '${body[param]}'. Supported values are: ${list}.`, { param, code: "invalid_value" });
    }
  }
  for (const [param, min, max] of [["output_compression", 0, 100], ["partial_images", 0, 3]]) {
    if (body[param] === undefined) continue;
    if (body[param] > max) {
      return openaiError(400, `Invalid '${param}': integer above maximum value. Expected a value <= ${max}, but got ${body[param]} instead.`, { param, code: "integer_above_max_value" });
    }
    if (body[param] < min) {
      return openaiError(400, `Invalid '${param}': integer below minimum value. Expected a value >= ${min}, but got ${body[param]} instead.`, { param, code: "integer_below_min_value" });
    }
  }
  if (body.stream === true && (body.n ?? 1) > 1) {
    // n > 1 with streaming is undocumented (docs/providers.md 9.1); the mock refuses it so a
    // client never relies on it (the events carry no image index).
    return openaiError(400, "Streaming supports only n=1 (the mock refuses n > 1 with stream).", { param: "n", code: "invalid_value" });
  }
  return null;
}

/** The request's options, tolerant of bad input (also used when a step skips validation). */
function openaiOptions(ctx) {
  if (ctx.route.kind === "edit") {
    const form = isPlainObject(ctx.body) ? ctx.body : {};
    const text = (name) => (typeof form[name] === "string" ? form[name] : undefined);
    const int = (name) => (/^\d+$/.test(text(name) ?? "") ? Number(text(name)) : undefined);
    const images = (ctx.parts ?? []).filter((p) => p.name === "image" || p.name === "image[]").length;
    return {
      n: int("n") ?? 1, size: text("size"), quality: text("quality"), background: text("background"),
      outputFormat: text("output_format"), stream: text("stream") === "true", partialImages: int("partial_images") ?? 0,
      inputImages: images,
    };
  }
  const body = isPlainObject(ctx.body) ? ctx.body : {};
  return {
    n: Number.isInteger(body.n) ? body.n : 1, size: body.size, quality: body.quality, background: body.background,
    outputFormat: body.output_format, stream: body.stream === true,
    partialImages: Number.isInteger(body.partial_images) ? body.partial_images : 0, inputImages: 0,
  };
}

function openaiEcho(options) {
  return {
    size: typeof options.size === "string" && options.size !== "auto" ? options.size : "1024x1024",
    quality: ["low", "medium", "high", "xhigh", "max"].includes(options.quality) ? options.quality : "medium",
    background: options.background === "transparent" ? "transparent" : "opaque",
    output_format: ["png", "jpeg", "webp"].includes(options.outputFormat) ? options.outputFormat : "png",
  };
}

// Illustrative token counts: 18 text tokens, 1,280 per input image, 1,056 per output image.
function openaiUsage(options, extraOutputTokens = 0) {
  const imageTokens = 1280 * options.inputImages;
  const input = 18 + imageTokens;
  const output = 1056 * options.n + extraOutputTokens;
  return { input, output, imageTokens };
}

function openaiSuccessBody(ctx) {
  const options = openaiOptions(ctx);
  const echo = openaiEcho(options);
  const usage = openaiUsage(options);
  const image = successImage(ctx).base64;
  return {
    created: Math.floor(Date.now() / 1000),
    background: echo.background,
    output_format: echo.output_format,
    size: echo.size,
    quality: echo.quality,
    data: Array.from({ length: options.n }, () => ({ b64_json: image })),
    usage: {
      input_tokens: usage.input,
      input_tokens_details: { text_tokens: 18, image_tokens: usage.imageTokens },
      output_tokens: usage.output,
      total_tokens: usage.input + usage.output,
    },
  };
}

/** Is this an OpenAI request asking for a stream (JSON `stream: true` / multipart `stream=true`)? */
function wantsStream(ctx) {
  return Boolean(ctx.route?.streams) && openaiOptions(ctx).stream;
}

/**
 * The SSE answer to a streaming request (docs/providers.md 9.2): `partials` previews (default:
 * the request's partial_images), then `*.completed`, shaped by the step's `stream` options.
 * `forcedFault` comes from steps that break any response (dropAfterHeaders, malformed, noImage).
 */
function openaiStreamResponse(ctx, forcedFault) {
  const options = openaiOptions(ctx);
  const script = ctx.step?.stream ?? {};
  const partials = script.partials ?? options.partialImages;
  const prefix = ctx.route.kind === "edit" ? "image_edit" : "image_generation";
  const echo = openaiEcho(options);
  const previewBytes = script.previewBytes ?? ctx.state.previewBytes;
  const createdAt = Math.floor(Date.now() / 1000);

  const slots = [];
  for (let i = 0; i < partials; i++) {
    slots.push(() => ({
      event: `${prefix}.partial_image`,
      data: {
        type: `${prefix}.partial_image`,
        b64_json: previewImage(ctx.state, i, previewBytes).base64,
        partial_image_index: i,
        created_at: createdAt,
        ...echo,
      },
    }));
  }
  slots.push(() => {
    // Each partial costs 100 extra image output tokens (9.4); the mock's final usage includes them.
    const usage = openaiUsage(options, 100 * partials);
    return {
      event: `${prefix}.completed`,
      data: {
        type: `${prefix}.completed`,
        b64_json: successImage(ctx).base64,
        created_at: Math.floor(Date.now() / 1000),
        ...echo,
        usage: {
          total_tokens: usage.input + usage.output,
          input_tokens: usage.input,
          output_tokens: usage.output,
          input_tokens_details: { text_tokens: 18, image_tokens: usage.imageTokens },
        },
      },
    };
  });

  let fault = forcedFault ?? null;
  const at = (value) => Math.min(value, partials);
  if (!fault && script.errorAfter !== undefined) {
    const data = script.errorBody ?? ctx.fixtureBody(fixtureName(script.errorFixture ?? "openai/server_error"));
    fault = { kind: "error", at: at(script.errorAfter), data };
  } else if (!fault && script.cutAfter !== undefined) {
    fault = { kind: "cut", at: at(script.cutAfter) };
  } else if (!fault && script.endAfter !== undefined) {
    fault = { kind: "end", at: at(script.endAfter) };
  }
  return {
    sse: {
      slots,
      fault,
      done: script.done ?? false,
      delayFor: (slot) => script.delaysMs?.[slot] ?? script.eventDelayMs ?? 0,
      record: { partialImages: options.partialImages, partials },
    },
  };
}

// ---- edits (docs/providers.md 8.1) ----

function inspectOpenaiEdit(ctx) {
  if (!ctx.parts) return null;
  const images = [];
  const masks = [];
  const markups = [];
  for (const part of ctx.parts) {
    if (part.name === "image" || part.name === "image[]") images.push(describeFilePart(part));
    else if (part.name === "mask") masks.push(describeFilePart(part, { mask: true }));
    else if (part.name === "markup") markups.push(describeFilePart(part));
  }
  const fields = [...new Set(images.map((i) => i.field))];
  return {
    count: images.length,
    imageField: fields.length === 0 ? null : fields.length === 1 ? fields[0] : "mixed",
    fieldNames: ctx.parts.map((p) => p.name),
    images,
    mask: masks[0] ?? null,
    markup: markups[0] ?? null,
  };
}

function unsupportedMimetype(ctx, part, param) {
  return ctx.fixture("openai/unsupported_file_mimetype", (b) => {
    b.error.message = `Invalid file '${part.name}': unsupported mimetype ('${declaredType(part)}'). Supported file formats are 'image/jpeg', 'image/png', and 'image/webp'.`;
    b.error.param = param;
  });
}

/** Declared type, size and bytes of one image part; the magic bytes must match the declared type. */
function openaiImagePartProblem(ctx, part, described, index, param) {
  if (!OPENAI_IMAGE_TYPES.includes(declaredType(part))) return unsupportedMimetype(ctx, part, param);
  if (part.data.length >= ctx.state.limits.openaiMaxImageBytes) {
    return openaiError(400, `Invalid file '${part.name}': file too large (${part.data.length} bytes). Each image must be smaller than ${ctx.state.limits.openaiMaxImageBytes} bytes.`, { param, code: "file_too_large" });
  }
  if (!described.format || mimeTypeOf(described.format) !== declaredType(part) || !described.width) {
    const actual = described.format ? `its bytes are ${mimeTypeOf(described.format)}` : "its bytes are not a known image format";
    return openaiError(400, `Invalid image file or mode for image ${index + 1} (declared '${declaredType(part)}', ${actual}), please check your image file.`, { param, code: "invalid_image_file" });
  }
  return null;
}

function openaiEditValidate(ctx) {
  const contentType = ctx.headers["content-type"];
  if (isJsonContentType(contentType)) {
    // The JSON variant (images by image_url / file_id, docs/providers.md 8.2) is not mocked.
    return openaiError(400, "The mock server implements multipart/form-data edits only; the JSON variant (image_url / file_id) is not mocked.", { code: "unsupported_by_mock" });
  }
  if (!isMultipart(contentType) || !multipartBoundary(contentType)) {
    return openaiError(400, `Unsupported content type: '${contentType ?? ""}'. This API method only accepts 'multipart/form-data' requests.`, { code: "unsupported_content_type" });
  }
  if (ctx.bodyKind !== "multipart") {
    return openaiError(400, "We could not parse the multipart/form-data body of your request.", { code: "invalid_multipart_body" });
  }
  const parts = ctx.parts;
  const seen = new Map();
  for (const part of parts) {
    const isFile = part.filename !== undefined;
    if (part.name === "response_format") return ctx.fixture("openai/unknown_parameter");
    if (!OPENAI_EDIT_TEXT_FIELDS.has(part.name) && !OPENAI_EDIT_FILE_FIELDS.has(part.name)) {
      return openaiError(400, `Unknown parameter: '${part.name}'.`, { param: part.name, code: "unknown_parameter" });
    }
    const param = part.name === "image[]" ? "image" : part.name;
    if (OPENAI_EDIT_FILE_FIELDS.has(part.name) && !isFile) {
      return openaiError(400, `Invalid type for '${part.name}': expected a file, but got a string instead.`, { param, code: "invalid_type" });
    }
    if (OPENAI_EDIT_TEXT_FIELDS.has(part.name) && isFile) {
      return openaiError(400, `Invalid type for '${part.name}': expected a string, but got a file instead.`, { param, code: "invalid_type" });
    }
    seen.set(part.name, (seen.get(part.name) ?? 0) + 1);
  }
  for (const [name, count] of seen) {
    if (count < 2 || name === "image[]") continue;
    const hint = name === "image" ? " Send several images as repeated 'image[]' parts." : "";
    return openaiError(400, `Duplicate parameter: '${name}' was sent ${count} times.${hint}`, { param: name, code: "duplicate_parameter" });
  }

  const form = ctx.body;
  if (form.model === undefined || form.model === "") {
    return openaiError(400, "Missing required parameter: 'model'.", { param: "model", code: "missing_required_parameter" });
  }
  const family = openaiModelFamily(form.model);
  if (!family) return modelNotFound(ctx, form.model);
  const prompt = promptProblem(form.prompt);
  if (prompt) return prompt;

  const inputs = ctx.inputs;
  const imageParts = parts.filter((p) => p.name === "image" || p.name === "image[]");
  if (imageParts.length === 0) {
    return openaiError(400, "Missing required parameter: 'image'.", { param: "image", code: "missing_required_parameter" });
  }
  if (seen.has("image") && seen.has("image[]")) {
    return openaiError(400, "Invalid 'image': send either one 'image' part or repeated 'image[]' parts, not both.", { param: "image", code: "invalid_value" });
  }
  if (imageParts.length > OPENAI_MAX_INPUT_IMAGES) {
    return openaiError(400, `Invalid 'image': array too long. Expected an array with maximum length ${OPENAI_MAX_INPUT_IMAGES}, but got an array with length ${imageParts.length} instead.`, { param: "image", code: "array_above_max_length" });
  }
  for (const [i, part] of imageParts.entries()) {
    const problem = openaiImagePartProblem(ctx, part, inputs.images[i], i, "image");
    if (problem) return problem;
  }
  const first = inputs.images[0];
  const maskPart = parts.find((p) => p.name === "mask");
  if (maskPart) {
    const mask = inputs.mask;
    if (!OPENAI_IMAGE_TYPES.includes(declaredType(maskPart))) return unsupportedMimetype(ctx, maskPart, "mask");
    if (mask.format !== "png" || declaredType(maskPart) !== "image/png" || !mask.width) {
      // Observed once for a mask without alpha [3P]; the wording for a non-PNG mask is constructed.
      return openaiError(400, "Invalid mask image format - mask must be a PNG file", { type: "image_generation_user_error", code: "invalid_mask_image_format" });
    }
    if (!mask.hasAlpha) {
      return openaiError(400, "Invalid mask image format - mask image missing alpha channel", { type: "image_generation_user_error", code: "invalid_mask_image_format" });
    }
    if (mask.width !== first.width || mask.height !== first.height) {
      return openaiError(400, `Invalid 'mask': the mask (${mask.width}x${mask.height}) must have the same dimensions as the first image (${first.width}x${first.height}).`, { param: "mask", code: "invalid_value" });
    }
  }
  const markupPart = parts.find((p) => p.name === "markup");
  if (markupPart) {
    if (family !== "free25") {
      return openaiError(400, "Unsupported parameter: 'markup' is not supported with this model.", { param: "markup", code: "unsupported_parameter" });
    }
    if (maskPart) {
      return openaiError(400, "Invalid 'markup': 'markup' cannot be combined with 'mask'.", { param: "markup", code: "invalid_value" });
    }
    const markup = inputs.markup;
    if (declaredType(markupPart) !== "image/png" || markup.format !== "png" || markup.width !== first.width || markup.height !== first.height) {
      return openaiError(400, "Invalid 'markup': expected a PNG with the same dimensions as the first image.", { param: "markup", code: "invalid_value" });
    }
  }

  const fidelity = form.input_fidelity;
  if (fidelity !== undefined && (family === "free" || family === "free25")) {
    // gpt-image-2 models always use high fidelity; the API does not allow changing it (8.1).
    return openaiError(400, "Unsupported parameter: 'input_fidelity' is not supported with this model.", { param: "input_fidelity", code: "unsupported_parameter" });
  }
  if (fidelity === "high" && /^gpt-image-1-mini/.test(form.model)) {
    return openaiError(400, "Unsupported value: 'input_fidelity' does not support 'high' with this model. Supported values are: 'low'.", { param: "input_fidelity", code: "unsupported_value" });
  }

  // Multipart values are strings (docs/providers.md 8.1); convert them like the API does.
  const converted = { ...form };
  for (const name of ["n", "output_compression", "partial_images"]) {
    if (form[name] === undefined) continue;
    converted[name] = /^-?\d+$/.test(form[name]) ? Number(form[name]) : form[name];
  }
  if (form.stream !== undefined) {
    if (form.stream !== "true" && form.stream !== "false") {
      return openaiError(400, `Invalid value for 'stream': expected a boolean ('true' or 'false'), got '${form.stream}'.`, { param: "stream", code: "invalid_type" });
    }
    converted.stream = form.stream === "true";
  }
  return openaiValidateOptions(ctx, converted, family);
}

// ---------------------------------------------------------------------------------------------
// Gemini (docs/providers.md sections 2, 8.3)
// ---------------------------------------------------------------------------------------------

const GEMINI_BASE_RATIOS = ["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"];
// maxInputImages: "at most 14 in total on 3.x models" (8.3); 2.5 Flash has no stated hard limit.
const GEMINI_MODELS = {
  // 2.5 Flash Image has a fixed ~1K output and rejects imageSize altogether.
  "gemini-2.5-flash-image": { ratios: GEMINI_BASE_RATIOS, imageSizes: [], maxInputImages: null },
  "gemini-3.1-flash-image": { ratios: [...GEMINI_BASE_RATIOS, "1:4", "4:1", "1:8", "8:1"], imageSizes: ["512", "1K", "2K", "4K"], maxInputImages: 14 },
  "gemini-3-pro-image": { ratios: GEMINI_BASE_RATIOS, imageSizes: ["1K", "2K", "4K"], maxInputImages: 14 },
  "gemini-nano-banana-2.1": { ratios: GEMINI_BASE_RATIOS, imageSizes: ["1K", "2K", "4K"], maxInputImages: 14 },
  "gemini-3.1-flash-lite-image": { ratios: GEMINI_BASE_RATIOS, imageSizes: ["1K"], maxInputImages: 14 },
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
const GEMINI_KNOWN_GENERATION_CONFIG = new Set([
  "responseModalities", "response_modalities", "imageConfig", "image_config", "candidateCount", "candidate_count",
  "seed", "temperature", "topP", "top_p", "topK", "top_k", "maxOutputTokens", "max_output_tokens",
  "stopSequences", "stop_sequences", "thinkingConfig", "thinking_config", "responseMimeType", "response_mime_type",
  "responseSchema", "response_schema", "responseJsonSchema", "response_json_schema", "presencePenalty",
  "presence_penalty", "frequencyPenalty", "frequency_penalty", "responseLogprobs", "response_logprobs",
  "logprobs", "mediaResolution", "media_resolution", "speechConfig", "speech_config",
]);
const GEMINI_CONTENT_FIELDS = new Set(["role", "parts"]);
// A Part holds exactly one data field (the `data` oneof) plus optional metadata (8.3).
const GEMINI_PART_DATA = [
  ["text", "text"], ["inlineData", "inline_data"], ["fileData", "file_data"], ["functionCall", "function_call"],
  ["functionResponse", "function_response"], ["executableCode", "executable_code"],
  ["codeExecutionResult", "code_execution_result"],
];
const GEMINI_PART_FIELDS = new Set([
  ...GEMINI_PART_DATA.flat(), "thought", "thoughtSignature", "thought_signature", "mediaResolution",
  "media_resolution", "videoMetadata", "video_metadata", "partMetadata", "part_metadata",
]);
const GEMINI_BLOB_FIELDS = new Set(["mimeType", "mime_type", "data", "displayName", "display_name"]);
const GEMINI_FILE_DATA_FIELDS = new Set(["mimeType", "mime_type", "fileUri", "file_uri", "displayName", "display_name"]);
const GEMINI_INPUT_TYPES = ["image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"];

function geminiError(code, status, message, details) {
  const error = details ? { code, message, status, details } : { code, message, status };
  return jsonResponse(code, { error }, { "content-type": "application/json; charset=UTF-8" });
}

/** A 400 INVALID_ARGUMENT naming the field, with the BadRequest detail Google adds [3P]. */
function fieldViolation(field, description) {
  return geminiError(400, "INVALID_ARGUMENT", description, [
    { "@type": "type.googleapis.com/google.rpc.BadRequest", fieldViolations: [{ field, description }] },
  ]);
}

const unknownName = (name, where) =>
  geminiError(400, "INVALID_ARGUMENT", `Invalid JSON payload received. Unknown name "${name}"${where ? ` at '${where}'` : ""}: Cannot find field.`);

/** Proto-JSON bytes: standard or URL-safe base64, padding optional. */
function isBase64(text) {
  return text.length % 4 !== 1 && (/^[A-Za-z0-9+/]*={0,2}$/.test(text) || /^[A-Za-z0-9_-]*={0,2}$/.test(text));
}

function geminiParts(body) {
  const out = [];
  const contents = protoField(body, "contents", "contents");
  if (!Array.isArray(contents)) return out;
  contents.forEach((content, ci) => {
    const parts = isPlainObject(content) && Array.isArray(content.parts) ? content.parts : [];
    parts.forEach((part, pi) => out.push({ ci, pi, part, where: `contents[${ci}].parts[${pi}]` }));
  });
  return out;
}

/** Records the image parts (decoded once; the bytes stay out of the log) and a log-safe body. */
function inspectGemini(ctx) {
  if (ctx.bodyKind !== "json" || !isPlainObject(ctx.body)) return null;
  const images = [];
  ctx.geminiInline = new Map();
  for (const { ci, pi, part } of geminiParts(ctx.body)) {
    if (!isPlainObject(part)) continue;
    const inline = protoField(part, "inlineData", "inline_data");
    const file = protoField(part, "fileData", "file_data");
    if (isPlainObject(inline)) {
      const data = inline.data;
      const described = { content: ci, part: pi, source: "inlineData", mimeType: protoField(inline, "mimeType", "mime_type") ?? null };
      if (typeof data === "string" && isBase64(data)) {
        const bytes = Buffer.from(data, "base64");
        const info = imageInfo(bytes);
        ctx.geminiInline.set(`${ci}.${pi}`, info);
        Object.assign(described, { base64Chars: data.length, bytes: bytes.length, sha256: sha256Hex(bytes), format: info.format, width: info.width, height: info.height });
      } else {
        Object.assign(described, { base64Chars: typeof data === "string" ? data.length : null, bytes: null, sha256: null, format: null, width: null, height: null });
      }
      images.push(described);
    } else if (isPlainObject(file)) {
      images.push({ content: ci, part: pi, source: "fileData", mimeType: protoField(file, "mimeType", "mime_type") ?? null, fileUri: protoField(file, "fileUri", "file_uri") ?? null });
    }
  }
  const contents = protoField(ctx.body, "contents", "contents");
  return {
    count: images.length,
    images,
    mask: null, // Gemini has no mask (8.3)
    partKinds: Array.isArray(contents)
      ? contents.map((c) => (isPlainObject(c) && Array.isArray(c.parts) ? c.parts.map(partKind) : []))
      : [],
  };
}

function partKind(part) {
  if (!isPlainObject(part)) return "invalid";
  const present = GEMINI_PART_DATA.filter(([camel, snake]) => part[camel] !== undefined || part[snake] !== undefined).map(([camel]) => camel);
  return present.length === 1 ? present[0] : present.length === 0 ? "empty" : present.join("+");
}

/** The log keeps a copy of the body whose inline image data is replaced by a short note. */
function geminiLogBody(body) {
  if (!isPlainObject(body) || !Array.isArray(body.contents)) return body;
  return {
    ...body,
    contents: body.contents.map((content) =>
      isPlainObject(content) && Array.isArray(content.parts)
        ? { ...content, parts: content.parts.map(redactInline) }
        : content,
    ),
  };
}

function redactInline(part) {
  if (!isPlainObject(part)) return part;
  const key = part.inlineData !== undefined ? "inlineData" : part.inline_data !== undefined ? "inline_data" : null;
  if (!key || !isPlainObject(part[key]) || typeof part[key].data !== "string") return part;
  return { ...part, [key]: { ...part[key], data: `[${part[key].data.length} base64 characters]` } };
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
  if (unknown) return unknownName(unknown);
  const contents = body.contents;
  if (Array.isArray(contents)) {
    for (const [ci, content] of contents.entries()) {
      const extra = isPlainObject(content) && Object.keys(content).find((k) => !GEMINI_CONTENT_FIELDS.has(k));
      if (extra) return unknownName(extra, `contents[${ci}]`);
    }
  }
  const partProblem = geminiPartsProblem(ctx, capabilities);
  if (partProblem) return partProblem;
  const hasText = geminiParts(body).some(({ part }) => isPlainObject(part) && typeof part.text === "string" && part.text.trim() !== "");
  if (!hasText) {
    return geminiError(400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents[0].parts[0].text: a non-empty text part is required\n");
  }
  return geminiValidateGenerationConfig(body, capabilities);
}

function geminiPartsProblem(ctx, capabilities) {
  let images = 0;
  for (const { ci, pi, part, where } of geminiParts(ctx.body)) {
    if (!isPlainObject(part)) return geminiError(400, "INVALID_ARGUMENT", `Invalid value at '${where}' (type.googleapis.com/google.ai.generativelanguage.v1beta.Part), expected an object.`);
    // Unknown fields are refused, mask-like ones included: Gemini has no mask (8.3).
    const extra = Object.keys(part).find((k) => !GEMINI_PART_FIELDS.has(k));
    if (extra) return unknownName(extra, where);
    const present = GEMINI_PART_DATA.filter(([camel, snake]) => part[camel] !== undefined || part[snake] !== undefined);
    if (present.length === 0) {
      return geminiError(400, "INVALID_ARGUMENT", `* GenerateContentRequest.${where}.data: required oneof field 'data' must have one initialized field\n`);
    }
    if (present.length > 1) {
      return geminiError(400, "INVALID_ARGUMENT", `Invalid value at '${where}' (oneof), oneof field 'data' is already set. Cannot overwrite with '${present[1][1]}'.`);
    }
    const inline = protoField(part, "inlineData", "inline_data");
    const file = protoField(part, "fileData", "file_data");
    if (inline !== undefined) {
      images++;
      const problem = geminiInlineProblem(ctx, inline, `${where}.inline_data`, `${ci}.${pi}`);
      if (problem) return problem;
    } else if (file !== undefined) {
      images++;
      if (!isPlainObject(file)) return geminiError(400, "INVALID_ARGUMENT", `Invalid value at '${where}.file_data', expected an object.`);
      const extraField = Object.keys(file).find((k) => !GEMINI_FILE_DATA_FIELDS.has(k));
      if (extraField) return unknownName(extraField, `${where}.file_data`);
      const mimeType = protoField(file, "mimeType", "mime_type");
      const uri = protoField(file, "fileUri", "file_uri");
      if (typeof uri !== "string" || uri === "") return geminiError(400, "INVALID_ARGUMENT", `* GenerateContentRequest.${where}.file_data.file_uri: file_uri is required\n`);
      if (!GEMINI_INPUT_TYPES.includes(mimeType)) return unsupportedMimeType(ctx, mimeType ?? "");
    }
  }
  if (capabilities.maxInputImages !== null && images > capabilities.maxInputImages) {
    // The limit is documented (8.3); this wording is the mock's.
    return geminiError(400, "INVALID_ARGUMENT", `Too many input images: ${images}. This model accepts at most ${capabilities.maxInputImages} images per request.`);
  }
  return null;
}

function unsupportedMimeType(ctx, mimeType) {
  return ctx.fixture("gemini/unsupported_mime_type", (b) => {
    b.error.message = `Unsupported MIME type: ${mimeType}`;
  });
}

function geminiInlineProblem(ctx, inline, where, key) {
  if (!isPlainObject(inline)) return geminiError(400, "INVALID_ARGUMENT", `Invalid value at '${where}', expected an object.`);
  const extra = Object.keys(inline).find((k) => !GEMINI_BLOB_FIELDS.has(k));
  if (extra) return unknownName(extra, where);
  const mimeType = protoField(inline, "mimeType", "mime_type");
  if (typeof mimeType !== "string" || mimeType === "") {
    return geminiError(400, "INVALID_ARGUMENT", `* GenerateContentRequest.${where}.mime_type: mime_type is required\n`);
  }
  // Exact types only: "image/jpg" is refused by the real API too [3P].
  if (!GEMINI_INPUT_TYPES.includes(mimeType)) return unsupportedMimeType(ctx, mimeType);
  const data = inline.data;
  if (typeof data !== "string" || !isBase64(data)) {
    // e.g. a data: URL sent as the data ("data:image/png;base64,...").
    const shown = typeof data === "string" ? data.split(",")[0].slice(0, 40) : String(data);
    return fieldViolation(`${where}.data`, `Invalid value at '${where}.data' (TYPE_BYTES), Base64 decoding failed for "${shown}"`);
  }
  const info = ctx.geminiInline?.get(key);
  // The declared type must match the bytes (HEIC/HEIF are recognised but not measured).
  if (!info || !info.format || mimeTypeOf(info.format) !== mimeType || (["png", "jpeg", "webp"].includes(info.format) && !info.width)) {
    return ctx.fixture("gemini/unprocessable_image");
  }
  return null;
}

function geminiValidateGenerationConfig(body, capabilities) {
  const generationConfig = protoField(body, "generationConfig", "generation_config");
  if (generationConfig === undefined) return null;
  const unknown = Object.keys(isPlainObject(generationConfig) ? generationConfig : {}).find((f) => !GEMINI_KNOWN_GENERATION_CONFIG.has(f));
  if (unknown) return unknownName(unknown, "generation_config");
  const imageConfig = protoField(generationConfig, "imageConfig", "image_config");
  if (imageConfig === undefined) return null;
  const unknownImage = Object.keys(imageConfig ?? {}).find((field) => !GEMINI_KNOWN_IMAGE_CONFIG.has(field));
  if (unknownImage) return unknownName(unknownImage, "generation_config.image_config");
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
  const parts = [{ inlineData: { mimeType: "image/png", data: successImage(ctx).base64 } }];
  // With TEXT+IMAGE the model usually adds a caption; clients must pick the image part.
  if (Array.isArray(modalities) && modalities.includes("TEXT")) parts.unshift({ text: "Here is the image you asked for." });
  // Illustrative: 560 prompt tokens per input image (3 Pro's figure, 10.2).
  const inputImages = ctx.inputs?.count ?? 0;
  const promptTokens = 12 + 560 * inputImages;
  const promptDetails = [{ modality: "TEXT", tokenCount: 12 }];
  if (inputImages > 0) promptDetails.push({ modality: "IMAGE", tokenCount: 560 * inputImages });
  return {
    candidates: [{ content: { role: "model", parts }, finishReason: "STOP", index: 0 }],
    usageMetadata: {
      promptTokenCount: promptTokens,
      candidatesTokenCount: 1290,
      totalTokenCount: promptTokens + 1290,
      promptTokensDetails: promptDetails,
      candidatesTokensDetails: [{ modality: "IMAGE", tokenCount: 1290 }],
    },
    modelVersion: ctx.params.model,
    responseId: `mock-resp-${String(ctx.seq).padStart(4, "0")}`,
  };
}

// ---------------------------------------------------------------------------------------------
// Stability (docs/providers.md sections 3, 8.4)
// ---------------------------------------------------------------------------------------------

const STABILITY_RATIOS = ["16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21"];
const STABILITY_FORMATS = ["png", "jpeg", "webp"];
// SD3.0 ids are still accepted: Stability re-routes them to 3.5 at the same price.
const STABILITY_SD3_MODELS = ["sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium", "sd3.5-flash", "sd3-large", "sd3-large-turbo", "sd3-medium"];
// Input images (8.4): every side >= 64 px, 4,096..9,437,184 px in total; ultra: 64..16,384 px a side.
const STABILITY_INPUT_RULES = {
  default: { minSide: 64, maxSide: Infinity, minPixels: 4096, maxPixels: 9437184 },
  ultra: { minSide: 64, maxSide: 16384, minPixels: 4096, maxPixels: Infinity },
};

function stabilityError(ctx, status, name, message) {
  return jsonResponse(status, { id: hexId(ctx.seq), name, errors: [message] });
}

const badRequest = (ctx, message) => stabilityError(ctx, 400, "bad_request", message);

/** Stability error ids are 32 hex characters (docs/providers.md 3.3); derive one from the sequence. */
function hexId(seq) {
  return seq.toString(16).padStart(32, "0");
}

function inspectStability(ctx) {
  if (!ctx.parts) return null;
  const images = ctx.parts.filter((p) => p.name === "image").map((p) => describeFilePart(p));
  const masks = ctx.parts.filter((p) => p.name === "mask").map((p) => describeFilePart(p, { mask: true }));
  if (images.length === 0 && masks.length === 0) return null;
  const form = ctx.body ?? {};
  return {
    count: images.length,
    fieldNames: ctx.parts.map((p) => p.name),
    images,
    mask: masks[0] ?? null,
    mode: typeof form.mode === "string" ? form.mode : null,
    strength: typeof form.strength === "string" ? form.strength : null,
  };
}

/** Transport checks shared by every v2beta route: multipart, Accept, prompt, format, seed. */
function stabilityCommonProblem(ctx) {
  if (!isMultipart(ctx.headers["content-type"]) || !multipartBoundary(ctx.headers["content-type"])) {
    // Sending JSON is an error (docs/providers.md 3.1); the status is [U], 400 is the natural choice.
    return badRequest(ctx, "content-type: must be multipart/form-data with a boundary");
  }
  if (ctx.bodyKind !== "multipart") return badRequest(ctx, "body: malformed multipart/form-data");
  const form = ctx.body;
  const accept = ctx.headers.accept;
  if (accept && !/application\/json|image\/|\*\/\*/i.test(accept)) {
    return badRequest(ctx, "accept: must be image/* or application/json");
  }
  if (typeof form.prompt !== "string" || form.prompt.trim() === "") return badRequest(ctx, "prompt: cannot be empty");
  if (form.prompt.length > 10000) return badRequest(ctx, "prompt: must be at most 10000 characters");
  if (form.negative_prompt !== undefined && String(form.negative_prompt).length > 10000) {
    return badRequest(ctx, "negative_prompt: must be at most 10000 characters");
  }
  if (form.output_format !== undefined && !STABILITY_FORMATS.includes(form.output_format)) {
    return badRequest(ctx, `output_format: invalid enum value. Expected 'png' | 'jpeg' | 'webp', received '${form.output_format}'`);
  }
  if (form.seed !== undefined && (!/^\d+$/.test(form.seed) || Number(form.seed) > 4294967294)) {
    return badRequest(ctx, "seed: must be an integer between 0 and 4294967294");
  }
  return null;
}

/** One input image: a single file part whose bytes are jpeg/png/webp within the size rules. */
function stabilityImageProblem(ctx, field, rules) {
  const parts = ctx.parts.filter((p) => p.name === field);
  if (parts.length === 0) return badRequest(ctx, `${field}: is required`);
  if (parts.length > 1) return badRequest(ctx, `${field}: expected exactly one file, got ${parts.length}`);
  if (parts[0].filename === undefined) return badRequest(ctx, `${field}: must be a file`);
  // Stability reads the bytes, not the part's declared type (curl and requests send octet-stream).
  const info = imageInfo(parts[0].data);
  if (!STABILITY_FORMATS.includes(info.format)) {
    return badRequest(ctx, `${field}: unsupported image format${info.format ? ` '${info.format}'` : ""}; expected jpeg, png or webp`);
  }
  if (!info.width) return badRequest(ctx, `${field}: the image could not be decoded`);
  const { width, height } = info;
  if (Math.min(width, height) < rules.minSide) {
    return badRequest(ctx, `${field}: width and height must be at least ${rules.minSide} pixels, got ${width}x${height}`);
  }
  if (Math.max(width, height) > rules.maxSide) {
    return badRequest(ctx, `${field}: width and height must be at most ${rules.maxSide} pixels, got ${width}x${height}`);
  }
  const pixels = width * height;
  if (pixels < rules.minPixels || pixels > rules.maxPixels) {
    const range = rules.maxPixels === Infinity ? `at least ${rules.minPixels}` : `between ${rules.minPixels} and ${rules.maxPixels}`;
    return badRequest(ctx, `${field}: the total pixel count must be ${range}, got ${pixels} (${width}x${height})`);
  }
  return null;
}

function strengthProblem(ctx) {
  const strength = ctx.body.strength;
  if (strength === undefined) return badRequest(ctx, "strength: is required when an image is provided");
  const value = /^\s*\d*\.?\d+\s*$/.test(strength) ? Number(strength) : NaN;
  if (!(value >= 0 && value <= 1)) return badRequest(ctx, `strength: must be a number between 0 and 1, received '${strength}'`);
  return null;
}

function stabilityGenerateValidate(ctx) {
  const common = stabilityCommonProblem(ctx);
  if (common) return common;
  const form = ctx.body;
  const endpoint = ctx.params.endpoint;
  if (form.aspect_ratio !== undefined && !STABILITY_RATIOS.includes(form.aspect_ratio)) {
    return ctx.fixture("stability/bad_request", (b) => {
      b.id = hexId(ctx.seq);
      b.errors = [`aspect_ratio: invalid enum value. Expected '21:9' | '16:9' | '3:2' | '5:4' | '1:1' | '4:5' | '2:3' | '9:16' | '9:21', received '${form.aspect_ratio}'`];
    });
  }
  if (endpoint === "sd3" && form.model !== undefined && !STABILITY_SD3_MODELS.includes(form.model)) {
    return badRequest(ctx, `model: invalid enum value. Expected ${STABILITY_SD3_MODELS.map((m) => `'${m}'`).join(" | ")}, received '${form.model}'`);
  }
  const hasImage = ctx.parts.some((p) => p.name === "image");
  if (ctx.parts.some((p) => p.name === "mask")) {
    // The real API ignores unknown fields (3.1); the mock refuses a mask here so that an input
    // silently dropped by a client shows up. Masks belong to edit/inpaint.
    return badRequest(ctx, `mask: generate/${endpoint} takes no mask; use edit/inpaint`);
  }
  if (endpoint === "core" && hasImage) return badRequest(ctx, "image: generate/core does not accept an input image");
  if (endpoint === "sd3") {
    const mode = form.mode ?? "text-to-image";
    if (!["text-to-image", "image-to-image"].includes(mode)) {
      return badRequest(ctx, `mode: invalid enum value. Expected 'text-to-image' | 'image-to-image', received '${mode}'`);
    }
    if (mode === "text-to-image" && hasImage) return badRequest(ctx, "image: only allowed when mode is image-to-image");
    if (mode === "image-to-image") {
      const image = stabilityImageProblem(ctx, "image", STABILITY_INPUT_RULES.default);
      if (image) return image;
      const strength = strengthProblem(ctx);
      if (strength) return strength;
      if (form.aspect_ratio !== undefined) return badRequest(ctx, "aspect_ratio: not allowed when mode is image-to-image");
    }
  }
  if (endpoint === "ultra" && hasImage) {
    const image = stabilityImageProblem(ctx, "image", STABILITY_INPUT_RULES.ultra);
    if (image) return image;
    const strength = strengthProblem(ctx);
    if (strength) return strength;
  }
  return null; // other unknown form fields are silently ignored, like the real API (docs/providers.md 3.1)
}

function stabilityInpaintValidate(ctx) {
  const common = stabilityCommonProblem(ctx);
  if (common) return common;
  const form = ctx.body;
  const image = stabilityImageProblem(ctx, "image", STABILITY_INPUT_RULES.default);
  if (image) return image;
  if (form.grow_mask !== undefined && !(/^\d+$/.test(form.grow_mask) && Number(form.grow_mask) <= 100)) {
    return badRequest(ctx, `grow_mask: must be an integer between 0 and 100, received '${form.grow_mask}'`);
  }
  const first = ctx.inputs.images[0];
  const maskParts = ctx.parts.filter((p) => p.name === "mask");
  if (maskParts.length === 0) {
    // Without a mask the image's alpha channel marks the area (8.4).
    if (!first.hasAlpha) return badRequest(ctx, "mask: required when the image has no alpha channel");
    return null;
  }
  if (maskParts.length > 1) return badRequest(ctx, `mask: expected exactly one file, got ${maskParts.length}`);
  if (maskParts[0].filename === undefined) return badRequest(ctx, "mask: must be a file");
  const mask = ctx.inputs.mask;
  // The real API takes any image and resizes it; the mock insists on what the library is meant
  // to send (an 8-bit grayscale PNG of the image's size, white = change) so conversion bugs show.
  if (mask.format !== "png") return badRequest(ctx, `mask: must be a PNG (8-bit grayscale, white = change), got ${mask.format ?? "unknown bytes"}`);
  if (mask.colorType !== 0 || mask.bitDepth !== 8) {
    return badRequest(ctx, `mask: must be an 8-bit grayscale PNG (white = change, black = keep), got colour type ${mask.colorType} at bit depth ${mask.bitDepth}`);
  }
  if (mask.width !== first.width || mask.height !== first.height) {
    return badRequest(ctx, `mask: dimensions ${mask.width}x${mask.height} differ from the image's ${first.width}x${first.height}`);
  }
  return null;
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
  return { image: successImage(ctx).base64, finish_reason: "SUCCESS", seed: stabilitySeed(ctx) };
}

/** Accept: application/json -> JSON form; anything else -> raw bytes plus headers (docs/providers.md 3.1). */
function stabilitySuccess(ctx) {
  const format = stabilityFormat(ctx);
  if (stabilityWantsJson(ctx)) {
    return jsonResponse(200, stabilitySuccessBody(ctx), { "content-type": `application/json; type=image/${format}` });
  }
  return bytesResponse(200, successImage(ctx).bytes, {
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
// success(ctx) -> response (default: successBody as JSON); noImage(ctx) -> JSON value;
// inspect(ctx) -> what arrived (logged as `inputs`); maxBytes(limits) -> the route's body limit;
// streams: OpenAI's SSE answer when the request asks for it.
const OPENAI_IMAGE_ROUTE = {
  method: "POST", provider: "openai", streams: true,
  successBody: openaiSuccessBody,
  noImage: () => ({ created: Math.floor(Date.now() / 1000), data: [] }),
};
const STABILITY_IMAGE_ROUTE = {
  method: "POST", names: ["endpoint"], provider: "stability",
  maxBytes: (limits) => limits.stabilityMaxRequestBytes,
  inspect: inspectStability,
  successBody: stabilitySuccessBody,
  success: stabilitySuccess,
  noImage: (ctx) => ({ finish_reason: "SUCCESS", seed: stabilitySeed(ctx) }),
};
const ROUTES = [
  { ...OPENAI_IMAGE_ROUTE, pattern: /^\/v1\/images\/generations$/, kind: "generate", validate: openaiValidate },
  {
    ...OPENAI_IMAGE_ROUTE, pattern: /^\/v1\/images\/edits$/, kind: "edit",
    maxBytes: (limits) => limits.openaiMaxRequestBytes,
    inspect: inspectOpenaiEdit,
    validate: openaiEditValidate,
  },
  {
    method: "GET", pattern: /^\/v1\/models$/, provider: "openai", kind: "validate_key",
    successBody: (ctx) => ctx.fixtureBody("openai/models_list"),
  },
  {
    method: "POST", pattern: /^\/v1beta\/models\/([^/]+):generateContent$/, names: ["model"], provider: "gemini", kind: "generate",
    maxBytes: (limits) => limits.geminiMaxRequestBytes,
    inspect: inspectGemini,
    logBody: (ctx) => geminiLogBody(ctx.body),
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
  { ...STABILITY_IMAGE_ROUTE, pattern: /^\/v2beta\/stable-image\/generate\/(core|ultra|sd3)$/, kind: "generate", validate: stabilityGenerateValidate },
  { ...STABILITY_IMAGE_ROUTE, pattern: /^\/v2beta\/stable-image\/edit\/(inpaint)$/, kind: "edit", validate: stabilityInpaintValidate },
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
  if (wantsStream(ctx)) return openaiStreamResponse(ctx);
  if (ctx.route.success) return ctx.route.success(ctx);
  return jsonResponse(200, ctx.route.successBody(ctx), ctx.route.headers);
}

/** What the provider would answer without any script: auth, size, validation, then success. */
function normalResponse(ctx) {
  const auth = AUTH[ctx.route.provider];
  if (!ctx.key) return ctx.fixture(auth.missing(ctx.route));
  if (ctx.key.startsWith("invalid")) return ctx.fixture(auth.invalid(ctx.route));
  const limit = ctx.route.maxBytes?.(ctx.state.limits);
  if (ctx.tooLarge || (limit !== undefined && ctx.bodyBytes > limit)) return tooLargeResponse(ctx, limit ?? MAX_BODY_BYTES);
  return ctx.route.validate?.(ctx) ?? normalSuccess(ctx);
}

function tooLargeResponse(ctx, limit) {
  if (ctx.route.provider === "stability") return ctx.fixture("stability/payload_too_large");
  if (ctx.route.provider === "gemini") {
    // What Google's front end answers for oversized requests (docs/providers.md 11.2) [3P].
    return ctx.fixture("gemini/payload_too_large", (b) => {
      b.error.message = `Request payload size exceeds the limit: ${limit} bytes.`;
    });
  }
  return openaiError(413, `Request body larger than the mock's ${limit} byte limit.`);
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
  const hasFixture = (name) => fixtures.has(fixtureName(name));
  const steps = [...(definition.steps ?? []), definition.after, definition.fault].filter((s) => s !== undefined);
  for (const step of steps) {
    if (!isPlainObject(step)) return "every step must be a JSON object";
    if (step.fixture !== undefined && !hasFixture(step.fixture)) return `unknown fixture: ${step.fixture}`;
    if (step.imageBytes !== undefined && !(Number.isInteger(step.imageBytes) && step.imageBytes >= MIN_IMAGE_BYTES && step.imageBytes <= MAX_IMAGE_BYTES)) {
      return `imageBytes must be an integer between ${MIN_IMAGE_BYTES} and ${MAX_IMAGE_BYTES}`;
    }
    if (step.stream !== undefined) {
      const problem = streamOptionsProblem(step.stream, hasFixture);
      if (problem) return problem;
    }
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
  ctx.step = step; // imageBytes and stream options shape the normal reply
  if (typeof step.delayMs === "number" && step.delayMs > 0) await ctx.state.sleep(step.delayMs);
  if (res.destroyed || res.socket?.destroyed) return; // the client gave up while we waited

  const streaming = wantsStream(ctx);
  if (step.drop) return resetConnection(res);
  if (step.dropAfterHeaders) {
    if (streaming) return send(ctx, res, openaiStreamResponse(ctx, { kind: "cut", at: 0 }));
    return sendThenDrop(ctx, res, normalSuccess(ctx));
  }
  if (step.fixture !== undefined) return send(ctx, res, ctx.fixture(fixtureName(step.fixture)));
  if (step.status !== undefined) return send(ctx, res, literalResponse(step));
  if (step.malformed) {
    if (streaming) return send(ctx, res, openaiStreamResponse(ctx, { kind: "malformed", at: 0 }));
    const text = JSON.stringify(ctx.route.successBody(ctx));
    return send(ctx, res, bytesResponse(200, Buffer.from(text.slice(0, Math.ceil(text.length / 2))), { "content-type": "application/json" }));
  }
  if (step.noImage && streaming) return send(ctx, res, openaiStreamResponse(ctx, { kind: "end", at: 0 }));
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
  if (res.destroyed || res.headersSent || res.socket?.destroyed) return undefined;
  if (response.sse) return sendStream(ctx, res, response.sse);
  res.writeHead(response.status, responseHeaders(ctx, response));
  res.end(response.body);
  return undefined;
}

/** A text/event-stream answer; what went out is recorded in the request log entry's `stream`. */
function sendStream(ctx, res, sse) {
  const record = { ...sse.record, events: [], outcome: "streaming" };
  if (ctx.logEntry) ctx.logEntry.stream = record;
  return writeEventStream(res, {
    headers: {
      ...CORS_HEADERS,
      "x-request-id": `mock-${ctx.seq}`,
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
    },
    slots: sse.slots,
    fault: sse.fault,
    delayFor: sse.delayFor,
    done: sse.done,
    sleep: ctx.state.sleep,
    record,
  });
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

/** Reads the body; keeps at most `cap` bytes but always drains the rest. */
function readBody(req, cap) {
  return new Promise((resolve) => {
    const chunks = [];
    let bytes = 0;
    req.on("data", (chunk) => {
      bytes += chunk.length;
      if (bytes <= cap) chunks.push(chunk);
    });
    const done = () => resolve({ buffer: bytes <= cap ? Buffer.concat(chunks) : Buffer.alloc(0), bytes, tooLarge: bytes > cap });
    req.on("end", done);
    req.on("error", done);
    req.on("close", done); // client aborted mid-upload: resolve with what arrived (resolve is idempotent)
  });
}

const LIMIT_NAMES = Object.keys(DEFAULT_LIMITS);

function limitsProblem(limits) {
  if (!isPlainObject(limits)) return "limits must be an object";
  for (const [name, value] of Object.entries(limits)) {
    if (!LIMIT_NAMES.includes(name)) return `unknown limit ${name} (known: ${LIMIT_NAMES.join(", ")})`;
    if (!(Number.isInteger(value) && value > 0)) return `${name} must be a positive integer`;
  }
  return null;
}

function controlResponse(state, method, url, parsedBody) {
  const route = url.pathname;
  const mockError = (message) => jsonResponse(400, { error: { message, type: "mock_error" } });
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
    if (problem) return mockError(`invalid script: ${problem}`);
    state.scripts.set(parsedBody.value.key, createScript(parsedBody.value));
    return jsonResponse(200, { ok: true, key: parsedBody.value.key, steps: parsedBody.value.steps?.length ?? 0 });
  }
  if (method === "GET" && route === "/__mock/config") {
    return jsonResponse(200, { limits: state.limits });
  }
  if (method === "POST" && route === "/__mock/config") {
    const value = parsedBody.kind === "json" ? parsedBody.value : null;
    const problem = isPlainObject(value) ? limitsProblem(value.limits ?? {}) : "body must be a JSON object";
    if (problem) return mockError(`invalid config: ${problem}`);
    state.limits = { ...state.limits, ...(value.limits ?? {}) };
    return jsonResponse(200, { limits: state.limits });
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
    body: ctx.route?.logBody ? ctx.route.logBody(ctx) : parsed.value,
    // Unparseable bodies are kept (shortened) so a failing test can show what was sent.
    bodyText: parsed.kind === "invalid" && !body.tooLarge ? body.buffer.toString("utf8", 0, 2000) : undefined,
    // Input images, masks and their fields, for edits and image inputs (README: "Recorded inputs").
    inputs: ctx.inputs ?? undefined,
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

  const match = url.pathname.startsWith("/__mock/") ? null : matchRoute(req.method, url.pathname);
  const route = match?.route ?? null;
  const routeLimit = route?.maxBytes?.(state.limits) ?? 0;
  const body = await readBody(req, Math.max(MAX_BODY_BYTES, routeLimit + 1));
  const parsed = body.tooLarge ? { kind: "invalid", value: null } : parseBody(body.buffer, req.headers["content-type"]);
  const seq = ++state.seq;
  if (url.pathname.startsWith("/__mock/")) {
    return send({ seq }, res, controlResponse(state, req.method, url, parsed));
  }

  const ctx = {
    seq,
    state,
    route,
    params: match?.params ?? {},
    headers: req.headers,
    key: route ? AUTH[route.provider].key(req.headers) : null,
    body: parsed.value,
    parts: parsed.parts ?? null,
    bodyKind: parsed.kind,
    bodyBytes: body.bytes,
    tooLarge: body.tooLarge,
    fixture: (name, edit) => fixtureResponse(state.fixtures, name, edit),
    fixtureBody: (name) => structuredClone(state.fixtures.get(name).body),
  };
  ctx.inputs = route?.inspect ? route.inspect(ctx) : null;
  ctx.logEntry = logEntry(ctx, req, url, parsed, body);
  state.requests.push(ctx.logEntry);

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
 * imageBase64 replaces the 1x1 PNG; imageBytes generates a PNG whose base64 is ~N characters;
 * previewBytes makes every streamed preview a PNG of exactly N bytes; limits overrides
 * DEFAULT_LIMITS (reset() restores these start-up values).
 */
export async function startMockServer({ port = 0, host = "127.0.0.1", imageBase64, imageBytes, previewBytes, limits } = {}) {
  const problem = limits === undefined ? null : limitsProblem(limits);
  if (problem) throw new Error(`startMockServer: ${problem}`);
  if (previewBytes !== undefined && !(Number.isInteger(previewBytes) && previewBytes >= MIN_IMAGE_BYTES && previewBytes <= MAX_IMAGE_BYTES)) {
    throw new Error(`startMockServer: previewBytes must be an integer between ${MIN_IMAGE_BYTES} and ${MAX_IMAGE_BYTES}`);
  }
  const timers = new Set();
  const image = imageBase64 ?? (imageBytes ? makePaddedPngBase64(imageBytes) : PNG_1X1_BASE64);
  const startLimits = { ...DEFAULT_LIMITS, ...(limits ?? {}) };
  const state = {
    fixtures: loadFixtures(),
    imageBase64: image,
    imageBytes: Buffer.from(image, "base64"),
    previewBytes,
    imageCache: new Map(),
    limits: { ...startLimits },
    requests: [],
    scripts: new Map(),
    seq: 0,
    reset() {
      state.requests = [];
      state.scripts.clear();
      state.limits = { ...startLimits };
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
    /** In-process equivalent of POST /__mock/config {"limits"}; returns the limits in force. */
    setLimits(next) {
      const error = limitsProblem(next);
      if (error) throw new Error(error);
      state.limits = { ...state.limits, ...next };
      return { ...state.limits };
    },
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
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = inline ?? argv[++i];
    if (flag === "--port") options.port = Number(value);
    else if (flag === "--host") options.host = value;
    else if (flag === "--image-bytes") options.imageBytes = Number(value);
    else if (flag === "--preview-bytes") options.previewBytes = Number(value);
    else if (flag === "--limit") {
      const [name, amount] = String(value).split("=");
      options.limits = { ...(options.limits ?? {}), [name]: Number(amount) };
    } else {
      throw new Error(`unknown argument ${argv[i]} (use --port N, --host H, --image-bytes N, --preview-bytes N, --limit name=N)`);
    }
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
