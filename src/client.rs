//! State that outlives one `generateImages` call, for long-lived clients
//! (`createClient` in the package; one per isolate in the Worker):
//!
//! - a **retry budget** per provider: retries may be at most a fraction of
//!   recent calls to it (20% over 10 s by default, with a small floor), so an
//!   outage does not multiply the load on a provider;
//! - a **circuit breaker** per provider and model: after consecutive
//!   failures the provider is skipped for a cooldown (at once, and longer,
//!   for errors only a human can fix: auth, permission, quota, not_found).
//!
//! Pure data structures driven by a clock value; `generateImages` without a
//! client keeps no state at all.

use crate::model::ErrorCode;
use crate::validate::ChainEntry;
use std::cell::RefCell;
use std::collections::VecDeque;

/// Retry budget settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetSettings {
    /// Sliding window.
    pub window_ms: u64,
    /// Retries allowed per provider call in the window.
    pub ratio: f64,
    /// Retries always allowed per window, however few calls were made.
    pub min_retries: u32,
}

impl Default for BudgetSettings {
    fn default() -> Self {
        BudgetSettings {
            window_ms: 10_000,
            ratio: 0.2,
            min_retries: 3,
        }
    }
}

/// Circuit breaker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive transient failures that open the circuit.
    pub failure_threshold: u32,
    /// How long a circuit opened by transient failures stays open.
    pub cooldown_ms: u64,
    /// How long a circuit opened by auth/permission/quota/not_found stays open.
    pub hard_cooldown_ms: u64,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings {
            failure_threshold: 5,
            cooldown_ms: 30_000,
            hard_cooldown_ms: 300_000,
        }
    }
}

/// Retries as a fraction of recent calls (as Envoy and reqwest do).
#[derive(Debug, Default)]
pub struct RetryBudget {
    calls: VecDeque<u64>,
    retries: VecDeque<u64>,
}

impl RetryBudget {
    fn prune(&mut self, now: u64, window: u64) {
        let cutoff = now.saturating_sub(window);
        while self.calls.front().is_some_and(|t| *t < cutoff) {
            self.calls.pop_front();
        }
        while self.retries.front().is_some_and(|t| *t < cutoff) {
            self.retries.pop_front();
        }
    }

    /// Records a provider call (first attempt or retry).
    pub fn record_call(&mut self, now: u64, s: &BudgetSettings) {
        self.prune(now, s.window_ms);
        self.calls.push_back(now);
    }

    /// Spends a retry if the budget allows one.
    pub fn try_retry(&mut self, now: u64, s: &BudgetSettings) -> bool {
        self.prune(now, s.window_ms);
        let allowed = (s.ratio * self.calls.len() as f64)
            .floor()
            .max(f64::from(s.min_retries));
        if (self.retries.len() as f64) < allowed {
            self.retries.push_back(now);
            true
        } else {
            false
        }
    }
}

/// Why a provider is being skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenCircuit {
    /// The failure that opened it.
    pub code: ErrorCode,
    /// Time left until a trial call is allowed.
    pub remaining_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BreakerState {
    Closed {
        consecutive: u32,
    },
    Open {
        until: u64,
        code: ErrorCode,
    },
    /// One trial call is in flight.
    HalfOpen {
        code: ErrorCode,
    },
}

/// One provider's breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Breaker {
    state: BreakerState,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker {
            state: BreakerState::Closed { consecutive: 0 },
        }
    }
}

fn is_hard(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::Auth | ErrorCode::Permission | ErrorCode::Quota | ErrorCode::NotFound
    )
}

/// Failures that say something about the provider (not about our request).
fn counts(code: ErrorCode) -> bool {
    !matches!(
        code,
        ErrorCode::InvalidRequest
            | ErrorCode::ContentPolicy
            | ErrorCode::Aborted
            | ErrorCode::Unsupported
    )
}

impl Breaker {
    /// Whether a call may go out now. An open circuit whose cooldown has
    /// passed lets exactly one trial call through.
    pub fn allow(&mut self, now: u64) -> Result<(), OpenCircuit> {
        match self.state {
            BreakerState::Closed { .. } => Ok(()),
            BreakerState::Open { until, code } if now < until => Err(OpenCircuit {
                code,
                remaining_ms: until - now,
            }),
            BreakerState::Open { code, .. } => {
                self.state = BreakerState::HalfOpen { code };
                Ok(())
            }
            BreakerState::HalfOpen { code } => Err(OpenCircuit {
                code,
                remaining_ms: 0,
            }),
        }
    }

    /// A call succeeded: close.
    pub fn on_success(&mut self) {
        self.state = BreakerState::Closed { consecutive: 0 };
    }

    /// A call failed with `code`.
    pub fn on_failure(&mut self, code: ErrorCode, now: u64, s: &BreakerSettings) {
        if !counts(code) {
            // Not the provider's fault; a trial call that ends like this
            // still proves it answers.
            if let BreakerState::HalfOpen { .. } = self.state {
                self.state = BreakerState::Closed { consecutive: 0 };
            }
            return;
        }
        let open = |cooldown: u64| BreakerState::Open {
            until: now.saturating_add(cooldown),
            code,
        };
        self.state = match self.state {
            _ if is_hard(code) => open(s.hard_cooldown_ms),
            BreakerState::HalfOpen { .. } => open(s.cooldown_ms),
            BreakerState::Closed { consecutive } if consecutive + 1 >= s.failure_threshold => {
                open(s.cooldown_ms)
            }
            BreakerState::Closed { consecutive } => BreakerState::Closed {
                consecutive: consecutive + 1,
            },
            BreakerState::Open { .. } => open(s.cooldown_ms),
        };
    }

    /// A trial call was cancelled before it finished: allow another.
    pub fn on_cancel(&mut self) {
        if let BreakerState::HalfOpen { code } = self.state {
            self.state = BreakerState::Open { until: 0, code };
        }
    }

    /// True while calls are being refused.
    pub fn is_open(&self, now: u64) -> bool {
        matches!(self.state, BreakerState::Open { until, .. } if now < until)
    }
}

/// Settings of a long-lived client.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ClientSettings {
    /// Retry budget.
    pub budget: BudgetSettings,
    /// Circuit breakers.
    pub breaker: BreakerSettings,
}

/// The shared state of a long-lived client.
#[derive(Debug, Default)]
pub struct ClientState {
    /// Settings.
    pub settings: ClientSettings,
    /// Retry budgets by provider|model|origin.
    budgets: RefCell<Vec<(String, RetryBudget)>>,
    /// Breakers by provider|model|origin and key fingerprint (a handful: a
    /// Vec beats a map in wasm size).
    breakers: RefCell<Vec<(String, u64, Breaker)>>,
}

fn breaker_name(entry: &ChainEntry) -> String {
    format!("{}|{}|{}", entry.provider, entry.model, entry.base_url)
}

/// FNV-1a of the key: auth and quota failures belong to one key, so two
/// users of one provider (the Worker) never trip each other's circuit. Only
/// this hash is kept, never the key.
fn key_fingerprint(entry: &ChainEntry) -> u64 {
    entry
        .api_key
        .expose()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

impl ClientState {
    /// A client with these settings.
    pub fn new(settings: ClientSettings) -> Self {
        ClientState {
            settings,
            ..Default::default()
        }
    }

    fn with_budget<T>(&self, entry: &ChainEntry, f: impl FnOnce(&mut RetryBudget) -> T) -> T {
        let name = breaker_name(entry);
        let mut list = self.budgets.borrow_mut();
        let index = match list.iter().position(|(n, _)| *n == name) {
            Some(i) => i,
            None => {
                list.push((name, RetryBudget::default()));
                list.len() - 1
            }
        };
        match list.get_mut(index) {
            Some((_, b)) => f(b),
            None => f(&mut RetryBudget::default()),
        }
    }

    /// Records a call to a provider for its retry budget.
    pub fn record_call(&self, entry: &ChainEntry, now: u64) {
        let s = self.settings.budget;
        self.with_budget(entry, |b| b.record_call(now, &s));
    }

    /// Spends a retry on a provider if its budget allows.
    pub fn try_retry(&self, entry: &ChainEntry, now: u64) -> bool {
        let s = self.settings.budget;
        self.with_budget(entry, |b| b.try_retry(now, &s))
    }

    fn with_breaker<T>(&self, entry: &ChainEntry, f: impl FnOnce(&mut Breaker) -> T) -> T {
        let name = breaker_name(entry);
        let fp = key_fingerprint(entry);
        let mut list = self.breakers.borrow_mut();
        let index = match list.iter().position(|(n, k, _)| *n == name && *k == fp) {
            Some(i) => i,
            None => {
                list.push((name, fp, Breaker::default()));
                list.len() - 1
            }
        };
        match list.get_mut(index) {
            Some((_, _, b)) => f(b),
            None => f(&mut Breaker::default()),
        }
    }

    /// Whether a chain entry may be called now.
    pub fn allow(&self, entry: &ChainEntry, now: u64) -> Result<(), OpenCircuit> {
        self.with_breaker(entry, |b| b.allow(now))
    }

    /// Records the outcome of a call.
    pub fn record_outcome(&self, entry: &ChainEntry, outcome: Result<(), ErrorCode>, now: u64) {
        let settings = self.settings.breaker;
        self.with_breaker(entry, |b| match outcome {
            Ok(()) => b.on_success(),
            Err(ErrorCode::Aborted) => b.on_cancel(),
            Err(code) => b.on_failure(code, now, &settings),
        })
    }

    /// Providers whose circuit is open now (for diagnostics).
    pub fn open_circuits(&self, now: u64) -> Vec<String> {
        let mut v: Vec<String> = self
            .breakers
            .borrow()
            .iter()
            .filter(|(_, _, b)| b.is_open(now))
            .map(|(n, _, _)| n.clone())
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_allows_a_fraction_of_recent_calls() {
        let s = BudgetSettings::default();
        let mut b = RetryBudget::default();
        // With few calls, the floor of 3 retries applies.
        b.record_call(0, &s);
        assert!(b.try_retry(0, &s));
        assert!(b.try_retry(0, &s));
        assert!(b.try_retry(0, &s));
        assert!(!b.try_retry(0, &s));
        // 50 calls in the window: 20% = 10 retries.
        for _ in 0..49 {
            b.record_call(1000, &s);
        }
        let granted = (0..20).filter(|_| b.try_retry(1000, &s)).count();
        assert_eq!(granted, 7, "10 allowed, 3 already spent");
        // After the window slides past, the budget refills.
        b.record_call(20_000, &s);
        assert!(b.try_retry(20_000, &s));
    }

    #[test]
    fn breaker_opens_after_consecutive_transient_failures() {
        let s = BreakerSettings::default();
        let mut b = Breaker::default();
        for i in 0..4 {
            b.on_failure(ErrorCode::ProviderError, i, &s);
            assert!(b.allow(i).is_ok());
        }
        b.on_failure(ErrorCode::ProviderError, 10, &s);
        assert_eq!(
            b.allow(11),
            Err(OpenCircuit {
                code: ErrorCode::ProviderError,
                remaining_ms: 29_999
            })
        );
        // After the cooldown one trial goes through; a second waits for it.
        assert!(b.allow(30_010).is_ok());
        assert!(b.allow(30_011).is_err());
        b.on_success();
        assert!(b.allow(30_012).is_ok());
    }

    #[test]
    fn success_resets_and_client_errors_do_not_count() {
        let s = BreakerSettings::default();
        let mut b = Breaker::default();
        for _ in 0..4 {
            b.on_failure(ErrorCode::Timeout, 0, &s);
        }
        b.on_success();
        for _ in 0..4 {
            b.on_failure(ErrorCode::Network, 0, &s);
        }
        for _ in 0..10 {
            b.on_failure(ErrorCode::ContentPolicy, 0, &s);
            b.on_failure(ErrorCode::InvalidRequest, 0, &s);
        }
        assert!(b.allow(0).is_ok());
    }

    #[test]
    fn hard_failures_open_at_once_for_longer() {
        let s = BreakerSettings::default();
        let mut b = Breaker::default();
        b.on_failure(ErrorCode::Quota, 0, &s);
        assert_eq!(b.allow(299_999).map_err(|o| o.code), Err(ErrorCode::Quota));
        assert!(b.allow(300_000).is_ok());
        // A failed trial re-opens.
        b.on_failure(ErrorCode::Auth, 300_001, &s);
        assert!(b.allow(300_002).is_err());
    }

    #[test]
    fn cancelled_trials_do_not_block_forever() {
        let s = BreakerSettings::default();
        let mut b = Breaker::default();
        b.on_failure(ErrorCode::Auth, 0, &s);
        assert!(b.allow(400_000).is_ok());
        b.on_cancel();
        assert!(b.allow(400_001).is_ok());
    }
}
