//! Errors: the codes a caller can act on and the library's error type.

use super::{Attempt, ErrorInfo, GeneratedImage, ProviderName};
use serde::{Deserialize, Serialize};
use std::fmt;
use tsify::Tsify;

/// What went wrong, in terms a caller can act on. See the error-code table in
/// the README for retry and fallback behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Our input is wrong (empty prompt, bad size, a field the provider rejects).
    InvalidRequest,
    /// The call's `maxCostUsd` (or a user's budget) would be exceeded.
    BudgetExceeded,
    /// The provider cannot do what was asked.
    Unsupported,
    /// Key missing, invalid or revoked.
    Auth,
    /// Key valid but not allowed (organisation not verified, region, model access).
    Permission,
    /// Out of credit, billing limit or daily quota.
    Quota,
    /// Short-term rate limit.
    RateLimited,
    /// Prompt or output blocked by moderation.
    ContentPolicy,
    /// Model or endpoint does not exist.
    NotFound,
    /// 5xx or overloaded.
    ProviderError,
    /// An attempt exceeded `timeoutMs`, or the whole call exceeded `deadlineMs`.
    Timeout,
    /// Connection failed or was reset.
    Network,
    /// 2xx but unparseable or without an image.
    BadResponse,
    /// The caller's `AbortSignal` fired.
    Aborted,
}

impl ErrorCode {
    /// All codes, in table order.
    pub const ALL: [ErrorCode; 14] = [
        ErrorCode::InvalidRequest,
        ErrorCode::BudgetExceeded,
        ErrorCode::Unsupported,
        ErrorCode::Auth,
        ErrorCode::Permission,
        ErrorCode::Quota,
        ErrorCode::RateLimited,
        ErrorCode::ContentPolicy,
        ErrorCode::NotFound,
        ErrorCode::ProviderError,
        ErrorCode::Timeout,
        ErrorCode::Network,
        ErrorCode::BadResponse,
        ErrorCode::Aborted,
    ];

    /// The snake_case name used on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::BudgetExceeded => "budget_exceeded",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::Auth => "auth",
            ErrorCode::Permission => "permission",
            ErrorCode::Quota => "quota",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::ContentPolicy => "content_policy",
            ErrorCode::NotFound => "not_found",
            ErrorCode::ProviderError => "provider_error",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Network => "network",
            ErrorCode::BadResponse => "bad_response",
            ErrorCode::Aborted => "aborted",
        }
    }

    /// Parses a wire name.
    pub fn parse(name: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// "The same request may succeed if tried again later."
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::RateLimited
                | ErrorCode::ProviderError
                | ErrorCode::Timeout
                | ErrorCode::Network
                | ErrorCode::BadResponse
        )
    }

    /// Whether the default policy moves on to the next provider after this
    /// error (once retries, if any, are exhausted).
    ///
    /// `invalid_request` is in the set: our own validation errors reject
    /// before any call, so the ones the engine sees are a provider refusing a
    /// request that passed our checks (not billed), and one provider's
    /// parameter rules must not sink the whole chain.
    pub fn falls_back_by_default(self) -> bool {
        !matches!(self, ErrorCode::ContentPolicy | ErrorCode::Aborted)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The library's error: what went wrong, where, and everything tried.
#[derive(Debug, Clone)]
pub struct Error {
    /// What went wrong.
    pub code: ErrorCode,
    /// Human-readable; never contains an API key.
    pub message: String,
    /// The provider that failed, if one did.
    pub provider: Option<ProviderName>,
    /// HTTP status from the provider, if any.
    pub status: Option<u16>,
    /// Delay the provider asked for before a retry.
    pub retry_after_ms: Option<u64>,
    /// The request field at fault, for `invalid_request`.
    pub param: Option<Box<str>>,
    /// The part that failed, if the error is about one part.
    pub part: Option<u32>,
    /// Every attempt made before the error.
    pub attempts: Vec<Attempt>,
    /// Images finished before the call was aborted.
    pub images: Vec<GeneratedImage>,
    /// The provider's own word on retrying (OpenAI's `x-should-retry`
    /// header), which overrides the code's default.
    pub should_retry: Option<bool>,
}

impl Error {
    /// A new error with only a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            provider: None,
            status: None,
            retry_after_ms: None,
            param: None,
            part: None,
            attempts: Vec::new(),
            images: Vec::new(),
            should_retry: None,
        }
    }

    /// An `invalid_request` error naming the field at fault.
    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        let mut e = Error::new(ErrorCode::InvalidRequest, message);
        e.param = Some(param.into());
        e
    }

    /// Sets the provider.
    pub fn with_provider(mut self, provider: ProviderName) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Sets the HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Sets the provider's requested retry delay.
    pub fn with_retry_after(mut self, ms: Option<u64>) -> Self {
        self.retry_after_ms = ms;
        self
    }

    /// Whether the same request may succeed if tried again later: the
    /// provider's explicit word when it gave one (never for `aborted`), else
    /// [`ErrorCode::is_retryable`].
    pub fn retryable(&self) -> bool {
        match self.should_retry {
            Some(hint) if self.code != ErrorCode::Aborted => hint,
            _ => self.code.is_retryable(),
        }
    }

    /// The error as plain data.
    pub fn to_info(&self) -> ErrorInfo {
        ErrorInfo {
            name: "ImageGenError".to_string(),
            code: self.code,
            message: self.message.clone(),
            provider: self.provider,
            status: self.status,
            retryable: self.retryable(),
            part: self.part,
            param: self.param.as_deref().map(str::to_string),
            attempts: self.attempts.clone(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}
