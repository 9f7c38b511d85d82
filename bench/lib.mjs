// Shared pieces of the benchmarks: the mock provider server in its own
// process (so its CPU is not counted), process CPU of workerd, statistics.
import { spawn, execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Starts tests/mock-server in a child process; images of about `imageBytes` base64 chars. */
export async function startMockProcess({ imageBytes } = {}) {
  const args = [path.join(ROOT, "tests/mock-server/server.mjs"), "--port", "0"];
  if (imageBytes) args.push("--image-bytes", String(imageBytes));
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise((resolve, reject) => {
    let buf = "";
    child.stdout.on("data", (d) => {
      buf += d;
      const m = buf.match(/\{"url":"([^"]+)"\}/);
      if (m) resolve(m[1]);
    });
    child.once("exit", (code) => reject(new Error(`mock server exited (${code})`)));
  });
  return {
    url,
    pid: child.pid,
    async script(key, body) {
      const r = await fetch(`${url}/__mock/script`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ key, ...body }),
      });
      if (r.status !== 200) throw new Error(`script: ${r.status} ${await r.text()}`);
    },
    close: () =>
      new Promise((resolve) => {
        child.once("exit", resolve);
        child.kill("SIGTERM");
      }),
  };
}

/** CPU time (user + system) of a process, in ms, from /proc. */
export function processCpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  const hz = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  return (ticks * 1000) / hz;
}

/** PIDs of the workerd processes this process started (others' workerd on the same machine do not count). */
export function workerdPids() {
  try {
    return execFileSync("pgrep", ["-P", String(process.pid), "-f", "workerd serve"], { encoding: "utf8" }).trim().split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function percentile(values, p) {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export const median = (values) => percentile(values, 50);
export const mean = (values) => values.reduce((a, b) => a + b, 0) / (values.length || 1);

/** Runs `n` tasks with at most `concurrency` at a time. */
export async function pool(n, concurrency, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) {
        const i = next++;
        await fn(i);
      }
    }),
  );
}

export const fmt = (v, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : "–");

/** A markdown table. */
export function table(headers, rows) {
  return [
    `| ${headers.join(" | ")} |`,
    `|${headers.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

/**
 * Miniflare's `modules` for another Worker build (a directory holding its index.js and
 * index_bg.wasm), to run beside the one in worker/build.
 */
export function buildModules(dir) {
  const entry = path.join(dir, "index.js");
  const wasm = path.join(dir, "index_bg.wasm");
  return {
    modules: [
      { type: "ESModule", path: entry, contents: readFileSync(entry, "utf8") },
      { type: "CompiledWasm", path: wasm, contents: readFileSync(wasm) },
    ],
    modulesRoot: dir,
  };
}

/** Replaces the section of bench/RESULTS.md that starts with `heading` (or appends it). */
export function writeSection(heading, section) {
  const file = path.join(ROOT, "bench/RESULTS.md");
  const text = readFileSync(file, "utf8");
  const at = text.indexOf(heading);
  let next;
  if (at >= 0) {
    const after = text.indexOf("\n### ", at + 1);
    next = text.slice(0, at) + section + (after >= 0 ? text.slice(after + 1) : "");
  } else {
    next = `${text.trimEnd()}\n\n${section}`;
  }
  writeFileSync(file, next);
  console.log(`wrote the section "${heading}" to bench/RESULTS.md`);
}

/** Miniflare options of the plain-JS Worker of bench/js-worker, the Rust Worker's baseline. */
export function jsWorkerOptions(bindings) {
  // Its one module listed as the Rust Worker's are (helpers.workerModules).
  const entry = path.join(ROOT, "bench/js-worker/worker.mjs");
  return {
    modules: [{ type: "ESModule", path: entry, contents: readFileSync(entry, "utf8") }],
    compatibilityDate: "2026-04-01",
    cf: false,
    kvNamespaces: ["KEYS"],
    bindings,
    host: "127.0.0.1",
    port: 0,
  };
}
