//! Responses and request bodies: JSON responses, the error response, and
//! the body reader with its size limit.

use crate::error::ApiError;
use crate::http::MAX_BODY_BYTES;
use js_sys::{Function, Reflect, Uint8Array};
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// A request header.
pub fn header(req: &web_sys::Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

/// A response with `body` (a JS string, or none) and these headers.
fn build(
    status: u16,
    body: Option<&JsValue>,
    headers: &[(&str, String)],
) -> Result<web_sys::Response, JsValue> {
    let h = web_sys::Headers::new()?;
    if body.is_some() {
        h.set("content-type", "application/json")?;
    }
    for (k, v) in headers {
        h.set(k, v)?;
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(status);
    init.set_headers(&h);
    match body {
        None => web_sys::Response::new_with_opt_str_and_init(None, &init),
        Some(body) => {
            // The global constructor takes the JS string as it is.
            let ctor: Function =
                Reflect::get(&js_sys::global(), &"Response".into())?.unchecked_into();
            let args = js_sys::Array::of2(body, &init);
            Reflect::construct(&ctor, &args)?.dyn_into()
        }
    }
}

/// A response with a JSON body held as a JS string.
pub fn json_response(
    status: u16,
    body: &JsValue,
    headers: &[(&str, String)],
) -> Result<web_sys::Response, ApiError> {
    build(status, Some(body), headers).map_err(|_| ApiError::server("could not build the response"))
}

/// An empty response (preflight, HEAD).
pub fn empty_response(
    status: u16,
    headers: &[(&str, String)],
) -> Result<web_sys::Response, JsValue> {
    build(status, None, headers)
}

/// The response for an error.
pub fn error_response(e: &ApiError) -> Result<web_sys::Response, JsValue> {
    let mut headers = Vec::new();
    if let Some(allow) = e.allow {
        headers.push(("allow", allow.to_string()));
    }
    if let Some(s) = e.retry_after_s {
        headers.push(("retry-after", s.to_string()));
    }
    if let Some(r) = e.retryable {
        // OpenAI SDKs honour this instead of retrying every 5xx.
        headers.push(("x-should-retry", r.to_string()));
    }
    build(e.status, Some(&JsValue::from_str(&e.body())), &headers)
}

/// A plain JS object (image strings pass through as the same JS values).
pub fn to_js_object<T: Serialize>(value: &T) -> Result<JsValue, ApiError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|_| ApiError::server("could not serialise the response"))
}

/// JSON text, built by `JSON.stringify` in JS.
pub fn stringify(js: &JsValue) -> Result<JsValue, ApiError> {
    js_sys::JSON::stringify(js)
        .map(JsValue::from)
        .map_err(|_| ApiError::server("could not serialise the response"))
}

/// `200` with `value` as JSON.
pub fn ok_json<T: Serialize>(value: &T) -> Result<web_sys::Response, ApiError> {
    json_response(200, &stringify(&to_js_object(value)?)?, &[])
}

fn too_large() -> ApiError {
    ApiError::new(
        413,
        "payload_too_large",
        format!("request body is larger than {MAX_BODY_BYTES} bytes"),
    )
}

/// Reads the body, refusing more than 1 MiB whether or not a
/// Content-Length was sent.
pub async fn read_body(req: &web_sys::Request) -> Result<Vec<u8>, ApiError> {
    if let Some(len) = header(req, "content-length").and_then(|l| l.trim().parse::<u64>().ok()) {
        if len > MAX_BODY_BYTES as u64 {
            return Err(too_large());
        }
    }
    let Some(stream) = req.body() else {
        return Ok(Vec::new());
    };
    match read_stream(&stream, MAX_BODY_BYTES).await {
        Ok(Some(body)) => Ok(body),
        Ok(None) => Err(too_large()),
        Err(_) => Err(ApiError::invalid("body", "request body could not be read")),
    }
}

/// Reads a `ReadableStream` to its end; `None` (the stream cancelled) as
/// soon as it holds more than `limit` bytes.
async fn read_stream(stream: &JsValue, limit: usize) -> Result<Option<Vec<u8>>, JsValue> {
    let get_reader: Function = Reflect::get(stream, &"getReader".into())?.unchecked_into();
    let reader = get_reader.call0(stream)?;
    let read: Function = Reflect::get(&reader, &"read".into())?.unchecked_into();
    let mut body = Vec::new();
    loop {
        let chunk = JsFuture::from(js_sys::Promise::from(read.call0(&reader)?)).await?;
        if Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|d| d.as_bool())
            == Some(true)
        {
            return Ok(Some(body));
        }
        let bytes: Uint8Array = Reflect::get(&chunk, &"value".into())?.dyn_into()?;
        if body.len() + bytes.length() as usize > limit {
            if let Ok(cancel) = Reflect::get(&reader, &"cancel".into()) {
                if let Ok(cancel) = cancel.dyn_into::<Function>() {
                    let _ = cancel.call0(&reader);
                }
            }
            return Ok(None);
        }
        let start = body.len();
        body.resize(start + bytes.length() as usize, 0);
        bytes.copy_to(&mut body[start..]);
    }
}
