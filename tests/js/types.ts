// Type-level tests of the published declarations: this file must pass
// `tsc --noEmit` (see tsconfig.json). Lines marked @ts-expect-error must be
// rejected by the types, so wrong usage is caught at compile time.
import {
  createImageService,
  errorCodes,
  generateImages,
  GeminiService,
  MockService,
  OpenAIService,
  StabilityService,
  validateApiKey,
  type Attempt,
  type ErrorCode,
  type GenerateEvent,
  type GenerateRequest,
  type GenerateResult,
  type GeneratedImage,
  type ImageGenError,
  type ImageGenerationService,
  type ImageInput,
  type ProviderConfig,
  type ProviderName,
  type Warning,
} from "imagegen";

const controller = new AbortController();

const providers: ProviderConfig[] = [
  { provider: "openai", apiKey: "sk-…", model: "gpt-image-2", params: { quality: "high" } },
  { provider: "gemini", apiKey: "AIza…", baseUrl: "http://127.0.0.1:8080" },
  { provider: "mock" },
];

const request: GenerateRequest = {
  prompt: "a lighthouse at dusk",
  count: 2,
  size: "1024x1024",
  aspectRatio: "16:9",
  seed: 42,
  negativePrompt: "blurry",
  outputFormat: "webp",
  providers,
  retry: { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 20000, maxRetryAfterMs: 60000 },
  fallbackOn: ["auth", "quota", "provider_error"],
  timeoutMs: 180000,
  deadlineMs: 300000,
  concurrency: 4,
  partialImages: 2,
  maxCostUsd: 0.5,
  prices: [{ provider: "openai", model: "gpt-image-2", imageUsd: 0.2, tokens: { textIn: 5, imageIn: 8, textOut: 30, imageOut: 30 } }],
  signal: controller.signal,
  onEvent: (e: GenerateEvent) => {
    switch (e.type) {
      case "attempt_start":
        e.provider satisfies ProviderName;
        e.attempt satisfies number;
        break;
      case "attempt_end":
        e.outcome satisfies "ok" | ErrorCode;
        e.durationMs satisfies number;
        break;
      case "retry_scheduled":
        e.delayMs satisfies number;
        e.code satisfies ErrorCode;
        break;
      case "fallback":
        e.from satisfies ProviderName;
        e.to satisfies ProviderName;
        break;
      case "image":
        e.image.base64 satisfies string;
        e.index satisfies number;
        break;
      case "partial_image":
        e.image.base64 satisfies string;
        e.image.mimeType satisfies string;
        e.index satisfies number;
        e.part satisfies number;
        e.provider satisfies ProviderName;
        e.model satisfies string;
        // @ts-expect-error: a preview is not a GeneratedImage (no seed)
        e.image.seed;
        break;
    }
  },
};

async function main(): Promise<void> {
  const result: GenerateResult = await generateImages(request);
  const image: GeneratedImage | undefined = result.images[0];
  const mime: string | undefined = image?.mimeType;
  const attempts: Attempt[] = result.attempts;
  const warnings: Warning[] = result.warnings;
  const total: number | null = result.usage.costUsd;
  const perModel: number | null | undefined = result.usage.byProvider[0]?.costUsd;
  const attemptCost: number | undefined = result.attempts[0]?.costUsd;
  const imageCost: number | undefined = result.images[0]?.costUsd;
  const firstErrorCode: ErrorCode | undefined = result.errors[0]?.code;
  void [mime, attempts, warnings, firstErrorCode];

  try {
    await generateImages({ prompt: "x", providers: [{ provider: "mock" }] });
  } catch (err) {
    const e = err as ImageGenError;
    e.name satisfies "ImageGenError";
    e.retryable satisfies boolean;
    e.attempts satisfies Attempt[];
    e.images satisfies GeneratedImage[];
    const status: number | undefined = e.status;
    void status;
  }

  const ok: boolean = await validateApiKey("openai", "sk-…", { baseUrl: "http://127.0.0.1:1" });
  const ok2: boolean = await validateApiKey("mock", "k");
  void [ok, ok2];

  const service: ImageGenerationService = createImageService("stability", "sk-…");
  const urls: string[] = await service.generateImages("a cat", { count: 2, size: "1024x1024", additionalParams: { style_preset: "anime" } });
  void urls;
  const services: ImageGenerationService[] = [
    new OpenAIService("sk-…"),
    new GeminiService("AIza…", { model: "gemini-3-pro-image" }),
    new StabilityService("sk-…", { baseUrl: "http://127.0.0.1:1" }),
    new MockService(""),
  ];
  const valid: boolean = await services[0]!.validateApiKey("sk-other");
  void valid;
  const codes: ErrorCode[] = errorCodes();
  void codes;
  // Edits: every input type, a mask, and the services' editImages.
  const inputs: ImageInput[] = [
    new Uint8Array(8),
    new ArrayBuffer(8),
    new Blob([]),
    { base64: "iVBOR", mimeType: "image/png" },
    "data:image/png;base64,iVBOR",
  ];
  const edited: GenerateResult = await generateImages({ prompt: "a hat", images: inputs, mask: inputs[0], providers });
  void edited;
  const editUrls: string[] = await services[3]!.editImages("a hat", inputs, { mask: inputs[0], count: 1 });
  void editUrls;
}
void main;

// Wrong usage is rejected by the types.
// @ts-expect-error: prompt is required
const noPrompt: GenerateRequest = { providers };
// @ts-expect-error: providers is required
const noProviders: GenerateRequest = { prompt: "x" };
// @ts-expect-error: unknown provider name
const badProvider: ProviderConfig = { provider: "dalle" };
// @ts-expect-error: partialImages is 0..3
const badPartials: GenerateRequest = { prompt: "x", providers, partialImages: 4 };
// @ts-expect-error: count is a number
const badCount: GenerateRequest = { prompt: "x", providers, count: "2" };
// @ts-expect-error: outputFormat is an enum
const badFormat: GenerateRequest = { prompt: "x", providers, outputFormat: "gif" };
// @ts-expect-error: onEvent is a function
const badOnEvent: GenerateRequest = { prompt: "x", providers, onEvent: 5 };
// @ts-expect-error: not an error code
const badCode: ErrorCode = "oops";
// @ts-expect-error: images is an array of inputs
const badImages: GenerateRequest = { prompt: "x", providers, images: new Uint8Array(8) };
// @ts-expect-error: a number is not an image input
const badInput: ImageInput = 42;
void [noPrompt, noProviders, badProvider, badCount, badPartials, badFormat, badOnEvent, badCode, badImages, badInput];
