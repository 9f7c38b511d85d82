//! Type checks of JS arguments before they are deserialized, so a wrong type
//! is reported with the field's path and oversized strings are refused before
//! they are copied into wasm memory.

use crate::model::{Error, ErrorCode, ProviderName};
use js_sys::{Function, JsString, Reflect};
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::AbortSignal;

pub(super) fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// Reads `onEvent` and `signal`, which stay JS values.
pub(super) fn js_extras(obj: &JsValue) -> Result<(Option<Function>, Option<AbortSignal>), Error> {
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
pub(super) fn from_js<T: for<'de> Deserialize<'de>>(
    value: &JsValue,
    what: &str,
) -> Result<T, Error> {
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
pub(super) enum Kind {
    Str,
    /// A number that must be a non-negative whole number (u32/u64 fields).
    Whole,
    /// Any number (checked further by validation).
    Num,
    Obj,
    Arr,
    OneOf(&'static [&'static str]),
}

pub(super) fn kind_error(path: &str, kind: Kind) -> Error {
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
pub(super) const MAX_PROMPT_CHARS: u32 = 100_000;
/// Longest other string field.
pub(super) const MAX_FIELD_CHARS: u32 = 4096;
/// Deepest nesting of `params`.
const MAX_PARAMS_DEPTH: usize = 32;
/// Most values in `params`.
const MAX_PARAMS_NODES: usize = 10_000;

/// Checks that `value` is plain JSON data of bounded depth and size, without
/// recursion (a deeply nested object must not overflow the wasm stack).
pub(super) fn check_json_data(value: &JsValue, path: &str) -> Result<(), Error> {
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
pub(super) fn string_arg(value: &JsValue, field: &str, max: u32) -> Result<Option<String>, Error> {
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
pub(super) fn check_field(
    obj: &JsValue,
    key: &str,
    path: &str,
    kind: Kind,
) -> Result<JsValue, Error> {
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
pub(super) fn check_request_types(req: &JsValue) -> Result<(), Error> {
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
        ("partialImages", Kind::Num),
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

pub(super) fn parse_provider(value: &JsValue, field: &str) -> Result<ProviderName, Error> {
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
