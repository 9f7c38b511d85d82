//! The retry budget: retries as a fraction of recent calls, in fixed-size
//! counters.

/// Retry budget settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetSettings {
    /// Sliding window.
    pub window_ms: u64,
    /// Retries allowed per provider call in the window.
    pub ratio: f64,
    /// Retries always allowed per key and window, however few calls were
    /// made. All keys of one provider origin together always get
    /// [`GLOBAL_FLOOR_FACTOR`] times as many.
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

/// The floor of the cap shared by all keys of a provider origin, as a
/// multiple of the per-key floor: one key spending its own floor can never
/// use up the shared cap.
pub const GLOBAL_FLOOR_FACTOR: u32 = 10;

/// The window slides in steps of a tenth.
const BUCKETS: usize = 10;

/// Retries as a fraction of recent calls (as Envoy and reqwest do), counted
/// in ten fixed buckets per window: constant size however busy.
#[derive(Debug, Default, Clone)]
pub struct RetryBudget {
    /// (bucket number, calls, retries); bucket number = time / (window / 10).
    buckets: [(u64, u32, u32); BUCKETS],
}

fn bucket_of(now: u64, window_ms: u64) -> u64 {
    now / (window_ms / BUCKETS as u64).max(1)
}

impl RetryBudget {
    /// The bucket for `now`, emptied first if it held an older one.
    pub(super) fn current(&mut self, now: u64, s: &BudgetSettings) -> Option<&mut (u64, u32, u32)> {
        let b = bucket_of(now, s.window_ms);
        let slot = self.buckets.get_mut((b % BUCKETS as u64) as usize)?;
        if slot.0 != b {
            *slot = (b, 0, 0);
        }
        Some(slot)
    }

    /// Calls and retries in the window ending at `now`.
    pub fn usage(&self, now: u64, s: &BudgetSettings) -> (u32, u32) {
        let b = bucket_of(now, s.window_ms);
        self.buckets
            .iter()
            .filter(|(n, _, _)| *n <= b && b - *n < BUCKETS as u64)
            .fold((0u32, 0u32), |(c, r), (_, calls, retries)| {
                (c.saturating_add(*calls), r.saturating_add(*retries))
            })
    }

    pub(super) fn allows(&self, now: u64, s: &BudgetSettings, floor: u32) -> bool {
        let (calls, retries) = self.usage(now, s);
        let allowed = (s.ratio * f64::from(calls)).floor().max(f64::from(floor));
        f64::from(retries) < allowed
    }

    /// Records a provider call (first attempt or retry).
    pub fn record_call(&mut self, now: u64, s: &BudgetSettings) {
        if let Some(slot) = self.current(now, s) {
            slot.1 = slot.1.saturating_add(1);
        }
    }

    pub(super) fn record_retry(&mut self, now: u64, s: &BudgetSettings) {
        if let Some(slot) = self.current(now, s) {
            slot.2 = slot.2.saturating_add(1);
        }
    }

    /// Takes back a retry recorded at `at` that was never sent.
    pub(super) fn refund(&mut self, at: u64, s: &BudgetSettings) {
        let b = bucket_of(at, s.window_ms);
        if let Some(slot) = self.buckets.get_mut((b % BUCKETS as u64) as usize) {
            if slot.0 == b {
                slot.2 = slot.2.saturating_sub(1);
            }
        }
    }

    /// Spends a retry if the budget allows one (floor: `s.min_retries`).
    pub fn try_retry(&mut self, now: u64, s: &BudgetSettings) -> bool {
        let ok = self.allows(now, s, s.min_retries);
        if ok {
            self.record_retry(now, s);
        }
        ok
    }

    pub(super) fn is_idle(&self, now: u64, s: &BudgetSettings) -> bool {
        self.usage(now, s) == (0, 0)
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
}
