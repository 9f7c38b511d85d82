//! `GET /v1/usage`: the month's spending per provider and model, and what is
//! left of the user's budget (`?month=YYYY-MM` for an earlier month).

use super::Request;
use crate::error::ApiError;
use crate::platform::{self, StateUnavailable};
use crate::respond::ok_json;
use crate::usage::budget::{is_month, month_of, Month, Row, UsageResponse, HOLD_TTL_MS};
use wasm_bindgen::JsValue;

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
    let args = [
        month.as_str().into(),
        (now as f64).into(),
        (HOLD_TTL_MS as f64).into(),
    ];
    let answer = state.call("budgetGet", &args).await?;
    let m = month_of_js(&month, &answer);
    let config = r.store.config().await?;
    let budget = r.settings.budget_for(config.as_ref());
    ok_json(&UsageResponse::new(m, budget, month == current))
}

/// The object's answer read field by field (a serde deserializer for it
/// would cost more wasm than this).
fn month_of_js(month: &str, answer: &JsValue) -> Month {
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
