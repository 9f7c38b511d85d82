//! Checks a `GenerateRequest` before any network call and turns it into the
//! typed, defaulted form the engine works with. Every failure is an
//! `invalid_request` error naming the field at fault.

use crate::geometry::{Ratio, Size};
use crate::model::{Error, ErrorCode, GenerateRequest, OutputFormat, ProviderName};
use crate::secret::Secret;

/// Most images per `generateImages` call.
pub const MAX_COUNT: u32 = 10;
/// Longest prompt accepted (characters); providers enforce their own, lower limits.
pub const MAX_PROMPT_CHARS: usize = 100_000;
/// Longest chain of providers.
pub const MAX_PROVIDERS: usize = 10;
/// Highest seed every seed-taking provider accepts.
pub const MAX_SEED: u32 = 4_294_967_294;

/// Default attempts per provider.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// Default backoff base.
pub const DEFAULT_BASE_DELAY_MS: u64 = 1000;
/// Default backoff cap.
pub const DEFAULT_MAX_DELAY_MS: u64 = 20_000;
/// Default longest honoured Retry-After.
pub const DEFAULT_MAX_RETRY_AFTER_MS: u64 = 60_000;
/// Default per-attempt timeout: slow image models exceed 120 s.
pub const DEFAULT_TIMEOUT_MS: u64 = 180_000;
/// Default parallel provider calls.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// The provider-independent part of a request, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageRequest {
    /// Prompt, trimmed.
    pub prompt: String,
    /// Images wanted from this call.
    pub count: u32,
    /// Requested size.
    pub size: Option<Size>,
    /// Requested aspect ratio.
    pub aspect_ratio: Option<Ratio>,
    /// Requested seed.
    pub seed: Option<u32>,
    /// Negative prompt.
    pub negative_prompt: Option<String>,
    /// Requested format.
    pub output_format: Option<OutputFormat>,
}

/// One provider of the chain, with defaults filled in.
#[derive(Debug, Clone)]
pub struct ChainEntry {
    /// Provider.
    pub provider: ProviderName,
    /// Key (empty for `mock` without one).
    pub api_key: Secret,
    /// Model id.
    pub model: String,
    /// Origin without a trailing slash.
    pub base_url: String,
    /// Extra fields for the request body.
    pub params: serde_json::Map<String, serde_json::Value>,
}

/// Retry settings with defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySettings {
    /// Attempts per provider.
    pub max_attempts: u32,
    /// Backoff base.
    pub base_delay_ms: u64,
    /// Backoff cap.
    pub max_delay_ms: u64,
    /// Longest honoured server delay.
    pub max_retry_after_ms: u64,
}

impl Default for RetrySettings {
    fn default() -> Self {
        RetrySettings {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            base_delay_ms: DEFAULT_BASE_DELAY_MS,
            max_delay_ms: DEFAULT_MAX_DELAY_MS,
            max_retry_after_ms: DEFAULT_MAX_RETRY_AFTER_MS,
        }
    }
}

/// A fully validated `generateImages` call.
#[derive(Debug, Clone)]
pub struct ValidRequest {
    /// What to generate.
    pub image: ImageRequest,
    /// Providers, primary first.
    pub chain: Vec<ChainEntry>,
    /// Retry settings.
    pub retry: RetrySettings,
    /// Codes that move on to the next provider.
    pub fallback_on: Vec<ErrorCode>,
    /// Per-attempt timeout.
    pub timeout_ms: u64,
    /// Whole-call deadline.
    pub deadline_ms: Option<u64>,
    /// Parallel provider calls.
    pub concurrency: usize,
}

/// The default model of each provider.
pub fn default_model(provider: ProviderName) -> &'static str {
    match provider {
        ProviderName::Openai => crate::providers::openai::DEFAULT_MODEL,
        ProviderName::Gemini => crate::providers::gemini::DEFAULT_MODEL,
        ProviderName::Stability => crate::providers::stability::DEFAULT_MODEL,
        ProviderName::Mock => "mock-svg",
    }
}

/// The default origin of each provider.
pub fn default_base_url(provider: ProviderName) -> &'static str {
    match provider {
        ProviderName::Openai => "https://api.openai.com",
        ProviderName::Gemini => "https://generativelanguage.googleapis.com",
        ProviderName::Stability => "https://api.stability.ai",
        ProviderName::Mock => "mock:",
    }
}

/// The default set of codes that move on to the next provider.
pub fn default_fallback_on() -> Vec<ErrorCode> {
    ErrorCode::ALL
        .into_iter()
        .filter(|c| c.falls_back_by_default())
        .collect()
}

/// Describes a number without float formatting (which would add kilobytes of wasm).
pub fn describe_number(v: f64) -> String {
    if !v.is_finite() {
        "a non-finite number".to_string()
    } else if v.fract() != 0.0 {
        "a number with a fraction".to_string()
    } else if v.abs() < 1e15 {
        (v as i64).to_string()
    } else {
        "a huge number".to_string()
    }
}

fn whole_number(field: &str, v: f64, min: u64, max: u64) -> Result<u64, Error> {
    if !v.is_finite() || v.fract() != 0.0 || v < min as f64 || v > max as f64 {
        return Err(Error::invalid(
            field,
            format!(
                "`{field}` must be a whole number from {min} to {max}, got {}",
                describe_number(v)
            ),
        ));
    }
    Ok(v as u64)
}

/// Checks that `url` is an http(s) origin (scheme, host, optional port), and
/// returns it without a trailing slash. Credentials, paths, queries and
/// fragments are refused: keys must only go where the caller can see.
pub fn parse_origin(field: &str, url: &str) -> Result<String, Error> {
    let bad = |why: &str| Error::invalid(field, format!("`{field}` {why}"));
    let trimmed = url.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .ok_or_else(|| bad("must start with http:// or https://"))?;
    if rest.is_empty() {
        return Err(bad("has no host"));
    }
    if rest.contains('@') {
        return Err(bad("must not contain credentials"));
    }
    if rest.contains(['/', '?', '#', '\\']) {
        return Err(bad(
            "must be an origin only (scheme, host, port); the API paths are added by the library",
        ));
    }
    if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("contains whitespace"));
    }
    Ok(trimmed.to_string())
}

/// Validates a request and fills in defaults.
pub fn validate(req: &GenerateRequest) -> Result<ValidRequest, Error> {
    let prompt = req
        .prompt
        .as_deref()
        .ok_or_else(|| Error::invalid("prompt", "`prompt` is required"))?
        .trim();
    if prompt.is_empty() {
        return Err(Error::invalid("prompt", "`prompt` must not be empty"));
    }
    if prompt.chars().count() > MAX_PROMPT_CHARS {
        return Err(Error::invalid(
            "prompt",
            format!("`prompt` is longer than {MAX_PROMPT_CHARS} characters"),
        ));
    }
    let count = match req.count {
        None => 1,
        Some(c) => whole_number("count", c, 1, u64::from(MAX_COUNT))? as u32,
    };
    let size = match req.size.as_deref() {
        None => None,
        Some(s) => Some(Size::parse(s).ok_or_else(|| {
            Error::invalid(
                "size",
                format!("`size` must look like \"1024x1024\" (width x height), got {s:?}"),
            )
        })?),
    };
    let aspect_ratio = match req.aspect_ratio.as_deref() {
        None => None,
        Some(s) => Some(Ratio::parse(s).ok_or_else(|| {
            Error::invalid(
                "aspectRatio",
                format!("`aspectRatio` must look like \"16:9\", got {s:?}"),
            )
        })?),
    };
    let seed = match req.seed {
        None => None,
        Some(s) => Some(whole_number("seed", s, 0, u64::from(MAX_SEED))? as u32),
    };
    let negative_prompt = req
        .negative_prompt
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    if negative_prompt
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_PROMPT_CHARS)
    {
        return Err(Error::invalid(
            "negativePrompt",
            format!("`negativePrompt` is longer than {MAX_PROMPT_CHARS} characters"),
        ));
    }

    let providers = req
        .providers
        .as_ref()
        .ok_or_else(|| Error::invalid("providers", "`providers` is required (at least one)"))?;
    if providers.is_empty() {
        return Err(Error::invalid(
            "providers",
            "`providers` must list at least one provider",
        ));
    }
    if providers.len() > MAX_PROVIDERS {
        return Err(Error::invalid(
            "providers",
            format!("`providers` may list at most {MAX_PROVIDERS} providers"),
        ));
    }
    let mut chain = Vec::with_capacity(providers.len());
    for (i, p) in providers.iter().enumerate() {
        let field = |name: &str| format!("providers[{i}].{name}");
        let provider = p.provider.ok_or_else(|| {
            Error::invalid(
                &field("provider"),
                format!("`{}` is required", field("provider")),
            )
        })?;
        let api_key = match (&p.api_key, provider) {
            (Some(k), _) if !k.is_blank() => Secret::new(k.expose().trim()),
            (_, ProviderName::Mock) => Secret::default(),
            _ => {
                return Err(Error::invalid(
                    &field("apiKey"),
                    format!("`{}` is required for {provider}", field("apiKey")),
                ))
            }
        };
        let model = match p.model.as_deref().map(str::trim) {
            None => default_model(provider).to_string(),
            Some("") => {
                return Err(Error::invalid(
                    &field("model"),
                    format!("`{}` must not be empty", field("model")),
                ))
            }
            Some(m)
                if m.len() > 200
                    || !m
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) =>
            {
                return Err(Error::invalid(
                    &field("model"),
                    format!("`{}` is not a valid model id", field("model")),
                ))
            }
            Some(m) => m.to_string(),
        };
        let base_url = match p.base_url.as_deref() {
            None => default_base_url(provider).to_string(),
            Some(u) => parse_origin(&field("baseUrl"), u)?,
        };
        let params = match &p.params {
            None | Some(serde_json::Value::Null) => serde_json::Map::new(),
            Some(serde_json::Value::Object(m)) => m.clone(),
            Some(_) => {
                return Err(Error::invalid(
                    &field("params"),
                    format!("`{}` must be an object", field("params")),
                ))
            }
        };
        if provider == ProviderName::Mock {
            crate::providers::mock::MockSettings::from_params(&params, &field("params"))?;
        }
        chain.push(ChainEntry {
            provider,
            api_key,
            model,
            base_url,
            params,
        });
    }

    let mut retry = RetrySettings::default();
    if let Some(r) = &req.retry {
        if let Some(n) = r.max_attempts {
            if !(1..=10).contains(&n) {
                return Err(Error::invalid(
                    "retry.maxAttempts",
                    format!("`retry.maxAttempts` must be from 1 to 10, got {n}"),
                ));
            }
            retry.max_attempts = n;
        }
        const HOUR_MS: u64 = 3_600_000;
        for (name, value, slot) in [
            (
                "retry.baseDelayMs",
                r.base_delay_ms,
                &mut retry.base_delay_ms,
            ),
            ("retry.maxDelayMs", r.max_delay_ms, &mut retry.max_delay_ms),
            (
                "retry.maxRetryAfterMs",
                r.max_retry_after_ms,
                &mut retry.max_retry_after_ms,
            ),
        ] {
            if let Some(v) = value {
                if v > HOUR_MS {
                    return Err(Error::invalid(
                        name,
                        format!("`{name}` must be at most {HOUR_MS} ms"),
                    ));
                }
                *slot = v;
            }
        }
    }

    let fallback_on = match &req.fallback_on {
        None => default_fallback_on(),
        Some(codes) => {
            if codes.contains(&ErrorCode::Aborted) {
                return Err(Error::invalid(
                    "fallbackOn",
                    "`fallbackOn` may not contain \"aborted\"",
                ));
            }
            codes.clone()
        }
    };
    let timeout_ms = match req.timeout_ms {
        None => DEFAULT_TIMEOUT_MS,
        Some(t) => whole_number("timeoutMs", t, 1, 3_600_000)?,
    };
    let deadline_ms = match req.deadline_ms {
        None => None,
        Some(d) => Some(whole_number("deadlineMs", d, 1, 86_400_000)?),
    };
    let concurrency = match req.concurrency {
        None => DEFAULT_CONCURRENCY,
        Some(c) => whole_number("concurrency", c, 1, 32)? as usize,
    };

    Ok(ValidRequest {
        image: ImageRequest {
            prompt: prompt.to_string(),
            count,
            size,
            aspect_ratio,
            seed,
            negative_prompt,
            output_format: req.output_format,
        },
        chain,
        retry,
        fallback_on,
        timeout_ms,
        deadline_ms,
        concurrency,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProviderConfig;

    fn base() -> GenerateRequest {
        GenerateRequest {
            prompt: Some("a lighthouse".into()),
            providers: Some(vec![ProviderConfig {
                provider: Some(ProviderName::Mock),
                ..Default::default()
            }]),
            ..Default::default()
        }
    }

    fn param_of(req: GenerateRequest) -> String {
        let e = validate(&req).expect_err("should be invalid");
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(
            e.message.contains(e.param.as_deref().unwrap_or("?")),
            "{}",
            e.message
        );
        e.param.as_deref().unwrap_or_default().to_string()
    }

    #[test]
    fn defaults_are_filled_in() {
        let v = validate(&base()).unwrap();
        assert_eq!(v.image.count, 1);
        assert_eq!(v.retry, RetrySettings::default());
        assert_eq!(v.timeout_ms, 180_000);
        assert_eq!(v.concurrency, 4);
        assert_eq!(v.chain[0].model, "mock-svg");
        assert!(!v.fallback_on.contains(&ErrorCode::ContentPolicy));
        assert!(v.fallback_on.contains(&ErrorCode::Auth));
    }

    #[test]
    fn each_bad_field_is_named() {
        type Mutation = Box<dyn Fn(&mut GenerateRequest)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("prompt", Box::new(|r| r.prompt = Some("   ".into()))),
            ("prompt", Box::new(|r| r.prompt = None)),
            ("count", Box::new(|r| r.count = Some(0.0))),
            ("count", Box::new(|r| r.count = Some(11.0))),
            ("count", Box::new(|r| r.count = Some(1.5))),
            ("count", Box::new(|r| r.count = Some(f64::NAN))),
            ("size", Box::new(|r| r.size = Some("abc".into()))),
            (
                "aspectRatio",
                Box::new(|r| r.aspect_ratio = Some("wide".into())),
            ),
            ("seed", Box::new(|r| r.seed = Some(-1.0))),
            ("providers", Box::new(|r| r.providers = Some(vec![]))),
            ("providers", Box::new(|r| r.providers = None)),
            ("timeoutMs", Box::new(|r| r.timeout_ms = Some(0.0))),
            ("concurrency", Box::new(|r| r.concurrency = Some(0.0))),
            (
                "fallbackOn",
                Box::new(|r| r.fallback_on = Some(vec![ErrorCode::Aborted])),
            ),
            (
                "providers[0].apiKey",
                Box::new(|r| {
                    r.providers = Some(vec![ProviderConfig {
                        provider: Some(ProviderName::Openai),
                        ..Default::default()
                    }])
                }),
            ),
            (
                "providers[0].baseUrl",
                Box::new(|r| {
                    r.providers = Some(vec![ProviderConfig {
                        provider: Some(ProviderName::Mock),
                        base_url: Some("http://user:pw@127.0.0.1:1".into()),
                        ..Default::default()
                    }])
                }),
            ),
            (
                "providers[0].params",
                Box::new(|r| {
                    r.providers = Some(vec![ProviderConfig {
                        provider: Some(ProviderName::Mock),
                        params: Some(serde_json::json!([1])),
                        ..Default::default()
                    }])
                }),
            ),
        ];
        for (field, mutate) in cases {
            let mut r = base();
            mutate(&mut r);
            assert_eq!(param_of(r), field);
        }
    }

    #[test]
    fn origins() {
        assert_eq!(
            parse_origin("u", "http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert!(parse_origin("u", "ftp://x").is_err());
        assert!(parse_origin("u", "https://x/v1").is_err());
        assert!(parse_origin("u", "https://").is_err());
        assert!(parse_origin("u", "https://a b").is_err());
    }
}
