//! The response: OpenAI's shape plus where each image came from, every
//! attempt, warnings and failed parts (snake_case throughout).

use imagegen::model::{Attempt, ErrorInfo, GenerateResult, Outcome, Warning};
use imagegen::{ErrorCode, ImageData, ProviderName};
use serde::Serialize;

/// One image in OpenAI's shape, plus where it came from.
#[derive(Serialize)]
pub struct DataItem {
    /// Base64 image (preserved JS string on wasm).
    pub b64_json: ImageData,
    /// The provider's rewritten prompt, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revised_prompt: Option<String>,
    /// e.g. `image/png`.
    pub mime_type: String,
    /// Provider.
    pub provider: ProviderName,
    /// Model.
    pub model: String,
}

/// One attempt, snake_case.
#[derive(Serialize)]
pub struct AttemptOut {
    provider: ProviderName,
    model: String,
    part: u32,
    attempt: u32,
    started_at_ms: u64,
    duration_ms: u64,
    outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after_ms: Option<u64>,
    images: u32,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    skipped: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    cost_usd: Option<f64>,
}

impl From<&Attempt> for AttemptOut {
    fn from(a: &Attempt) -> Self {
        AttemptOut {
            provider: a.provider,
            model: a.model.clone(),
            part: a.part,
            attempt: a.attempt,
            started_at_ms: a.started_at_ms,
            duration_ms: a.duration_ms,
            outcome: a.outcome,
            status: a.status,
            retry_after_ms: a.retry_after_ms,
            images: a.images,
            skipped: a.skipped,
            cost_usd: a.cost_usd,
        }
    }
}

/// A failed part, snake_case.
#[derive(Serialize)]
pub struct ErrorOut {
    code: ErrorCode,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider: Option<ProviderName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    retryable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    part: Option<u32>,
    attempts: Vec<AttemptOut>,
}

impl From<&ErrorInfo> for ErrorOut {
    fn from(e: &ErrorInfo) -> Self {
        ErrorOut {
            code: e.code,
            message: e.message.clone(),
            provider: e.provider,
            status: e.status,
            retryable: e.retryable,
            part: e.part,
            attempts: e.attempts.iter().map(AttemptOut::from).collect(),
        }
    }
}

/// The response body.
#[derive(Serialize)]
pub struct ImagesResponse {
    /// Unix seconds.
    pub created: u64,
    /// Images.
    pub data: Vec<DataItem>,
    /// Format of the images, when they share one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_format: Option<String>,
    /// Every provider call.
    pub attempts: Vec<AttemptOut>,
    /// Options dropped or re-mapped.
    pub warnings: Vec<Warning>,
    /// Parts that failed.
    pub errors: Vec<ErrorOut>,
    /// `usage` (OpenAI's shape), `cost_usd`, `cost_by_provider`.
    #[serde(flatten)]
    pub cost: crate::usage::CostFields,
}

/// The `output_format` name of a MIME type (`image/png` -> `png`,
/// `image/svg+xml` -> `svg`).
pub fn format_of(mime_type: &str) -> String {
    match mime_type.strip_prefix("image/").unwrap_or(mime_type) {
        "svg+xml" => "svg".to_string(),
        other => other.to_string(),
    }
}

/// Builds the response from a result (moves the images; no copies).
pub fn response(
    result: GenerateResult,
    created: u64,
    extra_warnings: Vec<Warning>,
) -> ImagesResponse {
    let first_format = result.images.first().map(|i| i.mime_type.clone());
    let same = first_format
        .as_ref()
        .filter(|f| result.images.iter().all(|i| &i.mime_type == *f));
    let output_format = same.map(|m| format_of(m));
    let mut warnings = extra_warnings;
    warnings.extend(result.warnings);
    ImagesResponse {
        cost: crate::usage::CostFields::from(&result.usage),
        created,
        output_format,
        attempts: result.attempts.iter().map(AttemptOut::from).collect(),
        errors: result.errors.iter().map(ErrorOut::from).collect(),
        warnings,
        data: result
            .images
            .into_iter()
            .map(|i| DataItem {
                b64_json: i.base64,
                revised_prompt: i.revised_prompt,
                mime_type: i.mime_type,
                provider: i.provider,
                model: i.model,
            })
            .collect(),
    }
}
