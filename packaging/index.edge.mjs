// Edge runtimes (Next.js / Vercel Edge): wasm is imported with the `?module` suffix.
import wasm from "./imagegen_bg.wasm?module";
import { initSync } from "./imagegen.js";

initSync({ module: wasm });

export * from "./imagegen.js";
