//! imagegen-worker: the imagegen engine over an OpenAI-compatible HTTP API,
//! with users' provider keys encrypted in KV and JWT (Supabase-compatible)
//! authentication.
//!
//! Each concern has its own file. Pure, natively tested: [`error`] (the one
//! error type and its envelope), [`http`] (body size, content types, CORS,
//! request ids), [`routes`] (the router), [`jwt`], [`envelope`] (the sealed
//! key record), [`keystore`] and [`idempotency`] (KV names and rules),
//! [`config`] (the user's chain and defaults), [`images`] (the
//! OpenAI-compatible request and response), [`ratelimit`], [`b64`].
//! On wasm32 only: `entry` (the `fetch` export), `settings` (the
//! environment), `auth`, `respond` (responses, body reading), the route
//! handlers under `routes/`, and `platform` (bindings, KV, WebCrypto, JWKS).

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod api;
pub mod b64;
pub mod config;
pub mod envelope;
pub mod error;
pub mod files;
pub mod http;
pub mod idempotency;
pub mod images;
pub mod jwt;
pub mod keystore;
pub mod ratelimit;
pub mod routes;
pub mod usage;

#[cfg(target_arch = "wasm32")]
mod auth;
#[cfg(target_arch = "wasm32")]
mod entry;
#[cfg(target_arch = "wasm32")]
mod platform;
#[cfg(target_arch = "wasm32")]
mod respond;
#[cfg(target_arch = "wasm32")]
mod settings;
