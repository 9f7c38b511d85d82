//! The request: the OpenAI-compatible body (with the user's defaults)
//! turned into the engine's request, and the chain into its providers.

use super::format::{self, ResponseFormat};
use super::routing::{parse_model, ModelChoice, Step};
use super::stream::{stream_options, StreamOptions};
use crate::error::ApiError;
use imagegen::model::{ProviderConfig, Warning, WarningCode};
use imagegen::request::{FieldNames, Number, RequestInput, ValidRequest};
use imagegen::{OutputFormat, ProviderName, Secret};
use serde_json::{Map, Value};

/// A parsed generation request: the library request (without providers)
/// and the routing and OpenAI-only options.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The engine's request, defaults applied; `providers` is filled in
    /// by [`build`].
    pub request: RequestInput,
    /// Which providers.
    pub choice: ModelChoice,
    /// Fields only OpenAI takes (`quality`, `background`, `user`, `moderation`).
    pub openai_params: Map<String, Value>,
    /// `stream` (with `partial_images`, `imagegen_progress`): answer as
    /// server-sent events.
    pub stream: Option<StreamOptions>,
    /// Images inline or as links: the request's, else the user's default.
    pub response_format: ResponseFormat,
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

fn output_format(format: Option<&str>) -> Result<Option<OutputFormat>, ApiError> {
    match format {
        None => Ok(None),
        Some("png") => Ok(Some(OutputFormat::Png)),
        Some("jpeg") | Some("jpg") => Ok(Some(OutputFormat::Jpeg)),
        Some("webp") => Ok(Some(OutputFormat::Webp)),
        Some(other) => Err(ApiError::invalid(
            "output_format",
            format!("output_format {other:?} is not png, jpeg or webp"),
        )),
    }
}

/// Fields only OpenAI takes, forwarded to OpenAI entries on generations.
pub const GENERATION_OPENAI_FIELDS: &[&str] = &["quality", "background", "user", "moderation"];

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
    parse_fields(&obj, defaults, GENERATION_OPENAI_FIELDS)
}

/// The one mapping of request fields to the library request (generations'
/// JSON body, edits' form fields): `openai_fields` are the fields passed
/// to OpenAI entries only.
pub fn parse_fields(
    obj: &Map<String, Value>,
    defaults: Option<&crate::config::Defaults>,
    openai_fields: &[&str],
) -> Result<Parsed, ApiError> {
    let prompt = match obj.get("prompt") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => {
            return Err(ApiError::invalid("prompt", "`prompt` is required"))
        }
        Some(_) => return Err(ApiError::invalid("prompt", "`prompt` must be a string")),
    };
    let choice = parse_model(string_field(obj, "model")?.as_deref())?;
    let requested_format = format::parse(string_field(obj, "response_format")?.as_deref())?;
    let output_format = output_format(string_field(obj, "output_format")?.as_deref())?;
    let size = string_field(obj, "size")?.filter(|s| s != "auto");
    let stream = stream_options(obj)?;
    let response_format = format::resolve(
        requested_format,
        defaults.and_then(|d| d.response_format),
        stream.is_some(),
    )?;
    let mut openai_params = Map::new();
    for name in openai_fields {
        if let Some(v) = string_field(obj, name)? {
            openai_params.insert(name.to_string(), Value::String(v));
        }
    }
    let mut request = RequestInput {
        prompt: Some(prompt),
        count: number_field(obj, "n")?.map(Number),
        size,
        aspect_ratio: string_field(obj, "aspect_ratio")?,
        seed: number_field(obj, "seed")?.map(Number),
        negative_prompt: string_field(obj, "negative_prompt")?,
        output_format,
        max_cost_usd: max_cost(obj)?,
        ..Default::default()
    };
    // Previews cost output tokens: only asked for when they can be seen.
    if let Some(s) = stream.filter(|s| s.partial_images > 0) {
        request.partial_images = Some(Number(f64::from(s.partial_images)));
    }
    if let Some(d) = defaults {
        if let Some(q) = &d.quality {
            openai_params
                .entry("quality")
                .or_insert(Value::String(q.clone()));
        }
        d.for_engine().apply(&mut request);
    }
    Ok(Parsed {
        request,
        choice,
        openai_params,
        stream,
        response_format,
    })
}

/// Fields whose values are numbers (form fields arrive as text).
pub const NUMBER_FIELDS: &[&str] = &["n", "seed"];

fn chain_field(_index: usize, _name: &str) -> String {
    "model".to_string()
}

/// This endpoint's names for the fields the engine checks: snake_case, and
/// the chain is what `model` chose (with the user's config).
pub const NAMES: FieldNames = FieldNames {
    count: "n",
    aspect_ratio: "aspect_ratio",
    negative_prompt: "negative_prompt",
    providers: "model",
    entry: chain_field,
    ..FieldNames::JS
};

/// The engine's checked request: `request` with its chain.
pub fn build(
    mut request: RequestInput,
    providers: Vec<ProviderConfig>,
) -> Result<ValidRequest, ApiError> {
    request.providers = Some(providers);
    request
        .build(&NAMES)
        .map_err(|e| ApiError::invalid(e.param.as_deref().unwrap_or("body"), e.message))
}

/// The engine's providers for a chain: each with its stored key and its
/// origin (`base_url`: the provider's own, or the deployment's development
/// override; never a caller's URL), the OpenAI-only options for OpenAI, and
/// a warning for each other provider when there are such options.
pub fn providers(
    chain: Vec<Step>,
    secrets: &[(ProviderName, Secret)],
    openai_params: &Map<String, Value>,
    base_url: impl Fn(ProviderName) -> Result<String, ApiError>,
) -> Result<(Vec<ProviderConfig>, Vec<Warning>), ApiError> {
    let mut providers = Vec::with_capacity(chain.len());
    let mut warnings = Vec::new();
    for (p, model) in chain {
        let api_key = secrets
            .iter()
            .find(|(q, _)| *q == p)
            .map(|(_, s)| s.clone());
        let params = (p == ProviderName::Openai && !openai_params.is_empty())
            .then(|| Value::Object(openai_params.clone()));
        if p != ProviderName::Openai && !openai_params.is_empty() {
            warnings.push(Warning {
                provider: p,
                code: WarningCode::UnsupportedOption,
                message: format!(
                    "{} apply to OpenAI only",
                    openai_params.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            });
        }
        providers.push(ProviderConfig {
            provider: Some(p),
            api_key,
            model,
            base_url: Some(base_url(p)?).filter(|_| p.spec().needs_key),
            params,
        });
    }
    Ok((providers, warnings))
}

/// The `max_cost_usd` extension: most the call may cost, in USD.
fn max_cost(obj: &Map<String, Value>) -> Result<Option<f64>, ApiError> {
    let cap = number_field(obj, "max_cost_usd")?;
    match cap {
        Some(c) if !(c.is_finite() && c >= 0.0) => Err(ApiError::invalid(
            "max_cost_usd",
            "`max_cost_usd` must be a number of USD, 0 or more",
        )),
        _ => Ok(cap),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Defaults;
    use crate::images::check_mock_allowed;

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
        assert_eq!(p.request.count, Some(Number(3.0)));
        assert_eq!(
            p.request.size.as_deref(),
            Some("1024x1536"),
            "size auto → the default"
        );
        assert_eq!(p.request.aspect_ratio.as_deref(), Some("16:9"));
        assert_eq!(p.request.seed, Some(Number(5.0)));
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
            err(r#"{"prompt":"x","response_format":"link"}"#),
            "response_format"
        );
        assert_eq!(
            err(r#"{"prompt":"x","response_format":"url","stream":true}"#),
            "response_format"
        );
        let links = Defaults {
            response_format: Some(ResponseFormat::Url),
            ..Default::default()
        };
        let p = parse_request(br#"{"prompt":"x"}"#, Some(&links)).unwrap();
        assert_eq!(p.response_format, ResponseFormat::Url, "the default");
        let p = parse_request(
            br#"{"prompt":"x","response_format":"b64_json"}"#,
            Some(&links),
        );
        assert_eq!(p.unwrap().response_format, ResponseFormat::B64Json);
        assert_eq!(
            err(r#"{"prompt":"x","output_format":"gif"}"#),
            "output_format"
        );
        let short = Defaults {
            timeout_ms: Some(1),
            ..Default::default()
        };
        let p = parse_request(br#"{"prompt":"x"}"#, Some(&short)).unwrap();
        assert_eq!(
            p.request.timeout_ms,
            Some(Number(10_000.0)),
            "stored configs too"
        );
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
    }

    #[test]
    fn engine_errors_name_this_endpoints_fields() {
        let mock = || ProviderConfig {
            provider: Some(ProviderName::Mock),
            ..Default::default()
        };
        let err = |body: &str, providers: Vec<ProviderConfig>| {
            let p = parse_request(body.as_bytes(), None).unwrap();
            let e = build(p.request, providers).unwrap_err();
            (e.param.map(String::from).unwrap_or_default(), e.message)
        };
        let (param, message) = err(r#"{"prompt":"x","n":11}"#, vec![mock()]);
        assert_eq!(param, "n");
        assert!(message.starts_with("`n` must be"), "{message}");
        let (param, message) = err(r#"{"prompt":"x","aspect_ratio":"wide"}"#, vec![mock()]);
        assert_eq!(param, "aspect_ratio");
        assert!(message.starts_with("`aspect_ratio`"), "{message}");
        let bad_model = ProviderConfig {
            model: Some("a/b".into()),
            ..mock()
        };
        assert_eq!(err(r#"{"prompt":"x"}"#, vec![bad_model]).0, "model");
        assert_eq!(err(r#"{"prompt":" "}"#, vec![mock()]).0, "prompt");
        let p = parse_request(br#"{"prompt":"x","n":2}"#, None).unwrap();
        assert_eq!(build(p.request, vec![mock()]).unwrap().image.count, 2);
    }
}
