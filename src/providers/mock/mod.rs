//! The built-in `mock` provider: no network, SVG images that show the prompt,
//! with latency and fault injection through `params`. It is what the demo and
//! users' own tests run against without keys.
//!
//! `params`: `latencyMs` (wait per call), `failFirst` (fail the first N calls
//! to entries with this model and params, counted per
//! `generateImages` call), `failRate` (fail with probability p, from the
//! engine's RNG), `failCode` (the code of injected failures, default
//! `provider_error`), `retryAfterMs` (hint sent with injected failures),
//! `maxImagesPerCall` (default 4).

mod render;
mod server;

pub use render::{generate, render_svg};
pub use server::{build_request, parse_response, MockServer};

use super::edit;
use super::table::ProviderSpec;
use super::{warning, Capabilities, SizeRule};
use crate::model::{Error, ErrorCode, ProviderName, Warning, WarningCode};
use crate::request::ImageRequest;
use serde_json::{Map, Value};

const PROVIDER: ProviderName = ProviderName::Mock;

/// The mock's entry in the table: no key, no network (its requests are
/// answered in process by [`MockServer`]).
pub static SPEC: ProviderSpec = ProviderSpec {
    name: "mock",
    display_name: "Mock",
    default_model: "mock-svg",
    default_origin: "mock:",
    needs_key: false,
    key_env: "",
    base_url_env: "",
    model_prefixes: &[],
    models: &[],
    prices: crate::providers::prices::MOCK,
    response_headers: &[],
    capabilities: |entry| capabilities(&entry.params),
    check_params: |params, field| MockSettings::from_params(params, field).map(|_| ()),
    build: build_request,
    parse: parse_response,
    key_check: None,
};

/// Images per call unless `params.maxImagesPerCall` says otherwise.
pub const DEFAULT_MAX_PER_CALL: u32 = 4;

/// The mock's settings, read from `params`.
#[derive(Debug, Clone, PartialEq)]
pub struct MockSettings {
    /// Wait per call.
    pub latency_ms: u64,
    /// Fail the first N calls.
    pub fail_first: u32,
    /// Fail each call with this probability.
    pub fail_rate: f64,
    /// Code of injected failures.
    pub fail_code: ErrorCode,
    /// Retry hint of injected failures.
    pub retry_after_ms: Option<u64>,
    /// Images per call.
    pub max_images_per_call: u32,
}

impl Default for MockSettings {
    fn default() -> Self {
        MockSettings {
            latency_ms: 0,
            fail_first: 0,
            fail_rate: 0.0,
            fail_code: ErrorCode::ProviderError,
            retry_after_ms: None,
            max_images_per_call: DEFAULT_MAX_PER_CALL,
        }
    }
}

fn number(
    params: &Map<String, Value>,
    key: &str,
    field: &str,
    max: u32,
) -> Result<Option<f64>, Error> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(v) if v.is_finite() && (0.0..=f64::from(max)).contains(&v) => Ok(Some(v)),
            _ => Err(Error::invalid(
                &format!("{field}.{key}"),
                format!("`{field}.{key}` must be a number from 0 to {max}"),
            )),
        },
        Some(_) => Err(Error::invalid(
            &format!("{field}.{key}"),
            format!("`{field}.{key}` must be a number"),
        )),
    }
}

impl MockSettings {
    /// Reads settings from `params`; `field` names the params in errors
    /// (e.g. `providers[1].params`).
    pub fn from_params(params: &Map<String, Value>, field: &str) -> Result<MockSettings, Error> {
        let mut s = MockSettings::default();
        if let Some(v) = number(params, "latencyMs", field, 600_000)? {
            s.latency_ms = v as u64;
        }
        if let Some(v) = number(params, "failFirst", field, 1000)? {
            s.fail_first = v as u32;
        }
        if let Some(v) = number(params, "failRate", field, 1)? {
            s.fail_rate = v;
        }
        if let Some(v) = number(params, "retryAfterMs", field, 3_600_000)? {
            s.retry_after_ms = Some(v as u64);
        }
        if let Some(v) = number(params, "maxImagesPerCall", field, 10)? {
            s.max_images_per_call = (v as u32).max(1);
        }
        match params.get("failCode") {
            None | Some(Value::Null) => {}
            Some(Value::String(code)) => {
                s.fail_code = ErrorCode::parse(code)
                    .filter(|c| *c != ErrorCode::Aborted)
                    .ok_or_else(|| {
                        Error::invalid(
                            &format!("{field}.failCode"),
                            format!("`{field}.failCode` must be an error code other than aborted, got {code:?}"),
                        )
                    })?;
            }
            Some(_) => {
                return Err(Error::invalid(
                    &format!("{field}.failCode"),
                    format!("`{field}.failCode` must be a string"),
                ))
            }
        }
        Ok(s)
    }
}

/// Capability table: the mock takes everything but formats (it makes SVG).
pub fn capabilities(params: &Map<String, Value>) -> Capabilities {
    let settings = MockSettings::from_params(params, "params").unwrap_or_default();
    Capabilities {
        max_images_per_call: settings.max_images_per_call,
        sizes: SizeRule::Free {
            multiple: 1,
            max_edge: 16_384,
            max_ratio: 1000.0,
            min_pixels: 1,
            max_pixels: u64::MAX,
        },
        aspect_ratios: &[],
        image_size_tiers: &[],
        seed: true,
        negative_prompt: true,
        output_formats: &[],
        inputs: edit::InputCaps {
            max_images: crate::inputs::MAX_IMAGES,
            mask: true,
            max_image_bytes: u64::MAX,
            max_total_bytes: u64::MAX,
            min_side: 1,
            max_pixels: 0,
            base64: false,
            needs_mask: false,
        },
        // Streamed in process: SVG previews, then the image.
        previews: true,
    }
}

/// Warnings for a request (the only thing the mock cannot do is formats).
pub fn warnings(req: &ImageRequest) -> Vec<Warning> {
    req.output_format
        .map(|f| {
            warning(
                PROVIDER,
                WarningCode::UnsupportedOption,
                format!(
                    "the mock provider makes SVG images; outputFormat {} ignored",
                    f.as_str()
                ),
            )
        })
        .into_iter()
        .collect()
}

/// The injected failure for the `call_number`-th call (1-based) to this
/// entry, if any. `roll` is a uniform number in [0, 1) from the engine's RNG.
pub fn injected_failure(
    settings: &MockSettings,
    model: &str,
    call_number: u32,
    roll: f64,
) -> Option<Error> {
    let fail = call_number <= settings.fail_first || roll < settings.fail_rate;
    if !fail {
        return None;
    }
    let code = settings.fail_code;
    let status = match code {
        ErrorCode::InvalidRequest | ErrorCode::ContentPolicy => Some(400),
        ErrorCode::Auth => Some(401),
        ErrorCode::Quota | ErrorCode::BudgetExceeded => Some(402),
        ErrorCode::Permission => Some(403),
        ErrorCode::NotFound | ErrorCode::Unsupported => Some(404),
        ErrorCode::RateLimited => Some(429),
        ErrorCode::ProviderError => Some(503),
        ErrorCode::BadResponse => Some(200),
        ErrorCode::Timeout | ErrorCode::Network | ErrorCode::Aborted => None,
    };
    let mut e = Error::new(
        code,
        format!("mock ({model} {code}): injected failure on call {call_number}"),
    )
    .with_provider(PROVIDER)
    .with_retry_after(settings.retry_after_ms);
    e.status = status;
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_from_params() {
        let p = json!({"failFirst": 2, "failCode": "rate_limited", "retryAfterMs": 500, "maxImagesPerCall": 1});
        let s = MockSettings::from_params(p.as_object().unwrap(), "providers[0].params").unwrap();
        assert_eq!(s.fail_first, 2);
        assert_eq!(s.fail_code, ErrorCode::RateLimited);
        assert_eq!(s.max_images_per_call, 1);
        let bad = json!({"failCode": "nope"});
        let e =
            MockSettings::from_params(bad.as_object().unwrap(), "providers[0].params").unwrap_err();
        assert_eq!(e.param.as_deref(), Some("providers[0].params.failCode"));
        let bad = json!({"failRate": 2});
        assert!(MockSettings::from_params(bad.as_object().unwrap(), "p").is_err());
    }

    #[test]
    fn failures_follow_settings() {
        let s = MockSettings {
            fail_first: 2,
            fail_code: ErrorCode::RateLimited,
            retry_after_ms: Some(250),
            ..Default::default()
        };
        let e = injected_failure(&s, "mock-svg", 1, 0.99).unwrap();
        assert_eq!(
            (e.code, e.status, e.retry_after_ms),
            (ErrorCode::RateLimited, Some(429), Some(250))
        );
        assert!(injected_failure(&s, "mock-svg", 2, 0.99).is_some());
        assert!(injected_failure(&s, "mock-svg", 3, 0.99).is_none());
        let s = MockSettings {
            fail_rate: 0.3,
            ..Default::default()
        };
        assert!(injected_failure(&s, "mock-svg", 1, 0.29).is_some());
        assert!(injected_failure(&s, "mock-svg", 1, 0.31).is_none());
    }
}
