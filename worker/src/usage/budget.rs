//! A user's monthly budget: the rules, as data for the user's Durable
//! Object (`worker/js/state.js`), which keeps the month's ledger and does
//! its arithmetic in one atomic step per call.
//!
//! The flow of a request: [`want_for`] sizes its hold (what its costliest
//! priced entry is expected to cost, within the request's own cap); the
//! object grants that much or what is left of the budget, or refuses when
//! nothing is left (402 `budget_exceeded` before any provider call); the
//! engine runs with `maxCostUsd` = the grant, so the chain never spends more
//! than was held; then the hold is replaced by the [`Charge`]s of what the
//! run cost ([`charges_of_usage`], or [`charges_of_error`] when it failed).
//! Requests in flight together hold at most the budget: they cannot all
//! pass when together they would exceed it.

use imagegen::cost::{price_for, Usage};
use imagegen::model::Attempt;
use imagegen::request::ValidRequest;
use imagegen::ProviderName;
use serde::Serialize;

/// How long a hold lives without being settled (a run cut off with its
/// isolate): then it counts as spent, at its full amount (`unsettled_usd`).
/// Longer than any run: the engine's deadline is at most 10 minutes.
pub const HOLD_TTL_MS: u64 = 30 * 60 * 1000;

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

/// Whether `s` is a month as [`month_of`] writes it (for `?month=`).
pub fn is_month(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 7
        && b[4] == b'-'
        && b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit)
        && matches!(
            &s[5..],
            "01" | "02" | "03" | "04" | "05" | "06" | "07" | "08" | "09" | "10" | "11" | "12"
        )
}

/// What a request asks to hold: its costliest priced entry's estimate,
/// within its own `max_cost_usd`. Entries without a price are skipped
/// under a cap, so they cost nothing here.
pub fn want_for(request: &ValidRequest) -> f64 {
    let most = request
        .chain
        .iter()
        .filter_map(|entry| {
            price_for(entry, &[&request.prices]).map(|p| p.estimate(&request.image, entry))
        })
        .fold(0.0, f64::max);
    request.max_cost_usd.map_or(most, |cap| most.min(cap))
}

/// A budget in USD as configured: a finite number, 0 or more.
pub fn valid_budget(usd: f64) -> bool {
    usd.is_finite() && usd >= 0.0
}

/// What one provider and model cost a request, for the month's ledger.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Charge {
    /// Provider.
    pub provider: ProviderName,
    /// Model.
    pub model: String,
    /// Images it delivered.
    pub images: u32,
    /// Calls made to it (skips are not calls).
    pub calls: u32,
    /// USD; an unknown cost is counted at its share of the hold.
    pub cost_usd: f64,
    /// Whether some of it was unknown (and counted at the hold).
    pub unknown: bool,
}

/// The charges of a run that produced a result: its usage per provider and
/// model; rows of unknown cost share what the known ones left of `hold`.
/// Calls per row come from the attempts.
pub fn charges_of_usage(usage: &Usage, attempts: &[Attempt], hold: f64) -> Vec<Charge> {
    let rows = usage
        .by_provider
        .iter()
        .map(|r| (r.provider, r.model.clone(), r.images, r.cost_usd))
        .collect();
    with_calls(resolve(rows, hold), attempts)
}

/// The charges of a run that failed: its attempts per provider and model
/// (a billed failure costs, a refused call costs nothing, images finished
/// before the failure count).
pub fn charges_of_error(error: &imagegen::Error, hold: f64) -> Vec<Charge> {
    let mut rows: Vec<(ProviderName, String, u32, Option<f64>)> = Vec::new();
    for a in error.attempts.iter().filter(|a| !a.skipped) {
        match rows
            .iter_mut()
            .find(|r| r.0 == a.provider && r.1 == a.model)
        {
            Some(r) => {
                r.2 += a.images;
                r.3 = r.3.zip(a.cost_usd).map(|(x, y)| x + y);
            }
            None => rows.push((a.provider, a.model.clone(), a.images, a.cost_usd)),
        }
    }
    with_calls(resolve(rows, hold), &error.attempts)
}

/// Rows with an unknown cost take equal shares of what the known rows left
/// of the hold.
fn resolve(rows: Vec<(ProviderName, String, u32, Option<f64>)>, hold: f64) -> Vec<Charge> {
    let known: f64 = rows.iter().filter_map(|r| r.3).sum();
    let unknown = rows.iter().filter(|r| r.3.is_none()).count();
    let share = if unknown == 0 {
        0.0
    } else {
        (hold - known).max(0.0) / unknown as f64
    };
    rows.into_iter()
        .map(|(provider, model, images, cost)| Charge {
            provider,
            model,
            images,
            calls: 0,
            cost_usd: cost.unwrap_or(share),
            unknown: cost.is_none(),
        })
        .collect()
}

fn with_calls(mut charges: Vec<Charge>, attempts: &[Attempt]) -> Vec<Charge> {
    for c in &mut charges {
        c.calls = attempts
            .iter()
            .filter(|a| a.provider == c.provider && a.model == c.model && !a.skipped)
            .count() as u32;
    }
    charges
}

/// One provider and model's month, as the object keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Provider.
    pub provider: String,
    /// Model.
    pub model: String,
    /// Images delivered.
    pub images: u64,
    /// Calls made.
    pub calls: u64,
    /// USD, unknown costs counted at their hold.
    pub cost_usd: f64,
    /// Requests whose cost here was unknown.
    pub unknown_calls: u64,
}

/// A month as the object reports it (`budgetGet`).
#[derive(Debug, Clone, PartialEq)]
pub struct Month {
    /// `YYYY-MM`.
    pub month: String,
    /// Per provider and model.
    pub rows: Vec<Row>,
    /// Holds of requests in flight now.
    pub held_usd: f64,
    /// Holds that were never settled, counted as spent.
    pub unsettled_usd: f64,
}

impl Month {
    /// USD spent: the rows, and holds never settled.
    pub fn spent(&self) -> f64 {
        self.rows.iter().map(|r| r.cost_usd).sum::<f64>() + self.unsettled_usd
    }

    /// What is left of `budget` after spending and the holds in flight
    /// (negative when a provider billed over its estimate).
    pub fn left(&self, budget: f64) -> f64 {
        budget - self.spent() - self.held_usd
    }
}

/// `GET /v1/usage`.
#[derive(Debug, Serialize)]
pub struct UsageResponse {
    object: &'static str,
    month: String,
    budget_usd: Option<f64>,
    spent_usd: f64,
    held_usd: f64,
    left_usd: Option<f64>,
    unsettled_usd: f64,
    by_provider: Vec<RowOut>,
}

#[derive(Debug, Serialize)]
struct RowOut {
    provider: String,
    model: String,
    images: u64,
    calls: u64,
    cost_usd: f64,
    unknown_calls: u64,
}

impl UsageResponse {
    /// The month with the budget that applies (`None`: no budget). Holds
    /// count against what is left only in the current month.
    pub fn new(mut m: Month, budget: Option<f64>, current: bool) -> UsageResponse {
        if !current {
            m.held_usd = 0.0;
        }
        UsageResponse {
            object: "imagegen.usage",
            budget_usd: budget,
            spent_usd: round(m.spent()),
            held_usd: round(m.held_usd),
            left_usd: budget.map(|b| round(m.left(b).max(0.0))),
            month: m.month,
            unsettled_usd: round(m.unsettled_usd),
            by_provider: m
                .rows
                .into_iter()
                .map(|r| RowOut {
                    provider: r.provider,
                    model: r.model,
                    images: r.images,
                    calls: r.calls,
                    cost_usd: round(r.cost_usd),
                    unknown_calls: r.unknown_calls,
                })
                .collect(),
        }
    }
}

/// USD to a millionth of a cent: sums of floats print without noise.
fn round(usd: f64) -> f64 {
    (usd * 1e8).round() / 1e8
}

#[cfg(test)]
mod tests {
    use super::*;
    use imagegen::cost::ProviderUsage;

    fn usage(rows: &[(ProviderName, &str, u32, Option<f64>)]) -> Usage {
        Usage {
            cost_usd: None,
            by_provider: rows
                .iter()
                .map(|(p, m, i, c)| ProviderUsage {
                    provider: *p,
                    model: (*m).into(),
                    images: *i,
                    cost_usd: *c,
                })
                .collect(),
            tokens: None,
        }
    }

    fn attempt(p: ProviderName, model: &str, cost: Option<f64>, skipped: bool) -> Attempt {
        let v = serde_json::json!({
            "provider": p, "model": model, "part": 0, "attempt": 1, "outcome": "ok",
            "startedAtMs": 0, "durationMs": 1, "images": 0, "skipped": skipped,
        });
        let mut a: Attempt = serde_json::from_value(v).unwrap();
        a.cost_usd = cost;
        a
    }

    #[test]
    fn months_in_utc() {
        assert_eq!(month_of(0), "1970-01");
        assert_eq!(month_of(1_796_083_199_000), "2026-11"); // 2026-11-30T23:59:59Z
        assert_eq!(month_of(1_796_083_200_000), "2026-12");
        assert_eq!(month_of(951_782_400_000), "2000-02"); // 2000-02-29
        assert!(is_month("2026-12"));
        for bad in [
            "2026-13",
            "2026-00",
            "2026-1",
            "26-12",
            "2026/12",
            "２026-12",
            "2026-12x",
        ] {
            assert!(!is_month(bad), "{bad}");
        }
    }

    #[test]
    fn unknown_costs_share_the_rest_of_the_hold() {
        let u = usage(&[
            (ProviderName::Openai, "gpt-image-2", 0, Some(0.01)),
            (ProviderName::Gemini, "a", 1, None),
            (ProviderName::Stability, "b", 1, None),
        ]);
        let attempts = [
            attempt(ProviderName::Openai, "gpt-image-2", Some(0.01), false),
            attempt(ProviderName::Openai, "gpt-image-2", Some(0.0), false),
            attempt(ProviderName::Gemini, "a", None, false),
            attempt(ProviderName::Stability, "b", None, false),
        ];
        let c = charges_of_usage(&u, &attempts, 0.11);
        assert_eq!(c[0].cost_usd, 0.01);
        assert_eq!((c[0].calls, c[0].unknown), (2, false));
        assert!((c[1].cost_usd - 0.05).abs() < 1e-12 && c[1].unknown);
        assert!((c[2].cost_usd - 0.05).abs() < 1e-12 && c[2].calls == 1);
        // Known costs over the hold (token usage above the estimate): the
        // unknown ones count nothing more, never a negative amount.
        let c = charges_of_usage(&u, &attempts, 0.005);
        assert_eq!(c[1].cost_usd, 0.0);
    }

    #[test]
    fn a_failed_run_is_charged_for_its_billed_attempts_only() {
        let mut e = imagegen::Error::new(imagegen::ErrorCode::ContentPolicy, "filtered");
        e.attempts = vec![
            attempt(ProviderName::Openai, "gpt-image-2", Some(0.04), false),
            attempt(ProviderName::Openai, "gpt-image-2", Some(0.0), false),
            attempt(ProviderName::Stability, "sd3", Some(0.0), true),
        ];
        let c = charges_of_error(&e, 0.2);
        assert_eq!(c.len(), 1, "a skip is no charge");
        assert_eq!((c[0].cost_usd, c[0].calls, c[0].images), (0.04, 2, 0));
        // An attempt cut off by a timeout: unknown, counted at the hold.
        e.attempts
            .push(attempt(ProviderName::Gemini, "g", None, false));
        let c = charges_of_error(&e, 0.2);
        assert!((c[1].cost_usd - 0.16).abs() < 1e-12 && c[1].unknown);
    }

    #[test]
    fn the_usage_response_counts_holds_against_what_is_left() {
        let m = Month {
            month: "2026-12".into(),
            rows: vec![Row {
                provider: "openai".into(),
                model: "gpt-image-2".into(),
                images: 3,
                calls: 2,
                cost_usd: 0.1 + 0.2,
                unknown_calls: 0,
            }],
            held_usd: 0.5,
            unsettled_usd: 0.1,
        };
        let v = serde_json::to_value(UsageResponse::new(m.clone(), Some(1.0), true)).unwrap();
        assert_eq!(v["spent_usd"], 0.4);
        assert_eq!(v["left_usd"], 0.1);
        assert_eq!(v["by_provider"][0]["cost_usd"], 0.3);
        let v = serde_json::to_value(UsageResponse::new(m.clone(), Some(0.3), true)).unwrap();
        assert_eq!(v["left_usd"], 0.0, "never negative");
        let v = serde_json::to_value(UsageResponse::new(m, None, false)).unwrap();
        assert!(v["budget_usd"].is_null() && v["left_usd"].is_null());
        assert_eq!(v["held_usd"], 0.0, "an earlier month has no holds");
    }
}
