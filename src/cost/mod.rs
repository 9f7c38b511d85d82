//! Cost: the price table's row types, what a provider reports as usage, the
//! cost of one attempt and the estimate made before a call.
//!
//! Rows live in each provider's spec (`ProviderSpec::prices`); callers can
//! override them ([`PriceOverride`], the `prices` option). Unknown prices
//! stay unknown: never priced as zero.

mod tally;
pub mod usage;

pub use tally::{CostTally, ProviderUsage, Usage};

use crate::model::ProviderName;
use crate::request::{ChainEntry, ImageRequest};
use serde::{Deserialize, Serialize};
use tsify::Tsify;

/// USD per 1M tokens, by kind, as the provider prices them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenPrices {
    /// Text input.
    pub text_in: f64,
    /// Image input (edits).
    pub image_in: f64,
    /// Text output, thinking included.
    pub text_out: f64,
    /// Image output.
    pub image_out: f64,
}

/// What one image costs before usage is known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PerImage {
    /// The same for every image (Stability credits, the mock).
    Flat(f64),
    /// By size (`"1024x1024"`) and quality `[low, medium, high]` (OpenAI's
    /// printed table); other sizes scale the 1024x1024 price by pixels.
    BySize(&'static [(&'static str, [f64; 3])]),
    /// By resolution tier (`"1K"`), the first one being the default.
    ByTier(&'static [(&'static str, f64)]),
}

/// One row of a provider's price table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PriceRow {
    /// Model id; dated snapshots (`<id>-…`) share the row; `*` is every model.
    pub model: &'static str,
    /// Token prices, when the provider bills tokens and reports them.
    pub tokens: Option<TokenPrices>,
    /// The price of one image.
    pub per_image: PerImage,
    /// When the price was read, and where (`"2026-10 pricing page"`).
    pub source: &'static str,
}

/// A caller's price for one model: replaces the table's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct PriceOverride {
    /// Provider.
    pub provider: ProviderName,
    /// Model id (exact, or a prefix shared by snapshots).
    pub model: String,
    /// USD per image, used when the provider reports no token usage.
    pub image_usd: f64,
    /// USD per 1M tokens, used when the provider reports token usage.
    #[serde(default)]
    #[tsify(optional)]
    pub tokens: Option<TokenOverride>,
}

/// USD per 1M tokens in a [`PriceOverride`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct TokenOverride {
    /// Text input.
    pub text_in: f64,
    /// Image input.
    pub image_in: f64,
    /// Text output.
    pub text_out: f64,
    /// Image output.
    pub image_out: f64,
}

/// Tokens a provider reported for one call, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    /// Text input.
    pub text_in: u64,
    /// Image input.
    pub image_in: u64,
    /// Text output, thinking included.
    pub text_out: u64,
    /// Image output.
    pub image_out: u64,
}

/// What a response says was billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Billed {
    /// Token counts (OpenAI `usage`, Gemini `usageMetadata`).
    Tokens(Tokens),
    /// Whole images, priced per image (a filtered result that is billed).
    Images(u32),
}

/// Where a parser leaves what a response says was billed.
pub type BilledSlot = std::cell::Cell<Option<Billed>>;

/// A resolved price: the caller's override or the table's row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Price<'a> {
    /// A row of the provider's table.
    Table(&'a PriceRow),
    /// A caller's override.
    Caller(&'a PriceOverride),
}

/// `*` matches every model (the mock's ids are free labels).
fn matches(id: &str, model: &str) -> bool {
    id == "*" || model == id || model.starts_with(&format!("{id}-"))
}

/// The price of an entry's model: the call's overrides first, then the
/// client's, then the provider's table.
pub fn price_for<'a>(entry: &ChainEntry, overrides: &[&'a [PriceOverride]]) -> Option<Price<'a>> {
    for list in overrides {
        if let Some(o) = list
            .iter()
            .find(|o| o.provider == entry.provider && matches(&o.model, &entry.model))
        {
            return Some(Price::Caller(o));
        }
    }
    entry
        .provider
        .spec()
        .prices
        .iter()
        .find(|r| matches(r.model, &entry.model))
        .map(Price::Table)
}

/// Checks prices given by a caller: every number finite and not negative.
pub fn check_prices(prices: &[PriceOverride], field: &str) -> Result<(), crate::model::Error> {
    for (i, p) in prices.iter().enumerate() {
        let mut numbers = vec![p.image_usd];
        if let Some(t) = p.tokens {
            numbers.extend([t.text_in, t.image_in, t.text_out, t.image_out]);
        }
        if p.model.trim().is_empty() || numbers.iter().any(|n| !(n.is_finite() && *n >= 0.0)) {
            return Err(crate::model::Error::invalid(
                &format!("{field}[{i}]"),
                format!("`{field}[{i}]` needs a model and prices that are numbers, 0 or more"),
            ));
        }
    }
    Ok(())
}

/// USD for tokens at these prices.
pub fn token_cost(t: &Tokens, p: &TokenPrices) -> f64 {
    let m = 1_000_000.0;
    (t.text_in as f64 * p.text_in
        + t.image_in as f64 * p.image_in
        + t.text_out as f64 * p.text_out
        + t.image_out as f64 * p.image_out)
        / m
}

impl Price<'_> {
    fn tokens(&self) -> Option<TokenPrices> {
        match self {
            Price::Table(r) => r.tokens,
            Price::Caller(o) => o.tokens.map(|t| TokenPrices {
                text_in: t.text_in,
                image_in: t.image_in,
                text_out: t.text_out,
                image_out: t.image_out,
            }),
        }
    }

    /// One image at the request's size and the entry's quality / tier.
    pub fn image_usd(&self, req: &ImageRequest, entry: &ChainEntry) -> f64 {
        let row = match self {
            Price::Caller(o) => return o.image_usd,
            Price::Table(r) => r,
        };
        match row.per_image {
            PerImage::Flat(usd) => usd,
            PerImage::BySize(table) => by_size(table, req, entry),
            PerImage::ByTier(tiers) => by_tier(tiers, req),
        }
    }

    /// What a call of `req.count` images is expected to cost, previews
    /// included (100 image output tokens each, when token prices exist).
    pub fn estimate(&self, req: &ImageRequest, entry: &ChainEntry) -> f64 {
        let previews = match self.tokens() {
            Some(t) if crate::providers::streams_previews(req, entry) => {
                f64::from(req.partial_images) * 100.0 * t.image_out / 1_000_000.0
            }
            _ => 0.0,
        };
        (self.image_usd(req, entry) + previews) * f64::from(req.count)
    }

    /// What an attempt cost: from the reported tokens when the price has
    /// token rates, else per image.
    pub fn cost(&self, billed: Billed, req: &ImageRequest, entry: &ChainEntry) -> f64 {
        match (billed, self.tokens()) {
            (Billed::Tokens(t), Some(p)) => token_cost(&t, &p),
            (Billed::Tokens(t), None) => {
                // Tokens reported but only a per-image price: every image
                // output is one image here.
                if t.image_out > 0 {
                    self.image_usd(req, entry) * f64::from(req.count)
                } else {
                    0.0
                }
            }
            (Billed::Images(n), _) => self.image_usd(req, entry) * f64::from(n),
        }
    }
}

const QUALITIES: [&str; 3] = ["low", "medium", "high"];

fn by_size(table: &[(&str, [f64; 3])], req: &ImageRequest, entry: &ChainEntry) -> f64 {
    let quality = entry
        .params
        .get("quality")
        .and_then(|q| q.as_str())
        .unwrap_or(crate::providers::openai::DEFAULT_QUALITY);
    // "auto" (or anything else) is priced as the highest quality.
    let q = QUALITIES.iter().position(|x| *x == quality).unwrap_or(2);
    let (w, h) = req.size.map_or((1024, 1024), |s| (s.w, s.h));
    let name = format!("{w}x{h}");
    if let Some((_, prices)) = table.iter().find(|(s, _)| *s == name) {
        return prices[q];
    }
    let square = table.first().map_or(0.0, |(_, p)| p[q]);
    let pixels = f64::from(w) * f64::from(h) / (1024.0 * 1024.0);
    square * pixels.max(1.0)
}

fn by_tier(tiers: &[(&str, f64)], req: &ImageRequest) -> f64 {
    let names: Vec<&'static str> = ["512", "1K", "2K", "4K"].to_vec();
    let wanted = req
        .size
        .and_then(|s| crate::providers::gemini::tier_for(s.long_edge(), &names));
    wanted
        .and_then(|w| tiers.iter().find(|(t, _)| *t == w))
        .or_else(|| tiers.first())
        .map_or(0.0, |(_, usd)| *usd)
}
