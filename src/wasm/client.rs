//! `createClient`: a long-lived client whose calls share a retry budget and
//! circuit breakers.

use super::api::{generate_promise, to_js_error};
use super::checks::from_js;
use super::transport::DateClock;
use crate::client::{ClientSettings, ClientState};
use crate::model::Error;
use crate::runtime::Clock;
use js_sys::Promise;
use serde::Deserialize;
use std::rc::Rc;
use tsify::Tsify;
use wasm_bindgen::prelude::*;

/// Options of `createClient`.
#[derive(Deserialize, Default, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ClientOptions {
    /// Retries allowed as a fraction of recent provider calls.
    #[serde(default)]
    #[tsify(optional)]
    pub retry_budget: Option<RetryBudgetOptions>,
    /// Skip a provider for a cooldown after consecutive failures.
    #[serde(default)]
    #[tsify(optional)]
    pub circuit_breaker: Option<CircuitBreakerOptions>,
}

/// Retry budget options (defaults: 20% over 10 s, at least 3 retries per window).
#[derive(Deserialize, Default, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct RetryBudgetOptions {
    /// Retries per provider call in the window (default 0.2).
    #[serde(default)]
    #[tsify(optional)]
    pub ratio: Option<f64>,
    /// Window in ms (default 10000).
    #[serde(default)]
    #[tsify(optional)]
    pub window_ms: Option<u64>,
    /// Retries always allowed per window (default 3).
    #[serde(default)]
    #[tsify(optional)]
    pub min_retries: Option<u32>,
}

/// Circuit breaker options.
#[derive(Deserialize, Default, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct CircuitBreakerOptions {
    /// Consecutive transient failures that open the circuit (default 5).
    #[serde(default)]
    #[tsify(optional)]
    pub failure_threshold: Option<u32>,
    /// Cooldown after transient failures, ms (default 30000).
    #[serde(default)]
    #[tsify(optional)]
    pub cooldown_ms: Option<u64>,
    /// Cooldown after auth/permission/quota/not_found, ms (default 300000).
    #[serde(default)]
    #[tsify(optional)]
    pub hard_cooldown_ms: Option<u64>,
}

fn client_settings(o: ClientOptions) -> Result<ClientSettings, Error> {
    let mut s = ClientSettings::default();
    if let Some(b) = o.retry_budget {
        if let Some(r) = b.ratio {
            if !(r.is_finite() && (0.0..=10.0).contains(&r)) {
                return Err(Error::invalid(
                    "retryBudget.ratio",
                    "`retryBudget.ratio` must be from 0 to 10",
                ));
            }
            s.budget.ratio = r;
        }
        if let Some(w) = b.window_ms {
            if !(1..=3_600_000).contains(&w) {
                return Err(Error::invalid(
                    "retryBudget.windowMs",
                    "`retryBudget.windowMs` must be from 1 to 3600000",
                ));
            }
            s.budget.window_ms = w;
        }
        if let Some(m) = b.min_retries {
            s.budget.min_retries = m;
        }
    }
    if let Some(c) = o.circuit_breaker {
        if let Some(t) = c.failure_threshold {
            if t == 0 {
                return Err(Error::invalid(
                    "circuitBreaker.failureThreshold",
                    "`circuitBreaker.failureThreshold` must be at least 1",
                ));
            }
            s.breaker.failure_threshold = t;
        }
        if let Some(ms) = c.cooldown_ms {
            s.breaker.cooldown_ms = ms;
        }
        if let Some(ms) = c.hard_cooldown_ms {
            s.breaker.hard_cooldown_ms = ms;
        }
    }
    Ok(s)
}

/// A long-lived client: the same `generateImages`, with a retry budget and
/// circuit breakers shared by all its calls.
#[wasm_bindgen(js_name = ImageGenClient)]
pub struct ImageGenClient {
    state: Rc<ClientState>,
}

#[wasm_bindgen(js_class = ImageGenClient)]
impl ImageGenClient {
    /// Generates images; see the free `generateImages`.
    #[wasm_bindgen(js_name = generateImages, unchecked_return_type = "Promise<GenerateResult>")]
    pub fn generate_images(
        &self,
        #[wasm_bindgen(unchecked_param_type = "GenerateRequest")] request: JsValue,
    ) -> Promise {
        generate_promise(request, Some(self.state.clone()))
    }

    /// Providers currently skipped, as `"provider|model|origin"`.
    #[wasm_bindgen(js_name = openCircuits)]
    pub fn open_circuits(&self) -> Vec<String> {
        self.state.open_circuits(DateClock.now_ms())
    }
}

/// Creates a long-lived client. Throws `ImageGenError` (`invalid_request`) on bad options.
#[wasm_bindgen(js_name = createClient)]
pub fn create_client(
    #[wasm_bindgen(unchecked_optional_param_type = "ClientOptions")] options: Option<JsValue>,
) -> Result<ImageGenClient, JsValue> {
    let options = match options.filter(|o| !o.is_undefined() && !o.is_null()) {
        None => ClientOptions::default(),
        Some(o) => from_js(&o, "options").map_err(|e| to_js_error(&e))?,
    };
    let settings = client_settings(options).map_err(|e| to_js_error(&e))?;
    Ok(ImageGenClient {
        state: Rc::new(ClientState::new(settings)),
    })
}
