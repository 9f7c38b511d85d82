// Streamed previews benchmark (Node, one process; the mock provider server
// runs in a child process so its CPU is not counted), three parts:
//   1. time to the first preview and to the final image of a streamed
//      generation with 2 and 3 previews, imagegen
//      (generateImages({partialImages, onEvent})) vs the official `openai`
//      SDK's own streaming (images.generate({stream: true, partial_images}),
//      iterated), interleaved, medians;
//   2. imagegen's wasm memory growth over 50 streamed generations with 3
//      previews of 2 MiB each (after a warm-up with small previews);
//   3. the Worker's SSE relay: time to the first byte of each event through
//      the Worker (workerd via Miniflare, `"stream": true`) vs straight from
//      the mock provider's stream, interleaved, medians per event.
// Usage: node bench/previews.mjs [--smoke]  (prints JSON results)
import OpenAI from "openai";
import { Miniflare } from "miniflare";
import { generateImages } from "imagegen";
import { initSync } from "imagegen/web";
import { defaultBindings, devToken, miniflareOptions } from "../tests/worker/helpers.mjs";
import { fmt, median, startMockProcess } from "./lib.mjs";

const smoke = process.argv.includes("--smoke");
const ROUNDS = smoke ? 2 : 40;
const WARMUP = smoke ? 1 : 5;
const MEMORY_RUNS = smoke ? 3 : 50;
const PREVIEW_COUNTS = [2, 3];
// Realistic sizes: previews of 1 MiB, a final image of ~1.5 MB of base64.
const PREVIEW_BYTES = smoke ? 4096 : 1024 * 1024;
const BIG_PREVIEW_BYTES = smoke ? 64 * 1024 : 2 * 1024 * 1024;
// OpenAI's events are seconds apart. The relay is measured with the mock
// waiting a short and a longer gap before each event, so each event's arrival
// is measured on its own and the Worker's fixed cost shows against both.
const RELAY_GAPS_MS = smoke ? [5] : [40, 500];
const RELAY_ROUNDS = smoke ? 2 : 25;
const MODEL = "gpt-image-2";
const PROMPT = "a lighthouse on a cliff at dusk";
const KEY = "sk-bench-previews-000000000000000";
const MEMORY_KEY = "sk-bench-previews-memory-00000000";
const RELAY_KEY = "sk-bench-previews-relay-000000000";
const USER = "bench-previews-user";

const wasmBytes = () => initSync({ module: new Uint8Array() }).memory.buffer.byteLength;

/** Both clients; each returns {firstPreviewMs, finalMs, previews} for one streamed generation. */
function variants(url) {
  const sdk = new OpenAI({ apiKey: KEY, baseURL: `${url}/v1`, maxRetries: 0 });
  return {
    imagegen: async (partialImages) => {
      const t0 = performance.now();
      let firstPreviewMs;
      let finalMs;
      let previews = 0;
      const r = await generateImages({
        prompt: PROMPT,
        partialImages,
        providers: [{ provider: "openai", apiKey: KEY, baseUrl: url, model: MODEL }],
        onEvent: (e) => {
          // The final image counts when its event arrives, as the SDK's `completed` event does.
          if (e.type === "image") finalMs = performance.now() - t0;
          if (e.type !== "partial_image") return;
          firstPreviewMs ??= performance.now() - t0;
          previews += e.image.base64.length > 0 ? 1 : 0;
        },
      });
      if (r.images.length !== 1 || !r.images[0].base64 || finalMs === undefined) throw new Error("imagegen: no final image");
      return { firstPreviewMs, finalMs, previews };
    },
    openai: async (partialImages) => {
      const t0 = performance.now();
      let firstPreviewMs;
      let finalMs;
      let previews = 0;
      const stream = await sdk.images.generate({ model: MODEL, prompt: PROMPT, stream: true, partial_images: partialImages });
      for await (const e of stream) {
        if (e.type === "image_generation.partial_image") {
          firstPreviewMs ??= performance.now() - t0;
          previews += e.b64_json.length > 0 ? 1 : 0;
        } else if (e.type === "image_generation.completed" && e.b64_json) {
          finalMs = performance.now() - t0;
        }
      }
      if (finalMs === undefined) throw new Error("openai: no completed event");
      return { firstPreviewMs, finalMs, previews };
    },
  };
}

async function clientRows(url) {
  const v = variants(url);
  const rows = {};
  for (const n of PREVIEW_COUNTS) {
    const samples = Object.fromEntries(Object.keys(v).map((k) => [k, { first: [], final: [] }]));
    for (let round = 0; round < WARMUP + ROUNDS; round++) {
      const names = Object.keys(v);
      // Alternate which client goes first.
      const order = round % 2 ? names : [...names].reverse();
      for (const name of order) {
        const r = await v[name](n);
        if (r.previews !== n) throw new Error(`${name}: ${r.previews} previews, expected ${n}`);
        if (round >= WARMUP) {
          samples[name].first.push(r.firstPreviewMs);
          samples[name].final.push(r.finalMs);
        }
      }
    }
    rows[n] = Object.fromEntries(
      Object.entries(samples).map(([k, s]) => [k, { firstPreviewMs: median(s.first), finalMs: median(s.final), runs: s.first.length }]),
    );
  }
  return rows;
}

async function memoryRow(mock) {
  const gen = (key) =>
    generateImages({
      prompt: PROMPT,
      partialImages: 3,
      providers: [{ provider: "openai", apiKey: key, baseUrl: mock.url, model: MODEL }],
      onEvent: () => {},
    });
  await gen(KEY); // warm-up: small previews
  const wasm0 = wasmBytes();
  await mock.script(MEMORY_KEY, { after: { stream: { previewBytes: BIG_PREVIEW_BYTES } } });
  for (let i = 0; i < MEMORY_RUNS; i++) {
    const r = await gen(MEMORY_KEY);
    if (r.images.length !== 1) throw new Error("memory run: no image");
  }
  return { runs: MEMORY_RUNS, previewBytes: BIG_PREVIEW_BYTES, wasmGrowthBytes: wasmBytes() - wasm0, wasmBytes: wasmBytes() };
}

/** POSTs and records when the first byte of each SSE event arrives (ms since the request was sent). */
async function eventTimes(url, init) {
  const t0 = performance.now();
  const r = await fetch(url, init);
  if (r.status !== 200) throw new Error(`${url}: HTTP ${r.status} ${await r.text()}`);
  const times = [];
  const names = [];
  const decoder = new TextDecoder();
  let lineStart = true;
  for await (const chunk of r.body) {
    const now = performance.now() - t0;
    const text = decoder.decode(chunk, { stream: true });
    // An event starts with an `event:` line at the start of a line.
    for (let i = text.indexOf("event:"); i >= 0; i = text.indexOf("event:", i + 6)) {
      if ((i === 0 && lineStart) || text[i - 1] === "\n") {
        times.push(now);
        names.push(text.slice(i + 6, text.indexOf("\n", i)).trim());
      }
    }
    lineStart = text.endsWith("\n");
  }
  return { times, names: names.filter((n) => n.startsWith("image_generation.")) };
}

async function relayRows(mock) {
  const mf = new Miniflare(miniflareOptions({ ...defaultBindings(mock.url) }));
  try {
    const worker = String(await mf.ready).replace(/\/$/, "");
    const token = devToken(USER);
    const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const put = await fetch(`${worker}/v1/keys/openai?validate=false`, { method: "PUT", headers: auth, body: JSON.stringify({ apiKey: RELAY_KEY }) });
    if (put.status !== 200) throw new Error(`PUT key: ${put.status} ${await put.text()}`);
    const rows = [];
    for (const gap of RELAY_GAPS_MS) rows.push(await relayRow(mock, worker, auth, gap));
    return rows;
  } finally {
    await mf.dispose();
  }
}

async function relayRow(mock, worker, auth, gapMs) {
  await mock.script(RELAY_KEY, { after: { stream: { eventDelayMs: gapMs, previewBytes: PREVIEW_BYTES } } });
  const partials = 2;
  const body = { model: MODEL, prompt: PROMPT, stream: true, partial_images: partials };
  const paths = {
    direct: () => eventTimes(`${mock.url}/v1/images/generations`, { method: "POST", headers: { authorization: `Bearer ${RELAY_KEY}`, "content-type": "application/json" }, body: JSON.stringify(body) }),
    worker: () => eventTimes(`${worker}/v1/images/generations`, { method: "POST", headers: auth, body: JSON.stringify({ ...body, model: `openai/${MODEL}` }) }),
  };
  const samples = { direct: [], worker: [] };
  for (let round = 0; round < WARMUP + RELAY_ROUNDS; round++) {
    for (const name of round % 2 ? ["direct", "worker"] : ["worker", "direct"]) {
      const r = await paths[name]();
      if (r.times.length !== partials + 1) throw new Error(`${name}: ${r.times.length} events (${r.names.join(", ")})`);
      if (round >= WARMUP) samples[name].push(r.times);
    }
  }
  const perEvent = (list) => Array.from({ length: partials + 1 }, (_, i) => median(list.map((t) => t[i])));
  return { eventGapMs: gapMs, runs: samples.direct.length, events: ["preview 1", "preview 2", "final image"], direct: perEvent(samples.direct), worker: perEvent(samples.worker) };
}

const IMAGE_CHARS = smoke ? 0 : 1_500_000;
const mock = await startMockProcess({ imageBytes: IMAGE_CHARS });
const results = {};
try {
  await mock.script(KEY, { after: { stream: { previewBytes: PREVIEW_BYTES } } });
  results.previewBytes = PREVIEW_BYTES;
  results.imageChars = IMAGE_CHARS;
  results.clients = await clientRows(mock.url);
  results.memory = await memoryRow(mock);
  results.relay = await relayRows(mock);
} finally {
  await mock.close();
}
console.log(JSON.stringify(results, null, 2));
if (!smoke) {
  for (const n of PREVIEW_COUNTS) {
    const c = results.clients[n];
    console.error(
      `${n} previews: imagegen/openai first preview ${fmt(c.imagegen.firstPreviewMs / c.openai.firstPreviewMs)}, final ${fmt(c.imagegen.finalMs / c.openai.finalMs)}`,
    );
  }
  console.error(`memory: +${results.memory.wasmGrowthBytes} bytes`);
  for (const r of results.relay) console.error(`relay, ${r.eventGapMs} ms gaps, worker/direct: ${r.worker.map((w, i) => fmt(w / r.direct[i])).join(", ")}`);
}
