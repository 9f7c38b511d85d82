//! `GET /healthz`.

use crate::error::ApiError;
use crate::respond::ok_json;
use crate::settings::Settings;

/// Liveness; with `EXPOSE_MEMORY_STATS`, this isolate's wasm memory (load
/// tests watch it stay flat). Not for production: it tells anyone how
/// busy an isolate is.
pub fn get(settings: &Settings) -> Result<web_sys::Response, ApiError> {
    if settings.expose_memory {
        let pages = core::arch::wasm32::memory_size(0);
        ok_json(&serde_json::json!({"status": "ok", "wasmMemoryBytes": pages * 65536}))
    } else {
        ok_json(&serde_json::json!({"status": "ok"}))
    }
}
