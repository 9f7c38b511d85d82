//! The unchecked, typed input of a request, the field-name table its errors
//! use, and the defaults a server applies to it.

use crate::model::{ErrorCode, GenerateRequest, OutputFormat, ProviderConfig, RetryOptions};

/// The names a caller's API gives the request's fields: errors name the
/// field at fault with these (the JS API says `count`, the Worker's
/// OpenAI-shaped API says `n`).
#[derive(Debug, Clone, Copy)]
pub struct FieldNames {
    /// The prompt.
    pub prompt: &'static str,
    /// The number of images.
    pub count: &'static str,
    /// `"WxH"`.
    pub size: &'static str,
    /// `"W:H"`.
    pub aspect_ratio: &'static str,
    /// The seed.
    pub seed: &'static str,
    /// The negative prompt.
    pub negative_prompt: &'static str,
    /// The chain of providers.
    pub providers: &'static str,
    /// Attempts per provider.
    pub max_attempts: &'static str,
    /// Backoff base.
    pub base_delay_ms: &'static str,
    /// Backoff cap.
    pub max_delay_ms: &'static str,
    /// Longest honoured Retry-After.
    pub max_retry_after_ms: &'static str,
    /// Codes that fall back.
    pub fallback_on: &'static str,
    /// Per-attempt timeout.
    pub timeout_ms: &'static str,
    /// Whole-call deadline.
    pub deadline_ms: &'static str,
    /// Parallel calls.
    pub concurrency: &'static str,
    /// The name of field `name` (`apiKey`, `model`, `baseUrl`, `params`,
    /// `provider`) of chain entry `index`.
    pub entry: fn(index: usize, name: &str) -> String,
}

fn js_entry(index: usize, name: &str) -> String {
    format!("providers[{index}].{name}")
}

impl FieldNames {
    /// The JS API's names (`generateImages`).
    pub const JS: FieldNames = FieldNames {
        prompt: "prompt",
        count: "count",
        size: "size",
        aspect_ratio: "aspectRatio",
        seed: "seed",
        negative_prompt: "negativePrompt",
        providers: "providers",
        max_attempts: "retry.maxAttempts",
        base_delay_ms: "retry.baseDelayMs",
        max_delay_ms: "retry.maxDelayMs",
        max_retry_after_ms: "retry.maxRetryAfterMs",
        fallback_on: "fallbackOn",
        timeout_ms: "timeoutMs",
        deadline_ms: "deadlineMs",
        concurrency: "concurrency",
        entry: js_entry,
    };
}

impl Default for FieldNames {
    fn default() -> Self {
        FieldNames::JS
    }
}

/// A number as the caller gave it: typed callers pass integers, JSON
/// callers pass what they parsed, and the check says which whole numbers
/// are allowed either way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Number(pub f64);

impl From<u32> for Number {
    fn from(v: u32) -> Self {
        Number(f64::from(v))
    }
}

impl From<u64> for Number {
    fn from(v: u64) -> Self {
        Number(v as f64)
    }
}

impl From<f64> for Number {
    fn from(v: f64) -> Self {
        Number(v)
    }
}

/// A request as a Rust caller builds it, not yet checked.
#[derive(Debug, Clone, Default)]
pub struct RequestInput {
    /// Required, non-empty after trimming.
    pub prompt: Option<String>,
    /// 1..=10, default 1.
    pub count: Option<Number>,
    /// `"WxH"`.
    pub size: Option<String>,
    /// `"W:H"`.
    pub aspect_ratio: Option<String>,
    /// 0..=4294967294.
    pub seed: Option<Number>,
    /// What the image should not contain.
    pub negative_prompt: Option<String>,
    /// Requested format.
    pub output_format: Option<OutputFormat>,
    /// Primary first, then fallbacks.
    pub providers: Option<Vec<ProviderConfig>>,
    /// Retry settings.
    pub retry: Option<RetryOptions>,
    /// Replaces the default fallback codes.
    pub fallback_on: Option<Vec<ErrorCode>>,
    /// Per attempt, ms.
    pub timeout_ms: Option<Number>,
    /// Whole call, ms.
    pub deadline_ms: Option<Number>,
    /// Parallel provider calls.
    pub concurrency: Option<Number>,
    /// Previews per image, 0..=3 (errors name it [`PARTIAL_IMAGES_FIELD`]).
    pub partial_images: Option<Number>,
    /// Most the call may cost, USD (errors name it `maxCostUsd`).
    pub max_cost_usd: Option<f64>,
    /// Prices replacing the table's rows (errors name them `prices`).
    pub prices: Option<Vec<crate::cost::PriceOverride>>,
}

/// The field name `partialImages` errors carry. It is not in [`FieldNames`]
/// so that callers' tables stay valid; a caller with another name for it
/// checks it under that name before building.
pub const PARTIAL_IMAGES_FIELD: &str = "partialImages";

impl From<&GenerateRequest> for RequestInput {
    fn from(r: &GenerateRequest) -> Self {
        RequestInput {
            prompt: r.prompt.clone(),
            count: r.count.map(Number),
            size: r.size.clone(),
            aspect_ratio: r.aspect_ratio.clone(),
            seed: r.seed.map(Number),
            negative_prompt: r.negative_prompt.clone(),
            output_format: r.output_format,
            providers: r.providers.clone(),
            retry: r.retry.clone(),
            fallback_on: r.fallback_on.clone(),
            timeout_ms: r.timeout_ms.map(Number),
            deadline_ms: r.deadline_ms.map(Number),
            concurrency: r.concurrency.map(Number),
            partial_images: r.partial_images.map(Number),
            max_cost_usd: r.max_cost_usd,
            prices: r.prices.clone(),
        }
    }
}

/// Options a server applies to requests that do not set them (a user's
/// stored defaults).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Defaults {
    /// Images per request.
    pub count: Option<u32>,
    /// `"WxH"`.
    pub size: Option<String>,
    /// `"W:H"`.
    pub aspect_ratio: Option<String>,
    /// Image format.
    pub output_format: Option<OutputFormat>,
    /// Negative prompt.
    pub negative_prompt: Option<String>,
    /// Attempts per provider.
    pub max_attempts: Option<u32>,
    /// Per-attempt timeout.
    pub timeout_ms: Option<u64>,
}

impl Defaults {
    /// Fills every field of `input` the caller left unset with these
    /// defaults; fields the caller set stay as they are.
    pub fn apply(&self, input: &mut RequestInput) {
        fill(&mut input.count, self.count.map(Number::from));
        fill(&mut input.size, self.size.clone());
        fill(&mut input.aspect_ratio, self.aspect_ratio.clone());
        fill(&mut input.output_format, self.output_format);
        fill(&mut input.negative_prompt, self.negative_prompt.clone());
        fill(&mut input.timeout_ms, self.timeout_ms.map(Number::from));
        if let Some(n) = self.max_attempts {
            let retry = input.retry.get_or_insert_with(RetryOptions::default);
            fill(&mut retry.max_attempts, Some(n));
        }
    }
}

fn fill<T>(slot: &mut Option<T>, value: Option<T>) {
    if slot.is_none() {
        *slot = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_only_what_is_unset() {
        let d = Defaults {
            count: Some(2),
            size: Some("512x512".into()),
            max_attempts: Some(1),
            timeout_ms: Some(30_000),
            ..Default::default()
        };
        let mut input = RequestInput {
            size: Some("1024x1024".into()),
            ..Default::default()
        };
        d.apply(&mut input);
        assert_eq!(input.count, Some(Number(2.0)));
        assert_eq!(input.size.as_deref(), Some("1024x1024"));
        assert_eq!(input.timeout_ms, Some(Number(30_000.0)));
        assert_eq!(input.retry.and_then(|r| r.max_attempts), Some(1));
    }
}
