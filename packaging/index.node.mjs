// Node.js: instantiate synchronously from the file next to this one.
import { readFileSync } from "node:fs";
import { initSync } from "./imagegen.js";

initSync({ module: readFileSync(new URL("./imagegen_bg.wasm", import.meta.url)) });

export * from "./imagegen.js";
