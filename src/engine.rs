//! Async orchestration: splits the count into provider calls, runs them with
//! bounded concurrency, retries, falls back, re-maps options per provider,
//! emits progress events and collects partial results.
//!
//! All I/O and time come through [`Transport`], [`Sleeper`], [`Clock`] and
//! [`Rng`], so the same code runs on wasm and in tests with virtual time.

use crate::client::ClientState;
use crate::http::{Transport, TransportError};
use crate::model::{
    Attempt, Error, ErrorCode, GenerateEvent, GenerateResult, GeneratedImage, Outcome,
    ProviderName, Warning, WarningCode,
};
use crate::policy::{decide, Decision, PolicyInput};
use crate::providers::mock::MockServer;
use crate::providers::{self, ParseContext};
use crate::request::{ImageRequest, ValidRequest};
use crate::runtime::{CancelToken, Clock, Rng, Semaphore, Sleeper};
use crate::secret::scrub_key_like;
use futures_util::future::{join_all, select, Either, LocalBoxFuture};
use futures_util::FutureExt;
use std::cell::RefCell;

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

struct AttemptSlot {
    attempt: Attempt,
    entry_index: usize,
    done: bool,
}

#[derive(Default)]
struct State {
    attempts: Vec<AttemptSlot>,
    images: Vec<GeneratedImage>,
    warnings: Vec<Warning>,
    warned_entries: Vec<usize>,
    part_errors: Vec<Error>,
    last_error: Option<Error>,
    next_part: u32,
    /// Parts not finished yet: (part, chain index in use, images still owed).
    open_parts: Vec<(u32, usize, u32)>,
}

impl State {
    /// Records where a part stands (inserting it if new).
    fn set_open(&mut self, part: u32, entry_index: usize, owed: u32) {
        match self.open_parts.iter_mut().find(|(p, _, _)| *p == part) {
            Some(slot) => *slot = (part, entry_index, owed),
            None => self.open_parts.push((part, entry_index, owed)),
        }
    }

    /// Marks a part finished.
    fn close(&mut self, part: u32) {
        self.open_parts.retain(|(p, _, _)| *p != part);
    }
}

struct Ctx<'a, T, S, C, R> {
    rt: &'a Runtime<T, S, C, R>,
    /// The runtime's transport, with the mock's requests answered in process.
    transport: MockServer<'a, T, S, R>,
    req: &'a ValidRequest,
    events: &'a dyn EventSink,
    started_ms: u64,
    semaphore: Semaphore,
    state: RefCell<State>,
    client: Option<&'a ClientState>,
}

enum ProviderOutcome {
    Done,
    Fallback(Error, u32),
    Stop(Error),
}

impl<T: Transport, S: Sleeper, C: Clock, R: Rng> Ctx<'_, T, S, C, R> {
    fn elapsed_ms(&self) -> u64 {
        self.rt.clock.now_ms().saturating_sub(self.started_ms)
    }

    fn remaining_ms(&self) -> Option<u64> {
        self.req
            .deadline_ms
            .map(|d| d.saturating_sub(self.elapsed_ms()))
    }

    fn add_warnings(&self, entry_index: usize, warnings: Vec<Warning>) {
        let mut st = self.state.borrow_mut();
        if st.warned_entries.contains(&entry_index) {
            return;
        }
        st.warned_entries.push(entry_index);
        for w in warnings {
            if !st.warnings.contains(&w) {
                st.warnings.push(w);
            }
        }
    }

    fn push_warning(&self, w: Warning) {
        let mut st = self.state.borrow_mut();
        if !st.warnings.contains(&w) {
            st.warnings.push(w);
        }
    }

    /// Why an entry must be skipped without a call, if it must: a retired
    /// model can only fail.
    fn preflight(&self, entry_index: usize) -> Option<(Error, Warning)> {
        let entry = &self.req.chain[entry_index];
        let e = providers::retired_model_error(entry.provider, &entry.model)?;
        let w = Warning {
            provider: entry.provider,
            code: WarningCode::ModelDeprecated,
            message: e.message.clone(),
        };
        Some((e, w))
    }

    /// Records an entry skipped without a call: an attempt with `skipped`,
    /// announced by the usual start/end events.
    fn record_skip(&self, part: u32, entry_index: usize, attempt: u32, error: &Error) {
        let entry = &self.req.chain[entry_index];
        self.events.emit(GenerateEvent::AttemptStart {
            provider: entry.provider,
            model: entry.model.clone(),
            part,
            attempt,
        });
        let started_at_ms = self.elapsed_ms();
        self.state.borrow_mut().attempts.push(AttemptSlot {
            attempt: Attempt {
                provider: entry.provider,
                model: entry.model.clone(),
                part,
                attempt,
                started_at_ms,
                duration_ms: 0,
                outcome: Outcome::Failed(error.code),
                status: None,
                retry_after_ms: None,
                images: 0,
                skipped: true,
            },
            entry_index,
            done: true,
        });
        self.events.emit(GenerateEvent::AttemptEnd {
            provider: entry.provider,
            model: entry.model.clone(),
            part,
            attempt,
            outcome: Outcome::Failed(error.code),
            status: None,
            duration_ms: 0,
        });
    }

    fn start_attempt(&self, part: u32, entry_index: usize, attempt: u32) -> usize {
        let entry = &self.req.chain[entry_index];
        self.events.emit(GenerateEvent::AttemptStart {
            provider: entry.provider,
            model: entry.model.clone(),
            part,
            attempt,
        });
        let mut st = self.state.borrow_mut();
        st.attempts.push(AttemptSlot {
            attempt: Attempt {
                provider: entry.provider,
                model: entry.model.clone(),
                part,
                attempt,
                started_at_ms: self.elapsed_ms(),
                duration_ms: 0,
                outcome: Outcome::Ok,
                status: None,
                retry_after_ms: None,
                images: 0,
                skipped: false,
            },
            entry_index,
            done: false,
        });
        if let Some(c) = self.client {
            c.record_call(entry, self.rt.clock.now_ms());
        }
        st.attempts.len() - 1
    }

    fn end_attempt(
        &self,
        slot: usize,
        outcome: Outcome,
        status: Option<u16>,
        retry_after_ms: Option<u64>,
        images: u32,
    ) {
        let now = self.elapsed_ms();
        let event = {
            let mut st = self.state.borrow_mut();
            let Some(s) = st.attempts.get_mut(slot) else {
                return;
            };
            if s.done {
                return;
            }
            s.done = true;
            if let (Some(c), Some(entry)) = (self.client, self.req.chain.get(s.entry_index)) {
                let result = match outcome {
                    Outcome::Ok => Ok(()),
                    Outcome::Failed(code) => Err(code),
                };
                c.record_outcome(entry, result, self.rt.clock.now_ms());
            }
            let a = &mut s.attempt;
            a.duration_ms = now.saturating_sub(a.started_at_ms);
            a.outcome = outcome;
            a.status = status;
            a.retry_after_ms = retry_after_ms;
            a.images = images;
            GenerateEvent::AttemptEnd {
                provider: a.provider,
                model: a.model.clone(),
                part: a.part,
                attempt: a.attempt,
                outcome,
                status,
                duration_ms: a.duration_ms,
            }
        };
        self.events.emit(event);
    }

    /// Ends every attempt still in flight (deadline or abort).
    fn end_in_flight(&self, code: ErrorCode) {
        let open: Vec<usize> = self
            .state
            .borrow()
            .attempts
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.done)
            .map(|(i, _)| i)
            .collect();
        for slot in open {
            self.end_attempt(slot, Outcome::Failed(code), None, None, 0);
        }
    }

    fn deliver(&self, part: u32, images: Vec<GeneratedImage>) {
        for image in images {
            let index = {
                let mut st = self.state.borrow_mut();
                st.images.push(image.clone());
                (st.images.len() - 1) as u32
            };
            self.events
                .emit(GenerateEvent::Image { part, index, image });
        }
    }

    fn attempts_of_part(&self, part: u32) -> Vec<Attempt> {
        self.state
            .borrow()
            .attempts
            .iter()
            .filter(|s| s.attempt.part == part)
            .map(|s| s.attempt.clone())
            .collect()
    }

    fn fail_part(&self, part: u32, mut error: Error) {
        error.part = Some(part);
        error.attempts = self.attempts_of_part(part);
        let mut st = self.state.borrow_mut();
        st.close(part);
        st.part_errors.push(error);
    }

    /// One provider call: the round trip, no retries. Requests served in
    /// process (the mock's) have no HTTP status.
    async fn call(
        &self,
        entry_index: usize,
        request: &ImageRequest,
        http: &crate::http::HttpRequest,
    ) -> (Option<u16>, Result<Vec<GeneratedImage>, Error>) {
        let entry = &self.req.chain[entry_index];
        match self.transport.send(http.clone()).await {
            Err(TransportError::Aborted) => (
                None,
                Err(Error::new(ErrorCode::Aborted, "the request was aborted")
                    .with_provider(entry.provider)),
            ),
            Err(TransportError::Network(msg)) => {
                let msg = scrub_key_like(&entry.api_key.redact_in(&msg));
                (
                    None,
                    Err(Error::new(
                        ErrorCode::Network,
                        format!(
                            "{} ({} network): request failed: {msg}",
                            entry.provider, entry.model
                        ),
                    )
                    .with_provider(entry.provider)),
                )
            }
            Ok(resp) => {
                let status = Some(resp.status).filter(|_| http.over_http());
                let ctx = ParseContext {
                    request,
                    entry,
                    now_unix_ms: self.rt.clock.now_ms(),
                };
                (status, providers::parse_response(resp, &ctx))
            }
        }
    }

    /// Runs one part on one provider, with retries.
    async fn run_on_provider(
        &self,
        part: u32,
        mut count: u32,
        entry_index: usize,
    ) -> ProviderOutcome {
        let entry = &self.req.chain[entry_index];
        let has_next = entry_index + 1 < self.req.chain.len();
        let mut attempt = 0u32;
        let mut bad_responses = 0u32;
        // A retry granted by the client's budget: spent when the call goes
        // out, given back if it never does (dropped on any other path).
        let mut retry_ticket: Option<crate::client::RetryTicket<'_>> = None;
        loop {
            attempt += 1;
            if let Some(open) = self.circuit_open(entry_index) {
                // Skipped without a call: the provider failed repeatedly in
                // recent calls of this client.
                let e = Error::new(
                    open.code,
                    format!(
                        "{} ({} {}): skipped, circuit open after repeated failures (next trial in {} ms)",
                        entry.provider, entry.model, open.code, open.remaining_ms
                    ),
                )
                .with_provider(entry.provider);
                self.state.borrow_mut().last_error = Some(e.clone());
                return if has_next && self.req.fallback_on.contains(&e.code) {
                    ProviderOutcome::Fallback(e, count)
                } else {
                    ProviderOutcome::Stop(e)
                };
            }
            if let Some((error, warning)) = self.preflight(entry_index) {
                self.record_skip(part, entry_index, attempt, &error);
                self.push_warning(warning);
                self.state.borrow_mut().last_error = Some(error.clone());
                return if has_next && self.req.fallback_on.contains(&error.code) {
                    ProviderOutcome::Fallback(error, count)
                } else {
                    ProviderOutcome::Stop(error)
                };
            }
            let request = ImageRequest {
                count,
                ..self.req.image.clone()
            };
            let deprecated = providers::deprecation_warning(entry.provider, &entry.model);
            let built = providers::build_request(&request, entry).map(|b| {
                self.add_warnings(
                    entry_index,
                    deprecated.into_iter().chain(b.warnings).collect(),
                );
                b.request
            });
            let error = match built {
                Err(e) => e,
                Ok(http) => {
                    let permit = self.semaphore.acquire().await;
                    if let Some(ticket) = retry_ticket.take() {
                        ticket.spend();
                    }
                    let slot = self.start_attempt(part, entry_index, attempt);
                    let timeout = self.rt.sleeper.sleep(self.req.timeout_ms);
                    let call = self.call(entry_index, &request, &http);
                    let (status, result) = match select(Box::pin(call), Box::pin(timeout)).await {
                        Either::Left((r, _)) => r,
                        Either::Right(((), _)) => (
                            None,
                            Err(Error::new(
                                ErrorCode::Timeout,
                                format!(
                                    "{} ({} timeout): no response within {} ms",
                                    entry.provider, entry.model, self.req.timeout_ms
                                ),
                            )
                            .with_provider(entry.provider)),
                        ),
                    };
                    drop(permit);
                    match result {
                        Ok(mut images) => {
                            images.truncate(count as usize);
                            let got = images.len() as u32;
                            self.end_attempt(slot, Outcome::Ok, status, None, got);
                            self.deliver(part, images);
                            if got >= count {
                                self.state.borrow_mut().close(part);
                                return ProviderOutcome::Done;
                            }
                            count -= got;
                            self.state.borrow_mut().set_open(part, entry_index, count);
                            let mut e = Error::new(
                                ErrorCode::BadResponse,
                                format!(
                                    "{} ({} bad_response): returned {got} of {} images",
                                    entry.provider,
                                    entry.model,
                                    count + got
                                ),
                            )
                            .with_provider(entry.provider);
                            e.status = status;
                            e
                        }
                        Err(mut e) => {
                            if e.status.is_none() {
                                e.status = status;
                            }
                            e.provider = Some(entry.provider);
                            self.end_attempt(
                                slot,
                                Outcome::Failed(e.code),
                                e.status,
                                e.retry_after_ms,
                                0,
                            );
                            e
                        }
                    }
                }
            };
            if error.code == ErrorCode::InvalidRequest && error.status.is_some() {
                // A provider refused what passed our checks: the chain moves
                // on, and the refusal stays visible.
                self.push_warning(Warning {
                    provider: entry.provider,
                    code: WarningCode::ProviderRejectedRequest,
                    message: error.message.clone(),
                });
            }
            self.state.borrow_mut().last_error = Some(error.clone());
            if error.code == ErrorCode::BadResponse {
                bad_responses += 1;
            }
            let input = PolicyInput {
                error: &error,
                attempt,
                bad_responses,
                remaining_ms: self.remaining_ms(),
                has_next_provider: has_next,
            };
            let roll = self.rt.rng.next_f64();
            let mut decision = decide(&input, &self.req.retry, &self.req.fallback_on, roll);
            if let (Decision::Retry { .. }, Some(c)) = (decision, self.client) {
                retry_ticket = c.try_retry(entry, self.rt.clock.now_ms());
                if retry_ticket.is_none() {
                    // Retry budget spent: treat this provider as exhausted.
                    decision = if has_next && self.req.fallback_on.contains(&error.code) {
                        Decision::Fallback
                    } else {
                        Decision::Stop
                    };
                }
            }
            match decision {
                Decision::Retry { delay_ms } => {
                    self.events.emit(GenerateEvent::RetryScheduled {
                        provider: entry.provider,
                        part,
                        attempt,
                        code: error.code,
                        delay_ms,
                    });
                    self.rt.sleeper.sleep(delay_ms).await;
                }
                Decision::Fallback => return ProviderOutcome::Fallback(error, count),
                Decision::Stop => return ProviderOutcome::Stop(error),
            }
        }
    }

    /// Runs one part down the chain from `entry_index`.
    fn run_part(&self, part: u32, count: u32, entry_index: usize) -> LocalBoxFuture<'_, ()> {
        async move {
            let mut entry_index = entry_index;
            let mut count = count;
            self.state.borrow_mut().set_open(part, entry_index, count);
            loop {
                match self.run_on_provider(part, count, entry_index).await {
                    ProviderOutcome::Done => return,
                    ProviderOutcome::Stop(e) => {
                        self.fail_part(part, e);
                        return;
                    }
                    ProviderOutcome::Fallback(e, left) => {
                        let next = entry_index + 1;
                        let (Some(from), Some(to)) =
                            (self.req.chain.get(entry_index), self.req.chain.get(next))
                        else {
                            self.fail_part(part, e);
                            return;
                        };
                        let fallback = |p: u32| GenerateEvent::Fallback {
                            part: p,
                            from: from.provider,
                            to: to.provider,
                            code: e.code,
                        };
                        self.events.emit(fallback(part));
                        let max = providers::capabilities(to).max_images_per_call;
                        let pieces = split_count(left, max);
                        if pieces.len() <= 1 {
                            entry_index = next;
                            count = left;
                            self.state.borrow_mut().set_open(part, entry_index, count);
                            continue;
                        }
                        // The first piece keeps this part's number; the rest get
                        // new numbers, each announced by its own fallback event.
                        let mut runs = Vec::with_capacity(pieces.len());
                        for (i, piece) in pieces.into_iter().enumerate() {
                            let id = if i == 0 {
                                part
                            } else {
                                let id = {
                                    let mut st = self.state.borrow_mut();
                                    let id = st.next_part;
                                    st.next_part += 1;
                                    id
                                };
                                self.events.emit(fallback(id));
                                id
                            };
                            runs.push(self.run_part(id, piece, next));
                        }
                        self.warn_split(to.provider, left, max);
                        join_all(runs).await;
                        return;
                    }
                }
            }
        }
        .boxed_local()
    }

    fn circuit_open(&self, entry_index: usize) -> Option<crate::client::OpenCircuit> {
        let c = self.client?;
        let entry = self.req.chain.get(entry_index)?;
        c.allow(entry, self.rt.clock.now_ms()).err()
    }

    fn warn_split(&self, provider: ProviderName, count: u32, max: u32) {
        self.push_warning(Warning {
            provider,
            code: WarningCode::CountSplit,
            message: format!(
                "{provider} makes at most {max} image(s) per call; {count} images were requested in {} calls",
                count.div_ceil(max.max(1))
            ),
        });
    }

    fn all_attempts(&self) -> Vec<Attempt> {
        self.state
            .borrow()
            .attempts
            .iter()
            .map(|s| s.attempt.clone())
            .collect()
    }
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
    let max = providers::capabilities(primary).max_images_per_call;
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
        Some(Interrupt::Deadline) => {
            ctx.end_in_flight(ErrorCode::Timeout);
            let deadline = req.deadline_ms.unwrap_or_default();
            let open: Vec<(u32, usize)> = ctx
                .state
                .borrow()
                .open_parts
                .iter()
                .map(|(p, i, _)| (*p, *i))
                .collect();
            for (part, entry_index) in open {
                let provider = req.chain.get(entry_index).map(|c| c.provider);
                let mut e = Error::new(
                    ErrorCode::Timeout,
                    format!("deadline of {deadline} ms exceeded before this part finished"),
                );
                e.provider = provider;
                ctx.fail_part(part, e);
            }
            finish(&ctx, Some(deadline))
        }
        None => finish(&ctx, None),
    }
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
