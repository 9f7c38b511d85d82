//! Google Gemini API native image models: `generateContent` (docs/providers.md section 2).
//!
//! Only Developer-API fields are sent (docs/providers.md 2.3): `imageConfig` takes `aspectRatio` and
//! `imageSize` there. `personGeneration`, `outputMimeType`,
//! `outputCompressionQuality`, `imageOutputOptions` and `prominentPeople` are
//! Vertex-only (the official SDK refuses to send them to this API); a caller
//! may still add them through `params`.

use super::table::any_params;
use super::{
    code_for_status, decode_success, merge_params, not_found_hint, provider_error, ratio_for,
    retry_hint_in_message, unparsed_error, warning, BuiltRequest, Capabilities, Lifecycle,
    ModelStatus, ParseContext, ProviderSpec, SizeRule,
};
use crate::geometry::Ratio;
use crate::http::{parse_duration_ms, retry_after_from_headers, HttpRequest, HttpResponse, Method};
use crate::image_data::ImageData;
use crate::model::{Error, ErrorCode, GeneratedImage, OutputFormat, ProviderName, WarningCode};
use crate::request::{ChainEntry, ImageRequest};
use crate::secret::Secret;
use serde::Deserialize;
use serde_json::{json, Map, Value};

const PROVIDER: ProviderName = ProviderName::Gemini;

/// The provider's entry in the table.
pub static SPEC: ProviderSpec = ProviderSpec {
    name: "gemini",
    display_name: "Google Gemini",
    default_model: DEFAULT_MODEL,
    default_origin: "https://generativelanguage.googleapis.com",
    needs_key: true,
    key_env: "GEMINI_API_KEY",
    base_url_env: "GEMINI_BASE_URL",
    model_prefixes: &["gemini-"],
    models: MODELS,
    response_headers: &[],
    capabilities: |entry| capabilities(&entry.model),
    check_params: any_params,
    build: build_request,
    parse: parse_response,
    key_check: Some(validate_key_request),
};

/// The default model.
pub const DEFAULT_MODEL: &str = "gemini-nano-banana-2.1";

const fn active(id: &'static str, source: &'static str) -> ModelStatus {
    ModelStatus {
        id,
        family: false,
        lifecycle: Lifecycle::Active,
        replacement: "",
        source,
    }
}

/// Model lifecycle (docs/providers.md 7.2).
pub const MODELS: &[ModelStatus] = &[
    active(
        "gemini-nano-banana-2.1",
        "Google's changelog via third-party copies (GA 2026-10-06); @google/genai 3.3.0 model enum",
    ),
    active("gemini-3-pro-image", "@google/genai 3.3.0 model enum, read 2026-12"),
    active(
        "gemini-3.1-flash-lite-image",
        "@google/genai 3.3.0 model enum, read 2026-12",
    ),
    ModelStatus {
        id: "gemini-3.1-flash-image",
        family: false,
        lifecycle: Lifecycle::Deprecated {
            since: Some("2026-10-06"),
            shutdown: None,
        },
        replacement: DEFAULT_MODEL,
        source: "Google's changelog via third-party copies, read 2026-12",
    },
    ModelStatus {
        id: "gemini-2.5-flash-image",
        family: false,
        // Google's pages disagree on the shutdown (2026-10-02 on the pricing
        // page, 2027-03-15 on the deprecations page): still called, with a warning.
        lifecycle: Lifecycle::Deprecated {
            since: None,
            shutdown: Some("2027-03-15"),
        },
        replacement: DEFAULT_MODEL,
        source: "Gemini deprecations page via third-party copies, read 2026-12 (the pricing page says 2026-10-02)",
    },
    ModelStatus {
        id: "gemini-3-pro-image-preview",
        family: false,
        // Announced shut down, yet still listed by ListModels in 2026-09:
        // called, with a warning; a 404 falls back.
        lifecycle: Lifecycle::Deprecated {
            since: None,
            shutdown: Some("2026-06-25"),
        },
        replacement: "gemini-3-pro-image",
        source: "Gemini deprecations page via third-party copies, read 2026-12",
    },
    ModelStatus {
        id: "gemini-3.1-flash-image-preview",
        family: false,
        lifecycle: Lifecycle::Deprecated {
            since: None,
            shutdown: Some("2026-06-25"),
        },
        replacement: DEFAULT_MODEL,
        source: "Gemini deprecations page via third-party copies, read 2026-12",
    },
    ModelStatus {
        id: "imagen-",
        family: true,
        lifecycle: Lifecycle::Retired { on: "2026-08-20" },
        replacement: DEFAULT_MODEL,
        source: "shut down on the Gemini API: vercel/ai (2026-08-20) and python-genai (2026-08-21) removed it after the shutdown",
    },
];

/// Aspect ratios of every Gemini image model.
pub const RATIOS: &[Ratio] = &[
    Ratio::new(1, 1),
    Ratio::new(2, 3),
    Ratio::new(3, 2),
    Ratio::new(3, 4),
    Ratio::new(4, 3),
    Ratio::new(4, 5),
    Ratio::new(5, 4),
    Ratio::new(9, 16),
    Ratio::new(16, 9),
    Ratio::new(21, 9),
];

/// gemini-3.1-flash-image adds four extreme ratios.
pub const RATIOS_3_1_FLASH: &[Ratio] = &[
    Ratio::new(1, 1),
    Ratio::new(2, 3),
    Ratio::new(3, 2),
    Ratio::new(3, 4),
    Ratio::new(4, 3),
    Ratio::new(4, 5),
    Ratio::new(5, 4),
    Ratio::new(9, 16),
    Ratio::new(16, 9),
    Ratio::new(21, 9),
    Ratio::new(1, 4),
    Ratio::new(4, 1),
    Ratio::new(1, 8),
    Ratio::new(8, 1),
];

/// `finishReason` values that mean the output was blocked by policy.
const BLOCKED_FINISH: &[&str] = &[
    "SAFETY",
    "IMAGE_SAFETY",
    "PROHIBITED_CONTENT",
    "IMAGE_PROHIBITED_CONTENT",
    "BLOCKLIST",
    "SPII",
    "RECITATION",
    "IMAGE_RECITATION",
];

/// Harm categories the original design set a threshold for.
const HARM_CATEGORIES: &[&str] = &[
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
];

/// Default safety threshold (the original design's "block some").
pub const DEFAULT_SAFETY_THRESHOLD: &str = "BLOCK_MEDIUM_AND_ABOVE";

fn is_3_1_flash(model: &str) -> bool {
    model.starts_with("gemini-3.1-flash-image")
}

fn is_3_pro(model: &str) -> bool {
    model.starts_with("gemini-3-pro-image") || model.starts_with("nano-banana-pro")
}

/// Capability table (docs/providers.md 2.2; option mapping 4.2).
pub fn capabilities(model: &str) -> Capabilities {
    let (ratios, tiers): (&'static [Ratio], &'static [&'static str]) = if is_3_1_flash(model) {
        (RATIOS_3_1_FLASH, &["512", "1K", "2K", "4K"])
    } else if is_3_pro(model) || model.starts_with("gemini-nano-banana") {
        // Nano Banana 2.1: 1K, 2K, 4K (no 512); its extra ratios are unconfirmed.
        (RATIOS, &["1K", "2K", "4K"])
    } else if model.starts_with("gemini-3.1-flash-lite-image") {
        (RATIOS, &["1K"])
    } else {
        (RATIOS, &[])
    };
    Capabilities {
        max_images_per_call: 1,
        sizes: SizeRule::AspectRatioOnly,
        aspect_ratios: ratios,
        image_size_tiers: tiers,
        seed: true,
        negative_prompt: false,
        output_formats: &[],
    }
}

/// The `imageSize` tier for a long edge, from the tiers a model offers.
pub fn tier_for(long_edge: u32, tiers: &[&'static str]) -> Option<&'static str> {
    let wanted = if long_edge <= 512 {
        "512"
    } else if long_edge <= 1024 {
        "1K"
    } else if long_edge <= 2048 {
        "2K"
    } else {
        "4K"
    };
    if tiers.contains(&wanted) {
        return Some(wanted);
    }
    // A model without the 512 tier gets its smallest.
    tiers.first().copied()
}

/// Builds the generation request (one image per call).
pub fn build_request(req: &ImageRequest, entry: &ChainEntry) -> BuiltRequest {
    let caps = capabilities(&entry.model);
    let mut warnings = Vec::new();
    let (ratio, ratio_warning) = ratio_for(PROVIDER, req, caps.aspect_ratios, Ratio::new(1, 1));
    warnings.extend(ratio_warning);

    let mut image_config = Map::new();
    image_config.insert("aspectRatio".into(), json!(ratio.to_string()));
    if let Some(size) = req.size {
        match tier_for(size.long_edge(), caps.image_size_tiers) {
            Some(tier) => {
                image_config.insert("imageSize".into(), json!(tier));
            }
            None if size.long_edge() > 1024 => warnings.push(warning(
                PROVIDER,
                WarningCode::UnsupportedOption,
                format!("{} makes ~1K images only; size {size} ignored", entry.model),
            )),
            None => {}
        }
    }

    let mut generation_config = Map::new();
    generation_config.insert("responseModalities".into(), json!(["IMAGE"]));
    generation_config.insert("imageConfig".into(), Value::Object(image_config));
    if let Some(seed) = req.seed {
        if let Ok(seed) = i32::try_from(seed) {
            generation_config.insert("seed".into(), json!(seed));
        } else {
            warnings.push(warning(
                PROVIDER,
                WarningCode::UnsupportedOption,
                format!("seed {seed} is above Gemini's 32-bit limit; ignored"),
            ));
        }
    }
    if req.negative_prompt.is_some() {
        warnings.push(warning(
            PROVIDER,
            WarningCode::UnsupportedOption,
            "negativePrompt is not supported by Gemini; ignored".into(),
        ));
    }
    if let Some(f) = req.output_format.filter(|f| *f != OutputFormat::Png) {
        warnings.push(warning(
            PROVIDER,
            WarningCode::UnsupportedOption,
            format!(
                "outputFormat {} cannot be chosen on the Gemini API; images come in the type Gemini returns",
                f.as_str()
            ),
        ));
    }

    let safety: Vec<Value> = HARM_CATEGORIES
        .iter()
        .map(|c| json!({"category": c, "threshold": DEFAULT_SAFETY_THRESHOLD}))
        .collect();
    let mut body = Map::new();
    body.insert(
        "contents".into(),
        json!([{"role": "user", "parts": [{"text": req.prompt}]}]),
    );
    body.insert("generationConfig".into(), Value::Object(generation_config));
    body.insert("safetySettings".into(), Value::Array(safety));
    merge_params(&mut body, &entry.params);

    let request = HttpRequest::new(
        Method::Post,
        format!(
            "{}/v1beta/models/{}:generateContent",
            entry.base_url, entry.model
        ),
    )
    .secret_header("x-goog-api-key", entry.api_key.expose())
    .header("content-type", "application/json")
    .body(Value::Object(body).to_string().into_bytes());
    BuiltRequest { request, warnings }
}

/// The free request that proves a key works.
pub fn validate_key_request(key: &Secret, base_url: &str) -> HttpRequest {
    HttpRequest::new(Method::Get, format!("{base_url}/v1beta/models?pageSize=50"))
        .secret_header("x-goog-api-key", key.expose())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerateContentResponse {
    #[serde(default)]
    candidates: Vec<Candidate>,
    #[serde(default)]
    prompt_feedback: Option<PromptFeedback>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    #[serde(default)]
    block_reason: Option<String>,
    #[serde(default)]
    block_reason_message: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    #[serde(default)]
    content: Option<Content>,
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    finish_message: Option<String>,
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    parts: Vec<Part>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Part {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    inline_data: Option<InlineData>,
    #[serde(default)]
    thought: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InlineData {
    #[serde(default)]
    mime_type: Option<String>,
    #[serde(default)]
    data: Option<ImageData>,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    details: Vec<Detail>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Detail {
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    retry_delay: Option<String>,
    #[serde(default)]
    violations: Vec<Violation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Violation {
    #[serde(default)]
    quota_id: Option<String>,
}

/// Parses a generation response.
pub fn parse_response(
    resp: HttpResponse,
    ctx: &ParseContext<'_>,
) -> Result<Vec<GeneratedImage>, Error> {
    if !resp.is_success() {
        return Err(classify_error(&resp, ctx));
    }
    let parsed: GenerateContentResponse = decode_success(&resp, ctx)?;
    if let Some(reason) = parsed
        .prompt_feedback
        .as_ref()
        .and_then(|f| f.block_reason.as_deref())
    {
        let extra = parsed
            .prompt_feedback
            .as_ref()
            .and_then(|f| f.block_reason_message.as_deref())
            .unwrap_or("");
        return Err(provider_error(
            ctx,
            ErrorCode::ContentPolicy,
            Some(resp.status),
            format!("prompt blocked ({reason}) {extra}").trim_end(),
        ));
    }
    let mut images = Vec::new();
    let mut finish_reasons = Vec::new();
    let mut texts = Vec::new();
    for candidate in parsed.candidates {
        if let Some(r) = candidate.finish_reason {
            finish_reasons.push((r, candidate.finish_message));
        }
        for part in candidate.content.map(|c| c.parts).unwrap_or_default() {
            if part.thought == Some(true) {
                continue; // interim "thinking" output, not a result
            }
            if let Some(t) = part.text {
                texts.push(t);
            }
            let Some(inline) = part.inline_data else {
                continue;
            };
            let mime = inline.mime_type.unwrap_or_default();
            match inline.data {
                Some(data) if mime.starts_with("image/") && !data.is_empty() => {
                    images.push(GeneratedImage {
                        mime_type: mime,
                        base64: data,
                        provider: PROVIDER,
                        model: ctx.entry.model.clone(),
                        // Gemini reports no seed; the requested one is not proof.
                        seed: None,
                        revised_prompt: None,
                    })
                }
                _ => {}
            }
        }
    }
    if !images.is_empty() {
        return Ok(images);
    }
    if let Some((reason, message)) = finish_reasons
        .iter()
        .find(|(r, _)| BLOCKED_FINISH.contains(&r.as_str()))
    {
        return Err(provider_error(
            ctx,
            ErrorCode::ContentPolicy,
            Some(resp.status),
            format!(
                "output blocked ({reason}) {}",
                message.as_deref().unwrap_or("")
            )
            .trim_end(),
        ));
    }
    let reasons: Vec<&str> = finish_reasons.iter().map(|(r, _)| r.as_str()).collect();
    let text: String = texts.join(" ").chars().take(200).collect();
    let detail = format!(
        "no image in the response (finishReason {}){}",
        if reasons.is_empty() {
            "none".to_string()
        } else {
            reasons.join(",")
        },
        if text.is_empty() {
            String::new()
        } else {
            format!("; text: {text}")
        }
    );
    Err(provider_error(
        ctx,
        ErrorCode::BadResponse,
        Some(resp.status),
        &detail,
    ))
}

/// Classifies an error response (docs/providers.md 2.6).
fn classify_error(resp: &HttpResponse, ctx: &ParseContext<'_>) -> Error {
    let status = resp.status;
    let Ok(envelope) = resp.body.decode_json::<ErrorEnvelope>() else {
        return unparsed_error(resp, ctx);
    };
    let body = envelope.error;
    let message = body.message.as_deref().unwrap_or("");
    let rpc = body.status.as_deref().unwrap_or("");
    let has_reason = |r: &str| body.details.iter().any(|d| d.reason.as_deref() == Some(r));
    let per_day = body
        .details
        .iter()
        .flat_map(|d| d.violations.iter())
        .any(|v| v.quota_id.as_deref().is_some_and(|q| q.contains("PerDay")));
    let classified = if has_reason("API_KEY_INVALID") || status == 401 {
        ErrorCode::Auth
    } else {
        match (status, rpc) {
            (403, _) | (_, "PERMISSION_DENIED") => ErrorCode::Permission,
            (_, "FAILED_PRECONDITION") => ErrorCode::Permission,
            (404, _) | (_, "NOT_FOUND") => ErrorCode::NotFound,
            (429, _) | (_, "RESOURCE_EXHAUSTED") => {
                if per_day || message.contains("limit: 0") {
                    ErrorCode::Quota
                } else {
                    ErrorCode::RateLimited
                }
            }
            (s, _) => code_for_status(s),
        }
    };
    let mut detail = if rpc.is_empty() {
        message.to_string()
    } else {
        format!("{message} [{rpc}]")
    };
    if classified == ErrorCode::NotFound {
        detail.push_str(&not_found_hint(PROVIDER, &ctx.entry.model));
    }
    let mut e = provider_error(ctx, classified, Some(status), &detail);
    if classified == ErrorCode::RateLimited {
        e.retry_after_ms = body
            .details
            .iter()
            .find_map(|d| d.retry_delay.as_deref().and_then(parse_duration_ms))
            .or_else(|| retry_after_from_headers(resp, ctx.now_unix_ms))
            .or_else(|| retry_hint_in_message(message));
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers() {
        let flash = capabilities("gemini-3.1-flash-image").image_size_tiers;
        let pro = capabilities("gemini-3-pro-image").image_size_tiers;
        assert_eq!(tier_for(400, flash), Some("512"));
        assert_eq!(tier_for(400, pro), Some("1K"));
        assert_eq!(tier_for(1024, pro), Some("1K"));
        assert_eq!(tier_for(1536, pro), Some("2K"));
        assert_eq!(tier_for(4096, pro), Some("4K"));
        assert_eq!(
            tier_for(
                4096,
                capabilities("gemini-2.5-flash-image").image_size_tiers
            ),
            None
        );
    }
}
