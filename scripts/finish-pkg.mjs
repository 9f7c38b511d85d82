// Finishes pkg/ right after wasm-pack (scripts/build-pkg.sh runs both): the
// per-runtime entries (packaging/), the public API module, type declarations
// that compile without DOM or Node types, the package README and license, and
// package.json with conditional exports so `import { generateImages } from
// "imagegen"` works in Node, bundlers, edge runtimes and Workers without a
// manual init.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const pkg = join(root, "pkg");
const read = (file) => readFileSync(join(pkg, file), "utf8");
const write = (file, text) => writeFileSync(join(pkg, file), text);
const fail = (message) => {
  throw new Error(`finish-pkg: ${message} (did the wasm-bindgen output change?)`);
};

const cargo = readFileSync(join(root, "Cargo.toml"), "utf8");
const version = cargo.match(/^version\s*=\s*"([^"]+)"/m)?.[1];
if (!version) throw new Error("no version in Cargo.toml");

// 1. The error class: wasm-bindgen copies packaging/errors.js into
//    snippets/<crate>-<hash>/; the wasm creates its errors with that copy, so
//    the entries must export that very module (one class, for `instanceof`).
const snippets = [];
const walk = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path);
    else if (entry.name === "errors.js") snippets.push(relative(pkg, path));
  }
};
if (existsSync(join(pkg, "snippets"))) walk(join(pkg, "snippets"));
if (snippets.length !== 1) fail(`expected one snippets/**/errors.js, found ${snippets.length}`);
write(
  "errors.js",
  `// The package's error class (the module the wasm code creates its errors with).\nexport { ImageGenError, isImageGenError } from "./${snippets[0]}";\n`,
);

// 2. The public API: every export of the wasm-bindgen module except its
//    initialization functions (the entries initialize it themselves), plus
//    the error class.
const glue = read("imagegen.js");
const names = [...glue.matchAll(/^export (?:async )?(?:function|class|const|let) ([A-Za-z_$][\w$]*)/gm)].map((m) => m[1]);
if (!names.includes("generateImages") || !names.includes("createClient")) fail("API exports not found in imagegen.js");
if (!/^export \{ initSync, __wbg_init as default \};$/m.test(glue)) fail("init exports not found in imagegen.js");
write(
  "api.mjs",
  [
    "// The public API, without the wasm-bindgen initialization functions.",
    `export { ${names.join(", ")} } from "./imagegen.js";`,
    'export { ImageGenError, isImageGenError } from "./errors.js";',
    'export { providers } from "./providers.js";',
    "",
  ].join("\n"),
);

// 2b. The provider table JS needs (names, display names, default models,
//     key variables, model-family prefixes), printed by the Rust table itself
//     (examples/provider_table.rs), as `imagegen/providers` and as `providers`
//     in the main entry; its declarations spell each row out as literal types.
const table = JSON.parse(
  execFileSync("cargo", ["run", "--quiet", "--example", "provider_table"], { cwd: root, encoding: "utf8" }),
);
if (!Array.isArray(table) || !table.some((p) => p.name === "mock")) fail("unexpected provider table");
const literalType = (v) => {
  if (Array.isArray(v)) return `readonly [${v.map(literalType).join(", ")}]`;
  if (v && typeof v === "object") {
    return `{ ${Object.entries(v).map(([k, x]) => `readonly ${k}: ${literalType(x)};`).join(" ")} }`;
  }
  return JSON.stringify(v);
};
write(
  "providers.js",
  [
    "// Generated from the library's provider table (examples/provider_table.rs): do not edit.",
    "const deepFreeze = (v) => (v && typeof v === \"object\" ? Object.freeze(Array.isArray(v) ? v.map(deepFreeze) : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deepFreeze(x)]))) : v);",
    `/** The providers the library can call, in the table's order. */`,
    `export const providers = deepFreeze(${JSON.stringify(table, null, 2)});`,
    "",
  ].join("\n"),
);
write(
  "providers.d.ts",
  [
    "// Generated from the library's provider table (examples/provider_table.rs): do not edit.",
    "/** The providers the library can call, in the table's order: wire name, display name,",
    " * default model, whether a key is needed, the environment variables servers read the key",
    " * and a development base URL from, and the model-id prefixes of each provider's families. */",
    `export declare const providers: readonly [\n${table.map((p) => `  ${literalType(p)},`).join("\n")}\n];`,
    "/** One row of {@link providers}. */",
    "export type ProviderInfo = (typeof providers)[number];",
    "",
  ].join("\n"),
);

// 3. Declarations that compile with skipLibCheck: false in any lib setup
//    (DOM without Node types, Node types without DOM): drop the
//    `[Symbol.dispose]` members (lib esnext.disposable only; the methods
//    exist at run time where the platform has the symbol, and `free()` is
//    declared) and the init declarations, which name DOM-only types;
//    packaging/web.d.ts declares init for `imagegen/web` portably.
let dts = read("imagegen.d.ts");
if (!dts.includes("[Symbol.dispose](): void;")) fail("no [Symbol.dispose] members in imagegen.d.ts");
dts = dts.replace(/^ {4}\[Symbol\.dispose\]\(\): void;\n/gm, "");
const initStart = dts.indexOf("export type InitInput =");
if (initStart < 0 || !dts.includes("export default function __wbg_init")) fail("init declarations not found in imagegen.d.ts");
dts = dts.slice(0, initStart).trimEnd() + "\n";
for (const name of ["Symbol.dispose", "WebAssembly", "RequestInfo", "BufferSource", "ImageGenError extends"]) {
  if (dts.includes(name)) fail(`imagegen.d.ts still mentions ${name}`);
}
write("imagegen.d.ts", dts);

// 4. Entries, declarations, README and license.
for (const file of readdirSync(join(root, "packaging"))) {
  if (/^(index|web)\..*(mjs|cjs|d\.ts)$|^errors\.d\.ts$/.test(file)) copyFileSync(join(root, "packaging", file), join(pkg, file));
}
copyFileSync(join(root, "packaging/README.md"), join(pkg, "README.md"));
copyFileSync(join(root, "LICENSE"), join(pkg, "LICENSE"));

const typed = (file) => ({ types: "./index.d.ts", default: file });
const manifest = {
  name: "imagegen",
  version,
  description:
    "Image generation through OpenAI, Gemini and Stability AI with retries, fallback, progress events and cancellation (Rust + WebAssembly)",
  license: "MIT",
  type: "module",
  sideEffects: ["./index.browser.mjs", "./index.node.mjs", "./index.node.cjs", "./index.workerd.mjs", "./index.edge.mjs"],
  types: "./index.d.ts",
  main: "./index.node.mjs",
  module: "./index.browser.mjs",
  browser: "./index.browser.mjs",
  // The first matching condition wins. No `worker` condition: webpack's
  // `webworker` target sets it (with `browser`), and only the browser entry
  // works there; workerd tooling (wrangler) sets `workerd`.
  exports: {
    ".": {
      "edge-light": typed("./index.edge.mjs"),
      workerd: typed("./index.workerd.mjs"),
      node: {
        require: typed("./index.node.cjs"),
        default: typed("./index.node.mjs"),
      },
      browser: typed("./index.browser.mjs"),
      default: typed("./index.browser.mjs"),
    },
    "./web": {
      types: "./web.d.ts",
      node: "./web.node.mjs",
      default: "./web.mjs",
    },
    "./providers": {
      types: "./providers.d.ts",
      default: "./providers.js",
    },
    "./imagegen_bg.wasm": "./imagegen_bg.wasm",
    "./package.json": "./package.json",
  },
  files: [
    "imagegen.js",
    "imagegen.d.ts",
    "imagegen_bg.wasm",
    "snippets/",
    "api.mjs",
    "errors.js",
    "errors.d.ts",
    "providers.js",
    "providers.d.ts",
    "index.d.ts",
    "index.browser.mjs",
    "index.node.mjs",
    "index.node.cjs",
    "index.workerd.mjs",
    "index.edge.mjs",
    "web.d.ts",
    "web.mjs",
    "web.node.mjs",
    "README.md",
    "LICENSE",
  ],
  engines: { node: ">=18" },
  keywords: ["image-generation", "openai", "gemini", "stability", "wasm", "fallback", "retry"],
};
for (const file of manifest.files) if (!existsSync(join(pkg, file))) fail(`pkg/${file} is missing`);
write("package.json", JSON.stringify(manifest, null, 2) + "\n");
