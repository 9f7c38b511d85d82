//! A per-isolate sliding-window rate limiter (used when no Workers
//! rate-limiting binding is configured).

use std::collections::{HashMap, VecDeque};

/// Window length.
const WINDOW_MS: f64 = 60_000.0;
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
