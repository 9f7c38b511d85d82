//! `GET /v1/usage`: the month's spending per provider and model, and what is
//! left of the user's budget (`?month=YYYY-MM` for an earlier month).

use super::Request;
use crate::error::ApiError;
use crate::platform::{self, StateUnavailable};
use crate::respond::ok_json;
use crate::usage::budget::{is_month, month_of, UsageResponse};
use crate::usage::hold::ledger;

/// `GET /v1/usage`.
pub async fn get(r: &Request<'_>) -> Result<web_sys::Response, ApiError> {
    let now = platform::now_ms();
    let current = month_of(now);
    let month = match r.url.search_params().get("month") {
        None => current.clone(),
        Some(m) if is_month(&m) => m,
        Some(_) => {
            return Err(ApiError::invalid(
                "month",
                "`month` must be a month as YYYY-MM (UTC)",
            ))
        }
    };
    let state = r.state.as_ref().ok_or(StateUnavailable)?;
    let m = ledger(state, &month, now, r.settings.hold_ttl_ms, month == current).await?;
    let config = r.store.config().await?;
    let budget = r.settings.budget_for(config.as_ref());
    ok_json(&UsageResponse::new(m, budget, month == current))
}
