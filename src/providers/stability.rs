//! Stability AI Stable Image v2beta: `POST /v2beta/stable-image/generate/{core|ultra|sd3}`
//! (docs/providers.md section 3).

use super::edit;
use super::table::any_params;
use super::{
    bearer_get,
    code_for_status, decode_success, image_type_param, merge_params, not_found_hint,
    provider_error, ratio_for, retry_hint_in_message, standard_base64, unparsed_detail, warning,
    BuiltRequest, Capabilities, Lifecycle, ModelStatus, ParseContext, ProviderSpec, SizeRule,
};
use crate::geometry::Ratio;
use crate::http::{retry_after_from_headers, HttpRequest, HttpResponse, Method};
use crate::image_data::ImageData;
use crate::model::{Error, ErrorCode, GeneratedImage, OutputFormat, ProviderName, WarningCode};
use crate::request::{ChainEntry, ImageRequest};
use crate::secret::Secret;
use serde::Deserialize;
use serde_json::{json, Map, Value};

const PROVIDER: ProviderName = ProviderName::Stability;

/// The provider's entry in the table.
pub static SPEC: ProviderSpec = ProviderSpec {
    name: "stability",
    display_name: "Stability AI",
    default_model: DEFAULT_MODEL,
    default_origin: "https://api.stability.ai",
    needs_key: true,
    key_env: "STABILITY_API_KEY",
    base_url_env: "STABILITY_BASE_URL",
    model_prefixes: &[],
    models: MODELS,
    prices: crate::providers::prices::STABILITY,
    response_headers: &["finish-reason", "seed"],
    capabilities: |entry| capabilities(&entry.model),
    check_params: any_params,
    build: build_request,
    parse: parse_response,
    key_check: Some(validate_key_request),
};

/// The nine aspect ratios of every v2beta endpoint (no 4:3 / 3:4).
pub const RATIOS: &[Ratio] = &[
    Ratio::new(16, 9),
    Ratio::new(1, 1),
    Ratio::new(21, 9),
    Ratio::new(2, 3),
    Ratio::new(3, 2),
    Ratio::new(4, 5),
    Ratio::new(5, 4),
    Ratio::new(9, 16),
    Ratio::new(9, 21),
];

const ALL_FORMATS: &[OutputFormat] = &[OutputFormat::Png, OutputFormat::Jpeg, OutputFormat::Webp];

/// The SD3.5 model sent when the model id is just `sd3`.
pub const DEFAULT_SD3_MODEL: &str = "sd3.5-large";

/// The default model.
pub const DEFAULT_MODEL: &str = "core";

const fn active(id: &'static str) -> ModelStatus {
    ModelStatus {
        id,
        family: false,
        lifecycle: Lifecycle::Active,
        replacement: "",
        source: "Stability API reference via third-party copies, read 2026-12",
    }
}

const fn rerouted(id: &'static str, to: &'static str) -> ModelStatus {
    ModelStatus {
        id,
        family: false,
        lifecycle: Lifecycle::Deprecated {
            since: Some("2025-04-17"),
            shutdown: None,
        },
        replacement: to,
        source:
            "Stability API reference: SD3.0 ids re-routed to 3.5 at the same price since 2025-04-17",
    }
}

/// Model lifecycle (docs/providers.md 7.2). `cfg_scale` is never sent by
/// default (docs/providers.md 3.2): the API's own default (4, or 1 for the
/// distilled turbo and flash models) is right, and the old v1 value 7 degrades them.
pub const MODELS: &[ModelStatus] = &[
    active("core"),
    active("ultra"),
    active("sd3"),
    active("sd3.5-large"),
    active("sd3.5-large-turbo"),
    active("sd3.5-medium"),
    active("sd3.5-flash"),
    rerouted("sd3-large-turbo", "sd3.5-large-turbo"),
    rerouted("sd3-large", "sd3.5-large"),
    rerouted("sd3-medium", "sd3.5-medium"),
];

/// Seconds Stability times a key out after its rate limit (150 requests / 10 s).
const RATE_LIMIT_TIMEOUT_MS: u64 = 60_000;

/// The multipart boundary; fixed so requests are reproducible in tests.
const BOUNDARY: &str = "imagegen-form-boundary-5f3c8a2e91d74b06";

/// Endpoint and `model` field for a model id: `core`, `ultra`, `sd3` or an
/// SD3.5 model id (sent to the sd3 endpoint).
pub fn endpoint_for(model: &str) -> (&str, Option<&str>) {
    match model {
        "core" | "ultra" => (model, None),
        "sd3" => ("sd3", Some(DEFAULT_SD3_MODEL)),
        m if m.starts_with("sd3") => ("sd3", Some(m)),
        // Unknown ids are taken as endpoint names, so new endpoints work.
        m => (m, None),
    }
}

/// Capability table (docs/providers.md 3.2; option mapping 4.2).
pub fn capabilities(model: &str) -> Capabilities {
    Capabilities {
        max_images_per_call: 1,
        sizes: SizeRule::AspectRatioOnly,
        aspect_ratios: RATIOS,
        image_size_tiers: &[],
        seed: true,
        negative_prompt: true,
        output_formats: ALL_FORMATS,
        // sd3 and ultra: inpaint with a mask, else image-to-image; core takes
        // no inputs (the design's rule, though edit/inpaint has no model field).
        inputs: match endpoint_for(model).0 {
            "sd3" | "ultra" => edit::stability(true),
            _ => edit::NO_INPUTS,
        },
        previews: false,
    }
}

fn form_value(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

/// Encodes fields as multipart/form-data. Values containing the boundary
/// get a longer boundary, so the body can never be misread.
pub fn multipart(fields: &[(String, String)]) -> (String, Vec<u8>) {
    let mut boundary = BOUNDARY.to_string();
    while fields
        .iter()
        .any(|(k, v)| k.contains(&boundary) || v.contains(&boundary))
    {
        boundary.push('x');
    }
    let mut body = String::new();
    for (name, value) in fields {
        let name = name.replace(['"', '\r', '\n'], "_");
        body.push_str("--");
        body.push_str(&boundary);
        body.push_str("\r\nContent-Disposition: form-data; name=\"");
        body.push_str(&name);
        body.push_str("\"\r\n\r\n");
        body.push_str(value);
        body.push_str("\r\n");
    }
    body.push_str("--");
    body.push_str(&boundary);
    body.push_str("--\r\n");
    (boundary, body.into_bytes())
}

/// Builds the generation request (one image per call).
pub fn build_request(req: &ImageRequest, entry: &ChainEntry) -> BuiltRequest {
    let mut warnings = Vec::new();
    let (endpoint, sd3_model) = endpoint_for(&entry.model);
    let (ratio, ratio_warning) = ratio_for(PROVIDER, req, RATIOS, Ratio::new(1, 1));
    warnings.extend(ratio_warning);

    let mut fields = Map::new();
    fields.insert("prompt".into(), json!(req.prompt));
    if let Some(n) = &req.negative_prompt {
        fields.insert("negative_prompt".into(), json!(n));
    }
    fields.insert("aspect_ratio".into(), json!(ratio.to_string()));
    if let Some(seed) = req.seed {
        fields.insert("seed".into(), json!(seed));
    }
    fields.insert(
        "output_format".into(),
        json!(req.output_format.unwrap_or(OutputFormat::Png).as_str()),
    );
    if let Some(model) = sd3_model {
        fields.insert("model".into(), json!(model));
    }
    merge_params(&mut fields, &entry.params);
    if let Some(inputs) = &req.inputs {
        let request = edit_request(endpoint, fields, entry, inputs);
        return BuiltRequest {
        request,
        warnings,
        stream: false,
    };
    }
    let pairs: Vec<(String, String)> = fields
        .iter()
        .filter_map(|(k, v)| form_value(v).map(|v| (k.clone(), v)))
        .collect();
    let (boundary, body) = multipart(&pairs);
    if pairs.iter().any(|(k, _)| k == "steps") {
        warnings.push(warning(
            PROVIDER,
            WarningCode::UnsupportedOption,
            "steps is not taken by Stability's v2beta endpoints; it will be ignored".into(),
        ));
    }

    let request = HttpRequest::new(
        Method::Post,
        format!("{}/v2beta/stable-image/generate/{endpoint}", entry.base_url),
    )
    .secret_header(
        "authorization",
        format!("Bearer {}", entry.api_key.expose()),
    )
    .header("accept", "application/json")
    .header(
        "content-type",
        format!("multipart/form-data; boundary={boundary}"),
    )
    .body(body);
    BuiltRequest {
        request,
        warnings,
        stream: false,
    }
}

/// An edit: inpaint with a mask, else image-to-image on the generate route.
fn edit_request(
    endpoint: &str,
    fields: Map<String, Value>,
    entry: &ChainEntry,
    inputs: &crate::inputs::EditInputs,
) -> HttpRequest {
    let (route, payload) = edit::stability_edit(endpoint, fields, &entry.params, inputs);
    HttpRequest::new(
        Method::Post,
        format!("{}/v2beta/stable-image/{route}", entry.base_url),
    )
    .secret_header(
        "authorization",
        format!("Bearer {}", entry.api_key.expose()),
    )
    .header("accept", "application/json")
    .payload(payload, inputs.data())
}

/// The free request that proves a key works.
pub fn validate_key_request(key: &Secret, base_url: &str) -> HttpRequest {
    bearer_get(key, format!("{base_url}/v1/user/balance"))
}

#[derive(Deserialize)]
struct JsonImage {
    #[serde(default)]
    image: Option<ImageData>,
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    seed: Option<f64>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    errors: Vec<String>,
    #[serde(default)]
    message: Option<String>,
}

fn seed_from(v: Option<f64>) -> Option<u64> {
    v.filter(|s| s.is_finite() && *s >= 0.0 && s.fract() == 0.0 && *s <= 1e15)
        .map(|s| s as u64)
}

fn check_finish(reason: Option<&str>, ctx: &ParseContext<'_>, status: u16) -> Result<(), Error> {
    match reason {
        Some("CONTENT_FILTERED") => Err({
            // The blurred image is billed although withheld.
            ctx.billed.set(Some(crate::cost::Billed::Images(1)));
            provider_error(
            ctx,
            ErrorCode::ContentPolicy,
            Some(status),
            "output filtered by content moderation (finish reason CONTENT_FILTERED); the image was withheld",
            )
        }),
        Some("ERROR") => Err(provider_error(
            ctx,
            ErrorCode::BadResponse,
            Some(status),
            "generation finished with reason ERROR",
        )),
        _ => Ok(()),
    }
}

/// Parses a generation response (JSON, or raw image bytes with headers).
pub fn parse_response(
    resp: HttpResponse,
    ctx: &ParseContext<'_>,
) -> Result<Vec<GeneratedImage>, Error> {
    if !resp.is_success() {
        return Err(classify_error(&resp, ctx));
    }
    let status = resp.status;
    let content_type = resp
        .header("content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    let requested_mime = ctx
        .request
        .output_format
        .unwrap_or(OutputFormat::Png)
        .mime_type()
        .to_string();
    if content_type.starts_with("image/") {
        check_finish(resp.header("finish-reason"), ctx, status)?;
        let Some(bytes) = resp.body.as_bytes() else {
            return Err(provider_error(
                ctx,
                ErrorCode::BadResponse,
                Some(status),
                "binary image body was read as text",
            ));
        };
        if bytes.is_empty() {
            return Err(provider_error(
                ctx,
                ErrorCode::BadResponse,
                Some(status),
                "empty image body",
            ));
        }
        let mime = content_type
            .split(';')
            .next()
            .unwrap_or("image/png")
            .trim()
            .to_string();
        let seed = seed_from(resp.header("seed").and_then(|s| s.trim().parse().ok()));
        return Ok(vec![GeneratedImage {
cost_usd: None,
            mime_type: mime,
            base64: ImageData::from_string(standard_base64(bytes)),
            provider: PROVIDER,
            model: ctx.entry.model.clone(),
            seed,
            revised_prompt: None,
        }]);
    }
    let parsed: JsonImage = decode_success(&resp, ctx)?;
    check_finish(
        parsed
            .finish_reason
            .as_deref()
            .or_else(|| resp.header("finish-reason")),
        ctx,
        status,
    )?;
    let Some(image) = parsed.image.filter(|i| !i.is_empty()) else {
        return Err(provider_error(
            ctx,
            ErrorCode::BadResponse,
            Some(status),
            "response holds no image",
        ));
    };
    let mime = image_type_param(&content_type).unwrap_or(requested_mime);
    Ok(vec![GeneratedImage {
cost_usd: None,
        mime_type: mime,
        base64: image,
        provider: PROVIDER,
        model: ctx.entry.model.clone(),
        seed: seed_from(parsed.seed),
        revised_prompt: None,
    }])
}

/// Classifies an error response (docs/providers.md 3.3).
fn classify_error(resp: &HttpResponse, ctx: &ParseContext<'_>) -> Error {
    let status = resp.status;
    let body = resp.body.decode_json::<ErrorBody>().ok();
    let name = body.as_ref().and_then(|b| b.name.as_deref()).unwrap_or("");
    let mut detail = match &body {
        Some(b) => {
            let text = if b.errors.is_empty() {
                b.message.clone().unwrap_or_default()
            } else {
                b.errors.join("; ")
            };
            if name.is_empty() {
                text
            } else {
                format!("{text} [{name}]")
            }
        }
        None => unparsed_detail(resp),
    };
    let classified = match (status, name) {
        (_, "content_moderation") => ErrorCode::ContentPolicy,
        (_, "unauthorized") | (401, _) => ErrorCode::Auth,
        (_, "payment_required") | (402, _) => ErrorCode::Quota,
        (_, "permission_denied") | (403, _) => ErrorCode::Permission,
        (_, "not_found") | (404, _) => ErrorCode::NotFound,
        (413, _) | (422, _) => ErrorCode::InvalidRequest,
        (429, _) | (_, "rate_limit_exceeded") => ErrorCode::RateLimited,
        (s, _) => code_for_status(s),
    };
    if classified == ErrorCode::NotFound {
        detail.push_str(&not_found_hint(PROVIDER, &ctx.entry.model));
    }
    let mut e = provider_error(ctx, classified, Some(status), &detail);
    if classified == ErrorCode::RateLimited {
        // Stability times a key out for 60 s; say so unless the response is more precise.
        e.retry_after_ms = retry_after_from_headers(resp, ctx.now_unix_ms)
            .or_else(|| retry_hint_in_message(&detail))
            .or(Some(RATE_LIMIT_TIMEOUT_MS));
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(endpoint_for("core"), ("core", None));
        assert_eq!(endpoint_for("ultra"), ("ultra", None));
        assert_eq!(endpoint_for("sd3"), ("sd3", Some("sd3.5-large")));
        assert_eq!(endpoint_for("sd3.5-flash"), ("sd3", Some("sd3.5-flash")));
    }

    #[test]
    fn multipart_boundary_never_collides() {
        let (b, body) = multipart(&[("prompt".into(), format!("x {BOUNDARY} y"))]);
        assert_ne!(b, BOUNDARY);
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with(&format!("--{b}\r\n")));
        assert!(text.ends_with(&format!("--{b}--\r\n")));
    }
}
