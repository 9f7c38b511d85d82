//! The per-user rate limit: the user's Durable Object (`USER_STATE`), one
//! sliding window per user consistent across isolates; without it, or when
//! it cannot be reached, the Workers rate-limiting binding when there is
//! one, else a per-isolate sliding window ([`Windows`]). An unreachable
//! object does not stop the service: the limit falls back to the isolate,
//! which nothing paid for depends on.

use std::collections::{HashMap, VecDeque};

/// Window length.
pub const WINDOW_MS: f64 = 60_000.0;
/// Most users tracked; idle ones are dropped first.
const MAX_USERS: usize = 10_000;

/// Request times per user within the last minute.
#[derive(Debug, Default)]
pub struct Windows {
    users: HashMap<String, VecDeque<f64>>,
}

impl Windows {
    /// Records a request by `user` at `now` (ms) if fewer than `limit` were
    /// made in the last minute; otherwise returns the seconds until one is allowed.
    pub fn hit(&mut self, user: &str, limit: u32, now: f64) -> Result<(), u64> {
        if self.users.len() >= MAX_USERS && !self.users.contains_key(user) {
            self.users
                .retain(|_, times| times.back().is_some_and(|t| now - t < WINDOW_MS));
            if self.users.len() >= MAX_USERS {
                // Still full of active users: drop an arbitrary one rather than grow.
                if let Some(k) = self.users.keys().next().cloned() {
                    self.users.remove(&k);
                }
            }
        }
        let times = self.users.entry(user.to_string()).or_default();
        while times.front().is_some_and(|t| now - t >= WINDOW_MS) {
            times.pop_front();
        }
        if times.len() >= limit as usize {
            let oldest = times.front().copied().unwrap_or(now);
            let wait_ms = (oldest + WINDOW_MS - now).max(0.0);
            return Err((wait_ms / 1000.0).ceil() as u64);
        }
        times.push_back(now);
        Ok(())
    }
}

#[cfg(target_arch = "wasm32")]
thread_local! {
    // Per-isolate sliding windows of requests by user.
    static WINDOWS: std::cell::RefCell<Windows> = std::cell::RefCell::new(Windows::default());
}

/// The per-user rate limit: the user's Durable Object when bound and
/// reachable, else the `RATE_LIMITER` binding when there is one (shared
/// across isolates), else `RATE_LIMIT_PER_MINUTE` per isolate.
#[cfg(target_arch = "wasm32")]
pub async fn check(
    env: &crate::platform::Env,
    settings: &crate::settings::Settings,
    user: &crate::auth::User,
    state: Option<&crate::platform::UserState>,
) -> Result<(), crate::error::ApiError> {
    use crate::error::ApiError;
    let limited = |retry_after_s: u64| {
        let mut e = ApiError::new(
            429,
            "rate_limit_exceeded",
            "too many requests; slow down and retry after the Retry-After delay",
        );
        e.retry_after_s = Some(retry_after_s.max(1));
        e.retryable = Some(true);
        e
    };
    let limit = settings.rate_limit_per_minute;
    if let (Some(state), true) = (state, limit > 0) {
        let args = [limit.into(), WINDOW_MS.into()];
        match state.call("rateHit", &args).await {
            Ok(answer) => {
                return match crate::platform::get(&answer, "retryAfterS").and_then(|v| v.as_f64()) {
                    Some(s) => Err(limited(s.max(1.0) as u64)),
                    None => Ok(()),
                }
            }
            Err(_) => crate::platform::console_warn(
                "the user's Durable Object is unreachable; rate limit per isolate",
            ),
        }
    }
    if let Some(limiter) = env.rate_limiter("RATE_LIMITER") {
        let allowed = limiter.allow(&user.hash).await.map_err(|_| {
            ApiError::new(
                503,
                "rate_limiter_unavailable",
                "the rate limiter is unavailable",
            )
        })?;
        return if allowed { Ok(()) } else { Err(limited(60)) };
    }
    if settings.rate_limit_per_minute == 0 {
        return Ok(());
    }
    let now = js_sys::Date::now();
    WINDOWS
        .with(|w| {
            w.borrow_mut()
                .hit(&user.hash, settings.rate_limit_per_minute, now)
        })
        .map_err(limited)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_user_and_slides() {
        let mut w = Windows::default();
        for i in 0..3 {
            assert!(w.hit("a", 3, f64::from(i) * 1000.0).is_ok());
        }
        assert_eq!(w.hit("a", 3, 10_000.0), Err(50));
        assert!(
            w.hit("b", 3, 10_000.0).is_ok(),
            "other users are not affected"
        );
        assert!(
            w.hit("a", 3, 60_000.0).is_ok(),
            "the first request left the window"
        );
        assert_eq!(w.hit("a", 3, 60_500.0), Err(1));
    }

    #[test]
    fn memory_is_bounded() {
        let mut w = Windows::default();
        for i in 0..(MAX_USERS + 50) {
            assert!(w.hit(&format!("u{i}"), 1, 0.0).is_ok());
        }
        assert!(w.users.len() <= MAX_USERS);
    }
}
