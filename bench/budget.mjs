// Monthly budget benchmark: what the hold and the settle in the user's Durable
// Object (two calls to it per generation) cost per request, against the build
// before them, both in workerd (Miniflare) on this machine against the mock
// provider (child process).
//   "budget"   the Worker in worker/build/ with a monthly budget (hold, run
//              under the granted cap, settle)
//   "ledger"   the same Worker without a budget (hold and settle only keep the
//              month's ledger)
//   "before"   a build of the Worker before the ledger, given with --base
//              <its worker/build directory>; make it with
//              `git archive <commit> | tar -x -C DIR` and
//              `bash scripts/build-worker.sh` there.
// The three run interleaved, in rounds, one Worker each, same requests.
// Usage: node bench/budget.mjs --base DIR [--smoke] [--write]
//   --write: replaces the section "### Monthly budget" of bench/RESULTS.md.
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
  console.error("usage: node bench/budget.mjs --base <worker/build before the ledger> [--smoke] [--write]");
  process.exit(2);
}
const LEVELS = smoke ? [1, 4] : [1, 16];
const ROUNDS = smoke ? 1 : 5;
const REQUESTS = smoke ? 8 : 40;
const KINDS = ["budget", "ledger", "before"];

function options(kind, bindings) {
  const opts = miniflareOptions(bindings);
  return kind === "before" ? { ...opts, ...buildModules(base) } : opts;
}

async function start(kind, mockUrl) {
  const bindings = { ...defaultBindings(mockUrl), RATE_LIMIT_PER_MINUTE: "100000" };
  if (kind === "budget") bindings.MONTHLY_BUDGET_USD = "1000000";
  const before = new Set(workerdPids());
  const mf = new Miniflare(options(kind, bindings));
  const url = String(await mf.ready).replace(/\/$/, "");
  const pid = workerdPids().find((p) => !before.has(p));
  const w = { mf, url, pid, kind, token: devToken(`budget-bench-${kind}`) };
  await call(w, "PUT", "/v1/keys/openai?validate=false", { apiKey: "sk-bench-budget-000000000000000" });
  await call(w, "PUT", "/v1/config", { providers: [{ provider: "openai", model: "gpt-image-2" }] });
  await pool(10, 2, () => call(w, "POST", "/v1/images/generations", { prompt: "budget bench", n: 1 }));
  return w;
}

async function call(w, method, pathname, body) {
  const t0 = performance.now();
  const r = await fetch(w.url + pathname, {
    method,
    headers: { authorization: `Bearer ${w.token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`${w.kind} ${pathname}: HTTP ${r.status} ${text.slice(0, 200)}`);
  return performance.now() - t0;
}

/** `REQUESTS` generations at concurrency `c`: latencies, and workerd CPU ms. */
async function batch(w, c) {
  const lat = [];
  const cpu0 = processCpuMs(w.pid);
  await pool(REQUESTS, c, async () => {
    lat.push(await call(w, "POST", "/v1/images/generations", { prompt: "budget bench", n: 1 }));
  });
  return { lat, cpuMs: processCpuMs(w.pid) - cpu0 };
}

const mock = await startMockProcess({});
const workers = {};
const acc = {};
try {
  for (const k of KINDS) workers[k] = await start(k, mock.url);
  for (const c of LEVELS) {
    acc[c] = Object.fromEntries(KINDS.map((k) => [k, { lat: [], cpuMs: 0, n: 0 }]));
    for (let round = 0; round < ROUNDS; round++) {
      // A different first Worker each round.
      const order = KINDS.map((_, i) => KINDS[(i + round) % KINDS.length]);
      for (const k of order) {
        const b = await batch(workers[k], c);
        acc[c][k].lat.push(...b.lat);
        acc[c][k].cpuMs += b.cpuMs;
        acc[c][k].n += b.lat.length;
      }
    }
  }
  // The budget Worker's ledger must hold what it ran: a check that the hold was there.
  const u = await fetch(`${workers.budget.url}/v1/usage`, { headers: { authorization: `Bearer ${workers.budget.token}` } });
  const usage = await u.json();
  if (!(usage.spent_usd > 0) || usage.held_usd !== 0) throw new Error(`budget ledger: ${JSON.stringify(usage)}`);
} finally {
  for (const w of Object.values(workers)) await w.mf.dispose();
  await mock.close();
}

const results = { requests: REQUESTS * ROUNDS, levels: LEVELS, rows: {} };
for (const c of LEVELS) {
  results.rows[c] = Object.fromEntries(
    KINDS.map((k) => [k, { p50Ms: percentile(acc[c][k].lat, 50), cpuMsPerRequest: acc[c][k].cpuMs / acc[c][k].n }]),
  );
}
console.log(JSON.stringify(results, null, 2));

function report(r) {
  const rows = [];
  for (const c of r.levels) {
    const x = r.rows[c];
    for (const k of ["budget", "ledger"]) {
      rows.push(
        `| ${k === "budget" ? "with a budget" : "no budget (ledger only)"} | ${c} | ${x[k].p50Ms.toFixed(1)} | ${x.before.p50Ms.toFixed(1)} | ` +
          `${(x[k].p50Ms / x.before.p50Ms).toFixed(2)} | ${x[k].cpuMsPerRequest.toFixed(2)} | ${x.before.cpuMsPerRequest.toFixed(2)} | ` +
          `${(x[k].cpuMsPerRequest / x.before.cpuMsPerRequest).toFixed(2)} |`,
      );
    }
  }
  return [
    "### Monthly budget: a hold and a settle in the Durable Object per generation",
    "",
    `\`node bench/budget.mjs --base <build>\`: generations through the Worker with a monthly budget, the same Worker without one (the hold and the settle still keep the month's ledger), and the build before the ledger, interleaved in ${ROUNDS} rounds, ${r.requests} requests per row and Worker, all in workerd via Miniflare with local storage, OpenAI (gpt-image-2) answered by the mock provider as a child process.`,
    "",
    "| Worker | concurrency | p50 (ms) | p50 before (ms) | / before | CPU/req (ms) | CPU/req before (ms) | CPU / before |",
    "|---|---|---|---|---|---|---|---|",
    ...rows,
    "",
    "Both are two more calls to the user's object per generation (the rate limit already makes one). Locally the object is in-process; in production each call goes to the object's location, so the added latency there is two round trips to it, which these ratios do not show.",
    "",
  ].join("\n");
}
if (process.argv.includes("--write")) writeSection("### Monthly budget", report(results));
