//! Async jobs: `Prefer: respond-async` on a generation or an edit starts a
//! job in the user's Durable Object (`worker/js/state.js`) and answers 202
//! `{id, status}` with `Location: /v1/jobs/<id>`; the job runs there, the
//! Worker's own handler on the same request, and finishes whether or not
//! the client stays. `GET /v1/jobs/<id>` shows it: `queued | running |
//! succeeded | failed`, the response object as `result`, or the error in
//! the usual shape as `error`. Jobs are per user: the id is looked up in
//! the caller's own object only, so another user's id is 404.

use super::{job_id, prefers_async, Route};
use crate::auth::User;
use crate::error::ApiError;
use crate::platform::{StateUnavailable, UserState};
use crate::respond::{header, json_response, stringify};

/// Whether the request asks to be answered at once (`Prefer: respond-async`).
pub fn wanted(req: &web_sys::Request) -> bool {
    header(req, "prefer").is_some_and(|p| prefers_async(&p))
}

/// Starts the job (the request already authenticated and counted against
/// the rate limit); 202 with where to poll. No object, no job: 503 before
/// anything is paid.
pub async fn start(
    req: &web_sys::Request,
    route: Route,
    state: Option<&UserState>,
    user: &User,
) -> Result<web_sys::Response, ApiError> {
    let state = state.ok_or(StateUnavailable)?;
    let kind = if route == Route::Edit {
        "edit"
    } else {
        "generation"
    };
    let prefix = format!("jobs/{}/", user.hash);
    let job = state
        .call(
            "startJob",
            &[
                wasm_bindgen::JsValue::from(req),
                kind.into(),
                prefix.as_str().into(),
            ],
        )
        .await?;
    let id = crate::platform::get(&job, "id")
        .and_then(|v| v.as_string())
        .ok_or(StateUnavailable)?;
    json_response(
        202,
        &stringify(&job)?,
        &[
            ("location", format!("/v1/jobs/{id}")),
            ("preference-applied", "respond-async".to_string()),
        ],
    )
}

/// `GET /v1/jobs/<id>`: the caller's job, or 404.
pub async fn get(
    url: &web_sys::Url,
    state: Option<&UserState>,
) -> Result<web_sys::Response, ApiError> {
    let path = url.pathname();
    let not_found = || ApiError::not_found("no such job");
    let id = job_id(&path).ok_or_else(not_found)?;
    let state = state.ok_or(StateUnavailable)?;
    let job = state.call("getJob", &[id.into()]).await?;
    if job.is_null() || job.is_undefined() {
        return Err(not_found());
    }
    json_response(200, &stringify(&job)?, &[])
}
