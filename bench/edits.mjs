// Edit benchmark (Node, one process; the mock provider server runs in a child
// process so its CPU is not counted): an edit with 1 and 4 input PNGs of
// 4 MiB each to OpenAI's /v1/images/edits (the mock server), three ways,
// interleaved in the same run:
//   - direct: a hand-written fetch with a FormData of Blobs (the floor);
//   - imagegen: generateImages({prompt, images, providers: [openai]});
//   - AI SDK: generateImage({prompt: {images, text}}) of the Vercel AI SDK.
// Wall time (median) and CPU time (mean) per edit call; imagegen's wasm
// linear memory growth over all the edits, after a warm-up with a small input
// (so a copy of one input in wasm memory would show).
// Usage: node bench/edits.mjs [--smoke]  (prints JSON results)
import { generateImage } from "ai";
import { createOpenAI } from "@ai-sdk/openai";
import { generateImages } from "imagegen";
import { initSync } from "imagegen/web";
import { makePngOfSize } from "../tests/mock-server/images.mjs";
import { fmt, mean, median, startMockProcess } from "./lib.mjs";

const smoke = process.argv.includes("--smoke");
const ROUNDS = smoke ? 2 : 60;
const WARMUP = smoke ? 1 : 5;
// Smoke runs only check that the row works; its inputs are smaller.
const INPUT_BYTES = smoke ? 256 * 1024 : 4 * 1024 * 1024;
const COUNTS = [1, 4];
const KEY = "sk-bench-edits-00000000000000000";
const PROMPT = "put a red hat on the dog";

// Distinct valid PNGs (the seed changes the filler bytes); each variant gets the same Uint8Arrays.
const inputs = Array.from({ length: Math.max(...COUNTS) }, (_, i) => new Uint8Array(makePngOfSize(INPUT_BYTES, { seed: 1000 + i })));

function variants(url) {
  const openai = createOpenAI({ apiKey: KEY, baseURL: `${url}/v1` });
  return {
    direct: async (images) => {
      const form = new FormData();
      form.append("model", "gpt-image-2");
      form.append("prompt", PROMPT);
      const field = images.length === 1 ? "image" : "image[]";
      images.forEach((bytes, i) => form.append(field, new Blob([bytes], { type: "image/png" }), `image-${i}.png`));
      const r = await fetch(`${url}/v1/images/edits`, { method: "POST", headers: { authorization: `Bearer ${KEY}` }, body: form });
      const body = JSON.parse(await r.text());
      if (r.status !== 200) throw new Error(`direct: ${r.status} ${JSON.stringify(body)}`);
      return body.data.map((d) => d.b64_json).length;
    },
    imagegen: async (images) => {
      const r = await generateImages({ prompt: PROMPT, images, providers: [{ provider: "openai", apiKey: KEY, baseUrl: url, model: "gpt-image-2" }] });
      return r.images.map((i) => i.base64).length;
    },
    aisdk: async (images) => {
      const r = await generateImage({ model: openai.image("gpt-image-2"), prompt: { images, text: PROMPT }, n: 1 });
      return r.images.map((i) => i.base64).length;
    },
  };
}

const wasmBytes = () => initSync({ module: new Uint8Array() }).memory.buffer.byteLength;

const mock = await startMockProcess();
const results = { inputBytes: INPUT_BYTES, counts: {} };
try {
  const v = variants(mock.url);
  // Warm-up with a small input: wasm memory after it is the baseline.
  const small = [new Uint8Array(makePngOfSize(4096))];
  for (const name of Object.keys(v)) await v[name](small);
  const wasm0 = wasmBytes();
  for (const n of COUNTS) {
    const images = inputs.slice(0, n);
    const samples = Object.fromEntries(Object.keys(v).map((k) => [k, { wall: [], cpu: [] }]));
    for (let round = 0; round < WARMUP + ROUNDS; round++) {
      // Rotate the order each round so no variant always runs first.
      const names = Object.keys(v);
      const order = names.map((_, i) => names[(i + round) % names.length]);
      for (const name of order) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const got = await v[name](images);
        const wall = performance.now() - t0;
        const c = process.cpuUsage(c0);
        if (got !== 1) throw new Error(`${name} returned ${got} images, expected 1`);
        if (round >= WARMUP) {
          samples[name].wall.push(wall);
          samples[name].cpu.push((c.user + c.system) / 1000);
        }
      }
    }
    results.counts[n] = Object.fromEntries(
      Object.entries(samples).map(([k, s]) => [k, { wallMs: median(s.wall), cpuMs: mean(s.cpu), runs: s.wall.length }]),
    );
  }
  results.edits = (WARMUP + ROUNDS) * COUNTS.length;
  results.inputs = (WARMUP + ROUNDS) * COUNTS.reduce((a, n) => a + n, 0);
  results.wasmGrowthBytes = wasmBytes() - wasm0;
  results.wasmBytes = wasmBytes();
} finally {
  await mock.close();
}
console.log(JSON.stringify(results, null, 2));
if (!smoke) {
  for (const n of COUNTS) {
    const c = results.counts[n];
    console.error(
      `edit, ${n} input(s): imagegen/direct wall ${fmt(c.imagegen.wallMs / c.direct.wallMs)} cpu ${fmt(c.imagegen.cpuMs / c.direct.cpuMs)}; AI SDK/direct wall ${fmt(c.aisdk.wallMs / c.direct.wallMs)} cpu ${fmt(c.aisdk.cpuMs / c.direct.cpuMs)}`,
    );
  }
}
