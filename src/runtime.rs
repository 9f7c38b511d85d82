//! What the engine needs from its surroundings, as traits (so the same engine
//! runs on wasm and in tests with virtual time), plus two small async tools:
//! a cancellation token and a semaphore.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// Waits. Dropping the future must cancel the wait.
#[allow(async_fn_in_trait)] // single-threaded: wasm and tests never need `Send`
pub trait Sleeper {
    /// Resolves after `ms` milliseconds.
    async fn sleep(&self, ms: u64);
}

/// Tells the time.
pub trait Clock {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// Random numbers for jitter, mock seeds and mock fault rolls.
pub trait Rng {
    /// Uniform in `[0, 1)`.
    fn next_f64(&self) -> f64;
    /// Uniform `u32`.
    fn next_u32(&self) -> u32;
}

/// SplitMix64: small, fast, good enough for jitter; seeded by the caller so
/// tests are reproducible.
#[derive(Debug)]
pub struct SplitMix64 {
    state: Cell<u64>,
}

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        SplitMix64 {
            state: Cell::new(seed),
        }
    }

    fn next_u64(&self) -> u64 {
        let s = self.state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        self.state.set(s);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl Rng for SplitMix64 {
    fn next_f64(&self) -> f64 {
        // 53 random bits → [0, 1)
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn next_u32(&self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
}

#[derive(Default)]
struct CancelState {
    cancelled: bool,
    wakers: Vec<Waker>,
}

/// A cancellation flag that any number of tasks can wait on.
#[derive(Clone, Default)]
pub struct CancelToken {
    inner: Rc<RefCell<CancelState>>,
}

impl CancelToken {
    /// A token that has not fired.
    pub fn new() -> Self {
        CancelToken::default()
    }

    /// Fires the token, waking every waiter.
    pub fn cancel(&self) {
        let wakers = {
            let mut s = self.inner.borrow_mut();
            s.cancelled = true;
            std::mem::take(&mut s.wakers)
        };
        for w in wakers {
            w.wake();
        }
    }

    /// Whether the token has fired.
    pub fn is_cancelled(&self) -> bool {
        self.inner.borrow().cancelled
    }

    /// Resolves once the token fires.
    pub fn cancelled(&self) -> Cancelled {
        Cancelled {
            token: self.clone(),
        }
    }
}

/// Future returned by [`CancelToken::cancelled`].
pub struct Cancelled {
    token: CancelToken,
}

impl Future for Cancelled {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = self.token.inner.borrow_mut();
        if s.cancelled {
            return Poll::Ready(());
        }
        if !s.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            s.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

struct SemaphoreState {
    available: usize,
    waiters: Vec<Waker>,
}

/// Bounds how many provider calls are in flight at once.
#[derive(Clone)]
pub struct Semaphore {
    inner: Rc<RefCell<SemaphoreState>>,
}

impl Semaphore {
    /// A semaphore with `permits` permits (at least one).
    pub fn new(permits: usize) -> Self {
        Semaphore {
            inner: Rc::new(RefCell::new(SemaphoreState {
                available: permits.max(1),
                waiters: Vec::new(),
            })),
        }
    }

    /// Waits for a permit; dropping the permit gives it back.
    pub fn acquire(&self) -> Acquire {
        Acquire { sem: self.clone() }
    }
}

/// Future returned by [`Semaphore::acquire`].
pub struct Acquire {
    sem: Semaphore,
}

impl Future for Acquire {
    type Output = Permit;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Permit> {
        let mut s = self.sem.inner.borrow_mut();
        if s.available > 0 {
            s.available -= 1;
            return Poll::Ready(Permit {
                sem: self.sem.clone(),
            });
        }
        if !s.waiters.iter().any(|w| w.will_wake(cx.waker())) {
            s.waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// A held permit.
pub struct Permit {
    sem: Semaphore,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let waiters = {
            let mut s = self.sem.inner.borrow_mut();
            s.available += 1;
            // Wake everyone: a waiter may have been dropped meanwhile, and
            // the survivors re-check on their next poll.
            std::mem::take(&mut s.waiters)
        };
        for w in waiters {
            w.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_is_seeded_and_in_range() {
        let a = SplitMix64::new(7);
        let b = SplitMix64::new(7);
        for _ in 0..1000 {
            let x = a.next_f64();
            assert_eq!(x, b.next_f64());
            assert!((0.0..1.0).contains(&x));
        }
    }

    #[test]
    fn semaphore_limits_and_releases() {
        let sem = Semaphore::new(1);
        let first = futures_executor::block_on(sem.acquire());
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut second = Box::pin(sem.acquire());
        assert!(second.as_mut().poll(&mut cx).is_pending());
        drop(first);
        assert!(second.as_mut().poll(&mut cx).is_ready());
    }

    #[test]
    fn cancel_wakes_waiters() {
        let token = CancelToken::new();
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut wait = Box::pin(token.cancelled());
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        token.cancel();
        assert!(token.is_cancelled());
        assert!(wait.as_mut().poll(&mut cx).is_ready());
    }
}
