//! The bookkeeping of one call: attempts, images, warnings, errors, parts
//! still open, and the events that report them.

use super::{EventSink, Runtime};
use crate::http::Transport;
use crate::model::{
    Attempt, Error, ErrorCode, GenerateEvent, GeneratedImage, Outcome, ProviderName, Warning,
    WarningCode,
};
use crate::providers::mock::MockServer;
use crate::request::ValidRequest;
use crate::resilience::ClientState;
use crate::runtime::{Clock, Rng, Semaphore, Sleeper};
use std::cell::RefCell;

pub(super) struct AttemptSlot {
    pub(super) attempt: Attempt,
    pub(super) entry_index: usize,
    pub(super) done: bool,
    /// The estimate reserved for the call, and whether its cost is settled.
    pub(super) estimate: f64,
    pub(super) costed: bool,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) attempts: Vec<AttemptSlot>,
    pub(super) images: Vec<GeneratedImage>,
    pub(super) warnings: Vec<Warning>,
    pub(super) warned_entries: Vec<usize>,
    pub(super) part_errors: Vec<Error>,
    pub(super) last_error: Option<Error>,
    pub(super) next_part: u32,
    /// Parts not finished yet: (part, chain index in use, images still owed).
    pub(super) open_parts: Vec<(u32, usize, u32)>,
    /// Costs so far, and what the cap has left.
    pub(super) costs: crate::cost::CostTally,
}

impl State {
    /// Records where a part stands (inserting it if new).
    pub(super) fn set_open(&mut self, part: u32, entry_index: usize, owed: u32) {
        match self.open_parts.iter_mut().find(|(p, _, _)| *p == part) {
            Some(slot) => *slot = (part, entry_index, owed),
            None => self.open_parts.push((part, entry_index, owed)),
        }
    }

    /// Marks a part finished.
    pub(super) fn close(&mut self, part: u32) {
        self.open_parts.retain(|(p, _, _)| *p != part);
    }
}

pub(super) struct Ctx<'a, T, S, C, R> {
    pub(super) rt: &'a Runtime<T, S, C, R>,
    /// The runtime's transport, with the mock's requests answered in process.
    pub(super) transport: MockServer<'a, T, S, R>,
    pub(super) req: &'a ValidRequest,
    pub(super) events: &'a dyn EventSink,
    pub(super) started_ms: u64,
    pub(super) semaphore: Semaphore,
    pub(super) state: RefCell<State>,
    pub(super) client: Option<&'a ClientState>,
}

impl<T: Transport, S: Sleeper, C: Clock, R: Rng> Ctx<'_, T, S, C, R> {
    pub(super) fn elapsed_ms(&self) -> u64 {
        self.rt.clock.now_ms().saturating_sub(self.started_ms)
    }

    pub(super) fn remaining_ms(&self) -> Option<u64> {
        self.req
            .deadline_ms
            .map(|d| d.saturating_sub(self.elapsed_ms()))
    }

    pub(super) fn add_warnings(&self, entry_index: usize, warnings: Vec<Warning>) {
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

    pub(super) fn push_warning(&self, w: Warning) {
        let mut st = self.state.borrow_mut();
        if !st.warnings.contains(&w) {
            st.warnings.push(w);
        }
    }

    /// Records an entry skipped without a call: an attempt with `skipped`,
    /// announced by the usual start/end events.
    pub(super) fn record_skip(&self, part: u32, entry_index: usize, attempt: u32, error: &Error) {
        let slot = self.open_attempt(part, entry_index, attempt);
        let outcome = Outcome::Failed(error.code);
        let event = {
            let mut st = self.state.borrow_mut();
            let Some(s) = st.attempts.get_mut(slot) else {
                return;
            };
            s.done = true;
            s.costed = true;
            s.attempt.outcome = outcome;
            s.attempt.skipped = true;
            s.attempt.cost_usd = Some(0.0);
            GenerateEvent::AttemptEnd {
                provider: s.attempt.provider,
                model: s.attempt.model.clone(),
                part,
                attempt,
                outcome,
                status: None,
                duration_ms: 0,
                cost_usd: Some(0.0),
            }
        };
        self.events.emit(event);
    }

    /// Starts an attempt that goes out: counted in the client's budget.
    pub(super) fn start_attempt(
        &self,
        part: u32,
        entry_index: usize,
        attempt: u32,
        estimate: f64,
    ) -> usize {
        let slot = self.open_attempt(part, entry_index, attempt);
        if let Some(s) = self.state.borrow_mut().attempts.get_mut(slot) {
            s.estimate = estimate;
        }
        if let (Some(c), Some(entry)) = (self.client, self.req.chain.get(entry_index)) {
            c.record_call(entry, self.rt.clock.now_ms());
        }
        slot
    }

    /// Announces an attempt and records it, in flight.
    fn open_attempt(&self, part: u32, entry_index: usize, attempt: u32) -> usize {
        let entry = &self.req.chain[entry_index];
        self.events.emit(GenerateEvent::AttemptStart {
            provider: entry.provider,
            model: entry.model.clone(),
            part,
            attempt,
        });
        let started_at_ms = self.elapsed_ms();
        let mut st = self.state.borrow_mut();
        st.attempts.push(AttemptSlot {
            attempt: Attempt {
                provider: entry.provider,
                model: entry.model.clone(),
                part,
                attempt,
                started_at_ms,
                duration_ms: 0,
                outcome: Outcome::Ok,
                status: None,
                retry_after_ms: None,
                images: 0,
                skipped: false,
                cost_usd: None,
            },
            entry_index,
            done: false,
            estimate: 0.0,
            costed: false,
        });
        st.attempts.len() - 1
    }

    pub(super) fn end_attempt(
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
                cost_usd: a.cost_usd,
            }
        };
        self.events.emit(event);
    }

    /// Ends every attempt still in flight (deadline or abort).
    pub(super) fn end_in_flight(&self, code: ErrorCode) {
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
            let estimate = self
                .state
                .borrow()
                .attempts
                .get(slot)
                .map_or(0.0, |s| s.estimate);
            self.record_cost(slot, None, 0, estimate);
            self.end_attempt(slot, Outcome::Failed(code), None, None, 0);
        }
    }

    pub(super) fn deliver(&self, part: u32, images: Vec<GeneratedImage>, cost: Option<f64>) {
        let share = cost.map(|c| c / images.len().max(1) as f64);
        for mut image in images {
            image.cost_usd = share;
            let index = {
                let mut st = self.state.borrow_mut();
                st.images.push(image.clone());
                (st.images.len() - 1) as u32
            };
            self.events
                .emit(GenerateEvent::Image { part, index, image });
        }
    }

    pub(super) fn attempts_of_part(&self, part: u32) -> Vec<Attempt> {
        self.state
            .borrow()
            .attempts
            .iter()
            .filter(|s| s.attempt.part == part)
            .map(|s| s.attempt.clone())
            .collect()
    }

    pub(super) fn fail_part(&self, part: u32, mut error: Error) {
        error.part = Some(part);
        error.attempts = self.attempts_of_part(part);
        let mut st = self.state.borrow_mut();
        st.close(part);
        st.part_errors.push(error);
    }

    /// A new part number (for the pieces of a split part).
    pub(super) fn new_part(&self) -> u32 {
        let mut st = self.state.borrow_mut();
        let id = st.next_part;
        st.next_part += 1;
        id
    }

    pub(super) fn warn_split(&self, provider: ProviderName, count: u32, max: u32) {
        self.push_warning(Warning {
            provider,
            code: WarningCode::CountSplit,
            message: format!(
                "{provider} makes at most {max} image(s) per call; {count} images were requested in {} calls",
                count.div_ceil(max.max(1))
            ),
        });
    }

    /// The cost recorded on an attempt.
    pub(super) fn attempt_cost(&self, slot: usize) -> Option<f64> {
        self.state
            .borrow()
            .attempts
            .get(slot)
            .and_then(|s| s.attempt.cost_usd)
    }

    pub(super) fn all_attempts(&self) -> Vec<Attempt> {
        self.state
            .borrow()
            .attempts
            .iter()
            .map(|s| s.attempt.clone())
            .collect()
    }
}
