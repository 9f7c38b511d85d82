//! `Idempotency-Key` on `POST /v1/images/generations` and `/v1/images/edits`:
//! a repeated key (per user, same body) returns the stored result instead of
//! paying again; a concurrent duplicate gets 409; the same key with another
//! body gets 422.
//! A result that cannot be stored (over KV's value limit, or KV failing) is
//! still returned, and the key is marked done: a repeat gets 410 instead of
//! paying again.
//!
//! Records live in KV under `idem:#<user hash>:<key hash>` as
//! `{"state": "pending" | "done", "fp": <body SHA-256>, "at": <ms>, "body"?}`.

use crate::error::ApiError;

/// How long a pending idempotency marker blocks duplicates.
const PENDING_MS: f64 = 10.0 * 60.0 * 1000.0;
/// How long a finished result is replayed.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
const TTL_S: u64 = 24 * 60 * 60;
/// Largest record stored: KV's value limit (25 MiB), less room for the
/// record's own fields.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
const MAX_RECORD_BYTES: usize = 25 * 1024 * 1024 - 4096;
/// The header, and the `param` of its errors.
const HEADER: &str = "Idempotency-Key";

/// KV name of an idempotency record (`key_hash`: SHA-256 hex of the
/// `Idempotency-Key`).
pub fn kv_name(user_hash: &str, key_hash: &str) -> String {
    format!("idem:#{user_hash}:{key_hash}")
}

/// The key, trimmed, if it is 1 to 255 visible ASCII characters.
pub fn check_key(key: &str) -> Result<&str, ApiError> {
    let key = key.trim();
    if key.is_empty() || key.len() > 255 || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            HEADER,
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        ));
    }
    Ok(key)
}

/// What a stored record means for a new request with the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Replay the stored result.
    Replay,
    /// Run the request (no record, or a stale pending marker).
    Run,
}

/// Decides from a stored record's state, body fingerprint and time (and
/// whether it holds a result) what to do now.
pub fn decide(
    state: &str,
    stored_fp: &str,
    at_ms: f64,
    has_body: bool,
    fp: &str,
    now_ms: f64,
) -> Result<Seen, ApiError> {
    if stored_fp != fp {
        return Err(reused());
    }
    match (state, has_body) {
        ("done", true) => Ok(Seen::Replay),
        ("done", false) => Err(result_not_kept()),
        ("pending", _) if now_ms - at_ms < PENDING_MS => Err(in_use()),
        _ => Ok(Seen::Run),
    }
}

/// The JSON of a record without a body (`pending`, or `done` when the
/// result could not be kept).
pub fn marker(state: &str, fp: &str, at: f64) -> String {
    serde_json::json!({"state": state, "fp": fp, "at": at as u64}).to_string()
}

fn reused() -> ApiError {
    let mut e = ApiError::invalid(
        HEADER,
        "this Idempotency-Key was used with a different request body",
    );
    e.status = 422;
    e.code = "idempotency_key_reused".into();
    e
}

fn in_use() -> ApiError {
    let mut e = ApiError::new(
        409,
        "idempotency_key_in_use",
        "a request with this Idempotency-Key is still being processed; retry later",
    );
    e.param = Some(HEADER.into());
    e.retryable = Some(true);
    e.retry_after_s = Some(1);
    e
}

fn result_not_kept() -> ApiError {
    let mut e = ApiError::new(
        410,
        "idempotency_result_not_kept",
        "the request with this Idempotency-Key succeeded and its images were returned then, \
         but the result was too large to keep for replay; it is not generated (or billed) again. \
         Use a new Idempotency-Key to generate again",
    );
    e.param = Some(HEADER.into());
    e.retryable = Some(false);
    e
}

#[cfg(target_arch = "wasm32")]
pub use kv::{begin, run, Begun, Claim};

#[cfg(target_arch = "wasm32")]
mod kv {
    use super::*;
    use crate::auth::User;
    use crate::platform::{self, Kv};
    use crate::respond::{json_response, stringify};
    use js_sys::JsString;
    use std::future::Future;
    use wasm_bindgen::{JsCast, JsValue};

    thread_local! {
        // Idempotency keys being processed by this isolate.
        static IN_FLIGHT: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
    }

    /// An idempotency record as read back from KV (`body`, the response
    /// object, stays a JS value: images are never copied into wasm memory).
    #[derive(serde::Deserialize)]
    struct Record {
        state: String,
        fp: String,
        at: f64,
        #[serde(default)]
        body: Option<JsBody>,
    }

    /// A JS value carried through serde untouched (images stay JS strings).
    #[derive(serde::Deserialize)]
    struct JsBody(#[serde(with = "serde_wasm_bindgen::preserve")] JsValue);

    /// Holds an idempotency key in this isolate's in-flight list until dropped.
    struct InFlight(String);

    impl InFlight {
        /// `None` when another request of this isolate holds the key.
        fn claim(name: &str) -> Option<InFlight> {
            IN_FLIGHT.with(|f| {
                let mut f = f.borrow_mut();
                if f.iter().any(|k| k == name) {
                    None
                } else {
                    f.push(name.to_string());
                    Some(InFlight(name.to_string()))
                }
            })
        }
    }

    impl Drop for InFlight {
        fn drop(&mut self) {
            IN_FLIGHT.with(|f| f.borrow_mut().retain(|k| *k != self.0));
        }
    }

    /// What a request with an `Idempotency-Key` does: replay the stored
    /// response object, or run under the claimed key.
    pub enum Begun {
        /// The stored response object (images as JS strings).
        Replay(JsValue),
        /// Run, then report through the claim.
        Run(Claim),
    }

    /// A key claimed for one run: this isolate holds it and KV marks it
    /// pending until [`Claim::done`] or [`Claim::failed`].
    pub struct Claim {
        store: Kv,
        name: String,
        fp: String,
        now: f64,
        _held: InFlight,
    }

    /// Checks `key` for a request whose body (for an edit, a description
    /// of its form) is `body`: a stored result to replay, 409 / 410 / 422,
    /// or a claim to run under (see the module documentation).
    pub async fn begin(store: &Kv, user: &User, key: &str, body: &[u8]) -> Result<Begun, ApiError> {
        let key = check_key(key)?;
        let name = kv_name(&user.hash, &platform::sha256_hex(key.as_bytes()).await?);
        let fp = platform::sha256_hex(body).await?;
        let Some(held) = InFlight::claim(&name) else {
            return Err(in_use());
        };
        let existing: Option<Record> = match store.get_json(&name).await? {
            Some(v) => serde_wasm_bindgen::from_value(v).ok(),
            None => None,
        };
        let now = js_sys::Date::now();
        if let Some(rec) = existing {
            let seen = decide(&rec.state, &rec.fp, rec.at, rec.body.is_some(), &fp, now)?;
            if let (Seen::Replay, Some(JsBody(obj))) = (seen, rec.body) {
                return Ok(Begun::Replay(obj));
            }
        }
        store
            .put(
                &name,
                &marker("pending", &fp, now).into(),
                Some((PENDING_MS / 1000.0) as u64),
            )
            .await?;
        Ok(Begun::Run(Claim {
            store: store.clone(),
            name,
            fp,
            now,
            _held: held,
        }))
    }

    impl Claim {
        /// The run produced `obj` (paid for: nothing may lose it): stores it
        /// for replay, or marks the key done; the response's JSON text.
        pub async fn done(self, obj: &JsValue) -> Result<JsValue, ApiError> {
            let text = stringify(obj)?;
            keep(&self.store, &self.name, &self.fp, self.now, &text).await;
            Ok(text)
        }

        /// Nothing was produced: a retry with the same key may run again.
        pub async fn failed(self) {
            let _ = self.store.delete(&self.name).await;
        }
    }

    /// Runs `generate` under `key` (see the module documentation); `body`
    /// is the request body (for an edit, a description of its form),
    /// fingerprinted.
    pub async fn run(
        store: &Kv,
        user: &User,
        key: &str,
        body: &[u8],
        generate: impl Future<Output = Result<JsValue, ApiError>>,
    ) -> Result<web_sys::Response, ApiError> {
        let claim = match begin(store, user, key, body).await? {
            Begun::Replay(obj) => {
                return json_response(
                    200,
                    &stringify(&obj)?,
                    &[("idempotent-replayed", "true".to_string())],
                )
            }
            Begun::Run(claim) => claim,
        };
        match generate.await {
            Ok(obj) => json_response(200, &claim.done(&obj).await?, &[]),
            Err(e) => {
                claim.failed().await;
                Err(e)
            }
        }
    }

    /// Stores the result for replay, or, when it cannot be kept, marks the
    /// key done.
    async fn keep(store: &Kv, name: &str, fp: &str, now: f64, text: &JsValue) {
        let text_js: JsString = text.clone().unchecked_into();
        let record = JsString::from(format!(
            r#"{{"state":"done","fp":"{fp}","at":{},"body":"#,
            now as u64
        ))
        .concat(&text_js)
        .concat(&"}".into());
        let stored = platform::utf8_fits(&record, MAX_RECORD_BYTES)
            && store.put(name, &record.into(), Some(TTL_S)).await.is_ok();
        if !stored
            && store
                .put(name, &marker("done", fp, now).into(), Some(TTL_S))
                .await
                .is_err()
        {
            platform::console_warn(
                "an idempotency key could not be marked done; a repeat gets 409 until its marker expires",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_keys() {
        let h = "a".repeat(64);
        assert!(kv_name(&h, &h).len() < crate::keystore::MAX_KV_NAME_BYTES);
        assert_eq!(check_key(" k-1 "), Ok("k-1"));
        assert_eq!(check_key("").unwrap_err().param.as_deref(), Some(HEADER));
        assert!(check_key(&"k".repeat(256)).is_err());
        assert!(check_key("a b").is_err());
    }

    #[test]
    fn decisions() {
        let code = |r: Result<Seen, ApiError>| r.map_err(|e| (e.status, e.code));
        assert_eq!(
            code(decide("done", "f", 0.0, true, "f", 1.0)),
            Ok(Seen::Replay)
        );
        assert_eq!(
            code(decide("done", "f", 0.0, true, "g", 1.0)),
            Err((422, "idempotency_key_reused".into()))
        );
        assert_eq!(
            code(decide("done", "f", 0.0, false, "f", 1.0)),
            Err((410, "idempotency_result_not_kept".into()))
        );
        assert_eq!(
            code(decide("pending", "f", 0.0, false, "f", PENDING_MS - 1.0)),
            Err((409, "idempotency_key_in_use".into()))
        );
        assert_eq!(
            code(decide("pending", "f", 0.0, false, "f", PENDING_MS)),
            Ok(Seen::Run)
        );
        let m: serde_json::Value = serde_json::from_str(&marker("pending", "f", 12.7)).unwrap();
        assert_eq!(
            m,
            serde_json::json!({"state": "pending", "fp": "f", "at": 12})
        );
    }
}
