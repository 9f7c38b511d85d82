//! Circuit breakers: after consecutive failures a provider is skipped for
//! a cooldown.

use crate::model::ErrorCode;

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
pub(super) fn counts(code: ErrorCode) -> bool {
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

    /// Closed without failures: the same as a breaker never used.
    pub(super) fn is_clean(&self) -> bool {
        self.state == BreakerState::Closed { consecutive: 0 }
    }

    /// Holds nothing that changes the next call much: closed, or open with
    /// its cooldown over (the first to be dropped when the table is full).
    pub(super) fn is_idle(&self, now: u64) -> bool {
        match self.state {
            BreakerState::Closed { .. } => true,
            BreakerState::Open { until, .. } => now >= until,
            BreakerState::HalfOpen { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
