//! Reading Gemini's answers: images, blocks, and classified errors
//! (docs/providers.md 2.5, 2.6).

use super::{BLOCKED_FINISH, PROVIDER};
use crate::http::{parse_duration_ms, retry_after_from_headers, HttpResponse};
use crate::image_data::ImageData;
use crate::model::{Error, ErrorCode, GeneratedImage};
use crate::providers::{
    code_for_status, decode_success, not_found_hint, provider_error, retry_hint_in_message,
    unparsed_error, ParseContext,
};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerateContentResponse {
    #[serde(default)]
    candidates: Vec<Candidate>,
    #[serde(default)]
    prompt_feedback: Option<PromptFeedback>,
    #[serde(default)]
    usage_metadata: Option<crate::cost::usage::GeminiUsage>,
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
    // Blocked answers bill what their usage says (the prompt, at least).
    let billed = parsed.usage_metadata.as_ref().map(|u| u.tokens());
    ctx.billed.set(billed.map(crate::cost::Billed::Tokens));
    if let Some(feedback) = &parsed.prompt_feedback {
        if let Some(reason) = feedback.block_reason.as_deref() {
            let extra = feedback.block_reason_message.as_deref().unwrap_or("");
            return Err(provider_error(
                ctx,
                ErrorCode::ContentPolicy,
                Some(resp.status),
                format!("prompt blocked ({reason}) {extra}").trim_end(),
            ));
        }
    }
    let found = collect(parsed.candidates, ctx);
    if !found.images.is_empty() {
        return Ok(found.images);
    }
    Err(no_image_error(&found, resp.status, ctx))
}

/// What the candidates hold.
#[derive(Default)]
struct Found {
    images: Vec<GeneratedImage>,
    /// (finishReason, finishMessage) of each candidate that has one.
    finish_reasons: Vec<(String, Option<String>)>,
    texts: Vec<String>,
}

/// The images, finish reasons and texts of the candidates (thoughts skipped).
fn collect(candidates: Vec<Candidate>, ctx: &ParseContext<'_>) -> Found {
    let mut found = Found::default();
    for candidate in candidates {
        if let Some(r) = candidate.finish_reason {
            found.finish_reasons.push((r, candidate.finish_message));
        }
        for part in candidate.content.map(|c| c.parts).unwrap_or_default() {
            if part.thought == Some(true) {
                continue; // interim "thinking" output, not a result
            }
            if let Some(t) = part.text {
                found.texts.push(t);
            }
            let Some(inline) = part.inline_data else {
                continue;
            };
            let mime = inline.mime_type.unwrap_or_default();
            match inline.data {
                Some(data) if mime.starts_with("image/") && !data.is_empty() => {
                    found.images.push(GeneratedImage {
cost_usd: None,
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
    found
}

/// Why a successful response held no image: blocked output, or a
/// `bad_response` naming the finish reasons and any text.
fn no_image_error(found: &Found, status: u16, ctx: &ParseContext<'_>) -> Error {
    if let Some((reason, message)) = found
        .finish_reasons
        .iter()
        .find(|(r, _)| BLOCKED_FINISH.contains(&r.as_str()))
    {
        return provider_error(
            ctx,
            ErrorCode::ContentPolicy,
            Some(status),
            format!(
                "output blocked ({reason}) {}",
                message.as_deref().unwrap_or("")
            )
            .trim_end(),
        );
    }
    let reasons: Vec<&str> = found
        .finish_reasons
        .iter()
        .map(|(r, _)| r.as_str())
        .collect();
    let text: String = found.texts.join(" ").chars().take(200).collect();
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
    provider_error(ctx, ErrorCode::BadResponse, Some(status), &detail)
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
