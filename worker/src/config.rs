//! Per-user configuration: the provider chain (primary first, then
//! fallbacks: the original design's `fallback_provider_id` generalised) and
//! default request options. Validated on write.

use crate::error::ApiError;
use imagegen::model::ProviderConfig;
use imagegen::request::{Defaults as EngineDefaults, FieldNames, RequestInput};
use imagegen::{OutputFormat, ProviderName};
use serde::{Deserialize, Serialize};

/// Most providers in a chain.
pub const MAX_CHAIN: usize = 4;

/// Shortest per-attempt timeout a user may configure. Image models take
/// seconds; a shorter timeout only turns every call into a failed, billed
/// attempt and a retry.
pub const MIN_TIMEOUT_MS: u64 = 10_000;

/// One provider of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChainItem {
    /// Provider.
    pub provider: ProviderName,
    /// Model id (the provider's default when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// Default options applied to generation requests that do not set them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Defaults {
    /// Images per request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// `"WxH"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// `"W:H"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aspect_ratio: Option<String>,
    /// Image format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_format: Option<OutputFormat>,
    /// OpenAI quality (`low`, `medium`, `high`, `auto`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<String>,
    /// Negative prompt for providers that take one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative_prompt: Option<String>,
    /// Attempts per provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// Per-attempt timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// `"b64_json"` or `"url"` (links to the images in R2); a request's
    /// `response_format` wins. Streams always carry `b64_json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<crate::images::ResponseFormat>,
}

/// A user's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserConfig {
    /// Primary first, then fallbacks.
    pub providers: Vec<ChainItem>,
    /// Defaults for generation requests.
    #[serde(default)]
    pub defaults: Defaults,
    /// The user's monthly budget in USD; replaces the deployment's
    /// `MONTHLY_BUDGET_USD` (absent: that default applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_budget_usd: Option<f64>,
}

impl Defaults {
    /// These defaults as the engine applies them ([`EngineDefaults::apply`]
    /// is the one place defaults fill a request). The per-attempt timeout
    /// is held to [`MIN_TIMEOUT_MS`] (configs stored before the minimum
    /// existed are held to it too). `quality` is OpenAI's alone: the images
    /// endpoint applies it to OpenAI's options.
    pub fn for_engine(&self) -> EngineDefaults {
        EngineDefaults {
            count: self.n,
            size: self.size.clone(),
            aspect_ratio: self.aspect_ratio.clone(),
            output_format: self.output_format,
            negative_prompt: self.negative_prompt.clone(),
            max_attempts: self.max_attempts,
            timeout_ms: self.timeout_ms.map(|t| t.max(MIN_TIMEOUT_MS)),
        }
    }
}

impl UserConfig {
    /// The model configured for `provider`, if any.
    pub fn model_for(&self, provider: ProviderName) -> Option<&str> {
        self.providers
            .iter()
            .find(|p| p.provider == provider)
            .and_then(|p| p.model.as_deref())
    }
}

/// Parses and validates a `PUT /v1/config` body.
pub fn parse(body: &[u8]) -> Result<UserConfig, ApiError> {
    let budget_error = || {
        ApiError::invalid(
            "monthlyBudgetUsd",
            "`monthlyBudgetUsd` must be a number of USD, 0 or more",
        )
    };
    let config: UserConfig = serde_json::from_slice(body).map_err(|e| {
        let budget_at_fault = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("monthlyBudgetUsd").map(|b| !b.is_number() && !b.is_null()))
            .unwrap_or(false);
        if budget_at_fault {
            return budget_error();
        }
        ApiError::invalid(
            "providers",
            format!("config must be {{\"providers\":[{{\"provider\",\"model\"?}}],\"defaults\"?:{{...}}}}: {e}"),
        )
    })?;
    if config.providers.is_empty() || config.providers.len() > MAX_CHAIN {
        return Err(ApiError::invalid(
            "providers",
            format!("`providers` must list 1 to {MAX_CHAIN} providers, primary first"),
        ));
    }
    for (i, item) in config.providers.iter().enumerate() {
        if config.providers[..i]
            .iter()
            .any(|p| p.provider == item.provider)
        {
            return Err(ApiError::invalid(
                &format!("providers[{i}].provider"),
                format!("{} is listed twice", item.provider),
            ));
        }
    }
    if config
        .defaults
        .timeout_ms
        .is_some_and(|t| t < MIN_TIMEOUT_MS)
    {
        return Err(ApiError::invalid(
            "defaults.timeoutMs",
            format!("`defaults.timeoutMs` must be at least {MIN_TIMEOUT_MS}"),
        ));
    }
    if config
        .monthly_budget_usd
        .is_some_and(|b| !crate::usage::budget::valid_budget(b))
    {
        return Err(budget_error());
    }
    check_with_library(&config)?;
    let d = &config.defaults;
    if let Some(q) = &d.quality {
        if !["low", "medium", "high", "auto", "xhigh", "max"].contains(&q.as_str()) {
            return Err(ApiError::invalid(
                "defaults.quality",
                "`defaults.quality` must be low, medium, high or auto",
            ));
        }
    }
    Ok(config)
}

fn chain_field(index: usize, name: &str) -> String {
    format!("providers[{index}].{name}")
}

/// This document's names for the request fields the library checks.
const NAMES: FieldNames = FieldNames {
    prompt: "defaults.prompt",
    count: "defaults.n",
    size: "defaults.size",
    aspect_ratio: "defaults.aspectRatio",
    seed: "defaults.seed",
    negative_prompt: "defaults.negativePrompt",
    providers: "providers",
    max_attempts: "defaults.maxAttempts",
    base_delay_ms: "defaults.baseDelayMs",
    max_delay_ms: "defaults.maxDelayMs",
    max_retry_after_ms: "defaults.maxRetryAfterMs",
    fallback_on: "defaults.fallbackOn",
    timeout_ms: "defaults.timeoutMs",
    deadline_ms: "defaults.deadlineMs",
    concurrency: "defaults.concurrency",
    entry: chain_field,
};

/// The library's checks of the models and defaults, through a request with
/// a placeholder prompt; errors name this document's fields. The library
/// checks a chain entry only with a key, so each gets a placeholder one
/// (never stored or sent).
fn check_with_library(config: &UserConfig) -> Result<(), ApiError> {
    let mut probe = RequestInput {
        prompt: Some("config check".into()),
        providers: Some(
            config
                .providers
                .iter()
                .map(|p| ProviderConfig {
                    provider: Some(p.provider),
                    api_key: Some(imagegen::Secret::new("config-check")),
                    model: p.model.clone(),
                    base_url: None,
                    params: None,
                })
                .collect(),
        ),
        ..Default::default()
    };
    // Checked as stored: the minimum timeout is checked by `parse`.
    EngineDefaults {
        timeout_ms: config.defaults.timeout_ms,
        ..config.defaults.for_engine()
    }
    .apply(&mut probe);
    probe
        .build(&NAMES)
        .map_err(|e| ApiError::invalid(e.param.as_deref().unwrap_or("config"), e.message))?;
    Ok(())
}

/// The error for a request or config naming `mock` where the deployment
/// has not enabled it (`ENABLE_MOCK_PROVIDER`).
pub fn mock_disabled(param: &str) -> ApiError {
    ApiError::invalid(
        param,
        "the mock provider is not enabled on this deployment (ENABLE_MOCK_PROVIDER)",
    )
}

/// Refuses a config that lists `mock` when it is not enabled.
pub fn check_mock_allowed(config: &UserConfig, mock_enabled: bool) -> Result<(), ApiError> {
    match config
        .providers
        .iter()
        .position(|p| p.provider == ProviderName::Mock)
    {
        Some(i) if !mock_enabled => Err(mock_disabled(&format!("providers[{i}].provider"))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(body: &str) -> String {
        parse(body.as_bytes())
            .unwrap_err()
            .param
            .map(String::from)
            .unwrap_or_default()
    }

    #[test]
    fn accepts_a_chain_with_defaults() {
        let c = parse(
            br#"{"providers":[{"provider":"openai","model":"gpt-image-1"},{"provider":"gemini"},{"provider":"mock"}],
                 "defaults":{"n":2,"size":"1024x1024","outputFormat":"webp","quality":"high"}}"#,
        )
        .unwrap();
        assert_eq!(c.providers.len(), 3);
        assert_eq!(c.model_for(ProviderName::Openai), Some("gpt-image-1"));
        assert_eq!(c.model_for(ProviderName::Gemini), None);
        let round: UserConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(round, c);
    }

    #[test]
    fn a_monthly_budget_is_a_number_of_usd() {
        let c = parse(br#"{"providers":[{"provider":"openai"}],"monthlyBudgetUsd":12.5}"#).unwrap();
        assert_eq!(c.monthly_budget_usd, Some(12.5));
        let c = parse(br#"{"providers":[{"provider":"openai"}],"monthlyBudgetUsd":null}"#).unwrap();
        assert_eq!(c.monthly_budget_usd, None);
        for bad in ["-0.01", "\"5\"", "true", "{}"] {
            let body =
                format!(r#"{{"providers":[{{"provider":"openai"}}],"monthlyBudgetUsd":{bad}}}"#);
            assert_eq!(param(&body), "monthlyBudgetUsd", "{bad}");
        }
    }

    #[test]
    fn rejects_bad_configs_naming_the_field() {
        assert_eq!(param(r#"{"providers":[]}"#), "providers");
        assert_eq!(
            param(r#"{"providers":[{"provider":"dalle"}]}"#),
            "providers"
        );
        assert_eq!(
            param(r#"{"providers":[{"provider":"openai"},{"provider":"openai"}]}"#),
            "providers[1].provider"
        );
        assert_eq!(
            param(r#"{"providers":[{"provider":"openai","model":"a/b"}]}"#),
            "providers[0].model"
        );
        assert_eq!(
            param(r#"{"providers":[{"provider":"mock"}],"defaults":{"n":11}}"#),
            "defaults.n"
        );
        assert_eq!(
            param(r#"{"providers":[{"provider":"mock"}],"defaults":{"size":"big"}}"#),
            "defaults.size"
        );
        assert_eq!(
            param(r#"{"providers":[{"provider":"mock"}],"defaults":{"quality":"ultra"}}"#),
            "defaults.quality"
        );
        assert_eq!(
            param(r#"{"providers":[{"provider":"mock"}],"defaults":{"maxAttempts":0}}"#),
            "defaults.maxAttempts"
        );
        assert_eq!(param("[1,2]"), "providers");
        let five = r#"{"providers":[{"provider":"mock"},{"provider":"openai"},{"provider":"gemini"},{"provider":"stability"},{"provider":"mock"}]}"#;
        assert_eq!(param(five), "providers");
    }

    #[test]
    fn timeouts_below_the_minimum_are_refused() {
        assert_eq!(
            param(
                r#"{"providers":[{"provider":"openai"}],"defaults":{"timeoutMs":1,"maxAttempts":10}}"#
            ),
            "defaults.timeoutMs"
        );
        assert_eq!(
            param(r#"{"providers":[{"provider":"openai"}],"defaults":{"timeoutMs":9999}}"#),
            "defaults.timeoutMs"
        );
        assert!(
            parse(br#"{"providers":[{"provider":"openai"}],"defaults":{"timeoutMs":10000}}"#)
                .is_ok()
        );
    }

    #[test]
    fn mock_only_where_enabled() {
        let c = parse(br#"{"providers":[{"provider":"openai"},{"provider":"mock"}]}"#).unwrap();
        assert!(check_mock_allowed(&c, true).is_ok());
        let e = check_mock_allowed(&c, false).unwrap_err();
        assert_eq!(
            (e.status, e.param.as_deref()),
            (400, Some("providers[1].provider"))
        );
        let c = parse(br#"{"providers":[{"provider":"openai"}]}"#).unwrap();
        assert!(check_mock_allowed(&c, false).is_ok());
    }
}
