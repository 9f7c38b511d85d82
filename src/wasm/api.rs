//! The exported JS API: `generateImages`, `validateApiKey`, `errorCodes`,
//! and the error and event plumbing shared with the services and the client.

use super::checks::{
    check_request_types, from_js, js_extras, parse_provider, string_arg, MAX_FIELD_CHARS,
};
use super::transport::{seeded_rng, DateClock, FetchTransport, TimerSleeper};
use crate::engine::{self, EventSink, Runtime};
use crate::model::{Error, ErrorCode, GenerateEvent, GenerateRequest, ProviderName};
use crate::resilience::ClientState;
use crate::runtime::{CancelToken, SplitMix64};
use crate::secret::Secret;
use crate::validate::{default_base_url, parse_origin, validate};
use js_sys::{Function, Promise, Reflect};
use serde::{Deserialize, Serialize};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::future_to_promise;
use web_sys::AbortSignal;

#[wasm_bindgen(typescript_custom_section)]
const TS_EXTRA: &'static str = r#"
/** An input image: bytes as a Blob, ArrayBuffer or Uint8Array, base64 with its type, or a `data:` URL (remote URLs are never fetched). Format is read from the bytes: PNG, JPEG or WebP. */
export type ImageInput = Blob | ArrayBuffer | Uint8Array | { base64: string; mimeType: string } | string;

/** Options that stay JS values: input images, a cancellation signal and a progress callback. */
export interface GenerateRequest {
  /** 1 to 16 input images: the call becomes an edit. Entries that cannot take them are skipped (`input_unsupported`). Their bytes stay JS values. */
  images?: ImageInput[];
  /** A PNG the size of the first image; fully transparent pixels (alpha 0) mark the area to change. Converted for providers with another convention. */
  mask?: ImageInput;
  /** Aborting rejects with `aborted` at once and cancels requests in flight. */
  signal?: AbortSignal;
  /** Called for each progress event, in order. Exceptions it throws are ignored. */
  onEvent?: (e: GenerateEvent) => void;
}
"#;

/// Serializes to a plain JS value (objects, not Maps; numbers, not BigInts).
/// Preserved image strings pass through untouched.
pub(crate) fn to_js<T: Serialize + ?Sized>(value: &T) -> JsValue {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap_or(JsValue::UNDEFINED)
}

fn set(target: &JsValue, key: &str, value: &JsValue) {
    let _ = Reflect::set(target, &JsValue::from_str(key), value);
}

// The package's error class lives in JS (`packaging/errors.js`, declared in
// `packaging/errors.d.ts`), so the entries can export it for `instanceof`.
#[wasm_bindgen(module = "/packaging/errors.js")]
extern "C" {
    #[wasm_bindgen(js_name = ImageGenError)]
    type JsImageGenError;

    #[wasm_bindgen(constructor, js_class = "ImageGenError")]
    fn new(message: &str, fields: &JsValue) -> JsImageGenError;
}

/// An `ImageGenError` (`name === "ImageGenError"`) with the library's fields.
pub fn to_js_error(e: &Error) -> JsValue {
    let obj: JsValue = js_sys::Object::new().into();
    set(&obj, "code", &JsValue::from_str(e.code.as_str()));
    if let Some(p) = e.provider {
        set(&obj, "provider", &JsValue::from_str(p.as_str()));
    }
    if let Some(s) = e.status {
        set(&obj, "status", &JsValue::from_f64(f64::from(s)));
    }
    set(&obj, "retryable", &JsValue::from_bool(e.retryable()));
    if let Some(p) = &e.param {
        set(&obj, "param", &JsValue::from_str(p));
    }
    if let Some(ms) = e.retry_after_ms {
        set(&obj, "retryAfterMs", &JsValue::from_f64(ms as f64));
    }
    set(&obj, "attempts", &to_js(&e.attempts));
    set(&obj, "images", &to_js(&e.images));
    JsImageGenError::new(&e.message, &obj).into()
}

struct JsEvents(Option<Function>);

impl EventSink for JsEvents {
    fn emit(&self, event: GenerateEvent) {
        if let Some(f) = &self.0 {
            // A throwing handler must not break the generation.
            let _ = f.call1(&JsValue::NULL, &to_js(&event));
        }
    }
}

/// Fires a cancel token when an AbortSignal aborts; removes its listener when dropped.
struct AbortBridge {
    signal: AbortSignal,
    listener: Closure<dyn FnMut()>,
}

impl AbortBridge {
    fn new(signal: AbortSignal, token: &CancelToken) -> Self {
        let t = token.clone();
        let listener = Closure::<dyn FnMut()>::new(move || t.cancel());
        let _ = signal.add_event_listener_with_callback("abort", listener.as_ref().unchecked_ref());
        if signal.aborted() {
            token.cancel();
        }
        AbortBridge { signal, listener }
    }
}

impl Drop for AbortBridge {
    fn drop(&mut self) {
        let _ = self
            .signal
            .remove_event_listener_with_callback("abort", self.listener.as_ref().unchecked_ref());
    }
}

fn runtime() -> Runtime<FetchTransport, TimerSleeper, DateClock, SplitMix64> {
    Runtime {
        transport: FetchTransport,
        sleeper: TimerSleeper,
        clock: DateClock,
        rng: seeded_rng(),
    }
}

/// A request's JS-only parts: its input images and mask, as given.
#[derive(Default)]
pub(super) struct JsRequestInputs {
    pub images: JsValue,
    pub mask: JsValue,
}

impl JsRequestInputs {
    pub(super) fn of(request: &JsValue) -> Self {
        let get =
            |k: &str| Reflect::get(request, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED);
        JsRequestInputs {
            images: get("images"),
            mask: get("mask"),
        }
    }
}

/// Validates and runs a request whose JS extras were already read.
pub(super) async fn run(
    req: GenerateRequest,
    inputs: JsRequestInputs,
    on_event: Option<Function>,
    signal: Option<AbortSignal>,
    client: Option<Rc<ClientState>>,
) -> Result<crate::model::GenerateResult, Error> {
    let mut valid = validate(&req)?;
    let loaded = super::inputs::load_request_inputs(&inputs.images, &inputs.mask).await?;
    valid.image.inputs = loaded.map(Rc::new);
    let token = CancelToken::new();
    let _bridge = signal.map(|s| AbortBridge::new(s, &token));
    let events = JsEvents(on_event);
    engine::generate_with_client(&runtime(), &valid, &events, &token, client.as_deref()).await
}

pub(super) fn reject(e: &Error) -> Promise {
    Promise::reject(&to_js_error(e))
}

/// Generates images with retries and fallback. See the README for the request fields.
#[wasm_bindgen(js_name = generateImages, unchecked_return_type = "Promise<GenerateResult>")]
pub fn generate_images(
    #[wasm_bindgen(unchecked_param_type = "GenerateRequest")] request: JsValue,
) -> Promise {
    generate_promise(request, None)
}

/// Parses a request object and runs it (optionally for a long-lived client).
pub(super) fn generate_promise(request: JsValue, client: Option<Rc<ClientState>>) -> Promise {
    if !request.is_object() {
        return reject(&Error::invalid(
            "request",
            "generateImages expects a request object",
        ));
    }
    let parsed = js_extras(&request).and_then(|(on_event, signal)| {
        check_request_types(&request)?;
        from_js::<GenerateRequest>(&request, "request").map(|r| (r, on_event, signal))
    });
    let (req, on_event, signal) = match parsed {
        Ok(p) => p,
        Err(e) => return reject(&e),
    };
    let inputs = JsRequestInputs::of(&request);
    future_to_promise(async move {
        run(req, inputs, on_event, signal, client)
            .await
            .map(|r| to_js(&r))
            .map_err(|e| to_js_error(&e))
    })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct ValidateOptions {
    #[serde(default)]
    pub(super) base_url: Option<String>,
    #[serde(default)]
    pub(super) timeout_ms: Option<f64>,
}

/// Default timeout of a key check.
const VALIDATE_TIMEOUT_MS: u64 = 30_000;

pub(super) async fn validate_key(
    provider: ProviderName,
    key: JsValue,
    opts: ValidateOptions,
) -> Result<bool, Error> {
    let key = Secret::new(
        string_arg(&key, "apiKey", MAX_FIELD_CHARS)?
            .unwrap_or_default()
            .trim(),
    );
    let base_url = match opts.base_url.as_deref() {
        Some(u) => parse_origin("baseUrl", u)?,
        None => default_base_url(provider).to_string(),
    };
    let timeout_ms = match opts.timeout_ms {
        None => VALIDATE_TIMEOUT_MS,
        Some(t) if t.is_finite() && (1.0..=600_000.0).contains(&t) => t as u64,
        Some(_) => {
            return Err(Error::invalid(
                "timeoutMs",
                "`timeoutMs` must be from 1 to 600000",
            ))
        }
    };
    engine::validate_key(&runtime(), provider, &key, &base_url, timeout_ms).await
}

/// Checks a key with the provider's free endpoint: `true` when it works,
/// `false` for auth/permission errors; rejects on anything else.
#[wasm_bindgen(js_name = validateApiKey, unchecked_return_type = "Promise<boolean>")]
pub fn validate_api_key(
    #[wasm_bindgen(unchecked_param_type = "ProviderName")] provider: JsValue,
    #[wasm_bindgen(js_name = apiKey, unchecked_param_type = "string")] api_key: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "{ baseUrl?: string; timeoutMs?: number }")]
    opts: Option<JsValue>,
) -> Promise {
    let opts = opts.unwrap_or(JsValue::UNDEFINED);
    let provider = match parse_provider(&provider, "provider") {
        Ok(p) => p,
        Err(e) => return reject(&e),
    };
    let opts = if opts.is_undefined() || opts.is_null() {
        Ok(ValidateOptions::default())
    } else {
        from_js::<ValidateOptions>(&opts, "opts")
    };
    let opts = match opts {
        Ok(o) => o,
        Err(e) => return reject(&e),
    };
    future_to_promise(async move {
        validate_key(provider, api_key, opts)
            .await
            .map(JsValue::from_bool)
            .map_err(|e| to_js_error(&e))
    })
}

/// The error codes, for callers that want to switch on them.
#[wasm_bindgen(js_name = errorCodes, unchecked_return_type = "ErrorCode[]")]
pub fn error_codes() -> JsValue {
    to_js(&ErrorCode::ALL)
}
