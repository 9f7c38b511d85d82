//! The retry/fallback policy as a table: error × attempt → decision, and the
//! bounds of the jittered backoff with a seeded RNG.
#![cfg(not(target_arch = "wasm32"))]

use imagegen::policy::{backoff_cap, backoff_delay, decide, Decision, PolicyInput};
use imagegen::runtime::{Rng, SplitMix64};
use imagegen::validate::{default_fallback_on, RetrySettings};
use imagegen::{Error, ErrorCode};

use Decision::{Fallback, Retry, Stop};
use ErrorCode::*;

fn err(code: ErrorCode, retry_after: Option<u64>) -> Error {
    Error::new(code, "x").with_retry_after(retry_after)
}

fn run(
    code: ErrorCode,
    attempt: u32,
    retry_after: Option<u64>,
    remaining: Option<u64>,
    has_next: bool,
) -> Decision {
    let e = err(code, retry_after);
    let input = PolicyInput {
        error: &e,
        attempt,
        bad_responses: if code == BadResponse { attempt } else { 0 },
        remaining_ms: remaining,
        has_next_provider: has_next,
    };
    // roll 0.5: the backoff is half its cap (rounded down).
    decide(
        &input,
        &RetrySettings::default(),
        &default_fallback_on(),
        0.5,
    )
}

#[test]
fn decision_table_with_a_next_provider() {
    // code, attempt 1, attempt 2, attempt 3 (default maxAttempts = 3)
    let table = [
        // A provider-side 400 (ours reject before any call): never retried,
        // falls back by default.
        (InvalidRequest, [Fallback, Fallback, Fallback]),
        // The cap: the next entry may be cheaper (it is checked itself).
        (BudgetExceeded, [Fallback, Fallback, Fallback]),
        (Unsupported, [Fallback, Fallback, Fallback]),
        (Auth, [Fallback, Fallback, Fallback]),
        (Permission, [Fallback, Fallback, Fallback]),
        (Quota, [Fallback, Fallback, Fallback]),
        (
            RateLimited,
            [Retry { delay_ms: 500 }, Retry { delay_ms: 1000 }, Fallback],
        ),
        (ContentPolicy, [Stop, Stop, Stop]),
        (NotFound, [Fallback, Fallback, Fallback]),
        (
            ProviderError,
            [Retry { delay_ms: 500 }, Retry { delay_ms: 1000 }, Fallback],
        ),
        (
            Timeout,
            [Retry { delay_ms: 500 }, Retry { delay_ms: 1000 }, Fallback],
        ),
        (
            Network,
            [Retry { delay_ms: 500 }, Retry { delay_ms: 1000 }, Fallback],
        ),
        // bad_response: retried once per provider, then fallback.
        (BadResponse, [Retry { delay_ms: 500 }, Fallback, Fallback]),
        (Aborted, [Stop, Stop, Stop]),
    ];
    assert_eq!(table.len(), ErrorCode::ALL.len());
    for (code, expected) in table {
        for (i, want) in expected.iter().enumerate() {
            let got = run(code, i as u32 + 1, None, None, true);
            assert_eq!(got, *want, "{code} attempt {}", i + 1);
        }
    }
}

#[test]
fn decision_table_on_the_last_provider() {
    for code in ErrorCode::ALL {
        let last = run(code, 3, None, None, false);
        assert_eq!(
            last, Stop,
            "{code}: nothing to fall back to after the last attempt"
        );
        let first = run(code, 1, None, None, false);
        let want = if code.is_retryable() {
            Retry { delay_ms: 500 }
        } else {
            Stop
        };
        assert_eq!(first, want, "{code}");
    }
}

#[test]
fn the_providers_should_retry_header_overrides_the_code() {
    let decide_with = |code: ErrorCode, hint: Option<bool>| {
        let mut e = err(code, None);
        e.should_retry = hint;
        let input = PolicyInput {
            error: &e,
            attempt: 1,
            bad_responses: 0,
            remaining_ms: None,
            has_next_provider: true,
        };
        decide(
            &input,
            &RetrySettings::default(),
            &default_fallback_on(),
            0.5,
        )
    };
    // `x-should-retry: false` on a 503: no retry, straight to the next provider.
    assert_eq!(decide_with(ProviderError, Some(false)), Fallback);
    assert_eq!(decide_with(RateLimited, Some(false)), Fallback);
    // `x-should-retry: true` on an error the status alone would not retry.
    assert_eq!(
        decide_with(InvalidRequest, Some(true)),
        Retry { delay_ms: 500 }
    );
    assert_eq!(decide_with(ProviderError, None), Retry { delay_ms: 500 });
    // Never for an abort.
    assert_eq!(decide_with(Aborted, Some(true)), Stop);
    let mut e = err(ProviderError, None);
    e.should_retry = Some(false);
    assert!(!e.retryable() && !e.to_info().retryable);
}

#[test]
fn retry_after_is_honoured_uncapped_by_max_delay() {
    // 45 s exceeds maxDelayMs (20 s) but not maxRetryAfterMs (60 s).
    assert_eq!(
        run(RateLimited, 1, Some(45_000), None, true),
        Retry { delay_ms: 45_000 }
    );
    assert_eq!(
        run(ProviderError, 2, Some(12), None, true),
        Retry { delay_ms: 12 }
    );
    // Above maxRetryAfterMs: the provider is exhausted, fall back at once.
    assert_eq!(run(RateLimited, 1, Some(60_001), None, true), Fallback);
    assert_eq!(run(RateLimited, 1, Some(60_001), None, false), Stop);
    // A hint on a non-retryable code changes nothing.
    assert_eq!(run(Quota, 1, Some(10), None, true), Fallback);
}

#[test]
fn deadline_bounds_every_wait() {
    // The hint fits the cap but not the time left: fall back now.
    assert_eq!(
        run(RateLimited, 1, Some(14_000), Some(10_000), true),
        Fallback
    );
    assert_eq!(
        run(RateLimited, 1, Some(14_000), Some(14_001), true),
        Retry { delay_ms: 14_000 }
    );
    // A backoff that would reach the deadline is not slept either.
    assert_eq!(run(ProviderError, 1, None, Some(500), true), Fallback);
    assert_eq!(
        run(ProviderError, 1, None, Some(501), true),
        Retry { delay_ms: 500 }
    );
    assert_eq!(run(ProviderError, 1, None, Some(0), false), Stop);
}

#[test]
fn fallback_on_overrides_the_default_set() {
    let e = err(ContentPolicy, None);
    let input = PolicyInput {
        error: &e,
        attempt: 1,
        bad_responses: 0,
        remaining_ms: None,
        has_next_provider: true,
    };
    let s = RetrySettings::default();
    assert_eq!(decide(&input, &s, &[ContentPolicy], 0.0), Fallback);
    let e = err(Auth, None);
    let input = PolicyInput { error: &e, ..input };
    assert_eq!(
        decide(&input, &s, &[ContentPolicy], 0.0),
        Stop,
        "auth no longer falls back"
    );
}

#[test]
fn max_attempts_one_never_retries() {
    let s = RetrySettings {
        max_attempts: 1,
        ..RetrySettings::default()
    };
    let e = err(ProviderError, None);
    let input = PolicyInput {
        error: &e,
        attempt: 1,
        bad_responses: 0,
        remaining_ms: None,
        has_next_provider: true,
    };
    assert_eq!(decide(&input, &s, &default_fallback_on(), 0.5), Fallback);
}

#[test]
fn full_jitter_stays_within_bounds_and_spreads() {
    let s = RetrySettings::default();
    let rng = SplitMix64::new(42);
    for attempt in 1..=8u32 {
        let cap = backoff_cap(attempt, &s);
        assert_eq!(cap, (1000u64 << (attempt - 1)).min(20_000));
        let delays: Vec<u64> = (0..2000)
            .map(|_| backoff_delay(attempt, &s, rng.next_f64()))
            .collect();
        assert!(delays.iter().all(|d| *d <= cap), "attempt {attempt}");
        let min = *delays.iter().min().unwrap();
        let max = *delays.iter().max().unwrap();
        let mean = delays.iter().sum::<u64>() as f64 / delays.len() as f64;
        // Full jitter: uniform over [0, cap].
        assert!(min < cap / 20, "attempt {attempt}: min {min}");
        assert!(max > cap - cap / 20, "attempt {attempt}: max {max}");
        assert!(
            (mean - cap as f64 / 2.0).abs() < cap as f64 * 0.05,
            "attempt {attempt}: mean {mean}"
        );
    }
    // Same seed, same delays.
    let a = SplitMix64::new(7);
    let b = SplitMix64::new(7);
    for attempt in 1..=5 {
        assert_eq!(
            backoff_delay(attempt, &s, a.next_f64()),
            backoff_delay(attempt, &s, b.next_f64())
        );
    }
}
