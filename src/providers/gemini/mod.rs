//! Google Gemini API native image models: `generateContent` (docs/providers.md section 2).
//!
//! Only Developer-API fields are sent (docs/providers.md 2.3): `imageConfig` takes `aspectRatio` and
//! `imageSize` there. `personGeneration`, `outputMimeType`,
//! `outputCompressionQuality`, `imageOutputOptions` and `prominentPeople` are
//! Vertex-only (the official SDK refuses to send them to this API); a caller
//! may still add them through `params`.

mod models;
mod parse;

pub use models::MODELS;
pub use parse::parse_response;

use super::edit;
use super::table::any_params;
use super::{merge_params, ratio_for, warning, BuiltRequest, Capabilities, ProviderSpec, SizeRule};
use crate::geometry::Ratio;
use crate::http::{HttpRequest, Method};
use crate::model::{OutputFormat, ProviderName, WarningCode};
use crate::request::{ChainEntry, ImageRequest};
use crate::secret::Secret;
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
    prices: crate::providers::prices::GEMINI,
    response_headers: &[],
    capabilities: |entry| capabilities(&entry.model),
    check_params: any_params,
    build: build_request,
    parse: parse_response,
    key_check: Some(validate_key_request),
};

/// The default model.
pub const DEFAULT_MODEL: &str = "gemini-nano-banana-2.1";

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
        // Up to 14 references on 3.x models; 2.5 "works best with up to 3".
        inputs: edit::gemini(if model.starts_with("gemini-2.5") { 3 } else { 14 }),
        // Gemini's stream sends each image whole: no previews (P2.3.6).
        previews: false,
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
    // An edit keeps its input's shape unless the caller asked for another.
    let keep_input_shape =
        req.inputs.is_some() && req.aspect_ratio.is_none() && req.size.is_none();
    if !keep_input_shape {
        image_config.insert("aspectRatio".into(), json!(ratio.to_string()));
    }
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

    let body = request_body(req, entry, generation_config);
    BuiltRequest {
        request: http_request(req, entry, body),
        warnings,
        stream: false,
    }
}

/// The body: the prompt, the generation config, default safety settings,
/// the entry's `params` merged in.
fn request_body(req: &ImageRequest, entry: &ChainEntry, generation_config: Map<String, Value>) -> Value {
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
    Value::Object(body)
}

fn http_request(req: &ImageRequest, entry: &ChainEntry, body: Value) -> HttpRequest {
    let request = HttpRequest::new(
        Method::Post,
        format!(
            "{}/v1beta/models/{}:generateContent",
            entry.base_url, entry.model
        ),
    )
    .secret_header("x-goog-api-key", entry.api_key.expose())
    .header("content-type", "application/json");
    match &req.inputs {
        // The images' base64 is spliced into the JSON text by the transport.
        Some(inputs) => request.payload(edit::gemini_payload(body, inputs), inputs.data()),
        None => request.body(body.to_string().into_bytes()),
    }
}

/// The free request that proves a key works.
pub fn validate_key_request(key: &Secret, base_url: &str) -> HttpRequest {
    HttpRequest::new(Method::Get, format!("{base_url}/v1beta/models?pageSize=50"))
        .secret_header("x-goog-api-key", key.expose())
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
