// Node.js (also Deno and Bun, which match the `node` condition): instantiate
// synchronously from the file next to this one. No top-level await, so
// `require("imagegen")` can load this module on Node.js >= 20.19 / 22.12.
import { readFileSync } from "node:fs";
import { initSync } from "./imagegen.js";

initSync({ module: readFileSync(new URL("./imagegen_bg.wasm", import.meta.url)) });

export * from "./api.mjs";
