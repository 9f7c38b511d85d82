//! Model routing: which providers, in which order, a request runs on.

use crate::config::UserConfig;
use crate::error::ApiError;
use imagegen::ProviderName;

/// Which provider(s) a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelChoice {
    /// The user's configured chain.
    Auto,
    /// This provider first (with this model, if given), then the rest of the chain.
    Provider(ProviderName, Option<String>),
}

/// Reads `model`: `auto`, `<provider>`, `<provider>/<model id>`, or a bare
/// model id of a family the provider table claims (`gpt-image-1` → OpenAI,
/// `gemini-…` → Gemini; `sd3…`/`core`/`ultra` are Stability's only with the
/// `stability/` prefix).
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
                    "unknown provider {p:?} in `model`; expected {}",
                    imagegen::providers::table::names_for_message()
                ),
            )
        })?;
        if m.is_empty() {
            return Ok(ModelChoice::Provider(provider, None));
        }
        return Ok(ModelChoice::Provider(provider, Some(m.to_string())));
    }
    if let Some(p) = ProviderName::for_model(model) {
        return Ok(ModelChoice::Provider(p, Some(model.to_string())));
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
/// providers have a stored key (providers that take no key, `mock`, need
/// none).
pub fn build_chain(
    choice: &ModelChoice,
    config: Option<&UserConfig>,
    has_key: impl Fn(ProviderName) -> bool,
) -> Result<Vec<Step>, ApiError> {
    let usable = |p: ProviderName| !p.spec().needs_key || has_key(p);
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

/// The providers whose stored keys a request may need: the one named in
/// `model`, then the user's chain.
pub fn wanted(choice: &ModelChoice, config: Option<&UserConfig>) -> Vec<ProviderName> {
    let chain = config
        .iter()
        .flat_map(|c| c.providers.iter().map(|i| i.provider));
    match choice {
        ModelChoice::Provider(p, _) => std::iter::once(*p).chain(chain).collect(),
        ModelChoice::Auto => chain.collect(),
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
            monthly_budget_usd: None,
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
}
