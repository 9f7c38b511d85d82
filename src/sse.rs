//! Image event streams in OpenAI's format (`text/event-stream`, P2.2 of the
//! provider facts): what each event means for a provider call.
//!
//! A transport splits the stream into events and parses each one's data as
//! JSON (on wasm in JS, with the platform's `TextDecoderStream` and
//! `JSON.parse`, so preview base64 stays a JS string), then hands each to a
//! [`StreamDecoder`]:
//! - `*.partial_image` → a preview, passed to the [`PreviewSink`] at once;
//! - `*.completed` → the final response, shaped like the non-streamed JSON
//!   (`{created, data: [{b64_json}], usage, output_format}`) so the
//!   provider's usual parser reads it;
//! - `event: error` or a payload with a top-level `error` object → an error
//!   response with the status the same error has over HTTP, so it is
//!   classified, retried and fallen back from like that HTTP error;
//! - malformed event JSON → a response no parser accepts (`bad_response`);
//! - the end of the stream (or `data: [DONE]`) before a final event → a
//!   network error ([`StreamDecoder::ended`]), retryable like a dropped
//!   connection.

use crate::http::{Body, HttpResponse, TransportError};
use crate::image_data::ImageData;
use crate::model::{OutputFormat, PreviewImage};
use serde::Deserialize;

/// An event's parsed data: a JSON value natively, a JS value on wasm.
#[cfg(not(target_arch = "wasm32"))]
pub type EventData = serde_json::Value;
/// An event's parsed data: a JSON value natively, a JS value on wasm.
#[cfg(target_arch = "wasm32")]
pub type EventData = wasm_bindgen::JsValue;

/// Receives previews as they arrive.
pub trait PreviewSink {
    /// A preview; `index` is the provider's 0-based `partial_image_index`.
    fn preview(&self, index: u32, image: PreviewImage);
}

/// A sink that drops previews.
pub struct NoPreviews;

impl PreviewSink for NoPreviews {
    fn preview(&self, _index: u32, _image: PreviewImage) {}
}

#[derive(Deserialize)]
struct Payload {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    b64_json: Option<ImageData>,
    #[serde(default)]
    partial_image_index: Option<u32>,
    #[serde(default)]
    output_format: Option<String>,
    #[serde(default)]
    error: Option<ErrorFields>,
}

#[derive(Deserialize)]
struct ErrorFields {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

/// The HTTP status OpenAI answers with for an error of this type or code
/// (the error body is the same either way): what makes an error event
/// classify like the HTTP error of the same kind.
pub fn status_for_error(kind: &str, code: &str) -> u16 {
    let any = |names: &[&str]| names.contains(&kind) || names.contains(&code);
    if any(&["invalid_api_key", "authentication_error", "unauthorized"]) {
        401
    } else if any(&["permission_error", "permission_denied", "forbidden"]) {
        403
    } else if any(&["model_not_found", "not_found", "not_found_error"]) {
        404
    } else if any(&[
        "rate_limit_exceeded",
        "rate_limit_error",
        "insufficient_quota",
        "requests",
        "tokens",
        "slow_down",
    ]) {
        429
    } else if any(&[
        "invalid_request_error",
        "moderation_blocked",
        "content_policy_violation",
        "image_generation_user_error",
        "invalid_value",
    ]) {
        400
    } else if any(&["overloaded", "engine_overloaded", "service_unavailable"]) {
        503
    } else {
        // `server_error` and anything unknown: a failure on the provider's side.
        500
    }
}

/// Turns a stream's events into previews and one final response.
pub struct StreamDecoder<'a> {
    sink: &'a dyn PreviewSink,
    requested: Option<OutputFormat>,
}

impl<'a> StreamDecoder<'a> {
    /// A decoder passing previews to `sink`; `requested` is the format asked
    /// for (the MIME type of previews whose event does not say).
    pub fn new(sink: &'a dyn PreviewSink, requested: Option<OutputFormat>) -> Self {
        StreamDecoder { sink, requested }
    }

    /// One event: `Some(response)` when the stream's outcome is known (the
    /// final image or an error), `None` to read on.
    pub fn event(&mut self, name: Option<&str>, data: EventData) -> Option<HttpResponse> {
        let Ok(payload) = decode::<Payload>(&data) else {
            return Some(self.malformed());
        };
        if name == Some("error") || payload.error.is_some() {
            let (kind, code) = payload
                .error
                .map(|e| (e.kind.unwrap_or_default(), e.code.unwrap_or_default()))
                .unwrap_or_default();
            let status = status_for_error(&kind, &code);
            return Some(response(status, error_body(data)));
        }
        let kind = payload.kind.as_deref().or(name).unwrap_or_default();
        if kind.ends_with(".partial_image") {
            let base64 = payload.b64_json.filter(|b| !b.is_empty())?;
            let mime_type = mime_type(payload.output_format.as_deref(), self.requested);
            let image = PreviewImage { mime_type, base64 };
            self.sink
                .preview(payload.partial_image_index.unwrap_or(0), image);
            return None;
        }
        if kind.ends_with(".completed") {
            return Some(response(200, final_body(data)));
        }
        None
    }

    /// A preview made by the transport itself (the in-process mock).
    pub fn preview(&self, index: u32, image: PreviewImage) {
        self.sink.preview(index, image);
    }

    /// An event whose data is not JSON: a response no parser accepts.
    pub fn malformed(&self) -> HttpResponse {
        response(200, Body::Bytes(b"malformed stream event".to_vec()))
    }

    /// The stream ended (or broke) before its final event.
    pub fn ended(&self) -> TransportError {
        TransportError::Network("the event stream ended before the final image".into())
    }
}

fn response(status: u16, body: Body) -> HttpResponse {
    HttpResponse {
        status,
        headers: Vec::new(),
        body,
    }
}

/// The MIME type of an image in `format` (`output_format`), else of the
/// requested format, else PNG.
pub fn mime_type(format: Option<&str>, requested: Option<OutputFormat>) -> String {
    match format {
        Some("jpeg") | Some("jpg") => "image/jpeg".into(),
        Some("webp") => "image/webp".into(),
        Some("png") => "image/png".into(),
        _ => requested.unwrap_or(OutputFormat::Png).mime_type().into(),
    }
}

/// An event stream read in full, decoded at once (see [`crate::http::Transport::send_stream`]).
#[cfg(not(target_arch = "wasm32"))]
pub fn decode_whole(
    resp: HttpResponse,
    decoder: &mut StreamDecoder<'_>,
) -> Result<HttpResponse, TransportError> {
    if !resp.is_success() || !is_event_stream(resp.header("content-type")) {
        return Ok(resp);
    }
    let text = String::from_utf8_lossy(resp.body.as_bytes().unwrap_or_default()).into_owned();
    feed(split_events(&text), decoder)
}

/// On wasm every transport streams itself; a whole answer is returned as is.
#[cfg(target_arch = "wasm32")]
pub fn decode_whole(
    resp: HttpResponse,
    _decoder: &mut StreamDecoder<'_>,
) -> Result<HttpResponse, TransportError> {
    Ok(resp)
}

/// True for a response whose body is an event stream.
pub fn is_event_stream(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|v| {
        v.trim_start()
            .to_ascii_lowercase()
            .starts_with("text/event-stream")
    })
}

#[cfg(not(target_arch = "wasm32"))]
fn decode<T: serde::de::DeserializeOwned>(data: &EventData) -> Result<T, String> {
    T::deserialize(data).map_err(|e| e.to_string())
}

#[cfg(not(target_arch = "wasm32"))]
fn final_body(data: EventData) -> Body {
    let field = |k: &str| data.get(k).cloned().unwrap_or(serde_json::Value::Null);
    let body = serde_json::json!({
        "created": field("created_at"),
        "output_format": field("output_format"),
        "usage": field("usage"),
        "data": [data],
    });
    Body::Bytes(serde_json::to_vec(&body).unwrap_or_default())
}

#[cfg(not(target_arch = "wasm32"))]
fn error_body(data: EventData) -> Body {
    let body = if data.get("error").is_some_and(serde_json::Value::is_object) {
        data
    } else {
        serde_json::json!({ "error": data })
    };
    Body::Bytes(serde_json::to_vec(&body).unwrap_or_default())
}

#[cfg(target_arch = "wasm32")]
fn decode<T: serde::de::DeserializeOwned>(data: &EventData) -> Result<T, String> {
    serde_wasm_bindgen::from_value(data.clone()).map_err(|e| e.to_string())
}

#[cfg(target_arch = "wasm32")]
fn get(v: &EventData, key: &str) -> wasm_bindgen::JsValue {
    js_sys::Reflect::get(v, &key.into()).unwrap_or(wasm_bindgen::JsValue::UNDEFINED)
}

#[cfg(target_arch = "wasm32")]
fn set(target: &js_sys::Object, key: &str, value: &wasm_bindgen::JsValue) {
    let _ = js_sys::Reflect::set(target, &key.into(), value);
}

#[cfg(target_arch = "wasm32")]
fn final_body(data: EventData) -> Body {
    // A JS object holding the event itself: its `b64_json` stays a JS string.
    let body = js_sys::Object::new();
    set(&body, "created", &get(&data, "created_at"));
    set(&body, "output_format", &get(&data, "output_format"));
    set(&body, "usage", &get(&data, "usage"));
    set(&body, "data", &js_sys::Array::of1(&data));
    Body::Value(body.into())
}

#[cfg(target_arch = "wasm32")]
fn error_body(data: EventData) -> Body {
    if get(&data, "error").is_object() {
        return Body::Value(data);
    }
    let body = js_sys::Object::new();
    set(&body, "error", &data);
    Body::Value(body.into())
}

/// One event of a transcript: its name and its data text.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEvent {
    /// The `event:` field, if any.
    pub event: Option<String>,
    /// The `data:` lines, joined with newlines.
    pub data: String,
}

/// Splits server-sent events text into events (comments and events without
/// data are dropped), as the native side's SSE reader.
#[cfg(not(target_arch = "wasm32"))]
pub fn split_events(text: &str) -> Vec<RawEvent> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut event = None;
        let mut data: Option<String> = None;
        for line in block.lines() {
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => event = Some(value.to_string()),
                "data" => match &mut data {
                    Some(d) => {
                        d.push('\n');
                        d.push_str(value);
                    }
                    None => data = Some(value.to_string()),
                },
                _ => {}
            }
        }
        if let Some(data) = data {
            out.push(RawEvent { event, data });
        }
    }
    out
}

/// Feeds a whole transcript to `decoder`, as a native transport does with
/// a stream it read: the final response, or the error the stream ends with.
#[cfg(not(target_arch = "wasm32"))]
pub fn feed(
    events: impl IntoIterator<Item = RawEvent>,
    decoder: &mut StreamDecoder<'_>,
) -> Result<HttpResponse, TransportError> {
    for e in events {
        if e.data.trim() == "[DONE]" {
            break;
        }
        let Ok(data) = serde_json::from_str::<serde_json::Value>(&e.data) else {
            return Ok(decoder.malformed());
        };
        if let Some(resp) = decoder.event(e.event.as_deref(), data) {
            return Ok(resp);
        }
    }
    Err(decoder.ended())
}
