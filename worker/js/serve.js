// One request through the Rust `fetch`, for the entry module and for a
// job run in the Durable Object (state.js): a trap becomes a 500 and the
// next request starts on a fresh wasm instance.
import wasm from "./index_bg.wasm";
import { initSync, fetch as handle, __wbg_reset_state } from "./glue.js";

initSync({ module: wasm });

const internalError = () =>
  new Response(
    JSON.stringify({ error: { message: "internal error", type: "server_error", code: "internal", param: null } }),
    { status: 500, headers: { "content-type": "application/json" } },
  );

export async function serve(request, env, ctx) {
  try {
    return await handle(request, env, ctx);
  } catch (e) {
    // A trap leaves the instance's memory in an unknown state: start the
    // next request on a fresh one.
    if (e instanceof WebAssembly.RuntimeError) __wbg_reset_state();
    console.error("internal error", e instanceof Error ? e.name : typeof e);
    return internalError();
  }
}
