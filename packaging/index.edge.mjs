// Edge runtimes (Next.js / Vercel Edge): wasm is imported with the `?module`
// suffix. The module comes from another realm there, so wasm-bindgen's
// synchronous `initSync` (which checks `instanceof WebAssembly.Module`)
// refuses it; the async `init` instantiates it (top-level await).
import wasm from "./imagegen_bg.wasm?module";
import init from "./imagegen.js";

await init({ module_or_path: wasm });

export * from "./api.mjs";
