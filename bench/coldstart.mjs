// Cold start of Worker builds side by side: the Worker in worker/build/, any
// number of other builds (--base DIR, repeatable: e.g. an older commit's
// worker/build, made with `git archive <commit> | tar -x -C DIR` and
// `bash scripts/build-worker.sh` there), and the plain-JS Worker of
// bench/js-worker. Each run starts a new workerd (Miniflare) and sends one
// generation; the builds take turns in a new random order each run, so load on
// the machine hits all alike. Wall times are medians, CPU (the workerd
// process's user+system time) means.
// Usage: node bench/coldstart.mjs [--base DIR]... [--runs N] [--smoke]
import fs from "node:fs";
import path from "node:path";
import { Miniflare } from "miniflare";
import { defaultBindings, devToken, kvConfigName, kvKeyName, miniflareOptions } from "../tests/worker/helpers.mjs";
import { buildModules, jsWorkerOptions, mean, median, processCpuMs, ROOT, startMockProcess, workerdPids } from "./lib.mjs";

const smoke = process.argv.includes("--smoke");
const runsArg = process.argv.indexOf("--runs");
const RUNS = smoke ? 1 : runsArg > 0 ? Number(process.argv[runsArg + 1]) : 21;
const bases = process.argv.flatMap((a, i) => (a === "--base" ? [process.argv[i + 1]] : []));
for (const b of bases) {
  if (!fs.existsSync(path.join(b, "index.js"))) {
    console.error(`no Worker build in ${b}`);
    process.exit(2);
  }
}
const USER = "bench-cold";
const token = devToken(USER);

/** A Rust Worker build's options: its two modules, no Durable Object (the JS Worker has none). */
function rustOptions(dir, bindings) {
  const opts = { ...miniflareOptions(bindings), durableObjects: {} };
  return dir === null ? opts : { ...opts, ...buildModules(dir) };
}

async function post(url) {
  const t0 = performance.now();
  const r = await fetch(`${url}/v1/images/generations`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ prompt: "a lighthouse", n: 1 }),
  });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${text.slice(0, 200)}`);
  return performance.now() - t0;
}

const mock = await startMockProcess({});
const bindings = { ...defaultBindings(mock.url) };
delete bindings.RETRY_BUDGET_MIN_RETRIES;
const kinds = [
  { name: "worker/build", options: (b) => rustOptions(null, b), rust: true },
  ...bases.map((dir) => ({ name: dir, options: (b) => rustOptions(dir, b), rust: true })),
  { name: "js", options: jsWorkerOptions, rust: false },
];
const out = Object.fromEntries(kinds.map((k) => [k.name, []]));
try {
  // The encrypted key record, as the Rust Worker stores it (all builds read the same format).
  let record;
  {
    const mf = new Miniflare(rustOptions(null, bindings));
    const url = String(await mf.ready).replace(/\/$/, "");
    const put = await fetch(`${url}/v1/keys/openai?validate=false`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ apiKey: "sk-bench-cold-00000000000000000000" }),
    });
    if (put.status !== 200) throw new Error(`PUT key: ${put.status}`);
    record = await (await mf.getKVNamespace("KEYS")).get(kvKeyName(USER, "openai"));
    await mf.dispose();
  }
  for (let i = 0; i < RUNS; i++) {
    const order = [...kinds].sort(() => Math.random() - 0.5);
    for (const k of order) {
      const before = new Set(workerdPids());
      const t0 = performance.now();
      const mf = new Miniflare(k.options(bindings));
      const url = String(await mf.ready).replace(/\/$/, "");
      const readyMs = performance.now() - t0;
      const pid = workerdPids().find((p) => !before.has(p));
      const readyCpuMs = processCpuMs(pid);
      const kv = await mf.getKVNamespace("KEYS");
      await kv.put(kvKeyName(USER, "openai"), record);
      if (k.rust) await kv.put(kvConfigName(USER), JSON.stringify({ providers: [{ provider: "openai", model: "gpt-image-1.5" }], defaults: {} }));
      const cpu0 = processCpuMs(pid);
      const firstRequestMs = await post(url);
      const firstCpuMs = processCpuMs(pid) - cpu0;
      await mf.dispose();
      out[k.name].push({ readyMs, readyCpuMs, firstRequestMs, firstCpuMs });
    }
  }
} finally {
  await mock.close();
}
const js = out.js;
const summary = (list) => ({
  readyMs: median(list.map((r) => r.readyMs)),
  readyCpuMs: mean(list.map((r) => r.readyCpuMs)),
  firstRequestMs: median(list.map((r) => r.firstRequestMs)),
  firstCpuMs: mean(list.map((r) => r.firstCpuMs)),
});
const jsSum = summary(js);
const rows = kinds.map((k) => {
  const s = summary(out[k.name]);
  const wasm = k.rust ? fs.statSync(path.join(k.name === "worker/build" ? path.join(ROOT, "worker/build") : k.name, "index_bg.wasm")).size : 0;
  return {
    build: k.name,
    wasmKB: Math.round(wasm / 1024),
    ...Object.fromEntries(Object.entries(s).map(([key, v]) => [key, Math.round(v)])),
    readyVsJs: Number((s.readyMs / jsSum.readyMs).toFixed(2)),
    readyCpuVsJs: Number((s.readyCpuMs / jsSum.readyCpuMs).toFixed(2)),
    firstVsJs: Number((s.firstRequestMs / jsSum.firstRequestMs).toFixed(2)),
  };
});
console.log(JSON.stringify({ runs: RUNS, rows }, null, 2));
