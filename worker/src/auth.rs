//! Who is calling: the bearer JWT checked against the settings, giving the
//! [`User`] every other room works for.

use crate::error::ApiError;
use crate::jwt;
use crate::platform;
use crate::respond::header;
use crate::settings::Settings;

/// The authenticated user: the token's `sub` (bound into the encryption of
/// stored keys) and its SHA-256 (what KV names are built from).
pub struct User {
    /// The token's `sub`.
    pub sub: String,
    /// SHA-256 of `sub`, lowercase hex.
    pub hash: String,
}

/// Checks the request's `Authorization` header.
pub async fn authenticate(req: &web_sys::Request, settings: &Settings) -> Result<User, ApiError> {
    let sub = jwt::authenticate(
        header(req, "authorization").as_deref(),
        &settings.policy,
        &settings.verifier,
        js_sys::Date::now() / 1000.0,
    )
    .await?;
    Ok(User {
        hash: platform::sha256_hex(sub.as_bytes()).await?,
        sub,
    })
}
