//! The `env` object: variables, secrets and bindings.

use super::kv::Kv;
use super::{call_method, get, obj};
use wasm_bindgen::JsValue;

/// The Worker's `env`: variables, secrets and bindings.
pub struct Env(pub(super) JsValue);

impl Env {
    /// Wraps the `env` object passed to the fetch handler.
    pub fn new(env: JsValue) -> Env {
        Env(env)
    }

    /// A variable or secret, trimmed; `None` when unset or empty.
    pub fn var(&self, name: &str) -> Option<String> {
        get(&self.0, name)
            .and_then(|v| v.as_string())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    /// Any binding (an R2 bucket, ...) as its JS object.
    pub fn binding(&self, name: &str) -> Option<JsValue> {
        get(&self.0, name)
    }

    /// A KV namespace binding.
    pub fn kv(&self, name: &str) -> Option<Kv> {
        get(&self.0, name).map(Kv)
    }

    /// A rate-limiting binding.
    pub fn rate_limiter(&self, name: &str) -> Option<RateLimiter> {
        get(&self.0, name).map(RateLimiter)
    }
}

/// A Workers rate-limiting binding.
pub struct RateLimiter(JsValue);

impl RateLimiter {
    /// Whether one more request under `key` is allowed now.
    pub async fn allow(&self, key: &str) -> Result<bool, JsValue> {
        let arg = obj(&[("key", key.into())]);
        let outcome = call_method(&self.0, "limit", &[arg]).await?;
        Ok(get(&outcome, "success").and_then(|s| s.as_bool()) == Some(true))
    }
}
