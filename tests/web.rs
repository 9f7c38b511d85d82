//! The wasm-bindgen suites of tests/common, run in headless Chromium (real
//! browser fetch: CORS, exposed headers, AbortController).
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod common;
