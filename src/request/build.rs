//! [`RequestInput::build`]: every check of a request, before any network
//! call. Every failure is an `invalid_request` error naming the field at
//! fault with the caller's [`FieldNames`].

use super::{
    default_fallback_on, ChainEntry, FieldNames, ImageRequest, Number, RequestInput, RetrySettings,
    ValidRequest, DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT_MS, MAX_COUNT, MAX_PARTIAL_IMAGES,
    MAX_PROMPT_CHARS, MAX_PROVIDERS, MAX_SEED, PARTIAL_IMAGES_FIELD,
};
use crate::geometry::{Ratio, Size};
use crate::model::{Error, ErrorCode, ProviderConfig, RetryOptions};
use crate::secret::Secret;
use serde_json::{Map, Value};

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

/// Checks that `v` is a whole number from `min` to `max`; the error names `field`.
pub fn whole_number(field: &str, v: f64, min: u64, max: u64) -> Result<u64, Error> {
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
    let bad = |why: &str| invalid(field, why);
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

fn number(field: &str, v: Option<Number>, min: u64, max: u64) -> Result<Option<u64>, Error> {
    v.map(|Number(n)| whole_number(field, n, min, max))
        .transpose()
}

/// The error for `field`: "`field` why" (one formatting site for all).
fn invalid(field: &str, why: &str) -> Error {
    Error::invalid(field, format!("`{field}` {why}"))
}

fn too_long(field: &str) -> Error {
    invalid(field, TOO_LONG)
}

const MAX_PROVIDERS_TEXT: &str = "may list at most 10 providers";
const _: () = assert!(MAX_PROVIDERS == 10, "update MAX_PROVIDERS_TEXT");
const TOO_LONG: &str = "is longer than 100000 characters";
const _: () = assert!(MAX_PROMPT_CHARS == 100_000, "update TOO_LONG");

impl RequestInput {
    /// Checks the request and fills in defaults. Fields are checked in a
    /// fixed order (prompt, image options, providers, retry, timing), and
    /// the first failure is returned.
    pub fn build(&self, names: &FieldNames) -> Result<ValidRequest, Error> {
        let image = self.image(names)?;
        let chain = self.chain(names)?;
        let retry = retry_settings(self.retry.as_ref(), names)?;
        let fallback_on = match &self.fallback_on {
            None => default_fallback_on(),
            Some(codes) if codes.contains(&ErrorCode::Aborted) => {
                let f = names.fallback_on;
                return Err(invalid(f, "may not contain \"aborted\""));
            }
            Some(codes) => codes.clone(),
        };
        let timeout_ms = number(names.timeout_ms, self.timeout_ms, 1, 3_600_000)?;
        let deadline_ms = number(names.deadline_ms, self.deadline_ms, 1, 86_400_000)?;
        let concurrency = number(names.concurrency, self.concurrency, 1, 32)?;
        let prices = self.prices.clone().unwrap_or_default();
        crate::cost::check_prices(&prices, "prices")?;
        if let Some(cap) = self.max_cost_usd {
            if !(cap.is_finite() && cap >= 0.0) {
                return Err(invalid("maxCostUsd", "must be a number of USD, 0 or more"));
            }
        }
        Ok(ValidRequest {
            image,
            chain,
            retry,
            fallback_on,
            timeout_ms: timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS),
            deadline_ms,
            concurrency: concurrency.map_or(DEFAULT_CONCURRENCY, |c| c as usize),
            max_cost_usd: self.max_cost_usd,
            prices,
        })
    }

    /// The provider-independent part.
    fn image(&self, names: &FieldNames) -> Result<ImageRequest, Error> {
        let f = names.prompt;
        let prompt = self
            .prompt
            .as_deref()
            .ok_or_else(|| invalid(f, "is required"))?
            .trim();
        if prompt.is_empty() {
            return Err(invalid(f, "must not be empty"));
        }
        if prompt.chars().count() > MAX_PROMPT_CHARS {
            return Err(too_long(f));
        }
        let count = number(names.count, self.count, 1, u64::from(MAX_COUNT))?;
        let size = match self.size.as_deref() {
            None => None,
            Some(s) => Some(Size::parse(s).ok_or_else(|| {
                let f = names.size;
                Error::invalid(
                    f,
                    format!("`{f}` must look like \"1024x1024\" (width x height), got {s:?}"),
                )
            })?),
        };
        let aspect_ratio = match self.aspect_ratio.as_deref() {
            None => None,
            Some(s) => Some(Ratio::parse(s).ok_or_else(|| {
                let f = names.aspect_ratio;
                Error::invalid(f, format!("`{f}` must look like \"16:9\", got {s:?}"))
            })?),
        };
        let seed = number(names.seed, self.seed, 0, u64::from(MAX_SEED))?;
        let negative_prompt = self
            .negative_prompt
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        if negative_prompt
            .as_ref()
            .is_some_and(|n| n.chars().count() > MAX_PROMPT_CHARS)
        {
            return Err(too_long(names.negative_prompt));
        }
        let partial_images = number(
            PARTIAL_IMAGES_FIELD,
            self.partial_images,
            0,
            u64::from(MAX_PARTIAL_IMAGES),
        )?;
        Ok(ImageRequest {
            prompt: prompt.to_string(),
            count: count.map_or(1, |c| c as u32),
            size,
            aspect_ratio,
            seed: seed.map(|s| s as u32),
            negative_prompt,
            output_format: self.output_format,
            inputs: None,
            partial_images: partial_images.map_or(0, |n| n as u32),
        })
    }

    /// The chain, each entry with its defaults.
    fn chain(&self, names: &FieldNames) -> Result<Vec<ChainEntry>, Error> {
        let f = names.providers;
        let providers = self
            .providers
            .as_ref()
            .ok_or_else(|| invalid(f, "is required (at least one)"))?;
        if providers.is_empty() {
            return Err(invalid(f, "must list at least one provider"));
        }
        if providers.len() > MAX_PROVIDERS {
            return Err(invalid(f, MAX_PROVIDERS_TEXT));
        }
        providers
            .iter()
            .enumerate()
            .map(|(i, p)| chain_entry(p, |name| (names.entry)(i, name)))
            .collect()
    }
}

/// Checks one chain entry; `field` names its fields in errors.
fn chain_entry(p: &ProviderConfig, field: impl Fn(&str) -> String) -> Result<ChainEntry, Error> {
    let invalid = |name: &str, why: &str| invalid(&field(name), why);
    let provider = p
        .provider
        .ok_or_else(|| invalid("provider", "is required"))?;
    let spec = provider.spec();
    let api_key = match &p.api_key {
        Some(k) if !k.is_blank() => Secret::new(k.expose().trim()),
        _ if !spec.needs_key => Secret::default(),
        _ => return Err(invalid("apiKey", &format!("is required for {provider}"))),
    };
    let model = match p.model.as_deref().map(str::trim) {
        None => spec.default_model.to_string(),
        Some("") => return Err(invalid("model", "must not be empty")),
        Some(m)
            if m.len() > 200
                || !m
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) =>
        {
            return Err(invalid("model", "is not a valid model id"))
        }
        Some(m) => m.to_string(),
    };
    let base_url = match p.base_url.as_deref() {
        None => spec.default_origin.to_string(),
        Some(u) => parse_origin(&field("baseUrl"), u)?,
    };
    let params = match &p.params {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(invalid("params", "must be an object")),
    };
    (spec.check_params)(&params, &field("params"))?;
    Ok(ChainEntry {
        provider,
        api_key,
        model,
        base_url,
        params,
    })
}

/// Retry settings with defaults filled in.
fn retry_settings(r: Option<&RetryOptions>, names: &FieldNames) -> Result<RetrySettings, Error> {
    let mut retry = RetrySettings::default();
    let Some(r) = r else {
        return Ok(retry);
    };
    if let Some(n) = r.max_attempts {
        if !(1..=10).contains(&n) {
            let f = names.max_attempts;
            return Err(Error::invalid(
                f,
                format!("`{f}` must be from 1 to 10, got {n}"),
            ));
        }
        retry.max_attempts = n;
    }
    const HOUR_MS: u64 = 3_600_000; // the message below says it
    for (name, value, slot) in [
        (
            names.base_delay_ms,
            r.base_delay_ms,
            &mut retry.base_delay_ms,
        ),
        (names.max_delay_ms, r.max_delay_ms, &mut retry.max_delay_ms),
        (
            names.max_retry_after_ms,
            r.max_retry_after_ms,
            &mut retry.max_retry_after_ms,
        ),
    ] {
        if let Some(v) = value {
            if v > HOUR_MS {
                return Err(invalid(name, "must be at most 3600000 ms"));
            }
            *slot = v;
        }
    }
    Ok(retry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProviderName;

    fn entry_as_model(_: usize, _: &str) -> String {
        "model".to_string()
    }

    #[test]
    fn errors_use_the_callers_field_names() {
        let names = FieldNames {
            count: "n",
            entry: entry_as_model,
            ..FieldNames::JS
        };
        let mut input = RequestInput {
            prompt: Some("a cat".into()),
            count: Some(Number(11.0)),
            ..Default::default()
        };
        let e = input.build(&names).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("n"));
        assert!(
            e.message.starts_with("`n` must be a whole number"),
            "{}",
            e.message
        );
        input.count = Some(2u32.into());
        input.providers = Some(vec![ProviderConfig {
            provider: Some(ProviderName::Openai),
            model: Some("bad model".into()),
            api_key: Some(Secret::new("k")),
            ..Default::default()
        }]);
        let e = input.build(&names).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("model"));
        assert_eq!(e.message, "`model` is not a valid model id");
    }
}
