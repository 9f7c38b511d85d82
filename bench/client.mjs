// Client-side benchmarks (Node, one process; the mock provider server runs
// in a child process so its CPU is not counted):
//   - wall time and CPU per image: direct fetch + JSON.parse (the floor) vs
//     imagegen's generateImages vs the Vercel AI SDK's generateImage, for 1
//     and 8 images of ~1.5 MB base64 each, interleaved in the same run;
//   - wasm linear memory and JS heap after 50 × 4 MB images;
//   - under faults (30% of responses 503): latency p50/p99 and images
//     delivered, imagegen (retry + fallback) vs AI SDK (default retries).
// Usage: node --expose-gc bench/client.mjs [--smoke]  (prints JSON results)
import { generateImage } from "ai";
import { createOpenAI } from "@ai-sdk/openai";
import { generateImages } from "imagegen";
import { initSync } from "imagegen/web";
import { fmt, mean, median, percentile, startMockProcess } from "./lib.mjs";

const smoke = process.argv.includes("--smoke");
const ROUNDS = smoke ? 3 : 40;
const WARMUP = smoke ? 1 : 5;
const IMAGE_CHARS = 1_500_000;
const KEY = "sk-bench-0000000000000000000000";

function variants(url) {
  const openai = createOpenAI({ apiKey: KEY, baseURL: `${url}/v1` });
  return {
    direct: async (n) => {
      const r = await fetch(`${url}/v1/images/generations`, {
        method: "POST",
        headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-image-2", prompt: "a lighthouse", n, quality: "medium" }),
      });
      const body = JSON.parse(await r.text());
      return body.data.map((d) => d.b64_json).length;
    },
    imagegen: async (n) => {
      const r = await generateImages({
        prompt: "a lighthouse",
        count: n,
        providers: [{ provider: "openai", apiKey: KEY, baseUrl: url }],
      });
      return r.images.map((i) => i.base64).length;
    },
    aisdk: async (n) => {
      const r = await generateImage({ model: openai.image("gpt-image-2"), prompt: "a lighthouse", n });
      return r.images.map((i) => i.base64).length;
    },
  };
}

async function throughput() {
  const mock = await startMockProcess({ imageBytes: IMAGE_CHARS });
  const v = variants(mock.url);
  const out = {};
  try {
    for (const n of [1, 8]) {
      const samples = Object.fromEntries(Object.keys(v).map((k) => [k, { wall: [], cpu: [] }]));
      for (let round = 0; round < WARMUP + ROUNDS; round++) {
        // Rotate the order each round so no variant always runs first.
        const names = Object.keys(v);
        const order = names.map((_, i) => names[(i + round) % names.length]);
        for (const name of order) {
          const c0 = process.cpuUsage();
          const t0 = performance.now();
          const got = await v[name](n);
          const wall = performance.now() - t0;
          const c = process.cpuUsage(c0);
          if (got !== n) throw new Error(`${name} returned ${got} images, expected ${n}`);
          if (round >= WARMUP) {
            samples[name].wall.push(wall);
            samples[name].cpu.push((c.user + c.system) / 1000 / n);
          }
        }
      }
      out[n] = Object.fromEntries(
        Object.entries(samples).map(([k, s]) => [k, { wallMs: median(s.wall), cpuMsPerImage: mean(s.cpu), runs: s.wall.length }]),
      );
    }
  } finally {
    await mock.close();
  }
  return out;
}

async function memory() {
  const mock = await startMockProcess({ imageBytes: 4_000_000 });
  const wasmBytes = () => initSync({ module: new Uint8Array() }).memory.buffer.byteLength;
  const heap = () => {
    globalThis.gc?.();
    return process.memoryUsage().heapUsed;
  };
  try {
    const providers = [{ provider: "openai", apiKey: KEY, baseUrl: mock.url }];
    await generateImages({ prompt: "warm up", count: 1, providers });
    const wasm0 = wasmBytes();
    const heap0 = heap();
    let delivered = 0;
    const batches = smoke ? 1 : 5;
    for (let i = 0; i < batches; i++) {
      const r = await generateImages({ prompt: "big", count: 10, providers });
      delivered += r.images.length;
    }
    return {
      images: delivered,
      imageChars: 4_000_000,
      wasmGrowthBytes: wasmBytes() - wasm0,
      wasmBytes: wasmBytes(),
      heapGrowthBytesAfterGc: heap() - heap0,
      gcAvailable: typeof globalThis.gc === "function",
    };
  } finally {
    await mock.close();
  }
}

async function faults() {
  const mock = await startMockProcess({ imageBytes: IMAGE_CHARS });
  const requests = smoke ? 4 : 60;
  try {
    // Separate keys (scripts are per key); each fails 30% of calls with a 503.
    const fault = (fixture, seed) => ({ steps: [], faultRate: 0.3, fault: { fixture }, seed });
    await mock.script("sk-faults-imagegen-primary-000000", fault("openai/overloaded", 11));
    await mock.script("sk-faults-imagegen-fallback-00000", fault("gemini/unavailable", 12));
    await mock.script("sk-faults-aisdk-00000000000000000", fault("openai/overloaded", 11));
    const openai = createOpenAI({ apiKey: "sk-faults-aisdk-00000000000000000", baseURL: `${mock.url}/v1` });
    const run = {
      imagegen: async () => {
        try {
          const r = await generateImages({
            prompt: "a lighthouse",
            providers: [
              { provider: "openai", apiKey: "sk-faults-imagegen-primary-000000", baseUrl: mock.url },
              { provider: "gemini", apiKey: "sk-faults-imagegen-fallback-00000", baseUrl: mock.url },
            ],
          });
          return r.images.length;
        } catch {
          return 0;
        }
      },
      aisdk: async () => {
        try {
          const r = await generateImage({ model: openai.image("gpt-image-2"), prompt: "a lighthouse", n: 1 });
          return r.images.length;
        } catch {
          return 0;
        }
      },
    };
    const out = {};
    for (const [name, fn] of Object.entries(run)) {
      const lat = [];
      let images = 0;
      for (let i = 0; i < requests; i++) {
        const t0 = performance.now();
        images += await fn();
        lat.push(performance.now() - t0);
      }
      out[name] = { requests, images, p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99) };
    }
    return out;
  } finally {
    await mock.close();
  }
}

const results = { throughput: await throughput(), memory: await memory(), faults: await faults() };
console.log(JSON.stringify(results, null, 2));
if (!smoke) {
  const t = results.throughput;
  for (const n of [1, 8]) {
    console.error(
      `n=${n}: imagegen/direct wall ${fmt(t[n].imagegen.wallMs / t[n].direct.wallMs)} cpu ${fmt(t[n].imagegen.cpuMsPerImage / t[n].direct.cpuMsPerImage)}; imagegen/aisdk wall ${fmt(t[n].imagegen.wallMs / t[n].aisdk.wallMs)} cpu ${fmt(t[n].imagegen.cpuMsPerImage / t[n].aisdk.cpuMsPerImage)}`,
    );
  }
}
