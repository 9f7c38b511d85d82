// The Worker's entry module. workerd (and wrangler's bundler) import the
// wasm as an already compiled module; it is instantiated once per isolate
// and every request goes to the Rust `fetch`.
import wasm from "./index_bg.wasm";
import { initSync, fetch as handle, __wbg_reset_state } from "./glue.js";

initSync({ module: wasm });

const internalError = () =>
  new Response(
    JSON.stringify({ error: { message: "internal error", type: "server_error", code: "internal", param: null } }),
    { status: 500, headers: { "content-type": "application/json" } },
  );

export default {
  async fetch(request, env, ctx) {
    try {
      return await handle(request, env, ctx);
    } catch (e) {
      // A trap leaves the instance's memory in an unknown state: start the
      // next request on a fresh one.
      if (e instanceof WebAssembly.RuntimeError) __wbg_reset_state();
      console.error("internal error", e instanceof Error ? e.name : typeof e);
      return internalError();
    }
  },
};
