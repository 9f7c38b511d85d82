//! The mock's wire: the request its spec builds, the in-process server that
//! answers it ([`MockServer`], a [`Transport`]), and the parser of its
//! answers. The engine calls the mock like every other provider.
//!
//! The wire is plain text, one field per line, integers only: a JSON
//! codec and float formatting would add tens of kilobytes to the wasm for a
//! conversation that never leaves the process.

use super::render::{generate, output_size, render_svg};
use super::{injected_failure, warnings, MockSettings, PROVIDER, SPEC};
use crate::geometry::Size;
use crate::http::{HttpRequest, HttpResponse, Method, Transport, TransportError};
use crate::image_data::ImageData;
use crate::model::{Error, ErrorCode, GeneratedImage, PreviewImage};
use crate::providers::{provider_error, standard_base64, BuiltRequest, ParseContext};
use crate::sse::StreamDecoder;
use crate::request::{ChainEntry, ImageRequest};
use crate::runtime::{Rng, Sleeper};
use std::cell::RefCell;

/// What the mock is asked for (`failRate` travels as its bits).
#[derive(Debug, Clone, PartialEq)]
struct MockCall {
    model: String,
    count: u32,
    width: u32,
    height: u32,
    seed: Option<u32>,
    latency_ms: u64,
    fail_first: u32,
    fail_rate_bits: u64,
    fail_code: ErrorCode,
    retry_after_ms: Option<u64>,
    /// Previews to stream before the image (`partialImages`).
    partials: u32,
    /// What an edit sent (` · inputs=N mask=yes|no`, one line), so tests can see it.
    note: String,
    /// Last, as it may span lines.
    prompt: String,
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn read_opt(line: &str) -> Option<Option<u64>> {
    if line == "-" {
        Some(None)
    } else {
        line.parse().ok().map(Some)
    }
}

impl MockCall {
    fn encode(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.model,
            self.count,
            self.width,
            self.height,
            opt(self.seed.map(u64::from)),
            self.latency_ms,
            self.fail_first,
            self.fail_rate_bits,
            self.fail_code.as_str(),
            opt(self.retry_after_ms),
            self.partials,
            self.note,
            self.prompt
        )
    }

    fn decode(text: &str) -> Option<MockCall> {
        let mut lines = text.splitn(13, '\n');
        let mut next = || lines.next();
        Some(MockCall {
            model: next()?.to_string(),
            count: next()?.parse().ok()?,
            width: next()?.parse().ok()?,
            height: next()?.parse().ok()?,
            seed: read_opt(next()?)?.and_then(|s| u32::try_from(s).ok()),
            latency_ms: next()?.parse().ok()?,
            fail_first: next()?.parse().ok()?,
            fail_rate_bits: next()?.parse().ok()?,
            fail_code: ErrorCode::parse(next()?)?,
            retry_after_ms: read_opt(next()?)?,
            partials: next()?.parse().ok()?,
            note: next()?.to_string(),
            prompt: next()?.to_string(),
        })
    }

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

/// Previews are a quarter of the image's size (at least 1×1).
fn output_size_of(call: &MockCall) -> Size {
    Size::new((call.width / 4).max(1), (call.height / 4).max(1))
}

/// Builds the request for one call. It always goes to the in-process
/// server (`mock:`), whatever `baseUrl` says: the mock never uses the network.
pub fn build_request(req: &ImageRequest, entry: &ChainEntry) -> BuiltRequest {
    let size = output_size(req);
    let settings = MockSettings::from_params(&entry.params, "params").unwrap_or_default();
    let call = MockCall {
        model: entry.model.clone(),
        count: req.count,
        width: size.w,
        height: size.h,
        seed: req.seed,
        latency_ms: settings.latency_ms,
        fail_first: settings.fail_first,
        fail_rate_bits: settings.fail_rate.to_bits(),
        fail_code: settings.fail_code,
        retry_after_ms: settings.retry_after_ms,
        partials: req.partial_images,
        note: req.inputs.as_ref().map_or(String::new(), |i| {
            let mask = if i.mask.is_some() { "yes" } else { "no" };
            format!(" · inputs={} mask={mask}", i.images.len())
        }),
        prompt: req.prompt.clone(),
    };
    BuiltRequest {
        request: HttpRequest::new(Method::Post, format!("{}images", SPEC.default_origin))
            .header("content-type", "text/plain")
            .body(call.encode().into_bytes()),
        warnings: warnings(req),
        stream: false,
    }
}

/// Reads the mock's answer: `images` then `<seed> <base64>` lines, or
/// `error`, the code, the status, the retry hint and the message.
pub fn parse_response(
    resp: HttpResponse,
    ctx: &ParseContext<'_>,
) -> Result<Vec<GeneratedImage>, Error> {
    let text = resp.body.as_bytes().and_then(|b| std::str::from_utf8(b).ok());
    let bad = || provider_error(ctx, ErrorCode::BadResponse, None, "unreadable mock answer");
    let text = text.ok_or_else(bad)?;
    if let Some(rest) = text.strip_prefix("error\n") {
        let mut lines = rest.splitn(4, '\n');
        let code = lines.next().and_then(ErrorCode::parse).ok_or_else(bad)?;
        let status = lines.next().and_then(read_opt).ok_or_else(bad)?;
        let retry_after_ms = lines.next().and_then(read_opt).ok_or_else(bad)?;
        let mut e = Error::new(code, lines.next().unwrap_or_default())
            .with_provider(PROVIDER)
            .with_retry_after(retry_after_ms);
        e.status = status.and_then(|s| u16::try_from(s).ok());
        return Err(e);
    }
    let rest = text.strip_prefix("images").ok_or_else(bad)?;
    rest.lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (seed, base64) = line.split_once(' ').ok_or_else(bad)?;
            Ok(GeneratedImage {
cost_usd: None,
                mime_type: "image/svg+xml".into(),
                base64: ImageData::from_string(base64.to_string()),
                provider: PROVIDER,
                model: ctx.entry.model.clone(),
                seed: Some(seed.parse().map_err(|_| bad())?),
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
    /// Calls so far, per model and settings (prompt, count and size aside).
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
            count: 0,
            width: 0,
            height: 0,
            seed: None,
            prompt: String::new(),
            note: String::new(),
            partials: 0,
            ..call.clone()
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
    /// Streams `partials` previews spread over the call's latency.
    async fn previews(&self, call: &MockCall, latency_ms: u64, decoder: &StreamDecoder<'_>) {
        let step = latency_ms / (u64::from(call.partials) + 1);
        let size = output_size_of(call);
        let seed = call.seed.unwrap_or(0);
        for k in 0..call.partials {
            if step > 0 {
                self.sleeper.sleep(step).await;
            }
            let svg = render_svg(&format!("preview {}", k + 1), size, seed.wrapping_add(k), "");
            let image = PreviewImage {
                mime_type: "image/svg+xml".into(),
                base64: ImageData::from_string(standard_base64(svg.as_bytes())),
            };
            decoder.preview(k, image);
        }
        let rest = latency_ms - step * u64::from(call.partials);
        if rest > 0 {
            self.sleeper.sleep(rest).await;
        }
    }

    async fn answer(&self, request: &HttpRequest, decoder: Option<&StreamDecoder<'_>>) -> String {
        let call = request
            .body
            .as_deref()
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(MockCall::decode);
        let Some(call) = call else {
            return String::new();
        };
        let settings = call.settings();
        let call_number = self.count_call(&call);
        match decoder {
            Some(d) if call.partials > 0 => self.previews(&call, settings.latency_ms, d).await,
            _ if settings.latency_ms > 0 => self.sleeper.sleep(settings.latency_ms).await,
            _ => {}
        }
        let roll = self.rng.next_f64();
        if let Some(e) = injected_failure(&settings, &call.model, call_number, roll) {
            return format!(
                "error\n{}\n{}\n{}\n{}",
                e.code.as_str(),
                opt(e.status.map(u64::from)),
                opt(e.retry_after_ms),
                e.message
            );
        }
        let size = Size::new(call.width, call.height);
        let mut out = String::from("images");
        for (seed, base64) in generate(&call.prompt, &call.note, size, call.count, call.seed, || {
            self.rng.next_u32()
        }) {
            out.push('\n');
            out.push_str(&seed.to_string());
            out.push(' ');
            out.push_str(&base64);
        }
        out
    }
}

impl<T: Transport, S: Sleeper, R: Rng> Transport for MockServer<'_, T, S, R> {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        if !request.url.starts_with(SPEC.default_origin) {
            return self.inner.send(request).await;
        }
        let body = self.answer(&request, None).await.into_bytes();
        Ok(text_response(body))
    }

    async fn send_stream(
        &self,
        request: HttpRequest,
        decoder: &mut StreamDecoder<'_>,
    ) -> Result<HttpResponse, TransportError> {
        if !request.url.starts_with(SPEC.default_origin) {
            return self.inner.send_stream(request, decoder).await;
        }
        let body = self.answer(&request, Some(decoder)).await.into_bytes();
        Ok(text_response(body))
    }
}

fn text_response(body: Vec<u8>) -> HttpResponse {
    let headers = vec![("content-type".to_string(), "text/plain".to_string())];
    HttpResponse::new(200, headers, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_survive_the_wire() {
        let call = MockCall {
            model: "mock-svg".into(),
            count: 3,
            width: 1024,
            height: 576,
            seed: Some(7),
            latency_ms: 100,
            fail_first: 2,
            fail_rate_bits: 0.25f64.to_bits(),
            fail_code: ErrorCode::RateLimited,
            retry_after_ms: None,
            partials: 3,
            note: " · inputs=2 mask=yes".into(),
            prompt: "two\nlines".into(),
        };
        assert_eq!(MockCall::decode(&call.encode()), Some(call));
        assert_eq!(MockCall::decode("mock-svg\n1"), None);
    }
}
