//! The mock's wire: the request its spec builds, the in-process server that
//! answers it ([`MockServer`], a [`Transport`]), and the parser of its
//! answers. The engine calls the mock like every other provider.

use super::render::{generate, output_size};
use super::{injected_failure, warnings, MockSettings, PROVIDER, SPEC};
use crate::http::{HttpRequest, HttpResponse, Method, Transport, TransportError};
use crate::image_data::ImageData;
use crate::model::{Error, ErrorCode, GeneratedImage};
use crate::providers::{decode_success, BuiltRequest, ParseContext};
use crate::request::{ChainEntry, ImageRequest};
use crate::runtime::{Rng, Sleeper};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;

/// What the mock is asked for. Integers only: formatting floats would add
/// kilobytes to the wasm (`failRate` travels as its bits).
#[derive(Serialize, Deserialize, PartialEq)]
struct MockCall {
    model: String,
    prompt: String,
    count: u32,
    width: u32,
    height: u32,
    seed: Option<u32>,
    latency_ms: u64,
    fail_first: u32,
    fail_rate_bits: u64,
    fail_code: ErrorCode,
    retry_after_ms: Option<u64>,
}

impl MockCall {
    fn settings(&self) -> MockSettings {
        MockSettings {
            latency_ms: self.latency_ms,
            fail_first: self.fail_first,
            fail_rate: f64::from_bits(self.fail_rate_bits),
            fail_code: self.fail_code,
            retry_after_ms: self.retry_after_ms,
            max_images_per_call: 1,
        }
    }
}

/// One image the mock made.
#[derive(Serialize, Deserialize)]
struct MockImage {
    base64: String,
    seed: Option<u64>,
}

/// An injected failure, as the mock reports it.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MockFailure {
    code: ErrorCode,
    message: String,
    retry_after_ms: Option<u64>,
    status: Option<u16>,
}

/// The mock's answer: images, or an injected failure.
#[derive(Serialize, Deserialize, Default)]
struct MockReply {
    #[serde(default)]
    images: Vec<MockImage>,
    #[serde(default)]
    error: Option<MockFailure>,
}

/// Builds the request for one call. It always goes to the in-process
/// server (`mock:`), whatever `baseUrl` says: the mock never uses the network.
pub fn build_request(req: &ImageRequest, entry: &ChainEntry) -> BuiltRequest {
    let size = output_size(req);
    let settings = MockSettings::from_params(&entry.params, "params").unwrap_or_default();
    let call = MockCall {
        model: entry.model.clone(),
        prompt: req.prompt.clone(),
        count: req.count,
        width: size.w,
        height: size.h,
        seed: req.seed,
        latency_ms: settings.latency_ms,
        fail_first: settings.fail_first,
        fail_rate_bits: settings.fail_rate.to_bits(),
        fail_code: settings.fail_code,
        retry_after_ms: settings.retry_after_ms,
    };
    let body = serde_json::to_vec(&call).unwrap_or_default();
    BuiltRequest {
        request: HttpRequest::new(Method::Post, format!("{}images", SPEC.default_origin))
            .header("content-type", "application/json")
            .body(body),
        warnings: warnings(req),
    }
}

/// Reads the mock's answer.
pub fn parse_response(
    resp: HttpResponse,
    ctx: &ParseContext<'_>,
) -> Result<Vec<GeneratedImage>, Error> {
    let reply: MockReply = decode_success(&resp, ctx)?;
    if let Some(f) = reply.error {
        let mut e = Error::new(f.code, f.message)
            .with_provider(PROVIDER)
            .with_retry_after(f.retry_after_ms);
        e.status = f.status;
        return Err(e);
    }
    Ok(reply
        .images
        .into_iter()
        .map(|image| GeneratedImage {
            mime_type: "image/svg+xml".into(),
            base64: ImageData::from_string(image.base64),
            provider: PROVIDER,
            model: ctx.entry.model.clone(),
            seed: image.seed,
            revised_prompt: None,
        })
        .collect())
}

/// A transport that answers the mock's requests in process (with the
/// engine's sleeper for `latencyMs` and its RNG for `failRate` and seeds)
/// and passes every other request to `inner`. One per `generateImages`
/// call: `failFirst` counts the calls of this call, per model and settings.
pub struct MockServer<'a, T, S, R> {
    inner: &'a T,
    sleeper: &'a S,
    rng: &'a R,
    /// Calls so far, per model and settings (prompt and count aside).
    calls: RefCell<Vec<(MockCall, u32)>>,
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

    /// Counts a call to the entry with this model and settings; returns its
    /// number (1-based).
    fn count_call(&self, call: &MockCall) -> u32 {
        let key = MockCall {
            model: call.model.clone(),
            prompt: String::new(),
            count: 0,
            width: 0,
            height: 0,
            seed: None,
            ..*call
        };
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
    async fn answer(&self, request: &HttpRequest) -> MockReply {
        let Some(call) = request
            .body
            .as_deref()
            .and_then(|b| serde_json::from_slice::<MockCall>(b).ok())
        else {
            return MockReply::default();
        };
        let settings = call.settings();
        let call_number = self.count_call(&call);
        if settings.latency_ms > 0 {
            self.sleeper.sleep(settings.latency_ms).await;
        }
        let roll = self.rng.next_f64();
        if let Some(e) = injected_failure(&settings, &call.model, call_number, roll) {
            return MockReply {
                images: Vec::new(),
                error: Some(MockFailure {
                    code: e.code,
                    message: e.message,
                    retry_after_ms: e.retry_after_ms,
                    status: e.status,
                }),
            };
        }
        let size = crate::geometry::Size::new(call.width, call.height);
        let images = generate(&call.prompt, size, call.count, call.seed, || {
            self.rng.next_u32()
        });
        MockReply {
            images: images
                .into_iter()
                .map(|(seed, base64)| MockImage {
                    base64,
                    seed: Some(u64::from(seed)),
                })
                .collect(),
            error: None,
        }
    }
}

impl<T: Transport, S: Sleeper, R: Rng> Transport for MockServer<'_, T, S, R> {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        if !request.url.starts_with(SPEC.default_origin) {
            return self.inner.send(request).await;
        }
        let reply = self.answer(&request).await;
        let body = serde_json::to_vec(&reply).unwrap_or_default();
        let headers = vec![("content-type".to_string(), "application/json".to_string())];
        Ok(HttpResponse::new(200, headers, body))
    }
}
