//! Multipart forms (`POST /v1/images/edits`), parsed by the platform in
//! `js/form.js`: the body's size is counted while it is read, and file
//! parts stay JS `File` objects (their bytes never enter wasm memory).

use crate::error::ApiError;
use js_sys::{Array, JsString, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(module = "/js/form.js")]
extern "C" {
    #[wasm_bindgen(js_name = readForm)]
    fn read_form(request: &web_sys::Request, limit: f64) -> Promise;
    #[wasm_bindgen(js_name = fingerprint)]
    fn form_fingerprint(fields: &JsValue, files: &JsValue) -> Promise;
}

/// A parsed form: text fields and file parts, each in order.
pub struct Form {
    /// `(name, text)` of the text parts.
    pub fields: Vec<(String, String)>,
    /// Names of the file parts.
    pub file_names: Vec<String>,
    /// The file parts' `File` objects, in the same order.
    pub files: Vec<JsValue>,
    raw_fields: JsValue,
    raw_files: JsValue,
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        413,
        "payload_too_large",
        format!("request body is larger than {limit} bytes"),
    )
}

fn malformed() -> ApiError {
    ApiError::invalid(
        "body",
        "request body is not a valid multipart/form-data form",
    )
}

/// `[name, value]` pairs of a JS array.
fn pairs(list: &JsValue) -> Vec<(String, JsValue)> {
    Array::from(list)
        .iter()
        .map(|pair| {
            let pair = Array::from(&pair);
            (pair.get(0).as_string().unwrap_or_default(), pair.get(1))
        })
        .collect()
}

/// Reads the request's form, refusing more than `limit` bytes (413)
/// whether or not a Content-Length was sent.
pub async fn read(req: &web_sys::Request, limit: usize) -> Result<Form, ApiError> {
    let out = JsFuture::from(read_form(req, limit as f64))
        .await
        .map_err(|_| malformed())?;
    match Reflect::get(&out, &"error".into())
        .ok()
        .and_then(|e| e.as_string())
        .as_deref()
    {
        None => {}
        Some("too_large") => return Err(too_large(limit)),
        Some(_) => return Err(malformed()),
    }
    let raw_fields = Reflect::get(&out, &"fields".into()).map_err(|_| malformed())?;
    let raw_files = Reflect::get(&out, &"files".into()).map_err(|_| malformed())?;
    let fields = pairs(&raw_fields)
        .into_iter()
        .map(|(n, v)| (n, v.as_string().unwrap_or_default()))
        .collect();
    let (file_names, files) = pairs(&raw_files).into_iter().unzip();
    Ok(Form {
        fields,
        file_names,
        files,
        raw_fields,
        raw_files,
    })
}

impl Form {
    /// A text naming everything in the form (files by size and SHA-256,
    /// hashed in JS), for an `Idempotency-Key` fingerprint.
    pub async fn fingerprint(&self) -> Result<String, ApiError> {
        let text = JsFuture::from(form_fingerprint(&self.raw_fields, &self.raw_files))
            .await
            .map_err(|_| ApiError::invalid("body", "a file in the form could not be read"))?;
        Ok(String::from(JsString::from(text)))
    }
}
