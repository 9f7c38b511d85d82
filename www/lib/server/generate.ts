// The logic of the generation routes, shared by the Node route
// (app/api/generate-image) and the Edge route (app/api/generate-image-edge).
// Web APIs only (Request, Response, ReadableStream), so it runs on both
// runtimes. Each route passes in the `generateImages` it imported itself, so
// the package is resolved per runtime: the `node` entry (external, loaded from
// node_modules) for the Node route, the `edge-light` entry (bundled, wasm
// imported with `?module`) for the Edge route.
import type { GenerateRequest, GenerateResult, ImageGenError, ProviderConfig, ProviderName } from "imagegen";
import { providers } from "imagegen/providers";
import {
  ERROR_CODES,
  MAX_PREVIEWS,
  NDJSON,
  PROVIDERS,
  type Base64Image,
  type ErrorBody,
  type ErrorCode,
  type GenerateBody,
  type GenerateResponse,
  type PreviewCount,
  type ServerInfo,
  type Simulate,
  type StreamLine,
} from "../protocol";

export type GenerateFn = (request: GenerateRequest) => Promise<GenerateResult>;
export type Runtime = ServerInfo["runtime"];

/** Env var of each keyed provider's key, in the server's chain order (the library's table order). */
const KEY_VARS: ReadonlyArray<readonly [ProviderName, string]> = providers.flatMap((p) =>
  p.keyEnv === null ? [] : [[p.name, p.keyEnv] as const],
);

const MAX_BODY_BYTES = 64 * 1024;
/** Bodies that carry input images (base64) may be larger. */
const MAX_EDIT_BODY_BYTES = 24 * 1024 * 1024;
const MAX_INPUT_IMAGES = 16;
const DEFAULT_CHAIN = ["primary", "fallback"];
const LABEL = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;

/** Providers with a key in the server's environment, in chain order. */
function configuredKeys(): Array<{ provider: ProviderName; apiKey: string }> {
  const out: Array<{ provider: ProviderName; apiKey: string }> = [];
  for (const [provider, name] of KEY_VARS) {
    const apiKey = process.env[name]?.trim();
    if (apiKey) out.push({ provider, apiKey });
  }
  return out;
}

/** Development/test only: point a provider at a local mock server (never taken from a request). */
function devBaseUrl(provider: ProviderName): string | undefined {
  const name = providers.find((p) => p.name === provider)?.baseUrlEnv;
  return (name && process.env[name]?.trim()) || undefined;
}

/** Replaces every configured key in `text` (defence in depth: the package never puts keys in messages). */
function redact(text: string): string {
  let out = text;
  for (const { apiKey } of configuredKeys()) {
    if (apiKey.length >= 4) out = out.split(apiKey).join("[redacted]");
  }
  return out;
}

export function serverInfo(runtime: Runtime): ServerInfo {
  const providers = configuredKeys().map((k) => k.provider);
  return { providers, mockOnly: providers.length === 0, runtime };
}

/** An error of our own (bad body), shaped like the package's. */
class BadRequest extends Error {
  constructor(
    message: string,
    readonly param?: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") throw new BadRequest(`\`${key}\` must be a string`, key);
  return v;
}

function boundedInt(value: unknown, field: string, min: number, max: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new BadRequest(`\`${field}\` must be an integer from ${min} to ${max}`, field);
  }
  return value;
}

function base64Image(v: unknown, field: string): Base64Image {
  if (!isObject(v) || typeof v.base64 !== "string" || typeof v.mimeType !== "string" || v.base64 === "") {
    throw new BadRequest(`\`${field}\` must be {base64, mimeType}`, field);
  }
  return { base64: v.base64, mimeType: v.mimeType };
}

/** Types of the edit fields; the package checks the bytes (magic bytes, mask size). */
function parseInputs(raw: Record<string, unknown>): Pick<GenerateBody, "images" | "mask"> {
  let images: Base64Image[] | undefined;
  if (raw.images !== undefined && raw.images !== null) {
    if (!Array.isArray(raw.images) || raw.images.length < 1 || raw.images.length > MAX_INPUT_IMAGES) {
      throw new BadRequest(`\`images\` must be an array of 1 to ${MAX_INPUT_IMAGES} images`, "images");
    }
    images = raw.images.map((v, i) => base64Image(v, `images[${i}]`));
  }
  const mask = raw.mask === undefined || raw.mask === null ? undefined : base64Image(raw.mask, "mask");
  return { images, mask };
}

/** Validates the types of the body; the package validates the values (empty prompt, count range, size format). */
function parseBody(raw: unknown): GenerateBody {
  if (!isObject(raw)) throw new BadRequest("the body must be a JSON object");
  if (typeof raw.prompt !== "string") throw new BadRequest("`prompt` must be a string", "prompt");
  const provider = optionalString(raw, "provider");
  if (provider !== undefined && !PROVIDERS.includes(provider as ProviderName)) {
    throw new BadRequest(`\`provider\` must be one of ${PROVIDERS.join(", ")}`, "provider");
  }
  if (raw.count !== undefined && (typeof raw.count !== "number" || !Number.isInteger(raw.count))) {
    throw new BadRequest("`count` must be an integer", "count");
  }
  let chain: string[] | undefined;
  if (raw.chain !== undefined && raw.chain !== null) {
    if (!Array.isArray(raw.chain) || raw.chain.length < 1 || raw.chain.length > 4) {
      throw new BadRequest("`chain` must be an array of 1 to 4 labels", "chain");
    }
    chain = raw.chain.map((label, i) => {
      if (typeof label !== "string" || !LABEL.test(label)) {
        throw new BadRequest("chain labels are 1–32 letters, digits, `_` or `-`", `chain[${i}]`);
      }
      return label;
    });
    if (new Set(chain).size !== chain.length) throw new BadRequest("chain labels must be unique", "chain");
  }
  let simulate: Simulate | undefined;
  if (raw.simulate !== undefined && raw.simulate !== null) {
    const s = raw.simulate;
    if (!isObject(s)) throw new BadRequest("`simulate` must be an object", "simulate");
    const target = optionalString(s, "target");
    const failCode = optionalString(s, "failCode");
    if (failCode !== undefined && (!ERROR_CODES.includes(failCode as ErrorCode) || failCode === "aborted")) {
      throw new BadRequest("`simulate.failCode` must be an error code other than aborted", "simulate.failCode");
    }
    simulate = {
      target,
      failCode: failCode as ErrorCode | undefined,
      failFirst: boundedInt(s.failFirst, "simulate.failFirst", 0, 1000),
      retryAfterMs: boundedInt(s.retryAfterMs, "simulate.retryAfterMs", 0, 60_000),
      // Bounded so a visitor cannot hold the server's connections for long.
      latencyMs: boundedInt(s.latencyMs, "simulate.latencyMs", 0, 10_000),
    };
  }
  return {
    prompt: raw.prompt,
    provider: provider as ProviderName | undefined,
    count: raw.count as number | undefined,
    size: optionalString(raw, "size"),
    aspectRatio: optionalString(raw, "aspectRatio"),
    chain,
    simulate,
    partialImages: boundedInt(raw.partialImages, "partialImages", 0, MAX_PREVIEWS) as PreviewCount | undefined,
    ...parseInputs(raw),
  };
}

/**
 * The provider chain for a request: the providers with a key on the server
 * (OpenAI, Gemini, Stability order, the requested one first), or the mock demo
 * chain when the server has no key or the request asks for `mock`. Faults can
 * only be simulated on the mock chain: they never reach a paid provider.
 */
export function buildChain(body: GenerateBody): ProviderConfig[] {
  const keyed = configuredKeys();
  if (keyed.length === 0 || body.provider === "mock") {
    const labels = body.chain ?? DEFAULT_CHAIN;
    const sim = body.simulate ?? {};
    const target = sim.target ?? labels[0];
    if (!labels.includes(target)) {
      throw new BadRequest(`\`simulate.target\` must be one of the chain's labels (${labels.join(", ")})`, "simulate.target");
    }
    return labels.map((label) => {
      const params: Record<string, unknown> = {};
      if (sim.latencyMs !== undefined) params.latencyMs = sim.latencyMs;
      if (label === target) {
        if (sim.failFirst !== undefined) params.failFirst = sim.failFirst;
        if (sim.failCode !== undefined) params.failCode = sim.failCode;
        if (sim.retryAfterMs !== undefined) params.retryAfterMs = sim.retryAfterMs;
      }
      // The label becomes the mock's model id, so events and images say which entry acted.
      return { provider: "mock", model: label, params };
    });
  }
  if (body.simulate) throw new BadRequest("`simulate` only works with the mock provider", "simulate");
  if (body.chain) throw new BadRequest("`chain` only applies to the mock provider", "chain");
  if (body.provider !== undefined && !keyed.some((k) => k.provider === body.provider)) {
    throw new BadRequest(
      `the server has no ${body.provider} key (configured: ${keyed.map((k) => k.provider).join(", ")}, mock)`,
      "provider",
    );
  }
  const ordered = body.provider
    ? [...keyed.filter((k) => k.provider === body.provider), ...keyed.filter((k) => k.provider !== body.provider)]
    : keyed;
  return ordered.map(({ provider, apiKey }) => ({ provider, apiKey, baseUrl: devBaseUrl(provider) }));
}

/** What auth/permission/quota failures say: the operator's key, not the visitor, is at fault. */
const REFUSED: Partial<Record<ErrorCode, string>> = {
  auth: "was refused",
  permission: "is not allowed to do this",
  quota: "is out of credit or over its quota",
};

/** The route's HTTP status for each code (checked against `ErrorCode` by tsc). */
const STATUS = {
  invalid_request: 400,
  budget_exceeded: 402,
  unsupported: 502,
  auth: 502,
  permission: 502,
  quota: 502,
  rate_limited: 429,
  content_policy: 400,
  not_found: 502,
  provider_error: 502,
  timeout: 504,
  network: 502,
  bad_response: 502,
  aborted: 502,
} as const satisfies Record<ErrorCode, number>;

/** HTTP status and body for a rejection of `generateImages` (or our own BadRequest). */
export function errorResponseParts(err: unknown): { status: number; body: ErrorBody; headers: Record<string, string> } {
  if (err instanceof BadRequest) {
    return {
      status: err.status,
      headers: {},
      body: { error: { code: "invalid_request", message: err.message, param: err.param, retryable: false, attempts: [] } },
    };
  }
  const e = err as Partial<ImageGenError> | null;
  if (!e || e.name !== "ImageGenError" || typeof e.code !== "string") {
    // Not the package's error: say nothing about its content.
    return {
      status: 500,
      headers: {},
      body: { error: { code: "provider_error", message: "internal error", retryable: false, attempts: [] } },
    };
  }
  const code = e.code;
  const provider = e.provider;
  const original = redact(String(e.message ?? ""));
  let message = original;
  const refused = REFUSED[code];
  if (refused) {
    const simulated = provider === "mock" ? ", simulated" : "";
    message = `The server's ${provider ?? "provider"} key ${refused} (${code}${simulated}): ${original}`;
  }
  const status: number = STATUS[code] ?? 502;
  const headers: Record<string, string> = {};
  if (code === "rate_limited" && typeof e.retryAfterMs === "number") {
    headers["retry-after"] = String(Math.max(1, Math.ceil(e.retryAfterMs / 1000)));
  }
  return {
    status,
    headers,
    body: {
      error: {
        code,
        message,
        provider,
        status: e.status,
        param: e.param,
        retryAfterMs: e.retryAfterMs,
        retryable: Boolean(e.retryable),
        attempts: Array.isArray(e.attempts) ? e.attempts : [],
      },
    },
  };
}

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers },
  });
}

function logFailure(runtime: Runtime, status: number, body: ErrorBody): void {
  // Codes and provider names only: never keys, never prompts.
  const { code, provider, retryable, attempts } = body.error;
  console.warn(
    `[generate-image/${runtime}] ${status} code=${code} provider=${provider ?? "-"} retryable=${retryable} attempts=${attempts.length}`,
  );
}

async function readBody(request: Request): Promise<GenerateBody> {
  const text = await request.text();
  const bytes = new TextEncoder().encode(text).length;
  if (bytes > MAX_EDIT_BODY_BYTES) {
    throw new BadRequest(`the body is over ${MAX_EDIT_BODY_BYTES} bytes`, undefined, 413);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    if (bytes > MAX_BODY_BYTES) throw new BadRequest(`the body is over ${MAX_BODY_BYTES} bytes`, undefined, 413);
    throw new BadRequest("the body is not valid JSON");
  }
  // Only a body with input images may be larger than a plain generation request.
  const hasImages = isObject(raw) && Array.isArray(raw.images) && raw.images.length > 0;
  if (bytes > MAX_BODY_BYTES && !hasImages) {
    throw new BadRequest(`the body is over ${MAX_BODY_BYTES} bytes`, undefined, 413);
  }
  return parseBody(raw);
}

/** POST handler of both generation routes. */
export async function handleGenerate(request: Request, generateImages: GenerateFn, runtime: Runtime): Promise<Response> {
  let body: GenerateBody;
  let providers: ProviderConfig[];
  try {
    body = await readBody(request);
    providers = buildChain(body);
  } catch (err) {
    const { status, body: errorBody, headers } = errorResponseParts(err);
    return json(errorBody, status, headers);
  }

  // Cancelled when the client goes away (request.signal) or stops reading the stream.
  const abort = new AbortController();
  const onClientAbort = () => abort.abort();
  if (request.signal.aborted) abort.abort();
  else request.signal.addEventListener("abort", onClientAbort, { once: true });

  const base: GenerateRequest = {
    prompt: body.prompt,
    count: body.count,
    size: body.size,
    aspectRatio: body.aspectRatio,
    ...(body.images ? { images: body.images } : {}),
    ...(body.mask ? { mask: body.mask } : {}),
    providers,
    deadlineMs: 170_000,
    signal: abort.signal,
  };

  const wantsStream = (request.headers.get("accept") ?? "").includes(NDJSON);
  // Previews only make sense streamed: the plain JSON answer asks the providers for none.
  if (!wantsStream) {
    try {
      const result = await generateImages(base);
      const response: GenerateResponse = {
        images: result.images,
        attempts: result.attempts,
        warnings: result.warnings,
        errors: result.errors.map((e) => ({ ...e, message: redact(e.message) })),
        usage: result.usage,
      };
      return json(response);
    } catch (err) {
      const { status, body: errorBody, headers } = errorResponseParts(err);
      logFailure(runtime, status, errorBody);
      return json(errorBody, status, headers);
    } finally {
      request.signal.removeEventListener("abort", onClientAbort);
    }
  }

  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      let open = true;
      const send = (line: StreamLine) => {
        if (!open) return;
        try {
          controller.enqueue(encoder.encode(JSON.stringify(line) + "\n"));
        } catch {
          open = false;
        }
      };
      const finish = () => {
        request.signal.removeEventListener("abort", onClientAbort);
        if (!open) return;
        open = false;
        try {
          controller.close();
        } catch {
          // already closed by a cancel
        }
      };
      // Each event is serialised and sent as it comes: a preview's base64 is not kept here.
      const previews = body.partialImages ? { partialImages: body.partialImages } : {};
      generateImages({ ...base, ...previews, onEvent: (event) => send({ event }) }).then(
        (result) => {
          send({
            result: {
              attempts: result.attempts,
              warnings: result.warnings,
              errors: result.errors.map((e) => ({ ...e, message: redact(e.message) })),
              usage: result.usage,
              imageCount: result.images.length,
            },
          });
          finish();
        },
        (err) => {
          const { status, body: errorBody } = errorResponseParts(err);
          if (errorBody.error.code !== "aborted") logFailure(runtime, status, errorBody);
          send({ status, ...errorBody });
          finish();
        },
      );
    },
    cancel() {
      abort.abort();
    },
  });
  return new Response(stream, {
    status: 200,
    headers: {
      "content-type": `${NDJSON}; charset=utf-8`,
      "cache-control": "no-store, no-transform",
      "x-accel-buffering": "no",
    },
  });
}
