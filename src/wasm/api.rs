//! The exported JS API: `generateImages`, `validateApiKey`,
//! `createImageService` and the seed-compatible service classes.

use super::transport::{seeded_rng, DateClock, FetchTransport, TimerSleeper};
use crate::engine::{self, EventSink, Runtime};
use crate::model::{
    Error, ErrorCode, GenerateEvent, GenerateRequest, ProviderConfig, ProviderName,
};
use crate::resilience::{ClientSettings, ClientState};
use crate::runtime::{CancelToken, Clock, SplitMix64};
use crate::secret::Secret;
use crate::validate::{default_base_url, parse_origin, validate};
use js_sys::{Function, JsString, Promise, Reflect};
use serde::{Deserialize, Serialize};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::future_to_promise;
use web_sys::AbortSignal;

#[wasm_bindgen(typescript_custom_section)]
const TS_EXTRA: &'static str = r#"
/** Options that stay JS values: a cancellation signal and a progress callback. */
export interface GenerateRequest {
  /** Aborting rejects with `aborted` at once and cancels requests in flight. */
  signal?: AbortSignal;
  /** Called for each progress event, in order. Exceptions it throws are ignored. */
  onEvent?: (e: GenerateEvent) => void;
}

/** Options of `generateImages` on the seed-compatible services. */
export interface ServiceGenerateOptions {
  count?: number;
  size?: string;
  aspectRatio?: string;
  seed?: number;
  negativePrompt?: string;
  outputFormat?: OutputFormat;
  /** Extra provider fields (become `params`). */
  additionalParams?: Record<string, unknown>;
  signal?: AbortSignal;
  onEvent?: (e: GenerateEvent) => void;
}

/** Options of the seed-compatible service constructors. */
export interface ServiceOptions {
  model?: string;
  baseUrl?: string;
  params?: Record<string, unknown>;
  retry?: RetryOptions;
  timeoutMs?: number;
  deadlineMs?: number;
}

/** The original design's per-provider service. */
export interface ImageGenerationService {
  readonly provider: ProviderName;
  /** Resolves with `data:` URLs. */
  generateImages(prompt: string, options?: ServiceGenerateOptions): Promise<string[]>;
  validateApiKey(apiKey: string): Promise<boolean>;
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

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// Reads `onEvent` and `signal`, which stay JS values.
fn js_extras(obj: &JsValue) -> Result<(Option<Function>, Option<AbortSignal>), Error> {
    let on_event = match get(obj, "onEvent") {
        v if v.is_undefined() || v.is_null() => None,
        v => Some(
            v.dyn_into::<Function>()
                .map_err(|_| Error::invalid("onEvent", "`onEvent` must be a function"))?,
        ),
    };
    let signal = match get(obj, "signal") {
        v if v.is_undefined() || v.is_null() => None,
        v => {
            // Duck-typed, so signals from polyfills work too.
            let looks_right = v.is_object()
                && get(&v, "aborted").as_bool().is_some()
                && get(&v, "addEventListener").is_function();
            if !looks_right {
                return Err(Error::invalid("signal", "`signal` must be an AbortSignal"));
            }
            Some(v.unchecked_into::<AbortSignal>())
        }
    };
    Ok((on_event, signal))
}

/// Deserializes a JS value (after [`check_request_types`] for requests, so
/// errors name the field; serde-path-to-error would cost 10 KB of gzip).
fn from_js<T: for<'de> Deserialize<'de>>(value: &JsValue, what: &str) -> Result<T, Error> {
    serde_wasm_bindgen::from_value(value.clone()).map_err(|e| {
        // serde's messages quote the offending value, which may be huge: cut
        // it in JS before anything is copied into wasm memory.
        let js: JsValue = e.into();
        let detail = get(&js, "message")
            .dyn_ref::<JsString>()
            .map(|m| String::from(m.substring(0, 200)))
            .unwrap_or_default();
        Error::invalid(what, format!("`{what}`: {detail}"))
    })
}

#[derive(Clone, Copy)]
enum Kind {
    Str,
    /// A number that must be a non-negative whole number (u32/u64 fields).
    Whole,
    /// Any number (checked further by validation).
    Num,
    Obj,
    Arr,
    OneOf(&'static [&'static str]),
}

fn kind_error(path: &str, kind: Kind) -> Error {
    let expected = match kind {
        Kind::Str => "a string".to_string(),
        Kind::Whole => "a whole number ≥ 0".to_string(),
        Kind::Num => "a number".to_string(),
        Kind::Obj => "an object".to_string(),
        Kind::Arr => "an array".to_string(),
        Kind::OneOf(values) => format!("one of {}", values.join(", ")),
    };
    Error::invalid(path, format!("`{path}` must be {expected}"))
}

/// Longest prompt or negative prompt accepted from JS (checked before the
/// string is copied into wasm memory).
const MAX_PROMPT_CHARS: u32 = 100_000;
/// Longest other string field.
const MAX_FIELD_CHARS: u32 = 4096;
/// Deepest nesting of `params`.
const MAX_PARAMS_DEPTH: usize = 32;
/// Most values in `params`.
const MAX_PARAMS_NODES: usize = 10_000;

/// Checks that `value` is plain JSON data of bounded depth and size, without
/// recursion (a deeply nested object must not overflow the wasm stack).
fn check_json_data(value: &JsValue, path: &str) -> Result<(), Error> {
    let too_big = || {
        Error::invalid(
            path,
            format!("`{path}` is nested deeper than {MAX_PARAMS_DEPTH} levels or holds more than {MAX_PARAMS_NODES} values"),
        )
    };
    let mut stack = vec![(value.clone(), 0usize)];
    let mut nodes = 0usize;
    while let Some((v, depth)) = stack.pop() {
        nodes += 1;
        if nodes > MAX_PARAMS_NODES || depth > MAX_PARAMS_DEPTH {
            return Err(too_big());
        }
        if v.is_function() || v.is_symbol() || v.is_bigint() {
            return Err(Error::invalid(
                path,
                format!("`{path}` must hold JSON data only"),
            ));
        }
        if let Some(text) = v.dyn_ref::<JsString>() {
            if text.length() > MAX_PROMPT_CHARS {
                return Err(too_big());
            }
        } else if js_sys::Array::is_array(&v) {
            let arr = js_sys::Array::from(&v);
            if arr.length() as usize > MAX_PARAMS_NODES {
                return Err(too_big());
            }
            stack.extend(arr.iter().map(|x| (x, depth + 1)));
        } else if v.is_object() {
            let values = js_sys::Object::values(v.unchecked_ref());
            if values.length() as usize > MAX_PARAMS_NODES {
                return Err(too_big());
            }
            stack.extend(values.iter().map(|x| (x, depth + 1)));
        }
    }
    Ok(())
}

/// A string argument, length-checked before it is copied into wasm memory.
fn string_arg(value: &JsValue, field: &str, max: u32) -> Result<Option<String>, Error> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    let text = value
        .dyn_ref::<JsString>()
        .ok_or_else(|| Error::invalid(field, format!("`{field}` must be a string")))?;
    if text.length() > max {
        return Err(Error::invalid(
            field,
            format!("`{field}` is longer than {max} characters"),
        ));
    }
    Ok(Some(String::from(text)))
}

/// Checks one field's JS type; absent (`undefined`/`null`) passes.
fn check_field(obj: &JsValue, key: &str, path: &str, kind: Kind) -> Result<JsValue, Error> {
    let v = get(obj, key);
    if v.is_undefined() || v.is_null() {
        return Ok(v);
    }
    if let Some(text) = v.dyn_ref::<JsString>() {
        let max = if matches!(key, "prompt" | "negativePrompt") {
            MAX_PROMPT_CHARS
        } else {
            MAX_FIELD_CHARS
        };
        if text.length() > max {
            return Err(Error::invalid(
                path,
                format!("`{path}` is longer than {max} characters"),
            ));
        }
    }
    let ok = match kind {
        Kind::Str => v.is_string(),
        Kind::Num => v.as_f64().is_some(),
        Kind::Whole => v
            .as_f64()
            .is_some_and(|n| n.is_finite() && n >= 0.0 && n.fract() == 0.0),
        Kind::Obj => v.is_object() && !js_sys::Array::is_array(&v) && !v.is_function(),
        Kind::Arr => js_sys::Array::is_array(&v),
        Kind::OneOf(values) => v.as_string().is_some_and(|s| values.contains(&s.as_str())),
    };
    if ok {
        Ok(v)
    } else {
        Err(kind_error(path, kind))
    }
}

// The accepted names, derived from the model so the lists cannot drift.
const PROVIDERS: [&str; ProviderName::ALL.len()] = {
    let mut out = [""; ProviderName::ALL.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = ProviderName::ALL[i].as_str();
        i += 1;
    }
    out
};
const CODES: [&str; ErrorCode::ALL.len()] = {
    let mut out = [""; ErrorCode::ALL.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = ErrorCode::ALL[i].as_str();
        i += 1;
    }
    out
};
const FORMATS: &[&str] = &[
    crate::model::OutputFormat::Png.as_str(),
    crate::model::OutputFormat::Jpeg.as_str(),
    crate::model::OutputFormat::Webp.as_str(),
];

/// Type-checks a `generateImages` request field by field, so a wrong type
/// is reported with the field's path (`providers[1].apiKey`).
fn check_request_types(req: &JsValue) -> Result<(), Error> {
    for (key, kind) in [
        ("prompt", Kind::Str),
        ("count", Kind::Num),
        ("size", Kind::Str),
        ("aspectRatio", Kind::Str),
        ("seed", Kind::Num),
        ("negativePrompt", Kind::Str),
        ("outputFormat", Kind::OneOf(FORMATS)),
        ("timeoutMs", Kind::Num),
        ("deadlineMs", Kind::Num),
        ("concurrency", Kind::Num),
    ] {
        check_field(req, key, key, kind)?;
    }
    let retry = check_field(req, "retry", "retry", Kind::Obj)?;
    if retry.is_object() {
        for key in [
            "maxAttempts",
            "baseDelayMs",
            "maxDelayMs",
            "maxRetryAfterMs",
        ] {
            check_field(&retry, key, &format!("retry.{key}"), Kind::Whole)?;
        }
    }
    let fallback_on = check_field(req, "fallbackOn", "fallbackOn", Kind::Arr)?;
    if js_sys::Array::is_array(&fallback_on) {
        for (i, code) in js_sys::Array::from(&fallback_on).iter().enumerate() {
            let ok = code
                .as_string()
                .is_some_and(|c| CODES.contains(&c.as_str()));
            if !ok {
                return Err(kind_error(&format!("fallbackOn[{i}]"), Kind::OneOf(&CODES)));
            }
        }
    }
    let providers = check_field(req, "providers", "providers", Kind::Arr)?;
    if js_sys::Array::is_array(&providers) {
        for (i, p) in js_sys::Array::from(&providers).iter().enumerate() {
            let path = |k: &str| format!("providers[{i}].{k}");
            if !p.is_object() {
                return Err(kind_error(&format!("providers[{i}]"), Kind::Obj));
            }
            check_field(&p, "provider", &path("provider"), Kind::OneOf(&PROVIDERS))?;
            for key in ["apiKey", "model", "baseUrl"] {
                check_field(&p, key, &path(key), Kind::Str)?;
            }
            let params = check_field(&p, "params", &path("params"), Kind::Obj)?;
            if params.is_object() {
                check_json_data(&params, &path("params"))?;
            }
        }
    }
    Ok(())
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

/// Validates and runs a request whose JS extras were already read.
async fn run(
    req: GenerateRequest,
    on_event: Option<Function>,
    signal: Option<AbortSignal>,
    client: Option<Rc<ClientState>>,
) -> Result<crate::model::GenerateResult, Error> {
    let valid = validate(&req)?;
    let token = CancelToken::new();
    let _bridge = signal.map(|s| AbortBridge::new(s, &token));
    let events = JsEvents(on_event);
    engine::generate_with_client(&runtime(), &valid, &events, &token, client.as_deref()).await
}

fn reject(e: &Error) -> Promise {
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
fn generate_promise(request: JsValue, client: Option<Rc<ClientState>>) -> Promise {
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
    future_to_promise(async move {
        run(req, on_event, signal, client)
            .await
            .map(|r| to_js(&r))
            .map_err(|e| to_js_error(&e))
    })
}

fn parse_provider(value: &JsValue, field: &str) -> Result<ProviderName, Error> {
    let name = string_arg(value, field, 64)?
        .ok_or_else(|| Error::invalid(field, format!("`{field}` must be a string")))?;
    ProviderName::parse(&name).ok_or_else(|| {
        Error::invalid(
            field,
            format!(
                "unsupported provider {name:?}; expected one of openai, gemini, stability, mock"
            ),
        )
    })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ValidateOptions {
    #[serde(default)]
    base_url: Option<String>,
    #[serde(default)]
    timeout_ms: Option<f64>,
}

/// Default timeout of a key check.
const VALIDATE_TIMEOUT_MS: u64 = 30_000;

async fn validate_key(
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

/// Constructor options of the services.
#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
struct ServiceOptions {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    base_url: Option<String>,
    #[serde(default)]
    params: Option<serde_json::Value>,
    #[serde(default)]
    retry: Option<crate::model::RetryOptions>,
    #[serde(default)]
    timeout_ms: Option<f64>,
    #[serde(default)]
    deadline_ms: Option<f64>,
}

/// `generateImages` options of the services.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ServiceGenerateOptions {
    #[serde(default)]
    count: Option<f64>,
    #[serde(default)]
    size: Option<String>,
    #[serde(default)]
    aspect_ratio: Option<String>,
    #[serde(default)]
    seed: Option<f64>,
    #[serde(default)]
    negative_prompt: Option<String>,
    #[serde(default)]
    output_format: Option<crate::model::OutputFormat>,
    #[serde(default)]
    additional_params: Option<serde_json::Value>,
}

/// The state shared by the service classes.
#[derive(Clone)]
struct Service {
    provider: ProviderName,
    api_key: Option<Secret>,
    options: ServiceOptions,
}

impl Service {
    fn new(provider: ProviderName, api_key: JsValue, options: JsValue) -> Result<Service, JsValue> {
        let api_key = string_arg(&api_key, "apiKey", MAX_FIELD_CHARS)
            .map_err(|e| to_js_error(&e))?
            .map(Secret::new);
        let options = if options.is_undefined() || options.is_null() {
            ServiceOptions::default()
        } else {
            let params = check_field(&options, "params", "options.params", Kind::Obj)
                .map_err(|e| to_js_error(&e))?;
            if params.is_object() {
                check_json_data(&params, "options.params").map_err(|e| to_js_error(&e))?;
            }
            for key in ["model", "baseUrl"] {
                check_field(&options, key, &format!("options.{key}"), Kind::Str)
                    .map_err(|e| to_js_error(&e))?;
            }
            from_js(&options, "options").map_err(|e| to_js_error(&e))?
        };
        Ok(Service {
            provider,
            api_key,
            options,
        })
    }

    fn generate(&self, prompt: JsValue, options: JsValue) -> Promise {
        let prompt = match string_arg(&prompt, "prompt", MAX_PROMPT_CHARS) {
            Ok(Some(p)) => p,
            Ok(None) => return reject(&Error::invalid("prompt", "`prompt` must be a string")),
            Err(e) => return reject(&e),
        };
        if options.is_object() {
            let checked = check_field(&options, "additionalParams", "additionalParams", Kind::Obj)
                .and_then(|p| {
                    if p.is_object() {
                        check_json_data(&p, "additionalParams")
                    } else {
                        Ok(())
                    }
                });
            if let Err(e) = checked {
                return reject(&e);
            }
        }
        let parsed = if options.is_undefined() || options.is_null() {
            Ok((ServiceGenerateOptions::default(), None, None))
        } else {
            js_extras(&options).and_then(|(on_event, signal)| {
                from_js::<ServiceGenerateOptions>(&options, "options")
                    .map(|o| (o, on_event, signal))
            })
        };
        let (opts, on_event, signal) = match parsed {
            Ok(p) => p,
            Err(e) => return reject(&e),
        };
        let params = merge_objects(self.options.params.clone(), opts.additional_params);
        let req = GenerateRequest {
            prompt: Some(prompt),
            count: opts.count,
            size: opts.size,
            aspect_ratio: opts.aspect_ratio,
            seed: opts.seed,
            negative_prompt: opts.negative_prompt,
            output_format: opts.output_format,
            providers: Some(vec![ProviderConfig {
                provider: Some(self.provider),
                api_key: self.api_key.clone(),
                model: self.options.model.clone(),
                base_url: self.options.base_url.clone(),
                params,
            }]),
            retry: self.options.retry.clone(),
            fallback_on: None,
            timeout_ms: self.options.timeout_ms,
            deadline_ms: self.options.deadline_ms,
            concurrency: None,
        };
        future_to_promise(async move {
            let result = run(req, on_event, signal, None)
                .await
                .map_err(|e| to_js_error(&e))?;
            let urls = js_sys::Array::new();
            for image in &result.images {
                let prefix = JsString::from(format!("data:{};base64,", image.mime_type).as_str());
                urls.push(&prefix.concat(image.base64.as_js()));
            }
            Ok(urls.into())
        })
    }

    fn validate(&self, api_key: JsValue) -> Promise {
        let provider = self.provider;
        let opts = ValidateOptions {
            base_url: self.options.base_url.clone(),
            timeout_ms: None,
        };
        future_to_promise(async move {
            validate_key(provider, api_key, opts)
                .await
                .map(JsValue::from_bool)
                .map_err(|e| to_js_error(&e))
        })
    }
}

/// Shallow-merges two optional objects (`extra` wins).
fn merge_objects(
    base: Option<serde_json::Value>,
    extra: Option<serde_json::Value>,
) -> Option<serde_json::Value> {
    match (base, extra) {
        (Some(serde_json::Value::Object(mut a)), Some(serde_json::Value::Object(b))) => {
            a.extend(b);
            Some(serde_json::Value::Object(a))
        }
        (a, None) => a,
        (_, b) => b,
    }
}

macro_rules! service_class {
    ($rust:ident, $js:literal, $provider:expr, $doc:literal) => {
        #[doc = $doc]
        #[wasm_bindgen(js_name = $js)]
        pub struct $rust {
            inner: Service,
        }

        #[wasm_bindgen(js_class = $js)]
        impl $rust {
            /// `new Service(apiKey, options?)`.
            #[wasm_bindgen(constructor)]
            pub fn new(
                #[wasm_bindgen(js_name = apiKey, unchecked_param_type = "string")] api_key: JsValue,
                #[wasm_bindgen(unchecked_optional_param_type = "ServiceOptions")] options: Option<
                    JsValue,
                >,
            ) -> Result<$rust, JsValue> {
                Ok($rust {
                    inner: Service::new($provider, api_key, options.unwrap_or(JsValue::UNDEFINED))?,
                })
            }

            /// The provider this service calls.
            #[wasm_bindgen(getter, unchecked_return_type = "ProviderName")]
            pub fn provider(&self) -> String {
                self.inner.provider.as_str().to_string()
            }

            /// Generates images; resolves with `data:` URLs.
            #[wasm_bindgen(js_name = generateImages, unchecked_return_type = "Promise<string[]>")]
            pub fn generate_images(
                &self,
                #[wasm_bindgen(unchecked_param_type = "string")] prompt: JsValue,
                #[wasm_bindgen(unchecked_optional_param_type = "ServiceGenerateOptions")]
                options: Option<JsValue>,
            ) -> Promise {
                self.inner
                    .generate(prompt, options.unwrap_or(JsValue::UNDEFINED))
            }

            /// Checks a key: `true` if it works, `false` if it is refused.
            #[wasm_bindgen(js_name = validateApiKey, unchecked_return_type = "Promise<boolean>")]
            pub fn validate_api_key(
                &self,
                #[wasm_bindgen(js_name = apiKey, unchecked_param_type = "string")] api_key: JsValue,
            ) -> Promise {
                self.inner.validate(api_key)
            }
        }
    };
}

service_class!(
    OpenAIService,
    "OpenAIService",
    ProviderName::Openai,
    "OpenAI images, the seed design's way."
);
service_class!(
    GeminiService,
    "GeminiService",
    ProviderName::Gemini,
    "Gemini images, the seed design's way."
);
service_class!(
    StabilityService,
    "StabilityService",
    ProviderName::Stability,
    "Stability AI images, the seed design's way."
);
service_class!(
    MockService,
    "MockService",
    ProviderName::Mock,
    "The offline mock provider, the seed design's way."
);

/// The seed design's factory: a service for `provider`. Throws an
/// `ImageGenError` (`invalid_request`) for an unsupported provider.
#[wasm_bindgen(js_name = createImageService, unchecked_return_type = "ImageGenerationService")]
pub fn create_image_service(
    #[wasm_bindgen(unchecked_param_type = "ProviderName")] provider: JsValue,
    #[wasm_bindgen(js_name = apiKey, unchecked_param_type = "string")] api_key: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "ServiceOptions")] options: Option<JsValue>,
) -> Result<JsValue, JsValue> {
    let provider = parse_provider(&provider, "provider").map_err(|e| to_js_error(&e))?;
    let inner = Service::new(provider, api_key, options.unwrap_or(JsValue::UNDEFINED))?;
    Ok(match provider {
        ProviderName::Openai => OpenAIService { inner }.into(),
        ProviderName::Gemini => GeminiService { inner }.into(),
        ProviderName::Stability => StabilityService { inner }.into(),
        ProviderName::Mock => MockService { inner }.into(),
        // Providers added after the seed design have no class of their own.
        #[allow(unreachable_patterns)]
        other => {
            return Err(to_js_error(&Error::invalid(
                "provider",
                format!("`provider` {other} has no seed-design service; use generateImages"),
            )))
        }
    })
}

/// The error codes, for callers that want to switch on them.
#[wasm_bindgen(js_name = errorCodes, unchecked_return_type = "ErrorCode[]")]
pub fn error_codes() -> JsValue {
    to_js(&ErrorCode::ALL)
}

pub use crate::resilience::{CircuitBreakerOptions, ClientOptions, RetryBudgetOptions};

/// A long-lived client: the same `generateImages`, with a retry budget and
/// circuit breakers shared by all its calls.
#[wasm_bindgen(js_name = ImageGenClient)]
pub struct ImageGenClient {
    state: Rc<ClientState>,
}

#[wasm_bindgen(js_class = ImageGenClient)]
impl ImageGenClient {
    /// Generates images; see the free `generateImages`.
    #[wasm_bindgen(js_name = generateImages, unchecked_return_type = "Promise<GenerateResult>")]
    pub fn generate_images(
        &self,
        #[wasm_bindgen(unchecked_param_type = "GenerateRequest")] request: JsValue,
    ) -> Promise {
        generate_promise(request, Some(self.state.clone()))
    }

    /// Providers currently skipped, as `"provider|model|origin"`.
    #[wasm_bindgen(js_name = openCircuits)]
    pub fn open_circuits(&self) -> Vec<String> {
        self.state.open_circuits(DateClock.now_ms())
    }
}

/// Creates a long-lived client. Throws `ImageGenError` (`invalid_request`) on bad options.
#[wasm_bindgen(js_name = createClient)]
pub fn create_client(
    #[wasm_bindgen(unchecked_optional_param_type = "ClientOptions")] options: Option<JsValue>,
) -> Result<ImageGenClient, JsValue> {
    let options = match options.filter(|o| !o.is_undefined() && !o.is_null()) {
        None => ClientOptions::default(),
        Some(o) => from_js(&o, "options").map_err(|e| to_js_error(&e))?,
    };
    let settings = ClientSettings::from_options(&options).map_err(|e| to_js_error(&e))?;
    Ok(ImageGenClient {
        state: Rc::new(ClientState::new(settings)),
    })
}
