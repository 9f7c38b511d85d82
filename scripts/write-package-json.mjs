// Writes pkg/package.json: the package name, version from Cargo.toml, and
// conditional exports so `import { generateImages } from "imagegen"` works
// in Node, bundlers, edge runtimes and Workers without a manual init.
import { readFileSync, writeFileSync, copyFileSync } from "node:fs";

const cargo = readFileSync(new URL("../Cargo.toml", import.meta.url), "utf8");
const version = cargo.match(/^version\s*=\s*"([^"]+)"/m)?.[1];
if (!version) throw new Error("no version in Cargo.toml");

const entry = (file) => ({ types: "./index.d.ts", default: file });
const pkg = {
  name: "imagegen",
  version,
  description:
    "Image generation through OpenAI, Gemini and Stability AI with retries, fallback, progress events and cancellation (Rust + WebAssembly)",
  license: "MIT",
  type: "module",
  sideEffects: ["./index.browser.mjs", "./index.node.mjs", "./index.workerd.mjs", "./index.edge.mjs"],
  types: "./index.d.ts",
  main: "./index.node.mjs",
  module: "./index.browser.mjs",
  browser: "./index.browser.mjs",
  // Order matters: the first matching condition wins.
  exports: {
    ".": {
      "edge-light": entry("./index.edge.mjs"),
      workerd: entry("./index.workerd.mjs"),
      worker: entry("./index.workerd.mjs"),
      node: entry("./index.node.mjs"),
      browser: entry("./index.browser.mjs"),
      default: entry("./index.browser.mjs"),
    },
    "./web": { types: "./imagegen.d.ts", default: "./imagegen.js" },
    "./imagegen_bg.wasm": "./imagegen_bg.wasm",
    "./package.json": "./package.json",
  },
  files: [
    "imagegen.js",
    "imagegen.d.ts",
    "imagegen_bg.wasm",
    "imagegen_bg.wasm.d.ts",
    "index.d.ts",
    "index.browser.mjs",
    "index.node.mjs",
    "index.workerd.mjs",
    "index.edge.mjs",
    "README.md",
  ],
  engines: { node: ">=18" },
  keywords: ["image-generation", "openai", "gemini", "stability", "wasm", "fallback", "retry"],
};
writeFileSync(new URL("../pkg/package.json", import.meta.url), JSON.stringify(pkg, null, 2) + "\n");
copyFileSync(new URL("../README.md", import.meta.url), new URL("../pkg/README.md", import.meta.url));
