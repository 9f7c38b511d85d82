//! Async orchestration: splits the count into provider calls, runs them with
//! bounded concurrency, retries, falls back, re-maps options per provider,
//! emits progress events and collects partial results.
//!
//! All I/O and time come through [`Transport`], [`Sleeper`], [`Clock`] and
//! [`Rng`], so the same code runs on wasm and in tests with virtual time.

use crate::http::{Transport, TransportError};
use crate::model::{Error, ErrorCode, GenerateEvent, GenerateResult, ProviderName};
use crate::providers::{self, mock::MockServer};
use crate::request::ValidRequest;
use crate::resilience::ClientState;
use crate::runtime::{CancelToken, Clock, Rng, Semaphore, Sleeper};
use crate::secret::scrub_key_like;
use futures_util::future::{join_all, select, Either};
use std::cell::RefCell;

mod cost;
mod part;
mod state;
mod stream;

use state::{Ctx, State};

/// Receives progress events.
pub trait EventSink {
    /// Called for each event, in order.
    fn emit(&self, event: GenerateEvent);
}

/// An event sink that drops everything.
pub struct NoEvents;

impl EventSink for NoEvents {
    fn emit(&self, _event: GenerateEvent) {}
}

impl<F: Fn(GenerateEvent)> EventSink for F {
    fn emit(&self, event: GenerateEvent) {
        self(event)
    }
}

/// The engine's surroundings.
pub struct Runtime<T, S, C, R> {
    /// Sends HTTP requests.
    pub transport: T,
    /// Waits.
    pub sleeper: S,
    /// Tells the time.
    pub clock: C,
    /// Randomness.
    pub rng: R,
}

/// Splits `count` into pieces of at most `max` (at least 1 each).
pub fn split_count(count: u32, max: u32) -> Vec<u32> {
    let max = max.max(1);
    let mut pieces = Vec::new();
    let mut left = count;
    while left > 0 {
        let piece = left.min(max);
        pieces.push(piece);
        left -= piece;
    }
    pieces
}

enum Interrupt {
    Aborted,
    Deadline,
}

/// Generates images for a validated request.
///
/// Resolves with a (possibly partial) result when at least one image was
/// made; otherwise fails with the last error encountered. Aborting fails with
/// `aborted` at once (finished images on the error); running out of
/// `deadlineMs` cancels calls in flight and reports `timeout`.
pub async fn generate<T, S, C, R>(
    rt: &Runtime<T, S, C, R>,
    req: &ValidRequest,
    events: &dyn EventSink,
    cancel: &CancelToken,
) -> Result<GenerateResult, Error>
where
    T: Transport,
    S: Sleeper,
    C: Clock,
    R: Rng,
{
    generate_with_client(rt, req, events, cancel, None).await
}

/// [`generate`] for a long-lived client: retries come out of the client's
/// retry budget, and providers whose circuit is open are skipped.
pub async fn generate_with_client<T, S, C, R>(
    rt: &Runtime<T, S, C, R>,
    req: &ValidRequest,
    events: &dyn EventSink,
    cancel: &CancelToken,
    client: Option<&ClientState>,
) -> Result<GenerateResult, Error>
where
    T: Transport,
    S: Sleeper,
    C: Clock,
    R: Rng,
{
    let ctx = Ctx {
        client,
        rt,
        transport: MockServer::new(&rt.transport, &rt.sleeper, &rt.rng),
        req,
        events,
        started_ms: rt.clock.now_ms(),
        semaphore: Semaphore::new(req.concurrency),
        state: RefCell::new(State::default()),
    };
    if cancel.is_cancelled() {
        return Err(Error::new(
            ErrorCode::Aborted,
            "the call was aborted before it started",
        ));
    }
    let Some(primary) = req.chain.first() else {
        return Err(Error::invalid(
            "providers",
            "`providers` must list at least one provider",
        ));
    };
    let max = providers::max_images_per_call(&req.image, primary);
    let pieces = split_count(req.image.count, max);
    if pieces.len() > 1 {
        ctx.warn_split(primary.provider, req.image.count, max);
    }
    ctx.state.borrow_mut().next_part = pieces.len() as u32;
    let parts: Vec<_> = pieces
        .iter()
        .enumerate()
        .map(|(i, &n)| ctx.run_part(i as u32, n, 0))
        .collect();
    let work = join_all(parts);

    let interrupt = async {
        let deadline = async {
            match req.deadline_ms {
                Some(ms) => rt.sleeper.sleep(ms).await,
                None => std::future::pending::<()>().await,
            }
        };
        match select(Box::pin(cancel.cancelled()), Box::pin(deadline)).await {
            Either::Left(_) => Interrupt::Aborted,
            Either::Right(_) => Interrupt::Deadline,
        }
    };
    let interrupted = match select(Box::pin(interrupt), work).await {
        Either::Left((i, _work)) => Some(i),
        Either::Right(_) => None,
    };

    match interrupted {
        Some(Interrupt::Aborted) => {
            ctx.end_in_flight(ErrorCode::Aborted);
            let mut e = Error::new(ErrorCode::Aborted, "the call was aborted");
            e.attempts = ctx.all_attempts();
            e.images = std::mem::take(&mut ctx.state.borrow_mut().images);
            Err(e)
        }
        Some(Interrupt::Deadline) => past_deadline(&ctx),
        None => finish(&ctx, None),
    }
}

/// Ends a call whose deadline passed: calls in flight end with `timeout`,
/// and so does every part not finished.
fn past_deadline<T: Transport, S: Sleeper, C: Clock, R: Rng>(
    ctx: &Ctx<'_, T, S, C, R>,
) -> Result<GenerateResult, Error> {
    ctx.end_in_flight(ErrorCode::Timeout);
    let deadline = ctx.req.deadline_ms.unwrap_or_default();
    let open: Vec<(u32, usize)> = ctx
        .state
        .borrow()
        .open_parts
        .iter()
        .map(|(p, i, _)| (*p, *i))
        .collect();
    for (part, entry_index) in open {
        let provider = ctx.req.chain.get(entry_index).map(|c| c.provider);
        let mut e = Error::new(
            ErrorCode::Timeout,
            format!("deadline of {deadline} ms exceeded before this part finished"),
        );
        e.provider = provider;
        ctx.fail_part(part, e);
    }
    finish(ctx, Some(deadline))
}

fn finish<T: Transport, S: Sleeper, C: Clock, R: Rng>(
    ctx: &Ctx<'_, T, S, C, R>,
    deadline: Option<u64>,
) -> Result<GenerateResult, Error> {
    let attempts = ctx.all_attempts();
    let mut st = ctx.state.borrow_mut();
    if st.images.is_empty() {
        let mut e = match deadline {
            Some(ms) => Error::new(ErrorCode::Timeout, format!("deadline of {ms} ms exceeded")),
            None => st.last_error.take().unwrap_or_else(|| {
                Error::new(ErrorCode::BadResponse, "no provider returned an image")
            }),
        };
        e.part = None;
        e.attempts = attempts;
        return Err(e);
    }
    let mut errors: Vec<_> = st.part_errors.iter().map(Error::to_info).collect();
    errors.sort_by_key(|e| e.part);
    Ok(GenerateResult {
        images: std::mem::take(&mut st.images),
        warnings: std::mem::take(&mut st.warnings),
        attempts,
        errors,
        usage: st.costs.usage(),
    })
}

/// Checks a key with the provider's free endpoint: `Ok(true)` when it
/// works, `Ok(false)` for auth/permission errors (and an empty key), `Err`
/// for anything else (rate limit, outage, network, timeout): a good key is
/// never reported bad. `mock` keys are valid unless empty.
pub async fn validate_key<T, S, C, R>(
    rt: &Runtime<T, S, C, R>,
    provider: ProviderName,
    key: &crate::secret::Secret,
    base_url: &str,
    timeout_ms: u64,
) -> Result<bool, Error>
where
    T: Transport,
    S: Sleeper,
    C: Clock,
    R: Rng,
{
    if key.is_blank() {
        return Ok(false);
    }
    let Some(request) = providers::validate_key_request(provider, key, base_url) else {
        return Ok(true);
    };
    let sent = select(
        Box::pin(rt.transport.send(request)),
        Box::pin(rt.sleeper.sleep(timeout_ms)),
    )
    .await;
    match sent {
        Either::Left((Ok(resp), _)) => {
            providers::parse_validate_key_response(provider, resp, key, rt.clock.now_ms())
        }
        Either::Left((Err(TransportError::Network(msg)), _)) => Err(Error::new(
            ErrorCode::Network,
            format!(
                "{provider} (network): key check failed: {}",
                scrub_key_like(&key.redact_in(&msg))
            ),
        )
        .with_provider(provider)),
        Either::Left((Err(TransportError::Aborted), _)) => {
            Err(Error::new(ErrorCode::Aborted, "the key check was aborted").with_provider(provider))
        }
        Either::Right(_) => Err(Error::new(
            ErrorCode::Timeout,
            format!("{provider} (timeout): key check got no response within {timeout_ms} ms"),
        )
        .with_provider(provider)),
    }
}
