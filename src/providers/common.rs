//! Helpers shared by the provider modules: error building and
//! classification, retry hints, params merging, ratio mapping, base64.

use super::ParseContext;
use crate::geometry::Ratio;
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::model::{Error, ErrorCode, ProviderName, Warning, WarningCode};
use crate::request::ImageRequest;
use crate::secret::{scrub_key_like, Secret};
use serde_json::{Map, Value};

/// Longest provider message kept in an error.
const MAX_MESSAGE_CHARS: usize = 600;

/// Builds a provider error with a message that names the provider and status
/// and never contains the key.
pub(crate) fn provider_error(
    ctx: &ParseContext<'_>,
    code: ErrorCode,
    status: Option<u16>,
    detail: &str,
) -> Error {
    let detail = scrub_key_like(&ctx.entry.api_key.redact_in(detail));
    let detail: String = if detail.chars().count() > MAX_MESSAGE_CHARS {
        let cut: String = detail.chars().take(MAX_MESSAGE_CHARS).collect();
        format!("{cut}…")
    } else {
        detail
    };
    let message = match status {
        Some(s) => format!(
            "{} ({} {}, HTTP {s}): {detail}",
            ctx.entry.provider, ctx.entry.model, code
        ),
        None => format!(
            "{} ({} {}): {detail}",
            ctx.entry.provider, ctx.entry.model, code
        ),
    };
    let mut e = Error::new(code, message).with_provider(ctx.entry.provider);
    e.status = status;
    e
}

/// Decodes a 2xx body; an unexpected shape is a `bad_response`.
pub(crate) fn decode_success<T: serde::de::DeserializeOwned>(
    resp: &HttpResponse,
    ctx: &ParseContext<'_>,
) -> Result<T, Error> {
    resp.body.decode_json().map_err(|e| {
        provider_error(
            ctx,
            ErrorCode::BadResponse,
            Some(resp.status),
            &format!("response is not the expected JSON ({e})"),
        )
    })
}

/// What an error body that is not the provider's JSON envelope says (an
/// HTML page from a proxy, an empty body).
pub(crate) fn unparsed_detail(resp: &HttpResponse) -> String {
    let text = resp.body.text_prefix();
    if text.trim().is_empty() {
        "empty error body".to_string()
    } else {
        format!("non-JSON error body: {}", text.trim())
    }
}

/// An error whose body could not be read as the provider's envelope:
/// classified by status alone, with any Retry-After header.
pub(crate) fn unparsed_error(resp: &HttpResponse, ctx: &ParseContext<'_>) -> Error {
    let mut e = provider_error(
        ctx,
        code_for_status(resp.status),
        Some(resp.status),
        &unparsed_detail(resp),
    );
    if e.retryable() {
        e.retry_after_ms = crate::http::retry_after_from_headers(resp, ctx.now_unix_ms);
    }
    e
}

/// Classification by status alone, for bodies that say nothing useful
/// (HTML error pages from proxies, empty bodies).
pub(crate) fn code_for_status(status: u16) -> ErrorCode {
    match status {
        401 => ErrorCode::Auth,
        402 => ErrorCode::Quota,
        403 => ErrorCode::Permission,
        404 => ErrorCode::NotFound,
        408 | 409 | 425 => ErrorCode::ProviderError,
        429 => ErrorCode::RateLimited,
        s if s >= 500 => ErrorCode::ProviderError,
        _ => ErrorCode::InvalidRequest,
    }
}

/// Finds a retry hint in a message: "Please try again in 12s", "Please
/// retry in 14.5s", "try again in 6m0s", "try again in 500ms".
pub(crate) fn retry_hint_in_message(message: &str) -> Option<u64> {
    let lower = message.to_ascii_lowercase();
    for marker in ["try again in ", "retry in ", "retry after "] {
        if let Some(pos) = lower.find(marker) {
            let rest = lower.get(pos + marker.len()..)?;
            let token: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
                .collect();
            let token = token.trim_end_matches('.');
            if let Some(ms) = crate::http::parse_duration_ms(token) {
                return Some(ms);
            }
            let after = rest.get(token.len()..).unwrap_or("").trim_start();
            if let Ok(secs) = token.parse::<f64>() {
                if after.starts_with("second") && secs.is_finite() && secs >= 0.0 {
                    return Some((secs * 1000.0).round() as u64);
                }
            }
        }
    }
    None
}

/// Deep-merges `params` into `target`: objects merge recursively, other
/// values replace, `null` removes the key (to drop a default).
pub(crate) fn merge_params(target: &mut Map<String, Value>, params: &Map<String, Value>) {
    for (key, value) in params {
        match value {
            Value::Null => {
                target.remove(key);
            }
            Value::Object(inner) => match target.get_mut(key) {
                Some(Value::Object(existing)) => merge_params(existing, inner),
                _ => {
                    let mut fresh = Map::new();
                    merge_params(&mut fresh, inner);
                    target.insert(key.clone(), Value::Object(fresh));
                }
            },
            other => {
                target.insert(key.clone(), other.clone());
            }
        }
    }
}

/// A warning about `provider`.
pub(crate) fn warning(provider: ProviderName, code: WarningCode, message: String) -> Warning {
    Warning {
        provider,
        code,
        message,
    }
}

/// The MIME type named in a content type such as `application/json; type=image/png`.
pub(crate) fn image_type_param(content_type: &str) -> Option<String> {
    content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("type="))
        .filter(|t| t.starts_with("image/"))
        .map(str::to_string)
}

/// A GET with a bearer key: the key check of APIs that take one.
pub(crate) fn bearer_get(key: &Secret, url: String) -> HttpRequest {
    HttpRequest::new(Method::Get, url)
        .secret_header("authorization", format!("Bearer {}", key.expose()))
}

/// Standard base64 (with padding), for binary image bodies and the mock's SVGs.
pub(crate) fn standard_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b0 = u32::from(chunk.first().copied().unwrap_or(0));
        let b1 = u32::from(chunk.get(1).copied().unwrap_or(0));
        let b2 = u32::from(chunk.get(2).copied().unwrap_or(0));
        let n = (b0 << 16) | (b1 << 8) | b2;
        let sextet = |shift: u32| char::from(ALPHABET[((n >> shift) & 63) as usize]);
        out.push(sextet(18));
        out.push(sextet(12));
        out.push(if chunk.len() > 1 { sextet(6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(0) } else { '=' });
    }
    out
}

/// Maps a requested size or aspect ratio to the nearest of `allowed`
/// ratios. Returns the ratio to send, and a warning when it differs from
/// what was asked.
pub(crate) fn ratio_for(
    provider: ProviderName,
    req: &ImageRequest,
    allowed: &[Ratio],
    default: Ratio,
) -> (Ratio, Option<Warning>) {
    if let Some(r) = req.aspect_ratio {
        if allowed.contains(&r) {
            return (r, None);
        }
        let near = crate::geometry::nearest_ratio(r.value(), allowed).unwrap_or(default);
        let w = warning(
            provider,
            WarningCode::OptionMapped,
            format!("aspectRatio {r} is not supported; using the nearest, {near}"),
        );
        return (near, Some(w));
    }
    if let Some(s) = req.size {
        let near = crate::geometry::nearest_ratio(s.ratio(), allowed).unwrap_or(default);
        let w = warning(
            provider,
            WarningCode::OptionMapped,
            format!("size {s} is not supported; using aspect ratio {near}"),
        );
        return (near, Some(w));
    }
    (default, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_is_deep_and_null_deletes() {
        let mut target = json!({"a": 1, "g": {"x": 1, "y": 2}, "s": [1]})
            .as_object()
            .cloned()
            .unwrap();
        let params =
            json!({"a": null, "g": {"y": 3, "z": {"k": null, "q": 1}}, "s": [2], "n": "v"});
        merge_params(&mut target, params.as_object().unwrap());
        assert_eq!(
            Value::Object(target),
            json!({"g": {"x": 1, "y": 3, "z": {"q": 1}}, "s": [2], "n": "v"})
        );
    }

    #[test]
    fn retry_hints() {
        assert_eq!(
            retry_hint_in_message("Please try again in 12s. Visit"),
            Some(12_000)
        );
        assert_eq!(
            retry_hint_in_message("Please retry in 14.5s."),
            Some(14_500)
        );
        assert_eq!(retry_hint_in_message("try again in 6m0s"), Some(360_000));
        assert_eq!(
            retry_hint_in_message("Try again in 20 seconds"),
            Some(20_000)
        );
        assert_eq!(retry_hint_in_message("no hint here"), None);
    }

    #[test]
    fn base64_matches_known_vectors() {
        assert_eq!(standard_base64(b""), "");
        assert_eq!(standard_base64(b"f"), "Zg==");
        assert_eq!(standard_base64(b"fo"), "Zm8=");
        assert_eq!(standard_base64(b"foo"), "Zm9v");
        assert_eq!(standard_base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn status_codes() {
        assert_eq!(code_for_status(401), ErrorCode::Auth);
        assert_eq!(code_for_status(503), ErrorCode::ProviderError);
        assert_eq!(code_for_status(418), ErrorCode::InvalidRequest);
    }
}
