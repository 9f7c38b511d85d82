// Links benchmark: 4 images from the Rust Worker (workerd via Miniflare, local R2) as base64
// in the JSON response vs as signed links ("response_format": "url"), interleaved in one run,
// against the mock provider (child process, ~2 MiB images). Per request: the bytes of the
// response the client must download and parse, and the client's wall time until it holds
// (a) the response parsed and (b) all 4 images' bytes (base64 decoded, or the 4 links fetched
// in parallel).
// Usage: node bench/links.mjs [--smoke]   (prints JSON results)
import { Miniflare } from "miniflare";
import { defaultBindings, devToken, miniflareOptions } from "../tests/worker/helpers.mjs";
import { mean, median, startMockProcess } from "./lib.mjs";

const smoke = process.argv.includes("--smoke");
const ROUNDS = smoke ? 2 : 30;
const WARMUP = smoke ? 1 : 3;
const IMAGES = 4;
// Base64 characters per image (the mock's --image-bytes); ~2 MiB of PNG each.
const IMAGE_CHARS = smoke ? 200_000 : 2_800_000;
const token = devToken("bench-links");

async function post(url, format) {
  const t0 = performance.now();
  const r = await fetch(`${url}/v1/images/generations`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ prompt: "a lighthouse", n: IMAGES, response_format: format }),
  });
  const text = await r.text();
  const body = JSON.parse(text);
  const parsedMs = performance.now() - t0;
  if (r.status !== 200 || body.data?.length !== IMAGES) throw new Error(`HTTP ${r.status}: ${text.slice(0, 200)}`);
  const responseBytes = Buffer.byteLength(text);
  let imageBytes = 0;
  if (format === "b64_json") {
    for (const d of body.data) imageBytes += Buffer.from(d.b64_json, "base64").length;
  } else {
    const sizes = await Promise.all(
      body.data.map(async (d) => {
        const f = await fetch(d.url);
        if (f.status !== 200) throw new Error(`link: HTTP ${f.status}`);
        return (await f.arrayBuffer()).byteLength;
      }),
    );
    imageBytes = sizes.reduce((a, b) => a + b, 0);
  }
  return { responseBytes, parsedMs, imagesMs: performance.now() - t0, imageBytes };
}

const mock = await startMockProcess({ imageBytes: IMAGE_CHARS });
const mf = new Miniflare(miniflareOptions(defaultBindings(mock.url)));
const url = String(await mf.ready).replace(/\/$/, "");
const results = { images: IMAGES, rounds: ROUNDS, formats: {} };
try {
  const send = (path, method, json) =>
    fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(json) });
  if ((await send("/v1/keys/openai?validate=false", "PUT", { apiKey: "sk-bench-links-0000000000000000" })).status !== 200) throw new Error("PUT key");
  if ((await send("/v1/config", "PUT", { providers: [{ provider: "openai" }] })).status !== 200) throw new Error("PUT config");
  const formats = ["b64_json", "url"];
  const samples = Object.fromEntries(formats.map((f) => [f, []]));
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    for (const format of round % 2 ? [...formats].reverse() : formats) {
      const s = await post(url, format);
      if (round >= WARMUP) samples[format].push(s);
    }
  }
  for (const f of formats) {
    const s = samples[f];
    results.formats[f] = {
      responseBytes: median(s.map((x) => x.responseBytes)),
      parsedMs: median(s.map((x) => x.parsedMs)),
      imagesMs: median(s.map((x) => x.imagesMs)),
      imageBytes: mean(s.map((x) => x.imageBytes)),
      runs: s.length,
    };
  }
} finally {
  await mf.dispose();
  await mock.close();
}
console.log(JSON.stringify(results, null, 2));
