//! The store behind links (wasm32): the R2 bucket bound as `IMAGES`, the
//! secret `URL_SIGNING_KEY` and the TTL `URL_TTL_SECONDS`. The bucket calls
//! and the HMAC run in `js/files.js`; bodies stay JS values throughout.
//!
//! ```ignore
//! let files = Files::from_env(&env)?;                  // 500 when not configured
//! let stored = files.put(Body::Base64(&b64), "image/png", None).await?;
//! let url = files.url(origin, &stored.id, stored.expires_at).await?;
//! let object = files.get(&stored.id).await?;          // None: gone or expired
//! ```

use super::{is_id, link_path, message, ttl_setting, SIG_BYTES};
use crate::error::{ApiError, StorageUnavailable};
use crate::platform::{self, get, Env};
use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(module = "/js/files.js")]
extern "C" {
    #[wasm_bindgen(js_name = putObject, catch)]
    fn put_object(
        bucket: &JsValue,
        kind: &str,
        data: &JsValue,
        content_type: &str,
        expires: f64,
        fail_writes: bool,
    ) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_name = getObject, catch)]
    fn get_object(bucket: &JsValue, id: &str, head: bool) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_name = getText, catch)]
    fn get_text(bucket: &JsValue, id: &str) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_name = deleteObject, catch)]
    fn delete_object(bucket: &JsValue, id: &str) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_name = discardBody)]
    fn discard_body(object: &JsValue);
    #[wasm_bindgen(js_name = hmacSign, catch)]
    fn hmac_sign(secret: &str, message: &str) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_name = hmacVerify, catch)]
    fn hmac_verify(secret: &str, message: &str, signature: &Uint8Array)
        -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_name = objectResponse, catch)]
    fn object_response(status: u16, body: &JsValue, headers: &JsValue) -> Result<JsValue, JsValue>;
}

async fn settle(p: Result<Promise, JsValue>) -> Result<JsValue, StorageUnavailable> {
    JsFuture::from(p.map_err(|_| StorageUnavailable)?)
        .await
        .map_err(|_| StorageUnavailable)
}

/// What to store: every variant is a JS value that stays one.
pub enum Body<'a> {
    /// A base64 string (an engine image): decoded to bytes by the platform.
    Base64(&'a JsValue),
    /// A JS string, stored as UTF-8 (e.g. a JSON record too big for KV).
    Text(&'a JsValue),
    /// A `Uint8Array`, `ArrayBuffer`, `Blob` or `ReadableStream`, as it is.
    Bytes(&'a JsValue),
}

impl Body<'_> {
    fn parts(&self) -> (&'static str, &JsValue) {
        match self {
            Body::Base64(v) => ("base64", v),
            Body::Text(v) => ("text", v),
            Body::Bytes(v) => ("bytes", v),
        }
    }
}

/// An object just stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Its new random id (32 lowercase hex characters).
    pub id: String,
    /// Unix seconds after which reads refuse it.
    pub expires_at: u64,
    /// Its ETag, quoted.
    pub etag: String,
}

/// An object read back (its body not read yet).
pub struct FileObject(JsValue);

impl FileObject {
    fn field(&self, name: &str) -> Option<JsValue> {
        get(&self.0, name)
    }
    /// Its `Content-Type`.
    pub fn content_type(&self) -> String {
        self.field("contentType")
            .and_then(|v| v.as_string())
            .unwrap_or_else(|| "application/octet-stream".to_string())
    }
    /// Unix seconds after which it is refused (0 when it has none).
    pub fn expires_at(&self) -> u64 {
        self.field("expires")
            .and_then(|v| v.as_f64())
            .map_or(0, |v| v.max(0.0) as u64)
    }
    /// Its ETag, quoted.
    pub fn etag(&self) -> String {
        self.field("etag")
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    }
    /// Its size in bytes.
    pub fn size(&self) -> u64 {
        self.field("size")
            .and_then(|v| v.as_f64())
            .map_or(0, |v| v.max(0.0) as u64)
    }
    /// Its body, a `ReadableStream` (`None` after a `head` read).
    pub fn body(&self) -> Option<JsValue> {
        self.field("body")
    }
    /// Cancels the body when it will not be sent.
    pub fn discard(&self) {
        discard_body(&self.0);
    }
    /// A response with this object's body (none for `with_body == false`)
    /// and `headers`.
    pub fn response(
        &self,
        status: u16,
        with_body: bool,
        headers: &[(&str, String)],
    ) -> Result<web_sys::Response, ApiError> {
        let body = if with_body { self.body() } else { None };
        if !with_body {
            self.discard();
        }
        let h = platform::obj(
            &headers
                .iter()
                .map(|(k, v)| (*k, JsValue::from_str(v)))
                .collect::<Vec<_>>(),
        );
        object_response(status, &body.unwrap_or(JsValue::NULL), &h)
            .and_then(|r| r.dyn_into())
            .map_err(|_| ApiError::server("could not build the file response"))
    }
}

/// The link store: the `IMAGES` bucket, the signing secret and the TTL.
pub struct Files {
    bucket: JsValue,
    secret: String,
    ttl_s: u64,
    fail_writes: bool,
}

impl Files {
    /// The store from the environment: `IMAGES` (an R2 bucket binding),
    /// `URL_SIGNING_KEY` (at least 32 characters), `URL_TTL_SECONDS`
    /// (default 3600; an unreadable value logs a warning and uses the
    /// default) and the development-only fault switch `FILES_FAIL_WRITES`
    /// (every write fails, for tests). `Err` (500 `links_unavailable`) when
    /// the binding or the secret is missing: callers check this before any
    /// provider is paid.
    pub fn from_env(env: &Env) -> Result<Files, ApiError> {
        let unavailable = |what: &str| {
            ApiError::new(
                500,
                "links_unavailable",
                format!("links are not configured: {what}"),
            )
        };
        let bucket = env
            .binding("IMAGES")
            .ok_or_else(|| unavailable("no R2 bucket bound as IMAGES"))?;
        let secret = env
            .var("URL_SIGNING_KEY")
            .filter(|s| s.len() >= 32)
            .ok_or_else(|| unavailable("URL_SIGNING_KEY is unset or shorter than 32 characters"))?;
        let ttl_s = ttl_setting(env.var("URL_TTL_SECONDS").as_deref()).unwrap_or_else(|msg| {
            platform::console_warn(&msg);
            super::DEFAULT_TTL_S
        });
        let fail_writes = env
            .var("FILES_FAIL_WRITES")
            .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
        Ok(Files {
            bucket,
            secret,
            ttl_s,
            fail_writes,
        })
    }

    /// The link lifetime (`URL_TTL_SECONDS`).
    pub fn ttl_s(&self) -> u64 {
        self.ttl_s
    }

    /// Stores `body` under a new random id with its `content_type`, expiring
    /// `ttl_s` seconds from now (the store's TTL when `None`). Fails with
    /// [`StorageUnavailable`] when the bucket refuses or throws (or the
    /// base64 does not decode); nothing is stored then.
    pub async fn put(
        &self,
        body: Body<'_>,
        content_type: &str,
        ttl_s: Option<u64>,
    ) -> Result<Stored, StorageUnavailable> {
        let expires_at = platform::now_ms() / 1000 + ttl_s.unwrap_or(self.ttl_s);
        let (kind, data) = body.parts();
        let out = settle(put_object(
            &self.bucket,
            kind,
            data,
            content_type,
            expires_at as f64,
            self.fail_writes,
        ))
        .await?;
        let text = |name: &str| get(&out, name).and_then(|v| v.as_string());
        let id = text("id")
            .filter(|id| is_id(id))
            .ok_or(StorageUnavailable)?;
        let etag = text("etag").unwrap_or_default();
        Ok(Stored {
            id,
            expires_at,
            etag,
        })
    }

    /// The signed link's path and query for object `id`, valid until
    /// `expires_at` (unix seconds): `/v1/files/<id>?exp=..&sig=..`.
    pub async fn sign(&self, id: &str, expires_at: u64) -> Result<String, ApiError> {
        let sig = JsFuture::from(
            hmac_sign(&self.secret, &message(id, expires_at))
                .map_err(|_| ApiError::server("HMAC is unavailable"))?,
        )
        .await
        .map_err(|_| ApiError::server("HMAC is unavailable"))?;
        Ok(link_path(id, expires_at, &Uint8Array::new(&sig).to_vec()))
    }

    /// The full link on `origin` (e.g. `https://api.example`, no slash).
    pub async fn url(&self, origin: &str, id: &str, expires_at: u64) -> Result<String, ApiError> {
        Ok(format!("{origin}{}", self.sign(id, expires_at).await?))
    }

    /// Whether `sig` signs (`id`, `exp`); constant-time (WebCrypto).
    pub async fn verify(&self, id: &str, exp: u64, sig: &[u8]) -> bool {
        if sig.len() != SIG_BYTES {
            return false;
        }
        let p = hmac_verify(&self.secret, &message(id, exp), &Uint8Array::from(sig));
        settle(p).await.ok().and_then(|v| v.as_bool()) == Some(true)
    }

    /// Reads object `id` (`head`: its metadata only). `None` when absent,
    /// not an id, or past its own expiry (then it is deleted too).
    pub async fn get(
        &self,
        id: &str,
        head: bool,
    ) -> Result<Option<FileObject>, StorageUnavailable> {
        if !is_id(id) {
            return Ok(None);
        }
        let v = settle(get_object(&self.bucket, id, head)).await?;
        if v.is_null() || v.is_undefined() {
            return Ok(None);
        }
        let object = FileObject(v);
        let now = platform::now_ms() / 1000;
        if object.expires_at() != 0 && object.expires_at() <= now {
            object.discard();
            let _ = self.delete(id).await;
            return Ok(None);
        }
        Ok(Some(object))
    }

    /// Reads object `id`'s body whole as a JS string (records stored with
    /// [`Body::Text`]); `None` when absent. Does not check the expiry.
    pub async fn get_text(&self, id: &str) -> Result<Option<JsValue>, StorageUnavailable> {
        if !is_id(id) {
            return Ok(None);
        }
        let v = settle(get_text(&self.bucket, id)).await?;
        Ok(Some(v).filter(|v| !v.is_null() && !v.is_undefined()))
    }

    /// Deletes object `id` (no error when absent).
    pub async fn delete(&self, id: &str) -> Result<(), StorageUnavailable> {
        settle(delete_object(&self.bucket, id)).await.map(|_| ())
    }
}
