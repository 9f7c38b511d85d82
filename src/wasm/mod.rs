//! The JS bindings: the only code that knows about JS. Compiled for wasm32 only.

#[cfg(feature = "js-api")]
pub mod api;
pub mod inputs;
pub mod js;
pub mod transport;

#[cfg(feature = "js-api")]
pub use api::to_js_error;
pub use transport::{DateClock, FetchTransport, TimerSleeper};
