//! The price table: one row per provider and model, as each provider
//! prices it, with when and where the price was read (docs/providers.md,
//! "Prices"). Each provider's `SPEC` points at its rows; callers override
//! rows with the `prices` option. Models without a row have no known price.

use crate::cost::{PerImage, PriceRow, TokenPrices};

const fn tokens(text_in: f64, image_in: f64, text_out: f64, image_out: f64) -> Option<TokenPrices> {
    Some(TokenPrices {
        text_in,
        image_in,
        text_out,
        image_out,
    })
}

// OpenAI: USD per 1M tokens, and the guide's per-image output table
// (1024x1024, 1024x1536, 1536x1024 × low, medium, high). Text output of
// gpt-image-2 and 1-mini is unpublished: priced at the image output rate.
const OA: &str = "2026-10 openai.com/api/pricing (3P copies); images guide table";

/// OpenAI's rows.
pub static OPENAI: &[PriceRow] = &[
    PriceRow {
        model: "gpt-image-2",
        tokens: tokens(5.0, 8.0, 30.0, 30.0),
        per_image: PerImage::BySize(&[
            ("1024x1024", [0.006, 0.053, 0.211]),
            ("1024x1536", [0.005, 0.041, 0.165]),
            ("1536x1024", [0.005, 0.041, 0.165]),
        ]),
        source: OA,
    },
    PriceRow {
        model: "gpt-image-1.5",
        tokens: tokens(5.0, 8.0, 10.0, 32.0),
        per_image: PerImage::BySize(&[
            ("1024x1024", [0.009, 0.034, 0.133]),
            ("1024x1536", [0.013, 0.05, 0.2]),
            ("1536x1024", [0.013, 0.05, 0.2]),
        ]),
        source: OA,
    },
    PriceRow {
        model: "gpt-image-1-mini",
        tokens: tokens(2.0, 2.5, 8.0, 8.0),
        per_image: PerImage::BySize(&[
            ("1024x1024", [0.005, 0.011, 0.036]),
            ("1024x1536", [0.006, 0.015, 0.052]),
            ("1536x1024", [0.006, 0.015, 0.052]),
        ]),
        source: OA,
    },
    PriceRow {
        model: "gpt-image-1",
        tokens: tokens(5.0, 10.0, 40.0, 40.0),
        per_image: PerImage::BySize(&[
            ("1024x1024", [0.011, 0.042, 0.167]),
            ("1024x1536", [0.016, 0.063, 0.25]),
            ("1536x1024", [0.016, 0.063, 0.25]),
        ]),
        source: OA,
    },
];

// Gemini: USD per 1M tokens (input, text+thinking out, image out) and per
// image by `imageSize` tier, the default tier first. Where input or text
// output rates are unpublished the row has no token rates (per image only).
const GE: &str = "2026-08..10 ai.google.dev/pricing (and 3P readings)";

/// Gemini's rows.
pub static GEMINI: &[PriceRow] = &[
    PriceRow {
        model: "gemini-3-pro-image",
        tokens: tokens(2.0, 2.0, 12.0, 120.0),
        per_image: PerImage::ByTier(&[("1K", 0.134), ("2K", 0.134), ("4K", 0.24)]),
        source: GE,
    },
    PriceRow {
        model: "gemini-3.1-flash-image",
        tokens: tokens(0.5, 0.5, 3.0, 60.0),
        per_image: PerImage::ByTier(&[("1K", 0.067), ("512", 0.045), ("2K", 0.101), ("4K", 0.151)]),
        source: GE,
    },
    PriceRow {
        // 4K: 3780 tokens (pricing pages) vs 2520 (guide): the higher.
        model: "gemini-nano-banana-2.1",
        tokens: None,
        per_image: PerImage::ByTier(&[("1K", 0.0336), ("2K", 0.0504), ("4K", 0.113)]),
        source: GE,
    },
    PriceRow {
        model: "gemini-3.1-flash-lite-image",
        tokens: None,
        per_image: PerImage::ByTier(&[("1K", 0.0336)]),
        source: GE,
    },
    PriceRow {
        // Text output at the image output rate (the 2.5 Flash text rate is not in our sources).
        model: "gemini-2.5-flash-image",
        tokens: tokens(0.3, 0.3, 30.0, 30.0),
        per_image: PerImage::ByTier(&[("1K", 0.039)]),
        source: GE,
    },
];

// Stability: credits per image (1 credit = $0.01).
const ST: &str = "2026-10 platform.stability.ai/pricing";

const fn credits(model: &'static str, credits: f64) -> PriceRow {
    PriceRow {
        model,
        tokens: None,
        per_image: PerImage::Flat(credits / 100.0),
        source: ST,
    }
}

/// Stability's rows (longer ids first: `sd3.5-large` would claim the turbo).
pub static STABILITY: &[PriceRow] = &[
    credits("ultra", 8.0),
    credits("core", 3.0),
    credits("sd3.5-large-turbo", 4.0),
    credits("sd3.5-large", 6.5),
    credits("sd3.5-medium", 3.5),
    credits("sd3.5-flash", 2.5),
    credits("sd3", 6.5),
];

/// The mock's row, for every label: free, so the demo shows costs without spending.
pub static MOCK: &[PriceRow] = &[PriceRow {
    model: "*",
    tokens: None,
    per_image: PerImage::Flat(0.0),
    source: "mock: free",
}];
