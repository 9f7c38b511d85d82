//! Plain data: requests, results, attempts, warnings and errors.
//!
//! The serialized (camelCase) form of these types is the JS API of the npm
//! package; TypeScript declarations are generated from them with `tsify`.

use crate::image_data::ImageData;
use crate::secret::Secret;
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use tsify::Tsify;

pub use crate::providers::ProviderName;

mod error;
pub use error::{Error, ErrorCode};

/// Image file formats a caller can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// PNG (the default everywhere).
    Png,
    /// JPEG.
    Jpeg,
    /// WebP.
    Webp,
}

impl OutputFormat {
    /// The lowercase name providers use.
    pub const fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Png => "png",
            OutputFormat::Jpeg => "jpeg",
            OutputFormat::Webp => "webp",
        }
    }

    /// The MIME type of images in this format.
    pub fn mime_type(self) -> &'static str {
        match self {
            OutputFormat::Png => "image/png",
            OutputFormat::Jpeg => "image/jpeg",
            OutputFormat::Webp => "image/webp",
        }
    }
}

/// Retry settings, per provider in the chain.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct RetryOptions {
    /// Attempts per provider, including the first (default 3, 1..=10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub max_attempts: Option<u32>,
    /// Base of the exponential backoff in ms (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub base_delay_ms: Option<u64>,
    /// Cap of the exponential backoff in ms (default 20000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub max_delay_ms: Option<u64>,
    /// Longest server-requested wait (Retry-After) honoured, in ms (default 60000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub max_retry_after_ms: Option<u64>,
}

/// One provider in the chain: primary first, then fallbacks.
#[derive(Debug, Clone, Default, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ProviderConfig {
    /// Which provider.
    #[tsify(type = "ProviderName")]
    pub provider: Option<ProviderName>,
    /// The provider's API key (optional for `mock`).
    #[serde(default)]
    #[tsify(optional, type = "string")]
    pub api_key: Option<Secret>,
    /// Model id; each provider has a default.
    #[serde(default)]
    #[tsify(optional)]
    pub model: Option<String>,
    /// The provider's origin (scheme, host, port), e.g. `http://127.0.0.1:8080`.
    #[serde(default)]
    #[tsify(optional)]
    pub base_url: Option<String>,
    /// Extra provider fields, deep-merged into the request body (null removes a default).
    #[serde(default)]
    #[tsify(optional, type = "Record<string, unknown>")]
    pub params: Option<serde_json::Value>,
}

/// The input of `generateImages` (without `signal` and `onEvent`, which the
/// bindings take separately).
#[derive(Debug, Clone, Default, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct GenerateRequest {
    /// Required, non-empty after trimming.
    #[tsify(type = "string")]
    pub prompt: Option<String>,
    /// 1..=10, default 1.
    #[serde(default)]
    #[tsify(optional)]
    pub count: Option<f64>,
    /// `"WxH"`, e.g. `"1024x1024"`.
    #[serde(default)]
    #[tsify(optional)]
    pub size: Option<String>,
    /// `"W:H"`, e.g. `"16:9"`.
    #[serde(default)]
    #[tsify(optional)]
    pub aspect_ratio: Option<String>,
    /// Seed for providers that take one (0..=4294967294).
    #[serde(default)]
    #[tsify(optional)]
    pub seed: Option<f64>,
    /// What the image should not contain, for providers that take it.
    #[serde(default)]
    #[tsify(optional)]
    pub negative_prompt: Option<String>,
    /// Requested image format.
    #[serde(default)]
    #[tsify(optional)]
    pub output_format: Option<OutputFormat>,
    /// In order: primary, then fallbacks.
    #[tsify(type = "ProviderConfig[]")]
    pub providers: Option<Vec<ProviderConfig>>,
    /// Retry settings.
    #[serde(default)]
    #[tsify(optional)]
    pub retry: Option<RetryOptions>,
    /// Replaces the default set of codes that move on to the next provider.
    #[serde(default)]
    #[tsify(optional)]
    pub fallback_on: Option<Vec<ErrorCode>>,
    /// Per attempt, in ms (default 180000).
    #[serde(default)]
    #[tsify(optional)]
    pub timeout_ms: Option<f64>,
    /// Whole call, in ms (default: none).
    #[serde(default)]
    #[tsify(optional)]
    pub deadline_ms: Option<f64>,
    /// Parallel provider calls (default 4).
    #[serde(default)]
    #[tsify(optional)]
    pub concurrency: Option<f64>,
    /// Previews per image from providers that can stream them (0..=3,
    /// default 0): each arrives as a `partial_image` event.
    #[serde(default)]
    #[tsify(optional, type = "0 | 1 | 2 | 3")]
    pub partial_images: Option<f64>,
    /// Most the call may cost in USD (calls over what is left: `budget_exceeded`).
    #[serde(default)]
    #[tsify(optional)]
    pub max_cost_usd: Option<f64>,
    /// Prices that replace the table's rows (and the client's) for this call.
    #[serde(default)]
    #[tsify(optional)]
    pub prices: Option<Vec<crate::cost::PriceOverride>>,
}

/// One generated image. On wasm, `base64` is the very JS string the
/// provider's JSON held: it never enters wasm memory.
#[derive(Clone, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct GeneratedImage {
    /// e.g. `image/png`.
    pub mime_type: String,
    /// Base64 of the image bytes (no `data:` prefix).
    #[tsify(type = "string")]
    pub base64: ImageData,
    /// Which provider made it.
    pub provider: ProviderName,
    /// Which model made it.
    pub model: String,
    /// The seed the provider reports, when it reports one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub seed: Option<u64>,
    /// The prompt as the provider rewrote it, when it says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub revised_prompt: Option<String>,
    /// Its share of its call's cost in USD; absent when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub cost_usd: Option<f64>,
}

impl fmt::Debug for GeneratedImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedImage")
            .field("mime_type", &self.mime_type)
            .field("base64", &self.base64)
            .field("provider", &self.provider)
            .field("model", &self.model)
            .field("seed", &self.seed)
            .field("cost_usd", &self.cost_usd)
            .finish()
    }
}

/// A streamed preview: a complete, lower-quality image. On wasm, `base64`
/// is the JS string the platform's `JSON.parse` produced from the provider's
/// event: it never enters wasm memory.
#[derive(Clone, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct PreviewImage {
    /// e.g. `image/png`.
    pub mime_type: String,
    /// Base64 of the preview's bytes (no `data:` prefix).
    #[tsify(type = "string")]
    pub base64: ImageData,
}

impl fmt::Debug for PreviewImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreviewImage")
            .field("mime_type", &self.mime_type)
            .field("base64", &self.base64)
            .finish()
    }
}

/// The result of one attempt: `"ok"` or the error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Tsify)]
#[tsify(type = "\"ok\" | ErrorCode")]
pub enum Outcome {
    /// The call returned images.
    Ok,
    /// The call failed with this code.
    Failed(ErrorCode),
}

impl Serialize for Outcome {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Outcome::Ok => s.serialize_str("ok"),
            Outcome::Failed(code) => code.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Outcome {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == "ok" {
            return Ok(Outcome::Ok);
        }
        ErrorCode::parse(&s)
            .map(Outcome::Failed)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown outcome `{s}`")))
    }
}

/// One provider call, as recorded in the attempts log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// Provider called.
    pub provider: ProviderName,
    /// Model called.
    pub model: String,
    /// Which provider call of the split count.
    pub part: u32,
    /// 1-based; restarts for each provider and part.
    pub attempt: u32,
    /// Milliseconds since `generateImages` was called.
    pub started_at_ms: u64,
    /// How long the call took.
    pub duration_ms: u64,
    /// `"ok"` or the error code.
    pub outcome: Outcome,
    /// HTTP status, when a response arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub status: Option<u16>,
    /// Delay the provider asked for (Retry-After, RetryInfo, "try again in Ns").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub retry_after_ms: Option<u64>,
    /// Images this call returned.
    pub images: u32,
    /// True when the entry was skipped without an HTTP call (a retired model,
    /// inputs it cannot take, an open circuit, the cost cap); `outcome` says why.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[tsify(optional)]
    pub skipped: bool,
    /// USD (0: not billed, e.g. an error answer or a skip); absent when unknown
    /// (no price: `price_unknown`; or cut off by a timeout or abort).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub cost_usd: Option<f64>,
}

/// Kinds of warnings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "snake_case")]
pub enum WarningCode {
    /// An option the provider does not support was dropped.
    UnsupportedOption,
    /// An option was converted to the provider's nearest equivalent.
    OptionMapped,
    /// The count was split into several provider calls.
    CountSplit,
    /// A provider refused the request as invalid (HTTP 400 for a request that
    /// passed our own checks); the chain moved on. The message is the provider's.
    ProviderRejectedRequest,
    /// A chain entry could not take the request's input images or mask and
    /// was skipped without a call.
    InputUnsupported,
    /// No price is known for a model, so its cost is unknown (never zero).
    PriceUnknown,
    /// The model is deprecated (still called) or retired (skipped without a
    /// call); the message names the replacement.
    ModelDeprecated,
}

/// Something the caller asked for that was changed or dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct Warning {
    /// The provider the warning is about.
    pub provider: ProviderName,
    /// What kind of change.
    pub code: WarningCode,
    /// Human-readable detail.
    pub message: String,
}

/// A failure, as data: the fields of the JS `ImageGenError`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ErrorInfo {
    /// Always `"ImageGenError"`.
    #[tsify(type = "\"ImageGenError\"")]
    pub name: String,
    /// What went wrong.
    pub code: ErrorCode,
    /// Human-readable; never contains an API key.
    pub message: String,
    /// The provider that failed, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub provider: Option<ProviderName>,
    /// HTTP status from the provider, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub status: Option<u16>,
    /// The same request may succeed if tried again later.
    pub retryable: bool,
    /// The part that failed (for partial results).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub part: Option<u32>,
    /// The request field at fault, for `invalid_request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub param: Option<String>,
    /// Every attempt behind this failure.
    pub attempts: Vec<Attempt>,
}

/// What `generateImages` resolves with.
#[derive(Debug, Clone, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct GenerateResult {
    /// Images, in order of arrival (an `image` event's `index` is its position here).
    pub images: Vec<GeneratedImage>,
    /// Options that were changed or dropped.
    pub warnings: Vec<Warning>,
    /// Every provider call made.
    pub attempts: Vec<Attempt>,
    /// Parts that finally failed (empty when everything succeeded).
    pub errors: Vec<ErrorInfo>,
    /// What the call cost, in total and per provider and model.
    pub usage: crate::cost::Usage,
}

/// Progress events, delivered to `onEvent` as they happen.
#[derive(Debug, Clone, Serialize, Tsify)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum GenerateEvent {
    /// A provider call starts.
    AttemptStart {
        /// Provider called.
        provider: ProviderName,
        /// Model called.
        model: String,
        /// Part number.
        part: u32,
        /// Attempt number for this provider and part.
        attempt: u32,
    },
    /// A provider call ended.
    AttemptEnd {
        /// Provider called.
        provider: ProviderName,
        /// Model called.
        model: String,
        /// Part number.
        part: u32,
        /// Attempt number.
        attempt: u32,
        /// `"ok"` or the error code.
        outcome: Outcome,
        /// HTTP status, if a response arrived.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[tsify(optional)]
        status: Option<u16>,
        /// How long the call took.
        duration_ms: u64,
        /// What the call cost in USD, when known (as on the attempt).
        #[serde(skip_serializing_if = "Option::is_none")]
        #[tsify(optional)]
        cost_usd: Option<f64>,
    },
    /// The same provider will be tried again after `delayMs`.
    RetryScheduled {
        /// Provider to retry.
        provider: ProviderName,
        /// Part number.
        part: u32,
        /// The attempt that failed.
        attempt: u32,
        /// Why it failed.
        code: ErrorCode,
        /// Wait before the next attempt.
        delay_ms: u64,
    },
    /// The part moves on to the next provider.
    Fallback {
        /// Part number.
        part: u32,
        /// Provider given up on.
        from: ProviderName,
        /// Provider tried next.
        to: ProviderName,
        /// Why.
        code: ErrorCode,
    },
    /// An image arrived.
    Image {
        /// Part number.
        part: u32,
        /// Index of the image in the final `images` array order of arrival.
        index: u32,
        /// The image.
        image: GeneratedImage,
    },
    /// A preview of an image still being made, from a provider that streams
    /// them (`partialImages`). Previews of an attempt that then fails are
    /// never results.
    PartialImage {
        /// Part number.
        part: u32,
        /// Provider streaming it.
        provider: ProviderName,
        /// Model streaming it.
        model: String,
        /// The provider's 0-based preview number (`partial_image_index`).
        index: u32,
        /// The preview.
        image: PreviewImage,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_image_event_shape() {
        let e = GenerateEvent::PartialImage {
            part: 1,
            provider: ProviderName::Openai,
            model: "gpt-image-1".into(),
            index: 2,
            image: PreviewImage {
                mime_type: "image/png".into(),
                base64: ImageData::from_string("QUJD".into()),
            },
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "type": "partial_image", "part": 1, "provider": "openai",
                "model": "gpt-image-1", "index": 2,
                "image": {"mimeType": "image/png", "base64": "QUJD"}
            })
        );
    }
}
