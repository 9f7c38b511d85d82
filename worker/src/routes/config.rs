//! `GET /v1/config` and `PUT /v1/config`: the user's provider chain and
//! defaults.

use super::Request;
use crate::config;
use crate::error::ApiError;
use crate::respond::ok_json;

/// `GET /v1/config`.
pub async fn get(r: &Request<'_>) -> Result<web_sys::Response, ApiError> {
    match r.store.config().await? {
        Some(c) => ok_json(&c),
        None => Err(ApiError::new(
            404,
            "config_not_found",
            "no config is stored; PUT /v1/config first",
        )),
    }
}

/// `PUT /v1/config`.
pub async fn put(r: &Request<'_>) -> Result<web_sys::Response, ApiError> {
    let c = config::parse(&r.body)?;
    config::check_mock_allowed(&c, r.settings.mock_enabled)?;
    r.store.put_config(&c).await?;
    ok_json(&c)
}
