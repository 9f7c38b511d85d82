//! The caller's input images on wasm: JS values that never enter wasm
//! memory. Rust sees a handle, the format and size learnt from the first
//! bytes, and asks the JS side to assemble request bodies from them.

use crate::inputs::body::{FormValue, Payload, Piece};
use crate::inputs::sniff::{jpeg_from, sniff, Step, HEADER_BYTES, MAX_JPEG_SEGMENTS};
use crate::inputs::Input;
use crate::Error;
use js_sys::{JsString, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(module = "/src/wasm/inputs.js")]
extern "C" {
    #[wasm_bindgen(js_name = inputFrom)]
    fn input_from(value: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = inputSize)]
    fn input_size(input: &JsValue) -> f64;
    #[wasm_bindgen(js_name = readBytes)]
    fn read_bytes(input: &JsValue, offset: f64, len: u32) -> Promise;
    #[wasm_bindgen(js_name = base64Of)]
    fn base64_of(input: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = typedBlob)]
    fn typed_blob(input: &JsValue, mime: &str) -> JsValue;
    #[wasm_bindgen(js_name = newForm)]
    fn new_form() -> JsValue;
    #[wasm_bindgen(js_name = appendText)]
    fn append_text(form: &JsValue, name: &str, text: &str);
    #[wasm_bindgen(js_name = appendBlob)]
    fn append_blob(form: &JsValue, name: &str, blob: &JsValue, filename: &str);
    #[wasm_bindgen(js_name = bytesBlob)]
    fn bytes_blob(bytes: &[u8], mime: &str) -> JsValue;
    #[wasm_bindgen(js_name = joinStrings)]
    fn join_strings(parts: &js_sys::Array) -> JsString;
    fn inflate(bytes: &[u8]) -> Promise;
    fn deflate(bytes: &[u8]) -> Promise;
}

async fn zlib(promise: Promise) -> Result<Vec<u8>, Error> {
    let v = JsFuture::from(promise)
        .await
        .map_err(|_| Error::invalid("mask", "`mask` PNG data cannot be decompressed"))?;
    Ok(Uint8Array::from(v).to_vec())
}

/// A caller's mask (any input type [`load`] takes): read into wasm memory
/// (masks are small), checked, decoded and converted to grayscale with the
/// platform's zlib streams. Errors name `mask`.
pub async fn load_mask(value: &JsValue) -> Result<crate::inputs::MaskInput, Error> {
    let input = load(value, "mask").await?;
    mask_from_bytes(input.data.bytes().await?).await
}

async fn mask_from_bytes(bytes: Vec<u8>) -> Result<crate::inputs::MaskInput, Error> {
    use crate::inputs::png::{gray_png, gray_rows, MaskPng};
    let info = crate::inputs::MaskInput::sniff(&bytes)?;
    let png = MaskPng::parse(&bytes)?;
    let raw = zlib(inflate(&png.zlib)).await?;
    let pixels = png.pixels(&raw)?;
    let gray = zlib(deflate(&gray_rows(&pixels))).await?;
    Ok(crate::inputs::MaskInput {
        info,
        bytes: bytes.into(),
        gray: gray_png(pixels.width, pixels.height, &gray).into(),
    })
}

/// An input image held by JS (`{blob, base64?}` made by `inputs.js`).
#[derive(Clone, PartialEq)]
pub struct JsInput(JsValue);

// Identity of the JS object (`===`), which is reflexive for objects.
impl Eq for JsInput {}

impl JsInput {
    /// The input as a Blob of the given type, for a multipart part.
    pub fn blob(&self, mime: &str) -> JsValue {
        typed_blob(&self.0, mime)
    }

    /// The input as base64, a JS string (for splicing into a JSON body).
    pub async fn base64(&self) -> Result<JsString, Error> {
        let v = JsFuture::from(base64_of(&self.0))
            .await
            .map_err(read_error)?;
        Ok(JsString::from(v))
    }

    /// All bytes, copied into wasm memory: for masks only (small, and
    /// decoded to convert their convention).
    pub async fn bytes(&self) -> Result<Vec<u8>, Error> {
        let size = input_size(&self.0);
        read(&self.0, 0.0, size.min(f64::from(u32::MAX)) as u32).await
    }
}

fn read_error(_: JsValue) -> Error {
    Error::invalid("images", "an input image could not be read")
}

async fn read(input: &JsValue, offset: f64, len: u32) -> Result<Vec<u8>, Error> {
    let v = JsFuture::from(read_bytes(input, offset, len))
        .await
        .map_err(read_error)?;
    Ok(Uint8Array::from(v).to_vec())
}

fn refusal(reason: &str, param: &str) -> Error {
    let message = match reason {
        "remote_url" => format!("`{param}` is a remote URL; pass the image itself (remote URLs are never fetched)"),
        "data_url" => format!("`{param}` is a string but not a base64 `data:` URL"),
        "base64" => format!("`{param}` is not valid base64"),
        _ => format!("`{param}` must be a Blob, ArrayBuffer, Uint8Array, {{base64, mimeType}} or a data: URL"),
    };
    Error::invalid(param, message)
}

/// Takes one caller's input: checks its type, reads its first bytes and
/// learns format and size (JPEGs walked further as needed).
pub async fn load(value: &JsValue, param: &str) -> Result<Input<JsInput>, Error> {
    let handle = input_from(value);
    if let Some(reason) = Reflect::get(&handle, &JsValue::from_str("error"))
        .ok()
        .and_then(|e| e.as_string())
    {
        return Err(refusal(&reason, param));
    }
    let head = read(&handle, 0.0, HEADER_BYTES as u32).await?;
    let mut step = sniff(&head, param)?;
    for _ in 0..MAX_JPEG_SEGMENTS {
        match step {
            Step::Done(info) => {
                let len = input_size(&handle) as u64;
                return Ok(Input {
                    info,
                    len,
                    data: JsInput(handle),
                });
            }
            Step::Need { offset, len } => {
                let chunk = read(&handle, offset as f64, len as u32).await?;
                let next = jpeg_from(&chunk, offset, param)?;
                if matches!(next, Step::Need { offset: o, .. } if o <= offset) {
                    return Err(Error::invalid(
                        param,
                        format!("`{param}` is a damaged JPEG"),
                    ));
                }
                step = next;
            }
        }
    }
    Err(Error::invalid(
        param,
        format!("`{param}` is a damaged JPEG"),
    ))
}

/// The JS body for a payload: a `FormData` (fetch sets the multipart
/// boundary) or one JS string with the inputs' base64 spliced in.
pub async fn payload_to_js(payload: &Payload, inputs: &[JsInput]) -> Result<JsValue, Error> {
    let missing = || {
        Error::new(
            crate::ErrorCode::InvalidRequest,
            "a request body names an input that is not there",
        )
    };
    match payload {
        Payload::Form(parts) => {
            let form = new_form();
            for part in parts {
                match &part.value {
                    FormValue::Text(t) => append_text(&form, &part.name, t),
                    FormValue::Input {
                        index,
                        filename,
                        mime,
                    } => {
                        let input = inputs.get(*index).ok_or_else(missing)?;
                        append_blob(&form, &part.name, &input.blob(mime), filename);
                    }
                    FormValue::File {
                        bytes,
                        filename,
                        mime,
                    } => {
                        append_blob(&form, &part.name, &bytes_blob(bytes, mime), filename);
                    }
                }
            }
            Ok(form)
        }
        Payload::Spliced(pieces) => {
            let strings = js_sys::Array::new();
            for piece in pieces {
                match piece {
                    Piece::Text(t) => strings.push(&JsValue::from_str(t)),
                    Piece::Base64(i) => {
                        strings.push(&inputs.get(*i).ok_or_else(missing)?.base64().await?.into())
                    }
                };
            }
            Ok(join_strings(&strings).into())
        }
    }
}

/// Reads a request's `images` and `mask` (either may be `undefined`):
/// `None` when there are none, else the checked inputs of an edit.
pub async fn load_request_inputs(
    images: &JsValue,
    mask: &JsValue,
) -> Result<Option<crate::inputs::EditInputs>, Error> {
    let absent = |v: &JsValue| v.is_undefined() || v.is_null();
    if absent(images) {
        if absent(mask) {
            return Ok(None);
        }
        return Err(Error::invalid(
            "mask",
            "`mask` needs at least one image in `images`",
        ));
    }
    if !js_sys::Array::is_array(images) {
        return Err(Error::invalid(
            "images",
            "`images` must be an array of images",
        ));
    }
    let list = js_sys::Array::from(images);
    if list.length() as usize > crate::inputs::MAX_IMAGES {
        return Err(Error::invalid(
            "images",
            format!(
                "`images` holds {} images; at most {} are accepted",
                list.length(),
                crate::inputs::MAX_IMAGES
            ),
        ));
    }
    let mut loaded = Vec::with_capacity(list.length() as usize);
    for (i, value) in list.iter().enumerate() {
        loaded.push(load(&value, &format!("images[{i}]")).await?);
    }
    let mask = if absent(mask) {
        None
    } else {
        Some(load_mask(mask).await?)
    };
    crate::inputs::EditInputs::new(loaded, mask).map(Some)
}
