// Node.js projects that install the packed package: ESM import, CommonJS
// require (Node.js >= 20.19 / 22.12 load ES modules from require; older
// versions get a message saying what to do), and `imagegen/web` with init().
import { test, before } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { PROBE, PROBE_OK, exec, lastJson, project } from "./helpers.mjs";

let dir;
before(async () => {
  dir = await project("node", {
    packageJson: { type: "module" },
    files: {
      "probe.mjs": PROBE,
      "esm.mjs": [
        'import * as imagegen from "imagegen";',
        'import { probe } from "./probe.mjs";',
        "console.log(JSON.stringify(await probe(imagegen)));",
      ].join("\n"),
      "web.mjs": [
        'import init, * as web from "imagegen/web";',
        'import { probe } from "./probe.mjs";',
        "const output = await init();",
        "const report = await probe(web);",
        'report.memory = output.memory instanceof WebAssembly.Memory;',
        'report.sameAsMain = web.generateImages === (await import("imagegen")).generateImages;',
        "console.log(JSON.stringify(report));",
      ].join("\n"),
      "web-file-url.mjs": [
        'import init, { generateImages } from "imagegen/web";',
        'await init({ module_or_path: new URL("./node_modules/imagegen/imagegen_bg.wasm", import.meta.url) });',
        'const { images } = await generateImages({ prompt: "x", providers: [{ provider: "mock" }] });',
        "console.log(JSON.stringify({ images: images.length }));",
      ].join("\n"),
      "cjs.cjs": [
        '"use strict";',
        'const imagegen = require("imagegen");',
        "(async () => {",
        '  const { probe } = await import("./probe.mjs");',
        "  const report = await probe(imagegen);",
        '  const esm = await import("imagegen");',
        "  report.sameAsImport = esm.generateImages === imagegen.generateImages && esm.ImageGenError === imagegen.ImageGenError;",
        "  console.log(JSON.stringify(report));",
        "})();",
      ].join("\n"),
    },
  });
});

test("ESM: import from \"imagegen\" works without init", async () => {
  const r = await exec(process.execPath, ["esm.mjs"], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(lastJson(r.stdout), PROBE_OK);
});

test("imagegen/web: await init() with no argument reads the wasm file in Node.js", async () => {
  const r = await exec(process.execPath, ["web.mjs"], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(lastJson(r.stdout), { ...PROBE_OK, exportsInitSync: true, memory: true, sameAsMain: true });
});

test("imagegen/web: init({ module_or_path }) with a file: URL reads that file in Node.js", async () => {
  const r = await exec(process.execPath, ["web-file-url.mjs"], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(lastJson(r.stdout), { images: 1 });
});

test("CommonJS: require(\"imagegen\") gives the same module as import", async () => {
  const r = await exec(process.execPath, ["cjs.cjs"], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(lastJson(r.stdout), { ...PROBE_OK, sameAsImport: true });
});

test("CommonJS where require() cannot load ES modules: a clear message", async () => {
  // Node.js < 20.19 (and 22.0-22.11) behave like this flag.
  const r = await exec(process.execPath, ["--no-experimental-require-module", "cjs.cjs"], { cwd: dir });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /imagegen is an ES module/);
  assert.match(r.stderr, /await import\("imagegen"\)/);
  assert.match(r.stderr, /20\.19/);
});

test("the README's example tests with the mock provider pass as written", async () => {
  const readme = fs.readFileSync(path.join(dir, "node_modules/imagegen/README.md"), "utf8");
  const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]).filter((b) => b.includes('from "node:test"'));
  assert.equal(blocks.length, 1, "one node:test example in the README");
  fs.writeFileSync(path.join(dir, "readme-example.test.mjs"), blocks[0]);
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // a test run of its own, reporting to stdout
  const r = await exec(process.execPath, ["--test", "--test-reporter=tap", "readme-example.test.mjs"], { cwd: dir, env });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^# pass 3$/m);
  assert.match(r.stdout, /^# fail 0$/m);
});
