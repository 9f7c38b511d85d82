//! A KV namespace binding. Every failure is [`StorageUnavailable`], which
//! `?` turns into the 503 response.

use super::call_method;
use crate::error::StorageUnavailable;
use js_sys::{Object, Reflect};
use wasm_bindgen::JsValue;

/// A KV namespace.
#[derive(Clone)]
pub struct Kv(pub(super) JsValue);

impl Kv {
    async fn call(&self, method: &str, args: &[JsValue]) -> Result<JsValue, StorageUnavailable> {
        call_method(&self.0, method, args)
            .await
            .map_err(|_| StorageUnavailable)
    }

    /// The value as text; `None` when absent.
    pub async fn get_text(&self, name: &str) -> Result<Option<String>, StorageUnavailable> {
        Ok(self.call("get", &[name.into()]).await?.as_string())
    }

    /// The value parsed as JSON by the runtime (large strings stay JS
    /// strings); `None` when absent.
    pub async fn get_json(&self, name: &str) -> Result<Option<JsValue>, StorageUnavailable> {
        let v = self.call("get", &[name.into(), "json".into()]).await?;
        Ok(Some(v).filter(|v| !v.is_null() && !v.is_undefined()))
    }

    /// Stores a value, expiring after `ttl_s` seconds if given.
    pub async fn put(
        &self,
        name: &str,
        value: &JsValue,
        ttl_s: Option<u64>,
    ) -> Result<(), StorageUnavailable> {
        let options = Object::new();
        if let Some(ttl) = ttl_s {
            Reflect::set(
                &options,
                &"expirationTtl".into(),
                &JsValue::from_f64(ttl as f64),
            )
            .map_err(|_| StorageUnavailable)?;
        }
        self.call("put", &[name.into(), value.clone(), options.into()])
            .await?;
        Ok(())
    }

    /// Deletes a value (no error when it is absent).
    pub async fn delete(&self, name: &str) -> Result<(), StorageUnavailable> {
        self.call("delete", &[name.into()]).await?;
        Ok(())
    }
}
