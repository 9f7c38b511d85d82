// What the packed tarball holds: the license, a README for package users,
// every file package.json points to, no placeholder URLs.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import fs from "node:fs";
import path from "node:path";
import { ROOT, tarball } from "./helpers.mjs";

const run = promisify(execFile);
let files;
const read = async (name) => (await run("tar", ["-xzOf", await tarball(), `package/${name}`], { maxBuffer: 1 << 24 })).stdout;

before(async () => {
  const { stdout } = await run("tar", ["-tzf", await tarball()]);
  files = new Set(stdout.trim().split("\n").map((f) => f.replace(/^package\//, "")));
});

test("ships the MIT license text", async () => {
  assert.ok(files.has("LICENSE"), [...files].join(", "));
  const text = await read("LICENSE");
  assert.match(text, /^MIT License/);
  assert.match(text, /Copyright \(c\) the imagegen authors/);
  assert.match(text, /THE SOFTWARE IS PROVIDED "AS IS"/);
  const pkg = JSON.parse(await read("package.json"));
  assert.equal(pkg.license, "MIT");
});

test("package.json has no placeholder repository, homepage or bugs URL", async () => {
  const text = await read("package.json");
  assert.doesNotMatch(text, /example\.(invalid|com|org)/);
  const pkg = JSON.parse(text);
  // There is no public repository or issue tracker: the fields stay out.
  for (const field of ["repository", "homepage", "bugs"]) assert.equal(pkg[field], undefined, field);
});

test("the crate manifests have no placeholder URL either", () => {
  for (const manifest of ["Cargo.toml", "worker/Cargo.toml"]) {
    const text = fs.readFileSync(path.join(ROOT, manifest), "utf8");
    assert.doesNotMatch(text, /example\.(invalid|com|org)/, manifest);
  }
});

test("every file package.json points to is in the tarball", async () => {
  const pkg = JSON.parse(await read("package.json"));
  const targets = [];
  const walk = (v) => {
    if (typeof v === "string") targets.push(v);
    else if (v && typeof v === "object") Object.values(v).forEach(walk);
  };
  walk(pkg.exports);
  for (const field of ["main", "module", "types", "browser"]) if (pkg[field]) targets.push(pkg[field]);
  assert.ok(targets.length >= 8, targets.join(", "));
  for (const t of targets) assert.ok(files.has(t.replace(/^\.\//, "")), `${t} is not in the tarball`);
});

test("the README is written for package users", async () => {
  const readme = await read("README.md");
  // Not the repository's README: no repository scripts, no links to files that are not shipped.
  assert.doesNotMatch(readme, /scripts\/|bash /);
  for (const [, target] of readme.matchAll(/\]\(([^)#]+)(?:#[^)]*)?\)/g)) {
    if (/^[a-z]+:/.test(target)) continue;
    assert.ok(files.has(target.replace(/^\.\//, "")), `README links ${target}, which is not in the package`);
  }
  for (const needle of [
    "npm install imagegen",
    "Node.js",
    "require(\"imagegen\")",
    "webpack",
    "Vite",
    "Next.js",
    "Cloudflare Workers",
    "imagegen/web",
    "module_or_path",
    "generateImages",
    "onEvent",
    "createClient",
    "validateApiKey",
    "createImageService",
    "ImageGenError",
    "isImageGenError",
    "retryable",
    "provider: \"mock\"",
    "failFirst",
  ]) {
    assert.ok(readme.includes(needle), `README does not mention ${needle}`);
  }
});
