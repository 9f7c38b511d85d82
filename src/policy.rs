//! Retry and fallback decisions, as pure functions of the error, the attempt
//! number, the time left, a random roll, and the limits of a long-lived
//! client (open circuits, the retry budget).

use crate::model::{Error, ErrorCode};
use crate::request::RetrySettings;

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Try the same provider again after this many ms.
    Retry {
        /// Wait before the next attempt.
        delay_ms: u64,
    },
    /// Give up on this provider; move on to the next one.
    Fallback,
    /// Give up on this part.
    Stop,
}

/// Everything the decision depends on.
#[derive(Debug, Clone, Copy)]
pub struct PolicyInput<'a> {
    /// The failure.
    pub error: &'a Error,
    /// The attempt that failed, 1-based, for this provider and part.
    pub attempt: u32,
    /// `bad_response` failures on this provider and part so far, this one included.
    pub bad_responses: u32,
    /// Time left before the deadline, if there is one.
    pub remaining_ms: Option<u64>,
    /// Whether the chain has another provider.
    pub has_next_provider: bool,
}

/// What the state of a long-lived client says about this provider: both
/// are inputs of the decision, so the engine only asks and obeys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The provider's circuit is open: it is skipped without a call.
    pub circuit_open: bool,
    /// The retry budget has a retry left for this provider and key.
    pub retry_budget_left: bool,
}

impl Default for Limits {
    /// No client: circuits closed, retries unbudgeted.
    fn default() -> Self {
        Limits {
            circuit_open: false,
            retry_budget_left: true,
        }
    }
}

/// The capped exponential backoff bound for an attempt: `min(max, base·2^(attempt-1))`.
pub fn backoff_cap(attempt: u32, settings: &RetrySettings) -> u64 {
    let exp = attempt.saturating_sub(1).min(62);
    settings
        .base_delay_ms
        .saturating_mul(1u64 << exp)
        .min(settings.max_delay_ms)
}

/// Full jitter: a uniform delay in `[0, cap]`, from `roll` in `[0, 1)`.
pub fn backoff_delay(attempt: u32, settings: &RetrySettings, roll: f64) -> u64 {
    let cap = backoff_cap(attempt, settings);
    let roll = if roll.is_finite() {
        roll.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let delay = (roll * (cap as f64 + 1.0)).floor() as u64;
    delay.min(cap)
}

/// Decides what follows a failed attempt.
///
/// - `aborted` stops everything.
/// - Retryable errors (by code, or by the provider's own `x-should-retry`)
///   retry the same provider until `maxAttempts` (a
///   `bad_response` at most once), waiting the provider's hint when it gave
///   one, else a jittered backoff; never past the deadline, never after the
///   last attempt.
/// - A hint above `maxRetryAfterMs`, or a wait past the deadline, means the
///   provider is exhausted for this call.
/// - An exhausted provider, or a non-retryable code, falls back when the code
///   is in `fallback_on` and there is a next provider; otherwise the part stops.
pub fn decide(
    input: &PolicyInput<'_>,
    settings: &RetrySettings,
    fallback_on: &[ErrorCode],
    roll: f64,
) -> Decision {
    let code = input.error.code;
    if code == ErrorCode::Aborted {
        return Decision::Stop;
    }
    if input.error.retryable() {
        let attempts_left = input.attempt < settings.max_attempts;
        let bad_response_left = code != ErrorCode::BadResponse || input.bad_responses < 2;
        if attempts_left && bad_response_left {
            let delay = match input.error.retry_after_ms {
                Some(hint) if hint > settings.max_retry_after_ms => None,
                Some(hint) => Some(hint),
                None => Some(backoff_delay(input.attempt, settings, roll)),
            };
            let fits_deadline = |d: u64| input.remaining_ms.is_none_or(|left| d < left);
            if let Some(delay_ms) = delay.filter(|d| fits_deadline(*d)) {
                return Decision::Retry { delay_ms };
            }
        }
    }
    give_up(code, input.has_next_provider, fallback_on)
}

/// [`decide`] under a client's limits: an open circuit gives the provider
/// up without a call, and a retry the budget cannot pay for gives it up too.
pub fn decide_within(
    input: &PolicyInput<'_>,
    limits: Limits,
    settings: &RetrySettings,
    fallback_on: &[ErrorCode],
    roll: f64,
) -> Decision {
    let code = input.error.code;
    if limits.circuit_open && code != ErrorCode::Aborted {
        return give_up(code, input.has_next_provider, fallback_on);
    }
    match decide(input, settings, fallback_on, roll) {
        Decision::Retry { .. } if !limits.retry_budget_left => {
            give_up(code, input.has_next_provider, fallback_on)
        }
        d => d,
    }
}

/// A provider given up: fall back when there is a next provider and the
/// code is one that falls back; otherwise the part stops.
pub fn give_up(code: ErrorCode, has_next_provider: bool, fallback_on: &[ErrorCode]) -> Decision {
    if has_next_provider && fallback_on.contains(&code) {
        Decision::Fallback
    } else {
        Decision::Stop
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_doubles_then_saturates() {
        let s = RetrySettings::default();
        assert_eq!(backoff_cap(1, &s), 1000);
        assert_eq!(backoff_cap(2, &s), 2000);
        assert_eq!(backoff_cap(5, &s), 16_000);
        assert_eq!(backoff_cap(6, &s), 20_000);
        assert_eq!(backoff_cap(200, &s), 20_000);
        assert_eq!(backoff_delay(3, &s, 0.0), 0);
        assert_eq!(backoff_delay(3, &s, 0.999_999_9), 4000);
        assert_eq!(backoff_delay(3, &s, f64::NAN), 0);
    }

    #[test]
    fn limits_give_the_provider_up() {
        let s = RetrySettings::default();
        let e = Error::new(ErrorCode::RateLimited, "x");
        let input = PolicyInput {
            error: &e,
            attempt: 1,
            bad_responses: 0,
            remaining_ms: None,
            has_next_provider: true,
        };
        let fb = [ErrorCode::RateLimited];
        let free = decide_within(&input, Limits::default(), &s, &fb, 0.0);
        assert_eq!(free, Decision::Retry { delay_ms: 0 });
        let spent = Limits {
            retry_budget_left: false,
            ..Limits::default()
        };
        assert_eq!(
            decide_within(&input, spent, &s, &fb, 0.0),
            Decision::Fallback
        );
        assert_eq!(decide_within(&input, spent, &s, &[], 0.0), Decision::Stop);
        let open = Limits {
            circuit_open: true,
            ..Limits::default()
        };
        assert_eq!(
            decide_within(&input, open, &s, &fb, 0.0),
            Decision::Fallback
        );
    }
}
