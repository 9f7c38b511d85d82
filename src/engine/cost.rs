//! The call's costs in the engine: the price of each entry, the cap checked
//! (and the estimate reserved) before each call, and each attempt's cost
//! settled after it.

use super::state::Ctx;
use crate::cost::{price_for, Billed, Price};
use crate::http::Transport;
use crate::model::{Error, ErrorCode, GeneratedImage, Warning, WarningCode};
use crate::request::{ChainEntry, ImageRequest};
use crate::runtime::{Clock, Rng, Sleeper};

impl<'a, T: Transport, S: Sleeper, C: Clock, R: Rng> Ctx<'a, T, S, C, R> {
    /// The entry's price: the call's `prices`, the client's, the table.
    pub(super) fn price(&self, entry: &ChainEntry) -> Option<Price<'a>> {
        let client: &'a [_] = self.client.map_or(&[], |c| c.prices.as_slice());
        price_for(entry, &[self.req.prices.as_slice(), client])
    }

    fn warn_price_unknown(&self, entry: &ChainEntry, why: &str) {
        self.push_warning(Warning {
            provider: entry.provider,
            code: WarningCode::PriceUnknown,
            message: format!(
                "{} ({}): no price known, {why}; set one with `prices`",
                entry.provider, entry.model
            ),
        });
    }

    /// Before a call: its estimate, reserved against the cap; or, with a
    /// cap set, the `budget_exceeded` error that skips the entry (the call
    /// would exceed what is left, or its price is unknown).
    pub(super) fn reserve_cost(
        &self,
        entry_index: usize,
        request: &ImageRequest,
    ) -> Result<f64, Error> {
        let entry = &self.req.chain[entry_index];
        let price = self.price(entry);
        let estimate = price.map_or(0.0, |p| p.estimate(request, entry));
        if let Some(cap) = self.req.max_cost_usd {
            let skip = |detail: String| {
                Error::new(
                    ErrorCode::BudgetExceeded,
                    format!("{} ({}): skipped, {detail}", entry.provider, entry.model),
                )
                .with_provider(entry.provider)
            };
            if price.is_none() {
                self.warn_price_unknown(entry, "so it is skipped under maxCostUsd");
                return Err(skip(format!("no price known under maxCostUsd {cap}")));
            }
            let left = self.state.borrow().costs.left(cap);
            if estimate > left + 1e-12 {
                return Err(skip(format!(
                    "the call would cost about ${estimate:.4}, ${:.4} of maxCostUsd {cap} is left",
                    left.max(0.0)
                )));
            }
        }
        self.state.borrow_mut().costs.reserve(estimate);
        Ok(estimate)
    }

    /// After a call: what it cost (`None`: unknown), recorded on its
    /// attempt and in the totals. Answers without a billing (errors) cost
    /// nothing; a call cut off by a timeout or an abort may have been
    /// billed, so its cost is unknown (the cap counts its estimate).
    pub(super) fn settle_cost(
        &self,
        slot: usize,
        entry_index: usize,
        request: &ImageRequest,
        result: &Result<Vec<GeneratedImage>, Error>,
        billed: Option<Billed>,
        estimate: f64,
    ) {
        let entry = &self.req.chain[entry_index];
        let cut_off =
            matches!(result, Err(e) if matches!(e.code, ErrorCode::Timeout | ErrorCode::Aborted));
        let (images, billed) = match result {
            Ok(images) => {
                let n = (images.len() as u32).min(request.count);
                (n, Some(billed.unwrap_or(Billed::Images(n))))
            }
            Err(_) if cut_off => (0, None),
            Err(_) => (0, billed),
        };
        if cut_off {
            self.state.borrow_mut().costs.add_tokens(None);
        }
        if let Some(b) = billed {
            let tokens = match b {
                Billed::Tokens(t) => Some(t),
                Billed::Images(_) => None,
            };
            self.state.borrow_mut().costs.add_tokens(tokens);
        }
        let cost = match (billed, self.price(entry)) {
            _ if cut_off => None,
            (None, _) => Some(0.0),
            (Some(b), Some(p)) => Some(p.cost(b, request, entry)),
            (Some(_), None) => {
                self.warn_price_unknown(entry, "so this call's cost is unknown");
                None
            }
        };
        self.record_cost(slot, cost, images, estimate);
    }

    /// Records a cost on an attempt and in the totals.
    pub(super) fn record_cost(&self, slot: usize, cost: Option<f64>, images: u32, estimate: f64) {
        let mut st = self.state.borrow_mut();
        let Some(s) = st.attempts.get_mut(slot) else {
            return;
        };
        if s.costed {
            return;
        }
        s.costed = true;
        s.attempt.cost_usd = cost;
        let (provider, model) = (s.attempt.provider, s.attempt.model.clone());
        st.costs.settle(provider, &model, images, cost, estimate);
    }
}
