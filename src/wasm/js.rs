//! Raw bindings to the JS globals the library uses. They resolve the global
//! at call time, so they work in browsers, web workers, Node.js and Workers.

use js_sys::{JsString, Promise};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `JSON.parse(text)` on a JS string, without copying it into wasm memory.
    #[wasm_bindgen(js_namespace = JSON, js_name = parse, catch)]
    pub fn json_parse(text: &JsString) -> Result<JsValue, JsValue>;

    /// The global `fetch` (never `window.fetch`).
    #[wasm_bindgen(js_name = fetch, catch)]
    pub fn global_fetch(request: &web_sys::Request) -> Result<Promise, JsValue>;

    /// `fetch(url, init)` with a plain init object (no Request/Headers objects to build).
    #[wasm_bindgen(js_name = fetch, catch)]
    pub fn global_fetch_with_init(url: &str, init: &JsValue) -> Result<Promise, JsValue>;
}
