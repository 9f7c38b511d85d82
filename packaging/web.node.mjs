// "imagegen/web" in Node.js, Deno and Bun: `init()` without an argument (or
// with a `file:` URL) reads the wasm file, where wasm-bindgen's own init
// would `fetch` it, which Node.js cannot do for files.
import { readFile } from "node:fs/promises";
import wasmInit, { initSync } from "./imagegen.js";

export * from "./api.mjs";
export { initSync };

const isFileUrl = (value) =>
  (value instanceof URL && value.protocol === "file:") || (typeof value === "string" && value.startsWith("file:"));

export default function init(options) {
  let source = options;
  if (source != null && Object.getPrototypeOf(source) === Object.prototype) source = source.module_or_path;
  if (source == null) source = new URL("./imagegen_bg.wasm", import.meta.url);
  if (isFileUrl(source)) source = readFile(new URL(source));
  return wasmInit({ module_or_path: source });
}
