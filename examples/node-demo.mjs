// Generates images with imagegen and writes them to a folder, printing the
// progress events as they happen.
//
//   node examples/node-demo.mjs [prompt] [--count N] [--size WxH] [--aspect W:H] [--out DIR]
//
// With OPENAI_API_KEY / GEMINI_API_KEY / STABILITY_API_KEY set, those providers
// form the chain (in that order). Without keys it runs against the built-in
// mock provider, with the primary mock set to fail three times (HTTP 503) so the
// retries and the fallback to a second mock show in the log.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { generateImages } from "imagegen";

function parseArgs(argv) {
  const args = { prompt: "a lighthouse on a cliff at dusk, watercolor", count: 2, out: "out" };
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--count") args.count = Number(argv[++i]);
    else if (a === "--size") args.size = argv[++i];
    else if (a === "--aspect") args.aspectRatio = argv[++i];
    else if (a === "--out") args.out = argv[++i];
    else rest.push(a);
  }
  if (rest.length) args.prompt = rest.join(" ");
  return args;
}

function chainFromEnv(env) {
  const chain = [];
  if (env.OPENAI_API_KEY) chain.push({ provider: "openai", apiKey: env.OPENAI_API_KEY });
  if (env.GEMINI_API_KEY) chain.push({ provider: "gemini", apiKey: env.GEMINI_API_KEY });
  if (env.STABILITY_API_KEY) chain.push({ provider: "stability", apiKey: env.STABILITY_API_KEY });
  if (chain.length) return { chain, label: chain.map((c) => c.provider).join(" → ") };
  return {
    chain: [
      // The primary fails its first three calls with a 503: watch it retry, then fall back.
      { provider: "mock", params: { failFirst: 3, failCode: "provider_error", latencyMs: 150 } },
      { provider: "mock", params: { latencyMs: 100 } },
    ],
    label: "mock (fails 3 times) → mock   [no API keys set: offline demo]",
  };
}

const EXT = { "image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/svg+xml": "svg" };

function describe(e) {
  switch (e.type) {
    case "attempt_start":
      return `part ${e.part}: ${e.provider}/${e.model} attempt ${e.attempt} …`;
    case "attempt_end":
      return `part ${e.part}: ${e.provider} attempt ${e.attempt} → ${e.outcome}${e.status ? ` (HTTP ${e.status})` : ""} in ${e.durationMs} ms`;
    case "retry_scheduled":
      return `part ${e.part}: retrying ${e.provider} in ${e.delayMs} ms (${e.code})`;
    case "fallback":
      return `part ${e.part}: falling back ${e.from} → ${e.to} (${e.code})`;
    case "image":
      return `part ${e.part}: image #${e.index} from ${e.image.provider} (${e.image.mimeType})`;
    default:
      return JSON.stringify(e);
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const { chain, label } = chainFromEnv(process.env);
  console.log(`prompt: ${args.prompt}\nchain:  ${label}\n`);
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort());
  const started = Date.now();
  let result;
  try {
    result = await generateImages({
      prompt: args.prompt,
      count: args.count,
      size: args.size,
      aspectRatio: args.aspectRatio,
      providers: chain,
      retry: { baseDelayMs: 300 },
      signal: controller.signal,
      onEvent: (e) => console.log(`  ${((Date.now() - started) / 1000).toFixed(2)}s  ${describe(e)}`),
    });
  } catch (err) {
    console.error(`\nfailed: [${err.code}] ${err.message}`);
    console.error(`retryable: ${err.retryable}; attempts: ${err.attempts?.length ?? 0}`);
    process.exitCode = 1;
    return;
  }
  mkdirSync(args.out, { recursive: true });
  const files = result.images.map((img, i) => {
    const file = path.join(args.out, `image-${i + 1}.${EXT[img.mimeType] ?? "bin"}`);
    writeFileSync(file, Buffer.from(img.base64, "base64"));
    return file;
  });
  console.log(`\n${result.images.length} image(s) in ${Date.now() - started} ms:`);
  for (const f of files) console.log(`  ${f}`);
  for (const w of result.warnings) console.log(`warning (${w.provider}, ${w.code}): ${w.message}`);
  for (const e of result.errors) console.log(`part ${e.part} failed: [${e.code}] ${e.message}`);
  console.log(`attempts: ${result.attempts.map((a) => `${a.provider}#${a.part}.${a.attempt}=${a.outcome}`).join(", ")}`);
}

await main();
