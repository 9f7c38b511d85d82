//! A request's hold on the user's monthly budget, in the user's Durable
//! Object (see [`super::budget`] for the rules): taken before the engine
//! runs, settled with what the run cost.
//!
//! With a budget, a request that cannot hold anything gets 402
//! `budget_exceeded` before any provider call, and the engine's cap is
//! lowered to what was held; an unreachable object is 503
//! `state_unavailable` (nothing is paid without a hold). Without a budget
//! the hold only keeps the month's ledger (`GET /v1/usage`); an unreachable
//! object then costs the ledger that request, never the request.

use super::budget::{charges_of_error, charges_of_usage, month_of, want_for, Charge, Month, Row};
use crate::error::ApiError;
use crate::platform::{self, UserState};
use crate::respond::to_js_object;
use imagegen::model::GenerateResult;
use imagegen::request::ValidRequest;
use wasm_bindgen::JsValue;

/// A hold taken; settle it once the run ends.
pub struct Hold {
    state: UserState,
    id: String,
    usd: f64,
    ttl_ms: u64,
}

/// Takes a hold for `valid` under `budget` (USD a month; `None`: none),
/// living `ttl_ms` unsettled, and lowers the request's cap to it.
pub async fn reserve(
    state: Option<&UserState>,
    budget: Option<f64>,
    ttl_ms: u64,
    valid: &mut ValidRequest,
) -> Result<Option<Hold>, ApiError> {
    let unreachable = |budget: Option<f64>| match budget {
        Some(_) => Err(ApiError::from(platform::StateUnavailable)),
        None => {
            platform::console_warn("the user's Durable Object is unreachable; usage not recorded");
            Ok(None)
        }
    };
    let Some(state) = state else {
        return unreachable(budget);
    };
    let now = platform::now_ms();
    let id = platform::random_hex(12);
    let want = want_for(valid);
    let args = [
        month_of(now).into(),
        id.as_str().into(),
        want.into(),
        budget.map_or(JsValue::NULL, JsValue::from),
        (now as f64).into(),
        (ttl_ms as f64).into(),
    ];
    let answer = match state.call("budgetReserve", &args).await {
        Ok(a) => a,
        Err(_) => return unreachable(budget),
    };
    let number = |name: &str| platform::get(&answer, name).and_then(|v| v.as_f64());
    if platform::get(&answer, "refused").is_some_and(|v| v.is_truthy()) {
        let left = number("leftUsd").unwrap_or(0.0);
        return Err(spent(budget.unwrap_or(0.0), left, &month_of(now)));
    }
    let Some(granted) = number("grantedUsd") else {
        return unreachable(budget);
    };
    if budget.is_some() {
        valid.max_cost_usd = Some(valid.max_cost_usd.map_or(granted, |c| c.min(granted)));
    }
    Ok(Some(Hold {
        state: state.clone(),
        id,
        usd: granted,
        ttl_ms,
    }))
}

/// Before a job is accepted (202): 402 when nothing is left of the budget
/// now. A read, not a hold: the job's run takes its own hold and decides
/// again.
pub async fn precheck(
    state: Option<&UserState>,
    budget: Option<f64>,
    ttl_ms: u64,
) -> Result<(), ApiError> {
    let Some(budget) = budget else {
        return Ok(());
    };
    let state = state.ok_or(platform::StateUnavailable)?;
    let now = platform::now_ms();
    let month = month_of(now);
    let left = ledger(state, &month, now, ttl_ms, true).await?.left(budget);
    if left <= 1e-12 {
        return Err(spent(budget, left, &month));
    }
    Ok(())
}

/// The ledger of `month` as the object keeps it (`current`: holds that
/// expired by `now` are counted into it; never into an earlier month).
pub async fn ledger(
    state: &UserState,
    month: &str,
    now: u64,
    ttl_ms: u64,
    current: bool,
) -> Result<Month, platform::StateUnavailable> {
    let args = [
        month.into(),
        (now as f64).into(),
        (ttl_ms as f64).into(),
        current.into(),
    ];
    Ok(read_month(month, &state.call("budgetGet", &args).await?))
}

/// The object's answer to `budgetGet`, read field by field (a serde
/// deserializer for it costs more wasm than this).
fn read_month(month: &str, answer: &JsValue) -> Month {
    let num = |v: &JsValue, name: &str| {
        platform::get(v, name)
            .and_then(|n| n.as_f64())
            .unwrap_or(0.0)
    };
    let text = |v: &JsValue, name: &str| {
        platform::get(v, name)
            .and_then(|s| s.as_string())
            .unwrap_or_default()
    };
    let rows = platform::get(answer, "rows")
        .map(|r| js_sys::Array::from(&r).iter().collect::<Vec<_>>())
        .unwrap_or_default();
    Month {
        month: month.to_string(),
        rows: rows
            .iter()
            .map(|r| Row {
                provider: text(r, "provider"),
                model: text(r, "model"),
                images: num(r, "images") as u64,
                calls: num(r, "calls") as u64,
                cost_usd: num(r, "costUsd"),
                unknown_calls: num(r, "unknownCalls") as u64,
            })
            .collect(),
        held_usd: num(answer, "heldUsd"),
        unsettled_usd: num(answer, "unsettledUsd"),
    }
}

/// 402: nothing of the month's budget is left.
fn spent(budget: f64, left: f64, month: &str) -> ApiError {
    let mut e = ApiError::new(
        402,
        "budget_exceeded",
        format!(
            "the monthly budget of USD {budget:.4} is spent for {month} (USD {left:.4} left, counting requests in flight); \
             it renews on the 1st (UTC), or raise monthlyBudgetUsd in PUT /v1/config",
            left = left.max(0.0)
        ),
    );
    e.retryable = Some(false);
    e
}

impl Hold {
    /// The run ended with `result`.
    pub async fn settle(self, result: &Result<GenerateResult, imagegen::Error>) {
        let charges = match result {
            Ok(r) => charges_of_usage(&r.usage, &r.attempts, self.usd),
            Err(e) => charges_of_error(e, self.usd),
        };
        self.settle_charges(charges).await;
    }

    /// Nothing was run: the hold goes.
    pub async fn release(self) {
        self.settle_charges(Vec::new()).await;
    }

    async fn settle_charges(self, charges: Vec<Charge>) {
        let now = platform::now_ms();
        let Ok(charges) = to_js_object(&charges) else {
            return;
        };
        let args = [
            month_of(now).into(),
            self.id.as_str().into(),
            charges,
            (now as f64).into(),
            (self.ttl_ms as f64).into(),
        ];
        if self.state.call("budgetSettle", &args).await.is_err() {
            // The hold expires and is then counted at its full amount.
            platform::console_warn(
                "a budget hold could not be settled; it counts in full when it expires",
            );
        }
    }
}
