//! Base64 image payloads that stay where they are.
//!
//! Natively an image is a Rust `String`. On wasm it is the JS string the
//! platform's `JSON.parse` produced: serde-wasm-bindgen's `preserve` hands the
//! very same JS value through deserialization and back out on serialization,
//! so megabytes of base64 never get copied into wasm linear memory.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Base64 image data (no `data:` prefix).
#[cfg(not(target_arch = "wasm32"))]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ImageData(String);

/// Base64 image data (no `data:` prefix), held as a JS string.
#[cfg(target_arch = "wasm32")]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ImageData(#[serde(with = "serde_wasm_bindgen::preserve")] js_sys::JsString);

impl ImageData {
    /// Image data made in Rust (the mock provider, binary responses).
    pub fn from_string(s: String) -> Self {
        #[cfg(not(target_arch = "wasm32"))]
        {
            ImageData(s)
        }
        #[cfg(target_arch = "wasm32")]
        {
            ImageData(js_sys::JsString::from(s.as_str()))
        }
    }

    /// Length in characters (UTF-16 units on wasm; base64 is ASCII so both agree).
    pub fn len(&self) -> usize {
        #[cfg(not(target_arch = "wasm32"))]
        {
            self.0.len()
        }
        #[cfg(target_arch = "wasm32")]
        {
            self.0.length() as usize
        }
    }

    /// True for an empty payload.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The data as a Rust string. On wasm this copies it into wasm memory: for
    /// tests and small payloads only.
    pub fn to_rust_string(&self) -> String {
        #[cfg(not(target_arch = "wasm32"))]
        {
            self.0.clone()
        }
        #[cfg(target_arch = "wasm32")]
        {
            String::from(&self.0)
        }
    }

    /// The JS string itself.
    #[cfg(target_arch = "wasm32")]
    pub fn as_js(&self) -> &js_sys::JsString {
        &self.0
    }
}

impl fmt::Debug for ImageData {
    // Printing the payload would copy megabytes (and flood logs): print its size.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} base64 chars>", self.len())
    }
}
