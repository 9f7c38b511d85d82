// Cloudflare Workers / workerd (wrangler sets the `workerd` condition): the
// bundler imports the wasm as a compiled module.
import wasm from "./imagegen_bg.wasm";
import { initSync } from "./imagegen.js";

initSync({ module: wasm });

export * from "./api.mjs";
