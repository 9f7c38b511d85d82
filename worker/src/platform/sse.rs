//! Server-sent event streams (`"stream": true`), written by the platform
//! in `js/sse.js`: event data goes over as JS objects whose images are the
//! engine's JS strings, and the JSON text and bytes are made there.

use crate::error::ApiError;
use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(module = "/js/sse.js")]
extern "C" {
    /// The stream handle made by `openEvents`.
    #[derive(Clone)]
    pub type EventStream;
    #[wasm_bindgen(js_name = openEvents)]
    fn open_events(keep_alive_ms: f64, headers: &JsValue) -> EventStream;
    #[wasm_bindgen(js_name = keepRunning)]
    fn keep_running(ctx: &JsValue, promise: &Promise);
    #[wasm_bindgen(method, getter)]
    fn response(this: &EventStream) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn gone(this: &EventStream) -> Promise;
    #[wasm_bindgen(method)]
    fn send(this: &EventStream, kind: &str, data: &JsValue);
    #[wasm_bindgen(method, js_name = sendText)]
    fn send_text(this: &EventStream, kind: &str, json: &str);
    #[wasm_bindgen(method)]
    fn close(this: &EventStream);
}

impl EventStream {
    /// Opens a stream answering `200 text/event-stream` with `headers`.
    pub fn open(keep_alive_ms: u64, headers: &[(&str, String)]) -> EventStream {
        let h = Object::new();
        for (k, v) in headers {
            let _ = Reflect::set(&h, &JsValue::from_str(k), &JsValue::from_str(v));
        }
        open_events(keep_alive_ms as f64, &h)
    }

    /// The response whose body is this stream.
    pub fn http_response(&self) -> Result<web_sys::Response, ApiError> {
        self.response()
            .dyn_into()
            .map_err(|_| ApiError::server("could not open the event stream"))
    }

    /// Sends an event whose data is a JS object (serialised by the platform).
    pub fn event(&self, kind: &str, data: &JsValue) {
        self.send(kind, data);
    }

    /// Sends an event whose data is JSON text already (no images in it).
    pub fn event_text(&self, kind: &str, json: &str) {
        self.send_text(kind, json);
    }

    /// Ends the stream (the client sees a clean end).
    pub fn finish(&self) {
        self.close();
    }

    /// Resolves when the stream ends: `true` when the client stopped
    /// reading, `false` when it was finished.
    pub async fn client_gone(&self) -> bool {
        JsFuture::from(self.gone())
            .await
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(true)
    }
}

/// Keeps the request running until `promise` settles (`ctx.waitUntil`).
pub fn wait_until(ctx: &JsValue, promise: &Promise) {
    keep_running(ctx, promise);
}
