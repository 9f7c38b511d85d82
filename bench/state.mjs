// Per-user state benchmark: what the Durable Object (USER_STATE) costs per
// request against the KV path it replaced, both in workerd (Miniflare) on this
// machine against the mock provider (child process).
//   "DO"  the Worker in worker/build/ (idempotency records and the rate limit in
//         the user's Durable Object)
//   "KV"  a build of the Worker before the object (idempotency records in KV, the
//         rate limit per isolate), given with --base <its worker/build directory>;
//         make it with `git archive <commit> | tar -x -C DIR` and
//         `bash scripts/build-worker.sh` there.
// Three kinds of request per Worker and result size: without Idempotency-Key
// (the rate limit only), with a new key each time (claim, run, store), and a
// replay of a stored key. Small results (1x1 image) stay in the object; large
// ones (one 900 KB image, 1.2 MB of JSON) go to R2 (DO) or KV (KV).
// Usage: node bench/state.mjs --base DIR [--smoke] [--write]
//   --write: replaces the section "### Per-user state" of bench/RESULTS.md.
import fs from "node:fs";
import path from "node:path";
import { Miniflare } from "miniflare";
import { defaultBindings, devToken, miniflareOptions } from "../tests/worker/helpers.mjs";
import { buildModules, percentile, pool, processCpuMs, startMockProcess, workerdPids, writeSection } from "./lib.mjs";

const arg = (name) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const smoke = process.argv.includes("--smoke");
const base = arg("--base");
if (!base || !fs.existsSync(path.join(base, "index.js"))) {
  console.error("usage: node bench/state.mjs --base <worker/build of the KV version> [--smoke] [--write]");
  process.exit(2);
}
const LEVELS = smoke ? [1, 4] : [1, 16];
const REQUESTS = smoke ? 8 : 150;
const SIZES = { small: 0, large: 900_000 };

function options(kind, bindings) {
  const opts = miniflareOptions(bindings);
  return kind === "DO" ? opts : { ...opts, ...buildModules(base), durableObjects: {} };
}

async function start(kind, bindings) {
  const before = new Set(workerdPids());
  const mf = new Miniflare(options(kind, bindings));
  const url = String(await mf.ready).replace(/\/$/, "");
  const pid = workerdPids().find((p) => !before.has(p));
  return { mf, url, pid, kind };
}

async function call(url, token, method, pathname, body, headers = {}) {
  const t0 = performance.now();
  const r = await fetch(url + pathname, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (r.status === 409 && headers["idempotency-key"]) return null;
  if (r.status !== 200) throw new Error(`${pathname}: HTTP ${r.status} ${text.slice(0, 200)}`);
  return performance.now() - t0;
}

/**
 * One level: `REQUESTS` requests of `kind` at concurrency `c`; p50 ms and workerd CPU ms per
 * request answered 200, and how many got 409 (the KV build refuses concurrent replays of one
 * key within an isolate).
 */
async function level(w, token, kind, c, n) {
  const lat = [];
  let busy = 0;
  const cpu0 = processCpuMs(w.pid);
  await pool(REQUESTS, c, async () => {
    const i = n.next++;
    const headers = kind === "none" ? {} : { "idempotency-key": kind === "new" ? `k-${i}` : "replayed" };
    const ms = await call(w.url, token, "POST", "/v1/images/generations", { prompt: "state bench", n: 1 }, headers).catch((e) => {
      throw new Error(`${w.kind} ${kind} c=${c}: ${e.message}`);
    });
    if (ms === null) busy++;
    else lat.push(ms);
  });
  return { p50Ms: percentile(lat, 50), cpuMsPerRequest: (processCpuMs(w.pid) - cpu0) / (lat.length + busy), busy };
}

async function measure(kind, mockUrl) {
  const w = await start(kind, { ...defaultBindings(mockUrl), RATE_LIMIT_PER_MINUTE: "100000" });
  const token = devToken(`state-bench-${kind}`);
  try {
    await call(w.url, token, "PUT", "/v1/keys/openai?validate=false", { apiKey: "sk-bench-state-0000000000000000" });
    await call(w.url, token, "PUT", "/v1/config", { providers: [{ provider: "openai", model: "gpt-image-1.5" }] }); // a model every build and the mock know
    const n = { next: 0 };
    // Warm up, and store the key that "replay" repeats.
    await pool(10, 2, () => call(w.url, token, "POST", "/v1/images/generations", { prompt: "state bench", n: 1 }));
    await call(w.url, token, "POST", "/v1/images/generations", { prompt: "state bench", n: 1 }, { "idempotency-key": "replayed" });
    const out = {};
    for (const k of ["none", "new", "replay"]) {
      out[k] = {};
      for (const c of LEVELS) out[k][c] = await level(w, token, k, c, n);
    }
    return out;
  } finally {
    await w.mf.dispose();
  }
}

const results = { requests: REQUESTS, levels: LEVELS };
for (const [size, imageBytes] of Object.entries(SIZES)) {
  const mock = await startMockProcess(imageBytes ? { imageBytes } : {});
  try {
    results[size] = { DO: await measure("DO", mock.url), KV: await measure("KV", mock.url) };
  } finally {
    await mock.close();
  }
}
console.log(JSON.stringify(results, null, 2));

const LABEL = { none: "no key (rate limit only)", new: "new key (claim, run, store)", replay: "replay" };
function report(r) {
  const rows = [];
  for (const size of Object.keys(SIZES)) {
    for (const k of Object.keys(LABEL)) {
      for (const c of r.levels) {
        const d = r[size].DO[k][c];
        const v = r[size].KV[k][c];
        rows.push(
          `| ${size} | ${LABEL[k]} | ${c} | ${d.p50Ms.toFixed(1)} | ${v.p50Ms.toFixed(1)} | ${(d.p50Ms / v.p50Ms).toFixed(2)} | ` +
            `${d.cpuMsPerRequest.toFixed(2)} | ${v.cpuMsPerRequest.toFixed(2)} | ${(d.cpuMsPerRequest / v.cpuMsPerRequest).toFixed(2)} | ${d.busy} / ${v.busy} |`,
        );
      }
    }
  }
  return [
    "### Per-user state: Durable Object vs KV (idempotent requests)",
    "",
    "`node bench/state.mjs --base <build>`: the Worker with its per-user Durable Object (idempotency records and the rate limit there) against the build before it (records in KV, the rate limit per isolate), both in workerd via Miniflare, local storage, the mock provider as a child process. " +
      `${r.requests} requests per row. "small": a 1x1 image (the record stays in the object); "large": one 900 KB image (1.2 MB of JSON: over the object's 1 MiB, so the record goes to R2; in KV it is one value).`,
    "",
    "| result | request | concurrency | p50 DO (ms) | p50 KV (ms) | DO / KV | CPU/req DO (ms) | CPU/req KV (ms) | CPU DO / KV | 409 DO / KV |",
    "|---|---|---|---|---|---|---|---|---|---|",
    ...rows,
    "",
    "409: replays refused because the same key was being read at that moment (the KV build holds a key in its isolate while it reads the record, so concurrent replays of one key collide; the object answers them all); p50 is over the 200s, CPU over all requests, so the replay rows at concurrency 16 compare full replays (DO) with mostly quick refusals (KV). A large replay reads R2 (DO) instead of one KV value. All of one user's requests go through one object, one at a time where they touch storage: the cost grows with one user's concurrency, not with the number of users.",
    "",
    "Locally both stores are in-process (Miniflare's SQLite files); in production a KV write is eventually consistent and a Durable Object call goes to the object's location, so these ratios show the Worker's own cost of the change, not network latency.",
    "",
  ].join("\n");
}
if (process.argv.includes("--write")) writeSection("### Per-user state", report(results));
