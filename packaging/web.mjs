// "imagegen/web": the API without top-level await; call the default export
// `init()` once (it fetches imagegen_bg.wasm next to this file) before
// anything else, or `initSync({ module })` with the bytes or a compiled module.
export * from "./api.mjs";
export { default, initSync } from "./imagegen.js";
