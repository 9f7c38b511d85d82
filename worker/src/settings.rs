//! Settings read from the Worker's environment (variables and secrets) for
//! one request.

use crate::envelope::MasterKeys;
use crate::error::ApiError;
use crate::http::Cors;
use crate::jwt::JwtPolicy;
use crate::platform::{self, Env, JwtVerifier};
use crate::usage::budget::HOLD_TTL_MS;
use imagegen::request::parse_origin;
use imagegen::resilience::ClientSettings;
use imagegen::{ProviderName, Secret};

/// Settings read from the environment for one request.
pub struct Settings {
    /// CORS allow-list.
    pub cors: Cors,
    pub(crate) policy: JwtPolicy,
    pub(crate) verifier: JwtVerifier,
    master_keys: Result<MasterKeys, String>,
    base_urls: Result<Vec<(ProviderName, String)>, String>,
    /// Requests that write or call a provider, per user per minute
    /// (`RATE_LIMIT_PER_MINUTE`; 0 = off).
    pub(crate) rate_limit_per_minute: u32,
    /// Retry budget and circuit breakers of this isolate's engine client.
    pub(crate) client: ClientSettings,
    /// `ENABLE_MOCK_PROVIDER`: the offline `mock` provider may be used.
    pub(crate) mock_enabled: bool,
    /// `EXPOSE_MEMORY_STATS`: `/healthz` reports the wasm memory size.
    pub(crate) expose_memory: bool,
    /// `STREAM_KEEPALIVE_MS`: longest silence on an event stream before a
    /// `: keep-alive` comment.
    pub(crate) keep_alive_ms: u64,
    /// `MONTHLY_BUDGET_USD`: the users' default monthly budget in USD.
    pub(crate) monthly_budget_usd: Option<f64>,
    /// How long a budget hold lives unsettled ([`HOLD_TTL_MS`]; the
    /// development switch `BUDGET_HOLD_TTL_MS` shortens it for the tests).
    pub(crate) hold_ttl_ms: u64,
}

/// Rate limit when `RATE_LIMIT_PER_MINUTE` is unset or unreadable.
const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 30;

fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name)
}

fn flag(env: &Env, name: &str) -> bool {
    var(env, name).is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
}

/// Logs a configuration problem once per isolate (settings are read per request).
fn warn_once(what: &str) {
    thread_local! {
        static WARNED: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let first = WARNED.with(|w| {
        let mut w = w.borrow_mut();
        let first = !w.iter().any(|x| x == what);
        if first {
            w.push(what.to_string());
        }
        first
    });
    if first {
        platform::console_warn(what);
    }
}

/// Keep-alive interval when `STREAM_KEEPALIVE_MS` is unset or unreadable.
const DEFAULT_KEEP_ALIVE_MS: u64 = 15_000;

/// `STREAM_KEEPALIVE_MS`: 50 ms to 15 s (longer would let proxies that cut
/// idle connections win).
fn keep_alive_setting(env: &Env) -> u64 {
    match var(env, "STREAM_KEEPALIVE_MS") {
        None => DEFAULT_KEEP_ALIVE_MS,
        Some(v) => match v.trim().parse::<u64>() {
            Ok(ms) if (50..=DEFAULT_KEEP_ALIVE_MS).contains(&ms) => ms,
            _ => {
                warn_once(&format!(
                    "STREAM_KEEPALIVE_MS must be 50 to {DEFAULT_KEEP_ALIVE_MS}; using {DEFAULT_KEEP_ALIVE_MS}"
                ));
                DEFAULT_KEEP_ALIVE_MS
            }
        },
    }
}

/// `MONTHLY_BUDGET_USD`: the users' default monthly budget (unset: none).
/// A value that is not a number of USD, 0 or more, is taken as 0: a typo
/// must not lift the limit (every paid request is refused until it is
/// fixed).
fn budget_setting(env: &Env) -> Option<f64> {
    let v = var(env, "MONTHLY_BUDGET_USD")?;
    match v.trim().parse::<f64>() {
        Ok(usd) if crate::usage::budget::valid_budget(usd) => Some(usd),
        _ => {
            warn_once("MONTHLY_BUDGET_USD is not a number of USD, 0 or more; taken as 0");
            Some(0.0)
        }
    }
}

/// `BUDGET_HOLD_TTL_MS` (development only): 1 ms to the default.
fn hold_ttl_setting(env: &Env) -> u64 {
    var(env, "BUDGET_HOLD_TTL_MS")
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|ms| (1..=HOLD_TTL_MS).contains(ms))
        .unwrap_or(HOLD_TTL_MS)
}

fn rate_limit_setting(env: &Env) -> u32 {
    match var(env, "RATE_LIMIT_PER_MINUTE") {
        None => DEFAULT_RATE_LIMIT_PER_MINUTE,
        Some(v) => v.parse().unwrap_or_else(|_| {
            warn_once(&format!(
                "RATE_LIMIT_PER_MINUTE is not a whole number; using {DEFAULT_RATE_LIMIT_PER_MINUTE}"
            ));
            DEFAULT_RATE_LIMIT_PER_MINUTE
        }),
    }
}

impl Settings {
    /// Reads every variable and secret the Worker uses.
    pub fn from_env(env: &Env) -> Settings {
        let secret = var(env, "JWT_SECRET").map(Secret::new);
        let jwks_url = var(env, "JWKS_URL");
        let policy = JwtPolicy {
            hs256: secret.is_some(),
            jwks: jwks_url.is_some(),
            audience: var(env, "JWT_AUDIENCE")
                .unwrap_or_else(|| JwtPolicy::DEFAULT_AUDIENCE.to_string()),
            issuer: var(env, "JWT_ISSUER"),
            leeway_s: JwtPolicy::LEEWAY_S,
        };
        let master_keys = match (
            var(env, "KEY_ENCRYPTION_KEYS"),
            var(env, "KEY_ENCRYPTION_ACTIVE_KID"),
        ) {
            (Some(keys), Some(active)) => {
                MasterKeys::from_config(&keys, &active).map_err(|e| e.to_string())
            }
            _ => Err("KEY_ENCRYPTION_KEYS and KEY_ENCRYPTION_ACTIVE_KID must be set".to_string()),
        };
        let base_urls = base_urls(env);
        Settings {
            cors: Cors::new(&var(env, "ALLOWED_ORIGINS").unwrap_or_default()),
            policy,
            verifier: JwtVerifier { secret, jwks_url },
            master_keys,
            base_urls,
            rate_limit_per_minute: rate_limit_setting(env),
            // Retry budget and circuit breakers of this isolate's engine
            // client: the library's parser of RETRY_BUDGET_* and
            // CIRCUIT_BREAKER_* (its defaults where unset or out of range).
            client: ClientSettings::from_env(|name| var(env, name)),
            mock_enabled: flag(env, "ENABLE_MOCK_PROVIDER"),
            expose_memory: flag(env, "EXPOSE_MEMORY_STATS"),
            keep_alive_ms: keep_alive_setting(env),
            monthly_budget_usd: budget_setting(env),
            hold_ttl_ms: hold_ttl_setting(env),
        }
    }

    /// The monthly budget of a user with `config`: theirs, else the
    /// deployment's default; `None`: no budget.
    pub(crate) fn budget_for(&self, config: Option<&crate::config::UserConfig>) -> Option<f64> {
        config
            .and_then(|c| c.monthly_budget_usd)
            .or(self.monthly_budget_usd)
    }

    pub(crate) fn keys(&self) -> Result<&MasterKeys, ApiError> {
        self.master_keys
            .as_ref()
            .map_err(|e| ApiError::server(e.clone()))
    }

    pub(crate) fn base_url(&self, provider: ProviderName) -> Result<String, ApiError> {
        let urls = self
            .base_urls
            .as_ref()
            .map_err(|e| ApiError::server(e.clone()))?;
        Ok(urls
            .iter()
            .find(|(p, _)| *p == provider)
            .map_or(provider.spec().default_origin, |(_, url)| url)
            .to_string())
    }
}

/// The origin of each provider that has a development override variable
/// (the provider table's `base_url_env`, e.g. `OPENAI_BASE_URL`: it points
/// the provider at a mock and is never taken from a request), else the
/// provider's own.
fn base_urls(env: &Env) -> Result<Vec<(ProviderName, String)>, String> {
    ProviderName::ALL
        .into_iter()
        .filter(|p| !p.spec().base_url_env.is_empty())
        .map(|p| {
            let name = p.spec().base_url_env;
            let url = match var(env, name) {
                Some(u) => parse_origin(name, &u).map_err(|e| e.message)?,
                None => p.spec().default_origin.to_string(),
            };
            Ok((p, url))
        })
        .collect()
}
