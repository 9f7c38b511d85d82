//! The Worker's `fetch` export, called by the entry module
//! (`worker/js/index.js`): request ids, CORS (preflight and headers), the
//! access log, and errors turned into responses.

use crate::error::ApiError;
use crate::http;
use crate::platform::{self, Env};
use crate::respond;
use crate::routes;
use crate::settings::Settings;
use wasm_bindgen::prelude::*;

fn with_common_headers(
    resp: web_sys::Response,
    request_id: &str,
    allowed_origin: Option<&str>,
) -> web_sys::Response {
    let h = resp.headers();
    let _ = h.set("x-request-id", request_id);
    // Responses differ by Origin (allowed or not): caches must know,
    // whatever this one was.
    let _ = h.append("vary", "Origin");
    if let Some(origin) = allowed_origin {
        let _ = h.set("access-control-allow-origin", origin);
        let _ = h.set("access-control-expose-headers", http::EXPOSE_HEADERS);
    }
    resp
}

/// The Worker's fetch handler, called by the entry module
/// (`worker/js/index.js`) with the runtime's `env` and context.
#[wasm_bindgen]
pub async fn fetch(
    req: web_sys::Request,
    env: JsValue,
    ctx: JsValue,
) -> Result<web_sys::Response, JsValue> {
    let env = Env::new(env);
    let started = js_sys::Date::now();
    let request_id =
        http::caller_request_id(req.headers().get("x-request-id").ok().flatten().as_deref())
            .unwrap_or_else(|| platform::random_hex(16));
    let settings = Settings::from_env(&env);
    let origin = req.headers().get("origin").ok().flatten();
    let allowed = settings.cors.allow(origin.as_deref()).map(str::to_string);
    let method = req.method();

    let result: Result<web_sys::Response, JsValue> = if method == "OPTIONS" {
        if allowed.is_some() {
            respond::empty_response(
                204,
                &[
                    (
                        "access-control-allow-methods",
                        http::ALLOW_METHODS.to_string(),
                    ),
                    (
                        "access-control-allow-headers",
                        http::ALLOW_HEADERS.to_string(),
                    ),
                    ("access-control-max-age", "600".to_string()),
                ],
            )
        } else {
            respond::error_response(&ApiError::new(
                403,
                "origin_not_allowed",
                "this origin is not allowed",
            ))
        }
    } else {
        match routes::handle(&req, &env, &settings, &ctx).await {
            Ok(r) => Ok(r),
            Err(e) => {
                if e.status >= 500 {
                    // Code and provider only: messages may carry a
                    // provider's text, which is never logged verbatim.
                    platform::console_error(&format!(
                        "request {request_id}: {} {}{}",
                        e.status,
                        e.code,
                        e.provider.map(|p| format!(" ({p})")).unwrap_or_default()
                    ));
                }
                respond::error_response(&e)
            }
        }
    };
    let resp = result?;
    let path = web_sys::Url::new(&req.url())
        .map(|u| u.pathname())
        .unwrap_or_default();
    platform::console_log(&format!(
        "{method} {path} {} {}ms rid={request_id}",
        resp.status(),
        (js_sys::Date::now() - started).max(0.0) as u64
    ));
    Ok(with_common_headers(resp, &request_id, allowed.as_deref()))
}
