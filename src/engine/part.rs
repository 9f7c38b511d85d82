//! One part of a call: its attempts on one provider (with retries), and its
//! way down the chain (with fallbacks that may split it). Every decision
//! comes from [`crate::policy`]; this code asks and obeys.

use super::split_count;
use super::state::Ctx;
use super::stream::Previews;
use crate::cost::BilledSlot;
use crate::http::{HttpResponse, Transport, TransportError};
use crate::model::WarningCode;
use crate::model::{Error, ErrorCode, GenerateEvent, GeneratedImage, Outcome, Warning};
use crate::policy::{decide_within, give_up, Decision, Limits, PolicyInput};
use crate::providers::{self, BuiltRequest, ParseContext};
use crate::request::ImageRequest;
use crate::resilience::RetryTicket;
use crate::runtime::{Clock, Rng, Sleeper};
use crate::secret::scrub_key_like;
use crate::sse::StreamDecoder;
use futures_util::future::{join_all, select, Either, LocalBoxFuture};
use futures_util::FutureExt;

/// How a part ended on one provider.
pub(super) enum ProviderOutcome {
    Done,
    Fallback(Error, u32),
    Stop(Error),
}

/// How one attempt ended: every image owed, or a failure (images may
/// have been delivered before it: `count` then holds what is still owed).
enum AttemptEnd {
    Done,
    Failed(Error),
}

/// Where a part goes after a fallback.
enum Next<'a> {
    /// On to this entry, in one piece.
    Entry(usize),
    /// Split: these runs (on the next entry) finish it.
    Pieces(Vec<LocalBoxFuture<'a, ()>>),
    /// Nowhere: the part failed.
    Failed,
}

/// Where a part stands on one provider.
struct Tries<'a> {
    part: u32,
    entry_index: usize,
    count: u32,
    attempt: u32,
    bad_responses: u32,
    /// Set once the entry refused to stream: later attempts ask no previews.
    no_stream: bool,
    /// A retry granted by the client's budget: spent when the call goes
    /// out, given back if it never does (dropped on any other path).
    ticket: Option<RetryTicket<'a>>,
    /// The estimate reserved for the next call.
    estimate: f64,
}

impl<'a, T: Transport, S: Sleeper, C: Clock, R: Rng> Ctx<'a, T, S, C, R> {
    /// Why an entry must be skipped without a call, if it must, and what
    /// then: an open circuit (the provider failed repeatedly in recent calls
    /// of this client), a retired model (it can only fail), or inputs the
    /// model cannot take (it would drop them).
    fn skip_reason(&self, t: &mut Tries<'_>, has_next: bool) -> Option<(Error, Decision)> {
        let skip = match self.skip_error(t) {
            Some(skip) => skip,
            None => (self.over_budget(t)?, true),
        };
        self.state.borrow_mut().last_error = Some(skip.0.clone());
        let decision = if skip.1 {
            crate::policy::skip_incapable(has_next)
        } else {
            give_up(skip.0.code, has_next, &self.req.fallback_on)
        };
        Some((skip.0, decision))
    }

    /// The cap's verdict on the next call: `None` when it may go out (its
    /// estimate then reserved in `t.estimate`), else the skip, recorded.
    fn over_budget(&self, t: &mut Tries<'_>) -> Option<Error> {
        let request = self.attempt_request(t);
        match self.reserve_cost(t.entry_index, &request) {
            Ok(estimate) => {
                t.estimate = estimate;
                None
            }
            Err(e) => {
                self.record_skip(t.part, t.entry_index, t.attempt, &e);
                Some(e)
            }
        }
    }

    /// The request of the next attempt: what is still owed, with previews
    /// unless the entry refused to stream.
    fn attempt_request(&self, t: &Tries<'_>) -> ImageRequest {
        let mut request = ImageRequest {
            count: t.count,
            ..self.req.image.clone()
        };
        if t.no_stream {
            request.partial_images = 0;
        }
        request
    }

    /// The skip error, and whether it is about the inputs.
    fn skip_error(&self, t: &Tries<'_>) -> Option<(Error, bool)> {
        let entry = &self.req.chain[t.entry_index];
        if let Some(e) = self.inputs_refused(t) {
            return Some((e, true));
        }
        if let Some(open) = self.circuit_open(t.entry_index) {
            return Some((
                Error::new(
                    open.code,
                    format!(
                        "{} ({} {}): skipped, circuit open after repeated failures (next trial in {} ms)",
                        entry.provider, entry.model, open.code, open.remaining_ms
                    ),
                )
                .with_provider(entry.provider),
                false,
            ));
        }
        let error = providers::retired_model_error(entry.provider, &entry.model)?;
        self.record_skip(t.part, t.entry_index, t.attempt, &error);
        self.push_warning(Warning {
            provider: entry.provider,
            code: WarningCode::ModelDeprecated,
            message: error.message.clone(),
        });
        Some((error, false))
    }

    /// An entry that cannot take the request's inputs: recorded as a skipped
    /// `unsupported` attempt with an `input_unsupported` warning.
    fn inputs_refused(&self, t: &Tries<'_>) -> Option<Error> {
        let inputs = self.req.image.inputs.as_ref()?;
        let entry = &self.req.chain[t.entry_index];
        let caps = providers::capabilities(entry).inputs;
        let why = crate::providers::edit::input_problem(&caps, &entry.model, inputs)?;
        let message = format!("{} ({}): skipped, {why}", entry.provider, entry.model);
        let error =
            Error::new(ErrorCode::Unsupported, message.clone()).with_provider(entry.provider);
        self.record_skip(t.part, t.entry_index, t.attempt, &error);
        self.push_warning(Warning {
            provider: entry.provider,
            code: WarningCode::InputUnsupported,
            message,
        });
        Some(error)
    }

    fn circuit_open(&self, entry_index: usize) -> Option<crate::resilience::OpenCircuit> {
        let c = self.client?;
        let entry = self.req.chain.get(entry_index)?;
        c.allow(entry, self.rt.clock.now_ms()).err()
    }

    /// Sends the request; a streaming one passes its previews on as
    /// `partial_image` events of `part` as they arrive.
    async fn send(
        &self,
        part: u32,
        entry_index: usize,
        request: &ImageRequest,
        built: &BuiltRequest,
    ) -> Result<HttpResponse, TransportError> {
        if !built.stream {
            return self.transport.send(built.request.clone()).await;
        }
        let entry = &self.req.chain[entry_index];
        let sink = Previews {
            events: self.events,
            part,
            provider: entry.provider,
            model: &entry.model,
        };
        let mut decoder = StreamDecoder::new(&sink, request.output_format);
        self.transport
            .send_stream(built.request.clone(), &mut decoder)
            .await
    }

    /// One provider call: the round trip, no retries. Requests served in
    /// process (the mock's) have no HTTP status.
    async fn call(
        &self,
        part: u32,
        entry_index: usize,
        request: &ImageRequest,
        built: &BuiltRequest,
        billed: &BilledSlot,
    ) -> (Option<u16>, Result<Vec<GeneratedImage>, Error>) {
        let entry = &self.req.chain[entry_index];
        let http = &built.request;
        match self.send(part, entry_index, request, built).await {
            Err(TransportError::Aborted) => (
                None,
                Err(Error::new(ErrorCode::Aborted, "the request was aborted")
                    .with_provider(entry.provider)),
            ),
            Err(TransportError::Network(msg)) => {
                let msg = scrub_key_like(&entry.api_key.redact_in(&msg));
                let message = format!(
                    "{} ({} network): request failed: {msg}",
                    entry.provider, entry.model
                );
                (
                    None,
                    Err(Error::new(ErrorCode::Network, message).with_provider(entry.provider)),
                )
            }
            Ok(resp) => {
                let status = Some(resp.status).filter(|_| http.over_http());
                let ctx = ParseContext {
                    request,
                    entry,
                    now_unix_ms: self.rt.clock.now_ms(),
                    billed,
                };
                (status, providers::parse_response(resp, &ctx))
            }
        }
    }

    /// The call with the per-attempt timeout around it.
    async fn call_in_time(
        &self,
        part: u32,
        entry_index: usize,
        request: &ImageRequest,
        built: &BuiltRequest,
        billed: &BilledSlot,
    ) -> (Option<u16>, Result<Vec<GeneratedImage>, Error>) {
        let entry = &self.req.chain[entry_index];
        let timeout = self.rt.sleeper.sleep(self.req.timeout_ms);
        let call = self.call(part, entry_index, request, built, billed);
        match select(Box::pin(call), Box::pin(timeout)).await {
            Either::Left((r, _)) => r,
            Either::Right(((), _)) => {
                let message = format!(
                    "{} ({} timeout): no response within {} ms",
                    entry.provider, entry.model, self.req.timeout_ms
                );
                (
                    None,
                    Err(Error::new(ErrorCode::Timeout, message).with_provider(entry.provider)),
                )
            }
        }
    }

    /// One attempt: build, send, parse, deliver.
    async fn attempt(&self, t: &mut Tries<'_>) -> AttemptEnd {
        let entry = &self.req.chain[t.entry_index];
        let request = self.attempt_request(t);
        let deprecated = providers::deprecation_warning(entry.provider, &entry.model);
        let built = match providers::build_request(&request, entry) {
            Ok(b) => b,
            Err(e) => {
                self.state.borrow_mut().costs.release(t.estimate);
                return AttemptEnd::Failed(e);
            }
        };
        let warnings = deprecated
            .into_iter()
            .chain(built.warnings.iter().cloned())
            .collect();
        self.add_warnings(t.entry_index, warnings);
        let permit = self.semaphore.acquire().await;
        if let Some(ticket) = t.ticket.take() {
            ticket.spend();
        }
        let slot = self.start_attempt(t.part, t.entry_index, t.attempt, t.estimate);
        let billed = BilledSlot::default();
        let (status, result) = self
            .call_in_time(t.part, t.entry_index, &request, &built, &billed)
            .await;
        drop(permit);
        self.settle_cost(
            slot,
            t.entry_index,
            &request,
            &result,
            billed.take(),
            t.estimate,
        );
        let mut images = match result {
            Ok(images) => images,
            Err(mut e) => {
                if e.status.is_none() {
                    e.status = status;
                }
                e.provider = Some(entry.provider);
                let outcome = Outcome::Failed(e.code);
                self.end_attempt(slot, outcome, e.status, e.retry_after_ms, 0);
                return AttemptEnd::Failed(e);
            }
        };
        images.truncate(t.count as usize);
        let got = images.len() as u32;
        self.end_attempt(slot, Outcome::Ok, status, None, got);
        self.deliver(t.part, images, self.attempt_cost(slot));
        if got >= t.count {
            self.state.borrow_mut().close(t.part);
            return AttemptEnd::Done;
        }
        let owed = t.count;
        t.count -= got;
        self.state
            .borrow_mut()
            .set_open(t.part, t.entry_index, t.count);
        let mut e = Error::new(
            ErrorCode::BadResponse,
            format!(
                "{} ({} bad_response): returned {got} of {owed} images",
                entry.provider, entry.model
            ),
        )
        .with_provider(entry.provider);
        e.status = status;
        AttemptEnd::Failed(e)
    }

    /// What the policy says after a failed attempt.
    fn decide_after(&self, t: &mut Tries<'a>, error: &Error) -> Decision {
        let entry = &self.req.chain[t.entry_index];
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
            t.bad_responses += 1;
        }
        let input = PolicyInput {
            error,
            attempt: t.attempt,
            bad_responses: t.bad_responses,
            remaining_ms: self.remaining_ms(),
            has_next_provider: t.entry_index + 1 < self.req.chain.len(),
        };
        let roll = self.rt.rng.next_f64();
        // The retry is reserved before asking; unless the answer is to
        // retry, dropping it gives it back.
        t.ticket = self
            .client
            .and_then(|c| c.try_retry(entry, self.rt.clock.now_ms()));
        let limits = Limits {
            circuit_open: false,
            retry_budget_left: self.client.is_none() || t.ticket.is_some(),
        };
        let decision = decide_within(&input, limits, &self.req.retry, &self.req.fallback_on, roll);
        if !matches!(decision, Decision::Retry { .. }) {
            t.ticket = None;
        }
        decision
    }

    /// Runs one part on one provider, with retries.
    pub(super) async fn run_on_provider(
        &self,
        part: u32,
        count: u32,
        entry_index: usize,
    ) -> ProviderOutcome {
        let entry = &self.req.chain[entry_index];
        let has_next = entry_index + 1 < self.req.chain.len();
        let mut t = Tries {
            part,
            entry_index,
            count,
            attempt: 0,
            bad_responses: 0,
            no_stream: false,
            ticket: None,
            estimate: 0.0,
        };
        loop {
            t.attempt += 1;
            let (error, decision) = match self.skip_reason(&mut t, has_next) {
                Some(skip) => skip,
                None => match self.attempt(&mut t).await {
                    AttemptEnd::Done => return ProviderOutcome::Done,
                    AttemptEnd::Failed(e)
                        if !t.no_stream && self.refused_streaming(entry_index, &e) =>
                    {
                        t.no_stream = true;
                        continue;
                    }
                    AttemptEnd::Failed(e) => {
                        let d = self.decide_after(&mut t, &e);
                        (e, d)
                    }
                },
            };
            match decision {
                Decision::Retry { delay_ms } => {
                    self.events.emit(GenerateEvent::RetryScheduled {
                        provider: entry.provider,
                        part,
                        attempt: t.attempt,
                        code: error.code,
                        delay_ms,
                    });
                    self.rt.sleeper.sleep(delay_ms).await;
                }
                Decision::Fallback => return ProviderOutcome::Fallback(error, t.count),
                Decision::Stop => return ProviderOutcome::Stop(error),
            }
        }
    }

    /// Runs one part down the chain from `entry_index`.
    pub(super) fn run_part(
        &self,
        part: u32,
        count: u32,
        entry_index: usize,
    ) -> LocalBoxFuture<'_, ()> {
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
                        match self.fall_back(part, entry_index, e, left) {
                            Next::Entry(next) => {
                                entry_index = next;
                                count = left;
                                self.state.borrow_mut().set_open(part, entry_index, count);
                            }
                            Next::Pieces(runs) => {
                                join_all(runs).await;
                                return;
                            }
                            Next::Failed => return,
                        }
                    }
                }
            }
        }
        .boxed_local()
    }

    /// Moves a part to the next entry: in one piece, or split when the next
    /// provider makes fewer images per call.
    fn fall_back(&self, part: u32, entry_index: usize, e: Error, left: u32) -> Next<'_> {
        let next = entry_index + 1;
        let (Some(from), Some(to)) = (self.req.chain.get(entry_index), self.req.chain.get(next))
        else {
            self.fail_part(part, e);
            return Next::Failed;
        };
        let fallback = |p: u32| GenerateEvent::Fallback {
            part: p,
            from: from.provider,
            to: to.provider,
            code: e.code,
        };
        self.events.emit(fallback(part));
        let max = providers::max_images_per_call(&self.req.image, to);
        let pieces = split_count(left, max);
        if pieces.len() <= 1 {
            return Next::Entry(next);
        }
        // The first piece keeps this part's number; the rest get new
        // numbers, each announced by its own fallback event.
        let mut runs = Vec::with_capacity(pieces.len());
        for (i, piece) in pieces.into_iter().enumerate() {
            let id = if i == 0 {
                part
            } else {
                let id = self.new_part();
                self.events.emit(fallback(id));
                id
            };
            runs.push(self.run_part(id, piece, next));
        }
        self.warn_split(to.provider, left, max);
        Next::Pieces(runs)
    }
}
