// The table of representative requests. Each case is one logical request, written twice: as
// the package's GenerateRequest (`request`, with the chain entry's `model`), and as a user of
// the provider's own SDK (or, for Stability, of its documented form) would write the same
// request (`sdk` / `form`). Sizes and ratios in the reference are what the provider's
// documentation asks for (e.g. gpt-image-2 takes any WxH on a 16-pixel grid, Gemini takes an
// aspect ratio plus an imageSize tier, Stability takes one of nine aspect ratios).
// `calls`: how many provider calls the request makes (Gemini and Stability: one image each).
// `warnings`: what the package must say about options it dropped or re-mapped.

const PROMPT = "a lighthouse on a cliff at dusk, watercolor";

// OpenAI: gpt-image-2 (any WxH) and gpt-image-1.5 (the 1.x family's three preset sizes). ----
export const OPENAI_CASES = [
  {
    name: "gpt-image-2, nothing but a prompt",
    model: "gpt-image-2",
    request: { prompt: PROMPT },
    sdk: { model: "gpt-image-2", prompt: PROMPT },
  },
  {
    name: "gpt-image-2, a free size on the 16-pixel grid is sent as asked",
    model: "gpt-image-2",
    request: { prompt: PROMPT, size: "1920x1088" },
    sdk: { model: "gpt-image-2", prompt: PROMPT, size: "1920x1088" },
  },
  {
    name: "gpt-image-2, 16:9, three webp images in one call",
    model: "gpt-image-2",
    request: { prompt: PROMPT, aspectRatio: "16:9", count: 3, outputFormat: "webp" },
    // The SDK's own example of a free size for 16:9 (ImageGenerateParamsBase.size).
    sdk: { model: "gpt-image-2", prompt: PROMPT, n: 3, size: "1536x864", output_format: "webp" },
  },
  {
    name: "gpt-image-2, a size off the grid is fitted to it",
    model: "gpt-image-2",
    request: { prompt: PROMPT, size: "1000x1000" },
    sdk: { model: "gpt-image-2", prompt: PROMPT, size: "1008x1008" },
    warnings: [/size 1000x1000/],
  },
  {
    name: "gpt-image-2, seed and negative prompt have no OpenAI field",
    model: "gpt-image-2",
    request: { prompt: PROMPT, seed: 42, negativePrompt: "blurry" },
    sdk: { model: "gpt-image-2", prompt: PROMPT },
    warnings: [/seed/, /negativePrompt/],
  },
  {
    name: "gpt-image-1.5, a preset size, jpeg",
    model: "gpt-image-1.5",
    request: { prompt: PROMPT, size: "1024x1536", outputFormat: "jpeg" },
    sdk: { model: "gpt-image-1.5", prompt: PROMPT, size: "1024x1536", output_format: "jpeg" },
  },
  {
    name: "gpt-image-1.5, 16:9 becomes the landscape preset, two images",
    model: "gpt-image-1.5",
    request: { prompt: PROMPT, aspectRatio: "16:9", count: 2 },
    sdk: { model: "gpt-image-1.5", prompt: PROMPT, n: 2, size: "1536x1024" },
    warnings: [/16:9/],
  },
  {
    name: "no model named: the default is a current model",
    request: { prompt: PROMPT },
    // gpt-image-1 "was shut down on October 23, 2026" (ImageGenerateParamsBase.model in
    // openai@7.59.0); the project's default is gpt-image-2.
    sdk: { model: "gpt-image-2", prompt: PROMPT },
  },
];

// Gemini: gemini-nano-banana-2.1, gemini-3-pro-image, gemini-3.1-flash-image. ----------------
// responseModalities ["IMAGE"] is how an SDK user asks for an image without text (the API's
// default is TEXT and IMAGE); @ai-sdk/google sends it on every image request.
const genai = (model, config = {}) => ({ model, contents: PROMPT, config: { responseModalities: ["IMAGE"], ...config } });

export const GEMINI_CASES = [
  {
    name: "gemini-nano-banana-2.1, nothing but a prompt",
    model: "gemini-nano-banana-2.1",
    request: { prompt: PROMPT },
    sdk: genai("gemini-nano-banana-2.1"),
  },
  {
    name: "gemini-nano-banana-2.1, 4096x4096 asks for the 4K tier",
    model: "gemini-nano-banana-2.1",
    request: { prompt: PROMPT, size: "4096x4096" },
    sdk: genai("gemini-nano-banana-2.1", { imageConfig: { aspectRatio: "1:1", imageSize: "4K" } }),
    warnings: [/size 4096x4096/],
  },
  {
    name: "gemini-nano-banana-2.1, jpeg cannot be chosen on the Gemini API",
    model: "gemini-nano-banana-2.1",
    request: { prompt: PROMPT, aspectRatio: "3:2", outputFormat: "jpeg" },
    // outputMimeType is Vertex-only: the SDK's converter refuses it on the Developer API.
    sdk: genai("gemini-nano-banana-2.1", { imageConfig: { aspectRatio: "3:2" } }),
    warnings: [/outputFormat jpeg/],
  },
  {
    name: "gemini-3-pro-image, 2048x1152 is 16:9 at 2K",
    model: "gemini-3-pro-image",
    request: { prompt: PROMPT, size: "2048x1152" },
    sdk: genai("gemini-3-pro-image", { imageConfig: { aspectRatio: "16:9", imageSize: "2K" } }),
    warnings: [/size 2048x1152/],
  },
  {
    name: "gemini-3-pro-image, two images with a seed, negative prompt dropped",
    model: "gemini-3-pro-image",
    request: { prompt: PROMPT, count: 2, seed: 1234, aspectRatio: "4:3", negativePrompt: "blurry" },
    sdk: genai("gemini-3-pro-image", { imageConfig: { aspectRatio: "4:3" }, seed: 1234 }),
    calls: 2,
    warnings: [/negativePrompt/],
  },
  {
    name: "gemini-3.1-flash-image, 4:1 at the 512 tier with a seed",
    model: "gemini-3.1-flash-image",
    request: { prompt: PROMPT, aspectRatio: "4:1", size: "512x128", seed: 7 },
    sdk: genai("gemini-3.1-flash-image", { imageConfig: { aspectRatio: "4:1", imageSize: "512" }, seed: 7 }),
  },
  {
    name: "no model named: the default is a current model",
    request: { prompt: PROMPT },
    // gemini-2.5-flash-image is deprecated and gemini-3.1-flash-image was deprecated in favour
    // of gemini-nano-banana-2.1 (listed in @google/genai 3.3.0's model enum).
    sdk: genai("gemini-nano-banana-2.1"),
  },
];

// Stability: core, ultra, sd3.5-large, sd3.5-large-turbo, against the documented form. -------
export const STABILITY_CASES = [
  {
    name: "core, nothing but a prompt",
    model: "core",
    request: { prompt: PROMPT },
    form: { endpoint: "core", fields: { prompt: PROMPT } },
  },
  {
    name: "core, 16:9 webp with a seed and a negative prompt",
    model: "core",
    request: { prompt: PROMPT, aspectRatio: "16:9", outputFormat: "webp", seed: 42, negativePrompt: "blurry" },
    form: {
      endpoint: "core",
      fields: { prompt: PROMPT, negative_prompt: "blurry", aspect_ratio: "16:9", seed: "42", output_format: "webp" },
    },
  },
  {
    name: "core, 4:3 is not offered: the nearest, 5:4",
    model: "core",
    request: { prompt: PROMPT, aspectRatio: "4:3" },
    form: { endpoint: "core", fields: { prompt: PROMPT, aspect_ratio: "5:4" } },
    warnings: [/4:3/],
  },
  {
    name: "ultra, 1536x640 is 21:9, jpeg",
    model: "ultra",
    request: { prompt: PROMPT, size: "1536x640", outputFormat: "jpeg" },
    form: { endpoint: "ultra", fields: { prompt: PROMPT, aspect_ratio: "21:9", output_format: "jpeg" } },
    warnings: [/size 1536x640/],
  },
  {
    name: "sd3.5-large, 3:2 with a seed",
    model: "sd3.5-large",
    request: { prompt: PROMPT, aspectRatio: "3:2", seed: 7 },
    form: { endpoint: "sd3", fields: { prompt: PROMPT, model: "sd3.5-large", aspect_ratio: "3:2", seed: "7" } },
  },
  {
    name: "sd3.5-large-turbo, two images with a negative prompt",
    model: "sd3.5-large-turbo",
    request: { prompt: PROMPT, count: 2, negativePrompt: "blurry", aspectRatio: "9:16" },
    form: {
      endpoint: "sd3",
      fields: { prompt: PROMPT, model: "sd3.5-large-turbo", negative_prompt: "blurry", aspect_ratio: "9:16" },
    },
    calls: 2,
  },
  {
    name: "no model named: the default is core",
    request: { prompt: PROMPT },
    form: { endpoint: "core", fields: { prompt: PROMPT } },
  },
];
