//! The one error type of the Worker: every failure becomes an [`ApiError`],
//! sent in OpenAI's error envelope, extended with `provider` and
//! `retryable`.

use crate::jwt::AuthError;
use imagegen::{ErrorCode, ProviderName};
use serde::Serialize;

/// Longest error message sent.
const MAX_MESSAGE_CHARS: usize = 1000;

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
            ErrorCode::BudgetExceeded => 402,
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

/// KV failed: the binding threw or its promise rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageUnavailable;

impl From<StorageUnavailable> for ApiError {
    fn from(_: StorageUnavailable) -> ApiError {
        ApiError::new(
            503,
            "storage_unavailable",
            "the key store is unavailable; try again",
        )
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> ApiError {
        match e {
            AuthError::KeysUnavailable(_) => ApiError::new(503, "auth_unavailable", e.to_string()),
            other => ApiError::unauthorized(other.to_string()),
        }
    }
}

impl From<imagegen::Error> for ApiError {
    fn from(e: imagegen::Error) -> ApiError {
        ApiError::from_engine(&e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn conversions() {
        let e = ApiError::from(StorageUnavailable);
        assert_eq!((e.status, e.code.as_str()), (503, "storage_unavailable"));
        let e = ApiError::from(AuthError::Expired);
        assert_eq!((e.status, e.kind), (401, "authentication_error"));
        let e = ApiError::from(AuthError::KeysUnavailable("down".into()));
        assert_eq!((e.status, e.code.as_str()), (503, "auth_unavailable"));
        let e = ApiError::from(imagegen::Error::new(ErrorCode::Timeout, "slow"));
        assert_eq!((e.status, e.retryable), (504, Some(true)));
    }
}
