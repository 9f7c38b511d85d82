//! The one parser of retry-budget and circuit-breaker settings: the
//! package's `createClient` options, and a server's environment variables
//! read into the same options.

use super::ClientSettings;
use crate::model::Error;
use serde::Deserialize;
use tsify::Tsify;

/// Options of `createClient`.
#[derive(Debug, Clone, Deserialize, Default, Tsify)]
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
    /// Prices replacing the table's rows for every call of the client.
    #[serde(default)]
    #[tsify(optional)]
    pub prices: Option<Vec<crate::cost::PriceOverride>>,
}

/// Retry budget options (defaults: 20% over 10 s, at least 3 retries per window).
#[derive(Debug, Clone, Deserialize, Default, Tsify)]
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
#[derive(Debug, Clone, Deserialize, Default, Tsify)]
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

/// The environment variables a server reads, and the option each sets.
pub const ENV_VARS: [&str; 5] = [
    "RETRY_BUDGET_RATIO",
    "RETRY_BUDGET_MIN_RETRIES",
    "CIRCUIT_BREAKER_FAILURES",
    "CIRCUIT_BREAKER_COOLDOWN_MS",
    "CIRCUIT_BREAKER_HARD_COOLDOWN_MS",
];

impl ClientSettings {
    /// Checks `createClient` options and fills in defaults. Errors name the
    /// option at fault (`retryBudget.ratio`).
    pub fn from_options(o: &ClientOptions) -> Result<ClientSettings, Error> {
        let mut s = ClientSettings::default();
        if let Some(b) = &o.retry_budget {
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
        if let Some(c) = &o.circuit_breaker {
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

    /// Settings from a server's environment ([`ENV_VARS`]), through the
    /// same checks as [`ClientSettings::from_options`]. A variable that is
    /// not a number, or that the checks refuse, is ignored (the default
    /// stays), so a bad value never keeps a deployment from starting.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> ClientSettings {
        let num = |name: &str| {
            var(name)
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v >= 0.0)
        };
        let mut options = ClientOptions::default();
        for name in ENV_VARS {
            let Some(v) = num(name) else { continue };
            let mut one = options.clone();
            let budget = one.retry_budget.get_or_insert_with(Default::default);
            let breaker = one.circuit_breaker.get_or_insert_with(Default::default);
            match name {
                "RETRY_BUDGET_RATIO" => budget.ratio = Some(v),
                "RETRY_BUDGET_MIN_RETRIES" => budget.min_retries = Some(v as u32),
                "CIRCUIT_BREAKER_FAILURES" => breaker.failure_threshold = Some(v as u32),
                "CIRCUIT_BREAKER_COOLDOWN_MS" => breaker.cooldown_ms = Some(v as u64),
                _ => breaker.hard_cooldown_ms = Some(v as u64),
            }
            if ClientSettings::from_options(&one).is_ok() {
                options = one;
            }
        }
        ClientSettings::from_options(&options).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked_and_defaulted() {
        let s = ClientSettings::from_options(&ClientOptions::default()).unwrap();
        assert_eq!(s, ClientSettings::default());
        let bad = ClientOptions {
            retry_budget: Some(RetryBudgetOptions {
                ratio: Some(11.0),
                ..Default::default()
            }),
            ..Default::default()
        };
        let e = ClientSettings::from_options(&bad).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("retryBudget.ratio"));
    }

    #[test]
    fn env_values_go_through_the_same_checks() {
        let env = |name: &str| match name {
            "RETRY_BUDGET_RATIO" => Some("0.5".to_string()),
            "CIRCUIT_BREAKER_FAILURES" => Some("0".to_string()),
            "CIRCUIT_BREAKER_COOLDOWN_MS" => Some("1000".to_string()),
            "RETRY_BUDGET_MIN_RETRIES" => Some("many".to_string()),
            _ => None,
        };
        let s = ClientSettings::from_env(env);
        assert_eq!(s.budget.ratio, 0.5);
        assert_eq!(s.budget.min_retries, 3, "not a number: default");
        assert_eq!(s.breaker.failure_threshold, 5, "refused: default");
        assert_eq!(s.breaker.cooldown_ms, 1000);
    }
}
