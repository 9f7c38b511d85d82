// A bounded local load test of the Worker in workerd (Miniflare) with the
// mock providers injecting faults: every request must get images or an
// expected typed error; no 5xx may come from the Worker itself; memory of
// the workerd process must stay flat.
//
//   node tests/worker/load.mjs [--requests 1000] [--concurrency 50] [--fault-rate 0.1] [--links]
//
// With --links every request asks for "response_format": "url" and every link
// is fetched (no token) and must serve the provider's exact bytes.
//
// Also imported by load.test.mjs, which runs a reduced size in CI.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { makePngOfSize } from "../mock-server/images.mjs";
import {
  devToken,
  fakeKey,
  scriptKey,
  startMockServer,
  startWorker,
  storeConfig,
  storeKey,
  uid,
} from "./helpers.mjs";

/** Codes a request may legitimately fail with when providers fail. */
export const EXPECTED_CODES = new Set(["provider_error", "timeout", "network", "bad_response", "rate_limited"]);

function workerdPids() {
  try {
    return execFileSync("pgrep", ["-f", "workerd serve"], { encoding: "utf8" }).trim().split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function rssKb(pids) {
  let total = 0;
  for (const pid of pids) {
    try {
      const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/);
      if (m) total += Number(m[1]);
    } catch {
      // process gone
    }
  }
  return total;
}

async function pool(n, concurrency, fn) {
  let next = 0;
  const workers = Array.from({ length: concurrency }, async () => {
    while (next < n) {
      const i = next++;
      await fn(i);
    }
  });
  await Promise.all(workers);
}

/** The image the mock providers answer with under load: labelled, so links are checked byte for byte. */
const LOAD_IMAGE = makePngOfSize(4096, { label: "imagegen load test" });

/** Checks one link: it must serve LOAD_IMAGE with its type; a message when it does not. */
async function checkLink(url) {
  const res = await fetch(url);
  const bytes = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) return `link ${url.slice(0, 60)}… → HTTP ${res.status} ${bytes.toString("utf8").slice(0, 200)}`;
  if (res.headers.get("content-type") !== "image/png") return `link served ${res.headers.get("content-type")}`;
  if (!bytes.equals(LOAD_IMAGE)) return `link served ${bytes.length} bytes that are not the provider's image`;
  return null;
}

export async function runLoad({ requests = 1000, concurrency = 50, faultRate = 0.1, users = 10, rounds = 3, links = false } = {}) {
  const mock = await startMockServer({ imageBase64: LOAD_IMAGE.toString("base64") });
  const pidsBefore = new Set(workerdPids());
  // Production-like engine client settings (library defaults), generous rate limit.
  const worker = await startWorker({
    mockUrl: mock.url,
    bindings: { RETRY_BUDGET_MIN_RETRIES: undefined, RATE_LIMIT_PER_MINUTE: "1000000" },
  });
  const pids = workerdPids().filter((p) => !pidsBefore.has(p));
  try {
    const tokens = [];
    for (let u = 0; u < users; u++) {
      const token = devToken(uid("load"));
      const openai = fakeKey(`load${u}`, "openai");
      const gemini = fakeKey(`load${u}`, "gemini");
      await storeKey(worker, token, "openai", openai);
      await storeKey(worker, token, "gemini", gemini);
      await storeConfig(worker, token, [{ provider: "openai" }, { provider: "gemini" }]);
      for (const key of [openai, gemini]) {
        await scriptKey(mock, key, [], { faultRate, fault: { fixture: key.includes("openai") ? "openai/overloaded" : "gemini/unavailable" }, seed: 1000 + u });
      }
      tokens.push(token);
    }
    // Warm up, then measure memory after a first batch so start-up is not counted.
    const statuses = new Map();
    const codes = new Map();
    const failures = [];
    let images = 0;
    let linksChecked = 0;
    const one = async (i) => {
      const res = await worker.request("/v1/images/generations", {
        method: "POST",
        token: tokens[i % tokens.length],
        json: { prompt: `load ${i}`, n: 1, ...(links ? { response_format: "url" } : {}) },
      });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status === 200) {
        const image = res.json?.data?.[0];
        if (!Array.isArray(res.json?.data) || res.json.data.length !== 1 || !(links ? image.url : image.b64_json)) {
          failures.push(`200 without an image${links ? " link" : ""}: ${res.text.slice(0, 200)}`);
        } else if (links) {
          const problem = await checkLink(image.url);
          if (problem) failures.push(problem);
          else linksChecked++;
        }
        images += res.json?.data?.length ?? 0;
        return;
      }
      const code = res.json?.error?.code;
      codes.set(code, (codes.get(code) ?? 0) + 1);
      if (!EXPECTED_CODES.has(code) || ![429, 502, 504].includes(res.status)) {
        failures.push(`HTTP ${res.status} ${res.text.slice(0, 300)}`);
      }
    };
    await pool(Math.min(100, requests), Math.min(concurrency, 20), one);
    // Rounds of the same load: memory after each round should level off
    // (the first round also grows V8's heaps and caches; later ones must not).
    const wasmMemory = async () => (await worker.request("/healthz")).json.wasmMemoryBytes;
    const rss = [rssKb(pids)];
    const wasm = [await wasmMemory()];
    let seconds = 0;
    for (let round = 0; round < rounds; round++) {
      const started = performance.now();
      await pool(requests, concurrency, one);
      seconds += (performance.now() - started) / 1000;
      rss.push(rssKb(pids));
      wasm.push(await wasmMemory());
    }
    const rssStart = rss[0];
    const rssEnd = rss.at(-1);
    return {
      requests,
      concurrency,
      faultRate,
      rounds,
      seconds,
      throughput: (requests * rounds) / seconds,
      rssMbPerRound: rss.map((kb) => Math.round(kb / 1024)),
      wasmMemoryBytesPerRound: wasm,
      statuses: Object.fromEntries([...statuses].sort()),
      codes: Object.fromEntries(codes),
      images,
      links,
      linksChecked,
      failures,
      rssStartMb: rssStart / 1024,
      rssEndMb: rssEnd / 1024,
      workerdPids: pids.length,
    };
  } finally {
    await worker.close();
    await mock.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name, dflt) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : dflt;
  };
  const r = await runLoad({
    requests: arg("requests", 1000),
    concurrency: arg("concurrency", 50),
    faultRate: arg("fault-rate", 0.1),
    rounds: arg("rounds", 3),
    links: process.argv.includes("--links"),
  });
  console.log(JSON.stringify({ ...r, failures: r.failures.slice(0, 5), failureCount: r.failures.length }, null, 2));
  process.exit(r.failures.length ? 1 : 0);
}
