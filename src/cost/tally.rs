//! The call's cost: what each attempt cost (or that it is unknown), the
//! totals per provider and model, and what the cap has left.

use super::Tokens;
use crate::model::ProviderName;
use serde::Serialize;
use tsify::Tsify;

/// Cost of a call, in `GenerateResult.usage`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Total USD; `null` when some attempt's cost is unknown (a model
    /// without a price, a call cut off by a timeout or an abort).
    #[tsify(type = "number | null")]
    pub cost_usd: Option<f64>,
    /// Per provider and model, in order of first attempt.
    pub by_provider: Vec<ProviderUsage>,
    /// The tokens billed, when every billed call reported them (for
    /// servers that answer in OpenAI's `usage` shape; not in the JS result).
    #[serde(skip)]
    pub tokens: Option<Tokens>,
}

/// One provider and model's share of a call.
#[derive(Debug, Clone, PartialEq, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ProviderUsage {
    /// Provider.
    pub provider: ProviderName,
    /// Model.
    pub model: String,
    /// Images it delivered.
    pub images: u32,
    /// USD; `null` when unknown.
    #[tsify(type = "number | null")]
    pub cost_usd: Option<f64>,
}

/// Running totals of one call.
#[derive(Debug, Default)]
pub struct CostTally {
    rows: Vec<ProviderUsage>,
    /// Spent so far, counting an attempt of unknown cost at its estimate.
    spent: f64,
    /// Estimates of calls in flight.
    reserved: f64,
    /// Tokens reported by billed calls.
    tokens: Tokens,
    /// Some billed call reported no tokens.
    tokens_missing: bool,
    /// Some billed call reported tokens.
    tokens_seen: bool,
}

impl CostTally {
    /// What is left under `cap` after spending and reservations.
    pub fn left(&self, cap: f64) -> f64 {
        cap - self.spent - self.reserved
    }

    /// Reserves a call's estimate before it goes out.
    pub fn reserve(&mut self, estimate: f64) {
        self.reserved += estimate;
    }

    /// Counts what a billed call reported: its tokens, or that it had none.
    pub fn add_tokens(&mut self, tokens: Option<Tokens>) {
        match tokens {
            Some(t) => {
                self.tokens_seen = true;
                self.tokens.text_in += t.text_in;
                self.tokens.image_in += t.image_in;
                self.tokens.text_out += t.text_out;
                self.tokens.image_out += t.image_out;
            }
            None => self.tokens_missing = true,
        }
    }

    /// Releases a reservation whose call never went out.
    pub fn release(&mut self, estimate: f64) {
        self.reserved = (self.reserved - estimate).max(0.0);
    }

    /// Settles a call: its reservation is released and its cost (or, when
    /// unknown, its estimate) is spent.
    pub fn settle(
        &mut self,
        provider: ProviderName,
        model: &str,
        images: u32,
        cost: Option<f64>,
        estimate: f64,
    ) {
        self.reserved = (self.reserved - estimate).max(0.0);
        self.spent += cost.unwrap_or(estimate);
        let row = match self
            .rows
            .iter_mut()
            .find(|r| r.provider == provider && r.model == model)
        {
            Some(r) => r,
            None => {
                self.rows.push(ProviderUsage {
                    provider,
                    model: model.to_string(),
                    images: 0,
                    cost_usd: Some(0.0),
                });
                let last = self.rows.len() - 1;
                &mut self.rows[last]
            }
        };
        row.images += images;
        row.cost_usd = match (row.cost_usd, cost) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
    }

    /// The call's usage.
    pub fn usage(&self) -> Usage {
        let total = self
            .rows
            .iter()
            .try_fold(0.0, |sum, r| r.cost_usd.map(|c| sum + c));
        Usage {
            cost_usd: total,
            by_provider: self.rows.clone(),
            tokens: Some(self.tokens).filter(|_| self.tokens_seen && !self.tokens_missing),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_cost_makes_the_total_unknown_and_spends_the_estimate() {
        let mut t = CostTally::default();
        t.reserve(0.5);
        assert_eq!(t.left(1.0), 0.5);
        t.settle(ProviderName::Openai, "gpt-image-2", 1, Some(0.2), 0.5);
        assert!((t.left(1.0) - 0.8).abs() < 1e-9);
        assert_eq!(t.usage().cost_usd, Some(0.2));
        t.reserve(0.3);
        t.settle(ProviderName::Gemini, "x", 0, None, 0.3);
        assert!((t.left(1.0) - 0.5).abs() < 1e-9);
        let u = t.usage();
        assert_eq!(u.cost_usd, None);
        assert_eq!(u.by_provider.len(), 2);
        assert_eq!(u.by_provider[1].cost_usd, None);
    }
}
