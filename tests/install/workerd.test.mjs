// A plain-JS Cloudflare Worker project that installs the packed package:
// bundled by wrangler (which resolves the `workerd` condition and imports the
// wasm as a module), then run in workerd through Miniflare.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { PROBE, PROBE_OK, exec, project } from "./helpers.mjs";

const worker = `import * as imagegen from "imagegen";
import { probe } from "./probe.mjs";

export default {
  async fetch() {
    return Response.json(await probe(imagegen));
  },
};
`;

let dir;
before(async () => {
  dir = await project("workerd", {
    packageJson: { type: "module" },
    files: {
      "src/index.mjs": worker,
      "src/probe.mjs": PROBE,
      "wrangler.toml": 'name = "imagegen-check"\nmain = "src/index.mjs"\ncompatibility_date = "2025-09-01"\n',
    },
    rootTools: ["wrangler", "miniflare"],
  });
});

test("wrangler bundles the workerd entry, and it works in workerd", async () => {
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", NO_COLOR: "1" };
  const built = await exec(
    process.execPath,
    ["node_modules/wrangler/bin/wrangler.js", "deploy", "--dry-run", "--outdir", "dist"],
    { cwd: dir, env },
  );
  assert.equal(built.code, 0, `${built.stdout}${built.stderr}`);
  const bundle = fs.readFileSync(path.join(dir, "dist/index.js"), "utf8");
  assert.match(bundle, /index\.workerd\.mjs/, "wrangler did not pick the workerd entry");
  const wasm = fs.readdirSync(path.join(dir, "dist")).filter((f) => f.endsWith(".wasm"));
  assert.equal(wasm.length, 1, `expected the wasm as one module next to the bundle: ${wasm}`);

  const { Miniflare } = await import(path.join(dir, "node_modules/miniflare/dist/src/index.js"));
  const mf = new Miniflare({
    modules: true,
    scriptPath: path.join(dir, "dist/index.js"),
    modulesRoot: path.join(dir, "dist"),
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2025-09-01",
    cf: false,
  });
  try {
    const res = await mf.dispatchFetch("http://localhost/");
    assert.equal(res.status, 200, await res.clone().text());
    assert.deepEqual(await res.json(), PROBE_OK);
  } finally {
    await mf.dispose();
  }
});
