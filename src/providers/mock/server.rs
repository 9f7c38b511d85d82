//! The mock's wire: the request its spec builds, the in-process server that
//! answers it ([`MockServer`], a [`Transport`]), and the parser of its
//! answers. The engine calls the mock like every other provider.
//!
//! The wire is JSON through the same codec the other providers' bodies use
//! (`serde_json::Value` out, the platform's JSON parser in), so it adds no
//! codec of its own to the wasm.

use super::render::{generate, output_size};
use super::{injected_failure, warnings, MockSettings, PROVIDER, SPEC};
use crate::geometry::Size;
use crate::http::{Body, HttpRequest, HttpResponse, Method, Transport, TransportError};
use crate::image_data::ImageData;
use crate::model::{Error, ErrorCode, GeneratedImage};
use crate::providers::{decode_success, provider_error, BuiltRequest, ParseContext};
use crate::request::{ChainEntry, ImageRequest};
use crate::runtime::{Rng, Sleeper};
use serde_json::{json, Map, Value};
use std::cell::RefCell;

/// What tells mock entries apart: model and params.
type EntryKey = (String, Map<String, Value>);

/// What the mock is asked for, read back from the request body.
struct MockCall {
    model: String,
    prompt: String,
    count: u32,
    size: Size,
    seed: Option<u32>,
    params: Map<String, Value>,
    /// What an edit sent (` · inputs=N mask=yes|no`), so tests can see it.
    note: String,
}

impl MockCall {
    fn read(v: &Value) -> Option<MockCall> {
        let num = |name: &str| v.get(name).and_then(Value::as_u64);
        let small = |name: &str| num(name).and_then(|n| u32::try_from(n).ok());
        Some(MockCall {
            model: v.get("model")?.as_str()?.to_string(),
            prompt: v.get("prompt")?.as_str()?.to_string(),
            count: small("count")?,
            size: Size::new(small("width")?, small("height")?),
            seed: small("seed"),
            params: v.get("params")?.as_object()?.clone(),
            note: v.get("note").and_then(Value::as_str).unwrap_or_default().to_string(),
        })
    }
}

/// Builds the request for one call. It always goes to the in-process
/// server (`mock:`), whatever `baseUrl` says: the mock never uses the network.
pub fn build_request(req: &ImageRequest, entry: &ChainEntry) -> BuiltRequest {
    let size = output_size(req);
    let body = json!({
        "model": entry.model,
        "prompt": req.prompt,
        "count": req.count,
        "width": size.w,
        "height": size.h,
        "seed": req.seed,
        "params": entry.params,
        "note": req.inputs.as_ref().map(|i| {
            let mask = if i.mask.is_some() { "yes" } else { "no" };
            format!(" · inputs={} mask={mask}", i.images.len())
        }),
    });
    BuiltRequest {
        request: HttpRequest::new(Method::Post, format!("{}images", SPEC.default_origin))
            .header("content-type", "application/json")
            .body(body.to_string().into_bytes()),
        warnings: warnings(req),
    }
}

/// Reads the mock's answer: `{"images": [{"seed", "base64"}]}` or
/// `{"error": {"code", "message", "status", "retryAfterMs"}}`.
pub fn parse_response(
    resp: HttpResponse,
    ctx: &ParseContext<'_>,
) -> Result<Vec<GeneratedImage>, Error> {
    let v: Value = decode_success(&resp, ctx)?;
    let bad = || provider_error(ctx, ErrorCode::BadResponse, None, "unreadable mock answer");
    if let Some(f) = v.get("error") {
        let code = f.get("code").and_then(Value::as_str).and_then(ErrorCode::parse);
        let message = f.get("message").and_then(Value::as_str).unwrap_or_default();
        let mut e = Error::new(code.ok_or_else(bad)?, message)
            .with_provider(PROVIDER)
            .with_retry_after(f.get("retryAfterMs").and_then(Value::as_u64));
        e.status = f
            .get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok());
        return Err(e);
    }
    let images = v.get("images").and_then(Value::as_array).ok_or_else(bad)?;
    images
        .iter()
        .map(|image| {
            let base64 = image.get("base64").and_then(Value::as_str).ok_or_else(bad)?;
            Ok(GeneratedImage {
                mime_type: "image/svg+xml".into(),
                base64: ImageData::from_string(base64.to_string()),
                provider: PROVIDER,
                model: ctx.entry.model.clone(),
                seed: image.get("seed").and_then(Value::as_u64),
                revised_prompt: None,
            })
        })
        .collect()
}

/// A transport that answers the mock's requests in process (with the
/// engine's sleeper for `latencyMs` and its RNG for `failRate` and seeds)
/// and passes every other request to `inner`. One per `generateImages`
/// call: `failFirst` counts the calls of this call, per model and settings.
pub struct MockServer<'a, T, S, R> {
    inner: &'a T,
    sleeper: &'a S,
    rng: &'a R,
    /// Calls so far, per model and params.
    calls: RefCell<Vec<(EntryKey, u32)>>,
}

impl<'a, T, S, R> MockServer<'a, T, S, R> {
    /// A server in front of `inner`.
    pub fn new(inner: &'a T, sleeper: &'a S, rng: &'a R) -> Self {
        MockServer {
            inner,
            sleeper,
            rng,
            calls: RefCell::new(Vec::new()),
        }
    }

    /// Counts a call to the entry with this model and params; returns its
    /// number (1-based).
    fn count_call(&self, call: &MockCall) -> u32 {
        let key = (call.model.clone(), call.params.clone());
        let mut calls = self.calls.borrow_mut();
        match calls.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                calls.push((key, 1));
                1
            }
        }
    }
}

impl<T: Transport, S: Sleeper, R: Rng> MockServer<'_, T, S, R> {
    async fn answer(&self, request: &HttpRequest) -> Value {
        let call = request
            .body
            .clone()
            .and_then(|b| Body::Bytes(b).decode_json::<Value>().ok())
            .and_then(|v| MockCall::read(&v));
        let Some(call) = call else {
            return Value::Null;
        };
        let settings = MockSettings::from_params(&call.params, "params").unwrap_or_default();
        let call_number = self.count_call(&call);
        if settings.latency_ms > 0 {
            self.sleeper.sleep(settings.latency_ms).await;
        }
        let roll = self.rng.next_f64();
        if let Some(e) = injected_failure(&settings, &call.model, call_number, roll) {
            return json!({"error": {
                "code": e.code.as_str(),
                "message": e.message,
                "status": e.status,
                "retryAfterMs": e.retry_after_ms,
            }});
        }
        let images: Vec<Value> = generate(&call.prompt, &call.note, call.size, call.count, call.seed, || {
            self.rng.next_u32()
        })
        .into_iter()
        .map(|(seed, base64)| json!({"seed": seed, "base64": base64}))
        .collect();
        json!({ "images": images })
    }
}

impl<T: Transport, S: Sleeper, R: Rng> Transport for MockServer<'_, T, S, R> {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        if !request.url.starts_with(SPEC.default_origin) {
            return self.inner.send(request).await;
        }
        let body = self.answer(&request).await.to_string().into_bytes();
        let headers = vec![("content-type".to_string(), "application/json".to_string())];
        Ok(HttpResponse::new(200, headers, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn calls_survive_the_wire() {
        let v = json!({"model": "m", "prompt": "two\nlines", "count": 3, "width": 1024,
            "height": 576, "seed": null, "params": {"failFirst": 2}});
        let call = MockCall::read(&v).unwrap();
        assert_eq!((call.count, call.size, call.seed), (3, Size::new(1024, 576), None));
        assert_eq!(call.prompt, "two\nlines");
        assert!(MockCall::read(&json!({"model": "m"})).is_none());
    }
}
