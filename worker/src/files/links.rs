//! A response's images turned into links (wasm32): each `data[i].b64_json`
//! stored in R2 and replaced by `data[i].url`, all images at once. An image
//! whose write (or signature) fails stays inline (`b64_json`) and the response gets a
//! warning `link_unavailable` for it: a paid image is never lost.

use super::store::{Body, Files};
use crate::platform::{get, obj};
use futures_util::future::join_all;
use js_sys::{Array, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// The code of the warning for an image returned inline because it could
/// not be stored (a Worker extension of the warning codes).
pub const LINK_UNAVAILABLE: &str = "link_unavailable";

fn set(target: &JsValue, name: &str, value: &JsValue) {
    let _ = Reflect::set(target, &JsValue::from_str(name), value);
}

fn delete(target: &JsValue, name: &str) {
    let _ = Reflect::delete_property(
        target.unchecked_ref::<js_sys::Object>(),
        &JsValue::from_str(name),
    );
}

/// Replaces each image of `response` (the images response object, its
/// images JS strings) by a link on `origin`. An image that cannot be
/// stored (or, in theory, signed) stays inline with a warning.
pub async fn to_links(files: &Files, origin: &str, response: &JsValue) {
    let data: Array = get(response, "data")
        .map(JsCast::unchecked_into)
        .unwrap_or_default();
    let items: Vec<JsValue> = data.iter().collect();
    let links = items.iter().map(|item| async move {
        let b64 = get(item, "b64_json")?;
        let mime = get(item, "mime_type")
            .and_then(|m| m.as_string())
            .unwrap_or_else(|| "image/png".to_string());
        let stored = files.put(Body::Base64(&b64), &mime, None).await;
        Some(match stored {
            Ok(s) => files.url(origin, &s.id, s.expires_at).await.ok(),
            Err(_) => None,
        })
    });
    let links = join_all(links).await;
    let warnings: Option<Array> = get(response, "warnings").map(JsCast::unchecked_into);
    for (i, (item, link)) in items.iter().zip(links).enumerate() {
        match link {
            None => {}
            Some(Some(url)) => {
                set(item, "url", &JsValue::from_str(&url));
                delete(item, "b64_json");
            }
            Some(None) => {
                let message = format!(
                    "image {i} could not be stored for a link; it is returned inline as b64_json"
                );
                let warning = obj(&[
                    ("provider", get(item, "provider").unwrap_or(JsValue::NULL)),
                    ("code", LINK_UNAVAILABLE.into()),
                    ("message", message.into()),
                ]);
                if let Some(w) = &warnings {
                    w.push(&warning);
                }
            }
        }
    }
}
