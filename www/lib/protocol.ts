// The HTTP contract of the demo's generation routes (/api/generate-image on
// the Node runtime, /api/generate-image-edge on the Edge runtime), shared by
// the routes and the page. Importing this file loads no wasm: the provider
// list comes from `imagegen/providers`, plain data generated from the
// library's provider table.
import type {
  Attempt,
  ErrorCode,
  ErrorInfo,
  GenerateEvent as LibraryEvent,
  GeneratedImage,
  ProviderName,
  Usage,
  Warning,
} from "imagegen";
import { providers } from "imagegen/providers";

export type { Attempt, ErrorCode, ErrorInfo, GeneratedImage, ProviderName, Usage, Warning };

/** An image as the page shows it: the package's, or the Worker's with a link (`url`) instead of base64. */
export type ShownImage = GeneratedImage & { url?: string };

/** The `src` of an image: its link when it came as one, else a `data:` URL of its base64. */
export const imageSrc = (image: ShownImage): string => image.url ?? `data:${image.mimeType};base64,${image.base64}`;

/**
 * A streamed preview of one part's image (`partialImages` 1..3): a complete,
 * lower-quality image, replaced by the next preview and then by the final
 * `image` event of that part. `index` counts the part's previews from 0.
 */
export interface PartialImageEvent {
  type: "partial_image";
  part: number;
  provider: ProviderName;
  model: string;
  index: number;
  image: { mimeType: string; base64: string };
}

/** The package's progress events, previews included (declared here too, so the page type-checks either way). */
export type GenerateEvent = LibraryEvent | PartialImageEvent;

/** The most previews a request may ask for (OpenAI's `partial_images` range is 0..3). */
export const MAX_PREVIEWS = 3;

/** How many previews per image a request asks for. */
export type PreviewCount = 0 | 1 | 2 | 3;

/** Every provider, in the library's table order. */
export const PROVIDERS: readonly ProviderName[] = providers.map((p) => p.name);

/** Every error code, checked against the package's `ErrorCode` by tsc. */
const CODES = {
  invalid_request: true,
  budget_exceeded: true,
  unsupported: true,
  auth: true,
  permission: true,
  quota: true,
  rate_limited: true,
  content_policy: true,
  not_found: true,
  provider_error: true,
  timeout: true,
  network: true,
  bad_response: true,
  aborted: true,
} as const satisfies Record<ErrorCode, true>;

export const ERROR_CODES: readonly ErrorCode[] = Object.keys(CODES) as ErrorCode[];

/**
 * Faults injected into the mock provider through its `params`.
 * `latencyMs` applies to every mock entry of the chain (so progress is
 * visible); the others only to the entry labelled `target` (default: the
 * first one, the primary).
 */
export interface Simulate {
  target?: string;
  failFirst?: number;
  failCode?: ErrorCode;
  retryAfterMs?: number;
  latencyMs?: number;
}

/** An input image or mask in a JSON body: its bytes in base64 (no `data:` prefix). */
export interface Base64Image {
  base64: string;
  mimeType: string;
}

/** POST body of the generation routes. */
export interface GenerateBody {
  prompt: string;
  /** 1 to 16 input images: the call becomes an edit (entries that cannot take them are skipped). */
  images?: Base64Image[];
  /** A PNG the size of `images[0]`; alpha 0 marks the area to change. */
  mask?: Base64Image;
  /** Moved to the front of the server's chain; `"mock"` runs the demo chain. */
  provider?: ProviderName;
  count?: number;
  size?: string;
  aspectRatio?: string;
  /** Labels of the mock demo chain, primary first (default `["primary", "fallback"]`). */
  chain?: string[];
  simulate?: Simulate;
  /** Streamed previews per image, 0..3 (default 0): `partial_image` events before each final image. */
  partialImages?: PreviewCount;
}

/** Successful JSON answer (status 200). */
export interface GenerateResponse {
  images: GeneratedImage[];
  attempts: Attempt[];
  warnings: Warning[];
  errors: ErrorInfo[];
  /** What the call cost (`costUsd` null: unknown). */
  usage: Usage;
}

/** Error JSON answer (status 4xx/5xx), or the `error` of a stream's last line. */
export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    provider?: ProviderName;
    status?: number;
    param?: string;
    retryAfterMs?: number;
    retryable: boolean;
    attempts: Attempt[];
  };
}

/**
 * With `Accept: application/x-ndjson` the routes answer 200 at once and
 * stream one JSON object per line:
 *   {"event": GenerateEvent}                 for each progress event, as it happens
 *                                            (`image` events carry the image itself,
 *                                            `partial_image` events their preview: sent
 *                                            once, never kept by the server)
 *   {"result": {attempts, warnings, errors, imageCount}}   last line on success;
 *                                            the images were sent in the `image` events
 *                                            (once each: no second copy of the bytes)
 *   {"status": 429, "error": {...}}          last line on failure: the status the JSON
 *                                            answer would have had, and its error
 */
export type StreamLine =
  | { event: GenerateEvent }
  | { result: Omit<GenerateResponse, "images"> & { imageCount: number } }
  | ({ status: number } & ErrorBody);

export const NDJSON = "application/x-ndjson";

/** What the server reports about itself (GET on the generation routes). */
export interface ServerInfo {
  /** Providers with a key on the server, in chain order (names only). */
  providers: ProviderName[];
  /** True when no key is set: every request runs on the mock provider. */
  mockOnly: boolean;
  runtime: "nodejs" | "edge";
}
