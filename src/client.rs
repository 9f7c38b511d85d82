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

use crate::model::ErrorCode;
use crate::request::ChainEntry;
use std::cell::RefCell;

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

/// Most entries kept per table (budgets, circuits). Beyond that, idle
/// entries and then the least recently used ones are dropped.
pub const MAX_TRACKED: usize = 1024;

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
    fn current(&mut self, now: u64, s: &BudgetSettings) -> Option<&mut (u64, u32, u32)> {
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

    fn allows(&self, now: u64, s: &BudgetSettings, floor: u32) -> bool {
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

    fn record_retry(&mut self, now: u64, s: &BudgetSettings) {
        if let Some(slot) = self.current(now, s) {
            slot.2 = slot.2.saturating_add(1);
        }
    }

    /// Takes back a retry recorded at `at` that was never sent.
    fn refund(&mut self, at: u64, s: &BudgetSettings) {
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

    fn is_idle(&self, now: u64, s: &BudgetSettings) -> bool {
        self.usage(now, s) == (0, 0)
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

    /// Closed without failures: the same as a breaker never used.
    fn is_clean(&self) -> bool {
        self.state == BreakerState::Closed { consecutive: 0 }
    }

    /// Holds nothing that changes the next call much: closed, or open with
    /// its cooldown over (the first to be dropped when the table is full).
    fn is_idle(&self, now: u64) -> bool {
        match self.state {
            BreakerState::Closed { .. } => true,
            BreakerState::Open { until, .. } => now >= until,
            BreakerState::HalfOpen { .. } => false,
        }
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

/// A table of at most [`MAX_TRACKED`] entries, each stamped with when it
/// was last used. Keys are two 64-bit hashes (of the names and of the API
/// key), so a lookup compares integers, never strings, and allocates nothing.
#[derive(Debug)]
struct Table<V> {
    entries: Vec<Slot<V>>,
}

#[derive(Debug)]
struct Slot<V> {
    key: (u64, u64),
    used: u64,
    value: V,
}

impl<V> Default for Table<V> {
    fn default() -> Self {
        Table {
            entries: Vec::new(),
        }
    }
}

impl<V> Table<V> {
    fn position(&self, key: (u64, u64)) -> Option<usize> {
        self.entries.iter().position(|s| s.key == key)
    }

    fn get(&self, key: (u64, u64)) -> Option<&V> {
        self.entries.iter().find(|s| s.key == key).map(|s| &s.value)
    }

    fn get_mut(&mut self, key: (u64, u64), tick: u64) -> Option<&mut V> {
        let slot = self.entries.iter_mut().find(|s| s.key == key)?;
        slot.used = tick;
        Some(&mut slot.value)
    }

    fn get_or_insert(
        &mut self,
        key: (u64, u64),
        tick: u64,
        make: impl FnOnce() -> V,
        idle: impl Fn(&V) -> bool,
    ) -> Option<&mut V> {
        let index = match self.position(key) {
            Some(i) => i,
            None => {
                if self.entries.len() >= MAX_TRACKED {
                    self.evict(idle);
                }
                self.entries.push(Slot {
                    key,
                    used: tick,
                    value: make(),
                });
                self.entries.len() - 1
            }
        };
        let slot = self.entries.get_mut(index)?;
        slot.used = tick;
        Some(&mut slot.value)
    }

    /// Drops idle entries; if that is not enough, the least recently used
    /// ones (about an eighth of the table at once, so a stream of new keys
    /// does not pay for a full pass each).
    fn evict(&mut self, idle: impl Fn(&V) -> bool) {
        self.entries.retain(|s| !idle(&s.value));
        while self.entries.len() >= MAX_TRACKED {
            let oldest = self.entries.iter().map(|s| s.used).min().unwrap_or(0);
            let newest = self.entries.iter().map(|s| s.used).max().unwrap_or(0);
            let cutoff = oldest + (newest - oldest) / 8 + 1;
            self.entries.retain(|s| s.used >= cutoff);
        }
    }

    fn remove(&mut self, key: (u64, u64)) {
        if let Some(i) = self.position(key) {
            self.entries.swap_remove(i);
        }
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
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
