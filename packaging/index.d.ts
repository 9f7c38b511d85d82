// Types of every runtime entry of "imagegen": the API, without the
// wasm-bindgen initialization functions (each entry initializes itself).
export * from "./imagegen.js";
export * from "./errors.js";
export * from "./providers.js";
