// A Vite project that installs the packed package: `vite build` served and
// run in Chromium, the dev server in Chromium, and a vitest test that uses
// the mock provider (as the package README suggests for users' own tests).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { build, createServer } from "vite";
import { PROBE, PROBE_OK, exec, launchChromium, probePage, project, serve } from "./helpers.mjs";

const main = `import * as imagegen from "imagegen";
import { probe } from "./probe.mjs";
probe(imagegen).then((r) => { window.__probe = r; }, (e) => { window.__probe = { failed: String(e?.stack ?? e) }; });
`;
const userTest = `import { expect, test } from "vitest";
import * as imagegen from "imagegen";
import { probe } from "../probe.mjs";

test("imagegen with the mock provider", async () => {
  expect(await probe(imagegen)).toEqual(${JSON.stringify(PROBE_OK)});
});
`;

let dir;
let chromium;
before(async () => {
  dir = await project("vite", {
    packageJson: { type: "module" },
    files: {
      "index.html": '<!doctype html><meta charset="utf-8"><title>imagegen</title><script type="module" src="/main.mjs"></script>',
      "main.mjs": main,
      "probe.mjs": PROBE,
      "test/imagegen.test.mjs": userTest,
    },
    tools: ["vitest", "vite"],
  });
  chromium = await launchChromium();
});
after(() => chromium?.close());

test("vite build: the bundle works in Chromium", async () => {
  await build({ root: dir, logLevel: "error", configFile: false });
  const server = await serve(path.join(dir, "dist"));
  try {
    const { result } = await probePage(chromium.browser, `${server.url}/`);
    assert.deepEqual(result, PROBE_OK);
  } finally {
    await server.close();
  }
});

test("vite dev server: the page works in Chromium", async () => {
  const server = await createServer({ root: dir, logLevel: "error", configFile: false, server: { host: "127.0.0.1", port: 0 } });
  await server.listen();
  try {
    const url = server.resolvedUrls.local[0];
    const { result } = await probePage(chromium.browser, url);
    assert.deepEqual(result, PROBE_OK);
  } finally {
    await server.close();
  }
});

test("vitest: a user's test with the mock provider passes", async () => {
  const r = await exec(process.execPath, ["node_modules/vitest/vitest.mjs", "run"], { cwd: dir, env: { ...process.env, CI: "1", NO_COLOR: "1" } });
  assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /1 passed/);
});
