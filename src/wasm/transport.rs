//! The engine's runtime on wasm: `Transport` over the global `fetch`,
//! `Sleeper` over `setTimeout`, `Clock` over `Date.now()`.

use super::js::global_fetch_with_init;
use crate::http::{Body, HttpRequest, HttpResponse, Transport, TransportError};
use crate::runtime::{Clock, Sleeper, SplitMix64};
use crate::sse::StreamDecoder;
use js_sys::{JsString, Reflect, Uint8Array};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Response};

/// Sends requests with the platform's global `fetch`. Dropping a send
/// aborts the request (timeouts, deadlines and the caller's signal all end
/// in a drop).
#[derive(Debug, Default, Clone, Copy)]
pub struct FetchTransport;

/// Aborts the request when dropped before the response body was read.
struct AbortOnDrop(Option<AbortController>);

impl AbortOnDrop {
    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            c.abort();
        }
    }
}

/// A readable message from a rejected fetch (`TypeError: fetch failed`
/// in Node carries the real reason in `cause`).
fn describe_js_error(e: &JsValue) -> String {
    let field = |v: &JsValue, name: &str| {
        Reflect::get(v, &JsValue::from_str(name))
            .ok()
            .and_then(|m| m.as_string())
    };
    let mut text = field(e, "message")
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "unknown error".to_string());
    if let Ok(cause) = Reflect::get(e, &JsValue::from_str("cause")) {
        if let Some(c) = field(&cause, "message").or_else(|| field(&cause, "code")) {
            text.push_str(" (");
            text.push_str(&c);
            text.push(')');
        }
    }
    text
}

fn is_abort_error(e: &JsValue) -> bool {
    Reflect::get(e, &JsValue::from_str("name"))
        .ok()
        .and_then(|n| n.as_string())
        .is_some_and(|n| n == "AbortError")
}

fn network(e: JsValue) -> TransportError {
    if is_abort_error(&e) {
        TransportError::Aborted
    } else {
        TransportError::Network(describe_js_error(&e))
    }
}

/// The response headers the providers' parsers read (fetching only these is
/// cheaper than iterating all of them across the JS boundary).
fn response_headers(resp: &Response) -> Vec<(String, String)> {
    let headers = resp.headers();
    // The headers some provider's parser reads, from the provider table.
    crate::providers::response_headers()
        .into_iter()
        .filter_map(|name| {
            headers
                .get(name)
                .ok()
                .flatten()
                .map(|v| (name.to_string(), v))
        })
        .collect()
}

#[wasm_bindgen(module = "/src/wasm/sse.js")]
extern "C" {
    /// Splits a response's event stream into parsed events, in JS.
    type SseReader;

    #[wasm_bindgen(constructor)]
    fn new(response: &Response) -> SseReader;

    /// The next `{event, data}` (or `{done}`, `{malformed}`), or null at the end.
    #[wasm_bindgen(method)]
    fn next(this: &SseReader) -> js_sys::Promise;

    #[wasm_bindgen(method)]
    fn close(this: &SseReader);
}

fn field(v: &JsValue, name: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// Reads an event stream event by event into `decoder`, until it yields the
/// response. The guard stays armed while reading: dropping the future (a
/// timeout, the deadline, the caller's signal) aborts the fetch, which also
/// breaks the body being read.
async fn read_stream(
    resp: &Response,
    decoder: &mut StreamDecoder<'_>,
) -> Result<HttpResponse, TransportError> {
    let reader = SseReader::new(resp);
    loop {
        let event = JsFuture::from(reader.next()).await.map_err(network)?;
        if event.is_null() || field(&event, "done").is_truthy() {
            return Err(decoder.ended());
        }
        if field(&event, "malformed").is_truthy() {
            reader.close();
            return Ok(decoder.malformed());
        }
        let name = field(&event, "event").as_string();
        if let Some(response) = decoder.event(name.as_deref(), field(&event, "data")) {
            reader.close();
            return Ok(response);
        }
    }
}

impl Transport for FetchTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let (resp, mut guard) = start(request).await?;
        let response = read_whole(resp).await?;
        guard.disarm();
        Ok(response)
    }

    async fn send_stream(
        &self,
        request: HttpRequest,
        decoder: &mut StreamDecoder<'_>,
    ) -> Result<HttpResponse, TransportError> {
        let (resp, mut guard) = start(request).await?;
        let streaming = resp.ok()
            && crate::sse::is_event_stream(
                resp.headers().get("content-type").ok().flatten().as_deref(),
            );
        let response = if streaming {
            read_stream(&resp, decoder).await?
        } else {
            read_whole(resp).await?
        };
        guard.disarm();
        Ok(response)
    }
}

/// Sends the request; the response's body is still to be read.
async fn start(request: HttpRequest) -> Result<(Response, AbortOnDrop), TransportError> {
    let controller = AbortController::new().map_err(network)?;
    let guard = AbortOnDrop(Some(controller.clone()));
    // A plain init object: cheaper than Request/Headers objects on every call.
    let set = |obj: &js_sys::Object, k: &str, v: &JsValue| {
        let _ = Reflect::set(obj, &JsValue::from_str(k), v);
    };
    let headers = js_sys::Object::new();
    for h in &request.headers {
        set(&headers, &h.name, &JsValue::from_str(&h.value));
    }
    let init = js_sys::Object::new();
    set(&init, "method", &JsValue::from_str(request.method.as_str()));
    set(&init, "headers", &headers);
    if let Some(payload) = &request.payload {
        // FormData gets its multipart boundary from fetch; JSON stays a JS string.
        let body = super::inputs::payload_to_js(payload, &request.inputs)
            .await
            .map_err(|e| TransportError::Network(e.message))?;
        set(&init, "body", &body);
    } else if let Some(body) = &request.body {
        // Bodies are JSON or multipart text: a string avoids a buffer copy.
        let body = match std::str::from_utf8(body) {
            Ok(text) => JsValue::from_str(text),
            Err(_) => Uint8Array::from(body.as_slice()).into(),
        };
        set(&init, "body", &body);
    }
    set(&init, "signal", &controller.signal().into());
    // Never follow redirects: a key must only reach the origin it was
    // configured for. A 3xx (or a browser's opaque redirect) becomes an error.
    set(&init, "redirect", &JsValue::from_str("manual"));
    let resp: Response =
        JsFuture::from(global_fetch_with_init(&request.url, &init).map_err(network)?)
            .await
            .map_err(network)?
            .dyn_into()
            .map_err(|_| TransportError::Network("fetch did not return a Response".into()))?;
    Ok((resp, guard))
}

/// Reads a whole response.
async fn read_whole(resp: Response) -> Result<HttpResponse, TransportError> {
    let status = resp.status();
    let headers = response_headers(&resp);
    let is_binary = headers.iter().any(|(k, v)| {
        k == "content-type" && v.trim_start().to_ascii_lowercase().starts_with("image/")
    });
    let body = if is_binary {
        let buf = JsFuture::from(resp.array_buffer().map_err(network)?)
            .await
            .map_err(network)?;
        Body::Bytes(Uint8Array::new(&buf).to_vec())
    } else {
        // Kept as a JS string: JSON.parse runs on it later, in JS.
        let text = JsFuture::from(resp.text().map_err(network)?)
            .await
            .map_err(network)?;
        Body::Js(
            text.dyn_into::<JsString>()
                .unwrap_or_else(|_| JsString::from("")),
        )
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// Waits with `setTimeout` (via gloo-timers); dropping clears the timer.
#[derive(Debug, Default, Clone, Copy)]
pub struct TimerSleeper;

impl Sleeper for TimerSleeper {
    async fn sleep(&self, ms: u64) {
        // setTimeout takes a 32-bit delay; longer waits are chained.
        let mut left = ms;
        loop {
            let step = left.min(i32::MAX as u64);
            gloo_timers::future::TimeoutFuture::new(step as u32).await;
            left -= step;
            if left == 0 {
                break;
            }
        }
    }
}

/// `Date.now()`.
#[derive(Debug, Default, Clone, Copy)]
pub struct DateClock;

impl Clock for DateClock {
    fn now_ms(&self) -> u64 {
        let now = js_sys::Date::now();
        if now.is_finite() && now > 0.0 {
            now as u64
        } else {
            0
        }
    }
}

/// A generator seeded from `Math.random()`.
pub fn seeded_rng() -> SplitMix64 {
    let hi = (js_sys::Math::random() * 4_294_967_296.0) as u64;
    let lo = (js_sys::Math::random() * 4_294_967_296.0) as u64;
    SplitMix64::new((hi << 32) | lo)
}
