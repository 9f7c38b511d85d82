//! The Worker's platform pieces, wasm32 only: its bindings (variables, KV,
//! the rate limiter), the console, WebCrypto, the JWKS cache, multipart
//! forms and server-sent event streams.
//!
//! The bindings are reached directly through `Reflect` (a few lines each)
//! rather than through a Workers SDK: the Worker starts faster with less
//! wasm and JS glue.

mod bindings;
mod crypto;
mod form;
mod jwks;
mod kv;
mod sse;
mod state;

pub use bindings::Env;
pub use crypto::{random_hex, sha256_hex, WebCryptoAead};
pub use form::{read as read_form, Form};
pub use jwks::JwtVerifier;
pub use kv::Kv;
pub use sse::{wait_until, EventStream};
pub use state::{StateUnavailable, UserState};

use imagegen::engine::Runtime;
use imagegen::runtime::SplitMix64;
use imagegen::wasm::{DateClock, FetchTransport, TimerSleeper};
use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    /// `console.log`.
    #[wasm_bindgen(js_namespace = console, js_name = log)]
    pub fn console_log(message: &str);
    /// `console.warn`.
    #[wasm_bindgen(js_namespace = console, js_name = warn)]
    pub fn console_warn(message: &str);
    /// `console.error`.
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    pub fn console_error(message: &str);
}

pub(crate) fn get(obj: &JsValue, name: &str) -> Option<JsValue> {
    Reflect::get(obj, &JsValue::from_str(name))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

pub(crate) async fn call_method(
    obj: &JsValue,
    method: &str,
    args: &[JsValue],
) -> Result<JsValue, JsValue> {
    let f: Function = Reflect::get(obj, &JsValue::from_str(method))?.dyn_into()?;
    let result = f.apply(obj, &args.iter().collect::<Array>())?;
    JsFuture::from(Promise::resolve(&result)).await
}

pub(crate) fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
}

/// The engine's runtime on this platform: global `fetch`, timers, `Date`.
pub fn runtime() -> Runtime<FetchTransport, TimerSleeper, DateClock, SplitMix64> {
    Runtime {
        transport: FetchTransport,
        sleeper: TimerSleeper,
        clock: DateClock,
        rng: imagegen::wasm::transport::seeded_rng(),
    }
}

/// Unix milliseconds now.
pub fn now_ms() -> u64 {
    js_sys::Date::now().max(0.0) as u64
}
