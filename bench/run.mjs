// Runs the client, edit, previews and Worker benchmarks in one go, prints a table of ratios
// (measured side by side in this run), and with --write stores it in
// bench/RESULTS.md with the date and machine facts.
//   node bench/run.mjs [--smoke] [--write]
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { editsSection } from "./edits-report.mjs";
import { linksSection } from "./links-report.mjs";
import { previewsSection } from "./previews-report.mjs";
import { fmt, ROOT, table } from "./lib.mjs";

const smoke = process.argv.includes("--smoke");
const write = process.argv.includes("--write");

function run(script, extra = []) {
  const args = [...extra, path.join(ROOT, "bench", script), ...(smoke ? ["--smoke"] : [])];
  const out = execFileSync(process.execPath, args, { cwd: path.join(ROOT, "bench"), encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 64 << 20 });
  return JSON.parse(out.slice(out.indexOf("{")));
}

const gzipSize = (file) => Number(execFileSync("sh", ["-c", `gzip -9c '${file}' | wc -c`], { encoding: "utf8" }).trim());
const rawSize = (file) => readFileSync(file).length;

const client = run("client.mjs", ["--expose-gc"]);
const edits = run("edits.mjs");
const previews = run("previews.mjs");
const worker = run("worker.mjs");
const links = run("links.mjs");

const check = (ok) => (ok ? "✅" : "❌");
const lines = [];
const t = client.throughput;
lines.push("### Client (Node): imagegen vs direct fetch + JSON.parse vs Vercel AI SDK\n");
lines.push(
  table(
    ["images", "wall direct (ms)", "wall imagegen (ms)", "wall AI SDK (ms)", "wall imagegen / direct", "wall imagegen / AI SDK", "CPU/img direct (ms)", "CPU/img imagegen (ms)", "CPU/img AI SDK (ms)", "CPU imagegen / direct", "CPU imagegen / AI SDK"],
    [1, 8].map((n) => {
      const d = t[n].direct;
      const i = t[n].imagegen;
      const a = t[n].aisdk;
      const rw = i.wallMs / d.wallMs;
      const ra = i.wallMs / a.wallMs;
      const cd = i.cpuMsPerImage / d.cpuMsPerImage;
      const ca = i.cpuMsPerImage / a.cpuMsPerImage;
      return [
        n, fmt(d.wallMs), fmt(i.wallMs), fmt(a.wallMs),
        `${fmt(rw)} ${check(rw <= 1.05)}`, `${fmt(ra)} ${check(ra <= 0.9)}`,
        fmt(d.cpuMsPerImage), fmt(i.cpuMsPerImage), fmt(a.cpuMsPerImage),
        `${fmt(cd)} ${check(cd <= 1.05)}`, `${fmt(ca)} ${check(ca <= 0.9)}`,
      ];
    }),
  ),
);
lines.push(`\nMedians of ${t[1].direct.runs} interleaved runs per cell; images are ~1.5 MB of base64 each. Targets: wall and CPU ≤ 1.05× direct and ≤ 0.9× AI SDK.\n`);
const m = client.memory;
lines.push(
  `**Memory** after ${m.images} images of ${(m.imageChars / 1e6).toFixed(0)} MB: wasm linear memory grew by **${m.wasmGrowthBytes} bytes** (now ${(m.wasmBytes / 1048576).toFixed(2)} MiB; target ≤ 1 MiB growth ${check(m.wasmGrowthBytes <= 1048576)}); JS heap after GC grew by ${(m.heapGrowthBytesAfterGc / 1048576).toFixed(2)} MiB${m.gcAvailable ? "" : " (no --expose-gc: not collected)"}.\n`,
);
const f = client.faults;
lines.push("**Under faults** (30% of provider responses are 503; one image per request):\n");
lines.push(
  table(
    ["client", "requests", "images delivered", "p50 latency (ms)", "p99 latency (ms)"],
    [
      ["imagegen (3 attempts, jittered backoff, fallback to a 2nd provider)", f.imagegen.requests, f.imagegen.images, fmt(f.imagegen.p50Ms, 0), fmt(f.imagegen.p99Ms, 0)],
      ["AI SDK (default: 2 retries, exponential backoff, no fallback)", f.aisdk.requests, f.aisdk.images, fmt(f.aisdk.p50Ms, 0), fmt(f.aisdk.p99Ms, 0)],
    ],
  ),
);

lines.push("");
lines.push(editsSection(edits));
lines.push("");
lines.push(previewsSection(previews));

lines.push("\n### Worker (workerd via Miniflare): Rust Worker vs plain-JS Worker doing the same work\n");
lines.push(
  table(
    ["concurrency", "req/s Rust", "req/s JS", "throughput Rust / JS", "p50 Rust (ms)", "p50 JS (ms)", "p99 Rust (ms)", "p99 JS (ms)", "CPU/req Rust (ms)", "CPU/req JS (ms)", "CPU Rust / JS", "failed Rust / JS"],
    Object.keys(worker.rust).map((c) => {
      const r = worker.rust[c];
      const j = worker.js[c];
      const tr = r.rps / j.rps;
      const cr = r.cpuMsPerRequest / j.cpuMsPerRequest;
      return [c, fmt(r.rps, 1), fmt(j.rps, 1), `${fmt(tr)} ${check(tr >= 0.9)}`, fmt(r.p50Ms, 1), fmt(j.p50Ms, 1), fmt(r.p99Ms, 1), fmt(j.p99Ms, 1), fmt(r.cpuMsPerRequest), fmt(j.cpuMsPerRequest), `${fmt(cr)} ${check(cr <= 1.2)}`, `${r.failed ?? 0} / ${j.failed ?? 0}`];
    }),
  ),
);
const cs = worker.coldStart;
lines.push(
  `\nCPU is the workerd process's user+system time per request (includes workerd's HTTP handling, same for both). "failed": requests of ${worker.requests ?? "the"} per level that got no 200 (an error status or a dropped connection); rates and CPU are over the others. Targets: throughput ≥ 0.9× JS, CPU ≤ 1.2× JS.\n\n**Cold start** (a new workerd each run, then the first request; ${cs.rust.runs} runs each, Rust and JS alternating; wall times are medians, CPU is the workerd process's user+system time, mean):\n`,
);
const coldRow = (what, key, digits, target) => {
  const ratio = cs.rust[key] / cs.js[key];
  return [what, fmt(cs.rust[key], digits), fmt(cs.js[key], digits), `${fmt(ratio)}${target ? ` ${check(ratio <= target)}` : ""}`];
};
lines.push(
  table(
    ["", "Rust", "JS", "Rust / JS"],
    [
      coldRow("ready (ms)", "readyMs", 0, 1.2),
      coldRow("workerd CPU to ready (ms)", "readyCpuMs", 0, 1.2),
      coldRow("first request (ms)", "firstRequestMs", 0),
      coldRow("workerd CPU, first request (ms)", "firstCpuMs", 0),
    ],
  ),
);
lines.push("\nTarget: ready ≤ 1.2× JS.\n");

lines.push(linksSection(links));

// The budgets of scripts/check-size.sh (read from it, so they cannot drift).
const budgets = readFileSync(path.join(ROOT, "scripts/check-size.sh"), "utf8");
const budget = (file) => Number(budgets.match(new RegExp(`^check ${file.replace(/[./]/g, "\\$&")} (\\d+)`, "m"))?.[1]);
const PKG_LIMIT_KB = budget("pkg/imagegen_bg.wasm");
const WORKER_LIMIT_KB = budget("worker/build/index_bg.wasm");
const pkgWasm = path.join(ROOT, "pkg/imagegen_bg.wasm");
const workerWasm = path.join(ROOT, "worker/build/index_bg.wasm");
lines.push("### Sizes\n");
lines.push(
  table(
    ["artifact", "raw", "gzip", "limit (gzip)"],
    [
      ["npm package wasm", `${(rawSize(pkgWasm) / 1024).toFixed(1)} KB`, `${(gzipSize(pkgWasm) / 1024).toFixed(1)} KB`, `${PKG_LIMIT_KB} KB ${check(gzipSize(pkgWasm) <= PKG_LIMIT_KB * 1024)}`],
      ["Worker wasm", `${(rawSize(workerWasm) / 1024).toFixed(1)} KB`, `${(gzipSize(workerWasm) / 1024).toFixed(1)} KB`, `${WORKER_LIMIT_KB} KB ${check(gzipSize(workerWasm) <= WORKER_LIMIT_KB * 1024)}`],
    ],
  ),
);

const report = lines.join("\n");
console.log(report);
if (write && !smoke) {
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  const rustc = execFileSync("rustc", ["--version"], { encoding: "utf8" }).trim();
  const header = `# Benchmark results\n\nRun on ${new Date().toISOString().slice(0, 10)} with \`node bench/run.mjs --write\` (\`bash bench/run.sh\`): ${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${rustc}. All providers are the mock provider server on 127.0.0.1 in a separate process. Absolute times are not comparable between runs on these machines; the ratios, measured side by side in one run, are the result.\n\n`;
  // The per-user state section is written by bench/state.mjs (it needs a
  // second, older build): kept as it is.
  const old = readFileSync(path.join(ROOT, "bench/RESULTS.md"), "utf8");
  const at = old.indexOf("### Per-user state");
  const kept = at >= 0 ? `\n${old.slice(at).trimEnd()}\n` : "";
  writeFileSync(path.join(ROOT, "bench/RESULTS.md"), header + report + "\n" + kept);
  console.log("\nwrote bench/RESULTS.md");
}
