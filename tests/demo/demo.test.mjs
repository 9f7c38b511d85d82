// The README's main command, run as a user would: `bash scripts/demo.sh --once` must
// finish and leave nothing running, and Ctrl-C (SIGINT) on a running demo must stop
// everything it started (mock provider server, `wrangler dev` + workerd, the web app's
// next-server). Every process the demo starts inherits a marker variable, so "nothing
// left" means: no process on this machine carries the marker afterwards.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync, existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** A port nobody listens on now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// The demo's ports (defaults 18931, 8787, 3000) are chosen free, so another run on the
// machine cannot confuse this one.
const PORTS = { mock: await freePort(), worker: await freePort(), web: await freePort() };

/** Pids of live processes whose environment holds MARK=value. */
function marked(value) {
  const needle = `IMAGEGEN_DEMO_MARK=${value}`;
  const found = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, "latin1").split("\0");
      if (env.includes(needle)) {
        const cmd = readFileSync(`/proc/${entry}/cmdline`, "latin1").split("\0").join(" ").trim();
        // A zombie has an empty command line and holds nothing.
        if (cmd) found.push(`${entry}: ${cmd.slice(0, 120)}`);
      }
    } catch {
      // The process ended while we looked, or is not ours to read.
    }
  }
  return found;
}

function portInUse(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function until(what, check, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`timed out: ${what}`);
}

function startDemo(args, mark) {
  const child = spawn("bash", ["scripts/demo.sh", ...args], {
    cwd: ROOT,
    env: {
      ...process.env,
      IMAGEGEN_DEMO_MARK: mark,
      IMAGEGEN_DEMO_MOCK_PORT: String(PORTS.mock),
      IMAGEGEN_DEMO_WORKER_PORT: String(PORTS.worker),
      IMAGEGEN_DEMO_WEB_PORT: String(PORTS.web),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  return { child, exited, output: () => output };
}

async function assertNothingLeft(mark, output) {
  // TERM is sent to every group; give the processes a moment to exit.
  await until(`no demo process alive (still: ${marked(mark).join("; ")})`, () => marked(mark).length === 0, 20_000).catch((e) => {
    throw new Error(`${e.message}\n--- demo output (tail) ---\n${output().slice(-3000)}`);
  });
  for (const port of Object.values(PORTS)) assert.equal(await portInUse(port), false, `port ${port} is still taken`);
}

test("prerequisite: the demo's ports are free", async () => {
  for (const port of Object.values(PORTS)) assert.equal(await portInUse(port), false, `port ${port} is taken before the demo starts`);
});

test("demo.sh --once runs every demonstration and leaves no process behind", { timeout: 20 * 60_000 }, async () => {
  const mark = randomUUID();
  const demo = startDemo(["--once"], mark);
  const { code } = await demo.exited;
  assert.equal(code, 0, `demo.sh --once failed:\n${demo.output().slice(-4000)}`);
  const out = demo.output();
  assert.ok(out.includes(`listening on http://127.0.0.1:${PORTS.worker}`), "the Worker ran");
  assert.match(out, /"b64_json"/, "the curl session generated images through the Worker");
  assert.ok(out.includes(`open http://127.0.0.1:${PORTS.web}`), "the web app ran");
  assert.ok(existsSync(path.join(ROOT, "out")) && readdirSync(path.join(ROOT, "out")).length > 0, "the Node demo wrote images");
  await assertNothingLeft(mark, demo.output);
});

test("Ctrl-C on a running demo stops everything it started", { timeout: 20 * 60_000 }, async () => {
  const mark = randomUUID();
  const demo = startDemo([], mark);
  await until("the demo to be up", () => demo.output().includes("Ctrl-C stops everything"), 15 * 60_000).catch((e) => {
    demo.child.kill("SIGKILL");
    throw new Error(`${e.message}\n${demo.output().slice(-4000)}`);
  });
  assert.ok(marked(mark).length >= 3, `the demo's servers run: ${marked(mark).join("; ")}`);
  demo.child.kill("SIGINT");
  const { code, signal } = await demo.exited;
  assert.ok(code === 130 || signal === "SIGINT", `exit after Ctrl-C: code ${code}, signal ${signal}`);
  await assertNothingLeft(mark, demo.output);
});
