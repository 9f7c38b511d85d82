//! The OpenAI-compatible `POST /v1/images/generations`: request parsing,
//! model routing over the user's chain, and the response shape (OpenAI's,
//! plus `attempts`, `warnings` and `errors`, all snake_case).

use crate::api::ApiError;
use crate::config::UserConfig;
use imagegen::model::{Attempt, ErrorInfo, GenerateResult, Outcome, Warning};
use imagegen::{ErrorCode, GenerateRequest, ImageData, OutputFormat, ProviderName};
use serde::Serialize;
use serde_json::{Map, Value};

/// Which provider(s) a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelChoice {
    /// The user's configured chain.
    Auto,
    /// This provider first (with this model, if given), then the rest of the chain.
    Provider(ProviderName, Option<String>),
}

/// Reads `model`: `auto`, `<provider>`, `<provider>/<model id>`, or a bare
/// model id of a known family (`gpt-image-1` → OpenAI, `gemini-…` → Gemini,
/// `sd3…`/`core`/`ultra` are Stability's only with the `stability/` prefix).
pub fn parse_model(model: Option<&str>) -> Result<ModelChoice, ApiError> {
    let Some(model) = model.map(str::trim).filter(|m| !m.is_empty()) else {
        return Ok(ModelChoice::Auto);
    };
    if model == "auto" {
        return Ok(ModelChoice::Auto);
    }
    if let Some(p) = ProviderName::parse(model) {
        return Ok(ModelChoice::Provider(p, None));
    }
    if let Some((p, m)) = model.split_once('/') {
        let provider = ProviderName::parse(p).ok_or_else(|| {
            ApiError::invalid(
                "model",
                format!(
                    "unknown provider {p:?} in `model`; expected openai, gemini, stability or mock"
                ),
            )
        })?;
        if m.is_empty() {
            return Ok(ModelChoice::Provider(provider, None));
        }
        return Ok(ModelChoice::Provider(provider, Some(m.to_string())));
    }
    if model.starts_with("gpt-image")
        || model.starts_with("dall-e")
        || model.starts_with("chatgpt-image")
    {
        return Ok(ModelChoice::Provider(
            ProviderName::Openai,
            Some(model.to_string()),
        ));
    }
    if model.starts_with("gemini-") {
        return Ok(ModelChoice::Provider(
            ProviderName::Gemini,
            Some(model.to_string()),
        ));
    }
    Err(ApiError::invalid(
        "model",
        format!("unknown model {model:?}; use \"auto\", a provider (\"gemini\") or \"<provider>/<model id>\""),
    ))
}

/// Refuses a request naming `mock` when the deployment has not enabled it.
pub fn check_mock_allowed(choice: &ModelChoice, mock_enabled: bool) -> Result<(), ApiError> {
    match choice {
        ModelChoice::Provider(ProviderName::Mock, _) if !mock_enabled => {
            Err(crate::config::mock_disabled("model"))
        }
        _ => Ok(()),
    }
}

/// A chain entry to run: provider and model (None = provider default).
pub type Step = (ProviderName, Option<String>);

/// The chain for a request, from the choice, the user's config and which
/// providers have a stored key. `mock` needs none.
pub fn build_chain(
    choice: &ModelChoice,
    config: Option<&UserConfig>,
    has_key: impl Fn(ProviderName) -> bool,
) -> Result<Vec<Step>, ApiError> {
    let usable = |p: ProviderName| p == ProviderName::Mock || has_key(p);
    let configured: Vec<Step> = config
        .map(|c| {
            c.providers
                .iter()
                .filter(|i| usable(i.provider))
                .map(|i| (i.provider, i.model.clone()))
                .collect()
        })
        .unwrap_or_default();
    match choice {
        ModelChoice::Auto => {
            if configured.is_empty() {
                return Err(ApiError::new(
                    409,
                    "no_provider_configured",
                    "no provider is configured: store a key (PUT /v1/keys/{provider}) and a chain (PUT /v1/config), or name a provider in `model`",
                ));
            }
            Ok(configured)
        }
        ModelChoice::Provider(p, model) => {
            if !usable(*p) {
                return Err(ApiError::new(
                    409,
                    "no_provider_configured",
                    format!("no API key is stored for {p}: PUT /v1/keys/{p} first"),
                ));
            }
            let model = model
                .clone()
                .or_else(|| config.and_then(|c| c.model_for(*p)).map(str::to_string));
            let mut chain = vec![(*p, model)];
            chain.extend(configured.into_iter().filter(|(q, _)| q != p));
            Ok(chain)
        }
    }
}

/// A parsed generation request: the library request (without providers)
/// and the routing and OpenAI-only options.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The library request; `providers` is filled in later.
    pub request: GenerateRequest,
    /// Which providers.
    pub choice: ModelChoice,
    /// Fields only OpenAI takes (`quality`, `background`, `user`, `moderation`).
    pub openai_params: Map<String, Value>,
}

fn string_field(obj: &Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::invalid(
            name,
            format!("`{name}` must be a string"),
        )),
    }
}

fn number_field(obj: &Map<String, Value>, name: &str) -> Result<Option<f64>, ApiError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err(ApiError::invalid(
            name,
            format!("`{name}` must be a number"),
        )),
    }
}

/// Parses the body of `POST /v1/images/generations`, applying the user's
/// defaults. Field checks that the library does (prompt, n, size, …) are
/// left to it; their errors name the snake_case field.
pub fn parse_request(
    body: &[u8],
    defaults: Option<&crate::config::Defaults>,
) -> Result<Parsed, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid("body", format!("request body is not valid JSON: {e}")))?;
    let Value::Object(obj) = value else {
        return Err(ApiError::invalid(
            "body",
            "request body must be a JSON object",
        ));
    };
    let prompt = match obj.get("prompt") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => {
            return Err(ApiError::invalid("prompt", "`prompt` is required"))
        }
        Some(_) => return Err(ApiError::invalid("prompt", "`prompt` must be a string")),
    };
    let choice = parse_model(string_field(&obj, "model")?.as_deref())?;
    match string_field(&obj, "response_format")?.as_deref() {
        None | Some("b64_json") => {}
        Some(other) => {
            return Err(ApiError::invalid(
                "response_format",
                format!(
                    "response_format {other:?} is not supported; images are returned as b64_json"
                ),
            ))
        }
    }
    let output_format = match string_field(&obj, "output_format")?.as_deref() {
        None => None,
        Some("png") => Some(OutputFormat::Png),
        Some("jpeg") | Some("jpg") => Some(OutputFormat::Jpeg),
        Some("webp") => Some(OutputFormat::Webp),
        Some(other) => {
            return Err(ApiError::invalid(
                "output_format",
                format!("output_format {other:?} is not png, jpeg or webp"),
            ))
        }
    };
    let size = string_field(&obj, "size")?.filter(|s| s != "auto");
    let mut openai_params = Map::new();
    for name in ["quality", "background", "user", "moderation"] {
        if let Some(v) = string_field(&obj, name)? {
            openai_params.insert(name.to_string(), Value::String(v));
        }
    }
    let d = defaults.cloned().unwrap_or_default();
    if let Some(q) = d.quality {
        openai_params.entry("quality").or_insert(Value::String(q));
    }
    let request = GenerateRequest {
        prompt: Some(prompt),
        count: number_field(&obj, "n")?.or(d.n.map(f64::from)),
        size: size.or(d.size),
        aspect_ratio: string_field(&obj, "aspect_ratio")?.or(d.aspect_ratio),
        seed: number_field(&obj, "seed")?,
        negative_prompt: string_field(&obj, "negative_prompt")?.or(d.negative_prompt),
        output_format: output_format.or(d.output_format),
        // Configs stored before the minimum existed are held to it too.
        timeout_ms: d
            .timeout_ms
            .map(|t| t.max(crate::config::MIN_TIMEOUT_MS) as f64),
        retry: d.max_attempts.map(|n| imagegen::model::RetryOptions {
            max_attempts: Some(n),
            ..Default::default()
        }),
        ..Default::default()
    };
    Ok(Parsed {
        request,
        choice,
        openai_params,
    })
}

/// Maps the library's camelCase field names to this endpoint's snake_case.
pub fn snake_param(param: &str) -> String {
    match param {
        "count" => "n".into(),
        "aspectRatio" => "aspect_ratio".into(),
        "negativePrompt" => "negative_prompt".into(),
        "outputFormat" => "output_format".into(),
        p if p.starts_with("providers") => "model".into(),
        p => p.to_string(),
    }
}

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
    let output_format = same
        .and_then(|m| m.strip_prefix("image/"))
        .map(|f| match f {
            "svg+xml" => "svg".to_string(),
            other => other.to_string(),
        });
    let mut warnings = extra_warnings;
    warnings.extend(result.warnings);
    ImagesResponse {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ChainItem, Defaults};

    fn config(items: &[(ProviderName, Option<&str>)]) -> UserConfig {
        UserConfig {
            providers: items
                .iter()
                .map(|(p, m)| ChainItem {
                    provider: *p,
                    model: m.map(str::to_string),
                })
                .collect(),
            defaults: Defaults::default(),
        }
    }

    #[test]
    fn model_routing() {
        use ModelChoice::*;
        use ProviderName::*;
        assert_eq!(parse_model(None), Ok(Auto));
        assert_eq!(parse_model(Some("auto")), Ok(Auto));
        assert_eq!(parse_model(Some("gemini")), Ok(Provider(Gemini, None)));
        assert_eq!(
            parse_model(Some("gemini/gemini-3-pro-image")),
            Ok(Provider(Gemini, Some("gemini-3-pro-image".into())))
        );
        assert_eq!(
            parse_model(Some("stability/sd3.5-large")),
            Ok(Provider(Stability, Some("sd3.5-large".into())))
        );
        assert_eq!(
            parse_model(Some("gpt-image-1")),
            Ok(Provider(Openai, Some("gpt-image-1".into())))
        );
        assert_eq!(
            parse_model(Some("nope")).unwrap_err().param.as_deref(),
            Some("model")
        );
        assert_eq!(
            parse_model(Some("dalle/x")).unwrap_err().param.as_deref(),
            Some("model")
        );
    }

    #[test]
    fn chains() {
        use ProviderName::*;
        let cfg = config(&[
            (Openai, Some("gpt-image-1.5")),
            (Gemini, None),
            (Stability, None),
        ]);
        let keys = |p: ProviderName| matches!(p, Openai | Gemini);
        // Auto: the configured chain, minus providers without keys.
        assert_eq!(
            build_chain(&ModelChoice::Auto, Some(&cfg), keys).unwrap(),
            vec![(Openai, Some("gpt-image-1.5".into())), (Gemini, None)]
        );
        // A named provider goes first, keeping its configured model.
        assert_eq!(
            build_chain(&ModelChoice::Provider(Gemini, None), Some(&cfg), keys).unwrap(),
            vec![(Gemini, None), (Openai, Some("gpt-image-1.5".into()))]
        );
        assert_eq!(
            build_chain(&ModelChoice::Provider(Openai, None), Some(&cfg), keys).unwrap()[0],
            (Openai, Some("gpt-image-1.5".into()))
        );
        // Outside the chain: only with a key, or mock.
        assert_eq!(
            build_chain(&ModelChoice::Provider(Stability, None), Some(&cfg), keys)
                .unwrap_err()
                .status,
            409
        );
        assert_eq!(
            build_chain(&ModelChoice::Provider(Mock, None), None, |_| false).unwrap(),
            vec![(Mock, None)]
        );
        assert_eq!(
            build_chain(&ModelChoice::Auto, None, |_| true)
                .unwrap_err()
                .code,
            "no_provider_configured"
        );
        assert_eq!(
            build_chain(&ModelChoice::Auto, Some(&cfg), |_| false)
                .unwrap_err()
                .status,
            409
        );
    }

    #[test]
    fn request_parsing_and_defaults() {
        let d = Defaults {
            n: Some(3),
            quality: Some("high".into()),
            size: Some("1024x1536".into()),
            ..Default::default()
        };
        let p = parse_request(
            br#"{"prompt":"a fox","model":"openai","size":"auto","background":"transparent","aspect_ratio":"16:9","seed":5,"unknown":1}"#,
            Some(&d),
        )
        .unwrap();
        assert_eq!(p.request.prompt.as_deref(), Some("a fox"));
        assert_eq!(p.request.count, Some(3.0));
        assert_eq!(
            p.request.size.as_deref(),
            Some("1024x1536"),
            "size auto → the default"
        );
        assert_eq!(p.request.aspect_ratio.as_deref(), Some("16:9"));
        assert_eq!(p.request.seed, Some(5.0));
        assert_eq!(p.openai_params["quality"], "high");
        assert_eq!(p.openai_params["background"], "transparent");
        let err = |body: &str| {
            parse_request(body.as_bytes(), None)
                .unwrap_err()
                .param
                .map(String::from)
                .unwrap_or_default()
        };
        assert_eq!(err(r#"{"n":2}"#), "prompt");
        assert_eq!(err(r#"{"prompt":1}"#), "prompt");
        assert_eq!(err(r#"{"prompt":"x","n":"2"}"#), "n");
        assert_eq!(
            err(r#"{"prompt":"x","response_format":"url"}"#),
            "response_format"
        );
        assert_eq!(
            err(r#"{"prompt":"x","output_format":"gif"}"#),
            "output_format"
        );
        let short = Defaults {
            timeout_ms: Some(1),
            ..Default::default()
        };
        let p = parse_request(br#"{"prompt":"x"}"#, Some(&short)).unwrap();
        assert_eq!(p.request.timeout_ms, Some(10_000.0), "stored configs too");
        let mock = parse_request(br#"{"prompt":"x","model":"mock"}"#, None).unwrap();
        assert!(check_mock_allowed(&mock.choice, true).is_ok());
        assert_eq!(
            check_mock_allowed(&mock.choice, false)
                .unwrap_err()
                .param
                .as_deref(),
            Some("model")
        );
        assert_eq!(err("[]"), "body");
        assert_eq!(err("{"), "body");
        assert_eq!(snake_param("count"), "n");
        assert_eq!(snake_param("providers[0].model"), "model");
    }
}
