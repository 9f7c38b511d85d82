//! The typed request the engine works with, and the typed entry point Rust
//! callers (the Worker) use to build one: [`RequestInput`] takes typed
//! values, [`Defaults::apply`] fills what the caller left out, and
//! [`RequestInput::build`] checks everything, naming fields at fault through
//! a [`FieldNames`] table so each API reports its own field names.
//!
//! `validate` (the JS adapter) is a thin layer on top of this.

mod build;
mod input;

pub use build::{describe_number, parse_origin, whole_number};
pub use input::{Defaults, FieldNames, Number, RequestInput, PARTIAL_IMAGES_FIELD};

use crate::geometry::{Ratio, Size};
use crate::model::{ErrorCode, OutputFormat, ProviderName};
use crate::secret::Secret;

/// Most images per `generateImages` call.
pub const MAX_COUNT: u32 = 10;
/// Longest prompt accepted (characters); providers enforce their own, lower limits.
pub const MAX_PROMPT_CHARS: usize = 100_000;
/// Longest chain of providers.
pub const MAX_PROVIDERS: usize = 10;
/// Highest seed every seed-taking provider accepts.
pub const MAX_SEED: u32 = 4_294_967_294;
/// Most previews per image (OpenAI's `partial_images` limit).
pub const MAX_PARTIAL_IMAGES: u32 = 3;

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
    /// Input images and mask: an edit. Set by the caller after building
    /// (loading inputs is asynchronous on wasm).
    pub inputs: Option<std::rc::Rc<crate::inputs::EditInputs>>,
    /// Previews per image wanted from providers that stream them (0: none).
    pub partial_images: u32,
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
    /// Most the call may cost, in USD (`maxCostUsd`).
    pub max_cost_usd: Option<f64>,
    /// The caller's prices, before the client's and the table's.
    pub prices: Vec<crate::cost::PriceOverride>,
}

/// The default model of each provider.
pub fn default_model(provider: ProviderName) -> &'static str {
    provider.spec().default_model
}

/// The default origin of each provider.
pub fn default_base_url(provider: ProviderName) -> &'static str {
    provider.spec().default_origin
}

/// The default set of codes that move on to the next provider.
pub fn default_fallback_on() -> Vec<ErrorCode> {
    ErrorCode::ALL
        .into_iter()
        .filter(|c| c.falls_back_by_default())
        .collect()
}
