//! imagegen: image generation through OpenAI, Google Gemini and Stability AI
//! (plus a built-in offline `mock`), with retries, fallback from one provider
//! to the next, progress events, cancellation and partial results.
//!
//! Layers, dependencies pointing down only:
//! 1. [`model`] – plain data (the JS API's shapes);
//! 2. [`providers`] – pure request builders / response parsers / capabilities;
//! 3. [`policy`] – pure retry and fallback decisions;
//! 4. [`engine`] – async orchestration over injected [`http::Transport`],
//!    [`runtime::Sleeper`], [`runtime::Clock`] and [`runtime::Rng`];
//! 5. `wasm` – the JS bindings (wasm32 only).

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![warn(missing_docs)]

pub mod cost;
pub mod engine;
pub mod geometry;
pub mod http;
pub mod image_data;
pub mod inputs;
pub mod model;
pub mod policy;
pub mod providers;
pub mod request;
pub mod resilience;
pub mod runtime;
pub mod secret;
pub mod sse;
pub mod validate;

/// The former name of [`resilience`], kept while callers move over.
#[doc(hidden)]
pub use resilience as client;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use image_data::ImageData;
pub use model::{
    Attempt, Error, ErrorCode, ErrorInfo, GenerateEvent, GenerateRequest, GenerateResult,
    GeneratedImage, Outcome, OutputFormat, PreviewImage, ProviderConfig, ProviderName, Warning,
    WarningCode,
};
pub use secret::Secret;
