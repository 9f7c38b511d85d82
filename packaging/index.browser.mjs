// Browsers, Web Workers and bundlers (webpack `web` and `webworker`, Vite,
// the Next.js client): fetch and compile the wasm next to this file once,
// with top-level await, so the exports are ready when the import resolves.
// Without top-level await, import "imagegen/web" and call its `init()`.
import init from "./imagegen.js";

await init({ module_or_path: new URL("./imagegen_bg.wasm", import.meta.url) });

export * from "./api.mjs";
