//! A key claimed in the user's Durable Object for one run, and the replay
//! of a stored result (wasm32).

use super::*;
use crate::auth::User;
use crate::platform::{self, UserState};
use crate::respond::{json_response, stringify};
use std::future::Future;
use wasm_bindgen::JsValue;

/// What a request with an `Idempotency-Key` does: replay the stored
/// response, or run under the claimed key.
pub enum Begun {
    /// The stored response.
    Replay(Stored),
    /// Run, then report through the claim.
    Run(Claim),
}

/// A stored response: its JSON text, a JS string (images are never copied
/// into wasm memory).
pub struct Stored(JsValue);

impl Stored {
    /// The JSON text, as the response sends it.
    pub fn text(&self) -> &JsValue {
        &self.0
    }

    /// The response object, parsed by the runtime's `JSON.parse`.
    pub fn object(&self) -> Result<JsValue, ApiError> {
        use wasm_bindgen::JsCast;
        let json = js_sys::Reflect::get(&js_sys::global(), &"JSON".into());
        let parse = json
            .as_ref()
            .ok()
            .and_then(|j| js_sys::Reflect::get(j, &"parse".into()).ok())
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        match (json, parse) {
            (Ok(json), Some(parse)) => parse.call1(&json, &self.0).map_err(|_| result_not_kept()),
            _ => Err(result_not_kept()),
        }
    }
}

/// A key claimed for one run: the user's Durable Object marks it pending
/// until [`Claim::done`] or [`Claim::failed`].
pub struct Claim {
    state: UserState,
    name: String,
    r2: String,
    fp: String,
    now: f64,
}

/// Longest result (UTF-16 units; base64 JSON is one byte each) sent to the
/// object to keep: Workers RPC carries at most 32 MiB per call.
const MAX_SENT_UNITS: usize = 24 * 1024 * 1024;

/// A record the object did not let us claim, as it answered.
#[derive(serde::Deserialize)]
struct Answer {
    #[serde(default)]
    claimed: bool,
    #[serde(default)]
    state: String,
    #[serde(default)]
    fp: String,
    #[serde(default)]
    at: f64,
    /// The stored response's JSON text (a JS string, never copied into wasm
    /// memory).
    #[serde(default, with = "serde_wasm_bindgen::preserve")]
    body: JsValue,
}

/// Checks `key` for a request whose body (for an edit, a description of
/// its form) is `body`: a stored result to replay, 409 / 410 / 422, or a
/// claim to run under (see the module documentation). `state` is the
/// user's Durable Object (`None` without the binding: 503).
pub async fn begin(
    state: Option<&UserState>,
    user: &User,
    key: &str,
    body: &[u8],
) -> Result<Begun, ApiError> {
    let key = check_key(key)?;
    let state = state.ok_or(platform::StateUnavailable)?;
    let key_hash = platform::sha256_hex(key.as_bytes()).await?;
    let name = record_name(&key_hash);
    let fp = platform::sha256_hex(body).await?;
    let now = js_sys::Date::now();
    let args = [
        name.as_str().into(),
        fp.as_str().into(),
        now.into(),
        PENDING_MS.into(),
        TTL_MS.into(),
    ];
    let answer = state.call("idemBegin", &args).await?;
    let a: Answer = serde_wasm_bindgen::from_value(answer)
        .map_err(|_| ApiError::from(platform::StateUnavailable))?;
    if a.claimed {
        return Ok(Begun::Run(Claim {
            state: state.clone(),
            name,
            r2: r2_name(&user.hash, &key_hash),
            fp,
            now,
        }));
    }
    let has_body = a.body.is_string();
    match decide(&a.state, &a.fp, a.at, has_body, &fp, now)? {
        Seen::Replay => Ok(Begun::Replay(Stored(a.body))),
        // A record the object kept: someone else holds the key.
        Seen::Run => Err(in_use()),
    }
}

impl Claim {
    /// The run produced `obj` (paid for: nothing may lose it): stores it
    /// for replay, or marks the key done; the response's JSON text.
    pub async fn done(self, obj: &JsValue) -> Result<JsValue, ApiError> {
        use wasm_bindgen::JsCast;
        let text = stringify(obj)?;
        // Over what one call to the object may carry, the key is only
        // marked done (410 on replay).
        let units = text.unchecked_ref::<js_sys::JsString>().length() as usize;
        let kept = if units <= MAX_SENT_UNITS {
            text.clone()
        } else {
            JsValue::UNDEFINED
        };
        let args = [
            self.name.as_str().into(),
            self.fp.as_str().into(),
            self.now.into(),
            kept,
            self.r2.as_str().into(),
            TTL_MS.into(),
        ];
        match self.state.call("idemDone", &args).await {
            Ok(kept) if kept.as_string().as_deref() == Some("none") => platform::console_warn(
                "an idempotency result could not be kept; the key is marked done (410 on replay)",
            ),
            Ok(_) => {}
            Err(_) => platform::console_warn(
                "an idempotency key could not be marked done; a repeat gets 409 until its marker expires",
            ),
        }
        Ok(text)
    }

    /// Nothing was produced: a retry with the same key may run again.
    pub async fn failed(self) {
        let _ = self
            .state
            .call("idemFailed", &[self.name.as_str().into()])
            .await;
    }
}

/// Runs `generate` under `key` (see the module documentation); `body` is
/// the request body (for an edit, a description of its form), fingerprinted.
pub async fn run(
    state: Option<&UserState>,
    user: &User,
    key: &str,
    body: &[u8],
    generate: impl Future<Output = Result<JsValue, ApiError>>,
) -> Result<web_sys::Response, ApiError> {
    let claim = match begin(state, user, key, body).await? {
        Begun::Replay(stored) => {
            return json_response(
                200,
                stored.text(),
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
