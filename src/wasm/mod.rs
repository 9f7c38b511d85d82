//! The JS bindings: the only code that knows about JS. Compiled for wasm32 only.

#[cfg(feature = "js-api")]
pub mod api;
#[cfg(feature = "js-api")]
mod checks;
#[cfg(feature = "js-api")]
mod client;
pub mod inputs;
pub mod js;
#[cfg(feature = "js-api")]
mod services;
pub mod transport;

#[cfg(feature = "js-api")]
pub use api::to_js_error;
pub use transport::{DateClock, FetchTransport, TimerSleeper};
