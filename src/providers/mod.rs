//! Providers as pure functions: request builders, response parsers (error
//! classification included) and capability tables. No I/O happens here.

pub mod edit;
pub mod gemini;
pub mod mock;
pub mod openai;
pub mod stability;

use crate::geometry::{Ratio, Size};
use crate::http::{HttpRequest, HttpResponse};
use crate::model::{
    Error, ErrorCode, GeneratedImage, OutputFormat, ProviderName, Warning, WarningCode,
};
use crate::secret::{scrub_key_like, Secret};
use crate::validate::{ChainEntry, ImageRequest};
use serde_json::{Map, Value};

/// How a provider takes sizes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SizeRule {
    /// Only these sizes.
    Presets(&'static [Size]),
    /// Any size within these rules (gpt-image-2 family).
    Free {
        /// Both edges must be multiples of this.
        multiple: u32,
        /// Longest edge.
        max_edge: u32,
        /// Longest long:short ratio.
        max_ratio: f64,
        /// Fewest pixels.
        min_pixels: u64,
        /// Most pixels.
        max_pixels: u64,
    },
    /// No sizes: the provider takes aspect ratios (and maybe size tiers).
    AspectRatioOnly,
}

/// What a provider/model can do, as data.
#[derive(Debug, Clone, PartialEq)]
pub struct Capabilities {
    /// Most images one call returns; larger counts are split.
    pub max_images_per_call: u32,
    /// Size handling.
    pub sizes: SizeRule,
    /// Aspect ratios taken natively (empty when the provider takes sizes).
    pub aspect_ratios: &'static [Ratio],
    /// Resolution tiers (Gemini `imageSize`), smallest first.
    pub image_size_tiers: &'static [&'static str],
    /// Whether `seed` is passed on.
    pub seed: bool,
    /// Whether `negativePrompt` is passed on.
    pub negative_prompt: bool,
    /// Formats the caller can choose.
    pub output_formats: &'static [OutputFormat],
}

/// The capabilities of one chain entry (provider + model + params).
pub fn capabilities(entry: &ChainEntry) -> Capabilities {
    match entry.provider {
        ProviderName::Openai => openai::capabilities(&entry.model),
        ProviderName::Gemini => gemini::capabilities(&entry.model),
        ProviderName::Stability => stability::capabilities(&entry.model),
        ProviderName::Mock => mock::capabilities(&entry.params),
    }
}

/// Where a model stands in its provider's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// Current.
    Active,
    /// Still served, but the provider announced its end.
    Deprecated {
        /// When it was deprecated (`YYYY-MM-DD`), when a source says.
        since: Option<&'static str>,
        /// Announced shutdown date, when one is known.
        shutdown: Option<&'static str>,
    },
    /// Shut down: calling it can only fail, so the library does not.
    Retired {
        /// When it was shut down (`YYYY-MM-DD`).
        on: &'static str,
    },
}

/// One row of a provider's model table: lifecycle as data, with its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelStatus {
    /// The model id. Dated snapshots (`<id>-YYYY-MM-DD`) share its row.
    pub id: &'static str,
    /// True when every id starting with `id` belongs to this row (a family).
    pub family: bool,
    /// Where it stands.
    pub lifecycle: Lifecycle,
    /// What to use instead (a model id), when it is not current.
    pub replacement: &'static str,
    /// Where the lifecycle facts come from, and when they were read.
    pub source: &'static str,
}

/// True when `model` is `id` or a dated snapshot of it (`id-2026-04-21`).
fn is_snapshot_of(model: &str, id: &str) -> bool {
    match model.strip_prefix(id) {
        Some("") => true,
        Some(rest) => {
            let b = rest.as_bytes();
            b.len() == 11
                && b.first() == Some(&b'-')
                && rest.char_indices().skip(1).all(|(i, c)| {
                    if i == 5 || i == 8 {
                        c == '-'
                    } else {
                        c.is_ascii_digit()
                    }
                })
        }
        None => false,
    }
}

/// The provider's model table.
pub fn model_table(provider: ProviderName) -> &'static [ModelStatus] {
    match provider {
        ProviderName::Openai => openai::MODELS,
        ProviderName::Gemini => gemini::MODELS,
        ProviderName::Stability => stability::MODELS,
        ProviderName::Mock => &[],
    }
}

/// The lifecycle row of a model, if the table knows it. Unknown ids are
/// sent as they are: new models appear before the table knows of them.
pub fn model_status(provider: ProviderName, model: &str) -> Option<&'static ModelStatus> {
    model_table(provider).iter().find(|row| {
        if row.family {
            model.starts_with(row.id)
        } else {
            is_snapshot_of(model, row.id)
        }
    })
}

/// The `model_deprecated` warning for a deprecated model, if it is one.
pub fn deprecation_warning(provider: ProviderName, model: &str) -> Option<Warning> {
    let row = model_status(provider, model)?;
    let Lifecycle::Deprecated { since, shutdown } = row.lifecycle else {
        return None;
    };
    let end = match shutdown {
        Some(date) => format!("; shutdown announced for {date}"),
        None => String::new(),
    };
    let since = match since {
        Some(date) => format!(" since {date}"),
        None => String::new(),
    };
    Some(warning(
        provider,
        WarningCode::ModelDeprecated,
        format!(
            "{provider} model {model} is deprecated{since}{end}; use {} instead ({})",
            row.replacement, row.source
        ),
    ))
}

/// The `not_found` error for a retired model, which is never called.
pub fn retired_model_error(provider: ProviderName, model: &str) -> Option<Error> {
    let row = model_status(provider, model)?;
    let Lifecycle::Retired { on } = row.lifecycle else {
        return None;
    };
    Some(
        Error::new(
            ErrorCode::NotFound,
            format!(
                "{provider} ({model} not_found): the model was shut down on {on} ({}), so it was not called; the current default is {}",
                row.source,
                crate::validate::default_model(provider)
            ),
        )
        .with_provider(provider),
    )
}

/// A hint for a provider's "model not found": the model may have been
/// retired since the table was written.
pub(crate) fn not_found_hint(provider: ProviderName, model: &str) -> String {
    let default = crate::validate::default_model(provider);
    match model_status(provider, model).map(|r| r.lifecycle) {
        Some(Lifecycle::Retired { on }) => {
            format!(" (the model was shut down on {on}; the current default is {default})")
        }
        _ if model == default => {
            " (the model may have been retired since this version of the library was released; check the provider's model list)".to_string()
        }
        _ => format!(
            " (the model may have been retired or renamed; the current default is {default})"
        ),
    }
}

/// A request ready to send, and what was changed to fit the provider.
#[derive(Debug, Clone)]
pub struct BuiltRequest {
    /// The HTTP request.
    pub request: HttpRequest,
    /// Options dropped or re-mapped.
    pub warnings: Vec<Warning>,
}

/// Builds the HTTP request for one provider call of `req.count` images.
/// Not for `mock`, which makes its images without a request.
pub fn build_request(req: &ImageRequest, entry: &ChainEntry) -> Result<BuiltRequest, Error> {
    match entry.provider {
        ProviderName::Openai => Ok(openai::build_request(req, entry)),
        ProviderName::Gemini => Ok(gemini::build_request(req, entry)),
        ProviderName::Stability => Ok(stability::build_request(req, entry)),
        ProviderName::Mock => Err(Error::new(
            ErrorCode::Unsupported,
            "the mock provider makes images without HTTP requests",
        )
        .with_provider(ProviderName::Mock)),
    }
}

/// What a parser needs besides the response.
#[derive(Debug, Clone, Copy)]
pub struct ParseContext<'a> {
    /// The request of this call.
    pub request: &'a ImageRequest,
    /// The chain entry called (provider, model, key for redaction).
    pub entry: &'a ChainEntry,
    /// Wall-clock time, for HTTP-date Retry-After values.
    pub now_unix_ms: u64,
}

/// Parses a provider response into images or a classified error.
pub fn parse_response(
    resp: HttpResponse,
    ctx: &ParseContext<'_>,
) -> Result<Vec<GeneratedImage>, Error> {
    if resp.status == 0 || (300..400).contains(&resp.status) {
        return Err(provider_error(
            ctx,
            ErrorCode::BadResponse,
            Some(resp.status),
            "the provider answered with a redirect; redirects are not followed, so keys only reach the configured origin",
        ));
    }
    let mut images = match ctx.entry.provider {
        ProviderName::Openai => openai::parse_response(resp, ctx),
        ProviderName::Gemini => gemini::parse_response(resp, ctx),
        ProviderName::Stability => stability::parse_response(resp, ctx),
        ProviderName::Mock => Err(Error::new(
            ErrorCode::BadResponse,
            "unexpected mock response",
        )),
    }?;
    // Text a provider sends back on success may echo the key too.
    for image in &mut images {
        if let Some(p) = image.revised_prompt.as_mut() {
            *p = ctx.entry.api_key.redact_in(p);
        }
    }
    Ok(images)
}

/// The cheap request that proves a key works (lists models / reads balance).
pub fn validate_key_request(
    provider: ProviderName,
    key: &Secret,
    base_url: &str,
) -> Option<HttpRequest> {
    match provider {
        ProviderName::Openai => Some(openai::validate_key_request(key, base_url)),
        ProviderName::Gemini => Some(gemini::validate_key_request(key, base_url)),
        ProviderName::Stability => Some(stability::validate_key_request(key, base_url)),
        ProviderName::Mock => None,
    }
}

/// Reads a key-validation response: `Ok(true)` for 2xx, `Ok(false)` for
/// auth/permission errors, `Err` for anything else (a good key must never be
/// reported bad because of a rate limit or an outage).
pub fn parse_validate_key_response(
    provider: ProviderName,
    resp: HttpResponse,
    key: &Secret,
    now_unix_ms: u64,
) -> Result<bool, Error> {
    if resp.is_success() {
        return Ok(true);
    }
    let entry = ChainEntry {
        provider,
        api_key: key.clone(),
        model: crate::validate::default_model(provider).to_string(),
        base_url: String::new(),
        params: Map::new(),
    };
    let request = ImageRequest {
        prompt: String::new(),
        count: 1,
        size: None,
        aspect_ratio: None,
        seed: None,
        negative_prompt: None,
        output_format: None,
    };
    let ctx = ParseContext {
        request: &request,
        entry: &entry,
        now_unix_ms,
    };
    let err = match parse_response(resp, &ctx) {
        Ok(_) => return Ok(true),
        Err(e) => e,
    };
    match err.code {
        ErrorCode::Auth | ErrorCode::Permission => Ok(false),
        _ => Err(err),
    }
}

// ---------------------------------------------------------------------------
// Shared helpers for the provider modules.

/// Longest provider message kept in an error.
const MAX_MESSAGE_CHARS: usize = 600;

/// Builds a provider error with a message that names the provider and status
/// and never contains the key.
pub(crate) fn provider_error(
    ctx: &ParseContext<'_>,
    code: ErrorCode,
    status: Option<u16>,
    detail: &str,
) -> Error {
    let detail = scrub_key_like(&ctx.entry.api_key.redact_in(detail));
    let detail: String = if detail.chars().count() > MAX_MESSAGE_CHARS {
        let cut: String = detail.chars().take(MAX_MESSAGE_CHARS).collect();
        format!("{cut}…")
    } else {
        detail
    };
    let message = match status {
        Some(s) => format!(
            "{} ({} {}, HTTP {s}): {detail}",
            ctx.entry.provider, ctx.entry.model, code
        ),
        None => format!(
            "{} ({} {}): {detail}",
            ctx.entry.provider, ctx.entry.model, code
        ),
    };
    let mut e = Error::new(code, message).with_provider(ctx.entry.provider);
    e.status = status;
    e
}

/// Decodes a 2xx body; an unexpected shape is a `bad_response`.
pub(crate) fn decode_success<T: serde::de::DeserializeOwned>(
    resp: &HttpResponse,
    ctx: &ParseContext<'_>,
) -> Result<T, Error> {
    resp.body.decode_json().map_err(|e| {
        provider_error(
            ctx,
            ErrorCode::BadResponse,
            Some(resp.status),
            &format!("response is not the expected JSON ({e})"),
        )
    })
}

/// What an error body that is not the provider's JSON envelope says (an
/// HTML page from a proxy, an empty body).
pub(crate) fn unparsed_detail(resp: &HttpResponse) -> String {
    let text = resp.body.text_prefix();
    if text.trim().is_empty() {
        "empty error body".to_string()
    } else {
        format!("non-JSON error body: {}", text.trim())
    }
}

/// An error whose body could not be read as the provider's envelope:
/// classified by status alone, with any Retry-After header.
pub(crate) fn unparsed_error(resp: &HttpResponse, ctx: &ParseContext<'_>) -> Error {
    let mut e = provider_error(
        ctx,
        code_for_status(resp.status),
        Some(resp.status),
        &unparsed_detail(resp),
    );
    if e.retryable() {
        e.retry_after_ms = crate::http::retry_after_from_headers(resp, ctx.now_unix_ms);
    }
    e
}

/// Classification by status alone, for bodies that say nothing useful
/// (HTML error pages from proxies, empty bodies).
pub(crate) fn code_for_status(status: u16) -> ErrorCode {
    match status {
        401 => ErrorCode::Auth,
        402 => ErrorCode::Quota,
        403 => ErrorCode::Permission,
        404 => ErrorCode::NotFound,
        408 | 409 | 425 => ErrorCode::ProviderError,
        429 => ErrorCode::RateLimited,
        s if s >= 500 => ErrorCode::ProviderError,
        _ => ErrorCode::InvalidRequest,
    }
}

/// Finds a retry hint in a message: "Please try again in 12s", "Please
/// retry in 14.5s", "try again in 6m0s", "try again in 500ms".
pub(crate) fn retry_hint_in_message(message: &str) -> Option<u64> {
    let lower = message.to_ascii_lowercase();
    for marker in ["try again in ", "retry in ", "retry after "] {
        if let Some(pos) = lower.find(marker) {
            let rest = lower.get(pos + marker.len()..)?;
            let token: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
                .collect();
            let token = token.trim_end_matches('.');
            if let Some(ms) = crate::http::parse_duration_ms(token) {
                return Some(ms);
            }
            let after = rest.get(token.len()..).unwrap_or("").trim_start();
            if let Ok(secs) = token.parse::<f64>() {
                if after.starts_with("second") && secs.is_finite() && secs >= 0.0 {
                    return Some((secs * 1000.0).round() as u64);
                }
            }
        }
    }
    None
}

/// Deep-merges `params` into `target`: objects merge recursively, other
/// values replace, `null` removes the key (to drop a default).
pub(crate) fn merge_params(target: &mut Map<String, Value>, params: &Map<String, Value>) {
    for (key, value) in params {
        match value {
            Value::Null => {
                target.remove(key);
            }
            Value::Object(inner) => match target.get_mut(key) {
                Some(Value::Object(existing)) => merge_params(existing, inner),
                _ => {
                    let mut fresh = Map::new();
                    merge_params(&mut fresh, inner);
                    target.insert(key.clone(), Value::Object(fresh));
                }
            },
            other => {
                target.insert(key.clone(), other.clone());
            }
        }
    }
}

/// A warning about `provider`.
pub(crate) fn warning(provider: ProviderName, code: WarningCode, message: String) -> Warning {
    Warning {
        provider,
        code,
        message,
    }
}

/// The MIME type named in a content type such as `application/json; type=image/png`.
pub(crate) fn image_type_param(content_type: &str) -> Option<String> {
    content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("type="))
        .filter(|t| t.starts_with("image/"))
        .map(str::to_string)
}

/// Standard base64 (with padding), for binary image bodies and the mock's SVGs.
pub(crate) fn standard_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b0 = u32::from(chunk.first().copied().unwrap_or(0));
        let b1 = u32::from(chunk.get(1).copied().unwrap_or(0));
        let b2 = u32::from(chunk.get(2).copied().unwrap_or(0));
        let n = (b0 << 16) | (b1 << 8) | b2;
        let sextet = |shift: u32| char::from(ALPHABET[((n >> shift) & 63) as usize]);
        out.push(sextet(18));
        out.push(sextet(12));
        out.push(if chunk.len() > 1 { sextet(6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(0) } else { '=' });
    }
    out
}

/// Maps a requested size or aspect ratio to the nearest of `allowed`
/// ratios. Returns the ratio to send, and a warning when it differs from
/// what was asked.
pub(crate) fn ratio_for(
    provider: ProviderName,
    req: &ImageRequest,
    allowed: &[Ratio],
    default: Ratio,
) -> (Ratio, Option<Warning>) {
    if let Some(r) = req.aspect_ratio {
        if allowed.contains(&r) {
            return (r, None);
        }
        let near = crate::geometry::nearest_ratio(r.value(), allowed).unwrap_or(default);
        let w = warning(
            provider,
            WarningCode::OptionMapped,
            format!("aspectRatio {r} is not supported; using the nearest, {near}"),
        );
        return (near, Some(w));
    }
    if let Some(s) = req.size {
        let near = crate::geometry::nearest_ratio(s.ratio(), allowed).unwrap_or(default);
        let w = warning(
            provider,
            WarningCode::OptionMapped,
            format!("size {s} is not supported; using aspect ratio {near}"),
        );
        return (near, Some(w));
    }
    (default, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_is_deep_and_null_deletes() {
        let mut target = json!({"a": 1, "g": {"x": 1, "y": 2}, "s": [1]})
            .as_object()
            .cloned()
            .unwrap();
        let params =
            json!({"a": null, "g": {"y": 3, "z": {"k": null, "q": 1}}, "s": [2], "n": "v"});
        merge_params(&mut target, params.as_object().unwrap());
        assert_eq!(
            Value::Object(target),
            json!({"g": {"x": 1, "y": 3, "z": {"q": 1}}, "s": [2], "n": "v"})
        );
    }

    #[test]
    fn retry_hints() {
        assert_eq!(
            retry_hint_in_message("Please try again in 12s. Visit"),
            Some(12_000)
        );
        assert_eq!(
            retry_hint_in_message("Please retry in 14.5s."),
            Some(14_500)
        );
        assert_eq!(retry_hint_in_message("try again in 6m0s"), Some(360_000));
        assert_eq!(
            retry_hint_in_message("Try again in 20 seconds"),
            Some(20_000)
        );
        assert_eq!(retry_hint_in_message("no hint here"), None);
    }

    #[test]
    fn base64_matches_known_vectors() {
        assert_eq!(standard_base64(b""), "");
        assert_eq!(standard_base64(b"f"), "Zg==");
        assert_eq!(standard_base64(b"fo"), "Zm8=");
        assert_eq!(standard_base64(b"foo"), "Zm9v");
        assert_eq!(standard_base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn model_rows_match_ids_and_dated_snapshots_only() {
        assert!(is_snapshot_of("gpt-image-1", "gpt-image-1"));
        assert!(is_snapshot_of("gpt-image-1-2025-04-23", "gpt-image-1"));
        assert!(!is_snapshot_of("gpt-image-1-mini", "gpt-image-1"));
        assert!(!is_snapshot_of("gpt-image-1.5", "gpt-image-1"));
        assert!(!is_snapshot_of("gpt-image-1-2025-0423x", "gpt-image-1"));
        let row = |p, m| model_status(p, m).map(|r| r.lifecycle);
        assert_eq!(
            row(ProviderName::Openai, "gpt-image-1"),
            Some(Lifecycle::Retired { on: "2026-10-23" })
        );
        assert!(matches!(
            row(ProviderName::Openai, "gpt-image-1-mini"),
            Some(Lifecycle::Deprecated { .. })
        ));
        assert!(matches!(
            row(ProviderName::Openai, "dall-e-3"),
            Some(Lifecycle::Retired { .. })
        ));
        assert!(matches!(
            row(ProviderName::Gemini, "imagen-4.0-generate-001"),
            Some(Lifecycle::Retired { .. })
        ));
        assert_eq!(row(ProviderName::Openai, "gpt-image-3"), None);
        assert!(deprecation_warning(ProviderName::Openai, "gpt-image-2").is_none());
        assert!(retired_model_error(ProviderName::Openai, "gpt-image-2").is_none());
        for p in ProviderName::ALL {
            let default = crate::validate::default_model(p);
            if p != ProviderName::Mock {
                assert_eq!(row(p, default), Some(Lifecycle::Active), "{p} {default}");
            }
            for r in model_table(p) {
                if !matches!(r.lifecycle, Lifecycle::Active) {
                    let replacement = model_status(p, r.replacement).map(|x| x.lifecycle);
                    assert_eq!(replacement, Some(Lifecycle::Active), "{p} {}", r.id);
                }
            }
        }
    }

    #[test]
    fn status_codes() {
        assert_eq!(code_for_status(401), ErrorCode::Auth);
        assert_eq!(code_for_status(503), ErrorCode::ProviderError);
        assert_eq!(code_for_status(418), ErrorCode::InvalidRequest);
    }
}
