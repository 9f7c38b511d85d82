// The Worker's entry module. workerd (and wrangler's bundler) import the
// wasm as an already compiled module; it is instantiated once per isolate
// (serve.js) and every request goes to the Rust `fetch`. The per-user
// Durable Object class (binding USER_STATE) is exported from here too.
import { serve } from "./serve.js";

export { UserState } from "./state.js";

export default {
  fetch(request, env, ctx) {
    return serve(request, env, ctx);
  },
};
