// A webpack 5 project that installs the packed package and bundles it for
// the `web` target (run in a page) and the `webworker` target (run in a real
// Web Worker), both in headless Chromium.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import webpack from "webpack";
import { PROBE, PROBE_OK, launchChromium, probePage, project, serve } from "./helpers.mjs";

const page = `import * as imagegen from "imagegen";
import { probe } from "./probe.mjs";
probe(imagegen).then((r) => { window.__probe = r; }, (e) => { window.__probe = { failed: String(e?.stack ?? e) }; });
`;
const worker = `import * as imagegen from "imagegen";
import { probe } from "./probe.mjs";
probe(imagegen).then((r) => self.postMessage(r), (e) => self.postMessage({ failed: String(e?.stack ?? e) }));
`;
const html = (body) => `<!doctype html><meta charset="utf-8"><title>imagegen</title><body>${body}</body>`;
// The page only starts the worker; everything is checked inside the worker.
const workerHost = `<script>
const w = new Worker("worker.js");
w.onmessage = (m) => { window.__probe = m.data; };
w.onerror = (e) => { window.__probe = { failed: "worker error: " + e.message }; };
</script>`;

let dir;
let chromium;
before(async () => {
  dir = await project("webpack", {
    packageJson: { type: "module" },
    files: {
      "src/probe.mjs": PROBE,
      "src/page.mjs": page,
      "src/worker.mjs": worker,
      "dist/web/index.html": html('<script src="main.js"></script>'),
      "dist/webworker/index.html": html(workerHost),
    },
  });
  chromium = await launchChromium();
});
after(() => chromium?.close());

function bundle(target, entry, filename) {
  const config = {
    mode: "production",
    context: dir,
    target,
    entry,
    output: { path: path.join(dir, "dist", target), filename },
    performance: { hints: false },
    infrastructureLogging: { level: "error" },
  };
  return new Promise((resolve, reject) => {
    webpack(config, (err, stats) => {
      if (err) return reject(err);
      if (stats.hasErrors()) return reject(new Error(stats.toString({ all: false, errors: true })));
      resolve(stats);
    });
  });
}

for (const [target, entry, filename] of [
  ["web", "./src/page.mjs", "main.js"],
  ["webworker", "./src/worker.mjs", "worker.js"],
]) {
  test(`webpack target "${target}": bundles, and the bundle works in Chromium`, async () => {
    await bundle(target, entry, filename);
    const server = await serve(path.join(dir, "dist", target));
    try {
      const { result } = await probePage(chromium.browser, `${server.url}/`);
      assert.deepEqual(result, PROBE_OK);
    } finally {
      await server.close();
    }
  });
}
