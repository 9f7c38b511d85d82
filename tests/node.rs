//! The wasm-bindgen suites of tests/common, run in Node.js.
#![cfg(target_arch = "wasm32")]

mod common;
