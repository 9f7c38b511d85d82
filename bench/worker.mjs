// Worker benchmarks: the Rust Worker's POST /v1/images/generations vs an
// equivalent plain-JavaScript Worker (bench/js-worker/worker.mjs), both in
// workerd (Miniflare) on this machine, against the mock provider (child
// process, ~1.5 MB images): requests/s at concurrency 1, 16, 64, p50/p99
// latency, workerd CPU ms per request, and cold start.
// Usage: node bench/worker.mjs [--smoke]   (prints JSON results)
import { Miniflare } from "miniflare";
import { defaultBindings, devToken, kvConfigName, kvKeyName, miniflareOptions } from "../tests/worker/helpers.mjs";
import { jsWorkerOptions, mean, median, percentile, pool, processCpuMs, startMockProcess, workerdPids } from "./lib.mjs";

const smoke = process.argv.includes("--smoke");
const LEVELS = smoke ? [1, 4] : [1, 16, 64];
const REQUESTS = smoke ? 12 : 400;
const USER = "bench-user";
const API_KEY = "sk-bench-worker-000000000000000000";

/**
 * The Rust Worker, configured as in its end-to-end tests (console output discarded), but
 * without its per-user Durable Object binding, so that it does the JS Worker's work: the rate
 * limit per isolate, no idempotency records, no monthly ledger. What the object costs per
 * request is measured apart (bench/state.mjs, bench/budget.mjs).
 */
const rustOptions = (bindings) => ({ ...miniflareOptions(bindings), durableObjects: {} });

/** Starts a Worker; returns its URL, workerd pid and time to ready. */
async function start(options) {
  const before = new Set(workerdPids());
  const t0 = performance.now();
  const mf = new Miniflare(options);
  const url = String(await mf.ready).replace(/\/$/, "");
  const readyMs = performance.now() - t0;
  const pid = workerdPids().find((p) => !before.has(p));
  return { mf, url, pid, readyMs };
}

async function post(url, token) {
  const t0 = performance.now();
  const r = await fetch(`${url}/v1/images/generations`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ prompt: "a lighthouse", n: 1 }),
  });
  const text = await r.text();
  const ms = performance.now() - t0;
  if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${text.slice(0, 200)}`);
  return ms;
}

async function measure(w, token) {
  const out = {};
  for (const c of LEVELS) {
    await pool(Math.min(20, REQUESTS), Math.min(c, 4), () => post(w.url, token)); // warm up
    const lat = [];
    let failed = 0;
    const cpu0 = processCpuMs(w.pid);
    const t0 = performance.now();
    // A failed request (an error status or a dropped connection) is counted and
    // reported, not fatal: the ratios are over the requests that succeeded.
    await pool(REQUESTS, c, async () => {
      try {
        lat.push(await post(w.url, token));
      } catch {
        failed++;
      }
    });
    const seconds = (performance.now() - t0) / 1000;
    const cpuMs = processCpuMs(w.pid) - cpu0;
    const ok = Math.max(lat.length, 1);
    out[c] = { rps: lat.length / seconds, p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), cpuMsPerRequest: cpuMs / ok, failed };
  }
  return out;
}

const mock = await startMockProcess({ imageBytes: 1_500_000 });
// Production-like: library defaults for the retry budget (the test helpers loosen it).
const bindings = { ...defaultBindings(mock.url) };
delete bindings.RETRY_BUDGET_MIN_RETRIES;
const token = devToken(USER);
const results = {};
try {
  // Rust Worker: store the key and a one-provider chain through its own API.
  const rust = await start(rustOptions(bindings));
  const put = await fetch(`${rust.url}/v1/keys/openai?validate=false`, {
    method: "PUT",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ apiKey: API_KEY }),
  });
  if (put.status !== 200) throw new Error(`PUT key: ${put.status}`);
  await fetch(`${rust.url}/v1/config`, {
    method: "PUT",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ providers: [{ provider: "openai" }] }),
  });
  const record = await (await rust.mf.getKVNamespace("KEYS")).get(kvKeyName(USER, "openai"));
  // The JS Worker reads the very same encrypted record.
  const js = await start(jsWorkerOptions(bindings));
  await (await js.mf.getKVNamespace("KEYS")).put(kvKeyName(USER, "openai"), record);

  // Interleave: measure one, then the other, at each level.
  results.requests = REQUESTS;
  results.rust = await measure(rust, token);
  results.js = await measure(js, token);
  await rust.mf.dispose();
  await js.mf.dispose();

  // Cold start: a fresh workerd each time, then the first request (KV is
  // in-memory per instance, so the key is stored again first). Rust and JS
  // alternate in random order, so load on the machine hits both alike;
  // medians of wall time, means of the workerd process's CPU time.
  const runs = smoke ? 1 : 21;
  const seed = async (kind, w) => {
    await (await w.mf.getKVNamespace("KEYS")).put(kvKeyName(USER, "openai"), record);
    if (kind === "rust") {
      await (await w.mf.getKVNamespace("KEYS")).put(kvConfigName(USER), JSON.stringify({ providers: [{ provider: "openai" }], defaults: {} }));
    }
  };
  const coldOnce = async (kind) => {
    const w = await start(kind === "rust" ? rustOptions(bindings) : jsWorkerOptions(bindings));
    const readyCpuMs = processCpuMs(w.pid);
    await seed(kind, w);
    const cpu0 = processCpuMs(w.pid);
    const firstRequestMs = await post(w.url, token);
    const firstCpuMs = processCpuMs(w.pid) - cpu0;
    await w.mf.dispose();
    return { readyMs: w.readyMs, readyCpuMs, firstRequestMs, firstCpuMs };
  };
  const cold = { rust: [], js: [] };
  for (let i = 0; i < runs; i++) {
    for (const kind of Math.random() < 0.5 ? ["rust", "js"] : ["js", "rust"]) cold[kind].push(await coldOnce(kind));
  }
  const summary = (list) => ({
    readyMs: median(list.map((r) => r.readyMs)),
    readyCpuMs: mean(list.map((r) => r.readyCpuMs)),
    firstRequestMs: median(list.map((r) => r.firstRequestMs)),
    firstCpuMs: mean(list.map((r) => r.firstCpuMs)),
    runs: list.length,
  });
  results.coldStart = { rust: summary(cold.rust), js: summary(cold.js) };
} finally {
  await mock.close();
}
console.log(JSON.stringify(results, null, 2));
