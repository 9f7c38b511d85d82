//! OpenAI Images: `POST /v1/images/generations` (docs/providers.md section 1).

use super::edit;
use super::table::any_params;
use super::{
    bearer_get,
    code_for_status, decode_success, merge_params, not_found_hint, provider_error,
    retry_hint_in_message, unparsed_error, warning, BuiltRequest, Capabilities, Lifecycle,
    ModelStatus, ParseContext, ProviderSpec, SizeRule,
};
use crate::geometry::{nearest_size, Size};
use crate::http::{retry_after_from_headers, HttpRequest, HttpResponse, Method};
use crate::image_data::ImageData;
use crate::model::{Error, ErrorCode, GeneratedImage, OutputFormat, ProviderName, WarningCode};
use crate::request::{ChainEntry, ImageRequest};
use crate::secret::Secret;
use serde::Deserialize;
use serde_json::{json, Map, Value};

const PROVIDER: ProviderName = ProviderName::Openai;

/// The provider's entry in the table.
pub static SPEC: ProviderSpec = ProviderSpec {
    name: "openai",
    display_name: "OpenAI",
    default_model: DEFAULT_MODEL,
    default_origin: "https://api.openai.com",
    needs_key: true,
    key_env: "OPENAI_API_KEY",
    base_url_env: "OPENAI_BASE_URL",
    model_prefixes: &["gpt-image", "dall-e", "chatgpt-image"],
    models: MODELS,
    prices: crate::providers::prices::OPENAI,
    response_headers: &["x-should-retry", "x-request-id"],
    capabilities: |entry| capabilities(&entry.model),
    check_params: any_params,
    build: build_request,
    parse: parse_response,
    key_check: Some(validate_key_request),
};

/// The default model.
pub const DEFAULT_MODEL: &str = "gpt-image-2";

const SDK: &str = "openai@7.59.0 ImageModel, read 2026-12";
const DEPRECATIONS: &str =
    "OpenAI's deprecations page via third-party copies, read 2026-12; openai@7.59.0 still lists it";

const fn active(id: &'static str) -> ModelStatus {
    ModelStatus {
        id,
        family: false,
        lifecycle: Lifecycle::Active,
        replacement: "",
        source: SDK,
    }
}

const fn retiring(id: &'static str) -> ModelStatus {
    ModelStatus {
        id,
        family: false,
        lifecycle: Lifecycle::Deprecated {
            since: Some("2026-06-02"),
            shutdown: Some("2026-12-01"),
        },
        replacement: DEFAULT_MODEL,
        source: DEPRECATIONS,
    }
}

/// Model lifecycle (docs/providers.md 7.2).
pub const MODELS: &[ModelStatus] = &[
    active("gpt-image-2"),
    active("gpt-image-2.5-sunburst"),
    active("gpt-image-2.5-flare"),
    active("gpt-image-2.6-sunburst"),
    active("gpt-image-2.6-flare"),
    retiring("gpt-image-1-mini"),
    retiring("gpt-image-1.5"),
    retiring("chatgpt-image-latest"),
    ModelStatus {
        id: "gpt-image-1",
        family: false,
        lifecycle: Lifecycle::Retired { on: "2026-10-23" },
        replacement: DEFAULT_MODEL,
        source: "openai@7.59.0 ImageModel doc comment: \"GPT Image 1 was shut down on October 23, 2026\"",
    },
    ModelStatus {
        id: "dall-e-",
        family: true,
        lifecycle: Lifecycle::Retired { on: "2026-05-12" },
        replacement: DEFAULT_MODEL,
        source: "OpenAI's deprecations page via third-party copies, read 2026-08",
    },
];

/// The three sizes of gpt-image-1, -1-mini and -1.5.
pub const PRESET_SIZES: &[Size] = &[
    Size::new(1024, 1024),
    Size::new(1536, 1024),
    Size::new(1024, 1536),
];

const ALL_FORMATS: &[OutputFormat] = &[OutputFormat::Png, OutputFormat::Jpeg, OutputFormat::Webp];

/// Quality sent unless `params.quality` says otherwise: the original
/// design's "standard" quality, in gpt-image terms.
pub const DEFAULT_QUALITY: &str = "medium";

/// True for models that take any `WIDTHxHEIGHT` (gpt-image-2 and 2.5).
pub fn takes_free_sizes(model: &str) -> bool {
    model.starts_with("gpt-image-2")
}

/// Capability table (docs/providers.md 1.2; option mapping 4.2).
pub fn capabilities(model: &str) -> Capabilities {
    let sizes = if takes_free_sizes(model) {
        SizeRule::Free {
            multiple: 16,
            max_edge: 3840,
            max_ratio: 3.0,
            min_pixels: 655_360,
            max_pixels: 8_294_400,
        }
    } else {
        SizeRule::Presets(PRESET_SIZES)
    };
    Capabilities {
        max_images_per_call: 10,
        sizes,
        aspect_ratios: &[],
        image_size_tiers: &[],
        seed: false,
        negative_prompt: false,
        output_formats: ALL_FORMATS,
        inputs: if model.starts_with("dall-e") {
            edit::NO_INPUTS
        } else {
            edit::OPENAI_GPT_IMAGE
        },
        // Streaming is for GPT image models only (P2.2.1).
        previews: !model.starts_with("dall-e"),
    }
}

/// Rounds `v` to the nearest multiple of `m` (at least `m`).
fn round_to(v: f64, m: u32) -> u32 {
    let m_f = f64::from(m);
    let r = ((v / m_f).round() * m_f).max(m_f);
    if r >= f64::from(u32::MAX) {
        u32::MAX - (u32::MAX % m)
    } else {
        r as u32
    }
}

/// Fits an arbitrary size into the gpt-image-2 rules: ratio ≤ 3:1, edges
/// multiples of 16 and ≤ 3840, pixel count within bounds.
pub fn fit_free_size(target: Size) -> Size {
    const MIN_PIXELS: f64 = 655_360.0;
    const MAX_PIXELS: f64 = 8_294_400.0;
    let ratio = target.ratio().clamp(1.0 / 3.0, 3.0);
    let mut pixels = (target.pixels() as f64).clamp(MIN_PIXELS, MAX_PIXELS);
    let mut size = Size::new(1024, 1024);
    // Rounding to ×16 moves the pixel count a little: nudge until it fits.
    for _ in 0..100 {
        let w = (pixels * ratio).sqrt();
        let h = w / ratio;
        let scale = (3840.0 / w.max(h)).min(1.0);
        let (mut w, mut h) = (round_to(w * scale, 16), round_to(h * scale, 16));
        while w > 3 * h {
            h += 16;
        }
        while h > 3 * w {
            w += 16;
        }
        size = Size::new(w, h);
        if (size.pixels() as f64) > MAX_PIXELS {
            pixels *= 0.98;
        } else if (size.pixels() as f64) < MIN_PIXELS {
            pixels *= 1.02;
        } else {
            break;
        }
    }
    size
}

/// True when `size` obeys the gpt-image-2 rules as given.
pub fn is_valid_free_size(s: Size) -> bool {
    let (long, short) = (s.w.max(s.h), s.w.min(s.h));
    s.w % 16 == 0
        && s.h % 16 == 0
        && long <= 3840
        && f64::from(long) / f64::from(short) <= 3.0
        && (655_360..=8_294_400).contains(&s.pixels())
}

/// The `size` to send, and a warning when it differs from what was asked.
fn size_for(req: &ImageRequest, model: &str) -> (Option<String>, Option<crate::model::Warning>) {
    let free = takes_free_sizes(model);
    if let Some(s) = req.size {
        if free {
            if is_valid_free_size(s) {
                return (Some(s.to_string()), None);
            }
            let fitted = fit_free_size(s);
            let w = warning(
                PROVIDER,
                WarningCode::OptionMapped,
                format!("size {s} breaks {model}'s size rules; using {fitted}"),
            );
            return (Some(fitted.to_string()), Some(w));
        }
        let near = nearest_size(s, PRESET_SIZES).unwrap_or(Size::new(1024, 1024));
        if near == s {
            return (Some(s.to_string()), None);
        }
        let w = warning(
            PROVIDER,
            WarningCode::OptionMapped,
            format!("size {s} is not offered by {model}; using the nearest, {near}"),
        );
        return (Some(near.to_string()), Some(w));
    }
    if let Some(r) = req.aspect_ratio {
        if free {
            // Long edge 1536 (1024 for squares), short edge to the ratio, ×16.
            let ratio = r.value().clamp(1.0 / 3.0, 3.0);
            let size = if (ratio - 1.0).abs() < 1e-9 {
                Size::new(1024, 1024)
            } else if ratio > 1.0 {
                Size::new(1536, round_to(1536.0 / ratio, 16))
            } else {
                Size::new(round_to(1536.0 * ratio, 16), 1536)
            };
            let size = if is_valid_free_size(size) {
                size
            } else {
                fit_free_size(size)
            };
            return (Some(size.to_string()), None);
        }
        let v = r.value();
        let preset = if v >= 1.2 {
            Size::new(1536, 1024)
        } else if v <= 0.83 {
            Size::new(1024, 1536)
        } else {
            Size::new(1024, 1024)
        };
        let exact = (preset.ratio() - v).abs() < 1e-9;
        let w = (!exact).then(|| {
            warning(
                PROVIDER,
                WarningCode::OptionMapped,
                format!("aspectRatio {r} is not offered by {model}; using {preset}"),
            )
        });
        return (Some(preset.to_string()), w);
    }
    (None, None)
}

/// Builds the generation request.
pub fn build_request(req: &ImageRequest, entry: &ChainEntry) -> BuiltRequest {
    let mut warnings = Vec::new();
    let mut body = Map::new();
    body.insert("model".into(), json!(entry.model));
    body.insert("prompt".into(), json!(req.prompt));
    body.insert("n".into(), json!(req.count));
    let (size, size_warning) = size_for(req, &entry.model);
    if let Some(size) = size {
        body.insert("size".into(), json!(size));
    }
    warnings.extend(size_warning);
    body.insert("quality".into(), json!(DEFAULT_QUALITY));
    if let Some(f) = req.output_format {
        body.insert("output_format".into(), json!(f.as_str()));
    }
    if req.seed.is_some() {
        warnings.push(warning(
            PROVIDER,
            WarningCode::UnsupportedOption,
            "seed is not supported by OpenAI image models; ignored".into(),
        ));
    }
    if req.negative_prompt.is_some() {
        warnings.push(warning(
            PROVIDER,
            WarningCode::UnsupportedOption,
            "negativePrompt is not supported by OpenAI image models; ignored".into(),
        ));
    }
    if req.partial_images > 0 {
        // Multipart sends them as text: `stream=true`, `partial_images=N`.
        body.insert("stream".into(), json!(true));
        body.insert("partial_images".into(), json!(req.partial_images));
    }
    merge_params(&mut body, &entry.params);
    let route = if req.inputs.is_some() { "edits" } else { "generations" };
    let request = HttpRequest::new(
        Method::Post,
        format!("{}/v1/images/{route}", entry.base_url),
    )
    .secret_header(
        "authorization",
        format!("Bearer {}", entry.api_key.expose()),
    );
    let request = match &req.inputs {
        // Multipart: the transport sets the content type with its boundary.
        Some(inputs) => request.payload(edit::openai_form(&body, inputs), inputs.data()),
        None => request
            .header("content-type", "application/json")
            .body(Value::Object(body).to_string().into_bytes()),
    };
    BuiltRequest {
        request,
        warnings,
        stream: false,
    }
}

/// The free request that proves a key works.
pub fn validate_key_request(key: &Secret, base_url: &str) -> HttpRequest {
    bearer_get(key, format!("{base_url}/v1/models"))
}

#[derive(Deserialize)]
struct ImagesResponse {
    #[serde(default)]
    data: Vec<ImageItem>,
    #[serde(default)]
    output_format: Option<String>,
    #[serde(default)]
    usage: Option<crate::cost::usage::OpenAiUsage>,
}

#[derive(Deserialize)]
struct ImageItem {
    #[serde(default)]
    b64_json: Option<ImageData>,
    #[serde(default)]
    revised_prompt: Option<String>,
    #[serde(default)]
    url: Option<String>,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    param: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

fn mime_for(format: Option<&str>, requested: Option<OutputFormat>) -> String {
    match format {
        Some("jpeg") | Some("jpg") => "image/jpeg".into(),
        Some("webp") => "image/webp".into(),
        Some("png") => "image/png".into(),
        _ => requested.unwrap_or(OutputFormat::Png).mime_type().into(),
    }
}

/// Parses a generation response.
pub fn parse_response(
    resp: HttpResponse,
    ctx: &ParseContext<'_>,
) -> Result<Vec<GeneratedImage>, Error> {
    if !resp.is_success() {
        return Err(classify_error(&resp, ctx));
    }
    let parsed: ImagesResponse = decode_success(&resp, ctx)?;
    ctx.billed.set(parsed.usage.map(|u| crate::cost::Billed::Tokens(u.tokens())));
    let mime = mime_for(parsed.output_format.as_deref(), ctx.request.output_format);
    let mut images = Vec::with_capacity(parsed.data.len());
    let mut saw_url = false;
    for item in parsed.data {
        match item.b64_json {
            Some(b64) if !b64.is_empty() => images.push(GeneratedImage {
cost_usd: None,
                mime_type: mime.clone(),
                base64: b64,
                provider: PROVIDER,
                model: ctx.entry.model.clone(),
                seed: None,
                revised_prompt: item.revised_prompt,
            }),
            _ => saw_url |= item.url.is_some(),
        }
    }
    if images.is_empty() {
        let detail = if saw_url {
            "response holds image URLs instead of base64 (a DALL-E style model?)"
        } else {
            "response holds no image"
        };
        return Err(provider_error(
            ctx,
            ErrorCode::BadResponse,
            Some(resp.status),
            detail,
        ));
    }
    Ok(images)
}

/// Classifies an error response (docs/providers.md 1.6).
fn classify_error(resp: &HttpResponse, ctx: &ParseContext<'_>) -> Error {
    let status = resp.status;
    let body: Option<ErrorBody> = resp
        .body
        .decode_json::<ErrorEnvelope>()
        .ok()
        .map(|e| e.error);
    // `x-should-retry` is OpenAI's explicit word on retrying; the official
    // SDK checks it before the status, and so do we.
    let should_retry = match resp.header("x-should-retry").map(str::trim) {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => None,
    };
    let Some(body) = body else {
        let mut e = unparsed_error(resp, ctx);
        e.should_retry = should_retry;
        return e;
    };
    let code = body.code.as_deref().unwrap_or("");
    let kind = body.kind.as_deref().unwrap_or("");
    let message = body.message.as_deref().unwrap_or("");
    let classified = match (status, code, kind) {
        (_, "invalid_api_key", _) | (401, _, _) => ErrorCode::Auth,
        (_, "insufficient_quota", _) | (_, _, "insufficient_quota") => ErrorCode::Quota,
        (_, "billing_hard_limit_reached", _) | (_, "billing_not_active", _) => ErrorCode::Quota,
        (_, "moderation_blocked", _) | (_, "content_policy_violation", _) => {
            ErrorCode::ContentPolicy
        }
        (_, _, "image_generation_user_error") => ErrorCode::ContentPolicy,
        (_, "model_not_found", _) | (404, _, _) => ErrorCode::NotFound,
        (403, _, _) => ErrorCode::Permission,
        (429, _, _) | (_, "rate_limit_exceeded", _) | (_, "slow_down", _) => ErrorCode::RateLimited,
        (s, _, _) => code_for_status(s),
    };
    let mut detail = if code.is_empty() {
        message.to_string()
    } else {
        format!("{message} [{code}]")
    };
    if classified == ErrorCode::NotFound {
        detail.push_str(&not_found_hint(PROVIDER, &ctx.entry.model));
    }
    let mut e = provider_error(ctx, classified, Some(status), &detail);
    e.should_retry = should_retry;
    if classified == ErrorCode::InvalidRequest {
        e.param = body.param.as_deref().map(Into::into);
    }
    if classified == ErrorCode::RateLimited {
        e.retry_after_ms = retry_after_from_headers(resp, ctx.now_unix_ms)
            .or_else(|| retry_hint_in_message(message));
    } else if e.retryable() {
        // The official SDKs honour a server's delay on any retryable status.
        e.retry_after_ms = retry_after_from_headers(resp, ctx.now_unix_ms);
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_sizes_fit_the_rules() {
        for (w, h) in [
            (100, 100),
            (5000, 1000),
            (1000, 5000),
            (4000, 4000),
            (1920, 1080),
            (17, 9999),
        ] {
            let s = fit_free_size(Size::new(w, h));
            assert!(is_valid_free_size(s), "{w}x{h} -> {s}");
        }
        assert!(is_valid_free_size(Size::new(1536, 864)));
        assert!(!is_valid_free_size(Size::new(1000, 1000)));
    }
}
