//! Providers as pure functions: request builders, response parsers (error
//! classification included) and capability tables. No I/O happens here.
//!
//! The table below lists the providers; each module exports its
//! [`ProviderSpec`] as `SPEC`, and everything here dispatches through it.

#[macro_use]
pub mod table;
mod common;
pub mod edit;
mod lifecycle;
pub mod prices;

// The provider table: the only place that lists the providers. Each line
// declares the module `providers/<module>` (whose `SPEC` describes the
// provider) and a variant of `ProviderName`; everything else (default models
// and origins, key variables, model-family routing, the headers transports
// read, the package's `imagegen/providers`) is derived from the specs.
provider_table! {
    /// OpenAI Images (`/v1/images/generations`).
    Openai = "openai" => openai,
    /// Google Gemini API native image models (`generateContent`).
    Gemini = "gemini" => gemini,
    /// Stability AI Stable Image v2beta.
    Stability = "stability" => stability,
    /// Built-in offline provider: SVG images, no network.
    Mock = "mock" => mock,
}

pub(crate) use common::*;
pub(crate) use lifecycle::not_found_hint;
pub use lifecycle::{deprecation_warning, model_status, model_table, retired_model_error};
pub use table::{response_headers, ProviderSpec, COMMON_RESPONSE_HEADERS};

use crate::geometry::{Ratio, Size};
use crate::http::{HttpRequest, HttpResponse};
use crate::model::{Error, ErrorCode, GeneratedImage, OutputFormat, Warning, WarningCode};
use crate::request::{ChainEntry, ImageRequest};
use crate::secret::Secret;
use serde_json::Map;

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
    /// What the model takes as input images (edits).
    pub inputs: edit::InputCaps,
    /// Whether the model can stream previews (`partialImages`).
    pub previews: bool,
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

/// A request ready to send, and what was changed to fit the provider.
#[derive(Debug, Clone)]
pub struct BuiltRequest {
    /// The HTTP request.
    pub request: HttpRequest,
    /// Options dropped or re-mapped.
    pub warnings: Vec<Warning>,
    /// True when the answer is an event stream with previews
    /// ([`crate::http::Transport::send_stream`]).
    pub stream: bool,
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
    /// Where the parser leaves what the response says was billed (token
    /// usage, or images billed although withheld).
    pub billed: &'a crate::cost::BilledSlot,
}

/// The capabilities of one chain entry (provider + model + params).
pub fn capabilities(entry: &ChainEntry) -> Capabilities {
    (entry.provider.spec().capabilities)(entry)
}

/// True when this call streams previews: they were asked for and the model
/// can stream them.
pub fn streams_previews(req: &ImageRequest, entry: &ChainEntry) -> bool {
    req.partial_images > 0 && capabilities(entry).previews
}

/// Most images per call for this request: one when previews are streamed
/// (several images in one stream are undocumented upstream), else the
/// model's limit.
pub fn max_images_per_call(req: &ImageRequest, entry: &ChainEntry) -> u32 {
    if streams_previews(req, entry) {
        1
    } else {
        capabilities(entry).max_images_per_call
    }
}

/// Builds the HTTP request for one provider call of `req.count` images.
/// Previews asked of a model that cannot stream them are dropped with a
/// warning; the provider builds a streaming request when they remain.
pub fn build_request(req: &ImageRequest, entry: &ChainEntry) -> Result<BuiltRequest, Error> {
    let stream = streams_previews(req, entry);
    if stream || req.partial_images == 0 {
        let mut built = (entry.provider.spec().build)(req, entry);
        built.stream = stream;
        return Ok(built);
    }
    let plain = ImageRequest {
        partial_images: 0,
        ..req.clone()
    };
    let mut built = (entry.provider.spec().build)(&plain, entry);
    built.warnings.push(warning(
        entry.provider,
        WarningCode::UnsupportedOption,
        format!(
            "partialImages is not supported by {} ({}): no previews, the image comes whole",
            entry.provider, entry.model
        ),
    ));
    Ok(built)
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
    let mut images = (ctx.entry.provider.spec().parse)(resp, ctx)?;
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
    provider.spec().key_check.map(|check| check(key, base_url))
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
        model: crate::request::default_model(provider).to_string(),
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
        inputs: None,
        partial_images: 0,
    };
    let ctx = ParseContext {
        request: &request,
        entry: &entry,
        now_unix_ms,
        billed: &Default::default(),
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
