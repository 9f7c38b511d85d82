//! HTTP plumbing that needs no platform: routes, the error envelope, CORS,
//! content types, request ids.

use imagegen::{ErrorCode, ProviderName};
use serde::Serialize;

/// Longest error message sent.
const MAX_MESSAGE_CHARS: usize = 1000;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The routes of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /healthz`.
    Health,
    /// `POST /v1/images/generations`.
    Generate,
    /// `GET /v1/keys`.
    ListKeys,
    /// `PUT /v1/keys/{provider}`.
    PutKey(ProviderName),
    /// `DELETE /v1/keys/{provider}`.
    DeleteKey(ProviderName),
    /// `GET /v1/config`.
    GetConfig,
    /// `PUT /v1/config`.
    PutConfig,
}

/// Matches a method and path. `Err` is the error response to send.
pub fn route(method: &str, path: &str) -> Result<Route, ApiError> {
    let path = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    let not_allowed = |allow: &'static str| Err(ApiError::method_not_allowed(method, allow));
    match path {
        "/healthz" => match method {
            "GET" | "HEAD" => Ok(Route::Health),
            _ => not_allowed("GET"),
        },
        "/v1/images/generations" => match method {
            "POST" => Ok(Route::Generate),
            _ => not_allowed("POST"),
        },
        "/v1/keys" => match method {
            "GET" => Ok(Route::ListKeys),
            _ => not_allowed("GET"),
        },
        "/v1/config" => match method {
            "GET" => Ok(Route::GetConfig),
            "PUT" => Ok(Route::PutConfig),
            _ => not_allowed("GET, PUT"),
        },
        _ => {
            if let Some(name) = path.strip_prefix("/v1/keys/") {
                let provider = ProviderName::parse(name).ok_or_else(|| {
                    ApiError::not_found(&format!(
                        "no provider named {name:?}; expected openai, gemini or stability"
                    ))
                })?;
                return match method {
                    "PUT" => Ok(Route::PutKey(provider)),
                    "DELETE" => Ok(Route::DeleteKey(provider)),
                    _ => not_allowed("PUT, DELETE"),
                };
            }
            Err(ApiError::not_found(&format!(
                "no route for {method} {path}"
            )))
        }
    }
}

/// An error response in OpenAI's envelope, extended with `provider` and
/// `retryable`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// OpenAI error type.
    pub kind: &'static str,
    /// Machine-readable code (never empty).
    pub code: String,
    /// Human-readable message (never contains a key or token).
    pub message: String,
    /// The request field at fault.
    pub param: Option<Box<str>>,
    /// The provider behind the error.
    pub provider: Option<ProviderName>,
    /// Whether retrying later may help.
    pub retryable: Option<bool>,
    /// Seconds to wait, sent as `Retry-After`.
    pub retry_after_s: Option<u64>,
    /// Methods allowed (for 405).
    pub allow: Option<&'static str>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Body<'a>,
}

#[derive(Serialize)]
struct Body<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    code: &'a str,
    param: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider: Option<ProviderName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retryable: Option<bool>,
}

/// The OpenAI error type for a status.
pub fn type_for_status(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        s if s >= 500 => "server_error",
        _ => "invalid_request_error",
    }
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> ApiError {
        let mut message: String = message.into();
        // Parser messages may quote the offending input: keep responses small.
        if message.chars().count() > MAX_MESSAGE_CHARS {
            message = message.chars().take(MAX_MESSAGE_CHARS).collect::<String>() + "…";
        }
        ApiError {
            status,
            kind: type_for_status(status),
            code: if code.is_empty() {
                "error".into()
            } else {
                code.into()
            },
            message,
            param: None,
            provider: None,
            retryable: None,
            retry_after_s: None,
            allow: None,
        }
    }

    /// 400 naming the field at fault.
    pub fn invalid(param: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            param: Some(param.into()),
            ..ApiError::new(400, "invalid_request", message)
        }
    }

    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(401, "invalid_token", message)
    }

    /// 404.
    pub fn not_found(message: &str) -> ApiError {
        ApiError::new(404, "not_found", message)
    }

    /// 405 with the allowed methods.
    pub fn method_not_allowed(method: &str, allow: &'static str) -> ApiError {
        ApiError {
            allow: Some(allow),
            ..ApiError::new(
                405,
                "method_not_allowed",
                format!("{method} is not allowed here; use {allow}"),
            )
        }
    }

    /// 500 for a deployment problem (message safe to show).
    pub fn server(message: impl Into<String>) -> ApiError {
        ApiError::new(500, "server_misconfigured", message)
    }

    /// The HTTP status fitting a library error that ended a generation.
    pub fn status_for(code: ErrorCode) -> u16 {
        match code {
            ErrorCode::InvalidRequest | ErrorCode::ContentPolicy => 400,
            ErrorCode::Timeout => 504,
            ErrorCode::RateLimited => 429,
            ErrorCode::Aborted => 499,
            ErrorCode::Unsupported
            | ErrorCode::Auth
            | ErrorCode::Permission
            | ErrorCode::Quota
            | ErrorCode::NotFound
            | ErrorCode::ProviderError
            | ErrorCode::Network
            | ErrorCode::BadResponse => 502,
        }
    }

    /// The response to a library error.
    pub fn from_engine(e: &imagegen::Error) -> ApiError {
        let status = ApiError::status_for(e.code);
        ApiError {
            param: e.param.clone(),
            provider: e.provider,
            retryable: Some(e.retryable()),
            retry_after_s: e.retry_after_ms.map(|ms| ms.div_ceil(1000)),
            ..ApiError::new(status, e.code.as_str(), e.message.clone())
        }
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        let env = Envelope {
            error: Body {
                message: &self.message,
                kind: self.kind,
                code: &self.code,
                param: self.param.as_deref(),
                provider: self.provider,
                retryable: self.retryable,
            },
        };
        serde_json::to_string(&env).unwrap_or_else(|_| {
            r#"{"error":{"message":"internal error","type":"server_error","code":"internal","param":null}}"#.into()
        })
    }
}

/// Whether a `Content-Type` is JSON (parameters such as charset allowed).
pub fn is_json(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

/// The allow-list of origins from `ALLOWED_ORIGINS`.
#[derive(Debug, Clone, Default)]
pub struct Cors {
    origins: Vec<String>,
}

/// Headers a preflight may ask for.
pub const ALLOW_HEADERS: &str = "authorization, content-type, idempotency-key, x-request-id";
/// Methods the API uses.
pub const ALLOW_METHODS: &str = "GET, POST, PUT, DELETE, OPTIONS";
/// Headers a browser may read.
pub const EXPOSE_HEADERS: &str = "x-request-id, retry-after, idempotent-replayed";

impl Cors {
    /// Parses a comma-separated list; `*` is ignored (never allowed).
    pub fn new(list: &str) -> Cors {
        Cors {
            origins: list
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_string())
                .filter(|o| !o.is_empty() && o != "*")
                .collect(),
        }
    }

    /// The origin to echo in `Access-Control-Allow-Origin`, if allowed.
    pub fn allow<'a>(&self, origin: Option<&'a str>) -> Option<&'a str> {
        origin.filter(|o| self.origins.iter().any(|a| a == o))
    }
}

/// A request id from the caller if it is short and plain, else `None`.
pub fn caller_request_id(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 64)
        .filter(|v| {
            v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
        .map(str::to_string)
}

/// KV's longest key name, in bytes.
pub const MAX_KV_NAME_BYTES: usize = 512;

/// KV names are built from the SHA-256 of the user id (`user_hash`, 64
/// lowercase hex digits), so every `sub` fits KV's name limit. The `#`
/// keeps them apart from the older names, which never contain one.
pub fn key_kv_name(user_hash: &str, provider: ProviderName) -> String {
    format!("key:#{user_hash}:{}", provider.as_str())
}

/// KV name of a user's config.
pub fn config_kv_name(user_hash: &str) -> String {
    format!("config:#{user_hash}")
}

/// KV name of an idempotency record (`key_hash`: SHA-256 hex of the
/// `Idempotency-Key`).
pub fn idempotency_kv_name(user_hash: &str, key_hash: &str) -> String {
    format!("idem:#{user_hash}:{key_hash}")
}

/// Percent-encodes a user id (everything but `A-Za-z0-9-_.`), as KV names
/// were built before they used a hash.
pub fn kv_user(user: &str) -> String {
    let mut out = String::with_capacity(user.len());
    for b in user.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn legacy(name: String) -> Option<String> {
    (name.len() <= MAX_KV_NAME_BYTES).then_some(name)
}

/// Where a stored key lived before names were hashed (read as a fallback,
/// removed on the next write); `None` when that name could never exist.
pub fn legacy_key_kv_name(user: &str, provider: ProviderName) -> Option<String> {
    legacy(format!("key:{}:{}", kv_user(user), provider.as_str()))
}

/// Where a config lived before names were hashed.
pub fn legacy_config_kv_name(user: &str) -> Option<String> {
    legacy(format!("config:{}", kv_user(user)))
}

/// Formats unix milliseconds as RFC 3339 UTC (`2026-11-26T07:00:00.123Z`).
pub fn rfc3339(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let ms = unix_ms % 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil from days (Howard Hinnant).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}.{ms:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route("GET", "/healthz"), Ok(Route::Health));
        assert_eq!(route("POST", "/v1/images/generations"), Ok(Route::Generate));
        assert_eq!(
            route("POST", "/v1/images/generations/"),
            Ok(Route::Generate)
        );
        assert_eq!(
            route("PUT", "/v1/keys/openai"),
            Ok(Route::PutKey(ProviderName::Openai))
        );
        assert_eq!(
            route("DELETE", "/v1/keys/gemini"),
            Ok(Route::DeleteKey(ProviderName::Gemini))
        );
        assert_eq!(route("GET", "/v1/config"), Ok(Route::GetConfig));
        assert_eq!(
            route("GET", "/v1/images/generations").unwrap_err().status,
            405
        );
        assert_eq!(
            route("GET", "/v1/images/generations").unwrap_err().allow,
            Some("POST")
        );
        assert_eq!(route("POST", "/v1/keys").unwrap_err().status, 405);
        assert_eq!(route("GET", "/nope").unwrap_err().status, 404);
        assert_eq!(route("PUT", "/v1/keys/dalle").unwrap_err().status, 404);
        assert_eq!(route("GET", "/v1/keys/openai/x").unwrap_err().status, 404);
    }

    #[test]
    fn envelope_shape() {
        let e = ApiError::invalid("n", "`n` must be from 1 to 10");
        let v: serde_json::Value = serde_json::from_str(&e.body()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error": {"message": "`n` must be from 1 to 10", "type": "invalid_request_error", "code": "invalid_request", "param": "n"}})
        );
        let e = ApiError::unauthorized("token has expired");
        let v: serde_json::Value = serde_json::from_str(&e.body()).unwrap();
        assert_eq!(v["error"]["type"], "authentication_error");
        assert!(v["error"]["param"].is_null());
        let mut engine = imagegen::Error::new(ErrorCode::Quota, "stability: out of credit")
            .with_provider(ProviderName::Stability);
        engine.status = Some(402);
        let e = ApiError::from_engine(&engine);
        assert_eq!(
            (e.status, e.kind, e.code.as_str()),
            (502, "server_error", "quota")
        );
        let v: serde_json::Value = serde_json::from_str(&e.body()).unwrap();
        assert_eq!(v["error"]["provider"], "stability");
        assert_eq!(v["error"]["retryable"], false);
        assert_eq!(ApiError::status_for(ErrorCode::Timeout), 504);
        assert_eq!(ApiError::status_for(ErrorCode::ContentPolicy), 400);
        assert_eq!(ApiError::new(413, "", "x").code, "error");
    }

    #[test]
    fn content_types() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("Application/JSON; charset=utf-8")));
        assert!(!is_json(Some("text/plain")));
        assert!(!is_json(Some("application/jsonx")));
        assert!(!is_json(None));
    }

    #[test]
    fn cors_never_allows_everything() {
        let c = Cors::new("http://localhost:3000, https://app.example/ ,*");
        assert_eq!(
            c.allow(Some("http://localhost:3000")),
            Some("http://localhost:3000")
        );
        assert_eq!(
            c.allow(Some("https://app.example")),
            Some("https://app.example")
        );
        assert_eq!(c.allow(Some("https://evil.example")), None);
        assert_eq!(c.allow(Some("*")), None);
        assert_eq!(c.allow(None), None);
    }

    #[test]
    fn kv_names_and_ids() {
        let h = "a".repeat(64);
        assert_eq!(
            key_kv_name(&h, ProviderName::Openai),
            format!("key:#{h}:openai")
        );
        assert_eq!(config_kv_name(&h), format!("config:#{h}"));
        assert!(idempotency_kv_name(&h, &h).len() < MAX_KV_NAME_BYTES);
        assert_eq!(kv_user("4f2c-ab_9.x"), "4f2c-ab_9.x");
        assert_eq!(kv_user("a:b/é"), "a%3Ab%2F%C3%A9");
        assert_eq!(
            legacy_key_kv_name("a:b", ProviderName::Openai).as_deref(),
            Some("key:a%3Ab:openai")
        );
        assert_eq!(legacy_config_kv_name("u1").as_deref(), Some("config:u1"));
        // The old names never contain '#', so no old name equals a new one.
        assert!(!kv_user("#").contains('#'));
        // A sub of 254 '|' or 127 'é' had no valid old name.
        assert_eq!(
            legacy_key_kv_name(&"|".repeat(254), ProviderName::Openai),
            None
        );
        assert_eq!(legacy_config_kv_name(&"é".repeat(127)), None);
        assert_eq!(caller_request_id(Some("req-123")), Some("req-123".into()));
        assert_eq!(caller_request_id(Some("bad id\n")), None);
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_788_000_000_123), "2026-08-29T10:40:00.123Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
