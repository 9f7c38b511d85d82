// TypeScript projects that install the packed package and type-check an
// application using it with skipLibCheck: false, in the configurations
// applications use: browser (DOM, no Node types), Node.js (no DOM), both.
// fixtures/check.ts has lines marked @ts-expect-error: if the package's types
// did not resolve (or were `any`), those lines would fail the check.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { HERE, exec, project } from "./helpers.mjs";

const base = { target: "ES2022", strict: true, noEmit: true, skipLibCheck: false, noUnusedLocals: true };
const configs = {
  "browser: lib ES2022 + DOM, no @types/node": { ...base, lib: ["ES2022", "DOM"], types: [], module: "ESNext", moduleResolution: "Bundler" },
  "Node.js: lib ES2023 + @types/node, no DOM": { ...base, lib: ["ES2023"], types: ["node"], module: "NodeNext", moduleResolution: "NodeNext" },
  "both: lib ES2022 + DOM + @types/node": { ...base, lib: ["ES2022", "DOM"], types: ["node"], module: "NodeNext", moduleResolution: "NodeNext" },
};

let dir;
before(async () => {
  const files = { "check.ts": fs.readFileSync(path.join(HERE, "fixtures/check.ts"), "utf8") };
  Object.values(configs).forEach((compilerOptions, i) => {
    files[`tsconfig.${i}.json`] = JSON.stringify({ compilerOptions, files: ["check.ts"] }, null, 2);
  });
  dir = await project("typescript", { packageJson: { type: "module" }, files, tools: ["typescript", "@types/node"] });
});

Object.keys(configs).forEach((name, i) => {
  test(`type-checks with skipLibCheck: false, ${name}`, async () => {
    const r = await exec(process.execPath, ["node_modules/typescript/bin/tsc", "-p", `tsconfig.${i}.json`], { cwd: dir });
    assert.equal(r.code, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
  });
});
