//! State that outlives one `generateImages` call, for long-lived clients
//! (`createClient` in the package; one per isolate in the Worker):
//!
//! - a **retry budget** per provider origin and API key: retries may be at
//!   most a fraction of recent calls made with that key (20% over 10 s by
//!   default, with a small floor), under a cap for all keys of the provider
//!   origin together, so an outage does not multiply the load on a provider
//!   and one key's failures never spend another key's retries;
//! - a **circuit breaker** per provider, model, origin and key: after
//!   consecutive failures the provider is skipped for a cooldown (at once,
//!   and longer, for errors only a human can fix: auth, permission, quota,
//!   not_found).
//!
//! Memory is bounded whatever callers send: budgets are fixed-size counters,
//! closed circuits are not stored at all, and each table keeps at most
//! [`MAX_TRACKED`] entries (idle ones, then the least recently used, are
//! dropped first). Pure data structures driven by a clock value;
//! `generateImages` without a client keeps no state at all.

mod breaker;
mod budget;
mod options;
mod table;

pub use breaker::{Breaker, BreakerSettings, OpenCircuit};
pub use budget::{BudgetSettings, RetryBudget, GLOBAL_FLOOR_FACTOR};
pub use options::{CircuitBreakerOptions, ClientOptions, RetryBudgetOptions};

use crate::model::ErrorCode;
use crate::request::ChainEntry;
use breaker::counts;
use std::cell::RefCell;
use table::Table;

/// Most entries kept per table (budgets, circuits). Beyond that, idle
/// entries and then the least recently used ones are dropped.
pub const MAX_TRACKED: usize = 1024;

/// Settings of a long-lived client.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ClientSettings {
    /// Retry budget.
    pub budget: BudgetSettings,
    /// Circuit breakers.
    pub breaker: BreakerSettings,
}

#[derive(Debug, Default)]
struct Tracked {
    /// Use counter for least-recently-used eviction.
    tick: u64,
    /// Retry budget per provider|origin and key. The model is not part of
    /// it: callers choose model ids freely, and a budget per model would let
    /// one key mint new budgets at will.
    budgets: Table<RetryBudget>,
    /// The cap over all keys, per provider|origin.
    origins: Table<RetryBudget>,
    /// Circuits per provider|model|origin and key that are not plainly
    /// closed (a closed circuit without failures is the default and is not
    /// stored), with their names for [`ClientState::open_circuits`].
    breakers: Table<(String, Breaker)>,
}

impl Tracked {
    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }
}

/// The shared state of a long-lived client.
#[derive(Debug, Default)]
pub struct ClientState {
    /// Settings.
    pub settings: ClientSettings,
    /// The client's prices (`prices` of `createClient`).
    pub prices: Vec<crate::cost::PriceOverride>,
    tracked: RefCell<Tracked>,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv(h: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(h, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Hash of `provider|origin`.
fn origin_hash(entry: &ChainEntry) -> u64 {
    let h = fnv(FNV_OFFSET, entry.provider.as_str().as_bytes());
    fnv(fnv(h, b"|"), entry.base_url.as_bytes())
}

/// Hash of `provider|model|origin`.
fn breaker_hash(entry: &ChainEntry) -> u64 {
    let h = fnv(FNV_OFFSET, entry.provider.as_str().as_bytes());
    let h = fnv(fnv(h, b"|"), entry.model.as_bytes());
    fnv(fnv(h, b"|"), entry.base_url.as_bytes())
}

fn breaker_name(entry: &ChainEntry) -> String {
    format!("{}|{}|{}", entry.provider, entry.model, entry.base_url)
}

/// FNV-1a of the key: budgets and circuits belong to one key, so two users
/// of one provider (the Worker) never spend each other's retries or trip
/// each other's circuit. Only this hash is kept, never the key; a caller
/// cannot make its entries collide with another key's without knowing it.
fn key_fingerprint(entry: &ChainEntry) -> u64 {
    fnv(FNV_OFFSET, entry.api_key.expose().as_bytes())
}

fn budget_key(entry: &ChainEntry) -> (u64, u64) {
    (origin_hash(entry), key_fingerprint(entry))
}

fn breaker_key(entry: &ChainEntry) -> (u64, u64) {
    (breaker_hash(entry), key_fingerprint(entry))
}

/// A retry granted by the budget. It counts as soon as it is granted (so
/// concurrent failures cannot all take the last one), and is given back when
/// dropped unspent: a retry that is never sent (the call was cancelled, the
/// deadline passed, or the provider's circuit opened during the backoff)
/// does not count.
#[must_use = "a ticket dropped unspent is refunded"]
pub struct RetryTicket<'a> {
    client: &'a ClientState,
    key: (u64, u64),
    at: u64,
    spent: bool,
}

impl RetryTicket<'_> {
    /// The retry is being sent: it stays counted.
    pub fn spend(mut self) {
        self.spent = true;
    }
}

impl Drop for RetryTicket<'_> {
    fn drop(&mut self) {
        if !self.spent {
            self.client.refund(self.key, self.at);
        }
    }
}

impl ClientState {
    /// A client with these settings.
    pub fn new(settings: ClientSettings) -> Self {
        ClientState {
            settings,
            ..Default::default()
        }
    }

    /// Records a call to a provider for its retry budgets.
    pub fn record_call(&self, entry: &ChainEntry, now: u64) {
        let s = self.settings.budget;
        let Ok(mut t) = self.tracked.try_borrow_mut() else {
            return;
        };
        let tick = t.next_tick();
        let key = budget_key(entry);
        let idle = |b: &RetryBudget| b.is_idle(now, &s);
        if let Some(b) = t
            .budgets
            .get_or_insert(key, tick, RetryBudget::default, idle)
        {
            b.record_call(now, &s);
        }
        if let Some(b) = t
            .origins
            .get_or_insert((key.0, 0), tick, RetryBudget::default, idle)
        {
            b.record_call(now, &s);
        }
    }

    /// Takes a retry for `entry` if both its key's budget and the cap of its
    /// provider origin allow one; `None` when the budget is spent.
    pub fn try_retry(&self, entry: &ChainEntry, now: u64) -> Option<RetryTicket<'_>> {
        let s = self.settings.budget;
        let mut t = self.tracked.try_borrow_mut().ok()?;
        let tick = t.next_tick();
        let key = budget_key(entry);
        let idle = |b: &RetryBudget| b.is_idle(now, &s);
        let global_floor = s.min_retries.saturating_mul(GLOBAL_FLOOR_FACTOR);
        let key_ok = t
            .budgets
            .get_or_insert(key, tick, RetryBudget::default, idle)?
            .allows(now, &s, s.min_retries);
        let global = t
            .origins
            .get_or_insert((key.0, 0), tick, RetryBudget::default, idle)?;
        if !(key_ok && global.allows(now, &s, global_floor)) {
            return None;
        }
        global.record_retry(now, &s);
        if let Some(b) = t.budgets.get_mut(key, tick) {
            b.record_retry(now, &s);
        }
        Some(RetryTicket {
            client: self,
            key,
            at: now,
            spent: false,
        })
    }

    fn refund(&self, key: (u64, u64), at: u64) {
        let s = self.settings.budget;
        let Ok(mut t) = self.tracked.try_borrow_mut() else {
            return;
        };
        let tick = t.next_tick();
        if let Some(b) = t.budgets.get_mut(key, tick) {
            b.refund(at, &s);
        }
        if let Some(b) = t.origins.get_mut((key.0, 0), tick) {
            b.refund(at, &s);
        }
    }

    /// Calls and retries counted in the window for `entry`'s key (diagnostics).
    pub fn retry_usage(&self, entry: &ChainEntry, now: u64) -> (u32, u32) {
        self.tracked
            .try_borrow()
            .ok()
            .and_then(|t| {
                t.budgets
                    .get(budget_key(entry))
                    .map(|b| b.usage(now, &self.settings.budget))
            })
            .unwrap_or((0, 0))
    }

    /// Entries held in all tables together (diagnostics; bounded by
    /// 3 × [`MAX_TRACKED`]).
    pub fn tracked_entries(&self) -> usize {
        self.tracked
            .try_borrow()
            .map(|t| t.budgets.len() + t.origins.len() + t.breakers.len())
            .unwrap_or(0)
    }

    /// Whether a chain entry may be called now.
    pub fn allow(&self, entry: &ChainEntry, now: u64) -> Result<(), OpenCircuit> {
        let Ok(mut t) = self.tracked.try_borrow_mut() else {
            return Ok(());
        };
        let tick = t.next_tick();
        match t.breakers.get_mut(breaker_key(entry), tick) {
            Some((_, b)) => b.allow(now),
            None => Ok(()),
        }
    }

    /// Records the outcome of a call.
    pub fn record_outcome(&self, entry: &ChainEntry, outcome: Result<(), ErrorCode>, now: u64) {
        let settings = self.settings.breaker;
        let Ok(mut t) = self.tracked.try_borrow_mut() else {
            return;
        };
        let tick = t.next_tick();
        let key = breaker_key(entry);
        match outcome {
            Ok(()) => t.breakers.remove(key),
            Err(code) if code != ErrorCode::Aborted && counts(code) => {
                let idle = |(_, b): &(String, Breaker)| b.is_idle(now);
                let make = || (breaker_name(entry), Breaker::default());
                if let Some((_, b)) = t.breakers.get_or_insert(key, tick, make, idle) {
                    b.on_failure(code, now, &settings);
                }
            }
            Err(code) => {
                let clean = match t.breakers.get_mut(key, tick) {
                    Some((_, b)) => {
                        if code == ErrorCode::Aborted {
                            b.on_cancel();
                        } else {
                            b.on_failure(code, now, &settings);
                        }
                        b.is_clean()
                    }
                    None => false,
                };
                if clean {
                    t.breakers.remove(key);
                }
            }
        }
    }

    /// Providers whose circuit is open now (for diagnostics).
    pub fn open_circuits(&self, now: u64) -> Vec<String> {
        let Ok(t) = self.tracked.try_borrow() else {
            return Vec::new();
        };
        let mut v: Vec<String> = t
            .breakers
            .entries
            .iter()
            .filter(|s| s.value.1.is_open(now))
            .map(|s| s.value.0.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, model: &str) -> ChainEntry {
        ChainEntry {
            provider: crate::model::ProviderName::Openai,
            api_key: crate::Secret::new(key),
            model: model.to_string(),
            base_url: "https://api.openai.com".into(),
            params: serde_json::Map::new(),
        }
    }

    #[test]
    fn state_stays_bounded_with_caller_chosen_model_ids_and_keys() {
        let c = ClientState::new(ClientSettings::default());
        for i in 0..20_000u64 {
            let e = entry(
                &format!("sk-key-{}", i % 3000),
                &format!("m{i}-{}", "x".repeat(150)),
            );
            c.record_call(&e, i);
            let _ = c.allow(&e, i);
            c.record_outcome(&e, Err(ErrorCode::Auth), i);
            drop(c.try_retry(&e, i));
        }
        assert!(
            c.tracked_entries() <= 2 * MAX_TRACKED + 1,
            "{} entries",
            c.tracked_entries()
        );
        // Successful calls with new model ids store no circuit at all.
        let c = ClientState::new(ClientSettings::default());
        for i in 0..5000u64 {
            let e = entry("", &format!("mock-{i}"));
            c.record_call(&e, i);
            assert!(c.allow(&e, i).is_ok());
            c.record_outcome(&e, Ok(()), i);
        }
        assert_eq!(c.tracked_entries(), 2, "one key budget and one origin cap");
    }

    #[test]
    fn the_budget_is_per_key_not_per_model() {
        let c = ClientState::new(ClientSettings::default());
        for i in 0..10u64 {
            let e = entry("sk-a-0000000000", &format!("model-{i}"));
            c.record_call(&e, 0);
            if let Some(t) = c.try_retry(&e, 0) {
                t.spend();
            }
        }
        assert_eq!(
            c.retry_usage(&entry("sk-a-0000000000", "other"), 0),
            (10, 3),
            "new model ids do not mint new budgets"
        );
        assert!(c.try_retry(&entry("sk-a-0000000000", "m"), 0).is_none());
        assert!(c.try_retry(&entry("sk-b-0000000000", "m"), 0).is_some());
    }

    #[test]
    fn all_keys_of_an_origin_share_a_cap() {
        let s = ClientSettings::default();
        let c = ClientState::new(s);
        let mut granted = 0;
        for k in 0..200 {
            let e = entry(&format!("sk-{k}-000000000000"), "m");
            c.record_call(&e, 0);
            while let Some(t) = c.try_retry(&e, 0) {
                t.spend();
                granted += 1;
            }
        }
        // 200 calls: 20% = 40, above the shared floor of 30.
        assert_eq!(granted, 40);
    }

    #[test]
    fn unspent_tickets_are_refunded() {
        let c = ClientState::new(ClientSettings::default());
        let e = entry("sk-a-0000000000", "m");
        c.record_call(&e, 0);
        for _ in 0..10 {
            drop(c.try_retry(&e, 0));
        }
        assert_eq!(c.retry_usage(&e, 0), (1, 0));
        if let Some(t) = c.try_retry(&e, 0) {
            t.spend();
        }
        assert_eq!(c.retry_usage(&e, 0), (1, 1));
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
