//! A user's monthly budget as data, for the user's Durable Object to keep:
//! spending per provider and model for the month, and the holds of requests
//! in flight. The object handles one call at a time, so a reservation and
//! its check are one step: requests that together would exceed the budget
//! cannot all pass.
//!
//! The flow of a request: `hold_for` sizes its hold (the most its chain's
//! costliest entry is expected to cost, within what is left), `reserve`
//! takes it or refuses (402 `budget_exceeded` before any provider call),
//! the engine runs with `maxCostUsd` = the hold, and `settle` replaces the
//! hold with what the result says it cost (an unknown cost counts as the
//! whole hold).

use imagegen::cost::{price_for, Usage};
use imagegen::validate::ValidRequest;
use imagegen::ProviderName;
use serde::{Deserialize, Serialize};

/// Spending of one provider and model in the month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Provider.
    pub provider: ProviderName,
    /// Model.
    pub model: String,
    /// Images delivered.
    pub images: u64,
    /// USD, unknown costs counted at their hold.
    pub cost_usd: f64,
    /// Calls whose cost was unknown.
    pub unknown_calls: u64,
}

/// A request in flight and what it may spend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hold {
    /// The request's id.
    pub id: String,
    /// USD held.
    pub usd: f64,
}

/// One user's month.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    /// `YYYY-MM` (UTC).
    pub month: String,
    /// Spending per provider and model.
    pub rows: Vec<Row>,
    /// Requests in flight.
    pub holds: Vec<Hold>,
}

/// `YYYY-MM` (UTC) of a Unix time in ms.
pub fn month_of(unix_ms: u64) -> String {
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let days = (unix_ms / 86_400_000) as i64 + 719_468;
    let era = days.div_euclid(146_097);
    let doe = days.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}")
}

/// The hold of a request: what its costliest priced entry is expected to
/// cost, within what is left (entries without a price are skipped under a
/// cap, so they cost nothing here).
pub fn hold_for(request: &ValidRequest, left: f64) -> f64 {
    let most = request
        .chain
        .iter()
        .filter_map(|entry| {
            price_for(entry, &[&request.prices]).map(|p| p.estimate(&request.image, entry))
        })
        .fold(0.0, f64::max);
    let capped = request.max_cost_usd.map_or(most, |cap| most.min(cap));
    capped.min(left.max(0.0))
}

impl Ledger {
    /// Starts a new month when `month` is not the ledger's (holds stay).
    pub fn roll(&mut self, month: &str) {
        if self.month != month {
            self.month = month.to_string();
            self.rows.clear();
        }
    }

    /// USD spent this month.
    pub fn spent(&self) -> f64 {
        self.rows.iter().map(|r| r.cost_usd).sum()
    }

    /// USD held by requests in flight.
    pub fn held(&self) -> f64 {
        self.holds.iter().map(|h| h.usd).sum()
    }

    /// What is left of `budget`.
    pub fn left(&self, budget: f64) -> f64 {
        budget - self.spent() - self.held()
    }

    /// Holds `usd` for request `id`, or refuses (returning what is left)
    /// when nothing is left or the hold would exceed the budget.
    pub fn reserve(&mut self, id: &str, usd: f64, budget: f64) -> Result<(), f64> {
        let left = self.left(budget);
        if left <= 0.0 || usd > left + 1e-12 {
            return Err(left.max(0.0));
        }
        self.holds.push(Hold {
            id: id.to_string(),
            usd,
        });
        Ok(())
    }

    /// Replaces request `id`'s hold by what it cost (`None`: it failed
    /// before any result, so only its hold goes).
    pub fn settle(&mut self, id: &str, usage: Option<&Usage>) {
        let Some(i) = self.holds.iter().position(|h| h.id == id) else {
            return;
        };
        let hold = self.holds.remove(i).usd;
        let Some(usage) = usage else { return };
        let unknown_at = hold
            - usage
                .by_provider
                .iter()
                .filter_map(|r| r.cost_usd)
                .sum::<f64>();
        for r in &usage.by_provider {
            let row = match self
                .rows
                .iter_mut()
                .find(|x| x.provider == r.provider && x.model == r.model)
            {
                Some(row) => row,
                None => {
                    self.rows.push(Row {
                        provider: r.provider,
                        model: r.model.clone(),
                        images: 0,
                        cost_usd: 0.0,
                        unknown_calls: 0,
                    });
                    let last = self.rows.len() - 1;
                    &mut self.rows[last]
                }
            };
            row.images += u64::from(r.images);
            match r.cost_usd {
                Some(c) => row.cost_usd += c,
                None => {
                    row.cost_usd += unknown_at.max(0.0);
                    row.unknown_calls += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imagegen::cost::ProviderUsage;

    fn usage(cost: Option<f64>) -> Usage {
        Usage {
            cost_usd: cost,
            by_provider: vec![ProviderUsage {
                provider: ProviderName::Openai,
                model: "gpt-image-2".into(),
                images: 1,
                cost_usd: cost,
            }],
            tokens: None,
        }
    }

    #[test]
    fn months_in_utc() {
        assert_eq!(month_of(0), "1970-01");
        assert_eq!(month_of(1_796_083_199_000), "2026-11"); // 2026-11-30T23:59:59Z
        assert_eq!(month_of(1_796_083_200_000), "2026-12");
        assert_eq!(month_of(951_782_400_000), "2000-02"); // 2000-02-29
    }

    #[test]
    fn holds_of_concurrent_requests_never_exceed_the_budget() {
        let mut l = Ledger::default();
        l.roll("2026-12");
        assert_eq!(l.reserve("a", 0.6, 1.0), Ok(()));
        // Both in flight: the second would pass alone, not together.
        assert_eq!(l.reserve("b", 0.6, 1.0), Err(0.4));
        assert_eq!(l.reserve("c", 0.4, 1.0), Ok(()));
        assert_eq!(l.reserve("d", 0.01, 1.0), Err(0.0));
        l.settle("a", Some(&usage(Some(0.2))));
        l.settle("c", None);
        assert!((l.left(1.0) - 0.8).abs() < 1e-9);
        // An unknown cost counts as its whole hold.
        assert_eq!(l.reserve("e", 0.5, 1.0), Ok(()));
        l.settle("e", Some(&usage(None)));
        assert!((l.spent() - 0.7).abs() < 1e-9);
        assert_eq!(l.rows[0].unknown_calls, 1);
        assert_eq!(l.rows[0].images, 2);
        // A new month starts from zero.
        l.roll("2027-01");
        assert_eq!(l.spent(), 0.0);
    }
}
